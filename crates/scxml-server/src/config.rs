//! The `scxml serve` configuration file (TOML). Every field has a default, so an empty file
//! (or none) runs a server on 127.0.0.1:8080 with sessions in memory.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! public_url = "http://flows.example:8080"   # how Basic HTTP locations are published
//! test_protocol = "127.0.0.1:42000"          # the test-runner protocol listener, if wanted
//! max_body_bytes = 1048576
//! max_document_bytes = 1048576
//! request_timeout_secs = 30
//! header_read_timeout_secs = 10   # slow or idle clients are closed after it
//! max_connections = 10000
//! tls_cert = "cert.pem"       # serve the API over TLS (rustls), with tls_key
//! tls_key = "key.pem"
//!
//! [engine]
//! shards = 2                 # worker threads; default: one per core
//! data_dir = "data"          # durable sessions in data/scxml.redb; absent: in memory
//! max_sessions = 1000000
//! max_queue = 10000
//! gc_budget_mb = 128         # JS allocation between garbage collections, per shard (0: boa's)
//!
//! [hibernation]
//! idle_after_secs = 60
//! parked_after_secs = 0.05   # no invocation and no delayed send due sooner
//! max_live_per_shard = 50000
//!
//! [documents]
//! allow = ["file:///srv/flows/", "https://flows.example/"]   # default: the working directory
//!
//! [auth]
//! enabled = true             # false only on a loopback address
//! token_file = "admin-token" # where the generated administrator token is kept (no credentials)
//! [[auth.credentials]]
//! name = "ops"
//! role = "operator"          # administrator, operator, or agent (with `agent = "<id>"`)
//! token_sha256 = "<64 hex digits>"   # or token_env = "OPS_TOKEN": the token itself, from the environment
//! ```
//!
//! Applications add sections of their own: the `scxml` binary reads the file as these
//! sections plus the callback application's `[gms]`.

use super::{ServerConfig, StartOptions};
use crate::auth::{AdminToken, Authenticator, Credential, Role};
use crate::tls::{Tls, TlsError};
use scxml::Limits;
use scxml_engine::store::{MemoryStore, RedbStore, Store, StoreError};
use scxml_engine::{EngineConfig, HibernationPolicy};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The server's sections of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[server]`: listeners and HTTP limits.
    #[serde(default)]
    pub server: ServerSection,
    /// `[engine]`: worker threads, the data directory, session limits.
    #[serde(default)]
    pub engine: EngineSection,
    /// `[hibernation]`: when sessions at rest hibernate.
    #[serde(default)]
    pub hibernation: HibernationSection,
    /// `[documents]`: the allow-list.
    #[serde(default)]
    pub documents: DocumentsSection,
    /// `[auth]`: who may call what.
    #[serde(default)]
    pub auth: AuthSection,
}

/// `[auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Whether requests are checked (default true). Off, the server listens on loopback only.
    pub enabled: bool,
    /// Where the administrator token made at first start is kept when no credential is
    /// configured and `SCXML_ADMIN_TOKEN` holds none; default `admin-token` in the data directory, or in the user's state
    /// directory (`$XDG_STATE_HOME/scxml`, `~/.local/state/scxml`) without one.
    pub token_file: Option<PathBuf>,
    /// The credentials, each with a name, a role and its token's digest (or the token in an
    /// environment variable).
    pub credentials: Vec<CredentialSection>,
}

impl Default for AuthSection {
    fn default() -> AuthSection {
        AuthSection {
            enabled: true,
            token_file: None,
            credentials: Vec::new(),
        }
    }
}

/// One `[[auth.credentials]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSection {
    /// Its name: in logs, and the user of HTTP Basic.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The agent an `agent` credential speaks for.
    pub agent: Option<String>,
    /// The SHA-256 of the token, in hexadecimal (`scxml token` makes a token and its digest).
    pub token_sha256: Option<String>,
    /// The environment variable that holds the token itself.
    pub token_env: Option<String>,
}

