//! The callback API under `/genesys/1/service/`: every request becomes an external event of
//! the service's flow, and the flow's answer is the HTTP response.
//!
//! **The event contract** (Rust to SCXML): name `gms.<verb>` with `verb` one of `start`,
//! `connect`, `check_queue_position`, `ixn_chat`, `internal_notification`,
//! `retrieve_notifications`, `agent_notification`, `retrieve_agent_notifications`, `get`,
//! `cancel`, `reschedule`; `origin` the exchange id and `origintype` [`RESPONSE_TYPE_URI`];
//! `data` the request's fields plus `_gms_user` (the header, or `""`) and `_service_id`. The flow
//! answers with `<send type="gms-response" targetexpr="_event.origin">` and params `status`
//! and `body` (see [`super::exchange`]); no answer within the timeout is a 504.
//!
//! `POST service/callback/{service}` creates the flow's session with initial data
//! `options` (the service's options), `fields` (the request's fields), `gms_user`,
//! `service_name` and `base_url`, then delivers `gms.start`. The service id is the session id.
//! A start the flow refuses or does not answer (a status of 400 or more) leaves no service:
//! its session is deleted.
//!
//! `PUT service/callback/{service}/{id}` (`_new_desired_time`) becomes `gms.reschedule`. With a
//! desired time, `gms.start` and `gms.reschedule` also carry `_bucket_booked`: how many
//! callbacks are already booked in that time's bucket ([`super::availability`]); the flow
//! decides whether the slot is full.
//!
//! `gms.start` also carries `_queued_in_service` and, with a `_customer_number`,
//! `_queued_for_customer` (outstanding callbacks, from the service index), so the flow can
//! apply `_max_queued_callbacks_per_service` and `_enable_in_queue_checking`.
//!
//! The queries over services (`GET service/callback[/{service}]?...`,
//! `GET service/callback/{service}/availability`) are answered from the service index
//! ([`super::query`], [`super::availability`]).

use super::access::{self, Holders};
use super::app::{refused, CallbackLink, GmsApp, GmsRequest};
use super::availability::{self, Schedule};
use super::config::Service;
use super::documents::{Flow, FlowError};
use super::exchange::{FlowAnswer, RESPONSE_TYPE_URI};
use super::form::parse_fields;
use super::ixn_chat;
use super::query;
use super::response::GmsResponse;
use super::time::now_ms;
use super::verb::Verb;
use hyper::Method;
use scxml::interpreter::Event;
use scxml_engine::{CreateOptions, EngineError};
use scxml_server::Role;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Routes `/genesys/1/service/{rest}`.
pub(crate) async fn handle(app: &Arc<GmsApp>, request: &GmsRequest, rest: &[&str]) -> GmsResponse {
    let method = &request.method;
    match rest {
        ["callback", name] if method == Method::POST => create(app, request, name).await,
        ["callback"] if method == Method::GET => match property_query_allowed(request) {
            Err(answer) => answer,
            Ok(()) => match request_fields(request) {
                Ok(filters) => query::by_properties(&app.index, None, &filters),
                Err(answer) => answer,
            },
        },
        ["callback", name, rest @ ..] if method == Method::GET && rest.len() <= 1 => {
            let Some(service) = app.services.get(*name) else {
                return unknown_service_name(name);
            };
            let fields = match request_fields(request) {
                Ok(f) => f,
                Err(answer) => return answer,
            };
            match rest {
                [] => match property_query_allowed(request) {
                    Ok(()) => query::by_properties(&app.index, Some(name), &fields),
                    Err(answer) => answer,
                },
                ["availability"] => {
                    availability::handle(&app.index, service, app.office_hours_of(service), &fields)
                }
                [id] => {
                    // The record, when the service is the one named in the path.
                    let answer = deliver(app, request, id, Verb::Get, Map::new()).await;
                    let other = answer.status == 200
                        && service_name_of(&answer).is_some_and(|found| found != *name);
                    if other {
                        return unknown_service(id);
                    }
                    answer
                }
                _ => GmsResponse::not_found(format!("no callback resource GET {}", request.path)),
            }
        }
        ["callback", name, id] if method == Method::PUT => reschedule(app, request, name, id).await,
        ["callback", name, id] if method == Method::DELETE => {
            // Only a callback of the service the path names (as GET and PUT answer).
            let elsewhere = app
                .index
                .get(id)
                .is_some_and(|record| record["_service_name"] != *name);
            if elsewhere {
                return unknown_service(id);
            }
            deliver(app, request, id, Verb::Cancel, Map::new()).await
        }
        [id] if method == Method::DELETE => {
            deliver(app, request, id, Verb::Cancel, Map::new()).await
        }
        [id] if method == Method::GET => deliver(app, request, id, Verb::Get, Map::new()).await,
        [id, "ixn", "chat"] if method == Method::POST => ixn_chat::create(app, request, id).await,
        [id, "ixn", "chat", operation] if method == Method::POST => {
            ixn_chat::operation(app, request, id, operation).await
        }
        // GMS answers the position to a GET as well.
        [id, "check-queue-position"] if method == Method::GET => {
            deliver(app, request, id, Verb::CheckQueuePosition, Map::new()).await
        }
        [id, verb] if method == Method::POST => match Verb::from_path(verb) {
            Some(verb) => deliver(app, request, id, verb, Map::new()).await,
            None => {
                GmsResponse::not_found(format!("no callback resource {method} {}", request.path))
            }
        },
        _ => GmsResponse::not_found(format!("no callback resource {method} {}", request.path)),
    }
}

