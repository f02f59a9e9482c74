//! The plain HTTP providers: `httpcb` (POST the notification to the device's own URL) and
//! `customhttp` (POST it, with the device id, to one configured webhook).

use super::config::{CustomHttpConfig, HttpCallbackConfig};
use super::transport::HttpRequest;
use super::{Notification, PushError};
use serde_json::json;

/// `httpcb`: the body is the notification `{"id", "message", "tag"}`. The device id is a
/// configured target name or (when allowed) an http(s) URL.
pub fn httpcb_request(
    config: &HttpCallbackConfig,
    device_id: &str,
    notification: &Notification,
) -> Result<HttpRequest, PushError> {
    let url = match config.targets.get(device_id) {
        Some(url) => url.clone(),
        None if config.allow_urls && is_http_url(device_id) => device_id.to_string(),
        None => {
            return Err(PushError::InvalidDevice(format!(
                "{device_id:?} is not a configured httpcb target{}",
                if config.allow_urls {
                    " or an http(s) URL"
                } else {
                    ""
                }
            )))
        }
    };
    Ok(HttpRequest::json(url, &notification.to_json()))
}

/// `customhttp`: `{"deviceId", "id", "tag", "message"}` to the configured URL, with the
/// configured `Authorization` header.
pub fn customhttp_request(
    config: &CustomHttpConfig,
    device_id: &str,
    notification: &Notification,
    debug: bool,
) -> Result<HttpRequest, PushError> {
    let url = debug
        .then(|| config.debug_url.clone())
        .flatten()
        .unwrap_or_else(|| config.url.clone());
    let body = json!({
        "deviceId": device_id,
        "id": notification.id,
        "tag": notification.tag,
        "message": notification.message,
    });
    let mut request = HttpRequest::json(url, &body);
    if let Some(auth) = &config.authorization {
        request = request.with_header("authorization", auth.clone());
    }
    Ok(request)
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn note() -> Notification {
        Notification {
            id: "n1".into(),
            message: json!({"_action": "get-dialog-user-confirmation-provide_code-false", "_id": "369-a"}),
            tag: "service.agentavailable.369-a".into(),
        }
    }

    #[test]
    fn httpcb_posts_the_notification() {
        let mut config = HttpCallbackConfig::default();
        config
            .targets
            .insert("crm".into(), "http://crm/push".into());
        let r = httpcb_request(&config, "crm", &note()).unwrap();
        assert_eq!(r.url, "http://crm/push");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body, note().to_json());
        assert_eq!(body["tag"], "service.agentavailable.369-a");
        let r = httpcb_request(&config, "https://device.example/cb", &note()).unwrap();
        assert_eq!(r.url, "https://device.example/cb");
        assert!(httpcb_request(&config, "file:///etc/passwd", &note()).is_err());
        config.allow_urls = false;
        assert!(httpcb_request(&config, "https://device.example/cb", &note()).is_err());
    }

    #[test]
    fn customhttp_wraps_with_the_device_id() {
        let config = CustomHttpConfig {
            url: "http://hook/push".into(),
            debug_url: Some("http://hook/debug".into()),
            authorization: Some("Basic dTpw".into()),
        };
        let r = customhttp_request(&config, "dev-7", &note(), false).unwrap();
        assert_eq!(r.url, "http://hook/push");
        assert_eq!(r.header("authorization"), Some("Basic dTpw"));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["deviceId"], "dev-7");
        assert_eq!(body["id"], "n1");
        assert_eq!(body["message"]["_id"], "369-a");
        let r = customhttp_request(&config, "dev-7", &note(), true).unwrap();
        assert_eq!(r.url, "http://hook/debug");
    }
}
