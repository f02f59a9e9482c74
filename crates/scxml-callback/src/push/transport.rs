//! The HTTP leg of push providers: a prepared POST and the blocking client that sends it.
//!
//! Providers build an [`HttpRequest`] (pure, testable); [`post`] sends it with ureq, which
//! blocks the calling thread: run it on a blocking thread (`tokio::task::spawn_blocking` or a
//! plain thread), never on an async worker. Any 2xx answer is success; other statuses and
//! connection failures are errors.

use super::PushError;
use std::time::Duration;

/// A POST to make: URL, headers and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
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

/// An HTTP client whose requests give up after `timeout` in all.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Sends the request; blocks until answered or timed out.
pub fn post(agent: &ureq::Agent, request: &HttpRequest) -> Result<(), PushError> {
    let mut builder = agent.post(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let mut response = builder
        .send(request.body.as_str())
        .map_err(|e| PushError::Transport {
            url: request.url.clone(),
            reason: e.to_string(),
        })?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(2048)
        .lossy_utf8(true)
        .read_to_string()
        .unwrap_or_default();
    Err(PushError::Status {
        url: request.url.clone(),
        status,
        body,
    })
}
