//! States of the model: `<state>`, `<parallel>`, `<final>`, `<history>` and the `<scxml>` root.

use super::{Block, DataInit, DoneData, Invoke, Pos, TransitionId};

/// Index of a state in [`super::Document::states`]; document order.
pub type StateId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    Shallow,
    Deep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// A `<state>` without child states.
    Atomic,
    /// A `<state>` with child states, or the `<scxml>` root.
    Compound,
    Parallel,
    Final,
    History(HistoryKind),
}

/// One state. Everything a microstep needs is precomputed here.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The `id` attribute, or a generated id (`__state<N>`) when the document gave none.
    pub id: String,
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
    pub invokes: Vec<Invoke>,
    /// `<data>` elements of this state's `<datamodel>` (for the root: the top-level datamodel).
    pub data: Vec<Data>,
    /// `<donedata>` of a `<final>` state.
    pub donedata: Option<DoneData>,
    pub pos: Pos,
}

impl State {
    pub fn is_atomic(&self) -> bool {
        matches!(self.kind, StateKind::Atomic | StateKind::Final)
    }
    pub fn is_compound(&self) -> bool {
        self.kind == StateKind::Compound
    }
    pub fn is_parallel(&self) -> bool {
        self.kind == StateKind::Parallel
    }
    pub fn is_final(&self) -> bool {
        self.kind == StateKind::Final
    }
    pub fn is_history(&self) -> bool {
        matches!(self.kind, StateKind::History(_))
    }
}

/// A `<data>` element.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub id: String,
    pub init: DataInit,
    pub pos: Pos,
}
