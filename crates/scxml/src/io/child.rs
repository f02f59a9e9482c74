//! The document an SCXML `<invoke>` runs, the same for every host: inline `<content><scxml>`
//! parsed with its parent, markup parsed against the parent's URL, `src`/`srcexpr` read
//! through the host's [`Resolver`].

use crate::interpreter::InvokeSource;
use crate::model::Document;
use crate::parse::{self, Resolver};
use std::sync::Arc;
use url::Url;

/// Why an SCXML invocation has no document to run; the host raises `error.execution`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChildDocumentError {
    /// `src` could not be read or parsed.
    #[error("{0}")]
    Load(#[from] parse::LoadError),
    /// Inline markup is not a valid document.
    #[error("{0}")]
    Invalid(#[from] parse::ParseErrors),
    /// The invoke names no document.
    #[error("an SCXML invoke needs src or content")]
    Missing,
}

/// Whether the invocation's document must be read through the resolver (blocking I/O a
/// host keeps off its session threads), rather than being at hand already.
pub fn needs_fetch(source: &InvokeSource) -> bool {
    matches!(source, InvokeSource::Url(_))
}

/// The document an SCXML invoke runs. `base` is the invoking document's URL: markup
/// resolves its own `src`s against it, as the parent's do.
pub fn child_document(
    source: &InvokeSource,
    base: Option<&Url>,
    resolver: &dyn Resolver,
) -> Result<Arc<Document>, ChildDocumentError> {
    match source {
        InvokeSource::Document(doc) => Ok(doc.clone()),
        InvokeSource::Url(url) => Ok(parse::load_with(url, resolver)?),
        InvokeSource::Markup(text) => Ok(Arc::new(parse::parse_with(
            text,
            "<invoke content>",
            base,
            resolver,
        )?)),
        InvokeSource::Value(_) | InvokeSource::None => Err(ChildDocumentError::Missing),
    }
}
