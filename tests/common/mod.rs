//! What the HTTP integration tests share: the client they talk through, and a server running
//! the callback application with timeouts short enough for tests.
#![allow(dead_code)] // each test crate uses a part of it

use scxml_callback::{GmsApp, GmsConfig};
use scxml_engine::store::RedbStore;
use scxml_engine::{EngineConfig, HibernationPolicy};
use scxml_server::{RunningServer, ServerConfig, StartOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An HTTP client that returns 4xx/5xx answers instead of failing on them.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A server running the callback application on loopback (see [`start_gms_server`]), with the
/// client the tests talk to it through; stopped when dropped.
pub struct GmsServer {
    pub rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub http: ureq::Agent,
}

impl GmsServer {
    pub fn launch(config: GmsConfig, engine: EngineConfig) -> GmsServer {
        GmsServer::launch_allowing(config, engine, Vec::new())
    }

    /// As [`GmsServer::launch`], with documents readable under the URL prefixes `allow`.
    pub fn launch_allowing(
        config: GmsConfig,
        engine: EngineConfig,
        allow: Vec<String>,
    ) -> GmsServer {
        let (rt, server) = start_gms_server_allowing(config, engine, allow);
        let base = format!("http://{}", server.api_addr);
        GmsServer {
            rt,
            server: Some(server),
            base,
            http: http_agent(),
        }
    }

    /// A request under `/genesys/1/` as `user`, with an optional urlencoded form.
    pub fn gms_form(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        form: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let body = form.map(|f| ("application/x-www-form-urlencoded", f.to_string()));
        self.request(method, &format!("/genesys/1/{path}"), user, body)
    }

    /// [`request`] to a path under the server's base URL.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (u16, serde_json::Value) {
        request(
            &self.http,
            method,
            &format!("{}{path}", self.base),
            user,
            body,
        )
    }
}

impl Drop for GmsServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
        }
    }
}

/// A path for a test's files under the temporary directory, removed first if a run before
/// left it.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// An engine storing in a redb file in `dir`, whose idle sessions hibernate at once (so the
/// restart tests also wake sessions from the store).
pub fn redb_engine(dir: &Path) -> EngineConfig {
    EngineConfig {
        shards: 2,
        store: std::sync::Arc::new(RedbStore::open(dir).unwrap()),
        hibernation: HibernationPolicy {
            idle_after: Some(Duration::ZERO),
            ..HibernationPolicy::default()
        },
        ..EngineConfig::default()
    }
}

/// Starts a server on loopback with the callback application configured by `config`
/// (exchange, routing and comet timeouts shortened for tests) on an engine set up by `engine`.
pub fn start_gms_server(
    config: GmsConfig,
    engine: EngineConfig,
) -> (tokio::runtime::Runtime, RunningServer) {
    start_gms_server_allowing(config, engine, Vec::new())
}

/// As [`start_gms_server`], with documents readable under the URL prefixes `allow` (the
/// server's `--allow-url`).
pub fn start_gms_server_allowing(
    mut config: GmsConfig,
    engine: EngineConfig,
    allow: Vec<String>,
) -> (tokio::runtime::Runtime, RunningServer) {
    config.exchange_timeout_ms = config.exchange_timeout_ms.min(3000);
    config.tick_ms = 20;
    config.comet.timeout_ms = 300;
    let gms = GmsApp::new(config).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options = StartOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        test_protocol: None,
        public_url: None,
        engine,
        server: ServerConfig::default(),
        allow_documents: allow,
    };
    let server = rt
        .block_on(scxml_server::start_with(
            options,
            vec![gms as std::sync::Arc<dyn scxml_server::Mount>],
        ))
        .unwrap();
    (rt, server)
}

/// One request as a device (`user` is its `gms_user` header) or an agent desktop (`None`):
/// GET, DELETE, or POST or PUT with an optional body (content type, text). Answers the status and
/// the body as JSON (or as a JSON string when it is not JSON).
pub fn request(
    http: &ureq::Agent,
    method: &str,
    url: &str,
    user: Option<&str>,
    body: Option<(&str, String)>,
) -> (u16, serde_json::Value) {
    let mut response = match (method, body) {
        ("GET", _) => with_user(http.get(url), user).call(),
        ("DELETE", _) => with_user(http.delete(url), user).call(),
        ("PUT", Some((content_type, text))) => with_user(http.put(url), user)
            .header("content-type", content_type)
            .send(text),
        ("PUT", None) => with_user(http.put(url), user).send_empty(),
        (_, Some((content_type, text))) => with_user(http.post(url), user)
            .header("content-type", content_type)
            .send(text),
        (_, None) => with_user(http.post(url), user).send_empty(),
    }
    .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn with_user<B>(request: ureq::RequestBuilder<B>, user: Option<&str>) -> ureq::RequestBuilder<B> {
    match user {
        Some(user) => request.header("gms_user", user),
        None => request,
    }
}
