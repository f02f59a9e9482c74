//! Parsing and validation: SCXML text -> [`crate::model::Document`].
//!
//! [`load`] takes a path, a `file:` URL or an `http(s)://` URL; [`parse_str`] takes text. The
//! quick-xml pull reader feeds the builder, which records every problem it meets with its
//! `line:column` instead of stopping at the first; an invalid document never reaches the
//! interpreter. `src` attributes of `<data>` and `<script>` are resolved against the
//! document's own URL and fetched at load time.

mod builder;
mod duration;
mod fetch;
mod xml;

pub use duration::parse_duration;
pub use fetch::{fetch_text, location_to_url, resolve};

use crate::model::{Document, Pos};
use std::sync::Arc;
use url::Url;

/// One problem in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The document's name or URL, as given to the parser.
    pub file: String,
    pub pos: Pos,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.pos, self.message)
    }
}

/// Every problem found in a document, in document order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseErrors {
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Why a document could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The document could not be read or fetched.
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    /// The document was read and is not valid.
    #[error("{0}")]
    Invalid(ParseErrors),
}

/// Parses SCXML text. `name` is used in problem reports; `base` is the URL against which
/// `src` attributes resolve (none: only absolute URLs can be fetched).
pub fn parse_str(text: &str, name: &str, base: Option<&Url>) -> Result<Document, ParseErrors> {
    let root = xml::read_document(text).map_err(|e| ParseErrors {
        problems: vec![Problem {
            file: name.to_string(),
            pos: e.pos,
            message: e.message,
        }],
    })?;
    let mut problems = Vec::new();
    let mut doc = builder::Builder::new(name, text, base, &mut problems).build_document(&root);
    doc.source = Some(Arc::from(text));
    if problems.is_empty() {
        Ok(doc)
    } else {
        problems.sort_by_key(|p| p.pos);
        Err(ParseErrors { problems })
    }
}

/// Loads and parses a document from a path, a `file:` URL or an `http(s)://` URL.
pub fn load(location: &str) -> Result<Arc<Document>, LoadError> {
    let url = fetch::location_to_url(location).map_err(|reason| LoadError::Fetch {
        url: location.to_string(),
        reason,
    })?;
    load_url(&url)
}

/// Loads and parses the document at a URL.
pub fn load_url(url: &Url) -> Result<Arc<Document>, LoadError> {
    let text = fetch::fetch_text(url).map_err(|reason| LoadError::Fetch {
        url: url.to_string(),
        reason,
    })?;
    let name = display_name(url);
    parse_str(&text, &name, Some(url))
        .map(Arc::new)
        .map_err(LoadError::Invalid)
}

/// How a document is named in problem reports: a local file by its path, anything else by
/// its URL.
fn display_name(url: &Url) -> String {
    if url.scheme() == "file" {
        if let Ok(path) = url.to_file_path() {
            return path.display().to_string();
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests;
