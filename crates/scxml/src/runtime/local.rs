//! A single-threaded host: one FIFO of ready external events for all sessions, timers for
//! delayed sends, SCXML child sessions and custom invoke types, logs collected in memory.
//!
//! With [`Clock::Virtual`] time advances straight to the next timer whenever no event is
//! ready, so a document that waits five seconds runs in microseconds and deterministically;
//! with [`Clock::Real`] the runtime sleeps until timers are due.

use crate::interpreter::{
    is_scxml_invoke_type, Event, Host, Interpreter, InvokeError, InvokeRequest, InvokeSource,
    SendError, SendRequest, SessionOptions,
};
use crate::io::{
    check_invoke_type, route_send, Child, Delivery, EventSink, Links, Outgoing, Registry,
};
use crate::model::Document;
use crate::parse::{FileResolver, Resolver};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Identifies a session within one runtime.
pub type SessionKey = u64;

/// How time passes for delayed sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Jump to the next timer when there is nothing else to do.
    Virtual,
    /// Wait for timers in real time.
    Real,
}

/// One `<log>` output.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The session that logged.
    pub session: SessionKey,
    /// The `<log label>`.
    pub label: Option<String>,
    /// The evaluated `<log expr>` (empty without one).
    pub message: String,
}

/// Why [`LocalRuntime::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The watched session halted.
    Halted,
    /// Nothing is left to do: no events, no timers.
    Idle,
    /// The wall-clock deadline passed first.
    TimedOut,
}

struct Slot {
    /// Taken out while the session runs, so its host can reach the rest of the runtime.
    interpreter: Option<Interpreter>,
    /// Its parent, its invocations, and those it cancelled.
    links: Links<SessionKey>,
}

/// A delayed send waiting for its time.
struct Timer {
    from: SessionKey,
    sendid: String,
    to: SessionKey,
    event: Event,
}

/// Work that a session asked for while running and that the runtime does after it returns.
enum Action {
    StartChild {
        parent: SessionKey,
        request: InvokeRequest,
    },
    CancelChild {
        parent: SessionKey,
        invokeid: String,
    },
    Done {
        session: SessionKey,
        donedata: Option<Value>,
    },
}

/// Posts events from custom types into the runtime's inbox.
struct InboxSink {
    inbox: Arc<Mutex<VecDeque<(SessionKey, Event)>>>,
    session: SessionKey,
    invokeid: Option<String>,
}

impl EventSink for InboxSink {
    fn deliver(&self, mut event: Event) {
        if let Some(id) = &self.invokeid {
            event.invokeid = Some(id.clone());
        }
        if let Ok(mut inbox) = self.inbox.lock() {
            inbox.push_back((self.session, event));
        }
    }
}

type Observer = Box<dyn FnMut(SessionKey, Option<&Event>, &Interpreter)>;

/// Runs sessions on the calling thread.
pub struct LocalRuntime {
    clock: Clock,
    started_at: Instant,
    /// Virtual time (or real time since start, for [`Clock::Real`]).
    now: Duration,
    sessions: HashMap<SessionKey, Slot>,
    by_session_id: HashMap<String, SessionKey>,
    ready: VecDeque<(SessionKey, Event)>,
    timers: BTreeMap<(Duration, u64), Timer>,
    inbox: Arc<Mutex<VecDeque<(SessionKey, Event)>>>,
    actions: Vec<Action>,
    registry: Registry,
    /// Reads every document and `src` the sessions name.
    resolver: Arc<dyn Resolver>,
    logs: Vec<LogRecord>,
    echo_logs: bool,
    observer: Option<Observer>,
    next_key: SessionKey,
    next_seq: u64,
}

impl LocalRuntime {
    /// An empty runtime: no sessions, no custom types, local files for `src`
    /// ([`FileResolver::unrestricted`]).
    pub fn new(clock: Clock) -> LocalRuntime {
        LocalRuntime {
            clock,
            started_at: Instant::now(),
            now: Duration::ZERO,
            sessions: HashMap::new(),
            by_session_id: HashMap::new(),
            ready: VecDeque::new(),
            timers: BTreeMap::new(),
            inbox: Arc::new(Mutex::new(VecDeque::new())),
            actions: Vec::new(),
            registry: Registry::new(),
            resolver: Arc::new(FileResolver::unrestricted()),
            logs: Vec::new(),
            echo_logs: false,
            observer: None,
            next_key: 1,
            next_seq: 0,
        }
    }

