//! The ECMAScript datamodel (SCXML B.2) on boa_engine; only with the `ecmascript` feature.
//!
//! [`Interpreter::new`](crate::interpreter::Interpreter::new) gives every document with
//! `datamodel="ecmascript"` (the default) an [`EcmaScriptDatamodel`]. A thread keeps the
//! contexts of ended sessions to serve its next ones; a host that runs many sessions on a
//! thread controls that with [`trim_idle_contexts`], [`release_thread_contexts`] and
//! [`reserve_gc_budget`], and watches it with [`context_counts`]. The rest of this page says
//! how the datamodel works.
//!
//! One boa [`Context`] per session. Every expression, script and assignment location is
//! compiled once, on first use, and cached by its [`ExprId`](crate::model::ExprId):
//! expressions as the script `(source)`, scripts as written, locations as a strict-mode
//! setter function
//! `(function (v) { 'use strict'; (location) = v; })`, so that assigning to an undeclared
//! variable (ReferenceError) or to a read-only system variable (TypeError) fails. The common
//! `<assign location="x..." expr="...">`, where `x` is an existing global variable, runs as
//! one fused script `(location) = (expr)` instead. A syntax error is cached too and reported
//! (as an evaluation error) each time the expression is evaluated. Literals and plain reads
//! of variables and their properties (`'QUEUED'`, `[]`, `_event.data.agent`), and stores of
//! such values in plain variables, skip the compiler altogether (`simple`): for a
//! short-lived session, compiling was most of what they cost.
//!
//! Data are properties of the global object. The system variables `_sessionid`, `_name`,
//! `_ioprocessors` and `_x` are non-writable, `_event` is non-writable but configurable so that
//! [`Datamodel::set_event`] can redefine it (and it is only rebound when the document reads
//! it: [`Document::reads_event`]). `In()` is a native function reading a copy of the active
//! configuration that is refreshed before each evaluation.
//!
//! Scripts run under boa's loop-iteration and recursion limits, so a runaway script becomes
//! an error rather than a hang; sources nested deeply enough to overflow boa's recursive
//! parser are rejected before parsing (`too_deep`).
//!
//! A new context is the bulk of a session's cost (boa builds every builtin object for it), so
//! what does not depend on the session is not redone per context: the set of builtin global
//! names is computed once per thread, and the helpers are read from the intrinsics rather
//! than compiled. Export remembers the source text of the functions it has exported.
//! When a session ends, its context (with everything compiled in it) serves the next session
//! of the same document if nothing but the session's variables changed in it (`warm`); a
//! context nobody ran code in serves any document (`spare`). A snapshot names the functions
//! of the top-level scripts, unchanged, instead of holding their text (`SCRIPT_KEY`).
//!
//! XML values (markup in `<data>`, `<assign>`, event data) are a small DOM (`xml_dom`);
//! values cross the trait as JSON (`convert`), a DOM as its markup.

mod compile;
mod contexts;
mod convert;
mod gc_budget;
mod reuse;
mod simple;
mod snapshot;
mod source;
mod spare;
#[cfg(test)]
mod tests;
mod values;
mod variables;
mod warm;
mod xml_dom;

/// Drops the warm and spare contexts of this thread that no session took for a while.
pub fn trim_idle_contexts() {
    warm::trim();
    spare::trim();
}

/// How the ECMAScript sessions of this process got their contexts, and how many warm ones
/// were refused (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextCounts {
    /// Contexts built anew.
    pub built: u64,
    /// Sessions that started from a spare context (no code had run in it).
    pub spare: u64,
    /// Sessions that started from a warm context of their document.
    pub warm: u64,
    /// Contexts a session changed beyond its variables, so not kept warm.
    pub refused: u64,
}

mod counts {
    use std::sync::atomic::AtomicU64;
    pub(crate) static BUILT: AtomicU64 = AtomicU64::new(0);
    pub(crate) static SPARE: AtomicU64 = AtomicU64::new(0);
    pub(crate) static WARM: AtomicU64 = AtomicU64::new(0);
    pub(crate) static REFUSED: AtomicU64 = AtomicU64::new(0);
}

