//! One Bayeux client session: its subscriptions, its queue of undelivered messages, and the
//! long poll (`/meta/connect`) that waits for them.
//!
//! Waiting costs nothing while idle: a pending connect sleeps on a [`Notify`] until a message
//! is queued, the client disconnects, a newer connect supersedes it, or the timeout passes.

use super::bayeux::{self, Delivery};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
struct ClientState {
    gms_user: Option<String>,
    subscriptions: BTreeSet<String>,
    queue: VecDeque<Delivery>,
    last_seen: Instant,
    /// Connects waiting now.
    polls: usize,
    /// Bumped by every connect; a waiting connect with an older number returns at once.
    poll_seq: u64,
    closed: bool,
}

/// How a long poll ended.
#[derive(Debug, PartialEq)]
pub(crate) enum PollEnd {
    /// Messages arrived, the timeout passed or a newer connect took over: here are the
    /// queued messages (maybe none).
    Messages(Vec<Delivery>),
    /// The client disconnected or expired while waiting.
    Closed,
}

/// A Bayeux client known to the server.
#[derive(Debug)]
pub(crate) struct CometClient {
    id: String,
    state: Mutex<ClientState>,
    notify: Notify,
}

impl CometClient {
    /// A fresh session with the id its handshake was given, bound to the device `gms_user`
    /// when the handshake named one; no subscriptions, nothing queued.
    pub(crate) fn new(id: String, gms_user: Option<String>) -> CometClient {
        CometClient {
            id,
            state: Mutex::new(ClientState {
                gms_user,
                subscriptions: BTreeSet::new(),
                queue: VecDeque::new(),
                last_seen: Instant::now(),
                polls: 0,
                poll_seq: 0,
                closed: false,
            }),
            notify: Notify::new(),
        }
    }

    /// The `clientId` the client sends with every message.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The `gms_user` the client is bound to.
    pub(crate) fn gms_user(&self) -> Option<String> {
        self.lock().gms_user.clone()
    }

    /// Binds the client to a `gms_user` if it has none yet.
    pub(crate) fn bind_user(&self, gms_user: &str) {
        let mut state = self.lock();
        if state.gms_user.is_none() {
            state.gms_user = Some(gms_user.to_string());
        }
    }

    /// Records activity (any message from the client).
    pub(crate) fn touch(&self) {
        self.lock().last_seen = Instant::now();
    }

    /// Adds a channel or pattern (`/a/*`, `/a/**`) to the client's subscriptions.
    pub(crate) fn subscribe(&self, pattern: &str) {
        self.lock().subscriptions.insert(pattern.to_string());
    }

    /// Removes a channel or pattern, as subscribed, from the client's subscriptions.
    pub(crate) fn unsubscribe(&self, pattern: &str) {
        self.lock().subscriptions.remove(pattern);
    }

    /// True when one of the client's subscriptions covers the channel.
    pub(crate) fn is_subscribed(&self, channel: &str) -> bool {
        self.lock()
            .subscriptions
            .iter()
            .any(|p| bayeux::channel_matches(p, channel))
    }

    /// Queues a message (dropping the oldest beyond `max`) and wakes a waiting connect.
    /// Returns false when the client is closed.
    pub(crate) fn enqueue(&self, message: Delivery, max: usize) -> bool {
        {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            state.queue.push_back(message);
            while state.queue.len() > max.max(1) {
                state.queue.pop_front();
            }
        }
        self.notify.notify_waiters();
        true
    }

    /// Takes every queued message.
    pub(crate) fn drain(&self) -> Vec<Delivery> {
        self.lock().queue.drain(..).collect()
    }

    /// Closes the session and wakes a waiting connect.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// True once the client disconnected or was forgotten; it gets no more messages.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// True when no connect is waiting and the client was last seen more than `expiry` ago.
    pub(crate) fn expired(&self, now: Instant, expiry: Duration) -> bool {
        let state = self.lock();
        state.closed || (state.polls == 0 && now.duration_since(state.last_seen) > expiry)
    }

