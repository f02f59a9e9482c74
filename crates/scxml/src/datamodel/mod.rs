//! Datamodels: the language a document's conditions, expressions and scripts are written in.
//!
//! The interpreter talks to a datamodel only through the [`Datamodel`] trait. Two are built
//! in: [`NullDatamodel`] (only `In()` conditions) and, with the `ecmascript` feature,
//! `EcmaScriptDatamodel` (boa_engine; the `ecmascript` module also has the thread-level
//! controls of its context reuse). [`for_document`] picks the one a document
//! asks for. Values cross the trait as `serde_json::Value`: that is what travels between
//! sessions in events and what a snapshot stores. A session that has halted keeps only its
//! exported variables (in a read-only datamodel of the crate's own).
//!
//! A host may give a session a datamodel of its own with
//! [`Interpreter::with_datamodel`](crate::interpreter::Interpreter::with_datamodel).

#[cfg(feature = "ecmascript")]
pub mod ecmascript;
mod halted;
mod null;

#[cfg(feature = "ecmascript")]
pub use ecmascript::EcmaScriptDatamodel;
pub(crate) use halted::HaltedDatamodel;
pub use null::NullDatamodel;

use crate::interpreter::{Event, StateSet};
use crate::model::{AssignValue, Content, Data, DatamodelKind, Document, Expr};
use serde_json::Value;
use std::sync::Arc;

/// Why an expression or script failed; the interpreter turns it into `error.execution`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DatamodelError {
    /// What went wrong, in words; becomes the data of the `error.execution` event.
    pub message: String,
}

impl DatamodelError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> DatamodelError {
        DatamodelError {
            message: message.into(),
        }
    }
}

/// What every [`Datamodel`] method returns.
pub type DmResult<T> = Result<T, DatamodelError>;

/// What an evaluation may look at besides the datamodel itself: the active configuration, for
/// `In()`.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// The document being run (to look states up by id).
    pub doc: &'a Document,
    /// The states active now.
    pub active: &'a StateSet,
}

impl EvalContext<'_> {
    /// `In(id)`: true when the state with that id is active.
    pub fn in_state(&self, id: &str) -> bool {
        self.doc
            .state_by_id(id)
            .is_some_and(|s| self.active.contains(s))
    }
}

/// The session-wide system variables bound once at start.
#[derive(Debug, Clone, Default)]
pub struct SystemVariables {
    /// `_sessionid`.
    pub session_id: String,
    /// `_name`.
    pub name: String,
    /// `_ioprocessors`: processor key (short and full URI) -> `location`.
    pub io_processors: Vec<(String, String)>,
}

/// The operations the interpreter needs from a datamodel (SCXML section 5 and appendix B).
///
/// Every evaluating method gets an [`EvalContext`]. Errors are values: the interpreter raises
/// `error.execution` for each one.
pub trait Datamodel {
    /// Binds `_sessionid`, `_name`, `_ioprocessors` and `_x`; called once, before any data.
    fn init_system(&mut self, sys: &SystemVariables) -> DmResult<()>;

    /// Creates the variable `id` with no value yet (late binding declares all data at start).
    fn declare(&mut self, id: &str) -> DmResult<()>;

    /// Creates (or re-binds) the variable for `<data>` and gives it its initial value. On error
    /// the variable must still exist, unbound/undefined.
    fn init_data(&mut self, data: &Data, cx: EvalContext<'_>) -> DmResult<()>;

    /// Creates the variable `id` with a value passed in from outside (an invoke's params or
    /// namelist, or the initial data of a session); it overrides the document's own value.
    fn set_value(&mut self, id: &str, value: &Value) -> DmResult<()>;

    /// Binds `_event` to the event being processed.
    fn set_event(&mut self, event: &Event) -> DmResult<()>;

    /// Evaluates a condition to a boolean.
    fn eval_cond(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<bool>;

    /// Evaluates an expression to a value.
    fn eval_value(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<Value>;

    /// Evaluates an expression to a string (event names, targets, types, ids, log output).
    fn eval_string(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<String>;

    /// `<assign>`: stores the value in the location. Assigning to a location that does not
    /// exist, or to a read-only system variable, is an error.
    fn assign(&mut self, location: &Expr, value: &AssignValue, cx: EvalContext<'_>)
        -> DmResult<()>;

    /// Stores a plain value in a location (`idlocation` of `<send>` and `<invoke>`).
    fn assign_value(&mut self, location: &Expr, value: &Value, cx: EvalContext<'_>)
        -> DmResult<()>;

    /// The value of `<content>`: its expression, inline text (JSON when it parses as JSON for
    /// a datamodel that has objects), or markup as text.
    fn eval_content(&mut self, content: &Content, cx: EvalContext<'_>) -> DmResult<Value>;

    /// Runs a `<script>`.
    fn execute_script(&mut self, script: &Expr, cx: EvalContext<'_>) -> DmResult<()>;

    /// `<foreach>`: evaluates the array, keeps a shallow copy on an internal stack and returns
    /// its length. Each iteration then calls [`Datamodel::foreach_step`]; [`Datamodel::foreach_end`]
    /// pops the copy (also after an error).
    fn foreach_begin(&mut self, array: &Expr, cx: EvalContext<'_>) -> DmResult<usize>;

    /// Assigns item `i` of the innermost foreach copy to `item` (declaring it when new) and
    /// `i` to `index`.
    fn foreach_step(
        &mut self,
        item: &Expr,
        index: Option<&Expr>,
        i: usize,
        cx: EvalContext<'_>,
    ) -> DmResult<()>;

    /// Pops the innermost foreach copy pushed by [`Datamodel::foreach_begin`].
    fn foreach_end(&mut self);

    /// Exports the datamodel's variables as a JSON object (what a snapshot stores).
    fn export(&mut self) -> DmResult<Value>;

    /// Restores variables exported by [`Datamodel::export`].
    fn import(&mut self, snapshot: &Value) -> DmResult<()>;
}

/// Creates the datamodel a document asks for.
pub fn for_document(doc: &Arc<Document>) -> Box<dyn Datamodel> {
    match doc.datamodel {
        DatamodelKind::Null => Box::new(null::NullDatamodel::new()),
        #[cfg(feature = "ecmascript")]
        DatamodelKind::Ecmascript => Box::new(ecmascript::EcmaScriptDatamodel::new(doc)),
        // The parser refuses ECMAScript documents without the feature, so none gets here.
        #[cfg(not(feature = "ecmascript"))]
        DatamodelKind::Ecmascript => Box::new(null::NullDatamodel::new()),
    }
}