impl CredentialSection {
    fn credential(&self) -> Result<Credential, ConfigError> {
        let problem = |problem: String| ConfigError::Credential {
            name: self.name.clone(),
            problem,
        };
        match (self.role, self.agent.as_deref()) {
            (Role::Agent, None) => {
                return Err(problem("an agent credential names its `agent`".into()))
            }
            (Role::Administrator | Role::Operator, Some(_)) => {
                return Err(problem("only an agent credential names an `agent`".into()))
            }
            _ => {}
        }
        match (&self.token_sha256, &self.token_env) {
            (Some(hex), None) => {
                Credential::from_digest(&self.name, self.role, self.agent.as_deref(), hex)
                    .map_err(problem)
            }
            (None, Some(var)) => match std::env::var(var) {
                Ok(token) if !token.trim().is_empty() => Ok(Credential::new(
                    &self.name,
                    self.role,
                    self.agent.as_deref(),
                    token.trim(),
                )),
                _ => Err(problem(format!(
                    "the environment variable {var} holds no token"
                ))),
            },
            _ => Err(problem(
                "give exactly one of `token_sha256` and `token_env`".into(),
            )),
        }
    }
}

impl AuthSection {
    /// The authenticator, and the administrator token made or read when no credential is
    /// configured. `data_dir` is where the token is kept by default.
    fn authenticator(
        &self,
        data_dir: Option<&Path>,
    ) -> Result<(Authenticator, Option<AdminToken>), ConfigError> {
        if !self.enabled {
            return Ok((Authenticator::disabled(), None));
        }
        if !self.credentials.is_empty() {
            let credentials = self
                .credentials
                .iter()
                .map(CredentialSection::credential)
                .collect::<Result<_, _>>()?;
            return Ok((Authenticator::new(credentials), None));
        }
        if let Some(token) = std::env::var(ADMIN_TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            let admin = Credential::new("admin", Role::Administrator, None, token.trim());
            return Ok((Authenticator::new(vec![admin]), None));
        }
        let path = match (&self.token_file, data_dir) {
            (Some(file), _) => file.clone(),
            (None, Some(dir)) => dir.join("admin-token"),
            (None, None) => state_dir().join("admin-token"),
        };
        let token =
            AdminToken::load_or_create(&path).map_err(|source| ConfigError::AdminToken {
                path: path.clone(),
                source,
            })?;
        Ok((
            Authenticator::new(vec![token.credential.clone()]),
            Some(token),
        ))
    }
}

/// The environment variable that, with no credential configured, holds the administrator
/// token (instead of the file made at first start).
pub const ADMIN_TOKEN_ENV: &str = "SCXML_ADMIN_TOKEN";

/// The user's state directory for the server's own files (XDG base directories).
fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("scxml");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/state/scxml"),
        None => PathBuf::from(".scxml"),
    }
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Where the API listens (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// How clients reach the server, for the Basic HTTP locations it publishes.
    pub public_url: Option<String>,
    /// Where the test-runner protocol listens; absent: off.
    pub test_protocol: Option<SocketAddr>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The largest inline document accepted.
    pub max_document_bytes: usize,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send a request's head (an idle keep-alive connection is
    /// closed after it too).
    pub header_read_timeout_secs: f64,
    /// The most connections open at once.
    pub max_connections: usize,
    /// A PEM file with the certificate chain (leaf first) to serve the API over TLS; with
    /// `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The PEM file with that certificate's private key.
    pub tls_key: Option<PathBuf>,
}

