//! Hosts that run sessions: [`local::LocalRuntime`] runs a session and everything it invokes
//! on the calling thread, with a virtual or a real clock (the CLI, the conformance runner and
//! tests use it). [`engine::Engine`] runs many sessions at once on a few worker threads, for
//! the server.

pub mod engine;
pub mod local;

pub use local::{Clock, LocalRuntime, LogRecord, RunOutcome, SessionKey};
