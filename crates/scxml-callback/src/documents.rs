//! The flows of the callback application, and where they come from.
//!
//! Each configured service names two documents: the callback flow its sessions run and the
//! inbound chat script its chats start. Either is a path or a URL, read through the engine's
//! resolver (the server's, with its allow-list), or by default one of the documents built into
//! the binary: `callback/chat.scxml` (one flow for chat-delay and chat-immediate, steered by
//! the service's options) with its helpers `callback/chat.js`, and `inbound_chat.scxml`.
//!
//! The built-in documents live under [`BUILT_IN_BASE`] (`gms-builtin:///`), answered by
//! [`BuiltInResolver`], which the application puts in front of the engine's resolver, so a
//! `<script src="chat.js">` beside the built-in `chat.scxml` resolves with no file on disk, also
//! when a stored session's document is parsed again after a restart. A `documents_dir` in the
//! configuration overlays them: a file there replaces the built-in one of the same name.
//!
//! Documents are parsed once per version and shared by their sessions ([`Arc`]). A document
//! is checked again when a session is about to start from it and it was last checked longer
//! ago than the configured interval: if its text or the text of anything it names changed,
//! the new version is parsed and serves the sessions started from then on, while running
//! sessions keep the version they started with. A new version with problems is refused
//! (logged with every problem and its position, and shown by `GET /genesys/1/admin/flows`)
//! and the previous version keeps serving. Reading may block, so it runs in a blocking task.

use scxml::model::Document;
use scxml::parse::{parse_with, FetchError, ParseErrors, Resolver};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use url::Url;

/// The base URL of the documents built into the binary.
pub(crate) const BUILT_IN_BASE: &str = "gms-builtin:///";
/// The callback service's document, relative to [`BUILT_IN_BASE`] (and `documents_dir`).
pub(crate) const CALLBACK_CHAT: &str = "callback/chat.scxml";
/// The inbound chat routing script, relative to [`BUILT_IN_BASE`] (and `documents_dir`).
pub(crate) const INBOUND_CHAT: &str = "inbound_chat.scxml";

const BUILT_IN: [(&str, &str); 3] = [
    (
        CALLBACK_CHAT,
        include_str!("../../../scxml/callback/chat.scxml"),
    ),
    (
        "callback/chat.js",
        include_str!("../../../scxml/callback/chat.js"),
    ),
    (
        INBOUND_CHAT,
        include_str!("../../../scxml/inbound_chat.scxml"),
    ),
];

/// The URL of a built-in document (`callback/chat.scxml`).
pub(crate) fn built_in_url(path: &str) -> Url {
    Url::parse(BUILT_IN_BASE)
        .and_then(|base| base.join(path))
        .expect("built-in paths are valid URL paths")
}

/// Why a flow cannot serve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlowError {
    /// The document, or something it names, could not be read (or the resolver refused it).
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The document was read and has problems (each with its position).
    #[error("{url} is not a valid flow:\n{problems}")]
    Invalid {
        /// The document.
        url: String,
        /// Every problem, `file:line:column: message`.
        problems: ParseErrors,
    },
    /// Reading was interrupted (the blocking task failed).
    #[error("reading {url} failed: {reason}")]
    Interrupted {
        /// The document.
        url: String,
        /// What happened.
        reason: String,
    },
}

/// Answers the built-in documents (`gms-builtin:///...`), from `documents_dir` when a file
/// of that name is there, and passes every other URL to the resolver it wraps.
pub(crate) struct BuiltInResolver {
    overlay: Option<PathBuf>,
    fallback: Arc<dyn Resolver>,
}

impl std::fmt::Debug for BuiltInResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltInResolver")
            .field("overlay", &self.overlay)
            .finish()
    }
}

impl BuiltInResolver {
    /// Built-in documents, overlaid by the files of `overlay`, in front of `fallback`.
    pub(crate) fn new(overlay: Option<PathBuf>, fallback: Arc<dyn Resolver>) -> BuiltInResolver {
        BuiltInResolver { overlay, fallback }
    }

