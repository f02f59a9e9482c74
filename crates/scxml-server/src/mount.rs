//! Applications mounted on the server: the seam through which an application (the callback
//! application is the first) plugs into the server without the server knowing it.
//!
//! A [`Mount`] owns a path prefix. Before the engine starts, the server lets every mount wrap
//! the engine's document resolver, and asks it to
//! add its custom `<send>`/`<invoke>` types to the engine's registry and to open its records
//! in the engine's store; once the engine runs, it hands each the engine and the public URL.
//! Then every request under a mount's prefix goes to that mount, whole: its head and its body
//! (read within the server's body limit), with the [`Caller`] its credentials name: the mount
//! decides which of its routes need which role. When the server stops, each mount is closed after
//! the engine.

use crate::auth::Caller;
use crate::http::Body;
use bytes::Bytes;
use hyper::Response;
use scxml::io::Registry;
use scxml::parse::Resolver;
use scxml_engine::store::Store;
use scxml_engine::Engine;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// A request for a mount.
#[derive(Debug)]
pub struct MountRequest {
    /// Method, URI, headers.
    pub parts: hyper::http::request::Parts,
    /// The whole body.
    pub body: Bytes,
    /// Who sent it.
    pub peer: SocketAddr,
    /// Whose credentials it carries (the mount decides what each of its routes needs).
    pub caller: Caller,
}

/// What a mount's handler returns.
pub type MountFuture<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// Why a mount could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{mount}: {message}")]
pub struct MountError {
    /// The mount's name.
    pub mount: String,
    /// What went wrong.
    pub message: String,
}

/// An application served under a path prefix.
pub trait Mount: Send + Sync + 'static {
    /// A short name, for metrics and logs (`callback`).
    fn name(&self) -> &'static str;

    /// The path prefix it serves, with its trailing slash (`/genesys/`).
    fn prefix(&self) -> &str;

    /// Receives the resolver the engine reads documents through (the server's, with its
    /// allow-list), before the engine starts, and answers the one the engine is to use: an
    /// application that serves documents of its own (built into it) wraps it to answer their
    /// URLs and passes every other URL on. The default uses it unchanged.
    fn resolver(&self, inner: Arc<dyn Resolver>) -> Arc<dyn Resolver> {
        inner
    }

    /// Adds its custom `<send>` and `<invoke>` types, before the engine starts.
    fn register(&self, registry: &mut Registry) {
        let _ = registry;
    }

    /// Opens its records in the engine's store, before the engine starts.
    fn open_store(&self, store: Arc<dyn Store>) -> Result<(), MountError> {
        let _ = store;
        Ok(())
    }

    /// Receives the running engine and the URL clients reach the server under (inside the
    /// server's tokio runtime, so it may spawn tasks).
    fn attach(self: Arc<Self>, engine: Engine, public_url: &str) {
        let _ = (engine, public_url);
    }

    /// Answers one request under its prefix.
    fn handle(self: Arc<Self>, request: MountRequest) -> MountFuture<'static>;

    /// The server stops: writes what it has pending. Called after the engine stopped.
    fn close(&self) {}
}
