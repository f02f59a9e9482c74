//! Request fields: GMS clients send form fields as `multipart/form-data` or
//! `application/x-www-form-urlencoded`; JSON objects are accepted too. All become one JSON
//! object of field name to value (text fields as strings, JSON values as given).
//!
//! Multipart is parsed minimally: text parts with a `name` in their `Content-Disposition`;
//! a file part is taken as text too (lossily), which is enough for GMS's form posts.

use serde_json::{Map, Value};

/// The fields of a request body, by its `Content-Type`.
pub fn parse_fields(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, String> {
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
            let boundary = parameter(content_type, "boundary")
                .ok_or("a multipart body needs a boundary parameter")?;
            multipart(body, &boundary)
        }
        "application/json" => json_object(body),
        "application/x-www-form-urlencoded" | "" => {
            if media.is_empty() && body.trim_ascii_start().starts_with(b"{") {
                return json_object(body);
            }
            Ok(urlencoded(body))
        }
        other => Err(format!("unsupported content type {other}")),
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("a JSON body must be an object".into()),
        Err(e) => Err(format!("malformed JSON: {e}")),
    }
}

/// Decodes `a=1&b=2` (also the query string).
pub fn urlencoded(body: &[u8]) -> Map<String, Value> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// A `name=value` parameter of a header value, quotes removed.
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().trim_matches('"').to_string())
    })
}

fn multipart(body: &[u8], boundary: &str) -> Result<Map<String, Value>, String> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut fields = Map::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part
            .strip_prefix("\r\n")
            .or_else(|| part.strip_prefix('\n'))
            .unwrap_or(part);
        let (headers, value) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))
            .ok_or("a multipart part has no blank line after its headers")?;
        let name = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .and_then(|l| parameter(l, "name"))
            .ok_or("a multipart part has no name")?;
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(value);
        fields.insert(name, Value::String(value.to_string()));
    }
    Ok(fields)
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
}