    /// The text of the built-in document at `path` (`callback/chat.js`), as served.
    pub(crate) fn read(&self, path: &str) -> Result<String, FetchError> {
        let url = built_in_url(path);
        let embedded = BUILT_IN.iter().find(|(p, _)| *p == path).map(|(_, t)| *t);
        if let Some(dir) = &self.overlay {
            let file = dir.join(path);
            if file.is_file() || embedded.is_none() {
                return std::fs::read_to_string(&file)
                    .map_err(|e| FetchError::failed(&url, format!("{}: {e}", file.display())));
            }
        }
        embedded.map(str::to_string).ok_or(FetchError::Failed {
            url: url.to_string(),
            reason: "no such built-in document".into(),
        })
    }

    /// The path under [`BUILT_IN_BASE`] of a built-in URL.
    fn built_in_path(url: &Url) -> Option<&str> {
        (url.scheme() == "gms-builtin")
            .then(|| url.path().trim_start_matches('/'))
            .filter(|p| !p.split('/').any(|s| s == ".."))
    }
}

impl Resolver for BuiltInResolver {
    fn permits(&self, url: &Url) -> Result<(), FetchError> {
        match Self::built_in_path(url) {
            Some(_) => Ok(()),
            None => self.fallback.permits(url),
        }
    }

    fn fetch(&self, url: &Url) -> Result<String, FetchError> {
        match Self::built_in_path(url) {
            Some(path) => self.read(path),
            None => self.fallback.fetch(url),
        }
    }
}

/// A resolver that refuses everything: what documents read before the server hands the
/// application its resolver.
struct NoResolver;

impl Resolver for NoResolver {
    fn permits(&self, url: &Url) -> Result<(), FetchError> {
        Err(FetchError::NotAllowed {
            url: url.to_string(),
        })
    }

    fn fetch(&self, url: &Url) -> Result<String, FetchError> {
        self.permits(url).map(|()| String::new())
    }
}

/// Records what a parse read, so a later check can tell whether any of it changed.
struct Recording<'a> {
    inner: &'a dyn Resolver,
    read: Mutex<Vec<(Url, String)>>,
}

impl Resolver for Recording<'_> {
    fn permits(&self, url: &Url) -> Result<(), FetchError> {
        self.inner.permits(url)
    }

    fn fetch(&self, url: &Url) -> Result<String, FetchError> {
        let text = self.inner.fetch(url)?;
        lock(&self.read).push((url.clone(), text.clone()));
        Ok(text)
    }
}

/// One version of a flow: its parsed model (to run) and its text (to serve).
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    /// Where it was read from.
    pub(crate) url: Url,
    pub(crate) document: Arc<Document>,
    pub(crate) text: Arc<str>,
    /// Which version of this URL it is (1: the first loaded).
    pub(crate) version: u32,
}

/// A loaded version and what it was read from.
#[derive(Debug, Clone)]
struct Loaded {
    flow: Flow,
    /// The documents it names (`<script src>`, `<data src>`), with the text read.
    dependencies: Vec<(Url, String)>,
}

/// What is known of one document.
#[derive(Debug, Default)]
struct EntryState {
    loaded: Option<Loaded>,
    checked: Option<Instant>,
    /// Why the last reading was refused (the version before keeps serving).
    refused: Option<String>,
}

#[derive(Debug, Default)]
struct Entry {
    state: Mutex<EntryState>,
    /// Held while the document is read, so one request reads it and the others use the
    /// version they have (or wait for the first).
    reading: tokio::sync::Mutex<()>,
}

