//! The engine on its own, without HTTP: group commit before any answer, hibernation and
//! restore, delayed sends across a restart, and a custom invocation persisted and resumed.
//! Shards run on a paused tokio clock where time matters, so a minute of timers passes in
//! milliseconds and no test sleeps.

use super::*;
use crate::store::{RedbStore, StoreError, Table, Write};
use scxml::interpreter::{InvokeError, InvokeRequest};
use scxml::io::{CustomInvokeType, InvokedService};
use std::sync::Mutex;
use std::time::Instant as WallInstant;

fn doc(body: &str) -> Arc<Document> {
    let text = format!(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">{body}</scxml>"#
    );
    Arc::new(scxml::parse::parse_str(&text, "test.scxml", None).expect("a valid test document"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scxml-engine-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// Polls `check` on the session's view until it holds, for at most five seconds of wall
/// time (the shards' clocks may be paused; this one is not).
fn wait_for(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    id: &str,
    what: &str,
    check: impl Fn(&SessionView) -> bool,
) -> SessionView {
    let deadline = WallInstant::now() + Duration::from_secs(5);
    loop {
        let view = rt.block_on(engine.inspect(id)).expect("the session exists");
        if check(&view) {
            return view;
        }
        assert!(WallInstant::now() < deadline, "never {what}: {view:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A durable store that remembers, for each session, the configuration of the last record
/// written for it.
#[derive(Default)]
struct WatchedStore {
    inner: MemoryStore,
    written: Mutex<Vec<(String, Vec<String>)>>,
}

impl Store for WatchedStore {
    fn apply(&self, batch: &[Write]) -> Result<(), StoreError> {
        for w in batch.iter().filter(|w| w.table == Table::SESSIONS) {
            if let Some(bytes) = &w.value {
                let record: record::SessionRecord = serde_json::from_slice(bytes).unwrap();
                self.written
                    .lock()
                    .unwrap()
                    .push((w.key.clone(), record.snapshot.configuration));
            }
        }
        self.inner.apply(batch)
    }
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }
    fn for_each(
        &self,
        table: Table,
        visit: &mut dyn FnMut(&str, &[u8]) -> std::ops::ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.inner.for_each(table, visit)
    }
}

#[test]
fn every_answer_waits_for_the_commit_of_what_it_answers() {
    let store = Arc::new(WatchedStore::default());
    let engine = Engine::start(EngineConfig {
        shards: 1,
        store: store.clone(),
        ..EngineConfig::default()
    });
    let rt = runtime();
    let flip = doc(r#"<state id="a"><transition event="go" target="b"/></state>
                     <state id="b"><transition event="go" target="a"/></state>"#);
    let created = rt
        .block_on(engine.create(flip, CreateOptions::default()))
        .unwrap();
    let last_written = |id: &str| {
        store
            .written
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(k, _)| k == id)
            .map(|(_, c)| c.clone())
    };
    assert_eq!(last_written(&created.id), Some(vec!["a".to_string()]));
    for expected in ["b", "a", "b"] {
        let view = rt
            .block_on(engine.send_and_wait(&created.id, Event::external("go")))
            .unwrap();
        assert_eq!(view.active_states, [expected]);
        // The answer came back: the record saying so is already in the store.
        assert_eq!(last_written(&created.id), Some(vec![expected.to_string()]));
    }
    engine.shutdown();
}

#[test]
fn an_idle_session_hibernates_and_comes_back_with_its_data() {
    let dir = temp_dir("hibernate");
    let engine = Engine::start(EngineConfig {
        shards: 1,
        store: Arc::new(RedbStore::open(&dir).unwrap()),
        hibernation: HibernationPolicy {
            idle_after: Some(Duration::from_secs(60)),
            parked_after: None,
            max_live_per_shard: 1000,
        },
        paused_clock: true,
        ..EngineConfig::default()
    });
    let rt = runtime();
    let counter = doc(r#"<datamodel><data id="n" expr="0"/></datamodel>
        <state id="counting"><transition event="inc"><assign location="n" expr="n + 1"/></transition></state>"#);
    let id = rt
        .block_on(engine.create(counter, CreateOptions::default()))
        .unwrap()
        .id;
    rt.block_on(engine.send_and_wait(&id, Event::external("inc")))
        .unwrap();
    // A minute of idleness passes on the shard's paused clock as soon as it has nothing to
    // do. (Listing does not wake a session; inspecting it would.)
    let deadline = WallInstant::now() + Duration::from_secs(5);
    while !rt
        .block_on(engine.list())
        .iter()
        .any(|s| s.id == id && s.status == SessionStatus::Hibernated)
    {
        assert!(WallInstant::now() < deadline, "never hibernated");
        std::thread::sleep(Duration::from_millis(2));
    }
    let hibernated = engine.stats().hibernated.load(Ordering::Relaxed);
    assert_eq!(hibernated, 1);
    let view = rt
        .block_on(engine.send_and_wait(&id, Event::external("inc")))
        .unwrap();
    assert_eq!(view.status, SessionStatus::Running);
    assert_eq!(view.datamodel["n"], 2, "{view:?}");
    engine.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_delayed_send_fires_after_a_restart_at_its_time() {
    let dir = temp_dir("timers");
    let config = |paused| EngineConfig {
        shards: 1,
        store: Arc::new(RedbStore::open(&dir).unwrap()),
        paused_clock: paused,
        ..EngineConfig::default()
    };
    let rt = runtime();
    let waiting = doc(r#"<state id="waiting">
            <onentry><send event="later" delay="60s" id="t1"/></onentry>
            <transition event="later" target="fired"/>
        </state>
        <state id="fired"/>"#);
    // On a real clock, so the minute cannot pass before the engine stops.
    let first = Engine::start(config(false));
    let created = rt
        .block_on(first.create(waiting, CreateOptions::default()))
        .unwrap();
    assert_eq!(created.pending_sends.len(), 1);
    first.shutdown();
    drop(first);

    let second = Engine::start(config(true));
    let restored = rt.block_on(second.inspect(&created.id)).unwrap();
    assert_eq!(restored.active_states, ["waiting"]);
    assert_eq!(restored.pending_sends[0].sendid, "t1");
    let fired = wait_for(&rt, &second, &created.id, "fired", |v| {
        v.active_states == ["fired"]
    });
    assert!(fired.pending_sends.is_empty());
    second.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

/// A custom invoke type whose services count the events their parent sends them, persist
/// the count, and on resume tell the parent what they remembered.
#[derive(Default)]
struct Tally {
    resumed: Mutex<Vec<(String, Value)>>,
}

struct TallyService {
    count: u64,
    to_parent: Arc<dyn EventSink>,
}

impl InvokedService for TallyService {
    fn deliver(&mut self, _event: Event) {
        self.count += 1;
        let mut counted = Event::external("counted");
        counted.data = Some(serde_json::json!({"count": self.count}));
        self.to_parent.deliver(counted);
    }
    fn cancel(&mut self) {}
    fn persist(&self) -> Option<Value> {
        Some(serde_json::json!({"count": self.count}))
    }
}

impl CustomInvokeType for Tally {
    fn start(
        &self,
        _request: InvokeRequest,
        to_parent: Arc<dyn EventSink>,
    ) -> Result<Box<dyn InvokedService>, InvokeError> {
        Ok(Box::new(TallyService {
            count: 0,
            to_parent,
        }))
    }
    fn resume(
        &self,
        invokeid: &str,
        state: Value,
        to_parent: Arc<dyn EventSink>,
    ) -> Result<Box<dyn InvokedService>, InvokeError> {
        self.resumed
            .lock()
            .unwrap()
            .push((invokeid.to_string(), state.clone()));
        let count = state["count"]
            .as_u64()
            .ok_or_else(|| InvokeError::NotResumable("no count".into()))?;
        let mut back = Event::external("resumed");
        back.data = Some(state);
        to_parent.deliver(back);
        Ok(Box::new(TallyService { count, to_parent }))
    }
}

#[test]
fn a_custom_invocation_is_persisted_with_its_session_and_resumed_after_a_restart() {
    let dir = temp_dir("invoke");
    let config = |tally: Arc<Tally>| {
        let mut registry = Registry::new();
        registry.register_invoke(&["x-tally"], tally);
        EngineConfig {
            shards: 1,
            registry,
            store: Arc::new(RedbStore::open(&dir).unwrap()),
            ..EngineConfig::default()
        }
    };
    let rt = runtime();
    let counting = doc(r##"<datamodel><data id="seen" expr="0"/></datamodel>
        <state id="counting">
            <invoke type="x-tally" id="tally"/>
            <transition event="tick"><send target="#_tally" event="tick"/></transition>
            <transition event="counted"><assign location="seen" expr="_event.data.count"/></transition>
            <transition event="resumed" target="back">
                <assign location="seen" expr="_event.data.count"/>
            </transition>
        </state>
        <state id="back"/>"##);
    let first = Engine::start(config(Arc::new(Tally::default())));
    let id = rt
        .block_on(first.create(counting, CreateOptions::default()))
        .unwrap()
        .id;
    for _ in 0..3 {
        rt.block_on(first.send_and_wait(&id, Event::external("tick")))
            .unwrap();
    }
    let counted = wait_for(&rt, &first, &id, "counted three", |v| {
        v.datamodel["seen"] == 3
    });
    assert_eq!(counted.invokes, ["tally"]);
    assert_eq!(counted.not_persisted, None);
    first.shutdown();
    drop(first);

    let tally = Arc::new(Tally::default());
    let second = Engine::start(config(tally.clone()));
    let back = wait_for(&rt, &second, &id, "resumed", |v| {
        v.active_states == ["back"]
    });
    assert_eq!(back.datamodel["seen"], 3);
    assert_eq!(
        *tally.resumed.lock().unwrap(),
        [("tally".to_string(), serde_json::json!({"count": 3}))]
    );
    second.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_session_whose_datamodel_outgrows_its_bound_fails_and_is_kept_without_it() {
    let dir = temp_dir("too-large");
    let config = || EngineConfig {
        shards: 1,
        store: Arc::new(RedbStore::open(&dir).unwrap()),
        max_session_bytes: 64 << 10,
        ..EngineConfig::default()
    };
    let engine = Engine::start(config());
    let rt = runtime();
    let grow = doc(r#"<datamodel><data id="blob" expr="''"/></datamodel>
        <state id="s">
          <transition event="grow"><assign location="blob" expr="blob + new Array(20001).join('x')"/></transition>
        </state>"#);
    let id = rt
        .block_on(engine.create(grow, CreateOptions::default()))
        .unwrap()
        .id;
    // Under the bound: an answer like any other.
    let view = rt
        .block_on(engine.send_and_wait(&id, Event::external("grow")))
        .unwrap();
    assert_eq!(view.status, SessionStatus::Running);
    // The fourth 20 kB pushes the record past 64 kB: answered as failed, with the reason.
    let mut last = view;
    for _ in 0..3 {
        last = rt
            .block_on(engine.send_and_wait(&id, Event::external("grow")))
            .unwrap();
    }
    assert_eq!(last.status, SessionStatus::Failed, "{last:?}");
    assert!(
        last.failure
            .as_deref()
            .unwrap_or_default()
            .contains("more than the 65536 bytes"),
        "{last:?}"
    );
    engine.shutdown();
    drop(engine);
    // After a restart it is still failed, and its record did not keep the datamodel.
    let engine = Engine::start(config());
    let view = rt.block_on(engine.inspect(&id)).unwrap();
    assert_eq!(view.status, SessionStatus::Failed);
    assert_eq!(view.datamodel, serde_json::json!({}));
    engine.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_restored_session_keeps_the_script_its_document_read_at_the_start() {
    let dir = temp_dir("pinned");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("lib.js");
    std::fs::write(&script, "function version() { return 1; }").unwrap();
    let base = url::Url::from_directory_path(&dir).unwrap();
    let text = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
        <datamodel><data id="v" expr="0"/></datamodel>
        <script src="lib.js"/>
        <state id="s"><transition event="ask"><assign location="v" expr="version()"/></transition></state>
        </scxml>"#;
    let document = scxml::parse::parse_with(
        text,
        "pinned.scxml",
        Some(&base),
        &scxml::parse::FileResolver::unrestricted(),
    )
    .expect("a valid document");
    let config = || EngineConfig {
        shards: 1,
        store: Arc::new(RedbStore::open(&dir.join("store")).unwrap()),
        ..EngineConfig::default()
    };
    let rt = runtime();
    let first = Engine::start(config());
    let id = rt
        .block_on(first.create(Arc::new(document), CreateOptions::default()))
        .unwrap()
        .id;
    first.shutdown();
    drop(first);

    // The file changes while the server is down; the session goes on with what it read.
    std::fs::write(&script, "function version() { return 2; }").unwrap();
    let second = Engine::start(config());
    let view = rt
        .block_on(second.send_and_wait(&id, Event::external("ask")))
        .unwrap();
    assert_eq!(view.datamodel["v"], 1, "{view:?}");
    second.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_finished_session_stays_inspectable_without_its_interpreter() {
    // On a real clock: a paused one would reach the end of its retention at once.
    let engine = Engine::start(EngineConfig {
        shards: 1,
        ..EngineConfig::default()
    });
    let rt = runtime();
    let finishing = doc(r#"<datamodel><data id="n" expr="41"/></datamodel>
        <state id="s"><transition event="go" target="f"><assign location="n" expr="n + 1"/></transition></state>
        <final id="f"/>"#);
    let id = rt
        .block_on(engine.create(finishing, CreateOptions::default()))
        .unwrap()
        .id;
    let done = rt
        .block_on(engine.send_and_wait(&id, Event::external("go")))
        .unwrap();
    assert_eq!(done.status, SessionStatus::Done);
    // Sweeps pass (one every 50 ms); the session is kept as its last view, the same one.
    let deadline = WallInstant::now() + Duration::from_millis(300);
    while WallInstant::now() < deadline {
        let view = rt.block_on(engine.inspect(&id)).expect("still inspectable");
        assert_eq!(view, done);
        std::thread::sleep(Duration::from_millis(20));
    }
    // Events to it change nothing.
    let after = rt
        .block_on(engine.send_and_wait(&id, Event::external("go")))
        .unwrap();
    assert_eq!(after.datamodel["n"], 42);
    assert_eq!(after.final_state.as_deref(), Some("f"));
    engine.shutdown();
}
