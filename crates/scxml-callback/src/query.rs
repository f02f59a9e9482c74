//! Queries over many callback services, answered from the service index (no session is
//! woken):
//!
//! - `GET service/callback/{service}?{property}={value}[&...]` ([`by_properties`]): the
//!   records of the service's callbacks whose properties all equal the given values (any record
//!   key: `_id`, `_customer_number`, `_callback_state`, `usr_*`, ...), oldest desired time
//!   first. Several values for one property may be given comma-separated for
//!   `_callback_state` and `_callback_reason` (`_callback_state=QUEUED,SCHEDULED`).
//!   Without `{service}`, over every service.
//! - `GET admin/callback/queues?target=&states=&start_time=&end_time=&max=&{property}=`
//!   ([`queues`]): the outstanding callbacks grouped by virtual queue,
//!   `{"<vq>": [record, ...]}`. `target`: comma-separated virtual queues (default all);
//!   `states`: comma-separated states (default every state but `COMPLETED`); `start_time`,
//!   `end_time`: bounds on `_desired_time` (default: no lower bound, 24 hours ahead);
//!   `max`: the most callbacks listed per queue; other `_`/`usr_` keys filter as above. In each
//!   queue, the callbacks routing holds come first in queue order, with their `_position`,
//!   then the others by desired time.
//!
//! A parameter that is not understood is refused (400), so a mistyped filter does not
//! silently answer everything.

use super::index::ServiceIndex;
use super::response::GmsResponse;
use super::routing::Router;
use super::time::{now_ms, parse_iso};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// The states a callback may be in.
const STATES: [&str; 5] = ["SCHEDULED", "QUEUED", "ROUTING", "PROCESSING", "COMPLETED"];
/// Properties whose value may be a comma-separated list.
const LISTS: [&str; 2] = ["_callback_state", "_callback_reason"];
const HOUR_MS: i64 = 3_600_000;

/// Why a query over services is refused (answered 400 with this text): a parameter that is
/// not understood, or a value that does not read. Each names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QueryError {
    /// A parameter of a query with a fixed set of them (the availability query) is none of
    /// them.
    #[error("unknown parameter {name:?} (known: {})", .known.join(", "))]
    UnknownParameter {
        /// The parameter, as given.
        name: String,
        /// The parameters the query takes.
        known: &'static [&'static str],
    },
    /// A parameter of a filtering query is neither a record property (`_name`, `usr_name`)
    /// nor one of the query's own parameters.
    #[error("unknown parameter {name:?}: filter on record properties (_name or usr_name){}", or_one_of(.own))]
    NotAFilter {
        /// The parameter, as given.
        name: String,
        /// The query's own parameters (none for the query by properties).
        own: &'static [&'static str],
    },
    /// A state filter names a state no callback is ever in.
    #[error("unknown callback state {0:?} (one of {states})", states = STATES.join(", "))]
    UnknownState(String),
    /// A time bound is not an ISO 8601 date-time.
    #[error("{name} must be an ISO 8601 date-time such as 2030-01-31T14:30:00.000Z, not {text:?}")]
    NotATime {
        /// The parameter.
        name: &'static str,
        /// Its value, as given.
        text: String,
    },
    /// A count (`max`, `number-of-days`, `max-time-slots`) is not a whole number above 0.
    #[error("{name} must be a positive whole number, not {text:?}")]
    NotACount {
        /// The parameter.
        name: &'static str,
        /// Its value, as given.
        text: String,
    },
    /// The queue listing's `end_time` is before its `start_time`.
    #[error("end_time is before start_time")]
    EndBeforeStart,
    /// The availability query gives both ways of saying where the range ends.
    #[error("give end or number-of-days, not both")]
    EndAndDays,
    /// The availability query's range ends at or before its start (or before now).
    #[error("end must be after start (and after now)")]
    EmptyRange,
    /// The availability query's range holds more slots than one answer may list (the most
    /// is given).
    #[error("the range spans more than {0} slots; ask for a shorter one")]
    TooManySlots(i64),
}

