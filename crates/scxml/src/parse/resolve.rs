//! Where documents and the resources their `src` attributes name come from.
//!
//! Every URL a document names (`<data src>`, `<script src>`, `<invoke src>` and `srcexpr`)
//! goes through one [`Resolver`], whichever host runs the document: the resolver is where a
//! host decides what a document may read. [`FileResolver`] reads `file:` URLs, optionally only
//! under an [`AllowList`]; hosts that fetch over HTTP implement the trait themselves (the
//! engine's `UrlResolver`), so this crate does no network I/O.
//!
//! Every relative reference resolves against the URL of the document that holds it, never the
//! process's working directory, so a document behaves the same wherever it is run from.

use url::Url;

/// The largest document or `src` resource read, in bytes.
pub const MAX_RESOURCE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a URL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The resolver's allow-list does not cover the URL: nothing was read.
    #[error("{url} is not under an allowed document prefix")]
    NotAllowed {
        /// The URL, resolved and normalised.
        url: String,
    },
    /// The resolver does not read this kind of URL.
    #[error("{url}: the URL scheme `{scheme}:` is not supported here")]
    Unsupported {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The resource is larger than [`MAX_RESOURCE_BYTES`].
    #[error("{url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit it broke.
        limit: u64,
    },
    /// Reading failed (missing file, refused connection, HTTP error...).
    #[error("cannot read {url}: {reason}")]
    Failed {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl FetchError {
    /// A failure to read `url`.
    pub fn failed(url: &Url, reason: impl std::fmt::Display) -> FetchError {
        FetchError::Failed {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Whether the resolver refused the URL by policy (rather than failing to read it).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            FetchError::NotAllowed { .. } | FetchError::Unsupported { .. }
        )
    }
}

/// Reads what a document names. Implementations decide what may be read: a resolver for
/// untrusted documents refuses anything outside its allow-list, in [`Resolver::permits`]
/// (which the parser asks at load time for every static `src`) and again in
/// [`Resolver::fetch`].
pub trait Resolver: Send + Sync {
    /// Whether `url` may be read at all, without reading it.
    fn permits(&self, url: &Url) -> Result<(), FetchError>;

    /// Reads the text at `url`.
    fn fetch(&self, url: &Url) -> Result<String, FetchError>;
}

/// Answers the URLs a document read when it was first loaded with what they held then, and
/// every other URL through `inner`: how a host rebuilds a stored document exactly as its
/// sessions started with it ([`crate::model::Document::fetched`]).
pub struct PinnedResolver<'a> {
    pinned: &'a [(Url, std::sync::Arc<str>)],
    inner: &'a dyn Resolver,
}

impl<'a> PinnedResolver<'a> {
    /// `pinned` in front of `inner`.
    pub fn new(pinned: &'a [(Url, std::sync::Arc<str>)], inner: &'a dyn Resolver) -> Self {
        PinnedResolver { pinned, inner }
    }

    fn pinned(&self, url: &Url) -> Option<&str> {
        self.pinned
            .iter()
            .find(|(known, _)| known == url)
            .map(|(_, text)| &**text)
    }
}

impl Resolver for PinnedResolver<'_> {
    fn permits(&self, url: &Url) -> Result<(), FetchError> {
        match self.pinned(url) {
            Some(_) => Ok(()),
            None => self.inner.permits(url),
        }
    }

    fn fetch(&self, url: &Url) -> Result<String, FetchError> {
        match self.pinned(url) {
            Some(text) => Ok(text.to_string()),
            None => self.inner.fetch(url),
        }
    }
}

/// URL prefixes that may be read (`file:///srv/flows/`, `https://flows.example/`). URLs are
/// compared after parsing, so `..` segments cannot climb out of a prefix; a local file is
/// also checked under its canonical path, so a symbolic link cannot either.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    prefixes: Vec<String>,
    everything: bool,
}

impl AllowList {
    /// Only URLs under these prefixes. A prefix that parses as a URL is kept in its
    /// normalised form (`/a/../b/` as `/b/`), the form the URLs it is compared with have.
    pub fn prefixes(prefixes: impl IntoIterator<Item = impl Into<String>>) -> AllowList {
        AllowList {
            prefixes: prefixes
                .into_iter()
                .map(Into::into)
                .map(|p: String| Url::parse(&p).map_or(p, String::from))
                .collect(),
            everything: false,
        }
    }

