//! Durability: `scxml serve --data DIR` is killed with SIGKILL while sessions wait on delayed
//! sends (some of them hibernated), and started again on the same directory. Every session
//! is there, every delayed event is delivered, and none is delivered twice.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOC: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="waiting">
  <datamodel><data id="ticks" expr="0"/></datamodel>
  <state id="waiting">
    <onentry><send event="tick" delayexpr="_event ? '0s' : '0s'" id="first"/><send event="tick" delay="2s" id="later"/></onentry>
    <transition event="tick" cond="ticks == 0"><assign location="ticks" expr="ticks + 1"/></transition>
    <transition event="tick" target="done"><assign location="ticks" expr="ticks + 1"/></transition>
  </state>
  <state id="done"/>
</scxml>"#;

struct Server {
    child: Child,
    base: String,
}

fn start(data: &std::path::Path, config: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scxml"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting scxml serve");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    Server { child, base }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let mut r = agent().get(format!("{base}{path}")).call().unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null),
    )
}

fn create(base: &str) -> String {
    let mut r = agent()
        .post(format!("{base}/sessions"))
        .header("content-type", "application/json")
        .send(json!({"document": DOC}).to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
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
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, list) = get(&server.base, "/sessions?status=hibernated");
        if list["total"] == json!(ids.len()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sessions did not hibernate: {list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();

    let mut server = start(&data, &config);
    for id in &ids {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, view) = get(&server.base, &format!("/sessions/{id}"));
            assert_eq!(
                status, 200,
                "session {id} is gone after the restart: {view}"
            );
            if view["active_states"] == json!(["done"]) {
                assert_eq!(
                    view["datamodel"]["ticks"],
                    json!(2),
                    "each tick exactly once: {view}"
                );
                assert_eq!(view["pending_sends"], json!([]));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the delayed send never came: {view}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
