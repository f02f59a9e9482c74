//! The multi-session host: many concurrent sessions on a few worker threads.
//!
//! A boa `Context` is not `Send`, so a session can never move between threads. The engine
//! therefore runs one *shard* per worker thread (a current-thread tokio runtime) and pins each
//! session to a shard for its whole life; the shards share nothing but the `Router`, which
//! maps a session id to its shard and carries commands there over a channel. Within a shard
//! every session has its own FIFO of external events and processes one event at a time.
//!
//! [`Engine`] is the cheap, clonable handle the HTTP server and adapters use: create a
//! session, deliver an event (optionally waiting for the resulting stable configuration),
//! inspect, list, end, and subscribe to a session's trace.
//!
//! Sessions are durable and hibernate: see `record` for what is stored and when, and
//! [`HibernationPolicy`] for when a session at rest drops its JavaScript context.
#![warn(missing_docs, unreachable_pub)]

mod basichttp_client;
mod http_client;
mod memory;
mod record;
mod resolver;
mod shard;
pub mod store;
mod timers;
mod watchdog;

#[cfg(test)]
mod tests;

pub use http_client::{HttpClient, HttpError, HttpLimits, HttpResponse};
pub use memory::default_memory_bound_bytes;
pub use resolver::UrlResolver;
pub use shard::TraceRecord;
use watchdog::ShardWatch;

use crate::store::{MemoryStore, Store};
use scxml::interpreter::{Event, Limits, SessionOptions};
use scxml::io::{EventSink, Registry};
use scxml::model::Document;
use scxml::parse::{FileResolver, Resolver};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How an engine is set up.
#[derive(Clone)]
pub struct EngineConfig {
    /// Worker threads, each running a shard of the sessions.
    pub shards: usize,
    /// The URL prefix under which sessions receive Basic HTTP events (`<prefix><sessionid>`);
    /// `None` when no HTTP listener publishes them.
    pub basichttp_prefix: Option<String>,
    /// Custom `<send>` and `<invoke>` types.
    pub registry: Registry,
    /// Also receives every `<log>` of every session as it is written (besides `tracing`
    /// and the session's trace); the conformance runner collects logs this way.
    pub log_sink: Option<Arc<dyn LogSink>>,
    /// Reads what sessions' documents name (`<invoke src>`, and the `src`s of a stored
    /// document parsed again), off the shard threads where it may block.
    pub resolver: Arc<dyn Resolver>,
    /// The most sessions that may exist at once.
    pub max_sessions: usize,
    /// The most external events one session may have waiting.
    pub max_queue: usize,
    /// Where sessions are persisted (and where hibernated sessions wait).
    pub store: Arc<dyn Store>,
    /// When sessions at rest give up their interpreter (see [`HibernationPolicy`]).
    pub hibernation: HibernationPolicy,
    /// How many MB of JavaScript objects a shard may allocate between two garbage
    /// collections (0: boa's own policy). Each collection traces every context of the shard,
    /// so a larger budget means fewer collections for the same work, and more memory held
    /// by garbage (see `datamodel::ecmascript::gc_budget`).
    pub gc_budget_mb: usize,
    /// What one macrostep of a session may do before the session is ended as failed
    /// (counted in steps, the same on every machine).
    pub limits: Limits,
    /// Past this resident set size (bytes) new sessions are refused with
    /// [`EngineError::LowMemory`], so the process is not killed for want of memory with every
    /// session in it; events to existing sessions are still taken. `None`: no bound.
    pub max_memory_bytes: Option<u64>,
    /// The largest record a session may keep (its datamodel, mostly), in bytes: a session
    /// whose record grows past it is ended as failed, and its record is kept without its
    /// datamodel. Checked whenever the record is written: after every burst with a durable
    /// store, when the session hibernates with one that is not.
    pub max_session_bytes: usize,
    /// How long one macrostep may run before the watchdog gives up on its worker thread: the
    /// session is ended as failed and the shard's other sessions move to a new thread (see
    /// the `watchdog` module). `None`: no watchdog.
    pub macrostep_deadline: Option<Duration>,
    /// Shard runtimes start with tokio's clock paused, so time jumps to the next timer
    /// whenever a shard is idle: the engine's own tests run hours of timers in milliseconds.
    #[cfg(test)]
    pub(crate) paused_clock: bool,
}

