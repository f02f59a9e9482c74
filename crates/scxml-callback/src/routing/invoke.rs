//! `<invoke type="routing">`: a callback session queues for an agent and hears back by events.
//!
//! This is our stand-in for ORS's `<queue:submit>`: the session invokes the router with its
//! routing options as `<param>`s, receives outcomes as external events (posted through the
//! invoke's [`EventSink`], so they arrive asynchronously, with `_event.invokeid` set), and
//! drives the rest with `<send target="#_<invokeid>">`.
//!
//! **Params** (each also accepted under its GMS option name): `target`/`_target` (a target
//! string, a JSON list, or a string holding one; required), `virtual_queue`/
//! `_urs_virtual_queue` (default `default`), `priority`/`_urs_vq_priority` (default 0),
//! `priority_increment`/`_urs_vq_priority_increment` with
//! `priority_interval`/`_urs_vq_priority_increment_interval` (seconds; priority aging),
//! `media`/`_media_type` (`chat` or `voice`, default `chat`), `queued_ttl`/`_urs_queued_ttl`
//! (seconds, default 660, 0 = no limit), `reservation_timeout`/`_agent_reserve_timeout`
//! (seconds, default 300), `eta_pos_threshold`/`_eta_pos_threshold`, and `request` (the request
//! id, e.g. the callback service id; default the invoke id).
//!
//! **Events to the session** (all with a `request` field in `data`):
//! - `routing.queued` {virtual_queue, target_index, position, total_waiting}: always first.
//! - `routing.reserved` {agent, agent_name}: an agent is held for the request.
//! - `routing.target_switched` {index, target}: a multi-target timeout moved on.
//! - `routing.reservation_expired` {agent, reason: `timeout`|`agent_unavailable`|`restart`}: the
//!   request waits again; a `routing.reserved` may follow at once.
//! - `routing.timeout` {}: `_urs_queued_ttl` passed; then `done.invoke.<id>`.
//! - `routing.position` {position, eta (seconds or "n/a"), total_waiting, threshold_passed,
//!   reason, reserved_agent, virtual_queue, target_index}: answer to `routing.position`.
//! - `routing.routed` {agent, agent_name, interaction}: answer to `routing.route`; then
//!   `done.invoke.<id>`.
//! - `routing.released` {requeue}: answer to `routing.release`; without requeue, then
//!   `done.invoke.<id>`.
//! - `routing.error` {error (a kind such as `target_not_found`, `not_reserved`,
//!   `unknown_request`), message, event (what failed: `start` or the event name)}. A failure
//!   at start is followed by `done.invoke.<id>`.
//!
//! **Events from the session**: `routing.position`; `routing.route` {interaction?} (routes to
//! the reserved agent; without a reservation the answer is `routing.error` with
//! `not_reserved`); `routing.release` {requeue?: bool} (`routing.cancel` is release without
//! requeue). Other names are ignored, as are events carrying an invoke id (so `autoforward`
//! cannot loop our own answers back).
//!
//! Leaving the invoking state cancels the invoke, which dequeues the request and frees any
//! reserved agent: keep the `<invoke>` in a state that stays active from queuing until
//! `routing.routed` (e.g. a parent of the queued, agent-ready and waiting-for-chat states).
//!
//! **Persistence**: a running invoke is stored with its session (its params and the router's
//! [`Checkpoint`]: place in line, time waited, target item), so a waiting session hibernates
//! and survives a restart. Resumed, the request is back in line where it was; a reservation
//! it held is not (agents start logged out), which the session hears as
//! `routing.reservation_expired` with reason `restart`.

