//! Load benchmark of the interpreter server over real HTTP on loopback (not criterion: it
//! measures throughput under concurrency and memory, which criterion's loop does not model).
//!
//! `cargo bench --bench server_load` prints:
//! - sessions created per second (`POST /sessions` by document URL, 32 connections);
//! - external events per second (`POST /sessions/{id}/events`, 64 connections, one session
//!   each), with the in-memory store and with the durable redb store (group commit);
//! - p50/p99 request latency of both;
//! - memory per hibernated session for a flow holding ten data fields and waiting on a
//!   one-hour delayed send: sessions are created in-process in batches and hibernate as they
//!   go; the heap bytes still allocated afterwards (counted by a wrapping global allocator),
//!   divided by their number. RSS is printed too, but the allocator keeps the pages freed by
//!   dropped JavaScript contexts and reuses them, so RSS growth understates the cost.
//!
//! `SCXML_LOAD_SECONDS` (default 3) sets each throughput phase's length and
//! `SCXML_LOAD_SESSIONS` (default 20000) the hibernation phase's session count.

#[path = "../tests/common/mod.rs"]
mod common;

use bytes::Bytes;
use common::keepalive::Connection;
use scxml_engine::store::RedbStore;
use scxml_engine::{CreateOptions, EngineConfig, HibernationPolicy};
use scxml_server::StartOptions;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOGGLE: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="off">
  <datamodel><data id="count" expr="0"/></datamodel>
  <state id="off"><transition event="toggle" target="on"><assign location="count" expr="count + 1"/></transition></state>
  <state id="on"><transition event="toggle" target="off" cond="count &gt;= 0"/></state>
</scxml>"#;

const WAITING: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="waiting">
  <datamodel>
    <data id="customer" expr="'+15551234567'"/><data id="device" expr="'ios'"/><data id="token" expr="'a1b2c3d4e5f6'"/>
    <data id="queue" expr="'support'"/><data id="priority" expr="3"/><data id="attempts" expr="0"/>
    <data id="subject" expr="'Loan question'"/><data id="lang" expr="'en'"/><data id="vip" expr="false"/>
    <data id="created" expr="1700000000"/>
  </datamodel>
  <state id="waiting">
    <onentry><send event="callback.due" delay="3600s" id="due"/></onentry>
    <transition event="callback.due" target="done"/>
  </state>
  <final id="done"/>
</scxml>"#;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn seconds() -> Duration {
    Duration::from_secs_f64(
        std::env::var("SCXML_LOAD_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    )
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn report(&mut self, what: &str, elapsed: Duration) {
        self.0.sort();
        let n = self.0.len().max(1);
        let p = |q: f64| {
            self.0
                .get(((n as f64 * q) as usize).min(n - 1))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "{what}: {:.0}/s ({} in {:.1}s), p50 {:.2} ms, p99 {:.2} ms",
            self.0.len() as f64 / elapsed.as_secs_f64(),
            self.0.len(),
            elapsed.as_secs_f64(),
            p(0.50).as_secs_f64() * 1e3,
            p(0.99).as_secs_f64() * 1e3
        );
    }
}

/// One keep-alive connection sending `make(i)` requests until the deadline; returns latencies.
async fn connection(
    addr: SocketAddr,
    deadline: Instant,
    make: Arc<dyn Fn(usize) -> (String, String) + Send + Sync>,
    expect: u16,
) -> Vec<Duration> {
    let mut connection = Connection::open(addr).await.expect("connect");
    let mut latencies = Vec::new();
    let mut i = 0;
    while Instant::now() < deadline {
        let (path, body) = make(i);
        i += 1;
        let answer = connection
            .send(
                hyper::Method::POST,
                &path,
                &[],
                Some(("application/json", Bytes::from(body))),
            )
            .await
            .expect("request");
        assert_eq!(answer.status, expect, "unexpected status");
        latencies.push(answer.elapsed);
    }
    latencies
}

async fn load(
    addr: SocketAddr,
    connections: usize,
    make: Arc<dyn Fn(usize) -> (String, String) + Send + Sync>,
    expect: u16,
) -> (Latencies, Duration) {
    let started = Instant::now();
    let deadline = started + seconds();
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr, deadline, make.clone(), expect)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    (Latencies(all), started.elapsed())
}

