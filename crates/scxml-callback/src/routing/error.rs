//! The routing adapter's errors, each with a stable `kind` for `routing.error` event data.

use super::skill::SkillError;
use std::fmt;

/// A syntax error in a target string or multi-target list; `position` counts characters from
/// the start of the target string (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// Where the error is, in characters from the start of the target string.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

impl TargetError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> TargetError {
        TargetError {
            position,
            message: message.into(),
        }
    }

    /// A skill-expression error, shifted by where the expression starts in the target.
    pub(crate) fn from_skill(offset: usize, err: SkillError) -> TargetError {
        TargetError::new(
            offset + err.position,
            format!("in skill expression: {}", err.message),
        )
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for TargetError {}

/// Why the router or the routing adapter refused something; the flow gets it as a
/// `routing.error` event with [`RoutingError::kind`] and the message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    /// The `[routing]` configuration is inconsistent (duplicate agent, unknown group, ...).
    #[error("routing configuration: {0}")]
    Config(String),
    /// A target string does not parse.
    #[error("bad target '{target}': {error}")]
    BadTarget {
        /// The target string as given.
        target: String,
        /// Where and why it does not parse.
        error: TargetError,
    },
    /// A multi-target list (`_target` as a list of steps) is malformed.
    #[error("bad multi-target list: {0}")]
    BadTargetList(String),
    /// A multi-target list has more than [`MAX_TARGETS`](super::MAX_TARGETS) steps.
    #[error("too many targets: {0} (at most 15)")]
    TooManyTargets(usize),
    /// A target names a group, place or agent the directory does not have.
    #[error("target not found: {0}")]
    TargetNotFound(String),
    /// A statistic check names a statistic the router does not compute.
    #[error("unknown statistic '{0}' (known: RStatAgentsReady, RStatAgentsReadyVoice, RStatAgentsTotal)")]
    UnknownStatistic(String),
    /// A parameter of the routing invoke or of an event to it is missing or malformed.
    #[error("bad parameter {name}: {message}")]
    BadParameter {
        /// The parameter's name.
        name: String,
        /// What is wrong with its value.
        message: String,
    },
    /// No agent has this id.
    #[error("unknown agent '{0}'")]
    UnknownAgent(String),
    /// The agent must be logged in for this.
    #[error("agent '{0}' is logged out")]
    AgentLoggedOut(String),
    /// The agent is handling an interaction and cannot change state now.
    #[error("agent '{0}' is busy with an interaction")]
    AgentBusy(String),
    /// No queued or reserved request has this id.
    #[error("unknown request '{0}'")]
    UnknownRequest(String),
    /// A request with this id is already queued.
    #[error("request '{0}' is already queued")]
    DuplicateRequest(String),
    /// The request has no agent reserved, so there is nothing to route to.
    #[error("request '{0}' has no reserved agent")]
    NotReserved(String),
    /// The agent is not handling this interaction.
    #[error("agent '{agent}' has no interaction '{interaction}'")]
    NoSuchInteraction {
        /// The agent id.
        agent: String,
        /// The interaction id the agent does not have.
        interaction: String,
    },
    /// The agent accepted the interaction already: it can no longer reject it.
    #[error("agent '{agent}' accepted '{interaction}' already")]
    AlreadyAccepted {
        /// The agent id.
        agent: String,
        /// The interaction.
        interaction: String,
    },
}

impl RoutingError {
    /// A short stable name for the error, e.g. `target_not_found`.
    pub fn kind(&self) -> &'static str {
        match self {
            RoutingError::Config(_) => "config",
            RoutingError::BadTarget { .. } => "bad_target",
            RoutingError::BadTargetList(_) => "bad_target_list",
            RoutingError::TooManyTargets(_) => "too_many_targets",
            RoutingError::TargetNotFound(_) => "target_not_found",
            RoutingError::UnknownStatistic(_) => "unknown_statistic",
            RoutingError::BadParameter { .. } => "bad_parameter",
            RoutingError::UnknownAgent(_) => "unknown_agent",
            RoutingError::AgentLoggedOut(_) => "agent_logged_out",
            RoutingError::AgentBusy(_) => "agent_busy",
            RoutingError::UnknownRequest(_) => "unknown_request",
            RoutingError::DuplicateRequest(_) => "duplicate_request",
            RoutingError::NotReserved(_) => "not_reserved",
            RoutingError::NoSuchInteraction { .. } => "no_such_interaction",
            RoutingError::AlreadyAccepted { .. } => "already_accepted",
        }
    }

    pub(crate) fn bad_param(name: &str, message: impl Into<String>) -> RoutingError {
        RoutingError::BadParameter {
            name: name.to_string(),
            message: message.into(),
        }
    }
}
