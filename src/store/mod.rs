//! Durable storage behind a trait: what sessions (and later the applications) keep across a
//! restart.
//!
//! The store is a small namespaced key-value interface: records are opaque bytes that their
//! owners serialise. Writes come in batches applied atomically, so a shard commits every
//! session a burst of events touched in one transaction (group commit) before it acknowledges
//! any of them. Two implementations: [`RedbStore`], an embedded crash-safe file needing no
//! server, and [`MemoryStore`] for tests and for servers that need no durability.

mod memory;
mod redb_store;

pub use memory::MemoryStore;
pub use redb_store::RedbStore;

/// The namespaces records live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Session id -> the session's snapshot, timers and links.
    Sessions,
    /// Document key -> the document's URL and text, shared by sessions.
    Documents,
    /// Application records (the callback service's records, with their expiry).
    Services,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Sessions, Table::Documents, Table::Services];

    pub fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Documents => "documents",
            Table::Services => "services",
        }
    }
}

/// One change of a batch: `Some` writes the value, `None` deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub table: Table,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// A durable key-value store.
pub trait Store: Send + Sync {
    /// Applies the writes atomically and durably: when this returns Ok, all of them survive a
    /// crash; when it fails, none of them is visible.
    fn apply(&self, batch: &[Write]) -> Result<(), StoreError>;

    /// One record.
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every record of a table, in key order.
    fn scan(&self, table: Table) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

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

    pub fn check(store: &dyn Store) {
        store
            .apply(&[
                put(Table::Sessions, "b", b"2"),
                put(Table::Sessions, "a", b"1"),
                put(Table::Documents, "a", b"doc"),
            ])
            .unwrap();
        assert_eq!(
            store.get(Table::Sessions, "a").unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(
            store.get(Table::Documents, "a").unwrap(),
            Some(b"doc".to_vec())
        );
        assert_eq!(store.get(Table::Services, "a").unwrap(), None);
        let all = store.scan(Table::Sessions).unwrap();
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
                    table: Table::Sessions,
                    key: "a".into(),
                    value: None,
                },
                put(Table::Sessions, "b", b"22"),
            ])
            .unwrap();
        assert_eq!(
            store.scan(Table::Sessions).unwrap(),
            vec![("b".to_string(), b"22".to_vec())]
        );
        store.apply(&[]).unwrap();
    }
}