/// Queries by properties list every matching callback with its customer's number, so they
/// are an operator's, not any device's.
fn property_query_allowed(request: &GmsRequest) -> Result<(), GmsResponse> {
    access::operator(request, "a query of callbacks by their properties")
        .map_err(|denied| refused(&denied))
}

/// The request's fields, with the query string's for a GET or DELETE.
pub(crate) fn request_fields(request: &GmsRequest) -> Result<Map<String, Value>, GmsResponse> {
    let mut fields = parse_fields(request.content_type.as_deref(), &request.body)
        .map_err(GmsResponse::bad_request)?;
    if let Some(query) = &request.query {
        for (k, v) in super::form::urlencoded(query.as_bytes()) {
            fields.entry(k).or_insert(v);
        }
    }
    Ok(fields)
}

/// `POST service/callback/{service}`: a new callback service.
async fn create(app: &Arc<GmsApp>, request: &GmsRequest, name: &str) -> GmsResponse {
    if let Err(denied) = access::create(request) {
        return refused(&denied);
    }
    let Some(service) = app.services.get(name) else {
        return unknown_service_name(name);
    };
    let Some(attached) = app.attached() else {
        return GmsResponse::error(503, "NotReady", "the callback service is starting");
    };
    let device = request
        .gms_user
        .as_deref()
        .filter(|u| !u.is_empty() && !request.caller.has(Role::Operator));
    if let Some(device) = device {
        let open = app.open_callbacks_of(device);
        let most = app.limits.callbacks_per_device;
        if most > 0 && open >= most {
            return GmsResponse::too_many(
                "TooManyCallbacks",
                format!("device {device} has {open} callbacks open, the most it may have"),
                60,
            );
        }
    }
    let fields = match request_fields(request) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let now = std::time::Instant::now();
    if let Err(refusal) = app.throttles.admit(name, &service.throttle, &fields, now) {
        return GmsResponse::too_many(
            "CallbackExceptionThrottled",
            refusal.message,
            refusal.retry_after_secs,
        );
    }
    let flow = match app.flows.current(&service.document).await {
        Ok(flow) => flow,
        Err(e) => return flow_unavailable(name, &e),
    };
    let mut fields = fields;
    add_times(&mut fields);
    let initial_data = vec![
        (
            "options".to_string(),
            Value::Object(service.options.clone()),
        ),
        ("fields".to_string(), Value::Object(fields.clone())),
        (
            "gms_user".to_string(),
            Value::from(request.gms_user.clone().unwrap_or_default()),
        ),
        ("service_name".to_string(), Value::from(name)),
        (
            "base_url".to_string(),
            Value::from(attached.base_url.clone()),
        ),
    ];
    let created = attached
        .engine
        .create_id(
            flow.document.clone(),
            CreateOptions {
                initial_data,
                document_url: Some(served_url(&attached.base_url, &flow)),
            },
        )
        .await;
    let id = match created {
        Ok(id) => id,
        Err(e) => return engine_error(&e),
    };
    GmsApp::lock(&app.callbacks).insert(
        id.clone(),
        CallbackLink {
            service_name: name.to_string(),
            owner: request.gms_user.clone().unwrap_or_default(),
        },
    );
    add_bookings(app, service, &mut fields, "_desired_time", None);
    add_office_hours(app, service, &mut fields, "_desired_time");
    add_queue_counts(app, name, &mut fields);
    let answer = ask_flow(app, &id, Verb::Start, fields, request).await;
    if answer.status >= 400 {
        // Refused: the service does not exist.
        GmsApp::lock(&app.callbacks).remove(&id);
        let _ = attached.engine.delete(&id).await;
    } else if let Some(device) = device {
        GmsApp::lock(&app.device_callbacks)
            .entry(device.to_string())
            .or_default()
            .push(id);
    }
    answer
}

