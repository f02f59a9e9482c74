//! The queue-management throttles of a callback service (GMS's `_throttle_*` options), so a
//! flood of callback requests cannot bury the agents who must call back:
//!
//! - at most `_throttle_callbacks_per_service_1` new callbacks per `_throttle_ttl_1` seconds
//!   (default 500 per 300 s), and `_throttle_callbacks_per_service_2` per `_throttle_ttl_2`
//!   (default 1000 per 3600 s);
//! - at most `_throttle_request_parameters_limit` (default 6) per `_throttle_ttl_2` with the
//!   same values of the `_throttle_request_parameters` fields (default `_customer_number`).
//!
//! A limit of 0 turns its rule off. Past a rule the create is answered 429
//! (`CallbackExceptionThrottled`) with `Retry-After`: when the oldest callback counted leaves
//! the window. Windows slide, and count the creates the throttle let through; they live in
//! memory (a restart starts them afresh). What each window keeps is bounded by its limit.

use super::config::ServiceError;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many distinct parameter values are tracked per service before expired ones are
/// swept; past twice as many live ones, new values are refused.
const SWEEP_AT: usize = 50_000;

/// One sliding window: at most `limit` creates per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    limit: usize,
    window: Duration,
}

/// A service's throttle rules, read from its options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThrottleRules {
    service: Vec<Window>,
    /// The fields whose values make the key, and the window per key.
    per_parameters: Option<(Vec<String>, Window)>,
}

impl ThrottleRules {
    /// Reads the `_throttle_*` options (the defaults are in the service's options already).
    pub(crate) fn of(options: &Map<String, Value>) -> Result<ThrottleRules, ServiceError> {
        let number = |key: &'static str| -> Result<f64, ServiceError> {
            let value = options.get(key).unwrap_or(&Value::Null);
            let n = match value {
                Value::Null => Some(0.0),
                Value::Number(n) => n.as_f64(),
                Value::String(s) if s.trim().is_empty() => Some(0.0),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            n.filter(|n| *n >= 0.0 && n.is_finite())
                .ok_or_else(|| ServiceError::NotPositive {
                    key,
                    value: value.clone(),
                    whole: false,
                })
        };
        let window = |limit: &'static str, ttl: &'static str| -> Result<_, ServiceError> {
            let limit = number(limit)? as usize;
            let seconds = number(ttl)?;
            Ok((limit > 0 && seconds > 0.0).then(|| Window {
                limit,
                window: Duration::from_secs_f64(seconds),
            }))
        };
        let service = [
            window("_throttle_callbacks_per_service_1", "_throttle_ttl_1")?,
            window("_throttle_callbacks_per_service_2", "_throttle_ttl_2")?,
        ]
        .into_iter()
        .flatten()
        .collect();
        let fields: Vec<String> = match options.get("_throttle_request_parameters") {
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        let per_parameters = window("_throttle_request_parameters_limit", "_throttle_ttl_2")?
            .filter(|_| !fields.is_empty())
            .map(|w| (fields, w));
        Ok(ThrottleRules {
            service,
            per_parameters,
        })
    }

    fn is_off(&self) -> bool {
        self.service.is_empty() && self.per_parameters.is_none()
    }
}

/// A create refused by a throttle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThrottleRefusal {
    /// Which rule, in words.
    pub message: String,
    /// Whole seconds until the rule would let one through, at least 1.
    pub retry_after_secs: u64,
}

/// What a service's windows hold: the instants of the creates they let through.
#[derive(Default)]
struct ServiceLog {
    creates: VecDeque<Instant>,
    by_parameters: HashMap<String, VecDeque<Instant>>,
}

/// The throttles of every service.
#[derive(Default)]
pub(crate) struct Throttles {
    logs: Mutex<HashMap<String, ServiceLog>>,
}

