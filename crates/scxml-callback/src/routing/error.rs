//! The routing adapter's errors, each with a stable `kind` for `routing.error` event data.

use super::skill::SkillError;
use std::fmt;

/// A syntax error in a target string or multi-target list; `position` counts characters from
/// the start of the target string (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub position: usize,
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

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    #[error("routing configuration: {0}")]
    Config(String),
    #[error("bad target '{target}': {error}")]
    BadTarget { target: String, error: TargetError },
    #[error("bad multi-target list: {0}")]
    BadTargetList(String),
    #[error("too many targets: {0} (at most 15)")]
    TooManyTargets(usize),
    #[error("target not found: {0}")]
    TargetNotFound(String),
    #[error("unknown statistic '{0}' (known: RStatAgentsReady, RStatAgentsReadyVoice, RStatAgentsTotal)")]
    UnknownStatistic(String),
    #[error("bad parameter {name}: {message}")]
    BadParameter { name: String, message: String },
    #[error("unknown agent '{0}'")]
    UnknownAgent(String),
    #[error("agent '{0}' is logged out")]
    AgentLoggedOut(String),
    #[error("agent '{0}' is busy with an interaction")]
    AgentBusy(String),
    #[error("unknown request '{0}'")]
    UnknownRequest(String),
    #[error("request '{0}' is already queued")]
    DuplicateRequest(String),
    #[error("request '{0}' has no reserved agent")]
    NotReserved(String),
    #[error("agent '{agent}' has no interaction '{interaction}'")]
    NoSuchInteraction { agent: String, interaction: String },
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
        }
    }

    pub(crate) fn bad_param(name: &str, message: impl Into<String>) -> RoutingError {
        RoutingError::BadParameter {
            name: name.to_string(),
            message: message.into(),
        }
    }
}
