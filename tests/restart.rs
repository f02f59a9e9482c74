//! Durability: `scxml serve --data DIR` is killed with SIGKILL while sessions wait on delayed
//! sends (some of them hibernated), and started again on the same directory. Every session
//! is there, every delayed event is delivered, and none is delivered twice.

mod common;

use common::ServeProcess;
use serde_json::{json, Value};
use std::time::Duration;

const DOC: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="waiting">
  <datamodel><data id="ticks" expr="0"/></datamodel>
  <state id="waiting">
    <onentry><send event="tick" delayexpr="_event ? '0s' : '0s'" id="first"/><send event="tick" delay="2s" id="later"/></onentry>
    <transition event="tick" cond="ticks == 0"><assign location="ticks" expr="ticks + 1"/></transition>
    <transition event="tick" target="done"><assign location="ticks" expr="ticks + 1"/></transition>
  </state>
  <state id="done"/>
</scxml>"#;

fn start(data: &std::path::Path, config: &std::path::Path) -> ServeProcess {
    ServeProcess::start(&[
        "--data".as_ref(),
        data.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
}

fn get(base: &str, path: &str) -> (u16, Value) {
    common::request(
        &common::http_agent(),
        "GET",
        &format!("{base}{path}"),
        None,
        None,
    )
}

fn create(base: &str) -> String {
    let body = json!({"document": DOC}).to_string();
    let (status, v) = common::request(
        &common::http_agent(),
        "POST",
        &format!("{base}/sessions"),
        None,
        Some(("application/json", body)),
    );
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

#[test]
fn sessions_survive_sigkill_without_losing_or_repeating_events() {
    let dir = std::env::temp_dir().join(format!("scxml-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let config = dir.join("serve.toml");
    std::fs::write(&config, "[hibernation]\nidle_after_secs = 0.2\n").unwrap();

    let mut server = start(&data, &config);
    let ids: Vec<String> = (0..6).map(|_| create(&server.base)).collect();
    // Each session has taken its first tick; its second waits two seconds. Let them hibernate.
    common::poll_until("every session hibernated", Duration::from_secs(5), || {
        let (_, list) = get(&server.base, "/sessions?status=hibernated");
        if list["total"] == json!(ids.len()) {
            Ok(())
        } else {
            Err(list.to_string())
        }
    });
    server.kill(); // SIGKILL

    let mut server = start(&data, &config);
    for id in &ids {
        let view = common::poll_until("the delayed send", Duration::from_secs(10), || {
            let (status, view) = get(&server.base, &format!("/sessions/{id}"));
            assert_eq!(
                status, 200,
                "session {id} is gone after the restart: {view}"
            );
            if view["active_states"] == json!(["done"]) {
                Ok(view)
            } else {
                Err(view.to_string())
            }
        });
        assert_eq!(
            view["datamodel"]["ticks"],
            json!(2),
            "each tick exactly once: {view}"
        );
        assert_eq!(view["pending_sends"], json!([]));
    }
    server.kill();
    std::fs::remove_dir_all(&dir).ok();
}