async fn throughput(store_name: &str, engine: EngineConfig, dir: &std::path::Path) {
    let doc_path = dir.join("toggle.scxml");
    std::fs::write(&doc_path, TOGGLE).unwrap();
    let options = StartOptions {
        allow_documents: vec![common::allow_dir(dir)],
        ..common::loopback_options(engine)
    };
    let running = scxml_server::start(options).await.expect("server");
    let addr = running.api_addr;
    let url = doc_path.to_string_lossy().to_string();
    let body = json!({ "url": url }).to_string();
    let (mut lat, elapsed) = load(
        addr,
        32,
        Arc::new(move |_| ("/sessions".to_string(), body.clone())),
        201,
    )
    .await;
    lat.report(&format!("[{store_name}] sessions created"), elapsed);

    // One session per connection, so events of a session arrive in order.
    let mut ids = Vec::new();
    for _ in 0..64 {
        let doc = Arc::new(scxml::parse::parse_str(TOGGLE, "toggle", None).unwrap());
        ids.push(
            running
                .app
                .engine
                .create(doc, CreateOptions::default())
                .await
                .unwrap()
                .id,
        );
    }
    let ids = Arc::new(ids);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let event = json!({"name": "toggle"}).to_string();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let path = format!("/sessions/{}/events", ids[index]);
            let event = event.clone();
            Arc::new(move |_: usize| (path.clone(), event.clone()))
                as Arc<dyn Fn(usize) -> (String, String) + Send + Sync>
        })
        .collect();
    let started = Instant::now();
    let deadline = started + seconds();
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|make| tokio::spawn(connection(addr, deadline, make, 202)))
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    Latencies(all).report(
        &format!("[{store_name}] events processed"),
        started.elapsed(),
    );
    running.stop().await;
}

async fn hibernated_memory(dir: &std::path::Path) {
    let count: usize = std::env::var("SCXML_LOAD_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let engine = scxml_engine::Engine::start(EngineConfig {
        shards: 2,
        store: Arc::new(RedbStore::open_with_cache(&dir.join("hibernate"), 16 << 20).unwrap()),
        hibernation: HibernationPolicy {
            idle_after: Some(Duration::ZERO),
            parked_after: None,
            max_live_per_shard: 64,
        },
        ..EngineConfig::default()
    });
    let doc = Arc::new(scxml::parse::parse_str(WAITING, "waiting", None).unwrap());
    // Warm up the allocator with one batch so the baseline includes a batch of live contexts.
    let batch = 256;
    let create_batch = |n: usize| {
        let engine = engine.clone();
        let doc = doc.clone();
        async move {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let engine = engine.clone();
                    let doc = doc.clone();
                    tokio::spawn(async move {
                        engine.create(doc, CreateOptions::default()).await.unwrap()
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    create_batch(batch).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = rss_bytes();
    let heap_before = ALLOCATED.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut created = 0;
    while created < count {
        create_batch(batch).await;
        created += batch;
    }
    let elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = engine.stats();
    while stats.hibernated.load(Ordering::Relaxed) + 2 * 64 < created && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = rss_bytes();
    let heap_after = ALLOCATED.load(Ordering::Relaxed);
    let hibernated = stats.hibernated.load(Ordering::Relaxed);
    println!(
        "[redb] {created} waiting sessions created in-process at {:.0}/s; {hibernated} hibernated; heap grew {:.1} MB: {:.0} bytes per hibernated session (RSS grew {:.1} MB)",
        created as f64 / elapsed.as_secs_f64(),
        heap_after.saturating_sub(heap_before) as f64 / 1e6,
        heap_after.saturating_sub(heap_before) as f64 / created as f64,
        after.saturating_sub(before) as f64 / 1e6,
    );
    let e = engine.clone();
    tokio::task::spawn_blocking(move || e.shutdown())
        .await
        .unwrap();
}

fn main() {
    let dir = std::env::temp_dir().join(format!("scxml-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        throughput(
            "memory",
            EngineConfig {
                shards: 2,
                ..EngineConfig::default()
            },
            &dir,
        )
        .await;
        let store = Arc::new(RedbStore::open(&dir.join("durable")).unwrap());
        throughput(
            "redb",
            EngineConfig {
                shards: 2,
                store,
                ..EngineConfig::default()
            },
            &dir,
        )
        .await;
        hibernated_memory(&dir).await;
    });
    std::fs::remove_dir_all(&dir).ok();
}
