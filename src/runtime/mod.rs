//! Hosts that run sessions: [`local::LocalRuntime`] runs a session and everything it invokes
//! on the calling thread, with a virtual or a real clock (the CLI, the conformance runner and
//! tests use it).

pub mod local;

pub use local::{Clock, LocalRuntime, LogRecord, RunOutcome, SessionKey};
