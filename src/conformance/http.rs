//! Runs documents on the real server: an engine behind an HTTP listener on loopback. The
//! Basic HTTP tests always run here, so sessions publish a real
//! `_ioprocessors['basichttp'].location`, post to it, and receive what comes back over HTTP;
//! with [`super::Hosts::Server`] every test does, so the suite checks the server's host as
//! it checks [`scxml::runtime::LocalRuntime`]. Time is real here (the HTTP round trips are),
//! so these tests run concurrently and each waits at most its timeout. Every `<log>` of every
//! session reaches the runner through the engine's log sink, filed under the session at the
//! top of its invocation tree, for the judges of the manual tests.
//!
//! Manual test 513 ("send a well formed event to the location URL and check that you get a
//! 200 response") is carried out by the runner: it starts a small session that waits for the
//! event, posts to its location as the test describes, and checks the answer and the event.

use super::execute::{DocOutcome, SessionTrace};
use super::pool::DocRun;
use scxml::runtime::{LogRecord, RunOutcome};
use scxml_engine::{CreateOptions, EngineConfig, LogSink, SessionLog};
use scxml_server::{ServerConfig, StartOptions};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session test 513 posts to.
const TEST_513: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" initial="s0">
  <state id="s0">
    <onentry><send event="timeout" delay="5s"/></onentry>
    <transition event="test" cond="_event.data.key1 == 'value1' &amp;&amp; _event.data.key2 == 'value2'" target="pass"/>
    <transition event="*" target="fail"/>
  </state>
  <final id="pass"/><final id="fail"/>
</scxml>"#;

/// The logs of every session, by the session at the top of its invocation tree: the
/// session's own id and the id, label and message of each log.
#[derive(Default)]
struct Logs {
    by_root: Mutex<HashMap<String, Vec<LogLine>>>,
}

/// One `<log>`, with the session that wrote it.
struct LogLine {
    session: String,
    label: Option<String>,
    message: String,
}

impl LogSink for Logs {
    fn log(&self, log: &SessionLog<'_>) {
        if let Ok(mut logs) = self.by_root.lock() {
            logs.entry(log.root.to_string()).or_default().push(LogLine {
                session: log.session.to_string(),
                label: log.label.map(str::to_string),
                message: log.message.to_string(),
            });
        }
    }
}

impl Logs {
    /// The logs of `root`'s tree as the judges read them: key 0 for the root itself, 1, 2...
    /// for the sessions it invoked, in the order they first logged.
    fn take(&self, root: &str) -> Vec<LogRecord> {
        let lines = self
            .by_root
            .lock()
            .ok()
            .and_then(|mut logs| logs.remove(root))
            .unwrap_or_default();
        let mut keys: HashMap<String, u64> = HashMap::from([(root.to_string(), 0)]);
        lines
            .into_iter()
            .map(|line| {
                let next = keys.len() as u64;
                LogRecord {
                    session: *keys.entry(line.session).or_insert(next),
                    label: line.label,
                    message: line.message,
                }
            })
            .collect()
    }
}

/// How many documents run at once. The tests race real timers against each other (test 207:
/// an event due in 1 s must come before one due in 1.5 s and a timeout at 2 s), so starting
/// all two hundred in one burst would measure the burst, not the engine.
const AT_ONCE: usize = 16;

