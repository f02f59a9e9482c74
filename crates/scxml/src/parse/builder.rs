//! Builds a [`Document`] from the XML tree: states in document order, transitions, executable
//! content and expressions, recording every problem with its position instead of stopping.
//!
//! Building is two passes. The walk ([`Builder::build_state`] and the element functions)
//! creates states and transitions and remembers target names; [`Builder::link`] then resolves
//! targets and `initial` ids, checks the rules that need the whole tree (descendants, history
//! defaults) and precomputes each transition's domain.

use super::resolve::{self, FetchError, Resolver};
use super::xml::{Element, SCXML_NS};
use super::{parse_duration, Problem};
use crate::model::*;
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

/// Target names of one transition, resolved in [`Builder::link`].
struct PendingTargets {
    transition: TransitionId,
    names: Vec<String>,
    pos: Pos,
    /// What the targets must lie within, and how.
    rule: TargetRule,
}

#[derive(Clone, Copy)]
enum TargetRule {
    /// Any state of the document.
    Any,
    /// Proper descendants of this state (`initial` of a compound state).
    DescendantOf(StateId),
    /// A history state's default: children (shallow) or descendants (deep) of its parent.
    History(StateId, HistoryKind),
}

pub(crate) struct Builder<'a> {
    file: &'a str,
    source: &'a str,
    base: Option<&'a Url>,
    /// Reads every `src` the document names, and decides which it may name.
    resolver: &'a dyn Resolver,
    problems: &'a mut Vec<Problem>,
    states: Vec<State>,
    transitions: Vec<Transition>,
    pending: Vec<PendingTargets>,
    state_ids: HashMap<String, StateId>,
    expr_count: u32,
    reads_event: bool,
    /// What each `src` read, by URL (the document's `fetched`).
    fetched: std::cell::RefCell<Vec<(Url, Arc<str>)>>,
}

/// The children each state-like element may have.
const STATE_CHILDREN: &[&str] = &[
    "onentry",
    "onexit",
    "transition",
    "initial",
    "state",
    "parallel",
    "final",
    "history",
    "datamodel",
    "invoke",
];
const PARALLEL_CHILDREN: &[&str] = &[
    "onentry",
    "onexit",
    "transition",
    "state",
    "parallel",
    "history",
    "datamodel",
    "invoke",
];
const FINAL_CHILDREN: &[&str] = &["onentry", "onexit", "donedata"];
const ROOT_CHILDREN: &[&str] = &["state", "parallel", "final", "datamodel", "script"];