/// The flows of every configured service, by URL.
pub(crate) struct Flows {
    built_in: OnceLock<Arc<BuiltInResolver>>,
    overlay: Option<PathBuf>,
    check_every: Duration,
    entries: Mutex<BTreeMap<Url, Arc<Entry>>>,
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flows")
            .field("documents", &lock(&self.entries).keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Flows {
    /// Flows read through `documents_dir` (for the built-in names) and, once the server
    /// hands it over ([`Flows::resolver`]), the engine's resolver; checked again when last
    /// checked more than `check_every` ago.
    pub(crate) fn new(overlay: Option<PathBuf>, check_every: Duration) -> Flows {
        Flows {
            built_in: OnceLock::new(),
            overlay,
            check_every,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// Wraps the engine's resolver with the built-in documents (a second call keeps the
    /// first); the engine and the flows read through what it answers.
    pub(crate) fn resolver(&self, inner: Arc<dyn Resolver>) -> Arc<BuiltInResolver> {
        self.built_in
            .get_or_init(|| Arc::new(BuiltInResolver::new(self.overlay.clone(), inner)))
            .clone()
    }

    /// The resolver flows are read through now.
    fn current_resolver(&self) -> Arc<BuiltInResolver> {
        match self.built_in.get() {
            Some(r) => r.clone(),
            // Before the server hands one over only the built-in documents can be read.
            None => Arc::new(BuiltInResolver::new(
                self.overlay.clone(),
                Arc::new(NoResolver),
            )),
        }
    }

    /// The text of a built-in document by file name (`chat.scxml`, `chat.js`,
    /// `inbound_chat.scxml`), as served under `document/service_template/callback/src/`.
    pub(crate) fn built_in_text(&self, file: &str) -> Option<String> {
        let path = BUILT_IN
            .iter()
            .map(|(p, _)| *p)
            .find(|p| p.rsplit('/').next() == Some(file))?;
        self.current_resolver().read(path).ok()
    }

    /// Reads and parses `url` now, on this thread (it may block): at start, for the built-in
    /// documents, so a broken one refuses the start.
    pub(crate) fn load_now(&self, url: &Url) -> Result<Flow, FlowError> {
        let entry = self.entry(url);
        let resolver = self.current_resolver();
        let outcome = read(url, resolver.as_ref(), None);
        Self::settle(url, &entry, outcome)
    }

    /// The version of `url` a new session starts from: read on first use, and checked again
    /// when last checked more than the interval ago (built-in documents without an overlay
    /// never change). Reading runs in a blocking task.
    pub(crate) async fn current(&self, url: &Url) -> Result<Flow, FlowError> {
        let entry = self.entry(url);
        let fixed = url.scheme() == "gms-builtin" && self.overlay.is_none();
        {
            let state = lock(&entry.state);
            if let Some(loaded) = &state.loaded {
                let fresh = state
                    .checked
                    .is_some_and(|c| c.elapsed() < self.check_every);
                if fixed || fresh {
                    return Ok(loaded.flow.clone());
                }
            }
        }
        let _reading = match entry.reading.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Another request reads it: use the version there is, or wait for the first.
                if let Some(loaded) = &lock(&entry.state).loaded {
                    return Ok(loaded.flow.clone());
                }
                entry.reading.lock().await
            }
        };
        let previous = lock(&entry.state).loaded.clone();
        if let (Some(loaded), Some(checked)) = (&previous, lock(&entry.state).checked) {
            // Read by the request we waited for.
            if checked.elapsed() < self.check_every {
                return Ok(loaded.flow.clone());
            }
        }
        let resolver = self.current_resolver();
        let task_url = url.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            read(&task_url, resolver.as_ref(), previous.as_ref())
        })
        .await
        .unwrap_or_else(|e| {
            Err(FlowError::Interrupted {
                url: url.to_string(),
                reason: e.to_string(),
            })
        });
        Self::settle(url, &entry, outcome)
    }

    /// Records what a reading gave: a new version, the same one, or a refusal (the version
    /// before keeps serving, if there is one).
    fn settle(
        url: &Url,
        entry: &Entry,
        outcome: Result<Reading, FlowError>,
    ) -> Result<Flow, FlowError> {
        let mut state = lock(&entry.state);
        state.checked = Some(Instant::now());
        match outcome {
            Ok(Reading::Unchanged) => {
                state.refused = None;
                state
                    .loaded
                    .as_ref()
                    .map(|l| l.flow.clone())
                    .ok_or_else(|| FlowError::Interrupted {
                        url: url.to_string(),
                        reason: "unchanged, but never loaded".into(),
                    })
            }
            Ok(Reading::New(mut loaded)) => {
                loaded.flow.version = state.loaded.as_ref().map_or(1, |l| l.flow.version + 1);
                if loaded.flow.version > 1 {
                    tracing::info!(%url, version = loaded.flow.version, "a new version of a flow serves new sessions");
                }
                state.refused = None;
                let flow = loaded.flow.clone();
                state.loaded = Some(loaded);
                Ok(flow)
            }
            Err(e) => {
                let message = e.to_string();
                let serving = state.loaded.as_ref().map(|l| l.flow.clone());
                match serving {
                    Some(flow) => {
                        if state.refused.as_deref() != Some(message.as_str()) {
                            tracing::warn!(%url, problems = %message,
                                "a changed flow was refused; the version before keeps serving");
                        }
                        state.refused = Some(message);
                        Ok(flow)
                    }
                    None => {
                        if state.refused.as_deref() != Some(message.as_str()) {
                            tracing::error!(%url, problems = %message, "a flow cannot be loaded");
                        }
                        state.refused = Some(message);
                        Err(e)
                    }
                }
            }
        }
    }

