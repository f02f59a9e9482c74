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
//! grows by somewhat more) waits for the next collection.

use std::cell::Cell;

thread_local! {
    /// The budget this thread reserves before it builds its first context (0: none).
    static PENDING: Cell<usize> = const { Cell::new(0) };
}

/// Asks this thread to reserve `budget_bytes` before it builds its first JavaScript
/// context, so that a thread that never runs any pays nothing.
pub fn reserve_on_first_context(budget_bytes: usize) {
    PENDING.with(|p| p.set(budget_bytes));
}

/// Reserves the budget [`reserve_on_first_context`] asked for, once.
pub(super) fn reserve_pending() {
    let budget = PENDING.with(|p| p.replace(0));
    if budget > 0 {
        reserve(budget);
    }
}

/// One inert object of the reservation: 16 KB, small enough to build on the stack.
type Ballast = [u64; 2048];

/// Raises this thread's collection threshold to between `budget_bytes` and 1.43 times that
/// (never lowers it).
pub fn reserve(budget_bytes: usize) {
    let count = budget_bytes.div_ceil(std::mem::size_of::<Ballast>());
    let ballast: Vec<boa_engine::gc::Gc<Ballast>> = (0..count)
        .map(|_| boa_engine::gc::Gc::new([0; 2048]))
        .collect();
    drop(ballast);
    // Frees the ballast now; a forced collection leaves the threshold as it is.
    boa_engine::gc::force_collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use boa_engine::gc::{Gc, WeakGc};

    /// Whether an unreachable object survives `garbage` bytes of allocation after it, on a
    /// new thread that first reserves `budget` bytes (none for `None`).
    fn survives(budget: Option<usize>, garbage: usize) -> bool {
        std::thread::spawn(move || {
            if let Some(budget) = budget {
                reserve(budget);
            }
            let object = Gc::new([0u64; 4]);
            let weak = WeakGc::new(&object);
            drop(object);
            for _ in 0..garbage / std::mem::size_of::<Ballast>() {
                drop(Gc::new([0u64; 2048]));
            }
            weak.upgrade().is_some()
        })
        .join()
        .unwrap()
    }

    #[test]
    fn garbage_waits_for_the_budget() {
        // boa's own threshold (1 MB at first) collects within 8 MB of garbage.
        assert!(!survives(None, 8 << 20));
        assert!(survives(Some(64 << 20), 8 << 20));
        assert!(!survives(Some(16 << 20), 32 << 20));
    }
}