impl<'a> Builder<'a> {
    pub(crate) fn new(
        file: &'a str,
        source: &'a str,
        base: Option<&'a Url>,
        resolver: &'a dyn Resolver,
        problems: &'a mut Vec<Problem>,
    ) -> Builder<'a> {
        Builder {
            file,
            source,
            base,
            resolver,
            problems,
            states: Vec::new(),
            transitions: Vec::new(),
            pending: Vec::new(),
            state_ids: HashMap::new(),
            expr_count: 0,
            reads_event: false,
            fetched: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Reads a `src` reference, resolved against the document's URL, through the resolver.
    fn fetch_src(&self, reference: &str) -> Result<String, FetchError> {
        let url = resolve::resolve(reference, self.base).map_err(|reason| FetchError::Failed {
            url: reference.to_string(),
            reason: reason.to_string(),
        })?;
        let text = self.resolver.fetch(&url)?;
        let mut fetched = self.fetched.borrow_mut();
        if !fetched.iter().any(|(known, _)| *known == url) {
            fetched.push((url, Arc::from(text.as_str())));
        }
        Ok(text)
    }

    fn problem(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            pos,
            message: message.into(),
        });
    }

    /// Builds the document rooted at an `<scxml>` element.
    pub(crate) fn build_document(mut self, root: &Element) -> Document {
        if root.name != "scxml" || !is_scxml(root) {
            self.problem(
                root.pos,
                format!(
                    "the root element must be <scxml> in the namespace {SCXML_NS}, not <{}>",
                    root.name
                ),
            );
        }
        self.check_attrs(
            root,
            &[
                "version",
                "initial",
                "name",
                "datamodel",
                "binding",
                "exmode",
                "xmlns",
            ],
        );
        match root.attr("version") {
            None => self.problem(root.pos, "<scxml> needs version=\"1.0\""),
            Some(v) if v.value != "1.0" => self.problem(
                v.pos,
                format!("version must be \"1.0\", not \"{}\"", v.value),
            ),
            _ => {}
        }
        let datamodel = match root.attr("datamodel").map(|a| (a.value.as_str(), a.pos)) {
            #[cfg(feature = "ecmascript")]
            None | Some(("ecmascript", _)) => DatamodelKind::Ecmascript,
            #[cfg(not(feature = "ecmascript"))]
            None => DatamodelKind::Null,
            #[cfg(not(feature = "ecmascript"))]
            Some(("ecmascript", pos)) => {
                self.problem(
                    pos,
                    "datamodel \"ecmascript\" needs the `ecmascript` feature of the scxml crate",
                );
                DatamodelKind::Null
            }
            Some(("null", _)) => DatamodelKind::Null,
            Some((other, pos)) => {
                self.problem(
                    pos,
                    format!(
                        "datamodel \"{other}\" is not supported (use \"ecmascript\" or \"null\")"
                    ),
                );
                DatamodelKind::Ecmascript
            }
        };
        let binding = match root.attr("binding").map(|a| (a.value.as_str(), a.pos)) {
            None | Some(("early", _)) => Binding::Early,
            Some(("late", _)) => Binding::Late,
            Some((other, pos)) => {
                self.problem(
                    pos,
                    format!("binding must be \"early\" or \"late\", not \"{other}\""),
                );
                Binding::Early
            }
        };
        if let Some(a) = root.attr("exmode") {
            if a.value != "lax" && a.value != "strict" {
                self.problem(
                    a.pos,
                    format!("exmode must be \"lax\" or \"strict\", not \"{}\"", a.value),
                );
            }
        }
        self.push_state("__scxml".to_string(), StateKind::Compound, None, root.pos);
        let mut scripts = Vec::new();
        for child in scxml_children(root) {
            match child.name.as_str() {
                "state" | "parallel" | "final" => {
                    let s = self.build_state(child, ROOT);
                    self.states[ROOT as usize].children.push(s);
                }
                "datamodel" => {
                    let data = self.build_datamodel(child);
                    self.states[ROOT as usize].data.extend(data);
                }
                "script" => {
                    if let Some(script) = self.build_script(child) {
                        scripts.push(Executable::Script(script));
                    }
                }
                _ => self.misplaced(child, "scxml", ROOT_CHILDREN),
            }
        }
        self.states[ROOT as usize].subtree_end = self.states.len() as StateId;
        let initial_names = root.attr("initial").map(|a| (split_ids(&a.value), a.pos));
        if self.states[ROOT as usize].children.is_empty() {
            self.problem(root.pos, "<scxml> has no states");
        }
        let initial = self.initial_transition(ROOT, initial_names, None, root.pos);
        self.states[ROOT as usize].initial = initial;
        self.link();
        Document {
            name: root.attr("name").map(|a| a.value.clone()),
            datamodel,
            binding,
            base_url: self.base.cloned(),
            states: self.states,
            transitions: self.transitions,
            scripts,
            expr_count: self.expr_count,
            reads_event: self.reads_event,
            state_ids: self.state_ids,
            source: self.source.get(root.outer.clone()).map(Arc::from),
            fetched: self.fetched.take(),
        }
    }

    /// Builds a `<state>`, `<parallel>`, `<final>` or `<history>` and its subtree.
    fn build_state(&mut self, el: &Element, parent: StateId) -> StateId {
        let index = self.states.len() as StateId;
        let (kind, allowed_attrs, allowed_children): (StateKind, &[&str], &[&str]) =
            match el.name.as_str() {
                "state" => (StateKind::Atomic, &["id", "initial"], STATE_CHILDREN),
                "parallel" => (StateKind::Parallel, &["id"], PARALLEL_CHILDREN),
                "final" => (StateKind::Final, &["id"], FINAL_CHILDREN),
                _ => {
                    let kind = match el.attr("type").map(|a| (a.value.as_str(), a.pos)) {
                        None | Some(("shallow", _)) => HistoryKind::Shallow,
                        Some(("deep", _)) => HistoryKind::Deep,
                        Some((other, pos)) => {
                            self.problem(
                                pos,
                                format!(
                                    "history type must be \"shallow\" or \"deep\", not \"{other}\""
                                ),
                            );
                            HistoryKind::Shallow
                        }
                    };
                    (StateKind::History(kind), &["id", "type"], &["transition"])
                }
            };
        self.check_attrs(el, allowed_attrs);
        let id = match el.attr("id") {
            Some(a) if a.value.is_empty() => {
                self.problem(a.pos, "a state id must not be empty");
                format!("__state{index}")
            }
            Some(a) => {
                if let Some(&other) = self.state_ids.get(&a.value) {
                    let first = self.states[other as usize].pos;
                    self.problem(
                        a.pos,
                        format!("duplicate state id \"{}\" (first used at {first})", a.value),
                    );
                } else {
                    self.state_ids.insert(a.value.clone(), index);
                }
                a.value.clone()
            }
            None => format!("__state{index}"),
        };
        self.push_state(id, kind, Some(parent), el.pos);
        let mut initial_element: Option<&Element> = None;
        for child in scxml_children(el) {
            let name = child.name.as_str();
            if !allowed_children.contains(&name) {
                self.misplaced(child, &el.name, allowed_children);
                continue;
            }
            match name {
                "onentry" | "onexit" => {
                    self.check_attrs(child, &[]);
                    let block = self.build_block(child);
                    let st = &mut self.states[index as usize];
                    if name == "onentry" {
                        st.onentry.push(block);
                    } else {
                        st.onexit.push(block);
                    }
                }
                "transition" if matches!(kind, StateKind::History(_)) => {
                    if self.states[index as usize].initial.is_some() {
                        self.problem(
                            child.pos,
                            "a history state has exactly one default <transition>",
                        );
                        continue;
                    }
                    let StateKind::History(hk) = kind else {
                        unreachable!()
                    };
                    for attr in ["event", "cond"] {
                        if let Some(a) = child.attr(attr) {
                            self.problem(
                                a.pos,
                                format!(
                                    "a history state's default transition cannot have `{attr}`"
                                ),
                            );
                        }
                    }
                    let t = self.build_transition(child, index, TargetRule::History(parent, hk));
                    self.states[index as usize].initial = Some(t);
                }
                "transition" => {
                    let t = self.build_transition(child, index, TargetRule::Any);
                    self.states[index as usize].transitions.push(t);
                }
                "initial" => {
                    if initial_element.is_some() {
                        self.problem(child.pos, "a state has at most one <initial>");
                    }
                    initial_element = Some(child);
                }
                "state" | "parallel" | "final" | "history" => {
                    let s = self.build_state(child, index);
                    self.states[index as usize].children.push(s);
                }
                "datamodel" => {
                    let data = self.build_datamodel(child);
                    self.states[index as usize].data.extend(data);
                }
                "invoke" => {
                    if let Some(invoke) = self.build_invoke(child) {
                        self.states[index as usize].invokes.push(invoke);
                    }
                }
                "donedata" => {
                    if self.states[index as usize].donedata.is_some() {
                        self.problem(child.pos, "a final state has at most one <donedata>");
                    }
                    let dd = self.build_donedata(child);
                    self.states[index as usize].donedata = Some(dd);
                }
                _ => unreachable!("filtered by allowed_children"),
            }
        }
        self.states[index as usize].subtree_end = self.states.len() as StateId;
        let has_child_states = self.states[index as usize]
            .children
            .iter()
            .any(|&c| !self.states[c as usize].is_history());
        match kind {
            StateKind::Atomic if has_child_states => {
                self.states[index as usize].kind = StateKind::Compound;
                let names = el.attr("initial").map(|a| (split_ids(&a.value), a.pos));
                if let (Some(_), Some(ie)) = (&names, initial_element) {
                    self.problem(
                        ie.pos,
                        "a state cannot have both an initial attribute and an <initial> element",
                    );
                }
                let t = self.initial_transition(index, names, initial_element, el.pos);
                self.states[index as usize].initial = t;
            }
            StateKind::Atomic => {
                if let Some(a) = el.attr("initial") {
                    self.problem(
                        a.pos,
                        "an atomic state (no child states) cannot have `initial`",
                    );
                }
                if let Some(ie) = initial_element {
                    self.problem(
                        ie.pos,
                        "an atomic state (no child states) cannot have <initial>",
                    );
                }
            }
            StateKind::History(_) if self.states[index as usize].initial.is_none() => {
                self.problem(el.pos, "a history state needs a default <transition>");
            }
            _ => {}
        }
        index
    }

    /// Adds a state with no children or content yet; the walk fills it in.
    fn push_state(&mut self, id: String, kind: StateKind, parent: Option<StateId>, pos: Pos) {
        let index = self.states.len() as StateId;
        let depth = parent.map_or(0, |p| self.states[p as usize].depth + 1);
        self.states.push(State {
            id,
            kind,
            parent,
            children: Vec::new(),
            depth,
            subtree_end: index + 1,
            initial: None,
            transitions: Vec::new(),
            onentry: Vec::new(),
            onexit: Vec::new(),
            invokes: Vec::new(),
            data: Vec::new(),
            donedata: None,
            pos,
        });
    }

    /// The initial transition of a compound state (or the root): from `<initial>`, the
    /// `initial` attribute, or the first child state in document order.
    fn initial_transition(
        &mut self,
        state: StateId,
        names: Option<(Vec<String>, Pos)>,
        element: Option<&Element>,
        pos: Pos,
    ) -> Option<TransitionId> {
        let rule = TargetRule::DescendantOf(state);
        if let Some(ie) = element {
            self.check_attrs(ie, &["id"]);
            let transitions: Vec<&Element> = scxml_children(ie).collect();
            let mut result = None;
            for (i, child) in transitions.iter().enumerate() {
                if child.name != "transition" {
                    self.misplaced(child, "initial", &["transition"]);
                    continue;
                }
                if i > 0 || result.is_some() {
                    self.problem(child.pos, "<initial> holds exactly one <transition>");
                    continue;
                }
                for attr in ["event", "cond"] {
                    if let Some(a) = child.attr(attr) {
                        self.problem(
                            a.pos,
                            format!("the transition of <initial> cannot have `{attr}`"),
                        );
                    }
                }
                if child.attr("target").is_none() {
                    self.problem(child.pos, "the transition of <initial> needs a target");
                }
                result = Some(self.build_transition(child, state, rule));
            }
            if result.is_none() {
                self.problem(ie.pos, "<initial> needs a <transition>");
            }
            return result;
        }
        let t = self.transitions.len() as TransitionId;
        let (names, pos) = match names {
            Some((names, pos)) if !names.is_empty() => (names, pos),
            Some((_, pos)) => {
                self.problem(pos, "`initial` names no state");
                return None;
            }
            None => {
                let first = self.states[state as usize]
                    .children
                    .iter()
                    .copied()
                    .find(|&c| !self.states[c as usize].is_history())?;
                self.transitions.push(Transition {
                    source: state,
                    events: Vec::new(),
                    cond: None,
                    targets: vec![first],
                    kind: TransitionKind::External,
                    body: Vec::new(),
                    domain: Some(state),
                    pos,
                });
                return Some(t);
            }
        };
        self.transitions.push(Transition {
            source: state,
            events: Vec::new(),
            cond: None,
            targets: Vec::new(),
            kind: TransitionKind::External,
            body: Vec::new(),
            domain: Some(state),
            pos,
        });
        self.pending.push(PendingTargets {
            transition: t,
            names,
            pos,
            rule,
        });
        Some(t)
    }

    fn build_transition(
        &mut self,
        el: &Element,
        source: StateId,
        rule: TargetRule,
    ) -> TransitionId {
        self.check_attrs(el, &["event", "cond", "target", "type"]);
        let events = el
            .attr("event")
            .map(|a| {
                a.value
                    .split_whitespace()
                    .map(EventDescriptor::parse)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(a) = el.attr("event") {
            if a.value.trim().is_empty() {
                self.problem(
                    a.pos,
                    "`event` is empty (leave it out for an eventless transition)",
                );
            }
        }
        let cond = el.attr("cond").map(|a| self.expr(&a.value, a.pos));
        let kind = match el.attr("type").map(|a| (a.value.as_str(), a.pos)) {
            None | Some(("external", _)) => TransitionKind::External,
            Some(("internal", _)) => TransitionKind::Internal,
            Some((other, pos)) => {
                self.problem(
                    pos,
                    format!(
                        "transition type must be \"internal\" or \"external\", not \"{other}\""
                    ),
                );
                TransitionKind::External
            }
        };
        let body = self.build_block(el);
        let t = self.transitions.len() as TransitionId;
        self.transitions.push(Transition {
            source,
            events,
            cond,
            targets: Vec::new(),
            kind,
            body,
            domain: None,
            pos: el.pos,
        });
        if let Some(a) = el.attr("target") {
            let names = split_ids(&a.value);
            if names.is_empty() {
                self.problem(
                    a.pos,
                    "`target` is empty (leave it out for a targetless transition)",
                );
            } else {
                self.pending.push(PendingTargets {
                    transition: t,
                    names,
                    pos: a.pos,
                    rule,
                });
            }
        }
        t
    }

    /// Second pass: resolves target names, checks where they lie, computes transition domains.
    fn link(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let mut targets = Vec::with_capacity(p.names.len());
            for name in &p.names {
                let Some(&s) = self.state_ids.get(name) else {
                    self.problem(p.pos, format!("no state has the id \"{name}\""));
                    continue;
                };
                let ok = match p.rule {
                    TargetRule::Any => true,
                    TargetRule::DescendantOf(a) => is_descendant(&self.states, s, a),
                    TargetRule::History(parent, HistoryKind::Shallow) => {
                        self.states[s as usize].parent == Some(parent)
                    }
                    TargetRule::History(parent, HistoryKind::Deep) => {
                        is_descendant(&self.states, s, parent)
                    }
                };
                if !ok {
                    let message = match p.rule {
                        TargetRule::DescendantOf(a) => format!(
                            "initial state \"{name}\" is not a descendant of \"{}\"",
                            self.states[a as usize].id
                        ),
                        TargetRule::History(parent, HistoryKind::Shallow) => format!(
                            "the default of a shallow history must be a child of \"{}\", and \"{name}\" is not",
                            self.states[parent as usize].id
                        ),
                        _ => format!("the default of a deep history must be a descendant of its parent, and \"{name}\" is not"),
                    };
                    self.problem(p.pos, message);
                    continue;
                }
                if targets.contains(&s) {
                    self.problem(p.pos, format!("\"{name}\" is named twice"));
                    continue;
                }
                targets.push(s);
            }
            self.transitions[p.transition as usize].targets = targets;
        }
        for t in 0..self.transitions.len() {
            let tr = &self.transitions[t];
            let source = &self.states[tr.source as usize];
            if source.is_history() || source.initial == Some(t as TransitionId) {
                // Initial and history default transitions enter below their state.
                let domain = if source.is_history() {
                    source.parent
                } else {
                    Some(tr.source)
                };
                self.transitions[t].domain = domain;
                continue;
            }
            self.transitions[t].domain = transition_domain(&self.states, tr);
        }
    }

    /// A `<datamodel>` element's `<data>` children.
    fn build_datamodel(&mut self, el: &Element) -> Vec<Data> {
        self.check_attrs(el, &[]);
        let mut out = Vec::new();
        for child in scxml_children(el) {
            if child.name != "data" {
                self.misplaced(child, "datamodel", &["data"]);
                continue;
            }
            self.check_attrs(child, &["id", "src", "expr"]);
            let Some(id) = self.required(child, "id") else {
                continue;
            };
            let src = child.attr("src");
            let expr = child.attr("expr");
            let has_content = child.has_content();
            if [src.is_some(), expr.is_some(), has_content]
                .iter()
                .filter(|&&b| b)
                .count()
                > 1
            {
                self.problem(
                    child.pos,
                    "<data> takes at most one of `src`, `expr` and inline content",
                );
            }
            let init = if let Some(e) = expr {
                DataInit::Expr(self.expr(&e.value, e.pos))
            } else if let Some(s) = src {
                match self.fetch_src(&s.value) {
                    Ok(text) => DataInit::Text(text),
                    // A refused URL makes the document invalid: its author must know, and
                    // the session must not start with the datum silently missing.
                    Err(e) if e.is_refusal() => {
                        self.problem(s.pos, format!("data src: {e}"));
                        DataInit::Unavailable(e.to_string())
                    }
                    Err(e) => DataInit::Unavailable(e.to_string()),
                }
            } else if has_content {
                DataInit::Text(self.inline_content(child))
            } else {
                DataInit::None
            };
            out.push(Data {
                id,
                init,
                pos: child.pos,
            });
        }
        out
    }

    /// `<script>`: inline source, or `src` fetched now; a script that cannot be fetched makes
    /// the document invalid (SCXML 5.8).
    fn build_script(&mut self, el: &Element) -> Option<Expr> {
        self.check_attrs(el, &["src"]);
        if el.has_element_children() {
            self.problem(el.pos, "<script> holds text, not elements");
        }
        match el.attr("src") {
            Some(src) => {
                if el.has_content() {
                    self.problem(el.pos, "<script> takes `src` or inline text, not both");
                }
                match self.fetch_src(&src.value) {
                    Ok(text) => Some(self.expr(&text, el.pos)),
                    Err(reason) => {
                        self.problem(src.pos, format!("script src: {reason}"));
                        None
                    }
                }
            }
            None => Some(self.expr(&el.text(), el.pos)),
        }
    }

    /// A block of executable content: the children of `<onentry>`, `<transition>`, ...
    fn build_block(&mut self, parent: &Element) -> Block {
        let mut block = Vec::new();
        for child in scxml_children(parent) {
            if let Some(e) = self.build_executable(child, &parent.name) {
                block.push(e);
            }
        }
        block
    }

    fn build_executable(&mut self, el: &Element, parent: &str) -> Option<Executable> {
        let pos = el.pos;
        let e = match el.name.as_str() {
            "raise" => {
                self.check_attrs(el, &["event"]);
                self.no_children(el);
                Executable::Raise {
                    event: self.required(el, "event")?,
                    pos,
                }
            }
            "log" => {
                self.check_attrs(el, &["label", "expr"]);
                self.no_children(el);
                Executable::Log {
                    label: el.attr("label").map(|a| a.value.clone()),
                    expr: el.attr("expr").map(|a| self.expr(&a.value, a.pos)),
                    pos,
                }
            }
            "assign" => {
                self.check_attrs(el, &["location", "expr"]);
                let location = el.attr("location").map(|a| self.expr(&a.value, a.pos));
                let value = match (el.attr("expr"), el.has_content()) {
                    (Some(_), true) => {
                        self.problem(pos, "<assign> takes `expr` or inline content, not both");
                        return None;
                    }
                    (Some(e), false) => AssignValue::Expr(self.expr(&e.value, e.pos)),
                    (None, _) => AssignValue::Inline(self.inline_content(el)),
                };
                let Some(location) = location else {
                    self.problem(pos, "<assign> needs a `location`");
                    return None;
                };
                Executable::Assign {
                    location,
                    value,
                    pos,
                }
            }
            "script" => Executable::Script(self.build_script(el)?),
            "if" => self.build_if(el)?,
            "elseif" | "else" => {
                self.problem(pos, format!("<{}> must be directly inside <if>", el.name));
                return None;
            }
            "foreach" => {
                self.check_attrs(el, &["array", "item", "index"]);
                let array = el.attr("array").map(|a| self.expr(&a.value, a.pos));
                let item = el.attr("item").map(|a| self.expr(&a.value, a.pos));
                let index = el.attr("index").map(|a| self.expr(&a.value, a.pos));
                let body = self.build_block(el);
                let (Some(array), Some(item)) = (array, item) else {
                    self.problem(pos, "<foreach> needs `array` and `item`");
                    return None;
                };
                Executable::Foreach {
                    array,
                    item,
                    index,
                    body,
                    pos,
                }
            }
            "send" => Executable::Send(Box::new(self.build_send(el)?)),
            "cancel" => {
                self.check_attrs(el, &["sendid", "sendidexpr"]);
                self.no_children(el);
                Executable::Cancel {
                    sendid: self.literal_or_expr(el, "sendid", "sendidexpr", true)??,
                    pos,
                }
            }
            _ => {
                self.misplaced(
                    el,
                    parent,
                    &[
                        "raise", "log", "assign", "script", "if", "foreach", "send", "cancel",
                    ],
                );
                return None;
            }
        };
        Some(e)
    }

    fn build_if(&mut self, el: &Element) -> Option<Executable> {
        self.check_attrs(el, &["cond"]);
        let cond = el.attr("cond").map(|a| self.expr(&a.value, a.pos));
        if cond.is_none() {
            self.problem(el.pos, "<if> needs a `cond`");
        }
        let mut branches = vec![Branch {
            cond,
            body: Vec::new(),
        }];
        let mut seen_else = false;
        for child in scxml_children(el) {
            match child.name.as_str() {
                "elseif" | "else" => {
                    if seen_else {
                        self.problem(child.pos, format!("<{}> after <else>", child.name));
                    }
                    self.no_children(child);
                    let cond = if child.name == "elseif" {
                        self.check_attrs(child, &["cond"]);
                        let c = child.attr("cond").map(|a| self.expr(&a.value, a.pos));
                        if c.is_none() {
                            self.problem(child.pos, "<elseif> needs a `cond`");
                        }
                        c
                    } else {
                        self.check_attrs(child, &[]);
                        seen_else = true;
                        None
                    };
                    branches.push(Branch {
                        cond,
                        body: Vec::new(),
                    });
                }
                _ => {
                    if let Some(e) = self.build_executable(child, "if") {
                        branches
                            .last_mut()
                            .expect("one branch at least")
                            .body
                            .push(e);
                    }
                }
            }
        }
        Some(Executable::If {
            branches,
            pos: el.pos,
        })
    }

    fn build_send(&mut self, el: &Element) -> Option<Send> {
        self.check_attrs(
            el,
            &[
                "event",
                "eventexpr",
                "target",
                "targetexpr",
                "type",
                "typeexpr",
                "id",
                "idlocation",
                "delay",
                "delayexpr",
                "namelist",
            ],
        );
        let event = self.literal_or_expr(el, "event", "eventexpr", false);
        let target = self.literal_or_expr(el, "target", "targetexpr", false);
        let type_ = self.literal_or_expr(el, "type", "typeexpr", false);
        if el.attr("id").is_some() && el.attr("idlocation").is_some() {
            self.problem(el.pos, "<send> takes `id` or `idlocation`, not both");
        }
        let delay = match (el.attr("delay"), el.attr("delayexpr")) {
            (Some(_), Some(_)) => {
                self.problem(el.pos, "<send> takes `delay` or `delayexpr`, not both");
                None
            }
            (Some(d), None) => match parse_duration(&d.value) {
                Some(duration) => Some(Delay::Fixed(duration)),
                None => {
                    self.problem(
                        d.pos,
                        format!(
                            "delay \"{}\" is not a CSS2 time (like 2s, 1.5s or 500ms)",
                            d.value
                        ),
                    );
                    None
                }
            },
            (None, Some(e)) => Some(Delay::Expr(self.expr(&e.value, e.pos))),
            (None, None) => None,
        };
        if delay.is_some() {
            if let Some(Some(AttrValue::Literal(t))) = target.as_ref().map(Option::as_ref) {
                if t == "#_internal" {
                    self.problem(el.pos, "a <send> to #_internal cannot be delayed");
                }
            }
        }
        let namelist = self.namelist(el);
        let (params, content) = self.params_and_content(el, "send", false);
        if content.is_some() && (!params.is_empty() || !namelist.is_empty()) {
            self.problem(
                el.pos,
                "<send> takes <content>, or `namelist` and <param>s, not both",
            );
        }
        Some(Send {
            event: event.flatten(),
            target: target.flatten(),
            type_: type_.flatten(),
            id: el.attr("id").map(|a| a.value.clone()),
            idlocation: el.attr("idlocation").map(|a| self.expr(&a.value, a.pos)),
            delay,
            namelist,
            params,
            content,
            pos: el.pos,
        })
    }

    fn build_invoke(&mut self, el: &Element) -> Option<Invoke> {
        self.check_attrs(
            el,
            &[
                "type",
                "typeexpr",
                "src",
                "srcexpr",
                "id",
                "idlocation",
                "namelist",
                "autoforward",
            ],
        );
        let type_ = self
            .literal_or_expr(el, "type", "typeexpr", false)
            .flatten();
        let src = self.literal_or_expr(el, "src", "srcexpr", false).flatten();
        if let (Some(AttrValue::Literal(reference)), Some(attr)) = (&src, el.attr("src")) {
            // Fetched when the invocation starts; refused now if the resolver never would.
            let checked = resolve::resolve(reference, self.base)
                .map_err(|reason| FetchError::Failed {
                    url: reference.clone(),
                    reason: reason.to_string(),
                })
                .and_then(|url| self.resolver.permits(&url));
            if let Err(e) = checked {
                if e.is_refusal() {
                    self.problem(attr.pos, format!("invoke src: {e}"));
                }
            }
        }
        if el.attr("id").is_some() && el.attr("idlocation").is_some() {
            self.problem(el.pos, "<invoke> takes `id` or `idlocation`, not both");
        }
        let autoforward = match el.attr("autoforward").map(|a| (a.value.as_str(), a.pos)) {
            None | Some(("false", _)) => false,
            Some(("true", _)) => true,
            Some((other, pos)) => {
                self.problem(
                    pos,
                    format!("autoforward must be \"true\" or \"false\", not \"{other}\""),
                );
                false
            }
        };
        let namelist = self.namelist(el);
        let (params, content) = self.params_and_content(el, "invoke", true);
        if src.is_some() && content.is_some() {
            self.problem(
                el.pos,
                "<invoke> takes `src`/`srcexpr` or <content>, not both",
            );
        }
        if !namelist.is_empty() && !params.is_empty() {
            self.problem(el.pos, "<invoke> takes `namelist` or <param>s, not both");
        }
        let mut finalize = Vec::new();
        let mut finalize_seen = false;
        for child in scxml_children(el) {
            if child.name == "finalize" {
                if finalize_seen {
                    self.problem(child.pos, "<invoke> has at most one <finalize>");
                }
                finalize_seen = true;
                self.check_attrs(child, &[]);
                finalize = self.build_block(child);
            }
        }
        Some(Invoke {
            type_,
            src,
            id: el.attr("id").map(|a| a.value.clone()),
            idlocation: el.attr("idlocation").map(|a| self.expr(&a.value, a.pos)),
            namelist,
            autoforward,
            params,
            content,
            finalize,
            pos: el.pos,
        })
    }

    fn build_donedata(&mut self, el: &Element) -> DoneData {
        self.check_attrs(el, &[]);
        let (params, content) = self.params_and_content(el, "donedata", false);
        if content.is_some() && !params.is_empty() {
            self.problem(
                el.pos,
                "<donedata> takes one <content> or <param>s, not both",
            );
        }
        DoneData { content, params }
    }

    /// The `<param>` and `<content>` children of `<send>`, `<invoke>` or `<donedata>`; other
    /// children are reported unless `<invoke>`'s `<finalize>`.
    fn params_and_content(
        &mut self,
        el: &Element,
        parent: &str,
        in_invoke: bool,
    ) -> (Vec<Param>, Option<Content>) {
        let mut params = Vec::new();
        let mut content = None;
        for child in scxml_children(el) {
            match child.name.as_str() {
                "param" => {
                    self.check_attrs(child, &["name", "expr", "location"]);
                    self.no_children(child);
                    let Some(name) = self.required(child, "name") else {
                        continue;
                    };
                    let expr = match (child.attr("expr"), child.attr("location")) {
                        (Some(_), Some(_)) => {
                            self.problem(child.pos, "<param> takes `expr` or `location`, not both");
                            continue;
                        }
                        (Some(a), None) | (None, Some(a)) => self.expr(&a.value, a.pos),
                        (None, None) => {
                            self.problem(child.pos, "<param> needs `expr` or `location`");
                            continue;
                        }
                    };
                    params.push(Param {
                        name,
                        expr,
                        pos: child.pos,
                    });
                }
                "content" => {
                    if content.is_some() {
                        self.problem(child.pos, format!("<{parent}> has at most one <content>"));
                    }
                    content = self.build_content(child, in_invoke);
                }
                "finalize" if in_invoke => {}
                _ => {
                    let allowed: &[&str] = if in_invoke {
                        &["param", "content", "finalize"]
                    } else {
                        &["param", "content"]
                    };
                    self.misplaced(child, parent, allowed);
                }
            }
        }
        (params, content)
    }

    fn build_content(&mut self, el: &Element, in_invoke: bool) -> Option<Content> {
        self.check_attrs(el, &["expr"]);
        if let Some(e) = el.attr("expr") {
            if el.has_content() {
                self.problem(el.pos, "<content> takes `expr` or inline content, not both");
            }
            return Some(Content::Expr(self.expr(&e.value, e.pos)));
        }
        let nested = el.elements().find(|c| c.name == "scxml" && is_scxml(c));
        if let (true, Some(doc)) = (in_invoke, nested) {
            if el.elements().count() > 1 {
                self.problem(el.pos, "<content> holds one <scxml> document");
            }
            let child = Builder::new(
                self.file,
                self.source,
                self.base,
                self.resolver,
                self.problems,
            )
            .build_document(doc);
            return Some(Content::Document(Arc::new(child)));
        }
        Some(Content::Inline(self.inline_content(el)))
    }

    /// Inline children as the datamodel sees them: markup as its source text, or the text.
    fn inline_content(&self, el: &Element) -> String {
        if el.has_element_children() {
            self.source
                .get(el.inner.clone())
                .unwrap_or_default()
                .to_string()
        } else {
            el.text()
        }
    }

    fn namelist(&mut self, el: &Element) -> Vec<Expr> {
        match el.attr("namelist") {
            Some(a) => {
                let names: Vec<String> = a.value.split_whitespace().map(str::to_string).collect();
                names.iter().map(|n| self.expr(n, a.pos)).collect()
            }
            None => Vec::new(),
        }
    }

    /// `attr` or `attrexpr`: `None` when both are given (reported), `Some(None)` when
    /// neither is (reported when `required`).
    fn literal_or_expr(
        &mut self,
        el: &Element,
        literal: &str,
        expr: &str,
        required: bool,
    ) -> Option<Option<AttrValue>> {
        match (el.attr(literal), el.attr(expr)) {
            (Some(_), Some(_)) => {
                self.problem(
                    el.pos,
                    format!("<{}> takes `{literal}` or `{expr}`, not both", el.name),
                );
                None
            }
            (Some(l), None) => Some(Some(AttrValue::Literal(l.value.clone()))),
            (None, Some(e)) => Some(Some(AttrValue::Expr(self.expr(&e.value, e.pos)))),
            (None, None) if required => {
                self.problem(
                    el.pos,
                    format!("<{}> needs `{literal}` or `{expr}`", el.name),
                );
                None
            }
            (None, None) => Some(None),
        }
    }

    fn expr(&mut self, source: &str, pos: Pos) -> Expr {
        let id = ExprId(self.expr_count);
        self.expr_count += 1;
        if source.contains("_event") {
            self.reads_event = true;
        }
        Expr {
            id,
            source: source.to_string(),
            pos,
        }
    }

    fn required(&mut self, el: &Element, name: &str) -> Option<String> {
        match el.attr(name) {
            Some(a) => Some(a.value.clone()),
            None => {
                self.problem(el.pos, format!("<{}> needs `{name}`", el.name));
                None
            }
        }
    }

    /// Reports unprefixed attributes that the element does not have. Namespaced attributes
    /// (`xmlns:*`, `conf:*`) belong to other vocabularies and are left alone.
    fn check_attrs(&mut self, el: &Element, allowed: &[&str]) {
        for a in &el.attrs {
            if a.name.contains(':') || a.name == "xmlns" || allowed.contains(&a.name.as_str()) {
                continue;
            }
            self.problem(
                a.pos,
                format!("<{}> has no attribute `{}`", el.name, a.name),
            );
        }
    }

    fn no_children(&mut self, el: &Element) {
        if let Some(child) = scxml_children(el).next() {
            self.problem(
                child.pos,
                format!("<{}> cannot contain <{}>", el.name, child.name),
            );
        }
    }

    fn misplaced(&mut self, el: &Element, parent: &str, allowed: &[&str]) {
        let known = KNOWN_ELEMENTS.contains(&el.name.as_str());
        let message = if known {
            format!(
                "<{}> cannot appear inside <{parent}> (allowed: {})",
                el.name,
                list(allowed)
            )
        } else {
            format!(
                "unknown element <{}> inside <{parent}> (allowed: {})",
                el.name,
                list(allowed)
            )
        };
        self.problem(el.pos, message);
    }
}

