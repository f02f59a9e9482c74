//! Multi-target lists: the JSON form of `_target`, tried in order with timeouts, `clear`
//! and statistic-based skipping.
//!
//! `_target` may be one target string or a JSON list (at most [`MAX_TARGETS`] items) of
//! `{target, timeout, clear, stat_to_check, stat_operator, stat_value}`. The request waits
//! `timeout` seconds on an item, then moves to the next. `clear: true` on the item moved to
//! replaces the agents the request may go to; `false` adds them (the request may then go to
//! either). Before an item is used its statistic is computed live from the directory over
//! the item's own target; if `stat <stat_operator> stat_value` holds the item is skipped,
//! unless it is the last. The last item is kept until `_urs_queued_ttl` ends the wait.

use super::directory::{Directory, Media};
use super::error::RoutingError;
use super::skill::CompareOp;
use super::target::Target;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// At most this many items in a multi-target list.
pub const MAX_TARGETS: usize = 15;

/// A statistic a multi-target item may check, computed over the item's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// `RStatAgentsReady`: agents ready (for any media).
    AgentsReady,
    /// `RStatAgentsReadyVoice`: agents ready and able to take voice.
    AgentsReadyVoice,
    /// `RStatAgentsTotal`: agents logged in.
    AgentsTotal,
}

impl Stat {
    /// Parses a statistic name (any case).
    pub fn parse(name: &str) -> Option<Stat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "rstatagentsready" => Some(Stat::AgentsReady),
            "rstatagentsreadyvoice" => Some(Stat::AgentsReadyVoice),
            "rstatagentstotal" => Some(Stat::AgentsTotal),
            _ => None,
        }
    }

    /// The statistic's name as GMS writes it (`RStatAgentsReady`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Stat::AgentsReady => "RStatAgentsReady",
            Stat::AgentsReadyVoice => "RStatAgentsReadyVoice",
            Stat::AgentsTotal => "RStatAgentsTotal",
        }
    }

    /// The statistic's current value over these agents.
    pub fn value(self, agents: &BTreeSet<String>, dir: &Directory) -> f64 {
        use super::directory::AgentState;
        agents
            .iter()
            .filter_map(|id| dir.agent(id))
            .filter(|a| match self {
                Stat::AgentsReady => a.state == AgentState::Ready,
                Stat::AgentsReadyVoice => {
                    a.state == AgentState::Ready && a.can_handle(Media::Voice)
                }
                Stat::AgentsTotal => a.state.logged_in(),
            })
            .count() as f64
    }
}

/// `stat_to_check stat_operator stat_value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatCheck {
    /// The statistic to compute (`stat_to_check`).
    pub stat: Stat,
    /// How it is compared (`stat_operator`).
    pub op: CompareOp,
    /// What it is compared with (`stat_value`).
    pub value: f64,
}

impl StatCheck {
    /// Whether the condition holds (and the item is to be skipped).
    pub fn holds(&self, agents: &BTreeSet<String>, dir: &Directory) -> bool {
        self.op.holds(self.stat.value(agents, dir), self.value)
    }
}

/// One item of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStep {
    /// The item's target string, parsed.
    pub target: Target,
    /// How long to wait on this item before moving on; `None`: until the queued ttl.
    pub timeout: Option<Duration>,
    /// Whether reaching this item replaces the agents of the earlier items (`true`) or adds
    /// to them (`false`).
    pub clear: bool,
    /// A statistic condition under which the item is skipped.
    pub check: Option<StatCheck>,
}

impl TargetStep {
    /// A step with no timeout, `clear: true` and no statistic check.
    pub fn new(target: Target) -> TargetStep {
        TargetStep {
            target,
            timeout: None,
            clear: true,
            check: None,
        }
    }
}

/// A parsed `_target`: one or more steps.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    /// The items in order; a single target string gives one item.
    pub steps: Vec<TargetStep>,
}

impl TargetSpec {
    /// Parses a `_target` value: a target string, a string holding a JSON list, or a list.
    pub fn from_value(value: &Value) -> Result<TargetSpec, RoutingError> {
        match value {
            Value::String(text) => TargetSpec::parse(text),
            Value::Array(items) => TargetSpec::from_items(items),
            other => Err(RoutingError::BadTargetList(format!(
                "expected a target string or a list, found {other}"
            ))),
        }
    }

    /// Parses a target string, or a JSON list when the text starts with `[`.
    pub fn parse(text: &str) -> Result<TargetSpec, RoutingError> {
        let trimmed = text.trim();
        if trimmed.starts_with('[') {
            let value: Value = serde_json::from_str(trimmed)
                .map_err(|e| RoutingError::BadTargetList(format!("not valid JSON: {e}")))?;
            return TargetSpec::from_value(&value);
        }
        Ok(TargetSpec {
            steps: vec![TargetStep::new(parse_target(trimmed)?)],
        })
    }

    fn from_items(items: &[Value]) -> Result<TargetSpec, RoutingError> {
        if items.is_empty() {
            return Err(RoutingError::BadTargetList("the list is empty".into()));
        }
        if items.len() > MAX_TARGETS {
            return Err(RoutingError::TooManyTargets(items.len()));
        }
        let steps = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_step(i, item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TargetSpec { steps })
    }
}

fn parse_target(text: &str) -> Result<Target, RoutingError> {
    Target::parse(text).map_err(|error| RoutingError::BadTarget {
        target: text.to_string(),
        error,
    })
}

