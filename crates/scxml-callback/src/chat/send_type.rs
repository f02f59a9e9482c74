//! `<send type="chat">`: lets a flow act on a chat interaction it holds, without an agent.
//!
//! The routing adapter delivers chats to agents; this is for what a flow must do itself, e.g.
//! tell the customer that nobody could take the chat and close it, so the customer's app is
//! not left waiting on an open chat.
//!
//! **Params**: `interaction` (the chat id; required), `action` (`notice`, the default, or
//! `end`), `text` (the notice; with `end`, an optional last notice before the chat closes) and
//! `nickname` (who the notice is from, default `System`). A notice is posted by a participant
//! of type `External` that joins, posts and leaves, so the transcript shows who said it.
//! `end` makes everyone still present leave, which ends the chat.
//!
//! An unknown or already ended chat is a delivery failure: the session gets
//! `error.communication` with the send id.

use super::ChatServer;
use scxml::interpreter::{SendError, SendRequest};
use scxml::io::{CustomSendType, EventSink, Registry};
use serde_json::Value;
use std::sync::Arc;

/// The names the send type is registered under.
pub const CHAT_SEND_TYPE_NAMES: [&str; 2] = ["chat", "http://scxml-runtime/gms/chat"];

/// The `<send>` type; shares the chat server.
#[derive(Debug, Clone)]
pub struct ChatSendType {
    chat: Arc<ChatServer>,
}

impl ChatSendType {
    /// The send type over the chat server the rest of the application uses, so a flow's
    /// notices reach the same chats the customer and the agents see.
    pub fn new(chat: Arc<ChatServer>) -> ChatSendType {
        ChatSendType { chat }
    }

    /// Registers the type under [`CHAT_SEND_TYPE_NAMES`].
    pub fn register(self, registry: &mut Registry) {
        registry.register_send(&CHAT_SEND_TYPE_NAMES, Arc::new(self));
    }

    fn post_notice(&self, chat_id: &str, nickname: &str, text: &str) -> Result<(), SendError> {
        self.chat
            .system_notice(chat_id, nickname, text)
            .map_err(communication)
    }
}

fn communication(e: impl std::fmt::Display) -> SendError {
    SendError::Communication(e.to_string())
}

impl CustomSendType for ChatSendType {
    fn send(&self, request: SendRequest, _reply: Arc<dyn EventSink>) -> Result<(), SendError> {
        let data = request.event.data.as_ref();
        let text_param = |name: &str| {
            data.and_then(|d| d.get(name)).and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Null | Value::String(_) => None,
                other => Some(other.to_string()),
            })
        };
        let Some(chat_id) = text_param("interaction").or(request.target.clone()) else {
            return Err(SendError::InvalidTarget(
                "a chat send needs the interaction (param or target)".into(),
            ));
        };
        if !request.delay.is_zero() {
            return Err(SendError::InvalidTarget(
                "a chat send cannot be delayed".into(),
            ));
        }
        let nickname = text_param("nickname").unwrap_or_else(|| "System".into());
        let text = text_param("text");
        match text_param("action").as_deref().unwrap_or("notice") {
            "notice" => {
                let text = text
                    .ok_or_else(|| SendError::InvalidTarget("a chat notice needs a text".into()))?;
                self.post_notice(&chat_id, &nickname, &text)
            }
            "end" => {
                if let Some(text) = text {
                    self.post_notice(&chat_id, &nickname, &text)?;
                }
                self.chat.end(&chat_id).map(|_| ()).map_err(communication)
            }
            other => Err(SendError::InvalidTarget(format!(
                "unknown chat action {other} (notice or end)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{ChatState, EntryType, NewChat, ParticipantType};
    use scxml::interpreter::Event;
    use serde_json::json;

    struct NoReply;
    impl EventSink for NoReply {
        fn deliver(&self, _event: Event) {}
    }

    fn send(kind: &ChatSendType, params: Value) -> Result<(), SendError> {
        let request = SendRequest {
            event: Event {
                data: Some(params),
                ..Event::external("chat")
            },
            target: None,
            kind: "chat".into(),
            sendid: "s1".into(),
            delay: std::time::Duration::ZERO,
        };
        kind.send(request, Arc::new(NoReply))
    }

    #[test]
    fn a_flow_posts_a_notice_and_ends_the_chat() {
        let chat = Arc::new(ChatServer::new());
        let (summary, _) = chat.request_chat(NewChat {
            service_id: "s1".into(),
            ..NewChat::default()
        });
        let id = summary.chat_id;
        let kind = ChatSendType::new(chat.clone());
        send(&kind, json!({"interaction": id, "text": "Please hold"})).unwrap();
        send(
            &kind,
            json!({"interaction": id, "action": "end", "text": "No agent is available"}),
        )
        .unwrap();
        let summary = chat.get(&id).unwrap();
        assert_eq!(summary.state, ChatState::Ended);
        let transcript = chat.transcript(&id, 1).unwrap();
        let notices: Vec<(&str, ParticipantType)> = transcript
            .messages
            .iter()
            .filter(|e| e.kind == EntryType::Notice)
            .map(|e| (e.text.as_deref().unwrap_or(""), e.from.kind))
            .collect();
        assert_eq!(
            notices,
            [
                ("Please hold", ParticipantType::External),
                ("No agent is available", ParticipantType::External)
            ]
        );
        // The chat is over: another action fails as a delivery failure.
        let again = send(&kind, json!({"interaction": id, "text": "late"}));
        assert!(
            matches!(again, Err(SendError::Communication(_))),
            "{again:?}"
        );
    }

    #[test]
    fn bad_params_are_refused() {
        let kind = ChatSendType::new(Arc::new(ChatServer::new()));
        assert!(matches!(
            send(&kind, json!({"text": "x"})),
            Err(SendError::InvalidTarget(_))
        ));
        assert!(matches!(
            send(&kind, json!({"interaction": "c", "action": "dance"})),
            Err(SendError::InvalidTarget(_))
        ));
        assert!(matches!(
            send(&kind, json!({"interaction": "nope", "text": "x"})),
            Err(SendError::Communication(_))
        ));
    }
}
