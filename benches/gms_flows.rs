//! Load benchmark of the GMS chat callback application over real HTTP on loopback (not
//! criterion: it measures complete flows per second under concurrency).
//!
//! `cargo bench --bench gms_flows` runs `SCXML_FLOW_CONCURRENCY` (default 32) flows at once for
//! `SCXML_FLOW_SECONDS` (default 5) seconds, measured after `SCXML_FLOW_WARMUP_SECONDS`
//! (default 1) of the same load (the shards' first contexts are built then); sessions
//! hibernate after `SCXML_FLOW_IDLE_MS` idle and parked ones after `SCXML_FLOW_PARKED_MS`,
//! and each shard allocates
//! `SCXML_FLOW_GC_MB` of JavaScript objects between collections (defaults: the engine's), on
//! `SCXML_FLOW_SHARDS` shards (default 2, the cores of the reference machine). Sessions are
//! kept in memory, or in a redb store in the directory `SCXML_FLOW_DATA` names (stored after
//! every burst of events, as `serve --data` does). Each concurrent flow is a device (its own
//! `gms_user`) with its own agent, on its own keep-alive connection, repeating the chat-delay
//! scenario end to end:
//!
//! 1. `POST service/callback/chat-delay` (the service targets the flow's agent, `agent_id`
//!    fills `$agent_id$` in `_target`), with the agent not ready: the callback is queued;
//! 2. `POST agents/{agent}/ready`: the agent is reserved for the callback, and the flow pushes
//!    "agent available"; the device has no push provider, so the notification is kept;
//! 3. `POST service/{id}/retrieve-notifications`, polled (1 ms apart) until the notification is
//!    there;
//! 4. `POST service/{id}/connect` (the start-chat dialog), then `check-queue-position`
//!    (position 0);
//! 5. `POST service/{id}/ixn/chat`: the chat interaction (a second session, of
//!    `inbound_chat.scxml`, hands it to the callback, which routes it to the agent);
//! 6. `GET agents/{agent}/interactions`, polled until the chat is offered, then `accept`;
//! 7. one message each way: `POST agents/{agent}/interactions/{ixn}/messages` and
//!    `POST service/{id}/ixn/chat/send`;
//! 8. `POST agents/{agent}/interactions/{ixn}/end`, then `POST agents/{agent}/not-ready` so
//!    that the next callback waits for the agent again.
//!
//! For a soak, `SCXML_FLOW_RATE` paces the flows to that many per second in all (each device
//! keeps its share; 0, the default: as fast as they go), `SCXML_FLOW_RSS_EVERY_SECONDS`
//! prints the process's resident memory at that interval, and `SCXML_FLOW_TTL_SECONDS` sets
//! the service's `_ttl` (how long a completed callback's record and session are kept; GMS's
//! default is a day, which no hour reaches the end of). RELIABILITY.md has the hour's run.
//!
//! It prints complete flows per second and, for each request kind, the count, p50 and p99
//! latency. Every answer's status (and the fields the next step needs) is checked; the first
//! failing step is printed and the bench exits with 1. At the end the last callback of every
//! device is checked to have reached `COMPLETED` (`AGENT_CONNECTED`).

#[path = "../tests/common/mod.rs"]
mod common;

use bytes::Bytes;
use common::keepalive::Connection;
use hyper::Method;
use scxml_callback::{GmsApp, GmsConfig, LimitsConfig};
use scxml_engine::{EngineConfig, HibernationPolicy};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator of the `scxml` binary, so that the bench measures what `scxml serve` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The request kinds, in the order of a flow (and of the report).
const START: &str = "start (callback/chat-delay)";
const READY: &str = "agent ready";
const RETRIEVE: &str = "retrieve-notifications (polled)";
const CONNECT: &str = "connect";
const POSITION: &str = "check-queue-position";
const IXN_CHAT: &str = "ixn/chat";
const OFFERED: &str = "agent interactions (polled)";
const ACCEPT: &str = "agent accept";
const AGENT_MESSAGE: &str = "agent message";
const CUSTOMER_MESSAGE: &str = "ixn/chat/send (customer message)";
const END: &str = "agent end";
const NOT_READY: &str = "agent not-ready";
const KINDS: [&str; 12] = [
    START,
    READY,
    RETRIEVE,
    CONNECT,
    POSITION,
    IXN_CHAT,
    OFFERED,
    ACCEPT,
    AGENT_MESSAGE,
    CUSTOMER_MESSAGE,
    END,
    NOT_READY,
];

