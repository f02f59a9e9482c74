//! Contexts handed from finished sessions to new ones, when that is provably safe.
//!
//! Building a boa [`Context`] (every builtin object of a realm) is the largest single cost of
//! a session. A session whose datamodel never ran compiled code (every expression it
//! evaluated was [`simple`](super::simple), it ran no `<script>`, imported no function and
//! built no XML DOM) cannot have changed anything but the global object's variables: no user
//! code ran, the only code that did is the datamodel's own use of builtins that keep no state
//! (`Object.keys`, `Function.prototype.toString`, conversions of plain values). Such a
//! context, with its session's variables deleted and its system variables unbound
//! ([`EcmaScriptDatamodel`](super::EcmaScriptDatamodel)'s `Drop`), is as good as a new one:
//! same builtins, same global object properties in the same order, same host data once the
//! next session binds its own. Any other context is dropped.
//!
//! Spare contexts are kept per thread (boa contexts are not `Send`, and every session of a
//! shard runs on its thread): as many as the sessions a burst leaves ([`MAX_SPARE_CONTEXTS`]),
//! each for [`MAX_SPARE_IDLE`] at most (see [`trim`]). They are never dropped when the thread
//! exits: the order in which thread-locals are destroyed is unspecified, and boa's garbage
//! collector (a thread-local too) may already have freed their objects by then. What is
//! left of them then (a few small allocations) is leaked.

use boa_engine::Context;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

/// Spare contexts one thread keeps at most: enough for the short sessions a shard runs at
/// once under load (each context is a few hundred KB).
const MAX_SPARE_CONTEXTS: usize = 64;
/// How long a spare context may wait for a session.
const MAX_SPARE_IDLE: Duration = Duration::from_secs(30);

thread_local! {
    /// Oldest first, each with when it was given back.
    static SPARE_CONTEXTS: RefCell<Vec<(Instant, ManuallyDrop<Context>)>> = const { RefCell::new(Vec::new()) };
}

/// A context given back by a finished session, reset to the state of a new one.
pub(super) fn take() -> Option<Context> {
    SPARE_CONTEXTS
        .try_with(|spare| {
            spare
                .borrow_mut()
                .pop()
                .map(|(_, ctx)| ManuallyDrop::into_inner(ctx))
        })
        .ok()
        .flatten()
}

/// Keeps a reset context for the next session of this thread (or drops it when there are
/// enough).
pub(super) fn give_back(ctx: Context) {
    let mut ctx = Some(ManuallyDrop::new(ctx));
    let alive = SPARE_CONTEXTS
        .try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < MAX_SPARE_CONTEXTS {
                spare.extend(ctx.take().map(|ctx| (Instant::now(), ctx)));
            }
        })
        .is_ok();
    // Not kept: dropped now, unless the thread is exiting (then leaked, see above).
    if let (true, Some(ctx)) = (alive, ctx) {
        drop(ManuallyDrop::into_inner(ctx));
    }
}

/// Drops the spare contexts of this thread that waited longer than [`MAX_SPARE_IDLE`]
/// (after a burst).
pub(super) fn trim() {
    trim_idle_for(MAX_SPARE_IDLE);
}

fn trim_idle_for(idle: Duration) {
    let stale: Vec<(Instant, ManuallyDrop<Context>)> = SPARE_CONTEXTS
        .try_with(|spare| {
            let mut spare = spare.borrow_mut();
            let fresh = spare.partition_point(|(since, _)| since.elapsed() >= idle);
            spare.drain(..fresh).collect()
        })
        .unwrap_or_default();
    for (_, ctx) in stale {
        drop(ManuallyDrop::into_inner(ctx));
    }
}

/// Drops every spare context of this thread.
pub(super) fn clear() {
    trim_idle_for(Duration::ZERO);
}

/// How many spare contexts this thread keeps now.
#[cfg(test)]
pub(super) fn count() -> usize {
    SPARE_CONTEXTS.with(|spare| spare.borrow().len())
}