impl Throttles {
    /// Counts a create of `service` with the request `fields`, or refuses it.
    pub(crate) fn admit(
        &self,
        service: &str,
        rules: &ThrottleRules,
        fields: &Map<String, Value>,
        now: Instant,
    ) -> Result<(), ThrottleRefusal> {
        if rules.is_off() {
            return Ok(());
        }
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let log = logs.entry(service.to_string()).or_default();
        let longest = rules.service.iter().map(|w| w.window).max();
        if let Some(longest) = longest {
            drop_older(&mut log.creates, now, longest);
        }
        for rule in &rules.service {
            check(&log.creates, rule, now).map_err(|retry_after_secs| ThrottleRefusal {
                message: format!(
                    "service {service} took {} callbacks in the last {} s, the most it takes",
                    rule.limit,
                    rule.window.as_secs()
                ),
                retry_after_secs,
            })?;
        }
        let key = rules.per_parameters.as_ref().map(|(names, rule)| {
            let values: Vec<String> = names
                .iter()
                .map(|name| match fields.get(name) {
                    Some(Value::String(s)) => s.trim().to_string(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                })
                .collect();
            (values.join("\u{1f}"), names, rule)
        });
        if let Some((key, names, rule)) = &key {
            if log.by_parameters.len() >= SWEEP_AT {
                log.by_parameters.retain(|_, creates| {
                    drop_older(creates, now, rule.window);
                    !creates.is_empty()
                });
            }
            let tracked = log.by_parameters.len();
            let creates = log.by_parameters.get_mut(key);
            if creates.is_none() && tracked >= 2 * SWEEP_AT {
                return Err(ThrottleRefusal {
                    message: format!("service {service} tracks too many callers at once"),
                    retry_after_secs: rule.window.as_secs().max(1),
                });
            }
            if let Some(creates) = creates {
                drop_older(creates, now, rule.window);
                check(creates, rule, now).map_err(|retry_after_secs| ThrottleRefusal {
                    message: format!(
                        "service {service} took {} callbacks with the same {} in the last {} s, \
                         the most it takes",
                        rule.limit,
                        names.join(", "),
                        rule.window.as_secs()
                    ),
                    retry_after_secs,
                })?;
            }
        }
        if longest.is_some() {
            log.creates.push_back(now);
        }
        if let Some((key, _, _)) = key {
            log.by_parameters.entry(key).or_default().push_back(now);
        }
        Ok(())
    }
}

/// Forgets the instants older than `window`.
fn drop_older(creates: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while creates
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        creates.pop_front();
    }
}

/// Whether one more create fits `rule`; else the seconds until one does.
fn check(creates: &VecDeque<Instant>, rule: &Window, now: Instant) -> Result<(), u64> {
    let inside: Vec<&Instant> = creates
        .iter()
        .rev()
        .take_while(|t| now.saturating_duration_since(**t) < rule.window)
        .collect();
    if inside.len() < rule.limit {
        return Ok(());
    }
    // The create that must leave the window for one more to fit.
    let leaving = inside[rule.limit - 1];
    let wait = rule
        .window
        .saturating_sub(now.saturating_duration_since(*leaving));
    Err(wait.as_secs_f64().ceil().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(options: Value) -> ThrottleRules {
        ThrottleRules::of(options.as_object().unwrap()).unwrap()
    }

    fn fields(number: &str) -> Map<String, Value> {
        json!({"_customer_number": number})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn service_windows_slide_and_say_when_to_come_back() {
        let rules = rules(json!({
            "_throttle_callbacks_per_service_1": 2, "_throttle_ttl_1": 10,
            "_throttle_callbacks_per_service_2": 3, "_throttle_ttl_2": 100,
        }));
        let t = Throttles::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(t.admit("s", &rules, &fields("1"), at(0)).is_ok());
        assert!(t.admit("s", &rules, &fields("2"), at(4)).is_ok());
        let refused = t.admit("s", &rules, &fields("3"), at(5)).unwrap_err();
        assert_eq!(refused.retry_after_secs, 5, "{refused:?}");
        assert!(refused.message.contains("2 callbacks in the last 10 s"));
        // Another service has its own windows.
        assert!(t.admit("other", &rules, &fields("3"), at(5)).is_ok());
        // The first leaves the short window; the long one is full after the next.
        assert!(t.admit("s", &rules, &fields("3"), at(10)).is_ok());
        let refused = t.admit("s", &rules, &fields("4"), at(30)).unwrap_err();
        assert_eq!(refused.retry_after_secs, 70, "{refused:?}");
        assert!(t.admit("s", &rules, &fields("4"), at(100)).is_ok());
    }

    #[test]
    fn the_same_caller_is_limited_apart_and_zero_turns_rules_off() {
        let limits = rules(json!({
            "_throttle_ttl_2": 60,
            "_throttle_request_parameters": "_customer_number",
            "_throttle_request_parameters_limit": 2,
        }));
        let t = Throttles::default();
        let now = Instant::now();
        assert!(t.admit("s", &limits, &fields("555"), now).is_ok());
        assert!(t.admit("s", &limits, &fields(" 555 "), now).is_ok());
        let refused = t.admit("s", &limits, &fields("555"), now).unwrap_err();
        assert!(
            refused.message.contains("same _customer_number"),
            "{refused:?}"
        );
        assert_eq!(refused.retry_after_secs, 60);
        assert!(t.admit("s", &limits, &fields("556"), now).is_ok());

        let off = rules(json!({
            "_throttle_callbacks_per_service_1": 0, "_throttle_ttl_1": 300,
            "_throttle_request_parameters_limit": 0,
        }));
        assert!(off.is_off());
        for _ in 0..1000 {
            assert!(t.admit("s", &off, &fields("555"), now).is_ok());
        }
        assert!(
            ThrottleRules::of(json!({"_throttle_ttl_1": "soon"}).as_object().unwrap()).is_err()
        );
    }
}
