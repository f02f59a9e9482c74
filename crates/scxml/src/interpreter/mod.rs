//! The W3C SCXML algorithm (Appendix D), sans-IO.
//!
//! An [`Interpreter`] is one session of a document. The host calls [`Interpreter::start`] once
//! and then [`Interpreter::process_event`] for each external event; each call runs the
//! macrostep to completion (eventless transitions and the internal queue until stable, then the
//! pending invocations) and returns. Effects leave through the [`Host`] trait. The functions of
//! Appendix D live in the private `algorithm` module under the spec's names; executable content
//! lives in `execute`.
//!
//! A session at rest can be captured as a [`SessionSnapshot`] and restored into a fresh
//! interpreter of the same document.

mod algorithm;
mod event;
mod execute;
mod host;
mod snapshot;
mod state_set;

pub use event::{error_data, Event, EventType};
pub use host::{
    is_basichttp, is_scxml_invoke_type, is_scxml_processor, Host, InvokeError, InvokeRequest,
    InvokeSource, NullHost, SendError, SendRequest, BASIC_HTTP_EVENT_PROCESSOR,
    SCXML_EVENT_PROCESSOR, SCXML_INVOKE_TYPE,
};
pub use snapshot::{InvokeSnapshot, SessionSnapshot, SnapshotError};
pub use state_set::{RangeIter, StateSet};

use crate::datamodel::{self, Datamodel, EvalContext, SystemVariables};
use crate::model::{Document, Pos, StateId, TransitionId};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;

/// How a session is set up.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// `_sessionid`; generated when empty.
    pub session_id: String,
    /// `_ioprocessors`: extra processors besides the SCXML one (key -> location). The SCXML
    /// processor is always published under both its short and full keys.
    pub io_processors: Vec<(String, String)>,
    /// Initial values that override the document's `<data>` (an invoke's params).
    pub initial_data: Vec<(String, Value)>,
    /// How much one macrostep may do before the session is ended as failed.
    pub limits: Limits,
}

/// Bounds on one macrostep, so that a chart that loops on its own (eventless transitions
/// that chase each other, an event that raises itself) ends instead of holding its thread.
///
/// They count steps, not time, so they end the same session at the same point on every host
/// and every machine. `None` lifts a bound (the benchmarks measure charts that loop forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Microsteps one macrostep may take.
    pub microsteps_per_macrostep: Option<u64>,
    /// Internal events (`<raise>`, `error.*`, `done.*`) one macrostep may queue.
    pub internal_events_per_macrostep: Option<u64>,
}

impl Limits {
    /// The default bounds: 100,000 of each, some tens of milliseconds of work, far beyond
    /// what a real flow does between two external events.
    pub const DEFAULT: Limits = Limits {
        microsteps_per_macrostep: Some(100_000),
        internal_events_per_macrostep: Some(100_000),
    };

