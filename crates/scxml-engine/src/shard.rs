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
use super::record::{self, DocumentRecord, ServiceRecord, SessionRecord, TimerRecord};
use super::timers::{Timer, Timers};
use super::{
    Command, CreateOptions, Created, EngineError, PendingSend, Router, RouterSink, SessionLog,
    SessionSummary, SessionView,
};
use crate::store::{Table, Write};
use scxml::interpreter::{
    is_scxml_invoke_type, Event, Host, Interpreter, InvokeRequest, SendError, SendRequest,
    SessionOptions, BASIC_HTTP_EVENT_PROCESSOR,
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
    pub seq: u64,
    /// The external event that started the macrostep (`None` for the start).
    pub event: Option<String>,
    pub configuration: Vec<String>,
    /// `<log>` output of the macrostep, as `label: message`.
    pub logs: Vec<String>,
    pub status: &'static str,
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
    /// Why the session cannot be persisted or hibernated, when it cannot.
    blocked: Option<String>,
}

impl Slot {
    fn status(&self) -> &'static str {
        match (self.running, self.hibernated) {
            (false, _) => "done",
            (true, true) => "hibernated",
            (true, false) => "running",
        }
    }
}

type Deferred = Box<dyn FnOnce(&mut Shard)>;

struct Shard {
    index: usize,
    router: Arc<Router>,
    sessions: HashMap<String, Slot>,
    timers: Timers,
    /// Events for sessions of this shard, processed before the next command.
    ready: VecDeque<(String, Event)>,
    /// Halted top-level sessions and when to forget them.
    expiries: VecDeque<(Instant, String)>,
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
}

/// The shard's thread body.
pub(super) fn run(
    index: usize,
    router: Arc<Router>,
    commands: mpsc::UnboundedReceiver<Command>,
    loaded: std::sync::mpsc::Sender<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
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
        completions,
        dirty: HashSet::new(),
        unsaved: HashSet::new(),
        deferred: Vec::new(),
        documents: HashMap::new(),
        stored_documents: HashSet::new(),
        document_keys: HashMap::new(),
        next_sweep: Instant::now() + SWEEP_INTERVAL,
        live: HashSet::new(),
    };
    runtime.block_on(async move {
        shard.load_from_store();
        let _ = loaded.send(());
        drop(loaded);
        shard.run(commands, completions_rx).await
    });
    // The sessions are gone; what they left for the next ones goes before the thread does.
    scxml::datamodel::ecmascript::release_thread_contexts();
}