    /// The long poll: returns at once when messages are queued, else waits up to `timeout`
    /// for one. A newer connect from the same client ends this one.
    pub(crate) async fn poll(&self, timeout: Duration) -> PollEnd {
        let seq = {
            let mut state = self.lock();
            state.poll_seq += 1;
            state.polls += 1;
            state.last_seen = Instant::now();
            state.poll_seq
        };
        // Counts the poll out even when the request is dropped mid-wait (client went away).
        let _counted = PollGuard(self);
        // End a connect that was still waiting: only the newest one holds the line.
        self.notify.notify_waiters();
        let deadline = Instant::now() + timeout;
        loop {
            // Created before looking at the state, so a wake-up between the two is not lost.
            let notified = self.notify.notified();
            {
                let state = self.lock();
                if !state.queue.is_empty() || state.closed || state.poll_seq != seq {
                    break;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let mut state = self.lock();
        if state.closed {
            return PollEnd::Closed;
        }
        if state.poll_seq != seq {
            // Superseded: leave the messages to the newer connect.
            return PollEnd::Messages(Vec::new());
        }
        PollEnd::Messages(state.queue.drain(..).collect())
    }

    fn lock(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ends a poll's count when the poll ends or is dropped.
struct PollGuard<'a>(&'a CometClient);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.polls -= 1;
        state.last_seen = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::sync::Arc;

    fn note(data: Value) -> Delivery {
        Delivery {
            channel: "/c".into(),
            data,
        }
    }

    #[tokio::test]
    async fn poll_returns_queued_messages_at_once() {
        let client = CometClient::new("c".into(), None);
        client.enqueue(note(json!(1)), 10);
        let started = std::time::Instant::now();
        let end = client.poll(Duration::from_secs(30)).await;
        assert_eq!(end, PollEnd::Messages(vec![note(json!(1))]));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn poll_times_out_empty() {
        let client = CometClient::new("c".into(), None);
        let end = client.poll(Duration::from_millis(50)).await;
        assert_eq!(end, PollEnd::Messages(vec![]));
    }

    #[tokio::test]
    async fn poll_wakes_on_enqueue_and_close() {
        let client = Arc::new(CometClient::new("c".into(), None));
        let waiter = tokio::spawn({
            let client = client.clone();
            async move { client.poll(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.enqueue(note(json!("x")), 10);
        assert_eq!(
            waiter.await.unwrap(),
            PollEnd::Messages(vec![note(json!("x"))])
        );

        let waiter = tokio::spawn({
            let client = client.clone();
            async move { client.poll(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.close();
        assert_eq!(waiter.await.unwrap(), PollEnd::Closed);
        assert!(!client.enqueue(note(json!("late")), 10));
    }

    #[tokio::test]
    async fn newer_poll_supersedes_older() {
        let client = Arc::new(CometClient::new("c".into(), None));
        let first = tokio::spawn({
            let client = client.clone();
            async move { client.poll(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn({
            let client = client.clone();
            async move { client.poll(Duration::from_millis(100)).await }
        });
        assert_eq!(first.await.unwrap(), PollEnd::Messages(vec![]));
        assert_eq!(second.await.unwrap(), PollEnd::Messages(vec![]));
    }

    #[tokio::test]
    async fn a_dropped_poll_lets_the_session_expire() {
        let client = CometClient::new("c".into(), None);
        let dropped = tokio::time::timeout(
            Duration::from_millis(20),
            client.poll(Duration::from_secs(30)),
        )
        .await;
        assert!(dropped.is_err());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(client.expired(Instant::now(), Duration::from_millis(10)));
    }

    #[test]
    fn queue_is_bounded_and_subscriptions_match() {
        let client = CometClient::new("c".into(), Some("u".into()));
        for i in 0..5 {
            client.enqueue(note(json!(i)), 3);
        }
        assert_eq!(
            client.drain(),
            vec![note(json!(2)), note(json!(3)), note(json!(4))]
        );
        client.subscribe("/a/*");
        assert!(client.is_subscribed("/a/b"));
        client.unsubscribe("/a/*");
        assert!(!client.is_subscribed("/a/b"));
        assert_eq!(client.gms_user().as_deref(), Some("u"));
    }
}
