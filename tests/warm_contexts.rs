//! The server starts sessions of a document from the JavaScript context its last session left
//! (warm contexts), as its metrics show. Alone in its test binary: the context counters are
//! the process's, and no other test may move them.

mod common;

use scxml_engine::EngineConfig;
use scxml_server::{ServerConfig, StartOptions};
use serde_json::{json, Value};
use std::io::Read;

/// A document whose top-level script declares a function its session calls, and that halts
/// once it has.
const GREETER: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"
    datamodel="ecmascript" initial="greet">
  <datamodel><data id="greeting" expr="null"/></datamodel>
  <script>function greet(n) { return 'hi ' + n + ' from ' + _sessionid; }</script>
  <state id="greet">
    <onentry><assign location="greeting" expr="greet('you')"/></onentry>
    <transition target="done"/>
  </state>
  <final id="done"/>
</scxml>"#;

fn metrics(agent: &ureq::Agent, base: &str) -> String {
    let mut response = agent.get(format!("{base}/metrics")).call().unwrap();
    let mut text = String::new();
    response
        .body_mut()
        .as_reader()
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

#[test]
fn sessions_of_one_document_start_from_warm_contexts() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options = StartOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        test_protocol: None,
        public_url: None,
        // One shard: warm contexts are kept per thread.
        engine: EngineConfig {
            shards: 1,
            ..EngineConfig::default()
        },
        server: ServerConfig::default(),
        allow_documents: Vec::new(),
    };
    let running = rt.block_on(scxml_server::start(options)).unwrap();
    let base = format!("http://{}", running.api_addr);
    let agent = common::http_agent();

    let mut ids = Vec::new();
    for _ in 0..4 {
        let mut response = agent
            .post(format!("{base}/sessions"))
            .header("content-type", "application/json")
            .send(json!({ "document": GREETER }).to_string())
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // Each session ran the script's function, and saw its own session id.
    for id in &ids {
        let mut response = agent.get(format!("{base}/sessions/{id}")).call().unwrap();
        let view: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(view["status"], "done", "{view}");
        assert_eq!(
            view["datamodel"]["greeting"],
            json!(format!("hi you from {id}")),
            "{view}"
        );
    }
    // The first session's context is not kept (its document might never run again); the
    // second's is, and serves the third, whose context serves the fourth.
    let text = metrics(&agent, &base);
    assert_eq!(
        metric(&text, "scxml_js_contexts_total{origin=\"warm\"}"),
        2,
        "{text}"
    );
    assert_eq!(metric(&text, "scxml_js_contexts_refused_total"), 0);
    rt.block_on(running.stop());
}