/// How long a polled step may take before the flow is declared failed, and the pause between
/// polls.
const POLL_LIMIT: Duration = Duration::from_secs(5);
const POLL_PAUSE: Duration = Duration::from_millis(1);

const FORM: &str = "application/x-www-form-urlencoded";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The application's configuration: one chat-delay service whose target is the agent named
/// by the request (`agent_id`), and `agents` agents.
fn config(agents: usize) -> GmsConfig {
    let mut text = String::from(
        r#"
        exchange_timeout_ms = 10000
        [services.chat-delay]
        scenario = "chat-delayed"
        _target = "$agent_id$@StatServer.A"
        _urs_virtual_queue = "chat_vq"
        # The bench drives thousands of callbacks a minute: no throttle.
        _throttle_callbacks_per_service_1 = 0
        _throttle_callbacks_per_service_2 = 0
        _throttle_request_parameters_limit = 0
        "#,
    );
    // How long a completed callback's record (and its session) is kept: GMS's day by
    // default; a soak shortens it to reach a steady state within its hour.
    if let Ok(ttl) = std::env::var("SCXML_FLOW_TTL_SECONDS") {
        text.push_str(&format!("        _ttl = {ttl}\n"));
    }
    for i in 0..agents {
        text.push_str(&format!(
            "[[routing.agents]]\nid = \"agent{i}\"\nname = \"Agent {i}\"\ngroups = [\"Chat\"]\n"
        ));
    }
    let mut config = GmsConfig::parse(&text).expect("the bench's GMS configuration");
    // Every device polls 1 ms apart from one address: what it measures is the flows, not
    // the bounds a public deployment puts on its devices.
    config.limits = LimitsConfig::unbounded();
    config
}

/// One keep-alive connection, as one device and its agent's desktop; records the latency of
/// every request by kind.
struct Client {
    connection: Connection,
    user: String,
    /// Requests sent before this (the warm-up) are not recorded.
    measure_from: Instant,
    latencies: HashMap<&'static str, Latencies>,
}

/// The latencies of one request kind: every request counted, at most [`Latencies::KEPT`] of
/// them kept (a uniform sample, by reservoir sampling), so that an hour's soak measures the
/// server's memory and not the bench's.
#[derive(Default)]
struct Latencies {
    count: usize,
    kept: Vec<Duration>,
    /// The sampler's xorshift state.
    random: u64,
}

impl Latencies {
    const KEPT: usize = 4096;

    fn record(&mut self, latency: Duration) {
        self.count += 1;
        if self.kept.len() < Self::KEPT {
            self.kept.push(latency);
            return;
        }
        // Keep the n-th with probability KEPT / n, in the place of a random kept one.
        let mut x = self.random.max(1) ^ self.count as u64;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        let slot = (x % self.count as u64) as usize;
        if slot < Self::KEPT {
            self.kept[slot] = latency;
        }
    }

    /// Another connection's sample joins this one (the connections make equal shares of
    /// the flows, so the union stays a fair sample).
    fn merge(&mut self, mut other: Latencies) {
        self.count += other.count;
        self.kept.append(&mut other.kept);
    }
}

impl Client {
    async fn connect(
        addr: SocketAddr,
        user: String,
        measure_from: Instant,
    ) -> Result<Client, String> {
        let connection = Connection::open(addr).await?;
        Ok(Client {
            connection,
            user,
            measure_from,
            latencies: HashMap::new(),
        })
    }