fn count(counter: &std::sync::atomic::AtomicU64) {
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The counts so far, over every thread of the process.
pub fn context_counts() -> ContextCounts {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    ContextCounts {
        built: load(&counts::BUILT),
        spare: load(&counts::SPARE),
        warm: load(&counts::WARM),
        refused: load(&counts::REFUSED),
    }
}

pub use gc_budget::reserve_when_busy as reserve_gc_budget;

/// Drops the contexts this thread keeps for its next sessions (warm and spare ones): for a
/// thread that runs no more sessions, before it exits. They are not dropped at thread exit
/// by themselves, since boa's garbage collector, a thread-local too, may already be gone by
/// then (a thread that exits without calling this leaks what is left of them, a few small
/// allocations).
pub fn release_thread_contexts() {
    warm::clear();
    spare::clear();
}

use super::{Datamodel, DatamodelError, DmResult, EvalContext, SystemVariables};
use crate::interpreter::{Event, StateSet};
use crate::model::{AssignValue, Content, Data, DataInit, Document, Executable, Expr};
use boa_engine::object::builtins::JsArray;
use boa_engine::property::{PropertyDescriptor, PropertyKey};
use boa_engine::{
    js_string, Context, JsError, JsObject, JsResult, JsString, JsValue, NativeFunction, Script,
    Source,
};
use contexts::*;
use convert::{json_to_js, normalize_space, ToJson};
use serde_json::{Map, Value};
use simple::{may_declare_global_lexicals, own_data_descriptor, Simple};
use source::*;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::sync::Arc;
use variables::*;

/// Loop iterations one frame may run before the script is stopped.
const LOOP_ITERATION_LIMIT: u64 = 10_000_000;
/// Nested JS calls before the script is stopped.
const RECURSION_LIMIT: usize = 400;
/// Values on the VM stack before the script is stopped.
const STACK_SIZE_LIMIT: usize = 64 * 1024;
/// Brackets may nest this deeply in one expression or script. boa's parser and compiler
/// recurse, about 20 KB of stack per bracket level in a release build; 40 levels stay well
/// inside a 2 MB thread stack.
const MAX_NESTING: usize = 40;
/// Operators one statement (or line) may chain: right-associative chains (`a = b = ...`,
/// `a ? b : c ? ...`, `!!!...`) also nest in the parser.
const MAX_CHAIN: usize = 400;
/// `else` branches one source may chain.
const MAX_ELSE: usize = 400;
/// Compile caches grow up to this many entries; larger ids are compiled on every use.
const MAX_CACHED_ID: usize = 1 << 20;

/// The read-only variables bound by the processor.
const SYSTEM_VARIABLES: [&str; 5] = ["_sessionid", "_name", "_ioprocessors", "_x", "_event"];

/// Keys of the marker objects `export` writes for values JSON cannot hold.
const FUNCTION_KEY: &str = "$function";
const XML_KEY: &str = "$xml";
const UNDEFINED_KEY: &str = "$undefined";
const VALUE_KEY: &str = "$value";
/// A function a top-level script declared, unchanged: the snapshot names it rather than
/// holding its text, and a restore runs the scripts again to define it.
const SCRIPT_KEY: &str = "$script";

/// The parameter of the compiled setters (a location naming it would see the parameter).
const SETTER_PARAM: &str = "__scxml_assign_value__";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Evaluated as an expression, `(source)`.
    Expr,
    /// Run as a script.
    Script,
    /// A location, compiled into a setter function.
    Setter,
    /// An `<assign>` of an expression, compiled as the sloppy script `(location) = (expr)`;
    /// used only when the location's root is a writable user variable (see
    /// [`EcmaScriptDatamodel::assign`]).
    Assign,
}

enum Compiled {
    Script(Kind, Script),
    Setter(JsObject),
    /// The fused assignment and the identifier its location starts with.
    Assign(Script, Option<JsString>),
    Failed(Kind, String),
}

