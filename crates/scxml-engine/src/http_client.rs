//! The one outbound HTTP client of the process: Basic HTTP sends, the callback application's
//! push providers and any other HTTP callback go through [`HttpClient`].
//!
//! It is hyper-util's pooled client (`hyper_util::client::legacy::Client`) over hyper's
//! HTTP/1.1, with `http://` and `https://` (rustls on ring with the Mozilla roots of
//! `webpki-roots`, the TLS that ureq gave the push providers before). Connections are kept
//! alive and reused per host (idle ones closed after [`POOL_IDLE`]), so a flow that posts to
//! the same endpoint many times pays for one connection, not one per send.
//!
//! **Where it runs.** Requests run on a small runtime of the client's own (one I/O thread,
//! `scxml-http`), whatever runtime the caller is on: the engine's shards are current-thread
//! runtimes, one per worker thread, and a pooled connection is driven by the runtime that
//! opened it. On its own runtime a connection opened for one shard can serve another, and
//! outlives any engine (tests start and stop many in one process). Callers on any runtime, or
//! on none, await the answer; a caller that gives up (drops the future) aborts its request.
//!
//! **Limits.** Each request has [`HttpLimits`]: a deadline for the whole exchange (connecting,
//! TLS, sending, the answer's head and body) and a bound on the answer's body. Failures are
//! [`HttpError`]s; any status, 2xx or not, is an answer ([`HttpResponse`]), and the caller
//! decides what a non-2xx means (Basic HTTP and push both turn it into
//! `error.communication`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long an unused pooled connection is kept open.
const POOL_IDLE: Duration = Duration::from_secs(30);
/// Idle connections kept per host.
const POOL_MAX_IDLE_PER_HOST: usize = 32;
/// How long connecting (TCP) may take, within the request's own deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The whole exchange, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// The most bytes of answer body read; a longer body is [`HttpError::BodyTooLarge`].
    pub max_body: usize,
}

impl Default for HttpLimits {
    /// 10 seconds, 1 MiB.
    fn default() -> HttpLimits {
        HttpLimits {
            timeout: Duration::from_secs(10),
            max_body: 1 << 20,
        }
    }
}

/// An answer: its status and body (whatever the status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's whole body (at most [`HttpLimits::max_body`] bytes).
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as text, invalid UTF-8 replaced, cut to at most `max_chars` characters.
    pub fn body_text(&self, max_chars: usize) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(max_chars)
            .collect()
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL does not parse.
    #[error("`{url}` is not a URL: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// Neither `http:` nor `https:`.
    #[error("{url}: only http:// and https:// URLs are supported")]
    UnsupportedScheme {
        /// The URL.
        url: String,
    },
    /// A header name or value that HTTP cannot carry.
    #[error("{url}: invalid header {name:?}")]
    InvalidHeader {
        /// The URL.
        url: String,
        /// The header's name.
        name: String,
    },
    /// No whole answer within the limit.
    #[error("{method} {url}: no answer within {}s", .after.as_secs_f64())]
    Timeout {
        /// The request's method.
        method: Method,
        /// The URL.
        url: String,
        /// The limit.
        after: Duration,
    },
    /// Connecting, TLS or the exchange failed.
    #[error("{method} {url}: {reason}")]
    Connection {
        /// The request's method.
        method: Method,
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The answer's body is longer than the limit.
    #[error("{method} {url}: the answer's body is longer than {limit} bytes")]
    BodyTooLarge {
        /// The request's method.
        method: Method,
        /// The URL.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// Reading the answer's body failed.
    #[error("{method} {url}: reading the answer: {reason}")]
    Body {
        /// The request's method.
        method: Method,
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The client could not be built (no TLS roots, for instance).
    #[error("the HTTP client is not available: {0}")]
    Unavailable(String),
}

type PooledClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A handle on the process's pooled HTTP client; clones share the pool.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: PooledClient,
    io: tokio::runtime::Handle,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// The process's client, made on first use (with its I/O thread).
    pub fn shared() -> Result<HttpClient, HttpError> {
        static SHARED: OnceLock<Result<HttpClient, String>> = OnceLock::new();
        SHARED
            .get_or_init(HttpClient::build)
            .clone()
            .map_err(HttpError::Unavailable)
    }

    fn build() -> Result<HttpClient, String> {
        // The runtime lives as long as the process: the shared client is never dropped, and a
        // runtime dropped inside another runtime's task would panic.
        static IO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("scxml-http")
            .enable_all()
            .build()
            .map_err(|e| format!("starting its I/O thread: {e}"))?;
        let io = IO.get_or_init(|| runtime).handle().clone();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("setting up TLS: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(HttpClient {
            inner: Arc::new(Inner { client, io }),
        })
    }

    /// POSTs `body` with `headers` to `url`. Any status is an answer; see [`HttpError`] for
    /// the failures.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        limits: HttpLimits,
    ) -> Result<HttpResponse, HttpError> {
        self.request(Method::POST, url, headers, body.into(), limits)
            .await
    }

    /// Makes one request and reads its answer, on the client's I/O thread.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        limits: HttpLimits,
    ) -> Result<HttpResponse, HttpError> {
        let request = build_request(&method, url, headers, body)?;
        let client = self.inner.client.clone();
        let url = url.to_string();
        let task = self.inner.io.spawn(async move {
            let exchange = exchange(&client, request, &method, &url, limits.max_body);
            match tokio::time::timeout(limits.timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(HttpError::Timeout {
                    method,
                    url,
                    after: limits.timeout,
                }),
            }
        });
        match AbortOnDrop(task).await {
            Ok(result) => result,
            Err(e) => Err(HttpError::Unavailable(format!(
                "the request's task ended: {e}"
            ))),
        }
    }

    /// Runs `task` in the background on the client's I/O thread, whatever runtime the caller
    /// is on (a busy current-thread shard, or none, like the CLI's local host): for work that
    /// is mostly HTTP exchanges, such as delivering a push notification and reporting back.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        drop(self.inner.io.spawn(task));
    }
}

