//! The SCXML Event I/O Processor's decisions, the same for every host: where a `<send>`
//! goes, who an invoke id names, which events a session still accepts, and what its parent
//! hears when a child ends.
//!
//! This is sans-IO: a host keeps one [`Links`] per session, keyed by its own handle type `K`
//! (a number for [`crate::runtime::LocalRuntime`], a session id for the server's engine),
//! asks [`route_send`] and [`Links::forward`] what a send means, and does the delivery
//! itself (a queue, a timer, a channel to another thread). Both hosts deciding through the
//! same code is what keeps them from drifting apart.

use super::registry::{CustomSendType, InvokedService, Registry};
use super::target::ScxmlTarget;
use crate::interpreter::{
    is_basichttp, is_scxml_invoke_type, is_scxml_processor, Event, InvokeError, SendError,
    SendRequest,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// What an invoke id of a session names.
pub enum Child<K> {
    /// A child SCXML session.
    Session(K),
    /// A custom invoke type's running service, with the type it was started under (to
    /// resume it after a restart).
    Service {
        /// The invoke type.
        kind: String,
        /// The running service.
        service: Box<dyn InvokedService>,
    },
    /// An SCXML invocation whose document is still being read (`<invoke src>` fetched off
    /// the host's session thread), with the events sent to it meanwhile, delivered once it
    /// runs.
    Fetching {
        /// Events for the child, in the order they were sent.
        pending: Vec<Event>,
    },
}

impl<K> std::fmt::Debug for Child<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Child::Session(_) => f.write_str("Session"),
            Child::Service { kind, .. } => write!(f, "Service({kind})"),
            Child::Fetching { pending } => write!(f, "Fetching({} pending)", pending.len()),
        }
    }
}

/// What one session is linked to: its parent, its invocations, and the invocations it
/// cancelled.
#[derive(Debug)]
pub struct Links<K> {
    parent: Option<(K, String)>,
    children: HashMap<String, Child<K>>,
    /// Invocations this session cancelled: events still in flight from them are dropped
    /// (SCXML 6.4: no events from a cancelled invocation are processed).
    cancelled: HashSet<String>,
}

impl<K> Default for Links<K> {
    fn default() -> Links<K> {
        Links {
            parent: None,
            children: HashMap::new(),
            cancelled: HashSet::new(),
        }
    }
}

/// Where an SCXML event goes once [`route_send`] or [`Links::forward`] decided.
#[derive(Debug, PartialEq)]
pub enum Delivery<K> {
    /// To a session of this host (maybe the sender itself), after the delay.
    Session(K),
    /// Already handed over: to an invoked service, or kept for a child still being read.
    Handled,
}

/// How a `<send>` leaves its session.
pub enum Outgoing<K> {
    /// An SCXML event for a session of this host.
    Scxml {
        /// The receiving session.
        to: K,
        /// The event, with `invokeid` set when it goes to the parent.
        event: Event,
        /// The send id, for `<cancel>`.
        sendid: String,
        /// How long to wait before delivering it.
        delay: Duration,
    },
    /// Handed to an invoked service, or kept for a child still being read.
    Handled,
    /// A Basic HTTP send, with a target; the host posts it.
    BasicHttp(SendRequest),
    /// A send of a registered custom type; the host hands it to the type.
    Custom {
        /// The type.
        processor: Arc<dyn CustomSendType>,
        /// The send.
        request: SendRequest,
    },
}

impl<K: Clone> Links<K> {
    /// The links of a session invoked by `parent` under an invoke id (or of a root session).
    pub fn new(parent: Option<(K, String)>) -> Links<K> {
        Links {
            parent,
            ..Links::default()
        }
    }

    /// The invoking session and the invoke id it knows this session by.
    pub fn parent(&self) -> Option<&(K, String)> {
        self.parent.as_ref()
    }

    /// Every invocation that is running (or whose document is being read).
    pub fn children(&self) -> impl Iterator<Item = (&String, &Child<K>)> {
        self.children.iter()
    }

    /// Whether the session has no invocation running.
    pub fn has_no_children(&self) -> bool {
        self.children.is_empty()
    }

    /// The invoke ids of running invocations.
    pub fn invoke_ids(&self) -> impl Iterator<Item = &String> {
        self.children.keys()
    }

    /// Whether the session processes `event`: not when it comes from an invocation the
    /// session cancelled.
    pub fn accepts(&self, event: &Event) -> bool {
        event
            .invokeid
            .as_ref()
            .is_none_or(|id| !self.cancelled.contains(id))
    }

    /// An invocation starts (or its document is being read): the id names `child` from now
    /// on, and its events are accepted again.
    pub fn start(&mut self, invokeid: String, child: Child<K>) {
        self.cancelled.remove(&invokeid);
        self.children.insert(invokeid, child);
    }

