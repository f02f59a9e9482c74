//! The host that runs a session in-process: [`LocalRuntime`] runs a session and
//! everything it invokes on the calling thread, with a virtual or a real clock (the CLI, the
//! conformance runner and tests use it). The `scxml-engine` crate is the other host: many
//! sessions at once on a few worker threads, for the server.

mod local;

pub use local::{Clock, LocalRuntime, LogRecord, RunOutcome, SessionKey};
