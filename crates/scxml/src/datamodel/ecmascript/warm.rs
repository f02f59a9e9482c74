//! Contexts kept warm for the next session of the same document, when that is provably safe.
//!
//! A document with a large top-level `<script>` pays for it in every session: boa parses and
//! compiles the script anew in each context (and every expression the session evaluates), and
//! cannot share compiled code between contexts. So when a session of such a document ends,
//! its context is kept, with its compiled script and expressions, and the next session of the
//! same document (on the same thread) starts from it instead of from a new context: its
//! top-level scripts are not run again, their functions are already there.
//!
//! That is only correct if the context is exactly what a new context would be once those
//! scripts have run. A [`Baseline`] is taken when they have just run (before any event):
//! the global names they declared, and a fingerprint of every object reachable from the
//! global object other than through the session's variables: each object's identity,
//! prototype and extensibility, and each of its own properties' key, attributes and value
//! (objects by identity, primitives by value). When the session ends, its variables are
//! deleted, its system variables unbound, and the fingerprint is taken again: a session that
//! changed anything else (a builtin or prototype patched, a script function replaced or given
//! a property, an object frozen, a global `var` or `let` declared) no longer matches, and its
//! context is dropped. Nor is a context kept when anything else could carry state over: code
//! that may queue promise jobs, a global lexical declaration, an XML DOM helper.
//!
//! The fingerprint sees properties, not what hides behind them: the variables a closure
//! closes over, the entries of a `Map`. So a baseline is only taken for documents whose
//! top-level scripts declare functions and nothing else ([`declares_functions_only`]):
//! such functions close over the global scope only, and nothing else exists at the baseline
//! that a session could change unseen (what a session adds to a builtin or to a script's
//! function shows as a new property).
//!
//! The datamodel also checks, when it takes the baseline, that no `<data>` expression names
//! a script's global (in a new context the data are initialised before the scripts run, so
//! such an expression would not see it) and that no data variable is one of them.
//!
//! Warm contexts are kept per thread (boa contexts are not `Send`), up to
//! [`MAX_WARM_CONTEXTS`] and for [`MAX_WARM_IDLE`] at most, with the document they ran: they
//! serve sessions of that document, or of one parsed from the same text into the same model.
//! Only documents whose sessions asked the thread for a context more than once get theirs
//! kept. Like [`spare`](super::spare) contexts they are never dropped by the thread's exit: a
//! thread that is done with sessions drops them first
//! ([`release_thread_contexts`](super::release_thread_contexts)).

use super::{Compiled, Helpers, Simple};
use crate::model::Document;
use boa_engine::ast::scope::Scope;
use boa_engine::ast::{Declaration, Expression, Statement, StatementListItem};
use boa_engine::interner::Interner;
use boa_engine::parser::{Parser, Source};
use boa_engine::property::PropertyKey;
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Warm contexts one thread keeps at most (over all documents): enough for the sessions
/// that end in one burst (a sweep hibernates every session parked since the last one).
const MAX_WARM_CONTEXTS: usize = 256;
/// A warm context nobody took for this long is dropped (see [`trim`]).
const MAX_WARM_IDLE: Duration = Duration::from_secs(30);

/// What a context looked like right after its document's top-level scripts ran.
#[derive(Debug)]
pub(super) struct Baseline {
    /// Global names the scripts declared (their functions and variables).
    pub script_globals: HashSet<JsString>,
    /// The functions among them, as the scripts created them: a snapshot names these rather
    /// than holding their text while they are unchanged.
    pub functions: HashMap<String, JsObject>,
    /// [`fingerprint`] of the context then.
    pub print: u64,
}

/// A context (and what was compiled in it) waiting for the next session of its document.
pub(super) struct WarmContext {
    pub ctx: Context,
    pub cache: Vec<Option<Compiled>>,
    pub simple: Vec<Option<Option<Simple>>>,
    pub helpers: Helpers,
    pub function_sources: HashMap<String, (JsObject, String)>,
    pub baseline: Rc<Baseline>,
}

/// Warm contexts with their document and when they were given back, oldest first.
type Pool = Vec<(Arc<Document>, Instant, ManuallyDrop<WarmContext>)>;

/// How many sessions asked this thread for a context, by [`demand_key`].
type Demand = HashMap<u64, u32>;

/// Documents this thread remembers the demand of, at most.
const MAX_DEMAND_ENTRIES: usize = 1024;

thread_local! {
    static WARM_CONTEXTS: RefCell<Pool> = const { RefCell::new(Vec::new()) };
    static DEMAND: RefCell<Demand> = RefCell::new(HashMap::new());
}

/// A key telling documents apart for [`DEMAND`], cheaply: a collision only keeps a context
/// that may not be taken (and is trimmed in time).
fn demand_key(doc: &Document) -> u64 {
    let mut hasher = PrintHasher::default();
    doc.name.hash(&mut hasher);
    doc.base_url.as_ref().map(|u| u.as_str()).hash(&mut hasher);
    doc.source.as_ref().map(|s| s.len()).hash(&mut hasher);
    doc.expr_count.hash(&mut hasher);
    doc.states.len().hash(&mut hasher);
    hasher.finish()
}