impl Default for ServerSection {
    fn default() -> ServerSection {
        let d = ServerConfig::default();
        ServerSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            test_protocol: None,
            max_body_bytes: d.max_body_bytes,
            max_document_bytes: d.max_document_bytes,
            request_timeout_secs: d.request_timeout.as_secs(),
            header_read_timeout_secs: d.header_read_timeout.as_secs_f64(),
            max_connections: d.max_connections,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[engine]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Worker threads; absent: one per core.
    pub shards: Option<usize>,
    /// Where durable sessions are kept (a redb file); absent: in memory.
    pub data_dir: Option<PathBuf>,
    /// The most sessions at once.
    pub max_sessions: usize,
    /// The most external events waiting per session.
    pub max_queue: usize,
    /// MB of JavaScript objects a shard allocates between garbage collections (0: boa's own
    /// policy).
    pub gc_budget_mb: usize,
    /// The most microsteps one macrostep may take before its session is ended as failed
    /// (0: no bound).
    pub max_microsteps_per_macrostep: u64,
    /// The most internal events one macrostep may queue before its session is ended as
    /// failed (0: no bound).
    pub max_internal_events_per_macrostep: u64,
    /// Past this many megabytes of resident memory, new sessions are refused with 503;
    /// absent: four fifths of the memory the process may use (its cgroup's, or the
    /// machine's); 0: no bound.
    pub max_memory_mb: Option<u64>,
    /// The largest record a session may keep (its datamodel, mostly), in bytes.
    pub max_session_bytes: usize,
    /// Milliseconds one macrostep may run before its session is ended as failed and the
    /// other sessions of its worker move to a new thread (0: no watchdog).
    pub macrostep_deadline_ms: u64,
}

impl Default for EngineSection {
    fn default() -> EngineSection {
        let d = EngineConfig::default();
        EngineSection {
            shards: None,
            data_dir: None,
            max_sessions: d.max_sessions,
            max_queue: d.max_queue,
            gc_budget_mb: d.gc_budget_mb,
            max_microsteps_per_macrostep: d.limits.microsteps_per_macrostep.unwrap_or(0),
            max_internal_events_per_macrostep: d.limits.internal_events_per_macrostep.unwrap_or(0),
            max_memory_mb: None,
            max_session_bytes: d.max_session_bytes,
            macrostep_deadline_ms: d.macrostep_deadline.map_or(0, |t| t.as_millis() as u64),
        }
    }
}

/// `[hibernation]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HibernationSection {
    /// Seconds of idleness before a session hibernates; absent: never for idleness.
    pub idle_after_secs: Option<f64>,
    /// Seconds of idleness before a parked session (no invocation, no delayed send due
    /// sooner) hibernates; absent: as any other.
    pub parked_after_secs: Option<f64>,
    /// The most live sessions per shard; past it the least recently used hibernate.
    pub max_live_per_shard: usize,
}

impl Default for HibernationSection {
    fn default() -> HibernationSection {
        let d = HibernationPolicy::default();
        HibernationSection {
            idle_after_secs: d.idle_after.map(|t| t.as_secs_f64()),
            parked_after_secs: d.parked_after.map(|t| t.as_secs_f64()),
            max_live_per_shard: d.max_live_per_shard,
        }
    }
}

/// `[documents]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsSection {
    /// URL prefixes documents (and what they name) may be read from; empty: the working directory.
    pub allow: Vec<String>,
}

