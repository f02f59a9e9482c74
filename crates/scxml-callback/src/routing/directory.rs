//! The directory of agents: who they are (skills, place, groups, media) and what they are doing.
//!
//! This stands in for the configuration database and the agent-state part of Stat Server that
//! URS consults. Membership (agents, agent groups, place groups, campaign groups) is static and
//! seeded from a [`DirectoryConfig`] (deserializable, e.g. from TOML); agent states change at
//! run time through the [`Router`](super::Router).

use super::error::RoutingError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

/// A media an agent can handle and a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    /// Chat interactions (`_media_type = "chat"`).
    Chat,
    /// Voice calls (`_media_type = "voice"`).
    Voice,
}

impl Media {
    /// Parses `chat` or `voice` (any case).
    pub fn parse(text: &str) -> Option<Media> {
        match text.trim().to_ascii_lowercase().as_str() {
            "chat" => Some(Media::Chat),
            "voice" => Some(Media::Voice),
            _ => None,
        }
    }

    /// The lowercase name, as in config and events (`chat`, `voice`).
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Chat => "chat",
            Media::Voice => "voice",
        }
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn all_media() -> Vec<Media> {
    vec![Media::Chat, Media::Voice]
}

/// One agent as configured:
///
/// ```toml
/// [[agents]]
/// id = "a1"
/// name = "Alice"
/// skills = { English = 7, Loans = 3 }
/// groups = ["Sales"]
/// place = "place_1"
/// media = ["chat", "voice"]   # default: both
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// The agent id (employee id): what targets, events and the agent API name.
    pub id: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Skill levels by skill name, for skill expressions (`English>=5`).
    #[serde(default)]
    pub skills: BTreeMap<String, i64>,
    /// The agent groups the agent belongs to (`Sales` in `Sales@StatServer.GA`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The place (desk) the agent logs in at, for `.AP` and `.GP` targets.
    #[serde(default)]
    pub place: Option<String>,
    /// The media the agent can handle; defaults to all.
    #[serde(default = "all_media")]
    pub media: Vec<Media>,
}

impl AgentConfig {
    /// An agent with an id, no skills or groups, able to handle every media.
    pub fn new(id: impl Into<String>) -> AgentConfig {
        AgentConfig {
            id: id.into(),
            name: None,
            skills: BTreeMap::new(),
            groups: Vec::new(),
            place: None,
            media: all_media(),
        }
    }
}

/// A place group: `[[place_groups]] name = "Floor1", places = ["place_1", "place_2"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceGroupConfig {
    /// The place group's name, for `.GP` targets.
    pub name: String,
    /// The places in the group.
    #[serde(default)]
    pub places: Vec<String>,
}

/// A campaign group: the agents of some agent groups plus some named agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignGroupConfig {
    /// The campaign group's name, for `.GC` targets.
    pub name: String,
    /// Agent groups whose members belong to the campaign group.
    #[serde(default)]
    pub agent_groups: Vec<String>,
    /// Agent ids that belong to the campaign group besides those groups.
    #[serde(default)]
    pub agents: Vec<String>,
}

/// Everything the directory is seeded from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryConfig {
    /// The agents, all logged out at the start.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Agent groups that exist even with no member (groups named by agents exist anyway).
    #[serde(default)]
    pub agent_groups: Vec<String>,
    /// Named sets of places.
    #[serde(default)]
    pub place_groups: Vec<PlaceGroupConfig>,
    /// Named sets of agents built from agent groups and agent ids.
    #[serde(default)]
    pub campaign_groups: Vec<CampaignGroupConfig>,
    /// After-call work: seconds an agent spends in wrap-up after each interaction before it
    /// is ready again (0: ready at once). The agent may end it early (ready) or the desktop
    /// may give another time when it ends the interaction.
    #[serde(default)]
    pub wrap_up_secs: f64,
    /// How long an agent has to accept an offered interaction before it is taken back and
    /// routed again (as if the agent had rejected it: the agent goes not-ready); 0: no limit.
    #[serde(default = "default_accept_timeout_secs")]
    pub accept_timeout_secs: f64,
}

fn default_accept_timeout_secs() -> f64 {
    30.0
}

