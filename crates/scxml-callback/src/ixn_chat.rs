//! `ixn/chat`: the customer's chat interaction (Chat v1, bound to a callback service).
//!
//! `POST service/{id}/ixn/chat` creates the interaction on the chat server with the customer
//! joined, then asks the flow (`gms.ixn_chat`, with `_interaction` the chat id added to the
//! fields). When the flow accepts (2xx), the chat's entries are forwarded to the device's
//! comet clients on `/_genesys`, and a session of `inbound_chat.scxml` is started with
//! `interaction`, `service_id`, `app_find_agent_timeout` and `app_selected_agent_group`; it
//! hands the interaction to the callback session (`chat.interaction`), which routes it.
//! When the flow refuses, the chat is ended and forgotten. The chat carries the callback's
//! `usr_*` fields for the agent as the service's `_attach_udata` says (`single_json`, the
//! default: one `GMS_UserData` key with them as JSON; `separate_keys`; `none`).
//!
//! The customer's chat operations, `POST service/{id}/ixn/chat/{operation}` with `send`,
//! `refresh`, `startTyping`, `stopTyping` or `disconnect`, act on the chat server directly
//! (they are transport, not flow logic): `send` takes `message`, typing takes an optional
//! `message` preview, `refresh` takes `transcriptPosition`; each answers the transcript from
//! that position (`{chatId, messages, nextPosition, chatEnded}`). A `disconnect` is also told
//! to the flow (`chat.customer_left`), which ends the callback.

use super::api::{admit, ask_flow, flow_unavailable, request_fields, served_url, unknown_service};
use super::app::{CustomerChat, GmsApp, GmsRequest};
use super::chat::{ChatServer, NewChat, Recipient, GENESYS_CHANNEL};
use super::config::AttachUserData;
use super::documents::Flow;
use super::response::GmsResponse;
use super::verb::Verb;
use scxml_engine::{CreateOptions, EngineError};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `POST service/{id}/ixn/chat`.
pub(crate) async fn create(app: &Arc<GmsApp>, request: &GmsRequest, id: &str) -> GmsResponse {
    // Who may ask is settled before a chat exists.
    let link = match admit(app, request, id, Verb::IxnChat).await {
        Ok(link) => link,
        Err(answer) => return answer,
    };
    let Some(service) = app.services.get(&link.service_name) else {
        return unknown_service(id);
    };
    // The chat's script is read first: a chat it cannot route is not started.
    let inbound = match app.flows.current(&service.inbound_document).await {
        Ok(flow) => flow,
        Err(e) => return flow_unavailable(&link.service_name, &e),
    };
    let mut fields = match request_fields(request) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let new_chat = NewChat {
        service_id: id.to_string(),
        subject: text("subject"),
        first_name: text("firstName"),
        last_name: text("lastName"),
        nickname: text("nickname"),
        email: text("email"),
        user_data: attached_user_data(app, id, &service.options),
    };
    let (summary, joined) = app.chat.request_chat(new_chat);
    let chat_id = summary.chat_id;
    fields.insert("_interaction".into(), Value::from(chat_id.clone()));
    let answer = ask_flow(app, id, Verb::IxnChat, fields, request).await;
    if !(200..300).contains(&answer.status) {
        let _ = app.chat.end(&chat_id);
        app.chat.remove(&chat_id);
        return answer;
    }
    GmsApp::lock(&app.customer_chats).insert(
        id.to_string(),
        CustomerChat {
            chat_id: chat_id.clone(),
            participant_id: joined.participant.participant_id.clone(),
        },
    );
    if let Some(user) = &request.gms_user {
        if let Err(e) =
            app.comet
                .follow_chat(&chat_id, Recipient::User(user.clone()), GENESYS_CHANNEL, 1)
        {
            tracing::warn!(chat = %chat_id, error = %e, "cannot forward the chat to the device");
        }
    }
    if let Err(e) = start_inbound(app, &inbound, id, &chat_id, &service.options).await {
        tracing::error!(chat = %chat_id, error = %e, "cannot start inbound_chat.scxml");
        return GmsResponse::error(500, "Internal", e.to_string());
    }
    answer
}

