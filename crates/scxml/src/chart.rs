//! A document's chart, for drawing: its states as a tree (compound, parallel, final, history,
//! with each compound state's initial targets) and its transitions (events, condition,
//! targets, type), each with the line and column it was written at.
//!
//! [`Chart::of`] reads it from a parsed [`Document`]; it serialises to the JSON a live view
//! draws from, and [`Chart::to_dot`] and [`Chart::to_mermaid`] write it as Graphviz DOT or
//! Mermaid `stateDiagram-v2` text (what `scxml export` prints).

use crate::model::{Document, EventDescriptor, HistoryKind, StateKind, TransitionKind};
use serde::Serialize;
use std::fmt::Write;

/// What kind of node a state is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A `<state>` without child states.
    Atomic,
    /// A `<state>` with child states.
    Compound,
    /// A `<parallel>`.
    Parallel,
    /// A `<final>`.
    Final,
    /// A shallow `<history>`.
    HistoryShallow,
    /// A deep `<history>`.
    HistoryDeep,
}

/// One state of the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartState {
    /// Its id (a generated `__state<N>` when the document gave none).
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// Its parent's id; `None` for top-level states.
    pub parent: Option<String>,
    /// Its child states' ids, in document order.
    pub children: Vec<String>,
    /// For a compound state, the states its initial transition enters (for a history state,
    /// its default transition's).
    pub initial: Vec<String>,
    /// Where it is written.
    pub line: u32,
    /// The column there.
    pub column: u32,
}

/// One transition of the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartTransition {
    /// Its index among the document's transitions, as traces name it.
    pub index: u32,
    /// The state it leaves from.
    pub source: String,
    /// The states it goes to; empty for a targetless transition.
    pub targets: Vec<String>,
    /// Its event descriptors as written (`error.*` is `error`); empty when eventless.
    pub events: Vec<String>,
    /// Its condition's text.
    pub cond: Option<String>,
    /// Whether it is an internal transition.
    pub internal: bool,
    /// Where it is written.
    pub line: u32,
    /// The column there.
    pub column: u32,
}

/// A document's chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// `<scxml name>`.
    pub name: Option<String>,
    /// The states the document starts in (the root's initial targets).
    pub initial: Vec<String>,
    /// Every state, in document order (parents before their children).
    pub states: Vec<ChartState>,
    /// Every transition a document writes, in document order (not the synthesized initial
    /// ones, which are [`ChartState::initial`]).
    pub transitions: Vec<ChartTransition>,
}

impl Chart {
    /// Reads the chart of a parsed document.
    pub fn of(doc: &Document) -> Chart {
        let id = |s: u32| doc.states[s as usize].id.clone();
        let targets_of = |t: Option<u32>| -> Vec<String> {
            t.map(|t| {
                doc.transitions[t as usize]
                    .targets
                    .iter()
                    .map(|&s| id(s))
                    .collect()
            })
            .unwrap_or_default()
        };
        let mut states = Vec::new();
        let mut transitions = Vec::new();
        for (index, state) in doc.states.iter().enumerate().skip(1) {
            let kind = match state.kind {
                StateKind::Atomic => NodeKind::Atomic,
                StateKind::Compound => NodeKind::Compound,
                StateKind::Parallel => NodeKind::Parallel,
                StateKind::Final => NodeKind::Final,
                StateKind::History(HistoryKind::Shallow) => NodeKind::HistoryShallow,
                StateKind::History(HistoryKind::Deep) => NodeKind::HistoryDeep,
            };
            states.push(ChartState {
                id: state.id.clone(),
                kind,
                parent: state.parent.filter(|&p| p != 0).map(id),
                children: state.children.iter().map(|&c| id(c)).collect(),
                initial: targets_of(state.initial),
                line: state.pos.line,
                column: state.pos.column,
            });
            for &t in &state.transitions {
                let tr = &doc.transitions[t as usize];
                transitions.push(ChartTransition {
                    index: t,
                    source: doc.states[index].id.clone(),
                    targets: tr.targets.iter().map(|&s| id(s)).collect(),
                    events: tr
                        .events
                        .iter()
                        .map(|e| match e {
                            EventDescriptor::Any => "*".to_string(),
                            EventDescriptor::Prefix(p) => p.clone(),
                        })
                        .collect(),
                    cond: tr.cond.as_ref().map(|c| c.source.clone()),
                    internal: tr.kind == TransitionKind::Internal,
                    line: tr.pos.line,
                    column: tr.pos.column,
                });
            }
        }
        transitions.sort_by_key(|t| t.index);
        Chart {
            name: doc.name.clone(),
            initial: targets_of(doc.states[0].initial),
            states,
            transitions,
        }
    }

