//! `<send type="push">`: flows push notifications to devices.
//!
//! Registered under [`PUSH_SEND_TYPE_NAMES`] (`push` and `http://scxml-runtime/gms/push`).
//!
//! **Device.** The `target` `<device os>:<device id>` (`ios:<token>`, `fcm:<token>`,
//! `comet:<gms_user or /channel>`, `httpcb:<url or target name>`, `customhttp:<device id>`);
//! without a target, the `_device_os` and `_device_notification_id` fields of the event data
//! (namelist/params). `_use_debug_push_certificate` (true or "true") in the data selects the
//! providers' debug endpoints.
//!
//! **Notification.** `tag` is the data's `tag` field, else the event name (so
//! `<send event="service.agentavailable.123" type="push">` works as is). `id` is the data's
//! `id`, else the send id. `message` is the data's `message`, else the other data fields
//! (everything but `id`, `tag` and the underscore device fields above), else `{}`.
//!
//! **Delivery.** A task on the pooled HTTP client's I/O thread, after the send's `delay`,
//! whatever thread the send came from (a shard busy with its sessions, a test, the CLI's
//! local host with no runtime at all); no thread is held while it waits for a provider. A
//! delayed push cannot be cancelled. Data given as JSON object text is parsed first. The
//! `send` call itself only fails for a target without `:` (`error.execution`).
//!
//! **Events posted back to the sending session** (both with `sendid` set):
//! - `error.communication` (platform event) when the notification was not delivered: no
//!   device, unknown device os, provider not configured, no comet subscriber, HTTP failure or
//!   non-2xx answer. Data: `{"sendid", "error": <kind: unknown_os | invalid_device |
//!   not_configured | no_subscriber | http_status | transport>, "reason": <text>,
//!   "provider": <os name or null>, "device": <device id or null>, "status": <HTTP status,
//!   only for http_status>, "notification": {"id", "message", "tag"}}` — the flow keeps the
//!   notification for `retrieve-notifications`.
//! - [`DELIVERED_EVENT`] (`push.delivered`, external event) on success, unless turned off
//!   with [`PushSendType::report_delivered`]. Data: `{"sendid", "provider", "device",
//!   "notification"}`.

use super::{Device, Notification, PushError, Pusher};
use scxml::interpreter::{Event, SendError, SendRequest};
use scxml::io::{CustomSendType, EventSink};
use scxml_engine::HttpClient;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The names the push send type is registered under.
pub const PUSH_SEND_TYPE_NAMES: [&str; 2] = ["push", "http://scxml-runtime/gms/push"];

/// The event posted after a successful delivery.
pub const DELIVERED_EVENT: &str = "push.delivered";

/// Data fields that describe the device, not the notification.
const DEVICE_FIELDS: [&str; 3] = [
    "_device_os",
    "_device_notification_id",
    "_use_debug_push_certificate",
];

/// The push `<send>` type.
#[derive(Debug, Clone)]
pub struct PushSendType {
    pusher: Arc<Pusher>,
    report_delivered: bool,
}

impl PushSendType {
    /// The send type over a pusher, reporting deliveries with `push.delivered`.
    pub fn new(pusher: Arc<Pusher>) -> PushSendType {
        PushSendType {
            pusher,
            report_delivered: true,
        }
    }

    /// Whether to post `push.delivered` on success (default true).
    pub fn report_delivered(mut self, on: bool) -> PushSendType {
        self.report_delivered = on;
        self
    }
}

impl CustomSendType for PushSendType {
    fn send(&self, request: SendRequest, reply: Arc<dyn EventSink>) -> Result<(), SendError> {
        if let Some(target) = request.target.as_deref().filter(|t| !t.is_empty()) {
            if !target.contains(':') {
                return Err(SendError::InvalidTarget(format!(
                    "{target:?}: a push target is <device os>:<device id>"
                )));
            }
        }
        let notification = notification(&request);
        let device = device(&request);
        let sendid = request.sendid.clone();
        let delay = request.delay;
        let pusher = self.pusher.clone();
        let report_delivered = self.report_delivered;
        let job = async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let result = match device.clone() {
                Ok(d) => pusher.send(&d, &notification).await.map(|()| d),
                Err(e) => Err(e),
            };
            let event = match result {
                Ok(device) if report_delivered => delivered(&sendid, &device, &notification),
                Ok(_) => return,
                Err(e) => failed(&sendid, device.as_ref().ok(), &request, &e, &notification),
            };
            reply.deliver(event);
        };
        HttpClient::shared()
            .map_err(|e| SendError::Communication(format!("starting a push: {e}")))?
            .spawn(job);
        Ok(())
    }
}

/// The event data, with JSON object text (`<content>` written as text) parsed.
fn event_data(request: &SendRequest) -> Option<Value> {
    match &request.event.data {
        Some(Value::String(text)) if text.trim_start().starts_with('{') => {
            serde_json::from_str::<Value>(text)
                .ok()
                .filter(Value::is_object)
                .or_else(|| request.event.data.clone())
        }
        other => other.clone(),
    }
}

