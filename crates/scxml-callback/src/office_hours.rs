//! Office hours: when a contact centre takes callbacks, so that a customer is not offered, or
//! booked for, 3 a.m. (`_business_hours_service` names one of these; GMS's office-hours
//! built-in service).
//!
//! Configured under `[office_hours.<name>]`, in a time zone with its daylight-saving rules:
//!
//! ```toml
//! [office_hours.contact-centre]
//! timezone = "America/New_York"
//! weekly = ["Mon-Fri 08:00-12:00, 13:00-20:00", "Sat 09:00-13:00"]
//! closed = ["2026-12-25", "2027-01-01"]      # holidays: closed all day
//! special = ["2026-12-24 08:00-12:00"]       # that day only these hours
//! ```
//!
//! Days are `Mon`..`Sun`, alone, as a range (`Mon-Fri`, `Fri-Mon` wraps) or listed with
//! commas; hours are `HH:MM-HH:MM` (end after start, `24:00` for midnight). A service uses
//! them three ways: a desired time outside them is refused, the availability query lists only
//! open slots, and with `_enable_reject_out_of_office_hours` an immediate callback is refused
//! while closed; each refusal names the next opening.

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// How far ahead the next opening is looked for.
const LOOKAHEAD_DAYS: u32 = 400;

/// `[office_hours.<name>]` as written in the configuration file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OfficeHoursConfig {
    /// An IANA time zone (`Europe/Paris`); the hours are local times there.
    pub timezone: String,
    /// The weekly hours: `"Mon-Fri 09:00-17:00"`, one day set per entry.
    #[serde(default)]
    pub weekly: Vec<String>,
    /// Dates closed all day (`"2026-12-25"`).
    #[serde(default)]
    pub closed: Vec<String>,
    /// Dates with their own hours, in place of the weekly ones (`"2026-12-24 09:00-12:00"`).
    #[serde(default)]
    pub special: Vec<String>,
}

/// A problem in an `[office_hours]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfficeHoursError {
    /// The time zone is not one of the IANA database.
    #[error("timezone {0:?} is not an IANA time zone such as Europe/Paris")]
    UnknownTimeZone(String),
    /// An entry does not read.
    #[error("{field} entry {entry:?}: {reason}")]
    BadEntry {
        /// `weekly`, `closed` or `special`.
        field: &'static str,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No hour of any day is open.
    #[error("no weekly or special hours: the service would never be open")]
    NeverOpen,
}

/// Open intervals of one day, in minutes after local midnight, `[from, to)`.
type DayHours = Vec<(u32, u32)>;

/// Office hours, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficeHours {
    tz: Tz,
    /// By `Weekday::num_days_from_monday`.
    weekly: [DayHours; 7],
    closed: BTreeSet<NaiveDate>,
    special: BTreeMap<NaiveDate, DayHours>,
}

