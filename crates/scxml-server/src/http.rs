//! Small HTTP helpers shared by the handlers: reading a bounded body, JSON answers, errors.

use super::error::ApiError;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use std::convert::Infallible;

/// The body type of every answer (plain or streamed).
pub type Body = BoxBody<Bytes, Infallible>;

/// Reads a request body of at most `limit` bytes.
pub(crate) async fn read_body(
    req: Request<Incoming>,
    limit: usize,
) -> Result<(hyper::http::request::Parts, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let collected = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            ApiError::new(
                413,
                "body_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request(format!("reading the request body: {e}"))
        }
    })?;
    Ok((parts, collected.to_bytes()))
}

/// Parses a JSON body.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

/// A whole response: status, content type and body.
pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => full(status, "application/json", bytes),
        Err(e) => error(&ApiError::new(
            500,
            "internal",
            format!("serialising the answer: {e}"),
        )),
    }
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    full(status, "text/plain", Bytes::new())
}

pub(crate) fn error(e: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, &e.body());
    if status == StatusCode::UNAUTHORIZED {
        // What a client should answer with (RFC 9110 11.6.1).
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static(
                "Bearer realm=\"scxml\", Basic realm=\"scxml\"",
            ),
        );
    }
    response
}
