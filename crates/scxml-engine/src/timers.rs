//! Delayed `<send>`s of one shard, ordered by due time.
//!
//! The queue is a `BTreeMap<(Instant, seq), Timer>` so the shard sleeps until exactly the next
//! due time, and an index from session to its `sendid -> key` entries so `<cancel>`, the end of
//! a session and persisting a session's pending sends touch only that session's timers (a
//! shard may hold a million sessions, each waiting on an hour-long send).

use scxml::interpreter::Event;
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

/// One delayed send.
#[derive(Debug, Clone)]
pub(crate) struct Timer {
    /// The sending session: `<cancel>` and session removal find timers by it.
    pub from: String,
    pub sendid: String,
    /// The receiving session's id (the sender itself, its parent, a child, another session),
    /// or with `basichttp` the URL the event is posted to.
    pub to: String,
    pub event: Event,
    /// A Basic HTTP send: posted to `to` when due, in order with the session's other sends.
    pub basichttp: bool,
}

type Key = (Instant, u64);

#[derive(Default)]
pub(crate) struct Timers {
    queue: BTreeMap<Key, Timer>,
    by_session: HashMap<String, HashMap<String, Key>>,
    seq: u64,
}

impl Timers {
    pub(crate) fn insert(&mut self, due: Instant, timer: Timer) {
        self.seq += 1;
        let key = (due, self.seq);
        let sends = self.by_session.entry(timer.from.clone()).or_default();
        // A send id reused while the first send still waits: `<cancel>` reaches the newest;
        // the older one stays scheduled but can no longer be named.
        sends.insert(timer.sendid.clone(), key);
        self.queue.insert(key, timer);
    }

    /// Drops the delayed send `sendid` of session `from`; true when there was one.
    pub(crate) fn cancel(&mut self, from: &str, sendid: &str) -> bool {
        let Some(sends) = self.by_session.get_mut(from) else {
            return false;
        };
        let key = sends.remove(sendid);
        if sends.is_empty() {
            self.by_session.remove(from);
        }
        key.is_some_and(|k| self.queue.remove(&k).is_some())
    }

    /// Drops every timer a session set (it ended or was cancelled).
    pub(crate) fn remove_session(&mut self, from: &str) {
        if let Some(sends) = self.by_session.remove(from) {
            for key in sends.into_values() {
                self.queue.remove(&key);
            }
        }
    }

    /// When the next timer is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.queue.keys().next().map(|(due, _)| *due)
    }

    /// Removes and returns every timer due at or before `now`, in due order.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut out = Vec::new();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = *entry.key();
            let timer = entry.remove();
            if let Some(sends) = self.by_session.get_mut(&timer.from) {
                if sends.get(&timer.sendid) == Some(&key) {
                    sends.remove(&timer.sendid);
                }
                if sends.is_empty() {
                    self.by_session.remove(&timer.from);
                }
            }
            out.push(timer);
        }
        out
    }

    /// When the next delayed send of one session is due (no allocation: the sweep asks this
    /// of every live session).
    pub(crate) fn next_due_of(&self, from: &str) -> Option<Instant> {
        self.by_session
            .get(from)?
            .values()
            .map(|(due, _)| *due)
            .min()
    }

    /// The pending sends of one session, with their due times.
    pub(crate) fn pending_of(&self, from: &str) -> Vec<(&Timer, Instant)> {
        let Some(sends) = self.by_session.get(from) else {
            return Vec::new();
        };
        let mut out: Vec<(&Timer, Instant)> = sends
            .values()
            .filter_map(|k| self.queue.get(k).map(|t| (t, k.0)))
            .collect();
        out.sort_by_key(|(_, due)| *due);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn timer(from: &str, sendid: &str) -> Timer {
        Timer {
            from: from.into(),
            sendid: sendid.into(),
            to: from.into(),
            event: Event::external(sendid),
            basichttp: false,
        }
    }

    #[test]
    fn fires_in_due_order_and_cancels_by_send_id() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.insert(now + Duration::from_secs(2), timer("a", "late"));
        t.insert(now + Duration::from_secs(1), timer("a", "early"));
        t.insert(now + Duration::from_secs(1), timer("b", "other"));
        assert_eq!(t.next_due(), Some(now + Duration::from_secs(1)));
        assert_eq!(t.pending_of("a").len(), 2);
        assert_eq!(t.next_due_of("a"), Some(now + Duration::from_secs(1)));
        assert_eq!(t.next_due_of("nobody"), None);
        assert!(t.cancel("b", "other"));
        assert!(!t.cancel("b", "other"));
        let fired = t.pop_due(now + Duration::from_secs(1));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].sendid, "early");
        assert_eq!(t.pending_of("a").len(), 1);
        t.remove_session("a");
        assert_eq!(t.next_due(), None);
        assert!(t.by_session.is_empty());
    }
}