/// `PUT service/callback/{service}/{id}`: `gms.reschedule` with the request's fields.
async fn reschedule(app: &Arc<GmsApp>, request: &GmsRequest, name: &str, id: &str) -> GmsResponse {
    let Some(service) = app.services.get(name) else {
        return unknown_service_name(name);
    };
    match callback(app, id).await {
        Some(link) if link.service_name == name => {}
        _ => return unknown_service(id),
    }
    let mut fields = match request_fields(request) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    add_times(&mut fields);
    add_bookings(app, service, &mut fields, "_new_desired_time", Some(id));
    add_office_hours(app, service, &mut fields, "_new_desired_time");
    ask_flow(app, id, Verb::Reschedule, fields, request).await
}

/// The request fields that hold date-times.
const TIME_FIELDS: [&str; 2] = ["_desired_time", "_new_desired_time"];

/// Hands the flow the request's date-times in the form it computes with: for each time field
/// that reads as an ISO 8601 date-time ([`super::time::parse_iso`]), `<field>_ms`, its
/// milliseconds since the Unix epoch. A field that does not read gets none, which the flow
/// answers as a bad request. Only the server writes these.
fn add_times(fields: &mut Map<String, Value>) {
    for field in TIME_FIELDS {
        let companion = format!("{field}_ms");
        fields.remove(&companion);
        let at = fields
            .get(field)
            .and_then(Value::as_str)
            .and_then(super::time::parse_iso);
        if let Some(at) = at {
            fields.insert(companion, Value::from(at));
        }
    }
}

/// Where a session's document is said to come from: the server's own URL for a built-in
/// one (where it is served), the document's URL otherwise.
pub(crate) fn served_url(base_url: &str, flow: &Flow) -> String {
    match flow.url.path().strip_prefix('/') {
        Some(path) if flow.url.scheme() == "gms-builtin" => format!(
            "{base_url}/genesys/1/document/service_template/callback/src/{}",
            path.rsplit('/').next().unwrap_or(path)
        ),
        _ => flow.url.to_string(),
    }
}

/// A service's document could not be read or is not valid (and no version before serves).
pub(crate) fn flow_unavailable(service: &str, e: &FlowError) -> GmsResponse {
    GmsResponse::error(
        503,
        "FlowUnavailable",
        format!("the flow of service {service} is unavailable: {e}"),
    )
}

/// Adds `_bucket_booked` when `fields[field]` is a desired time: the callbacks of the service
/// (but `except`) already booked in its bucket.
fn add_bookings(
    app: &GmsApp,
    service: &Service,
    fields: &mut Map<String, Value>,
    field: &str,
    except: Option<&str>,
) {
    // Only the server says how full a slot is.
    fields.remove("_bucket_booked");
    let at = fields
        .get(field)
        .and_then(Value::as_str)
        .and_then(super::time::parse_iso);
    if let (Some(at), Ok(schedule)) = (at, Schedule::of(&service.options)) {
        let booked = availability::booked(&app.index, &schedule, &service.name, at, except);
        fields.insert("_bucket_booked".into(), Value::from(booked));
    }
}

