//! The interpreter server over real HTTP on loopback: the sessions API, the SSE trace, Basic
//! HTTP in both directions, the test-runner protocol, and the error answers for bad input.

mod common;

use common::TestServer;
use scxml_engine::EngineConfig;
use scxml_server::{ServerConfig, StartOptions};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

/// The shared [`TestServer`] (reached through `Deref`: `base`, `http`, `rt`, `running()`),
/// with a directory of documents it may load, removed at the end.
struct Harness {
    server: TestServer,
    dir: std::path::PathBuf,
}

impl std::ops::Deref for Harness {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    common::unique_dir(&format!("scxml-{what}"))
}

impl Harness {
    fn new() -> Harness {
        Harness::with(
            temp_dir("server-test"),
            EngineConfig {
                shards: 2,
                ..EngineConfig::default()
            },
        )
    }

    fn with(dir: std::path::PathBuf, engine: EngineConfig) -> Harness {
        let server = TestServer::serve(StartOptions {
            test_protocol: Some("127.0.0.1:0".parse().unwrap()),
            server: ServerConfig {
                max_body_bytes: 64 * 1024,
                ..ServerConfig::default()
            },
            allow_documents: vec![common::allow_dir(&dir)],
            ..common::loopback_options(engine)
        });
        Harness { server, dir }
    }

    fn test_protocol_base(&self) -> String {
        format!("http://{}", self.running().test_protocol_addr.unwrap())
    }

    fn post(&self, url: &str, body: &Value) -> (u16, Value) {
        self.post_raw(url, "application/json", &body.to_string())
    }

    fn post_raw(&self, url: &str, content_type: &str, body: &str) -> (u16, Value) {
        common::request(
            &self.http,
            "POST",
            url,
            None,
            Some((content_type, body.to_string())),
        )
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.fetch(path)
    }

    fn write_doc(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().to_string()
    }
}

impl Harness {
    /// Stops the server but keeps its directory.
    fn stop(mut self) -> std::path::PathBuf {
        self.server.shutdown();
        std::mem::take(&mut self.dir)
    }

    fn wait_for(&self, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        common::poll_until(what, Duration::from_secs(10), || {
            let (_, view) = self.get(&format!("/sessions/{id}"));
            if ok(&view) {
                Ok(view)
            } else {
                Err(view.to_string())
            }
        })
    }

    fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.fetch("/metrics");
        common::metric(text.as_str().unwrap_or_default(), name)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.shutdown();
        if !self.dir.as_os_str().is_empty() {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }
}

const COUNTER: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" name="counter" initial="idle">
  <datamodel><data id="count" expr="0"/></datamodel>
  <state id="idle">
    <transition event="inc" target="idle"><assign location="count" expr="count + (_event.data ? _event.data.by : 1)"/><log label="count" expr="count"/></transition>
    <transition event="later"><send event="inc" delay="3600s" id="slow"/></transition>
    <transition event="stop" target="end"/>
  </state>
  <final id="end"/>
</scxml>"#;

#[test]
fn sessions_api_round_trip() {
    let h = Harness::new();
    let (status, created) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": COUNTER, "data": {"count": 10}}),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["active_states"], json!(["idle"]));
    assert_eq!(created["datamodel"]["count"], json!(10));

    let (status, view) = h.post(
        &format!("{}/sessions/{id}/events", h.base),
        &json!({"name": "inc", "data": {"by": 5}, "wait": true}),
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["datamodel"]["count"], json!(15));

    let (status, _) = h.post(
        &format!("{}/sessions/{id}/events", h.base),
        &json!({"name": "later"}),
    );
    assert_eq!(status, 202);
    let (_, view) = h.get(&format!("/sessions/{id}"));
    assert_eq!(view["pending_sends"][0]["sendid"], json!("slow"));
    assert!(view["pending_sends"][0]["due_in_ms"].as_u64().unwrap() > 3_500_000);

    let (status, list) = h.get("/sessions?status=running&name=counter");
    assert_eq!(status, 200);
    assert!(list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == json!(id)));

    let (status, view) = h.post(
        &format!("{}/sessions/{id}/events", h.base),
        &json!({"name": "stop", "wait": true}),
    );
    assert_eq!(status, 200);
    assert_eq!(view["status"], json!("done"));
    assert_eq!(view["final_state"], json!("end"));

    let (status, _) = h.request("DELETE", &format!("/sessions/{id}"), None, None);
    assert_eq!(status, 204);
    let (status, body) = h.get(&format!("/sessions/{id}"));
    assert_eq!(status, 404);
    assert_eq!(body["error"], json!("unknown_session"));
}

