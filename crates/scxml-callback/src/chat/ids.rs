//! Opaque identifiers for chats, participants' secure keys and Bayeux client ids.
//!
//! Identifiers must be hard to guess (a secure key authorises chat operations, a client id
//! receives a device's notifications) but we have no random-number crate: the standard
//! library's `RandomState` is seeded from the operating system's randomness once per process,
//! and hashing a counter and the clock with fresh states gives unpredictable 128-bit tokens.
//! This is not a cryptographic generator; it is enough to keep ids unguessable in practice.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.finish()
}

/// A fresh 32-hex-digit token.
pub fn token() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// Milliseconds since the Unix epoch (UTC), the `utcTime` of transcript entries.
pub fn now_ms() -> u64 {
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
    }
}
