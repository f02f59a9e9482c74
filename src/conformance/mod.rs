//! The W3C SCXML 1.0 conformance suite runner, shared by `scxml w3c` and `tests/w3c.rs`.
//!
//! It reads the suite's `tests.tsv`, leaves out the XPath profile, runs every start document on
//! its own thread with a virtual clock and a wall-clock timeout (the Basic HTTP tests on a real
//! server on loopback, see `http`), and judges each test: automatic tests by
//! reaching the final state `pass`, manual tests by what they mean (see [`judge`]). The
//! result is a [`SuiteReport`] that callers can print or assert on.
//!
//! ```no_run
//! use scxml_runtime::conformance::{run_suite, SuiteOptions};
//! let report = run_suite(&SuiteOptions::default()).expect("suite directory");
//! println!("{report}");
//! ```

mod execute;
mod http;
mod judge;
mod manifest;
mod pool;
mod report;

pub use execute::{run_document, DocOutcome, SessionTrace};
pub use judge::{judge, judge_manual, Verdict};
pub use manifest::{parse_manifest, read_manifest, Conformance, ManifestError, TestCase};
pub use pool::{run_all, DocRun};
pub use report::{Counts, SuiteReport, TestResult};

use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that names the suite directory.
pub const DIR_ENV: &str = "SCXML_W3C_DIR";

/// The default per-document wall-clock timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which hosts run the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hosts {
    /// [`scxml::runtime::LocalRuntime`] with a virtual clock (the CLI's host); the Basic
    /// HTTP tests on the server.
    Local,
    /// The server (the engine behind HTTP), in real time.
    Server,
    /// Both: a test passes when it passes on both, and a failure names the host.
    #[default]
    Both,
}

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    /// The suite directory (holding `tests.tsv`, `ecma/`, `null/`).
    pub dir: PathBuf,
    /// Wall-clock limit for each start document.
    pub timeout: Duration,
    /// Documents run at the same time.
    pub jobs: usize,
    /// Run only these test ids (all when `None`).
    pub only: Option<Vec<u32>>,
    /// Which hosts run it.
    pub hosts: Hosts,
}

impl Default for SuiteOptions {
    fn default() -> SuiteOptions {
        SuiteOptions {
            dir: default_suite_dir(),
            timeout: DEFAULT_TIMEOUT,
            jobs: default_jobs(),
            only: None,
            hosts: Hosts::default(),
        }
    }
}

/// `$SCXML_W3C_DIR`, else `../shared/w3c-scxml` from the current directory when it exists,
/// else the same path next to the crate that was built.
pub fn default_suite_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let from_cwd = PathBuf::from("../shared/w3c-scxml");
    if from_cwd.join("tests.tsv").is_file() {
        return from_cwd;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/w3c-scxml"))
}

/// One job per available core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Runs the suite and judges every applicable test.
pub fn run_suite(options: &SuiteOptions) -> Result<SuiteReport, ManifestError> {
    let cases: Vec<TestCase> = read_manifest(&options.dir)?
        .into_iter()
        .filter(|c| c.profile != "xpath")
        .filter(|c| options.only.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .collect();
    let dir = absolute(&options.dir);

    let local = matches!(options.hosts, Hosts::Local | Hosts::Both)
        .then(|| run_on(&cases, &dir, options, false));
    let server = matches!(options.hosts, Hosts::Server | Hosts::Both)
        .then(|| run_on(&cases, &dir, options, true));
    let results = cases
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let judged: Vec<(&str, &[DocRun])> = [("local", &local), ("server", &server)]
                .into_iter()
                .filter_map(|(host, runs)| runs.as_ref().map(|r| (host, r[i].as_slice())))
                .collect();
            let mut verdict = Verdict::Pass;
            for (host, runs) in &judged {
                let v = judge(&case, runs);
                if v != Verdict::Pass {
                    verdict = match (judged.len(), v) {
                        (1, v) => v,
                        (_, Verdict::Fail(reason)) => {
                            Verdict::Fail(format!("on the {host} host: {reason}"))
                        }
                        (_, Verdict::Timeout) => {
                            Verdict::Fail(format!("on the {host} host: timed out"))
                        }
                        (_, v) => v,
                    };
                    break;
                }
            }
            TestResult {
                elapsed: judged
                    .iter()
                    .flat_map(|(_, runs)| runs.iter().map(|r| r.elapsed))
                    .sum(),
                case,
                verdict,
            }
        })
        .collect();
    Ok(SuiteReport { results })
}

/// Runs every test's start documents on one host and answers the runs of each test, in
/// the order of `cases`. The Basic HTTP tests run on the server whatever the host.
fn run_on(
    cases: &[TestCase],
    dir: &std::path::Path,
    options: &SuiteOptions,
    server_host: bool,
) -> Vec<Vec<DocRun>> {
    // Flatten to documents so test403's three documents run in parallel too.
    let mut local = Vec::new();
    let mut on_server = Vec::new();
    let mut spans = Vec::new();
    for case in cases {
        let to_server = server_host || case.has_feature("http");
        let list = if to_server {
            &mut on_server
        } else {
            &mut local
        };
        let start = list.len();
        list.extend(case.start_documents(dir));
        spans.push((to_server, start..list.len()));
    }
    let local_runs = run_all(&local, options.jobs, options.timeout);
    let server_runs = http::run_all(&on_server, options.timeout);
    spans
        .into_iter()
        .map(|(to_server, span)| {
            if to_server {
                server_runs[span].to_vec()
            } else {
                local_runs[span].to_vec()
            }
        })
        .collect()
}

/// Documents are loaded by absolute path so their relative `src`s resolve the same way
/// whatever the current directory.
fn absolute(dir: &std::path::Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}
