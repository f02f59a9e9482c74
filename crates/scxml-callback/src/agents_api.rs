//! The agent desktop's API under `/genesys/1/agents/{agent}`: agent state for routing and the
//! agent's side of routed chats. (GMS leaves this to Genesys's agent desktop and T-Server; we
//! need a small stand-in so a scenario can run end to end.)
//!
//! - `GET` : the agent (id, name, groups, state).
//! - `POST login | ready | not-ready | logout`: state changes; `ready` may reserve the agent
//!   for a waiting callback at once (the flow hears `routing.reserved`).
//! - `GET interactions`: the interactions routed to the agent, with their chats.
//! - `POST interactions/{ixn}/accept`: the agent joins the chat.
//! - `POST interactions/{ixn}/messages` `{"text"}`: a message from the agent.
//! - `GET interactions/{ixn}/transcript?from=N`: the chat from position N (default 1).
//! - `POST interactions/{ixn}/end` (optional `disposition`, a code for how it went, and
//!   `wrap_up_secs`): ends the chat, tells the callback flow (`chat.ended` {interaction,
//!   agent, disposition}), and puts the agent in wrap-up for `wrap_up_secs` (default the
//!   routing's `wrap_up_secs`, 0: ready at once); `ready` ends a wrap-up early.
//! - `POST interactions/{ixn}/reject`: turns down an offered (not accepted) interaction: the
//!   agent goes not-ready and the flow that routed it hears `chat.rejected` {interaction,
//!   agent}, and routes it again.

use super::app::{GmsApp, GmsRequest};
use super::chat::{ChatError, ParticipantType};
use super::form::{parse_fields, urlencoded};
use super::response::GmsResponse;
use super::routing::RoutingError;
use hyper::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// Routes `/genesys/1/agents/{agent}/{rest}`.
pub(crate) async fn handle(
    app: &Arc<GmsApp>,
    request: &GmsRequest,
    agent: &str,
    rest: &[&str],
) -> GmsResponse {
    let method = &request.method;
    let now = Instant::now();
    let router = &app.router;
    let changed = match rest {
        [] if method == Method::GET => Ok(Vec::new()),
        ["login"] if method == Method::POST => router.login(agent, now),
        ["ready"] if method == Method::POST => router.set_ready(agent, now),
        ["not-ready"] if method == Method::POST => router.set_not_ready(agent, now),
        ["logout"] if method == Method::POST => router.logout(agent, now),
        ["interactions"] if method == Method::GET => return interactions(app, agent),
        ["interactions", ixn, "accept"] if method == Method::POST => {
            return accept(app, agent, ixn)
        }
        ["interactions", ixn, "messages"] if method == Method::POST => {
            return message(app, request, agent, ixn)
        }
        ["interactions", ixn, "transcript"] if method == Method::GET => {
            return transcript(app, request, ixn)
        }
        ["interactions", ixn, "end"] if method == Method::POST => {
            return end(app, request, agent, ixn)
        }
        ["interactions", ixn, "reject"] if method == Method::POST => {
            return reject(app, agent, ixn)
        }
        _ => return GmsResponse::not_found(format!("no agent resource {method} {}", request.path)),
    };
    match changed.and_then(|_| {
        router
            .agent(agent)
            .ok_or(RoutingError::UnknownAgent(agent.into()))
    }) {
        Ok(view) => GmsResponse::json(200, &json!(view)),
        Err(e) => routing_error(&e),
    }
}

fn interactions(app: &Arc<GmsApp>, agent: &str) -> GmsResponse {
    match app.router.offered(agent) {
        Ok(offers) => GmsResponse::json(
            200,
            &Value::Array(
                offers
                    .into_iter()
                    .map(|o| {
                        let chat = app.chat.get(&o.interaction);
                        // The service the chat belongs to; the routing request is another
                        // session when inbound_chat.scxml routed it to its fallback group.
                        let service_id = chat
                            .as_ref()
                            .map(|c| c.service_id.clone())
                            .filter(|s| !s.is_empty())
                            .unwrap_or(o.request);
                        json!({
                            "interaction": o.interaction,
                            "service_id": service_id,
                            "virtual_queue": o.virtual_queue,
                            "accepted": o.accepted,
                            "chat": chat,
                        })
                    })
                    .collect(),
            ),
        ),
        Err(e) => routing_error(&e),
    }
}

fn accept(app: &Arc<GmsApp>, agent: &str, ixn: &str) -> GmsResponse {
    if let Err(e) = app.router.accept(agent, ixn) {
        return routing_error(&e);
    }
    let name = app
        .router
        .agent(agent)
        .map_or_else(|| agent.to_string(), |a| a.name);
    let seat = (agent.to_string(), ixn.to_string());
    if let Some(participant) = GmsApp::lock(&app.agent_seats).get(&seat) {
        return GmsResponse::json(
            200,
            &json!({"interaction": ixn, "participantId": participant}),
        );
    }
    match app.chat.join(ixn, &name, ParticipantType::Agent) {
        Ok(joined) => {
            let participant = joined.participant.participant_id.clone();
            GmsApp::lock(&app.agent_seats).insert(seat, participant.clone());
            GmsResponse::json(
                200,
                &json!({"interaction": ixn, "participantId": participant, "entry": joined.entry}),
            )
        }
        Err(e) => chat_error(&e),
    }
}

