//! Unit tests of the algorithm on small null-datamodel charts (no JavaScript involved), driven
//! through a recording host.

use super::*;
use crate::model::Document;

/// Records what the interpreter asks of its host.
#[derive(Default)]
struct Recorder {
    sends: Vec<SendRequest>,
    logs: Vec<String>,
    done: Option<Option<Value>>,
    invokes: Vec<InvokeRequest>,
    cancelled_invokes: Vec<String>,
}

impl Host for Recorder {
    fn send(&mut self, request: SendRequest) -> Result<(), SendError> {
        self.sends.push(request);
        Ok(())
    }
    fn cancel(&mut self, _sendid: &str) {}
    fn invoke(&mut self, request: InvokeRequest) -> Result<(), InvokeError> {
        self.invokes.push(request);
        Ok(())
    }
    fn cancel_invoke(&mut self, invokeid: &str) {
        self.cancelled_invokes.push(invokeid.to_string());
    }
    fn forward(&mut self, _invokeid: &str, _event: &Event) {}
    fn log(&mut self, label: Option<&str>, message: &str) {
        self.logs
            .push(format!("{}{message}", label.unwrap_or_default()));
    }
    fn done(&mut self, donedata: Option<Value>) {
        self.done = Some(donedata);
    }
}

fn doc(body: &str) -> Arc<Document> {
    let text = format!(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null" {body}</scxml>"#
    );
    Arc::new(crate::parse::parse_str(&text, "test.scxml", None).expect("valid test document"))
}

fn started(body: &str) -> (Interpreter, Recorder) {
    let mut i = Interpreter::new(doc(body), SessionOptions::default());
    let mut host = Recorder::default();
    i.start(&mut host);
    (i, host)
}

fn send(i: &mut Interpreter, host: &mut Recorder, name: &str) {
    i.process_event(Event::external(name), host);
}

#[test]
fn enters_initial_configuration_in_document_order() {
    let (i, _) = started(
        r#"initial="p">
        <parallel id="p">
          <state id="a" initial="a2"><state id="a1"/><state id="a2"/></state>
          <state id="b"><state id="b1"/></state>
        </parallel>"#,
    );
    assert_eq!(i.active_ids(), vec!["p", "a", "a2", "b", "b1"]);
    assert_eq!(i.active_atomic_ids(), vec!["a2", "b1"]);
}

#[test]
fn descendant_transition_preempts_ancestor_and_document_order_breaks_ties() {
    // In a parallel state both regions have a transition on `go` leaving the parallel state:
    // their exit sets intersect, so only the first in document order is taken.
    let (mut i, mut h) = started(
        r#"initial="p">
        <parallel id="p">
          <state id="a"><transition event="go" target="x"/></state>
          <state id="b"><transition event="go" target="y"/></state>
        </parallel>
        <state id="x"/><state id="y"/>"#,
    );
    send(&mut i, &mut h, "go");
    assert_eq!(i.active_ids(), vec!["x"]);

    // A child's transition beats its ancestor's for the same event.
    let (mut i, mut h) = started(
        r#"initial="s">
        <state id="s"><transition event="go" target="x"/>
          <state id="c"><transition event="go" target="y"/></state>
        </state>
        <state id="x"/><state id="y"/>"#,
    );
    send(&mut i, &mut h, "go");
    assert_eq!(i.active_ids(), vec!["y"]);
}

#[test]
fn non_conflicting_transitions_in_parallel_regions_all_fire() {
    let (mut i, mut h) = started(
        r#"initial="p">
        <parallel id="p">
          <state id="a"><state id="a1"><transition event="go" target="a2"/></state><state id="a2"/></state>
          <state id="b"><state id="b1"><transition event="go" target="b2"/></state><state id="b2"/></state>
        </parallel>"#,
    );
    send(&mut i, &mut h, "go");
    assert_eq!(i.active_atomic_ids(), vec!["a2", "b2"]);
}

