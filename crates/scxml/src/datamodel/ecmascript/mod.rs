//! The ECMAScript datamodel (SCXML B.2) on boa_engine.
//!
//! One boa [`Context`] per session. Every expression, script and assignment location is
//! compiled once, on first use, and cached by its [`ExprId`]: expressions as the script
//! `(source)`, scripts as written, locations as a strict-mode setter function
//! `(function (v) { 'use strict'; (location) = v; })`, so that assigning to an undeclared
//! variable (ReferenceError) or to a read-only system variable (TypeError) fails. The common
//! `<assign location="x..." expr="...">`, where `x` is an existing global variable, runs as
//! one fused script `(location) = (expr)` instead. A syntax error is cached too and reported
//! (as an evaluation error) each time the expression is evaluated. Literals and plain reads
//! of variables and their properties (`'QUEUED'`, `[]`, `_event.data.agent`), and stores of
//! such values in plain variables, skip the compiler altogether ([`simple`]): for a
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
//! parser are rejected before parsing ([`too_deep`]).
//!
//! A new context is the bulk of a session's cost (boa builds every builtin object for it), so
//! what does not depend on the session is not redone per context: the set of builtin global
//! names is computed once per thread, and the helpers are read from the intrinsics rather
//! than compiled. Export remembers the source text of the functions it has exported.
//! When a session ends, its context (with everything compiled in it) serves the next session
//! of the same document if nothing but the session's variables changed in it ([`warm`]); a
//! context nobody ran code in serves any document ([`spare`]). A snapshot names the functions
//! of the top-level scripts, unchanged, instead of holding their text ([`SCRIPT_KEY`]).
//!
//! XML values (markup in `<data>`, `<assign>`, event data) are a small DOM ([`xml_dom`]);
//! values cross the trait as JSON ([`convert`]), a DOM as its markup.

mod convert;
mod gc_budget;
mod simple;
mod spare;
#[cfg(test)]
mod tests;
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
    pub static BUILT: AtomicU64 = AtomicU64::new(0);
    pub static SPARE: AtomicU64 = AtomicU64::new(0);
    pub static WARM: AtomicU64 = AtomicU64::new(0);
    pub static REFUSED: AtomicU64 = AtomicU64::new(0);
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
/// thread that runs no more sessions, before it exits (see [`spare`] on why not at exit).
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
use convert::{json_to_js, normalize_space, ToJson};
use serde_json::{Map, Value};
use simple::{may_declare_global_lexicals, own_data_descriptor, Simple};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::sync::Arc;

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

/// `In(id)`.
fn in_state(_this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = match args.first() {
        Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
        None => return Ok(JsValue::new(false)),
    };
    let active = ctx.get_data::<InState>().is_some_and(|data| {
        data.doc
            .state_by_id(&id)
            .is_some_and(|s| data.active.borrow().contains(s))
    });
    Ok(JsValue::new(active))
}

/// Evaluates a trusted helper source to an object.
fn helper(source: &str, ctx: &mut Context) -> JsObject {
    ctx.eval(Source::from_bytes(source))
        .ok()
        .and_then(|v| v.as_object())
        .expect("datamodel helper evaluates to an object")
}

/// A property of a builtin object, read without compiling any script.
fn builtin_property(object: &JsObject, name: JsString, ctx: &mut Context) -> JsObject {
    object
        .get(name, ctx)
        .ok()
        .and_then(|v| v.as_object())
        .expect("the builtin property is an object")
}

thread_local! {
    /// The names of the global object's properties in a fresh context (builtins and `In`) and
    /// the system variables: every context is built the same way, so the set is computed
    /// once per thread and shared by its sessions.
    static BUILTIN_GLOBALS: std::cell::OnceCell<Rc<HashSet<JsString>>> =
        const { std::cell::OnceCell::new() };
}

/// The global names that are not user variables, for a context built by [`new_context`].
fn builtin_globals(ctx: &mut Context) -> Rc<HashSet<JsString>> {
    BUILTIN_GLOBALS.with(|cell| {
        cell.get_or_init(|| {
            let mut names: HashSet<JsString> = SYSTEM_VARIABLES
                .iter()
                .map(|&s| JsString::from(s))
                .collect();
            let global = ctx.global_object();
            if let Ok(keys) = global.own_property_keys(ctx) {
                for key in keys {
                    if let PropertyKey::String(s) = key {
                        names.insert(s);
                    }
                }
            }
            Rc::new(names)
        })
        .clone()
    })
}

