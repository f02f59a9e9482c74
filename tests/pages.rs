//! The pages in a real browser, and a real CometD client: Chromium, driven by
//! `tests/pages/view.mjs` and `console.mjs` through playwright-core, and the npm `cometd`
//! client in Node.js (`tests/pages/cometd.mjs`), against servers started here. The landing page shows the node's health;
//! the sessions list asks for the token once; the live statechart view of the traffic light
//! draws every state, lights the active one, moves on when an event is sent from its form,
//! logs the event and shows a clicked state's source line; an error a session raises is logged
//! with its element, line and column.
//!
//! A customer on the tester page and an agent on the agent desktop, in two browser contexts,
//! complete the seed's chat-delay scenario (confirmation pushed over CometD, the chat both
//! ways, the end with a disposition).
//!
//! The operator console lists the callbacks with their `usr_*` columns, filters, cancels one
//! and many, exports CSV, and shows queues, agents and services.
//!
//! The standard CometD client with its default configuration (WebSocket first, which the
//! server does not offer, then long-polling with the message type appended to the URL) and
//! with WebSocket switched off completes the chat-delay callback: handshake, the push, the
//! dialog step, the chat with the agent's message arriving over CometD.
//!
//! With `SHOTS_DIR` set, the browser tests also write the screenshots the README shows
//! (`SHOTS_DIR=$PWD/docs/screenshots cargo test --test pages`).
//!
//! Needs Node.js, `npm ci` in `tests/pages/` and Chromium (`/usr/bin/chromium`, or
//! `$CHROMIUM`); `.ci/run` installs them. Without them the test says so on one line and
//! passes, except under `CI=true`, where that is a failure.

mod common;

use common::{TestServer, ADMIN_TOKEN};
use scxml_engine::EngineConfig;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the browser test cannot run here, if it cannot.
fn missing_tools(dir: &Path) -> Option<String> {
    let skip = skip_reason(dir)?;
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the page and client tests must run in CI: {skip}"
    );
    eprintln!("skipping a browser or client test: {skip}");
    Some(skip)
}

fn skip_reason(dir: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("no Chromium at {chromium}"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node".into());
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (npm ci in tests/pages)".into());
    }
    None
}

/// The scripts' directory, when the tools to run them are there (else the test is skipped).
fn scripts() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pages");
    missing_tools(&dir).is_none().then_some(dir)
}

/// The server running the callback application, without the device API's bounds (the
/// browsers' polls and the scripts' requests come from one address).
fn gms_server() -> common::GmsServer {
    let mut config = scxml_callback::GmsConfig::default_config();
    config.limits = scxml_callback::LimitsConfig::unbounded();
    common::GmsServer::launch(config, EngineConfig::default())
}

/// Runs `node script args...` in `dir`; fails the test with its output unless it succeeds,
/// and answers what it printed.
fn node(dir: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn the_landing_page_and_the_live_statechart_view_work_in_chromium() {
    let Some(dir) = scripts() else { return };
    let server = TestServer::serve(common::loopback_options(EngineConfig::default()));
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/traffic_light.scxml"),
    )
    .unwrap();
    let (status, created) = server.post_value("/sessions", &json!({"document": doc}));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    // A session whose transition fails at line 3.
    let failing = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
      <state id="idle">
        <transition event="boom"><assign location="x.y.z" expr="1"/></transition>
      </state>
    </scxml>"#;
    let (status, failing) = server.post_value("/sessions", &json!({"document": failing}));
    assert_eq!(status, 201, "{failing}");

    let failing = failing["id"].as_str().unwrap();
    let printed = node(&dir, "view.mjs", &[&server.base, ADMIN_TOKEN, id, failing]);
    assert_eq!(printed.trim(), "ok");
}

#[test]
fn the_pages_are_served_with_their_policy_and_the_chart_needs_credentials() {
    let server = TestServer::serve(common::loopback_options(EngineConfig::default()));
    let http = common::http_agent();
    let landing = http.get(&server.url("/")).call().unwrap();
    assert_eq!(landing.status(), 200);
    let policy = landing.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert_eq!(
        http.get(&server.url("/pages/nope.js"))
            .call()
            .unwrap()
            .status(),
        404
    );
    let doc = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null"><state id="s"/></scxml>"#;
    let (status, created) = server.post_value("/sessions", &json!({"document": doc}));
    assert_eq!(status, 201, "{created}");
    let chart = format!("/sessions/{}/chart", created["id"].as_str().unwrap());
    let (status, body) = common::anonymous_request(&http, "GET", &server.url(&chart), None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = server.fetch(&chart);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["states"][0]["id"], "s");
    assert!(body["source"]
        .as_str()
        .unwrap()
        .contains("<state id=\"s\"/>"));
}

#[test]
fn the_standard_cometd_client_completes_the_chat_callback_with_and_without_websocket() {
    let Some(dir) = scripts() else { return };
    let server = gms_server();
    for mode in ["defaults", "no-websocket"] {
        let printed = node(&dir, "cometd.mjs", &[&server.base, ADMIN_TOKEN, mode]);
        assert!(printed.starts_with("ok long-polling"), "{mode}: {printed}");
        if mode == "defaults" {
            assert!(
                printed.contains("websocket, ok"),
                "WebSocket is tried first: {printed}"
            );
        }
    }
}

#[test]
fn the_operator_console_lists_filters_cancels_and_exports_callbacks_in_chromium() {
    let Some(dir) = scripts() else { return };
    let server = gms_server();
    let printed = node(&dir, "console.mjs", &[&server.base, ADMIN_TOKEN]);
    assert_eq!(printed.trim(), "ok");
}

#[test]
fn a_customer_and_an_agent_complete_the_seed_scenario_on_the_pages_in_chromium() {
    let Some(dir) = scripts() else { return };
    let server = gms_server();
    let printed = node(&dir, "scenario.mjs", &[&server.base, ADMIN_TOKEN]);
    assert_eq!(printed.trim(), "ok");
}
