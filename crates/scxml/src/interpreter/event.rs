//! Events: what the interpreter processes, and what `_event` shows to the datamodel.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `_event.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// Raised by the processor itself (`done.*`, `error.*`).
    Platform,
    /// Raised by `<raise>` or `<send target="#_internal">`.
    Internal,
    /// Everything that arrives on the external queue.
    #[default]
    External,
}

impl EventType {
    /// The value of `_event.type`: `"platform"`, `"internal"` or `"external"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Platform => "platform",
            EventType::Internal => "internal",
            EventType::External => "external",
        }
    }
}

/// One event, with the fields of `_event`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Event {
    /// `_event.name`: what transitions' event descriptors are matched against.
    pub name: String,
    /// `_event.type`.
    pub kind: EventType,
    /// `_event.sendid`: the id of the `<send>` that produced the event (and of the failed
    /// send, for its error event).
    pub sendid: Option<String>,
    /// URI to which a reply can be sent (for the SCXML processor: `#_scxml_<sessionid>`).
    pub origin: Option<String>,
    /// `_event.origintype`: the type URI of the I/O processor a reply should go through.
    pub origintype: Option<String>,
    /// The invoke id, when the event comes from an invoked child session.
    pub invokeid: Option<String>,
    /// `_event.data`; `None` is undefined.
    pub data: Option<Value>,
    /// `_event.raw`: the raw message, for I/O processors that have one (Basic HTTP).
    pub raw: Option<String>,
}

impl Event {
    /// A plain external event with a name and no data.
    pub fn external(name: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            ..Event::default()
        }
    }

    /// An event raised by the processor (`done.state.*`, `error.*`).
    pub fn platform(name: impl Into<String>, data: Option<Value>) -> Event {
        Event {
            name: name.into(),
            kind: EventType::Platform,
            data,
            ..Event::default()
        }
    }

    /// An event raised by `<raise>`.
    pub fn internal(name: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            kind: EventType::Internal,
            ..Event::default()
        }
    }
}

/// The data of a platform error event (`error.execution`, `error.communication`):
/// `{"tagname", "line", "column", "reason"}`, as SCION gives it, so a document (or a person
/// reading a trace) learns which element failed and where. `tagname`, `line` and `column` are
/// there when the failing element is known.
pub fn error_data(tagname: Option<&str>, pos: Option<crate::model::Pos>, reason: &str) -> Value {
    let mut data = serde_json::Map::new();
    if let Some(tagname) = tagname {
        data.insert("tagname".into(), Value::from(tagname));
    }
    if let Some(pos) = pos {
        data.insert("line".into(), Value::from(pos.line));
        data.insert("column".into(), Value::from(pos.column));
    }
    data.insert("reason".into(), Value::from(reason));
    Value::Object(data)
}
