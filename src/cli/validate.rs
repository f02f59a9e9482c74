//! `scxml validate DOC...`: loads each document and prints every problem, or `DOC: ok`.

use super::load::write_load_error;
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Documents: paths, file: URLs or http(s):// URLs.
    #[arg(value_name = "DOC", required = true)]
    docs: Vec<String>,
}

/// Exit code 1 when any document has a problem or cannot be read.
pub fn validate(args: ValidateArgs) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut any_problem = false;
    let resolver = super::load::resolver();
    for doc in &args.docs {
        match scxml::parse::load_with(doc, resolver.as_ref()) {
            Ok(_) => {
                let _ = writeln!(out, "{doc}: ok");
            }
            Err(e) => {
                any_problem = true;
                write_load_error(&e, &mut out);
            }
        }
    }
    if any_problem {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
