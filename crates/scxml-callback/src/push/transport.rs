//! The HTTP leg of push providers: a prepared POST and the client that sends it.
//!
//! Providers build an [`HttpRequest`] (pure, testable); [`post`] sends it through the
//! process's pooled asynchronous [`HttpClient`] (the one Basic HTTP sends use too), within the
//! configured timeout. Any 2xx answer is success; other statuses (with the start of their
//! body) and connection failures are errors.

use super::PushError;
use scxml_engine::{HttpClient, HttpLimits};
use std::time::Duration;

/// The most answer body read; the error of a non-2xx answer quotes its first
/// [`ERROR_BODY_CHARS`] characters.
const MAX_ANSWER: usize = 64 * 1024;
const ERROR_BODY_CHARS: usize = 2048;

/// A POST to make: URL, headers and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Where to post: the provider's endpoint, the device's httpcb URL or the webhook.
    pub url: String,
    /// Header names (lowercase) and values, `content-type` and any credentials included.
    pub headers: Vec<(String, String)>,
    /// The JSON body, serialised.
    pub body: String,
}

impl HttpRequest {
    /// A JSON POST with no extra headers.
    pub fn json(url: impl Into<String>, body: &serde_json::Value) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// Adds (or replaces) a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends the request; answers once the provider answered or `timeout` passed.
pub(crate) async fn post(request: &HttpRequest, timeout: Duration) -> Result<(), PushError> {
    let transport = |reason: String| PushError::Transport {
        url: request.url.clone(),
        reason,
    };
    let client = HttpClient::shared().map_err(|e| transport(e.to_string()))?;
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let limits = HttpLimits {
        timeout,
        max_body: MAX_ANSWER,
    };
    let answer = client
        .post(&request.url, &headers, request.body.clone(), limits)
        .await
        .map_err(|e| transport(e.to_string()))?;
    if answer.status.is_success() {
        return Ok(());
    }
    Err(PushError::Status {
        url: request.url.clone(),
        status: answer.status.as_u16(),
        body: answer.body_text(ERROR_BODY_CHARS),
    })
}
