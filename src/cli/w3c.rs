//! `scxml w3c [DIR] [--timeout SECS] [--jobs N] [--host local|server|both]`: runs the W3C
//! conformance suite with [`crate::conformance`] and prints its report.

use super::ArgError;
use crate::conformance::{self, Hosts, SuiteOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct W3cArgs {
    /// The suite directory (default: $SCXML_W3C_DIR, else ../shared/w3c-scxml).
    dir: Option<PathBuf>,
    /// Wall-clock limit per test document, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
    /// Documents run in parallel (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Which host runs the tests: the CLI's (virtual time), the server's (real time), or both
    /// (a test passes when it passes on both).
    #[arg(long, value_enum, default_value = "both")]
    host: HostArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum HostArg {
    Local,
    Server,
    Both,
}

/// Exit code 0 when no test failed, 1 when some did, 2 when the suite cannot be read.
pub fn w3c(args: W3cArgs) -> ExitCode {
    let options = SuiteOptions {
        dir: args.dir.unwrap_or_else(conformance::default_suite_dir),
        timeout: args.timeout,
        jobs: args
            .jobs
            .map_or_else(conformance::default_jobs, usize::from),
        only: None,
        hosts: match args.host {
            HostArg::Local => Hosts::Local,
            HostArg::Server => Hosts::Server,
            HostArg::Both => Hosts::Both,
        },
    };
    eprintln!(
        "running the W3C suite in {} on {:?} ({} jobs, {:?} timeout)",
        options.dir.display(),
        options.hosts,
        options.jobs,
        options.timeout
    );
    match conformance::run_suite(&options) {
        Ok(report) => {
            println!("{report}");
            if report.failures().next().is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("scxml: cannot read the suite: {e}");
            eprintln!(
                "give its directory as an argument or in ${}",
                conformance::DIR_ENV
            );
            ExitCode::from(2)
        }
    }
}

/// A positive number of seconds, fractions allowed.
pub fn parse_seconds(text: &str) -> Result<Duration, ArgError> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| ArgError::NotSeconds(text.to_string()))?;
    if secs <= 0.0 {
        return Err(ArgError::NotPositiveSeconds);
    }
    Duration::try_from_secs_f64(secs).map_err(|_| ArgError::SecondsOutOfRange(text.to_string()))
}
