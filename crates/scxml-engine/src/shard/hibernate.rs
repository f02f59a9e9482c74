//! Hibernation: which sessions at rest give up their interpreter (and JavaScript context)
//! now, decided by a pure function of the policy and what the sweep sees ([`to_hibernate`]),
//! and the sweep that carries the decision out.

use super::*;
use crate::HibernationPolicy;

/// A live session at rest (running, not blocked, nothing in flight, nothing to commit), as
/// the hibernation policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AtRest<'a> {
    pub(super) id: &'a str,
    /// When it last processed an event.
    pub(super) last_active: Instant,
    /// It runs no invocation.
    pub(super) no_invocations: bool,
    /// When its next delayed send is due.
    pub(super) next_due: Option<Instant>,
}

/// Which sessions hibernate now: every idle one (idle past `idle_after`), every parked one
/// (idle past `parked_after`, no invocation, no delayed send due within that time), and,
/// while more than `max_live_per_shard` sessions are live (`live`), the least recently used
/// of the others until the shard is back under the cap. Idle and parked ones come first, in
/// the order they went quiet.
pub(super) fn to_hibernate<'a>(
    policy: &HibernationPolicy,
    now: Instant,
    live: usize,
    at_rest: impl IntoIterator<Item = AtRest<'a>>,
) -> Vec<&'a str> {
    let mut over_cap = live.saturating_sub(policy.max_live_per_shard);
    let mut candidates: Vec<(bool, Instant, &str)> = Vec::new();
    for s in at_rest {
        let idle_for = now.saturating_duration_since(s.last_active);
        let idle = policy.idle_after.is_some_and(|after| idle_for >= after);
        let parked = policy.parked_after.is_some_and(|after| {
            idle_for >= after && s.no_invocations && s.next_due.is_none_or(|due| due > now + after)
        });
        // Past the cap every session at rest is a candidate, least recently used first.
        if idle || parked || over_cap > 0 {
            candidates.push((!(idle || parked), s.last_active, s.id));
        }
    }
    candidates.sort_unstable();
    let mut leaving = Vec::new();
    for (only_for_the_cap, _, id) in candidates {
        if only_for_the_cap && over_cap == 0 {
            break;
        }
        over_cap = over_cap.saturating_sub(1);
        leaving.push(id);
    }
    leaving
}

impl Shard {
    /// Hibernates idle sessions at rest, and the least recently used ones past the cap.
    pub(super) fn sweep(&mut self) {
        self.next_sweep = Instant::now() + SWEEP_INTERVAL;
        self.document_keys
            .retain(|_, (doc, _)| doc.strong_count() > 0);
        scxml::datamodel::ecmascript::trim_idle_contexts();
        let now = Instant::now();
        let at_rest = self.live.iter().filter_map(|id| {
            let s = self.sessions.get(id)?;
            let resting = !s.hibernated
                && s.interpreter.is_some()
                && s.running
                && s.blocked.is_none()
                && s.outbox.is_empty()
                && !s.http_in_flight
                && !self.dirty.contains(id);
            resting.then(|| AtRest {
                id,
                last_active: s.last_active,
                no_invocations: s.links.has_no_children(),
                next_due: self.timers.next_due_of(id),
            })
        });
        let mut leaving: Vec<String> = to_hibernate(
            &self.router.config.hibernation,
            now,
            self.live.len(),
            at_rest,
        )
        .into_iter()
        .map(str::to_string)
        .collect();
        if !self.save_unsaved(&mut leaving) {
            return;
        }
        for id in leaving {
            if let Some(slot) = self.sessions.get_mut(&id) {
                slot.interpreter = None;
                slot.hibernated = true;
                self.live.remove(&id);
                self.router.stats.hibernated.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.keep_final_views();
    }

    /// Halted top-level sessions whose last records are written give up their interpreter
    /// (and JavaScript context) for their last view: they never run again, and a flow that
    /// keeps its completed sessions for minutes would otherwise keep a context for each.
    fn keep_final_views(&mut self) {
        for id in std::mem::take(&mut self.finished) {
            let Some(slot) = self.sessions.get(&id) else {
                continue;
            };
            if slot.running || slot.interpreter.is_none() {
                continue;
            }
            if !slot.outbox.is_empty() || slot.http_in_flight || self.dirty.contains(&id) {
                self.finished.push(id);
                continue;
            }
            if let Ok(view) = self.view(&id) {
                if let Some(slot) = self.sessions.get_mut(&id) {
                    slot.final_view = Some(Box::new(FinalView::new(view)));
                    slot.interpreter = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(idle: Option<u64>, parked: Option<u64>, cap: usize) -> HibernationPolicy {
        HibernationPolicy {
            idle_after: idle.map(Duration::from_secs),
            parked_after: parked.map(Duration::from_secs),
            max_live_per_shard: cap,
        }
    }

    fn at_rest(id: &str, idle_secs: u64, now: Instant) -> AtRest<'_> {
        AtRest {
            id,
            last_active: now - Duration::from_secs(idle_secs),
            no_invocations: true,
            next_due: None,
        }
    }

    #[test]
    fn idle_sessions_go_and_busy_ones_stay() {
        let now = Instant::now() + Duration::from_secs(1000);
        let p = policy(Some(60), None, 100);
        let sessions = [at_rest("old", 61, now), at_rest("recent", 10, now)];
        assert_eq!(to_hibernate(&p, now, 2, sessions), ["old"]);
        let never = policy(None, None, 100);
        assert!(to_hibernate(&never, now, 1, [at_rest("old", 999, now)]).is_empty());
    }

    #[test]
    fn a_parked_session_goes_sooner_unless_it_invokes_or_a_send_is_due_soon() {
        let now = Instant::now() + Duration::from_secs(1000);
        let p = policy(Some(60), Some(5), 100);
        let parked = at_rest("parked", 6, now);
        let invoking = AtRest {
            no_invocations: false,
            ..at_rest("invoking", 6, now)
        };
        let timer_soon = AtRest {
            next_due: Some(now + Duration::from_secs(2)),
            ..at_rest("timer_soon", 6, now)
        };
        let timer_later = AtRest {
            next_due: Some(now + Duration::from_secs(600)),
            ..at_rest("timer_later", 6, now)
        };
        let mut chosen = to_hibernate(&p, now, 4, [parked, invoking, timer_soon, timer_later]);
        chosen.sort_unstable();
        assert_eq!(chosen, ["parked", "timer_later"]);
    }

    #[test]
    fn past_the_cap_the_least_recently_used_go_until_the_shard_is_under_it() {
        let now = Instant::now() + Duration::from_secs(1000);
        let p = policy(None, None, 2);
        let sessions = [
            at_rest("b", 20, now),
            at_rest("a", 30, now),
            at_rest("c", 10, now),
            at_rest("d", 5, now),
        ];
        // Four live, a cap of two: the two least recently used leave.
        assert_eq!(to_hibernate(&p, now, 4, sessions.clone()), ["a", "b"]);
        assert!(to_hibernate(&p, now, 2, sessions).is_empty());
        // Idle ones count towards the cap and go first.
        let p = policy(Some(8), None, 3);
        let sessions = [
            at_rest("x", 9, now),
            at_rest("y", 100, now),
            at_rest("z", 1, now),
        ];
        assert_eq!(to_hibernate(&p, now, 5, sessions), ["y", "x"]);
    }
}