/// One `<log>` of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionLog<'a> {
    /// The session that logged.
    pub session: &'a str,
    /// The session at the top of its invocation tree (itself, when nobody invoked it).
    pub root: &'a str,
    /// The `label` attribute.
    pub label: Option<&'a str>,
    /// The evaluated `expr`.
    pub message: &'a str,
}

/// Where [`EngineConfig::log_sink`] sends logs. Called on the session's shard thread, right
/// after the macrostep: keep it quick.
pub trait LogSink: Send + Sync {
    /// One log line.
    fn log(&self, log: &SessionLog<'_>);
}

/// When sessions at rest are hibernated: written out and their JavaScript context dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HibernationPolicy {
    /// A session idle this long hibernates (`None`: never for idleness).
    pub idle_after: Option<Duration>,
    /// A *parked* session idle this long hibernates (`None`: parked sessions wait for
    /// `idle_after` like the others). Parked: it runs no invocation and has no delayed send
    /// due within this time, so only an outside event can need it soon — e.g. a completed
    /// callback kept for its `_ttl`. Its context is the bulk of a live session's memory, and
    /// every live context is traced by each garbage collection of its shard; hibernating
    /// gives the context to the document's next session (warm contexts), and coming back
    /// takes one. Outside events come from people, seconds apart, so a short wait loses
    /// nothing there; the default, 50 ms, still absorbs a program's back-to-back requests,
    /// and a context checked for reuse soon after its session ran is still in the CPU's
    /// caches.
    pub parked_after: Option<Duration>,
    /// The most live (not hibernated) sessions per shard; past it the least recently used
    /// hibernate first.
    pub max_live_per_shard: usize,
}

impl Default for HibernationPolicy {
    fn default() -> HibernationPolicy {
        HibernationPolicy {
            idle_after: Some(Duration::from_secs(60)),
            parked_after: Some(Duration::from_millis(50)),
            max_live_per_shard: 50_000,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            shards: std::thread::available_parallelism().map_or(2, |n| n.get()),
            basichttp_prefix: None,
            registry: Registry::new(),
            // An embedder's engine runs the embedder's documents; a server facing untrusted
            // ones sets a resolver with its allow-list.
            resolver: Arc::new(FileResolver::unrestricted()),
            log_sink: None,
            max_sessions: 1_000_000,
            max_queue: 10_000,
            store: Arc::new(MemoryStore::new()),
            hibernation: HibernationPolicy::default(),
            gc_budget_mb: 128,
            limits: Limits::DEFAULT,
            macrostep_deadline: Some(Duration::from_secs(5)),
            max_session_bytes: 8 << 20,
            max_memory_bytes: None,
            #[cfg(test)]
            paused_clock: false,
        }
    }
}

/// Why the engine refused a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// No session has this id (it never existed, or it ended and was forgotten).
    #[error("no session {0}")]
    UnknownSession(String),
    /// Creating one more would pass [`EngineConfig::max_sessions`].
    #[error("the server holds the most sessions it may ({0})")]
    TooManySessions(usize),
    /// The session has [`EngineConfig::max_queue`] events waiting already.
    #[error("session {0} has too many events waiting")]
    QueueFull(String),
    /// The engine is stopping: nothing new is accepted.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// The process holds more memory than [`EngineConfig::max_memory_bytes`]: no new session
    /// is started until it holds less.
    #[error("the server is low on memory ({rss_mb} MB in use, the bound is {limit_mb} MB): no new sessions for now")]
    LowMemory {
        /// Megabytes in use.
        rss_mb: u64,
        /// The bound, in megabytes.
        limit_mb: u64,
    },
    /// The macrostep this request started ran past
    /// [`EngineConfig::macrostep_deadline`]: the session was ended as failed.
    #[error("session {0} ran a macrostep past its deadline (a script that does not end) and was ended as failed")]
    Runaway(String),
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Live: its interpreter is in memory.
    Running,
    /// At rest in the store; its next event or timer brings it back.
    Hibernated,
    /// It halted (kept a while for inspection).
    Done,
    /// It was ended without reaching a final state, for the reason its view gives (a
    /// macrostep that would not end, a datamodel too large to keep...). Kept like a done one.
    Failed,
}

