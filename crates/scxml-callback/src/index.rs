//! The service index: the latest record of every callback service, kept by the flows, so that
//! queries over many services (by property, by queue, free time slots) read one map instead
//! of waking every session.
//!
//! A flow publishes its record with `<send type="gms-index">` ([`GmsIndexSendType`]) whenever
//! the record changes, with param `record` (an object keeping the contract of
//! [`ServiceRecord`]: a record that breaks it is refused), and withdraws it when
//! the service ends with param `remove` (the id). The index holds the records in memory and
//! writes them to the store's [`SERVICES`] (key: the id, value: the record as JSON),
//! so they survive a restart: [`ServiceIndex::open`] loads them at start, dropping those whose
//! session no longer exists.
//!
//! Writes go to the store on a writer thread of their own, several at a time in one batch:
//! custom sends run on the engine's shard threads, which must not wait for a disk. A query
//! sees a change at once (the map is updated first); a crash may lose the last changes of the
//! stored copy, never the sessions' own state. A store that does not outlive the process
//! (in memory) gets no copy: the map is all there is to keep.

use super::record::{RecordError, ServiceRecord};
use scxml::interpreter::{SendError, SendRequest};
use scxml::io::{CustomSendType, EventSink, Registry};
use scxml_engine::store::{Store, StoreError, Table, Write};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

/// The store table of service records: id -> the record as JSON.
pub const SERVICES: Table = Table::new("services");

/// The names the index send type is registered under.
pub const INDEX_TYPE_NAMES: [&str; 2] = ["gms-index", "http://scxml-runtime/gms/index"];

