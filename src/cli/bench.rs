//! `scxml bench DOC [--seconds S] [--count-entries STATE] [--events NAME:N]`: measures a
//! chart the way the published uSCXML benchmark does.
//!
//! The benchmark charts loop forever through eventless transitions, so one macrostep never
//! ends: the session runs with a microstep budget and is resumed slice by slice until the
//! time is up, counting the entries of the watched state. Event throughput is measured by
//! feeding external events straight to `process_event`. Both run on the [`NullHost`], so
//! what is measured is the interpreter and its datamodel, not a runtime.

use super::load::load_or_exit;
use super::w3c::parse_seconds;
use super::ArgError;
use scxml::interpreter::{Event, Interpreter, Limits, NullHost, SessionOptions};
use scxml::model::Document;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Microsteps per slice: small enough to check the clock often, large enough that checking
/// costs nothing.
const SLICE: u64 = 10_000;

/// Why a measurement could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum BenchError {
    /// Neither measurement was asked for.
    #[error("give --count-entries STATE or --events NAME:N")]
    NoMeasurement,
    /// `--count-entries` names a state the document does not have.
    #[error("the document has no state `{0}`")]
    NoSuchState(String),
    /// The chart ran for the whole time without entering the watched state once, so there
    /// is no rate to report.
    #[error("`{state}` was never entered ({microsteps} microsteps in {seconds:.2} s)")]
    NeverEntered {
        /// The watched state.
        state: String,
        /// Microsteps the chart took meanwhile.
        microsteps: u64,
        /// How long it ran, seconds.
        seconds: f64,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("measure")
        .required(true)
        .args(["count_entries", "events"])
))]
pub struct BenchArgs {
    /// The document: a path, a file: URL or an http(s):// URL.
    doc: String,
    /// How long to run a looping chart (--count-entries), in seconds.
    #[arg(long, value_name = "S", default_value = "3", value_parser = parse_seconds)]
    seconds: Duration,
    /// Count entries of this state per second (the chart must loop through eventless transitions).
    #[arg(long, value_name = "STATE")]
    count_entries: Option<String>,
    /// Send N external events named NAME and report events per second.
    #[arg(long, value_name = "NAME:N", value_parser = parse_events_spec)]
    events: Option<(String, u64)>,
}

pub fn bench(args: BenchArgs) -> ExitCode {
    let doc = match load_or_exit(&args.doc) {
        Ok(doc) => doc,
        Err(code) => return code,
    };
    let result = match (&args.count_entries, &args.events) {
        (Some(state), _) => count_entries(doc, state, args.seconds),
        (None, Some((name, n))) => count_events(doc, name, *n),
        (None, None) => Err(BenchError::NoMeasurement),
    };
    match result {
        Ok(report) => {
            println!("{}: {report}", args.doc);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("scxml: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the looping chart for `duration` and reports entries of `state` and microsteps per second.
fn count_entries(
    doc: Arc<Document>,
    state: &str,
    duration: Duration,
) -> Result<String, BenchError> {
    let watched = doc
        .state_by_id(state)
        .ok_or_else(|| BenchError::NoSuchState(state.to_string()))?;
    let mut session = Interpreter::new(
        doc,
        SessionOptions {
            limits: Limits::UNBOUNDED,
            ..SessionOptions::default()
        },
    );
    session.watch_entries(watched);
    session.set_microstep_budget(Some(SLICE));
    let started = Instant::now();
    session.start(&mut NullHost);
    while session.is_running() && started.elapsed() < duration {
        let before = session.stats().microsteps;
        session.set_microstep_budget(Some(SLICE));
        session.resume(&mut NullHost);
        if session.stats().microsteps == before {
            break; // stable: the chart does not loop on its own
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = session.stats();
    if stats.watched_entries == 0 {
        return Err(BenchError::NeverEntered {
            state: state.to_string(),
            microsteps: stats.microsteps,
            seconds: elapsed,
        });
    }
    Ok(format!(
        "`{state}` entered {} times in {elapsed:.2} s: {:.0} entries/s, {:.0} microsteps/s",
        stats.watched_entries,
        stats.watched_entries as f64 / elapsed,
        stats.microsteps as f64 / elapsed,
    ))
}

/// Delivers `n` events named `name` and reports events and microsteps per second.
fn count_events(doc: Arc<Document>, name: &str, n: u64) -> Result<String, BenchError> {
    let mut session = Interpreter::new(
        doc,
        SessionOptions {
            limits: Limits::UNBOUNDED,
            ..SessionOptions::default()
        },
    );
    session.start(&mut NullHost);
    let event = Event::external(name);
    let before = session.stats();
    let started = Instant::now();
    let mut delivered = 0;
    while delivered < n && session.is_running() {
        session.process_event(event.clone(), &mut NullHost);
        delivered += 1;
    }
    let elapsed = started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let stats = session.stats();
    let mut report = format!(
        "{delivered} `{name}` events in {elapsed:.3} s: {:.0} events/s, {:.0} microsteps/s",
        delivered as f64 / elapsed,
        (stats.microsteps - before.microsteps) as f64 / elapsed,
    );
    if delivered < n {
        report += &format!(" (the session halted after {delivered} of {n})");
    }
    Ok(report)
}

/// `NAME:N` with N a positive count.
fn parse_events_spec(text: &str) -> Result<(String, u64), ArgError> {
    let (name, count) = text
        .rsplit_once(':')
        .ok_or_else(|| ArgError::NotEventsSpec(text.to_string()))?;
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(ArgError::NotEventName(name.to_string()));
    }
    let count: u64 = count
        .parse()
        .map_err(|_| ArgError::NotEventCount(count.to_string()))?;
    if count == 0 {
        return Err(ArgError::NoEvents);
    }
    Ok((name.to_string(), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_spec() {
        assert_eq!(
            parse_events_spec("toggle:1000").unwrap(),
            ("toggle".to_string(), 1000)
        );
        assert!(parse_events_spec("toggle").is_err());
        assert!(parse_events_spec("toggle:0").is_err());
        assert!(parse_events_spec(":5").is_err());
        assert!(parse_events_spec("toggle:x").is_err());
    }
}