use super::directory::Media;
use super::error::RoutingError;
use super::multi::{number, seconds, TargetSpec};
use super::router::{
    Checkpoint, Outcome, OutcomeListener, PriorityAging, QueueStatus, RequestSpec, Router,
    DEFAULT_QUEUED_TTL, DEFAULT_RESERVATION_TIMEOUT,
};
use super::threshold::ThresholdTable;
use scxml::interpreter::{Event, InvokeError, InvokeRequest};
use scxml::io::{CustomInvokeType, EventSink, InvokedService, Registry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// The names the invoke type is registered under.
pub const INVOKE_TYPE_NAMES: [&str; 2] = ["routing", "http://scxml-runtime/gms/routing"];

/// The `<invoke>` type; cheap to clone, shares the router.
#[derive(Debug, Clone)]
pub struct RoutingInvokeType {
    router: Arc<Router>,
}

impl RoutingInvokeType {
    /// An invoke type whose sessions queue their requests on `router`.
    pub fn new(router: Arc<Router>) -> RoutingInvokeType {
        RoutingInvokeType { router }
    }

    /// The router the sessions talk to.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// Registers the type under [`INVOKE_TYPE_NAMES`].
    pub fn register(self, registry: &mut Registry) {
        registry.register_invoke(&INVOKE_TYPE_NAMES, Arc::new(self));
    }
}

fn param<'a>(params: &'a [(String, Value)], names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| {
        params
            .iter()
            .find(|(k, v)| k == name && !v.is_null())
            .map(|(_, v)| v)
    })
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds the request from the invoke's params.
pub(crate) fn request_spec(
    params: &[(String, Value)],
    id: &str,
) -> Result<RequestSpec, RoutingError> {
    let target = param(params, &["target", "_target"])
        .ok_or_else(|| RoutingError::bad_param("target", "missing"))?;
    let target = TargetSpec::from_value(target)?;
    let mut spec = RequestSpec::new(id, "default", target);
    if let Some(vq) = param(params, &["virtual_queue", "_urs_virtual_queue"]) {
        spec.virtual_queue = text(vq);
    }
    if let Some(p) = param(params, &["priority", "_urs_vq_priority"]) {
        let n = number(p)
            .filter(|n| n.fract() == 0.0)
            .ok_or_else(|| RoutingError::bad_param("priority", format!("not an integer: {p}")))?;
        spec.priority = n as i64;
    }
    let increment = param(
        params,
        &["priority_increment", "_urs_vq_priority_increment"],
    );
    let interval = param(
        params,
        &["priority_interval", "_urs_vq_priority_increment_interval"],
    );
    spec.aging = match (increment, interval) {
        (None, None) => None,
        (Some(inc), Some(every)) => {
            let increment = number(inc).filter(|n| n.fract() == 0.0).ok_or_else(|| {
                RoutingError::bad_param("priority_increment", format!("not an integer: {inc}"))
            })?;
            let interval = seconds(every).filter(|d| !d.is_zero()).ok_or_else(|| {
                RoutingError::bad_param("priority_interval", format!("not seconds: {every}"))
            })?;
            Some(PriorityAging {
                increment: increment as i64,
                interval,
            })
        }
        _ => {
            return Err(RoutingError::bad_param(
                "priority_increment",
                "priority aging needs both the increment and its interval",
            ))
        }
    };
    if let Some(m) = param(params, &["media", "_media_type"]) {
        spec.media = Media::parse(&text(m)).ok_or_else(|| {
            RoutingError::bad_param("media", format!("expected chat or voice: {m}"))
        })?;
    }
    spec.queued_ttl = match param(params, &["queued_ttl", "_urs_queued_ttl"]) {
        None => Some(DEFAULT_QUEUED_TTL),
        Some(v) => {
            let ttl = seconds(v).ok_or_else(|| {
                RoutingError::bad_param("queued_ttl", format!("not seconds: {v}"))
            })?;
            (!ttl.is_zero()).then_some(ttl)
        }
    };
    spec.reservation_timeout =
        match param(params, &["reservation_timeout", "_agent_reserve_timeout"]) {
            None => DEFAULT_RESERVATION_TIMEOUT,
            Some(v) => seconds(v).ok_or_else(|| {
                RoutingError::bad_param("reservation_timeout", format!("not seconds: {v}"))
            })?,
        };
    if let Some(t) = param(params, &["eta_pos_threshold", "_eta_pos_threshold"]) {
        spec.threshold = ThresholdTable::parse(&text(t))?;
    }
    Ok(spec)
}

fn make_event(name: &str, data: Value) -> Event {
    Event {
        data: Some(data),
        ..Event::external(name)
    }
}

fn done(invokeid: &str) -> Event {
    Event::external(format!("done.invoke.{invokeid}"))
}

fn error_event(request: &str, err: &RoutingError, during: &str) -> Event {
    make_event(
        "routing.error",
        json!({
            "request": request,
            "error": err.kind(),
            "message": err.to_string(),
            "event": during,
        }),
    )
}

