//! Loading the document a command names, and reporting why it could not be loaded.

use scxml::model::Document;
use scxml::parse::{self, AllowList, LoadError, Resolver};
use scxml_engine::UrlResolver;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// The exit code of a command whose document did not load.
pub const LOAD_FAILED: u8 = 2;

/// What the command line reads documents with: the user's own files and any `http(s):`
/// URL, since the user names them.
pub fn resolver() -> Arc<dyn Resolver> {
    Arc::new(UrlResolver::new(AllowList::everything()))
}

/// Loads `location`; on failure prints every problem to stderr and gives exit code 2.
pub fn load_or_exit(location: &str) -> Result<Arc<Document>, ExitCode> {
    parse::load_with(location, resolver().as_ref()).map_err(|e| {
        write_load_error(&e, &mut std::io::stderr().lock());
        ExitCode::from(LOAD_FAILED)
    })
}

/// Writes a load error: one `file:line:column: message` line per problem of an invalid
/// document, or one line saying why it could not be read.
pub fn write_load_error(error: &LoadError, out: &mut dyn Write) {
    // Output errors (a closed pipe) are not worth a panic.
    let _ = match error {
        LoadError::Invalid(errors) => errors
            .problems
            .iter()
            .try_for_each(|problem| writeln!(out, "{problem}")),
        other => writeln!(out, "{other}"),
    };
}