    /// The custom send and invoke types sessions of this runtime can use.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Reads the documents that `<invoke src>` names, and everything they name, through
    /// `resolver` (default: local files, [`FileResolver::unrestricted`]).
    pub fn set_resolver(&mut self, resolver: Arc<dyn Resolver>) {
        self.resolver = resolver;
    }

    /// Also print every `<log>` to stderr as it happens.
    pub fn echo_logs(&mut self, on: bool) {
        self.echo_logs = on;
    }

    /// Calls `observer` after a session starts (no event) and after each external event it
    /// processes, with the session's key, the event and the session as it is then (tracing,
    /// the CLI's `--trace`, tests).
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// Every `<log>` output so far, of every session, in order.
    pub fn logs(&self) -> &[LogRecord] {
        &self.logs
    }

    /// The session `key`: running, or halted and kept for inspection. `None` for a key this
    /// runtime never handed out, and for a child session once it ended.
    pub fn session(&self, key: SessionKey) -> Option<&Interpreter> {
        self.sessions.get(&key)?.interpreter.as_ref()
    }

    /// The session `key`, mutably (e.g. to export its datamodel or take a snapshot).
    pub fn session_mut(&mut self, key: SessionKey) -> Option<&mut Interpreter> {
        self.sessions.get_mut(&key)?.interpreter.as_mut()
    }

    /// Creates a session of `doc` and runs its first macrostep.
    pub fn start(&mut self, doc: Arc<Document>, options: SessionOptions) -> SessionKey {
        let key = self.create(doc, options, None);
        self.run_session(key, None);
        self.drain_actions();
        key
    }

    /// Queues an external event for a session.
    pub fn send_event(&mut self, key: SessionKey, event: Event) {
        self.ready.push_back((key, event));
    }

    /// True when an external event is waiting to be processed (delayed sends not yet due do
    /// not count). The CLI uses it to deliver each `--event` once the previous one settled.
    pub fn has_ready_events(&self) -> bool {
        !self.ready.is_empty() || self.inbox.lock().map(|i| !i.is_empty()).unwrap_or(false)
    }

    /// Processes events and timers until `watch` halts, nothing is left, or `deadline` passes.
    pub fn run(&mut self, watch: SessionKey, deadline: Option<Instant>) -> RunOutcome {
        loop {
            if !self.session(watch).is_some_and(|s| s.is_running()) {
                return RunOutcome::Halted;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return RunOutcome::TimedOut;
            }
            if !self.step(deadline) {
                return RunOutcome::Idle;
            }
        }
    }

    /// Processes one ready event, or fires the next timer. False when there is nothing to do.
    pub fn step(&mut self, deadline: Option<Instant>) -> bool {
        self.drain_inbox();
        if let Some((key, event)) = self.ready.pop_front() {
            self.run_session(key, Some(event));
            self.drain_actions();
            return true;
        }
        let Some((&(due, seq), _)) = self.timers.iter().next() else {
            return false;
        };
        match self.clock {
            Clock::Virtual => self.now = self.now.max(due),
            Clock::Real => {
                let elapsed = self.started_at.elapsed();
                if elapsed < due {
                    let mut wait = due - elapsed;
                    if let Some(d) = deadline {
                        wait = wait.min(d.saturating_duration_since(Instant::now()));
                    }
                    std::thread::sleep(wait.min(Duration::from_millis(20)));
                    return true;
                }
                self.now = elapsed;
            }
        }
        if let Some(timer) = self.timers.remove(&(due, seq)) {
            self.ready.push_back((timer.to, timer.event));
        }
        true
    }

    fn drain_inbox(&mut self) {
        if let Ok(mut inbox) = self.inbox.lock() {
            self.ready.extend(inbox.drain(..));
        }
    }

    fn create(
        &mut self,
        doc: Arc<Document>,
        options: SessionOptions,
        parent: Option<(SessionKey, String)>,
    ) -> SessionKey {
        let key = self.next_key;
        self.next_key += 1;
        let interpreter = Interpreter::new(doc, options);
        self.by_session_id
            .insert(interpreter.session_id().to_string(), key);
        self.sessions.insert(
            key,
            Slot {
                interpreter: Some(interpreter),
                links: Links::new(parent),
            },
        );
        key
    }

