//! Bounds on what the public device API may be asked: requests per second per device and per
//! client address, and callbacks open at once per device. Past a bound the answer is 429 with
//! `Retry-After`, before any work is done.
//!
//! The device API takes no credentials (a device is its `gms_user` header, as in GMS), so
//! these bounds are what stands between one misbehaving client and everyone else. Rates are
//! token buckets: a sustained rate with a burst above it. Each key's bucket lives in memory
//! until it has been full (idle) for a while; the number of keys is bounded too, so a client
//! inventing `gms_user` values cannot grow the map without bound (new keys are refused, 429,
//! while it is full of active ones).

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[gms.limits]`: 0 turns a bound off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per second one `gms_user` may make, sustained.
    pub device_requests_per_second: f64,
    /// Requests one `gms_user` may make at once above its rate.
    pub device_burst: u32,
    /// Requests per second one client address may make, sustained (every device behind it).
    pub address_requests_per_second: f64,
    /// Requests one client address may make at once above its rate.
    pub address_burst: u32,
    /// Callbacks one `gms_user` may have open (not completed) at once.
    pub callbacks_per_device: usize,
    /// The most devices and addresses tracked at once.
    pub max_tracked: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            device_requests_per_second: 20.0,
            device_burst: 40,
            address_requests_per_second: 200.0,
            address_burst: 400,
            callbacks_per_device: 20,
            max_tracked: 100_000,
        }
    }
}

impl LimitsConfig {
    /// No bounds at all (benchmarks that drive thousands of requests a second from one
    /// address).
    pub fn unbounded() -> LimitsConfig {
        LimitsConfig {
            device_requests_per_second: 0.0,
            device_burst: 0,
            address_requests_per_second: 0.0,
            address_burst: 0,
            callbacks_per_device: 0,
            max_tracked: 0,
        }
    }
}

/// A refused request: how long to wait before asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Whole seconds, at least 1, for `Retry-After`.
    pub retry_after_secs: u64,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by key.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` per second with `burst` above it; `None` when the rate is 0 (no bound).
    pub(crate) fn new(rate: f64, burst: u32, max_keys: usize) -> Option<RateLimiter> {
        (rate > 0.0).then(|| RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one request's token from `key`'s bucket at `now`.
    pub(crate) fn take(&self, key: &str, now: Instant) -> Result<(), Throttled> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            self.forget_idle(&mut buckets, now);
            if buckets.len() >= self.max_keys {
                return Err(Throttled {
                    retry_after_secs: (self.burst / self.rate).ceil().max(1.0) as u64,
                });
            }
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate;
            Err(Throttled {
                retry_after_secs: wait.ceil().max(1.0) as u64,
            })
        }
    }

    /// Drops the buckets that have refilled: a key seen again starts full, as it would be.
    fn forget_idle(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let full_after = Duration::from_secs_f64(self.burst / self.rate);
        buckets.retain(|_, b| now.saturating_duration_since(b.updated) < full_after);
    }

    /// Forgets idle keys (the application's janitor calls it now and then).
    pub(crate) fn prune(&self, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        self.forget_idle(&mut buckets, now);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

/// The device API's bounds, as the application applies them.
pub(crate) struct DeviceLimits {
    per_device: Option<RateLimiter>,
    per_address: Option<RateLimiter>,
    /// Open callbacks per device, at most.
    pub(crate) callbacks_per_device: usize,
}

impl DeviceLimits {
    pub(crate) fn new(config: &LimitsConfig) -> DeviceLimits {
        DeviceLimits {
            per_device: RateLimiter::new(
                config.device_requests_per_second,
                config.device_burst,
                config.max_tracked,
            ),
            per_address: RateLimiter::new(
                config.address_requests_per_second,
                config.address_burst,
                config.max_tracked,
            ),
            callbacks_per_device: config.callbacks_per_device,
        }
    }

    /// One anonymous request from `address`, as device `gms_user` if it names one.
    pub(crate) fn admit(&self, address: &str, gms_user: Option<&str>) -> Result<(), Throttled> {
        let now = Instant::now();
        if let Some(limiter) = &self.per_address {
            limiter.take(address, now)?;
        }
        match (&self.per_device, gms_user) {
            (Some(limiter), Some(user)) => limiter.take(user, now),
            _ => Ok(()),
        }
    }

    /// Forgets devices and addresses that have been quiet.
    pub(crate) fn prune(&self) {
        let now = Instant::now();
        for limiter in [&self.per_device, &self.per_address].into_iter().flatten() {
            limiter.prune(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_then_a_wait() {
        let limiter = RateLimiter::new(2.0, 3, 10).unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("d", t0).is_ok());
        }
        assert_eq!(
            limiter.take("d", t0),
            Err(Throttled {
                retry_after_secs: 1
            })
        );
        // Half a second at 2/s is one more request, and no more.
        let t1 = t0 + Duration::from_millis(500);
        assert!(limiter.take("d", t1).is_ok());
        assert!(limiter.take("d", t1).is_err());
        // Another key has its own bucket.
        assert!(limiter.take("e", t1).is_ok());
    }

    #[test]
    fn the_keys_tracked_are_bounded_and_idle_ones_are_forgotten() {
        let limiter = RateLimiter::new(10.0, 10, 2).unwrap();
        let t0 = Instant::now();
        assert!(limiter.take("a", t0).is_ok());
        assert!(limiter.take("b", t0).is_ok());
        assert!(limiter.take("c", t0).is_err(), "full of active keys");
        // A second later both buckets have refilled: they make room.
        let t1 = t0 + Duration::from_secs(1);
        assert!(limiter.take("c", t1).is_ok());
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn zero_turns_a_bound_off() {
        assert!(RateLimiter::new(0.0, 10, 10).is_none());
        let limits = DeviceLimits::new(&LimitsConfig::unbounded());
        for _ in 0..10_000 {
            assert!(limits.admit("127.0.0.1", Some("d")).is_ok());
        }
    }
}
