//! Custom `<send>` and `<invoke>` types, registered by Rust code under a type URI.
//!
//! A custom type talks back to its session only through an [`EventSink`], which posts an
//! external event to the session's queue whatever the host (the local runtime or the server),
//! so adapters are written once.

use crate::interpreter::{Event, InvokeError, InvokeRequest, SendError, SendRequest};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Posts external events to one session (or, for an invoked service, to its parent, with the
/// invoke id filled in).
pub trait EventSink: Send + Sync {
    /// Queues `event` on the session's external queue, to be processed in its turn. May be
    /// called from any thread; an event for a session that has ended is dropped.
    fn deliver(&self, event: Event);
}

/// A `<send type="...">` handled by Rust code.
pub trait CustomSendType: Send + Sync {
    /// Delivers (or schedules) the send. `reply` posts events back to the sending session,
    /// e.g. a response or a late `error.communication`.
    fn send(&self, request: SendRequest, reply: Arc<dyn EventSink>) -> Result<(), SendError>;
}

/// An `<invoke type="...">` handled by Rust code.
pub trait CustomInvokeType: Send + Sync {
    /// Starts the service. `to_parent` posts events to the invoking session; the host sets
    /// `invokeid` on them. Send `done.invoke.<id>` through it when the service finishes.
    fn start(
        &self,
        request: InvokeRequest,
        to_parent: Arc<dyn EventSink>,
    ) -> Result<Box<dyn InvokedService>, InvokeError>;

    /// Brings back, in a new process, a service that [`InvokedService::persist`] described:
    /// `state` is what it returned. The host calls this when it reloads the invoking session
    /// from its store (after a restart). Types that never persist keep the default.
    fn resume(
        &self,
        invokeid: &str,
        state: Value,
        to_parent: Arc<dyn EventSink>,
    ) -> Result<Box<dyn InvokedService>, InvokeError> {
        let _ = (invokeid, state, to_parent);
        Err(InvokeError::NotResumable(
            "this invoke type cannot be resumed".into(),
        ))
    }
}

/// A running invoked service.
pub trait InvokedService: Send {
    /// An event from the parent (`<send target="#_<invokeid>">` or autoforward).
    fn deliver(&mut self, event: Event);
    /// The invoking state was exited.
    fn cancel(&mut self);

    /// What [`CustomInvokeType::resume`] needs to bring the service back after a restart, as
    /// plain JSON, or `None` when it cannot be persisted. The host asks each time it stores
    /// the invoking session; while any of its services answers `None`, the session is neither
    /// stored nor hibernated (it says why instead).
    fn persist(&self) -> Option<Value> {
        None
    }
}

/// The custom types a host knows, by type URI.
#[derive(Clone, Default)]
pub struct Registry {
    sends: HashMap<String, Arc<dyn CustomSendType>>,
    invokes: HashMap<String, Arc<dyn CustomInvokeType>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a send type under one or more names (e.g. a short name and a URI).
    pub fn register_send(&mut self, names: &[&str], processor: Arc<dyn CustomSendType>) {
        for name in names {
            self.sends.insert((*name).to_string(), processor.clone());
        }
    }

    /// Registers an invoke type under one or more names.
    pub fn register_invoke(&mut self, names: &[&str], service: Arc<dyn CustomInvokeType>) {
        for name in names {
            self.invokes.insert((*name).to_string(), service.clone());
        }
    }

    /// The send type registered under `name`, if any.
    pub fn send_type(&self, name: &str) -> Option<&Arc<dyn CustomSendType>> {
        self.sends.get(name)
    }

    /// The invoke type registered under `name`, if any.
    pub fn invoke_type(&self, name: &str) -> Option<&Arc<dyn CustomInvokeType>> {
        self.invokes.get(name)
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sends", &self.sends.keys().collect::<Vec<_>>())
            .field("invokes", &self.invokes.keys().collect::<Vec<_>>())
            .finish()
    }
}