impl Shard {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut completions: mpsc::UnboundedReceiver<Completion>,
    ) {
        let mut stopping = false;
        while !stopping {
            let wake = self.next_wakeup();
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    None | Some(Command::Shutdown) => stopping = true,
                    Some(command) => self.handle(command),
                },
                Some(completion) = completions.recv() => self.completed(completion),
                _ = tokio::time::sleep_until(wake) => self.fire_due(),
            }
            // Take everything already waiting, so one commit covers the burst.
            for _ in 0..BATCH {
                if stopping {
                    break;
                }
                match commands.try_recv() {
                    Ok(Command::Shutdown) => stopping = true,
                    Ok(command) => self.handle(command),
                    Err(_) => break,
                }
            }
            self.drain_ready();
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

    fn next_wakeup(&self) -> Instant {
        let mut wake = self.next_sweep;
        if let Some(t) = self.timers.next_due() {
            wake = wake.min(t);
        }
        if let Some((t, _)) = self.expiries.front() {
            wake = wake.min(*t);
        }
        wake
    }

    fn fire_due(&mut self) {
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

    fn handle(&mut self, command: Command) {
        match command {
            Command::Create {
                doc,
                options,
                create,
                reply,
            } => {
                let id = self.create_session(doc, options, create, None);
                self.run_session(&id, None);
                self.defer(move |shard| match reply {
                    Created::View(reply) => {
                        let _ = reply.send(shard.view(&id));
                    }
                    Created::Id(reply) => {
                        let _ = reply.send(Ok(id));
                    }
                });
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
                self.run_session(&session, Some(event));
                if let Some(reply) = reply {
                    self.defer(move |shard| {
                        let _ = reply.send(shard.view(&session));
                    });
                }
            }
            Command::Inspect { session, reply } => {
                let _ = reply.send(self.view(&session));
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

    fn defer(&mut self, f: impl FnOnce(&mut Shard) + 'static) {
        self.deferred.push(Box::new(f));
    }

    fn create_session(
        &mut self,
        doc: Arc<Document>,
        mut options: SessionOptions,
        create: CreateOptions,
        parent: Option<(String, String)>,
    ) -> String {
        if options.session_id.is_empty() {
            options.session_id = self.router.new_session_id(self.index);
        }
        let id = options.session_id.clone();
        if let Some(prefix) = &self.router.config.basichttp_prefix {
            let location = format!("{prefix}{id}");
            options
                .io_processors
                .push(("basichttp".into(), location.clone()));
            options
                .io_processors
                .push((BASIC_HTTP_EVENT_PROCESSOR.into(), location));
        }
        let interpreter = Interpreter::new(doc.clone(), options);
        self.router.register(&id);
        self.router
            .stats
            .sessions_created
            .fetch_add(1, Ordering::Relaxed);
        self.live.insert(id.clone());
        self.sessions.insert(
            id.clone(),
            Slot {
                interpreter: Some(Box::new(interpreter)),
                hibernated: false,
                doc,
                links: Links::new(parent),
                create,
                outbox: VecDeque::new(),
                http_in_flight: false,
                trace: None,
                trace_seq: 0,
                events_processed: 0,
                last_active: Instant::now(),
                last_configuration: Vec::new(),
                running: true,
                blocked: None,
            },
        );
        id
    }

    /// Starts a session (no event) or runs one event through it, then applies its effects.
    fn run_session(&mut self, id: &str, event: Option<Event>) {
        if !self.wake(id) {
            return;
        }
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        if event.as_ref().is_some_and(|e| !slot.links.accepts(e)) {
            return;
        }
        let Some(mut interpreter) = slot.interpreter.take() else {
            return;
        };
        let started = std::time::Instant::now();
        let event_name = event.as_ref().map(|e| e.name.clone());
        let mut host = ShardHost::new(id, &mut slot.links, &self.router);
        match event {
            None => interpreter.start(&mut host),
            Some(e) => {
                slot.events_processed += 1;
                interpreter.process_event(e, &mut host);
            }
        }
        let ShardHost { effects, logs, .. } = host;
        // The sink sees them once the slot is let go (it needs the invocation tree).
        let sink_logs =
            (self.router.config.log_sink.is_some() && !logs.is_empty()).then(|| logs.clone());
        let stats = &self.router.stats;
        stats.record_macrostep(started.elapsed().as_micros() as u64);
        if event_name.is_some() {
            stats.events_processed.fetch_add(1, Ordering::Relaxed);
        }
        slot.last_configuration = interpreter.configuration();
        slot.running = interpreter.is_running();
        slot.last_active = Instant::now();
        if let Some(trace) = &slot.trace {
            if trace.receiver_count() > 0 {
                slot.trace_seq += 1;
                let _ = trace.send(TraceRecord {
                    seq: slot.trace_seq,
                    event: event_name,
                    configuration: interpreter
                        .active_ids()
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    logs: logs
                        .into_iter()
                        .map(|(label, message)| match label {
                            Some(l) => format!("{l}: {message}"),
                            None => message,
                        })
                        .collect(),
                    status: slot.status(),
                });
            }
        }
        let halted = !slot.running;
        let is_root = slot.links.parent().is_none();
        slot.interpreter = Some(interpreter);
        // Before the effects, which may end the session and unlink it from its parent.
        let root = sink_logs.as_ref().map(|_| root_of(&self.sessions, id));
        self.dirty.insert(id.to_string());
        self.apply(id, effects);
        if halted {
            self.live.remove(id);
        }
        if halted && is_root {
            self.timers.remove_session(id);
            self.expiries
                .push_back((Instant::now() + DONE_RETENTION, id.to_string()));
        }
        if let (Some(logs), Some(root)) = (sink_logs, root) {
            self.to_log_sink(id, &root, &logs);
        }
    }

    /// Hands a macrostep's `<log>`s to the configured sink.
    fn to_log_sink(&self, id: &str, root: &str, logs: &[(Option<String>, String)]) {
        let Some(sink) = &self.router.config.log_sink else {
            return;
        };
        for (label, message) in logs {
            sink.log(&SessionLog {
                session: id,
                root,
                label: label.as_deref(),
                message,
            });
        }
    }

    /// Brings a hibernated session back from its stored record. False when it cannot be.
    fn wake(&mut self, id: &str) -> bool {
        let Some(slot) = self.sessions.get(id) else {
            return false;
        };
        if !slot.hibernated {
            return true;
        }
        let doc = slot.doc.clone();
        let restored = self
            .router
            .config
            .store
            .get(Table::SESSIONS, id)
            .map_err(|e| e.to_string())
            .and_then(|bytes| bytes.ok_or_else(|| "no stored record".to_string()))
            .and_then(|bytes| {
                serde_json::from_slice::<SessionRecord>(&bytes).map_err(|e| e.to_string())
            })
            .and_then(|record| {
                Interpreter::restore(doc, &record.snapshot).map_err(|e| e.to_string())
            });
        match restored {
            Ok(interpreter) => {
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.interpreter = Some(Box::new(interpreter));
                    slot.hibernated = false;
                }
                self.live.insert(id.to_string());
                self.router.stats.hibernated.fetch_sub(1, Ordering::Relaxed);
                true
            }
            Err(reason) => {
                tracing::error!(session = %id, %reason, "cannot restore a hibernated session");
                false
            }
        }
    }

    /// Applies a session's effects in order, holding them back behind an unfinished Basic
    /// HTTP send.
    fn apply(&mut self, id: &str, effects: Vec<Effect>) {
        for effect in effects {
            let Some(slot) = self.sessions.get_mut(id) else {
                return;
            };
            if slot.http_in_flight {
                slot.outbox.push_back(effect);
                continue;
            }
            self.apply_one(id, effect);
        }
    }

    fn apply_one(&mut self, id: &str, effect: Effect) {
        match effect {
            Effect::Deliver {
                to,
                event,
                sendid,
                delay,
            } => {
                if delay.is_zero() {
                    self.route(to, event);
                } else {
                    self.timers.insert(
                        Instant::now() + delay,
                        Timer {
                            from: id.to_string(),
                            sendid,
                            to,
                            event,
                            basichttp: false,
                        },
                    );
                }
            }
            Effect::Cancel(sendid) => {
                self.timers.cancel(id, &sendid);
            }
            Effect::HttpSend(request) if !request.delay.is_zero() => {
                // Delayed: a timer like any other (cancellable, stored with the session),
                // which posts it when due.
                self.timers.insert(
                    Instant::now() + request.delay,
                    Timer {
                        from: id.to_string(),
                        sendid: request.sendid,
                        to: request.target.unwrap_or_default(),
                        event: request.event,
                        basichttp: true,
                    },
                );
            }
            Effect::HttpSend(request) => {
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.http_in_flight = true;
                }
                let done = self.completions.clone();
                let session = id.to_string();
                tokio::spawn(async move {
                    let result = basichttp_client::post_event(&request).await;
                    let _ = done.send(Completion::Http { session, result });
                });
            }
            Effect::CustomSend { processor, request } => {
                let session = id.to_string();
                self.defer(move |shard| shard.custom_send(session, processor, request));
            }
            Effect::StartInvoke(request) => self.start_invoke(id, request),
            Effect::CancelInvoke(invokeid) => self.cancel_invoke(id, &invokeid),
            Effect::Done(donedata) => self.session_done(id, donedata),
        }
    }

    /// Hands a custom send to its type. It has left the macrostep by now, so a refusal comes
    /// back to the session as an external `error.communication` carrying the send id.
    fn custom_send(
        &mut self,
        session: String,
        processor: Arc<dyn CustomSendType>,
        request: SendRequest,
    ) {
        let sendid = request.sendid.clone();
        let reply = Arc::new(RouterSink::new(&self.router, &session, None));
        if let Err(error) = processor.send(request, reply) {
            let mut event =
                Event::platform(error.event_name(), Some(Value::String(error.to_string())));
            event.sendid = Some(sendid);
            let _ = self.router.deliver(&session, event);
        }
    }

    fn completed(&mut self, completion: Completion) {
        match completion {
            Completion::Http { session, result } => self.http_completed(&session, result),
            Completion::ChildDocument {
                parent,
                request,
                result,
            } => self.child_document_fetched(&parent, request, result),
        }
    }

    fn http_completed(&mut self, id: &str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.route(
                id.to_string(),
                Event::platform("error.communication", Some(Value::String(reason))),
            );
        }
        let Some(slot) = self.sessions.get_mut(id) else {
            return;
        };
        slot.http_in_flight = false;
        while let Some(effect) = self.sessions.get_mut(id).and_then(|s| s.outbox.pop_front()) {
            self.apply_one(id, effect);
            if self.sessions.get(id).is_some_and(|s| s.http_in_flight) {
                break;
            }
        }
    }

    /// Sends an event to a session of this shard (through the ready queue) or another shard.
    fn route(&mut self, to: String, event: Event) {
        if self.sessions.contains_key(&to) {
            self.ready.push_back((to, event));
        } else {
            let _ = self.router.deliver(&to, event);
        }
    }

    fn drain_ready(&mut self) {
        while let Some((id, event)) = self.ready.pop_front() {
            self.run_session(&id, Some(event));
        }
    }

    fn start_invoke(&mut self, parent: &str, request: InvokeRequest) {
        let invokeid = request.invokeid.clone();
        if is_scxml_invoke_type(&request.kind) {
            if needs_fetch(&request.source) {
                self.fetch_child_document(parent, request);
                return;
            }
            let base = self.base_url_of(parent);
            let result = child_document(&request.source, base.as_ref(), self.resolver())
                .map_err(|e| e.to_string());
            self.start_child_session(parent, request, result, Vec::new());
            return;
        }
        let Some(service) = self
            .router
            .config
            .registry
            .invoke_type(&request.kind)
            .cloned()
        else {
            self.route(
                parent.to_string(),
                Event::platform(
                    "error.execution",
                    Some(Value::String(format!(
                        "unsupported invoke type {}",
                        request.kind
                    ))),
                ),
            );
            return;
        };
        let sink = Arc::new(RouterSink::new(&self.router, parent, Some(&invokeid)));
        let kind = request.kind.clone();
        match service.start(request, sink) {
            Ok(service) => {
                if let Some(slot) = self.sessions.get_mut(parent) {
                    slot.links.start(invokeid, Child::Service { kind, service });
                }
            }
            Err(message) => self.route(
                parent.to_string(),
                Event::platform("error.execution", Some(Value::String(message))),
            ),
        }
    }

    fn resolver(&self) -> &dyn Resolver {
        self.router.config.resolver.as_ref()
    }

    /// The URL of a session's document, against which what it names resolves.
    fn base_url_of(&self, session: &str) -> Option<url::Url> {
        self.sessions
            .get(session)
            .and_then(|s| s.interpreter.as_ref())
            .and_then(|i| i.document().base_url.clone())
    }

    /// Reads an `<invoke src>` document on the blocking pool: the fetch may take as long as
    /// the remote server makes it, and the shard's other sessions must not wait for it.
    fn fetch_child_document(&mut self, parent: &str, request: InvokeRequest) {
        let Some(slot) = self.sessions.get_mut(parent) else {
            return;
        };
        slot.links.start(
            request.invokeid.clone(),
            Child::Fetching {
                pending: Vec::new(),
            },
        );
        let resolver = self.router.config.resolver.clone();
        let done = self.completions.clone();
        let parent = parent.to_string();
        tokio::task::spawn_blocking(move || {
            let result =
                child_document(&request.source, None, resolver.as_ref()).map_err(|e| e.to_string());
            let _ = done.send(Completion::ChildDocument {
                parent,
                request,
                result,
            });
        });
    }

    /// The document of an `<invoke src>` arrived: the child starts, unless its invocation
    /// was cancelled (or its parent ended) meanwhile.
    fn child_document_fetched(
        &mut self,
        parent: &str,
        request: InvokeRequest,
        result: Result<Arc<Document>, String>,
    ) {
        let Some(slot) = self.sessions.get_mut(parent) else {
            return;
        };
        let Some(pending) = slot.links.take_fetching(&request.invokeid) else {
            return;
        };
        self.start_child_session(parent, request, result, pending);
        self.drain_ready();
        self.commit();
    }

    /// Starts the child session of an SCXML invocation (or reports why it cannot), then
    /// hands it the events its parent sent it before it ran.
    fn start_child_session(
        &mut self,
        parent: &str,
        request: InvokeRequest,
        doc: Result<Arc<Document>, String>,
        pending: Vec<Event>,
    ) {
        let invokeid = request.invokeid.clone();
        let doc = match doc {
            Ok(doc) => doc,
            Err(message) => {
                self.route(
                    parent.to_string(),
                    Event::platform("error.execution", Some(Value::String(message))),
                );
                return;
            }
        };
        let options = SessionOptions {
            initial_data: request.params,
            ..SessionOptions::default()
        };
        let child = self.create_session(
            doc,
            options,
            CreateOptions::default(),
            Some((parent.to_string(), invokeid.clone())),
        );
        if let Some(slot) = self.sessions.get_mut(parent) {
            slot.links.start(invokeid, Child::Session(child.clone()));
        }
        self.dirty.insert(parent.to_string());
        self.run_session(&child, None);
        for event in pending {
            self.route(child.clone(), event);
        }
    }

    fn cancel_invoke(&mut self, parent: &str, invokeid: &str) {
        let Some(slot) = self.sessions.get_mut(parent) else {
            return;
        };
        let Some(child) = slot.links.cancel(invokeid) else {
            return;
        };
        match child {
            Child::Session(child) => self.cancel_session(&child),
            Child::Service { mut service, .. } => service.cancel(),
            Child::Fetching { .. } => {}
        }
    }

    /// Ends a session from outside: exits its states (their onexit runs, its invocations
    /// are cancelled) without reporting done, and forgets it.
    fn cancel_session(&mut self, id: &str) {
        if self.wake(id) {
            if let Some(slot) = self.sessions.get_mut(id) {
                if let Some(mut interpreter) = slot.interpreter.take() {
                    let mut host = ShardHost::new(id, &mut slot.links, &self.router);
                    interpreter.cancel(&mut host);
                    let ShardHost { effects, logs, .. } = host;
                    slot.interpreter = Some(interpreter);
                    // Its onexit handlers may log on the way out.
                    if self.router.config.log_sink.is_some() && !logs.is_empty() {
                        let root = root_of(&self.sessions, id);
                        self.to_log_sink(id, &root, &logs);
                    }
                    // Only cancellations of its own invocations matter now; its sends die
                    // with it.
                    for effect in effects {
                        if let Effect::CancelInvoke(invokeid) = effect {
                            self.cancel_invoke(id, &invokeid);
                        }
                    }
                }
            }
        }
        self.remove_session(id);
    }

    fn session_done(&mut self, id: &str, donedata: Option<Value>) {
        let Some(slot) = self.sessions.get(id) else {
            return;
        };
        let Some((parent, invokeid)) = slot.links.parent().cloned() else {
            return;
        };
        let done = self
            .sessions
            .get_mut(&parent)
            .and_then(|p| p.links.child_done(&invokeid, donedata));
        if let Some(event) = done {
            self.dirty.insert(parent.clone());
            self.route(parent, event);
        }
        self.remove_session(id);
    }

    /// Forgets a session, its timers and its child sessions.
    fn remove_session(&mut self, id: &str) {
        let Some(slot) = self.sessions.remove(id) else {
            return;
        };
        if slot.hibernated {
            self.router.stats.hibernated.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.live.remove(id);
        }
        self.dirty.insert(id.to_string());
        self.router.unregister(id);
        self.timers.remove_session(id);
        self.ready.retain(|(k, _)| k != id);
        for child in slot.links.into_children() {
            match child {
                Child::Session(k) => self.cancel_session(&k),
                Child::Service { mut service, .. } => service.cancel(),
                Child::Fetching { .. } => {}
            }
        }
    }

    /// Writes the records of every session changed since the last commit in one
    /// transaction, then sends the answers that waited for it.
    fn commit(&mut self) {
        if !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            let durable = self.router.config.store.durable();
            let mut batch = Vec::with_capacity(dirty.len());
            let mut new_documents = Vec::new();
            for id in dirty {
                let (live, running) = self
                    .sessions
                    .get(&id)
                    .map_or((false, false), |s| (s.interpreter.is_some(), s.running));
                if !durable && live && running {
                    // Changed: the next hibernation tries to persist it again.
                    if let Some(slot) = self.sessions.get_mut(&id) {
                        slot.blocked = None;
                    }
                    self.unsaved.insert(id);
                    continue;
                }
                self.unsaved.remove(&id);
                if !durable && live {
                    // Done, so it never hibernates: a store that does not outlive the
                    // process keeps nothing of it (nor a record from an earlier hibernation).
                    batch.push(Write {
                        table: Table::SESSIONS,
                        key: id,
                        value: None,
                    });
                    continue;
                }
                // Gone, or not restorable (kept live, with the reason): the stale record goes.
                if !matches!(
                    self.batch_record(&id, &mut batch, &mut new_documents),
                    Ok(true)
                ) {
                    batch.push(Write {
                        table: Table::SESSIONS,
                        key: id,
                        value: None,
                    });
                }
            }
            match self.router.config.store.apply(&batch) {
                Ok(()) => self.stored_documents.extend(new_documents),
                Err(e) => tracing::error!(shard = self.index, error = %e, "commit failed"),
            }
        }
        for answer in std::mem::take(&mut self.deferred) {
            answer(self);
        }
    }

    /// Adds a session's record to `batch` (with its document's, noted in `new_documents`,
    /// when the store does not have it yet): `Ok(false)` when the session no longer exists.
    /// A session that cannot be persisted is marked blocked, with the reason, and is `Err`.
    fn batch_record(
        &mut self,
        id: &str,
        batch: &mut Vec<Write>,
        new_documents: &mut Vec<String>,
    ) -> Result<bool, ()> {
        match self.record_of(id) {
            Ok(Some((record, doc_write))) => {
                if let Some((key, write)) = doc_write {
                    new_documents.push(key);
                    batch.push(write);
                }
                batch.push(Write {
                    table: Table::SESSIONS,
                    key: id.to_string(),
                    value: Some(record),
                });
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(reason) => {
                if let Some(slot) = self.sessions.get_mut(id) {
                    slot.blocked = Some(reason);
                }
                Err(())
            }
        }
    }

    /// The serialised record of a session (`None` when it no longer exists), and its
    /// document's record when the store does not have it yet.
    #[allow(clippy::type_complexity)]
    fn record_of(
        &mut self,
        id: &str,
    ) -> Result<Option<(Vec<u8>, Option<(String, Write)>)>, String> {
        let now = Instant::now();
        let now_wall = SystemTime::now();
        let timers: Vec<TimerRecord> = self
            .timers
            .pending_of(id)
            .into_iter()
            .map(|(t, due)| TimerRecord {
                sendid: t.sendid.clone(),
                to: t.to.clone(),
                event: t.event.clone(),
                basichttp: t.basichttp,
                due_unix_ms: record::instant_to_unix_ms(due, now, now_wall),
            })
            .collect();
        let Some(slot) = self.sessions.get_mut(id) else {
            return Ok(None);
        };
        let Some(interpreter) = slot.interpreter.as_mut() else {
            // Hibernated, and one of its delayed sends fired: only its timers changed.
            let bytes = self
                .router
                .config
                .store
                .get(Table::SESSIONS, id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "the hibernated session's record is missing".to_string())?;
            let mut record: SessionRecord =
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            record.timers = timers;
            let bytes = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
            return Ok(Some((bytes, None)));
        };
        let services = persist_services(&slot.links)?;
        let snapshot = interpreter.snapshot().map_err(|e| e.to_string())?;
        let address = Arc::as_ptr(&slot.doc) as usize;
        let doc_key = match self.document_keys.get(&address) {
            Some((known, key)) if known.upgrade().is_some_and(|d| Arc::ptr_eq(&d, &slot.doc)) => {
                key.clone()
            }
            _ => {
                let key = record::document_key(&slot.doc)
                    .ok_or_else(|| "its document has no source text".to_string())?;
                self.document_keys
                    .insert(address, (Arc::downgrade(&slot.doc), key.clone()));
                key
            }
        };
        let doc_write = if self.stored_documents.contains(&doc_key) {
            None
        } else {
            let doc = DocumentRecord {
                url: slot.doc.base_url.as_ref().map(|u| u.to_string()),
                text: slot.doc.source.as_deref().unwrap_or_default().to_string(),
            };
            let bytes = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
            Some((
                doc_key.clone(),
                Write {
                    table: Table::DOCUMENTS,
                    key: doc_key.clone(),
                    value: Some(bytes),
                },
            ))
        };
        slot.blocked = None;
        let record = SessionRecord {
            snapshot,
            document: doc_key,
            document_url: slot.create.document_url.clone(),
            parent: slot.links.parent().cloned(),
            children: slot
                .links
                .children()
                .filter_map(|(inv, c)| match c {
                    Child::Session(s) => Some((inv.clone(), s.clone())),
                    Child::Service { .. } | Child::Fetching { .. } => None,
                })
                .collect(),
            services,
            timers,
            events_processed: slot.events_processed,
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
        Ok(Some((bytes, doc_write)))
    }

    /// Hibernates idle sessions at rest, and the least recently used ones past the cap.
    fn sweep(&mut self) {
        self.next_sweep = Instant::now() + SWEEP_INTERVAL;
        self.document_keys
            .retain(|_, (doc, _)| doc.strong_count() > 0);
        scxml::datamodel::ecmascript::trim_idle_contexts();
        let policy = self.router.config.hibernation;
        let now = Instant::now();
        let over_cap = self.live.len().saturating_sub(policy.max_live_per_shard);
        let mut candidates: Vec<(bool, Instant, String)> = Vec::new();
        for id in &self.live {
            let Some(s) = self.sessions.get(id) else {
                continue;
            };
            let at_rest = !s.hibernated
                && s.interpreter.is_some()
                && s.running
                && s.blocked.is_none()
                && s.outbox.is_empty()
                && !s.http_in_flight
                && !self.dirty.contains(id);
            if !at_rest {
                continue;
            }
            let idle_for = now.duration_since(s.last_active);
            let idle = policy.idle_after.is_some_and(|after| idle_for >= after);
            let parked = policy.parked_after.is_some_and(|after| {
                idle_for >= after
                    && s.links.has_no_children()
                    && self
                        .timers
                        .next_due_of(id)
                        .is_none_or(|due| due > now + after)
            });
            // Past the cap every session at rest is a candidate, least recently used first.
            if idle || parked || over_cap > 0 {
                candidates.push((!(idle || parked), s.last_active, id.clone()));
            }
        }
        // Idle and parked sessions first (they all go), then the least recently used.
        candidates.sort_unstable();
        let mut over_cap = over_cap;
        let mut leaving = Vec::new();
        for (kept_for_cap, _, id) in candidates {
            if kept_for_cap && over_cap == 0 {
                break;
            }
            over_cap = over_cap.saturating_sub(1);
            leaving.push(id);
        }
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
    }

    /// Writes the records of the sessions about to hibernate that are behind (see
    /// `unsaved`); one that cannot be persisted is kept live, with the reason, and leaves
    /// `leaving`. False when the store failed: then none may hibernate.
    fn save_unsaved(&mut self, leaving: &mut Vec<String>) -> bool {
        self.unsaved.retain(|id| self.sessions.contains_key(id));
        let mut batch = Vec::new();
        let mut new_documents = Vec::new();
        let mut blocked = HashSet::new();
        for id in leaving.iter() {
            if !self.unsaved.contains(id) {
                continue;
            }
            if self
                .batch_record(id, &mut batch, &mut new_documents)
                .is_err()
            {
                blocked.insert(id.clone());
            }
        }
        if let Err(e) = self.router.config.store.apply(&batch) {
            tracing::error!(shard = self.index, error = %e, "writing hibernating sessions failed");
            return false;
        }
        self.stored_documents.extend(new_documents);
        leaving.retain(|id| !blocked.contains(id));
        for id in leaving.iter() {
            self.unsaved.remove(id);
        }
        true
    }

    /// Brings back this shard's sessions from the store, hibernated, with their timers.
    fn load_from_store(&mut self) {
        let store = self.router.config.store.clone();
        let records = match store.scan(Table::SESSIONS) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(shard = self.index, error = %e, "cannot read stored sessions");
                return;
            }
        };
        let now = Instant::now();
        let now_wall = SystemTime::now();
        let mut restored = 0usize;
        for (id, bytes) in records {
            if self.router.shard_of(&id) != self.index {
                continue;
            }
            let record: SessionRecord = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(session = %id, error = %e, "unreadable session record");
                    continue;
                }
            };
            let doc = match self.stored_document(&record.document) {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::error!(session = %id, error = %e, "cannot rebuild the session's document");
                    continue;
                }
            };
            for t in &record.timers {
                self.timers.insert(
                    record::unix_ms_to_instant(t.due_unix_ms, now, now_wall),
                    Timer {
                        from: id.clone(),
                        sendid: t.sendid.clone(),
                        to: t.to.clone(),
                        event: t.event.clone(),
                        basichttp: t.basichttp,
                    },
                );
            }
            let running = record.snapshot.running;
            let configuration = record
                .snapshot
                .configuration
                .iter()
                .filter_map(|s| doc.state_by_id(s))
                .collect();
            let mut links = Links::new(record.parent.clone());
            for (invokeid, child) in record.children {
                links.start(invokeid, Child::Session(child));
            }
            self.router.register(&id);
            for service in record.services {
                let invokeid = service.invokeid.clone();
                if let Some(child) = self.resume_service(&id, service) {
                    links.start(invokeid, child);
                }
            }
            self.router.stats.hibernated.fetch_add(1, Ordering::Relaxed);
            if !running && record.parent.is_none() {
                self.expiries.push_back((now + DONE_RETENTION, id.clone()));
            }
            self.sessions.insert(
                id,
                Slot {
                    interpreter: None,
                    hibernated: true,
                    doc,
                    links,
                    create: CreateOptions {
                        initial_data: Vec::new(),
                        document_url: record.document_url,
                    },
                    outbox: VecDeque::new(),
                    http_in_flight: false,
                    trace: None,
                    trace_seq: 0,
                    events_processed: record.events_processed,
                    last_active: now,
                    last_configuration: configuration,
                    running,
                    blocked: None,
                },
            );
            restored += 1;
        }
        if restored > 0 {
            tracing::info!(
                shard = self.index,
                sessions = restored,
                "restored sessions from the store"
            );
        }
    }

    /// Brings back a custom service of a session loaded from the store. A service that
    /// cannot be resumed is reported to the session as `error.execution`, as a failed start
    /// would be, so the flow can decide what to do.
    fn resume_service(&mut self, session: &str, record: ServiceRecord) -> Option<Child<String>> {
        let sink = Arc::new(RouterSink::new(
            &self.router,
            session,
            Some(&record.invokeid),
        ));
        let resumed = match self.router.config.registry.invoke_type(&record.kind) {
            Some(kind) => kind.resume(&record.invokeid, record.state, sink),
            None => Err(format!("unsupported invoke type {}", record.kind)),
        };
        match resumed {
            Ok(service) => Some(Child::Service {
                kind: record.kind,
                service,
            }),
            Err(reason) => {
                tracing::error!(%session, invokeid = %record.invokeid, %reason,
                    "cannot resume an invocation");
                let message = format!("invocation {} was lost: {reason}", record.invokeid);
                let _ = self.router.deliver(
                    session,
                    Event::platform("error.execution", Some(Value::String(message))),
                );
                None
            }
        }
    }

    fn stored_document(&mut self, key: &str) -> Result<Arc<Document>, String> {
        if let Some(doc) = self.documents.get(key) {
            return Ok(doc.clone());
        }
        let bytes = self
            .router
            .config
            .store
            .get(Table::DOCUMENTS, key)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("document {key} is not stored"))?;
        let record: DocumentRecord = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let base = record.url.as_deref().and_then(|u| url::Url::parse(u).ok());
        let doc = scxml::parse::parse_with(
            &record.text,
            record.url.as_deref().unwrap_or(key),
            base.as_ref(),
            self.resolver(),
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())?;
        self.documents.insert(key.to_string(), doc.clone());
        self.stored_documents.insert(key.to_string());
        Ok(doc)
    }

    fn view(&mut self, id: &str) -> Result<SessionView, EngineError> {
        let unknown = || EngineError::UnknownSession(id.to_string());
        if !self.wake(id) {
            return Err(unknown());
        }
        let now = Instant::now();
        let pending_sends = self
            .timers
            .pending_of(id)
            .into_iter()
            .map(|(t, due)| PendingSend {
                sendid: t.sendid.clone(),
                event: t.event.name.clone(),
                due_in_ms: due.saturating_duration_since(now).as_millis() as u64,
            })
            .collect();
        let slot = self.sessions.get_mut(id).ok_or_else(unknown)?;
        let status = slot.status();
        let interpreter = slot.interpreter.as_mut().ok_or_else(unknown)?;
        Ok(SessionView {
            id: id.to_string(),
            status,
            name: interpreter.document().name.clone(),
            document: slot.create.document_url.clone(),
            configuration: interpreter
                .active_ids()
                .into_iter()
                .map(str::to_string)
                .collect(),
            active_states: interpreter
                .active_atomic_ids()
                .into_iter()
                .map(str::to_string)
                .collect(),
            final_state: interpreter.final_state().map(str::to_string),
            datamodel: interpreter
                .datamodel_mut()
                .export()
                .unwrap_or_else(|e| Value::String(format!("not exportable: {e}"))),
            pending_sends,
            invokes: slot.links.invoke_ids().cloned().collect(),
            events_processed: slot.events_processed,
            not_persisted: slot.blocked.clone(),
        })
    }
}