fn message(app: &Arc<GmsApp>, request: &GmsRequest, agent: &str, ixn: &str) -> GmsResponse {
    let seat = (agent.to_string(), ixn.to_string());
    let Some(participant) = GmsApp::lock(&app.agent_seats).get(&seat).cloned() else {
        return GmsResponse::error(
            409,
            "NotAccepted",
            format!("agent {agent} has not accepted {ixn}"),
        );
    };
    let fields = match parse_fields(request.content_type.as_deref(), &request.body) {
        Ok(f) => f,
        Err(e) => return GmsResponse::bad_request(e),
    };
    let Some(text) = fields.get("text").and_then(Value::as_str) else {
        return GmsResponse::bad_request("a message needs a `text` field");
    };
    match app.chat.send_message(ixn, &participant, text) {
        Ok(entry) => GmsResponse::json(200, &json!(entry)),
        Err(e) => chat_error(&e),
    }
}

fn transcript(app: &Arc<GmsApp>, request: &GmsRequest, ixn: &str) -> GmsResponse {
    let query = urlencoded(request.query.as_deref().unwrap_or_default().as_bytes());
    let from = query
        .get("from")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    match app.chat.transcript(ixn, from) {
        Ok(t) => GmsResponse::json(200, &json!(t)),
        Err(e) => chat_error(&e),
    }
}

/// The longest disposition code kept.
const MAX_DISPOSITION: usize = 200;

fn end(app: &Arc<GmsApp>, request: &GmsRequest, agent: &str, ixn: &str) -> GmsResponse {
    let fields = match parse_fields(request.content_type.as_deref(), &request.body) {
        Ok(f) => f,
        Err(e) => return GmsResponse::bad_request(e),
    };
    let disposition = match fields.get("disposition") {
        None | Some(Value::Null) => None,
        Some(Value::String(code)) if code.chars().count() <= MAX_DISPOSITION => {
            Some(code.trim().to_string()).filter(|c| !c.is_empty())
        }
        Some(_) => {
            return GmsResponse::bad_request(format!(
                "disposition must be a code of at most {MAX_DISPOSITION} characters"
            ))
        }
    };
    let wrap_up = match fields.get("wrap_up_secs") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let seconds = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|s| s.is_finite() && (0.0..=86_400.0).contains(s));
            match seconds {
                Some(s) => Some(std::time::Duration::from_secs_f64(s)),
                None => {
                    return GmsResponse::bad_request(
                        "wrap_up_secs must be seconds between 0 and 86400",
                    )
                }
            }
        }
    };
    let offer = match app.router.offered(agent) {
        Ok(offers) => offers.into_iter().find(|o| o.interaction == ixn),
        Err(e) => return routing_error(&e),
    };
    let Some(offer) = offer else {
        return routing_error(&RoutingError::NoSuchInteraction {
            agent: agent.into(),
            interaction: ixn.into(),
        });
    };
    match app.chat.end(ixn) {
        Ok(_) | Err(ChatError::Ended(_)) => {}
        Err(e) => return chat_error(&e),
    }
    if let Err(e) = app
        .router
        .end_interaction(agent, ixn, wrap_up, Instant::now())
    {
        return routing_error(&e);
    }
    GmsApp::lock(&app.agent_seats).remove(&(agent.to_string(), ixn.to_string()));
    app.tell_flow(
        &offer.request,
        "chat.ended",
        json!({"interaction": ixn, "agent": agent, "disposition": disposition}),
    );
    let state = app.router.agent(agent).map(|a| a.state);
    GmsResponse::json(
        200,
        &json!({"interaction": ixn, "ended": true, "agent_state": state}),
    )
}

/// The agent turns down an offered interaction: the agent goes not-ready, and the flow that
/// routed it hears `chat.rejected` {interaction, agent} and routes it again.
fn reject(app: &Arc<GmsApp>, agent: &str, ixn: &str) -> GmsResponse {
    let offer = match app.router.reject(agent, ixn, Instant::now()) {
        Ok(offer) => offer,
        Err(e) => return routing_error(&e),
    };
    app.tell_flow(
        &offer.request,
        "chat.rejected",
        json!({"interaction": ixn, "agent": agent}),
    );
    match app.router.agent(agent) {
        Some(view) => GmsResponse::json(200, &json!(view)),
        None => routing_error(&RoutingError::UnknownAgent(agent.into())),
    }
}

fn routing_error(e: &RoutingError) -> GmsResponse {
    let status = match e {
        RoutingError::UnknownAgent(_) => 404,
        RoutingError::NoSuchInteraction { .. } | RoutingError::UnknownRequest(_) => 404,
        _ => 409,
    };
    GmsResponse::error(status, e.kind(), e.to_string())
}

fn chat_error(e: &ChatError) -> GmsResponse {
    let status = match e {
        ChatError::UnknownChat(_) | ChatError::UnknownParticipant(_) => 404,
        ChatError::NotPresent(_) | ChatError::Ended(_) => 409,
    };
    GmsResponse::error(status, "ChatError", e.to_string())
}
