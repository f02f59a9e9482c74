//! Routing: what URS and Stat Server do for the callback flows, in-process.
//!
//! A callback request waits in a virtual queue for an agent named by its `_target` (one target
//! string or a multi-target list); when a suitable agent is ready the agent is reserved for the
//! request, and the chat interaction is later routed to that agent. Pure, deterministic Rust:
//! time is passed in, and [`Router::tick`] (driven by [`Router::spawn_ticker`] in a server)
//! advances timeouts.
//!
//! - `directory`: agents (skills, place, groups, media, state), seeded from config.
//! - `skill`: skill expressions (`English>=5 & Loans>2`).
//! - `target`: target strings (`Sales@StatServer.GA`) and their resolution to agents.
//! - `multi`: multi-target lists, statistics and skip rules.
//! - `queue`: ordering, handling-time statistics and the ETA estimate.
//! - `threshold`: `_eta_pos_threshold` and `_agent_ready_threshold_passed`.
//! - `router`: the [`Router`] holding all of it, and its [`Outcome`]s.
//! - `invoke`: the `<invoke type="routing">` adapter that connects a session to the router.

mod directory;
mod error;
mod invoke;
mod multi;
mod queue;
mod router;
mod skill;
mod target;
mod threshold;

#[cfg(test)]
mod tests;

pub use directory::{
    Agent, AgentConfig, AgentState, CampaignGroupConfig, Directory, DirectoryConfig, Media,
    PlaceGroupConfig,
};
pub use error::{RoutingError, TargetError};
pub use invoke::{RoutingInvokeType, INVOKE_TYPE_NAMES};
pub use multi::{Stat, StatCheck, TargetSpec, TargetStep, MAX_TARGETS};
pub use router::{
    Checkpoint, Offer, Outcome, OutcomeListener, PriorityAging, QueueStatus, RequestSpec,
    RequestView, Router, DEFAULT_QUEUED_TTL, DEFAULT_RESERVATION_TIMEOUT,
};
pub use skill::{CompareOp, SkillError, SkillExpr};
pub use target::{Target, TargetName, TargetType};
pub use threshold::{Band, ThresholdDecision, ThresholdTable, DEFAULT_ETA_POS_THRESHOLD};