    fn state(&self, id: &str) -> Option<(usize, &ChartState)> {
        self.states.iter().enumerate().find(|(_, s)| s.id == id)
    }

    fn top_level(&self) -> impl Iterator<Item = (usize, &ChartState)> {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.parent.is_none())
    }

    /// The chart as Graphviz DOT: compound and parallel states are clusters (parallel ones
    /// dashed), finals double circles, history states `H` / `H*`, each initial transition an
    /// arrow from a dot. Transitions from or to a cluster end at its border; targetless ones,
    /// which change no state, are left out of the drawing (the JSON has them).
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let title = self.name.as_deref().unwrap_or("scxml");
        let _ = writeln!(out, "digraph {} {{", quoted(title));
        out.push_str("  compound=true;\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
        out.push_str("  __start [shape=point, width=0.15];\n");
        for (index, _) in self.top_level() {
            self.dot_state(index, 1, &mut out);
        }
        for target in &self.initial {
            if let Some((t, _)) = self.state(target) {
                let _ = writeln!(out, "  __start -> {}{};", self.anchor(t), self.head(t));
            }
        }
        for tr in &self.transitions {
            let Some((s, _)) = self.state(&tr.source) else {
                continue;
            };
            let label = quoted(&label(tr));
            let style = if tr.internal { ", style=dashed" } else { "" };
            for target in &tr.targets {
                if let Some((t, _)) = self.state(target) {
                    let _ = writeln!(
                        out,
                        "  {} -> {} [label={label}{style}{}{}];",
                        self.anchor(s),
                        self.anchor(t),
                        self.tail(s),
                        self.head(t)
                    );
                }
            }
        }
        out.push_str("}\n");
        out
    }

    fn is_cluster(&self, index: usize) -> bool {
        matches!(
            self.states[index].kind,
            NodeKind::Compound | NodeKind::Parallel
        )
    }

    /// The node an edge to or from a state attaches to: the state's node, or a cluster's
    /// invisible anchor.
    fn anchor(&self, index: usize) -> String {
        if self.is_cluster(index) {
            format!("a{index}")
        } else {
            format!("s{index}")
        }
    }

    fn tail(&self, index: usize) -> String {
        if self.is_cluster(index) {
            format!(", ltail=cluster_{index}")
        } else {
            String::new()
        }
    }

    fn head(&self, index: usize) -> String {
        if self.is_cluster(index) {
            format!(", lhead=cluster_{index}")
        } else {
            String::new()
        }
    }

    fn dot_state(&self, index: usize, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let state = &self.states[index];
        let name = quoted(&state.id);
        match state.kind {
            NodeKind::Compound | NodeKind::Parallel => {
                let _ = writeln!(out, "{pad}subgraph cluster_{index} {{");
                let style = if state.kind == NodeKind::Parallel {
                    "rounded,dashed"
                } else {
                    "rounded"
                };
                let _ = writeln!(out, "{pad}  label={name}; style=\"{style}\";");
                let _ = writeln!(
                    out,
                    "{pad}  a{index} [shape=point, style=invis, width=0.01];"
                );
                if state.kind == NodeKind::Compound && !state.initial.is_empty() {
                    let _ = writeln!(out, "{pad}  i{index} [shape=point, width=0.12];");
                    for target in &state.initial {
                        if let Some((t, _)) = self.state(target) {
                            let _ = writeln!(
                                out,
                                "{pad}  i{index} -> {}{};",
                                self.anchor(t),
                                self.head(t)
                            );
                        }
                    }
                }
                for child in &state.children {
                    if let Some((c, _)) = self.state(child) {
                        self.dot_state(c, depth + 1, out);
                    }
                }
                let _ = writeln!(out, "{pad}}}");
            }
            NodeKind::Atomic => {
                let _ = writeln!(out, "{pad}s{index} [label={name}];");
            }
            NodeKind::Final => {
                let _ = writeln!(out, "{pad}s{index} [label={name}, shape=doublecircle];");
            }
            NodeKind::HistoryShallow | NodeKind::HistoryDeep => {
                let h = if state.kind == NodeKind::HistoryDeep {
                    "H*"
                } else {
                    "H"
                };
                let _ = writeln!(
                    out,
                    "{pad}s{index} [label=\"{h}\", shape=circle, tooltip={name}];"
                );
            }
        }
    }

    /// The chart as Mermaid `stateDiagram-v2`: states by alias (`s<N> : id`, since ids may hold
    /// characters Mermaid does not take), regions of a parallel state separated by `--`,
    /// finals leading to `[*]`, history states as `H` / `H*` notes; targetless transitions are
    /// left out, as in [`Chart::to_dot`].
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        for target in &self.initial {
            if let Some((t, _)) = self.state(target) {
                let _ = writeln!(out, "  [*] --> s{t}");
            }
        }
        for (index, _) in self.top_level() {
            self.mermaid_state(index, 1, &mut out);
        }
        for tr in &self.transitions {
            let Some((s, _)) = self.state(&tr.source) else {
                continue;
            };
            let label = mermaid_label(&label(tr));
            let targets = tr.targets.iter().filter_map(|t| self.state(t));
            for (t, _) in targets {
                if label.is_empty() {
                    let _ = writeln!(out, "  s{s} --> s{t}");
                } else {
                    let _ = writeln!(out, "  s{s} --> s{t} : {label}");
                }
            }
        }
        out
    }

    fn mermaid_state(&self, index: usize, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let state = &self.states[index];
        let name = mermaid_label(&state.id);
        match state.kind {
            NodeKind::Compound | NodeKind::Parallel => {
                let _ = writeln!(out, "{pad}state \"{name}\" as s{index} {{");
                for target in &state.initial {
                    if let Some((t, _)) = self.state(target) {
                        let _ = writeln!(out, "{pad}  [*] --> s{t}");
                    }
                }
                for (i, child) in state.children.iter().enumerate() {
                    if state.kind == NodeKind::Parallel && i > 0 {
                        let _ = writeln!(out, "{pad}  --");
                    }
                    if let Some((c, _)) = self.state(child) {
                        self.mermaid_state(c, depth + 1, out);
                    }
                }
                let _ = writeln!(out, "{pad}}}");
            }
            NodeKind::Atomic => {
                let _ = writeln!(out, "{pad}state \"{name}\" as s{index}");
            }
            NodeKind::Final => {
                let _ = writeln!(out, "{pad}state \"{name}\" as s{index}");
                let _ = writeln!(out, "{pad}s{index} --> [*]");
            }
            NodeKind::HistoryShallow | NodeKind::HistoryDeep => {
                let h = if state.kind == NodeKind::HistoryDeep {
                    "H*"
                } else {
                    "H"
                };
                let _ = writeln!(out, "{pad}state \"{h} ({name})\" as s{index}");
            }
        }
    }
}

