//! The one harness of the HTTP integration tests and the HTTP benches: a server on loopback
//! (plain, with mounts, or running the callback application with timeouts short enough for
//! tests), the blocking client the tests talk through, polling until something holds, and
//! (for the benches) one keep-alive async connection that times each request.
//!
//! Test crates use it as `mod common;`; benches include the same file with
//! `#[path = "../tests/common/mod.rs"] mod common;`, so there is one copy of each helper. It
//! stays a module rather than a crate of its own so that test files and the helpers they
//! share change together, and each binary uses only the part it needs.
#![allow(dead_code)] // each test crate uses a part of it

use scxml_callback::{GmsApp, GmsConfig};
use scxml_engine::store::RedbStore;
use scxml_engine::{EngineConfig, HibernationPolicy};
use scxml_server::{
    Authenticator, Credential, Mount, Role, RunningServer, ServerConfig, StartOptions,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An HTTP client that returns 4xx/5xx answers instead of failing on them.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The administrator token of every server the harness starts (in process, or as a child
/// process through `SCXML_ADMIN_TOKEN`); [`request`] and the keep-alive connection send it,
/// except on a device's requests.
pub const ADMIN_TOKEN: &str = "scxml_test-administrator-token";

/// The token of the harness's operator credential `test-ops`.
pub const OPERATOR_TOKEN: &str = "scxml_test-operator-token";

/// The token of the harness's agent credential `agent1`, for the agent `agent1`.
pub const AGENT1_TOKEN: &str = "scxml_test-agent1-token";

/// The credentials of the harness's in-process servers: an administrator, an operator and
/// the agent `agent1`.
pub fn test_auth() -> Authenticator {
    Authenticator::new(vec![
        Credential::new("test-admin", Role::Administrator, None, ADMIN_TOKEN),
        Credential::new("test-ops", Role::Operator, None, OPERATOR_TOKEN),
        Credential::new("agent1", Role::Agent, Some("agent1"), AGENT1_TOKEN),
    ])
}

/// Server options for loopback: the API on an ephemeral port of 127.0.0.1, no test-protocol
/// listener, no public URL, default limits, no document allowed by URL, the harness's
/// administrator credential; change what a test needs with
/// `StartOptions { .., ..loopback_options(engine) }`.
pub fn loopback_options(engine: EngineConfig) -> StartOptions {
    StartOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        test_protocol: None,
        public_url: None,
        engine,
        server: ServerConfig::default(),
        allow_documents: Vec::new(),
        auth: test_auth(),
        tls: None,
        admin_token: None,
    }
}

/// An SCXML document on the ECMAScript datamodel whose `<scxml>` element holds `body`.
pub fn ecmascript_doc(body: &str) -> String {
    format!(
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">{body}</scxml>"#
    )
}

/// The allow-list entry for a directory (`file:///.../dir/`).
pub fn allow_dir(dir: &Path) -> String {
    url::Url::from_directory_path(dir)
        .expect("an absolute directory")
        .to_string()
}

/// A server running on loopback on a runtime of its own, with the client the tests talk to
/// it through; stopped when dropped.
pub struct TestServer {
    pub rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub http: ureq::Agent,
}

/// The server running the callback application (see [`start_gms_server`]).
pub type GmsServer = TestServer;

impl TestServer {
    /// The interpreter server alone.
    pub fn serve(options: StartOptions) -> TestServer {
        TestServer::serve_with(options, Vec::new())
    }

    /// The server with applications mounted.
    pub fn serve_with(options: StartOptions, mounts: Vec<Arc<dyn Mount>>) -> TestServer {
        let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let server = rt
            .block_on(scxml_server::start_with(options, mounts))
            .expect("the server starts");
        TestServer::running_on(rt, server)
    }

    /// The callback application configured by `config` (timeouts shortened, see
    /// [`start_gms_server`]) on an engine set up by `engine`.
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
        TestServer::running_on(rt, server)
    }

    fn running_on(rt: tokio::runtime::Runtime, server: RunningServer) -> TestServer {
        let base = format!("http://{}", server.api_addr);
        TestServer {
            rt,
            server: Some(server),
            base,
            http: http_agent(),
        }
    }

    /// The running server (its addresses, its engine).
    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("the server is running")
    }

    /// The full URL of a path under the server's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server now (dropping does it too).
    pub fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.stop());
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
        request(&self.http, method, &self.url(path), user, body)
    }

    /// A POST of a JSON body to a path under the server's base URL.
    pub fn post_value(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let body = Some(("application/json", body.to_string()));
        self.request("POST", path, None, body)
    }

    /// A GET of a path under the server's base URL.
    pub fn fetch(&self, path: &str) -> (u16, serde_json::Value) {
        self.request("GET", path, None, None)
    }

    /// GETs a path (as `user`) until `want` holds for the status and answer, within `within`
    /// (see [`poll_until`]); returns the answer.
    pub fn poll_get(
        &self,
        path: &str,
        user: Option<&str>,
        within: Duration,
        want: impl Fn(u16, &serde_json::Value) -> bool,
    ) -> serde_json::Value {
        poll_until(&format!("GET {path}"), within, || {
            let (status, value) = self.request("GET", path, user, None);
            if want(status, &value) {
                Ok(value)
            } else {
                Err(format!("{status} {value}"))
            }
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A path for a test's files under the temporary directory, removed first if a run before
/// left it.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// A new, empty directory for a test's files under the temporary directory, distinct for
/// every call (tests of one binary run in parallel).
pub fn unique_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = fresh_dir(&format!("{name}-{n}"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// An engine storing in a redb file in `dir`, whose idle sessions hibernate at once (so the
/// restart tests also wake sessions from the store).
pub fn redb_engine(dir: &Path) -> EngineConfig {
    EngineConfig {
        shards: 2,
        store: Arc::new(RedbStore::open(dir).unwrap()),
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
    let server = rt
        .block_on(scxml_server::start_with(
            StartOptions {
                allow_documents: allow,
                ..loopback_options(engine)
            },
            vec![gms as Arc<dyn Mount>],
        ))
        .unwrap();
    (rt, server)
}

/// One request as a device (`user` is its `gms_user` header, and it carries no credentials)
/// or with the harness's administrator token (`None`: the sessions API, an agent desktop, an
/// operator): GET, DELETE, or POST or PUT with an optional body (content type, text). Answers the status and
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

/// One request with neither a `gms_user` nor credentials: what anyone on the network can send.
pub fn anonymous_request(
    http: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<(&str, String)>,
) -> (u16, serde_json::Value) {
    let mut response = match (method, body) {
        ("GET", _) => http.get(url).call(),
        ("DELETE", _) => http.delete(url).call(),
        (_, Some((content_type, text))) => http
            .post(url)
            .header("content-type", content_type)
            .send(text),
        (_, None) => http.post(url).send_empty(),
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
        None => request.header("authorization", format!("Bearer {ADMIN_TOKEN}")),
    }
}

/// Calls `probe` every 20 ms until it answers `Ok`, and returns that; panics with `what` and
/// the last `Err` (what was seen instead) after `within`.
pub fn poll_until<T>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe() {
            Ok(found) => return found,
            Err(seen) if Instant::now() >= deadline => {
                panic!("waited {within:?} for {what}; last seen: {seen}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The value of a Prometheus metric line `name value` in `/metrics` text.
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

/// For the benches: one keep-alive HTTP/1.1 connection to a server on loopback (hyper's
/// client connection, no pool), timing each request from the moment the connection is ready
/// for it.
pub mod keepalive {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::client::conn::http1::SendRequest;
    use hyper::Method;
    use hyper_util::rt::TokioIo;
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    /// An answer: status, body, and how long it took.
    pub struct Answer {
        pub status: u16,
        pub body: Bytes,
        pub elapsed: Duration,
        /// When the request was sent.
        pub sent: Instant,
    }

    impl Answer {
        /// The body as JSON, or as a JSON string when it is not JSON.
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
            })
        }
    }

    pub struct Connection {
        sender: SendRequest<Full<Bytes>>,
    }

    impl Connection {
        /// Connects (with `TCP_NODELAY`) and runs the connection on the current runtime.
        pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).ok();
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(conn);
            Ok(Connection { sender })
        }

        /// Sends one request with `headers` and an optional body (content type, bytes);
        /// reads the whole answer.
        pub async fn send(
            &mut self,
            method: Method,
            path: &str,
            headers: &[(&str, &str)],
            body: Option<(&str, Bytes)>,
        ) -> Result<Answer, String> {
            let mut request = hyper::Request::builder()
                .method(method.clone())
                .uri(path)
                .header("host", "bench");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("gms_user"))
            {
                request = request.header("authorization", format!("Bearer {}", super::ADMIN_TOKEN));
            }
            let body = match body {
                Some((content_type, bytes)) => {
                    request = request.header("content-type", content_type);
                    bytes
                }
                None => Bytes::new(),
            };
            let request = request
                .body(Full::new(body))
                .map_err(|e| format!("building {method} {path}: {e}"))?;
            self.sender
                .ready()
                .await
                .map_err(|e| format!("connection: {e}"))?;
            let sent = Instant::now();
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| format!("{method} {path}: {e}"))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{method} {path}: reading the body: {e}"))?
                .to_bytes();
            Ok(Answer {
                status,
                body,
                elapsed: sent.elapsed(),
                sent,
            })
        }
    }
}

/// `scxml serve` as a child process (for what only a whole process shows: SIGKILL, SIGTERM,
/// a worker thread that never comes back), listening on a free loopback port. Killed when
/// dropped.
pub struct ServeProcess {
    pub child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The rest of what it prints on stdout.
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl ServeProcess {
    /// Starts `scxml serve --listen 127.0.0.1:0` with `args` after it and the harness's
    /// administrator token, and waits for the line that says where it listens.
    pub fn start(args: &[&std::ffi::OsStr]) -> ServeProcess {
        ServeProcess::start_with_token(args, Some(ADMIN_TOKEN))
    }

    /// As [`ServeProcess::start`]; without a token the server makes its own, as on a first
    /// start out of the box.
    pub fn start_with_token(args: &[&std::ffi::OsStr], token: Option<&str>) -> ServeProcess {
        use std::io::BufRead;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scxml"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        match token {
            Some(token) => command.env(scxml_server::ADMIN_TOKEN_ENV, token),
            None => command.env_remove(scxml_server::ADMIN_TOKEN_ENV),
        };
        let mut child = command.spawn().expect("starting scxml serve");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("the child's stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the first line of scxml serve");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        ServeProcess {
            child,
            base,
            stdout,
        }
    }

    /// The next line it prints on stdout.
    pub fn next_line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("a line of scxml serve");
        line
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
