//! Push configuration: which providers are enabled, their endpoints and credentials.
//!
//! Deserialised from the server's configuration (a `[push]` table). A provider whose table is
//! absent is not configured, and notifications for its devices fail with
//! [`super::PushError::NotConfigured`] (the flow then keeps them for
//! `retrieve-notifications`); only `comet` is on by default. Every provider with a sandbox
//! has `debug_*` twins, used when the device asks for `_use_debug_push_certificate`.
//! Credentials may be given inline or as a file read at each send (so an external job can
//! rotate short-lived tokens):
//!
//! ```toml
//! [push]
//! timeout_secs = 10
//! [push.httpcb]
//! targets = { crm = "https://crm.example.com/push" }
//! [push.fcm]
//! project_id = "my-project"
//! access_token_file = "/run/secrets/fcm-token"
//! [push.apns]
//! topic = "com.example.callback"
//! authorization_file = "/run/secrets/apns-jwt"
//! ```

use super::PushError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// All push settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// How long one HTTP delivery may take in all, seconds.
    pub timeout_secs: u64,
    /// `[push.comet]`: devices reached over the comet endpoint; on by default.
    pub comet: CometPushConfig,
    /// `[push.httpcb]`: devices whose id is a callback URL or a named target.
    pub httpcb: Option<HttpCallbackConfig>,
    /// `[push.customhttp]`: every `customhttp` device through one webhook.
    pub customhttp: Option<CustomHttpConfig>,
    /// `[push.fcm]`: Android (and `gcm`) devices through Firebase Cloud Messaging.
    pub fcm: Option<FcmConfig>,
    /// `[push.apns]`: iOS devices through the Apple Push Notification service.
    pub apns: Option<ApnsConfig>,
}

impl Default for PushConfig {
    fn default() -> PushConfig {
        PushConfig {
            timeout_secs: 10,
            comet: CometPushConfig::default(),
            httpcb: None,
            customhttp: None,
            fcm: None,
            apns: None,
        }
    }
}

/// `comet`: publish on the GMS comet server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CometPushConfig {
    /// Whether `comet` devices get pushes; when false they fail as not configured.
    pub enabled: bool,
    /// The channel a device (named by its `gms_user`) receives notifications on.
    pub channel: String,
}

impl Default for CometPushConfig {
    fn default() -> CometPushConfig {
        CometPushConfig {
            enabled: true,
            channel: "/_genesys".to_string(),
        }
    }
}

/// `httpcb`: POST the notification to the device's URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpCallbackConfig {
    /// Named callback URLs: a device id that is a name here posts to its URL.
    pub targets: BTreeMap<String, String>,
    /// Whether a device id may be any http(s) URL (as GMS allows). Set false to restrict
    /// pushes to the named targets (devices then cannot make the server call arbitrary URLs).
    pub allow_urls: bool,
}

impl Default for HttpCallbackConfig {
    fn default() -> HttpCallbackConfig {
        HttpCallbackConfig {
            targets: BTreeMap::new(),
            allow_urls: true,
        }
    }
}

/// `customhttp`: POST `{"deviceId", "id", "tag", "message"}` to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomHttpConfig {
    /// The webhook every notification is posted to.
    pub url: String,
    /// The webhook for devices asking for `_use_debug_push_certificate`; by default `url`.
    pub debug_url: Option<String>,
    /// The `Authorization` header value, e.g. `Basic dXNlcjpwYXNz`.
    pub authorization: Option<String>,
}

/// `fcm`: Firebase Cloud Messaging HTTP v1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FcmConfig {
    /// The send URL; by default `https://fcm.googleapis.com/v1/projects/<project_id>/messages:send`.
    pub endpoint: Option<String>,
    /// The Firebase project, which names the default send URL.
    pub project_id: Option<String>,
    /// The OAuth 2 access token sent as `Authorization: Bearer <token>`.
    pub access_token: Option<String>,
    /// A file holding the access token, read at each send when `access_token` is not set.
    pub access_token_file: Option<String>,
    /// The send URL for debug devices; by default the normal one.
    pub debug_endpoint: Option<String>,
    /// The access token for debug devices; by default the normal one.
    pub debug_access_token: Option<String>,
    /// A file holding the debug access token, read at each send.
    pub debug_access_token_file: Option<String>,
    /// A visible notification (`notification.title`/`body`); without them, data only.
    pub title: Option<String>,
    /// The notification body; by default the message's `_display_message`.
    pub body: Option<String>,
}

