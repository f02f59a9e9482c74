//! Bayeux protocol vocabulary: meta channels, channel patterns and reply messages.
//!
//! Pure helpers for [`super::CometServer`]: what a Bayeux reply looks like (the request's
//! `channel`, `id` and `clientId` echoed, `successful`, `error` as `code::message`, `advice`)
//! and how subscriptions with `*` and `**` wildcards match channels.

use serde_json::{json, Map, Value};

pub const HANDSHAKE: &str = "/meta/handshake";
pub const CONNECT: &str = "/meta/connect";
pub const SUBSCRIBE: &str = "/meta/subscribe";
pub const UNSUBSCRIBE: &str = "/meta/unsubscribe";
pub const DISCONNECT: &str = "/meta/disconnect";

/// The Bayeux protocol version we speak.
pub const VERSION: &str = "1.0";
/// The transports we serve over plain HTTP.
pub const CONNECTION_TYPES: [&str; 2] = ["long-polling", "callback-polling"];

/// The `402::Unknown client` error of Bayeux.
pub const UNKNOWN_CLIENT: &str = "402::Unknown client";

/// True when a subscription (`/a/b`, `/a/*`, `/a/**`) covers a channel.
pub fn channel_matches(pattern: &str, channel: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix("/**") {
        return channel
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'));
    }
    if let Some(prefix) = pattern.strip_suffix("/*") {
        return channel
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|segment| !segment.is_empty() && !segment.contains('/'));
    }
    pattern == channel
}

/// A channel name: `/`-separated non-empty segments; wildcards only as the last segment.
pub fn is_valid_channel(channel: &str) -> bool {
    let Some(rest) = channel.strip_prefix('/') else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    segments.iter().enumerate().all(|(i, s)| {
        !s.is_empty() && (!s.contains('*') || (i == last && (*s == "*" || *s == "**")))
    })
}

/// True for `/service/...` channels: messages there go to the server, not to subscribers.
pub fn is_service_channel(channel: &str) -> bool {
    channel.starts_with("/service/")
}

/// The fields every reply echoes from its request.
pub fn reply(request: &Value, successful: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for key in ["channel", "id", "clientId"] {
        if let Some(v) = request.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    out.insert("successful".into(), Value::Bool(successful));
    out
}

/// A failed reply with a `code::message` error.
pub fn failure(request: &Value, error: &str) -> Value {
    let mut out = reply(request, false);
    out.insert("error".into(), Value::String(error.to_string()));
    Value::Object(out)
}

/// The reply to a message from a client we do not know: handshake again.
pub fn unknown_client(request: &Value) -> Value {
    let mut out = reply(request, false);
    out.insert("error".into(), Value::String(UNKNOWN_CLIENT.to_string()));
    out.insert(
        "advice".into(),
        json!({"reconnect": "handshake", "interval": 0}),
    );
    Value::Object(out)
}

/// A message delivered to a client.
pub fn delivery(channel: &str, data: Value) -> Value {
    json!({"channel": channel, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(channel_matches("/_genesys", "/_genesys"));
        assert!(!channel_matches("/_genesys", "/_genesys/x"));
        assert!(channel_matches("/a/*", "/a/b"));
        assert!(!channel_matches("/a/*", "/a/b/c"));
        assert!(!channel_matches("/a/*", "/a"));
        assert!(channel_matches("/a/**", "/a/b/c"));
        assert!(!channel_matches("/a/**", "/ab/c"));
        assert!(!channel_matches("/a/**", "/a"));
    }

    #[test]
    fn channel_names() {
        assert!(is_valid_channel("/_genesys"));
        assert!(is_valid_channel("/service/chatV2/customer-support"));
        assert!(is_valid_channel("/a/**"));
        assert!(!is_valid_channel("/a/*/b"));
        assert!(!is_valid_channel("a/b"));
        assert!(!is_valid_channel("/a//b"));
        assert!(!is_valid_channel("/"));
    }

    #[test]
    fn replies_echo_id_and_client() {
        let req = json!({"channel": "/meta/connect", "id": "7", "clientId": "c"});
        let r = unknown_client(&req);
        assert_eq!(r["id"], "7");
        assert_eq!(r["clientId"], "c");
        assert_eq!(r["successful"], false);
        assert_eq!(r["error"], UNKNOWN_CLIENT);
        assert_eq!(r["advice"]["reconnect"], "handshake");
    }
}