/// The device a send names.
fn device(request: &SendRequest) -> Result<Device, PushError> {
    let data = event_data(request);
    let data = data.as_ref().and_then(Value::as_object);
    let field = |name: &str| data.and_then(|d| d.get(name)).and_then(as_text);
    let debug = field("_use_debug_push_certificate").is_some_and(|v| v == "true");
    match request.target.as_deref().filter(|t| !t.is_empty()) {
        Some(target) => Device::from_target(target, debug),
        None => {
            let os = field("_device_os").ok_or_else(|| {
                PushError::InvalidDevice("no target and no _device_os".to_string())
            })?;
            let id = field("_device_notification_id").unwrap_or_default();
            Device::new(&os, &id, debug)
        }
    }
}

/// The notification a send carries.
fn notification(request: &SendRequest) -> Notification {
    let data = event_data(request);
    let data = data.as_ref();
    let object = data.and_then(Value::as_object);
    let field = |name: &str| object.and_then(|d| d.get(name));
    let tag = field("tag")
        .and_then(as_text)
        .unwrap_or_else(|| request.event.name.clone());
    let id = field("id")
        .and_then(as_text)
        .unwrap_or_else(|| request.sendid.clone());
    let message = match (field("message"), object, data) {
        (Some(message), _, _) => message.clone(),
        (None, Some(object), _) => Value::Object(
            object
                .iter()
                .filter(|(k, _)| !DEVICE_FIELDS.contains(&k.as_str()) && *k != "id" && *k != "tag")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<String, Value>>(),
        ),
        (None, None, Some(other)) if !other.is_null() => other.clone(),
        _ => json!({}),
    };
    Notification { id, message, tag }
}

fn delivered(sendid: &str, device: &Device, notification: &Notification) -> Event {
    let mut event = Event::external(DELIVERED_EVENT);
    event.sendid = Some(sendid.to_string());
    event.data = Some(json!({
        "sendid": sendid,
        "provider": device.provider.name(),
        "device": device.id,
        "notification": notification.to_json(),
    }));
    event
}

