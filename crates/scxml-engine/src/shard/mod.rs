//! One worker thread of the engine and the sessions pinned to it.
//!
//! The shard owns its sessions outright (no locks): it takes commands from its channel, runs
//! the session a command is for, and then applies the effects the session asked for through
//! the [`Host`] trait — deliver or schedule events, cancel them, start and cancel
//! invocations, report done. Events between sessions of the same shard go through a local
//! ready queue; events for other shards go through the [`Router`].
//!
//! Each turn of the loop handles every command already waiting, then commits the records of
//! the sessions it touched in one store transaction, and only then answers the requests
//! (group commit: one fsync for a burst of events, and nothing is acknowledged before it is
//! durable). Sessions at rest hibernate by the [`HibernationPolicy`](super::HibernationPolicy):
//! their interpreter (and JavaScript context) is dropped and rebuilt from the store on the next
//! event.
//!
//! Ordering: each session has an outbox. A Basic HTTP send is asynchronous, and the sends
//! that follow it from the same session wait in the outbox until it completes, so a session
//! that posts to a target and then sends itself an event sees the events in the order it sent
//! them (W3C test 201 checks exactly that).

use super::basichttp_client;
use super::record::{
    self, DocumentRecord, NotPersisted, ServiceRecord, SessionRecord, TimerRecord,
};
use super::timers::{Timer, Timers};
use super::{
    Command, CommandQueue, CreateOptions, Created, EngineError, PendingSend, Router, RouterSink,
    SessionLog, SessionStatus, SessionSummary, SessionView,
};
use crate::store::{Table, Write};
use crate::watchdog::ShardWatch;
use scxml::interpreter::{
    is_scxml_invoke_type, Event, Failure, Host, Interpreter, InvokeError, InvokeRequest, SendError,
    SendRequest, SessionOptions, BASIC_HTTP_EVENT_PROCESSOR,
};
use scxml::io::{
    check_invoke_type, child_document, needs_fetch, route_send, Child, CustomSendType, Delivery,
    Links, Outgoing,
};
use scxml::model::{Document, StateId};
use scxml::parse::Resolver;
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

mod effects;
mod hibernate;
mod host;
mod invoke;
mod persist;
mod session;
mod view;

use host::ShardHost;
use view::atomic_ids;

/// How long a halted top-level session stays inspectable.
const DONE_RETENTION: Duration = Duration::from_secs(300);
/// How often the shard looks for sessions to hibernate: often, so that the contexts of
/// sessions that end up parked come back (warm) at the pace sessions end, not in bursts.
const SWEEP_INTERVAL: Duration = Duration::from_millis(50);
/// The most commands handled in one turn before committing.
const BATCH: usize = 512;

/// One macrostep as the trace stream shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceRecord {
    /// Its number in the session's trace, from 1.
    pub seq: u64,
    /// The external event that started the macrostep (`None` for the start).
    pub event: Option<String>,
    /// That event's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// The active states after it, in document order.
    pub configuration: Vec<String>,
    /// `<log>` output of the macrostep, as `label: message`.
    pub logs: Vec<String>,
    /// The error events the macrostep raised (the first sixteen): `{name, data}`, the data
    /// naming the element, its line and column and the reason.
    pub errors: Vec<serde_json::Value>,
    /// The transitions it took, in order (their indices in the chart), the first sixty-four.
    pub transitions: Vec<u32>,
    /// The session's status after it.
    pub status: SessionStatus,
}

/// Work the shard started off its thread, coming back.
enum Completion {
    /// A Basic HTTP send finished.
    Http {
        session: String,
        result: Result<(), String>,
    },
    /// The document of an `<invoke src>` was read (or could not be).
    ChildDocument {
        parent: String,
        request: InvokeRequest,
        result: Result<Arc<Document>, String>,
    },
}

/// What [`Shard::run_session`] does with a session.
pub(super) enum Step {
    /// `interpret`: its first macrostep.
    Start,
    /// One external event, and the macrostep it starts.
    Event(Event),
    /// Ends it as failed (exits its states, cancels its invocations).
    Fail(Failure),
}

/// What a session asked for during a macrostep, applied by the shard afterwards in order.
enum Effect {
    Deliver {
        to: String,
        event: Event,
        sendid: String,
        delay: Duration,
    },
    Cancel(String),
    HttpSend(SendRequest),
    /// A `<send>` of a custom type. It goes out after the commit that follows the macrostep,
    /// like every other answer: after the invocations the macrostep started (a flow that
    /// answers a request and then queues sees the queueing done before its answer arrives),
    /// and never before the session's new state is durable.
    CustomSend {
        processor: Arc<dyn CustomSendType>,
        request: SendRequest,
    },
    StartInvoke(InvokeRequest),
    CancelInvoke(String),
    Done(Option<Value>),
}

