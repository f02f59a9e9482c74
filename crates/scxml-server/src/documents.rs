//! Documents for the server: every document a request names or carries, and everything such
//! a document names, is read through one [`UrlResolver`] with the configured allow-list; a
//! cache keeps parsed documents and revalidates them.
//!
//! A request names a document by URL, or posts one inline that names others, so without a
//! check anybody could make the server fetch any address or read any local file; only URLs
//! under a configured prefix are read, and a document naming any other is refused with the
//! URL and its position. Reading may block (a slow HTTP server), so it runs on the blocking
//! pool, never on a shard thread. A cached document is reused as it is for `fresh_for`; after
//! that its text is fetched again and, when unchanged, the parsed model is kept (no re-parse),
//! otherwise it is parsed anew.

use super::error::ApiError;
use scxml::model::Document;
use scxml::parse::{self, AllowList, LoadError, Resolver};
use scxml_engine::UrlResolver;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

struct Cached {
    doc: Arc<Document>,
    text_hash: u64,
    checked: Instant,
}

/// The server's documents: its resolver and the cache of parsed documents.
pub struct Documents {
    resolver: Arc<UrlResolver>,
    fresh_for: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Documents {
    /// `allow`: URL prefixes that may be read (`file:///srv/flows/`, `https://flows.example/`).
    pub fn new(allow: AllowList, fresh_for: Duration) -> Documents {
        Documents {
            resolver: Arc::new(UrlResolver::new(allow)),
            fresh_for,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The resolver every document of this server goes through (the engine's too).
    pub fn resolver(&self) -> Arc<UrlResolver> {
        self.resolver.clone()
    }

    /// Whether a URL lies under an allowed prefix.
    pub fn allowed(&self, url: &Url) -> bool {
        self.resolver.permits(url).is_ok()
    }

    /// Loads (or reuses) the document at `location`.
    pub async fn load(self: &Arc<Self>, location: &str) -> Result<Arc<Document>, ApiError> {
        let url = parse::location_to_url(location)
            .map_err(|e| ApiError::bad_request(format!("document URL: {e}")))?;
        self.resolver
            .permits(&url)
            .map_err(|e| ApiError::from(LoadError::Fetch(e)))?;
        let key = url.to_string();
        if let Some(doc) = self.fresh(&key) {
            return Ok(doc);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.fetch_and_parse(&url))
            .await
            .map_err(|e| ApiError::new(500, "internal", format!("loader failed: {e}")))?
    }

    /// Parses a document posted inline; what it names is read through the resolver.
    pub async fn parse_inline(&self, text: String) -> Result<Arc<Document>, ApiError> {
        let resolver = self.resolver.clone();
        tokio::task::spawn_blocking(move || {
            parse::parse_with(&text, "<inline document>", None, resolver.as_ref())
                .map(Arc::new)
                .map_err(|e| ApiError::from(LoadError::Invalid(e)))
        })
        .await
        .map_err(|e| ApiError::new(500, "internal", format!("parser failed: {e}")))?
    }

    fn fresh(&self, key: &str) -> Option<Arc<Document>> {
        let cache = self.cache.lock().ok()?;
        let c = cache.get(key)?;
        (c.checked.elapsed() < self.fresh_for).then(|| c.doc.clone())
    }

    fn fetch_and_parse(&self, url: &Url) -> Result<Arc<Document>, ApiError> {
        let text = self
            .resolver
            .fetch(url)
            .map_err(|e| ApiError::from(LoadError::Fetch(e)))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut hasher);
        let text_hash = hasher.finish();
        let key = url.to_string();
        if let Ok(mut cache) = self.cache.lock() {
            if let Some(c) = cache.get_mut(&key) {
                if c.text_hash == text_hash {
                    c.checked = Instant::now();
                    return Ok(c.doc.clone());
                }
            }
        }
        let doc = parse::parse_with(&text, url.as_str(), Some(url), self.resolver.as_ref())
            .map(Arc::new)
            .map_err(|e| ApiError::from(LoadError::Invalid(e)))?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                key,
                Cached {
                    doc: doc.clone(),
                    text_hash,
                    checked: Instant::now(),
                },
            );
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_allowed_prefixes_load_and_unchanged_documents_are_reused() {
        let dir = std::env::temp_dir().join(format!("scxml-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.scxml");
        std::fs::write(&path, r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"><state id="s"/></scxml>"#).unwrap();
        let prefix = Url::from_directory_path(&dir).unwrap().to_string();
        let docs = Arc::new(Documents::new(
            AllowList::prefixes([prefix]),
            Duration::ZERO,
        ));
        let first = docs.load(path.to_str().unwrap()).await.unwrap();
        let second = docs.load(path.to_str().unwrap()).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "unchanged text keeps the parsed model"
        );
        let denied = docs.load("/etc/hostname").await.unwrap_err();
        assert_eq!(denied.status, 403);
        std::fs::write(
            &path,
            "<scxml version=\"1.0\"><state id=\"s\"><bad/></state></scxml>",
        )
        .unwrap();
        let invalid = docs.load(path.to_str().unwrap()).await.unwrap_err();
        assert_eq!(invalid.status, 422);
        assert_eq!(invalid.problems[0].pos.line, 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn an_inline_document_cannot_name_a_file_outside_the_allow_list() {
        let docs = Documents::new(
            AllowList::prefixes(["file:///nowhere/flows/"]),
            Duration::ZERO,
        );
        for element in [
            r#"<datamodel><data id="x" src="file:///etc/passwd"/></datamodel><state id="s"/>"#,
            r#"<script src="file:///etc/passwd"/><state id="s"/>"#,
            r#"<state id="s"><invoke src="file:///etc/passwd"/></state>"#,
        ] {
            let text = format!(
                r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0">{element}</scxml>"#
            );
            let refused = docs.parse_inline(text).await.unwrap_err();
            assert_eq!(refused.status, 422, "{element}");
            let problem = &refused.problems[0];
            assert!(
                problem.message.contains("file:///etc/passwd")
                    && problem.message.contains("not under an allowed"),
                "{element}: {problem}"
            );
            assert!(!format!("{:?}", refused.body()).contains("root:"));
        }
    }
}
