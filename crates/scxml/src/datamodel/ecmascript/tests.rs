//! Unit tests of the ECMAScript datamodel, on a hand-built document (no parser involved).

use super::*;
use crate::interpreter::EventType;
use crate::model::{Binding, DatamodelKind, ExprId, Pos, State, StateKind};
use serde_json::json;
use std::collections::HashMap;

fn state(id: &str, kind: StateKind, parent: Option<u32>, end: u32) -> State {
    State {
        id: id.to_string(),
        kind,
        parent,
        children: Vec::new(),
        depth: u32::from(parent.is_some()),
        subtree_end: end,
        initial: None,
        transitions: Vec::new(),
        onentry: Vec::new(),
        onexit: Vec::new(),
        invokes: Vec::new(),
        data: Vec::new(),
        donedata: None,
        pos: Pos::default(),
    }
}

/// A root with two atomic states `s1` and `s2`.
fn document(reads_event: bool) -> Arc<Document> {
    let states = vec![
        state("__root", StateKind::Compound, None, 3),
        state("s1", StateKind::Atomic, Some(0), 2),
        state("s2", StateKind::Atomic, Some(0), 3),
    ];
    let state_ids: HashMap<String, u32> = states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i as u32))
        .collect();
    Arc::new(Document {
        name: Some("test".into()),
        datamodel: DatamodelKind::Ecmascript,
        binding: Binding::Early,
        base_url: None,
        states,
        transitions: Vec::new(),
        scripts: Vec::new(),
        expr_count: 4,
        reads_event,
        state_ids,
        source: None,
        fetched: Vec::new(),
    })
}

/// A datamodel with its system variables bound, and the configuration `{s1}`.
struct Fixture {
    doc: Arc<Document>,
    dm: EcmaScriptDatamodel,
    active: StateSet,
    next_id: u32,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_doc(document(true))
    }

    fn with_doc(doc: Arc<Document>) -> Fixture {
        let mut dm = EcmaScriptDatamodel::new(&doc);
        dm.init_system(&SystemVariables {
            session_id: "sess1".into(),
            name: "test".into(),
            io_processors: vec![
                ("scxml".into(), "#_scxml_sess1".into()),
                (
                    "http://www.w3.org/TR/scxml/#SCXMLEventProcessor".into(),
                    "#_scxml_sess1".into(),
                ),
            ],
        })
        .unwrap();
        let mut active = StateSet::with_capacity(doc.state_count());
        active.insert(1);
        Fixture {
            doc,
            dm,
            active,
            next_id: 0,
        }
    }

    /// A fresh expression (each gets its own id, as the parser would give).
    fn expr(&mut self, source: &str) -> Expr {
        self.next_id += 1;
        Expr {
            id: ExprId(self.next_id),
            source: source.to_string(),
            pos: Pos::default(),
        }
    }

    fn value(&mut self, source: &str) -> DmResult<Value> {
        let e = self.expr(source);
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.active,
        };
        self.dm.eval_value(&e, cx)
    }

    fn cond(&mut self, source: &str) -> DmResult<bool> {
        let e = self.expr(source);
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.active,
        };
        self.dm.eval_cond(&e, cx)
    }

    fn string(&mut self, source: &str) -> DmResult<String> {
        let e = self.expr(source);
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.active,
        };
        self.dm.eval_string(&e, cx)
    }

    fn script(&mut self, source: &str) -> DmResult<()> {
        let e = self.expr(source);
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.active,
        };
        self.dm.execute_script(&e, cx)
    }

    fn assign(&mut self, location: &str, source: &str) -> DmResult<()> {
        let l = self.expr(location);
        let v = AssignValue::Expr(self.expr(source));
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.active,
        };
        self.dm.assign(&l, &v, cx)
    }

    fn data_expr(&mut self, id: &str, source: &str) -> DmResult<()> {
        let e = self.expr(source);
        self.data(id, DataInit::Expr(e))
    }

    fn data(&mut self, id: &str, init: DataInit) -> DmResult<()> {
        let data = Data {
            id: id.to_string(),
            init,
            pos: Pos::default(),
        };
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.active,
        };
        self.dm.init_data(&data, cx)
    }
}

#[test]
fn expressions_and_conditions() {
    let mut f = Fixture::new();
    assert_eq!(f.value("1 + 2").unwrap(), json!(3));
    assert_eq!(f.value("1.5 * 2").unwrap(), json!(3));
    assert_eq!(f.value("0.5").unwrap(), json!(0.5));
    assert_eq!(
        f.value("{a: 1, b: [1, 'x', null]}").unwrap(),
        json!({"a": 1, "b": [1, "x", null]})
    );
    assert_eq!(f.value("NaN").unwrap(), Value::Null);
    assert_eq!(f.value("undefined").unwrap(), Value::Null);
    assert_eq!(
        f.value("({f: function () {}, u: undefined, n: 1})")
            .unwrap(),
        json!({"n": 1})
    );
    assert_eq!(f.value("'a' // comment").unwrap(), json!("a"));
    assert!(f.cond("1 < 2").unwrap());
    assert!(!f.cond("''").unwrap());
    assert!(f.cond("({})").unwrap());
    assert_eq!(f.string("1").unwrap(), "1");
    assert_eq!(f.string("'abc' + 2").unwrap(), "abc2");
    assert_eq!(f.string("[1, 2]").unwrap(), "1,2");
    // Not an expression.
    assert!(f.value("1; 2").is_err());
    assert!(f.value("1 +").is_err());
    // A trailing semicolon is tolerated, an empty expression is undefined.
    assert_eq!(f.value("[1];").unwrap(), json!([1]));
    assert_eq!(f.string("  ").unwrap(), "undefined");
}

