//! The `scxml` command line: argument parsing (clap derive) and one module per command.
//!
//! Every command returns an exit code instead of exiting, so the binary's `main` is one line
//! and nothing a user types can panic the process: bad arguments are clap errors, bad
//! documents are reported problem by problem.

mod bench;
mod export;
mod load;
mod run;
mod serve;
mod token;
mod validate;
mod w3c;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A W3C SCXML 1.0 interpreter.
#[derive(Debug, Parser)]
#[command(name = "scxml", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a document: deliver events, print its logs, exit 0 when it ends in a top-level final state.
    Run(run::RunArgs),
    /// Check documents and print every problem as file:line:column: message.
    Validate(validate::ValidateArgs),
    /// Write a document's chart as Graphviz DOT, Mermaid or JSON.
    Export(export::ExportArgs),
    /// Run the interpreter server: sessions over HTTP, Basic HTTP, durable sessions.
    Serve(serve::ServeArgs),
    /// Run the W3C conformance suite.
    W3c(w3c::W3cArgs),
    /// Measure a chart: state entries per second, or external events per second.
    Bench(bench::BenchArgs),
    /// Make an API token, and print it with the configuration that accepts it.
    Token(token::TokenArgs),
}

/// Why a command-line value was refused; clap prints it as a usage error (exit code 2),
/// after the flag it was given to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// A duration (`--timeout`, `--seconds`), as given, is not a number.
    #[error("`{0}` is not a number of seconds")]
    NotSeconds(String),
    /// A duration is zero or negative.
    #[error("the time must be more than 0 seconds")]
    NotPositiveSeconds,
    /// A duration, as given, is too large to represent.
    #[error("`{0}` seconds is out of range")]
    SecondsOutOfRange(String),
    /// An `--event NAME[=VALUE]` with nothing before the `=`.
    #[error("the event name is empty")]
    EmptyEventName,
    /// An event name, as given, contains whitespace, which no event descriptor can match.
    #[error("`{0}`: an event name cannot contain spaces")]
    SpaceInEventName(String),
    /// `--events`, as given, is not `NAME:N`.
    #[error("`{0}`: expected NAME:N, e.g. toggle:100000")]
    NotEventsSpec(String),
    /// The `NAME` of `--events NAME:N`, as given, is empty or contains whitespace.
    #[error("`{0}` is not an event name")]
    NotEventName(String),
    /// The `N` of `--events NAME:N`, as given, is not a whole number.
    #[error("`{0}` is not a count of events")]
    NotEventCount(String),
    /// The `N` of `--events NAME:N` is 0.
    #[error("the count of events must be at least 1")]
    NoEvents,
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::validate(args),
        Command::Export(args) => export::export(args),
        Command::Serve(args) => serve::serve(args),
        Command::W3c(args) => w3c::w3c(args),
        Command::Bench(args) => bench::bench(args),
        Command::Token(args) => token::token(args),
    }
}

/// Diagnostics from `tracing` go to stderr, filtered by `RUST_LOG` (default: warnings).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
