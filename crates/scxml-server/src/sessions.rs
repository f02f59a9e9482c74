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

/// Where the document of a new session comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentSource {
    /// A URL (path, `file:`, `http(s):`), checked against the allow-list.
    Url(String),
    /// The document itself.
    Inline(String),
}

/// The body of `POST /sessions`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSession {
    /// The document.
    pub source: DocumentSource,
    /// Initial values overriding the document's `<data>`.
    pub data: Map<String, Value>,
}

impl CreateSession {
    /// Parses and checks a body: JSON with exactly one of `url` and `document`, and an
    /// optional object `data`; anything else is a 400 saying what is wrong.
    pub fn parse(body: &[u8]) -> Result<CreateSession, ApiError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            url: Option<String>,
            document: Option<String>,
            #[serde(default)]
            data: Map<String, Value>,
        }
        let wire: Wire = http::parse_json(body)?;
        let source = match (wire.url, wire.document) {
            (Some(url), None) => DocumentSource::Url(url),
            (None, Some(text)) => DocumentSource::Inline(text),
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of `url` and `document`",
                ))
            }
        };
        Ok(CreateSession {
            source,
            data: wire.data,
        })
    }
}

pub(crate) async fn create(app: &Arc<App>, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let request = CreateSession::parse(body)?;
    let (doc, url) = match request.source {
        DocumentSource::Url(url) => (app.documents.load(&url).await?, Some(url)),
        DocumentSource::Inline(text) => {
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

/// The body of `POST /sessions/{id}/events`, checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEvent {
    /// The event's name: not empty, no whitespace.
    pub name: String,
    /// `_event.data`.
    pub data: Option<Value>,
    /// Answer with the session once the event's macrostep is over.
    #[serde(default)]
    pub wait: bool,
}

impl SendEvent {
    /// Parses and checks a body; anything else is a 400 saying what is wrong.
    pub fn parse(body: &[u8]) -> Result<SendEvent, ApiError> {
        let request: SendEvent = http::parse_json(body)?;
        if request.name.trim().is_empty() || request.name.contains(char::is_whitespace) {
            return Err(ApiError::bad_request(
                "`name` must be a non-empty event name without spaces",
            ));
        }
        Ok(request)
    }
}

pub(crate) async fn send_event(
    app: &Arc<App>,
    id: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let request = SendEvent::parse(body)?;
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

/// `GET /sessions/{id}/chart`: the chart of the session's document ([`scxml::chart::Chart`])
/// with its `source` text, what a live view draws before following `/sessions/{id}/trace`.
pub(crate) async fn chart(app: &Arc<App>, id: &str) -> Result<Response<Body>, ApiError> {
    let doc = app.engine.document(id).await?;
    let mut chart = serde_json::to_value(scxml::chart::Chart::of(&doc))
        .map_err(|e| ApiError::new(500, "internal", e.to_string()))?;
    // The text the positions point into, for a view to show a state's source lines.
    chart["source"] = json!(doc.source.as_deref());
    Ok(http::json(StatusCode::OK, &chart))
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
