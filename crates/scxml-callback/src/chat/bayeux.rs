//! Bayeux protocol vocabulary: the messages as typed values, meta channels and channel
//! patterns.
//!
//! [`Message`] is what a client sends, [`Reply`] what the server answers to it (the request's
//! `channel`, `id` and `clientId` echoed, `successful`, `error` as `code::message`, `advice`),
//! [`Delivery`] a message published to a client, and [`Outgoing`] either of the last two, as
//! they share a reply batch. All are serde types with the Bayeux 1.0 field names, so the
//! server reads and writes JSON without picking through untyped values.
//!
//! Reading is lenient the way Bayeux servers are: unknown fields are ignored, and a known
//! field of the wrong type (a numeric `clientId`, a `subscription` list holding numbers)
//! counts as absent, so the server answers with the Bayeux error for a missing field rather
//! than refusing the whole batch.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The meta channel a client opens its session on; the reply carries its `clientId`.
pub(crate) const HANDSHAKE: &str = "/meta/handshake";
/// The meta channel of the long poll: held until messages are queued or the timeout passes.
pub(crate) const CONNECT: &str = "/meta/connect";
/// The meta channel that adds the client to channels' subscribers.
pub(crate) const SUBSCRIBE: &str = "/meta/subscribe";
/// The meta channel that removes the client from channels' subscribers.
pub(crate) const UNSUBSCRIBE: &str = "/meta/unsubscribe";
/// The meta channel that ends the client's session; the server forgets it at once.
pub(crate) const DISCONNECT: &str = "/meta/disconnect";

/// The Bayeux protocol version we speak.
pub(crate) const VERSION: &str = "1.0";
/// The transports we serve over plain HTTP.
pub(crate) const CONNECTION_TYPES: [&str; 2] = ["long-polling", "callback-polling"];

/// The `402::Unknown client` error of Bayeux.
pub(crate) const UNKNOWN_CLIENT: &str = "402::Unknown client";

/// True when a subscription (`/a/b`, `/a/*`, `/a/**`) covers a channel.
pub(crate) fn channel_matches(pattern: &str, channel: &str) -> bool {
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
pub(crate) fn is_valid_channel(channel: &str) -> bool {
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
pub(crate) fn is_service_channel(channel: &str) -> bool {
    channel.starts_with("/service/")
}

/// A message's `id`: clients send strings, some send numbers; echoed as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageId {
    /// A string id, the usual form (`"7"`).
    Text(String),
    /// A numeric id (`7`), which some clients send; echoed as a number.
    Number(serde_json::Number),
}

/// The channels of `/meta/subscribe` and `/meta/unsubscribe`: one, or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subscription {
    /// A single channel or pattern, as a JSON string.
    One(String),
    /// Several channels or patterns, as a JSON array of strings.
    Many(Vec<String>),
}

impl Subscription {
    /// The channels named.
    pub fn channels(&self) -> Vec<&str> {
        match self {
            Subscription::One(channel) => vec![channel.as_str()],
            Subscription::Many(channels) => channels.iter().map(String::as_str).collect(),
        }
    }
}

/// What a client should do after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reconnect {
    /// Connect again (after `interval`).
    Retry,
    /// Handshake again: the server does not know the client.
    Handshake,
    /// Give up.
    None,
}

/// Bayeux `advice`, from the server (and a client's `timeout` wish on its connect).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Advice {
    /// What the client should do next; absent when the server has no advice on it.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub reconnect: Option<Reconnect>,
    /// How long the client should wait before its next connect, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub interval: Option<u64>,
    /// How long the server holds a connect open, milliseconds; on a client's connect, the
    /// longest it wants to wait (the server takes the smaller of the two).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub timeout: Option<u64>,
}

/// A message's `ext`: the `gms_user` a handshake may carry, and whatever else it holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ext {
    /// The device a handshaking client belongs to; binds the client to it as the `gms_user`
    /// request header does, so pushes and chat events for the device reach it.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub gms_user: Option<String>,
    /// The other fields of `ext`, kept as sent and written back unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A message from a client: a meta message (handshake, connect, subscribe...) or a publish.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Message {
    /// A meta channel (`/meta/...`), a `/service/...` channel, or the channel published to;
    /// a message without one is answered `400::Missing channel`.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub channel: Option<String>,
    /// The client's id for this message, echoed in the reply so it can match them.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub id: Option<MessageId>,
    /// The session id the handshake gave the client; every message but a handshake needs it.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub client_id: Option<String>,
    /// A publish's payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The channels or patterns of a subscribe or unsubscribe.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub subscription: Option<Subscription>,
    /// A handshake's transports (`long-polling`, ...); one we serve must be among them.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub supported_connection_types: Option<Vec<String>>,
    /// The transport a connect uses; not checked: every connect is served as a long poll.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub connection_type: Option<String>,
    /// The Bayeux version a handshaking client speaks; not checked.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub version: Option<String>,
    /// The oldest Bayeux version a handshaking client accepts; not checked.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub minimum_version: Option<String>,
    /// The client's wishes; its `timeout` on a connect shortens the long poll.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub advice: Option<Advice>,
    /// Extension fields; a handshake's `ext.gms_user` names the device.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub ext: Option<Ext>,
}