#[test]
fn shallow_and_deep_history_restore() {
    let body = r#"initial="s">
        <state id="s" initial="s1">
          <history id="hs" type="shallow"><transition target="s1"/></history>
          <history id="hd" type="deep"><transition target="s1"/></history>
          <state id="s1" initial="s11"><state id="s11"><transition event="next" target="s12"/></state><state id="s12"/></state>
          <state id="s2"/>
          <transition event="out" target="o"/>
        </state>
        <state id="o"><transition event="shallow" target="hs"/><transition event="deep" target="hd"/></state>"#;
    let (mut i, mut h) = started(body);
    send(&mut i, &mut h, "next");
    send(&mut i, &mut h, "out");
    assert_eq!(i.active_ids(), vec!["o"]);
    send(&mut i, &mut h, "deep");
    assert_eq!(i.active_atomic_ids(), vec!["s12"]);
    send(&mut i, &mut h, "out");
    send(&mut i, &mut h, "shallow");
    // Shallow history remembers s1 only; s1 is entered through its default initial state.
    assert_eq!(i.active_atomic_ids(), vec!["s11"]);
}

#[test]
fn history_default_transition_is_used_before_any_record() {
    let (mut i, mut h) = started(
        r#"initial="o">
        <state id="o"><transition event="go" target="h"/></state>
        <state id="s"><history id="h"><transition target="s2"/></history><state id="s1"/><state id="s2"/></state>"#,
    );
    send(&mut i, &mut h, "go");
    assert_eq!(i.active_atomic_ids(), vec!["s2"]);
}

#[test]
fn done_state_events_for_compound_and_parallel_states() {
    let (i, h) = started(
        r#"initial="p">
        <parallel id="p">
          <state id="a"><final id="af"/></state>
          <state id="b"><final id="bf"/></state>
          <transition event="done.state.p" target="end"/>
        </parallel>
        <final id="end"/>"#,
    );
    assert!(!i.is_running());
    assert_eq!(i.final_state(), Some("end"));
    assert_eq!(h.done, Some(None));
}

#[test]
fn internal_events_are_processed_before_external_ones() {
    let (mut i, mut h) = started(
        r#"initial="a">
        <state id="a">
          <onentry><raise event="internal"/></onentry>
          <transition event="internal" target="b"/>
          <transition event="external" target="fail"/>
        </state>
        <state id="b"><transition event="external" target="pass"/></state>
        <final id="pass"/><final id="fail"/>"#,
    );
    assert_eq!(i.active_ids(), vec!["b"]);
    send(&mut i, &mut h, "external");
    assert_eq!(i.final_state(), Some("pass"));
}

#[test]
fn eventless_transitions_use_in_with_the_null_datamodel() {
    let (i, _) = started(
        r#"initial="p">
        <parallel id="p">
          <state id="a"><transition cond="In('b')" target="x"/></state>
          <state id="b"/>
        </parallel>
        <state id="x"/>"#,
    );
    assert_eq!(i.active_ids(), vec!["x"]);
}

#[test]
fn bad_condition_is_false_and_raises_error_execution() {
    let (i, _) = started(
        r#"initial="a">
        <state id="a">
          <transition cond="not a null-datamodel condition" target="fail"/>
          <transition event="error.execution" target="pass"/>
        </state>
        <final id="pass"/><final id="fail"/>"#,
    );
    assert_eq!(i.final_state(), Some("pass"));
}

#[test]
fn targetless_and_internal_transitions_do_not_exit_their_source() {
    let (mut i, mut h) = started(
        r#"initial="s">
        <state id="s" initial="s1">
          <onexit><log expr="x"/></onexit>
          <transition event="stay"/>
          <transition event="inner" type="internal" target="s2"/>
          <state id="s1"/><state id="s2"/>
        </state>"#,
    );
    send(&mut i, &mut h, "stay");
    send(&mut i, &mut h, "inner");
    assert_eq!(i.active_ids(), vec!["s", "s2"]);
    assert!(h.logs.is_empty(), "s was never exited");
}

#[test]
fn send_hands_external_targets_to_the_host() {
    let (i, h) = started(
        r##"initial="a">
        <state id="a"><onentry><send event="ping" target="#_parent" delay="1.5s"/></onentry></state>"##,
    );
    assert!(i.is_running());
    assert_eq!(h.sends.len(), 1);
    assert_eq!(h.sends[0].event.name, "ping");
    assert_eq!(h.sends[0].target.as_deref(), Some("#_parent"));
    assert_eq!(h.sends[0].delay, std::time::Duration::from_millis(1500));
    assert_eq!(h.sends[0].kind, SCXML_EVENT_PROCESSOR);
}

