//! Instants as the GMS API writes them: ISO 8601 date-times, answered in UTC with
//! milliseconds (`2026-11-27T08:20:00.000Z`), and held as milliseconds since the Unix epoch.
//!
//! The queries compare desired times and cut time buckets, so Rust needs the same reading of
//! a date-time as the flow (which parses `_desired_time` itself). Both accept one grammar:
//! `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z` or an offset `±HH:MM`. No library is needed
//! for that much.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Reads an ISO 8601 date-time (see the module doc); `None` when it is not one.
pub fn parse_iso(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':')) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute) = (digits(11, 2)?, digits(14, 2)?);
    let mut i = 16;
    let mut second = 0;
    let mut millis = 0;
    if at(i, b':') {
        second = digits(i + 1, 2)?;
        i += 3;
        if at(i, b'.') {
            let len = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=3).contains(&len) {
                return None;
            }
            millis = digits(i + 1, len)? * 10i64.pow(3 - len as u32);
            i += 1 + len;
        }
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3, b':') => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return None,
    };
    let month_days = [
        31,
        28 + i64::from(leap(year)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[(month - 1) as usize]
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Writes an instant as `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn format_iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

fn leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