    /// No bounds at all.
    pub const UNBOUNDED: Limits = Limits {
        microsteps_per_macrostep: None,
        internal_events_per_macrostep: None,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// Why a session ended without reaching a top-level final state, when it did not simply
/// stop (cancelled by its parent or its host).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Failure {
    /// One macrostep took more microsteps than [`Limits::microsteps_per_macrostep`].
    #[error("a macrostep ran more than {limit} microsteps without becoming stable (a loop of eventless or internal transitions)")]
    TooManyMicrosteps {
        /// The bound it crossed.
        limit: u64,
    },
    /// One macrostep raised more than [`Limits::internal_events_per_macrostep`] events.
    #[error("a macrostep queued more than {limit} internal events (an event that raises itself)")]
    TooManyInternalEvents {
        /// The bound it crossed.
        limit: u64,
    },
    /// The host ended it; the reason is the host's (a script that ran too long, a datamodel
    /// too large to keep...).
    #[error("{reason}")]
    Host {
        /// What the host says happened.
        reason: String,
    },
}

/// An invocation started by this session and not yet cancelled.
#[derive(Debug, Clone)]
struct ActiveInvoke {
    state: StateId,
    /// Index into the state's `invokes`.
    index: usize,
    invokeid: String,
    autoforward: bool,
}

/// Reusable buffers of the algorithm, kept between microsteps so the hot path does not
/// allocate.
#[derive(Debug, Default)]
struct Scratch {
    enabled: Vec<TransitionId>,
    filtered: Vec<TransitionId>,
    to_remove: Vec<TransitionId>,
    exit_set: StateSet,
    exit_list: Vec<StateId>,
    states_to_enter: StateSet,
    states_for_default_entry: StateSet,
    /// `defaultHistoryContent`: (parent state, history default transition).
    default_history_content: Vec<(StateId, TransitionId)>,
    atomic: Vec<StateId>,
}

/// One running session of a document.
pub struct Interpreter {
    doc: Arc<Document>,
    dm: Box<dyn Datamodel>,
    session_id: String,
    configuration: StateSet,
    states_to_invoke: StateSet,
    /// `historyValue`, indexed by history state; `None` until first recorded.
    history_value: Vec<Option<Vec<StateId>>>,
    internal_queue: VecDeque<Event>,
    running: bool,
    started: bool,
    /// Late binding: states whose `<data>` has been initialised.
    data_initialized: StateSet,
    invokes: Vec<ActiveInvoke>,
    next_id: u64,
    /// The top-level final state the session halted in.
    final_state: Option<StateId>,
    /// The configuration when the session halted (for introspection after the end).
    final_configuration: Vec<StateId>,
    /// Whether any state has history children / invokes (skips work when not).
    has_history: bool,
    has_invokes: bool,
    options: SessionOptions,
    scratch: Scratch,
    stats: Stats,
    /// A state whose entries are counted (for benchmarks).
    watched: Option<StateId>,
    /// Microsteps left before a macrostep is interrupted (see
    /// [`Interpreter::set_microstep_budget`]).
    microstep_budget: Option<u64>,
    /// What the current macrostep has done, against [`SessionOptions::limits`].
    macrostep_microsteps: u64,
    macrostep_internal_events: u64,
    /// The platform error events the current (or last) macrostep raised, the first few.
    macrostep_errors: Vec<Event>,
    /// The transitions the current (or last) macrostep took, in order, the first few.
    macrostep_transitions: Vec<TransitionId>,
    /// Why the session failed, once it has.
    failure: Option<Failure>,
}

/// Counters of what the session has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Microsteps taken (sets of transitions executed together).
    pub microsteps: u64,
    /// Macrosteps completed: times the session reached a stable configuration while still
    /// running (the last one, that ends in a top-level final state, is not counted).
    pub macrosteps: u64,
    /// External events processed.
    pub events: u64,
    /// Entries of the watched state (see [`Interpreter::watch_entries`]).
    pub watched_entries: u64,
}

impl Interpreter {
    /// A session of `doc` with the datamodel the document asks for.
    pub fn new(doc: Arc<Document>, options: SessionOptions) -> Interpreter {
        let dm = datamodel::for_document(&doc);
        Interpreter::with_datamodel(doc, dm, options)
    }

    /// A session of `doc` with a given datamodel.
    pub fn with_datamodel(
        doc: Arc<Document>,
        dm: Box<dyn Datamodel>,
        mut options: SessionOptions,
    ) -> Interpreter {
        let n = doc.state_count();
        if options.session_id.is_empty() {
            options.session_id = generate_session_id();
        }
        let has_history = doc.states.iter().any(|s| s.is_history());
        let has_invokes = doc.states.iter().any(|s| !s.invokes.is_empty());
        let scratch = Scratch {
            exit_set: StateSet::with_capacity(n),
            states_to_enter: StateSet::with_capacity(n),
            states_for_default_entry: StateSet::with_capacity(n),
            ..Scratch::default()
        };
        Interpreter {
            session_id: options.session_id.clone(),
            configuration: StateSet::with_capacity(n),
            states_to_invoke: StateSet::with_capacity(n),
            history_value: vec![None; if has_history { n } else { 0 }],
            internal_queue: VecDeque::new(),
            running: false,
            started: false,
            data_initialized: StateSet::with_capacity(n),
            invokes: Vec::new(),
            next_id: 0,
            final_state: None,
            final_configuration: Vec::new(),
            has_history,
            has_invokes,
            options,
            scratch,
            stats: Stats::default(),
            watched: None,
            microstep_budget: None,
            macrostep_microsteps: 0,
            macrostep_internal_events: 0,
            macrostep_errors: Vec::new(),
            macrostep_transitions: Vec::new(),
            failure: None,
            doc,
            dm,
        }
    }

    /// The document this session runs.
    pub fn document(&self) -> &Arc<Document> {
        &self.doc
    }