#[test]
fn documents_load_by_url_within_the_allow_list() {
    let h = Harness::new();
    let path = h.write_doc("counter.scxml", COUNTER);
    let (status, created) = h.post(&format!("{}/sessions", h.base), &json!({"url": path}));
    assert_eq!(status, 201, "{created}");
    assert!(created["document"]
        .as_str()
        .unwrap()
        .ends_with("counter.scxml"));
    let (status, body) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"url": "/etc/passwd"}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], json!("url_not_allowed"));
}

#[test]
fn bad_input_gets_json_errors() {
    let h = Harness::new();
    let (status, body) = h.post_raw(
        &format!("{}/sessions", h.base),
        "application/json",
        "{not json",
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"], json!("bad_request"));

    let (status, body) = h.post(
        &format!("{}/sessions/nope/events", h.base),
        &json!({"name": "x"}),
    );
    assert_eq!(status, 404, "{body}");

    let invalid = "<scxml xmlns=\"http://www.w3.org/2005/07/scxml\" version=\"1.0\">\n<state id=\"a\">\n<transition target=\"zz\"/></state></scxml>";
    let (status, body) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": invalid}),
    );
    assert_eq!(status, 422);
    assert_eq!(body["problems"][0]["line"], json!(3));
    assert!(body["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("zz"));

    let big = "x".repeat(100 * 1024);
    let (status, body) = h.post(&format!("{}/sessions", h.base), &json!({"document": big}));
    assert_eq!(status, 413, "{body}");

    let (status, body) = h.get("/nowhere");
    assert_eq!(status, 404);
    assert_eq!(body["error"], json!("not_found"));
}

#[test]
fn trace_streams_macrosteps_as_server_sent_events() {
    let h = Harness::new();
    let (_, created) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": COUNTER}),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let mut stream = std::net::TcpStream::connect(h.running().api_addr).unwrap();
    write!(
        stream,
        "GET /sessions/{id}/trace HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        common::ADMIN_TOKEN
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // wait for the stream to open before sending
    while !line.starts_with(": trace") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    h.post(
        &format!("{}/sessions/{id}/events", h.base),
        &json!({"name": "inc"}),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut data = String::new();
    while Instant::now() < deadline {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(d) = line.strip_prefix("data: ") {
            data = d.to_string();
            break;
        }
    }
    let record: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(record["event"], json!("inc"));
    assert_eq!(record["logs"], json!(["count: 1"]));
}

#[test]
fn basichttp_in_both_directions() {
    let h = Harness::new();
    // A session that posts to its own Basic HTTP location, then expects the event back.
    let doc = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="s0">
      <state id="s0">
        <onentry>
          <send event="ping" targetexpr="_ioprocessors['basichttp'].location" type="basichttp"><param name="n" expr="7"/></send>
          <send event="after"/>
        </onentry>
        <transition event="ping" cond="_event.data.n == 7 &amp;&amp; _event.raw.indexOf('POST') === 0" target="s1"/>
        <transition event="*" target="fail"/>
      </state>
      <state id="s1"><transition event="after" target="pass"/><transition event="*" target="fail"/></state>
      <final id="pass"/><final id="fail"/>
    </scxml>"#;
    let (_, created) = h.post(&format!("{}/sessions", h.base), &json!({"document": doc}));
    let id = created["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, view) = h.get(&format!("/sessions/{id}"));
        if view["status"] == json!("done") {
            assert_eq!(view["final_state"], json!("pass"), "{view}");
            break;
        }
        assert!(Instant::now() < deadline, "session did not finish: {view}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // An outside POST to a session's location becomes an event.
    let (_, created) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": COUNTER}),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let (status, _) = h.post_raw(
        &format!("{}/basichttp/{id}", h.base),
        "application/x-www-form-urlencoded",
        "_scxmleventname=inc&by=2",
    );
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.get(&format!("/sessions/{id}")).1["datamodel"]["count"] != json!("02") {
        // `by` arrives as the string "2", so count + "2" concatenates: 0 + "2" = "02"
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A delayed Basic HTTP send is a timer: later sends do not wait behind it, `<cancel>` stops
/// it, and it is listed (and stored) with the session's pending sends.
#[test]
fn delayed_basichttp_sends_wait_apart_and_can_be_cancelled() {
    let h = Harness::new();
    let doc = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="s0">
      <state id="s0">
        <onentry>
          <send id="late" event="late" delay="300ms" targetexpr="_ioprocessors['basichttp'].location" type="basichttp"/>
          <send id="never" event="never" delay="400ms" targetexpr="_ioprocessors['basichttp'].location" type="basichttp"/>
          <send event="now" targetexpr="_ioprocessors['basichttp'].location" type="basichttp"/>
          <cancel sendid="never"/>
        </onentry>
        <transition event="now" target="s1"/>
        <transition event="*" target="fail"/>
      </state>
      <state id="s1">
        <transition event="late" target="s2"/>
        <transition event="*" target="fail"/>
      </state>
      <state id="s2">
        <onentry><send event="quiet" delay="300ms"/></onentry>
        <transition event="quiet" target="pass"/>
        <transition event="*" target="fail"/>
      </state>
      <final id="pass"/><final id="fail"/>
    </scxml>"#;
    let (_, created) = h.post(&format!("{}/sessions", h.base), &json!({"document": doc}));
    let id = created["id"].as_str().unwrap().to_string();
    // "now" arrived before the delayed send is due, which still waits. ("never" arriving
    // in s2 would end in fail.)
    let view = h.wait_for(&id, "the immediate send", |v| {
        v["active_states"] == json!(["s1"])
    });
    let pending: Vec<&str> = view["pending_sends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sendid"].as_str().unwrap())
        .collect();
    assert!(pending.contains(&"late"), "{view}");
    let view = h.wait_for(&id, "the end", |v| v["status"] == json!("done"));
    assert_eq!(view["final_state"], json!("pass"), "{view}");
}

#[test]
fn test_runner_protocol() {
    let h = Harness::new();
    let path = h.write_doc("tp.scxml", r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="a">
      <state id="a"><transition event="go" target="b"/></state>
      <parallel id="b"><state id="b1"/><state id="b2"><transition event="end" target="f"/></state></parallel>
      <final id="f"/></scxml>"#);
    let url = h.test_protocol_base();
    let (status, body) = h.post(
        &url,
        &json!({"load": url::Url::from_file_path(&path).unwrap().to_string()}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["nextConfiguration"], json!(["a"]));
    let token = body["sessionToken"].clone();
    let (_, body) = h.post(
        &url,
        &json!({"event": {"name": "go"}, "sessionToken": token}),
    );
    assert_eq!(body["nextConfiguration"], json!(["b1", "b2"]));
    let (_, body) = h.post(
        &url,
        &json!({"event": {"name": "end"}, "sessionToken": token}),
    );
    assert_eq!(body["nextConfiguration"], json!(["f"]));
    // still answers after the end
    let (status, body) = h.post(
        &url,
        &json!({"event": {"name": "again"}, "sessionToken": token}),
    );
    assert_eq!(status, 200);
    assert_eq!(body["nextConfiguration"], json!(["f"]));
    let (status, body) = h.post_raw(&url, "application/json", "[]");
    assert_eq!(status, 400, "{body}");
    let (status, _) = h.post(&url, &json!({"load": url::Url::from_file_path(h.dir.join("missing.scxml")).unwrap().to_string()}));
    assert_eq!(status, 500);
}

#[test]
fn the_test_runner_protocol_answers_after_the_macrostep_not_after_what_it_sent_itself() {
    // At start, and on `e`, the document sends itself an external event: a runner that checks
    // the configuration after each step sees the step's own configuration, and the event sent
    // is processed afterwards.
    let h = Harness::new();
    let path = h.write_doc("sent.scxml", r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null" initial="a">
      <state id="a"><onentry><send event="go"/></onentry><transition event="go" target="b"/></state>
      <state id="b"><transition event="e" target="c"><send event="later"/></transition></state>
      <state id="c"><transition event="later" target="d"/></state>
      <state id="d"/></scxml>"#);
    let url = h.test_protocol_base();
    let (status, body) = h.post(
        &url,
        &json!({"load": url::Url::from_file_path(&path).unwrap().to_string()}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["nextConfiguration"],
        json!(["a"]),
        "after the first macrostep"
    );
    let token = body["sessionToken"].clone();
    let (_, body) = h.post(
        &url,
        &json!({"event": {"name": "e"}, "sessionToken": token}),
    );
    assert_eq!(
        body["nextConfiguration"],
        json!(["c"]),
        "after e's macrostep: {body}"
    );
    let (_, body) = h.post(
        &url,
        &json!({"event": {"name": "noop"}, "sessionToken": token}),
    );
    assert_eq!(
        body["nextConfiguration"],
        json!(["d"]),
        "later was processed since: {body}"
    );
}

#[test]
fn metrics_and_health() {
    let h = Harness::new();
    let (status, body) = h.get("/healthz");
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": COUNTER}),
    );
    let (_, text) = h.fetch("/metrics");
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(text.contains("scxml_sessions_live 1"), "{text}");
    assert!(text.contains("scxml_macrostep_seconds_count 1"), "{text}");
    assert!(
        text.contains("scxml_macrostep_seconds_bucket{le=\"+Inf\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("scxml_http_requests_total{route=\"create_session\",status=\"201\"} 1"),
        "{text}"
    );
}

const WAITING: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="waiting">
  <datamodel><data id="n" expr="1"/><data id="tags" expr="['a', 'b']"/></datamodel>
  <script>function double(x) { return 2 * x; }</script>
  <state id="waiting">
    <onentry><send event="wake" delayexpr="'1500ms'" id="alarm"/></onentry>
    <transition event="bump"><assign location="n" expr="double(n)"/></transition>
    <transition event="wake" target="awake"/>
  </state>
  <state id="awake"><transition event="bump"><assign location="n" expr="double(n)"/></transition></state>
</scxml>"#;

#[test]
fn idle_sessions_hibernate_and_come_back_on_their_next_event() {
    let engine = EngineConfig {
        shards: 1,
        hibernation: scxml_engine::HibernationPolicy {
            idle_after: Some(Duration::ZERO),
            max_live_per_shard: 1000,
            ..Default::default()
        },
        ..EngineConfig::default()
    };
    let h = Harness::with(temp_dir("hibernate"), engine);
    let (_, created) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": WAITING}),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.metric("scxml_sessions_hibernated") != 1 {
        assert!(Instant::now() < deadline, "the session never hibernated");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The event restores it: the datamodel, and the function its script defined.
    let (status, view) = h.post(
        &format!("{}/sessions/{id}/events", h.base),
        &json!({"name": "bump", "wait": true}),
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["datamodel"]["n"], json!(2));
    assert_eq!(view["datamodel"]["tags"], json!(["a", "b"]));
    // Its delayed send still fires, hibernated or not.
    let view = h.wait_for(&id, "the delayed send", |v| {
        v["active_states"] == json!(["awake"])
    });
    assert_eq!(view["pending_sends"], json!([]));
}

#[test]
fn sessions_survive_a_restart_with_their_delayed_sends() {
    let dir = temp_dir("restart");
    let data = dir.join("data");
    let engine = |d: &std::path::Path| EngineConfig {
        shards: 2,
        store: std::sync::Arc::new(scxml_engine::store::RedbStore::open(d).unwrap()),
        ..EngineConfig::default()
    };
    let h = Harness::with(dir.clone(), engine(&data));
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, created) = h.post(
            &format!("{}/sessions", h.base),
            &json!({"document": WAITING}),
        );
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        h.post(
            &format!("{}/sessions/{id}/events", h.base),
            &json!({"name": "bump", "wait": true}),
        );
        ids.push(id);
    }
    let dir = h.stop();
    let h = Harness::with(dir, engine(&data));
    for id in &ids {
        let view = h.wait_for(id, "the delayed send after the restart", |v| {
            v["active_states"] == json!(["awake"])
        });
        assert_eq!(view["datamodel"]["n"], json!(2), "{view}");
        let (_, view) = h.post(
            &format!("{}/sessions/{id}/events", h.base),
            &json!({"name": "bump", "wait": true}),
        );
        assert_eq!(
            view["datamodel"]["n"],
            json!(4),
            "the script's function came back too: {view}"
        );
        assert_eq!(
            view["events_processed"],
            json!(3),
            "bump, wake (once), bump: {view}"
        );
    }
}

/// With no idle limit, a parked session (no invocation, no delayed send due soon) still
/// hibernates after `parked_after`; one running an invocation stays live.
#[test]
fn parked_sessions_hibernate_and_invoking_ones_stay_live() {
    let engine = EngineConfig {
        shards: 1,
        hibernation: scxml_engine::HibernationPolicy {
            idle_after: None,
            parked_after: Some(Duration::from_millis(200)),
            ..Default::default()
        },
        ..EngineConfig::default()
    };
    let h = Harness::with(temp_dir("parked"), engine);
    let waiting = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
      <state id="wait">
        <onentry><send event="much_later" delay="60s"/></onentry>
        <transition event="go" target="done"/>
      </state>
      <final id="done"/>
    </scxml>"#;
    let invoking = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
      <state id="wait">
        <invoke type="scxml"><content><scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"><state id="child"/></scxml></content></invoke>
        <transition event="go" target="done"/>
      </state>
      <final id="done"/>
    </scxml>"#;
    let create = |doc: &str| {
        let (status, created) = h.post(&format!("{}/sessions", h.base), &json!({"document": doc}));
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    };
    let parked = create(waiting);
    let busy = create(invoking);
    // The list does not wake sessions (inspecting one does).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, list) = h.get("/sessions?status=hibernated");
        if list.to_string().contains(&parked) {
            assert!(!list.to_string().contains(&busy), "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "never hibernated: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(600));
    let (_, list) = h.get("/sessions?status=running");
    assert!(list.to_string().contains(&busy), "{list}");
}

#[test]
fn a_session_that_cannot_be_persisted_stays_live_and_says_why() {
    let engine = EngineConfig {
        shards: 1,
        hibernation: scxml_engine::HibernationPolicy {
            idle_after: Some(Duration::ZERO),
            max_live_per_shard: 1000,
            ..Default::default()
        },
        ..EngineConfig::default()
    };
    let h = Harness::with(temp_dir("unpersistable"), engine);
    let doc = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
      <datamodel><data id="biggest" expr="Math.max"/></datamodel>
      <state id="s"><transition event="e" target="s"/></state></scxml>"#;
    let (_, created) = h.post(&format!("{}/sessions", h.base), &json!({"document": doc}));
    let id = created["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(1200));
    let (_, view) = h.get(&format!("/sessions/{id}"));
    assert_eq!(
        view["status"],
        json!("running"),
        "it never hibernates: {view}"
    );
    assert!(
        view["not_persisted"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{view}"
    );
    assert_eq!(h.metric("scxml_sessions_hibernated"), 0);
}

#[test]
fn past_its_memory_bound_the_server_refuses_new_sessions_with_503() {
    // A bound below what any process holds: every new session is refused, nothing else.
    let h = Harness::with(
        temp_dir("low-memory"),
        EngineConfig {
            shards: 1,
            max_memory_bytes: Some(1 << 20),
            ..EngineConfig::default()
        },
    );
    let (status, body) = h.post(
        &format!("{}/sessions", h.base),
        &json!({"document": COUNTER}),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "low_memory");
    assert!(body["message"].as_str().unwrap().contains("MB"), "{body}");
    let (status, _) = h.get("/healthz");
    assert_eq!(status, 200);
}
