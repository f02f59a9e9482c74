//! Parsing and validation: SCXML text -> [`crate::model::Document`].
//!
//! [`load`] takes a path, a `file:` URL or an `http(s)://` URL; [`parse_str`] takes text. The
//! quick-xml pull reader feeds the builder, which records every problem it meets with its
//! `line:column` instead of stopping at the first; an invalid document never reaches the
//! interpreter. `src` attributes of `<data>` and `<script>` are resolved against the
//! document's own URL and read at load time, through a [`Resolver`]: [`FileResolver`] reads
//! local files (within an [`AllowList`]); a host that reads other URLs, or must confine what
//! a document may read, brings its own and uses [`parse_with`], [`load_with`] or
//! [`load_url`]. [`parse_str`] and [`load`] read any local file, for trusted documents.

mod builder;
mod duration;
mod resolve;
mod xml;

pub use duration::parse_duration;
pub use resolve::{
    location_to_url, read_file, resolve, AllowList, BadReference, FetchError, FileResolver,
    PinnedResolver, Resolver, MAX_RESOURCE_BYTES,
};

use crate::model::{Document, Pos};
use std::sync::Arc;
use url::Url;

/// One problem in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The document's name or URL, as given to the parser.
    pub file: String,
    /// Where in the document the problem is.
    pub pos: Pos,
    /// What is wrong, in words.
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
    /// The problems, sorted by position.
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
    /// What was given is not a path or URL this crate reads.
    #[error("{location}: {reason}")]
    Location {
        /// What was given.
        location: String,
        /// Why it is not usable.
        reason: BadReference,
    },
    /// The document could not be read, or the resolver refused it.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The document was read and is not valid.
    #[error("{0}")]
    Invalid(ParseErrors),
}

/// Parses SCXML text from a trusted source. `name` is used in problem reports; `base` is the
/// URL against which `src` attributes resolve (none: only absolute URLs can be fetched).
/// `src` references are read from local files ([`FileResolver::unrestricted`]); a host
/// that parses documents it does not trust calls [`parse_with`] with its own resolver.
pub fn parse_str(text: &str, name: &str, base: Option<&Url>) -> Result<Document, ParseErrors> {
    parse_with(text, name, base, &FileResolver::unrestricted())
}

/// Parses SCXML text, reading every `src` it names through `resolver`; a URL the resolver
/// refuses is a problem of the document.
pub fn parse_with(
    text: &str,
    name: &str,
    base: Option<&Url>,
    resolver: &dyn Resolver,
) -> Result<Document, ParseErrors> {
    let root = xml::read_document(text).map_err(|e| ParseErrors {
        problems: vec![Problem {
            file: name.to_string(),
            pos: e.pos,
            message: e.message,
        }],
    })?;
    let mut problems = Vec::new();
    let mut doc =
        builder::Builder::new(name, text, base, resolver, &mut problems).build_document(&root);
    doc.source = Some(Arc::from(text));
    if problems.is_empty() {
        Ok(doc)
    } else {
        problems.sort_by_key(|p| p.pos);
        Err(ParseErrors { problems })
    }
}

/// Loads and parses a local document from a path or a `file:` URL, reading what it names
/// from local files ([`FileResolver::unrestricted`]).
pub fn load(location: &str) -> Result<Arc<Document>, LoadError> {
    load_with(location, &FileResolver::unrestricted())
}

/// Loads and parses a document from a path or a URL through `resolver`, which reads the
/// document and everything it names.
pub fn load_with(location: &str, resolver: &dyn Resolver) -> Result<Arc<Document>, LoadError> {
    let url = resolve::location_to_url(location).map_err(|reason| LoadError::Location {
        location: location.to_string(),
        reason,
    })?;
    load_url(&url, resolver)
}

/// Loads and parses the document at a URL through `resolver`.
pub fn load_url(url: &Url, resolver: &dyn Resolver) -> Result<Arc<Document>, LoadError> {
    let text = resolver.fetch(url)?;
    let name = display_name(url);
    parse_with(&text, &name, Some(url), resolver)
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
