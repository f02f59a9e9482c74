//! `scxml export DOC --format dot|mermaid|json [--output FILE]`: writes a document's chart as
//! Graphviz DOT, Mermaid `stateDiagram-v2`, or the JSON a live view draws from
//! ([`scxml::chart::Chart`]).

use super::load::load_or_exit;
use scxml::chart::Chart;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The formats of `scxml export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graphviz DOT (`dot -Tsvg` draws it).
    Dot,
    /// Mermaid `stateDiagram-v2` (Markdown renderers draw it from a mermaid code block).
    Mermaid,
    /// The chart as JSON: states with their kinds, parents, children and initial targets,
    /// transitions with events, condition and targets, each with its line and column.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The document: a path, a file: URL or an http(s):// URL.
    #[arg(value_name = "DOC")]
    doc: String,
    /// What to write.
    #[arg(long, short, value_enum, default_value = "dot")]
    format: Format,
    /// Where to write it (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Exit code 2 when the document does not load, 1 when the output cannot be written.
pub fn export(args: ExportArgs) -> ExitCode {
    let doc = match load_or_exit(&args.doc) {
        Ok(doc) => doc,
        Err(code) => return code,
    };
    let chart = Chart::of(&doc);
    let text = match args.format {
        Format::Dot => chart.to_dot(),
        Format::Mermaid => chart.to_mermaid(),
        Format::Json => match serde_json::to_string_pretty(&chart) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("cannot write the chart as JSON: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write the chart: {e}");
            ExitCode::FAILURE
        }
    }
}