/// `event1 event2 [cond]`, as an arrow's label.
fn label(tr: &ChartTransition) -> String {
    let mut label = tr.events.join(" ");
    if let Some(cond) = &tr.cond {
        if !label.is_empty() {
            label.push(' ');
        }
        let _ = write!(label, "[{cond}]");
    }
    label
}

/// A DOT string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text Mermaid shows as is: no quotes, colons, braces, semicolons or line breaks, which its
/// grammar would read.
fn mermaid_label(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            ':' | ';' | '{' | '}' | '\n' | '\r' => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_str;

    const DOC: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"
        datamodel="null" name="demo" initial="p">
      <parallel id="p">
        <state id="a" initial="a1">
          <state id="a1"><transition event="go error.*" cond="In('b')" target="a2"/></state>
          <state id="a2"/>
          <history id="h" type="deep"><transition target="a1"/></history>
        </state>
        <state id="b"><transition event="stay" type="internal"/></state>
        <transition event="done" target="end"/>
      </parallel>
      <final id="end"/>
    </scxml>"#;

    #[test]
    fn the_chart_has_the_tree_and_the_transitions_with_positions() {
        let doc = parse_str(DOC, "demo.scxml", None).unwrap();
        let chart = Chart::of(&doc);
        assert_eq!(chart.name.as_deref(), Some("demo"));
        assert_eq!(chart.initial, ["p"]);
        let kinds: Vec<(&str, NodeKind, Option<&str>)> = chart
            .states
            .iter()
            .map(|s| (s.id.as_str(), s.kind, s.parent.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("p", NodeKind::Parallel, None),
                ("a", NodeKind::Compound, Some("p")),
                ("a1", NodeKind::Atomic, Some("a")),
                ("a2", NodeKind::Atomic, Some("a")),
                ("h", NodeKind::HistoryDeep, Some("a")),
                ("b", NodeKind::Atomic, Some("p")),
                ("end", NodeKind::Final, None),
            ]
        );
        assert_eq!(chart.states[1].initial, ["a1"]);
        assert_eq!(chart.states[4].initial, ["a1"], "the history's default");
        let go = &chart.transitions[0];
        assert_eq!(
            (
                go.source.as_str(),
                go.events.clone(),
                go.cond.as_deref(),
                go.targets.clone()
            ),
            (
                "a1",
                vec!["go".to_string(), "error".to_string()],
                Some("In('b')"),
                vec!["a2".to_string()]
            )
        );
        assert_eq!(go.line, 5);
        let stay = chart.transitions.iter().find(|t| t.source == "b").unwrap();
        assert!(stay.internal && stay.targets.is_empty());
        let json = serde_json::to_value(&chart).unwrap();
        assert_eq!(json["states"][0]["kind"], "parallel");
        assert_eq!(json["states"][4]["kind"], "history_deep");
    }

    #[test]
    fn dot_and_mermaid_draw_every_state_and_transition() {
        let chart = Chart::of(&parse_str(DOC, "demo.scxml", None).unwrap());
        let dot = chart.to_dot();
        assert!(dot.starts_with("digraph \"demo\" {"), "{dot}");
        assert!(dot.contains("subgraph cluster_0 {"), "{dot}");
        assert!(
            dot.contains("style=\"rounded,dashed\""),
            "a parallel is dashed: {dot}"
        );
        assert!(
            dot.contains("s6 [label=\"end\", shape=doublecircle];"),
            "{dot}"
        );
        assert!(dot.contains("s4 [label=\"H*\""), "{dot}");
        assert!(
            dot.contains("s2 -> s3 [label=\"go error [In('b')]\"];"),
            "{dot}"
        );
        assert!(
            dot.contains("a0 -> s6 [label=\"done\", ltail=cluster_0];"),
            "{dot}"
        );
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());

        let mermaid = chart.to_mermaid();
        assert!(
            mermaid.starts_with("stateDiagram-v2\n  [*] --> s0\n"),
            "{mermaid}"
        );
        assert!(mermaid.contains("state \"p\" as s0 {"), "{mermaid}");
        assert!(
            mermaid.contains("\n    --\n"),
            "regions are separated: {mermaid}"
        );
        assert!(
            mermaid.contains("s2 --> s3 : go error [In('b')]"),
            "{mermaid}"
        );
        assert!(mermaid.contains("s6 --> [*]"), "{mermaid}");
        assert!(
            !mermaid.contains("stay"),
            "targetless ones are not drawn: {mermaid}"
        );
        assert!(!dot.contains("stay"), "{dot}");
    }
}