/// The event for an outcome.
pub(crate) fn outcome_event(outcome: &Outcome) -> Event {
    match outcome {
        Outcome::Queued {
            request,
            virtual_queue,
            target_index,
            position,
            total_waiting,
        } => make_event(
            "routing.queued",
            json!({"request": request, "virtual_queue": virtual_queue,
                   "target_index": target_index, "position": position,
                   "total_waiting": total_waiting}),
        ),
        Outcome::Reserved {
            request,
            agent,
            agent_name,
        } => make_event(
            "routing.reserved",
            json!({"request": request, "agent": agent, "agent_name": agent_name}),
        ),
        Outcome::TargetSwitched {
            request,
            index,
            target,
        } => make_event(
            "routing.target_switched",
            json!({"request": request, "index": index, "target": target}),
        ),
        Outcome::TimedOut { request } => make_event("routing.timeout", json!({"request": request})),
        Outcome::ReservationExpired {
            request,
            agent,
            reason,
        } => make_event(
            "routing.reservation_expired",
            json!({"request": request, "agent": agent, "reason": reason}),
        ),
    }
}

/// The `routing.position` answer.
pub(crate) fn status_event(status: &QueueStatus) -> Event {
    make_event(
        "routing.position",
        json!({
            "request": status.request,
            "virtual_queue": status.virtual_queue,
            "position": status.position,
            "eta": status.eta.map_or_else(|| json!("n/a"), |e| json!(e)),
            "total_waiting": status.total_waiting,
            "threshold_passed": status.threshold_passed,
            "reason": status.reason,
            "reserved_agent": status.reserved_agent,
            "target_index": status.target_index,
        }),
    )
}

impl CustomInvokeType for RoutingInvokeType {
    fn start(
        &self,
        request: InvokeRequest,
        to_parent: Arc<dyn EventSink>,
    ) -> Result<Box<dyn InvokedService>, InvokeError> {
        let id = param(&request.params, &["request", "request_id"])
            .map(text)
            .unwrap_or_else(|| request.invokeid.clone());
        let mut service = RoutingService {
            router: self.router.clone(),
            request: id.clone(),
            invokeid: request.invokeid.clone(),
            params: request.params.clone(),
            to_parent: to_parent.clone(),
            finished: false,
        };
        let listener = outcome_listener(to_parent.clone(), &request.invokeid);
        let queued = request_spec(&request.params, &id)
            .and_then(|spec| self.router.enqueue(spec, Instant::now(), Some(listener)));
        if let Err(err) = queued {
            tracing::debug!(request = %id, error = %err, "routing invoke refused");
            to_parent.deliver(error_event(&id, &err, "start"));
            to_parent.deliver(done(&request.invokeid));
            service.finished = true;
        }
        Ok(Box::new(service))
    }

    /// Puts the request back in line where it stood (see [`Router::resume`]). A reservation
    /// held before the restart is gone: the session hears `routing.reservation_expired` with
    /// reason `restart`, as for any lapsed reservation, and waits again.
    fn resume(
        &self,
        invokeid: &str,
        state: Value,
        to_parent: Arc<dyn EventSink>,
    ) -> Result<Box<dyn InvokedService>, InvokeError> {
        let saved: SavedService = serde_json::from_value(state)
            .map_err(|e| InvokeError::NotResumable(format!("unreadable routing state: {e}")))?;
        let params: Vec<(String, Value)> = saved.params.into_iter().collect();
        let service = RoutingService {
            router: self.router.clone(),
            request: saved.request.clone(),
            invokeid: invokeid.to_string(),
            params,
            to_parent: to_parent.clone(),
            finished: saved.checkpoint.is_none(),
        };
        let Some(checkpoint) = saved.checkpoint else {
            return Ok(Box::new(service));
        };
        let spec = request_spec(&service.params, &saved.request)
            .map_err(|e| InvokeError::NotResumable(e.to_string()))?;
        let listener = outcome_listener(to_parent.clone(), invokeid);
        self.router
            .resume(spec, &checkpoint, Instant::now(), Some(listener))
            .map_err(|e| InvokeError::NotResumable(e.to_string()))?;
        if let Some(agent) = checkpoint.reserved_agent {
            to_parent.deliver(make_event(
                "routing.reservation_expired",
                json!({"request": saved.request, "agent": agent, "reason": "restart"}),
            ));
        }
        Ok(Box::new(service))
    }
}