const KNOWN_ELEMENTS: &[&str] = &[
    "scxml",
    "state",
    "parallel",
    "transition",
    "initial",
    "final",
    "onentry",
    "onexit",
    "history",
    "raise",
    "if",
    "elseif",
    "else",
    "foreach",
    "log",
    "datamodel",
    "data",
    "assign",
    "donedata",
    "content",
    "param",
    "script",
    "send",
    "cancel",
    "invoke",
    "finalize",
];

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "nothing".to_string();
    }
    names
        .iter()
        .map(|n| format!("<{n}>"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True for elements in the SCXML namespace, or in no namespace at all (documents that leave
/// out `xmlns` are read as SCXML).
fn is_scxml(el: &Element) -> bool {
    matches!(el.namespace.as_deref(), None | Some(SCXML_NS))
}

/// The SCXML children of an element; elements of other namespaces are extensions and are
/// skipped.
fn scxml_children(el: &Element) -> impl Iterator<Item = &Element> {
    el.elements().filter(|c| is_scxml(c))
}

fn split_ids(value: &str) -> Vec<String> {
    value.split_whitespace().map(str::to_string).collect()
}

fn is_descendant(states: &[State], s: StateId, ancestor: StateId) -> bool {
    s > ancestor && s < states[ancestor as usize].subtree_end
}

/// `getTransitionDomain` for the targets as written (history targets are refined at run time
/// by the interpreter).
fn transition_domain(states: &[State], t: &Transition) -> Option<StateId> {
    if t.targets.is_empty() {
        return None;
    }
    let source = t.source;
    if t.kind == TransitionKind::Internal
        && states[source as usize].kind == StateKind::Compound
        && t.targets.iter().all(|&s| is_descendant(states, s, source))
    {
        return Some(source);
    }
    let mut ancestor = states[source as usize].parent;
    while let Some(a) = ancestor {
        let st = &states[a as usize];
        if (a == ROOT || st.kind == StateKind::Compound)
            && t.targets.iter().all(|&s| is_descendant(states, s, a))
        {
            return Some(a);
        }
        ancestor = st.parent;
    }
    Some(ROOT)
}
