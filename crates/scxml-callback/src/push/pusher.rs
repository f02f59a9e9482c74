//! The pusher: sends one notification to one device through the device's provider.
//!
//! [`Pusher::send`] is asynchronous: HTTP providers wait for the answer, up to the configured
//! timeout, on the process's pooled HTTP client without holding a thread. The `comet` provider
//! answers at once; it fails when no comet client of the device is listening, so the caller
//! can keep the notification for polling.

use super::config::PushConfig;
use super::transport::{self, HttpRequest};
use super::{apns, fcm, webhook, Device, Notification, Provider, PushError};
use crate::chat::{CometServer, Recipient};
use std::sync::Arc;
use std::time::Duration;

/// How a notification will be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Published on the comet server: to a channel's subscribers, or to a `gms_user`.
    Comet {
        /// A device id that is a channel (`/...`) reaches its subscribers; any other is a
        /// `gms_user`, reached on the configured comet channel.
        recipient: Recipient,
        /// The channel the notification is published on.
        channel: String,
    },
    /// An HTTP POST.
    Http(HttpRequest),
}

/// Delivers notifications with the configured providers.
pub struct Pusher {
    config: PushConfig,
    comet: Option<Arc<CometServer>>,
    timeout: Duration,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("config", &self.config)
            .field("comet", &self.comet.is_some())
            .finish()
    }
}

impl Pusher {
    /// A pusher for the configured providers; `comet` stays off until
    /// [`Pusher::with_comet`] gives it the comet server. A zero timeout counts as one second.
    pub fn new(config: PushConfig) -> Pusher {
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        Pusher {
            config,
            comet: None,
            timeout,
        }
    }

    /// Enables the `comet` provider on this comet server.
    pub fn with_comet(mut self, comet: Arc<CometServer>) -> Pusher {
        self.comet = Some(comet);
        self
    }

    /// The push settings it was made with.
    pub fn config(&self) -> &PushConfig {
        &self.config
    }

    /// True when notifications for this provider can be attempted.
    pub fn is_configured(&self, provider: Provider) -> bool {
        match provider {
            Provider::Comet => self.config.comet.enabled && self.comet.is_some(),
            Provider::HttpCallback => self.config.httpcb.is_some(),
            Provider::CustomHttp => self.config.customhttp.is_some(),
            Provider::Fcm => self.config.fcm.is_some(),
            Provider::Apns => self.config.apns.is_some(),
        }
    }

    /// Works out the delivery without performing it.
    pub fn plan(
        &self,
        device: &Device,
        notification: &Notification,
    ) -> Result<Delivery, PushError> {
        let not_configured = || PushError::NotConfigured(device.provider.name());
        match device.provider {
            Provider::Comet => {
                if !self.is_configured(Provider::Comet) {
                    return Err(not_configured());
                }
                Ok(if device.id.starts_with('/') {
                    Delivery::Comet {
                        recipient: Recipient::Subscribers,
                        channel: device.id.clone(),
                    }
                } else {
                    Delivery::Comet {
                        recipient: Recipient::User(device.id.clone()),
                        channel: self.config.comet.channel.clone(),
                    }
                })
            }
            Provider::HttpCallback => {
                let config = self.config.httpcb.as_ref().ok_or_else(not_configured)?;
                webhook::httpcb_request(config, &device.id, notification).map(Delivery::Http)
            }
            Provider::CustomHttp => {
                let config = self.config.customhttp.as_ref().ok_or_else(not_configured)?;
                webhook::customhttp_request(config, &device.id, notification, device.debug)
                    .map(Delivery::Http)
            }
            Provider::Fcm => {
                let config = self.config.fcm.as_ref().ok_or_else(not_configured)?;
                fcm::fcm_request(config, &device.id, notification, device.debug).map(Delivery::Http)
            }
            Provider::Apns => {
                let config = self.config.apns.as_ref().ok_or_else(not_configured)?;
                apns::apns_request(config, &device.id, notification, device.debug)
                    .map(Delivery::Http)
            }
        }
    }

    /// Delivers a notification.
    pub async fn send(
        &self,
        device: &Device,
        notification: &Notification,
    ) -> Result<(), PushError> {
        match self.plan(device, notification)? {
            Delivery::Comet { recipient, channel } => {
                let comet = self
                    .comet
                    .as_ref()
                    .ok_or(PushError::NotConfigured("comet"))?;
                if comet.deliver(&recipient, &channel, notification.to_json()) == 0 {
                    return Err(PushError::NoSubscriber(device.id.clone()));
                }
                Ok(())
            }
            Delivery::Http(request) => transport::post(&request, self.timeout).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::CometConfig;
    use serde_json::json;

    fn note() -> Notification {
        Notification {
            id: "n1".into(),
            message: json!({"_id": "369-a"}),
            tag: "service.agentavailable.369-a".into(),
        }
    }

    #[tokio::test]
    async fn comet_delivery_to_a_subscribed_device() {
        let comet = Arc::new(CometServer::new(CometConfig::default()));
        let pusher = Pusher::new(PushConfig::default()).with_comet(comet.clone());
        let r = comet
            .handle_json(
                vec![json!({"channel": "/meta/handshake"})],
                Some("device-9"),
            )
            .await;
        let client = r[0]["clientId"].as_str().unwrap().to_string();
        let device = Device::new("comet", "device-9", false).unwrap();
        // Not subscribed yet: nobody to deliver to.
        assert_eq!(
            pusher.send(&device, &note()).await,
            Err(PushError::NoSubscriber("device-9".into()))
        );
        comet
            .handle_json(
                vec![json!({"channel": "/meta/subscribe", "clientId": client, "subscription": "/_genesys"})],
                None,
            )
            .await;
        pusher.send(&device, &note()).await.unwrap();
        // A channel as device id reaches its subscribers.
        pusher
            .send(&Device::new("comet", "/_genesys", false).unwrap(), &note())
            .await
            .unwrap();
        let r = comet
            .handle_json(
                vec![json!({"channel": "/meta/connect", "clientId": client})],
                None,
            )
            .await;
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            json!({"channel": "/_genesys", "data": note().to_json()})
        );
        assert_eq!(r[1]["data"]["tag"], "service.agentavailable.369-a");
    }

    #[tokio::test]
    async fn unconfigured_providers() {
        let pusher = Pusher::new(PushConfig::default());
        for os in ["comet", "ios", "fcm", "httpcb", "customhttp"] {
            let device = Device::new(os, "x", false).unwrap();
            assert!(
                matches!(
                    pusher.send(&device, &note()).await,
                    Err(PushError::NotConfigured(_))
                ),
                "{os}"
            );
        }
    }
}
