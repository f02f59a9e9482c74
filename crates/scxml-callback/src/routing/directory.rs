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
use std::time::Instant;

/// A media an agent can handle and a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    Chat,
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
    pub id: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub skills: BTreeMap<String, i64>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub place: Option<String>,
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
    pub name: String,
    #[serde(default)]
    pub places: Vec<String>,
}

/// A campaign group: the agents of some agent groups plus some named agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignGroupConfig {
    pub name: String,
    #[serde(default)]
    pub agent_groups: Vec<String>,
    #[serde(default)]
    pub agents: Vec<String>,
}

/// Everything the directory is seeded from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryConfig {
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Agent groups that exist even with no member (groups named by agents exist anyway).
    #[serde(default)]
    pub agent_groups: Vec<String>,
    #[serde(default)]
    pub place_groups: Vec<PlaceGroupConfig>,
    #[serde(default)]
    pub campaign_groups: Vec<CampaignGroupConfig>,
}

/// What an agent is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentState {
    LoggedOut,
    NotReady,
    Ready,
    /// Reserved for a queued request; not offered other work.
    Reserved {
        request: String,
    },
    /// An interaction was routed to the agent (offered until accepted).
    Busy {
        interaction: String,
        request: String,
        virtual_queue: String,
        accepted: bool,
    },
}

impl AgentState {
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::NotReady => "not_ready",
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
            AgentState::Ready | AgentState::Reserved { .. } | AgentState::Busy { .. }
        )
    }
}

/// An agent with its current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub skills: BTreeMap<String, i64>,
    pub groups: Vec<String>,
    pub place: Option<String>,
    pub media: Vec<Media>,
    pub state: AgentState,
    /// When the state last changed (for "longest idle first"); `None` before any change.
    #[serde(skip)]
    pub since: Option<Instant>,
    /// When the current interaction was routed (for handling times).
    #[serde(skip)]
    pub(crate) busy_since: Option<Instant>,
}

impl Agent {
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
}

impl Directory {
    /// Builds the directory; every agent starts logged out. Duplicate ids are an error, as are
    /// campaign groups naming unknown agents.
    pub fn new(config: DirectoryConfig) -> Result<Directory, RoutingError> {
        let mut dir = Directory::default();
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

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    pub(crate) fn agent_mut(&mut self, id: &str) -> Result<&mut Agent, RoutingError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| RoutingError::UnknownAgent(id.to_string()))
    }

    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// The agent with this id, or else with this display name.
    pub fn agent_by_id_or_name(&self, name: &str) -> Option<&Agent> {
        self.agents
            .get(name)
            .or_else(|| self.agents.values().find(|a| a.name == name))
    }

    pub fn has_agent_group(&self, name: &str) -> bool {
        self.agent_groups.contains(name)
    }

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

    pub fn agents_at_place(&self, place: &str) -> BTreeSet<String> {
        self.agents
            .values()
            .filter(|a| a.place.as_deref() == Some(place))
            .map(|a| a.id.clone())
            .collect()
    }

    pub fn place_group(&self, name: &str) -> Option<&[String]> {
        self.place_groups.get(name).map(Vec::as_slice)
    }

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