impl SessionStatus {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Running => "running",
            SessionStatus::Hibernated => "hibernated",
            SessionStatus::Done => "done",
            SessionStatus::Failed => "failed",
        }
    }

    /// Done or failed: the session will never take another event.
    pub fn is_halted(self) -> bool {
        matches!(self, SessionStatus::Done | SessionStatus::Failed)
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SessionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<SessionStatus, String> {
        match s {
            "running" => Ok(SessionStatus::Running),
            "hibernated" => Ok(SessionStatus::Hibernated),
            "done" => Ok(SessionStatus::Done),
            "failed" => Ok(SessionStatus::Failed),
            other => Err(format!(
                "`{other}` is not a session status (running, hibernated, done, failed)"
            )),
        }
    }
}

/// What a session looks like from outside.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionView {
    /// The session id (`_sessionid`).
    pub id: String,
    /// Running, hibernated, or done once it halted.
    pub status: SessionStatus,
    /// The document's `name`, if any.
    pub name: Option<String>,
    /// Where the document was loaded from.
    pub document: Option<String>,
    /// Active states, in document order.
    pub configuration: Vec<String>,
    /// Active atomic states, in document order.
    pub active_states: Vec<String>,
    /// The top-level final state it halted in.
    pub final_state: Option<String>,
    /// Why it failed, when its status is failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The datamodel's variables, as JSON.
    pub datamodel: Value,
    /// Delayed sends that have not fired yet.
    pub pending_sends: Vec<PendingSend>,
    /// The ids of its running invocations.
    pub invokes: Vec<String>,
    /// External events it has processed.
    pub events_processed: u64,
    /// Why the session is not persisted (and so cannot hibernate), when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_persisted: Option<String>,
}

/// A delayed send that has not fired yet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PendingSend {
    /// The send id (`id`/`idlocation`, or generated).
    pub sendid: String,
    /// The event's name.
    pub event: String,
    /// Milliseconds until it fires.
    pub due_in_ms: u64,
}

/// One line of a session listing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionSummary {
    /// The session id.
    pub id: String,
    /// Running, hibernated or done.
    pub status: SessionStatus,
    /// The document's `name`.
    pub name: Option<String>,
    /// Where the document was loaded from.
    pub document: Option<String>,
    /// Active atomic states, in document order.
    pub active_states: Vec<String>,
}

/// Options of a new session.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Values that override the document's `<data>` of the same id.
    pub initial_data: Vec<(String, Value)>,
    /// Where the document came from (shown in views).
    pub document_url: Option<String>,
}

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// How a new session is answered for.
pub(crate) enum Created {
    /// With its view.
    View(Reply<SessionView>),
    /// With its id only: no view (which exports the whole datamodel) is built.
    Id(Reply<String>),
}

/// What a shard is asked to do.
pub(crate) enum Command {
    Create {
        doc: Arc<Document>,
        options: SessionOptions,
        create: CreateOptions,
        reply: Created,
    },
    /// An external event; with `reply`, answered once the macrostep it starts is over.
    Event {
        session: String,
        event: Event,
        reply: Option<Reply<SessionView>>,
    },
    Inspect {
        session: String,
        reply: Reply<SessionView>,
    },
    Document {
        session: String,
        reply: Reply<Arc<Document>>,
    },
    List {
        reply: oneshot::Sender<Vec<SessionSummary>>,
    },
    Delete {
        session: String,
        reply: Reply<()>,
    },
    Trace {
        session: String,
        reply: Reply<broadcast::Receiver<TraceRecord>>,
    },
    Shutdown,
}

/// Upper bounds of the macrostep latency histogram, in microseconds.
pub const MACROSTEP_BUCKETS_MICROS: [u64; 8] = [10, 50, 100, 500, 1_000, 5_000, 10_000, 100_000];