fn new_context(
    doc: &Arc<Document>,
    active: &Rc<RefCell<StateSet>>,
) -> (Context, Helpers, Rc<HashSet<JsString>>) {
    gc_budget::note_context();
    let spare = spare::take();
    count(if spare.is_some() {
        &counts::SPARE
    } else {
        &counts::BUILT
    });
    let mut ctx = spare.unwrap_or_else(|| {
        let mut ctx = Context::default();
        let limits = ctx.runtime_limits_mut();
        limits.set_loop_iteration_limit(LOOP_ITERATION_LIMIT);
        limits.set_recursion_limit(RECURSION_LIMIT);
        limits.set_stack_size_limit(STACK_SIZE_LIMIT);
        ctx.register_global_builtin_callable(
            js_string!("In"),
            1,
            NativeFunction::from_fn_ptr(in_state),
        )
        .expect("In() can be registered");
        ctx
    });
    ctx.insert_data(InState {
        doc: doc.clone(),
        active: active.clone(),
    });
    let object = ctx.intrinsics().constructors().object().constructor();
    let keys = builtin_property(&object, js_string!("keys"), &mut ctx);
    let function_prototype = ctx.intrinsics().constructors().function().prototype();
    let fn_to_string = builtin_property(&function_prototype, js_string!("toString"), &mut ctx);
    let builtins = builtin_globals(&mut ctx);
    (
        ctx,
        Helpers {
            keys,
            dom: None,
            fn_to_string,
        },
        builtins,
    )
}

/// The text of an expression as it is compiled: a trailing `;` is tolerated (`expr="new
/// f();"`), and an empty expression is `undefined` (`<log expr=""/>`).
fn expression_text(source: &str) -> &str {
    let text = source
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    if text.is_empty() {
        "undefined"
    } else {
        text
    }
}

/// The identifier a location starts with (`a` of `a.b[0]`), when it is a user variable that
/// the fused assignment may write: not a system variable, and followed only by member
/// accesses.
fn location_root(location: &str) -> Option<&str> {
    let location = location.trim();
    let end = location
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .map_or(location.len(), |(i, _)| i);
    let (root, rest) = location.split_at(end);
    let rest = rest.trim_start();
    let member = rest.is_empty() || rest.starts_with('.') || rest.starts_with('[');
    (is_identifier(root) && member && !SYSTEM_VARIABLES.contains(&root)).then_some(root)
}

/// True for an ECMAScript identifier (reserved words are caught when the setter compiles).
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// True when a source nests so deeply that parsing or compiling it could overflow the native
/// stack. A heuristic, not a parser: it skips string literals, and counts bracket depth,
/// operators per statement or line, and `else` branches.
fn too_deep(source: &str) -> bool {
    let bytes = source.as_bytes();
    let (mut depth, mut chain, mut elses) = (0usize, 0usize, 0usize);
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'(' | b'[' | b'{' => {
                depth += 1;
                chain += 1;
                if depth > MAX_NESTING {
                    return true;
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b';' | b'\n' => chain = 0,
            b'?' | b'=' | b'!' | b'~' | b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'&'
            | b'|' | b'^' => chain += 1,
            b'e' if bytes[i..].starts_with(b"else") => elses += 1,
            _ => {}
        }
        if chain > MAX_CHAIN || elses > MAX_ELSE {
            return true;
        }
        i += 1;
    }
    false
}

/// A global property a session owns: its variables and its system variables. The rest
/// (builtins, what the top-level scripts declared) outlives it in a warm context.
fn is_session_variable(
    name: &JsString,
    builtins: &HashSet<JsString>,
    script_globals: &HashSet<JsString>,
) -> bool {
    is_system_variable(name) || !(builtins.contains(name) || script_globals.contains(name))
}

fn is_system_variable(name: &JsString) -> bool {
    SYSTEM_VARIABLES.iter().any(|s| name == *s)
}