/// What the new chat carries for the agent: the service id, and the callback's `usr_*`
/// fields as the service's `_attach_udata` says (from the record the flow published).
fn attached_user_data(app: &GmsApp, id: &str, options: &Map<String, Value>) -> Map<String, Value> {
    let user_data: Map<String, Value> = match app.index.get(id) {
        Some(Value::Object(record)) => record
            .into_iter()
            .filter(|(key, _)| key.starts_with("usr_"))
            .collect(),
        _ => Map::new(),
    };
    let how = options
        .get("_attach_udata")
        .and_then(AttachUserData::parse)
        .unwrap_or(AttachUserData::SingleJson);
    let mut attached = how.attach(user_data);
    attached.insert("_service_id".into(), Value::from(id));
    attached
}

/// Why the inbound chat script could not be started for a new chat (answered 500).
#[derive(Debug, thiserror::Error)]
pub(crate) enum InboundError {
    /// A request arrived before the server handed the application its engine.
    #[error("the callback service is starting")]
    Starting,
    /// The engine refused the session (it holds the most sessions it may, or is shutting
    /// down).
    #[error("{0}")]
    Engine(#[from] EngineError),
}

/// Starts `inbound_chat.scxml` for a new interaction (`service_id` empty: a chat no callback
/// takes, routed to the service's `app_selected_agent_group`); answers its session id.
pub(crate) async fn start_inbound(
    app: &Arc<GmsApp>,
    flow: &Flow,
    service_id: &str,
    chat_id: &str,
    options: &Map<String, Value>,
) -> Result<String, InboundError> {
    let attached = app.attached().ok_or(InboundError::Starting)?;
    let option = |name: &str| options.get(name).cloned().unwrap_or(Value::Null);
    let initial_data = vec![
        ("interaction".to_string(), Value::from(chat_id)),
        ("service_id".to_string(), Value::from(service_id)),
        (
            "app_find_agent_timeout".to_string(),
            option("app_find_agent_timeout"),
        ),
        (
            "app_selected_agent_group".to_string(),
            option("app_selected_agent_group"),
        ),
    ];
    attached
        .engine
        .create_id(
            flow.document.clone(),
            CreateOptions {
                initial_data,
                document_url: Some(served_url(&attached.base_url, flow)),
            },
        )
        .await
        .map_err(InboundError::from)
}

/// `POST service/{id}/ixn/chat/{operation}`: the customer's side of the chat.
pub(crate) async fn operation(
    app: &Arc<GmsApp>,
    request: &GmsRequest,
    id: &str,
    operation: &str,
) -> GmsResponse {
    if let Err(answer) = admit(app, request, id, Verb::IxnChat).await {
        return answer;
    }
    let Some(chat) = GmsApp::lock(&app.customer_chats).get(id).cloned() else {
        return GmsResponse::not_found(format!("service {id} has no chat"));
    };
    let fields = match request_fields(request) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let field = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
    let position = field("transcriptPosition").parse().unwrap_or(1);
    let done = match operation {
        "send" => app
            .chat
            .send_message(&chat.chat_id, &chat.participant_id, field("message"))
            .map(|_| ()),
        "refresh" => Ok(()),
        "startTyping" | "stopTyping" => {
            // The typed text so far, if the app sends a preview (`message`).
            let preview = Some(field("message")).filter(|m| !m.is_empty());
            let typing = if operation == "startTyping" {
                ChatServer::start_typing
            } else {
                ChatServer::stop_typing
            };
            typing(&app.chat, &chat.chat_id, &chat.participant_id, preview).map(|_| ())
        }
        "disconnect" => app
            .chat
            .leave(&chat.chat_id, &chat.participant_id)
            .map(|_| customer_left(app, id, &chat.chat_id)),
        other => return GmsResponse::not_found(format!("no chat operation {other}")),
    };
    if let Err(e) = done {
        return GmsResponse::error(409, "ChatError", e.to_string());
    }
    match app.chat.transcript(&chat.chat_id, position) {
        Ok(transcript) => GmsResponse::json(200, &json!(transcript)),
        Err(e) => GmsResponse::error(404, "ChatError", e.to_string()),
    }
}

/// The customer left the chat: the service's flow hears it (`chat.customer_left
/// {interaction}`) and decides what that means for the callback (a chat not yet with an agent
/// is dead; one with an agent has had its customer connected).
fn customer_left(app: &Arc<GmsApp>, service_id: &str, chat_id: &str) {
    app.tell_flow(
        service_id,
        "chat.customer_left",
        json!({ "interaction": chat_id }),
    );
}
