//! The interpreter server: the sessions API, the Basic HTTP Event I/O Processor and the
//! test-runner protocol over hyper, in front of an [`Engine`].
//!
//! Every handler returns `Result<Response, ApiError>`; `route` turns errors into JSON
//! answers, so no request ends without a status and a body, and a handler panic (a bug) is
//! caught by the connection task without taking the process down.
#![warn(missing_docs, unreachable_pub)]

mod auth;
mod basichttp;
mod config;
mod documents;
mod error;
mod http;
mod metrics;
mod mount;
mod openapi;
mod pages;
mod sessions;
mod test_protocol;
mod tls;

pub use auth::{
    new_token, token_sha256_hex, AdminToken, Authenticator, Caller, Credential, Denied, Role,
};
pub use config::{
    load_toml, parse_toml, AuthSection, ConfigError, CredentialSection, DocumentsSection,
    EngineSection, FileConfig, HibernationSection, ServerSection, TomlFileError, ADMIN_TOKEN_ENV,
};
pub use documents::Documents;
pub use error::ApiError;
pub use http::{full as full_response, Body};
pub use mount::{Mount, MountError, MountFuture, MountRequest};
pub use sessions::{CreateSession, DocumentSource, SendEvent};
pub use tls::{Tls, TlsError};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use scxml::parse::AllowList;
use scxml_engine::Engine;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Limits and options of the HTTP side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The largest inline document accepted.
    pub max_document_bytes: usize,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's head, counted from when the
    /// connection starts waiting for it (so an idle keep-alive connection is closed after it
    /// too): a client that sends its headers a byte at a time holds nothing for long.
    pub header_read_timeout: Duration,
    /// The most connections open at once; past it a new connection is closed at once.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_body_bytes: 1024 * 1024,
            max_document_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// What every handler can reach.
pub struct App {
    /// The engine running the sessions.
    pub engine: Engine,
    /// Documents by URL, and the resolver every document goes through.
    pub documents: Arc<Documents>,
    /// Limits of the HTTP side.
    pub config: ServerConfig,
    /// Request counts and latencies by route.
    pub metrics: metrics::HttpMetrics,
    /// The applications, each serving the requests under its path prefix.
    pub mounts: Vec<Arc<dyn Mount>>,
    /// Checks every request's credentials.
    pub auth: Authenticator,
    tokens: test_protocol::Tokens,
}

impl App {
    /// What the handlers reach: the engine, the documents, the limits, the mounted
    /// applications and the credentials.
    pub fn new(
        engine: Engine,
        documents: Arc<Documents>,
        config: ServerConfig,
        mounts: Vec<Arc<dyn Mount>>,
        auth: Authenticator,
    ) -> Arc<App> {
        Arc::new(App {
            engine,
            documents,
            config,
            metrics: metrics::HttpMetrics::default(),
            mounts,
            auth,
            tokens: test_protocol::Tokens::default(),
        })
    }
}

/// Which set of routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// The sessions API, Basic HTTP, health and metrics.
    Api,
    /// The test-runner protocol only.
    TestProtocol,
}

