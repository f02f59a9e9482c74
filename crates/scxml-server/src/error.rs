//! API errors: every failure the server answers with is a status and a JSON body
//! `{"error": code, "message": text}` (plus `problems` for an invalid document).

use scxml::parse::{FetchError, LoadError, Problem};
use scxml_engine::EngineError;
use serde_json::{json, Value};

/// A failed request: status, a stable machine-readable code, and a message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable, machine-readable code (`not_found`, `invalid_document`...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Document problems, each with file, line and column.
    pub problems: Vec<Problem>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// A 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_request", message)
    }

    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }

    /// The JSON body answered: `error`, `message`, and `problems` for an invalid document.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": self.code, "message": self.message});
        if !self.problems.is_empty() {
            body["problems"] = self
                .problems
                .iter()
                .map(|p| {
                    json!({"file": p.file, "line": p.pos.line, "column": p.pos.column, "message": p.message})
                })
                .collect();
        }
        body
    }
}

impl From<crate::auth::Denied> for ApiError {
    fn from(e: crate::auth::Denied) -> ApiError {
        match e {
            crate::auth::Denied::Unauthenticated(m) => ApiError::new(401, "unauthorized", m),
            crate::auth::Denied::Forbidden(m) => ApiError::new(403, "forbidden", m),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::UnknownSession(_) => ApiError::new(404, "unknown_session", e.to_string()),
            EngineError::TooManySessions(_) => {
                ApiError::new(503, "too_many_sessions", e.to_string())
            }
            EngineError::QueueFull(_) => ApiError::new(429, "queue_full", e.to_string()),
            EngineError::ShuttingDown => ApiError::new(503, "shutting_down", e.to_string()),
            EngineError::Runaway(_) => ApiError::new(500, "session_failed", e.to_string()),
            EngineError::LowMemory { .. } => ApiError::new(503, "low_memory", e.to_string()),
        }
    }
}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> ApiError {
        match e {
            LoadError::Invalid(errors) => ApiError {
                status: 422,
                code: "invalid_document",
                message: format!("the document has {} problem(s)", errors.problems.len()),
                problems: errors.problems,
            },
            LoadError::Fetch(FetchError::NotAllowed { .. }) => {
                ApiError::new(403, "url_not_allowed", e.to_string())
            }
            LoadError::Fetch(_) => ApiError::new(422, "document_unavailable", e.to_string()),
            LoadError::Location { .. } => ApiError::bad_request(format!("document URL: {e}")),
        }
    }
}