/// With office hours (`_business_hours_service`), adds whether they are open now
/// (`_office_open`, and `_office_next_opening` when closed) and at the desired time in
/// `fields[field]` (`<field>_open`, `<field>_next_opening`), so the flow can refuse.
fn add_office_hours(app: &GmsApp, service: &Service, fields: &mut Map<String, Value>, field: &str) {
    // Only the server says when the service is open.
    let open_key = format!("{field}_open");
    let next_key = format!("{field}_next_opening");
    for key in ["_office_open", "_office_next_opening", &open_key, &next_key] {
        fields.remove(key);
    }
    let Some(hours) = app.office_hours_of(service) else {
        return;
    };
    let tell = |fields: &mut Map<String, Value>, at: i64, open: &str, next: &str| {
        let is_open = hours.is_open(at);
        fields.insert(open.into(), Value::from(is_open));
        if !is_open {
            let opening = hours.next_opening(at).map(super::time::format_iso);
            fields.insert(next.into(), opening.map_or(Value::Null, Value::from));
        }
    };
    tell(fields, now_ms(), "_office_open", "_office_next_opening");
    let at = fields
        .get(field)
        .and_then(Value::as_str)
        .and_then(super::time::parse_iso);
    if let Some(at) = at {
        tell(fields, at, &open_key, &next_key);
    }
}

/// Adds what the flow's queue management needs (`_enable_in_queue_checking`,
/// `_max_queued_callbacks_per_service`): `_queued_in_service`, the service's outstanding
/// callbacks, and `_queued_for_customer`, those of the request's `_customer_number`.
fn add_queue_counts(app: &GmsApp, service: &str, fields: &mut Map<String, Value>) {
    // Only the server counts.
    fields.remove("_queued_in_service");
    fields.remove("_queued_for_customer");
    let number = fields
        .get("_customer_number")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let (in_service, for_customer) = app.index.outstanding(service, number.as_deref());
    fields.insert("_queued_in_service".into(), Value::from(in_service));
    if number.is_some() {
        fields.insert("_queued_for_customer".into(), Value::from(for_customer));
    }
}

/// Delivers `gms.<verb>` to the service `id` and waits for the flow's answer. `fields`, when
/// given, replace the request's own (already read) fields.
pub(crate) async fn deliver(
    app: &Arc<GmsApp>,
    request: &GmsRequest,
    id: &str,
    verb: Verb,
    fields: Map<String, Value>,
) -> GmsResponse {
    let fields = if fields.is_empty() {
        match request_fields(request) {
            Ok(f) => f,
            Err(answer) => return answer,
        }
    } else {
        fields
    };
    ask_flow(app, id, verb, fields, request).await
}

/// Sends `gms.<verb>` with `fields` to the service `id` and waits for the answer. The flow
/// learns who asks: `_gms_user` (the device) and `_operator` (true for an operator's
/// credentials, which may act on any callback).
pub(crate) async fn ask_flow(
    app: &Arc<GmsApp>,
    id: &str,
    verb: Verb,
    mut fields: Map<String, Value>,
    request: &GmsRequest,
) -> GmsResponse {
    let gms_user = request.gms_user.as_deref();
    if verb != Verb::Start {
        if let Err(answer) = admit(app, request, id, verb).await {
            return answer;
        }
    }
    let Some(attached) = app.attached() else {
        return GmsResponse::error(503, "NotReady", "the callback service is starting");
    };
    fields.insert(
        "_gms_user".into(),
        Value::from(gms_user.unwrap_or_default()),
    );
    fields.insert("_service_id".into(), Value::from(id));
    let (exchange, answer) = app.exchanges.open();
    let event = Event {
        origin: Some(exchange.clone()),
        origintype: Some(RESPONSE_TYPE_URI.to_string()),
        data: Some(Value::Object(fields)),
        ..Event::external(verb.event_name())
    };
    if let Err(e) = attached.engine.send(id, event) {
        app.exchanges.close(&exchange);
        if matches!(e, EngineError::UnknownSession(_)) {
            GmsApp::lock(&app.callbacks).remove(id);
            return unknown_service(id);
        }
        return engine_error(&e);
    }
    let answer = wait_for_answer(app, id, &exchange, answer).await;
    if answer.is_none() {
        app.exchanges.close(&exchange);
    }
    match answer {
        // An answer of a step whose record the index refused would describe a service the
        // queries cannot see: the client hears why instead.
        Some(Ok(_)) if app.index.refusal(id).is_some() => {
            let message = failure(app, id).unwrap_or_default();
            GmsResponse::error(500, "FlowError", message)
        }
        Some(Ok(answer)) => GmsResponse::json(answer.status, &answer.body),
        Some(Err(Gone)) => {
            GmsApp::lock(&app.callbacks).remove(id);
            GmsResponse::error(
                404,
                "ServiceNotFound",
                format!("service {id} ended before answering {verb}"),
            )
        }
        None => GmsResponse::error(
            504,
            "Timeout",
            format!(
                "service {id} did not answer {verb} within {} ms",
                app.exchange_timeout.as_millis()
            ),
        ),
    }
}