    /// Sends one request (as the device when `as_device`) and checks its status; returns
    /// the answer's JSON (or its text as a JSON string).
    async fn expect(
        &mut self,
        kind: &'static str,
        method: Method,
        path: &str,
        as_device: bool,
        body: Option<(&str, String)>,
        status: u16,
    ) -> Result<Value, String> {
        let device = [("gms_user", self.user.as_str())];
        let headers: &[(&str, &str)] = if as_device { &device } else { &[] };
        let body = body.map(|(content_type, text)| (content_type, Bytes::from(text)));
        let answer = self
            .connection
            .send(method.clone(), path, headers, body)
            .await
            .map_err(|e| format!("{kind}: {e}"))?;
        if answer.sent >= self.measure_from {
            self.latencies
                .entry(kind)
                .or_default()
                .record(answer.elapsed);
        }
        let got = answer.status;
        let value = answer.json();
        if got != status {
            return Err(format!(
                "{kind}: {method} {path}: status {got}, expected {status}: {value}"
            ));
        }
        Ok(value)
    }
}

/// Checks one field of an answer.
fn check(kind: &str, value: &Value, field: &str, want: Value) -> Result<(), String> {
    if value[field] == want {
        Ok(())
    } else {
        Err(format!(
            "{kind}: {field} is {}, expected {want}: {value}",
            value[field]
        ))
    }
}

/// One complete chat-delay flow for `agent` (logged in, not ready); returns the service id.
async fn flow(c: &mut Client, agent: &str, n: usize) -> Result<String, String> {
    let form = format!("_customer_number=555{n:07}&agent_id={agent}&usr_reason=bench");
    let path = "/genesys/1/service/callback/chat-delay";
    let created = c
        .expect(START, Method::POST, path, true, Some((FORM, form)), 200)
        .await?;
    check(
        START,
        &created,
        "_text",
        json!("We will notify you when agent is available"),
    )?;
    let id = created["_id"]
        .as_str()
        .ok_or_else(|| format!("{START}: no _id: {created}"))?
        .to_string();
    let service = format!("/genesys/1/service/{id}");
    let desktop = format!("/genesys/1/agents/{agent}");

    c.expect(
        READY,
        Method::POST,
        &format!("{desktop}/ready"),
        false,
        None,
        200,
    )
    .await?;

    // The agent-available notification, kept because the device has no push provider.
    let deadline = Instant::now() + POLL_LIMIT;
    let path = format!("{service}/retrieve-notifications");
    loop {
        let kept = c
            .expect(RETRIEVE, Method::POST, &path, true, None, 200)
            .await?;
        let available = kept.as_array().is_some_and(|list| {
            list.iter().any(|m| {
                m["_id"] == id.as_str()
                    && m["_action"] == "get-dialog-user-confirmation-provide_code-false"
            })
        });
        if available {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{RETRIEVE}: no agent-available notification within {POLL_LIMIT:?}: {kept}"
            ));
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }

    let dialog = c
        .expect(
            CONNECT,
            Method::POST,
            &format!("{service}/connect"),
            true,
            None,
            200,
        )
        .await?;
    check(CONNECT, &dialog, "_action", json!("StartChat"))?;
    check(CONNECT, &dialog, "_id", json!(id))?;

    let position = c
        .expect(
            POSITION,
            Method::POST,
            &format!("{service}/check-queue-position"),
            true,
            None,
            200,
        )
        .await?;
    check(POSITION, &position, "_position", json!(1))?;

    let chat = c
        .expect(
            IXN_CHAT,
            Method::POST,
            &format!("{service}/ixn/chat"),
            true,
            Some((
                FORM,
                "firstName=John&lastName=Hill&subject=bench&email=j.h%40example.com".into(),
            )),
            200,
        )
        .await?;
    check(IXN_CHAT, &chat, "_comet_channel", json!("/_genesys"))?;

    // The chat routed to the reserved agent.
    let deadline = Instant::now() + POLL_LIMIT;
    let path = format!("{desktop}/interactions");
    let ixn = loop {
        let offers = c
            .expect(OFFERED, Method::GET, &path, false, None, 200)
            .await?;
        let offer = offers
            .as_array()
            .and_then(|list| list.iter().find(|o| o["service_id"] == id.as_str()));
        if let Some(ixn) = offer.and_then(|o| o["interaction"].as_str()) {
            break ixn.to_string();
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{OFFERED}: the chat was not offered to {agent} within {POLL_LIMIT:?}: {offers}"
            ));
        }
        tokio::time::sleep(POLL_PAUSE).await;
    };
    let interaction = format!("{desktop}/interactions/{ixn}");

    c.expect(
        ACCEPT,
        Method::POST,
        &format!("{interaction}/accept"),
        false,
        None,
        200,
    )
    .await?;
    let text = json!({"text": "Hello, this is your agent"}).to_string();
    c.expect(
        AGENT_MESSAGE,
        Method::POST,
        &format!("{interaction}/messages"),
        false,
        Some(("application/json", text)),
        200,
    )
    .await?;
    let transcript = c
        .expect(
            CUSTOMER_MESSAGE,
            Method::POST,
            &format!("{service}/ixn/chat/send"),
            true,
            Some((FORM, "message=Hi%20there".into())),
            200,
        )
        .await?;
    let texts: Vec<&str> = transcript["messages"]
        .as_array()
        .map(|list| list.iter().filter_map(|m| m["text"].as_str()).collect())
        .unwrap_or_default();
    if !(texts.contains(&"Hello, this is your agent") && texts.contains(&"Hi there")) {
        return Err(format!(
            "{CUSTOMER_MESSAGE}: the transcript lacks a message: {transcript}"
        ));
    }

    let ended = c
        .expect(
            END,
            Method::POST,
            &format!("{interaction}/end"),
            false,
            None,
            200,
        )
        .await?;
    check(END, &ended, "ended", json!(true))?;
    c.expect(
        NOT_READY,
        Method::POST,
        &format!("{desktop}/not-ready"),
        false,
        None,
        200,
    )
    .await?;
    Ok(id)
}

