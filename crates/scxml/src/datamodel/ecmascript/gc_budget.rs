//! How much a thread's JavaScript heap may grow between garbage collections.
//!
//! boa's collector is per thread and stops it while it traces every object of the thread
//! (all its contexts: live sessions and the warm ones). It collects once the bytes allocated
//! since the last collection pass a threshold that starts at 1 MB and only ever grows: when
//! the objects left alive fill more than 70 % of it, it becomes their size / 0.7. So on a
//! busy shard it settles near 1.4 times the live heap, and a collection, which costs about
//! as much as the live heap, comes after every 0.4 live heaps of allocation: most of the
//! thread's time goes to tracing the same idle contexts over and over.
//!
//! boa (0.22) has no setting for it, so [`reserve`] raises it the one way its policy allows:
//! it allocates `budget` bytes of inert objects and keeps them alive, so that each collection
//! their allocation sets off finds the heap more than 70 % full and raises the threshold, to
//! at least `budget` in the end; then it frees them. Collections then come every `budget`
//! bytes less the live heap: fewer, each tracing the same live heap. The price is memory: the
//! garbage of up to `budget` bytes (boa counts object headers and inline data, so the process
//! grows by somewhat more) waits for the next collection. A thread asks for it up front
//! ([`reserve_when_busy`]) and gets it once it has handed out [`BUSY_AFTER`] contexts: a
//! server's shard soon, a test's rarely.

use boa_engine::gc::{Finalize, Gc, Trace};
use std::cell::Cell;

/// How many contexts (new, spare or warm) a thread hands out before it reserves its budget.
pub(crate) const BUSY_AFTER: u32 = 64;

thread_local! {
    /// The budget this thread reserves once busy (0: none), and the contexts handed out so far.
    static PENDING: Cell<(usize, u32)> = const { Cell::new((0, 0)) };
}

/// Asks this thread to reserve `budget_bytes` once it has handed out 64 (`BUSY_AFTER`)
/// JavaScript contexts, so that a thread that runs few sessions pays nothing.
pub fn reserve_when_busy(budget_bytes: usize) {
    PENDING.with(|p| p.set((budget_bytes, 0)));
}

/// Counts a context handed out; reserves the pending budget when the thread becomes busy.
pub(super) fn note_context() {
    let (budget, handed_out) = PENDING.with(Cell::get);
    if budget == 0 {
        return;
    }
    if handed_out + 1 < BUSY_AFTER {
        PENDING.with(|p| p.set((budget, handed_out + 1)));
        return;
    }
    PENDING.with(|p| p.set((0, 0)));
    reserve(budget);
}

/// One inert object of the reservation: 16 KB, small enough to build on the stack, and never
/// written (only its size counts).
#[allow(dead_code)] // Only its size matters.
struct Ballast(std::mem::MaybeUninit<[u64; 2048]>);

impl Finalize for Ballast {}

// SAFETY: a `Ballast` holds no garbage-collected pointer, so there is nothing to trace (and
// collections that meet it cost nothing per word).
unsafe impl Trace for Ballast {
    boa_engine::gc::empty_trace!();
}

/// A new inert object (its memory is never touched).
fn ballast() -> Gc<Ballast> {
    Gc::new(Ballast(std::mem::MaybeUninit::uninit()))
}

/// Raises this thread's collection threshold to between `budget_bytes` and 1.43 times that
/// (never lowers it).
pub(crate) fn reserve(budget_bytes: usize) {
    let count = budget_bytes.div_ceil(std::mem::size_of::<Ballast>());
    let ballast: Vec<Gc<Ballast>> = (0..count).map(|_| ballast()).collect();
    drop(ballast);
    // Frees the ballast now; a forced collection leaves the threshold as it is.
    boa_engine::gc::force_collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use boa_engine::gc::WeakGc;

    /// Whether an unreachable object survives `garbage` bytes of allocation after it, on a
    /// new thread that first runs `setup`.
    fn survives(setup: impl FnOnce() + Send + 'static, garbage: usize) -> bool {
        std::thread::spawn(move || {
            setup();
            let weak = WeakGc::new(&ballast());
            for _ in 0..garbage / std::mem::size_of::<Ballast>() {
                drop(ballast());
            }
            weak.upgrade().is_some()
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_budget_is_reserved_once_the_thread_is_busy() {
        let busy_after = |contexts: u32| {
            move || {
                reserve_when_busy(64 << 20);
                for _ in 0..contexts {
                    note_context();
                }
            }
        };
        assert!(!survives(busy_after(BUSY_AFTER - 1), 8 << 20));
        assert!(survives(busy_after(BUSY_AFTER), 8 << 20));
    }

    #[test]
    fn garbage_waits_for_the_budget() {
        // boa's own threshold (1 MB at first) collects within 8 MB of garbage.
        assert!(!survives(|| {}, 8 << 20));
        assert!(survives(|| reserve(64 << 20), 8 << 20));
        assert!(!survives(|| reserve(16 << 20), 32 << 20));
    }
}
