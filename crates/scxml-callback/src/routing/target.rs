//! Target strings: `<name>@<statserver>.<type>` and what they resolve to.
//!
//! A callback service names who may take its requests with a URS target: an agent (`A`), an
//! agent place (`AP`), an agent group (`GA`), a place group (`GP`) or a campaign group (`GC`),
//! or any agent whose skills satisfy an expression (`?:English>=5 & Loans>2@StatServer.GA`).
//! The Stat Server name is kept but not used: there is one directory.

use super::directory::Directory;
use super::error::{RoutingError, TargetError};
use super::skill::SkillExpr;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The object type after the last `.` of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    /// `A`: one agent (by id, or else by name).
    Agent,
    /// `AP`: the agents at a place.
    AgentPlace,
    /// `GA`: an agent group.
    AgentGroup,
    /// `GP`: a place group.
    PlaceGroup,
    /// `GC`: a campaign group.
    CampaignGroup,
}

impl TargetType {
    /// Parses `A`, `AP`, `GA`, `GP`, `GC` (any case).
    pub fn parse(code: &str) -> Option<TargetType> {
        Some(match code.to_ascii_uppercase().as_str() {
            "A" => TargetType::Agent,
            "AP" => TargetType::AgentPlace,
            "GA" => TargetType::AgentGroup,
            "GP" => TargetType::PlaceGroup,
            "GC" => TargetType::CampaignGroup,
            _ => return None,
        })
    }

    /// The suffix as written in a target string (`A`, `AP`, `GA`, `GP`, `GC`).
    pub fn code(self) -> &'static str {
        match self {
            TargetType::Agent => "A",
            TargetType::AgentPlace => "AP",
            TargetType::AgentGroup => "GA",
            TargetType::PlaceGroup => "GP",
            TargetType::CampaignGroup => "GC",
        }
    }
}

/// The part before `@`.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetName {
    /// The name of an agent, place or group.
    Named(String),
    /// `?:<expression>`: every agent whose skills satisfy it.
    Skills(SkillExpr),
}

/// A parsed target string.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The string as given (trimmed).
    pub text: String,
    /// What comes before `@`: a name or a skill expression.
    pub name: TargetName,
    /// The Stat Server named after `@` (`StatServer` in `Sales@StatServer.GA`).
    pub stat_server: String,
    /// What the name names, from the suffix after the dot.
    pub kind: TargetType,
}