struct Slot {
    /// `None` while the session runs (taken out) or while it is hibernated.
    /// Boxed so that a hibernated session's slot stays small.
    interpreter: Option<Box<Interpreter>>,
    hibernated: bool,
    doc: Arc<Document>,
    links: Links<String>,
    create: CreateOptions,
    /// Effects held back behind an unfinished Basic HTTP send.
    outbox: VecDeque<Effect>,
    http_in_flight: bool,
    trace: Option<broadcast::Sender<TraceRecord>>,
    trace_seq: u64,
    events_processed: u64,
    last_active: Instant,
    /// The configuration after the last macrostep (shown while hibernated).
    last_configuration: Vec<StateId>,
    running: bool,
    /// Why the session failed, once it has.
    failure: Option<Failure>,
    /// Why the session cannot be persisted or hibernated, when it cannot.
    blocked: Option<NotPersisted>,
    /// A halted top-level session's last view, kept instead of its interpreter (and its
    /// JavaScript context) for the [`DONE_RETENTION`] it stays inspectable.
    final_view: Option<Box<FinalView>>,
}

/// What a halted session keeps of its last view: its datamodel as JSON text, a fraction of
/// the memory of the parsed value, read back only when someone inspects it.
struct FinalView {
    /// The view, with a null datamodel.
    view: SessionView,
    datamodel: Box<str>,
}

impl FinalView {
    fn new(mut view: SessionView) -> FinalView {
        let datamodel = std::mem::take(&mut view.datamodel)
            .to_string()
            .into_boxed_str();
        FinalView { view, datamodel }
    }

    fn view(&self) -> SessionView {
        SessionView {
            datamodel: serde_json::from_str(&self.datamodel).unwrap_or(serde_json::Value::Null),
            ..self.view.clone()
        }
    }
}

impl Slot {
    fn status(&self) -> SessionStatus {
        match (self.running, self.hibernated) {
            (false, _) if self.failure.is_some() => SessionStatus::Failed,
            (false, _) => SessionStatus::Done,
            (true, true) => SessionStatus::Hibernated,
            (true, false) => SessionStatus::Running,
        }
    }
}

type Deferred = Box<dyn FnOnce(&mut Shard)>;

/// The answer to a request once the commit is done: the view taken right after the request's
/// own macrostep (`early`), unless the session failed since (at its commit: its datamodel
/// outgrew its bound), which the caller must hear.
fn view_or_failure(
    shard: &mut Shard,
    id: &str,
    early: Result<SessionView, EngineError>,
) -> Result<SessionView, EngineError> {
    let failed_since = matches!(&early, Ok(v) if v.status != SessionStatus::Failed)
        && shard
            .sessions
            .get(id)
            .is_some_and(|s| s.status() == SessionStatus::Failed);
    if failed_since {
        shard.view(id)
    } else {
        early
    }
}

struct Shard {
    index: usize,
    router: Arc<Router>,
    sessions: HashMap<String, Slot>,
    timers: Timers,
    /// Events for sessions of this shard, processed before the next command.
    ready: VecDeque<(String, Event)>,
    /// Halted top-level sessions and when to forget them.
    expiries: VecDeque<(Instant, String)>,
    /// Halted top-level sessions that still hold their interpreter: the next sweep keeps
    /// their view instead.
    finished: Vec<String>,
    /// Completions of Basic HTTP sends come back here.
    completions: mpsc::UnboundedSender<Completion>,
    /// Sessions changed since the last commit.
    dirty: HashSet<String>,
    /// Live sessions whose stored record is behind, when the store is not durable: their
    /// record is written when they hibernate (see [`Store::durable`]).
    unsaved: HashSet<String>,
    /// Answers waiting for the next commit.
    deferred: Vec<Deferred>,
    /// Documents already in the store, and parsed documents by key.
    documents: HashMap<String, Arc<Document>>,
    stored_documents: HashSet<String>,
    /// The store key of each document sessions ran lately, by its address (checked against
    /// the document itself): hashing a document's text once, not at every commit.
    document_keys: HashMap<usize, (Weak<Document>, String)>,
    next_sweep: Instant,
    /// Running sessions not hibernated (what the sweep looks at); a session leaves it when
    /// it halts, since a done one never hibernates.
    live: HashSet<String>,
    /// Sessions whose record came out larger than a session may keep, during this commit:
    /// (id, size, bound).
    oversized: Vec<(String, usize, usize)>,
    /// What the watchdog sees of this thread; once it is abandoned, the shard stops at once
    /// and writes nothing (a replacement thread owns its sessions now).
    watch: Arc<ShardWatch>,
}

