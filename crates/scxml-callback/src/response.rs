//! What the GMS endpoints answer: a status, a content type and a body, independent of the
//! HTTP library (the server turns it into its response type). Errors have GMS's shape,
//! `{"message": text, "exception": kind}`.

use serde_json::{json, Value};

/// One answer of the GMS application.
#[derive(Debug, Clone, PartialEq)]
pub struct GmsResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl GmsResponse {
    pub fn json(status: u16, body: &Value) -> GmsResponse {
        GmsResponse {
            status,
            content_type: "application/json;charset=UTF-8",
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// A GMS error: `exception` is a short stable kind (`ServiceNotFound`, `Forbidden`, ...).
    pub fn error(status: u16, exception: &str, message: impl Into<String>) -> GmsResponse {
        GmsResponse::json(
            status,
            &json!({"message": message.into(), "exception": exception}),
        )
    }

    pub fn not_found(message: impl Into<String>) -> GmsResponse {
        GmsResponse::error(404, "NotFound", message)
    }

    pub fn bad_request(message: impl Into<String>) -> GmsResponse {
        GmsResponse::error(400, "BadRequest", message)
    }

    pub fn text(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> GmsResponse {
        GmsResponse {
            status,
            content_type,
            body: body.into(),
        }
    }
}
