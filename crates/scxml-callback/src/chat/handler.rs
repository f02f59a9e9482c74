//! The HTTP side of `/genesys/cometd`: decoding a request body into Bayeux messages and
//! running them through the [`CometServer`].
//!
//! Bodies are a JSON array of messages or a single message object, or form-encoded with the
//! batch in a `message` field (as callback-polling and some older clients send it).

use super::bayeux::{Message, Outgoing};
use super::comet::CometServer;
use serde_json::Value;
use std::sync::Arc;

/// Why a body holds no Bayeux batch (answered 400 with this text).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not UTF-8 text.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// The batch is not JSON; the parser's error says where.
    #[error("malformed Bayeux JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The batch, or one of its elements, is JSON but not an object.
    #[error("a Bayeux message must be a JSON object")]
    NotAnObject,
    /// The body holds no message: empty, `[]`, or a form without a `message` field.
    #[error("no Bayeux messages in the body")]
    Empty,
}

/// Callers answer a [`DecodeError`] with its text.
impl From<DecodeError> for String {
    fn from(e: DecodeError) -> String {
        e.to_string()
    }
}

/// Handles one request to the comet endpoint; the answer is the batch to send back as a JSON
/// array. Long polls (`/meta/connect`) make this wait up to the advised timeout. An `Err` is
/// a malformed body (answer 400).
pub async fn handle_cometd(
    server: &Arc<CometServer>,
    body: &[u8],
) -> Result<Vec<Outgoing>, DecodeError> {
    handle_cometd_for_user(server, body, None).await
}

/// As [`handle_cometd`], binding handshaking clients to the request's `gms_user` header so
/// that [`CometServer::publish_to_user`] reaches them.
pub async fn handle_cometd_for_user(
    server: &Arc<CometServer>,
    body: &[u8],
    gms_user: Option<&str>,
) -> Result<Vec<Outgoing>, DecodeError> {
    let messages = decode_messages(body)?;
    Ok(server.handle(messages, gms_user).await)
}

/// The Bayeux messages of a request body.
pub fn decode_messages(body: &[u8]) -> Result<Vec<Message>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let text = text.trim();
    let mut messages = Vec::new();
    if text.starts_with('[') || text.starts_with('{') {
        collect(&mut messages, text)?;
    } else {
        for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
            if key == "message" {
                collect(&mut messages, &value)?;
            }
        }
    }
    if messages.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(messages)
}

/// One message object or an array of them. Every field of a [`Message`] is read leniently,
/// so an object always makes a message; anything else refuses the batch.
fn collect(messages: &mut Vec<Message>, json: &str) -> Result<(), DecodeError> {
    let items = match serde_json::from_str::<Value>(json)? {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => return Err(DecodeError::NotAnObject),
    };
    for item in items {
        if !item.is_object() {
            return Err(DecodeError::NotAnObject);
        }
        messages.push(serde_json::from_value(item)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::CometConfig;
    use serde_json::json;

    #[test]
    fn decodes_json_and_forms() {
        let handshake = Message {
            channel: Some("/meta/handshake".into()),
            ..Message::default()
        };
        let one = decode_messages(br#"{"channel": "/meta/handshake"}"#).unwrap();
        assert_eq!(one, vec![handshake.clone()]);
        let two = decode_messages(br#" [{"channel": "/a"}, {"channel": "/b"}] "#).unwrap();
        assert_eq!(two.len(), 2);
        let form = decode_messages(
            b"message=%5B%7B%22channel%22%3A%22%2Fmeta%2Fhandshake%22%7D%5D&jsonp=cb",
        )
        .unwrap();
        assert_eq!(form, vec![handshake]);
        assert!(decode_messages(b"").is_err());
        assert!(decode_messages(b"[1]").is_err());
        assert!(decode_messages(b"{nope").is_err());
        assert!(decode_messages(b"[]").is_err());
    }

    #[tokio::test]
    async fn handles_a_body() {
        let server = Arc::new(CometServer::new(CometConfig::default()));
        let replies = handle_cometd_for_user(
            &server,
            br#"[{"channel": "/meta/handshake", "version": "1.0"}]"#,
            Some("dev-1"),
        )
        .await
        .unwrap();
        let replies = serde_json::to_value(replies).unwrap();
        assert_eq!(replies[0]["successful"], true);
        let client = replies[0]["clientId"].as_str().unwrap();
        let body = json!([{"channel": "/meta/subscribe", "clientId": client, "subscription": "/_genesys"}]);
        let replies = handle_cometd(&server, body.to_string().as_bytes())
            .await
            .unwrap();
        assert!(matches!(&replies[0], Outgoing::Reply(r) if r.successful));
        assert_eq!(
            server.publish_to_user("dev-1", "/_genesys", json!({"x": 1})),
            1
        );
    }
}