    /// The state that invoked `invokeid` was exited: the invocation is forgotten and its late
    /// events are dropped. `None` when it already finished, whose `done.invoke` stays
    /// deliverable (W3C test 236).
    pub fn cancel(&mut self, invokeid: &str) -> Option<Child<K>> {
        let child = self.children.remove(invokeid)?;
        self.cancelled.insert(invokeid.to_string());
        Some(child)
    }

    /// A child session reached a top-level final state: it is forgotten, and the parent
    /// gets `done.invoke.<id>` (with the child's donedata), unless the invocation was
    /// cancelled first.
    pub fn child_done(&mut self, invokeid: &str, donedata: Option<Value>) -> Option<Event> {
        self.children.remove(invokeid)?;
        let mut event = Event::external(format!("done.invoke.{invokeid}"));
        event.invokeid = Some(invokeid.to_string());
        event.data = donedata;
        Some(event)
    }

    /// The document of an invocation being read arrived: takes its placeholder and the
    /// events that waited for it. `None` when the invocation was cancelled meanwhile (or
    /// the id names a newer one), so the late document is dropped.
    pub fn take_fetching(&mut self, invokeid: &str) -> Option<Vec<Event>> {
        match self.children.get(invokeid) {
            Some(Child::Fetching { .. }) => match self.children.remove(invokeid) {
                Some(Child::Fetching { pending }) => Some(pending),
                _ => None,
            },
            _ => None,
        }
    }

    /// The session ends: every invocation it still runs, for the host to cancel.
    pub fn into_children(self) -> impl Iterator<Item = Child<K>> {
        self.children.into_values()
    }

    /// Autoforward: a copy of an external event for invocation `invokeid`.
    pub fn forward(&mut self, invokeid: &str, event: &Event) -> Option<Delivery<K>> {
        match self.children.get_mut(invokeid)? {
            Child::Session(child) => Some(Delivery::Session(child.clone())),
            Child::Service { service, .. } => {
                service.deliver(event.clone());
                Some(Delivery::Handled)
            }
            Child::Fetching { pending } => {
                pending.push(event.clone());
                Some(Delivery::Handled)
            }
        }
    }

    /// An SCXML event for `#_<invokeid>`.
    fn deliver_to_invoked(
        &mut self,
        invokeid: &str,
        event: Event,
    ) -> Result<Delivery<K>, SendError> {
        match self.children.get_mut(invokeid) {
            Some(Child::Session(child)) => Ok(Delivery::Session(child.clone())),
            Some(Child::Service { service, .. }) => {
                service.deliver(event);
                Ok(Delivery::Handled)
            }
            Some(Child::Fetching { pending }) => {
                pending.push(event);
                Ok(Delivery::Handled)
            }
            None => Err(SendError::Communication(format!(
                "no invocation {invokeid}"
            ))),
        }
    }
}

/// Decides where a `<send>` of session `own` goes. `find_session` answers which session of
/// the host has a `_sessionid` (for `#_scxml_<id>`).
pub fn route_send<K: Clone>(
    request: SendRequest,
    own: &K,
    links: &mut Links<K>,
    registry: &Registry,
    find_session: impl FnOnce(&str) -> Option<K>,
) -> Result<Outgoing<K>, SendError> {
    if is_basichttp(&request.kind) {
        if request.target.as_deref().is_none_or(str::is_empty) {
            return Err(SendError::Communication(
                "a Basic HTTP send needs a target URL".into(),
            ));
        }
        return Ok(Outgoing::BasicHttp(request));
    }
    if !is_scxml_processor(&request.kind) {
        return match registry.send_type(&request.kind) {
            Some(processor) => Ok(Outgoing::Custom {
                processor: processor.clone(),
                request,
            }),
            None => Err(SendError::UnsupportedType(request.kind)),
        };
    }
    let SendRequest {
        mut event,
        target,
        sendid,
        delay,
        ..
    } = request;
    let Some(parsed) = ScxmlTarget::parse(target.as_deref()) else {
        return Err(SendError::InvalidTarget(target.unwrap_or_default()));
    };
    let to = match parsed {
        ScxmlTarget::Own | ScxmlTarget::Internal => own.clone(),
        ScxmlTarget::Parent => match links.parent() {
            Some((parent, invokeid)) => {
                event.invokeid = Some(invokeid.clone());
                parent.clone()
            }
            None => return Err(SendError::Communication("no parent session".into())),
        },
        ScxmlTarget::Session(id) => match find_session(id) {
            Some(session) => session,
            None => return Err(SendError::Communication(format!("no session {id}"))),
        },
        ScxmlTarget::Invoked(id) => match links.deliver_to_invoked(id, event.clone())? {
            Delivery::Session(child) => child,
            Delivery::Handled => return Ok(Outgoing::Handled),
        },
    };
    Ok(Outgoing::Scxml {
        to,
        event,
        sendid,
        delay,
    })
}