/// Aborts the request's task when the caller stops waiting for it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn build_request(
    method: &Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let parsed = url::Url::parse(url).map_err(|e| HttpError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(HttpError::UnsupportedScheme {
            url: url.to_string(),
        });
    }
    if !parsed.has_host() {
        return Err(HttpError::InvalidUrl {
            url: url.to_string(),
            reason: "no host".into(),
        });
    }
    let uri: hyper::Uri = parsed
        .as_str()
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| HttpError::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let mut request = hyper::Request::new(Full::new(body));
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    for (name, value) in headers {
        let invalid = || HttpError::InvalidHeader {
            url: url.to_string(),
            name: (*name).to_string(),
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        request.headers_mut().insert(name, value);
    }
    Ok(request)
}

async fn exchange(
    client: &PooledClient,
    request: hyper::Request<Full<Bytes>>,
    method: &Method,
    url: &str,
    max_body: usize,
) -> Result<HttpResponse, HttpError> {
    let response = client
        .request(request)
        .await
        .map_err(|e| HttpError::Connection {
            method: method.clone(),
            url: url.to_string(),
            reason: causes(&e),
        })?;
    let status = response.status();
    let body = Limited::new(response.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                HttpError::BodyTooLarge {
                    method: method.clone(),
                    url: url.to_string(),
                    limit: max_body,
                }
            } else {
                HttpError::Body {
                    method: method.clone(),
                    url: url.to_string(),
                    reason: causes(e.as_ref()),
                }
            }
        })?
        .to_bytes();
    Ok(HttpResponse { status, body })
}

/// An error and its sources, `outer: inner: ...` (hyper-util's own text is only the kind,
/// "client error (Connect)"; the cause, "Connection refused", is in the sources).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A keep-alive HTTP/1.1 server on loopback answering each request with `status` and
    /// `body`; reports each connection it accepts and each request body it reads.
    fn server(
        status: u16,
        body: &'static str,
    ) -> (
        String,
        std::sync::mpsc::Receiver<&'static str>,
        std::sync::mpsc::Receiver<String>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook?x=1", listener.local_addr().unwrap());
        let (connections, accepted) = std::sync::mpsc::channel();
        let (bodies, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let _ = connections.send("accepted");
                let bodies = bodies.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    loop {
                        let mut length = 0;
                        let mut first = String::new();
                        if reader.read_line(&mut first).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = v.trim().parse().unwrap();
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut content = vec![0; length];
                        reader.read_exact(&mut content).unwrap();
                        let _ = bodies.send(format!(
                            "{} {}",
                            first.trim(),
                            String::from_utf8_lossy(&content)
                        ));
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted, received)
    }

    #[tokio::test]
    async fn posts_reuse_one_pooled_connection() {
        let (url, accepted, received) = server(200, "ok");
        let client = HttpClient::shared().unwrap();
        for i in 0..3 {
            let answer = client
                .post(
                    &url,
                    &[("content-type", "text/plain")],
                    format!("n={i}"),
                    HttpLimits::default(),
                )
                .await
                .unwrap();
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.body, "ok");
            assert_eq!(
                received.recv().unwrap(),
                format!("POST /hook?x=1 HTTP/1.1 n={i}")
            );
        }
        assert_eq!(
            accepted.try_iter().count(),
            1,
            "one connection for three posts"
        );
    }

    #[test]
    fn works_outside_any_runtime_and_reports_statuses() {
        let (url, _, _) = server(503, "busy, try later");
        let client = HttpClient::shared().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let c = client.clone();
        client.spawn(async move {
            let _ = tx.send(c.post(&url, &[], "", HttpLimits::default()).await);
        });
        let answer = rx.recv().unwrap().unwrap();
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.body_text(4), "busy");
    }

    #[tokio::test]
    async fn failures_are_typed() {
        let client = HttpClient::shared().unwrap();
        let limits = HttpLimits::default();
        let err = client.post("not a url", &[], "", limits).await.unwrap_err();
        assert!(matches!(err, HttpError::InvalidUrl { .. }), "{err}");
        let err = client
            .post("ftp://127.0.0.1/x", &[], "", limits)
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::UnsupportedScheme { .. }), "{err}");
        let err = client
            .post("http://127.0.0.1:1/x", &[("bad header", "v")], "", limits)
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::InvalidHeader { .. }), "{err}");
        // Nobody listens on port 1.
        let err = client
            .post("http://127.0.0.1:1/x", &[], "", limits)
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Connection { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
        // A body past the limit.
        let (url, _, _) = server(200, "0123456789");
        let err = client
            .post(
                &url,
                &[],
                "",
                HttpLimits {
                    max_body: 4,
                    ..limits
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, HttpError::BodyTooLarge { limit: 4, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn https_urls_go_through_tls() {
        // A server that speaks plain text where a TLS handshake is expected: the request gets
        // as far as TLS (no UnsupportedScheme) and fails there, with the URL in the error.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            }
        });
        let err = HttpClient::shared()
            .unwrap()
            .post(&url, &[], "", HttpLimits::default())
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Connection { .. }), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let client = HttpClient::shared().unwrap();
        let started = std::time::Instant::now();
        let err = client
            .post(
                &url,
                &[],
                "x",
                HttpLimits {
                    timeout: Duration::from_millis(200),
                    ..HttpLimits::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }
}
