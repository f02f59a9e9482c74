//! Transitions and the event descriptors they match.

use super::{Block, Expr, Pos, StateId};

/// Index of a transition in [`super::Document::transitions`]; document order.
pub type TransitionId = u32;

/// `<transition type="...">`: whether a transition exits its source state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransitionKind {
    /// `external` (the default): the source state is exited and re-entered when it is in the
    /// transition domain.
    #[default]
    External,
    /// `internal`: a transition from a compound state to its own descendants does not exit
    /// the source state.
    Internal,
}

/// One token of a transition's `event` attribute, normalised: a trailing `.*` or `.` is
/// removed, so `error.*`, `error.` and `error` are the same descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDescriptor {
    /// `*`: matches every event.
    Any,
    /// Matches an event whose name equals this prefix or starts with it followed by `.`.
    Prefix(String),
}

impl EventDescriptor {
    /// Parses one whitespace-separated token of an `event` attribute.
    pub fn parse(token: &str) -> EventDescriptor {
        if token == "*" {
            return EventDescriptor::Any;
        }
        let t = token.strip_suffix(".*").unwrap_or(token);
        let t = t.strip_suffix('.').unwrap_or(t);
        EventDescriptor::Prefix(t.to_string())
    }

    /// SCXML 3.12.1: the descriptor matches when its tokens are a prefix of the event name's
    /// tokens.
    pub fn matches(&self, event: &str) -> bool {
        match self {
            EventDescriptor::Any => true,
            EventDescriptor::Prefix(p) => {
                event.len() >= p.len()
                    && event.as_bytes().starts_with(p.as_bytes())
                    && (event.len() == p.len() || event.as_bytes()[p.len()] == b'.')
            }
        }
    }
}

/// A `<transition>`, or a transition the parser synthesized (a compound state's initial
/// transition, a history state's default transition).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The state the transition belongs to.
    pub source: StateId,
    /// Empty for an eventless transition.
    pub events: Vec<EventDescriptor>,
    /// The `cond` attribute; `None` means always enabled.
    pub cond: Option<Expr>,
    /// Resolved targets, in the order given; empty for a targetless transition.
    pub targets: Vec<StateId>,
    /// The `type` attribute.
    pub kind: TransitionKind,
    /// The executable content run when the transition is taken.
    pub body: Block,
    /// The transition domain (Appendix D `getTransitionDomain`), static for a given document:
    /// `None` for a targetless transition.
    pub domain: Option<StateId>,
    /// Where the element starts in the source.
    pub pos: Pos,
}

impl Transition {
    /// True for a transition without an `event` attribute, taken without an event when its
    /// condition holds.
    pub fn is_eventless(&self) -> bool {
        self.events.is_empty()
    }

    /// True when any descriptor matches the event name.
    pub fn matches(&self, event: &str) -> bool {
        self.events.iter().any(|d| d.matches(event))
    }
}

#[cfg(test)]
mod tests {
    use super::EventDescriptor;

    fn m(d: &str, e: &str) -> bool {
        EventDescriptor::parse(d).matches(e)
    }

    #[test]
    fn descriptors_match_token_prefixes() {
        assert!(m("error", "error"));
        assert!(m("error", "error.execution"));
        assert!(m("error.*", "error.execution"));
        assert!(m("error.", "error.execution.foo"));
        assert!(!m("error", "errors"));
        assert!(!m("error.execution", "error"));
        assert!(m("*", "anything.at.all"));
        assert!(m("done.invoke", "done.invoke.s1"));
        assert!(!m("foo.bar", "foo.baz"));
    }
}
