//! The watchdog: a macrostep that will not end does not take its shard's other sessions with it.
//!
//! A boa context cannot be interrupted from outside, so a script that loops in ways boa's own
//! limits do not catch (loops inside function calls, a catastrophic regular expression, a sort
//! with a JavaScript comparator) holds its worker thread for as long as it runs. The
//! interpreter's step [`Limits`](scxml::Limits) catch the loops it controls itself; this catches
//! the rest, by time.
//!
//! Each shard publishes when its current macrostep began ([`ShardWatch`]). A watchdog thread
//! looks at them a few times per deadline. When a macrostep has run past
//! [`EngineConfig::macrostep_deadline`](crate::EngineConfig::macrostep_deadline):
//! 1. the shard's thread is marked abandoned: whenever it comes back, it stops at once, writing
//!    and answering nothing;
//! 2. the runaway session's stored record is marked failed, with the reason, so neither the
//!    replacement nor a later process ever runs it again;
//! 3. a fresh thread takes over the shard: it takes the same command queue (nothing queued is
//!    lost) and brings the shard's sessions back from their stored records, as at start.
//!
//! What was acknowledged is in the store (the shard commits before it answers), so nothing
//! acknowledged is lost with a durable store. With a store that does not outlive the process,
//! the sessions of the shard that were live (not hibernated) are lost with the thread. The
//! abandoned thread keeps its core busy until its script ends, if ever: the engine counts it
//! ([`EngineStats::abandoned_workers`](crate::EngineStats::abandoned_workers)) and the server
//! reports itself degraded, so that an orchestrator can restart it.

use crate::record::SessionRecord;
use crate::store::{Table, Write};
use crate::Router;
use scxml::Failure;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// What the watchdog sees of one shard's thread.
pub(crate) struct ShardWatch {
    /// When the running macrostep began, in milliseconds after [`Router::epoch`] plus one;
    /// 0 while no macrostep runs.
    busy_since: AtomicU64,
    /// The session of the running macrostep.
    session: Mutex<Option<String>>,
    /// Set once the watchdog gave up on this thread.
    abandoned: AtomicBool,
    /// The session whose macrostep made the watchdog give up, once it did.
    runaway: Mutex<Option<String>>,
    /// Wakes those waiting for an answer from this thread when it is given up on.
    given_up: tokio::sync::Notify,
}

impl ShardWatch {
    pub(crate) fn new() -> Arc<ShardWatch> {
        Arc::new(ShardWatch {
            busy_since: AtomicU64::new(0),
            session: Mutex::new(None),
            abandoned: AtomicBool::new(false),
            runaway: Mutex::new(None),
            given_up: tokio::sync::Notify::new(),
        })
    }

    /// Resolves once this thread is given up on because of a macrostep of `session` (and
    /// never otherwise): the answer a request for that session waits for will not come.
    pub(crate) async fn runaway(&self, session: &str) {
        loop {
            let given_up = self.given_up.notified();
            tokio::pin!(given_up);
            given_up.as_mut().enable();
            if self.abandoned() {
                let runaway = self.runaway.lock().ok().and_then(|r| r.clone());
                if runaway.as_deref() == Some(session) {
                    return;
                }
                return std::future::pending().await;
            }
            given_up.await;
        }
    }

    /// Marks a macrostep of `session` as running until the guard is dropped.
    pub(crate) fn busy<'a>(&'a self, epoch: Instant, session: &str) -> Busy<'a> {
        if let Ok(mut s) = self.session.lock() {
            s.get_or_insert_with(String::new).replace_range(.., session);
        }
        let now = epoch.elapsed().as_millis() as u64 + 1;
        self.busy_since.store(now, Ordering::Release);
        Busy { watch: self }
    }

    /// Whether the watchdog replaced this thread: it must stop without writing anything.
    pub(crate) fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }
}

/// A running macrostep, as [`ShardWatch::busy`] marks it.
pub(crate) struct Busy<'a> {
    watch: &'a ShardWatch,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.watch.busy_since.store(0, Ordering::Release);
    }
}

/// Runs the watchdog of `router` until the engine is gone or stops.
pub(crate) fn spawn(router: &Arc<Router>, deadline: Duration) -> std::io::Result<()> {
    let router = Arc::downgrade(router);
    let tick = (deadline / 5).clamp(Duration::from_millis(10), Duration::from_millis(500));
    std::thread::Builder::new()
        .name("scxml-watchdog".into())
        .spawn(move || watch(router, deadline, tick))
        .map(drop)
}

fn watch(router: Weak<Router>, deadline: Duration, tick: Duration) {
    loop {
        std::thread::sleep(tick);
        let Some(router) = router.upgrade() else {
            return;
        };
        if router.stopping.load(Ordering::Acquire) {
            return;
        }
        let now = router.epoch.elapsed().as_millis() as u64 + 1;
        for index in 0..router.shards.len() {
            let watch = router.watch(index);
            let since = watch.busy_since.load(Ordering::Acquire);
            if since == 0 || watch.abandoned() {
                continue;
            }
            if now.saturating_sub(since) > deadline.as_millis() as u64 {
                let session = watch.session.lock().ok().and_then(|s| s.clone());
                replace(&router, index, &watch, session, deadline);
            }
        }
    }
}

/// Gives up on shard `index`'s thread, ends its runaway session and starts a replacement.
fn replace(
    router: &Arc<Router>,
    index: usize,
    stuck: &ShardWatch,
    session: Option<String>,
    deadline: Duration,
) {
    if let Ok(mut r) = stuck.runaway.lock() {
        r.clone_from(&session);
    }
    stuck.abandoned.store(true, Ordering::Release);
    stuck.given_up.notify_waiters();
    router
        .stats
        .abandoned_workers
        .fetch_add(1, Ordering::Relaxed);
    let failure = Failure::Host {
        reason: format!(
            "a macrostep ran longer than {} ms (a script that does not end); its worker thread was abandoned",
            deadline.as_millis()
        ),
    };
    tracing::error!(
        shard = index,
        session = session.as_deref().unwrap_or("?"),
        "{failure}; moving the shard's other sessions to a new worker"
    );
    if let Some(id) = &session {
        if let Err(e) = mark_failed(router, id, failure) {
            tracing::error!(session = %id, error = %e, "cannot mark the runaway session failed");
        }
    }
    if let Err(e) = crate::start_shard(router, index, None) {
        tracing::error!(shard = index, error = %e, "cannot start a replacement worker");
    }
}

/// Rewrites the stored record of `id` as a halted, failed session with nothing pending.
fn mark_failed(router: &Router, id: &str, failure: Failure) -> Result<(), String> {
    let store = &router.config.store;
    let Some(bytes) = store.get(Table::SESSIONS, id).map_err(|e| e.to_string())? else {
        return Ok(()); // never committed (or only live in memory): there is nothing to resume
    };
    let mut record: SessionRecord = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    record.snapshot.running = false;
    record.snapshot.failure = Some(failure);
    record.timers.clear();
    record.services.clear();
    let value = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
    store
        .apply(&[Write {
            table: Table::SESSIONS,
            key: id.to_string(),
            value: Some(value),
        }])
        .map_err(|e| e.to_string())
}