impl FcmConfig {
    /// The send URL and bearer token for normal or debug sends.
    pub fn endpoint_and_token(&self, debug: bool) -> Result<(String, String), PushError> {
        let endpoint = debug
            .then(|| self.debug_endpoint.clone())
            .flatten()
            .or_else(|| self.endpoint.clone())
            .or_else(|| {
                self.project_id
                    .as_ref()
                    .map(|p| format!("https://fcm.googleapis.com/v1/projects/{p}/messages:send"))
            })
            .ok_or(PushError::NotConfigured("fcm"))?;
        let debug_token = if debug {
            secret(&self.debug_access_token, &self.debug_access_token_file)?
        } else {
            None
        };
        let token = match debug_token {
            Some(t) => t,
            None => secret(&self.access_token, &self.access_token_file)?
                .ok_or(PushError::NotConfigured("fcm"))?,
        };
        Ok((endpoint, token))
    }
}

/// `ios`: Apple Push Notification service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApnsConfig {
    /// The production server; the request goes to `<endpoint>/3/device/<token>`.
    pub endpoint: String,
    /// The sandbox server, for `_use_debug_push_certificate`.
    pub debug_endpoint: String,
    /// `apns-topic`: the app's bundle id.
    pub topic: String,
    /// The `authorization` header value (`bearer <provider JWT>`).
    pub authorization: Option<String>,
    /// A file holding the `authorization` value, read at each send when it is not inline, so
    /// a job outside can rotate the provider JWT.
    pub authorization_file: Option<String>,
    /// The `authorization` value for the sandbox; by default the production one.
    pub debug_authorization: Option<String>,
    /// A file holding the sandbox `authorization` value, read at each send.
    pub debug_authorization_file: Option<String>,
    /// The alert's title (`aps.alert.title`); none by default.
    pub alert_title: Option<String>,
    /// The alert text; by default the message's `_display_message`, else the tag.
    pub alert_body: Option<String>,
    /// The sound the device plays (`aps.sound`, e.g. `default`); silent by default.
    pub sound: Option<String>,
}

impl Default for ApnsConfig {
    fn default() -> ApnsConfig {
        ApnsConfig {
            endpoint: "https://api.push.apple.com".to_string(),
            debug_endpoint: "https://api.sandbox.push.apple.com".to_string(),
            topic: String::new(),
            authorization: None,
            authorization_file: None,
            debug_authorization: None,
            debug_authorization_file: None,
            alert_title: None,
            alert_body: None,
            sound: None,
        }
    }
}

impl ApnsConfig {
    /// The `authorization` header for normal or debug sends, if any.
    pub fn authorization_for(&self, debug: bool) -> Result<Option<String>, PushError> {
        if debug {
            if let Some(auth) = secret(&self.debug_authorization, &self.debug_authorization_file)? {
                return Ok(Some(auth));
            }
        }
        secret(&self.authorization, &self.authorization_file)
    }
}

/// An inline secret, else the trimmed content of its file.
fn secret(value: &Option<String>, file: &Option<String>) -> Result<Option<String>, PushError> {
    if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
        return Ok(Some(v.clone()));
    }
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| PushError::Transport {
                url: path.clone(),
                reason: format!("reading the credential file: {e}"),
            }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_deserialise() {
        let c: PushConfig = serde_json::from_value(serde_json::json!({
            "httpcb": {"targets": {"crm": "http://crm/x"}},
            "fcm": {"project_id": "p", "access_token": "t", "debug_access_token": "d"},
            "apns": {"topic": "com.example"}
        }))
        .unwrap();
        assert_eq!(c.timeout_secs, 10);
        assert!(c.comet.enabled);
        assert_eq!(c.comet.channel, "/_genesys");
        assert!(c.httpcb.as_ref().unwrap().allow_urls);
        assert!(c.customhttp.is_none());
        let fcm = c.fcm.unwrap();
        assert_eq!(
            fcm.endpoint_and_token(false).unwrap(),
            (
                "https://fcm.googleapis.com/v1/projects/p/messages:send".to_string(),
                "t".to_string()
            )
        );
        assert_eq!(fcm.endpoint_and_token(true).unwrap().1, "d");
        let apns = c.apns.unwrap();
        assert_eq!(apns.endpoint, "https://api.push.apple.com");
        assert_eq!(apns.authorization_for(true).unwrap(), None);
        assert!(FcmConfig::default().endpoint_and_token(false).is_err());
    }
}
