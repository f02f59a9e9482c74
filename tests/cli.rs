//! The `scxml` binary end to end: the README's quick start, `validate` on good and bad
//! documents, a missing file, and `run --event` with data.

use std::path::PathBuf;
use std::process::{Command, Output};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/traffic_light.scxml");

fn scxml(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scxml"))
        .args(args)
        .output()
        .expect("the scxml binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory for one test's documents, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(test: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("scxml-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, text).expect("write document");
    path.to_string_lossy().into_owned()
}

#[test]
fn quick_start_runs_the_traffic_light_to_its_final_state() {
    let out = scxml(&[
        "run", EXAMPLE, "--event", "timer", "--event", "timer", "--event", "shutdown", "--trace",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let expected = [
        "[log] light: red: stop",
        "[trace] (start) -> [on, red]",
        "[log] light: green: go",
        "[trace] timer -> [on, green]",
        "[log] light: yellow: prepare to stop",
        "[trace] timer -> [on, yellow]",
        "[log] shutdown: after 0 full cycle(s)",
        "[log] light: off",
        "[trace] shutdown -> [off]",
        "[trace] halted in final state off",
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, expected, "{text}");
}

#[test]
fn without_shutdown_the_light_does_not_end_and_exits_1() {
    let out = scxml(&["run", EXAMPLE, "--event", "timer"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("green"), "{}", stderr(&out));
}

#[test]
fn validate_accepts_the_example() {
    let out = scxml(&["validate", EXAMPLE]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out).trim(), format!("{EXAMPLE}: ok"));
}

#[test]
fn validate_reports_every_problem_with_its_position() {
    let dir = temp_dir("invalid");
    let bad = write(
        &dir,
        "bad.scxml",
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="nowhere">
  <state id="a">
    <transition event="e" target="missing"/>
  </state>
</scxml>
"#,
    );
    let out = scxml(&["validate", EXAMPLE, &bad]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("{EXAMPLE}: ok")), "{text}");
    let problems: Vec<&str> = text.lines().filter(|l| l.contains("bad.scxml:")).collect();
    assert!(
        problems.len() >= 2,
        "both bad targets are reported:\n{text}"
    );
    for line in &problems {
        let rest = &line[line.find("bad.scxml:").unwrap() + "bad.scxml:".len()..];
        let mut parts = rest.splitn(3, ':');
        let line_no = parts.next().unwrap_or_default();
        let column = parts.next().unwrap_or_default();
        assert!(
            line_no.parse::<u32>().is_ok() && column.parse::<u32>().is_ok(),
            "`{line}` is file:line:column: message"
        );
        assert!(parts.next().is_some_and(|m| !m.trim().is_empty()), "{line}");
    }
    assert!(
        problems.iter().any(|l| l.contains("bad.scxml:3:")),
        "the transition's bad target is on line 3:\n{text}"
    );
}

#[test]
fn a_missing_document_is_a_clear_error() {
    let out = scxml(&["run", "/no/such/dir/flow.scxml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("/no/such/dir/flow.scxml"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = scxml(&["validate", "/no/such/dir/flow.scxml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn run_delivers_events_with_json_or_string_data() {
    let dir = temp_dir("events");
    let doc = write(
        &dir,
        "order.scxml",
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="waiting">
  <state id="waiting">
    <transition event="order.placed" cond="_event.data.id === 7" target="placed">
      <log label="order" expr="_event.data.id"/>
    </transition>
  </state>
  <state id="placed">
    <transition event="note" cond="typeof _event.data === 'string'" target="done">
      <log label="note" expr="_event.data"/>
    </transition>
  </state>
  <final id="done"/>
</scxml>
"#,
    );
    let out = scxml(&[
        "run",
        &doc,
        "--event",
        r#"order.placed={"id":7}"#,
        "--event",
        "note=call me back",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert_eq!(text, "[log] order: 7\n[log] note: call me back\n");
}

#[test]
fn delayed_sends_run_on_virtual_time() {
    let dir = temp_dir("virtual");
    let doc = write(
        &dir,
        "slow.scxml",
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null" initial="wait">
  <state id="wait">
    <onentry><send event="later" delay="3600s"/></onentry>
    <transition event="later" target="done"/>
  </state>
  <final id="done"/>
</scxml>
"#,
    );
    let out = scxml(&["run", &doc, "--virtual-time"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_eventless_loop_ends_with_a_clear_failure_instead_of_running_forever() {
    let dir = temp_dir("loop");
    let doc = write(
        &dir,
        "loop.scxml",
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null" initial="a">
  <state id="a"><transition target="b"/></state>
  <state id="b"><transition target="a"/></state>
</scxml>
"#,
    );
    let out = scxml(&["run", &doc]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the session failed: a macrostep ran more than 100000 microsteps"),
        "{err}"
    );
}

#[test]
fn a_document_nested_without_bound_is_refused_with_its_position() {
    let dir = temp_dir("deep");
    let depth = 20_000;
    let text = format!(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null">{}<final id="f"/>{}</scxml>"#,
        "<state>".repeat(depth),
        "</state>".repeat(depth)
    );
    let doc = write(&dir, "deep.scxml", &text);
    let out = scxml(&["validate", &doc]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("deep.scxml:1:") && stdout(&out).contains("nest deeper than 256"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = scxml(&["run", EXAMPLE, "--event", "=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("event name"), "{}", stderr(&out));

    let out = scxml(&["bench", EXAMPLE]);
    assert_eq!(out.status.code(), Some(2), "bench needs what to measure");
}

#[test]
fn export_writes_the_chart_as_json_dot_and_mermaid() {
    let json = scxml(&["export", "examples/traffic_light.scxml", "--format", "json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let chart: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let ids: Vec<&str> = chart["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty(), "{chart}");
    assert!(
        chart["transitions"][0]["line"].as_u64().unwrap() > 1,
        "{chart}"
    );
    assert!(chart["initial"].as_array().is_some_and(|i| !i.is_empty()));

    let dot = scxml(&["export", "examples/traffic_light.scxml", "--format", "dot"]);
    assert!(dot.status.success(), "{}", stderr(&dot));
    let dot = stdout(&dot);
    assert!(dot.starts_with("digraph "), "{dot}");
    for id in &ids {
        assert!(dot.contains(&format!("\"{id}\"")), "{id} missing: {dot}");
    }

    let dir = temp_dir("export");
    let file = dir.0.join("chart.mmd");
    let out = scxml(&[
        "export",
        "scxml/callback/chat.scxml",
        "--format",
        "mermaid",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mermaid = std::fs::read_to_string(&file).unwrap();
    assert!(mermaid.starts_with("stateDiagram-v2\n"), "{mermaid}");
    assert!(mermaid.contains("state \"processing\" as"), "{mermaid}");

    // A bad document is reported with its position, as validate does; a bad format is usage.
    let bad = write(
        &dir,
        "bad.scxml",
        "<scxml xmlns=\"http://www.w3.org/2005/07/scxml\" version=\"1.0\" initial=\"nope\"/>",
    );
    let out = scxml(&["export", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.scxml:1:"), "{}", stderr(&out));
    assert_eq!(
        scxml(&["export", &bad, "--format", "png"]).status.code(),
        Some(2)
    );
}
