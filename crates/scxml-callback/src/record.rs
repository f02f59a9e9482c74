//! The service record: what a callback flow publishes (`<send type="gms-index">`) and what
//! the adapters read from it (the queries by property and by queue, free time slots, queue
//! management, the device limits, who may call a callback's routes).
//!
//! It is a contract, checked at every publish: a flow edit that renames a state, drops the
//! service name or writes a desired time the queries cannot read is refused there, with an
//! error naming every broken field (the flow gets it as `error.execution`, and the log has
//! it), instead of leaving the queries silently wrong. Keys beyond the contract (the
//! `usr_*` user data, `_ttl`, `_url`, ...) pass through as the flow wrote them.

use super::time::parse_iso;
use serde_json::{Map, Value};
use std::fmt;

/// A callback's state, as GMS names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    /// Waiting for its desired time.
    Scheduled,
    /// Waiting in its virtual queue for an agent.
    Queued,
    /// An agent is held, or the chat is being routed.
    Routing,
    /// The customer is with the agent.
    Processing,
    /// Done, with a reason.
    Completed,
}

impl CallbackState {
    /// Every state.
    pub const ALL: [CallbackState; 5] = [
        CallbackState::Scheduled,
        CallbackState::Queued,
        CallbackState::Routing,
        CallbackState::Processing,
        CallbackState::Completed,
    ];

    /// The name in records and queries (`QUEUED`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Scheduled => "SCHEDULED",
            CallbackState::Queued => "QUEUED",
            CallbackState::Routing => "ROUTING",
            CallbackState::Processing => "PROCESSING",
            CallbackState::Completed => "COMPLETED",
        }
    }

    /// The state of that name.
    pub fn parse(name: &str) -> Option<CallbackState> {
        CallbackState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for CallbackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of a record the adapters rely on, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRecord {
    /// `_id`: the service id (its session id).
    pub id: String,
    /// `_service_name`: the configured service it belongs to.
    pub service_name: String,
    /// `_callback_state`.
    pub state: CallbackState,
    /// `_callback_reason`: why it completed (required once `COMPLETED`).
    pub reason: Option<String>,
    /// `_customer_number`, when given.
    pub customer_number: Option<String>,
    /// `_desired_time`, in milliseconds since the epoch, when there is one.
    pub desired_ms: Option<i64>,
    /// `_agent`: the agent held for it or chatting with its customer.
    pub agent: Option<String>,
}

/// Why a record breaks the contract: every broken field, in key order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the service record breaks the contract the queries read: {}", .problems.join("; "))]
pub struct RecordError {
    /// One line per broken field.
    pub problems: Vec<String>,
}

impl ServiceRecord {
    /// Checks a published record.
    pub fn check(record: &Value) -> Result<ServiceRecord, RecordError> {
        let Some(fields) = record.as_object() else {
            return Err(RecordError {
                problems: vec![format!("a record is a JSON object, not {record}")],
            });
        };
        let mut problems = Vec::new();
        let id = required_text(fields, "_id", &mut problems);
        let service_name = required_text(fields, "_service_name", &mut problems);
        let state = match fields.get("_callback_state") {
            Some(Value::String(name)) => CallbackState::parse(name).or_else(|| {
                problems.push(format!(
                    "_callback_state {name:?} is not one of {}",
                    CallbackState::ALL.map(CallbackState::as_str).join(", ")
                ));
                None
            }),
            other => {
                problems.push(format!(
                    "_callback_state must be a state name, not {}",
                    shown(other)
                ));
                None
            }
        };
        let reason = optional_text(fields, "_callback_reason", &mut problems);
        if state == Some(CallbackState::Completed) && reason.is_none() {
            problems.push("a COMPLETED record needs a _callback_reason".into());
        }
        let customer_number = optional_text(fields, "_customer_number", &mut problems);
        let desired_ms = match optional_text(fields, "_desired_time", &mut problems) {
            None => None,
            Some(text) => parse_iso(&text).or_else(|| {
                problems.push(format!(
                    "_desired_time {text:?} is not an ISO 8601 date-time (2030-01-31T14:30:00.000Z)"
                ));
                None
            }),
        };
        let agent = optional_text(fields, "_agent", &mut problems);
        for (key, value) in fields {
            if key.starts_with("usr_") && (value.is_object() || value.is_array()) {
                problems.push(format!(
                    "user data {key} must be a plain value, not {value}"
                ));
            }
        }
        match (id, service_name, state) {
            (Some(id), Some(service_name), Some(state)) if problems.is_empty() => {
                Ok(ServiceRecord {
                    id,
                    service_name,
                    state,
                    reason,
                    customer_number,
                    desired_ms,
                    agent,
                })
            }
            _ => Err(RecordError { problems }),
        }
    }

    /// Whether it still counts against the service's queue (not `COMPLETED`).
    pub fn outstanding(&self) -> bool {
        self.state != CallbackState::Completed
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_string(), Value::to_string)
}

fn required_text(
    fields: &Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match fields.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        other => {
            problems.push(format!(
                "{key} must be a non-empty string, not {}",
                shown(other)
            ));
            None
        }
    }
}

fn optional_text(
    fields: &Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match fields.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            problems.push(format!("{key} must be a string or null, not {other}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_of_the_shipped_flow_reads() {
        let record = ServiceRecord::check(&json!({
            "_id": "s1", "_service_name": "chat-delay", "_callback_state": "QUEUED",
            "_callback_reason": null, "_customer_number": "5551234",
            "_desired_time": "2030-01-31T14:30:00.000Z", "_agent": null,
            "_ttl": 86400, "usr_reason": "billing",
        }))
        .unwrap();
        assert_eq!(record.state, CallbackState::Queued);
        assert!(record.outstanding());
        assert_eq!(record.desired_ms, parse_iso("2030-01-31T14:30:00.000Z"));
        assert_eq!(record.customer_number.as_deref(), Some("5551234"));
    }

    #[test]
    fn every_broken_field_is_named() {
        let err = ServiceRecord::check(&json!({
            "_id": "", "_callback_state": "WAITING", "_desired_time": "tomorrow",
            "_customer_number": 5551234, "usr_more": {"a": 1},
        }))
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "_id must be a non-empty string",
            "_service_name must be a non-empty string, not nothing",
            "_callback_state \"WAITING\" is not one of SCHEDULED, QUEUED, ROUTING, PROCESSING, COMPLETED",
            "_customer_number must be a string or null, not 5551234",
            "_desired_time \"tomorrow\" is not an ISO 8601 date-time",
            "user data usr_more must be a plain value",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        let err = ServiceRecord::check(&json!({
            "_id": "s", "_service_name": "x", "_callback_state": "COMPLETED"
        }))
        .unwrap_err();
        assert_eq!(
            err.problems,
            ["a COMPLETED record needs a _callback_reason"]
        );
        assert!(ServiceRecord::check(&json!([1])).is_err());
    }
}
