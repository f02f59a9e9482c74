//! The parsed statechart: an immutable, indexed model shared by every session of a document.
//!
//! States live in an arena in document order (pre-order), so the descendants of a state are
//! exactly the indices `(state, state.subtree_end)`: ancestry tests are two comparisons and the
//! active descendants of a state are a bit range of the configuration. Transitions live in a
//! second arena, also in document order, with their targets and transition domain resolved once.
//! Executable content is a tree of plain enums; expressions carry an [`ExprId`] so a datamodel
//! can compile each one once per session and find the compiled form by index.
//!
//! A `Document` is built by [`crate::parse`] and is never mutated afterwards; sessions share it
//! through an `Arc`.

mod executable;
mod state;
mod transition;

pub use executable::{
    AssignValue, AttrValue, Block, Branch, Content, DataInit, Delay, DoneData, Executable, Expr,
    ExprId, Invoke, Param, Send,
};
pub use state::{Data, HistoryKind, State, StateId, StateKind};
pub use transition::{EventDescriptor, Transition, TransitionId, TransitionKind};

use std::collections::HashMap;
use std::sync::Arc;

/// A position in a source document, 1-based, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Pos {
    /// The line, from 1.
    pub line: u32,
    /// The column within the line, from 1, in characters (not bytes).
    pub column: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which datamodel a document asks for with `<scxml datamodel="...">`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatamodelKind {
    /// `datamodel="null"`: no variables; the only condition is `In(id)`. Also what a document
    /// without the attribute gets when the crate is built without the `ecmascript` feature.
    Null,
    /// `datamodel="ecmascript"`, and the default when the attribute is absent: ECMAScript
    /// expressions and scripts. Without the `ecmascript` feature the parser refuses documents
    /// that ask for it.
    Ecmascript,
}

/// `<scxml binding="...">`: when `<data>` elements are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// All data is created and assigned when the document starts.
    #[default]
    Early,
    /// Data is created at start, and assigned its value when its state is first entered.
    Late,
}

/// The root of the model: one parsed SCXML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `<scxml name>`; the value of `_name`.
    pub name: Option<String>,
    /// `<scxml datamodel>`: the language of the document's expressions.
    pub datamodel: DatamodelKind,
    /// `<scxml binding>`: early or late initialisation of `<data>`.
    pub binding: Binding,
    /// Where the document came from; `src` attributes resolve against it. `None` for documents
    /// given as a string with no base.
    pub base_url: Option<url::Url>,
    /// All states in document order. `states[0]` is the `<scxml>` element itself: a compound
    /// pseudo-state that is the parent of the top-level states and is never in a configuration.
    pub states: Vec<State>,
    /// All transitions in document order, including the synthesized initial transitions of
    /// compound states and the default transitions of history states.
    pub transitions: Vec<Transition>,
    /// `<script>` children of `<scxml>`, run once after the datamodel is created.
    pub scripts: Block,
    /// Number of [`ExprId`]s handed out; datamodels size their compile caches with it.
    pub expr_count: u32,
    /// Whether any expression or script mentions `_event`; when none does, a datamodel may skip
    /// binding `_event` for each event.
    pub reads_event: bool,
    /// State id -> index, for `In()` and diagnostics.
    pub state_ids: HashMap<String, StateId>,
    /// The text the document was parsed from (for a document inlined in `<invoke>`, its
    /// `<scxml>` element): what a persisted session records to rebuild its document.
    pub source: Option<Arc<str>>,
    /// What its `<script src>` and `<data src>` read when it was loaded, by URL: a host that
    /// rebuilds the document from [`Document::source`] later reads them from here (see
    /// [`crate::parse::PinnedResolver`]), so a restored session keeps the version it started
    /// with even if a file changed meanwhile.
    pub fetched: Vec<(url::Url, Arc<str>)>,
}

/// The index of the `<scxml>` root pseudo-state.
pub const ROOT: StateId = 0;

impl Document {
    /// The state at index `id`.
    ///
    /// # Panics
    ///
    /// When `id` is not an index of this document's states.
    pub fn state(&self, id: StateId) -> &State {
        &self.states[id as usize]
    }

    /// The transition at index `id`.
    ///
    /// # Panics
    ///
    /// When `id` is not an index of this document's transitions.
    pub fn transition(&self, id: TransitionId) -> &Transition {
        &self.transitions[id as usize]
    }

    /// Looks a state up by its `id` attribute.
    pub fn state_by_id(&self, id: &str) -> Option<StateId> {
        self.state_ids.get(id).copied()
    }

    /// True when `state` is a proper descendant of `ancestor`.
    #[inline]
    pub fn is_descendant(&self, state: StateId, ancestor: StateId) -> bool {
        state > ancestor && state < self.states[ancestor as usize].subtree_end
    }

    /// The proper ancestors of `state`, innermost first, ending with the root.
    pub fn proper_ancestors(&self, state: StateId) -> impl Iterator<Item = StateId> + '_ {
        std::iter::successors(self.states[state as usize].parent, move |&s| {
            self.states[s as usize].parent
        })
    }

    /// The number of states, the root included.
    pub fn state_count(&self) -> usize {
        self.states.len()
    }
}

/// A shared, immutable document.
pub type SharedDocument = Arc<Document>;
