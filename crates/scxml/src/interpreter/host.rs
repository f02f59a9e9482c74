//! The host interface: everything the sans-IO interpreter asks of the outside world.
//!
//! The interpreter never touches a socket, thread or clock. When executable content sends an
//! event it cannot deliver itself (anything but `#_internal` without delay), starts or cancels
//! an invocation, logs, or when the session halts, it calls the [`Host`] it was given. The host
//! (the CLI's local runtime, the test runner, the server) owns queues, timers and routing, and
//! feeds events back with [`super::Interpreter::process_event`].

use super::Event;
use crate::model::Document;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The type URI of the SCXML Event I/O Processor.
pub const SCXML_EVENT_PROCESSOR: &str = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor";
/// The type URI of the Basic HTTP Event I/O Processor.
pub const BASIC_HTTP_EVENT_PROCESSOR: &str = "http://www.w3.org/TR/scxml/#BasicHTTPEventProcessor";
/// The invoke type URI of SCXML child sessions.
pub const SCXML_INVOKE_TYPE: &str = "http://www.w3.org/TR/scxml/";

/// True for the names under which the SCXML Event I/O Processor may be asked for.
pub fn is_scxml_processor(kind: &str) -> bool {
    kind == SCXML_EVENT_PROCESSOR || kind == "scxml"
}

/// True for the names of the Basic HTTP Event I/O Processor.
pub fn is_basichttp(kind: &str) -> bool {
    kind == BASIC_HTTP_EVENT_PROCESSOR || kind == "basichttp"
}

/// True for the names under which an SCXML child session may be invoked.
pub fn is_scxml_invoke_type(kind: &str) -> bool {
    let kind = kind.trim_end_matches('/');
    kind == SCXML_INVOKE_TYPE.trim_end_matches('/')
        || kind == "scxml"
        || kind == SCXML_EVENT_PROCESSOR
}

/// A `<send>` after evaluation, for the host to deliver (now or after `delay`).
#[derive(Debug, Clone, PartialEq)]
pub struct SendRequest {
    /// The event as the receiver will see it (name, data, sendid, origin...).
    pub event: Event,
    /// The evaluated `target`; `None` means this session's own external queue.
    pub target: Option<String>,
    /// The evaluated `type` (default: the SCXML Event I/O Processor URI).
    pub kind: String,
    /// The id by which `<cancel>` refers to this send (explicit `id`, or the generated one).
    pub sendid: String,
    /// How long to hold the event before delivering it; zero for an immediate send.
    pub delay: Duration,
}

/// Why a host could not accept a send. The interpreter turns it into the error event the
/// spec asks for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// The target is not valid for the processor (`error.execution`).
    #[error("invalid send target: {0}")]
    InvalidTarget(String),
    /// No I/O processor of that type (`error.execution`).
    #[error("unsupported send type: {0}")]
    UnsupportedType(String),
    /// The target is valid but could not be reached (`error.communication`).
    #[error("could not deliver: {0}")]
    Communication(String),
}

impl SendError {
    /// The name of the error event for this failure.
    pub fn event_name(&self) -> &'static str {
        match self {
            SendError::Communication(_) => "error.communication",
            _ => "error.execution",
        }
    }
}

/// Why a host could not start an invocation; the session gets `error.execution`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// No invoke type of that name is known to the host.
    #[error("unsupported invoke type {0}")]
    UnsupportedType(String),
    /// The type refused the request (bad parameters, no such target...).
    #[error("{0}")]
    Refused(String),
    /// A persisted service could not be brought back after a restart.
    #[error("cannot resume the invocation: {0}")]
    NotResumable(String),
}

/// What an `<invoke>` runs.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeSource {
    /// `src`/`srcexpr`, resolved against the document's URL.
    Url(String),
    /// An inline `<content><scxml>...` parsed with the parent document.
    Document(Arc<Document>),
    /// Content whose value is markup (or other text) the host must interpret.
    Markup(String),
    /// Content whose value is not text (for custom invoke types).
    Value(Value),
    /// Neither src nor content.
    None,
}

/// An `<invoke>` after evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeRequest {
    /// The invocation's id (explicit `id`, or `<stateid>.<generated>`): what events from the
    /// service carry as `invokeid`, and what [`Host::cancel_invoke`] and [`Host::forward`]
    /// name it by.
    pub invokeid: String,
    /// The evaluated `type` (default: the SCXML invoke type URI).
    pub kind: String,
    /// What to run: a URL, an inline document, or content.
    pub source: InvokeSource,
    /// `namelist` and `<param>` values, in document order: initial data for an SCXML child.
    pub params: Vec<(String, Value)>,
    /// `autoforward="true"`: the interpreter will call [`Host::forward`] with every external
    /// event it processes while the invocation runs.
    pub autoforward: bool,
}

/// The services a session needs from its host.
pub trait Host {
    /// Delivers or schedules an event. Errors become `error.execution`/`error.communication`.
    fn send(&mut self, request: SendRequest) -> Result<(), SendError>;

    /// `<cancel>`: drops a delayed send of this session that has not been delivered yet.
    fn cancel(&mut self, sendid: &str);

    /// Starts an invocation. An `Err` becomes `error.execution`.
    fn invoke(&mut self, request: InvokeRequest) -> Result<(), InvokeError>;

    /// Stops an invocation whose state was exited; later events from it must be dropped.
    fn cancel_invoke(&mut self, invokeid: &str);

    /// Forwards an external event to an invocation with `autoforward="true"`.
    fn forward(&mut self, invokeid: &str, event: &Event);

    /// `<log>`.
    fn log(&mut self, label: Option<&str>, message: &str);

    /// The session reached a top-level final state (`donedata` evaluated) and has halted.
    fn done(&mut self, donedata: Option<Value>);
}

/// A host that drops every effect; useful for benchmarks and tests of pure statecharts.
#[derive(Debug, Default)]
pub struct NullHost;

impl Host for NullHost {
    fn send(&mut self, _request: SendRequest) -> Result<(), SendError> {
        Ok(())
    }
    fn cancel(&mut self, _sendid: &str) {}
    fn invoke(&mut self, _request: InvokeRequest) -> Result<(), InvokeError> {
        Ok(())
    }
    fn cancel_invoke(&mut self, _invokeid: &str) {}
    fn forward(&mut self, _invokeid: &str, _event: &Event) {}
    fn log(&mut self, _label: Option<&str>, _message: &str) {}
    fn done(&mut self, _donedata: Option<Value>) {}
}