/// Whether a warm context of `kept` may serve a session of `doc`: the same document, or one
/// parsed from the same text into the same model (the compiled expressions are indexed by
/// the model's expression ids, and a script loaded by `src` may have changed).
fn same_document(kept: &Arc<Document>, doc: &Arc<Document>) -> bool {
    Arc::ptr_eq(kept, doc)
        || (kept.source.is_some() && kept.source == doc.source && **kept == **doc)
}

/// Counts a session of `doc` asking for a context.
fn count_demand(doc: &Document) {
    let _ = DEMAND.try_with(|demand| {
        let mut demand = demand.borrow_mut();
        if demand.len() >= MAX_DEMAND_ENTRIES {
            demand.clear();
        }
        let n = demand.entry(demand_key(doc)).or_default();
        *n = n.saturating_add(1);
    });
}

/// Whether sessions of `doc` asked this thread for a context more than once: only then is a
/// context kept for the next one (a document run once, like a conformance test, would only
/// fill the pool). `None` while the thread exits.
fn in_demand(doc: &Document) -> Option<bool> {
    DEMAND
        .try_with(|demand| {
            demand
                .borrow()
                .get(&demand_key(doc))
                .is_some_and(|n| *n >= 2)
        })
        .ok()
}

/// Whether a context of `doc` given back now would be kept (so worth resetting).
pub(super) fn wanted(doc: &Arc<Document>) -> bool {
    in_demand(doc) == Some(true)
}

/// A warm context of `doc`, if this thread keeps one.
pub(super) fn take(doc: &Arc<Document>) -> Option<WarmContext> {
    count_demand(doc);
    WARM_CONTEXTS
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let at = pool.iter().rposition(|(d, _, _)| same_document(d, doc))?;
            Some(ManuallyDrop::into_inner(pool.remove(at).2))
        })
        .ok()
        .flatten()
}

/// Keeps a reset context for the next session of `doc`; the oldest one kept goes when there
/// are too many.
pub(super) fn give_back(doc: Arc<Document>, warm: WarmContext) {
    match in_demand(&doc) {
        Some(true) => {}
        Some(false) => return drop(warm),
        // The thread is exiting: leaked (see the module doc).
        None => return std::mem::forget(warm),
    }
    let mut warm = Some((doc, Instant::now(), ManuallyDrop::new(warm)));
    let evicted = WARM_CONTEXTS.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let evicted = (pool.len() >= MAX_WARM_CONTEXTS).then(|| pool.remove(0));
        pool.extend(warm.take());
        evicted
    });
    // The evicted one is dropped now. When the thread is exiting, `warm` is still here and
    // is leaked (see the module doc).
    if let Ok(Some((_, _, evicted))) = evicted {
        drop(ManuallyDrop::into_inner(evicted));
    }
}

/// Drops the warm contexts of this thread that waited longer than [`MAX_WARM_IDLE`]: after a
/// burst, or once a document's sessions stop coming.
pub(crate) fn trim() {
    trim_idle_for(MAX_WARM_IDLE);
}

fn trim_idle_for(idle: Duration) {
    let stale: Pool = WARM_CONTEXTS
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let fresh = pool.partition_point(|(_, since, _)| since.elapsed() >= idle);
            pool.drain(..fresh).collect()
        })
        .unwrap_or_default();
    for (_, _, warm) in stale {
        drop(ManuallyDrop::into_inner(warm));
    }
}

/// How many warm contexts this thread keeps now.
#[cfg(test)]
pub(super) fn count() -> usize {
    WARM_CONTEXTS.with(|pool| pool.borrow().len())
}

/// Drops every warm context of this thread.
pub(super) fn clear() {
    trim_idle_for(Duration::ZERO);
}

thread_local! {
    /// [`declares_functions_only`] of the script texts this thread checked, by their hash.
    static CHECKED_SCRIPTS: RefCell<HashMap<u64, bool>> = RefCell::new(HashMap::new());
}

/// Whether a top-level script declares plain functions and nothing else (literal
/// statements such as `'use strict'` aside). Only then can the fingerprint see everything
/// the script leaves behind: such functions close over the global scope alone, whereas a
/// closure made by other code (`var next = (function () { var n = 0; ... })()`) or an
/// object with internal state (`var seen = new Map()`) would carry a session's changes to
/// the next session unseen.
pub(super) fn declares_functions_only(source: &str) -> bool {
    let mut hasher = PrintHasher::default();
    source.hash(&mut hasher);
    let key = hasher.finish();
    if let Ok(Some(known)) = CHECKED_SCRIPTS.try_with(|c| c.borrow().get(&key).copied()) {
        return known;
    }
    let mut interner = Interner::default();
    let parsed =
        Parser::new(Source::from_bytes(source)).parse_script(&Scope::new_global(), &mut interner);
    let only_functions = parsed.is_ok_and(|script| {
        script.statements().iter().all(|item| match item {
            StatementListItem::Declaration(d) => matches!(**d, Declaration::FunctionDeclaration(_)),
            StatementListItem::Statement(s) => matches!(
                **s,
                Statement::Empty | Statement::Expression(Expression::Literal(_))
            ),
        })
    });
    let _ = CHECKED_SCRIPTS.try_with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_DEMAND_ENTRIES {
            c.clear();
        }
        c.insert(key, only_functions);
    });
    only_functions
}