/// What one concurrent flow did.
struct Done {
    /// Flows completed after the warm-up.
    flows: usize,
    last: Option<String>,
    /// The device's connection (with the latencies it recorded).
    client: Client,
}

/// Repeats flows for device `w` and agent `agent{w}` until the deadline (or another failed).
async fn worker(
    addr: SocketAddr,
    w: usize,
    (measure_from, deadline): (Instant, Instant),
    pace: Option<Duration>,
    failed: Arc<AtomicBool>,
) -> Result<Done, String> {
    let mut client = Client::connect(addr, format!("bench-device-{w:04}"), measure_from).await?;
    let agent = format!("agent{w}");
    let mut done = 0;
    let mut measured = 0;
    let mut last = None;
    let began = Instant::now();
    while Instant::now() < deadline && !failed.load(Ordering::Relaxed) {
        if let Some(every) = pace {
            // The flow's slot in this device's share of the rate.
            let slot = began + every * done as u32;
            tokio::time::sleep_until(slot.into()).await;
        }
        match flow(&mut client, &agent, w * 1_000_000 + done).await {
            Ok(id) => last = Some(id),
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                return Err(format!("flow {done} of device {w} ({agent}): {e}"));
            }
        }
        done += 1;
        FLOWS_DONE.fetch_add(1, Ordering::Relaxed);
        if Instant::now() >= measure_from {
            measured += 1;
        }
    }
    Ok(Done {
        flows: measured,
        last,
        client,
    })
}

/// Flows completed so far by every device (for the soak's memory lines).
static FLOWS_DONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The process's resident set size (VmRSS), in KB.
fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of this process (server and clients together), from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) start at `state`; utime and
    // stime are in clock ticks (USER_HZ, 100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The process's peak resident set size (VmHWM), in KB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    sorted[((n as f64 * q) as usize).min(n - 1)].as_secs_f64() * 1e3
}

