//! What each fuzz target does with its input: the same functions back the libFuzzer targets
//! (fuzz_targets/) and the replay of every saved input on stable (tests/fuzz_regressions.rs
//! includes these files), so a crash found once stays fixed.
//!
//! Each function must never panic, hang or exhaust memory on any input; where a function has
//! more to promise (a parsed value that holds what its text said), it asserts that too.

#[cfg(feature = "apps")]
pub mod apps;
pub mod core;
