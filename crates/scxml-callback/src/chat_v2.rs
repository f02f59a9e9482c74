//! Chat API v2 for customers who chat without a callback, over REST
//! (`/genesys/2/chat/{service}`) and over CometD (`/service/chatV2/{service}`): each chat is
//! routed to an agent of the service's `app_selected_agent_group` by a session of its
//! `inbound_chat.scxml`, as a chat no callback took.
//!
//! REST: `POST /genesys/2/chat/{service}` asks for a chat (`nickname`, `firstName`,
//! `lastName`, `subject`, `emailAddress`, `userData[key]=value`) and answers `chatId`,
//! `userId`, `secureKey`, `alias` and the first messages; `POST
//! /genesys/2/chat/{service}/{chatId}/{operation}` with the `secureKey` runs `send`,
//! `refresh`, `startTyping`, `stopTyping`, `customNotice`, `updateData` or `disconnect`,
//! answering the transcript from `transcriptPosition`. Failures are 400 with the Chat v2
//! body (`statusCode` 1 and `errors`). The service must be a configured one.
//!
//! A `serviceId` naming a callback is not honoured for routing: over Chat v2 anyone could
//! name any callback, so a chat joins a callback only through that callback's own
//! `ixn/chat`, which its device alone may call.

use super::app::{GmsApp, GmsRequest};
use super::chat::chat_v2_rest;
use super::form::parse_fields;
use super::ixn_chat::start_inbound;
use super::response::GmsResponse;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `POST /genesys/2/chat/{service}[/{chatId}/{operation}]`.
pub(crate) async fn rest(
    app: &Arc<GmsApp>,
    request: &GmsRequest,
    service: &str,
    rest: &[&str],
) -> GmsResponse {
    if request.method != hyper::Method::POST {
        return GmsResponse::error(405, "MethodNotAllowed", "Chat v2 operations are POSTs");
    }
    if !app.services.contains_key(service) {
        return GmsResponse::error(404, "ServiceNotFound", format!("no chat service {service}"));
    }
    let (chat_id, operation) = match rest {
        [] => (None, "requestChat"),
        [chat_id, operation] => (Some(*chat_id), *operation),
        _ => return GmsResponse::not_found(format!("no Chat v2 resource {}", request.path)),
    };
    let fields = match parse_fields(request.content_type.as_deref(), &request.body) {
        Ok(fields) => fields,
        Err(e) => return GmsResponse::bad_request(e),
    };
    let (body, new_chat) = chat_v2_rest(
        &app.chat,
        service,
        chat_id,
        operation,
        &with_user_data(fields),
    );
    if let Some(chat_id) = new_chat {
        route(app, &chat_id, service).await;
    }
    if operation.eq_ignore_ascii_case("disconnect") && body["statusCode"] == 0 {
        if let Some(chat_id) = chat_id {
            customer_left(app, chat_id);
        }
    }
    let status = if body["statusCode"] == 0 { 200 } else { 400 };
    GmsResponse::json(status, &body)
}

/// The form's fields, with `userData[key]=value` gathered into a `userData` object.
fn with_user_data(fields: Map<String, Value>) -> Value {
    let mut data = Map::new();
    let mut user_data = Map::new();
    for (key, value) in fields {
        match key
            .strip_prefix("userData[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            Some(name) if !name.is_empty() => {
                user_data.insert(name.to_string(), value);
            }
            _ => {
                data.insert(key, value);
            }
        }
    }
    if !user_data.is_empty() {
        data.insert("userData".into(), Value::Object(user_data));
    }
    Value::Object(data)
}

/// Routes a new Chat v2 chat: a session of the service's inbound chat script takes it to the
/// service's group. A chat of an unknown service, or one the script cannot start for, is
/// ended with a word to the customer.
pub(crate) async fn route(app: &Arc<GmsApp>, chat_id: &str, service_name: &str) {
    let refuse = |why: String| {
        tracing::warn!(chat = %chat_id, service = %service_name, "a Chat v2 chat is not routed: {why}");
        let _ = app
            .chat
            .system_notice(chat_id, "System", "No agent can take this chat now.");
        let _ = app.chat.end(chat_id);
    };
    let Some(service) = app.services.get(service_name) else {
        return refuse(format!("no service {service_name}"));
    };
    let flow = match app.flows.current(&service.inbound_document).await {
        Ok(flow) => flow,
        Err(e) => return refuse(e.to_string()),
    };
    match start_inbound(app, &flow, "", chat_id, &service.options).await {
        Ok(session) => {
            GmsApp::lock(&app.v2_chats).insert(chat_id.to_string(), session);
        }
        Err(e) => refuse(e.to_string()),
    }
}

/// The customer left a Chat v2 chat: its inbound session stops routing it.
pub(crate) fn customer_left(app: &GmsApp, chat_id: &str) {
    let session = GmsApp::lock(&app.v2_chats).get(chat_id).cloned();
    if let Some(session) = session {
        app.tell_flow(
            &session,
            "chat.customer_left",
            json!({ "interaction": chat_id }),
        );
    }
}
