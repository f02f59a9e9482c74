//! Parser tests: the model it builds, and one test per validation rule, each checking the
//! message and the `line:column` it is reported at.

use super::*;
use crate::model::*;

fn parse(body: &str) -> Result<Document, ParseErrors> {
    parse_str(
        &format!(
            "<scxml xmlns=\"http://www.w3.org/2005/07/scxml\" version=\"1.0\" datamodel=\"ecmascript\"{body}</scxml>"
        ),
        "t.scxml",
        None,
    )
}

/// Asserts the body is rejected with a problem containing `needle`, and returns the first
/// such problem's position as `line:column`.
fn rejected(body: &str, needle: &str) -> String {
    let errs = parse(body).expect_err("document should be invalid");
    let p = errs
        .problems
        .iter()
        .find(|p| p.message.contains(needle))
        .unwrap_or_else(|| panic!("no problem mentions {needle:?}: {errs}"));
    assert_eq!(p.file, "t.scxml");
    p.pos.to_string()
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn builds_states_in_document_order_with_ranges_and_depths() {
    let doc = parse(
        r#" initial="p">
  <parallel id="p">
    <state id="a"><state id="a1"/><state id="a2"/></state>
    <state id="b"/>
  </parallel>
  <final id="f"/>
"#,
    )
    .unwrap();
    let ids: Vec<&str> = doc.states.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["__scxml", "p", "a", "a1", "a2", "b", "f"]);
    let a = doc.state_by_id("a").unwrap();
    assert_eq!(doc.state(a).kind, StateKind::Compound);
    assert_eq!(doc.state(a).subtree_end, 5);
    assert_eq!(doc.state(a).depth, 2);
    assert!(doc.is_descendant(
        doc.state_by_id("a2").unwrap(),
        doc.state_by_id("p").unwrap()
    ));
    assert_eq!(
        doc.state(doc.state_by_id("b").unwrap()).kind,
        StateKind::Atomic
    );
    assert_eq!(
        doc.state(doc.state_by_id("f").unwrap()).kind,
        StateKind::Final
    );
    // a's default initial is its first child
    let init = doc.transition(doc.state(a).initial.unwrap());
    assert_eq!(init.targets, vec![doc.state_by_id("a1").unwrap()]);
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn transitions_get_events_targets_and_domains() {
    let doc = parse(
        r#" initial="s">
  <state id="s">
    <transition event="e.* f" target="s2" cond="x &gt; 1"/>
    <transition event="g" type="internal" target="s2"/>
    <state id="s1"/><state id="s2"/>
  </state>
  <state id="t"><transition event="h" target="s1"/></state>
"#,
    )
    .unwrap();
    let s = doc.state_by_id("s").unwrap();
    let t0 = doc.transition(doc.state(s).transitions[0]);
    assert!(t0.matches("e.x") && t0.matches("f") && !t0.matches("g"));
    assert_eq!(t0.cond.as_ref().unwrap().source, "x > 1");
    assert_eq!(
        t0.domain,
        Some(ROOT),
        "external from s to its child exits s"
    );
    let t1 = doc.transition(doc.state(s).transitions[1]);
    assert_eq!(t1.domain, Some(s), "internal stays inside s");
    let t = doc.state_by_id("t").unwrap();
    assert_eq!(
        doc.transition(doc.state(t).transitions[0]).domain,
        Some(ROOT)
    );
    assert!(doc.expr_count >= 1);
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn executable_content_and_data_are_built() {
    let doc = parse(
        r##">
  <datamodel><data id="a" expr="1"/><data id="b">{"k": [1, 2]}</data><data id="c"/></datamodel>
  <state id="s">
    <onentry>
      <send event="e" target="#_internal" id="x"><param name="p" expr="a"/></send>
      <send eventexpr="'e'" delay="1.5s" namelist="a b"/>
      <if cond="a"><log expr="1"/><elseif cond="b"/><raise event="r"/><else/><assign location="a" expr="2"/></if>
      <foreach array="[1]" item="i" index="j"><log label="l" expr="i"/></foreach>
      <cancel sendidexpr="'x'"/>
      <script>var z = _event;</script>
    </onentry>
    <invoke type="scxml" id="child"><content><scxml version="1.0" datamodel="null"><final id="done"/></scxml></content></invoke>
  </state>
"##,
    )
    .unwrap();
    assert!(doc.reads_event);
    let root = doc.state(ROOT);
    assert_eq!(root.data.len(), 3);
    assert!(matches!(&root.data[1].init, DataInit::Text(t) if t.contains("\"k\"")));
    assert!(matches!(root.data[2].init, DataInit::None));
    let s = doc.state(doc.state_by_id("s").unwrap());
    let block = &s.onentry[0];
    assert_eq!(block.len(), 6);
    match &block[1] {
        Executable::Send(send) => {
            assert_eq!(
                send.delay,
                Some(Delay::Fixed(std::time::Duration::from_millis(1500)))
            );
            assert_eq!(send.namelist.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    match &block[2] {
        Executable::If { branches, .. } => {
            assert_eq!(branches.len(), 3);
            assert_eq!(branches[1].body.len(), 1);
            assert!(branches[2].cond.is_none());
        }
        other => panic!("{other:?}"),
    }
    match &s.invokes[0].content {
        Some(Content::Document(child)) => assert_eq!(child.datamodel, DatamodelKind::Null),
        other => panic!("{other:?}"),
    }
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn inline_markup_is_kept_as_source() {
    let doc = parse(r#"><datamodel><data id="d"><books xmlns=""><book title="x"/></books></data></datamodel><state id="s"/>"#)
        .unwrap();
    match &doc.state(ROOT).data[0].init {
        DataInit::Text(t) => assert_eq!(t, r#"<books xmlns=""><book title="x"/></books>"#),
        other => panic!("{other:?}"),
    }
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn history_states_get_their_default_transition() {
    let doc = parse(
        r#"><state id="s"><history id="h" type="deep"><transition target="b"/></history><state id="a"><state id="b"/></state></state>"#,
    )
    .unwrap();
    let h = doc.state(doc.state_by_id("h").unwrap());
    assert_eq!(h.kind, StateKind::History(HistoryKind::Deep));
    let default = doc.transition(h.initial.unwrap());
    assert_eq!(default.targets, vec![doc.state_by_id("b").unwrap()]);
    // the history state is not the default initial state of s
    let s = doc.state(doc.state_by_id("s").unwrap());
    assert_eq!(
        doc.transition(s.initial.unwrap()).targets,
        vec![doc.state_by_id("a").unwrap()]
    );
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn parsing_twice_gives_equal_models() {
    let body =
        r#" initial="a"><state id="a"><transition event="go" target="b"/></state><state id="b"/>"#;
    assert_eq!(parse(body).unwrap(), parse(body).unwrap());
}

// ---- one test per validation rule -------------------------------------------------------

#[test]
fn malformed_xml() {
    let errs = parse_str(
        "<scxml version=\"1.0\">\n  <state id=\"a\">\n</scxml>",
        "t.scxml",
        None,
    )
    .unwrap_err();
    assert_eq!(errs.problems.len(), 1);
    assert!(errs.problems[0].message.contains("malformed XML"), "{errs}");
    assert_eq!(errs.problems[0].pos.line, 3);
}

#[test]
fn wrong_root_element() {
    let errs = parse_str(
        "<machine version=\"1.0\"><state id=\"a\"/></machine>",
        "t.scxml",
        None,
    )
    .unwrap_err();
    assert!(
        errs.to_string()
            .contains("t.scxml:1:1: the root element must be <scxml>"),
        "{errs}"
    );
}

#[test]
fn missing_version() {
    let errs = parse_str("<scxml><state id=\"a\"/></scxml>", "t.scxml", None).unwrap_err();
    assert!(errs.to_string().contains("needs version"), "{errs}");
}

#[test]
fn unknown_element() {
    assert_eq!(
        rejected(
            ">\n<state id=\"a\"><bogus/></state>",
            "unknown element <bogus>"
        ),
        "2:15"
    );
}

#[test]
fn misplaced_element() {
    assert_eq!(
        rejected(
            ">\n<state id=\"a\"><onentry><transition/></onentry></state>",
            "<transition> cannot appear inside <onentry>"
        ),
        "2:24"
    );
}

#[test]
fn unknown_attribute() {
    assert_eq!(
        rejected(
            ">\n<state id=\"a\" colour=\"red\"/>",
            "no attribute `colour`"
        ),
        "2:15"
    );
}

#[test]
fn missing_required_attributes() {
    rejected(
        "><state id=\"a\"><onentry><raise/></onentry></state>",
        "<raise> needs `event`",
    );
    rejected(
        "><state id=\"a\"><onentry><assign expr=\"1\"/></onentry></state>",
        "needs a `location`",
    );
    rejected(
        "><datamodel><data expr=\"1\"/></datamodel><state id=\"a\"/>",
        "<data> needs `id`",
    );
    rejected(
        "><state id=\"a\"><onentry><foreach item=\"x\"/></onentry></state>",
        "needs `array` and `item`",
    );
    rejected(
        "><state id=\"a\"><onentry><if/></onentry></state>",
        "<if> needs a `cond`",
    );
    rejected(
        "><state id=\"a\"><onentry><cancel/></onentry></state>",
        "needs `sendid` or `sendidexpr`",
    );
    rejected(
        "><state id=\"a\"><onentry><send event=\"e\"><param name=\"p\"/></send></onentry></state>",
        "needs `expr` or `location`",
    );
}

#[test]
fn duplicate_ids() {
    let pos = rejected(
        ">\n<state id=\"a\"/>\n<state id=\"a\"/>",
        "duplicate state id \"a\" (first used at 2:1)",
    );
    assert_eq!(pos, "3:8");
}

#[test]
fn unknown_transition_target() {
    assert_eq!(
        rejected(
            ">\n<state id=\"a\"><transition target=\"nowhere\"/></state>",
            "no state has the id \"nowhere\""
        ),
        "2:27"
    );
}

#[test]
fn unknown_initial() {
    rejected(
        " initial=\"zz\"><state id=\"a\"/>",
        "no state has the id \"zz\"",
    );
}

#[test]
fn initial_not_a_descendant() {
    rejected(
        "><state id=\"a\" initial=\"b\"><state id=\"a1\"/></state><state id=\"b\"/>",
        "initial state \"b\" is not a descendant of \"a\"",
    );
    rejected("><state id=\"a\"><initial><transition target=\"b\"/></initial><state id=\"a1\"/></state><state id=\"b\"/>", "not a descendant");
}

#[test]
fn initial_on_atomic_or_both_forms() {
    rejected("><state id=\"a\" initial=\"a\"/>", "atomic state");
    rejected("><state id=\"a\" initial=\"a1\"><initial><transition target=\"a1\"/></initial><state id=\"a1\"/></state>", "both an initial attribute and an <initial> element");
    rejected(
        "><parallel id=\"p\" initial=\"x\"><state id=\"x\"/></parallel>",
        "<parallel> has no attribute `initial`",
    );
}

#[test]
fn history_rules() {
    rejected(
        "><state id=\"s\"><history id=\"h\"/><state id=\"a\"/></state>",
        "needs a default <transition>",
    );
    rejected("><state id=\"s\"><history id=\"h\"><transition target=\"b\"/></history><state id=\"a\"><state id=\"b\"/></state></state>", "shallow history must be a child");
    rejected("><state id=\"s\"><history id=\"h\" type=\"deep\"><transition target=\"x\"/></history><state id=\"a\"/></state><state id=\"x\"/>", "deep history must be a descendant");
    rejected("><state id=\"s\"><history id=\"h\"><transition event=\"e\" target=\"a\"/></history><state id=\"a\"/></state>", "cannot have `event`");
    rejected("><state id=\"s\"><history id=\"h\" type=\"wide\"><transition target=\"a\"/></history><state id=\"a\"/></state>", "shallow\" or \"deep\"");
}

#[test]
fn mutually_exclusive_attributes() {
    rejected(
        "><state id=\"a\"><onentry><send event=\"e\" eventexpr=\"'e'\"/></onentry></state>",
        "`event` or `eventexpr`, not both",
    );
    rejected("><state id=\"a\"><onentry><send event=\"e\" target=\"#_parent\" targetexpr=\"'x'\"/></onentry></state>", "`target` or `targetexpr`");
    rejected(
        "><state id=\"a\"><onentry><send event=\"e\" id=\"i\" idlocation=\"x\"/></onentry></state>",
        "`id` or `idlocation`",
    );
    rejected("><state id=\"a\"><onentry><send event=\"e\" delay=\"1s\" delayexpr=\"'1s'\"/></onentry></state>", "`delay` or `delayexpr`");
    rejected("><state id=\"a\"><onentry><send event=\"e\" namelist=\"a\"><content>x</content></send></onentry></state>", "<content>, or `namelist`");
    rejected(
        "><state id=\"a\"><invoke src=\"a.scxml\"><content>x</content></invoke></state>",
        "`src`/`srcexpr` or <content>",
    );
    rejected(
        "><datamodel><data id=\"d\" expr=\"1\">2</data></datamodel><state id=\"a\"/>",
        "at most one of `src`, `expr`",
    );
    rejected(
        "><state id=\"a\"><onentry><assign location=\"x\" expr=\"1\">2</assign></onentry></state>",
        "`expr` or inline content, not both",
    );
    rejected(
        "><state id=\"a\"><onentry><cancel sendid=\"a\" sendidexpr=\"'a'\"/></onentry></state>",
        "`sendid` or `sendidexpr`, not both",
    );
}

#[test]
fn bad_attribute_values() {
    rejected(
        "><state id=\"a\"><onentry><send event=\"e\" delay=\"soon\"/></onentry></state>",
        "not a CSS2 time",
    );
    rejected(
        "><state id=\"a\"><transition type=\"sideways\"/></state>",
        "\"internal\" or \"external\"",
    );
    let errs = parse_str(
        "<scxml version=\"1.0\" datamodel=\"xpath\"><state id=\"a\"/></scxml>",
        "t.scxml",
        None,
    )
    .unwrap_err();
    assert!(errs
        .to_string()
        .contains("datamodel \"xpath\" is not supported"));
    rejected(
        "><state id=\"a\"><invoke autoforward=\"yes\"/></state>",
        "autoforward",
    );
}

#[test]
fn else_must_come_last() {
    rejected("><state id=\"a\"><onentry><if cond=\"1\"><else/><elseif cond=\"2\"/></if></onentry></state>", "<elseif> after <else>");
    rejected(
        "><state id=\"a\"><onentry><else/></onentry></state>",
        "must be directly inside <if>",
    );
}

#[test]
fn unloadable_script_src_rejects_the_document() {
    rejected(
        "><script src=\"file:///no/such/script.js\"/><state id=\"a\"/>",
        "script src",
    );
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn every_problem_is_reported_at_once() {
    let errs =
        parse("><state id=\"a\"><transition target=\"x\"/><bogus/></state><state id=\"a\"/>")
            .unwrap_err();
    assert_eq!(errs.problems.len(), 3, "{errs}");
}

#[test]
fn no_input_panics_the_parser() {
    let samples = [
        "",
        "<",
        "<scxml",
        "<scxml version='1.0'/>",
        "<scxml version='1.0'><state/></scxml>",
        "<scxml version='1.0'><state id=''/></scxml>",
        "\u{0}\u{1}",
        "<scxml version='1.0'><final><donedata><content/><content/></donedata></final></scxml>",
        "<scxml version='1.0' initial=' '><state id='a'/></scxml>",
        "<scxml version='1.0'><history id='h'><transition target='h'/></history></scxml>",
    ];
    for s in samples {
        let _ = parse_str(s, "t.scxml", None);
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = parse_str(&text, "t.scxml", None);
        }

        #[test]
        fn arbitrary_markup_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("<state id='a'>"), Just("</state>"), Just("<transition target='a'/>"), Just("<parallel>"),
            Just("</parallel>"), Just("<history>"), Just("</history>"), Just("<final/>"), Just("<initial>"),
            Just("</initial>"), Just("<onentry><raise event='x'/></onentry>"), Just("<state id='b'/>"),
        ], 0..12)) {
            let text = format!("<scxml version='1.0'>{}</scxml>", parts.concat());
            let _ = parse_str(&text, "t.scxml", None);
        }
    }
}

#[test]
#[cfg(feature = "ecmascript")] // ECMAScript documents
fn the_w3c_suite_documents_are_valid() {
    let dir = std::env::var("SCXML_W3C_DIR").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/w3c-scxml").to_string()
    });
    let Ok(entries) = std::fs::read_dir(format!("{dir}/ecma")) else {
        eprintln!("W3C suite not found at {dir}; skipped");
        return;
    };
    let mut failures = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("scxml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let result = load(path.to_str().unwrap());
        // test301's script src is deliberately missing: it must be rejected.
        match (name.as_str(), result) {
            ("test301.scxml", Ok(_)) => failures.push("test301 should be rejected".to_string()),
            ("test301.scxml", Err(_)) => {}
            (_, Err(e)) => failures.push(format!("{name}: {e}")),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[cfg(not(feature = "ecmascript"))]
fn without_the_ecmascript_feature_documents_default_to_the_null_datamodel() {
    let plain = parse_str(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"><state id="s"/></scxml>"#,
        "plain.scxml",
        None,
    )
    .unwrap();
    assert_eq!(plain.datamodel, DatamodelKind::Null);
    let err = parse_str(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript"><state id="s"/></scxml>"#,
        "ecma.scxml",
        None,
    )
    .unwrap_err();
    assert!(
        err.problems[0].message.contains("`ecmascript` feature"),
        "{err}"
    );
}

/// A chart of `depth` nested compound states, each with one child, on the null datamodel.
fn nested_states(depth: usize) -> String {
    let mut doc = String::from(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null">"#,
    );
    for i in 0..depth {
        doc.push_str(&format!("<state id=\"s{i}\">"));
    }
    doc.push_str("<final id=\"leaf\"/>");
    doc.push_str(&"</state>".repeat(depth));
    doc.push_str("</scxml>");
    doc
}

#[test]
fn nesting_is_bounded_so_a_deep_document_cannot_overflow_the_stack() {
    // At the limit it loads and runs (on a test thread's ordinary stack, unoptimised)...
    let doc = parse_str(&nested_states(xml::MAX_NESTING - 2), "deep.scxml", None)
        .expect("a document at the nesting limit loads");
    let mut session =
        crate::interpreter::Interpreter::new(std::sync::Arc::new(doc), Default::default());
    session.start(&mut crate::interpreter::NullHost);
    assert!(session.active_ids().contains(&"leaf"));
    // ...and 20,000 levels are refused where the limit is crossed, not with a crash.
    let errs = parse_str(&nested_states(20_000), "deep.scxml", None).unwrap_err();
    let problem = &errs.problems[0];
    assert!(
        problem.message.contains("nest deeper than 256 levels"),
        "{errs}"
    );
    assert_eq!(problem.pos.line, 1);
}