    /// Every document known, for `GET /genesys/1/admin/flows`: its URL, the version serving
    /// (absent: none could be loaded), its document name and why the last reading was refused.
    pub(crate) fn status(&self) -> Value {
        let entries: Vec<(Url, Arc<Entry>)> = lock(&self.entries)
            .iter()
            .map(|(u, e)| (u.clone(), e.clone()))
            .collect();
        let documents: Vec<Value> = entries
            .into_iter()
            .map(|(url, entry)| {
                let state = lock(&entry.state);
                json!({
                    "url": url.as_str(),
                    "version": state.loaded.as_ref().map(|l| l.flow.version),
                    "name": state.loaded.as_ref().and_then(|l| l.flow.document.name.clone()),
                    "refused": state.refused,
                })
            })
            .collect();
        json!({ "documents": documents })
    }

    /// The version serving now, without reading (none before its first use).
    pub(crate) fn loaded(&self, url: &Url) -> Option<Flow> {
        let entry = lock(&self.entries).get(url).cloned()?;
        let state = lock(&entry.state);
        state.loaded.as_ref().map(|l| l.flow.clone())
    }

    fn entry(&self, url: &Url) -> Arc<Entry> {
        lock(&self.entries).entry(url.clone()).or_default().clone()
    }
}

/// What reading a document found.
enum Reading {
    /// Neither it nor what it names changed since `previous`.
    Unchanged,
    New(Loaded),
}

/// Reads `url` and what it names; parses it unless nothing changed since `previous`.
fn read(
    url: &Url,
    resolver: &dyn Resolver,
    previous: Option<&Loaded>,
) -> Result<Reading, FlowError> {
    let text = resolver.fetch(url)?;
    if let Some(previous) = previous {
        let same = *previous.flow.text == *text
            && previous
                .dependencies
                .iter()
                .all(|(dep, old)| resolver.fetch(dep).is_ok_and(|new| new == *old));
        if same {
            return Ok(Reading::Unchanged);
        }
    }
    let recording = Recording {
        inner: resolver,
        read: Mutex::new(Vec::new()),
    };
    let name = if url.scheme() == "file" {
        url.to_file_path()
            .map_or_else(|()| url.to_string(), |p| p.display().to_string())
    } else {
        url.to_string()
    };
    let document =
        parse_with(&text, &name, Some(url), &recording).map_err(|problems| FlowError::Invalid {
            url: url.to_string(),
            problems,
        })?;
    Ok(Reading::New(Loaded {
        flow: Flow {
            url: url.clone(),
            document: Arc::new(document),
            text: Arc::from(text),
            version: 1,
        },
        dependencies: recording
            .read
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
    }))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is one assignment: a panic elsewhere cannot leave one
    // half-done.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_flows_parse_with_their_script_and_need_no_file() {
        let flows = Flows::new(None, Duration::ZERO);
        let chat = flows.load_now(&built_in_url(CALLBACK_CHAT)).unwrap();
        assert_eq!(chat.document.name.as_deref(), Some("callback-chat"));
        assert_eq!(chat.url.as_str(), "gms-builtin:///callback/chat.scxml");
        let inbound = flows.load_now(&built_in_url(INBOUND_CHAT)).unwrap();
        assert_eq!(inbound.document.name.as_deref(), Some("inbound-chat"));
        assert!(flows
            .built_in_text("chat.js")
            .unwrap()
            .contains("function numberOption"));
        assert!(flows.built_in_text("nothing.scxml").is_none());
    }

    #[test]
    fn built_in_urls_cannot_climb_and_others_go_to_the_wrapped_resolver() {
        let resolver = BuiltInResolver::new(None, Arc::new(NoResolver));
        let climbing = Url::parse("gms-builtin:///callback/../../etc/passwd").unwrap();
        // The URL parser removes the dot segments: what is left is no built-in document.
        assert!(resolver.fetch(&climbing).is_err());
        let file = Url::parse("file:///etc/passwd").unwrap();
        assert!(matches!(
            resolver.fetch(&file),
            Err(FetchError::NotAllowed { .. })
        ));
    }
}