/// The shard's thread body. `loaded` hears once the stored sessions are back; without it this
/// thread replaces an abandoned one (see [`crate::watchdog`]).
pub(super) fn run(
    index: usize,
    router: Arc<Router>,
    commands: CommandQueue,
    watch: Arc<ShardWatch>,
    loaded: Option<std::sync::mpsc::Sender<()>>,
) {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    #[cfg(test)]
    if router.config.paused_clock {
        builder.start_paused(true);
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(shard = index, error = %e, "cannot start a shard runtime");
            return;
        }
    };
    scxml::datamodel::ecmascript::reserve_gc_budget(router.config.gc_budget_mb << 20);
    let (completions, completions_rx) = mpsc::unbounded_channel();
    let mut shard = Shard {
        index,
        router,
        sessions: HashMap::new(),
        timers: Timers::default(),
        ready: VecDeque::new(),
        expiries: VecDeque::new(),
        finished: Vec::new(),
        completions,
        dirty: HashSet::new(),
        unsaved: HashSet::new(),
        deferred: Vec::new(),
        documents: HashMap::new(),
        stored_documents: HashSet::new(),
        document_keys: HashMap::new(),
        next_sweep: Instant::now() + SWEEP_INTERVAL,
        live: HashSet::new(),
        oversized: Vec::new(),
        watch,
    };
    runtime.block_on(async move {
        shard.load_from_store();
        match loaded {
            Some(loaded) => {
                let _ = loaded.send(());
            }
            None => shard.forget_lost_sessions(),
        }
        shard.run(commands, completions_rx).await
    });
    // The sessions are gone; what they left for the next ones goes before the thread does.
    scxml::datamodel::ecmascript::release_thread_contexts();
}

impl Shard {
    pub(super) async fn run(
        mut self,
        commands: CommandQueue,
        mut completions: mpsc::UnboundedReceiver<Completion>,
    ) {
        let mut stopping = false;
        while !stopping {
            let wake = self.next_wakeup();
            // The queue is locked only while waiting on it, never while a command runs, so
            // a replacement thread can take it over from one stuck in a macrostep.
            tokio::select! {
                biased;
                command = async { commands.lock().await.recv().await } => match command {
                    None | Some(Command::Shutdown) => stopping = true,
                    Some(command) => self.handle(command),
                },
                Some(completion) = completions.recv() => self.completed(completion),
                _ = tokio::time::sleep_until(wake) => self.fire_due(),
            }
            // Take everything already waiting, so one commit covers the burst.
            for _ in 0..BATCH {
                if stopping || self.watch.abandoned() {
                    break;
                }
                let next = commands.try_lock().ok().and_then(|mut q| q.try_recv().ok());
                match next {
                    Some(Command::Shutdown) => stopping = true,
                    Some(command) => self.handle(command),
                    None => break,
                }
            }
            if !self.watch.abandoned() {
                self.drain_ready();
            }
            if self.watch.abandoned() {
                // Its sessions belong to the replacement now; what this thread did since
                // the last commit is dropped unanswered (nothing of it was acknowledged).
                self.deferred.clear();
                return;
            }
            self.commit();
            if Instant::now() >= self.next_sweep
                || self.live.len() > self.router.config.hibernation.max_live_per_shard
            {
                self.sweep();
            }
        }
        for id in self.sessions.keys() {
            self.router.unregister(id);
        }
    }

    pub(super) fn next_wakeup(&self) -> Instant {
        let mut wake = self.next_sweep;
        if let Some(t) = self.timers.next_due() {
            wake = wake.min(t);
        }
        if let Some((t, _)) = self.expiries.front() {
            wake = wake.min(*t);
        }
        wake
    }

