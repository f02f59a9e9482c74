//! States of the model: `<state>`, `<parallel>`, `<final>`, `<history>` and the `<scxml>` root.

use super::{Block, DataInit, DoneData, Invoke, Pos, TransitionId};

/// Index of a state in [`super::Document::states`]; document order.
pub type StateId = u32;

/// `<history type="...">`: what a history state remembers of its parent's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    /// `shallow` (the default): the parent's active children.
    Shallow,
    /// `deep`: the parent's active atomic descendants.
    Deep,
}

/// What kind of element a state is; decides how it is entered, exited and completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// A `<state>` without child states.
    Atomic,
    /// A `<state>` with child states, or the `<scxml>` root.
    Compound,
    /// A `<parallel>`: all of its child states are active together.
    Parallel,
    /// A `<final>`: entering it completes its parent (or, at the top level, the session).
    Final,
    /// A `<history>` pseudo-state: never in a configuration; a transition to it enters the
    /// states it remembers (or its default transition's targets).
    History(HistoryKind),
}

/// One state. Everything a microstep needs is precomputed here.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The `id` attribute, or a generated id (`__state<N>`) when the document gave none.
    pub id: String,
    /// Which element the state is.
    pub kind: StateKind,
    /// `None` only for the root.
    pub parent: Option<StateId>,
    /// Child states (history and final included), in document order.
    pub children: Vec<StateId>,
    /// Depth below the root (root = 0).
    pub depth: u32,
    /// One past the last descendant: descendants are `(self_index, subtree_end)`.
    pub subtree_end: StateId,
    /// For compound states: the initial transition (from `<initial>`, the `initial` attribute,
    /// or the first child state in document order). For history states: the default
    /// transition. `None` otherwise.
    pub initial: Option<TransitionId>,
    /// Outgoing transitions in document order (not the initial/default transition).
    pub transitions: Vec<TransitionId>,
    /// One block per `<onentry>` element.
    pub onentry: Vec<Block>,
    /// One block per `<onexit>` element.
    pub onexit: Vec<Block>,
    /// The `<invoke>` children, in document order; started when the state is still active at
    /// the end of the macrostep that entered it.
    pub invokes: Vec<Invoke>,
    /// `<data>` elements of this state's `<datamodel>` (for the root: the top-level datamodel).
    pub data: Vec<Data>,
    /// `<donedata>` of a `<final>` state.
    pub donedata: Option<DoneData>,
    /// Where the element starts in the source.
    pub pos: Pos,
}

impl State {
    /// True for a state without child states: an atomic `<state>` or a `<final>` (what
    /// Appendix D calls `isAtomicState`).
    pub fn is_atomic(&self) -> bool {
        matches!(self.kind, StateKind::Atomic | StateKind::Final)
    }
    /// True for a `<state>` with child states, and for the root.
    pub fn is_compound(&self) -> bool {
        self.kind == StateKind::Compound
    }
    /// True for a `<parallel>`.
    pub fn is_parallel(&self) -> bool {
        self.kind == StateKind::Parallel
    }
    /// True for a `<final>`.
    pub fn is_final(&self) -> bool {
        self.kind == StateKind::Final
    }
    /// True for a `<history>` pseudo-state, shallow or deep.
    pub fn is_history(&self) -> bool {
        matches!(self.kind, StateKind::History(_))
    }
}

/// A `<data>` element.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// The `id` attribute: the name of the variable.
    pub id: String,
    /// Where the initial value comes from.
    pub init: DataInit,
    /// Where the element starts in the source.
    pub pos: Pos,
}