/// ` or one of a, b`, after the record properties, when a query has parameters of its own.
fn or_one_of(own: &[&str]) -> String {
    if own.is_empty() {
        String::new()
    } else {
        format!(" or one of {}", own.join(", "))
    }
}

/// One property filter: the record's value, as text, must be one of `values`.
struct Filter {
    key: String,
    values: Vec<String>,
}

impl Filter {
    fn matches(&self, record: &Value) -> bool {
        let value = match record.get(&self.key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => return false,
            Some(other) => other.to_string(),
        };
        self.values.contains(&value)
    }
}

/// Reads the property filters of a query (keys starting with `_` or `usr_`); other keys must
/// be in `own`, the query's own parameters.
fn filters(
    query: &Map<String, Value>,
    own: &'static [&'static str],
) -> Result<Vec<Filter>, QueryError> {
    let mut out = Vec::new();
    for (key, value) in query {
        if own.contains(&key.as_str()) {
            continue;
        }
        if !(key.starts_with('_') || key.starts_with("usr_")) {
            return Err(QueryError::NotAFilter {
                name: key.clone(),
                own,
            });
        }
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        let values = if LISTS.contains(&key.as_str()) {
            text.split(',').map(|v| v.trim().to_string()).collect()
        } else {
            vec![text]
        };
        if key == "_callback_state" {
            check_states(&values)?;
        }
        out.push(Filter {
            key: key.clone(),
            values,
        });
    }
    Ok(out)
}

fn check_states(states: &[String]) -> Result<(), QueryError> {
    match states.iter().find(|s| !STATES.contains(&s.as_str())) {
        Some(bad) => Err(QueryError::UnknownState(bad.clone())),
        None => Ok(()),
    }
}

