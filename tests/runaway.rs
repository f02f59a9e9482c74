//! Runaway documents are contained: a macrostep that never ends on its own, whether boa can
//! stop it or not, ends its session as failed with a reason while the other sessions of the
//! same worker keep answering, and the process still stops on SIGTERM.
//!
//! Each case runs in its own `scxml serve` process with one worker thread (so the bystander
//! session shares the runaway's thread) and a short macrostep deadline; the process is
//! killed at the end, taking any thread still held by a script with it.

mod common;

use common::ServeProcess;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The macrostep deadline of the servers where the watchdog is to end the runaway; where the
/// interpreter's step limits or boa's are to, the deadline is far away, so that a slow
/// (unoptimised) build cannot let the watchdog come first.
const DEADLINE_MS: u64 = 300;
const FAR_DEADLINE_MS: u64 = 60_000;

/// A session that counts `inc` events, on the same worker as the runaway.
const BYSTANDER: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
  <datamodel><data id="n" expr="0"/></datamodel>
  <state id="counting"><transition event="inc"><assign location="n" expr="n + 1"/></transition></state>
</scxml>"#;

/// What ends a runaway.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stopper {
    /// The watchdog, by time: the worker thread is abandoned.
    Watchdog,
    /// The interpreter's own step limits, deterministically.
    StepLimit,
    /// boa's limits: the script throws, `error.execution` is raised, the session lives on.
    ScriptError,
}

fn scripted(script: &str) -> String {
    format!(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
  <state id="idle">
    <transition event="go" target="running"/>
  </state>
  <state id="running">
    <onentry><script><![CDATA[{script}]]></script></onentry>
    <transition event="error.execution" target="caught"/>
  </state>
  <state id="caught"/>
</scxml>"#
    )
}

fn charted(states: &str) -> String {
    format!(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
  <state id="idle"><transition event="go" target="a"/></state>
  {states}
</scxml>"#
    )
}

fn request(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    common::request(
        &common::http_agent(),
        method,
        url,
        None,
        body.map(|b| ("application/json", b.to_string())),
    )
}

fn create(server: &ServeProcess, document: &str) -> String {
    let (status, view) = request(
        "POST",
        &server.url("/sessions"),
        Some(json!({ "document": document })),
    );
    assert_eq!(status, 201, "{view}");
    view["id"].as_str().unwrap().to_string()
}

fn send_and_wait(server: &ServeProcess, id: &str, name: &str) -> (u16, Value) {
    request(
        "POST",
        &server.url(&format!("/sessions/{id}/events")),
        Some(json!({ "name": name, "wait": true })),
    )
}

