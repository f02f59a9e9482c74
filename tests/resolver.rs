//! Every URL a document names goes through the server's resolver and its allow-list: the
//! document a request names, what an inline document names (`<data src>`, `<script src>`,
//! `<invoke src>`, `srcexpr` at run time), and an `<invoke src>` is read off the shard, so a
//! slow server delays nobody but the session that invoked it.

mod common;

use common::TestServer;
use scxml_engine::EngineConfig;
use scxml_server::StartOptions;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// The shared [`TestServer`] and the directory its allow-list names, removed at the end.
struct Server {
    server: TestServer,
    dir: std::path::PathBuf,
}

impl Server {
    /// A server with one shard (so every session shares it) whose allow-list is a fresh
    /// directory and `extra` prefixes.
    fn start(name: &str, extra: &[String]) -> Server {
        let dir = common::fresh_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut allow = vec![common::allow_dir(&dir)];
        allow.extend_from_slice(extra);
        let server = TestServer::serve(StartOptions {
            allow_documents: allow,
            ..common::loopback_options(EngineConfig {
                shards: 1,
                ..EngineConfig::default()
            })
        });
        Server { server, dir }
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.server.post_value(path, body)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.server.fetch(path)
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
fn an_inline_document_naming_a_local_file_is_refused_with_the_url() {
    let server = Server::start("scxml-resolver-inline", &[]);
    let secret = server.dir.join("../scxml-resolver-secret.txt");
    for (what, body) in [
        (
            "data src",
            r#"<datamodel><data id="x" src="file:///etc/passwd"/></datamodel><state id="s"/>"#,
        ),
        (
            "script src",
            r#"<script src="file:///etc/passwd"/><state id="s"/>"#,
        ),
        (
            "invoke src",
            r#"<state id="s"><invoke src="file:///etc/passwd"/></state>"#,
        ),
        (
            "http data src",
            r#"<datamodel><data id="x" src="http://127.0.0.1:9/x.json"/></datamodel><state id="s"/>"#,
        ),
    ] {
        let (status, answer) = server.post("/sessions", &json!({"document": scxml(body)}));
        assert_eq!(status, 422, "{what}: {answer}");
        let problem = &answer["problems"][0];
        let message = problem["message"].as_str().unwrap();
        assert!(
            message.contains("not under an allowed document prefix"),
            "{what}: {answer}"
        );
        assert!(problem["line"].as_u64().unwrap() >= 1, "{what}: {answer}");
        assert!(!answer.to_string().contains("root:"), "{what}: {answer}");
    }
    // A document under the allowed prefix cannot climb out of it either.
    std::fs::write(&secret, "secret").unwrap();
    let climbing = server.dir.join("climb.scxml");
    std::fs::write(
        &climbing,
        scxml(r#"<datamodel><data id="x" src="../scxml-resolver-secret.txt"/></datamodel><state id="s"/>"#),
    )
    .unwrap();
    let (status, answer) = server.post("/sessions", &json!({"url": climbing.to_string_lossy()}));
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.to_string().contains("scxml-resolver-secret.txt"),
        "{answer}"
    );
    assert!(!answer.to_string().contains("\"secret\""), "{answer}");
    let traversal = format!("{}/../scxml-resolver-secret.txt", server.dir.display());
    let (status, answer) = server.post("/sessions", &json!({"url": traversal}));
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"], "url_not_allowed");
    std::fs::remove_file(&secret).ok();
}

#[test]
fn a_srcexpr_outside_the_allow_list_raises_an_error_in_the_session_only() {
    let server = Server::start("scxml-resolver-srcexpr", &[]);
    let doc = scxml(
        r#"<datamodel><data id="where" expr="'file:///etc/passwd'"/><data id="reason"/></datamodel>
        <state id="s">
            <invoke srcexpr="where"/>
            <transition event="error.execution" target="refused">
                <assign location="reason" expr="_event.data.reason"/>
            </transition>
            <transition event="done.invoke" target="ran"/>
        </state>
        <state id="refused"/>
        <state id="ran"/>"#,
    );
    let (status, created) = server.post("/sessions", &json!({"document": doc}));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let session = common::poll_until("the invocation refused", Duration::from_secs(10), || {
        let (_, session) = server.get(&format!("/sessions/{id}"));
        if session["active_states"] == json!(["refused"]) {
            Ok(session)
        } else {
            Err(session.to_string())
        }
    });
    let reason = session["datamodel"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("file:///etc/passwd") && reason.contains("not under an allowed"),
        "{session}"
    );
    assert!(!session.to_string().contains("root:"));
}

/// An HTTP server on loopback that answers every request with `body` after `delay`.
fn slow_server(delay: Duration, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                std::thread::sleep(delay);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/scxml+xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{addr}/")
}

#[test]
fn a_slow_invoke_src_does_not_delay_the_other_sessions_of_its_shard() {
    let delay = Duration::from_secs(3);
    let child = scxml(r#"<final id="done"/>"#);
    let slow = slow_server(delay, child);
    let server = Server::start("scxml-resolver-slow", std::slice::from_ref(&slow));
    let invoker = scxml(&format!(
        r#"<state id="waiting">
            <invoke src="{slow}child.scxml"/>
            <transition event="done.invoke" target="finished"/>
            <transition event="error.*" target="failed"/>
        </state>
        <final id="finished"/>
        <state id="failed"/>"#
    ));
    let started = Instant::now();
    let (status, created) = server.post("/sessions", &json!({"document": invoker}));
    assert_eq!(status, 201, "{created}");
    assert!(
        started.elapsed() < delay,
        "creating the invoking session waited for the fetch"
    );
    let invoking = created["id"].as_str().unwrap().to_string();
    // Another session of the same (only) shard keeps answering while the fetch waits.
    let ping = scxml(
        r#"<state id="a"><transition event="go" target="b"/></state>
           <state id="b"><transition event="go" target="a"/></state>"#,
    );
    let (status, other) = server.post("/sessions", &json!({"document": ping}));
    assert_eq!(status, 201, "{other}");
    let other = other["id"].as_str().unwrap();
    for _ in 0..5 {
        let asked = Instant::now();
        let (status, answer) = server.post(
            &format!("/sessions/{other}/events"),
            &json!({"name": "go", "wait": true}),
        );
        assert_eq!(status, 200, "{answer}");
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "an event waited {:?} behind the fetch",
            asked.elapsed()
        );
    }
    assert!(
        started.elapsed() < delay,
        "the events were answered before the fetch ended"
    );
    let (_, waiting) = server.get(&format!("/sessions/{invoking}"));
    assert_eq!(waiting["active_states"], json!(["waiting"]), "{waiting}");
    // Once the document arrives the child runs, finishes, and its parent completes.
    let session = common::poll_until(
        "the invoking session done",
        delay + Duration::from_secs(10),
        || {
            let (_, session) = server.get(&format!("/sessions/{invoking}"));
            if session["status"] == "done" {
                Ok(session)
            } else {
                Err(session.to_string())
            }
        },
    );
    assert_eq!(session["final_state"], json!("finished"), "{session}");
}

/// An HTTP server answering `GET {path}` with each file's text (404 otherwise).
fn file_server(files: Vec<(&'static str, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let head = String::from_utf8_lossy(&request[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let found = files.iter().find(|(p, _)| *p == path);
            let (status, body) = match found {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", String::new()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_file_reference_in_a_document_read_over_http_resolves_beside_it() {
    // As the W3C suite writes them: `file:name`, meant beside the document.
    let doc =
        scxml(r#"<datamodel><data id="d" src="file:test552.txt"/></datamodel><state id="s"/>"#);
    let base = file_server(vec![
        ("/w3c/test552.scxml", doc),
        (
            "/w3c/test552.txt",
            "{\"from\": \"beside the document\"}".into(),
        ),
    ]);
    let server = Server::start("scxml-resolver-file-ref", &[format!("{base}/w3c/")]);
    let (status, created) = server.post(
        "/sessions",
        &json!({"url": format!("{base}/w3c/test552.scxml")}),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["datamodel"]["d"],
        json!({"from": "beside the document"}),
        "{created}"
    );
}