async fn run(
    server: &scxml_server::RunningServer,
    concurrency: usize,
    warmup: f64,
    seconds: f64,
) -> Result<(), String> {
    let rate: f64 = env_or("SCXML_FLOW_RATE", 0.0);
    let pace = (rate > 0.0).then(|| Duration::from_secs_f64(concurrency as f64 / rate));
    let addr = server.api_addr;
    let rss_every: f64 = env_or("SCXML_FLOW_RSS_EVERY_SECONDS", 0.0);
    let app = server.app.clone();
    let sampler = (rss_every > 0.0).then(|| {
        tokio::spawn(async move {
            let began = Instant::now();
            let mut interval = tokio::time::interval(Duration::from_secs_f64(rss_every));
            loop {
                interval.tick().await;
                let stats = app.engine.stats();
                println!(
                    "rss at {:>6.0} s: {:>7.1} MB after {} flows; {} sessions, {} hibernated",
                    began.elapsed().as_secs_f64(),
                    rss_kb().unwrap_or(0) as f64 / 1024.0,
                    FLOWS_DONE.load(Ordering::Relaxed),
                    stats.sessions.load(Ordering::Relaxed),
                    stats.hibernated.load(Ordering::Relaxed),
                );
            }
        })
    });
    // Every agent logs in (not ready) before the clock starts.
    let mut setup = Client::connect(addr, "bench-setup".into(), Instant::now()).await?;
    for w in 0..concurrency {
        let path = format!("/genesys/1/agents/agent{w}/login");
        let view = setup
            .expect("login", Method::POST, &path, false, None, 200)
            .await?;
        check("login", &view["state"], "state", json!("not_ready"))?;
    }

    let failed = Arc::new(AtomicBool::new(false));
    let started = Instant::now() + Duration::from_secs_f64(warmup);
    let deadline = started + Duration::from_secs_f64(seconds);
    // The CPU time spent so far, when the warm-up is over.
    let cpu_before = tokio::spawn(async move {
        tokio::time::sleep_until(started.into()).await;
        (cpu_time(), scxml::datamodel::ecmascript::context_counts())
    });
    let tasks: Vec<_> = (0..concurrency)
        .map(|w| tokio::spawn(worker(addr, w, (started, deadline), pace, failed.clone())))
        .collect();
    let mut flows = 0;
    let mut clients = Vec::new();
    let mut latencies: HashMap<&'static str, Latencies> = HashMap::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(mut done)) => {
                flows += done.flows;
                for (kind, l) in done.client.latencies.drain() {
                    latencies.entry(kind).or_default().merge(l);
                }
                clients.push((done.client, done.last));
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("a flow task panicked: {e}")),
        }
    }
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let elapsed = started.elapsed();
    let (cpu_before, contexts_before) = cpu_before
        .await
        .map_err(|e| format!("the CPU sampler failed: {e}"))?;
    let contexts = scxml::datamodel::ecmascript::context_counts();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    if let Some(first) = errors.first() {
        return Err(format!("{first} ({} flow(s) failed in all)", errors.len()));
    }

    let requests: usize = latencies.values().map(|l| l.count).sum();
    println!(
        "gms chat-delay flows over HTTP: {concurrency} concurrent (one device, agent and connection each), {:.1} s after {warmup:.1} s of warm-up",
        elapsed.as_secs_f64()
    );
    println!(
        "complete flows: {flows} = {:.1} flows/s; {:.1} requests per flow ({:.0} requests/s); 2 sessions per flow",
        flows as f64 / elapsed.as_secs_f64(),
        requests as f64 / flows.max(1) as f64,
        requests as f64 / elapsed.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        println!(
            "CPU (server and clients, one process): {:.2} cores busy, {:.2} ms per flow",
            cpu.as_secs_f64() / elapsed.as_secs_f64(),
            cpu.as_secs_f64() * 1e3 / flows.max(1) as f64
        );
    }
    println!(
        "JavaScript contexts the sessions started from: {} warm, {} spare, {} new; {} not kept (changed)",
        contexts.warm - contexts_before.warm,
        contexts.spare - contexts_before.spare,
        contexts.built - contexts_before.built,
        contexts.refused - contexts_before.refused
    );
    if let Some(kb) = peak_rss_kb() {
        println!("peak RSS (the whole process): {} MB", kb / 1024);
    }
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>9}",
        "request", "count", "per flow", "p50 ms", "p99 ms"
    );
    for kind in KINDS {
        let Latencies {
            count, mut kept, ..
        } = latencies.remove(kind).unwrap_or_default();
        kept.sort();
        println!(
            "{kind:<34} {:>8} {:>9.2} {:>9.2} {:>9.2}",
            count,
            count as f64 / flows.max(1) as f64,
            percentile(&kept, 0.50),
            percentile(&kept, 0.99)
        );
    }

    // The agent's end reaches the flow as an event (`chat.ended`): every device's last
    // callback completes.
    for (mut client, last) in clients {
        let Some(id) = last else { continue };
        let path = format!("/genesys/1/service/{id}");
        let deadline = Instant::now() + POLL_LIMIT;
        loop {
            let record = client
                .expect("record", Method::GET, &path, true, None, 200)
                .await?;
            if record["_callback_state"] == "COMPLETED" {
                check(
                    "record",
                    &record,
                    "_callback_reason",
                    json!("AGENT_CONNECTED"),
                )?;
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the callback {id} did not complete: {record}"));
            }
            tokio::time::sleep(POLL_PAUSE).await;
        }
    }
    println!("every device's last callback is COMPLETED (AGENT_CONNECTED)");
    Ok(())
}