/// The records of a session's running custom services; an error names the first one that
/// cannot be persisted.
/// The session at the top of `id`'s invocation tree (its children live on its shard).
fn root_of(sessions: &HashMap<String, Slot>, id: &str) -> String {
    let mut root = id;
    while let Some((parent, _)) = sessions.get(root).and_then(|s| s.links.parent()) {
        root = parent;
    }
    root.to_string()
}

fn persist_services(links: &Links<String>) -> Result<Vec<ServiceRecord>, String> {
    let mut services = Vec::new();
    for (invokeid, child) in links.children() {
        if let Child::Fetching { .. } = child {
            return Err(format!(
                "the document of invocation {invokeid} is still being read"
            ));
        }
        if let Child::Service { kind, service } = child {
            let state = service.persist().ok_or_else(|| {
                format!("it has a running invocation of type {kind}, which cannot be persisted")
            })?;
            services.push(ServiceRecord {
                invokeid: invokeid.clone(),
                kind: kind.clone(),
                state,
            });
        }
    }
    Ok(services)
}

fn atomic_ids(doc: &Document, configuration: &[StateId]) -> Vec<String> {
    configuration
        .iter()
        .map(|&s| doc.state(s))
        .filter(|s| s.is_atomic())
        .map(|s| s.id.clone())
        .collect()
}

