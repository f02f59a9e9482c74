//! Exchanges: a GMS HTTP request waiting for its flow's answer.
//!
//! Each request becomes an external event whose `origin` is an exchange id (`ex-<n>`) and
//! whose `origintype` is [`RESPONSE_TYPE_URI`]; the HTTP handler then waits on the
//! exchange. The flow answers with `<send type="gms-response" targetexpr="_event.origin">`
//! ([`GmsResponseSendType`]), whose data gives the status and the JSON body; the send
//! completes the exchange and so the HTTP response. An exchange nobody answers is dropped
//! by its waiter after the timeout (the handler answers 504), and a late answer then fails
//! with `error.communication` in the flow.

use scxml::interpreter::{SendError, SendRequest};
use scxml::io::{CustomSendType, EventSink, Registry};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The `origintype` of GMS request events, and a name of the response send type.
pub const RESPONSE_TYPE_URI: &str = "http://scxml-runtime/gms/response";

/// The names the response send type is registered under.
pub const RESPONSE_TYPE_NAMES: [&str; 2] = ["gms-response", RESPONSE_TYPE_URI];

/// What a flow answers to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowAnswer {
    /// The HTTP status to answer with (200 unless the flow says otherwise).
    pub status: u16,
    /// The JSON body to answer with.
    pub body: Value,
}

impl FlowAnswer {
    /// Reads a send's data: an object with `status` (default 200) and `body`; data without
    /// a `body` field is the body itself, with status 200. JSON object text is parsed.
    pub fn from_data(data: Option<&Value>) -> FlowAnswer {
        let data = match data {
            Some(Value::String(text)) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
            Some(other) => other.clone(),
            None => Value::Null,
        };
        match data {
            Value::Object(mut fields) if fields.contains_key("body") => {
                let status = fields.get("status").and_then(status_code).unwrap_or(200);
                let body = fields.remove("body").unwrap_or(Value::Null);
                FlowAnswer { status, body }
            }
            Value::Null => FlowAnswer {
                status: 200,
                body: Value::Object(Map::new()),
            },
            body => FlowAnswer { status: 200, body },
        }
    }
}

fn status_code(value: &Value) -> Option<u16> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (100.0..600.0)
        .contains(&n)
        .then_some(n as u16)
        .filter(|_| n.fract() == 0.0)
}

/// The requests waiting for an answer, by exchange id.
#[derive(Debug, Default)]
pub struct Exchanges {
    next: AtomicU64,
    waiting: Mutex<HashMap<String, oneshot::Sender<FlowAnswer>>>,
}

impl Exchanges {
    /// No exchange waiting yet.
    pub fn new() -> Exchanges {
        Exchanges::default()
    }

    /// Opens an exchange: its id (the event's `origin`) and where the answer will arrive.
    pub fn open(&self) -> (String, oneshot::Receiver<FlowAnswer>) {
        let id = format!("ex-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        (id, rx)
    }

    /// Forgets an exchange (answered elsewhere, or its waiter gave up).
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Completes an exchange; false when it is unknown or its waiter is gone.
    pub fn complete(&self, id: &str, answer: FlowAnswer) -> bool {
        let sender = self.lock().remove(id);
        sender.is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// Exchanges still waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no exchange is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<FlowAnswer>>> {
        // A panic elsewhere cannot leave the map half-updated: every operation is one call.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `<send type="gms-response" targetexpr="_event.origin">`: answers a waiting request.
#[derive(Debug, Clone)]
pub struct GmsResponseSendType {
    exchanges: Arc<Exchanges>,
}

impl GmsResponseSendType {
    /// A send type answering the requests waiting in `exchanges`.
    pub fn new(exchanges: Arc<Exchanges>) -> GmsResponseSendType {
        GmsResponseSendType { exchanges }
    }

    /// Registers the type under [`RESPONSE_TYPE_NAMES`].
    pub fn register(self, registry: &mut Registry) {
        registry.register_send(&RESPONSE_TYPE_NAMES, Arc::new(self));
    }
}

impl CustomSendType for GmsResponseSendType {
    fn send(&self, request: SendRequest, _reply: Arc<dyn EventSink>) -> Result<(), SendError> {
        let target = request.target.as_deref().unwrap_or_default();
        if target.is_empty() {
            return Err(SendError::InvalidTarget(
                "a gms-response needs the exchange id as target (targetexpr=\"_event.origin\")"
                    .into(),
            ));
        }
        if !request.delay.is_zero() {
            return Err(SendError::InvalidTarget(
                "a gms-response cannot be delayed".into(),
            ));
        }
        let answer = FlowAnswer::from_data(request.event.data.as_ref());
        if self.exchanges.complete(target, answer) {
            Ok(())
        } else {
            Err(SendError::Communication(format!(
                "no request is waiting on exchange {target}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_from_params_or_content() {
        let a = FlowAnswer::from_data(Some(&json!({"status": 403, "body": {"message": "no"}})));
        assert_eq!(a.status, 403);
        assert_eq!(a.body, json!({"message": "no"}));
        let a = FlowAnswer::from_data(Some(&json!({"status": "201", "body": [1]})));
        assert_eq!((a.status, a.body), (201, json!([1])));
        let a = FlowAnswer::from_data(Some(&json!({"_id": "x"})));
        assert_eq!((a.status, a.body), (200, json!({"_id": "x"})));
        let a = FlowAnswer::from_data(Some(&json!("{\"body\": 1, \"status\": 999}")));
        assert_eq!((a.status, a.body), (200, json!(1)));
    }

    #[test]
    fn an_exchange_completes_once() {
        let exchanges = Exchanges::new();
        let (id, mut rx) = exchanges.open();
        assert!(id.starts_with("ex-"));
        let answer = FlowAnswer {
            status: 200,
            body: json!({}),
        };
        assert!(exchanges.complete(&id, answer.clone()));
        assert!(!exchanges.complete(&id, answer));
        assert_eq!(rx.try_recv().unwrap().status, 200);
        assert!(exchanges.is_empty());
    }
}
