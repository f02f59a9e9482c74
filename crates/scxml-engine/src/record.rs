//! What the engine stores for a session, so that it can hibernate and survive a restart.
//!
//! After every burst of events a shard writes the record of each session the burst touched,
//! in one transaction, before it answers any request about them: an acknowledged event is
//! never lost. A record holds the interpreter's snapshot (configuration, history, datamodel as
//! JSON, invocations), the session's links to its parent and children, and its pending
//! delayed sends with absolute due times (wall-clock milliseconds, so they mean the same after
//! a restart: an overdue send fires at once, the others at their time). The document is stored
//! once per distinct text, in the documents table, and shared by its sessions' records.

use scxml::interpreter::{Event, SessionSnapshot};
use scxml::model::Document;
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a session's record cannot be written (it then stays live and says why), or a stored
/// one cannot be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum NotPersisted {
    /// A running invocation of a custom type that cannot describe itself.
    #[error("it has a running invocation of type {kind}, which cannot be persisted")]
    Service {
        /// The invoke type.
        kind: String,
    },
    /// An `<invoke src>` document is still being read.
    #[error("the document of invocation {invokeid} is still being read")]
    FetchingDocument {
        /// The invocation.
        invokeid: String,
    },
    /// The interpreter cannot take a snapshot (a datamodel value it cannot export).
    #[error("{0}")]
    Snapshot(String),
    /// Its document carries no source text to store.
    #[error("its document has no source text")]
    NoSource,
    /// The store failed.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// A record could not be encoded or decoded.
    #[error("session record: {0}")]
    Encoding(String),
    /// The record is larger than a session may keep ([`crate::EngineConfig::max_session_bytes`]).
    #[error("its record is {bytes} bytes, more than the {limit} a session may keep")]
    TooLarge {
        /// The record's size.
        bytes: usize,
        /// The bound.
        limit: usize,
    },
    /// A hibernated session's record is gone.
    #[error("the hibernated session's record is missing")]
    Missing,
    /// A stored document is gone.
    #[error("document {0} is not stored")]
    DocumentMissing(String),
    /// A stored document does not parse any more.
    #[error("the stored document is not valid: {0}")]
    DocumentInvalid(String),
}

impl From<serde_json::Error> for NotPersisted {
    fn from(e: serde_json::Error) -> NotPersisted {
        NotPersisted::Encoding(e.to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct SessionRecord {
    pub snapshot: SessionSnapshot,
    /// Key of the document in the documents table.
    pub document: String,
    pub document_url: Option<String>,
    /// The invoking session and the invoke id it knows this one by.
    pub parent: Option<(String, String)>,
    /// Invoked SCXML child sessions: invoke id -> session id.
    pub children: Vec<(String, String)>,
    /// Running services of custom invoke types, resumed through the type after a restart.
    #[serde(default)]
    pub services: Vec<ServiceRecord>,
    pub timers: Vec<TimerRecord>,
    pub events_processed: u64,
}

/// A running custom service as [`scxml::io::InvokedService::persist`] described it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServiceRecord {
    pub invokeid: String,
    /// The invoke type it was started under.
    pub kind: String,
    pub state: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct TimerRecord {
    pub sendid: String,
    /// A session id, or the URL of a Basic HTTP send.
    pub to: String,
    pub event: Event,
    #[serde(default)]
    pub basichttp: bool,
    /// When it is due, in milliseconds since the Unix epoch.
    pub due_unix_ms: u64,
}

/// A document as stored: its text and the URL its `src` attributes resolve against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct DocumentRecord {
    pub url: Option<String>,
    pub text: String,
    /// What the document's `src`s read when it was loaded (URL, text): the document is
    /// rebuilt with these, not with what the URLs hold at restore time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetched: Vec<(String, String)>,
}

/// The key under which a document's text (and what its `src`s read) is stored: two versions of
/// a script a document names make two records.
pub(crate) fn document_key(doc: &Document) -> Option<String> {
    let text = doc.source.as_deref()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    doc.base_url.as_ref().map(|u| u.as_str()).hash(&mut h);
    for (url, fetched) in &doc.fetched {
        url.as_str().hash(&mut h);
        fetched.hash(&mut h);
    }
    Some(format!("{:016x}-{}", h.finish(), text.len()))
}

/// Wall-clock milliseconds of a tokio instant (`now` pairs the two clocks).
pub(crate) fn instant_to_unix_ms(
    due: tokio::time::Instant,
    now: tokio::time::Instant,
    now_wall: SystemTime,
) -> u64 {
    let wall = if due >= now {
        now_wall + (due - now)
    } else {
        now_wall.checked_sub(now - due).unwrap_or(UNIX_EPOCH)
    };
    wall.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The tokio instant of wall-clock milliseconds; times in the past map to `now`.
pub(crate) fn unix_ms_to_instant(
    ms: u64,
    now: tokio::time::Instant,
    now_wall: SystemTime,
) -> tokio::time::Instant {
    let due = UNIX_EPOCH + Duration::from_millis(ms);
    match due.duration_since(now_wall) {
        Ok(ahead) => now + ahead,
        Err(_) => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_round_trip_through_wall_clock_milliseconds() {
        let now = tokio::time::Instant::now();
        let wall = SystemTime::now();
        let due = now + Duration::from_secs(3600);
        let ms = instant_to_unix_ms(due, now, wall);
        let back = unix_ms_to_instant(ms, now, wall);
        assert!(back.duration_since(now).as_secs_f64() - 3600.0 < 0.002);
        let overdue = unix_ms_to_instant(1, now, wall);
        assert_eq!(overdue, now);
    }
}