    /// Any URL (for documents the user runs from their own machine).
    pub fn everything() -> AllowList {
        AllowList {
            prefixes: Vec::new(),
            everything: true,
        }
    }

    /// The prefixes, as given.
    pub fn list(&self) -> &[String] {
        &self.prefixes
    }

    /// Whether `url` lies under an allowed prefix.
    pub fn check(&self, url: &Url) -> Result<(), FetchError> {
        let s = url.as_str();
        if self.everything || self.prefixes.iter().any(|p| s.starts_with(p.as_str())) {
            Ok(())
        } else {
            Err(FetchError::NotAllowed { url: s.to_string() })
        }
    }
}

/// Reads `file:` URLs from the local file system, within an [`AllowList`]. Anything else is
/// [`FetchError::Unsupported`].
#[derive(Debug, Clone)]
pub struct FileResolver {
    allow: AllowList,
}

impl FileResolver {
    /// Reads any local file: for documents the user runs from their own machine.
    pub fn unrestricted() -> FileResolver {
        FileResolver {
            allow: AllowList::everything(),
        }
    }

    /// Reads only files under the allowed prefixes.
    pub fn within(allow: AllowList) -> FileResolver {
        FileResolver { allow }
    }
}

impl Resolver for FileResolver {
    fn permits(&self, url: &Url) -> Result<(), FetchError> {
        if url.scheme() != "file" {
            return Err(FetchError::Unsupported {
                url: url.to_string(),
                scheme: url.scheme().to_string(),
            });
        }
        self.allow.check(url)
    }

    fn fetch(&self, url: &Url) -> Result<String, FetchError> {
        self.permits(url)?;
        read_file(url, &self.allow)
    }
}

/// Reads a `file:` URL whose URL the caller has checked, checking its canonical path too.
pub fn read_file(url: &Url, allow: &AllowList) -> Result<String, FetchError> {
    let path = url
        .to_file_path()
        .map_err(|()| FetchError::failed(url, "not a local file path"))?;
    let canonical = std::fs::canonicalize(&path).map_err(|e| FetchError::failed(url, e))?;
    if let Ok(real) = Url::from_file_path(&canonical) {
        allow.check(&real)?;
    }
    let meta = std::fs::metadata(&canonical).map_err(|e| FetchError::failed(url, e))?;
    if meta.len() > MAX_RESOURCE_BYTES {
        return Err(FetchError::TooLarge {
            url: url.to_string(),
            limit: MAX_RESOURCE_BYTES,
        });
    }
    std::fs::read_to_string(&canonical).map_err(|e| FetchError::failed(url, e))
}

/// Why a location or a `src` reference names no URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadReference {
    /// A URL of a scheme this crate does not read (only `file`, `http` and `https`).
    #[error("unsupported URL scheme `{0}:`")]
    UnsupportedScheme(String),
    /// A relative path, and no working directory to resolve it against.
    #[error("cannot resolve a relative path: {0}")]
    NoWorkingDirectory(String),
    /// A path that no `file:` URL can name.
    #[error("`{0}` is not a usable path")]
    UnusablePath(String),
    /// A reference that does not parse as a URL reference.
    #[error("`{reference}` is not a valid URL reference: {reason}")]
    Invalid {
        /// The reference.
        reference: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A relative reference in a document that has no URL.
    #[error("`{0}` is relative, and the document has no URL to resolve it against")]
    RelativeWithoutBase(String),
}

/// Turns what a user typed (a path, relative or absolute, or a URL) into a URL.
pub fn location_to_url(location: &str) -> Result<Url, BadReference> {
    if let Ok(url) = Url::parse(location) {
        // A one-letter "scheme" is a Windows drive letter, not a URL.
        if url.scheme().len() > 1 {
            return match url.scheme() {
                "file" | "http" | "https" => Ok(url),
                other => Err(BadReference::UnsupportedScheme(other.to_string())),
            };
        }
    }
    let path = std::path::Path::new(location);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| BadReference::NoWorkingDirectory(e.to_string()))?
            .join(path)
    };
    Url::from_file_path(&absolute).map_err(|()| BadReference::UnusablePath(location.to_string()))
}

