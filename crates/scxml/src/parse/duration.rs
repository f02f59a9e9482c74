//! CSS2 time values (`2s`, `1.5s`, `.5s`, `500ms`), the syntax of `<send delay>`.

use std::time::Duration;

/// Parses a CSS2 time: a non-negative decimal number (digits, an optional fraction, or a
/// leading dot) followed by `s` or `ms`. Surrounding whitespace is ignored. A bare number is
/// not a CSS2 time and gives `None`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    let number = number.trim_end();
    let valid = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|&c| c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let millis = value * scale_ms;
    if !millis.is_finite() || millis > u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(Duration::from_micros((millis * 1000.0).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn parses_css2_times() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_duration(" 2.25ms "),
            Some(Duration::from_micros(2250))
        );
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_css2_time() {
        for bad in [
            "", "s", "ms", "5", "1.2.3s", "-1s", "1 h", "abc", "1e3s", ".s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