    /// Starts a session (no event) or gives it one event, with this runtime as its host.
    fn run_session(&mut self, key: SessionKey, event: Option<Event>) {
        let Some(slot) = self.sessions.get_mut(&key) else {
            return;
        };
        if event.as_ref().is_some_and(|e| !slot.links.accepts(e)) {
            return;
        }
        let Some(mut interpreter) = slot.interpreter.take() else {
            return;
        };
        {
            let mut host = SessionHost { rt: self, key };
            match &event {
                None => interpreter.start(&mut host),
                Some(e) => interpreter.process_event(e.clone(), &mut host),
            }
        }
        if let Some(observer) = self.observer.as_mut() {
            observer(key, event.as_ref(), &interpreter);
        }
        if let Some(slot) = self.sessions.get_mut(&key) {
            slot.interpreter = Some(interpreter);
        }
    }

    fn drain_actions(&mut self) {
        while !self.actions.is_empty() {
            let actions = std::mem::take(&mut self.actions);
            for action in actions {
                match action {
                    Action::StartChild { parent, request } => self.start_child(parent, request),
                    Action::CancelChild { parent, invokeid } => {
                        self.cancel_child(parent, &invokeid)
                    }
                    Action::Done { session, donedata } => self.finish(session, donedata),
                }
            }
        }
    }

    fn start_child(&mut self, parent: SessionKey, request: InvokeRequest) {
        let invokeid = request.invokeid.clone();
        if is_scxml_invoke_type(&request.kind) {
            match self.child_document(parent, &request.source) {
                Ok(doc) => {
                    let options = SessionOptions {
                        initial_data: request.params,
                        ..SessionOptions::default()
                    };
                    let child = self.create(doc, options, Some((parent, invokeid.clone())));
                    if let Some(slot) = self.sessions.get_mut(&parent) {
                        slot.links.start(invokeid, Child::Session(child));
                    }
                    self.run_session(child, None);
                }
                Err(message) => self.ready.push_back((
                    parent,
                    Event::platform(
                        "error.execution",
                        Some(crate::interpreter::error_data(
                            Some("invoke"),
                            None,
                            &message,
                        )),
                    ),
                )),
            }
            return;
        }
        let service = self.registry.invoke_type(&request.kind).cloned();
        let sink = Arc::new(InboxSink {
            inbox: self.inbox.clone(),
            session: parent,
            invokeid: Some(invokeid.clone()),
        });
        let kind = request.kind.clone();
        match service.map(|s| s.start(request, sink)) {
            Some(Ok(service)) => {
                if let Some(slot) = self.sessions.get_mut(&parent) {
                    slot.links.start(invokeid, Child::Service { kind, service });
                }
            }
            Some(Err(error)) => self.ready.push_back((
                parent,
                Event::platform("error.execution", Some(Value::String(error.to_string()))),
            )),
            None => self.ready.push_back((
                parent,
                Event::platform(
                    "error.execution",
                    Some(Value::String(
                        InvokeError::UnsupportedType(kind).to_string(),
                    )),
                ),
            )),
        }
    }

    /// Loads the document an SCXML invoke names.
    fn child_document(
        &self,
        parent: SessionKey,
        source: &InvokeSource,
    ) -> Result<Arc<Document>, String> {
        let base = self
            .session(parent)
            .and_then(|p| p.document().base_url.clone());
        crate::io::child_document(source, base.as_ref(), self.resolver.as_ref())
            .map_err(|e| e.to_string())
    }

    fn cancel_child(&mut self, parent: SessionKey, invokeid: &str) {
        let Some(slot) = self.sessions.get_mut(&parent) else {
            return;
        };
        let Some(child) = slot.links.cancel(invokeid) else {
            return;
        };
        match child {
            Child::Service { mut service, .. } => service.cancel(),
            // This host reads documents in place, so no child is ever being read.
            Child::Fetching { .. } => {}
            Child::Session(key) => {
                if let Some(mut interpreter) = self
                    .sessions
                    .get_mut(&key)
                    .and_then(|s| s.interpreter.take())
                {
                    let mut host = SessionHost { rt: self, key };
                    interpreter.cancel(&mut host);
                }
                self.remove_session(key);
            }
        }
    }

    /// A session halted in a top-level final state: tell its parent, forget it (the root
    /// session stays for inspection).
    fn finish(&mut self, session: SessionKey, donedata: Option<Value>) {
        let Some((parent, invokeid)) = self
            .sessions
            .get(&session)
            .and_then(|s| s.links.parent().cloned())
        else {
            return;
        };
        let done = self
            .sessions
            .get_mut(&parent)
            .and_then(|p| p.links.child_done(&invokeid, donedata));
        if let Some(event) = done {
            self.ready.push_back((parent, event));
        }
        self.remove_session(session);
    }