#[test]
fn cached_expressions_see_new_values() {
    let mut f = Fixture::new();
    f.data_expr("count", "0").unwrap();
    let inc_l = f.expr("count");
    let inc_v = AssignValue::Expr(f.expr("count + 1"));
    let cond = f.expr("count >= 3");
    for i in 0..5 {
        let cx = EvalContext {
            doc: &f.doc,
            active: &f.active,
        };
        let dm = &mut f.dm;
        assert_eq!(dm.eval_cond(&cond, cx).unwrap(), i >= 3);
        dm.assign(&inc_l, &inc_v, cx).unwrap();
    }
    assert_eq!(f.value("count").unwrap(), json!(5));
}

#[test]
fn syntax_errors_are_evaluation_errors() {
    let mut f = Fixture::new();
    let e = f.expr("1 +* 2");
    for _ in 0..2 {
        let cx = EvalContext {
            doc: &f.doc,
            active: &f.active,
        };
        let err = f.dm.eval_value(&e, cx).unwrap_err();
        assert!(err.message.contains("SyntaxError"), "{}", err.message);
    }
    assert!(f.script("var = 3").is_err());
    assert!(f.cond("return").is_err());
    let err = f.value("nosuchvar").unwrap_err();
    assert!(err.message.contains("ReferenceError"), "{}", err.message);
    let err = f.script("throw new Error('boom')").unwrap_err();
    assert!(err.message.contains("boom"), "{}", err.message);
    let err = f.script("throw 'plain'").unwrap_err();
    assert!(err.message.contains("plain"), "{}", err.message);
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(f.value(&deep).is_err());
}

