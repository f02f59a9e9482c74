//! Virtual-queue arithmetic: ordering, recent handling times and the estimated wait time.
//!
//! URS counts every waiting request in a virtual queue (`_urs_virtual_queue`) and reports its
//! position and an estimated wait time (EWT) to `check-queue-position`. Requests are ordered by
//! priority (higher first) then arrival (FIFO). The ETA follows the reference's simulated
//! router: `position × average handling time / agents working on the target`, where the
//! average comes from the last [`HANDLING_WINDOW`] finished interactions of the virtual queue
//! (or of all queues when this one has none yet) and "working" means logged in and not
//! "not ready" (ready, reserved or busy). With no history or no working agent the ETA is
//! unknown (`"n/a"`). Ready agents are counted as working capacity rather than alone, because
//! a request that is still waiting has, by construction, no free agent it could take.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// How many recent handling times are averaged.
pub(crate) const HANDLING_WINDOW: usize = 20;

/// The sort key of a waiting request: priority descending, then arrival.
pub(crate) fn queue_key(priority: i64, arrival: u64) -> (Reverse<i64>, u64) {
    (Reverse(priority), arrival)
}

/// Recent handling times, per virtual queue and overall.
#[derive(Debug, Clone, Default)]
pub(crate) struct HandlingStats {
    per_queue: HashMap<String, VecDeque<Duration>>,
    all: VecDeque<Duration>,
}

impl HandlingStats {
    pub(crate) fn record(&mut self, virtual_queue: &str, handling: Duration) {
        push_bounded(
            self.per_queue.entry(virtual_queue.to_string()).or_default(),
            handling,
        );
        push_bounded(&mut self.all, handling);
    }

    /// The average handling time for a virtual queue (falling back to all queues).
    pub(crate) fn average(&self, virtual_queue: &str) -> Option<Duration> {
        let recent = self
            .per_queue
            .get(virtual_queue)
            .filter(|v| !v.is_empty())
            .unwrap_or(&self.all);
        if recent.is_empty() {
            return None;
        }
        Some(recent.iter().sum::<Duration>() / recent.len() as u32)
    }
}

fn push_bounded(list: &mut VecDeque<Duration>, value: Duration) {
    if list.len() == HANDLING_WINDOW {
        list.pop_front();
    }
    list.push_back(value);
}

/// `ceil(position × aht / agents)` in seconds, or `None` when it cannot be estimated.
pub(crate) fn estimate_eta(position: usize, aht: Option<Duration>, agents: usize) -> Option<u64> {
    let aht = aht?;
    if agents == 0 || position == 0 {
        return None;
    }
    let total = aht.as_secs_f64() * position as f64 / agents as f64;
    Some(total.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_recent_handling_times() {
        let mut s = HandlingStats::default();
        assert_eq!(s.average("vq"), None);
        s.record("other", Duration::from_secs(100));
        assert_eq!(s.average("vq"), Some(Duration::from_secs(100)));
        s.record("vq", Duration::from_secs(10));
        s.record("vq", Duration::from_secs(30));
        assert_eq!(s.average("vq"), Some(Duration::from_secs(20)));
        for _ in 0..HANDLING_WINDOW {
            s.record("vq", Duration::from_secs(4));
        }
        assert_eq!(s.average("vq"), Some(Duration::from_secs(4)));
    }

    #[test]
    fn eta_formula() {
        let aht = Some(Duration::from_secs(60));
        assert_eq!(estimate_eta(1, aht, 2), Some(30));
        assert_eq!(estimate_eta(3, aht, 2), Some(90));
        assert_eq!(estimate_eta(1, Some(Duration::from_secs(10)), 3), Some(4));
        assert_eq!(estimate_eta(1, None, 2), None);
        assert_eq!(estimate_eta(1, aht, 0), None);
    }

    #[test]
    fn ordering_key() {
        let mut keys = [
            queue_key(0, 1),
            queue_key(5, 3),
            queue_key(0, 0),
            queue_key(5, 2),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                queue_key(5, 2),
                queue_key(5, 3),
                queue_key(0, 0),
                queue_key(0, 1)
            ]
        );
    }
}