fn failed(
    sendid: &str,
    device: Option<&Device>,
    request: &SendRequest,
    error: &PushError,
    notification: &Notification,
) -> Event {
    let (provider, device_id) = match device {
        Some(d) => (json!(d.provider.name()), json!(d.id)),
        None => {
            let target = request.target.as_deref().and_then(|t| t.split_once(':'));
            match target {
                Some((os, id)) => (json!(os), json!(id)),
                None => (Value::Null, Value::Null),
            }
        }
    };
    let mut data = json!({
        "sendid": sendid,
        "error": error.kind(),
        "reason": error.to_string(),
        "provider": provider,
        "device": device_id,
        "notification": notification.to_json(),
    });
    if let PushError::Status { status, .. } = error {
        data["status"] = json!(status);
    }
    let mut event = Event::platform("error.communication", Some(data));
    event.sendid = Some(sendid.to_string());
    event
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::{HttpCallbackConfig, PushConfig};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Collects posted events.
    struct Sink(std::sync::Mutex<mpsc::Sender<Event>>);

    impl EventSink for Sink {
        fn deliver(&self, event: Event) {
            let _ = self.0.lock().unwrap().send(event);
        }
    }

    fn sink() -> (Arc<dyn EventSink>, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        (Arc::new(Sink(std::sync::Mutex::new(tx))), rx)
    }

    fn pusher() -> Arc<Pusher> {
        Arc::new(Pusher::new(PushConfig {
            timeout_secs: 5,
            httpcb: Some(HttpCallbackConfig::default()),
            ..PushConfig::default()
        }))
    }

    fn request(target: Option<&str>, event: &str, data: Value) -> SendRequest {
        let mut e = Event::external(event);
        e.data = Some(data);
        SendRequest {
            event: e,
            target: target.map(str::to_string),
            kind: "push".into(),
            sendid: "send-1".into(),
            delay: Duration::ZERO,
        }
    }

    /// A one-shot HTTP server answering 200; returns its URL and the request it got.
    fn http_server() -> (String, mpsc::Receiver<(String, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap();
            let _ = tx.send((head, String::from_utf8(body).unwrap()));
        });
        (url, rx)
    }

    #[test]
    fn notification_from_the_event() {
        let r = request(
            None,
            "service.agentavailable.369-a",
            json!({"_device_os": "ios", "_device_notification_id": "abc",
                   "_action": "get-dialog", "_id": "369-a"}),
        );
        let n = notification(&r);
        assert_eq!(n.tag, "service.agentavailable.369-a");
        assert_eq!(n.id, "send-1");
        assert_eq!(n.message, json!({"_action": "get-dialog", "_id": "369-a"}));
        let d = device(&r).unwrap();
        assert_eq!(
            (d.provider.name(), d.id.as_str(), d.debug),
            ("ios", "abc", false)
        );

        let r = request(
            Some("comet:dev"),
            "ignored",
            json!({"id": 7, "tag": "agent.message.1", "message": {"x": 1},
                   "_use_debug_push_certificate": "true"}),
        );
        let n = notification(&r);
        assert_eq!((n.id.as_str(), n.tag.as_str()), ("7", "agent.message.1"));
        assert_eq!(n.message, json!({"x": 1}));
        assert!(device(&r).unwrap().debug);

        // <content> given as JSON text.
        let mut r = request(None, "t", json!(null));
        r.event.data = Some(json!(
            r#"{"_device_os": "comet", "_device_notification_id": "u", "a": 1}"#
        ));
        assert_eq!(notification(&r).message, json!({"a": 1}));
        assert_eq!(device(&r).unwrap().id, "u");
        r.event.data = Some(json!("plain text"));
        assert_eq!(notification(&r).message, json!("plain text"));
    }

    #[test]
    fn malformed_target_is_rejected_at_once() {
        let (reply, _rx) = sink();
        let err = PushSendType::new(pusher())
            .send(request(Some("nocolon"), "t", json!({})), reply)
            .unwrap_err();
        assert!(matches!(err, SendError::InvalidTarget(_)));
    }

    #[test]
    fn httpcb_success_posts_delivered() {
        let (url, got) = http_server();
        let (reply, events) = sink();
        PushSendType::new(pusher())
            .send(
                request(
                    Some(&format!("httpcb:{url}")),
                    "service.agentavailable.369-a",
                    json!({"_id": "369-a"}),
                ),
                reply,
            )
            .unwrap();
        let (head, body) = got.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(head.starts_with("POST /push HTTP/1.1"), "{head}");
        assert!(head
            .to_ascii_lowercase()
            .contains("content-type: application/json"));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            json!({"id": "send-1", "message": {"_id": "369-a"}, "tag": "service.agentavailable.369-a"})
        );
        let event = events.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(event.name, DELIVERED_EVENT);
        assert_eq!(event.sendid.as_deref(), Some("send-1"));
        assert_eq!(event.data.unwrap()["provider"], "httpcb");
    }

    #[test]
    fn unreachable_endpoint_posts_error_communication() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let (reply, events) = sink();
        PushSendType::new(pusher())
            .send(
                request(
                    None,
                    "agent.message.1",
                    json!({
                        "_device_os": "httpcb",
                        "_device_notification_id": format!("http://127.0.0.1:{port}/cb"),
                        "message": {"_display_message": "hi"},
                    }),
                ),
                reply,
            )
            .unwrap();
        let event = events.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(event.name, "error.communication");
        assert_eq!(event.sendid.as_deref(), Some("send-1"));
        let data = event.data.unwrap();
        assert_eq!(data["error"], "transport");
        assert_eq!(data["provider"], "httpcb");
        assert_eq!(data["notification"]["tag"], "agent.message.1");
        assert_eq!(
            data["notification"]["message"],
            json!({"_display_message": "hi"})
        );
    }

    #[tokio::test]
    async fn delayed_push_waits_for_its_delay() {
        let comet = Arc::new(crate::chat::CometServer::new(Default::default()));
        let pusher = Arc::new(Pusher::new(PushConfig::default()).with_comet(comet.clone()));
        let r = comet
            .handle_json(vec![json!({"channel": "/meta/handshake"})], Some("dev"))
            .await;
        let client = r[0]["clientId"].as_str().unwrap().to_string();
        comet
            .handle_json(
                vec![json!({"channel": "/meta/subscribe", "clientId": client, "subscription": "/_genesys"})],
                None,
            )
            .await;
        let (reply, events) = sink();
        let mut r = request(Some("comet:dev"), "agent.message.1", json!({"m": 1}));
        r.delay = Duration::from_millis(150);
        let started = std::time::Instant::now();
        PushSendType::new(pusher).send(r, reply).unwrap();
        let replies = comet
            .handle_json(
                vec![json!({"channel": "/meta/connect", "clientId": client})],
                None,
            )
            .await;
        assert!(started.elapsed() >= Duration::from_millis(140));
        assert_eq!(replies[0]["data"]["tag"], "agent.message.1");
        let e = tokio::task::spawn_blocking(move || events.recv_timeout(Duration::from_secs(5)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.name, DELIVERED_EVENT);
        assert_eq!(e.data.unwrap()["provider"], "comet");
    }

    #[tokio::test]
    async fn unconfigured_and_missing_devices_post_error_communication() {
        let (reply, events) = sink();
        let send_type = PushSendType::new(pusher());
        send_type
            .send(request(Some("ios:abc"), "t", json!({})), reply.clone())
            .unwrap();
        send_type
            .send(request(None, "t", json!({"x": 1})), reply.clone())
            .unwrap();
        send_type
            .send(request(Some("orscb:x"), "t", json!({})), reply)
            .unwrap();
        let mut kinds: Vec<String> = (0..3)
            .map(|_| {
                let e = events.recv_timeout(Duration::from_secs(10)).unwrap();
                assert_eq!(e.name, "error.communication");
                e.data.unwrap()["error"].as_str().unwrap().to_string()
            })
            .collect();
        kinds.sort();
        assert_eq!(kinds, ["invalid_device", "not_configured", "unknown_os"]);
    }
}
