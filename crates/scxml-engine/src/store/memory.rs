//! A store in memory: the same contract as the file store, without durability.

use super::{Store, StoreError, Table, Write};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Mutex;

/// The records of every table in one ordered map: `(table, key) -> value`.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<BTreeMap<(Table, String), Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

fn poisoned() -> StoreError {
    StoreError("the memory store's lock was poisoned".into())
}

impl Store for MemoryStore {
    fn durable(&self) -> bool {
        false
    }

    fn apply(&self, batch: &[Write]) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().map_err(|_| poisoned())?;
        for w in batch {
            let key = (w.table, w.key.clone());
            match &w.value {
                Some(v) => tables.insert(key, v.clone()),
                None => tables.remove(&key),
            };
        }
        Ok(())
    }

    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tables = self.tables.lock().map_err(|_| poisoned())?;
        Ok(tables.get(&(table, key.to_string())).cloned())
    }

    fn for_each(
        &self,
        table: Table,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let tables = self.tables.lock().map_err(|_| poisoned())?;
        for ((_, key), value) in tables
            .range((table, String::new())..)
            .take_while(|((t, _), _)| *t == table)
        {
            if visit(key, value).is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_store_contract() {
        super::super::contract::check(&super::MemoryStore::new());
    }
}