/// Runs one runaway document next to a bystander and checks how it ended.
fn contained(case: &str, document: &str, stopper: Stopper) {
    let dir = common::unique_dir(&format!("runaway-{case}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("serve.toml");
    let deadline = match stopper {
        Stopper::Watchdog => DEADLINE_MS,
        Stopper::StepLimit | Stopper::ScriptError => FAR_DEADLINE_MS,
    };
    std::fs::write(
        &config,
        format!("[engine]\nshards = 1\nmacrostep_deadline_ms = {deadline}\n"),
    )
    .unwrap();
    let data = dir.join("data");
    let mut server = ServeProcess::start(&[
        "--no-gms".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    let bystander = create(&server, BYSTANDER);
    assert_eq!(send_and_wait(&server, &bystander, "inc").0, 200);
    let runaway = create(&server, document);

    // The runaway's own request is answered, whatever stopped it.
    let started = Instant::now();
    let (status, answer) = send_and_wait(&server, &runaway, "go");
    let took = started.elapsed();
    match stopper {
        Stopper::Watchdog => {
            assert_eq!(status, 500, "{case}: {answer}");
            assert_eq!(answer["error"], "session_failed", "{case}: {answer}");
        }
        Stopper::StepLimit | Stopper::ScriptError => assert_eq!(status, 200, "{case}: {answer}"),
    }
    assert!(
        took < Duration::from_secs(50),
        "{case}: answered after {took:?}"
    );

    // The bystander, on the same worker, still answers and has lost nothing.
    let started = Instant::now();
    let (status, view) = send_and_wait(&server, &bystander, "inc");
    assert_eq!(status, 200, "{case}: {view}");
    assert_eq!(view["datamodel"]["n"], json!(2), "{case}: {view}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{case}: the bystander answered after {:?}",
        started.elapsed()
    );

    let (_, view) = request("GET", &server.url(&format!("/sessions/{runaway}")), None);
    let (health, _) = request("GET", &server.url("/healthz"), None);
    let (_, metrics) = request("GET", &server.url("/metrics"), None);
    let abandoned = common::metric(metrics.as_str().unwrap(), "scxml_workers_abandoned_total");
    match stopper {
        Stopper::Watchdog => {
            assert_eq!(view["status"], "failed", "{case}: {view}");
            let failure = view["failure"].as_str().unwrap_or_default();
            assert!(failure.contains("ran longer than 300 ms"), "{case}: {view}");
            assert_eq!(health, 503, "{case}: a held worker is reported");
            assert_eq!(abandoned, 1, "{case}");
        }
        Stopper::StepLimit => {
            assert_eq!(view["status"], "failed", "{case}: {view}");
            assert!(
                view["failure"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("a macrostep"),
                "{case}: {view}"
            );
            assert_eq!((health, abandoned), (200, 0), "{case}");
        }
        Stopper::ScriptError => {
            assert_eq!(view["status"], "running", "{case}: {view}");
            assert_eq!(view["active_states"], json!(["caught"]), "{case}: {view}");
            assert_eq!((health, abandoned), (200, 0), "{case}");
        }
    }

    // SIGTERM stops the process in bounded time, even with a worker held by a script.
    let pid = server.child.id().to_string();
    let started = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{case}: exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{case}: still running {:?} after SIGTERM",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn loops_inside_function_calls_are_ended_by_the_watchdog() {
    // Each loop stays under boa's per-loop limit; together they would run for days.
    contained(
        "nested-calls",
        &scripted(
            "function inner() { var s = 0; for (var i = 0; i < 9000000; i++) { s += i; } return s; }
             for (var j = 0; j < 9000000; j++) { inner(); }",
        ),
        Stopper::Watchdog,
    );
}

#[test]
fn a_catastrophic_regular_expression_is_ended_by_the_watchdog() {
    contained(
        "regex",
        &scripted("/^(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!');"),
        Stopper::Watchdog,
    );
}

#[test]
fn sorting_with_a_javascript_comparator_in_a_loop_is_ended_by_the_watchdog() {
    contained(
        "sort",
        &scripted(
            "var a = []; for (var i = 0; i < 100000; i++) { a.push((i * 7919) % 1000); }
             for (var k = 0; k < 1000000; k++) { a.sort(function (x, y) { return (k % 2 ? x - y : y - x); }); }",
        ),
        Stopper::Watchdog,
    );
}

#[test]
fn an_endless_while_loop_is_ended_by_the_watchdog() {
    // boa's loop limit ends it too, eventually; the deadline comes first.
    contained(
        "while-true",
        &scripted("while (true) {}"),
        Stopper::Watchdog,
    );
}

#[test]
fn deep_recursion_is_an_error_the_session_survives() {
    contained(
        "recursion",
        &scripted("function f(n) { return n == 0 ? 0 : 1 + f(n - 1); } f(1000000);"),
        Stopper::ScriptError,
    );
}

#[test]
fn an_eventless_loop_fails_its_session_at_the_microstep_limit() {
    contained(
        "eventless",
        &charted(
            r#"<state id="a"><transition target="b"/></state>
               <state id="b"><transition target="a"/></state>"#,
        ),
        Stopper::StepLimit,
    );
}

#[test]
fn a_raise_loop_fails_its_session_at_the_internal_event_limit() {
    contained(
        "raise",
        &charted(
            r#"<state id="a">
                 <onentry><raise event="again"/></onentry>
                 <transition event="again"><raise event="again"/><raise event="again"/></transition>
               </state>"#,
        ),
        Stopper::StepLimit,
    );
}
