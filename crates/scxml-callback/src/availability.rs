//! Time slots for scheduled callbacks: a service's day is cut into buckets of
//! `_request_time_bucket` minutes (aligned on the epoch, so on the hour in UTC), and each bucket
//! takes at most `_max_request_by_time_bucket` callbacks; desired times farther ahead than
//! `_reject_future_desired_time` cannot be booked.
//!
//! Two users: `GET service/callback/{service}/availability` ([`handle`]) lists the free slots
//! with their remaining capacity, and the create and reschedule requests hand the flow the
//! number of callbacks already booked in the bucket of the asked time ([`booked`], field
//! `_bucket_booked`), so the flow can refuse a full slot. A callback counts in the bucket of
//! its `_desired_time` until it is completed (also once it has been submitted to its queue).
//! Bookings come from the service index, so no session is woken.
//!
//! With office hours (`_business_hours_service`, [`super::office_hours`]) only the slots
//! that start while they are open are listed.

use super::config::{Service, ServiceError};
use super::index::ServiceIndex;
use super::office_hours::OfficeHours;
use super::query::QueryError;
use super::response::GmsResponse;
use super::time::{format_iso, now_ms, parse_iso};
use serde_json::{Map, Value};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// The most slots one availability request may span.
const MAX_SLOTS: i64 = 50_000;

/// A service's scheduling options, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) bucket_ms: i64,
    pub(crate) capacity: i64,
    /// How far ahead a desired time may be.
    pub(crate) horizon_ms: i64,
}

impl Schedule {
    /// Reads the options (numbers or numeric strings); a bad value is refused with its name.
    pub(crate) fn of(options: &Map<String, Value>) -> Result<Schedule, ServiceError> {
        let number =
            |key: &'static str, default: f64| -> Result<f64, ServiceError> {
                match options.get(key) {
                    None | Some(Value::Null) => Ok(default),
                    Some(value) => number(value).filter(|n| *n > 0.0).ok_or_else(|| {
                        ServiceError::NotPositive {
                            key,
                            value: value.clone(),
                            whole: false,
                        }
                    }),
                }
            };
        let bucket_minutes = number("_request_time_bucket", 5.0)?;
        let capacity = number("_max_request_by_time_bucket", 100.0)?;
        let horizon = match options.get("_reject_future_desired_time") {
            None | Some(Value::Null) => Some(30 * DAY_MS),
            Some(Value::Number(n)) => n.as_f64().map(|s| (s * 1000.0) as i64),
            Some(Value::String(s)) => parse_horizon(s),
            Some(_) => None,
        }
        .filter(|ms| *ms > 0)
        .ok_or(ServiceError::NotAHorizon)?;
        let bucket_ms = (bucket_minutes * MINUTE_MS as f64) as i64;
        if !(1000..=DAY_MS).contains(&bucket_ms) {
            return Err(ServiceError::BucketOutOfRange);
        }
        Ok(Schedule {
            bucket_ms,
            capacity: capacity as i64,
            horizon_ms: horizon,
        })
    }

    /// The start of the bucket holding `at`.
    pub(crate) fn bucket_of(&self, at: i64) -> i64 {
        at.div_euclid(self.bucket_ms) * self.bucket_ms
    }
}

/// `_reject_future_desired_time`: a count and a unit `s`, `m`, `h`, `d`, `w` or `M` (30 days);
/// seconds without a unit. Milliseconds.
pub(crate) fn parse_horizon(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (count, unit) = text.split_at(split);
    let count: f64 = count.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        "M" => 2_592_000,
        _ => return None,
    };
    Some((count * seconds as f64 * 1000.0) as i64)
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// How many outstanding callbacks of `service` (other than `except`) are booked in the bucket
/// of `at`.
pub(crate) fn booked(
    index: &ServiceIndex,
    schedule: &Schedule,
    service: &str,
    at: i64,
    except: Option<&str>,
) -> usize {
    let bucket = schedule.bucket_of(at);
    index
        .select(|r| {
            r["_service_name"] == service
                && r["_callback_state"] != "COMPLETED"
                && except.is_none_or(|id| r["_id"] != id)
                && desired_time(r).is_some_and(|t| schedule.bucket_of(t) == bucket)
        })
        .len()
}

/// A record's desired time.
pub(crate) fn desired_time(record: &Value) -> Option<i64> {
    record.get("_desired_time")?.as_str().and_then(parse_iso)
}

/// `GET service/callback/{service}/availability?start=&end=&number-of-days=&max-time-slots=`:
/// `{"<slot start>": remaining, ...}` for the free slots from `start` (default now) to `end`
/// (default `start` plus `number-of-days`, default 1), at most `max-time-slots` of them.
pub(crate) fn handle(
    index: &ServiceIndex,
    service: &Service,
    office_hours: Option<&OfficeHours>,
    query: &Map<String, Value>,
) -> GmsResponse {
    let schedule = match Schedule::of(&service.options) {
        Ok(s) => s,
        Err(e) => return GmsResponse::error(500, "CallbackExceptionResource", e.to_string()),
    };
    let now = now_ms();
    match slots(index, &service.name, &schedule, office_hours, query, now) {
        Ok(free) => GmsResponse::json(200, &Value::Object(free)),
        Err(e) => GmsResponse::bad_request(e.to_string()),
    }
}

