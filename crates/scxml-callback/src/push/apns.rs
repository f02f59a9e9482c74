//! Apple Push Notification service: the payload and request for one device token.
//!
//! The payload is `{"aps": {"alert": {"title"?, "body"}, "sound"?}, "id", "tag", "message"}`
//! (the notification's fields as custom keys beside `aps`), posted to
//! `<endpoint>/3/device/<token>` with `apns-topic`, `apns-push-type: alert`,
//! `apns-priority: 10` and `authorization`. The sandbox endpoint is used for
//! `_use_debug_push_certificate`.
//!
//! Apple's servers accept HTTP/2 only and our client speaks HTTP/1.1: point `endpoint` at an
//! HTTP/2 relay (or a test double) rather than at Apple directly.

use super::config::ApnsConfig;
use super::transport::HttpRequest;
use super::{Notification, PushError};
use serde_json::{json, Map, Value};

/// The APNs JSON payload.
pub fn apns_payload(config: &ApnsConfig, notification: &Notification) -> Value {
    let body = config
        .alert_body
        .as_deref()
        .or_else(|| notification.display_text())
        .unwrap_or(&notification.tag);
    let mut alert = Map::new();
    if let Some(title) = &config.alert_title {
        alert.insert("title".into(), json!(title));
    }
    alert.insert("body".into(), json!(body));
    let mut aps = Map::new();
    aps.insert("alert".into(), Value::Object(alert));
    if let Some(sound) = &config.sound {
        aps.insert("sound".into(), json!(sound));
    }
    json!({
        "aps": aps,
        "id": notification.id,
        "tag": notification.tag,
        "message": notification.message,
    })
}

/// The APNs request for a device token.
pub fn apns_request(
    config: &ApnsConfig,
    token: &str,
    notification: &Notification,
    debug: bool,
) -> Result<HttpRequest, PushError> {
    if config.topic.is_empty() {
        return Err(PushError::NotConfigured("ios"));
    }
    if !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(PushError::InvalidDevice(format!(
            "{token:?} is not an APNs device token"
        )));
    }
    let endpoint = if debug {
        &config.debug_endpoint
    } else {
        &config.endpoint
    };
    let url = format!("{}/3/device/{token}", endpoint.trim_end_matches('/'));
    let mut request = HttpRequest::json(url, &apns_payload(config, notification))
        .with_header("apns-topic", config.topic.clone())
        .with_header("apns-push-type", "alert")
        .with_header("apns-priority", "10");
    if let Some(auth) = config.authorization_for(debug)? {
        request = request.with_header("authorization", auth);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> Notification {
        Notification {
            id: "n1".into(),
            message: json!({"_action": "get-dialog-user-confirmation-provide_code-false", "_id": "369-a"}),
            tag: "service.agentavailable.369-a".into(),
        }
    }

    fn config() -> ApnsConfig {
        ApnsConfig {
            topic: "com.example.callback".into(),
            authorization: Some("bearer jwt".into()),
            debug_authorization: Some("bearer debug-jwt".into()),
            alert_title: Some("Callback".into()),
            alert_body: Some("An agent is available".into()),
            sound: Some("default".into()),
            ..ApnsConfig::default()
        }
    }

    #[test]
    fn payload() {
        let p = apns_payload(&config(), &note());
        assert_eq!(
            p["aps"],
            json!({"alert": {"title": "Callback", "body": "An agent is available"}, "sound": "default"})
        );
        assert_eq!(p["message"]["_id"], "369-a");
        assert_eq!(p["id"], "n1");
        assert_eq!(p["tag"], "service.agentavailable.369-a");
        // Without a configured text the alert shows the tag (or `_display_message`).
        let p = apns_payload(&ApnsConfig::default(), &note());
        assert_eq!(
            p["aps"],
            json!({"alert": {"body": "service.agentavailable.369-a"}})
        );
    }

    #[test]
    fn request_headers_and_endpoints() {
        let r = apns_request(&config(), "abc123", &note(), false).unwrap();
        assert_eq!(r.url, "https://api.push.apple.com/3/device/abc123");
        assert_eq!(r.header("apns-topic"), Some("com.example.callback"));
        assert_eq!(r.header("apns-push-type"), Some("alert"));
        assert_eq!(r.header("authorization"), Some("bearer jwt"));
        let r = apns_request(&config(), "abc123", &note(), true).unwrap();
        assert_eq!(r.url, "https://api.sandbox.push.apple.com/3/device/abc123");
        assert_eq!(r.header("authorization"), Some("bearer debug-jwt"));
        assert!(apns_request(&config(), "../x", &note(), false).is_err());
        assert_eq!(
            apns_request(&ApnsConfig::default(), "abc", &note(), false),
            Err(PushError::NotConfigured("ios"))
        );
    }
}
