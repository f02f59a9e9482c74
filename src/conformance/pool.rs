//! Runs many documents in parallel, each on its own thread, with a wall-clock watchdog.
//!
//! Each document gets a fresh thread because a session's JavaScript context is `!Send`: the
//! runtime is created, used and dropped on that thread, and only a plain [`DocOutcome`] comes
//! back over a channel. At most `workers` threads run at once. A thread that has not reported
//! back a little after its timeout (a macrostep that loops forever never returns to
//! `LocalRuntime::run`'s deadline check) is reported [`DocOutcome::Unresponsive`] and left
//! behind: Rust cannot kill a thread, and the process exits when the caller is done.
//!
//! Panics are caught per document and reported with their location; the panic hook stays
//! quiet for the runner's own threads so one broken feature does not flood the output.

use super::execute::{run_document, DocOutcome};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Once;
use std::time::{Duration, Instant};

/// Threads of the runner are named with this prefix; the panic hook recognises them by it.
const THREAD_PREFIX: &str = "w3c-";

/// How long past its timeout a silent thread is given before it is written off.
const GRACE: Duration = Duration::from_secs(1);

/// Boa and deep charts recurse; give test threads more than the 2 MiB default.
const STACK_SIZE: usize = 32 * 1024 * 1024;

thread_local! {
    /// The last panic on this thread, formatted by the hook (message and location).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A document to run, and the result it produced.
#[derive(Debug, Clone)]
pub struct DocRun {
    pub path: PathBuf,
    pub outcome: DocOutcome,
    pub elapsed: Duration,
}

/// Runs every document and returns the runs in the order of `paths`.
pub fn run_all(paths: &[PathBuf], workers: usize, timeout: Duration) -> Vec<DocRun> {
    install_quiet_panic_hook();
    let workers = workers.max(1);
    let (tx, rx) = mpsc::channel::<(usize, DocOutcome)>();
    let mut results: Vec<Option<DocRun>> = vec![None; paths.len()];
    let mut next = 0;
    let mut running: HashMap<usize, Instant> = HashMap::new();

    while next < paths.len() || !running.is_empty() {
        while running.len() < workers && next < paths.len() {
            let index = next;
            next += 1;
            match spawn(index, paths[index].clone(), timeout, tx.clone()) {
                Ok(()) => {
                    running.insert(index, Instant::now());
                }
                Err(e) => {
                    results[index] = Some(DocRun {
                        path: paths[index].clone(),
                        outcome: DocOutcome::Panicked(format!("could not start a thread: {e}")),
                        elapsed: Duration::ZERO,
                    });
                }
            }
        }
        let Some(earliest) = running.values().min().copied() else {
            continue;
        };
        let wait = (earliest + timeout + GRACE).saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok((index, outcome)) => {
                // A thread written off earlier may still report; its slot is already filled.
                if let Some(started) = running.remove(&index) {
                    results[index] = Some(DocRun {
                        path: paths[index].clone(),
                        outcome,
                        elapsed: started.elapsed(),
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let overdue: Vec<usize> = running
                    .iter()
                    .filter(|(_, &started)| now >= started + timeout + GRACE)
                    .map(|(&i, _)| i)
                    .collect();
                for index in overdue {
                    if let Some(started) = running.remove(&index) {
                        results[index] = Some(DocRun {
                            path: paths[index].clone(),
                            outcome: DocOutcome::Unresponsive,
                            elapsed: started.elapsed(),
                        });
                    }
                }
            }
            // Every sender is alive while a thread runs (each holds a clone), and we hold `tx`.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }

    results
        .into_iter()
        .zip(paths)
        .map(|(run, path)| {
            run.unwrap_or_else(|| DocRun {
                path: path.clone(),
                outcome: DocOutcome::Unresponsive,
                elapsed: Duration::ZERO,
            })
        })
        .collect()
}

/// Starts the thread that runs one document and reports on `tx`.
fn spawn(
    index: usize,
    path: PathBuf,
    timeout: Duration,
    tx: mpsc::Sender<(usize, DocOutcome)>,
) -> std::io::Result<()> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::thread::Builder::new()
        .name(format!("{THREAD_PREFIX}{name}"))
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_document(&path, timeout)
            }))
            .unwrap_or_else(|payload| DocOutcome::Panicked(panic_message(payload)));
            // The receiver is gone only when the runner gave up on us; nothing to do then.
            let _ = tx.send((index, outcome));
        })
        .map(|_| ())
}

/// The hook's record of the panic, or the payload's text when there is none.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(recorded) = LAST_PANIC.with(|p| p.borrow_mut().take()) {
        return recorded;
    }
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_string())
}

/// Wraps the current panic hook: on the runner's threads, record the panic instead of
/// printing it; everywhere else, behave as before.
fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with(THREAD_PREFIX));
            if ours {
                let text = info.to_string().replace('\n', " ");
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}