#[test]
fn assignments() {
    let mut f = Fixture::new();
    f.data("a", DataInit::None).unwrap();
    f.data("o", DataInit::Text(r#"{"x": {"y": 1}}"#.into()))
        .unwrap();
    f.assign("a", "[1, 2, 3];").unwrap();
    assert_eq!(f.value("a").unwrap(), json!([1, 2, 3]));
    f.assign("a[1]", "'two'").unwrap();
    f.assign("o.x.y", "a.length").unwrap();
    f.assign("o['z']", "true").unwrap();
    assert_eq!(f.value("a").unwrap(), json!([1, "two", 3]));
    assert_eq!(f.value("o").unwrap(), json!({"x": {"y": 3}, "z": true}));
    // Undeclared variables, bad locations, errors in the value.
    assert!(f.assign("undeclared", "1").is_err());
    assert!(f.value("typeof undeclared === 'undefined'").unwrap() == json!(true));
    assert!(f.assign("nothere.x", "1").is_err());
    assert!(f.assign("a, o", "1").is_err());
    assert!(f.assign("1", "1").is_err());
    assert!(f.assign("a", "nosuch").is_err());
    assert_eq!(f.value("a").unwrap(), json!([1, "two", 3]));
    // Inline values and plain values.
    let l = f.expr("a");
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    f.dm.assign(&l, &AssignValue::Inline("\n  some   text\n".into()), cx)
        .unwrap();
    assert_eq!(f.value("a").unwrap(), json!("some text"));
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    f.dm.assign_value(&l, &json!({"k": [1]}), cx).unwrap();
    assert_eq!(f.value("a.k[0]").unwrap(), json!(1));
    // Lexical globals and script variables can be assigned too.
    f.script("let lexical = 1;").unwrap();
    f.assign("lexical", "lexical + 1").unwrap();
    assert_eq!(f.value("lexical").unwrap(), json!(2));
    // Variables created by a script can be assigned.
    f.script("var fromScript = 1;").unwrap();
    f.assign("fromScript", "2").unwrap();
    assert_eq!(f.value("fromScript").unwrap(), json!(2));
}

#[test]
fn system_variables_are_read_only() {
    let mut f = Fixture::new();
    assert_eq!(f.value("_sessionid").unwrap(), json!("sess1"));
    assert_eq!(f.value("_name").unwrap(), json!("test"));
    assert_eq!(
        f.value("_ioprocessors['scxml'].location").unwrap(),
        json!("#_scxml_sess1")
    );
    assert_eq!(
        f.value("_ioprocessors['http://www.w3.org/TR/scxml/#SCXMLEventProcessor'].location")
            .unwrap(),
        json!("#_scxml_sess1")
    );
    assert_eq!(f.value("typeof _x").unwrap(), json!("object"));
    // Before the first event `_event` is declared and undefined.
    assert!(!f.cond("_event").unwrap());
    assert_eq!(f.value("typeof _event").unwrap(), json!("undefined"));
    f.dm.set_event(&Event::internal("foo")).unwrap();
    f.data("v", DataInit::None).unwrap();
    f.assign("v", "_event").unwrap();
    for var in SYSTEM_VARIABLES {
        assert!(f.assign(var, "27").is_err(), "{var} assignable");
    }
    assert_eq!(f.value("_sessionid").unwrap(), json!("sess1"));
    assert_eq!(f.value("_name").unwrap(), json!("test"));
    assert!(f.cond("v === _event").unwrap());
    assert_eq!(f.value("_event.name").unwrap(), json!("foo"));
    // A script's sloppy assignment is ignored.
    f.script("_sessionid = 5").unwrap();
    assert_eq!(f.value("_sessionid").unwrap(), json!("sess1"));
    // Data may not take a system variable's name.
    assert!(f.data_expr("_name", "1").is_err());
    assert_eq!(f.value("_name").unwrap(), json!("test"));
}

#[test]
fn in_predicate_reads_the_configuration_of_each_call() {
    let mut f = Fixture::new();
    assert!(f.cond("In('s1')").unwrap());
    assert!(!f.cond("In('s2')").unwrap());
    assert!(!f.cond("In('nosuch')").unwrap());
    f.active.remove(1);
    f.active.insert(2);
    let e = f.expr("In('s2') && !In('s1')");
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    assert!(f.dm.eval_cond(&e, cx).unwrap());
    f.script("function inS1() { return In('s1'); }").unwrap();
    assert!(!f.cond("inS1()").unwrap());
}

#[test]
fn event_fields() {
    let mut f = Fixture::new();
    f.dm.set_event(&Event::internal("foo")).unwrap();
    assert!(f
        .cond("['name','type','sendid','origin','origintype','invokeid','data'].every(function (k) { return k in _event; })")
        .unwrap());
    assert_eq!(f.value("_event.type").unwrap(), json!("internal"));
    assert!(f.cond("typeof _event.sendid === 'undefined'").unwrap());
    assert!(f.cond("typeof _event.data === 'undefined'").unwrap());
    let event = Event {
        name: "ext.done".into(),
        kind: EventType::External,
        sendid: Some("send.1".into()),
        origin: Some("#_scxml_other".into()),
        origintype: Some("http://www.w3.org/TR/scxml/#SCXMLEventProcessor".into()),
        invokeid: Some("inv1".into()),
        data: Some(json!({"productName": "bar", "size": 27})),
        raw: None,
    };
    f.dm.set_event(&event).unwrap();
    assert_eq!(f.value("_event.name").unwrap(), json!("ext.done"));
    assert_eq!(f.value("_event.type").unwrap(), json!("external"));
    assert_eq!(f.value("_event.sendid").unwrap(), json!("send.1"));
    assert_eq!(f.value("_event.origin").unwrap(), json!("#_scxml_other"));
    assert_eq!(f.value("_event.invokeid").unwrap(), json!("inv1"));
    assert_eq!(f.value("_event.data.size").unwrap(), json!(27));
    f.dm.set_event(&Event::platform("error.execution", Some(json!("oops"))))
        .unwrap();
    assert_eq!(
        f.value("_event.type + ':' + _event.data").unwrap(),
        json!("platform:oops")
    );
}

#[test]
fn event_binding_is_skipped_when_the_document_never_reads_it() {
    let mut f = Fixture::with_doc(document(false));
    f.dm.set_event(&Event::internal("foo")).unwrap();
    assert!(f.cond("typeof _event === 'undefined'").unwrap());
}

#[test]
fn content_values() {
    let mut f = Fixture::new();
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    let dm = &mut f.dm;
    assert_eq!(
        dm.eval_content(
            &Content::Inline(r#"{ "productName" : "bar", "size" : 27 }"#.into()),
            cx
        )
        .unwrap(),
        json!({"productName": "bar", "size": 27})
    );
    assert_eq!(
        dm.eval_content(&Content::Inline("123".into()), cx).unwrap(),
        json!(123)
    );
    assert_eq!(
        dm.eval_content(&Content::Inline("\nthis is  a  \nstring\n".into()), cx)
            .unwrap(),
        json!("this is a string")
    );
    let xml =
        "<books xmlns=\"\">\n  <book title=\"title1\"/>\n  <book title=\"title2\"/>\n</books>";
    let data = dm.eval_content(&Content::Inline(xml.into()), cx).unwrap();
    assert_eq!(data, json!(xml));
    // The markup becomes a DOM again in `_event.data`.
    let mut event = Event::external("foo");
    event.data = Some(data);
    f.dm.set_event(&event).unwrap();
    assert!(f
        .cond("_event.data.getElementsByTagName('book')[1].getAttribute('title') == 'title2'")
        .unwrap());
    let e = f.expr("1 + 1");
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    assert_eq!(f.dm.eval_content(&Content::Expr(e), cx).unwrap(), json!(2));
}

#[test]
fn data_initialisation() {
    let mut f = Fixture::new();
    f.data("json", DataInit::Text("\n  [1,2,3]\n  ".into()))
        .unwrap();
    assert_eq!(f.value("json").unwrap(), json!([1, 2, 3]));
    f.data("text", DataInit::Text("\nthis  is \na string \n".into()))
        .unwrap();
    assert!(f.cond("text == 'this is a string'").unwrap());
    f.data("none", DataInit::None).unwrap();
    assert!(f.cond("typeof none === 'undefined'").unwrap());
    // A failing expression leaves the variable defined but undefined.
    assert!(f.data_expr("bad", "return").is_err());
    assert!(f.cond("typeof bad === 'undefined'").unwrap());
    f.assign("bad", "1").unwrap();
    assert!(f.data("gone", DataInit::Unavailable("404".into())).is_err());
    assert!(f.cond("typeof gone === 'undefined'").unwrap());
    // Late binding: declared first, assigned later.
    f.dm.declare("late").unwrap();
    assert!(f.cond("typeof late === 'undefined'").unwrap());
    f.dm.set_value("late", &json!({"a": 1})).unwrap();
    assert_eq!(f.value("late.a").unwrap(), json!(1));
    f.dm.declare("late").unwrap();
    assert_eq!(f.value("late.a").unwrap(), json!(1));
}

#[test]
fn xml_data_is_a_dom() {
    let mut f = Fixture::new();
    let xml = "\n      <books xmlns=\"\">\n        <book title=\"title1\"/>\n        <book title=\"title2\">Some &amp; <![CDATA[<raw>]]> text</book>\n      </books>\n    ";
    f.data("var1", DataInit::Text(xml.into())).unwrap();
    assert!(f
        .cond("var1.getElementsByTagName('book')[0].getAttribute('title') == 'title1'")
        .unwrap());
    assert_eq!(
        f.value("var1.getElementsByTagName('book')[1].textContent")
            .unwrap(),
        json!("Some & <raw> text")
    );
    assert_eq!(
        f.value("var1.documentElement.nodeName").unwrap(),
        json!("books")
    );
    assert_eq!(
        f.value("var1.documentElement.children.length").unwrap(),
        json!(2)
    );
    assert!(f
        .cond("var1.getElementsByTagName('book')[0].getAttribute('nope') === null")
        .unwrap());
    // As a value, a DOM is its markup.
    let markup = f.value("var1").unwrap();
    let markup = markup.as_str().unwrap();
    assert!(markup.starts_with("<books xmlns=\"\">"), "{markup}");
    assert!(markup.contains("<book title=\"title1\"/>"), "{markup}");
    assert!(markup.contains("Some &amp; &lt;raw&gt; text"), "{markup}");
    // Not well-formed: text.
    f.data("notxml", DataInit::Text("<a><b></a>".into()))
        .unwrap();
    assert_eq!(f.value("notxml").unwrap(), json!("<a><b></a>"));
}

#[test]
fn foreach() {
    let mut f = Fixture::new();
    f.data("arr", DataInit::Text("[1,2,3]".into())).unwrap();
    f.data_expr("sum", "0").unwrap();
    let array = f.expr("arr");
    let item = f.expr("item");
    let index = f.expr("idx");
    let add_l = f.expr("sum");
    let add_v = AssignValue::Expr(f.expr("sum + item * 10 + idx"));
    let push = f.expr("arr.push(99)");
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    let dm = &mut f.dm;
    let len = dm.foreach_begin(&array, cx).unwrap();
    assert_eq!(len, 3);
    for i in 0..len {
        dm.foreach_step(&item, Some(&index), i, cx).unwrap();
        dm.assign(&add_l, &add_v, cx).unwrap();
        // Changing the array does not change the iteration (shallow copy).
        dm.execute_script(&push, cx).unwrap();
    }
    dm.foreach_end();
    assert_eq!(f.value("sum").unwrap(), json!(63));
    assert_eq!(f.value("item").unwrap(), json!(3));
    assert_eq!(f.value("idx").unwrap(), json!(2));
    // Not an array; an illegal item name.
    let not_array = f.expr("7");
    let bad_item = f.expr("'continue'");
    let reserved = f.expr("continue");
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    assert!(f.dm.foreach_begin(&not_array, cx).is_err());
    assert_eq!(f.dm.foreach_begin(&array, cx).unwrap(), 6);
    assert!(f.dm.foreach_step(&bad_item, None, 0, cx).is_err());
    assert!(f.dm.foreach_step(&reserved, None, 0, cx).is_err());
    f.dm.foreach_end();
    assert!(f
        .cond("typeof globalThis['continue'] === 'undefined'")
        .unwrap());
}

#[test]
fn runaway_scripts_are_stopped() {
    let mut f = Fixture::new();
    let err = f.script("while (true) {}").unwrap_err();
    assert!(!err.message.is_empty());
    let err = f
        .script("function r(n) { return r(n + 1) + 1; } r(0);")
        .unwrap_err();
    assert!(!err.message.is_empty());
    assert!(f.cond("(function f() { return f(); })()").is_err());
    // Recursion through native callbacks.
    assert!(f
        .script("function m() { return [1].map(m); } m();")
        .is_err());
    // The context is still usable.
    assert_eq!(f.value("1 + 1").unwrap(), json!(2));
}

#[test]
fn scripts_define_functions_and_variables() {
    let mut f = Fixture::new();
    f.script("var counter = 0; function bump(n) { counter += n; return counter; }")
        .unwrap();
    assert_eq!(f.value("bump(2)").unwrap(), json!(2));
    assert_eq!(f.value("bump(3)").unwrap(), json!(5));
    // Running the same script again works (no redeclaration errors for var/function).
    let s = f.expr("var twice = (typeof twice === 'number') ? twice + 1 : 1;");
    for _ in 0..2 {
        let cx = EvalContext {
            doc: &f.doc,
            active: &f.active,
        };
        f.dm.execute_script(&s, cx).unwrap();
    }
    assert_eq!(f.value("twice").unwrap(), json!(2));
}

#[test]
fn export_import_round_trip() {
    let mut f = Fixture::new();
    f.data_expr("num", "42").unwrap();
    f.data(
        "obj",
        DataInit::Text(r#"{"a": [1, 2, {"b": null}], "s": "x"}"#.into()),
    )
    .unwrap();
    f.data("undef", DataInit::None).unwrap();
    f.data("xml", DataInit::Text("<r><i n=\"1\"/></r>".into()))
        .unwrap();
    f.data(
        "tricky",
        DataInit::Text(r#"{"$function": "not code"}"#.into()),
    )
    .unwrap();
    f.script("function add(a, b) { return a + b + num; } var g = function (x) { return x * 2; };")
        .unwrap();
    f.dm.set_event(&Event::internal("foo")).unwrap();
    let snapshot = f.dm.export().unwrap();
    let vars = snapshot.as_object().unwrap();
    for name in ["num", "obj", "undef", "xml", "tricky", "add", "g"] {
        assert!(vars.contains_key(name), "{name} missing from {snapshot}");
    }
    for name in [
        "_sessionid",
        "_event",
        "_name",
        "_ioprocessors",
        "_x",
        "In",
        "Object",
        "Math",
    ] {
        assert!(!vars.contains_key(name), "{name} exported: {snapshot}");
    }
    assert_eq!(vars["num"], json!(42));
    // Through text, as a snapshot would be stored.
    let text = serde_json::to_string(&snapshot).unwrap();
    let restored: Value = serde_json::from_str(&text).unwrap();
    let mut g = Fixture::new();
    g.dm.import(&restored).unwrap();
    assert_eq!(g.value("add(1, 2)").unwrap(), json!(45));
    assert_eq!(g.value("g(4)").unwrap(), json!(8));
    assert_eq!(
        g.value("obj").unwrap(),
        json!({"a": [1, 2, {"b": null}], "s": "x"})
    );
    assert!(g.cond("typeof undef === 'undefined'").unwrap());
    g.assign("undef", "1").unwrap();
    assert_eq!(
        g.value("xml.getElementsByTagName('i')[0].getAttribute('n')")
            .unwrap(),
        json!("1")
    );
    assert_eq!(g.value("tricky").unwrap(), json!({"$function": "not code"}));
    assert_eq!(g.dm.export().unwrap().get("num"), Some(&json!(42)));
    // Native functions cannot be restored faithfully: export refuses.
    g.script("var m = Math.max;").unwrap();
    assert!(g.dm.export().is_err());
    assert!(g.dm.import(&json!([1])).is_err());
}

#[test]
fn no_panics_on_odd_input() {
    let mut f = Fixture::new();
    for source in [
        "",
        ")",
        "(",
        "}",
        "{",
        "\u{0}",
        "'unterminated",
        "/*",
        "`${",
        "a =>",
        "new",
        "x.",
        "1..",
        "function",
        "(function(){",
        "})(",
        "\\u",
        "#!",
        "<!--",
        "yield",
        "await 1",
        "class {",
    ] {
        let _ = f.value(source);
        let _ = f.cond(source);
        let _ = f.string(source);
        let _ = f.script(source);
        let _ = f.assign(source, "1");
    }
    let cyclic = f.value("(function () { var a = {}; a.self = a; return a; })()");
    assert!(cyclic.is_err());
    assert!(f.value("BigInt(10)").is_ok());
    assert!(f.value("Symbol('x')").is_ok());
    let id = Expr {
        id: ExprId(u32::MAX),
        source: "2 + 2".into(),
        pos: Pos::default(),
    };
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    assert_eq!(f.dm.eval_value(&id, cx).unwrap(), json!(4));
}

#[test]
fn deep_sources_are_rejected_before_parsing() {
    let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
    assert!(!too_deep(&nested(MAX_NESTING)));
    assert!(too_deep(&nested(MAX_NESTING + 1)));
    assert!(too_deep(&format!("{}1", "!".repeat(MAX_CHAIN + 1))));
    assert!(too_deep(&format!("{}1", "x=".repeat(MAX_CHAIN + 1))));
    assert!(too_deep(&"if (a) b; else ".repeat(MAX_ELSE + 1)));
    // Brackets in strings, and long scripts of short statements, are fine.
    assert!(!too_deep(&format!("'{}'", "(".repeat(1000))));
    assert!(!too_deep(&"x = x + 1 - (2 * 3);\n".repeat(10_000)));
    assert!(!too_deep(r#"var s = "a\"((((" + '\'' ; "#));
    let mut f = Fixture::new();
    let err = f.value(&nested(MAX_NESTING + 1)).unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{}", err.message);
    assert!(f.value(&nested(10)).is_ok());
}

#[test]
fn error_messages() {
    let mut f = Fixture::new();
    f.data("a", DataInit::None).unwrap();
    let message = |r: DmResult<()>| r.unwrap_err().message;
    assert_eq!(
        message(f.value("nosuch").map(|_| ())),
        "ReferenceError: nosuch is not defined"
    );
    assert_eq!(
        message(f.assign("_sessionid", "1")),
        "TypeError: cannot set non-writable property: _sessionid"
    );
    assert_eq!(message(f.script("throw new Error('boom')")), "Error: boom");
    assert!(message(f.assign("a, b", "1")).starts_with("`a, b` is not a valid location"));
    assert!(message(f.script("while (true) {}")).starts_with("RuntimeLimitError"));
}

/// Literals and variable reads skip the compiler (see `simple`); what programs observe must
/// not change.
#[test]
fn simple_expressions_behave_as_compiled_ones() {
    let mut f = Fixture::new();
    assert_eq!(f.value("'QUEUED'").unwrap(), json!("QUEUED"));
    assert_eq!(f.value("200").unwrap(), json!(200));
    assert_eq!(f.value("[]").unwrap(), json!([]));
    assert_eq!(f.value("({})").unwrap(), json!({}));
    assert!(f.cond("[] !== []").unwrap());
    f.data_expr("o", "({a: {b: 'deep'}})").unwrap();
    assert_eq!(f.value("o.a.b").unwrap(), json!("deep"));
    assert_eq!(f.value("o.missing").unwrap(), Value::Null);
    // Missing variables, members of undefined: the compiled expression's error.
    let err = f.value("nosuch").unwrap_err();
    assert!(err.message.contains("ReferenceError"), "{}", err.message);
    let err = f.value("o.missing.x").unwrap_err();
    assert!(err.message.contains("TypeError"), "{}", err.message);
    // Inherited properties and exotic objects.
    assert_eq!(
        f.value("o.a.hasOwnProperty === Object.prototype.hasOwnProperty")
            .unwrap(),
        json!(true)
    );
    f.data_expr("list", "[1, 2]").unwrap();
    assert_eq!(f.value("list.length").unwrap(), json!(2));
    // A getter runs once per read.
    f.data_expr("reads", "0").unwrap();
    f.script(
        "Object.defineProperty(this, 'counted', {get: function () { reads += 1; return reads; }})",
    )
    .unwrap();
    assert_eq!(f.value("counted").unwrap(), json!(1));
    assert_eq!(f.value("reads").unwrap(), json!(1));
    // Read-only globals ignore the (sloppy) assignment, strict-only names are stored by the
    // fused assignment, and the strict setter still refuses them.
    f.assign("NaN", "1").unwrap();
    assert_eq!(f.value("NaN").unwrap(), Value::Null);
    f.data_expr("private", "1").unwrap();
    f.assign("private", "2").unwrap();
    assert_eq!(f.value("private").unwrap(), json!(2));
    let l = f.expr("private");
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    assert!(f.dm.assign_value(&l, &json!(3), cx).is_err());
    // A global lexical binding shadows the global object's property of the same name.
    f.data_expr("shadowed", "'property'").unwrap();
    assert_eq!(f.value("shadowed").unwrap(), json!("property"));
    f.script("let shadowed = 'lexical';").unwrap();
    assert_eq!(f.value("shadowed").unwrap(), json!("lexical"));
    f.assign("shadowed", "'assigned'").unwrap();
    assert_eq!(f.value("shadowed").unwrap(), json!("assigned"));
    assert_eq!(f.value("this.shadowed").unwrap(), json!("property"));
}

/// A session that ran no compiled code gives its context to the next session, which must not
/// see anything of it; any other context is dropped.
#[test]
fn contexts_are_reused_only_when_no_code_ran() {
    // Tests share threads: start from an empty pool.
    while spare::take().is_some() {}
    let fresh_export = Fixture::new().dm.export().unwrap();
    while spare::take().is_some() {}

    let mut f = Fixture::new();
    f.data_expr("kept", "'first session'").unwrap();
    f.data_expr("o", "({})").unwrap();
    assert_eq!(
        f.value("'#_scxml_' + _sessionid").unwrap(),
        json!("#_scxml_sess1")
    );
    f.dm.set_event(&Event::internal("e")).unwrap();
    drop(f);
    assert_eq!(spare::count(), 1);

    let mut g = Fixture::new();
    assert_eq!(spare::count(), 0);
    assert!(f_is_fresh(&mut g));
    assert_eq!(g.dm.export().unwrap(), fresh_export);
    // Compiled code taints the context: it is not kept.
    g.script("Array.prototype.extra = 1;").unwrap();
    drop(g);
    assert_eq!(spare::count(), 0);
    let mut h = Fixture::new();
    assert_eq!(h.value("typeof [].extra").unwrap(), json!("undefined"));
    // So does redefining a builtin global.
    h.data_expr("JSON", "null").unwrap();
    drop(h);
    while spare::take().is_some() {}
}

fn f_is_fresh(f: &mut Fixture) -> bool {
    f.value("typeof kept").unwrap() == json!("undefined")
        && f.value("typeof o").unwrap() == json!("undefined")
        && f.value("typeof _event").unwrap() == json!("undefined")
        && f.value("_sessionid").unwrap() == json!("sess1")
        && f.cond("In('s1')").unwrap()
}

/// A document whose top-level script declares `greet`, with the root's data `data`.
fn scripted_document(script: &str, data: Vec<(&str, &str)>) -> Arc<Document> {
    let mut doc = (*document(true)).clone();
    let expr = |id: u32, source: &str| Expr {
        id: ExprId(id),
        source: source.to_string(),
        pos: Pos::default(),
    };
    doc.scripts = vec![Executable::Script(expr(1000, script))];
    doc.states[0].data = data
        .into_iter()
        .enumerate()
        .map(|(i, (id, source))| Data {
            id: id.to_string(),
            init: DataInit::Expr(expr(1001 + i as u32, source)),
            pos: Pos::default(),
        })
        .collect();
    doc.expr_count = 2000;
    Arc::new(doc)
}

/// A session of `doc` as the interpreter starts one: data first, then the top-level script
/// (which a warm context skips).
fn scripted_session(doc: &Arc<Document>) -> Fixture {
    // Expression ids are the document's: two sessions' fixtures must not give one id to
    // different sources.
    let mut f = Fixture::with_doc(doc.clone());
    f.next_id = fresh_id_block();
    for data in &doc.states[0].data {
        let cx = EvalContext {
            doc: &f.doc,
            active: &f.active,
        };
        let _ = f.dm.init_data(data, cx);
    }
    let Executable::Script(script) = &doc.scripts[0] else {
        unreachable!()
    };
    let cx = EvalContext {
        doc: &f.doc,
        active: &f.active,
    };
    f.dm.execute_script(script, cx).unwrap();
    f
}

/// The first of 100 expression ids no other fixture of these tests uses.
fn fresh_id_block() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(2000);
    NEXT.fetch_add(100, std::sync::atomic::Ordering::Relaxed)
}

const GREET: &str = "function greet(n) { return 'hi ' + n + ' from ' + _sessionid; }";

/// Sessions of `doc` asked for a context before: the next one's is kept.
fn in_demand(doc: &Arc<Document>) -> &Arc<Document> {
    assert!(warm::take(doc).is_none());
    doc
}

/// The next session of a document gets the context of the last one, its script already run,
/// and sees nothing else of that session.
#[test]
fn warm_contexts_serve_the_next_session_of_the_document() {
    let doc = scripted_document(GREET, vec![("kept", "'first session'")]);
    // The first session of a document does not keep its context: it may be the only one.
    drop(scripted_session(&doc));
    assert_eq!(warm::count(), 0);
    let mut f = scripted_session(&doc);
    assert!(!f.dm.warm);
    assert_eq!(f.value("greet('a')").unwrap(), json!("hi a from sess1"));
    f.script("implicit = 5;").unwrap();
    f.dm.set_event(&Event::internal("e")).unwrap();
    let item = f.expr("item");
    f.dm.store_declaring(&item, JsValue::new(1)).unwrap();
    drop(f);
    assert_eq!(warm::count(), 1);

    let mut g = scripted_session(&doc);
    assert!(g.dm.warm);
    assert_eq!(warm::count(), 0);
    assert_eq!(g.value("kept"), Ok(json!("first session")));
    assert_eq!(g.value("greet('b')").unwrap(), json!("hi b from sess1"));
    assert!(f_is_fresh_but_kept(&mut g));
    drop(g);
    assert_eq!(warm::count(), 1);
    // Contexts nobody takes are dropped in time.
    warm::clear();
    assert_eq!(warm::count(), 0);
}

fn f_is_fresh_but_kept(f: &mut Fixture) -> bool {
    f.value("typeof implicit").unwrap() == json!("undefined")
        && f.value("typeof item").unwrap() == json!("undefined")
        && f.value("typeof _event").unwrap() == json!("undefined")
        && f.cond("In('s1')").unwrap()
}

/// A session that changed anything its document's script or the builtins left behind does
/// not give its context to the next one.
#[test]
fn warm_contexts_are_dropped_when_a_session_changed_shared_state() {
    let doc = scripted_document(GREET, vec![]);
    in_demand(&doc);
    for change in [
        "Array.prototype.extra = 1;",
        "Math.max = Math.min;",
        "greet = null;",
        "greet.cache = {};",
        "greet.prototype.x = 1;",
        "Object.freeze(JSON);",
        "Object.setPrototypeOf(Math, null);",
        "Object.getPrototypeOf([][Symbol.iterator]()).extra = 1;",
        "Object.getPrototypeOf(function* () {}).extra = 1;",
        "var declared = 1;",
        "let lexical = 1;",
        "Promise.resolve(1);",
    ] {
        let mut f = scripted_session(&doc);
        assert!(!f.dm.warm, "{change}: the pool was empty");
        f.script(change).unwrap();
        drop(f);
        assert_eq!(warm::count(), 0, "{change}: the context was kept");
    }
    // Unchanged, it is kept.
    drop(scripted_session(&doc));
    assert_eq!(warm::count(), 1);
    while warm::take(&doc).is_some() {}
}

/// A data expression naming a script's global would see it in a warm context (in a new one
/// the data come first): such a document's contexts are not kept.
#[test]
fn data_naming_a_script_global_keeps_contexts_cold() {
    let doc = scripted_document(GREET, vec![("early", "typeof greet")]);
    in_demand(&doc);
    let mut f = scripted_session(&doc);
    assert_eq!(f.value("early").unwrap(), json!("undefined"));
    drop(f);
    assert_eq!(warm::count(), 0);
}

/// A hibernated session restored into a warm context keeps the script's functions and gets
/// its data back.
#[test]
fn restoring_into_a_warm_context_keeps_the_scripts_functions() {
    let doc = scripted_document(GREET, vec![("count", "1")]);
    in_demand(&doc);
    let mut f = scripted_session(&doc);
    f.assign("count", "count + 1").unwrap();
    let snapshot = f.dm.export().unwrap();
    assert_eq!(snapshot["greet"], json!({ SCRIPT_KEY: true }));
    drop(f);
    assert_eq!(warm::count(), 1);

    let mut g = Fixture::with_doc(doc.clone());
    g.next_id = fresh_id_block();
    assert!(g.dm.warm);
    g.dm.import(&snapshot).unwrap();
    assert_eq!(g.value("count").unwrap(), json!(2));
    assert_eq!(g.value("greet('c')").unwrap(), json!("hi c from sess1"));
    drop(g);
    assert_eq!(warm::count(), 1);
    while warm::take(&doc).is_some() {}
}

/// A snapshot that names the scripts' functions restores into a new context too: the
/// scripts run again first, and the context may then be kept warm.
#[test]
fn restoring_into_a_new_context_runs_the_scripts_again() {
    let doc = scripted_document(GREET, vec![("count", "1")]);
    in_demand(&doc);
    let mut f = scripted_session(&doc);
    f.script("greet2 = function () { return 'replaced'; };")
        .unwrap();
    let snapshot = f.dm.export().unwrap();
    assert_eq!(snapshot["greet"], json!({ SCRIPT_KEY: true }));
    assert!(snapshot["greet2"][FUNCTION_KEY].is_string());
    drop(f);
    while warm::take(&doc).is_some() {}

    let mut g = Fixture::with_doc(doc.clone());
    g.next_id = fresh_id_block();
    assert!(!g.dm.warm);
    g.dm.import(&snapshot).unwrap();
    assert_eq!(g.value("greet('d')").unwrap(), json!("hi d from sess1"));
    assert_eq!(g.value("greet2()").unwrap(), json!("replaced"));
    assert_eq!(g.value("count").unwrap(), json!(1));
    drop(g);
    assert_eq!(warm::count(), 1);
    while warm::take(&doc).is_some() {}
}

/// State the fingerprint cannot see (a closure's variables, a Map's entries) can only come
/// from top-level scripts that do more than declare functions: their contexts are not kept.
#[test]
fn scripts_that_do_more_than_declare_functions_keep_contexts_cold() {
    for script in [
        "var next = (function () { var n = 0; return function () { n += 1; return n; }; })();",
        "var seen = new Map(); function mark(k) { seen.set(k, true); }",
        "function greet(n) { return n; } greet(1);",
    ] {
        let doc = scripted_document(script, vec![]);
        in_demand(&doc);
        drop(scripted_session(&doc));
        assert_eq!(warm::count(), 0, "{script}: the context was kept");
    }
    assert!(warm::declares_functions_only(
        "'use strict';\nfunction a() { return b(); }\n;function b() { return 1; }"
    ));
}