/// A fast, non-cryptographic hasher (FxHash's mixing) for [`fingerprint`].
#[derive(Default)]
struct PrintHasher(u64);

impl Hasher for PrintHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    // Strings hash one code unit at a time: one mixing step each, not a byte buffer.
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A fingerprint of everything reachable from the global object, except the global
/// properties `skip` names (the session's variables): walked depth first in property order,
/// each object's identity, prototype and extensibility, and each own property's key,
/// attributes and value or accessors. Two fingerprints of one context are equal exactly when
/// (but for hash collisions) nothing reachable changed in between.
pub(super) fn fingerprint(ctx: &mut Context, skip: impl Fn(&JsString) -> bool) -> JsResult<u64> {
    WALK.with(|walk| {
        let mut walk = walk.borrow_mut();
        let Walk { seen, stack } = &mut *walk;
        seen.clear();
        stack.clear();
        let result = fingerprint_with(ctx, skip, seen, stack);
        // Handles into the context are not kept past the walk.
        stack.clear();
        result
    })
}

/// The walk's scratch space, reused by the walks of a thread.
#[derive(Default)]
struct Walk {
    /// Addresses of the objects visited.
    seen: HashSet<usize, BuildHasherDefault<PrintHasher>>,
    stack: Vec<JsObject>,
}

thread_local! {
    static WALK: RefCell<Walk> = RefCell::new(Walk::default());
}

/// Intrinsic objects no property of the global object leads to, but that code can reach
/// (an iterator's prototype, a generator function's): roots of the walk besides the global
/// object.
fn hidden_intrinsics(ctx: &Context) -> Vec<JsObject> {
    let intrinsics = ctx.intrinsics();
    let objects = intrinsics.objects();
    let iterators = objects.iterator_prototypes();
    let constructors = intrinsics.constructors();
    let mut roots = vec![
        objects.throw_type_error().into(),
        objects.generator(),
        objects.async_generator(),
        iterators.async_iterator(),
        iterators.async_from_sync_iterator(),
        iterators.array(),
        iterators.set(),
        iterators.string(),
        iterators.regexp_string(),
        iterators.map(),
        iterators.iterator_helper(),
        iterators.wrap_for_valid_iterator(),
    ];
    for hidden in [
        constructors.generator_function(),
        constructors.async_generator_function(),
        constructors.async_function(),
        constructors.typed_array(),
    ] {
        roots.push(hidden.constructor());
        roots.push(hidden.prototype());
    }
    roots
}

/// An object's identity, as long as it lives.
fn address_of(object: &JsObject) -> usize {
    std::ptr::from_ref(object.as_ref()).cast::<u8>() as usize
}

fn fingerprint_with(
    ctx: &mut Context,
    skip: impl Fn(&JsString) -> bool,
    seen: &mut HashSet<usize, BuildHasherDefault<PrintHasher>>,
    stack: &mut Vec<JsObject>,
) -> JsResult<u64> {
    let global = ctx.global_object();
    let mut hasher = PrintHasher::default();
    // An object is pushed once, when first met (most values are shared builtins, such as
    // `Function.prototype`, the prototype of every function).
    let mut visit = |object: &JsObject, stack: &mut Vec<JsObject>| {
        let address = address_of(object);
        if seen.insert(address) {
            stack.push(object.clone());
        }
        address
    };
    visit(&global, stack);
    for root in hidden_intrinsics(ctx) {
        hasher.write_usize(visit(&root, stack));
    }
    while let Some(object) = stack.pop() {
        hasher.write_usize(address_of(&object));
        let prototype = object.prototype();
        hasher.write_usize(prototype.as_ref().map_or(0, |p| visit(p, stack)));
        hasher.write_u8(u8::from(object.is_extensible(ctx)?));
        let is_global = JsObject::equals(&object, &global);
        let keys = object.own_property_keys(ctx)?;
        let borrowed = object.borrow();
        let properties = borrowed.properties();
        for key in keys {
            if is_global && matches!(&key, PropertyKey::String(name) if skip(name)) {
                continue;
            }
            key.hash(&mut hasher);
            let Some(descriptor) = properties.get(&key) else {
                // A property only an exotic object's internal methods know.
                hasher.write_u8(0);
                continue;
            };
            let attribute = |a: Option<bool>| a.map_or(2u8, u8::from);
            hasher.write_u8(
                attribute(descriptor.enumerable())
                    | attribute(descriptor.configurable()) << 2
                    | attribute(descriptor.writable()) << 4,
            );
            for part in [descriptor.value(), descriptor.get(), descriptor.set()] {
                match part.map(JsValue::as_object) {
                    Some(Some(object)) => {
                        hasher.write_usize(visit(&object, stack));
                    }
                    Some(None) => part.hash(&mut hasher),
                    None => hasher.write_u8(3),
                }
            }
        }
    }
    Ok(hasher.finish())
}
