//! Opaque identifiers for chats, participants' secure keys and Bayeux client ids.
//!
//! Identifiers must be hard to guess (a secure key authorises chat operations, a client id
//! receives a device's notifications): each is 128 bits from the operating system's
//! cryptographically secure generator (`getrandom`), written as 32 lowercase hex digits.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh 32-hex-digit token.
///
/// # Panics
///
/// When the operating system cannot provide random bytes at all (no request can cause it; the
/// standard library's `HashMap` panics the same way on such a platform).
pub(crate) fn token() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random number generator failed: {e}");
    }
    let mut out = String::with_capacity(32);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Milliseconds since the Unix epoch (UTC), the `utcTime` of transcript entries.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_hex() {
        let a = token();
        let b = token();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        // 1000 tokens, all different: no counter or clock behind them.
        let many: std::collections::HashSet<String> = (0..1000).map(|_| token()).collect();
        assert_eq!(many.len(), 1000);
    }
}