impl OfficeHours {
    /// Reads a configured table.
    pub fn from_config(config: &OfficeHoursConfig) -> Result<OfficeHours, OfficeHoursError> {
        let tz: Tz = config
            .timezone
            .parse()
            .map_err(|_| OfficeHoursError::UnknownTimeZone(config.timezone.clone()))?;
        let bad = |field: &'static str, entry: &str, reason: String| OfficeHoursError::BadEntry {
            field,
            entry: entry.to_string(),
            reason,
        };
        let mut weekly: [DayHours; 7] = Default::default();
        for entry in &config.weekly {
            let (days, hours) = entry
                .trim()
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad("weekly", entry, "expected days then hours".into()))?;
            let days = parse_days(days).map_err(|r| bad("weekly", entry, r))?;
            let hours = parse_hours(hours).map_err(|r| bad("weekly", entry, r))?;
            for day in days {
                weekly[day.num_days_from_monday() as usize].extend(hours.iter().copied());
            }
        }
        let mut closed = BTreeSet::new();
        for entry in &config.closed {
            closed.insert(parse_date(entry.trim()).map_err(|r| bad("closed", entry, r))?);
        }
        let mut special = BTreeMap::new();
        for entry in &config.special {
            let (date, hours) = entry
                .trim()
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad("special", entry, "expected a date then hours".into()))?;
            let date = parse_date(date).map_err(|r| bad("special", entry, r))?;
            let hours = parse_hours(hours).map_err(|r| bad("special", entry, r))?;
            special.entry(date).or_insert_with(Vec::new).extend(hours);
        }
        for hours in weekly.iter_mut().chain(special.values_mut()) {
            hours.sort_unstable();
        }
        if weekly.iter().all(Vec::is_empty) && special.is_empty() {
            return Err(OfficeHoursError::NeverOpen);
        }
        Ok(OfficeHours {
            tz,
            weekly,
            closed,
            special,
        })
    }

    /// The open intervals of a local date.
    fn hours_of(&self, date: NaiveDate) -> &[(u32, u32)] {
        if let Some(hours) = self.special.get(&date) {
            return hours;
        }
        if self.closed.contains(&date) {
            return &[];
        }
        &self.weekly[date.weekday().num_days_from_monday() as usize]
    }

    /// Whether the instant (milliseconds since the epoch) is within the office hours.
    pub fn is_open(&self, at_ms: i64) -> bool {
        let Some(local) = self.tz.timestamp_millis_opt(at_ms).single() else {
            return false;
        };
        let minute = local.hour() * 60 + local.minute();
        self.hours_of(local.date_naive())
            .iter()
            .any(|&(from, to)| (from..to).contains(&minute))
    }

    /// The first instant at or after `at_ms` within the office hours (within about a year).
    pub fn next_opening(&self, at_ms: i64) -> Option<i64> {
        if self.is_open(at_ms) {
            return Some(at_ms);
        }
        let start = self.tz.timestamp_millis_opt(at_ms).single()?.date_naive();
        let openings = |date: NaiveDate| {
            self.hours_of(date)
                .iter()
                .filter_map(move |&(from, _)| self.instant(date, from))
        };
        let mut days = start.iter_days();
        for date in days.by_ref().take(LOOKAHEAD_DAYS as usize) {
            if let Some(opening) = openings(date).find(|&opening| opening >= at_ms) {
                return Some(opening);
            }
        }
        // Weekly hours repeat within the look-ahead; only a special day can lie beyond it.
        let beyond = days.next()?;
        self.special
            .range(beyond..)
            .find_map(|(&date, _)| openings(date).next())
    }

    /// The instant of a local date and minute (in a daylight-saving gap, the first instant
    /// after it).
    fn instant(&self, date: NaiveDate, minute: u32) -> Option<i64> {
        let mut at = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(
            (minute % (24 * 60)) * 60,
            0,
        )?);
        if minute >= 24 * 60 {
            at += chrono::Duration::days(1);
        }
        // A gap lasts at most a few hours: step past it.
        for _ in 0..8 {
            if let Some(local) = self.tz.from_local_datetime(&at).earliest() {
                return Some(local.timestamp_millis());
            }
            at += chrono::Duration::minutes(30);
        }
        None
    }
}

