//! The bad-input table: one test per row. Every row gets a clear 4xx with the JSON error body
//! (or, for a client too slow to send its request, a closed connection), and the process is
//! unharmed: the next request is still answered.

mod common;

use common::TestServer;
use scxml_callback::{GmsApp, GmsConfig};
use scxml_engine::EngineConfig;
use scxml_server::{Mount, ServerConfig, StartOptions};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server of the table: the callback application mounted, the document limit above
/// what the deepest row needs (so the parser, not the body limit, answers it), a one-second
/// header timeout, and an allow-list of one empty directory.
struct Server {
    server: TestServer,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(name: &str) -> Server {
        let dir = common::unique_dir(&format!("bad-input-{name}"));
        let gms: Arc<dyn Mount> = GmsApp::new(GmsConfig::default_config()).unwrap();
        let server = TestServer::serve_with(
            StartOptions {
                allow_documents: vec![common::allow_dir(&dir)],
                server: ServerConfig {
                    max_body_bytes: 4 << 20,
                    max_document_bytes: 4 << 20,
                    header_read_timeout: Duration::from_secs(1),
                    ..ServerConfig::default()
                },
                ..common::loopback_options(EngineConfig {
                    shards: 1,
                    ..EngineConfig::default()
                })
            },
            vec![gms],
        );
        Server { server, dir }
    }

    fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.server.post_value(path, body)
    }

    fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let mut response = self
            .server
            .http
            .post(&self.server.url(path))
            .header("authorization", format!("Bearer {}", common::ADMIN_TOKEN))
            .header("content-type", content_type)
            .send(&body[..])
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The row's answer is a 4xx with a JSON error body, and the server still answers.
    fn refused(&self, row: &str, (status, body): (u16, Value), want: u16) {
        assert_eq!(status, want, "{row}: {body}");
        let message = body["message"].as_str();
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "{row}: no JSON error body: {body}"
        );
        self.still_answers(row);
    }

    fn still_answers(&self, row: &str) {
        let (status, health) = self.server.fetch("/healthz");
        assert_eq!(status, 200, "{row}: the server no longer answers: {health}");
    }

    fn document(&self, row: &str, document: &str, want: u16) -> Value {
        let (status, body) = self.post_json("/sessions", &json!({ "document": document }));
        let answer = body.clone();
        self.refused(row, (status, body), want);
        answer
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.shutdown();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

use common::ecmascript_doc as scxml;

#[test]
fn malformed_xml() {
    let s = Server::start("malformed");
    let body = s.document(
        "malformed XML",
        "<scxml xmlns=\"http://www.w3.org/2005/07/scxml\"><state id=\"a\">",
        422,
    );
    assert!(body["problems"][0]["line"].is_number(), "{body}");
}

#[test]
fn an_entity_bomb() {
    let s = Server::start("entities");
    let mut doc = String::from(r#"<?xml version="1.0"?><!DOCTYPE scxml [<!ENTITY a0 "boom">"#);
    for i in 1..10 {
        let prev = format!("&a{};", i - 1);
        doc.push_str(&format!(r#"<!ENTITY a{i} "{}">"#, prev.repeat(10)));
    }
    doc.push_str("]>");
    doc.push_str(&scxml(
        r#"<state id="s"><onentry><log expr="'&a9;'"/></onentry></state>"#,
    ));
    let body = s.document("an entity bomb", &doc, 422);
    assert!(body.to_string().contains("entity"), "{body}");
}

#[test]
fn nesting_100k_deep() {
    let s = Server::start("deep");
    let depth = 100_000;
    let doc = scxml(&format!(
        "{}<final id=\"f\"/>{}",
        "<state>".repeat(depth),
        "</state>".repeat(depth)
    ));
    let body = s.document("nesting 100k deep", &doc, 422);
    assert!(body.to_string().contains("nest deeper than"), "{body}");
}

/// Streams a JSON body of `total` bytes (an attribute of `x`s) on a raw connection, writing
/// until the server stops reading, and returns what it answered: it answers 413 once past its
/// limit, without reading (or keeping) the rest. A client library would report the broken
/// pipe instead of the answer.
fn oversized_post(s: &Server, total: usize) -> String {
    let head = format!(
        "POST /sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n",
        common::ADMIN_TOKEN
    );
    let mut stream = TcpStream::connect(s.server.running().api_addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(br#"{"document": "<scxml name=\""#);
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..total >> 20 {
        if stream.write_all(&chunk).is_err() {
            break; // the server stopped reading: it has answered
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_100_mb_attribute() {
    let s = Server::start("attribute");
    let answer = oversized_post(&s, 100 << 20);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
    s.still_answers("a 100 MB attribute");
}

#[test]
fn invalid_utf8() {
    let s = Server::start("utf8");
    let mut body = br#"{"document": ""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    body.extend_from_slice(br#""}"#);
    let answer = s.post_raw("/sessions", "application/json", body);
    s.refused("invalid UTF-8", answer, 400);
    let answer = s.post_raw(
        "/genesys/1/service/callback/chat-delay",
        "application/x-www-form-urlencoded",
        vec![0xff, 0x3d, 0xfe],
    );
    assert!(
        (400..500).contains(&answer.0),
        "invalid UTF-8 in a form: {:?}",
        answer
    );
    s.still_answers("invalid UTF-8 in a form");
}

#[test]
fn a_body_over_the_limit() {
    let s = Server::start("limit");
    // Just past the 4 MiB limit of this server.
    let answer = oversized_post(&s, (4 << 20) + (1 << 20));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 4194304 bytes"), "{answer}");
    s.still_answers("a body over the limit");
}

#[test]
fn a_slow_client_sending_its_headers_a_byte_at_a_time() {
    let s = Server::start("slow");
    let mut stream = TcpStream::connect(s.server.running().api_addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed = false;
    for byte in request {
        if stream.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}  // a 408 before the close
            Err(_) => {} // nothing yet
        }
        s.still_answers("while a client trickles its headers");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(closed, "the trickling client was never cut off");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "cut off only after {took:?}");
    s.still_answers("a slow client");
}

#[test]
fn thousands_of_idle_connections() {
    let s = Server::start("idle");
    let idle: Vec<TcpStream> = (0..2_000)
        .map(|_| TcpStream::connect(s.server.running().api_addr).unwrap())
        .collect();
    s.still_answers("with 2,000 idle connections open");
    let (status, _) = s.post_json(
        "/sessions",
        &json!({ "document": scxml(r#"<state id="s"/>"#) }),
    );
    assert_eq!(status, 201);
    // They are closed once the header timeout passes.
    std::thread::sleep(Duration::from_millis(1_500));
    let mut closed = 0;
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 64];
        if matches!(stream.read(&mut buf), Ok(0) | Ok(_)) {
            closed += 1;
        }
    }
    assert!(closed > 1_900, "only {closed} idle connections were closed");
    s.still_answers("after the idle connections");
}

#[test]
fn bad_json() {
    let s = Server::start("json");
    for body in [
        "{not json",
        "[]",
        r#"{"document": 7}"#,
        r#"{"url": "x", "document": "y", "extra": {"a":"#,
    ] {
        let answer = s.post_raw("/sessions", "application/json", body.as_bytes().to_vec());
        s.refused(body, answer, 400);
    }
    let (status, created) = s.post_json(
        "/sessions",
        &json!({ "document": scxml(r#"<state id="s"/>"#) }),
    );
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let answer = s.post_raw(
        &format!("/sessions/{id}/events"),
        "application/json",
        br#"{"name": "a b"}"#.to_vec(),
    );
    s.refused("an event name with a space", answer, 400);
}

#[test]
fn bad_multipart() {
    let s = Server::start("multipart");
    let rows: [(&str, &[u8]); 3] = [
        (
            "multipart/form-data; boundary=XYZ",
            b"--XYZ\r\nContent-Disposition: form-data; name=\"_customer_number\"\r\n\r\n555",
        ),
        ("multipart/form-data", b"--\r\n\r\n"),
        (
            "multipart/form-data; boundary=XYZ",
            b"garbage without any boundary",
        ),
    ];
    for (content_type, body) in rows {
        let mut response = s
            .server
            .http
            .post(&s.server.url("/genesys/1/service/callback/chat-delay"))
            .header("gms_user", "device-1")
            .header("content-type", content_type)
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert_eq!(status, 400, "{content_type}: {body}");
        assert!(
            body["message"].is_string() && body["exception"].is_string(),
            "{body}"
        );
        s.still_answers("bad multipart");
    }
}

#[test]
fn unknown_ids() {
    let s = Server::start("unknown");
    let (status, body) = s.server.fetch("/sessions/no-such-session");
    s.refused("an unknown session", (status, body), 404);
    let (status, body) = s.post_json("/sessions/no-such-session/events", &json!({"name": "e"}));
    s.refused("an event for an unknown session", (status, body), 404);
    let (status, body) = s.server.request(
        "GET",
        "/genesys/1/service/no-such-service",
        Some("device-1"),
        None,
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = s.server.request(
        "POST",
        "/genesys/1/agents/agent1/interactions/nope/accept",
        None,
        None,
    );
    assert_eq!(status, 404, "{body}");
    s.still_answers("unknown ids");
}

#[test]
fn path_traversal_in_the_documents_route() {
    let s = Server::start("traversal");
    for path in [
        "/genesys/1/document/service_template/callback/src/..%2F..%2F..%2Fetc%2Fpasswd",
        "/genesys/1/document/service_template/callback/src/../../../../etc/passwd",
        "/genesys/1/document/service_template/callback/src/%2e%2e%2fCargo.toml",
    ] {
        let (status, body) = s.server.request("GET", path, Some("device-1"), None);
        assert!(status == 404 || status == 400, "{path}: {status} {body}");
        assert!(!body.to_string().contains("root:"), "{path}: {body}");
        s.still_answers(path);
    }
    // A document by a path that climbs out of the allow-list.
    let (status, body) = s.post_json(
        "/sessions",
        &json!({ "url": format!("{}/../../../etc/passwd", s.dir.display()) }),
    );
    s.refused(
        "a document URL that climbs out",
        (status, body.clone()),
        403,
    );
    assert!(
        body["message"].as_str().unwrap().contains("passwd"),
        "{body}"
    );
}

#[test]
fn a_document_naming_what_the_allow_list_does_not_through_every_kind_of_src() {
    let s = Server::start("srcs");
    for (kind, body) in [
        (
            "data src",
            r#"<datamodel><data id="d" src="file:///etc/passwd"/></datamodel><state id="s"/>"#,
        ),
        (
            "script src",
            r#"<script src="file:///etc/hostname"/><state id="s"/>"#,
        ),
        (
            "invoke src",
            r#"<state id="s"><invoke type="scxml" src="file:///etc/passwd"/></state>"#,
        ),
        (
            "data src, a URL",
            r#"<datamodel><data id="d" src="http://169.254.169.254/latest/meta-data/"/></datamodel><state id="s"/>"#,
        ),
    ] {
        // Refused at load time, with the element's position and the URL it names.
        let answer = s.document(kind, &scxml(body), 422);
        let problem = &answer["problems"][0];
        assert!(problem["line"].is_number(), "{kind}: {answer}");
        assert!(
            problem["message"]
                .as_str()
                .unwrap()
                .contains("is not under an allowed document prefix"),
            "{kind}: {answer}"
        );
        assert!(!answer.to_string().contains("root:"), "{kind}: {answer}");
    }
    // At run time (srcexpr), the session hears error.execution and reads nothing.
    let doc = scxml(
        r#"<datamodel><data id="where" expr="'file:///etc/passwd'"/></datamodel>
           <state id="s">
             <invoke type="scxml" srcexpr="where"/>
             <transition event="error.execution" target="refused"/>
           </state>
           <state id="refused"/>"#,
    );
    let (status, created) = s.post_json("/sessions", &json!({ "document": doc }));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let view = common::poll_until("the refused invoke", Duration::from_secs(5), || {
        let (_, view) = s.server.fetch(&format!("/sessions/{id}"));
        if view["active_states"] == json!(["refused"]) {
            Ok(view)
        } else {
            Err(view.to_string())
        }
    });
    assert!(!view.to_string().contains("root:"), "{view}");
}
