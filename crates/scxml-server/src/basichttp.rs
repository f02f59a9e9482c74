//! The receiving half of the Basic HTTP Event I/O Processor (SCXML D.2): a POST to a
//! session's published location becomes an external event.
//!
//! The event is named by the `_scxmleventname` form field (or header), or `HTTP.POST` without
//! one; the
//! other form fields (or a JSON object body) become `_event.data`; `_event.raw` holds the raw
//! request: request line, headers and body.

use hyper::http::request::Parts;
use scxml::interpreter::{Event, EventType, BASIC_HTTP_EVENT_PROCESSOR};
use serde_json::{Map, Value};

/// Builds the event a POST delivers.
pub(crate) fn event_from_request(parts: &Parts, body: &[u8]) -> Event {
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut name = None;
    let data = if content_type.starts_with("application/json") {
        serde_json::from_slice::<Value>(body).ok()
    } else {
        let mut fields = Map::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if k == "_scxmleventname" {
                name = Some(v.into_owned());
            } else {
                fields.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        (!fields.is_empty()).then_some(Value::Object(fields))
    };
    let header_name = parts
        .headers
        .get("_scxmleventname")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let name = name
        .or(header_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("HTTP.{}", parts.method.as_str()));
    Event {
        name,
        kind: EventType::External,
        origintype: Some(BASIC_HTTP_EVENT_PROCESSOR.to_string()),
        data,
        raw: Some(raw_request(parts, body)),
        ..Event::default()
    }
}

/// The request as it came over the wire, near enough: request line, headers, blank line, body.
fn raw_request(parts: &Parts, body: &[u8]) -> String {
    let mut raw = format!(
        "{} {} {:?}\r\n",
        parts.method,
        parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        parts.version
    );
    for (name, value) in &parts.headers {
        raw.push_str(name.as_str());
        raw.push_str(": ");
        raw.push_str(&String::from_utf8_lossy(value.as_bytes()));
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    raw.push_str(&String::from_utf8_lossy(body));
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(content_type: &str) -> Parts {
        let (parts, ()) = hyper::Request::post("/basichttp/abc")
            .header("content-type", content_type)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    #[test]
    fn form_fields_become_name_and_data() {
        let e = event_from_request(
            &parts("application/x-www-form-urlencoded"),
            b"_scxmleventname=test&param1=2",
        );
        assert_eq!(e.name, "test");
        assert_eq!(e.data, Some(serde_json::json!({"param1": "2"})));
        let raw = e.raw.unwrap();
        assert!(raw.starts_with("POST /basichttp/abc HTTP/1.1\r\n"), "{raw}");
        assert!(raw.ends_with("_scxmleventname=test&param1=2"));
    }

    #[test]
    fn without_an_event_name_the_method_names_the_event() {
        let e = event_from_request(
            &parts("application/x-www-form-urlencoded"),
            b"this+is+some+content",
        );
        assert_eq!(e.name, "HTTP.POST");
        let json = event_from_request(&parts("application/json"), br#"{"a": 1}"#);
        assert_eq!(json.data, Some(serde_json::json!({"a": 1})));
    }
}