/// True when a source may create promises or other jobs that outlive the code that queued
/// them (a conservative textual test).
fn may_queue_jobs(source: &str) -> bool {
    [
        "Promise",
        "async",
        "await",
        "FinalizationRegistry",
        "WeakRef",
    ]
    .iter()
    .any(|word| source.contains(word))
}

/// True when `source` holds the identifier `name` as a whole word (in a string or comment it
/// counts too).
fn mentions(source: &str, name: &str) -> bool {
    let bytes = source.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    source.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + name.len()).copied();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The first line of an engine message, without boa's position suffix (`(native)`,
/// `(unknown at :1:5)`) or backtrace.
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim_end();
    if let Some(open) = first.rfind(" (") {
        let suffix = &first[open + 2..];
        if suffix == "native)" || suffix.starts_with("unknown at ") {
            return first[..open].to_string();
        }
    }
    first.to_string()
}

fn dm_error(message: impl Into<String>) -> DatamodelError {
    DatamodelError::new(message)
}

impl EcmaScriptDatamodel {
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

    /// A datamodel on a warm context of `doc` (already reset, `_event` unbound).
    fn from_warm(
        doc: &Arc<Document>,
        active: Rc<RefCell<StateSet>>,
        warm: warm::WarmContext,
    ) -> EcmaScriptDatamodel {
        gc_budget::note_context();
        let mut ctx = warm.ctx;
        ctx.insert_data(InState {
            doc: doc.clone(),
            active: active.clone(),
        });
        let builtins = builtin_globals(&mut ctx);
        let mut cache = warm.cache;
        cache.resize_with((doc.expr_count as usize).min(MAX_CACHED_ID), || None);
        EcmaScriptDatamodel {
            doc: doc.clone(),
            cache,
            simple: warm.simple,
            global_lexicals: false,
            active,
            foreach: Vec::new(),
            builtins,
            helpers: warm.helpers,
            function_sources: warm.function_sources,
            system_bound: false,
            ran_code: true,
            warm: true,
            global_scripts_run: 0,
            baseline: Some(warm.baseline),
            async_code: false,
            ctx: ManuallyDrop::new(ctx),
        }
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

    fn compile(&mut self, expr: &Expr, kind: Kind, value: Option<&Expr>) -> Compiled {
        if too_deep(&expr.source) || value.is_some_and(|v| too_deep(&v.source)) {
            return Compiled::Failed(kind, "SyntaxError: expression nested too deeply".into());
        }
        self.ran_code = true;
        if kind == Kind::Script && may_declare_global_lexicals(&expr.source) {
            self.global_lexicals = true;
        }
        if may_queue_jobs(&expr.source) {
            self.async_code = true;
        }
        let text = match kind {
            Kind::Expr => format!("({}\n)", expression_text(&expr.source)),
            Kind::Script => expr.source.clone(),
            // A named parameter: `arguments` would allocate an object per call.
            Kind::Setter => format!(
                "(function ({SETTER_PARAM}) {{ 'use strict'; ({}\n) = {SETTER_PARAM}; }})",
                expr.source
            ),
            Kind::Assign => format!(
                "({}\n) = ({}\n);",
                expr.source,
                expression_text(value.map_or("", |v| v.source.as_str()))
            ),
        };
        let script = match Script::parse(Source::from_bytes(&text), None, &mut self.ctx) {
            Ok(script) => script,
            Err(e) => {
                let message = self.js_error(e).message;
                return Compiled::Failed(
                    kind,
                    match kind {
                        Kind::Setter => format!(
                            "`{}` is not a valid location ({})",
                            expr.source.trim(),
                            message.split(" at line ").next().unwrap_or_default()
                        ),
                        _ => message,
                    },
                );
            }
        };
        if kind == Kind::Assign {
            let root = location_root(&expr.source).map(JsString::from);
            return Compiled::Assign(script, root);
        }
        if kind != Kind::Setter {
            return Compiled::Script(kind, script);
        }
        match script.evaluate(&mut self.ctx) {
            Ok(f) => match f.as_object() {
                Some(f) => Compiled::Setter(f),
                None => Compiled::Failed(kind, "location did not compile to a setter".into()),
            },
            Err(e) => Compiled::Failed(kind, self.js_error(e).message),
        }
    }

    /// The index of the compiled form of `expr` in the cache, compiling it on first use;
    /// `Err(compiled)` for ids too large to cache.
    fn prepare(&mut self, expr: &Expr, kind: Kind) -> Result<usize, Compiled> {
        self.prepare_with(expr, kind, None)
    }

    fn prepare_with(
        &mut self,
        expr: &Expr,
        kind: Kind,
        value: Option<&Expr>,
    ) -> Result<usize, Compiled> {
        let index = expr.id.0 as usize;
        if index >= self.cache.len() {
            if index >= MAX_CACHED_ID {
                return Err(self.compile(expr, kind, value));
            }
            self.cache.resize_with(index + 1, || None);
        }
        if !matches!(&self.cache[index], Some(c) if c.kind() == kind) {
            let compiled = self.compile(expr, kind, value);
            self.cache[index] = Some(compiled);
        }
        Ok(index)
    }

    fn run_compiled(&mut self, compiled: &Compiled, args: &[JsValue]) -> DmResult<JsValue> {
        let result = match compiled {
            Compiled::Script(_, script) | Compiled::Assign(script, _) => {
                script.evaluate(&mut self.ctx)
            }
            Compiled::Setter(f) => f.call(&JsValue::undefined(), args, &mut self.ctx),
            Compiled::Failed(_, message) => return Err(dm_error(message.clone())),
        };
        result.map_err(|e| self.js_error(e))
    }

    /// Evaluates an expression or script (or calls a setter with `args`).
    fn run(&mut self, expr: &Expr, kind: Kind, args: &[JsValue]) -> DmResult<JsValue> {
        match self.prepare(expr, kind) {
            Ok(index) => {
                let result = match &self.cache[index] {
                    Some(Compiled::Script(_, script)) | Some(Compiled::Assign(script, _)) => {
                        script.evaluate(&mut self.ctx)
                    }
                    Some(Compiled::Setter(f)) => f.call(&JsValue::undefined(), args, &mut self.ctx),
                    Some(Compiled::Failed(_, message)) => return Err(dm_error(message.clone())),
                    None => return Err(dm_error("expression was not compiled")),
                };
                result.map_err(|e| self.js_error(e))
            }
            Err(compiled) => self.run_compiled(&compiled, args),
        }
    }

    fn eval_js(&mut self, expr: &Expr, cx: &EvalContext<'_>) -> DmResult<JsValue> {
        if let Some(value) = self.eval_simple(expr) {
            return Ok(value);
        }
        self.sync_active(cx);
        self.run(expr, Kind::Expr, &[])
    }

    /// The simple form of an expression (or location), parsed on first use.
    fn simple_form(&mut self, expr: &Expr) -> Option<&Simple> {
        let index = expr.id.0 as usize;
        if index >= MAX_CACHED_ID {
            return None;
        }
        if index >= self.simple.len() {
            self.simple.resize_with(index + 1, || None);
        }
        self.simple[index]
            .get_or_insert_with(|| Simple::parse(expression_text(&expr.source)))
            .as_ref()
    }

    /// The value of a simple expression without compiling it; `None` when the compiled
    /// expression must run (nothing observable has happened then).
    fn eval_simple(&mut self, expr: &Expr) -> Option<JsValue> {
        let reads_variables = self.global_lexicals;
        let simple = self.simple_form(expr)?;
        if reads_variables && matches!(simple, Simple::Path(_)) {
            return None;
        }
        let simple = simple.clone();
        simple.evaluate(&mut self.ctx)
    }

    /// Stores a value directly when the location is a global variable that is a plain
    /// writable data property (what the compiled setter would do, without compiling it);
    /// gives the value back otherwise.
    fn store_simple(&mut self, location: &Expr, value: JsValue) -> Result<(), JsValue> {
        if self.global_lexicals {
            return Err(value);
        }
        let name = match self.simple_form(location) {
            Some(Simple::Path(names)) if names.len() == 1 => names[0].clone(),
            _ => return Err(value),
        };
        let global = self.ctx.global_object();
        if name == js_string!(SETTER_PARAM)
            || self.builtins.contains(&name)
            || !simple::strict_assignable(&name)
            || !matches!(own_data_descriptor(&global, &name), Some((_, true)))
        {
            return Err(value);
        }
        // An own writable data property of an ordinary object: setting it runs no code.
        match global.set(name, value.clone(), true, &mut self.ctx) {
            Ok(true) => Ok(()),
            _ => Err(value),
        }
    }

    /// Stores a value in a location through its compiled setter.
    fn store(&mut self, location: &Expr, value: JsValue) -> DmResult<()> {
        match self.store_simple(location, value) {
            Ok(()) => Ok(()),
            Err(value) => self.run(location, Kind::Setter, &[value]).map(|_| ()),
        }
    }

    fn value_to_json(&mut self, value: &JsValue) -> DmResult<Value> {
        let keys = self.helpers.keys.clone();
        let result = ToJson::new(&keys).convert(value, &mut self.ctx);
        match result {
            Ok(v) => Ok(v.unwrap_or(Value::Null)),
            Err(e) => Err(self.js_error(e)),
        }
    }

    fn json_to_value(&mut self, value: &Value) -> DmResult<JsValue> {
        json_to_js(value, &mut self.ctx).map_err(|e| self.js_error(e))
    }

    /// A DOM document for markup, `None` when it is not well-formed XML.
    fn xml_value(&mut self, text: &str) -> DmResult<Option<JsValue>> {
        let Some(tree) = xml_dom::parse(text) else {
            return Ok(None);
        };
        let tree = self.json_to_value(&tree)?;
        let dom = match &self.helpers.dom {
            Some((dom, _)) => dom.clone(),
            None => {
                self.ran_code = true;
                let dom = helper(xml_dom::DOM_BUILDER, &mut self.ctx);
                let proto = dom
                    .get(js_string!("proto"), &mut self.ctx)
                    .ok()
                    .and_then(|v| v.as_object())
                    .expect("the DOM builder has a prototype");
                self.helpers.dom = Some((dom.clone(), proto));
                dom
            }
        };
        let result = dom.call(&JsValue::undefined(), &[tree], &mut self.ctx);
        result.map(Some).map_err(|e| self.js_error(e))
    }

    /// Inline text of `<data>`/`<assign>`: JSON, else XML as a DOM, else a space-normalised
    /// string.
    fn inline_value(&mut self, text: &str) -> DmResult<JsValue> {
        if let Ok(json) = serde_json::from_str::<Value>(text) {
            return self.json_to_value(&json);
        }
        if xml_dom::looks_like_xml(text) {
            if let Some(dom) = self.xml_value(text)? {
                return Ok(dom);
            }
        }
        Ok(JsValue::from(JsString::from(
            normalize_space(text).as_str(),
        )))
    }

    /// Creates or rebinds a user variable.
    fn define_var(&mut self, id: &str, value: JsValue) -> DmResult<()> {
        if SYSTEM_VARIABLES.contains(&id) {
            return Err(dm_error(format!("{id} is a read-only system variable")));
        }
        let name = JsString::from(id);
        if self.builtins.contains(&name) {
            // A redefined builtin would not be undone when the context is reset.
            self.ran_code = true;
        }
        let desc = PropertyDescriptor::builder()
            .value(value)
            .writable(true)
            .enumerable(true)
            .configurable(true);
        let global = self.ctx.global_object();
        global
            .define_property_or_throw(name, desc, &mut self.ctx)
            .map(|_| ())
            .map_err(|e| self.js_error(e))
    }

    /// Binds a system variable. The non-configurable ones are bound once per session, but a
    /// context kept from an earlier session (see [`spare`]) already has them: they are
    /// written as is, without the checks of `[[DefineOwnProperty]]`.
    fn define_system(&mut self, id: &str, value: JsValue, configurable: bool) -> DmResult<()> {
        let desc = PropertyDescriptor::builder()
            .value(value)
            .writable(false)
            .enumerable(false)
            .configurable(configurable);
        let global = self.ctx.global_object();
        if !configurable {
            global.insert_property(JsString::from(id), desc);
            return Ok(());
        }
        global
            .define_property_or_throw(JsString::from(id), desc, &mut self.ctx)
            .map(|_| ())
            .map_err(|e| self.js_error(e))
    }

    /// Makes the context as good as a new one, when no compiled code ran in it: deletes the
    /// session's variables and unbinds the system variables. False when it cannot be reused.
    fn reset_for_next_session(&mut self) -> bool {
        if self.ran_code {
            return false;
        }
        let builtins = self.builtins.clone();
        self.unbind_session(|key| match key {
            PropertyKey::String(name) => !builtins.contains(name),
            PropertyKey::Index(_) => true,
            // Only compiled code adds symbol-keyed properties.
            PropertyKey::Symbol(_) => false,
        })
    }

    /// What every reset does: deletes the global properties `is_variable` picks, and
    /// unbinds the system variables and the session's `In()` state. False when a property
    /// would not go.
    fn unbind_session(&mut self, is_variable: impl Fn(&PropertyKey) -> bool) -> bool {
        let global = self.ctx.global_object();
        let Ok(keys) = global.own_property_keys(&mut self.ctx) else {
            return false;
        };
        for key in keys {
            if is_variable(&key)
                && !matches!(
                    global.delete_property_or_throw(key, &mut self.ctx),
                    Ok(true)
                )
            {
                return false;
            }
        }
        for id in SYSTEM_VARIABLES {
            if self
                .define_system(id, JsValue::undefined(), id == "_event")
                .is_err()
            {
                return false;
            }
        }
        self.ctx.remove_data::<InState>();
        true
    }

    /// False once the context holds what the fingerprint cannot judge (see [`warm`]): global
    /// lexical declarations, code that may queue jobs, the XML DOM helper.
    fn may_stay_warm(&self) -> bool {
        !(self.global_lexicals || self.async_code || self.helpers.dom.is_some())
    }

    /// True for one of the document's top-level `<script>`s.
    fn is_global_script(&self, script: &Expr) -> bool {
        self.doc
            .scripts
            .iter()
            .any(|e| matches!(e, Executable::Script(s) if s.id == script.id))
    }

    /// The baseline of a context whose top-level scripts have all just run, or `None` when
    /// it may not be kept warm (see [`warm`]).
    fn take_baseline(&mut self) -> Option<warm::Baseline> {
        if !self.may_stay_warm() {
            return None;
        }
        let scripts_declare_functions_only = self.doc.scripts.iter().all(
            |e| matches!(e, Executable::Script(s) if warm::declares_functions_only(&s.source)),
        );
        if !scripts_declare_functions_only {
            return None;
        }
        let data: Vec<&Data> = self.doc.states.iter().flat_map(|s| &s.data).collect();
        let global = self.ctx.global_object();
        let keys = global.own_property_keys(&mut self.ctx).ok()?;
        let script_globals: HashSet<JsString> = keys
            .into_iter()
            .filter_map(|key| match key {
                PropertyKey::String(name) => Some(name),
                _ => None,
            })
            .filter(|name| {
                !self.builtins.contains(name)
                    && !data
                        .iter()
                        .any(|d| name.to_std_string().is_ok_and(|n| n == d.id))
            })
            .collect();
        // In a new context the data are initialised before the scripts run.
        let names: Vec<String> = script_globals
            .iter()
            .map(|n| n.to_std_string_escaped())
            .collect();
        let sees_script_global = data.iter().any(|d| match &d.init {
            DataInit::Expr(e) => names.iter().any(|n| mentions(&e.source, n)),
            _ => false,
        });
        if sees_script_global {
            return None;
        }
        let mut functions = HashMap::new();
        for name in &script_globals {
            let value = global.get(name.clone(), &mut self.ctx).ok()?;
            if let Some(f) = value.as_object().filter(|f| f.is_callable()) {
                functions.insert(name.to_std_string_escaped(), f);
            }
        }
        let builtins = &self.builtins;
        let print = warm::fingerprint(&mut self.ctx, |name| {
            is_session_variable(name, builtins, &script_globals)
        })
        .ok()?;
        Some(warm::Baseline {
            script_globals,
            functions,
            print,
        })
    }

    /// Makes a context whose document's scripts ran in it as good as a new one in which
    /// they just ran: deletes the session's variables, unbinds the system variables, and
    /// checks that nothing else changed since the baseline. False when it cannot be kept.
    fn reset_warm(&mut self) -> bool {
        let Some(baseline) = self.baseline.clone() else {
            return false;
        };
        if !self.may_stay_warm() {
            return false;
        }
        self.foreach.clear();
        let builtins = self.builtins.clone();
        let deleted = self.unbind_session(|key| match key {
            PropertyKey::String(name) => {
                !is_system_variable(name)
                    && is_session_variable(name, &builtins, &baseline.script_globals)
            }
            // Left for the fingerprint to judge.
            PropertyKey::Index(_) | PropertyKey::Symbol(_) => false,
        });
        if !deleted {
            return false;
        }
        let print = warm::fingerprint(&mut self.ctx, |name| {
            is_session_variable(name, &builtins, &baseline.script_globals)
        });
        if !matches!(print, Ok(p) if p == baseline.print) {
            count(&counts::REFUSED);
            return false;
        }
        self.function_sources.retain(|name, _| {
            baseline
                .script_globals
                .contains(&JsString::from(name.as_str()))
        });
        true
    }

    fn has_global(&mut self, id: &str) -> DmResult<bool> {
        let global = self.ctx.global_object();
        global
            .has_property(JsString::from(id), &mut self.ctx)
            .map_err(|e| self.js_error(e))
    }

    /// Stores a value in a `<foreach>` item or index, declaring a new plain variable.
    fn store_declaring(&mut self, location: &Expr, value: JsValue) -> DmResult<()> {
        // Compile first: an illegal name must not leave a variable behind.
        if let Ok(index) = self.prepare(location, Kind::Setter) {
            if let Some(Compiled::Failed(_, message)) = &self.cache[index] {
                return Err(dm_error(message.clone()));
            }
        }
        let name = location.source.trim();
        if !is_identifier(name) {
            return Err(dm_error(format!("`{name}` is not a legal variable name")));
        }
        if !self.has_global(name)? {
            self.define_var(name, JsValue::undefined())?;
        }
        self.store(location, value)
    }

    /// `_event` as a JS object.
    fn event_object(&mut self, event: &Event) -> JsResult<JsValue> {
        fn opt(s: &Option<String>) -> JsValue {
            match s {
                Some(s) => JsValue::from(JsString::from(s.as_str())),
                None => JsValue::undefined(),
            }
        }
        let data = match &event.data {
            None => JsValue::undefined(),
            Some(Value::String(s)) if xml_dom::looks_like_xml(s) => match self.xml_value(s) {
                Ok(Some(dom)) => dom,
                _ => JsValue::from(JsString::from(s.as_str())),
            },
            Some(v) => json_to_js(v, &mut self.ctx)?,
        };
        let ctx = &mut self.ctx;
        let obj = convert::plain_object(ctx);
        let fields = [
            (
                js_string!("name"),
                JsString::from(event.name.as_str()).into(),
            ),
            (
                js_string!("type"),
                JsString::from(event.kind.as_str()).into(),
            ),
            (js_string!("sendid"), opt(&event.sendid)),
            (js_string!("origin"), opt(&event.origin)),
            (js_string!("origintype"), opt(&event.origintype)),
            (js_string!("invokeid"), opt(&event.invokeid)),
            (js_string!("data"), data),
            (js_string!("raw"), opt(&event.raw)),
        ];
        for (key, value) in fields {
            convert::add_data_property(&obj, key, value);
        }
        Ok(obj.into())
    }

    /// The source text of a function variable, for export. A function's text never changes,
    /// so it is remembered per variable with the function object it came from: exporting
    /// after every macrostep does not stringify the document's functions again and again.
    fn function_source(&mut self, name: &str, function: &JsObject) -> DmResult<String> {
        if let Some((known, source)) = self.function_sources.get(name) {
            if JsObject::equals(known, function) {
                return Ok(source.clone());
            }
        }
        let f = self.helpers.fn_to_string.clone();
        let source = f
            .call(&function.clone().into(), &[], &mut self.ctx)
            .and_then(|s| s.to_string(&mut self.ctx))
            .map_err(|e| self.js_error(e))?
            .to_std_string_escaped();
        if source.contains("[native code]") {
            return Err(dm_error(format!(
                "{name} is a native function and cannot be exported"
            )));
        }
        self.function_sources
            .insert(name.to_string(), (function.clone(), source.clone()));
        Ok(source)
    }

    /// One exported variable: JSON, or a marker object for what JSON cannot hold.
    fn export_value(&mut self, name: &str, value: &JsValue) -> DmResult<Option<Value>> {
        let marker = |key: &str, v: Value| {
            let mut m = Map::new();
            m.insert(key.to_string(), v);
            Value::Object(m)
        };
        if value.is_undefined() {
            return Ok(Some(marker(UNDEFINED_KEY, Value::Bool(true))));
        }
        if let Some(obj) = value.as_object() {
            let declared = self.baseline.as_ref().and_then(|b| b.functions.get(name));
            if declared.is_some_and(|f| JsObject::equals(f, &obj)) {
                return Ok(Some(marker(SCRIPT_KEY, Value::Bool(true))));
            }
            if obj.is_callable() {
                let source = self.function_source(name, &obj)?;
                return Ok(Some(marker(FUNCTION_KEY, Value::String(source))));
            }
            let is_dom = match (&self.helpers.dom, obj.prototype()) {
                (Some((_, dom_proto)), Some(p)) => JsObject::equals(&p, dom_proto),
                _ => false,
            };
            if is_dom {
                let xml = self.value_to_json(value)?;
                return Ok(Some(marker(XML_KEY, xml)));
            }
        }
        let json = self.value_to_json(value)?;
        // User objects that look like markers are wrapped so they come back as they were.
        if let Value::Object(m) = &json {
            if m.len() == 1
                && [FUNCTION_KEY, XML_KEY, UNDEFINED_KEY, VALUE_KEY, SCRIPT_KEY]
                    .iter()
                    .any(|k| m.contains_key(*k))
            {
                return Ok(Some(marker(VALUE_KEY, json)));
            }
        }
        Ok(Some(json))
    }

    /// Runs the document's top-level scripts, to restore a snapshot that names their
    /// functions (see [`SCRIPT_KEY`]); the context may then be kept warm like one that
    /// started its session.
    fn run_global_scripts(&mut self) -> DmResult<()> {
        let doc = self.doc.clone();
        for executable in &doc.scripts {
            if let Executable::Script(script) = executable {
                self.run(script, Kind::Script, &[])?;
                self.global_scripts_run += 1;
            }
        }
        if self.global_scripts_run == doc.scripts.len() {
            self.baseline = self.take_baseline().map(Rc::new);
        }
        Ok(())
    }

    /// True when `exported` is the function marker of the function the global `name` holds.
    fn is_current_function(&mut self, name: &str, exported: &Value) -> DmResult<bool> {
        let Some(Value::String(source)) = exported.get(FUNCTION_KEY) else {
            return Ok(false);
        };
        let global = self.ctx.global_object();
        let current = global
            .get(JsString::from(name), &mut self.ctx)
            .map_err(|e| self.js_error(e))?;
        match current.as_object() {
            Some(f) if f.is_callable() => Ok(self.function_source(name, &f)? == *source),
            _ => Ok(false),
        }
    }

    fn import_value(&mut self, value: &Value) -> DmResult<JsValue> {
        if let Value::Object(m) = value {
            if m.len() == 1 {
                let (key, inner) = m.iter().next().expect("one entry");
                match (key.as_str(), inner) {
                    (FUNCTION_KEY, Value::String(source)) => {
                        if too_deep(source) {
                            return Err(dm_error("function nested too deeply"));
                        }
                        let text = format!("({source}\n)");
                        self.ran_code = true;
                        let result = self.ctx.eval(Source::from_bytes(&text));
                        return result.map_err(|e| self.js_error(e));
                    }
                    (XML_KEY, Value::String(xml)) => {
                        return match self.xml_value(xml)? {
                            Some(dom) => Ok(dom),
                            None => Err(dm_error("exported XML does not parse")),
                        };
                    }
                    (UNDEFINED_KEY, _) => return Ok(JsValue::undefined()),
                    (VALUE_KEY, inner) => return self.json_to_value(inner),
                    _ => {}
                }
            }
        }
        self.json_to_value(value)
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