impl Compiled {
    fn kind(&self) -> Kind {
        match self {
            Compiled::Script(kind, _) | Compiled::Failed(kind, _) => *kind,
            Compiled::Setter(_) => Kind::Setter,
            Compiled::Assign(..) => Kind::Assign,
        }
    }
}

/// What `In()` reads: stored in the context's host data.
struct InState {
    doc: Arc<Document>,
    active: Rc<RefCell<StateSet>>,
}

/// JS functions the datamodel calls from Rust, created once per context.
#[derive(Clone)]
struct Helpers {
    /// `Object.keys`.
    keys: JsObject,
    /// The XML DOM builder (see [`xml_dom::DOM_BUILDER`]) and the prototype of every DOM
    /// node; compiled on first use.
    dom: Option<(JsObject, JsObject)>,
    /// `Function.prototype.toString`.
    fn_to_string: JsObject,
}

/// The ECMAScript datamodel of one session.
pub struct EcmaScriptDatamodel {
    doc: Arc<Document>,
    cache: Vec<Option<Compiled>>,
    /// The simple form of each expression, by [`ExprId`]: `None` until first looked at,
    /// `Some(None)` when it needs the compiler (see [`simple`]).
    simple: Vec<Option<Option<Simple>>>,
    /// Set once a script may have declared a global `let`/`const`/`class`, which would
    /// shadow the global object's properties: variables are then only read by compiled code.
    global_lexicals: bool,
    active: Rc<RefCell<StateSet>>,
    /// Shallow copies of the arrays of the `<foreach>` elements running.
    foreach: Vec<Vec<JsValue>>,
    /// Global names that are not user variables (builtins, `In`, system variables).
    builtins: Rc<HashSet<JsString>>,
    helpers: Helpers,
    /// Function variables already exported: name -> (function, source text).
    function_sources: HashMap<String, (JsObject, String)>,
    system_bound: bool,
    /// Set once compiled code may have run in the context (or a builtin global was
    /// redefined): the context then cannot serve another session (see [`spare`]).
    ran_code: bool,
    /// The context came warm from an earlier session of the document (see [`warm`]): its
    /// top-level scripts already ran in it.
    warm: bool,
    /// Top-level scripts run so far in this context.
    global_scripts_run: usize,
    /// What the context looked like once they had run, when it may be kept warm.
    baseline: Option<Rc<warm::Baseline>>,
    /// Set once code that may queue promise jobs was compiled: the context is not kept warm.
    async_code: bool,
    /// Taken by `Drop`, which drops it or keeps it for the next session.
    ctx: ManuallyDrop<Context>,
}

impl std::fmt::Debug for EcmaScriptDatamodel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcmaScriptDatamodel")
            .field("document", &self.doc.name)
            .finish_non_exhaustive()
    }
}

impl Drop for EcmaScriptDatamodel {
    fn drop(&mut self) {
        if !self.doc.scripts.is_empty() && warm::wanted(&self.doc) && self.reset_warm() {
            let warm = warm::WarmContext {
                // SAFETY: `ctx` is taken exactly once, here, and not used afterwards.
                ctx: unsafe { ManuallyDrop::take(&mut self.ctx) },
                cache: std::mem::take(&mut self.cache),
                simple: std::mem::take(&mut self.simple),
                helpers: self.helpers.clone(),
                function_sources: std::mem::take(&mut self.function_sources),
                baseline: self.baseline.take().expect("a warm context has a baseline"),
            };
            warm::give_back(self.doc.clone(), warm);
            return;
        }
        // Handles into the context go first.
        self.cache.clear();
        self.foreach.clear();
        self.function_sources.clear();
        self.helpers.dom = None;
        let reusable = self.reset_for_next_session();
        // SAFETY: `ctx` is taken exactly once, here, and not used afterwards.
        let ctx = unsafe { ManuallyDrop::take(&mut self.ctx) };
        if reusable {
            spare::give_back(ctx);
        }
    }
}

