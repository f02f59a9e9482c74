//! Request fields: GMS clients send form fields as `multipart/form-data` or
//! `application/x-www-form-urlencoded`; JSON objects are accepted too. All become one JSON
//! object of field name to value (text fields as strings, JSON values as given).
//!
//! Multipart bodies are read by `multer`, the multipart parser of the hyper ecosystem, so
//! boundaries, header folding, quoting and charsets are handled as RFC 7578 says rather than
//! by hand. Each part with a `name` becomes a text field (decoded by its charset, UTF-8 by
//! default, lossily); a file part is taken as text too, which is what GMS's form posts need. A
//! later part of the same name replaces an earlier one, as in the other encodings. The body
//! is already in memory (the server bounds it), so it is handed to multer as a stream of one
//! chunk, which multer reads without ever waiting: [`parse_fields`] stays synchronous.

use bytes::Bytes;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Why a request body could not be read as fields; every case is the client's fault (400).
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// `multipart/form-data` without the `boundary` parameter that separates its parts.
    #[error("a multipart body needs a boundary parameter")]
    NoBoundary,
    /// The multipart body does not parse; multer's error says where.
    #[error("malformed multipart body: {0}")]
    Multipart(#[from] multer::Error),
    /// A part has no `name` in its `Content-Disposition`, so it names no field.
    #[error("a multipart part has no name")]
    UnnamedPart,
    /// A JSON body (by its type, or an untyped body starting with `{`) does not parse.
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A JSON body that is not an object, so it has no field names.
    #[error("a JSON body must be an object")]
    NotAnObject,
    /// A media type other than multipart, form-urlencoded or JSON (here lowercased).
    #[error("unsupported content type {0}")]
    UnsupportedType(String),
    /// A form-urlencoded body with bytes that are not UTF-8 (such a body is ASCII, with
    /// anything else percent-encoded).
    #[error("the form body is not UTF-8 text")]
    NotUtf8,
}

/// Callers answer a [`FormError`] with its text.
impl From<FormError> for String {
    fn from(e: FormError) -> String {
        e.to_string()
    }
}