    /// Drops a session, its pending timers and its own children.
    fn remove_session(&mut self, key: SessionKey) {
        let Some(slot) = self.sessions.remove(&key) else {
            return;
        };
        self.timers.retain(|_, t| t.from != key);
        self.ready.retain(|(k, _)| *k != key);
        if let Some(i) = &slot.interpreter {
            self.by_session_id.remove(i.session_id());
        }
        for child in slot.links.into_children() {
            match child {
                Child::Session(k) => self.remove_session(k),
                Child::Service { mut service, .. } => service.cancel(),
                Child::Fetching { .. } => {}
            }
        }
    }

    fn schedule(
        &mut self,
        from: SessionKey,
        to: SessionKey,
        sendid: String,
        event: Event,
        delay: Duration,
    ) {
        if delay.is_zero() {
            self.ready.push_back((to, event));
            return;
        }
        let now = match self.clock {
            Clock::Virtual => self.now,
            Clock::Real => self.started_at.elapsed(),
        };
        self.next_seq += 1;
        self.timers.insert(
            (now + delay, self.next_seq),
            Timer {
                from,
                sendid,
                to,
                event,
            },
        );
    }
}

/// The [`Host`] a session sees: the runtime, and which session is calling.
struct SessionHost<'a> {
    rt: &'a mut LocalRuntime,
    key: SessionKey,
}

impl SessionHost<'_> {
    /// Where a custom type posts its answers: this session's queue.
    fn reply_sink(&self) -> Arc<dyn EventSink> {
        Arc::new(InboxSink {
            inbox: self.rt.inbox.clone(),
            session: self.key,
            invokeid: None,
        })
    }
}

impl Host for SessionHost<'_> {
    fn send(&mut self, request: SendRequest) -> Result<(), SendError> {
        let rt = &mut *self.rt;
        let Some(slot) = rt.sessions.get_mut(&self.key) else {
            return Err(SendError::Communication("the session has ended".into()));
        };
        let by_session_id = &rt.by_session_id;
        let outgoing = route_send(request, &self.key, &mut slot.links, &rt.registry, |id| {
            by_session_id.get(id).copied()
        })?;
        match outgoing {
            Outgoing::Scxml {
                to,
                event,
                sendid,
                delay,
            } => rt.schedule(self.key, to, sendid, event, delay),
            Outgoing::Handled => {}
            // This host has no HTTP client: Basic HTTP needs a registered type here.
            Outgoing::BasicHttp(request) => {
                let Some(processor) = rt.registry.send_type(&request.kind).cloned() else {
                    return Err(SendError::UnsupportedType(request.kind));
                };
                return processor.send(request, self.reply_sink());
            }
            Outgoing::Custom { processor, request } => {
                return processor.send(request, self.reply_sink());
            }
        }
        Ok(())
    }

    fn cancel(&mut self, sendid: &str) {
        let key = self.key;
        self.rt
            .timers
            .retain(|_, t| !(t.from == key && t.sendid == sendid));
    }

    fn invoke(&mut self, request: InvokeRequest) -> Result<(), InvokeError> {
        check_invoke_type(&request.kind, &self.rt.registry)?;
        self.rt.actions.push(Action::StartChild {
            parent: self.key,
            request,
        });
        Ok(())
    }

    fn cancel_invoke(&mut self, invokeid: &str) {
        self.rt.actions.push(Action::CancelChild {
            parent: self.key,
            invokeid: invokeid.to_string(),
        });
    }

    fn forward(&mut self, invokeid: &str, event: &Event) {
        let slot = self.rt.sessions.get_mut(&self.key);
        if let Some(Delivery::Session(child)) = slot.and_then(|s| s.links.forward(invokeid, event))
        {
            self.rt.ready.push_back((child, event.clone()));
        }
    }

    fn log(&mut self, label: Option<&str>, message: &str) {
        if self.rt.echo_logs {
            match label {
                Some(l) => eprintln!("[log] {l}: {message}"),
                None => eprintln!("[log] {message}"),
            }
        }
        self.rt.logs.push(LogRecord {
            session: self.key,
            label: label.map(str::to_string),
            message: message.to_string(),
        });
    }

    fn done(&mut self, donedata: Option<Value>) {
        self.rt.actions.push(Action::Done {
            session: self.key,
            donedata,
        });
    }
}
