//! Durable storage behind a trait: what sessions (and later the applications) keep across a
//! restart.
//!
//! The store is a small namespaced key-value interface: records are opaque bytes that their
//! owners serialise. Writes come in batches applied atomically, so a shard commits every
//! session a burst of events touched in one transaction (group commit) before it acknowledges
//! any of them. Two implementations: [`RedbStore`], an embedded crash-safe file needing no
//! server, and [`MemoryStore`] for tests and for servers that need no durability.

use std::ops::ControlFlow;

mod memory;
mod redb_store;

pub use memory::MemoryStore;
pub use redb_store::RedbStore;

/// A namespace records live in. The engine keeps [`Table::SESSIONS`] and
/// [`Table::DOCUMENTS`]; an application names its own (`Table::new("services")`), and a
/// store creates a table at its first write (reading one never written finds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Table(&'static str);

impl Table {
    /// Session id -> the session's snapshot, timers and links.
    pub const SESSIONS: Table = Table("sessions");
    /// Document key -> the document's URL and text, shared by sessions.
    pub const DOCUMENTS: Table = Table("documents");

    /// A table of an application's.
    pub const fn new(name: &'static str) -> Table {
        Table(name)
    }

    /// Its name in the store.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// One change of a batch: `Some` writes the value, `None` deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The table.
    pub table: Table,
    /// The record's key.
    pub key: String,
    /// The new value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// A store operation failed: what the store said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// A durable key-value store.
pub trait Store: Send + Sync {
    /// Applies the writes atomically and durably: when this returns Ok, all of them survive a
    /// crash; when it fails, none of them is visible.
    fn apply(&self, batch: &[Write]) -> Result<(), StoreError>;

    /// One record.
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Visits every record of a table in key order, one at a time, without loading the
    /// table: a store of a million sessions is read back in constant memory. `visit` answers
    /// [`ControlFlow::Break`] to stop early; it must not call the store (an implementation
    /// may hold a lock or a transaction while it runs).
    fn for_each(
        &self,
        table: Table,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;

    /// Every record of a table, in key order: for tables known to be small.
    fn scan(&self, table: Table) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut all = Vec::new();
        self.for_each(table, &mut |key, value| {
            all.push((key.to_string(), value.to_vec()));
            ControlFlow::Continue(())
        })?;
        Ok(all)
    }

    /// Whether what it holds survives the process. A store that does not (in memory) only
    /// needs a live session's record when the session hibernates, so the engine writes it
    /// then rather than after every event.
    fn durable(&self) -> bool {
        true
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every store must have; each implementation runs these.
    use super::*;

    fn put(table: Table, key: &str, value: &[u8]) -> Write {
        Write {
            table,
            key: key.into(),
            value: Some(value.to_vec()),
        }
    }

    pub(crate) fn check(store: &dyn Store) {
        store
            .apply(&[
                put(Table::SESSIONS, "b", b"2"),
                put(Table::SESSIONS, "a", b"1"),
                put(Table::DOCUMENTS, "a", b"doc"),
            ])
            .unwrap();
        assert_eq!(
            store.get(Table::SESSIONS, "a").unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(
            store.get(Table::DOCUMENTS, "a").unwrap(),
            Some(b"doc".to_vec())
        );
        assert_eq!(store.get(Table::new("other"), "a").unwrap(), None);
        assert!(store.scan(Table::new("other")).unwrap().is_empty());
        let all = store.scan(Table::SESSIONS).unwrap();
        assert_eq!(
            all,
            vec![
                ("a".to_string(), b"1".to_vec()),
                ("b".to_string(), b"2".to_vec())
            ]
        );
        store
            .apply(&[
                Write {
                    table: Table::SESSIONS,
                    key: "a".into(),
                    value: None,
                },
                put(Table::SESSIONS, "b", b"22"),
            ])
            .unwrap();
        assert_eq!(
            store.scan(Table::SESSIONS).unwrap(),
            vec![("b".to_string(), b"22".to_vec())]
        );
        store.apply(&[]).unwrap();
        let mut seen = Vec::new();
        store
            .apply(&[
                put(Table::SESSIONS, "c", b"3"),
                put(Table::SESSIONS, "d", b"4"),
            ])
            .unwrap();
        store
            .for_each(Table::SESSIONS, &mut |key, _| {
                seen.push(key.to_string());
                if key == "c" {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(seen, ["b", "c"], "in key order, stopping when asked");
    }
}
