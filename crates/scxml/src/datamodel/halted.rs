//! The datamodel of a session that has halted: its variables as they were, read-only.
//!
//! Nothing evaluates in a session once it has halted, but a host may keep it for a while
//! for inspection (and store its record), which only exports the datamodel. Keeping a whole
//! ECMAScript context for that is costly: boa builds several hundred kilobytes of builtin
//! objects per context, and every garbage collection of the thread traces them for as long
//! as the session is kept. So when a session halts the interpreter exports its variables
//! once and replaces its datamodel with this one; the context is released (and, when no
//! compiled code ran in it, serves the next session of the thread).

use super::{Datamodel, DatamodelError, DmResult, EvalContext, SystemVariables};
use crate::interpreter::Event;
use crate::model::{AssignValue, Content, Data, Expr};
use serde_json::Value;

/// The exported variables of a halted session.
#[derive(Debug)]
pub(crate) struct HaltedDatamodel {
    variables: Value,
}

impl HaltedDatamodel {
    /// A halted datamodel whose export is `variables`.
    pub(crate) fn new(variables: Value) -> HaltedDatamodel {
        HaltedDatamodel { variables }
    }
}

fn halted() -> DatamodelError {
    DatamodelError::new("the session has halted: its datamodel is read-only")
}

impl Datamodel for HaltedDatamodel {
    fn init_system(&mut self, _sys: &SystemVariables) -> DmResult<()> {
        Err(halted())
    }

    fn declare(&mut self, _id: &str) -> DmResult<()> {
        Err(halted())
    }

    fn init_data(&mut self, _data: &Data, _cx: EvalContext<'_>) -> DmResult<()> {
        Err(halted())
    }

    fn set_value(&mut self, _id: &str, _value: &Value) -> DmResult<()> {
        Err(halted())
    }

    fn set_event(&mut self, _event: &Event) -> DmResult<()> {
        Err(halted())
    }

    fn eval_cond(&mut self, _expr: &Expr, _cx: EvalContext<'_>) -> DmResult<bool> {
        Err(halted())
    }

    fn eval_value(&mut self, _expr: &Expr, _cx: EvalContext<'_>) -> DmResult<Value> {
        Err(halted())
    }

    fn eval_string(&mut self, _expr: &Expr, _cx: EvalContext<'_>) -> DmResult<String> {
        Err(halted())
    }

    fn assign(
        &mut self,
        _location: &Expr,
        _value: &AssignValue,
        _cx: EvalContext<'_>,
    ) -> DmResult<()> {
        Err(halted())
    }

    fn assign_value(
        &mut self,
        _location: &Expr,
        _value: &Value,
        _cx: EvalContext<'_>,
    ) -> DmResult<()> {
        Err(halted())
    }

    fn eval_content(&mut self, _content: &Content, _cx: EvalContext<'_>) -> DmResult<Value> {
        Err(halted())
    }

    fn execute_script(&mut self, _script: &Expr, _cx: EvalContext<'_>) -> DmResult<()> {
        Err(halted())
    }

    fn foreach_begin(&mut self, _array: &Expr, _cx: EvalContext<'_>) -> DmResult<usize> {
        Err(halted())
    }

    fn foreach_step(
        &mut self,
        _item: &Expr,
        _index: Option<&Expr>,
        _i: usize,
        _cx: EvalContext<'_>,
    ) -> DmResult<()> {
        Err(halted())
    }

    fn foreach_end(&mut self) {}

    fn export(&mut self) -> DmResult<Value> {
        Ok(self.variables.clone())
    }

    fn import(&mut self, _snapshot: &Value) -> DmResult<()> {
        Err(halted())
    }
}