impl Target {
    /// Parses `<name>@<statserver>.<type>` or `?:<skill expression>@<statserver>.<type>`.
    /// Error positions count characters of `text`.
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let chars: Vec<char> = text.chars().collect();
        let Some(at) = chars.iter().rposition(|c| *c == '@') else {
            return Err(TargetError::new(
                chars.len(),
                "expected '@<statserver>.<type>' after the name",
            ));
        };
        // The name.
        let first = chars[..at]
            .iter()
            .position(|c| !c.is_whitespace())
            .unwrap_or(at);
        let name_text: String = chars[first..at].iter().collect();
        let name = if let Some(expr) = name_text.strip_prefix("?:") {
            let parsed =
                SkillExpr::parse(expr).map_err(|e| TargetError::from_skill(first + 2, e))?;
            TargetName::Skills(parsed)
        } else {
            let trimmed = name_text.trim();
            if trimmed.is_empty() {
                return Err(TargetError::new(first, "empty target name before '@'"));
            }
            TargetName::Named(trimmed.to_string())
        };
        // `<statserver>.<type>`.
        let rest = &chars[at + 1..];
        let Some(dot) = rest.iter().rposition(|c| *c == '.') else {
            return Err(TargetError::new(
                at + 1,
                "expected '<statserver>.<type>' after '@'",
            ));
        };
        let stat_server: String = rest[..dot].iter().collect();
        let stat_server = stat_server.trim().to_string();
        if stat_server.is_empty() {
            return Err(TargetError::new(at + 1, "empty Stat Server name after '@'"));
        }
        let type_at = at + 1 + dot + 1;
        let code: String = rest[dot + 1..].iter().collect();
        let kind = TargetType::parse(code.trim()).ok_or_else(|| {
            TargetError::new(
                type_at,
                format!(
                    "unknown target type '{}' (expected A, AP, GA, GP or GC)",
                    code.trim()
                ),
            )
        })?;
        Ok(Target {
            text: text.trim().to_string(),
            name,
            stat_server,
            kind,
        })
    }

    /// The ids of the agents the target names. A named object that does not exist is
    /// [`RoutingError::TargetNotFound`]; a skill expression may match nobody (not an error).
    pub fn resolve(&self, dir: &Directory) -> Result<BTreeSet<String>, RoutingError> {
        let not_found = || RoutingError::TargetNotFound(self.text.clone());
        let name = match &self.name {
            TargetName::Skills(expr) => {
                return Ok(dir
                    .agents()
                    .filter(|a| expr.matches(&a.skills))
                    .map(|a| a.id.clone())
                    .collect());
            }
            TargetName::Named(name) => name.as_str(),
        };
        match self.kind {
            TargetType::Agent => dir
                .agent_by_id_or_name(name)
                .map(|a| BTreeSet::from([a.id.clone()]))
                .ok_or_else(not_found),
            TargetType::AgentPlace => {
                if dir.has_place(name) {
                    Ok(dir.agents_at_place(name))
                } else {
                    Err(not_found())
                }
            }
            TargetType::AgentGroup => {
                if dir.has_agent_group(name) {
                    Ok(dir.agents_in_group(name))
                } else {
                    Err(not_found())
                }
            }
            TargetType::PlaceGroup => {
                let places = dir.place_group(name).ok_or_else(not_found)?;
                Ok(places.iter().flat_map(|p| dir.agents_at_place(p)).collect())
            }
            TargetType::CampaignGroup => {
                let group = dir.campaign_group(name).ok_or_else(not_found)?;
                let mut agents: BTreeSet<String> = group.agents.iter().cloned().collect();
                for g in &group.agent_groups {
                    agents.extend(dir.agents_in_group(g));
                }
                Ok(agents)
            }
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Target, TargetError> {
        Target::parse(s)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::directory::{
        AgentConfig, CampaignGroupConfig, DirectoryConfig, PlaceGroupConfig,
    };

    fn dir() -> Directory {
        let agent = |id: &str, name: &str, skills: &[(&str, i64)], groups: &[&str], place: &str| {
            let mut a = AgentConfig::new(id);
            a.name = Some(name.into());
            a.skills = skills.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            a.groups = groups.iter().map(|g| g.to_string()).collect();
            a.place = Some(place.into());
            a
        };
        Directory::new(DirectoryConfig {
            agents: vec![
                agent(
                    "a1",
                    "Alice",
                    &[("English", 7), ("Loans", 3)],
                    &["Sales"],
                    "p1",
                ),
                agent(
                    "a2",
                    "Bob",
                    &[("English", 4), ("Loans", 5)],
                    &["Sales", "Support"],
                    "p2",
                ),
                agent("a3", "Carol", &[("Spanish", 9)], &["Support"], "p3"),
            ],
            agent_groups: vec!["Empty".into()],
            place_groups: vec![PlaceGroupConfig {
                name: "Floor1".into(),
                places: vec!["p1".into(), "p3".into()],
            }],
            campaign_groups: vec![CampaignGroupConfig {
                name: "Winter".into(),
                agent_groups: vec!["Support".into()],
                agents: vec!["a1".into()],
            }],
            wrap_up_secs: 0.0,
            accept_timeout_secs: 30.0,
        })
        .unwrap()
    }

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_each_type() {
        for (text, kind) in [
            ("Alice@StatServer.A", TargetType::Agent),
            ("p1@StatServer.AP", TargetType::AgentPlace),
            ("Sales@StatServer.GA", TargetType::AgentGroup),
            ("Floor1@StatServer.gp", TargetType::PlaceGroup),
            ("Winter@Stat.Server.GC", TargetType::CampaignGroup),
        ] {
            let t = Target::parse(text).unwrap();
            assert_eq!(t.kind, kind, "{text}");
        }
        let t: Target = "Winter@Stat.Server.GC".parse().unwrap();
        assert_eq!(t.stat_server, "Stat.Server");
        assert_eq!(t.name, TargetName::Named("Winter".into()));
        let t = Target::parse("  ?:English>=5 & Loans>2@StatServer.GA ").unwrap();
        assert!(matches!(t.name, TargetName::Skills(_)));
        assert_eq!(t.text, "?:English>=5 & Loans>2@StatServer.GA");
    }

    #[test]
    fn bad_targets_report_positions() {
        let e = Target::parse("Sales").unwrap_err();
        assert_eq!(e.position, 5);
        let e = Target::parse("Sales@StatServer").unwrap_err();
        assert_eq!(e.position, 6);
        let e = Target::parse("Sales@StatServer.XX").unwrap_err();
        assert_eq!(e.position, 17);
        assert!(e.message.contains("unknown target type 'XX'"), "{e}");
        let e = Target::parse("@StatServer.GA").unwrap_err();
        assert_eq!(e.position, 0);
        let e = Target::parse("Sales@.GA").unwrap_err();
        assert_eq!(e.position, 6);
        // Skill-expression errors are shifted past `?:`.
        let e = Target::parse("?:English>=@StatServer.GA").unwrap_err();
        assert_eq!(e.position, 11);
        assert!(e.message.starts_with("in skill expression"), "{e}");
        let e = Target::parse("?:(English>=5 | Loans>2@StatServer.GA").unwrap_err();
        assert_eq!(e.position, 23);
    }

    #[test]
    fn resolves_each_type() {
        let d = dir();
        let r = |s: &str| Target::parse(s).unwrap().resolve(&d);
        assert_eq!(r("a2@SS.A").unwrap(), ids(&["a2"]));
        assert_eq!(r("Alice@SS.A").unwrap(), ids(&["a1"]));
        assert_eq!(r("p3@SS.AP").unwrap(), ids(&["a3"]));
        assert_eq!(r("Sales@SS.GA").unwrap(), ids(&["a1", "a2"]));
        assert_eq!(r("Empty@SS.GA").unwrap(), ids(&[]));
        assert_eq!(r("Floor1@SS.GP").unwrap(), ids(&["a1", "a3"]));
        assert_eq!(r("Winter@SS.GC").unwrap(), ids(&["a1", "a2", "a3"]));
        assert_eq!(r("?:English>=5 & Loans>2@SS.GA").unwrap(), ids(&["a1"]));
        assert_eq!(
            r("?:English | Spanish>5@SS.GA").unwrap(),
            ids(&["a1", "a2", "a3"])
        );
        assert_eq!(r("?:French>1@SS.GA").unwrap(), ids(&[]));
        for missing in [
            "zed@SS.A",
            "p9@SS.AP",
            "Nope@SS.GA",
            "Nope@SS.GP",
            "Nope@SS.GC",
        ] {
            assert!(
                matches!(r(missing), Err(RoutingError::TargetNotFound(_))),
                "{missing}"
            );
        }
    }
}