fn main() {
    let concurrency: usize = env_or("SCXML_FLOW_CONCURRENCY", 32);
    let seconds: f64 = env_or("SCXML_FLOW_SECONDS", 5.0);
    let warmup: f64 = env_or("SCXML_FLOW_WARMUP_SECONDS", 1.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        let gms = GmsApp::new(config(concurrency)).map_err(|e| format!("gms: {e}"))?;
        let options = common::loopback_options(EngineConfig {
            shards: env_or("SCXML_FLOW_SHARDS", 2),
            gc_budget_mb: env_or("SCXML_FLOW_GC_MB", EngineConfig::default().gc_budget_mb),
            hibernation: HibernationPolicy {
                idle_after: Some(Duration::from_millis(env_or(
                    "SCXML_FLOW_IDLE_MS",
                    HibernationPolicy::default()
                        .idle_after
                        .map_or(60_000, |d| d.as_millis() as u64),
                ))),
                parked_after: Some(Duration::from_millis(env_or(
                    "SCXML_FLOW_PARKED_MS",
                    HibernationPolicy::default()
                        .parked_after
                        .map_or(5_000, |d| d.as_millis() as u64),
                ))),
                ..HibernationPolicy::default()
            },
            store: match std::env::var("SCXML_FLOW_DATA") {
                Ok(dir) => std::sync::Arc::new(
                    scxml_engine::store::RedbStore::open(std::path::Path::new(&dir))
                        .map_err(|e| format!("store: {e}"))?,
                ),
                Err(_) => EngineConfig::default().store,
            },
            ..EngineConfig::default()
        });
        let running = scxml_server::start_with(
            options,
            vec![gms as std::sync::Arc<dyn scxml_server::Mount>],
        )
        .await
        .map_err(|e| format!("server: {e}"))?;
        let outcome = run(&running, concurrency, warmup, seconds).await;
        running.stop().await;
        outcome
    });
    if let Err(e) = outcome {
        eprintln!("gms_flows failed: {e}");
        std::process::exit(1);
    }
}
