//! Instants as the GMS API writes them: ISO 8601 date-times, answered in UTC with
//! milliseconds (`2026-11-27T08:20:00.000Z`), and held as milliseconds since the Unix epoch.
//!
//! This is the one reader of date-times: the queries compare desired times and cut time
//! buckets with it, and the request's date-times reach the flow already read (as
//! `<field>_ms`), so the flow carries no parser of its own. The grammar:
//! `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z` or an offset `±HH:MM`; chrono does the
//! calendar.

use chrono::{DateTime, SecondsFormat, Utc};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Reads an ISO 8601 date-time (see the module doc); `None` when it is not one.
pub fn parse_iso(text: &str) -> Option<i64> {
    let text = text.trim();
    // The grammar is narrower than what chrono reads: four-digit years, at most milliseconds,
    // and an offset with a colon (`Z` stands for `+00:00`).
    let b = text.as_bytes();
    if b.len() < 17 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if let Some(dot) = text.find('.') {
        let fraction = text[dot + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if !(1..=3).contains(&fraction) {
            return None;
        }
    }
    let text = match text.strip_suffix('Z') {
        Some(utc) => format!("{utc}+00:00"),
        None => {
            let offset = text.get(text.len().saturating_sub(6)..)?.as_bytes();
            if !(matches!(offset[0], b'+' | b'-') && offset[3] == b':') {
                return None;
            }
            text.to_string()
        }
    };
    let seconds = if text.as_bytes().get(16) == Some(&b':') {
        "%Y-%m-%dT%H:%M:%S%.f%:z"
    } else {
        "%Y-%m-%dT%H:%M%:z"
    };
    DateTime::parse_from_str(&text, seconds)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Writes an instant as `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn format_iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_utc_date_times() {
        let t = parse_iso("2016-03-09T14:30:00.000Z").unwrap();
        assert_eq!(t, 1_457_533_800_000);
        assert_eq!(format_iso(t), "2016-03-09T14:30:00.000Z");
        assert_eq!(parse_iso("2016-03-09T14:30Z"), Some(t));
        assert_eq!(parse_iso("2016-03-09T16:30:00+02:00"), Some(t));
        assert_eq!(parse_iso("2016-03-09T14:30:00.5Z"), Some(t + 500));
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            parse_iso("2024-02-29T00:00:00Z").map(format_iso).unwrap(),
            "2024-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for bad in [
            "",
            "tomorrow",
            "2016-03-09",
            "2016-03-09T14:30:00",
            "2016-13-09T14:30:00Z",
            "2023-02-29T00:00:00Z",
            "2016-03-09T24:00:00Z",
            "2016-03-09T14:30:00.1234Z",
            "2016-03-09T14:30:00+0200",
            "2016-03-09T14:30:00Zjunk",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }
}