/// What an agent is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentState {
    /// Not logged in: never offered work and not counted as capacity.
    LoggedOut,
    /// Logged in but not taking work (break, after-call work).
    NotReady,
    /// Waiting for work: may be reserved for a queued request.
    Ready,
    /// Reserved for a queued request; not offered other work.
    Reserved {
        /// The id of the request the agent is reserved for.
        request: String,
    },
    /// An interaction was routed to the agent (offered until accepted).
    Busy {
        /// The id of the interaction routed to the agent.
        interaction: String,
        /// The id of the request the interaction answers.
        request: String,
        /// The virtual queue the request waited in, for its handling-time statistics.
        virtual_queue: String,
        /// Whether the agent has accepted the interaction yet.
        accepted: bool,
    },
    /// After-call work on an interaction just ended; ready again when it is over.
    WrapUp {
        /// The interaction the agent is wrapping up.
        interaction: String,
    },
}

impl AgentState {
    /// The state's name as in events and the agent API (`logged_out`, `ready`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::NotReady => "not_ready",
            AgentState::WrapUp { .. } => "wrap_up",
            AgentState::Ready => "ready",
            AgentState::Reserved { .. } => "reserved",
            AgentState::Busy { .. } => "busy",
        }
    }

    /// Logged in (whatever the activity).
    pub fn logged_in(&self) -> bool {
        !matches!(self, AgentState::LoggedOut)
    }

    /// Logged in and working (ready, reserved or busy): counts as capacity for the ETA.
    pub fn working(&self) -> bool {
        matches!(
            self,
            AgentState::Ready
                | AgentState::Reserved { .. }
                | AgentState::Busy { .. }
                | AgentState::WrapUp { .. }
        )
    }
}

/// An agent with its current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    /// The agent id, as configured.
    pub id: String,
    /// The display name (the id when none is configured).
    pub name: String,
    /// Skill levels by skill name.
    pub skills: BTreeMap<String, i64>,
    /// The agent groups the agent belongs to.
    pub groups: Vec<String>,
    /// The place the agent sits at, if any.
    pub place: Option<String>,
    /// The media the agent can handle.
    pub media: Vec<Media>,
    /// What the agent is doing now.
    pub state: AgentState,
    /// When the state last changed (for "longest idle first"); `None` before any change.
    #[serde(skip)]
    pub since: Option<Instant>,
    /// When the current interaction was routed (for handling times).
    #[serde(skip)]
    pub(crate) busy_since: Option<Instant>,
    /// When its wrap-up ends.
    #[serde(skip)]
    pub(crate) wrap_up_until: Option<Instant>,
}

impl Agent {
    /// Whether the agent handles this media.
    pub fn can_handle(&self, media: Media) -> bool {
        self.media.contains(&media)
    }
}

/// The agents and their groupings.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub(crate) agents: BTreeMap<String, Agent>,
    agent_groups: BTreeSet<String>,
    place_groups: BTreeMap<String, Vec<String>>,
    campaign_groups: BTreeMap<String, CampaignGroupConfig>,
    /// The after-call work after each interaction ([`DirectoryConfig::wrap_up_secs`]).
    pub(crate) wrap_up: Duration,
    /// How long an offer waits for its agent ([`DirectoryConfig::accept_timeout_secs`]).
    pub(crate) accept_timeout: Option<Duration>,
}