/// Accepts connections until `shutdown` turns true, then lets open requests finish; with
/// `tls`, each connection is a TLS one (its handshake within the header timeout).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    routes: Routes,
    tls: Option<Tls>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(
        app.config.max_connections.max(1),
    ));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: wait for connections to close.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            app.metrics.connection_refused();
            drop(stream);
            continue;
        };
        let app = app.clone();
        let stop = shutdown.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(app, routes, peer, stream, stop).await,
                Some(tls) => {
                    let handshake = tls.acceptor.accept(stream);
                    match tokio::time::timeout(app.config.header_read_timeout, handshake).await {
                        Ok(Ok(stream)) => serve_connection(app, routes, peer, stream, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// Serves the requests of one connection (plain or TLS) until it ends or the server stops.
async fn serve_connection<I>(
    app: Arc<App>,
    routes: Routes,
    peer: SocketAddr,
    io: I,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_read_timeout = app.config.header_read_timeout;
    let service = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(dispatch(app, routes, req, peer).await) }
    });
    let connection = http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

async fn dispatch(
    app: Arc<App>,
    routes: Routes,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let timeout = app.config.request_timeout;
    let (route_name, result) =
        match tokio::time::timeout(timeout, route(&app, routes, req, peer)).await {
            Ok(r) => r,
            Err(_) => (
                "timeout",
                Err(ApiError::new(
                    503,
                    "timeout",
                    format!("no answer within {}s", timeout.as_secs()),
                )),
            ),
        };
    let response = result.unwrap_or_else(|e| http::error(&e));
    app.metrics
        .record(route_name, response.status().as_u16(), started.elapsed());
    tracing::debug!(%peer, %method, %path, status = response.status().as_u16(), "request");
    response
}

/// Finds the handler; answers with the route's name (for metrics) and the outcome.
async fn route(
    app: &Arc<App>,
    routes: Routes,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> (&'static str, Result<Response<Body>, ApiError>) {
    if routes == Routes::TestProtocol {
        let result = async {
            if req.method() != Method::POST || req.uri().path() != "/" {
                return Err(ApiError::new(
                    405,
                    "method_not_allowed",
                    "the test protocol takes POST /",
                ));
            }
            let (_, body) = http::read_body(req, app.config.max_body_bytes).await?;
            test_protocol::handle(app, &body).await
        }
        .await;
        return ("test_protocol", result);
    }
    let caller = match app.auth.authenticate(req.headers()) {
        Ok(caller) => caller,
        Err(denied) => return ("unauthorized", Err(denied.into())),
    };
    if let Some(mount) = app
        .mounts
        .iter()
        .find(|m| req.uri().path().starts_with(m.prefix()))
    {
        let result = async {
            let (parts, body) = http::read_body(req, app.config.max_body_bytes).await?;
            Ok(mount
                .clone()
                .handle(MountRequest {
                    parts,
                    body,
                    peer,
                    caller,
                })
                .await)
        }
        .await;
        return (mount.name(), result);
    }
    if let Err(denied) = require_owner(&caller, req.uri().path()) {
        return ("unauthorized", Err(denied.into()));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let limit = app.config.max_body_bytes;
    match (method, segments.as_slice()) {
        (Method::GET, [""]) => ("landing", Ok(pages::landing())),
        (Method::GET, ["pages", name]) => match pages::file(name) {
            Some(page) => ("page", Ok(page)),
            None => (
                "not_found",
                Err(ApiError::not_found(format!("no page {name}"))),
            ),
        },
        (Method::GET, ["healthz"]) => ("healthz", Ok(health(app))),
        (Method::GET, ["metrics"]) => ("metrics", Ok(metrics::render(app))),
        (Method::GET, ["openapi.json"]) => (
            "openapi",
            Ok(http::json(StatusCode::OK, &openapi::document())),
        ),
        (Method::POST, ["sessions"]) => (
            "create_session",
            async {
                let (_, body) = http::read_body(req, limit).await?;
                sessions::create(app, &body).await
            }
            .await,
        ),
        (Method::GET, ["sessions"]) => {
            ("list_sessions", sessions::list(app, query.as_deref()).await)
        }
        (Method::GET, ["sessions", id]) => ("get_session", sessions::inspect(app, id).await),
        (Method::DELETE, ["sessions", id]) => ("delete_session", sessions::delete(app, id).await),
        (Method::POST, ["sessions", id, "events"]) => (
            "send_event",
            async {
                let (_, body) = http::read_body(req, limit).await?;
                sessions::send_event(app, id, &body).await
            }
            .await,
        ),
        (Method::GET, ["sessions", id, "trace"]) => ("trace", sessions::trace(app, id).await),
        (Method::GET, ["sessions", id, "chart"]) => ("chart", sessions::chart(app, id).await),
        (Method::POST, ["basichttp", id]) => (
            "basichttp",
            async {
                let (parts, body) = http::read_body(req, limit).await?;
                let event = basichttp::event_from_request(&parts, &body);
                app.engine.send(id, event)?;
                Ok(http::empty(StatusCode::OK))
            }
            .await,
        ),
        (_, ["healthz" | "metrics" | "openapi.json" | "sessions" | "basichttp", ..]) => (
            "method_not_allowed",
            Err(ApiError::new(
                405,
                "method_not_allowed",
                format!("{} does not take this method", path),
            )),
        ),
        _ => (
            "not_found",
            Err(ApiError::not_found(format!("no route for {path}"))),
        ),
    }
}

/// The owner of each of the server's own routes: health and the API description are public;
/// Basic HTTP is public as SCXML defines it (the unguessable session id in the URL names the
/// target); metrics are the operator's; the sessions API is the administrator's.
fn require_owner(caller: &Caller, path: &str) -> Result<(), Denied> {
    let first = path.trim_matches('/').split('/').next().unwrap_or_default();
    match first {
        "sessions" => caller.require(&[Role::Administrator], "the sessions API"),
        "metrics" => caller.require(&[Role::Operator], "/metrics"),
        _ => Ok(()),
    }
}

/// `/healthz`: 200 while every worker thread is healthy; 503 "degraded" once the watchdog
/// gave up on one (a runaway script holds it), so that an orchestrator restarts the process.
fn health(app: &App) -> Response<Body> {
    let abandoned = app
        .engine
        .stats()
        .abandoned_workers
        .load(std::sync::atomic::Ordering::Relaxed);
    if abandoned == 0 {
        http::json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
    } else {
        http::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({
                "status": "degraded",
                "abandoned_workers": abandoned,
                "reason": "a worker thread is held by a script that ran past the macrostep deadline; restart the process to get its core back",
            }),
        )
    }
}

/// What [`start`] needs.
#[derive(Clone)]
pub struct StartOptions {
    /// Where the API listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Where the test-runner protocol listens, when enabled.
    pub test_protocol: Option<SocketAddr>,
    /// The base URL under which this server is reached from outside, for the Basic HTTP
    /// locations it publishes; default `http://<listen address>`.
    pub public_url: Option<String>,
    /// The engine's configuration (its resolver is replaced by the server's).
    pub engine: scxml_engine::EngineConfig,
    /// Limits of the HTTP side.
    pub server: ServerConfig,
    /// URL prefixes documents may be loaded from.
    pub allow_documents: Vec<String>,
    /// The credentials every request is checked against.
    pub auth: Authenticator,
    /// TLS on the API listener (the test-runner protocol stays plain, on loopback).
    pub tls: Option<Tls>,
    /// The administrator token the server made (or found) for itself, when no credential is
    /// configured: where it is, for the line `serve` prints.
    pub admin_token: Option<AdminToken>,
}

/// A server that is accepting connections.
pub struct RunningServer {
    /// Where the API listens (the port chosen when 0 was asked).
    pub api_addr: SocketAddr,
    /// `http` or `https`: how the API is reached.
    pub scheme: &'static str,
    /// Where the test-runner protocol listens, when enabled.
    pub test_protocol_addr: Option<SocketAddr>,
    /// What the handlers reach.
    pub app: Arc<App>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds the listeners, starts the engine and serves until [`RunningServer::stop`].
pub async fn start(options: StartOptions) -> std::io::Result<RunningServer> {
    start_with(options, Vec::new()).await
}

/// As [`start`], with applications mounted: their custom types join the engine's registry
/// and they open their store records before the engine starts, and they are attached to the
/// engine after.
pub async fn start_with(
    options: StartOptions,
    mounts: Vec<Arc<dyn Mount>>,
) -> std::io::Result<RunningServer> {
    if !options.auth.enabled() && !options.listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "refusing to listen on {} with authentication off: anyone who reaches it could run documents and read every session (listen on loopback, or configure credentials)",
                options.listen
            ),
        ));
    }
    let listener = TcpListener::bind(options.listen).await?;
    let api_addr = listener.local_addr()?;
    let test_listener = match options.test_protocol {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let test_protocol_addr = test_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let public = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{api_addr}"));
    let documents = Arc::new(Documents::new(
        AllowList::prefixes(options.allow_documents.clone()),
        Duration::from_secs(2),
    ));
    let mut engine_config = options.engine.clone();
    engine_config.basichttp_prefix = Some(format!("{}/basichttp/", public.trim_end_matches('/')));
    engine_config.resolver = documents.resolver();
    for mount in &mounts {
        engine_config.resolver = mount.resolver(engine_config.resolver.clone());
        mount.register(&mut engine_config.registry);
        mount
            .open_store(engine_config.store.clone())
            .map_err(std::io::Error::other)?;
    }
    let engine = Engine::start(engine_config);
    for mount in &mounts {
        mount.clone().attach(engine.clone(), &public);
    }
    let app = App::new(
        engine,
        documents,
        options.server.clone(),
        mounts,
        options.auth.clone(),
    );
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(serve(
        listener,
        app.clone(),
        Routes::Api,
        options.tls.clone(),
        rx.clone(),
    ))];
    if let Some(l) = test_listener {
        tasks.push(tokio::spawn(serve(
            l,
            app.clone(),
            Routes::TestProtocol,
            None,
            rx,
        )));
    }
    Ok(RunningServer {
        api_addr,
        scheme,
        test_protocol_addr,
        app,
        shutdown,
        tasks,
    })
}

impl RunningServer {
    /// Stops accepting, lets open requests finish, then stops the engine.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let engine = self.app.engine.clone();
        let _ = tokio::task::spawn_blocking(move || engine.shutdown()).await;
        for mount in &self.app.mounts {
            mount.close();
        }
    }
}
