//! Push notifications: delivering a callback service's notifications to a customer's device.
//!
//! The device's `_device_os` chooses the provider ([`Provider`]): `comet` (published on the
//! device's comet channel), `httpcb`/`customhttp` (an HTTP POST of JSON), `fcm`/`android`/`gcm`
//! (Firebase Cloud Messaging HTTP v1) and `ios` (Apple Push Notification service). A
//! [`Pusher`] configured by a [`PushConfig`] delivers a [`Notification`] to a [`Device`];
//! [`PushSendType`] lets flows do it with `<send type="push">`. When push is not configured
//! or fails, the flow keeps the notification for `retrieve-notifications`.

mod apns;
mod config;
mod fcm;
mod notification;
mod pusher;
mod send_type;
mod transport;
mod webhook;

pub use apns::{apns_payload, apns_request};
pub use config::{
    ApnsConfig, CometPushConfig, CustomHttpConfig, FcmConfig, HttpCallbackConfig, PushConfig,
};
pub use fcm::{fcm_body, fcm_request};
pub use notification::{Device, Notification, Provider, PushError};
pub use pusher::{Delivery, Pusher};
pub use send_type::{PushSendType, DELIVERED_EVENT, PUSH_SEND_TYPE_NAMES};
pub use transport::HttpRequest;
pub use webhook::{customhttp_request, httpcb_request};
