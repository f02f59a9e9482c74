//! The sessions API: create, send events to, inspect, list, end and trace sessions.

use super::error::ApiError;
use super::http::{self, Body};
use super::App;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use scxml::interpreter::Event;
use scxml_engine::{CreateOptions, SessionStatus, SessionSummary};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `POST /sessions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// A document URL (path, `file:`, `http(s):`), checked against the allow-list.
    url: Option<String>,
    /// Or the document itself.
    document: Option<String>,
    /// Initial values overriding the document's `<data>`.
    #[serde(default)]
    data: Map<String, Value>,
}

pub(crate) async fn create(app: &Arc<App>, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let request: CreateRequest = http::parse_json(body)?;
    let (doc, url) = match (request.url, request.document) {
        (Some(url), None) => (app.documents.load(&url).await?, Some(url)),
        (None, Some(text)) => {
            if text.len() > app.config.max_document_bytes {
                return Err(ApiError::new(
                    413,
                    "document_too_large",
                    format!(
                        "the document is larger than {} bytes",
                        app.config.max_document_bytes
                    ),
                ));
            }
            (app.documents.parse_inline(text).await?, None)
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `url` and `document`",
            ))
        }
    };
    let view = app
        .engine
        .create(
            doc,
            CreateOptions {
                initial_data: request.data.into_iter().collect(),
                document_url: url,
            },
        )
        .await?;
    Ok(http::json(StatusCode::CREATED, &view))
}

/// `POST /sessions/{id}/events`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    name: String,
    data: Option<Value>,
    /// Answer with the session once the event's macrostep is over.
    #[serde(default)]
    wait: bool,
}

pub(crate) async fn send_event(
    app: &Arc<App>,
    id: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let request: EventRequest = http::parse_json(body)?;
    if request.name.trim().is_empty() || request.name.contains(char::is_whitespace) {
        return Err(ApiError::bad_request(
            "`name` must be a non-empty event name without spaces",
        ));
    }
    let mut event = Event::external(request.name);
    event.data = request.data;
    if request.wait {
        let view = app.engine.send_and_wait(id, event).await?;
        Ok(http::json(StatusCode::OK, &view))
    } else {
        app.engine.send(id, event)?;
        Ok(http::json(StatusCode::ACCEPTED, &json!({"accepted": true})))
    }
}

pub(crate) async fn inspect(app: &Arc<App>, id: &str) -> Result<Response<Body>, ApiError> {
    let view = app.engine.inspect(id).await?;
    Ok(http::json(StatusCode::OK, &view))
}

pub(crate) async fn delete(app: &Arc<App>, id: &str) -> Result<Response<Body>, ApiError> {
    app.engine.delete(id).await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

/// `GET /sessions?status=&name=&state=&offset=&limit=`.
pub(crate) async fn list(app: &Arc<App>, query: Option<&str>) -> Result<Response<Body>, ApiError> {
    let mut status = None;
    let mut name = None;
    let mut state = None;
    let mut offset = 0usize;
    let mut limit = 100usize;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "status" => status = Some(v.parse::<SessionStatus>().map_err(ApiError::bad_request)?),
            "name" => name = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            "offset" => {
                offset = v
                    .parse()
                    .map_err(|_| ApiError::bad_request("`offset` must be a number"))?
            }
            "limit" => {
                limit = v
                    .parse()
                    .map_err(|_| ApiError::bad_request("`limit` must be a number"))?;
                if limit == 0 || limit > 1000 {
                    return Err(ApiError::bad_request("`limit` must be between 1 and 1000"));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    let matching: Vec<SessionSummary> = app
        .engine
        .list()
        .await
        .into_iter()
        .filter(|s| status.is_none_or(|v| s.status == v))
        .filter(|s| name.as_deref().is_none_or(|v| s.name.as_deref() == Some(v)))
        .filter(|s| {
            state
                .as_deref()
                .is_none_or(|v| s.active_states.iter().any(|a| a == v))
        })
        .collect();
    let total = matching.len();
    let page: Vec<_> = matching.into_iter().skip(offset).take(limit).collect();
    Ok(http::json(
        StatusCode::OK,
        &json!({"total": total, "offset": offset, "limit": limit, "sessions": page}),
    ))
}

/// `GET /sessions/{id}/trace`: server-sent events, one `macrostep` event per macrostep.
pub(crate) async fn trace(app: &Arc<App>, id: &str) -> Result<Response<Body>, ApiError> {
    let mut records = app.engine.trace(id).await?;
    let (mut sender, body) =
        http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(16);
    tokio::spawn(async move {
        if sender
            .send(Frame::data(Bytes::from_static(b": trace\n\n")))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let text = match records.recv().await {
                Ok(record) => {
                    let done = record.status.is_halted();
                    let data = serde_json::to_string(&record).unwrap_or_default();
                    let text = format!("event: macrostep\nid: {}\ndata: {data}\n\n", record.seq);
                    if sender.send(Frame::data(Bytes::from(text))).await.is_err() || done {
                        return;
                    }
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    format!("event: lagged\ndata: {{\"skipped\": {n}}}\n\n")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if sender.send(Frame::data(Bytes::from(text))).await.is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}
