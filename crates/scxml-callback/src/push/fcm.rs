//! Firebase Cloud Messaging (HTTP v1 API): the request for one device token.
//!
//! `POST <endpoint>` with `Authorization: Bearer <access token>` and
//! `{"message": {"token", "data": {"id", "tag", "message"}, "notification"?: {"title",
//! "body"}, "android": {"priority": "high"}}}`. FCM data values must be strings, so the
//! notification's message travels as JSON text in `data.message`; apps parse it back.

use super::config::FcmConfig;
use super::transport::HttpRequest;
use super::{Notification, PushError};
use serde_json::{json, Map, Value};

/// The FCM v1 request body.
pub fn fcm_body(config: &FcmConfig, token: &str, notification: &Notification) -> Value {
    let message_text = match &notification.message {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut message = Map::new();
    message.insert("token".into(), json!(token));
    message.insert(
        "data".into(),
        json!({"id": notification.id, "tag": notification.tag, "message": message_text}),
    );
    if config.title.is_some() || config.body.is_some() {
        let mut visible = Map::new();
        if let Some(title) = &config.title {
            visible.insert("title".into(), json!(title));
        }
        let body = config
            .body
            .as_deref()
            .or_else(|| notification.display_text());
        if let Some(body) = body {
            visible.insert("body".into(), json!(body));
        }
        message.insert("notification".into(), Value::Object(visible));
    }
    message.insert("android".into(), json!({"priority": "high"}));
    json!({ "message": message })
}

/// The FCM request (debug endpoint and token when `debug`).
pub fn fcm_request(
    config: &FcmConfig,
    token: &str,
    notification: &Notification,
    debug: bool,
) -> Result<HttpRequest, PushError> {
    let (endpoint, access_token) = config.endpoint_and_token(debug)?;
    Ok(
        HttpRequest::json(endpoint, &fcm_body(config, token, notification))
            .with_header("content-type", "application/json; charset=UTF-8")
            .with_header("authorization", format!("Bearer {access_token}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> Notification {
        Notification {
            id: "n1".into(),
            message: json!({"_id": "369-a", "_display_message": "Your agent is ready"}),
            tag: "service.agentavailable.369-a".into(),
        }
    }

    #[test]
    fn data_only_message() {
        let config = FcmConfig {
            endpoint: Some("http://fcm.local/send".into()),
            access_token: Some("tok".into()),
            ..FcmConfig::default()
        };
        let r = fcm_request(&config, "device-token", &note(), false).unwrap();
        assert_eq!(r.url, "http://fcm.local/send");
        assert_eq!(r.header("authorization"), Some("Bearer tok"));
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=UTF-8")
        );
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let m = &body["message"];
        assert_eq!(m["token"], "device-token");
        assert_eq!(m["data"]["id"], "n1");
        assert_eq!(m["data"]["tag"], "service.agentavailable.369-a");
        let inner: Value = serde_json::from_str(m["data"]["message"].as_str().unwrap()).unwrap();
        assert_eq!(inner, note().message);
        assert!(m.get("notification").is_none());
        assert_eq!(m["android"]["priority"], "high");
    }

    #[test]
    fn visible_notification_and_debug() {
        let config = FcmConfig {
            project_id: Some("proj".into()),
            access_token: Some("tok".into()),
            debug_endpoint: Some("http://fcm.debug/send".into()),
            title: Some("Callback".into()),
            ..FcmConfig::default()
        };
        let body = fcm_body(&config, "t", &note());
        assert_eq!(
            body["message"]["notification"],
            json!({"title": "Callback", "body": "Your agent is ready"})
        );
        let r = fcm_request(&config, "t", &note(), false).unwrap();
        assert_eq!(
            r.url,
            "https://fcm.googleapis.com/v1/projects/proj/messages:send"
        );
        let r = fcm_request(&config, "t", &note(), true).unwrap();
        assert_eq!(r.url, "http://fcm.debug/send");
        assert_eq!(r.header("authorization"), Some("Bearer tok"));
    }
}