/// The server's answer to one [`Message`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// The request's channel, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The request's id, echoed as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    /// The request's client id; on a handshake, the new session's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Whether the request did what it asked; when false, `error` says why.
    pub successful: bool,
    /// `code::message`, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A subscribe's or unsubscribe's channels, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<Subscription>,
    /// On a handshake, the Bayeux version the server speaks (`1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// On a handshake, the transports the server offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_connection_types: Option<Vec<String>>,
    /// What the client should do next: connect again, handshake again, or give up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
}

/// A message published to a client on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The channel it was published on, which the client subscribed to (or a `/service/`
    /// channel when sent to the client alone).
    pub channel: String,
    /// The payload as published: a push notification, a chat event, a client's publish.
    pub data: Value,
}

/// One message of a reply batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outgoing {
    /// Has `successful`.
    Reply(Reply),
    /// Has `data`.
    Delivery(Delivery),
}

impl From<Reply> for Outgoing {
    fn from(reply: Reply) -> Outgoing {
        Outgoing::Reply(reply)
    }
}

impl From<Delivery> for Outgoing {
    fn from(delivery: Delivery) -> Outgoing {
        Outgoing::Delivery(delivery)
    }
}

impl Reply {
    /// The reply to `request`: its `channel`, `id` and `clientId` echoed.
    pub fn to(request: &Message, successful: bool) -> Reply {
        Reply {
            channel: request.channel.clone(),
            id: request.id.clone(),
            client_id: request.client_id.clone(),
            successful,
            ..Reply::default()
        }
    }

    /// A failed reply with a `code::message` error.
    pub fn failure(request: &Message, error: impl Into<String>) -> Reply {
        Reply {
            error: Some(error.into()),
            ..Reply::to(request, false)
        }
    }

    /// The reply to a message from a client we do not know: handshake again.
    pub fn unknown_client(request: &Message) -> Reply {
        Reply {
            advice: Some(Advice {
                reconnect: Some(Reconnect::Handshake),
                interval: Some(0),
                timeout: None,
            }),
            ..Reply::failure(request, UNKNOWN_CLIENT)
        }
    }
}

/// A field of the wrong type counts as absent.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn message(value: Value) -> Message {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn replies_echo_id_and_client() {
        let req = message(json!({"channel": "/meta/connect", "id": "7", "clientId": "c"}));
        let r = serde_json::to_value(Reply::unknown_client(&req)).unwrap();
        assert_eq!(
            r,
            json!({"channel": "/meta/connect", "id": "7", "clientId": "c", "successful": false,
                   "error": UNKNOWN_CLIENT, "advice": {"reconnect": "handshake", "interval": 0}})
        );
        // A numeric id is echoed as a number.
        let req = message(json!({"channel": "/meta/connect", "id": 7}));
        assert_eq!(
            serde_json::to_value(Reply::to(&req, true)).unwrap()["id"],
            7
        );
    }

    #[test]
    fn messages_read_leniently_and_round_trip() {
        let m = message(json!({
            "channel": "/meta/handshake", "id": "1", "version": "1.0",
            "supportedConnectionTypes": ["long-polling"], "ext": {"gms_user": "dev", "x": 1},
            "advice": {"timeout": 0}, "unknown": true
        }));
        assert_eq!(m.channel.as_deref(), Some("/meta/handshake"));
        assert_eq!(
            m.ext.as_ref().and_then(|e| e.gms_user.as_deref()),
            Some("dev")
        );
        assert_eq!(m.advice.and_then(|a| a.timeout), Some(0));
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"channel": "/meta/handshake", "id": "1", "version": "1.0",
                   "supportedConnectionTypes": ["long-polling"], "ext": {"gms_user": "dev", "x": 1},
                   "advice": {"timeout": 0}})
        );
        // Wrong types count as absent.
        let m = message(
            json!({"channel": 5, "clientId": ["c"], "subscription": [1, 2],
                               "advice": {"timeout": "soon"}, "ext": "e"}),
        );
        assert_eq!(m.channel, None);
        assert_eq!(m.client_id, None);
        assert_eq!(m.subscription, None);
        assert_eq!(m.advice, Some(Advice::default()));
        assert_eq!(m.ext, None);
        let m = message(json!({"subscription": ["/a", "/b/*"]}));
        assert_eq!(m.subscription.unwrap().channels(), ["/a", "/b/*"]);
    }

    #[test]
    fn outgoing_batches_tell_replies_from_deliveries() {
        let batch: Vec<Outgoing> = serde_json::from_value(json!([
            {"channel": "/_genesys", "data": {"x": 1}},
            {"channel": "/meta/connect", "successful": true, "advice": {"reconnect": "retry", "interval": 0, "timeout": 30000}}
        ]))
        .unwrap();
        assert!(matches!(&batch[0], Outgoing::Delivery(d) if d.data["x"] == 1));
        assert!(matches!(&batch[1], Outgoing::Reply(r) if r.successful
            && r.advice.and_then(|a| a.reconnect) == Some(Reconnect::Retry)));
    }
}
