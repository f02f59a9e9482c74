//! The test-runner protocol that shared SCXML test runners speak, on its own listener.
//!
//! Every request is a JSON POST to `/`:
//! - `{"load": URL}` starts a session of the document and answers
//!   `{"sessionToken": T, "nextConfiguration": [atomic state ids]}`;
//! - `{"event": {"name": N, "data": D}, "sessionToken": T}` delivers an external event and
//!   answers `{"nextConfiguration": [...]}` once its macrostep is over.
//!
//! Malformed requests get 400, a document that fails to load 500, both with a JSON error.

use super::error::ApiError;
use super::http::{self, Body};
use super::App;
use hyper::{Response, StatusCode};
use scxml::interpreter::Event;
use scxml_engine::CreateOptions;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Session tokens handed out to the runner.
#[derive(Default)]
pub(crate) struct Tokens {
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Request {
    load: Option<String>,
    event: Option<EventBody>,
    session_token: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    name: String,
    data: Option<Value>,
}

pub(crate) async fn handle(app: &Arc<App>, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let request: Request = http::parse_json(body)?;
    match (request.load, request.event) {
        (Some(url), None) => {
            let doc = app.documents.load(&url).await.map_err(|e| ApiError {
                status: if e.status == 403 { 403 } else { 500 },
                ..e
            })?;
            let view = app
                .engine
                .create(
                    doc,
                    CreateOptions {
                        document_url: Some(url),
                        ..CreateOptions::default()
                    },
                )
                .await?;
            let token = app.tokens.next.fetch_add(1, Ordering::Relaxed) + 1;
            if let Ok(mut sessions) = app.tokens.sessions.lock() {
                sessions.insert(token, view.id.clone());
            }
            Ok(http::json(
                StatusCode::OK,
                &json!({"sessionToken": token, "nextConfiguration": view.active_states}),
            ))
        }
        (None, Some(event)) => {
            let token = match request.session_token {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            }
            .ok_or_else(|| ApiError::bad_request("an event needs a numeric `sessionToken`"))?;
            let session = app
                .tokens
                .sessions
                .lock()
                .ok()
                .and_then(|s| s.get(&token).cloned())
                .ok_or_else(|| ApiError::not_found(format!("no session has token {token}")))?;
            let mut e = Event::external(event.name);
            e.data = event.data;
            let view = app.engine.send_and_wait(&session, e).await?;
            Ok(http::json(
                StatusCode::OK,
                &json!({"nextConfiguration": view.active_states}),
            ))
        }
        _ => Err(ApiError::bad_request(
            "a request has either `load` or `event`",
        )),
    }
}
