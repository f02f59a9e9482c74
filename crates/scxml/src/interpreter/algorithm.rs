//! The procedures of SCXML Appendix D, named as the spec names them.
//!
//! Sets are bitsets over document-ordered state indices, so "sort by document order" is
//! ascending iteration and "exit order" is descending. The descendants of a state are the
//! index range `(state, subtree_end)`, so `isDescendant` and "any state to enter below this
//! child" are range checks.

use super::{error_data, Event, EventType, Failure, Host, Interpreter};
use crate::datamodel::EvalContext;
use crate::datamodel::HaltedDatamodel;
use crate::model::{Document, HistoryKind, StateId, StateKind, TransitionId, ROOT};
use serde_json::Value;

/// How many of a macrostep's error events [`Interpreter::macrostep_errors`] keeps.
const MACROSTEP_ERRORS_KEPT: usize = 16;

/// How many of a macrostep's transitions [`Interpreter::macrostep_transitions`] keeps.
const MACROSTEP_TRANSITIONS_KEPT: usize = 64;

impl Interpreter {
    /// The body of `mainEventLoop` up to the point where it would block on the external
    /// queue: eventless transitions and internal events until stable, then the invocations of
    /// the states entered, repeated while that raised internal events.
    pub(super) fn main_event_loop(&mut self, host: &mut dyn Host) {
        while self.running {
            let mut macrostep_done = false;
            while self.running && !macrostep_done {
                self.select_eventless_transitions();
                if self.scratch.enabled.is_empty() {
                    match self.internal_queue.pop_front() {
                        None => macrostep_done = true,
                        Some(internal_event) => {
                            self.set_event(&internal_event, host);
                            self.select_transitions(&internal_event, host);
                        }
                    }
                }
                if !self.scratch.enabled.is_empty() {
                    let enabled = std::mem::take(&mut self.scratch.enabled);
                    self.microstep(&enabled, host);
                    self.scratch.enabled = enabled;
                    if let Some(failure) = self.count_microstep() {
                        self.fail(failure, host);
                        return;
                    }
                    if let Some(budget) = &mut self.microstep_budget {
                        *budget = budget.saturating_sub(1);
                        if *budget == 0 {
                            return;
                        }
                    }
                }
            }
            if !self.running {
                break;
            }
            if let Some(failure) = self.check_limits() {
                // internal events were dropped past the limit before any microstep ran
                self.fail(failure, host);
                return;
            }
            self.stats.macrosteps += 1;
            if self.has_invokes {
                self.start_invokes(host);
            }
            if self.internal_queue.is_empty() {
                return;
            }
        }
        self.exit_interpreter(host);
    }

    /// The part of `mainEventLoop` after an external event is dequeued.
    pub(super) fn process_external_event(&mut self, event: Event, host: &mut dyn Host) {
        self.set_event(&event, host);
        if !self.invokes.is_empty() {
            let invokes = self.invokes.clone();
            for inv in &invokes {
                if event.invokeid.as_deref() == Some(inv.invokeid.as_str()) {
                    self.apply_finalize(inv.state, inv.index, host);
                }
                if inv.autoforward {
                    host.forward(&inv.invokeid, &event);
                }
            }
        }
        self.select_transitions(&event, host);
        if !self.scratch.enabled.is_empty() {
            let enabled = std::mem::take(&mut self.scratch.enabled);
            self.microstep(&enabled, host);
            self.scratch.enabled = enabled;
            if let Some(failure) = self.count_microstep() {
                self.fail(failure, host);
            }
        }
    }

    /// A macrostep begins (the session starts, or an external event arrives): its counts
    /// against [`SessionOptions::limits`](super::SessionOptions::limits) start from zero.
    pub(super) fn begin_macrostep(&mut self) {
        self.macrostep_microsteps = 0;
        self.macrostep_internal_events = 0;
        self.macrostep_errors.clear();
        self.macrostep_transitions.clear();
    }

    /// Counts a microstep; the failure when the macrostep has now done too much.
    fn count_microstep(&mut self) -> Option<Failure> {
        self.macrostep_microsteps += 1;
        self.check_limits()
    }

    /// The failure when the current macrostep has crossed one of its limits.
    fn check_limits(&self) -> Option<Failure> {
        let limits = self.options.limits;
        if let Some(limit) = limits.microsteps_per_macrostep {
            if self.macrostep_microsteps > limit {
                return Some(Failure::TooManyMicrosteps { limit });
            }
        }
        if let Some(limit) = limits.internal_events_per_macrostep {
            if self.macrostep_internal_events > limit {
                return Some(Failure::TooManyInternalEvents { limit });
            }
        }
        None
    }