fn slots(
    index: &ServiceIndex,
    service: &str,
    schedule: &Schedule,
    office_hours: Option<&OfficeHours>,
    query: &Map<String, Value>,
    now: i64,
) -> Result<Map<String, Value>, QueryError> {
    const KNOWN: [&str; 4] = ["start", "end", "number-of-days", "max-time-slots"];
    if let Some(unknown) = query.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(QueryError::UnknownParameter {
            name: unknown.clone(),
            known: &KNOWN,
        });
    }
    let text = |name: &str| query.get(name).and_then(Value::as_str).map(str::trim);
    let time = |name: &'static str| -> Result<Option<i64>, QueryError> {
        match text(name) {
            None | Some("") => Ok(None),
            Some(t) => parse_iso(t).map(Some).ok_or_else(|| QueryError::NotATime {
                name,
                text: t.to_string(),
            }),
        }
    };
    let count = |name: &'static str| -> Result<Option<i64>, QueryError> {
        match text(name) {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| QueryError::NotACount {
                    name,
                    text: t.to_string(),
                }),
        }
    };
    let start = time("start")?.unwrap_or(now).max(now);
    let days = count("number-of-days")?;
    let end = match (time("end")?, days) {
        (Some(_), Some(_)) => return Err(QueryError::EndAndDays),
        (Some(end), None) => end,
        (None, days) => start.saturating_add(days.unwrap_or(1).saturating_mul(DAY_MS)),
    };
    if end <= start {
        return Err(QueryError::EmptyRange);
    }
    let end = end.min(now.saturating_add(schedule.horizon_ms));
    let max = count("max-time-slots")?.unwrap_or(i64::MAX);
    // The first slot starting at or after `start`.
    let first = schedule.bucket_of(start.saturating_add(schedule.bucket_ms - 1));
    if (end - first) / schedule.bucket_ms > MAX_SLOTS {
        return Err(QueryError::TooManySlots(MAX_SLOTS));
    }
    let mut taken = std::collections::HashMap::<i64, i64>::new();
    for record in
        index.select(|r| r["_service_name"] == service && r["_callback_state"] != "COMPLETED")
    {
        if let Some(t) = desired_time(&record) {
            *taken.entry(schedule.bucket_of(t)).or_default() += 1;
        }
    }
    let mut free = Map::new();
    let mut slot = first;
    while slot < end && (free.len() as i64) < max {
        let left = schedule.capacity - taken.get(&slot).copied().unwrap_or(0);
        let open = office_hours.is_none_or(|hours| hours.is_open(slot));
        if left > 0 && open {
            free.insert(format_iso(slot), Value::from(left));
        }
        slot += schedule.bucket_ms;
    }
    Ok(free)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tests::query;
    use serde_json::json;

    #[test]
    fn options_are_read_with_their_defaults() {
        let s = Schedule::of(&Map::new()).unwrap();
        assert_eq!(
            (s.bucket_ms, s.capacity, s.horizon_ms),
            (300_000, 100, 30 * DAY_MS)
        );
        let options = json!({"_request_time_bucket": "15", "_max_request_by_time_bucket": 2,
            "_reject_future_desired_time": "2d"});
        let s = Schedule::of(options.as_object().unwrap()).unwrap();
        assert_eq!(
            (s.bucket_ms, s.capacity, s.horizon_ms),
            (900_000, 2, 2 * DAY_MS)
        );
        assert_eq!(parse_horizon("90"), Some(90_000));
        assert_eq!(parse_horizon("1M"), Some(30 * DAY_MS));
        assert_eq!(parse_horizon("1 y"), None);
        let bad = json!({"_request_time_bucket": "often"});
        assert!(Schedule::of(bad.as_object().unwrap())
            .unwrap_err()
            .to_string()
            .contains("_request_time_bucket"));
    }

    #[test]
    fn free_slots_subtract_the_booked_callbacks() {
        let index = ServiceIndex::new();
        let now = parse_iso("2030-01-01T10:02:00Z").unwrap();
        let book = |id: &str, at: &str, state: &str| {
            index
                .put(json!({"_id": id, "_service_name": "s", "_desired_time": at,
                    "_callback_state": state,
                    "_callback_reason": (state == "COMPLETED").then_some("CANCELLED")}))
                .unwrap();
        };
        book("a", "2030-01-01T10:05:00.000Z", "SCHEDULED");
        book("b", "2030-01-01T10:09:59.000Z", "QUEUED");
        book("c", "2030-01-01T10:10:00.000Z", "SCHEDULED");
        book("d", "2030-01-01T10:10:00.000Z", "COMPLETED");
        let schedule = Schedule {
            bucket_ms: 300_000,
            capacity: 2,
            horizon_ms: DAY_MS,
        };
        let free = slots(
            &index,
            "s",
            &schedule,
            None,
            &query(&[("max-time-slots", "3")]),
            now,
        )
        .unwrap();
        assert_eq!(
            Value::Object(free),
            json!({"2030-01-01T10:10:00.000Z": 1, "2030-01-01T10:15:00.000Z": 2,
                "2030-01-01T10:20:00.000Z": 2})
        );
        let at = parse_iso("2030-01-01T10:06:00Z").unwrap();
        assert_eq!(booked(&index, &schedule, "s", at, None), 2);
        assert_eq!(booked(&index, &schedule, "s", at, Some("a")), 1);
        let q = query(&[
            ("start", "2030-01-01T11:00:00Z"),
            ("end", "2030-01-01T11:10:00Z"),
        ]);
        let free = slots(&index, "s", &schedule, None, &q, now).unwrap();
        assert_eq!(free.len(), 2);
        for bad in [
            query(&[("start", "soon")]),
            query(&[("number-of-days", "0")]),
            query(&[("end", "2030-01-01T11:00:00Z"), ("number-of-days", "1")]),
            query(&[("end", "2029-01-01T11:00:00Z")]),
            query(&[("days", "1")]),
        ] {
            assert!(
                slots(&index, "s", &schedule, None, &bad, now).is_err(),
                "{bad:?}"
            );
        }
    }
}