    /// `_sessionid`: the one given in [`SessionOptions::session_id`], or the generated one.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// False once the session has halted (top-level final state or cancel).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Why the session failed, if it did: it crossed one of its [`Limits`], or its host ended
    /// it with [`Interpreter::fail`].
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Ends the session as failed: exits every active state the way `exitInterpreter` does
    /// (onexit, cancelled invocations) and reports no done event. A no-op once halted.
    pub fn fail(&mut self, failure: Failure, host: &mut dyn Host) {
        if self.running {
            self.running = false;
            self.failure = Some(failure);
            self.exit_interpreter(host);
        }
    }

    /// Replaces the session's bounds (a restored session starts with the defaults).
    pub fn set_limits(&mut self, limits: Limits) {
        self.options.limits = limits;
    }

    /// The top-level final state the session ended in, if it did.
    pub fn final_state(&self) -> Option<&str> {
        self.final_state.map(|s| self.doc.state(s).id.as_str())
    }

    /// Active states in document order (while running; the last configuration once halted).
    pub fn configuration(&self) -> Vec<StateId> {
        if self.running || !self.started {
            self.configuration.iter().collect()
        } else {
            self.final_configuration.clone()
        }
    }

    /// Ids of the active atomic states, in document order.
    pub fn active_atomic_ids(&self) -> Vec<&str> {
        self.configuration()
            .into_iter()
            .map(|s| self.doc.state(s))
            .filter(|s| s.is_atomic())
            .map(|s| s.id.as_str())
            .collect()
    }

    /// Ids of all active states, in document order.
    pub fn active_ids(&self) -> Vec<&str> {
        self.configuration()
            .into_iter()
            .map(|s| self.doc.state(s).id.as_str())
            .collect()
    }

    /// What the session has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Counts every entry of `state` in [`Stats::watched_entries`].
    pub fn watch_entries(&mut self, state: StateId) {
        self.watched = Some(state);
    }

    /// Bounds the microsteps the next calls may run: when the budget is used up the
    /// macrostep stops between two microsteps and the session stays running; [`Interpreter::resume`]
    /// continues it. This is how a host bounds a chart that loops through eventless
    /// transitions forever (and how the benchmarks measure such charts). `None`: unlimited.
    pub fn set_microstep_budget(&mut self, budget: Option<u64>) {
        self.microstep_budget = budget;
    }

    /// Continues a macrostep interrupted by the microstep budget; a no-op when stable.
    pub fn resume(&mut self, host: &mut dyn Host) {
        if self.running {
            self.main_event_loop(host);
        }
    }

    /// The datamodel, e.g. to export it.
    pub fn datamodel_mut(&mut self) -> &mut dyn Datamodel {
        self.dm.as_mut()
    }

    /// `interpret(doc)`: creates the datamodel, enters the initial configuration and runs the
    /// first macrostep.
    pub fn start(&mut self, host: &mut dyn Host) {
        if self.started {
            return;
        }
        self.started = true;
        self.running = true;
        self.begin_macrostep();
        self.initialize_datamodel(host);
        let doc = self.doc.clone();
        if !doc.scripts.is_empty() {
            self.execute_block(&doc.scripts, host);
        }
        let initial = doc.states[crate::model::ROOT as usize]
            .initial
            .expect("the root always has an initial transition");
        self.scratch.enabled.clear();
        self.scratch.enabled.push(initial);
        let enabled = std::mem::take(&mut self.scratch.enabled);
        self.enter_states(&enabled, host);
        self.scratch.enabled = enabled;
        self.main_event_loop(host);
    }

    /// The error events (`error.execution`, `error.communication`, ...) the last macrostep
    /// raised, the first sixteen, with their data ([`error_data`]): what a trace shows.
    pub fn macrostep_errors(&self) -> &[Event] {
        &self.macrostep_errors
    }

    /// The transitions the last macrostep took (indices into the document's transitions, as
    /// [`crate::chart::ChartTransition::index`] names them), in order, the first sixty-four.
    pub fn macrostep_transitions(&self) -> &[TransitionId] {
        &self.macrostep_transitions
    }

    /// Processes one external event: finalize and autoforward for invocations, the event's
    /// transitions, then the macrostep to completion. Ignored once the session has halted.
    pub fn process_event(&mut self, event: Event, host: &mut dyn Host) {
        if !self.running {
            return;
        }
        self.stats.events += 1;
        self.begin_macrostep();
        self.process_external_event(event, host);
        self.main_event_loop(host);
    }