/// Resolves a `src` reference against the URL of the document that holds it. Without a base,
/// only absolute URLs are accepted.
pub fn resolve(reference: &str, base: Option<&Url>) -> Result<Url, BadReference> {
    // `file:name` (no `/` after the scheme: the W3C suite's `file:test552.txt`) names a file
    // beside the document, wherever the document came from: for one read over http it is the
    // http resource beside it (then subject to the allow-list as any other reference).
    let reference = match (reference.strip_prefix("file:"), base) {
        (Some(rest), Some(_)) if !rest.starts_with('/') && !rest.is_empty() => rest,
        _ => reference,
    };
    match base {
        Some(base) => base.join(reference).map_err(|e| BadReference::Invalid {
            reference: reference.to_string(),
            reason: e.to_string(),
        }),
        None => Url::parse(reference)
            .map_err(|_| BadReference::RelativeWithoutBase(reference.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_file_urls_and_references_resolve_against_the_document() {
        let url = location_to_url("/tmp/flows/main.scxml").unwrap();
        assert_eq!(url.as_str(), "file:///tmp/flows/main.scxml");
        let sub = resolve("sub/child.scxml", Some(&url)).unwrap();
        assert_eq!(sub.as_str(), "file:///tmp/flows/sub/child.scxml");
        let file_ref = resolve("file:data.txt", Some(&url)).unwrap();
        assert_eq!(file_ref.as_str(), "file:///tmp/flows/data.txt");
        // Beside a document read over http, too: not the server's own file system.
        let remote = Url::parse("http://example.org/w3c/test552.scxml").unwrap();
        let beside = resolve("file:test552.txt", Some(&remote)).unwrap();
        assert_eq!(beside.as_str(), "http://example.org/w3c/test552.txt");
        let sub = resolve("file:sub/test226sub1.scxml", Some(&remote)).unwrap();
        assert_eq!(sub.as_str(), "http://example.org/w3c/sub/test226sub1.scxml");
        // An absolute file: URL stays one (and the allow-list decides).
        let absolute = resolve("file:///etc/passwd", Some(&remote)).unwrap();
        assert_eq!(absolute.as_str(), "file:///etc/passwd");
        assert!(resolve("child.scxml", None).is_err());
        assert!(location_to_url("ftp://example.org/x").is_err());
    }

    #[test]
    fn missing_files_are_errors_not_panics() {
        let url = Url::parse("file:///definitely/not/here.scxml").unwrap();
        let err = FileResolver::unrestricted().fetch(&url).unwrap_err();
        assert!(matches!(err, FetchError::Failed { .. }), "{err}");
    }

    #[test]
    fn the_allow_list_holds_against_dot_segments_and_symbolic_links() {
        let dir = std::env::temp_dir().join(format!("scxml-allow-{}", std::process::id()));
        let inside = dir.join("flows");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(inside.join("a.txt"), "a").unwrap();
        std::fs::write(dir.join("secret.txt"), "secret").unwrap();
        let prefix = Url::from_directory_path(&inside).unwrap();
        let resolver = FileResolver::within(AllowList::prefixes([prefix.to_string()]));
        let roundabout = Url::from_directory_path(inside.join("../flows")).unwrap();
        let same = FileResolver::within(AllowList::prefixes([roundabout.to_string()]));
        assert_eq!(same.fetch(&prefix.join("a.txt").unwrap()).unwrap(), "a");
        assert_eq!(resolver.fetch(&prefix.join("a.txt").unwrap()).unwrap(), "a");
        let climbed = resolve("../secret.txt", Some(&prefix.join("a.txt").unwrap())).unwrap();
        assert!(matches!(
            resolver.fetch(&climbed),
            Err(FetchError::NotAllowed { .. })
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("secret.txt"), inside.join("link.txt")).unwrap();
            let err = resolver
                .fetch(&prefix.join("link.txt").unwrap())
                .unwrap_err();
            assert!(matches!(err, FetchError::NotAllowed { .. }), "{err}");
        }
        let http = Url::parse("http://example.org/x.scxml").unwrap();
        assert!(matches!(
            resolver.permits(&http),
            Err(FetchError::Unsupported { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