#[test]
fn invocations_start_after_the_macrostep_and_are_cancelled_on_exit() {
    let (mut i, mut h) = started(
        r#"initial="a">
        <state id="a">
          <invoke id="child" type="x-custom" src="child.scxml"/>
          <transition event="leave" target="b"/>
        </state>
        <state id="b"/>"#,
    );
    assert_eq!(h.invokes.len(), 1);
    assert_eq!(h.invokes[0].invokeid, "child");
    send(&mut i, &mut h, "leave");
    assert_eq!(h.cancelled_invokes, vec!["child"]);
}

#[test]
fn microstep_budget_interrupts_an_endless_eventless_loop() {
    let d = doc(r#"initial="a">
        <state id="a"><transition target="b"/></state>
        <state id="b"><transition target="a"/></state>"#);
    let mut i = Interpreter::new(d.clone(), SessionOptions::default());
    i.watch_entries(d.state_by_id("a").unwrap());
    i.set_microstep_budget(Some(10));
    i.start(&mut NullHost);
    assert!(i.is_running());
    assert_eq!(i.stats().microsteps, 10);
    i.set_microstep_budget(Some(10));
    i.resume(&mut NullHost);
    assert_eq!(i.stats().microsteps, 20);
    assert_eq!(i.stats().watched_entries, 11);
}

#[test]
fn snapshot_round_trip_keeps_configuration_and_history() {
    let body = r#"initial="s">
        <state id="s" initial="s1">
          <history id="h" type="deep"><transition target="s1"/></history>
          <state id="s1"><transition event="next" target="s2"/></state><state id="s2"/>
          <transition event="out" target="o"/>
        </state>
        <state id="o"><transition event="back" target="h"/></state>"#;
    let (mut i, mut h) = started(body);
    send(&mut i, &mut h, "next");
    send(&mut i, &mut h, "out");
    let snap = i.snapshot().expect("at rest");
    let json = serde_json::to_string(&snap).expect("serializable");
    let snap: SessionSnapshot = serde_json::from_str(&json).expect("deserializable");
    let mut restored = Interpreter::restore(i.document().clone(), &snap).expect("restorable");
    assert_eq!(restored.session_id(), i.session_id());
    assert_eq!(restored.active_ids(), vec!["o"]);
    send(&mut restored, &mut h, "back");
    assert_eq!(restored.active_atomic_ids(), vec!["s2"]);
}

#[test]
fn restore_rejects_unknown_states() {
    let (mut i, _) = started(r#"initial="a"><state id="a"/>"#);
    let mut snap = i.snapshot().expect("at rest");
    snap.configuration = vec!["nope".into()];
    assert_eq!(
        Interpreter::restore(i.document().clone(), &snap).err(),
        Some(SnapshotError::UnknownState("nope".into()))
    );
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn snapshot_round_trip_keeps_the_ecmascript_datamodel_and_late_bound_data() {
    let text = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" binding="late" initial="a">
        <datamodel><data id="n" expr="1"/></datamodel>
        <script>function twice(x) { return 2 * x; }</script>
        <state id="a"><datamodel><data id="m" expr="10"/></datamodel>
          <transition event="go"><assign location="n" expr="twice(n) + m"/></transition>
        </state></scxml>"#;
    let doc = Arc::new(crate::parse::parse_str(text, "t.scxml", None).expect("valid"));
    let mut i = Interpreter::new(doc.clone(), SessionOptions::default());
    let mut h = Recorder::default();
    i.start(&mut h);
    send(&mut i, &mut h, "go");
    let snap = i.snapshot().expect("at rest");
    let mut restored =
        Interpreter::restore(doc, &snap).expect("the root's data and the script come back");
    send(&mut restored, &mut h, "go");
    let exported = restored.datamodel_mut().export().expect("exportable");
    assert_eq!(exported["n"], serde_json::json!(2 * 12 + 10));
}

#[test]
fn session_ids_are_random_hex() {
    let ids: std::collections::HashSet<String> = (0..1000).map(|_| generate_session_id()).collect();
    assert_eq!(ids.len(), 1000);
    assert!(ids.iter().all(|id| id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
}

#[test]
fn an_eventless_loop_ends_the_session_as_failed_at_its_microstep_limit() {
    let d = doc(r#"initial="a">
        <state id="a"><transition target="b"/></state>
        <state id="b"><transition target="a"/></state>"#);
    let options = SessionOptions {
        limits: Limits {
            microsteps_per_macrostep: Some(1_000),
            ..Limits::DEFAULT
        },
        ..SessionOptions::default()
    };
    let mut i = Interpreter::new(d, options);
    i.start(&mut NullHost);
    assert!(!i.is_running());
    assert_eq!(
        i.failure(),
        Some(&Failure::TooManyMicrosteps { limit: 1_000 })
    );
    assert_eq!(i.stats().microsteps, 1_001);
    assert_eq!(i.final_state(), None);
    let snapshot = i.snapshot().unwrap();
    let restored = Interpreter::restore(i.document().clone(), &snapshot).unwrap();
    assert!(!restored.is_running(), "a failed session is never resumed");
    assert_eq!(restored.failure(), i.failure());
}

#[test]
fn a_raise_loop_ends_the_session_as_failed_at_its_internal_event_limit() {
    // Each `go` raises two more: the queue would double at every microstep.
    let d = doc(r#"initial="a">
        <state id="a">
            <onentry><raise event="go"/></onentry>
            <transition event="go"><raise event="go"/><raise event="go"/></transition>
        </state>"#);
    let options = SessionOptions {
        limits: Limits {
            internal_events_per_macrostep: Some(500),
            ..Limits::DEFAULT
        },
        ..SessionOptions::default()
    };
    let mut i = Interpreter::new(d, options);
    i.start(&mut NullHost);
    assert_eq!(
        i.failure(),
        Some(&Failure::TooManyInternalEvents { limit: 500 })
    );
    assert!(i.stats().microsteps < 500);
}

#[test]
fn the_limits_count_one_macrostep_at_a_time() {
    // `spin` walks a chain of 30 states back to `a`: 31 microsteps a macrostep, under a
    // limit of 50, for many events in a row.
    let chain: String = (0..30)
        .map(|n| {
            let next = if n == 29 {
                "a".to_string()
            } else {
                format!("c{}", n + 1)
            };
            format!(r#"<state id="c{n}"><transition target="{next}"/></state>"#)
        })
        .collect();
    let d = doc(&format!(
        r#"initial="a"><state id="a"><transition event="spin" target="c0"/></state>{chain}"#
    ));
    let options = SessionOptions {
        limits: Limits {
            microsteps_per_macrostep: Some(50),
            ..Limits::DEFAULT
        },
        ..SessionOptions::default()
    };
    let mut i = Interpreter::new(d, options);
    let mut h = NullHost;
    i.start(&mut h);
    for _ in 0..20 {
        i.process_event(Event::external("spin"), &mut h);
    }
    assert!(i.is_running(), "{:?}", i.failure());
    assert_eq!(i.stats().microsteps, 20 * 31);
}

#[test]
#[cfg(feature = "ecmascript")] // reads _event.data in the document
fn error_events_name_the_failing_element_its_position_and_the_reason() {
    let text = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="a">
        <state id="a">
          <onentry>
            <if cond="true">
              <assign location="x.y.z" expr="1"/>
            </if>
          </onentry>
          <transition event="error.execution" target="b">
            <log label="first" expr="JSON.stringify(_event.data)"/>
          </transition>
        </state>
        <state id="b">
          <transition cond="nope.nope" target="a"/>
          <transition event="error.execution" target="c">
            <log label="second" expr="JSON.stringify(_event.data)"/>
          </transition>
        </state>
        <final id="c"/></scxml>"#;
    let doc = Arc::new(crate::parse::parse_str(text, "t.scxml", None).expect("valid"));
    let mut i = Interpreter::new(doc, SessionOptions::default());
    let mut h = Recorder::default();
    i.start(&mut h);
    assert_eq!(i.final_state(), Some("c"));
    // The recorder keeps `label` + message.
    let data = |label: &str| -> serde_json::Value {
        let line = h.logs.iter().find(|l| l.starts_with(label)).unwrap();
        serde_json::from_str(&line[label.len()..]).unwrap()
    };
    // The innermost element: the <assign> inside the <if>, at its own line and column.
    let first = data("first");
    assert_eq!(first["tagname"], "assign", "{first}");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(5), Some(15)),
        "{first}"
    );
    assert!(
        first["reason"].as_str().unwrap().contains("x.y.z"),
        "{first}"
    );
    // A condition that fails names its transition, at the condition.
    let second = data("second");
    assert_eq!(second["tagname"], "transition", "{second}");
    assert_eq!(second["line"], 13, "{second}");
    assert!(
        second["reason"].as_str().unwrap().contains("nope.nope"),
        "{second}"
    );
}
