//! What the GMS endpoints answer: a status, a content type and a body, independent of the
//! HTTP library (the server turns it into its response type). Errors have GMS's shape,
//! `{"message": text, "exception": kind}`.

use serde_json::{json, Value};

/// One answer of the GMS application.
#[derive(Debug, Clone, PartialEq)]
pub struct GmsResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The body bytes, already encoded.
    pub body: Vec<u8>,
    /// `Retry-After`, in seconds, on a 429.
    pub retry_after_secs: Option<u64>,
    /// `Content-Security-Policy`, for a page.
    pub content_security_policy: Option<&'static str>,
}

impl GmsResponse {
    /// A JSON answer with this status.
    pub fn json(status: u16, body: &Value) -> GmsResponse {
        GmsResponse {
            status,
            content_type: "application/json;charset=UTF-8",
            body: serde_json::to_vec(body).unwrap_or_default(),
            retry_after_secs: None,
            content_security_policy: None,
        }
    }

    /// A GMS error: `exception` is a short stable kind (`ServiceNotFound`, `Forbidden`, ...).
    pub fn error(status: u16, exception: &str, message: impl Into<String>) -> GmsResponse {
        GmsResponse::json(
            status,
            &json!({"message": message.into(), "exception": exception}),
        )
    }

    /// A 404 `NotFound` GMS error.
    pub fn not_found(message: impl Into<String>) -> GmsResponse {
        GmsResponse::error(404, "NotFound", message)
    }

    /// A 400 `BadRequest` GMS error.
    pub fn bad_request(message: impl Into<String>) -> GmsResponse {
        GmsResponse::error(400, "BadRequest", message)
    }

    /// An answer with any content type and a body given as is (a page, a script, plain text).
    pub fn text(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> GmsResponse {
        GmsResponse {
            status,
            content_type,
            body: body.into(),
            retry_after_secs: None,
            content_security_policy: None,
        }
    }

    /// A 429: the client asked too much, and may ask again after `retry_after_secs`.
    pub fn too_many(
        exception: &str,
        message: impl Into<String>,
        retry_after_secs: u64,
    ) -> GmsResponse {
        GmsResponse {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..GmsResponse::error(429, exception, message)
        }
    }
}