/// Why a configuration file cannot be used: it cannot be read, it does not fit its sections,
/// or what it names cannot be opened. The message names the file, or the key, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read, or its text does not fit the sections (an unknown section or
    /// key, a value of the wrong type: the TOML error names the key, its line and column).
    #[error(transparent)]
    File(#[from] TomlFileError),
    /// `[engine] data_dir`: the store there cannot be created or opened.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// `[documents] allow` is empty, so the working directory is the allow-list, and the
    /// working directory cannot be found.
    #[error("the working directory (the default document allow-list): {0}")]
    WorkingDirectory(std::io::Error),
    /// `[documents] allow` is empty, and the working directory has no `file:` URL.
    #[error("{} is not a usable directory", .0.display())]
    UnusableDirectory(PathBuf),
    /// `[server] tls_cert` without `tls_key`, or the other way round.
    #[error("[server] tls_cert and tls_key go together")]
    TlsPair,
    /// The TLS certificate or key cannot be used.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// An `[[auth.credentials]]` entry is not usable.
    #[error("[[auth.credentials]] `{name}`: {problem}")]
    Credential {
        /// The credential's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The generated administrator token cannot be read or written.
    #[error("the administrator token {}: {source}", .path.display())]
    AdminToken {
        /// Where it is kept.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// A TOML file that cannot be read, or whose text does not fit the type it is read as.
#[derive(Debug, thiserror::Error)]
pub enum TomlFileError {
    /// The file could not be read (it does not exist, or is not readable).
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The text is not TOML, or does not fit: an unknown key, a value of the wrong type. The
    /// TOML error names the key, with its line and column.
    #[error("{}{source}", in_file(.path))]
    Toml {
        /// The file, when the text was read from one.
        path: Option<PathBuf>,
        /// What is wrong, and where.
        source: toml::de::Error,
    },
}

/// `path: `, before a message about a file's content, when there is a file.
fn in_file(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

/// Parses TOML text as a `T` (a configuration's sections).
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, TomlFileError> {
    toml::from_str(text).map_err(|source| TomlFileError::Toml { path: None, source })
}

/// Reads a TOML file as a `T`; an error names the file.
pub fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TomlFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TomlFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text).map_err(|e| match e {
        TomlFileError::Toml { path: None, source } => TomlFileError::Toml {
            path: Some(path.to_path_buf()),
            source,
        },
        other => other,
    })
}

impl FileConfig {
    /// Reads a config file; a missing path is an error, bad TOML says where.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        Ok(load_toml(path)?)
    }

    /// Parses the text of a config file.
    pub fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        Ok(parse_toml(text)?)
    }

    /// Builds the server's options; opens the store when a data directory is given.
    pub fn into_options(self) -> Result<StartOptions, ConfigError> {
        let (auth, admin_token) = self.auth.authenticator(self.engine.data_dir.as_deref())?;
        let tls = match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::from_pem_files(cert, key)?),
            (None, None) => None,
            _ => return Err(ConfigError::TlsPair),
        };
        let store: Arc<dyn Store> = match &self.engine.data_dir {
            Some(dir) => Arc::new(RedbStore::open(dir)?),
            None => Arc::new(MemoryStore::new()),
        };
        let mut engine = EngineConfig {
            store,
            max_sessions: self.engine.max_sessions,
            max_queue: self.engine.max_queue,
            gc_budget_mb: self.engine.gc_budget_mb,
            limits: Limits {
                microsteps_per_macrostep: Some(self.engine.max_microsteps_per_macrostep)
                    .filter(|&n| n > 0),
                internal_events_per_macrostep: Some(self.engine.max_internal_events_per_macrostep)
                    .filter(|&n| n > 0),
            },
            max_memory_bytes: match self.engine.max_memory_mb {
                Some(0) => None,
                Some(mb) => Some(mb << 20),
                None => scxml_engine::default_memory_bound_bytes(),
            },
            max_session_bytes: self.engine.max_session_bytes.max(1024),
            macrostep_deadline: Some(self.engine.macrostep_deadline_ms)
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis),
            hibernation: HibernationPolicy {
                idle_after: self
                    .hibernation
                    .idle_after_secs
                    .map(|s| Duration::from_secs_f64(s.max(0.0))),
                parked_after: self
                    .hibernation
                    .parked_after_secs
                    .map(|s| Duration::from_secs_f64(s.max(0.0))),
                max_live_per_shard: self.hibernation.max_live_per_shard,
            },
            ..EngineConfig::default()
        };
        if let Some(shards) = self.engine.shards {
            engine.shards = shards.max(1);
        }
        let allow_documents = if self.documents.allow.is_empty() {
            let cwd = std::env::current_dir().map_err(ConfigError::WorkingDirectory)?;
            match url::Url::from_directory_path(&cwd) {
                Ok(url) => vec![url.to_string()],
                Err(()) => return Err(ConfigError::UnusableDirectory(cwd)),
            }
        } else {
            self.documents.allow
        };
        Ok(StartOptions {
            listen: self.server.listen,
            test_protocol: self.server.test_protocol,
            public_url: self.server.public_url,
            engine,
            server: ServerConfig {
                max_body_bytes: self.server.max_body_bytes,
                max_document_bytes: self.server.max_document_bytes,
                request_timeout: Duration::from_secs(self.server.request_timeout_secs.max(1)),
                header_read_timeout: Duration::from_secs_f64(
                    self.server.header_read_timeout_secs.clamp(0.1, 3600.0),
                ),
                max_connections: self.server.max_connections.max(1),
            },
            allow_documents,
            auth,
            tls,
            admin_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_default_and_unknown_fields_are_refused() {
        let c = FileConfig::parse("").unwrap();
        assert_eq!(c.server.listen.port(), 8080);
        let c = FileConfig::parse(
            "[engine]\nshards = 3\n[hibernation]\nidle_after_secs = 0.5\n[auth]\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(c.engine.shards, Some(3));
        let options = c.into_options().unwrap();
        assert_eq!(
            options.engine.hibernation.idle_after,
            Some(Duration::from_millis(500))
        );
        let err = FileConfig::parse("[server]\nlisten = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
        assert!(FileConfig::parse("[engine]\nshard = 3").is_err());
    }
}