fn by_desired_time(records: &mut [Value]) {
    records.sort_by(|a, b| {
        let key = |r: &Value| {
            (
                super::availability::desired_time(r).unwrap_or(i64::MAX),
                r["_id"].as_str().unwrap_or_default().to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// `GET service/callback[/{service}]?{property}={value}`: the matching records.
pub(crate) fn by_properties(
    index: &ServiceIndex,
    service: Option<&str>,
    query: &Map<String, Value>,
) -> GmsResponse {
    const OWN: [&str; 4] = ["offset", "limit", "desired_from", "desired_to"];
    let filters = match filters(query, &OWN) {
        Ok(f) => f,
        Err(e) => return GmsResponse::bad_request(e.to_string()),
    };
    // `desired_from` / `desired_to` (ISO 8601): desired times in that window, both ends in.
    let bound = |name: &'static str| -> Result<Option<i64>, GmsResponse> {
        match query.get(name).and_then(Value::as_str).map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => parse_iso(text).map(Some).ok_or_else(|| {
                GmsResponse::bad_request(format!(
                    "{name} must be an ISO 8601 date-time, not {text}"
                ))
            }),
        }
    };
    let (from, to) = match (bound("desired_from"), bound("desired_to")) {
        (Ok(from), Ok(to)) => (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    let in_window = |r: &Value| {
        (from == i64::MIN && to == i64::MAX)
            || crate::availability::desired_time(r).is_some_and(|t| (from..=to).contains(&t))
    };
    let mut found = index.select(|r| {
        service.is_none_or(|s| r["_service_name"] == s)
            && filters.iter().all(|f| f.matches(r))
            && in_window(r)
    });
    by_desired_time(&mut found);
    // GMS answers the whole list; `offset`/`limit` (an operator console's paging) answer one
    // page with the total instead.
    let number = |name: &str| -> Result<Option<usize>, GmsResponse> {
        match query.get(name).and_then(Value::as_str).map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                GmsResponse::bad_request(format!("{name} must be a whole number, not {text}"))
            }),
        }
    };
    let (offset, limit) = match (number("offset"), number("limit")) {
        (Ok(offset), Ok(limit)) => (offset, limit),
        (Err(answer), _) | (_, Err(answer)) => return answer,
    };
    if offset.is_none() && limit.is_none() {
        return GmsResponse::json(200, &Value::Array(found));
    }
    let total = found.len();
    let offset = offset.unwrap_or(0);
    let limit = limit.unwrap_or(100).clamp(1, 1000);
    let page: Vec<Value> = found.into_iter().skip(offset).take(limit).collect();
    GmsResponse::json(
        200,
        &serde_json::json!({"total": total, "offset": offset, "limit": limit, "callbacks": page}),
    )
}

/// `GET admin/callback/queues?...`: outstanding callbacks by virtual queue.
pub(crate) fn queues(
    index: &ServiceIndex,
    router: &Router,
    query: &Map<String, Value>,
) -> GmsResponse {
    match queue_listing(index, router, query, now_ms()) {
        Ok(listing) => GmsResponse::json(200, &Value::Object(listing)),
        Err(e) => GmsResponse::bad_request(e.to_string()),
    }
}

fn queue_listing(
    index: &ServiceIndex,
    router: &Router,
    query: &Map<String, Value>,
    now: i64,
) -> Result<Map<String, Value>, QueryError> {
    const OWN: [&str; 5] = ["target", "states", "start_time", "end_time", "max"];
    let filters = filters(query, &OWN)?;
    let text = |name: &str| {
        query
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let list = |name: &str| -> Option<Vec<String>> {
        text(name).map(|t| t.split(',').map(|v| v.trim().to_string()).collect())
    };
    let time = |name: &'static str| -> Result<Option<i64>, QueryError> {
        text(name)
            .map(|t| {
                parse_iso(t).ok_or_else(|| QueryError::NotATime {
                    name,
                    text: t.to_string(),
                })
            })
            .transpose()
    };
    let targets = list("target");
    let states =
        list("states").unwrap_or_else(|| STATES[..4].iter().map(|s| s.to_string()).collect());
    check_states(&states)?;
    let start = time("start_time")?.unwrap_or(i64::MIN);
    let end = time("end_time")?.unwrap_or(now + 24 * HOUR_MS);
    if end < start {
        return Err(QueryError::EndBeforeStart);
    }
    let max = match text("max") {
        None => usize::MAX,
        Some(t) => {
            t.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| QueryError::NotACount {
                    name: "max",
                    text: t.to_string(),
                })?
        }
    };
    let records = index.select(|r| {
        let state = r["_callback_state"].as_str().unwrap_or_default();
        let vq = r["_urs_virtual_queue"].as_str().unwrap_or_default();
        let at = super::availability::desired_time(r).unwrap_or(now);
        states.iter().any(|s| s == state)
            && targets.as_ref().is_none_or(|t| t.iter().any(|q| q == vq))
            && (start..=end).contains(&at)
            && filters.iter().all(|f| f.matches(r))
    });
    let mut by_queue: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for record in records {
        let vq = record["_urs_virtual_queue"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        by_queue.entry(vq).or_default().push(record);
    }
    let mut listing = Map::new();
    for (vq, mut records) in by_queue {
        // Queue order from routing: position by request id (the service id).
        let order: BTreeMap<String, usize> = router
            .requests(Some(&vq), Instant::now())
            .into_iter()
            .enumerate()
            .map(|(i, view)| (view.request, i + 1))
            .collect();
        by_desired_time(&mut records);
        records.sort_by_key(|r| {
            order
                .get(r["_id"].as_str().unwrap_or_default())
                .copied()
                .unwrap_or(usize::MAX)
        });
        let records: Vec<Value> = records
            .into_iter()
            .take(max)
            .map(|mut r| {
                if let Some(p) = r["_id"].as_str().and_then(|id| order.get(id)).copied() {
                    r["_position"] = Value::from(p);
                    // The estimated wait, as check-queue-position gives it.
                    let status = r["_id"]
                        .as_str()
                        .and_then(|id| router.status(id, Instant::now()).ok());
                    if let Some(status) = status {
                        r["_eta"] = status.eta.map_or_else(|| Value::from("n/a"), Value::from);
                    }
                }
                r
            })
            .collect();
        listing.insert(vq, Value::Array(records));
    }
    Ok(listing)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A query string's fields, as the API hands them over.
    pub(crate) fn query(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect()
    }

    fn index() -> ServiceIndex {
        let index = ServiceIndex::new();
        for (id, service, state, vq, at, number) in [
            (
                "a",
                "s1",
                "QUEUED",
                "vq1",
                "2030-01-01T10:00:00.000Z",
                "555",
            ),
            (
                "b",
                "s1",
                "SCHEDULED",
                "vq1",
                "2030-01-01T09:00:00.000Z",
                "555",
            ),
            (
                "c",
                "s1",
                "COMPLETED",
                "vq1",
                "2030-01-01T08:00:00.000Z",
                "555",
            ),
            (
                "d",
                "s2",
                "QUEUED",
                "vq2",
                "2030-01-01T10:00:00.000Z",
                "777",
            ),
            (
                "e",
                "s2",
                "SCHEDULED",
                "vq2",
                "2030-01-05T10:00:00.000Z",
                "777",
            ),
        ] {
            index
                .put(
                    json!({"_id": id, "_service_name": service, "_callback_state": state,
                    "_callback_reason": (state == "COMPLETED").then_some("CANCELLED"),
                    "_urs_virtual_queue": vq, "_desired_time": at, "_customer_number": number,
                    "usr_tag": id}),
                )
                .unwrap();
        }
        index
    }

    fn ids(value: &Value) -> Vec<&str> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["_id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn records_match_every_given_property() {
        let index = index();
        let answer = |service, pairs: &[(&str, &str)]| {
            let r = by_properties(&index, service, &query(pairs));
            (r.status, serde_json::from_slice::<Value>(&r.body).unwrap())
        };
        let (_, found) = answer(Some("s1"), &[("_customer_number", "555")]);
        assert_eq!(ids(&found), ["c", "b", "a"]);
        let (_, found) = answer(Some("s1"), &[("_callback_state", "QUEUED,SCHEDULED")]);
        assert_eq!(ids(&found), ["b", "a"]);
        let (_, found) = answer(None, &[("usr_tag", "d")]);
        assert_eq!(ids(&found), ["d"]);
        let (_, found) = answer(Some("s2"), &[("_customer_number", "555")]);
        assert!(ids(&found).is_empty());
        assert_eq!(answer(Some("s1"), &[("customer", "555")]).0, 400);
        assert_eq!(answer(Some("s1"), &[("_callback_state", "WAITING")]).0, 400);
    }

    #[test]
    fn queues_list_outstanding_callbacks_by_virtual_queue() {
        let index = index();
        let router = Router::new(Default::default()).unwrap();
        let now = parse_iso("2030-01-01T10:00:00Z").unwrap();
        let listing = queue_listing(&index, &router, &query(&[]), now).unwrap();
        assert_eq!(ids(&listing["vq1"]), ["b", "a"]);
        assert_eq!(ids(&listing["vq2"]), ["d"], "e is more than 24 hours ahead");
        let q = query(&[("target", "vq2"), ("end_time", "2030-02-01T00:00:00Z")]);
        let listing = queue_listing(&index, &router, &q, now).unwrap();
        assert_eq!(listing.keys().collect::<Vec<_>>(), ["vq2"]);
        assert_eq!(ids(&listing["vq2"]), ["d", "e"]);
        let q = query(&[
            ("states", "SCHEDULED"),
            ("max", "1"),
            ("_customer_number", "555"),
        ]);
        let listing = queue_listing(&index, &router, &q, now).unwrap();
        assert_eq!(ids(&listing["vq1"]), ["b"]);
        for bad in [
            query(&[("max", "-1")]),
            query(&[("states", "DONE")]),
            query(&[("end_time", "later")]),
            query(&[("traget", "vq1")]),
            query(&[
                ("start_time", "2030-01-02T00:00:00Z"),
                ("end_time", "2030-01-01T00:00:00Z"),
            ]),
        ] {
            assert!(
                queue_listing(&index, &router, &bad, now).is_err(),
                "{bad:?}"
            );
        }
    }
}