/// Runs the documents on a fresh server and returns the runs in the order of `paths`.
pub fn run_all(paths: &[PathBuf], timeout: Duration) -> Vec<DocRun> {
    if paths.is_empty() {
        return Vec::new();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed_all(paths, format!("cannot start a runtime: {e}")),
    };
    let logs = Arc::new(Logs::default());
    runtime.block_on(async {
        let options = StartOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            test_protocol: None,
            public_url: None,
            engine: EngineConfig {
                shards: 2,
                log_sink: Some(logs.clone()),
                ..EngineConfig::default()
            },
            server: ServerConfig::default(),
            // What the suite's documents name lies beside them.
            allow_documents: suite_prefixes(paths),
            // On loopback, for this process alone: it drives the engine directly, and the
            // suite's documents post to Basic HTTP, which takes no credentials anyway.
            auth: scxml_server::Authenticator::disabled(),
            tls: None,
            admin_token: None,
        };
        let server = match scxml_server::start(options).await {
            Ok(s) => s,
            Err(e) => return failed_all(paths, format!("cannot start the server: {e}")),
        };
        let running = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
        let tasks: Vec<_> = paths
            .iter()
            .map(|path| {
                let app = server.app.clone();
                let base = format!("http://{}", server.api_addr);
                let path = path.clone();
                let logs = logs.clone();
                let running = running.clone();
                tokio::spawn(async move {
                    let _turn = running.acquire().await;
                    let started = Instant::now();
                    let outcome = run_one(&app, &base, &path, timeout, &logs).await;
                    DocRun {
                        path,
                        outcome,
                        elapsed: started.elapsed(),
                    }
                })
            })
            .collect();
        let mut runs = Vec::with_capacity(paths.len());
        for (task, path) in tasks.into_iter().zip(paths) {
            runs.push(task.await.unwrap_or_else(|e| DocRun {
                path: path.clone(),
                outcome: DocOutcome::Panicked(e.to_string()),
                elapsed: Duration::ZERO,
            }));
        }
        server.stop().await;
        runs
    })
}

/// The directories of the documents, as URL prefixes for the server's allow-list: as given,
/// and as their real paths, since the resolver checks a local file under its canonical path
/// too (the suite may be reached through a symbolic link).
fn suite_prefixes(paths: &[PathBuf]) -> Vec<String> {
    let mut prefixes: Vec<String> = paths
        .iter()
        .filter_map(|p| p.parent())
        .flat_map(|dir| [Some(dir.to_path_buf()), std::fs::canonicalize(dir).ok()])
        .flatten()
        .filter_map(|dir| url::Url::from_directory_path(dir).ok())
        .map(|u| u.to_string())
        .collect();
    prefixes.sort();
    prefixes.dedup();
    prefixes
}

fn failed_all(paths: &[PathBuf], reason: String) -> Vec<DocRun> {
    paths
        .iter()
        .map(|p| DocRun {
            path: p.clone(),
            outcome: DocOutcome::Panicked(reason.clone()),
            elapsed: Duration::ZERO,
        })
        .collect()
}

async fn run_one(
    app: &scxml_server::App,
    base: &str,
    path: &std::path::Path,
    timeout: Duration,
    logs: &Logs,
) -> DocOutcome {
    let manual_513 = path.extension().is_some_and(|e| e == "txt");
    let doc = if manual_513 {
        scxml::parse::parse_str(TEST_513, "test513", None)
            .map(std::sync::Arc::new)
            .map_err(|e| e.to_string())
    } else {
        let location = path.to_string_lossy().to_string();
        match tokio::task::spawn_blocking(move || scxml::parse::load(&location)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    let doc = match doc {
        Ok(doc) => doc,
        Err(message) => return DocOutcome::Rejected(message),
    };
    let view = match app.engine.create(doc, CreateOptions::default()).await {
        Ok(v) => v,
        Err(e) => return DocOutcome::Panicked(e.to_string()),
    };
    if manual_513 {
        let url = format!("{base}/basichttp/{}", view.id);
        match post_513(&url).await {
            Ok(200) => {}
            Ok(other) => {
                return DocOutcome::Rejected(format!("the location answered {other}, not 200"))
            }
            Err(e) => return DocOutcome::Rejected(format!("posting to the location: {e}")),
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        let view = match app.engine.inspect(&view.id).await {
            Ok(v) => v,
            Err(e) => return DocOutcome::Panicked(e.to_string()),
        };
        let halted = view.status.is_halted();
        if halted || Instant::now() >= deadline {
            return DocOutcome::Ran(SessionTrace {
                stop: if halted {
                    RunOutcome::Halted
                } else {
                    RunOutcome::TimedOut
                },
                final_state: view.final_state,
                active: view.active_states,
                root: 0,
                logs: logs.take(&view.id),
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Test 513's request: form fields in the body, the event name in a header.
async fn post_513(url: &str) -> Result<u16, scxml_engine::HttpError> {
    let limits = scxml_engine::HttpLimits {
        timeout: Duration::from_secs(5),
        ..scxml_engine::HttpLimits::default()
    };
    let headers = [
        ("_scxmleventname", "test"),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let answer = scxml_engine::HttpClient::shared()?
        .post(url, &headers, "key1=value1&key2=value2", limits)
        .await?;
    Ok(answer.status.as_u16())
}