impl EcmaScriptDatamodel {
    /// The datamodel of a new session of `doc`. Its context is a warm one of the same
    /// document or a spare one this thread kept, when there is one, else a new one.
    pub fn new(doc: &Arc<Document>) -> EcmaScriptDatamodel {
        let active = Rc::new(RefCell::new(StateSet::with_capacity(doc.state_count())));
        if let Some(warm) = (!doc.scripts.is_empty()).then(|| warm::take(doc)).flatten() {
            count(&counts::WARM);
            return EcmaScriptDatamodel::from_warm(doc, active, warm);
        }
        let (ctx, helpers, builtins) = new_context(doc, &active);
        let mut cache = Vec::new();
        cache.resize_with((doc.expr_count as usize).min(MAX_CACHED_ID), || None);
        let mut dm = EcmaScriptDatamodel {
            doc: doc.clone(),
            cache,
            simple: Vec::new(),
            global_lexicals: false,
            active,
            foreach: Vec::new(),
            builtins,
            helpers,
            function_sources: HashMap::new(),
            system_bound: false,
            ran_code: false,
            warm: false,
            global_scripts_run: 0,
            baseline: None,
            async_code: false,
            ctx: ManuallyDrop::new(ctx),
        };
        // `_event` exists (undefined) before the first event.
        let _ = dm.define_system("_event", JsValue::undefined(), true);
        dm
    }

    /// The message of a JS error: `TypeError: ...`, or the thrown value.
    fn js_error(&mut self, e: JsError) -> DatamodelError {
        let message = match e.try_native(&mut self.ctx) {
            Ok(native) => native.to_string(),
            Err(_) => match e.as_opaque() {
                Some(v) => match v.to_string(&mut self.ctx) {
                    Ok(s) => s.to_std_string_escaped(),
                    Err(_) => e.to_string(),
                },
                None => e.to_string(),
            },
        };
        dm_error(clean_message(&message))
    }

    /// Copies the active configuration where `In()` reads it.
    #[inline]
    fn sync_active(&self, cx: &EvalContext<'_>) {
        let mut active = self.active.borrow_mut();
        active.clear();
        active.union_with(cx.active);
    }
}

impl Datamodel for EcmaScriptDatamodel {
    fn init_system(&mut self, sys: &SystemVariables) -> DmResult<()> {
        if self.system_bound {
            // A second call starts over with a fresh context.
            let doc = self.doc.clone();
            *self = EcmaScriptDatamodel::new(&doc);
        }
        self.system_bound = true;
        let session_id = JsValue::from(JsString::from(sys.session_id.as_str()));
        self.define_system("_sessionid", session_id, false)?;
        let name = JsValue::from(JsString::from(sys.name.as_str()));
        self.define_system("_name", name, false)?;
        let mut processors = Map::new();
        for (key, location) in &sys.io_processors {
            let mut entry = Map::new();
            entry.insert("location".into(), Value::String(location.clone()));
            processors.insert(key.clone(), Value::Object(entry));
        }
        let processors = self.json_to_value(&Value::Object(processors))?;
        self.define_system("_ioprocessors", processors, false)?;
        let x = self.json_to_value(&Value::Object(Map::new()))?;
        self.define_system("_x", x, false)
    }

    fn declare(&mut self, id: &str) -> DmResult<()> {
        if self.has_global(id)? && !self.builtins.contains(&JsString::from(id)) {
            return Ok(());
        }
        self.define_var(id, JsValue::undefined())
    }

    fn init_data(&mut self, data: &Data, cx: EvalContext<'_>) -> DmResult<()> {
        // The variable exists (undefined) whatever happens next.
        self.define_var(&data.id, JsValue::undefined())?;
        let value = match &data.init {
            DataInit::None => return Ok(()),
            DataInit::Expr(expr) => self.eval_js(expr, &cx)?,
            DataInit::Text(text) => self.inline_value(text)?,
            DataInit::Unavailable(reason) => return Err(dm_error(reason.clone())),
        };
        self.define_var(&data.id, value)
    }