    pub(super) fn fire_due(&mut self) {
        let now = Instant::now();
        for timer in self.timers.pop_due(now) {
            self.dirty.insert(timer.from.clone());
            if timer.basichttp {
                let request = SendRequest {
                    event: timer.event,
                    target: Some(timer.to),
                    kind: BASIC_HTTP_EVENT_PROCESSOR.to_string(),
                    sendid: timer.sendid,
                    delay: Duration::ZERO,
                };
                self.apply(&timer.from, vec![Effect::HttpSend(request)]);
            } else {
                self.route(timer.to, timer.event);
            }
        }
        while self.expiries.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, id)) = self.expiries.pop_front() {
                if self.sessions.get(&id).is_some_and(|s| !s.running) {
                    self.remove_session(&id);
                }
            }
        }
    }

    pub(super) fn handle(&mut self, command: Command) {
        match command {
            Command::Create {
                doc,
                options,
                create,
                reply,
            } => {
                let id = self.create_session(doc, options, create, None);
                self.run_session(&id, Step::Start);
                // The view after the first macrostep, before the events the document sent
                // itself run (as test runners expect); answered once the commit is done.
                match reply {
                    Created::View(reply) => {
                        let view = self.view(&id);
                        self.defer(move |shard| {
                            let _ = reply.send(view_or_failure(shard, &id, view));
                        });
                    }
                    Created::Id(reply) => self.defer(move |_| {
                        let _ = reply.send(Ok(id));
                    }),
                }
            }
            Command::Event {
                session,
                event,
                reply,
            } => {
                self.router.event_taken(&session);
                if !self.sessions.contains_key(&session) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(EngineError::UnknownSession(session)));
                    }
                    return;
                }
                self.run_session(&session, Step::Event(event));
                // The view after this event's macrostep, not after what it caused later.
                if let Some(reply) = reply {
                    let view = self.view(&session);
                    self.defer(move |shard| {
                        let _ = reply.send(view_or_failure(shard, &session, view));
                    });
                }
            }
            Command::Inspect { session, reply } => {
                let _ = reply.send(self.view(&session));
            }
            Command::Document { session, reply } => {
                // A hibernated session keeps its document too: nothing to wake.
                let doc = self
                    .sessions
                    .get(&session)
                    .map(|slot| slot.doc.clone())
                    .ok_or(EngineError::UnknownSession(session));
                let _ = reply.send(doc);
            }
            Command::List { reply } => {
                let list = self
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.links.parent().is_none())
                    .map(|(id, s)| SessionSummary {
                        id: id.clone(),
                        status: s.status(),
                        name: s.doc.name.clone(),
                        document: s.create.document_url.clone(),
                        active_states: atomic_ids(&s.doc, &s.last_configuration),
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Command::Delete { session, reply } => {
                if self.sessions.contains_key(&session) {
                    self.cancel_session(&session);
                    self.defer(move |_| {
                        let _ = reply.send(Ok(()));
                    });
                } else {
                    let _ = reply.send(Err(EngineError::UnknownSession(session)));
                }
            }
            Command::Trace { session, reply } => {
                let result = match self.sessions.get_mut(&session) {
                    Some(slot) => Ok(slot
                        .trace
                        .get_or_insert_with(|| broadcast::channel(256).0)
                        .subscribe()),
                    None => Err(EngineError::UnknownSession(session)),
                };
                let _ = reply.send(result);
            }
            Command::Shutdown => {}
        }
    }

    pub(super) fn defer(&mut self, f: impl FnOnce(&mut Shard) + 'static) {
        self.deferred.push(Box::new(f));
    }

    /// Sends an event to a session of this shard (through the ready queue) or another shard.
    pub(super) fn route(&mut self, to: String, event: Event) {
        if self.sessions.contains_key(&to) {
            self.ready.push_back((to, event));
        } else {
            let _ = self.router.deliver(&to, event);
        }
    }

    pub(super) fn drain_ready(&mut self) {
        while let Some((id, event)) = self.ready.pop_front() {
            self.run_session(&id, Step::Event(event));
            if self.watch.abandoned() {
                return;
            }
        }
    }

    /// After a replacement: sessions of this shard that the router still knows but the
    /// store did not bring back (live ones of a store that does not outlive the process, or a
    /// runaway that never committed) are gone; commands for them get "unknown session".
    fn forget_lost_sessions(&mut self) {
        let lost: Vec<String> = self
            .router
            .directory
            .read()
            .map(|d| {
                d.iter()
                    .filter(|id| {
                        self.router.shard_of(id) == self.index && !self.sessions.contains_key(*id)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for id in &lost {
            self.router.unregister(id);
        }
        if !lost.is_empty() {
            tracing::warn!(
                shard = self.index,
                sessions = lost.len(),
                "sessions lost with an abandoned worker"
            );
        }
    }

    pub(super) fn resolver(&self) -> &dyn Resolver {
        self.router.config.resolver.as_ref()
    }

    /// The URL of a session's document, against which what it names resolves.
    pub(super) fn base_url_of(&self, session: &str) -> Option<url::Url> {
        self.sessions
            .get(session)
            .and_then(|s| s.doc.base_url.clone())
    }
}