    /// Cancels the session (e.g. its invoking state was exited): runs `exitInterpreter`
    /// without reporting done.
    pub fn cancel(&mut self, host: &mut dyn Host) {
        if self.running {
            self.running = false;
            self.exit_interpreter(host);
        }
    }

    /// `_sessionid`, `_name` and `_ioprocessors` of this session.
    fn system_variables(&self) -> SystemVariables {
        let location = format!("#_scxml_{}", self.session_id);
        let mut io_processors = vec![
            ("scxml".to_string(), location.clone()),
            (SCXML_EVENT_PROCESSOR.to_string(), location),
        ];
        io_processors.extend(self.options.io_processors.iter().cloned());
        SystemVariables {
            session_id: self.session_id.clone(),
            name: self.doc.name.clone().unwrap_or_default(),
            io_processors,
        }
    }

    fn initialize_datamodel(&mut self, host: &mut dyn Host) {
        let sys = self.system_variables();
        if let Err(e) = self.dm.init_system(&sys) {
            self.raise_error("error.execution", e.message, host);
        }
        let doc = self.doc.clone();
        let late = doc.binding == crate::model::Binding::Late;
        for (index, state) in doc.states.iter().enumerate() {
            if state.data.is_empty() {
                continue;
            }
            if late && index != crate::model::ROOT as usize {
                for data in &state.data {
                    if let Err(e) = self.dm.declare(&data.id) {
                        self.raise_error("error.execution", e.message, host);
                    }
                }
            } else {
                self.initialize_state_data(index as StateId, host);
            }
        }
    }

    /// Creates and assigns the `<data>` of one state; invoke params override document values.
    fn initialize_state_data(&mut self, state: StateId, host: &mut dyn Host) {
        self.data_initialized.insert(state);
        let doc = self.doc.clone();
        for data in &doc.state(state).data {
            let preset = self
                .options
                .initial_data
                .iter()
                .find(|(name, _)| *name == data.id)
                .map(|(_, v)| v.clone());
            let result = match preset {
                Some(value) => self.dm.set_value(&data.id, &value),
                None => {
                    let cx = EvalContext {
                        doc: &doc,
                        active: &self.configuration,
                    };
                    self.dm.init_data(data, cx)
                }
            };
            if let Err(e) = result {
                self.raise_error_at(
                    "error.execution",
                    Some(("data", data.pos)),
                    format!("data '{}': {}", data.id, e),
                    host,
                );
            }
        }
    }

    /// Places a platform error event on the internal queue (data: [`error_data`], without a
    /// known element).
    fn raise_error(&mut self, name: &str, message: String, host: &mut dyn Host) {
        self.raise_error_at(name, None, message, host);
    }

    /// Places a platform error event naming the element that failed (`site`: its tag and
    /// position) on the internal queue.
    fn raise_error_at(
        &mut self,
        name: &str,
        site: Option<(&str, Pos)>,
        message: String,
        host: &mut dyn Host,
    ) {
        let _ = host;
        self.raise_send_error(name, site, message, None);
    }

    /// Places the error event of a failed element (with the send id of a failed `<send>`) on
    /// the internal queue.
    fn raise_send_error(
        &mut self,
        name: &str,
        site: Option<(&str, Pos)>,
        message: String,
        sendid: Option<String>,
    ) {
        tracing::debug!(session = %self.session_id, %name, %message, "error event");
        let (tag, pos) = site.map_or((None, None), |(tag, pos)| (Some(tag), Some(pos)));
        let mut event = Event::platform(name, Some(error_data(tag, pos, &message)));
        event.sendid = sendid;
        self.enqueue_internal(event);
    }

    fn generate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// A fresh session id: 32 lowercase hex digits (128 bits) from the operating system's
/// cryptographically secure generator (`getrandom`). Ids are handed to clients of the server,
/// and knowing one is enough to send the session events, so they must be unguessable, not
/// merely unique.
///
/// # Panics
///
/// When the operating system cannot provide random bytes at all, which no request can cause;
/// the standard library's `HashMap` panics the same way on such a platform.
pub fn generate_session_id() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random number generator failed: {e}");
    }
    let mut id = String::with_capacity(32);
    for byte in bytes {
        use std::fmt::Write as _;
        let _ = write!(id, "{byte:02x}");
    }
    id
}

#[cfg(test)]
mod tests;