impl EngineStats {
    /// Counts one macrostep of the given duration.
    pub fn record_macrostep(&self, micros: u64) {
        self.macrosteps.fetch_add(1, Ordering::Relaxed);
        self.macrostep_micros.fetch_add(micros, Ordering::Relaxed);
        for (bound, bucket) in MACROSTEP_BUCKETS_MICROS.iter().zip(&self.macrostep_buckets) {
            if micros <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Sessions created since start.
    pub sessions_created: AtomicU64,
    /// External events processed since start.
    pub events_processed: AtomicU64,
    /// Macrosteps run since start.
    pub macrosteps: AtomicU64,
    /// Sum of macrostep durations in microseconds.
    pub macrostep_micros: AtomicU64,
    /// Macrosteps that took at most each of [`MACROSTEP_BUCKETS_MICROS`] (cumulative counts,
    /// as a Prometheus histogram has them).
    pub macrostep_buckets: [AtomicU64; MACROSTEP_BUCKETS_MICROS.len()],
    /// Sessions that exist, live or hibernated.
    pub sessions: AtomicUsize,
    /// Sessions whose JavaScript context is dropped until their next event.
    pub hibernated: AtomicUsize,
    /// Worker threads given up on by the watchdog (each still held by a runaway script, or
    /// ended since). Above zero, the process is degraded: restart it when convenient.
    pub abandoned_workers: AtomicU64,
}

/// Finds a session's shard and carries commands to it. Shared by the handle and the shards.
pub(crate) struct Router {
    shards: Vec<mpsc::UnboundedSender<Command>>,
    /// The receiving end of each shard's queue, taken by whichever thread runs the shard
    /// now: a replacement worker finds the commands its predecessor left waiting.
    queues: Vec<CommandQueue>,
    /// What the watchdog sees of each shard's current thread.
    watches: Vec<RwLock<Arc<ShardWatch>>>,
    /// The current thread of each shard.
    workers: std::sync::Mutex<Vec<Option<std::thread::JoinHandle<()>>>>,
    /// The origin of the watchdog's clock.
    epoch: std::time::Instant,
    /// Set by [`Engine::shutdown`]: the watchdog stops replacing workers.
    stopping: AtomicBool,
    /// The process's resident set size, for [`EngineConfig::max_memory_bytes`].
    memory: memory::MemoryGauge,
    /// Every session that exists (live or hibernated), for `#_scxml_<id>` targets.
    directory: RwLock<HashSet<String>>,
    /// External events sent to each session and not yet taken by its shard, by shard.
    waiting_events: Vec<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    config: EngineConfig,
    stats: EngineStats,
}

/// A shard's queue of commands, shared by its successive threads.
pub(crate) type CommandQueue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Command>>>;

/// The stack of a worker thread. Documents cannot nest without bound (the parser refuses
/// them), but scripts recurse as deeply as boa lets them; only touched pages are used.
const WORKER_STACK_BYTES: usize = 64 << 20;

/// Starts (or restarts) the thread of shard `index`; with `loaded`, it reports once its
/// sessions are back from the store. The previous thread of the shard, if any, is detached.
pub(crate) fn start_shard(
    router: &Arc<Router>,
    index: usize,
    loaded: Option<std::sync::mpsc::Sender<()>>,
) -> std::io::Result<()> {
    let watch = ShardWatch::new();
    if let Ok(mut w) = router.watches[index].write() {
        *w = watch.clone();
    }
    let shard_router = router.clone();
    let queue = router.queues[index].clone();
    let handle = std::thread::Builder::new()
        .name(format!("scxml-shard-{index}"))
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || shard::run(index, shard_router, queue, watch, loaded))?;
    let mut workers = router.workers.lock().unwrap_or_else(|e| e.into_inner());
    workers[index] = Some(handle);
    Ok(())
}

impl Router {
    /// What the watchdog sees of shard `index`'s current thread.
    pub(crate) fn watch(&self, index: usize) -> Arc<ShardWatch> {
        self.watches[index]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The shard a session lives on: a hash of its id, so any thread (and the next process,
    /// restoring sessions from the store) finds it without a lookup.
    pub(crate) fn shard_of(&self, session: &str) -> usize {
        shard_for(session, self.shards.len())
    }

    /// A new session id that lives on `shard` (invoked children stay with their parent).
    pub(crate) fn new_session_id(&self, shard: usize) -> String {
        loop {
            let id = scxml::interpreter::generate_session_id();
            if self.shard_of(&id) == shard {
                return id;
            }
        }
    }

    pub(crate) fn register(&self, session: &str) {
        let added = self
            .directory
            .write()
            .map(|mut d| d.insert(session.to_string()))
            .unwrap_or(false);
        if added {
            self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn unregister(&self, session: &str) {
        let removed = self
            .directory
            .write()
            .map(|mut d| d.remove(session))
            .unwrap_or(false);
        if removed {
            self.stats.sessions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn exists(&self, session: &str) -> bool {
        self.directory.read().is_ok_and(|d| d.contains(session))
    }

    /// Sends a command to the shard of `session`.
    fn to_session(&self, session: &str, command: Command) -> Result<(), EngineError> {
        if !self.exists(session) {
            return Err(EngineError::UnknownSession(session.to_string()));
        }
        self.shards[self.shard_of(session)]
            .send(command)
            .map_err(|_| EngineError::ShuttingDown)
    }

    /// Delivers an external event to a session, without waiting. Unknown sessions drop it.
    pub(crate) fn deliver(&self, session: &str, event: Event) -> Result<(), EngineError> {
        self.send_event(session, event, None)
    }

    /// Queues an event for a session, unless `max_queue` events already wait for it.
    fn send_event(
        &self,
        session: &str,
        event: Event,
        reply: Option<Reply<SessionView>>,
    ) -> Result<(), EngineError> {
        {
            let mut waiting = self.waiting_events[self.shard_of(session)]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let n = waiting.entry(session.to_string()).or_default();
            if *n >= self.config.max_queue {
                return Err(EngineError::QueueFull(session.to_string()));
            }
            *n += 1;
        }
        let result = self.to_session(
            session,
            Command::Event {
                session: session.to_string(),
                event,
                reply,
            },
        );
        if result.is_err() {
            self.event_taken(session);
        }
        result
    }

    /// A shard took one of a session's waiting events off its queue.
    pub(crate) fn event_taken(&self, session: &str) {
        let mut waiting = self.waiting_events[self.shard_of(session)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = waiting.get_mut(session) {
            *n -= 1;
            if *n == 0 {
                waiting.remove(session);
            }
        }
    }
}

/// Posts events to one session through the router (what custom types hold).
///
/// It holds the router weakly: custom types live in the registry the router owns, and a
/// service may keep its sink in shared state (the routing adapter keeps one per waiting
/// request), so a strong reference would be a cycle that keeps the engine, and its store,
/// alive after shutdown. Events for a stopped engine are dropped.
pub(crate) struct RouterSink {
    router: std::sync::Weak<Router>,
    session: String,
    invokeid: Option<String>,
}

impl RouterSink {
    pub(crate) fn new(router: &Arc<Router>, session: &str, invokeid: Option<&str>) -> RouterSink {
        RouterSink {
            router: Arc::downgrade(router),
            session: session.to_string(),
            invokeid: invokeid.map(str::to_string),
        }
    }
}

impl EventSink for RouterSink {
    fn deliver(&self, mut event: Event) {
        if let Some(id) = &self.invokeid {
            event.invokeid = Some(id.clone());
        }
        let Some(router) = self.router.upgrade() else {
            return;
        };
        let _ = router.deliver(&self.session, event);
    }
}

/// The handle to a running engine.
#[derive(Clone)]
pub struct Engine {
    router: Arc<Router>,
}

impl Engine {
    /// Starts the worker threads (and the watchdog, unless
    /// [`EngineConfig::macrostep_deadline`] is `None`), and returns once each worker has
    /// brought back its stored sessions (so no request can miss a session that exists).
    pub fn start(config: EngineConfig) -> Engine {
        let shards = config.shards.max(1);
        let mut senders = Vec::with_capacity(shards);
        let mut queues = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(tx);
            queues.push(Arc::new(tokio::sync::Mutex::new(rx)));
        }
        let deadline = config.macrostep_deadline;
        let router = Arc::new(Router {
            waiting_events: (0..shards).map(|_| Default::default()).collect(),
            shards: senders,
            queues,
            watches: (0..shards)
                .map(|_| RwLock::new(ShardWatch::new()))
                .collect(),
            workers: std::sync::Mutex::new((0..shards).map(|_| None).collect()),
            epoch: std::time::Instant::now(),
            stopping: AtomicBool::new(false),
            memory: memory::MemoryGauge::new(),
            directory: RwLock::new(HashSet::new()),
            config,
            stats: EngineStats::default(),
        });
        let (loaded_tx, loaded_rx) = std::sync::mpsc::channel();
        let mut started = 0;
        for index in 0..shards {
            match start_shard(&router, index, Some(loaded_tx.clone())) {
                Ok(()) => started += 1,
                Err(e) => tracing::error!(shard = index, error = %e, "cannot start a worker"),
            }
        }
        drop(loaded_tx);
        // Each shard reports once loaded (or drops its sender if it could not start).
        for _ in 0..started {
            if loaded_rx.recv().is_err() {
                break;
            }
        }
        if let Some(deadline) = deadline {
            if let Err(e) = watchdog::spawn(&router, deadline) {
                tracing::error!(error = %e, "cannot start the watchdog");
            }
        }
        Engine { router }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &EngineStats {
        &self.router.stats
    }

    /// How the engine was set up.
    pub fn config(&self) -> &EngineConfig {
        &self.router.config
    }

    /// Starts a session of `doc` and runs it to its first stable configuration.
    pub async fn create(
        &self,
        doc: Arc<Document>,
        create: CreateOptions,
    ) -> Result<SessionView, EngineError> {
        self.create_answered(doc, create, Created::View).await
    }

    /// [`Engine::create`], answering with the session's id alone: for callers that need no
    /// view of the new session.
    pub async fn create_id(
        &self,
        doc: Arc<Document>,
        create: CreateOptions,
    ) -> Result<String, EngineError> {
        self.create_answered(doc, create, Created::Id).await
    }

    /// Creates a session and waits for the answer `answer` asks for.
    async fn create_answered<T>(
        &self,
        doc: Arc<Document>,
        create: CreateOptions,
        answer: impl FnOnce(Reply<T>) -> Created,
    ) -> Result<T, EngineError> {
        let (reply, rx) = oneshot::channel();
        let session_id = scxml::interpreter::generate_session_id();
        let watch = self.router.watch(self.router.shard_of(&session_id));
        self.create_with(session_id.clone(), doc, create, answer(reply))?;
        self.answer(&session_id, &watch, rx).await
    }

    /// The answer to a command for `session`, sent to the shard `watch` watches: an error
    /// rather than no answer at all when that session's macrostep is the one the watchdog
    /// gave up on.
    async fn answer<T>(
        &self,
        session: &str,
        watch: &ShardWatch,
        rx: oneshot::Receiver<Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        tokio::select! {
            answer = rx => answer.map_err(|_| EngineError::ShuttingDown)?,
            () = watch.runaway(session) => Err(EngineError::Runaway(session.to_string())),
        }
    }

    fn create_with(
        &self,
        session_id: String,
        doc: Arc<Document>,
        create: CreateOptions,
        reply: Created,
    ) -> Result<(), EngineError> {
        let live = self.router.stats.sessions.load(Ordering::Relaxed);
        if live >= self.router.config.max_sessions {
            return Err(EngineError::TooManySessions(
                self.router.config.max_sessions,
            ));
        }
        if let Some(limit) = self.router.config.max_memory_bytes {
            if let Some(rss) = self.router.memory.rss_bytes().filter(|&rss| rss > limit) {
                return Err(EngineError::LowMemory {
                    rss_mb: rss >> 20,
                    limit_mb: limit >> 20,
                });
            }
        }
        let shard = self.router.shard_of(&session_id);
        let options = SessionOptions {
            session_id,
            initial_data: create.initial_data.clone(),
            limits: self.router.config.limits,
            ..SessionOptions::default()
        };
        self.router.shards[shard]
            .send(Command::Create {
                doc,
                options,
                create,
                reply,
            })
            .map_err(|_| EngineError::ShuttingDown)
    }

    /// Delivers an external event without waiting for it to be processed.
    pub fn send(&self, session: &str, event: Event) -> Result<(), EngineError> {
        self.router.deliver(session, event)
    }

    /// Delivers an external event and waits until the macrostep it starts is over.
    pub async fn send_and_wait(
        &self,
        session: &str,
        event: Event,
    ) -> Result<SessionView, EngineError> {
        let (reply, rx) = oneshot::channel();
        let watch = self.router.watch(self.router.shard_of(session));
        self.router.send_event(session, event, Some(reply))?;
        self.answer(session, &watch, rx).await
    }

    /// The session's view (waking it if it hibernates).
    pub async fn inspect(&self, session: &str) -> Result<SessionView, EngineError> {
        let (reply, rx) = oneshot::channel();
        let watch = self.router.watch(self.router.shard_of(session));
        self.router.to_session(
            session,
            Command::Inspect {
                session: session.to_string(),
                reply,
            },
        )?;
        self.answer(session, &watch, rx).await
    }

    /// The document a session runs (a done session's too, while it is kept).
    pub async fn document(&self, session: &str) -> Result<Arc<Document>, EngineError> {
        let (reply, rx) = oneshot::channel();
        let watch = self.router.watch(self.router.shard_of(session));
        self.router.to_session(
            session,
            Command::Document {
                session: session.to_string(),
                reply,
            },
        )?;
        self.answer(session, &watch, rx).await
    }

    /// Every session of every shard, ordered by id.
    pub async fn list(&self) -> Vec<SessionSummary> {
        let mut waiting = Vec::new();
        for shard in &self.router.shards {
            let (reply, rx) = oneshot::channel();
            if shard.send(Command::List { reply }).is_ok() {
                waiting.push(rx);
            }
        }
        let mut all = Vec::new();
        for rx in waiting {
            if let Ok(list) = rx.await {
                all.extend(list);
            }
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Ends a session (and what it invoked) without running it to a final state.
    pub async fn delete(&self, session: &str) -> Result<(), EngineError> {
        let (reply, rx) = oneshot::channel();
        let watch = self.router.watch(self.router.shard_of(session));
        self.router.to_session(
            session,
            Command::Delete {
                session: session.to_string(),
                reply,
            },
        )?;
        self.answer(session, &watch, rx).await
    }

    /// A stream of the session's macrosteps from now on.
    pub async fn trace(
        &self,
        session: &str,
    ) -> Result<broadcast::Receiver<TraceRecord>, EngineError> {
        let (reply, rx) = oneshot::channel();
        let watch = self.router.watch(self.router.shard_of(session));
        self.router.to_session(
            session,
            Command::Trace {
                session: session.to_string(),
                reply,
            },
        )?;
        self.answer(session, &watch, rx).await
    }

    /// Stops every shard after the commands already queued, and joins the threads; a thread
    /// still busy after `grace` (a runaway script) is left behind, so this always returns.
    pub fn shutdown_within(&self, grace: Duration) {
        self.router.stopping.store(true, Ordering::Release);
        for shard in &self.router.shards {
            let _ = shard.send(Command::Shutdown);
        }
        let workers: Vec<_> = std::mem::take(
            &mut *self
                .router
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let deadline = std::time::Instant::now() + grace;
        for worker in workers.into_iter().flatten() {
            while !worker.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if worker.is_finished() {
                let _ = worker.join();
            } else {
                tracing::warn!("a worker thread did not stop in time; leaving it behind");
            }
        }
    }

    /// [`Engine::shutdown_within`] ten seconds.
    pub fn shutdown(&self) {
        self.shutdown_within(Duration::from_secs(10));
    }
}

/// FNV-1a of the id, modulo the shard count.
fn shard_for(session: &str, shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in session.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}
