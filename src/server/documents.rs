//! Documents loaded by URL for the server: an allow-list of URL prefixes, and a cache that
//! keeps parsed documents and revalidates them.
//!
//! A request names a document by URL, so without a check anybody could make the server fetch
//! any address; only URLs under a configured prefix are loaded. A cached document is reused
//! as it is for `fresh_for`; after that its text is fetched again and, when unchanged, the
//! parsed model is kept (no re-parse), otherwise it is parsed anew.

use super::error::ApiError;
use crate::model::Document;
use crate::parse::{self, LoadError};
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

pub struct Documents {
    allow: Vec<String>,
    fresh_for: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Documents {
    /// `allow`: URL prefixes that may be loaded (`file:///srv/flows/`, `https://flows.example/`).
    pub fn new(allow: Vec<String>, fresh_for: Duration) -> Documents {
        Documents {
            allow,
            fresh_for,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a URL lies under an allowed prefix.
    pub fn allowed(&self, url: &Url) -> bool {
        let s = url.as_str();
        self.allow
            .iter()
            .any(|prefix| s.starts_with(prefix.as_str()))
    }

    /// Loads (or reuses) the document at `location`.
    pub async fn load(self: &Arc<Self>, location: &str) -> Result<Arc<Document>, ApiError> {
        let url = parse::location_to_url(location)
            .map_err(|e| ApiError::bad_request(format!("document URL: {e}")))?;
        if !self.allowed(&url) {
            return Err(ApiError::new(
                403,
                "url_not_allowed",
                format!("{url} is not under an allowed document prefix"),
            ));
        }
        let key = url.to_string();
        if let Some(doc) = self.fresh(&key) {
            return Ok(doc);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.fetch_and_parse(&url))
            .await
            .map_err(|e| ApiError::new(500, "internal", format!("loader failed: {e}")))?
    }

    fn fresh(&self, key: &str) -> Option<Arc<Document>> {
        let cache = self.cache.lock().ok()?;
        let c = cache.get(key)?;
        (c.checked.elapsed() < self.fresh_for).then(|| c.doc.clone())
    }

    fn fetch_and_parse(&self, url: &Url) -> Result<Arc<Document>, ApiError> {
        let text = parse::fetch_text(url).map_err(|reason| {
            ApiError::from(LoadError::Fetch {
                url: url.to_string(),
                reason,
            })
        })?;
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
        let doc = parse::parse_str(&text, url.as_str(), Some(url))
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
        let docs = Arc::new(Documents::new(vec![prefix], Duration::ZERO));
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
}