    fn set_value(&mut self, id: &str, value: &Value) -> DmResult<()> {
        let value = self.json_to_value(value)?;
        self.define_var(id, value)
    }

    fn set_event(&mut self, event: &Event) -> DmResult<()> {
        if !self.doc.reads_event {
            return Ok(());
        }
        let value = match self.event_object(event) {
            Ok(v) => v,
            Err(e) => {
                let error = self.js_error(e);
                // `_event` is still the event, without its data.
                let bare = Event {
                    data: None,
                    ..event.clone()
                };
                if let Ok(v) = self.event_object(&bare) {
                    self.define_system("_event", v, true)?;
                }
                return Err(error);
            }
        };
        self.define_system("_event", value, true)
    }

    fn eval_cond(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<bool> {
        self.eval_js(expr, &cx).map(|v| v.to_boolean())
    }

    fn eval_value(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<Value> {
        let value = self.eval_js(expr, &cx)?;
        self.value_to_json(&value)
    }

    fn eval_string(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<String> {
        let value = self.eval_js(expr, &cx)?;
        if let Some(s) = value.as_string() {
            return Ok(s.to_std_string_escaped());
        }
        let result = value.to_string(&mut self.ctx);
        result
            .map(|s| s.to_std_string_escaped())
            .map_err(|e| self.js_error(e))
    }

    fn assign(
        &mut self,
        location: &Expr,
        value: &AssignValue,
        cx: EvalContext<'_>,
    ) -> DmResult<()> {
        let value = match value {
            AssignValue::Expr(expr) => {
                // Fastest path: a simple value stored in a plain global variable. Otherwise
                // the value is computed again below (a simple expression has no effects).
                if let Some(value) = self.eval_simple(expr) {
                    if self.store_simple(location, value).is_ok() {
                        return Ok(());
                    }
                }
                self.sync_active(&cx);
                // Fast path: one fused sloppy-mode script. Sloppy mode would create an
                // undeclared variable or ignore a read-only one, so it is taken only when the
                // location starts with an existing user variable of the global object.
                if let Ok(index) = self.prepare_with(location, Kind::Assign, Some(expr)) {
                    if let Some(Compiled::Assign(script, Some(root))) = &self.cache[index] {
                        let global = self.ctx.global_object();
                        if global
                            .has_own_property(root.clone(), &mut self.ctx)
                            .unwrap_or(false)
                        {
                            let result = script.evaluate(&mut self.ctx);
                            return result.map(|_| ()).map_err(|e| self.js_error(e));
                        }
                    }
                }
                self.run(expr, Kind::Expr, &[])?
            }
            AssignValue::Inline(text) => self.inline_value(text)?,
        };
        self.store(location, value)
    }

    fn assign_value(
        &mut self,
        location: &Expr,
        value: &Value,
        cx: EvalContext<'_>,
    ) -> DmResult<()> {
        self.sync_active(&cx);
        let value = self.json_to_value(value)?;
        self.store(location, value)
    }

    fn eval_content(&mut self, content: &Content, cx: EvalContext<'_>) -> DmResult<Value> {
        match content {
            Content::Expr(expr) => self.eval_value(expr, cx),
            Content::Inline(text) => {
                if let Ok(json) = serde_json::from_str::<Value>(text) {
                    return Ok(json);
                }
                if xml_dom::parse(text).is_some() {
                    // Markup travels as text; `_event.data` makes a DOM of it again.
                    return Ok(Value::String(text.trim().to_string()));
                }
                Ok(Value::String(normalize_space(text)))
            }
            Content::Document(_) => Err(dm_error(
                "an inline <scxml> document is not a value of the ECMAScript datamodel",
            )),
        }
    }

    fn execute_script(&mut self, script: &Expr, cx: EvalContext<'_>) -> DmResult<()> {
        let global = self.is_global_script(script);
        if global && self.warm {
            // It ran in this context already, for an earlier session (see [`warm`]).
            return Ok(());
        }
        self.sync_active(&cx);
        self.run(script, Kind::Script, &[])?;
        if global {
            self.global_scripts_run += 1;
            if self.global_scripts_run == self.doc.scripts.len() {
                self.baseline = self.take_baseline().map(Rc::new);
            }
        }
        Ok(())
    }

    fn foreach_begin(&mut self, array: &Expr, cx: EvalContext<'_>) -> DmResult<usize> {
        let value = self.eval_js(array, &cx)?;
        let array = match value.as_object() {
            Some(obj) if obj.is_array() => {
                JsArray::from_object(obj).map_err(|e| self.js_error(e))?
            }
            _ => {
                return Err(dm_error(format!(
                    "foreach array `{}` is not an array",
                    array.source
                )))
            }
        };
        let len = array.length(&mut self.ctx).map_err(|e| self.js_error(e))?;
        let mut items = Vec::with_capacity(len.min(1 << 16) as usize);
        for i in 0..len {
            let item = array.get(i, &mut self.ctx).map_err(|e| self.js_error(e))?;
            items.push(item);
        }
        let len = items.len();
        self.foreach.push(items);
        Ok(len)
    }

    fn foreach_step(
        &mut self,
        item: &Expr,
        index: Option<&Expr>,
        i: usize,
        cx: EvalContext<'_>,
    ) -> DmResult<()> {
        self.sync_active(&cx);
        let value = self
            .foreach
            .last()
            .and_then(|items| items.get(i))
            .cloned()
            .ok_or_else(|| dm_error("foreach step outside its array"))?;
        self.store_declaring(item, value)?;
        if let Some(index) = index {
            let i = i32::try_from(i).map_or_else(|_| JsValue::new(i as f64), JsValue::new);
            self.store_declaring(index, i)?;
        }
        Ok(())
    }

    fn foreach_end(&mut self) {
        self.foreach.pop();
    }

    fn export(&mut self) -> DmResult<Value> {
        let global = self.ctx.global_object();
        let keys = global
            .own_property_keys(&mut self.ctx)
            .map_err(|e| self.js_error(e))?;
        let mut out = Map::new();
        for key in keys {
            let PropertyKey::String(name) = &key else {
                continue;
            };
            if self.builtins.contains(name) {
                continue;
            }
            let name = name.to_std_string_escaped();
            let value = global
                .get(key.clone(), &mut self.ctx)
                .map_err(|e| self.js_error(e))?;
            if let Some(v) = self.export_value(&name, &value)? {
                out.insert(name, v);
            }
        }
        Ok(Value::Object(out))
    }

    fn import(&mut self, snapshot: &Value) -> DmResult<()> {
        let Value::Object(vars) = snapshot else {
            return Err(dm_error("a datamodel snapshot must be a JSON object"));
        };
        let names_script_functions = vars.values().any(|v| v.get(SCRIPT_KEY).is_some());
        if names_script_functions && self.global_scripts_run == 0 && !self.warm {
            self.run_global_scripts()?;
        }
        let script_globals = match (&self.baseline, self.warm) {
            (Some(baseline), true) => Some(baseline.clone()),
            _ => None,
        };
        for (name, value) in vars {
            if SYSTEM_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            if value.get(SCRIPT_KEY).is_some() {
                // Defined by the scripts (just now, or when the warm context was new).
                if !self.has_global(name)? {
                    return Err(dm_error(format!(
                        "the document's scripts no longer declare {name}"
                    )));
                }
                continue;
            }
            let script_global = JsString::from(name.as_str());
            if script_globals
                .as_ref()
                .is_some_and(|b| b.script_globals.contains(&script_global))
            {
                // A warm context has the scripts' globals already: a function as it was is
                // kept, anything else replaces it (and the context is not kept warm again).
                if self.is_current_function(name, value)? {
                    continue;
                }
                let value = self.import_value(value)?;
                let global = self.ctx.global_object();
                global
                    .set(script_global, value, true, &mut self.ctx)
                    .map_err(|e| self.js_error(e))?;
                continue;
            }
            let value = self.import_value(value)?;
            self.define_var(name, value)?;
        }
        Ok(())
    }
}