    fn set_event(&mut self, event: &Event, host: &mut dyn Host) {
        if let Err(e) = self.dm.set_event(event) {
            self.raise_error("error.execution", e.message, host);
        }
    }

    /// `exitInterpreter`: exits every active state (onexit, cancel invocations) and, when
    /// the session ended in a top-level final state, reports done with its donedata.
    pub(super) fn exit_interpreter(&mut self, host: &mut dyn Host) {
        self.final_configuration = self.configuration.iter().collect();
        let states_to_exit: Vec<StateId> = self.final_configuration.iter().rev().copied().collect();
        let doc = self.doc.clone();
        let mut done: Option<Option<Value>> = None;
        for s in states_to_exit {
            let state = doc.state(s);
            for block in &state.onexit {
                self.execute_block(block, host);
            }
            self.cancel_invokes_of(s, host);
            self.configuration.remove(s);
            if state.is_final() && state.parent == Some(ROOT) {
                self.final_state = Some(s);
                done = Some(self.evaluate_donedata(s, host));
            }
        }
        if let Some(donedata) = done {
            host.done(donedata);
        }
        self.retire_datamodel();
    }

    /// Replaces the datamodel of a halted session by its exported variables, releasing its
    /// engine (see [`crate::datamodel::halted`]). A datamodel that cannot be exported is kept
    /// as it is, so that its export keeps failing the way it did.
    pub(super) fn retire_datamodel(&mut self) {
        if let Ok(variables) = self.dm.export() {
            self.dm = Box::new(HaltedDatamodel::new(variables));
        }
    }

    /// `selectEventlessTransitions`, into `scratch.enabled`.
    fn select_eventless_transitions(&mut self) {
        self.select_enabled(None);
    }

    /// `selectTransitions(event)`, into `scratch.enabled`.
    fn select_transitions(&mut self, event: &Event, _host: &mut dyn Host) {
        self.select_enabled(Some(&event.name));
    }