/// The fields of a request body, by its `Content-Type`.
pub fn parse_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, FormError> {
    let content_type = content_type.unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match media.as_str() {
        "multipart/form-data" => {
            let boundary = multer::parse_boundary(content_type).map_err(|e| match e {
                multer::Error::NoBoundary => FormError::NoBoundary,
                other => FormError::Multipart(other),
            })?;
            multipart(Bytes::copy_from_slice(body), boundary)
        }
        "application/json" => json_object(body),
        "application/x-www-form-urlencoded" | "" => {
            if media.is_empty() && body.trim_ascii_start().starts_with(b"{") {
                return json_object(body);
            }
            if std::str::from_utf8(body).is_err() {
                return Err(FormError::NotUtf8);
            }
            Ok(urlencoded(body))
        }
        other => Err(FormError::UnsupportedType(other.to_string())),
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, FormError> {
    match serde_json::from_slice(body)? {
        Value::Object(fields) => Ok(fields),
        _ => Err(FormError::NotAnObject),
    }
}

/// Decodes `a=1&b=2` (also the query string).
pub fn urlencoded(body: &[u8]) -> Map<String, Value> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

fn multipart(body: Bytes, boundary: String) -> Result<Map<String, Value>, FormError> {
    let chunk =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(chunk, boundary);
    complete_now(async move {
        let mut fields = Map::new();
        while let Some(field) = parts.next_field().await? {
            let name = field
                .name()
                .map(str::to_string)
                .ok_or(FormError::UnnamedPart)?;
            fields.insert(name, Value::String(field.text().await?));
        }
        Ok(fields)
    })
}

/// Runs a future that never waits on anything outside itself (multer over a body already in
/// memory) to its end on the calling thread. It is polled with a waker that does nothing, so
/// a future that did wait would never be woken: polling is bounded and such a future ends in
/// an error rather than a hang.
fn complete_now<T>(future: impl Future<Output = Result<T, FormError>>) -> Result<T, FormError> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    Err(FormError::Multipart(multer::Error::IncompleteStream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_three_encodings() {
        let body = "------B\r\nContent-Disposition: form-data; name=\"_customer_number\"\r\n\r\n4082652649\r\n------B\r\nContent-Disposition: form-data; name=\"usr_reason\"\r\n\r\nbilling question\r\n------B\r\nContent-Disposition: form-data; name=\"_device_os\"\r\n\r\n\r\n------B--\r\n";
        let fields =
            parse_fields(Some("multipart/form-data; boundary=----B"), body.as_bytes()).unwrap();
        assert_eq!(
            Value::Object(fields),
            json!({"_customer_number": "4082652649", "usr_reason": "billing question", "_device_os": ""})
        );
        let fields = parse_fields(
            Some("application/x-www-form-urlencoded"),
            b"subject=testing&email=j.h%40gmail.com",
        )
        .unwrap();
        assert_eq!(fields["email"], "j.h@gmail.com");
        let fields = parse_fields(Some("application/json"), br#"{"a": 1}"#).unwrap();
        assert_eq!(fields["a"], 1);
        assert!(parse_fields(Some("application/json"), b"[1]").is_err());
        assert!(parse_fields(None, b"").unwrap().is_empty());
        let empty = parse_fields(
            Some("multipart/form-data; boundary=----X"),
            b"------X--\r\n",
        )
        .unwrap();
        assert!(empty.is_empty());
    }

    fn multipart_of(boundary: &str, parts: &[(&str, &str)]) -> String {
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        body
    }

    #[test]
    fn multipart_quoting_files_charsets_and_repeats() {
        // A quoted boundary, a preamble, a file part, a Latin-1 part and a repeated name.
        let body = b"preamble\r\n--a b\r\nContent-Disposition: form-data; name=\"note\"; filename=\"n.txt\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n--a b\r\nContent-Disposition: form-data; name=\"city\"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nM\xfcnchen\r\n--a b\r\nContent-Disposition: form-data; name=\"city\"\r\n\r\nK\xc3\xb6ln\r\n--a b--\r\n";
        let fields = parse_fields(Some("multipart/form-data; boundary=\"a b\""), body).unwrap();
        assert_eq!(
            Value::Object(fields),
            json!({"note": "line 1\r\nline 2", "city": "K\u{f6}ln"})
        );
        let latin = b"--x\r\nContent-Disposition: form-data; name=\"city\"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nM\xfcnchen\r\n--x--\r\n";
        let fields = parse_fields(Some("multipart/form-data; boundary=x"), latin).unwrap();
        assert_eq!(fields["city"], "M\u{fc}nchen");
        // The boundary as GMS's browser clients write it.
        let b = "----WebKitFormBoundary0WnE36LruxJ4S5nu";
        let body = multipart_of(b, &[("_customer_number", "555"), ("empty", "")]);
        let fields = parse_fields(
            Some(&format!("multipart/form-data; boundary={b}")),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(fields),
            json!({"_customer_number": "555", "empty": ""})
        );
    }

    #[test]
    fn bad_multipart_is_an_error_not_a_panic() {
        let cases: [(&str, &[u8]); 5] = [
            // no boundary parameter
            ("multipart/form-data", b"--x\r\n\r\nv\r\n--x--\r\n"),
            // a part without a name
            (
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n",
            ),
            // headers never end
            (
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"a\"",
            ),
            // the closing boundary is missing
            (
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv",
            ),
            // not a header at all
            (
                "multipart/form-data; boundary=x",
                b"--x\r\n\x00\x01: \xff\r\n\r\nv\r\n--x--\r\n",
            ),
        ];
        for (content_type, body) in cases {
            let err = parse_fields(Some(content_type), body).unwrap_err();
            assert!(!String::from(err).is_empty());
        }
        assert!(matches!(
            parse_fields(Some("multipart/form-data"), b"x"),
            Err(FormError::NoBoundary)
        ));
        assert!(matches!(
            parse_fields(Some("text/csv"), b"a,b"),
            Err(FormError::UnsupportedType(t)) if t == "text/csv"
        ));
    }
}