/// The service's session ended while a request waited for it.
struct Gone;

/// How often a waiting request checks that its service still exists.
const ALIVE_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// Waits for the flow's answer: `None` after the exchange timeout, `Gone` as soon as the
/// session is found to have ended (it reached its final state, so the event is never
/// answered; the engine keeps a done session for inspection, which is deleted then).
async fn wait_for_answer(
    app: &Arc<GmsApp>,
    id: &str,
    exchange: &str,
    mut answer: tokio::sync::oneshot::Receiver<FlowAnswer>,
) -> Option<Result<FlowAnswer, Gone>> {
    let deadline = tokio::time::Instant::now() + app.exchange_timeout;
    loop {
        let slice = deadline.min(tokio::time::Instant::now() + ALIVE_CHECK);
        match tokio::time::timeout_at(slice, &mut answer).await {
            Ok(Ok(answer)) => return Some(Ok(answer)),
            Ok(Err(_)) => {
                tracing::warn!(%exchange, "an exchange was dropped unanswered");
                return Some(Err(Gone));
            }
            Err(_) if tokio::time::Instant::now() >= deadline => return None,
            Err(_) => {
                if let Some(message) = failure(app, id) {
                    return Some(Ok(FlowAnswer {
                        status: 500,
                        body: serde_json::json!({
                            "exception": "FlowError",
                            "message": message,
                            "_callback_reason": "FAIL_ERROR",
                        }),
                    }));
                }
                let engine = &app.attached()?.engine;
                match engine.inspect(id).await {
                    Err(EngineError::UnknownSession(_)) => return Some(Err(Gone)),
                    Ok(view) if view.status.is_halted() => {
                        // Its record expired (or it failed): forget the session too.
                        let _ = engine.delete(id).await;
                        return Some(Err(Gone));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The most callbacks one bulk cancel names.
const BULK_CANCEL_MOST: usize = 1000;

/// How many of a bulk cancel's callbacks are asked at once.
const BULK_CANCEL_AT_ONCE: usize = 16;

/// `POST admin/callback/cancel` `{"reason": text, "ids": [id, ...]}` (an operator's): cancels
/// each callback as a `DELETE` would, the reason kept in its record (`_cancel_reason`).
/// Answers one result per id, in order: `{"_id", "status", "record" | "error"}`; a callback
/// its flow refuses to cancel (already completed, with an agent) says so in its result.
pub(crate) async fn bulk_cancel(app: &Arc<GmsApp>, request: &GmsRequest) -> GmsResponse {
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => return GmsResponse::bad_request(format!("the body is not JSON: {e}")),
    };
    let ids: Option<Vec<&str>> = body["ids"]
        .as_array()
        .map(|ids| ids.iter().map(Value::as_str).collect::<Option<_>>())
        .unwrap_or(None);
    let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
        return GmsResponse::bad_request("ids must be a non-empty list of callback ids");
    };
    if ids.len() > BULK_CANCEL_MOST {
        return GmsResponse::bad_request(format!(
            "{} ids; one bulk cancel names at most {BULK_CANCEL_MOST}",
            ids.len()
        ));
    }
    let reason = match &body["reason"] {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        _ => return GmsResponse::bad_request("reason must be text"),
    };
    let mut results = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BULK_CANCEL_AT_ONCE) {
        let cancels = chunk
            .iter()
            .map(|id| cancel_one(app, request, id, reason.as_deref()));
        results.extend(futures_util::future::join_all(cancels).await);
    }
    GmsResponse::json(200, &Value::Array(results))
}

/// One callback of a bulk cancel: its result.
async fn cancel_one(
    app: &Arc<GmsApp>,
    request: &GmsRequest,
    id: &str,
    reason: Option<&str>,
) -> Value {
    let mut fields = Map::new();
    if let Some(reason) = reason {
        fields.insert("_cancel_reason".into(), Value::from(reason));
    }
    let answer = ask_flow(app, id, Verb::Cancel, fields, request).await;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let part = if answer.status < 300 {
        "record"
    } else {
        "error"
    };
    serde_json::json!({"_id": id, "status": answer.status, part: body})
}

/// The callback `id`, when it exists and `request` may use `verb` on it ([`access`]);
/// else the answer (404, 401 or 403).
pub(crate) async fn admit(
    app: &Arc<GmsApp>,
    request: &GmsRequest,
    id: &str,
    verb: Verb,
) -> Result<CallbackLink, GmsResponse> {
    let Some(link) = callback(app, id).await else {
        return Err(unknown_service(id));
    };
    let agent = app.index.field(id, "_agent");
    let holders = Holders {
        owner: &link.owner,
        agent: agent.as_ref().and_then(Value::as_str),
    };
    access::callback(request, verb, id, holders).map_err(|denied| refused(&denied))?;
    Ok(link)
}

/// Why the service's flow failed, if it did: its record says FAIL_ERROR, or the record it
/// published breaks the contract. Nothing will answer a request waiting on it then.
fn failure(app: &GmsApp, id: &str) -> Option<String> {
    if let Some(e) = app.index.refusal(id) {
        return Some(format!(
            "service {id}: its flow published a bad record: {e}"
        ));
    }
    let failed = app
        .index
        .get(id)
        .is_some_and(|record| record["_callback_reason"] == "FAIL_ERROR");
    failed.then(|| {
        format!(
            "service {id} ended with FAIL_ERROR: its flow failed \
             (the server logs the error under the label FAIL_ERROR)"
        )
    })
}

/// The callback service `id`: known to this process, or a stored session of the callback
/// flow brought back after a restart (then remembered).
pub(crate) async fn callback(app: &Arc<GmsApp>, id: &str) -> Option<CallbackLink> {
    if let Some(link) = GmsApp::lock(&app.callbacks).get(id) {
        return Some(link.clone());
    }
    let view = app.attached()?.engine.inspect(id).await.ok()?;
    let service_name = view.datamodel.get("service_name")?.as_str()?.to_string();
    let service = app.services.get(&service_name)?;
    // A session of the service's flow (by the document's name, when it was read already).
    let flow_name = app
        .flows
        .loaded(&service.document)
        .and_then(|f| f.document.name.clone());
    let same_flow = flow_name.is_none() || view.name == flow_name;
    if !same_flow || view.status.is_halted() {
        return None;
    }
    let owner = view
        .datamodel
        .get("gms_user")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let link = CallbackLink {
        service_name,
        owner,
    };
    GmsApp::lock(&app.callbacks).insert(id.to_string(), link.clone());
    Some(link)
}

fn unknown_service_name(name: &str) -> GmsResponse {
    GmsResponse::error(
        404,
        "ServiceNotFound",
        format!("no callback service named {name}"),
    )
}

pub(crate) fn unknown_service(id: &str) -> GmsResponse {
    GmsResponse::error(404, "ServiceNotFound", format!("no callback service {id}"))
}

fn engine_error(e: &EngineError) -> GmsResponse {
    let status = match e {
        EngineError::UnknownSession(_) => 404,
        EngineError::QueueFull(_) => 429,
        EngineError::TooManySessions(_)
        | EngineError::ShuttingDown
        | EngineError::LowMemory { .. } => 503,
        EngineError::Runaway(_) => 500,
    };
    GmsResponse::error(status, "Unavailable", e.to_string())
}

/// The `_service_name` of a record answered by a flow.
fn service_name_of(answer: &GmsResponse) -> Option<String> {
    let record: Value = serde_json::from_slice(&answer.body).ok()?;
    record
        .get("_service_name")
        .and_then(Value::as_str)
        .map(str::to_string)
}