    /// The body shared by both selections: for each active atomic state in document order,
    /// the first transition of it or its nearest ancestor that matches (eventless ones for
    /// `None`, those whose descriptors match the event otherwise) and whose condition holds;
    /// then `removeConflictingTransitions`.
    fn select_enabled(&mut self, event: Option<&str>) {
        self.scratch.enabled.clear();
        self.collect_atomic_states();
        let doc = self.doc.clone();
        let atomic = std::mem::take(&mut self.scratch.atomic);
        for &state in &atomic {
            'ancestors: for s in std::iter::once(state).chain(doc.proper_ancestors(state)) {
                for &t in &doc.state(s).transitions {
                    let tr = doc.transition(t);
                    let selected = match event {
                        None => tr.is_eventless(),
                        Some(name) => !tr.is_eventless() && tr.matches(name),
                    };
                    if selected && self.condition_match(t) {
                        // An ordered set: regions of a parallel state share ancestors.
                        if !self.scratch.enabled.contains(&t) {
                            self.scratch.enabled.push(t);
                        }
                        break 'ancestors;
                    }
                }
            }
        }
        self.scratch.atomic = atomic;
        self.remove_conflicting_transitions();
    }

    /// The active atomic states in document order, into `scratch.atomic`.
    fn collect_atomic_states(&mut self) {
        self.scratch.atomic.clear();
        let doc = &self.doc;
        self.scratch.atomic.extend(
            self.configuration
                .iter()
                .filter(|&s| doc.states[s as usize].is_atomic()),
        );
    }

    /// `conditionMatch(t)`: a condition that fails to evaluate is false and raises
    /// `error.execution`.
    fn condition_match(&mut self, t: TransitionId) -> bool {
        let Some(cond) = &self.doc.transitions[t as usize].cond else {
            return true;
        };
        let cx = EvalContext {
            doc: &self.doc,
            active: &self.configuration,
        };
        match self.dm.eval_cond(cond, cx) {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("{}: cond `{}`: {}", cond.pos, cond.source, e);
                self.enqueue_internal(Event::platform(
                    "error.execution",
                    Some(error_data(Some("transition"), Some(cond.pos), &reason)),
                ));
                false
            }
        }
    }

    /// `removeConflictingTransitions`: keeps the transitions of `scratch.enabled` whose exit
    /// sets do not intersect; on conflict the one from the descendant source wins, otherwise
    /// the earlier one in document order.
    fn remove_conflicting_transitions(&mut self) {
        if self.scratch.enabled.len() < 2 {
            return;
        }
        let mut filtered = std::mem::take(&mut self.scratch.filtered);
        let mut to_remove = std::mem::take(&mut self.scratch.to_remove);
        filtered.clear();
        for i in 0..self.scratch.enabled.len() {
            let t1 = self.scratch.enabled[i];
            let mut t1_preempted = false;
            to_remove.clear();
            for &t2 in &filtered {
                if self.exit_sets_intersect(t1, t2) {
                    let s1 = self.doc.transition(t1).source;
                    let s2 = self.doc.transition(t2).source;
                    if self.doc.is_descendant(s1, s2) {
                        to_remove.push(t2);
                    } else {
                        t1_preempted = true;
                        break;
                    }
                }
            }
            if !t1_preempted {
                filtered.retain(|t| !to_remove.contains(t));
                filtered.push(t1);
            }
        }
        self.scratch.to_remove = to_remove;
        std::mem::swap(&mut self.scratch.enabled, &mut filtered);
        self.scratch.filtered = filtered;
    }

    /// `computeExitSet([t1]).hasIntersection(computeExitSet([t2]))`: each exit set is the
    /// active states below the transition's domain, an index range; ranges of a tree are
    /// nested or disjoint.
    fn exit_sets_intersect(&self, t1: TransitionId, t2: TransitionId) -> bool {
        let (Some(d1), Some(d2)) = (self.transition_domain(t1), self.transition_domain(t2)) else {
            return false;
        };
        let lo = d1.max(d2) + 1;
        let hi = self
            .doc
            .state(d1)
            .subtree_end
            .min(self.doc.state(d2).subtree_end);
        lo < hi && self.configuration.any_in_range(lo, hi)
    }

    /// `microstep`: exit, transition content, entry.
    fn microstep(&mut self, enabled: &[TransitionId], host: &mut dyn Host) {
        self.stats.microsteps += 1;
        let room = MACROSTEP_TRANSITIONS_KEPT.saturating_sub(self.macrostep_transitions.len());
        self.macrostep_transitions
            .extend(enabled.iter().copied().take(room));
        self.exit_states(enabled, host);
        self.execute_transition_content(enabled, host);
        self.enter_states(enabled, host);
    }

    /// `exitStates`: records history, runs onexit, cancels invocations, leaves the states.
    fn exit_states(&mut self, enabled: &[TransitionId], host: &mut dyn Host) {
        self.compute_exit_set(enabled);
        let mut exit_list = std::mem::take(&mut self.scratch.exit_list);
        exit_list.clear();
        exit_list.extend(self.scratch.exit_set.iter());
        exit_list.reverse();
        for &s in &exit_list {
            self.states_to_invoke.remove(s);
        }
        let doc = self.doc.clone();
        if self.has_history {
            for &s in &exit_list {
                for &h in &doc.state(s).children {
                    if let StateKind::History(kind) = doc.state(h).kind {
                        let value: Vec<StateId> = match kind {
                            HistoryKind::Deep => self
                                .configuration
                                .iter_range(s + 1, doc.state(s).subtree_end)
                                .filter(|&s0| doc.state(s0).is_atomic())
                                .collect(),
                            HistoryKind::Shallow => self
                                .configuration
                                .iter_range(s + 1, doc.state(s).subtree_end)
                                .filter(|&s0| doc.state(s0).parent == Some(s))
                                .collect(),
                        };
                        self.history_value[h as usize] = Some(value);
                    }
                }
            }
        }
        for &s in &exit_list {
            let state = doc.state(s);
            for block in &state.onexit {
                self.execute_block(block, host);
            }
            if !state.invokes.is_empty() {
                self.cancel_invokes_of(s, host);
            }
            self.configuration.remove(s);
        }
        self.scratch.exit_list = exit_list;
    }

    /// `computeExitSet`, into `scratch.exit_set`.
    fn compute_exit_set(&mut self, transitions: &[TransitionId]) {
        self.scratch.exit_set.clear();
        for &t in transitions {
            if let Some(domain) = self.transition_domain(t) {
                let end = self.doc.state(domain).subtree_end;
                self.scratch
                    .exit_set
                    .union_range(&self.configuration, domain + 1, end);
            }
        }
    }

    /// `executeTransitionContent`.
    fn execute_transition_content(&mut self, enabled: &[TransitionId], host: &mut dyn Host) {
        let doc = self.doc.clone();
        for &t in enabled {
            let body = &doc.transition(t).body;
            if !body.is_empty() {
                self.execute_block(body, host);
            }
        }
    }

    /// `enterStates`: computes the entry set and enters it in document order, running onentry,
    /// default initial and history content, and raising `done.state.*` events.
    pub(super) fn enter_states(&mut self, enabled: &[TransitionId], host: &mut dyn Host) {
        self.scratch.states_to_enter.clear();
        self.scratch.states_for_default_entry.clear();
        self.scratch.default_history_content.clear();
        self.compute_entry_set(enabled);
        let doc = self.doc.clone();
        let late = doc.binding == crate::model::Binding::Late;
        let mut to_enter = std::mem::take(&mut self.scratch.exit_list);
        to_enter.clear();
        to_enter.extend(self.scratch.states_to_enter.iter());
        let default_entry = std::mem::take(&mut self.scratch.states_for_default_entry);
        let history_content = std::mem::take(&mut self.scratch.default_history_content);
        for &s in &to_enter {
            let state = doc.state(s);
            self.configuration.insert(s);
            self.states_to_invoke.insert(s);
            if self.watched == Some(s) {
                self.stats.watched_entries += 1;
            }
            if late && !state.data.is_empty() && !self.data_initialized.contains(s) {
                self.initialize_state_data(s, host);
            }
            for block in &state.onentry {
                self.execute_block(block, host);
            }
            if default_entry.contains(s) {
                if let Some(initial) = state.initial {
                    let body = &doc.transition(initial).body;
                    if !body.is_empty() {
                        self.execute_block(body, host);
                    }
                }
            }
            for &(parent, t) in &history_content {
                if parent == s {
                    self.execute_block(&doc.transition(t).body, host);
                }
            }
            if state.is_final() {
                let parent = state.parent.unwrap_or(ROOT);
                if parent == ROOT {
                    self.running = false;
                } else {
                    let donedata = self.evaluate_donedata(s, host);
                    self.enqueue_internal(Event::platform(
                        format!("done.state.{}", doc.state(parent).id),
                        donedata,
                    ));
                    if let Some(grandparent) = doc.state(parent).parent {
                        if doc.state(grandparent).is_parallel()
                            && doc
                                .state(grandparent)
                                .children
                                .iter()
                                .filter(|&&c| !doc.state(c).is_history())
                                .all(|&c| self.is_in_final_state(c))
                        {
                            self.enqueue_internal(Event::platform(
                                format!("done.state.{}", doc.state(grandparent).id),
                                None,
                            ));
                        }
                    }
                }
            }
        }
        self.scratch.exit_list = to_enter;
        self.scratch.states_for_default_entry = default_entry;
        self.scratch.default_history_content = history_content;
    }

    /// `computeEntrySet`, into `scratch.states_to_enter`, `states_for_default_entry` and
    /// `default_history_content`.
    fn compute_entry_set(&mut self, transitions: &[TransitionId]) {
        let doc = self.doc.clone();
        for &t in transitions {
            let tr = doc.transition(t);
            for &s in &tr.targets {
                self.add_descendant_states_to_enter(&doc, s);
            }
            let ancestor = self.transition_domain(t);
            if self.has_history && tr.targets.iter().any(|&s| doc.state(s).is_history()) {
                for s in self.get_effective_target_states(t) {
                    self.add_ancestor_states_to_enter(&doc, s, ancestor);
                }
            } else {
                // Without history targets the effective targets are the targets.
                for &s in &tr.targets {
                    self.add_ancestor_states_to_enter(&doc, s, ancestor);
                }
            }
        }
    }

    /// `addDescendantStatesToEnter`.
    fn add_descendant_states_to_enter(&mut self, doc: &Document, state: StateId) {
        let st = doc.state(state);
        if st.is_history() {
            let parent = st.parent.unwrap_or(ROOT);
            let targets = match &self.history_value[state as usize] {
                Some(value) => value.clone(),
                None => {
                    let Some(default) = st.initial else {
                        return;
                    };
                    self.scratch.default_history_content.push((parent, default));
                    doc.transition(default).targets.clone()
                }
            };
            for &s in &targets {
                self.add_descendant_states_to_enter(doc, s);
            }
            for &s in &targets {
                self.add_ancestor_states_to_enter(doc, s, Some(parent));
            }
            return;
        }
        self.scratch.states_to_enter.insert(state);
        match st.kind {
            StateKind::Compound => {
                self.scratch.states_for_default_entry.insert(state);
                if let Some(initial) = st.initial {
                    for &s in &doc.transition(initial).targets {
                        self.add_descendant_states_to_enter(doc, s);
                    }
                    for &s in &doc.transition(initial).targets {
                        self.add_ancestor_states_to_enter(doc, s, Some(state));
                    }
                }
            }
            StateKind::Parallel => self.enter_parallel_children(doc, state),
            _ => {}
        }
    }

    /// The shared tail of `addDescendantStatesToEnter` and `addAncestorStatesToEnter` for a
    /// parallel state: every child region with nothing to enter yet gets its default entry.
    fn enter_parallel_children(&mut self, doc: &Document, state: StateId) {
        for &child in &doc.state(state).children {
            let c = doc.state(child);
            if c.is_history() {
                continue;
            }
            if !self
                .scratch
                .states_to_enter
                .any_in_range(child, c.subtree_end)
            {
                self.add_descendant_states_to_enter(doc, child);
            }
        }
    }

    /// `addAncestorStatesToEnter`: the proper ancestors of `state` below `ancestor`.
    fn add_ancestor_states_to_enter(
        &mut self,
        doc: &Document,
        state: StateId,
        ancestor: Option<StateId>,
    ) {
        let mut current = doc.state(state).parent;
        while let Some(anc) = current {
            if Some(anc) == ancestor {
                break;
            }
            self.scratch.states_to_enter.insert(anc);
            if doc.state(anc).is_parallel() {
                self.enter_parallel_children(doc, anc);
            }
            current = doc.state(anc).parent;
        }
    }

    /// `isInFinalState`.
    fn is_in_final_state(&self, s: StateId) -> bool {
        let doc = &self.doc;
        let st = doc.state(s);
        match st.kind {
            StateKind::Compound => st
                .children
                .iter()
                .any(|&c| doc.state(c).is_final() && self.configuration.contains(c)),
            StateKind::Parallel => st
                .children
                .iter()
                .filter(|&&c| !doc.state(c).is_history())
                .all(|&c| self.is_in_final_state(c)),
            _ => false,
        }
    }

    /// `getEffectiveTargetStates`: targets with history states replaced by their recorded
    /// value or default targets.
    fn get_effective_target_states(&self, t: TransitionId) -> Vec<StateId> {
        let mut out = Vec::new();
        self.collect_effective_targets(t, &mut out);
        out
    }

    fn collect_effective_targets(&self, t: TransitionId, out: &mut Vec<StateId>) {
        for &s in &self.doc.transition(t).targets {
            if self.doc.state(s).is_history() {
                match &self.history_value[s as usize] {
                    Some(value) => {
                        for &v in value {
                            if !out.contains(&v) {
                                out.push(v);
                            }
                        }
                    }
                    None => {
                        if let Some(default) = self.doc.state(s).initial {
                            self.collect_effective_targets(default, out);
                        }
                    }
                }
            } else if !out.contains(&s) {
                out.push(s);
            }
        }
    }

    /// `getTransitionDomain`. Static for most transitions (precomputed in the model); when a
    /// target is a history state, the effective targets depend on the recorded history.
    pub(super) fn transition_domain(&self, t: TransitionId) -> Option<StateId> {
        let tr = self.doc.transition(t);
        if !self.has_history || !tr.targets.iter().any(|&s| self.doc.state(s).is_history()) {
            return tr.domain;
        }
        let targets = self.get_effective_target_states(t);
        if targets.is_empty() {
            return None;
        }
        if tr.kind == crate::model::TransitionKind::Internal
            && self.doc.state(tr.source).is_compound()
            && targets
                .iter()
                .all(|&s| self.doc.is_descendant(s, tr.source))
        {
            return Some(tr.source);
        }
        Some(self.find_lcca(tr.source, &targets))
    }

    /// `findLCCA`: the nearest proper ancestor of `head` that is compound (or the root) and
    /// contains every state of `tail`.
    fn find_lcca(&self, head: StateId, tail: &[StateId]) -> StateId {
        self.doc
            .proper_ancestors(head)
            .filter(|&a| a == ROOT || self.doc.state(a).is_compound())
            .find(|&a| tail.iter().all(|&s| self.doc.is_descendant(s, a)))
            .unwrap_or(ROOT)
    }

    /// Internal helper for events raised by the processor from executable content.
    ///
    /// Past [`Limits::internal_events_per_macrostep`](super::Limits::internal_events_per_macrostep) the event is dropped and
    /// the session marked to fail at the end of the current microstep.
    pub(super) fn enqueue_internal(&mut self, event: Event) {
        debug_assert!(event.kind != EventType::External);
        self.macrostep_internal_events += 1;
        if event.kind == EventType::Platform
            && event.name.starts_with("error.")
            && self.macrostep_errors.len() < MACROSTEP_ERRORS_KEPT
        {
            self.macrostep_errors.push(event.clone());
        }
        if let Some(limit) = self.options.limits.internal_events_per_macrostep {
            if self.macrostep_internal_events > limit {
                return; // the session fails at the end of this microstep
            }
        }
        self.internal_queue.push_back(event);
    }
}
