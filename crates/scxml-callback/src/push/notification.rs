//! What is pushed and where: the notification, the device and its provider, and the ways a
//! delivery fails.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A notification as GMS pushes it: `{"id": ..., "message": {...}, "tag": ...}`. Tags name
/// the event and the service (`service.agentavailable.<id>`, `agent.message.<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification's id, set by the flow (the send's `id`, else its send id); lets the
    /// device tell a repeat from a new notification.
    pub id: String,
    /// The payload the flow sends, usually an object; `_display_message` in it is the text
    /// providers show.
    pub message: Value,
    /// What it is about: the event and the service (`service.agentavailable.<id>`).
    pub tag: String,
}

impl Notification {
    /// The notification as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"id": self.id, "message": self.message, "tag": self.tag})
    }

    /// The text to show a user, when the message has one (`_display_message`).
    pub fn display_text(&self) -> Option<&str> {
        self.message
            .get("_display_message")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// A push provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Published on the device's comet channel (`_device_os=comet`).
    Comet,
    /// POST of the notification to the device's URL (`httpcb`).
    HttpCallback,
    /// POST to the configured webhook (`customhttp`).
    CustomHttp,
    /// Firebase Cloud Messaging (`fcm`, `android`, `gcm`).
    Fcm,
    /// Apple Push Notification service (`ios`).
    Apns,
}

impl Provider {
    /// The provider for a `_device_os` value (case-insensitive).
    pub fn from_os(os: &str) -> Option<Provider> {
        match os.trim().to_ascii_lowercase().as_str() {
            "comet" => Some(Provider::Comet),
            "httpcb" => Some(Provider::HttpCallback),
            "customhttp" => Some(Provider::CustomHttp),
            "fcm" | "android" | "gcm" => Some(Provider::Fcm),
            "ios" | "apns" => Some(Provider::Apns),
            _ => None,
        }
    }

    /// The provider's `_device_os` name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Comet => "comet",
            Provider::HttpCallback => "httpcb",
            Provider::CustomHttp => "customhttp",
            Provider::Fcm => "fcm",
            Provider::Apns => "ios",
        }
    }
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Who delivers it, from `_device_os`.
    pub provider: Provider,
    /// `_device_notification_id`: the APNs/FCM token, the comet channel or `gms_user`, the
    /// httpcb URL or target name, the customhttp device id.
    pub id: String,
    /// `_use_debug_push_certificate`: use the provider's debug (sandbox) endpoint.
    pub debug: bool,
}

impl Device {
    /// A device from `_device_os` and `_device_notification_id`.
    pub fn new(os: &str, id: &str, debug: bool) -> Result<Device, PushError> {
        let provider = Provider::from_os(os).ok_or_else(|| PushError::UnknownOs(os.to_string()))?;
        if id.trim().is_empty() {
            return Err(PushError::InvalidDevice(format!(
                "no device notification id for {}",
                provider.name()
            )));
        }
        Ok(Device {
            provider,
            id: id.trim().to_string(),
            debug,
        })
    }

    /// A device from a `<send>` target `<os>:<id>` (`ios:<token>`, `comet:/_genesys`,
    /// `httpcb:http://host/path`).
    pub fn from_target(target: &str, debug: bool) -> Result<Device, PushError> {
        let (os, id) = target.split_once(':').ok_or_else(|| {
            PushError::InvalidDevice(format!("target {target:?} is not <device os>:<device id>"))
        })?;
        Device::new(os, id, debug)
    }
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The `_device_os` (here as given) names no provider.
    #[error("unknown device os {0:?}")]
    UnknownOs(String),
    /// The device cannot be addressed: no id, a malformed target or token, or an httpcb URL
    /// the configuration does not allow; the text says which.
    #[error("invalid device: {0}")]
    InvalidDevice(String),
    /// The provider (by its `_device_os` name) has no configuration, or lacks its endpoint or
    /// credentials.
    #[error("push provider {0} is not configured")]
    NotConfigured(&'static str),
    /// A comet push reached no client: none subscribed to the channel, or bound to the
    /// `gms_user`, given here.
    #[error("no comet client is subscribed for {0}")]
    NoSubscriber(String),
    /// The provider answered, but not with a 2xx status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// Where the notification was posted.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The answer's body (cut short when long), which usually says why.
        body: String,
    },
    /// The request did not get an answer (connection, TLS, timeout), or a credential file
    /// could not be read.
    #[error("could not reach {url}: {reason}")]
    Transport {
        /// The URL called, or the path of the credential file.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl PushError {
    /// A short machine-readable name of the failure, for event data.
    pub fn kind(&self) -> &'static str {
        match self {
            PushError::UnknownOs(_) => "unknown_os",
            PushError::InvalidDevice(_) => "invalid_device",
            PushError::NotConfigured(_) => "not_configured",
            PushError::NoSubscriber(_) => "no_subscriber",
            PushError::Status { .. } => "http_status",
            PushError::Transport { .. } => "transport",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_os_names() {
        assert_eq!(Provider::from_os("IOS"), Some(Provider::Apns));
        assert_eq!(Provider::from_os("android"), Some(Provider::Fcm));
        assert_eq!(Provider::from_os("gcm"), Some(Provider::Fcm));
        assert_eq!(Provider::from_os("customhttp"), Some(Provider::CustomHttp));
        assert_eq!(Provider::from_os("orscb"), None);
    }

    #[test]
    fn targets() {
        let d = Device::from_target("httpcb:http://127.0.0.1:9/x", false).unwrap();
        assert_eq!(d.provider, Provider::HttpCallback);
        assert_eq!(d.id, "http://127.0.0.1:9/x");
        let d = Device::from_target("comet:/_genesys", true).unwrap();
        assert_eq!(
            (d.provider, d.id.as_str(), d.debug),
            (Provider::Comet, "/_genesys", true)
        );
        assert!(matches!(
            Device::from_target("ios", false),
            Err(PushError::InvalidDevice(_))
        ));
        assert!(matches!(
            Device::from_target("ios:", false),
            Err(PushError::InvalidDevice(_))
        ));
        assert_eq!(
            Device::from_target("wp:x", false),
            Err(PushError::UnknownOs("wp".into()))
        );
    }
}
