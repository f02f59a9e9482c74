//! Runs one start document of the suite: load it, start a session on a [`LocalRuntime`] with
//! virtual time, and run it until it halts, goes idle or passes its deadline.
//!
//! Virtual time matters: the suite is full of `<send delay="...">` timeouts, and with a
//! virtual clock a document that waits two seconds runs in microseconds, deterministically.
//! Everything the judges need afterwards (how it stopped, the final state, the logs of the
//! session and of the sessions it invoked) is copied out into a [`SessionTrace`], because the
//! runtime itself is `!Send` and stays on the test's thread.

use scxml::interpreter::SessionOptions;
use scxml::runtime::{Clock, LocalRuntime, LogRecord, RunOutcome, SessionKey};
use std::path::Path;
use std::time::{Duration, Instant};

/// What running one start document produced.
#[derive(Debug, Clone)]
pub enum DocOutcome {
    /// `parse::load` refused the document; the message lists its problems.
    Rejected(String),
    /// A session ran.
    Ran(SessionTrace),
    /// The interpreter panicked; the message says where.
    Panicked(String),
    /// The test's thread did not report back within the wall-clock timeout (a macrostep that
    /// never ends, for instance).
    Unresponsive,
}

/// How a session ended and what it logged.
#[derive(Debug, Clone)]
pub struct SessionTrace {
    /// Why `LocalRuntime::run` returned.
    pub stop: RunOutcome,
    /// The top-level final state the session halted in.
    pub final_state: Option<String>,
    /// The active atomic states when it stopped.
    pub active: Vec<String>,
    /// The key of the session under test; logs of invoked sessions carry other keys.
    pub root: SessionKey,
    /// Every `<log>` of the session and the sessions it invoked, in order.
    pub logs: Vec<LogRecord>,
}

impl SessionTrace {
    /// Logs written by the session under test itself.
    pub fn root_logs(&self) -> impl Iterator<Item = &LogRecord> {
        self.logs.iter().filter(move |l| l.session == self.root)
    }

    /// Logs written by invoked sessions.
    pub fn child_logs(&self) -> impl Iterator<Item = &LogRecord> {
        self.logs.iter().filter(move |l| l.session != self.root)
    }

    /// True when some log, of any session, has exactly this message.
    pub fn logged(&self, message: &str) -> bool {
        self.logs.iter().any(|l| l.message == message)
    }
}

/// Loads and runs one document with a deadline of `timeout` from now.
pub fn run_document(path: &Path, timeout: Duration) -> DocOutcome {
    let deadline = Instant::now() + timeout;
    let location = path.to_string_lossy();
    let doc = match scxml::parse::load(&location) {
        Ok(doc) => doc,
        Err(e) => return DocOutcome::Rejected(e.to_string()),
    };
    let mut rt = LocalRuntime::new(Clock::Virtual);
    let root = rt.start(doc, SessionOptions::default());
    let stop = rt.run(root, Some(deadline));
    let (final_state, active) = match rt.session(root) {
        Some(session) => (
            session.final_state().map(str::to_string),
            session
                .active_atomic_ids()
                .into_iter()
                .map(str::to_string)
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    DocOutcome::Ran(SessionTrace {
        stop,
        final_state,
        active,
        root,
        logs: rt.logs().to_vec(),
    })
}
