//! The embedded, crash-safe store: one redb file in the data directory.
//!
//! redb is a pure-Rust embedded database with ACID transactions and copy-on-write B-trees: a
//! committed transaction survives `kill -9` and power loss, an interrupted one leaves no
//! trace, and it needs no server and no C toolchain. Each batch is one write transaction
//! committed with immediate durability.

use super::{Store, StoreError, Table, Write};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use std::ops::ControlFlow;
use std::path::Path;

fn definition(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A store in one redb file, `<dir>/scxml.redb`: each table a redb table of string keys and byte values.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens (or creates) `<dir>/scxml.redb` with a 64 MiB page cache.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_cache(dir, 64 << 20)
    }

    /// Opens (or creates) `<dir>/scxml.redb`; `cache_bytes` bounds the memory redb keeps for
    /// pages (records of hibernated sessions are read back from the file, not held).
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<RedbStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join("scxml.redb");
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| StoreError(format!("opening {}: {e}", path.display())))?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn apply(&self, batch: &[Write]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(err)?;
        for w in batch {
            let mut table = txn.open_table(definition(w.table)).map_err(err)?;
            match &w.value {
                Some(v) => {
                    table.insert(w.key.as_str(), v.as_slice()).map_err(err)?;
                }
                None => {
                    table.remove(w.key.as_str()).map_err(err)?;
                }
            }
        }
        txn.commit().map_err(err)
    }

    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = match txn.open_table(definition(table)) {
            Ok(t) => t,
            // A table is created by its first write.
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        Ok(t.get(key).map_err(err)?.map(|v| v.value().to_vec()))
    }

    fn for_each(
        &self,
        table: Table,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = match txn.open_table(definition(table)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(err(e)),
        };
        for item in t.iter().map_err(err)? {
            let (k, v) = item.map_err(err)?;
            if visit(k.value(), v.value()).is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_store_contract_and_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("scxml-redb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = RedbStore::open(&dir).unwrap();
            super::super::contract::check(&store);
        }
        let reopened = RedbStore::open(&dir).unwrap();
        assert_eq!(
            reopened.get(Table::SESSIONS, "b").unwrap(),
            Some(b"22".to_vec())
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