impl Directory {
    /// Builds the directory; every agent starts logged out. Duplicate ids are an error, as are
    /// campaign groups naming unknown agents.
    pub fn new(config: DirectoryConfig) -> Result<Directory, RoutingError> {
        let mut dir = Directory::default();
        if !(config.wrap_up_secs.is_finite() && (0.0..=86_400.0).contains(&config.wrap_up_secs)) {
            return Err(RoutingError::Config(format!(
                "wrap_up_secs = {} must be seconds between 0 and 86400",
                config.wrap_up_secs
            )));
        }
        dir.wrap_up = Duration::from_secs_f64(config.wrap_up_secs);
        let accept = config.accept_timeout_secs;
        if !(accept.is_finite() && (0.0..=86_400.0).contains(&accept)) {
            return Err(RoutingError::Config(format!(
                "accept_timeout_secs = {accept} must be seconds between 0 and 86400"
            )));
        }
        dir.accept_timeout = (accept > 0.0).then(|| Duration::from_secs_f64(accept));
        for a in config.agents {
            if dir.agents.contains_key(&a.id) {
                return Err(RoutingError::Config(format!(
                    "duplicate agent id '{}'",
                    a.id
                )));
            }
            dir.agent_groups.extend(a.groups.iter().cloned());
            let agent = Agent {
                name: a.name.unwrap_or_else(|| a.id.clone()),
                id: a.id.clone(),
                skills: a.skills,
                groups: a.groups,
                place: a.place,
                media: a.media,
                state: AgentState::LoggedOut,
                since: None,
                busy_since: None,
                wrap_up_until: None,
            };
            dir.agents.insert(a.id, agent);
        }
        dir.agent_groups.extend(config.agent_groups);
        for g in config.place_groups {
            if dir.place_groups.insert(g.name.clone(), g.places).is_some() {
                return Err(RoutingError::Config(format!(
                    "duplicate place group '{}'",
                    g.name
                )));
            }
        }
        for g in config.campaign_groups {
            if let Some(unknown) = g.agents.iter().find(|a| !dir.agents.contains_key(*a)) {
                return Err(RoutingError::Config(format!(
                    "campaign group '{}' names unknown agent '{unknown}'",
                    g.name
                )));
            }
            let name = g.name.clone();
            if dir.campaign_groups.insert(name.clone(), g).is_some() {
                return Err(RoutingError::Config(format!(
                    "duplicate campaign group '{name}'"
                )));
            }
        }
        Ok(dir)
    }

    /// The agent with this id.
    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    pub(crate) fn agent_mut(&mut self, id: &str) -> Result<&mut Agent, RoutingError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| RoutingError::UnknownAgent(id.to_string()))
    }

    /// Every agent, in id order.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// The agent with this id, or else with this display name.
    pub fn agent_by_id_or_name(&self, name: &str) -> Option<&Agent> {
        self.agents
            .get(name)
            .or_else(|| self.agents.values().find(|a| a.name == name))
    }

    /// Whether an agent group of this name exists (configured or named by an agent).
    pub fn has_agent_group(&self, name: &str) -> bool {
        self.agent_groups.contains(name)
    }

    /// The ids of the agents in an agent group.
    pub fn agents_in_group(&self, group: &str) -> BTreeSet<String> {
        self.agents
            .values()
            .filter(|a| a.groups.iter().any(|g| g == group))
            .map(|a| a.id.clone())
            .collect()
    }

    /// Whether some agent sits at this place.
    pub fn has_place(&self, place: &str) -> bool {
        self.agents
            .values()
            .any(|a| a.place.as_deref() == Some(place))
    }

    /// The ids of the agents at a place.
    pub fn agents_at_place(&self, place: &str) -> BTreeSet<String> {
        self.agents
            .values()
            .filter(|a| a.place.as_deref() == Some(place))
            .map(|a| a.id.clone())
            .collect()
    }

    /// The places of a place group, if it exists.
    pub fn place_group(&self, name: &str) -> Option<&[String]> {
        self.place_groups.get(name).map(Vec::as_slice)
    }

    /// A campaign group by name, if it exists.
    pub fn campaign_group(&self, name: &str) -> Option<&CampaignGroupConfig> {
        self.campaign_groups.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_deserializes_from_json_shape() {
        let config: DirectoryConfig = serde_json::from_value(serde_json::json!({
            "agents": [
                {"id": "a1", "name": "Alice", "skills": {"English": 7}, "groups": ["Sales"],
                 "place": "p1", "media": ["chat"]},
                {"id": "a2"}
            ],
            "place_groups": [{"name": "Floor", "places": ["p1"]}]
        }))
        .unwrap();
        let dir = Directory::new(config).unwrap();
        let a1 = dir.agent("a1").unwrap();
        assert_eq!(a1.name, "Alice");
        assert!(a1.can_handle(Media::Chat) && !a1.can_handle(Media::Voice));
        let a2 = dir.agent("a2").unwrap();
        assert_eq!(a2.name, "a2");
        assert!(a2.can_handle(Media::Voice));
        assert_eq!(a2.state, AgentState::LoggedOut);
        assert!(dir.has_agent_group("Sales"));
        assert_eq!(dir.place_group("Floor").unwrap(), ["p1".to_string()]);
    }

    #[test]
    fn duplicate_agents_are_refused() {
        let config = DirectoryConfig {
            agents: vec![AgentConfig::new("a"), AgentConfig::new("a")],
            ..Default::default()
        };
        assert!(matches!(
            Directory::new(config),
            Err(RoutingError::Config(_))
        ));
    }
}