/// Why a record was not put in the index; the sending flow gets it as an error event.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The record breaks the contract the queries read ([`ServiceRecord`]).
    #[error(transparent)]
    Contract(#[from] RecordError),
    /// The record could not be written as JSON for the store.
    #[error("the record cannot be stored as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The records of the existing services, by id.
#[derive(Default)]
pub struct ServiceIndex {
    records: RwLock<Records>,
    writer: Mutex<Option<Writer>>,
}

/// The records, with counts of the outstanding (not `COMPLETED`) ones kept up to date on each
/// change, so that creating a callback (queue management) costs no scan.
#[derive(Default)]
struct Records {
    by_id: BTreeMap<String, Value>,
    /// Outstanding records per `_service_name`.
    outstanding: HashMap<String, usize>,
    /// Outstanding records per (`_service_name`, `_customer_number`).
    outstanding_by_number: HashMap<(String, String), usize>,
    /// Why the latest record of a service was refused, until it publishes a good one (so a
    /// request waiting on it is answered with the reason).
    refused: HashMap<String, RecordError>,
}

impl Records {
    fn insert(&mut self, id: String, record: Value) {
        self.refused.remove(&id);
        self.count(&record, true);
        if let Some(old) = self.by_id.insert(id, record) {
            self.count(&old, false);
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        self.refused.remove(id);
        let Some(old) = self.by_id.remove(id) else {
            return false;
        };
        self.count(&old, false);
        true
    }

    /// Adds (or takes away) an outstanding record to the counts.
    fn count(&mut self, record: &Value, add: bool) {
        if record["_callback_state"] == "COMPLETED" {
            return;
        }
        let service = record["_service_name"].as_str().unwrap_or_default();
        adjust(
            self.outstanding.entry(service.to_string()).or_default(),
            add,
        );
        if let Some(number) = record["_customer_number"].as_str() {
            let key = (service.to_string(), number.to_string());
            adjust(self.outstanding_by_number.entry(key).or_default(), add);
        }
    }
}

fn adjust(count: &mut usize, add: bool) {
    *count = if add {
        *count + 1
    } else {
        count.saturating_sub(1)
    };
}

struct Writer {
    to_store: mpsc::Sender<Write>,
    thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for ServiceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceIndex")
            .field("records", &self.len())
            .finish()
    }
}

impl ServiceIndex {
    /// An empty index that stores nothing until [`ServiceIndex::open`].
    pub fn new() -> ServiceIndex {
        ServiceIndex::default()
    }

    /// Loads the stored records (those whose session still exists) and from now on writes
    /// every change to `store`. Answers how many records were loaded.
    pub fn open(&self, store: Arc<dyn Store>) -> Result<usize, StoreError> {
        // Decoded as they stream by; the sessions are looked up once the scan is over (a
        // store may hold a transaction while it visits).
        let mut decoded = Vec::new();
        store.for_each(SERVICES, &mut |id, bytes| {
            decoded.push((id.to_string(), serde_json::from_slice::<Value>(bytes).ok()));
            std::ops::ControlFlow::Continue(())
        })?;
        let mut loaded = BTreeMap::new();
        let mut stale = Vec::new();
        for (id, record) in decoded {
            // A record stored by an older flow that no longer keeps the contract is dropped
            // (its session publishes a new one on its next change).
            let record = record.filter(|r| match ServiceRecord::check(r) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(%id, error = %e, "dropping a stored service record");
                    false
                }
            });
            match record {
                Some(record) if store.get(Table::SESSIONS, &id)?.is_some() => {
                    loaded.insert(id, record);
                }
                _ => stale.push(Write {
                    table: SERVICES,
                    key: id,
                    value: None,
                }),
            }
        }
        store.apply(&stale)?;
        let count = loaded.len();
        let mut records = self.write_records();
        for (id, record) in loaded {
            records.insert(id, record);
        }
        drop(records);
        if !store.durable() {
            return Ok(count);
        }
        let (to_store, from_index) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("gms-index".into())
            .spawn(move || write_behind(store, from_index))
            .map_err(|e| StoreError(format!("starting the index writer: {e}")))?;
        let old = self.lock_writer().replace(Writer { to_store, thread });
        if let Some(old) = old {
            drop(old.to_store);
            let _ = old.thread.join();
        }
        Ok(count)
    }

    /// Writes what is pending and stops writing to the store (the map stays).
    pub fn close(&self) {
        let writer = self.lock_writer().take();
        if let Some(writer) = writer {
            drop(writer.to_store);
            let _ = writer.thread.join();
        }
    }

    /// Adds or replaces a record; it must keep the contract ([`ServiceRecord::check`]).
    pub fn put(&self, record: Value) -> Result<(), IndexError> {
        let id = match ServiceRecord::check(&record) {
            Ok(checked) => checked.id,
            Err(e) => {
                if let Some(id) = record.get("_id").and_then(Value::as_str) {
                    self.write_records()
                        .refused
                        .insert(id.to_string(), e.clone());
                }
                return Err(e.into());
            }
        };
        let bytes = self.is_stored().then(|| serde_json::to_vec(&record));
        self.write_records().insert(id.clone(), record);
        if let Some(bytes) = bytes {
            self.to_store(id, Some(bytes?));
        }
        Ok(())
    }

    /// Why the latest record the service `id` published was refused, if it was.
    pub fn refusal(&self, id: &str) -> Option<RecordError> {
        self.read_records().refused.get(id).cloned()
    }

    /// Removes a record (nothing when there is none).
    pub fn remove(&self, id: &str) {
        if self.write_records().remove(id) {
            self.to_store(id.to_string(), None);
        }
    }

    /// The record with this id (the service's session id), if one is published.
    pub fn get(&self, id: &str) -> Option<Value> {
        self.read_records().by_id.get(id).cloned()
    }

    /// One field of a record (no copy of the rest): what a request's admission reads.
    pub fn field(&self, id: &str, key: &str) -> Option<Value> {
        self.read_records().by_id.get(id)?.get(key).cloned()
    }

    /// The records `keep` accepts, in id order.
    pub fn select(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.read_records()
            .by_id
            .values()
            .filter(|r| keep(r))
            .cloned()
            .collect()
    }

    /// How many callbacks of `service` are outstanding (not `COMPLETED`), and of those how
    /// many are for `customer_number`.
    pub fn outstanding(&self, service: &str, customer_number: Option<&str>) -> (usize, usize) {
        let records = self.read_records();
        let in_service = records.outstanding.get(service).copied().unwrap_or(0);
        let for_number = customer_number.map_or(0, |n| {
            records
                .outstanding_by_number
                .get(&(service.to_string(), n.to_string()))
                .copied()
                .unwrap_or(0)
        });
        (in_service, for_number)
    }

    /// How many records are published.
    pub fn len(&self) -> usize {
        self.read_records().by_id.len()
    }

    /// Whether no record is published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether changes are written to a store.
    fn is_stored(&self) -> bool {
        self.lock_writer().is_some()
    }

    fn to_store(&self, key: String, value: Option<Vec<u8>>) {
        if let Some(writer) = self.lock_writer().as_ref() {
            let write = Write {
                table: SERVICES,
                key,
                value,
            };
            if writer.to_store.send(write).is_err() {
                tracing::warn!("the service index writer has stopped");
            }
        }
    }

    // Every update of the map is one insert or remove, so a poisoned lock is still consistent.
    fn read_records(&self) -> std::sync::RwLockReadGuard<'_, Records> {
        self.records.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_records(&self) -> std::sync::RwLockWriteGuard<'_, Records> {
        self.records.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Option<Writer>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ServiceIndex {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: applies the changes in arrival order, all that wait in one batch.
fn write_behind(store: Arc<dyn Store>, changes: mpsc::Receiver<Write>) {
    while let Ok(first) = changes.recv() {
        let mut batch = vec![first];
        batch.extend(changes.try_iter());
        if let Err(e) = store.apply(&batch) {
            tracing::error!(error = %e, writes = batch.len(), "could not store the service index");
        }
    }
}

/// `<send type="gms-index">`: publishes (param `record`) or withdraws (param `remove`, an id)
/// the sending service's record.
#[derive(Debug, Clone)]
pub struct GmsIndexSendType {
    index: Arc<ServiceIndex>,
}

impl GmsIndexSendType {
    /// A send type publishing into `index`.
    pub fn new(index: Arc<ServiceIndex>) -> GmsIndexSendType {
        GmsIndexSendType { index }
    }

    /// Registers the type under [`INDEX_TYPE_NAMES`].
    pub fn register(self, registry: &mut Registry) {
        registry.register_send(&INDEX_TYPE_NAMES, Arc::new(self));
    }
}

impl CustomSendType for GmsIndexSendType {
    fn send(&self, request: SendRequest, _reply: Arc<dyn EventSink>) -> Result<(), SendError> {
        let data = request.event.data.unwrap_or(Value::Null);
        if let Some(record) = data.get("record") {
            return self.index.put(record.clone()).map_err(|e| {
                let id = record.get("_id").map_or_else(String::new, Value::to_string);
                tracing::warn!(record = %id, error = %e, "a flow published a bad service record");
                SendError::InvalidTarget(format!("gms-index: {e}"))
            });
        }
        match data.get("remove").and_then(Value::as_str) {
            Some(id) => {
                self.index.remove(id);
                Ok(())
            }
            None => Err(SendError::InvalidTarget(
                "a gms-index send needs param record (an object with _id) or remove (an id)".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scxml_engine::store::MemoryStore;
    use serde_json::json;

    #[test]
    fn outstanding_callbacks_are_counted_per_service_and_number() {
        let index = ServiceIndex::new();
        let put = |id: &str, service: &str, number: &str, state: &str| {
            index
                .put(json!({"_id": id, "_service_name": service,
                            "_customer_number": number, "_callback_state": state,
                            "_callback_reason": (state == "COMPLETED").then_some("CANCELLED")}))
                .unwrap();
        };
        put("a", "s", "1", "QUEUED");
        put("b", "s", "1", "SCHEDULED");
        put("c", "s", "2", "QUEUED");
        put("d", "t", "1", "QUEUED");
        assert_eq!(index.outstanding("s", Some("1")), (3, 2));
        assert_eq!(index.outstanding("t", Some("1")), (1, 1));
        // A state change, a completion and a removal each move the counts once.
        put("a", "s", "1", "ROUTING");
        assert_eq!(index.outstanding("s", Some("1")), (3, 2));
        put("b", "s", "1", "COMPLETED");
        assert_eq!(index.outstanding("s", Some("1")), (2, 1));
        index.remove("b");
        index.remove("c");
        assert_eq!(index.outstanding("s", Some("2")), (1, 0));
        assert_eq!(index.outstanding("nobody", None), (0, 0));
    }

    /// A memory store that says it is durable, as a disk store would.
    struct Kept(MemoryStore);

    impl Store for Kept {
        fn apply(&self, batch: &[Write]) -> Result<(), StoreError> {
            self.0.apply(batch)
        }
        fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.get(table, key)
        }
        fn for_each(
            &self,
            table: Table,
            visit: &mut dyn FnMut(&str, &[u8]) -> std::ops::ControlFlow<()>,
        ) -> Result<(), StoreError> {
            self.0.for_each(table, visit)
        }
    }

    /// A queued record of service `s`.
    fn queued(id: &str) -> Value {
        json!({"_id": id, "_service_name": "s", "_callback_state": "QUEUED"})
    }

    #[test]
    fn a_store_that_does_not_outlive_the_process_gets_no_copy() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let index = ServiceIndex::new();
        index.open(store.clone()).unwrap();
        index.put(queued("a")).unwrap();
        index.close();
        assert_eq!(index.get("a").unwrap()["_id"], "a");
        assert!(store.scan(SERVICES).unwrap().is_empty());
    }

    #[test]
    fn records_are_stored_and_come_back_while_their_session_exists() {
        let store: Arc<dyn Store> = Arc::new(Kept(MemoryStore::new()));
        let session = |id: &str| Write {
            table: Table::SESSIONS,
            key: id.into(),
            value: Some(b"{}".to_vec()),
        };
        store.apply(&[session("a"), session("b")]).unwrap();
        let index = ServiceIndex::new();
        assert_eq!(index.open(store.clone()).unwrap(), 0);
        index.put(queued("a")).unwrap();
        index.put(queued("b")).unwrap();
        index.put(queued("c")).unwrap();
        let mut done = queued("a");
        done["_callback_state"] = json!("COMPLETED");
        done["_callback_reason"] = json!("AGENT_CONNECTED");
        index.put(done).unwrap();
        index.remove("b");
        // A record that breaks the contract is refused, and nothing changes.
        let err = index.put(json!({"no": "id"})).unwrap_err().to_string();
        assert!(err.contains("_id must be a non-empty string"), "{err}");
        let mut renamed = queued("a");
        renamed["_callback_state"] = json!("DONE");
        assert!(index.put(renamed).is_err());
        assert_eq!(index.get("a").unwrap()["_callback_state"], "COMPLETED");
        assert_eq!(index.len(), 2);
        index.close();
        assert!(store.get(SERVICES, "b").unwrap().is_none());

        // "c" has no session: dropped on loading, from the store too.
        let again = ServiceIndex::new();
        assert_eq!(again.open(store.clone()).unwrap(), 1);
        assert_eq!(again.get("a").unwrap()["_callback_state"], "COMPLETED");
        assert!(store.get(SERVICES, "c").unwrap().is_none());
        let queued = again.select(|r| r["_callback_state"] == "QUEUED");
        assert!(queued.is_empty());
    }
}