/// Whether a host can start an `<invoke>` of this type: SCXML, or a registered custom type.
pub fn check_invoke_type(kind: &str, registry: &Registry) -> Result<(), InvokeError> {
    if is_scxml_invoke_type(kind) || registry.invoke_type(kind).is_some() {
        Ok(())
    } else {
        Err(InvokeError::UnsupportedType(kind.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(target: Option<&str>, kind: &str) -> SendRequest {
        SendRequest {
            event: Event::external("e"),
            target: target.map(str::to_string),
            kind: kind.to_string(),
            sendid: "s1".into(),
            delay: Duration::ZERO,
        }
    }

    const SCXML: &str = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor";

    #[test]
    fn sends_go_to_the_session_its_parent_its_children_or_another_session() {
        let registry = Registry::new();
        let mut links: Links<u32> = Links::new(Some((1, "inv".into())));
        links.start("kid".into(), Child::Session(3));
        let to = |links: &mut Links<u32>, target| match route_send(
            send(target, SCXML),
            &2,
            links,
            &registry,
            |id| (id == "other").then_some(9),
        ) {
            Ok(Outgoing::Scxml { to, event, .. }) => Ok((to, event.invokeid)),
            Ok(_) => Err("not scxml".to_string()),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(to(&mut links, None), Ok((2, None)));
        assert_eq!(to(&mut links, Some("#_internal")), Ok((2, None)));
        assert_eq!(
            to(&mut links, Some("#_parent")),
            Ok((1, Some("inv".into())))
        );
        assert_eq!(to(&mut links, Some("#_kid")), Ok((3, None)));
        assert_eq!(to(&mut links, Some("#_scxml_other")), Ok((9, None)));
        assert!(to(&mut links, Some("#_scxml_nobody")).is_err());
        assert!(to(&mut links, Some("#_nobody")).is_err());
        assert!(matches!(
            route_send(
                send(Some("nowhere"), SCXML),
                &2,
                &mut links,
                &registry,
                |_| None
            ),
            Err(SendError::InvalidTarget(_))
        ));
        let mut root: Links<u32> = Links::new(None);
        assert!(to(&mut root, Some("#_parent")).is_err());
    }

    #[test]
    fn other_types_are_basic_http_custom_or_unsupported() {
        let registry = Registry::new();
        let mut links: Links<u32> = Links::default();
        let basichttp = "http://www.w3.org/TR/scxml/#BasicHTTPEventProcessor";
        assert!(matches!(
            route_send(
                send(Some("http://x/"), basichttp),
                &1,
                &mut links,
                &registry,
                |_| None
            ),
            Ok(Outgoing::BasicHttp(_))
        ));
        assert!(matches!(
            route_send(send(None, basichttp), &1, &mut links, &registry, |_| None),
            Err(SendError::Communication(_))
        ));
        assert!(matches!(
            route_send(send(None, "x-unknown"), &1, &mut links, &registry, |_| None),
            Err(SendError::UnsupportedType(_))
        ));
        assert!(check_invoke_type("x-unknown", &registry).is_err());
        assert!(check_invoke_type("scxml", &registry).is_ok());
    }

    #[test]
    fn a_cancelled_invocation_is_silenced_and_a_finished_one_reports_done_once() {
        let mut links: Links<u32> = Links::default();
        links.start("a".into(), Child::Session(5));
        let mut from_a = Event::external("x");
        from_a.invokeid = Some("a".into());
        assert!(links.accepts(&from_a));
        assert!(links.cancel("a").is_some());
        assert!(!links.accepts(&from_a));
        assert!(links.cancel("a").is_none());
        assert!(links.child_done("a", None).is_none());
        // Started again under the same id, it is heard again.
        links.start("a".into(), Child::Session(6));
        assert!(links.accepts(&from_a));
        let done = links.child_done("a", Some(Value::from(1))).unwrap();
        assert_eq!(done.name, "done.invoke.a");
        assert_eq!(done.invokeid.as_deref(), Some("a"));
        assert!(links.has_no_children());
    }

    #[test]
    fn events_for_a_child_being_read_wait_for_it() {
        let registry = Registry::new();
        let mut links: Links<u32> = Links::default();
        links.start(
            "f".into(),
            Child::Fetching {
                pending: Vec::new(),
            },
        );
        assert!(matches!(
            route_send(send(Some("#_f"), SCXML), &1, &mut links, &registry, |_| {
                None
            }),
            Ok(Outgoing::Handled)
        ));
        assert_eq!(
            links.forward("f", &Event::external("auto")),
            Some(Delivery::Handled)
        );
        let pending = links.take_fetching("f").unwrap();
        assert_eq!(
            pending.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["e", "auto"]
        );
        links.start(
            "g".into(),
            Child::Fetching {
                pending: Vec::new(),
            },
        );
        links.cancel("g");
        assert!(links.take_fetching("g").is_none(), "cancelled meanwhile");
    }
}
