//! The server starts sessions of a document from the JavaScript context its last session left
//! (warm contexts), as its metrics show. Alone in its test binary: the context counters are
//! the process's, and no other test may move them.

mod common;

use common::TestServer;
use scxml_engine::EngineConfig;
use serde_json::json;

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

#[test]
fn sessions_of_one_document_start_from_warm_contexts() {
    // One shard: warm contexts are kept per thread.
    let server = TestServer::serve(common::loopback_options(EngineConfig {
        shards: 1,
        ..EngineConfig::default()
    }));
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, created) = server.post_value("/sessions", &json!({ "document": GREETER }));
        assert_eq!(status, 201, "{created}");
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // Each session ran the script's function, and saw its own session id.
    for id in &ids {
        let (_, view) = server.fetch(&format!("/sessions/{id}"));
        assert_eq!(view["status"], "done", "{view}");
        assert_eq!(
            view["datamodel"]["greeting"],
            json!(format!("hi you from {id}")),
            "{view}"
        );
    }
    // The first session's context is not kept (its document might never run again); the
    // second's is, and serves the third, whose context serves the fourth.
    let (_, text) = server.fetch("/metrics");
    let text = text.as_str().unwrap_or_default();
    assert_eq!(
        common::metric(text, "scxml_js_contexts_total{origin=\"warm\"}"),
        2,
        "{text}"
    );
    assert_eq!(common::metric(text, "scxml_js_contexts_refused_total"), 0);
}