/// Posts a request's outcomes to the invoking session; a queued ttl timeout also ends the
/// invocation.
fn outcome_listener(sink: Arc<dyn EventSink>, invokeid: &str) -> OutcomeListener {
    let invokeid = invokeid.to_string();
    Arc::new(move |outcome: &Outcome| {
        sink.deliver(outcome_event(outcome));
        if matches!(outcome, Outcome::TimedOut { .. }) {
            sink.deliver(done(&invokeid));
        }
    })
}

/// A routing invoke as stored with its session: the request, the invoke's params (to rebuild
/// the request spec) and where it stood; no checkpoint once it has finished.
#[derive(Serialize, Deserialize)]
struct SavedService {
    request: String,
    params: serde_json::Map<String, Value>,
    checkpoint: Option<Checkpoint>,
}

/// One running routing invoke.
struct RoutingService {
    router: Arc<Router>,
    request: String,
    invokeid: String,
    /// The invoke's params, kept to rebuild the request after a restart.
    params: Vec<(String, Value)>,
    to_parent: Arc<dyn EventSink>,
    /// Routed, released or refused: nothing left to cancel.
    finished: bool,
}

impl RoutingService {
    fn reply(&self, result: Result<Event, RoutingError>, during: &str) {
        match result {
            Ok(event) => self.to_parent.deliver(event),
            Err(err) => self
                .to_parent
                .deliver(error_event(&self.request, &err, during)),
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.to_parent.deliver(done(&self.invokeid));
    }
}

impl InvokedService for RoutingService {
    fn deliver(&mut self, event: Event) {
        if event.invokeid.is_some() {
            return;
        }
        let data = event.data.as_ref();
        let field = |name: &str| data.and_then(|d| d.get(name)).filter(|v| !v.is_null());
        match event.name.as_str() {
            "routing.position" => {
                let status = self.router.status(&self.request, Instant::now());
                self.reply(status.map(|s| status_event(&s)), &event.name);
            }
            "routing.route" => {
                let interaction = field("interaction").map(text);
                let routed =
                    self.router
                        .route(&self.request, interaction.as_deref(), Instant::now());
                let ok = routed.is_ok();
                let answer = routed.map(|agent| {
                    let agent_name = self
                        .router
                        .agent(&agent)
                        .map(|a| a.name)
                        .unwrap_or_else(|| agent.clone());
                    let interaction = interaction.unwrap_or_else(|| self.request.clone());
                    event_data_routed(&self.request, &agent, &agent_name, &interaction)
                });
                self.reply(answer, &event.name);
                if ok {
                    self.finish();
                }
            }
            "routing.release" | "routing.cancel" => {
                let requeue = event.name == "routing.release"
                    && field("requeue").and_then(super::multi::boolean) == Some(true);
                let released = self.router.release(&self.request, requeue, Instant::now());
                let ok = released.is_ok();
                self.reply(
                    released.map(|_| {
                        make_event(
                            "routing.released",
                            json!({"request": self.request, "requeue": requeue}),
                        )
                    }),
                    &event.name,
                );
                if ok && !requeue {
                    self.finish();
                }
            }
            other => tracing::trace!(event = other, "routing invoke ignores event"),
        }
    }

    fn persist(&self) -> Option<Value> {
        let checkpoint = if self.finished {
            None
        } else {
            // Gone from the router (e.g. its queued ttl passed): nothing to resume.
            self.router.checkpoint(&self.request, Instant::now())
        };
        let saved = SavedService {
            request: self.request.clone(),
            params: self.params.iter().cloned().collect(),
            checkpoint,
        };
        serde_json::to_value(saved).ok()
    }

    fn cancel(&mut self) {
        if !self.finished {
            self.finished = true;
            let _ = self.router.cancel(&self.request, Instant::now());
        }
    }
}

fn event_data_routed(request: &str, agent: &str, agent_name: &str, interaction: &str) -> Event {
    make_event(
        "routing.routed",
        json!({"request": request, "agent": agent, "agent_name": agent_name,
               "interaction": interaction}),
    )
}