fn parse_step(index: usize, item: &Value) -> Result<TargetStep, RoutingError> {
    let bad = |message: String| RoutingError::BadTargetList(format!("item {index}: {message}"));
    let obj = match item {
        Value::Object(obj) => obj,
        // A bare string in the list: a step with defaults.
        Value::String(text) => return Ok(TargetStep::new(parse_target(text)?)),
        other => return Err(bad(format!("expected an object, found {other}"))),
    };
    let target = match obj.get("target") {
        Some(Value::String(text)) => parse_target(text)?,
        Some(other) => return Err(bad(format!("'target' must be a string, found {other}"))),
        None => return Err(bad("missing 'target'".into())),
    };
    let timeout = match obj.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            seconds(v)
                .ok_or_else(|| bad(format!("'timeout' must be a number of seconds, found {v}")))?,
        ),
    };
    let clear = match obj.get("clear") {
        None | Some(Value::Null) => false,
        Some(v) => {
            boolean(v).ok_or_else(|| bad(format!("'clear' must be a boolean, found {v}")))?
        }
    };
    let stat_name = match obj.get("stat_to_check") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            return Err(bad(format!(
                "'stat_to_check' must be a string, found {other}"
            )))
        }
    };
    let check = match stat_name {
        None => None,
        Some(name) => {
            let stat = Stat::parse(name)
                .ok_or_else(|| RoutingError::UnknownStatistic(name.to_string()))?;
            let op = match obj.get("stat_operator") {
                Some(Value::String(s)) => CompareOp::parse(s)
                    .ok_or_else(|| bad(format!("unknown 'stat_operator' '{s}'")))?,
                _ => return Err(bad("'stat_to_check' needs a 'stat_operator'".into())),
            };
            let value = obj
                .get("stat_value")
                .and_then(number)
                .ok_or_else(|| bad("'stat_to_check' needs a numeric 'stat_value'".into()))?;
            Some(StatCheck { stat, op, value })
        }
    };
    Ok(TargetStep {
        target,
        timeout,
        clear,
        check,
    })
}

/// A number or a numeric string.
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// A non-negative number of seconds (number or numeric string).
pub(crate) fn seconds(value: &Value) -> Option<Duration> {
    number(value)
        .filter(|n| *n >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A boolean, or the strings `true`/`false`.
pub(crate) fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_target_string() {
        let spec = TargetSpec::parse("Sales@SS.GA").unwrap();
        assert_eq!(spec.steps.len(), 1);
        assert_eq!(spec.steps[0].timeout, None);
        let err = TargetSpec::parse("Sales@SS.ZZ").unwrap_err();
        assert!(matches!(
            err,
            RoutingError::BadTarget { ref error, .. } if error.position == 9
        ));
    }

    #[test]
    fn json_list_in_a_string_or_as_a_value() {
        let text = r#"[{"target": "Sales@SS.GA", "timeout": "10", "clear": "false",
            "stat_to_check": "RStatAgentsReadyvoice", "stat_operator": "<", "stat_value": "1"},
            {"target": "Support@SS.GA", "timeout": 20, "clear": true}]"#;
        let spec = TargetSpec::parse(text).unwrap();
        assert_eq!(spec.steps.len(), 2);
        assert_eq!(spec.steps[0].timeout, Some(Duration::from_secs(10)));
        assert!(!spec.steps[0].clear);
        assert_eq!(
            spec.steps[0].check,
            Some(StatCheck {
                stat: Stat::AgentsReadyVoice,
                op: CompareOp::Lt,
                value: 1.0
            })
        );
        assert!(spec.steps[1].clear);
        let same = TargetSpec::from_value(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(same, spec);
    }

    #[test]
    fn list_errors() {
        let too_many: Vec<Value> = (0..16).map(|_| json!({"target": "Sales@SS.GA"})).collect();
        assert_eq!(
            TargetSpec::from_value(&Value::Array(too_many)),
            Err(RoutingError::TooManyTargets(16))
        );
        let fifteen: Vec<Value> = (0..15).map(|_| json!({"target": "Sales@SS.GA"})).collect();
        assert!(TargetSpec::from_value(&Value::Array(fifteen)).is_ok());
        assert!(matches!(
            TargetSpec::parse("[]"),
            Err(RoutingError::BadTargetList(_))
        ));
        assert!(matches!(
            TargetSpec::parse("[{\"timeout\": 3}]"),
            Err(RoutingError::BadTargetList(m)) if m.contains("missing 'target'")
        ));
        assert!(matches!(
            TargetSpec::parse("[{\"target\": \"S@SS.GA\", \"timeout\": \"soon\"}]"),
            Err(RoutingError::BadTargetList(m)) if m.contains("timeout")
        ));
        assert!(matches!(
            TargetSpec::parse("[{\"target\": \"S@SS.GA\", \"stat_to_check\": \"Foo\"}]"),
            Err(RoutingError::UnknownStatistic(_))
        ));
        assert!(matches!(
            TargetSpec::parse("[{\"target\": \"S@SS.GA\", \"stat_to_check\": \"RStatAgentsTotal\"}]"),
            Err(RoutingError::BadTargetList(m)) if m.contains("stat_operator")
        ));
        assert!(matches!(
            TargetSpec::parse("[{\"target\": \"S@SS.GA\""),
            Err(RoutingError::BadTargetList(m)) if m.contains("JSON")
        ));
        assert!(matches!(
            TargetSpec::from_value(&json!(3)),
            Err(RoutingError::BadTargetList(_))
        ));
    }
}