/// The [`Host`] a session sees while it runs on a shard: it records effects (and logs, for
/// the trace) for the shard to apply once the macrostep is over.
struct ShardHost<'a> {
    session: &'a str,
    links: &'a mut Links<String>,
    router: &'a Arc<Router>,
    effects: Vec<Effect>,
    /// `<log>`s of the macrostep: label and message.
    logs: Vec<(Option<String>, String)>,
}

impl<'a> ShardHost<'a> {
    fn new(
        session: &'a str,
        links: &'a mut Links<String>,
        router: &'a Arc<Router>,
    ) -> ShardHost<'a> {
        ShardHost {
            session,
            links,
            router,
            effects: Vec::new(),
            logs: Vec::new(),
        }
    }
}

impl Host for ShardHost<'_> {
    fn send(&mut self, request: SendRequest) -> Result<(), SendError> {
        let own = self.session.to_string();
        let router = self.router;
        let outgoing = route_send(request, &own, self.links, &router.config.registry, |id| {
            router.exists(id).then(|| id.to_string())
        })?;
        match outgoing {
            Outgoing::Scxml {
                to,
                event,
                sendid,
                delay,
            } => self.effects.push(Effect::Deliver {
                to,
                event,
                sendid,
                delay,
            }),
            Outgoing::Handled => {}
            Outgoing::BasicHttp(request) => self.effects.push(Effect::HttpSend(request)),
            Outgoing::Custom { processor, request } => {
                self.effects.push(Effect::CustomSend { processor, request })
            }
        }
        Ok(())
    }

    fn cancel(&mut self, sendid: &str) {
        self.effects.push(Effect::Cancel(sendid.to_string()));
    }

    fn invoke(&mut self, request: InvokeRequest) -> Result<(), String> {
        check_invoke_type(&request.kind, &self.router.config.registry)?;
        self.effects.push(Effect::StartInvoke(request));
        Ok(())
    }

    fn cancel_invoke(&mut self, invokeid: &str) {
        self.effects
            .push(Effect::CancelInvoke(invokeid.to_string()));
    }

    fn forward(&mut self, invokeid: &str, event: &Event) {
        if let Some(Delivery::Session(child)) = self.links.forward(invokeid, event) {
            self.effects.push(Effect::Deliver {
                to: child,
                event: event.clone(),
                sendid: String::new(),
                delay: Duration::ZERO,
            });
        }
    }

    fn log(&mut self, label: Option<&str>, message: &str) {
        tracing::info!(session = %self.session, label = label.unwrap_or(""), "{message}");
        self.logs
            .push((label.map(str::to_string), message.to_string()));
    }

    fn done(&mut self, donedata: Option<Value>) {
        self.effects.push(Effect::Done(donedata));
    }
}