fn parse_days(text: &str) -> Result<Vec<Weekday>, String> {
    let mut days = Vec::new();
    for part in text.split(',').map(str::trim) {
        let day = |name: &str| -> Result<Weekday, String> {
            name.parse::<Weekday>()
                .map_err(|_| format!("{name:?} is not a day (Mon, Tue, ... Sun)"))
        };
        match part.split_once('-') {
            Some((first, last)) => {
                let (mut d, last) = (day(first)?, day(last)?);
                loop {
                    days.push(d);
                    if d == last {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => days.push(day(part)?),
        }
    }
    Ok(days)
}

fn parse_hours(text: &str) -> Result<DayHours, String> {
    text.split(',')
        .map(str::trim)
        .map(|range| {
            let (from, to) = range
                .split_once('-')
                .ok_or_else(|| format!("{range:?} is not HH:MM-HH:MM"))?;
            let (from, to) = (parse_minute(from)?, parse_minute(to)?);
            if from >= to {
                return Err(format!("{range:?} ends before it starts"));
            }
            Ok((from, to))
        })
        .collect()
}

fn parse_minute(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a time HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) || text.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_iso;

    fn hours(timezone: &str, weekly: &[&str], closed: &[&str], special: &[&str]) -> OfficeHours {
        let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        OfficeHours::from_config(&OfficeHoursConfig {
            timezone: timezone.into(),
            weekly: strings(weekly),
            closed: strings(closed),
            special: strings(special),
        })
        .unwrap()
    }

    fn at(text: &str) -> i64 {
        parse_iso(text).unwrap()
    }

    #[test]
    fn weekly_hours_holidays_and_special_days_in_the_local_zone() {
        let h = hours(
            "Europe/Paris",
            &["Mon-Fri 09:00-12:00, 14:00-18:00", "Sat 10:00-13:00"],
            &["2026-12-25"],
            &["2026-12-24 09:00-11:00", "2026-12-27 10:00-12:00"],
        );
        // Wednesday 2026-12-02, Paris is UTC+1 in winter.
        assert!(h.is_open(at("2026-12-02T08:00:00Z")));
        assert!(!h.is_open(at("2026-12-02T07:59:00Z")));
        assert!(!h.is_open(at("2026-12-02T11:30:00Z")), "lunch");
        assert!(!h.is_open(at("2026-12-02T17:00:00Z")), "18:00 is closed");
        assert!(h.is_open(at("2026-12-05T09:30:00Z")), "Saturday morning");
        assert!(!h.is_open(at("2026-12-06T09:30:00Z")), "Sunday");
        assert!(!h.is_open(at("2026-12-25T09:00:00Z")), "a holiday");
        assert!(h.is_open(at("2026-12-27T09:30:00Z")), "a special Sunday");
        assert!(!h.is_open(at("2026-12-24T10:30:00Z")), "closes early");
        // The next opening: after lunch, Monday after the weekend, past the holiday.
        assert_eq!(
            h.next_opening(at("2026-12-02T11:30:00Z")),
            Some(at("2026-12-02T13:00:00Z"))
        );
        assert_eq!(
            h.next_opening(at("2026-12-05T13:00:00Z")),
            Some(at("2026-12-07T08:00:00Z"))
        );
        assert_eq!(
            h.next_opening(at("2026-12-24T10:00:00Z")),
            Some(at("2026-12-26T09:00:00Z"))
        );
        let open = at("2026-12-02T09:00:00Z");
        assert_eq!(h.next_opening(open), Some(open));
        // A special day years ahead is found too.
        let rare = hours("UTC", &[], &[], &["2031-05-01 10:00-11:00"]);
        assert_eq!(
            rare.next_opening(at("2026-12-02T09:00:00Z")),
            Some(at("2031-05-01T10:00:00Z"))
        );
    }

    #[test]
    fn daylight_saving_time_moves_the_hours_in_utc() {
        let h = hours("America/New_York", &["Mon-Sun 09:00-17:00"], &[], &[]);
        // EST (UTC-5) in January, EDT (UTC-4) in July.
        assert!(h.is_open(at("2026-01-15T14:00:00Z")));
        assert!(!h.is_open(at("2026-01-15T13:30:00Z")));
        assert!(h.is_open(at("2026-07-15T13:30:00Z")));
        // Opening inside the spring-forward gap (02:00-03:00 on 2026-03-08) is 03:00 EDT.
        let early = hours("America/New_York", &["Sun 02:30-04:00"], &[], &[]);
        assert_eq!(
            early.next_opening(at("2026-03-08T05:00:00Z")),
            Some(at("2026-03-08T07:00:00Z"))
        );
        // Fri-Mon wraps over the weekend.
        let weekend = hours("UTC", &["Fri-Mon 00:00-24:00"], &[], &[]);
        assert!(weekend.is_open(at("2026-12-06T12:00:00Z")));
        assert!(!weekend.is_open(at("2026-12-08T12:00:00Z")), "Tuesday");
    }

    #[test]
    fn bad_tables_are_refused_with_the_entry() {
        let config = |timezone: &str, weekly: &[&str], closed: &[&str]| OfficeHoursConfig {
            timezone: timezone.into(),
            weekly: weekly.iter().map(|s| s.to_string()).collect(),
            closed: closed.iter().map(|s| s.to_string()).collect(),
            special: Vec::new(),
        };
        for (c, expect) in [
            (config("Mars/Olympus", &["Mon 09:00-17:00"], &[]), "IANA"),
            (
                config("UTC", &["Mon 17:00-09:00"], &[]),
                "ends before it starts",
            ),
            (config("UTC", &["Funday 09:00-17:00"], &[]), "not a day"),
            (config("UTC", &["Mon 9-17"], &[]), "HH:MM"),
            (config("UTC", &["Mon 09:00-24:30"], &[]), "HH:MM"),
            (
                config("UTC", &["Mon 09:00-17:00"], &["25/12/2026"]),
                "YYYY-MM-DD",
            ),
            (config("UTC", &[], &[]), "never be open"),
        ] {
            let err = OfficeHours::from_config(&c).unwrap_err().to_string();
            assert!(err.contains(expect), "{c:?}: {err}");
        }
    }
}
