//! The sending half of the Basic HTTP Event I/O Processor (SCXML D.2): a `<send>` becomes a
//! form-encoded HTTP POST to the target URL.
//!
//! The event name travels as the `_scxmleventname` parameter, namelist and `<param>` values as
//! further form fields, and `<content>` (when given) as the form-encoded body. Any answer other
//! than 2xx, or no answer, is a failure the session sees as `error.communication`.
//!
//! The POST goes through the process's pooled [`HttpClient`] (`http://` and `https://`), so
//! sends to the same endpoint reuse a kept-alive connection.

use crate::http_client::{HttpClient, HttpError, HttpLimits};
use scxml::interpreter::SendRequest;
use serde_json::Value;
use std::time::Duration;

/// How long one POST may take in all.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most answer body read (and thrown away: only the status matters).
const MAX_ANSWER: usize = 64 * 1024;

/// The form body of a Basic HTTP send.
pub(crate) fn form_body(request: &SendRequest) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    if !request.event.name.is_empty() {
        form.append_pair("_scxmleventname", &request.event.name);
    }
    let mut body = form.finish();
    match (&request.event.raw, &request.event.data) {
        // namelist and params, repeated names kept, already form-encoded
        (Some(raw), _) if !raw.is_empty() => {
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(raw);
        }
        // <content>: its text, percent-encoded (spaces as %20)
        (_, Some(Value::String(content))) => {
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(&percent_encode(content));
        }
        (_, Some(other)) if !other.is_null() => {
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(&percent_encode(&other.to_string()));
        }
        _ => {}
    }
    body
}

/// Percent-encodes text for a form body. The form serializer writes a space as `+` and a
/// literal `+` as `%2B`, so every `+` left is a space and becomes `%20`.
fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// POSTs the event to its target; the error is the text of the session's
/// `error.communication`.
pub(crate) async fn post_event(request: &SendRequest) -> Result<(), String> {
    let target = request.target.as_deref().unwrap_or_default();
    post_form(target, form_body(request))
        .await
        .map_err(|e| e.to_string())
}

/// Why a Basic HTTP POST failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("POST {target}: answered {status}")]
    Status {
        target: String,
        status: hyper::StatusCode,
    },
}

/// POSTs a form-encoded body; Ok on a 2xx answer.
pub(crate) async fn post_form(target: &str, body: String) -> Result<(), PostError> {
    let limits = HttpLimits {
        timeout: TIMEOUT,
        max_body: MAX_ANSWER,
    };
    let answer = HttpClient::shared()?
        .post(
            target,
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
            limits,
        )
        .await?;
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(PostError::Status {
            target: target.to_string(),
            status: answer.status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scxml::interpreter::Event;

    fn request(name: &str, data: Option<Value>, raw: Option<&str>) -> SendRequest {
        SendRequest {
            event: Event {
                name: name.into(),
                data,
                raw: raw.map(str::to_string),
                ..Event::default()
            },
            target: Some("http://127.0.0.1:1/x".into()),
            kind: "basichttp".into(),
            sendid: "s".into(),
            delay: Duration::ZERO,
        }
    }

    #[test]
    fn event_name_params_and_content_are_form_encoded() {
        assert_eq!(
            form_body(&request("test", None, None)),
            "_scxmleventname=test"
        );
        assert_eq!(
            form_body(&request("test", None, Some("param1=1&Var1=2"))),
            "_scxmleventname=test&param1=1&Var1=2"
        );
        assert_eq!(
            form_body(&request(
                "",
                Some(Value::String("this is some content".into())),
                None
            )),
            "this%20is%20some%20content"
        );
    }

    #[tokio::test]
    async fn an_unreachable_target_is_an_error() {
        let err = post_event(&request("e", None, None)).await.unwrap_err();
        assert!(err.contains("127.0.0.1:1"), "{err}");
    }
}
