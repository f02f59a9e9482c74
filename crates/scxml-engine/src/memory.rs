//! How much memory the process holds, so that new sessions are refused (503) before the
//! machine runs out, rather than the process being killed with every session in it.
//!
//! The resident set size comes from `/proc/self/statm` (Linux); it is read at most every
//! [`REFRESH`], since a session is created far more often than memory moves. Where it cannot
//! be read (another system), nothing is refused. The default bound is four fifths of what the
//! process may use: its cgroup's `memory.max` when it has one, else the machine's memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the resident set size is read again, at most.
const REFRESH: Duration = Duration::from_millis(100);

/// The resident set size, read at most every [`REFRESH`].
pub(crate) struct MemoryGauge {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last reading, plus one (0: never read).
    read_at_ms: AtomicU64,
    rss_bytes: AtomicU64,
}

impl MemoryGauge {
    pub(crate) fn new() -> MemoryGauge {
        MemoryGauge {
            epoch: Instant::now(),
            read_at_ms: AtomicU64::new(0),
            rss_bytes: AtomicU64::new(0),
        }
    }

    /// The resident set size in bytes; `None` where it cannot be read.
    pub(crate) fn rss_bytes(&self) -> Option<u64> {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let last = self.read_at_ms.load(Ordering::Relaxed);
        if last == 0 || now.saturating_sub(last) >= REFRESH.as_millis() as u64 {
            let rss = read_rss_bytes()?;
            self.rss_bytes.store(rss, Ordering::Relaxed);
            self.read_at_ms.store(now, Ordering::Relaxed);
            return Some(rss);
        }
        Some(self.rss_bytes.load(Ordering::Relaxed))
    }
}

/// `/proc/self/statm`'s second field (resident pages) times the page size.
fn read_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Four fifths of what the process may use: the cgroup (v2) bound, else the machine's
/// memory; `None` where neither can be read.
pub fn default_memory_bound_bytes() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
    let total = match (cgroup, machine) {
        (Some(c), Some(m)) => c.min(m),
        (c, m) => c.or(m)?,
    };
    Some(total / 5 * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resident_set_is_read_and_the_bound_is_below_the_machine() {
        let gauge = MemoryGauge::new();
        if let Some(rss) = gauge.rss_bytes() {
            assert!(rss > 1 << 20, "{rss}");
            assert_eq!(gauge.rss_bytes(), Some(rss), "cached within the refresh");
        }
        if let Some(bound) = default_memory_bound_bytes() {
            assert!(bound > 64 << 20);
        }
    }
}
