//! The GMS application: everything the callback service needs, wired together, and the
//! entry point for requests under `/genesys/`.
//!
//! Life cycle: [`GmsApp::new`] builds the adapters (router, chat server, comet server,
//! pusher, the exchange table, the service index) from a [`GmsConfig`]; [`GmsApp::register`]
//! adds the custom types the flows use (`routing`, `push`, `gms-response`, `gms-index`) to
//! the engine's registry before the engine starts; [`GmsApp::open_store`] loads the service
//! index from the engine's store and keeps it there; [`GmsApp::attach`] hands it the running
//! engine and the public URL and starts the router's ticker. Then [`GmsApp::handle`] serves
//! requests; [`GmsApp::close`] writes what the index has pending when the server stops.
//!
//! Routes (all answers JSON, errors `{"message", "exception"}`):
//! - `POST /genesys/cometd`: CometD ([`crate::chat::handle_cometd_for_user`]).
//! - `GET /genesys/1/document/service_template/callback/src/{file}`: the built-in flows
//!   (`chat.scxml`, `chat.js`, `inbound_chat.scxml`), so they can be loaded by URL.
//! - `GET /genesys/1/admin/flows`: the flow documents in use, their versions, and why a
//!   changed one was refused (`documents`).
//! - `/genesys/1/service/...`: the callback API (`api`), with the queries over services
//!   (`query`, `availability`).
//! - `GET /genesys/1/admin/callback/queues`: outstanding callbacks by queue (`query`).
//! - `POST /genesys/1/admin/callback/cancel`: cancels many callbacks at once (`api`).
//! - `GET /genesys/1/services` (public): the service names with their scenario's options.
//! - `GET /genesys/1/admin/services`, `GET /genesys/1/admin/agents`: the configured services
//!   (options, those their scenario fixes) and the agents with their states.
//! - `/genesys/1/agents/{agent}/...`: the agent desktop API (`agents_api`).

use super::chat::{handle_cometd_for_user, ChatSendType, ChatServer, CometServer};
use super::config::{ConfigError, GmsConfig, Service};
use super::documents::{built_in_url, FlowError, Flows, CALLBACK_CHAT, INBOUND_CHAT};
use super::exchange::{Exchanges, GmsResponseSendType};
use super::index::{GmsIndexSendType, ServiceIndex};
use super::limits::DeviceLimits;
use super::office_hours::OfficeHours;
use super::push::{PushSendType, Pusher};
use super::response::GmsResponse;
use super::routing::{Router, RoutingError, RoutingInvokeType};
use super::throttle::Throttles;
use super::{agents_api, api, query};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use scxml::interpreter::Event;
use scxml::io::Registry;
use scxml::parse::Resolver;
use scxml_engine::store::{Store, StoreError};
use scxml_engine::Engine;
use scxml_server::{full_response, Mount, MountError, MountFuture, MountRequest};
use scxml_server::{Caller, Denied};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// One request under `/genesys/`, as the server read it.
#[derive(Debug, Clone)]
pub struct GmsRequest {
    /// The HTTP method (`GET`, `POST`, `DELETE`, ...).
    pub method: Method,
    /// The path, beginning with `/genesys/`, without the query string.
    pub path: String,
    /// The query string after `?`, undecoded, when there is one.
    pub query: Option<String>,
    /// The `gms_user` header: the device.
    pub gms_user: Option<String>,
    /// The `Content-Type` header: tells form fields from a JSON body.
    pub content_type: Option<String>,
    /// The request body as received (empty for `GET`).
    pub body: Bytes,
    /// Whose credentials it carries. The device API takes none (a device is its `gms_user`);
    /// the agent routes take the agent's own, the admin queries an operator's.
    pub caller: Caller,
    /// The client's address (the key of the per-address request rate).
    pub peer: IpAddr,
}

impl GmsRequest {
    /// Reads what the application needs from a request's head and body.
    pub fn from_parts(
        parts: &hyper::http::request::Parts,
        body: Bytes,
        caller: Caller,
        peer: IpAddr,
    ) -> GmsRequest {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        GmsRequest {
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            gms_user: header("gms_user"),
            content_type: header("content-type"),
            body,
            caller,
            peer,
        }
    }
}

/// What exists once the engine runs.
pub(crate) struct Attached {
    pub engine: Engine,
    /// How clients reach this server (`http://host:port`), for the URLs the flows hand out.
    pub base_url: String,
    ticker: tokio::task::JoinHandle<()>,
    /// Forgets ended chats ([`GmsApp::forget_ended_chats`]).
    janitor: tokio::task::JoinHandle<()>,
    /// Takes back the offers their agents let lapse ([`Router::lapsed_offers`]).
    offers: tokio::task::JoinHandle<()>,
}

/// How long an ended chat stays readable (its transcript, for the last polls of the
/// customer's and the agent's clients) before it is forgotten.
pub const ENDED_CHAT_RETENTION: Duration = Duration::from_secs(30);
/// How often ended chats are looked for.
const JANITOR_INTERVAL: Duration = Duration::from_secs(5);

/// A callback service that exists: which configured service it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct CallbackLink {
    pub service_name: String,
    /// The `gms_user` of the device that created it (empty when an operator did without one).
    pub owner: String,
}

/// The customer's side of a chat started by `ixn/chat`.
#[derive(Debug, Clone)]
pub(crate) struct CustomerChat {
    pub chat_id: String,
    pub participant_id: String,
}

/// Why the callback application cannot start; the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot be read, or a service in it is refused.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A built-in flow, or its copy in `documents_dir`, cannot be read or is not valid.
    #[error("{0}")]
    Flow(#[from] FlowError),
    /// The `[routing]` agents and groups are inconsistent.
    #[error("{0}")]
    Routing(#[from] RoutingError),
    /// The service index could not be read from the engine's store.
    #[error("loading the service index: {0}")]
    Index(#[from] StoreError),
}

/// The callback application.
pub struct GmsApp {
    pub(crate) services: BTreeMap<String, Service>,
    /// Office hours by name (`[office_hours.<name>]`), for `_business_hours_service`.
    pub(crate) office_hours: BTreeMap<String, OfficeHours>,
    pub(crate) flows: Flows,
    pub(crate) exchange_timeout: Duration,
    tick: Duration,
    /// The in-process URS and Stat Server the routing invokes talk to.
    pub router: Arc<Router>,
    /// The chat server holding every chat interaction.
    pub chat: Arc<ChatServer>,
    /// The CometD endpoint through which customers and agents follow chats.
    pub comet: Arc<CometServer>,
    /// Sends the push notifications of `<send type="push">`.
    pub pusher: Arc<Pusher>,
    /// Requests waiting for their flow's `<send type="gms-response">`.
    pub exchanges: Arc<Exchanges>,
    /// The latest record of every callback service, for queries over services.
    pub index: Arc<ServiceIndex>,
    /// Callback services by id (the id is the session id of the service's flow).
    pub(crate) callbacks: Mutex<HashMap<String, CallbackLink>>,
    /// Chats created by `ixn/chat`, by callback service id.
    pub(crate) customer_chats: Mutex<HashMap<String, CustomerChat>>,
    /// The inbound chat session routing each Chat v2 chat, by chat id.
    pub(crate) v2_chats: Mutex<HashMap<String, String>>,
    /// The participant id of each agent in each chat it accepted: (agent, chat) -> id.
    pub(crate) agent_seats: Mutex<HashMap<(String, String), String>>,
    /// Bounds on the public device API.
    pub(crate) limits: DeviceLimits,
    /// The services' `_throttle_*` windows.
    pub(crate) throttles: Throttles,
    /// The callbacks each device created (those still open count against its bound).
    pub(crate) device_callbacks: Mutex<HashMap<String, Vec<String>>>,
    attached: OnceLock<Attached>,
}

impl std::fmt::Debug for GmsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmsApp")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .field("attached", &self.attached.get().is_some())
            .finish()
    }
}

impl GmsApp {
    /// Builds the application; a bad service, directory or flow refuses it.
    pub fn new(config: GmsConfig) -> Result<Arc<GmsApp>, StartError> {
        let services = config.services()?;
        let office_hours = config.office_hours()?;
        let flows = Flows::new(
            config.documents_dir.clone(),
            Duration::from_millis(config.flow_check_ms),
        );
        // The built-in documents (or their copies in documents_dir) are read now, so a broken
        // one refuses the start; the others are read through the server's resolver on first use.
        for path in [CALLBACK_CHAT, INBOUND_CHAT] {
            flows.load_now(&built_in_url(path))?;
        }
        let router = Arc::new(Router::new(config.routing.clone())?);
        let chat = Arc::new(ChatServer::new());
        let comet = Arc::new(CometServer::with_chat(config.comet.clone(), chat.clone()));
        let pusher = Arc::new(Pusher::new(config.push.clone()).with_comet(comet.clone()));
        Ok(Arc::new(GmsApp {
            services,
            office_hours,
            flows,
            exchange_timeout: Duration::from_millis(config.exchange_timeout_ms.max(1)),
            tick: Duration::from_millis(config.tick_ms.max(10)),
            router,
            chat,
            comet,
            pusher,
            exchanges: Arc::new(Exchanges::new()),
            index: Arc::new(ServiceIndex::new()),
            callbacks: Mutex::new(HashMap::new()),
            customer_chats: Mutex::new(HashMap::new()),
            v2_chats: Mutex::new(HashMap::new()),
            agent_seats: Mutex::new(HashMap::new()),
            limits: DeviceLimits::new(&config.limits),
            throttles: Throttles::default(),
            device_callbacks: Mutex::new(HashMap::new()),
            attached: OnceLock::new(),
        }))
    }

    /// Adds `<invoke type="routing">`, `<send type="push">`, `<send type="chat">`,
    /// `<send type="gms-response">` and `<send type="gms-index">`.
    pub fn register(&self, registry: &mut Registry) {
        RoutingInvokeType::new(self.router.clone()).register(registry);
        ChatSendType::new(self.chat.clone()).register(registry);
        registry.register_send(
            &super::push::PUSH_SEND_TYPE_NAMES,
            Arc::new(PushSendType::new(self.pusher.clone())),
        );
        GmsResponseSendType::new(self.exchanges.clone()).register(registry);
        GmsIndexSendType::new(self.index.clone()).register(registry);
    }

    /// Loads the service index from `store` (the engine's) and keeps it there from now on.
    /// Call before the engine starts. Answers how many records were loaded.
    pub fn open_store(&self, store: Arc<dyn Store>) -> Result<usize, StartError> {
        Ok(self.index.open(store)?)
    }

    /// Writes what the service index has pending and stops writing to the store.
    pub fn close(&self) {
        self.index.close();
    }

    /// Connects the running engine and starts the router's ticker and the janitor that
    /// forgets ended chats (inside a tokio runtime). A second call is ignored.
    pub fn attach(self: &Arc<Self>, engine: Engine, base_url: &str) {
        if self.attached.get().is_some() {
            return;
        }
        let ticker = self.router.clone().spawn_ticker(self.tick);
        // Chats asked for over Chat v2 on CometD are routed as those of the REST API.
        let app = Arc::downgrade(self);
        let runtime = tokio::runtime::Handle::current();
        self.comet
            .on_chat_requested(Arc::new(move |chat_id: &str, service: &str| {
                let Some(app) = app.upgrade() else { return };
                let (chat_id, service) = (chat_id.to_string(), service.to_string());
                runtime.spawn(async move { super::chat_v2::route(&app, &chat_id, &service).await });
            }));
        let app = Arc::downgrade(self);
        let every = self.tick;
        let offers = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(app) = app.upgrade() else { return };
                for (agent, offer) in app.router.lapsed_offers(std::time::Instant::now()) {
                    tracing::info!(%agent, interaction = %offer.interaction, "an offer lapsed unaccepted");
                    let data = serde_json::json!({
                        "interaction": offer.interaction, "agent": agent, "lapsed": true,
                    });
                    app.tell_flow(&offer.request, "chat.rejected", data);
                }
            }
        });
        let app = Arc::downgrade(self);
        let janitor = tokio::spawn(async move {
            let mut interval = tokio::time::interval(JANITOR_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(app) = app.upgrade() else { return };
                app.forget_ended_chats(ENDED_CHAT_RETENTION);
                app.limits.prune();
                let open = |app: &GmsApp, ids: &mut Vec<String>| {
                    ids.retain(|id| {
                        app.index
                            .get(id)
                            .is_some_and(|r| r["_callback_state"] != "COMPLETED")
                    });
                    !ids.is_empty()
                };
                GmsApp::lock(&app.device_callbacks).retain(|_, ids| open(&app, ids));
            }
        });
        let attached = Attached {
            engine,
            base_url: base_url.trim_end_matches('/').to_string(),
            ticker,
            janitor,
            offers,
        };
        if let Err(unused) = self.attached.set(attached) {
            unused.ticker.abort();
            unused.janitor.abort();
            unused.offers.abort();
        }
    }

    /// Forgets the chats that ended more than `age` ago, with what links services and agents
    /// to them; returns how many. Each chat holds its transcript and its listeners' buffer.
    pub fn forget_ended_chats(&self, age: Duration) -> usize {
        let gone = self.chat.purge_ended(age.as_millis() as u64);
        if gone.is_empty() {
            return 0;
        }
        let gone: std::collections::HashSet<String> = gone.into_iter().collect();
        Self::lock(&self.customer_chats).retain(|_, c| !gone.contains(&c.chat_id));
        Self::lock(&self.v2_chats).retain(|chat, _| !gone.contains(chat));
        Self::lock(&self.agent_seats).retain(|(_, chat), _| !gone.contains(chat));
        gone.len()
    }

    /// How many of the callbacks `device` created are still open (not completed); those that
    /// are not are forgotten on the way.
    pub(crate) fn open_callbacks_of(&self, device: &str) -> usize {
        let mut by_device = Self::lock(&self.device_callbacks);
        let Some(ids) = by_device.get_mut(device) else {
            return 0;
        };
        ids.retain(|id| {
            self.index
                .get(id)
                .is_some_and(|record| record["_callback_state"] != "COMPLETED")
        });
        let open = ids.len();
        if open == 0 {
            by_device.remove(device);
        }
        open
    }

    /// Tells a flow's session something happened outside it (the agent ended or turned down
    /// a chat, the customer left): the external event `name` with `data`. A session that has
    /// ended already has nobody to tell, which is no error.
    pub(crate) fn tell_flow(&self, session: &str, name: &str, data: serde_json::Value) {
        let Some(attached) = self.attached() else {
            return;
        };
        let event = Event {
            data: Some(data),
            ..Event::external(name)
        };
        if let Err(e) = attached.engine.send(session, event) {
            tracing::debug!(%session, event = name, error = %e, "an event for a session that has ended");
        }
    }

    /// The office hours a service keeps (`_business_hours_service`), if it names some.
    pub(crate) fn office_hours_of(&self, service: &Service) -> Option<&OfficeHours> {
        let name = service.options.get("_business_hours_service")?.as_str()?;
        self.office_hours.get(name)
    }

    pub(crate) fn attached(&self) -> Option<&Attached> {
        self.attached.get()
    }

    /// The configured services.
    pub fn services(&self) -> &BTreeMap<String, Service> {
        &self.services
    }

    /// Serves one request under `/genesys/`.
    pub async fn handle(self: &Arc<Self>, request: GmsRequest) -> GmsResponse {
        let path = request.path.clone();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // The public routes a device reaches without credentials are bounded by rate.
        let public = matches!(
            segments.as_slice(),
            ["genesys", "cometd", ..]
                | ["genesys", "1", "service" | "services", ..]
                | ["genesys", "2", "chat", ..]
        );
        if public && request.caller == Caller::Anonymous {
            let address = request.peer.to_string();
            if let Err(throttled) = self.limits.admit(&address, request.gms_user.as_deref()) {
                return GmsResponse::too_many(
                    "TooManyRequests",
                    "too many requests from this device or address",
                    throttled.retry_after_secs,
                );
            }
        }
        match segments.as_slice() {
            // The standard CometD client appends the message type to the URL
            // (`/genesys/cometd/handshake`, `/connect`, ...) when it long-polls.
            ["genesys", "cometd"] | ["genesys", "cometd", _] if request.method == Method::POST => {
                self.cometd(&request).await
            }
            ["genesys", "1", "document", "service_template", "callback", "src", file]
                if request.method == Method::GET =>
            {
                match self.flows.built_in_text(file) {
                    Some(text) if file.ends_with(".js") => {
                        GmsResponse::text(200, "text/javascript", text)
                    }
                    Some(text) => GmsResponse::text(200, "application/scxml+xml", text),
                    None => GmsResponse::not_found(format!("no document {file}")),
                }
            }
            // The service names and what kind each is, for a customer application (or the
            // tester page) to offer: no options beyond the scenario's, no records.
            ["genesys", "1", "services"] if request.method == Method::GET => {
                GmsResponse::json(200, &self.public_services())
            }
            ["genesys", "pages", file] if request.method == Method::GET => super::pages::file(file)
                .unwrap_or_else(|| GmsResponse::not_found(format!("no page {file}"))),
            ["genesys", "1", "agents", agent, rest @ ..] => {
                match super::access::agent_routes(&request, agent) {
                    Ok(()) => agents_api::handle(self, &request, agent, rest).await,
                    Err(denied) => refused(&denied),
                }
            }
            ["genesys", "1", "service", rest @ ..] => api::handle(self, &request, rest).await,
            ["genesys", "2", "chat", service, rest @ ..] => {
                super::chat_v2::rest(self, &request, service, rest).await
            }
            ["genesys", "1", "admin", rest @ ..] => {
                match super::access::operator(&request, "the admin queries") {
                    Ok(()) => self.admin(&request, rest).await,
                    Err(denied) => refused(&denied),
                }
            }
            _ => GmsResponse::not_found(format!("no GMS resource {path}")),
        }
    }

    /// `GET /genesys/1/services`: each service's name and the options its scenario fixes.
    fn public_services(&self) -> serde_json::Value {
        let list: Vec<serde_json::Value> = self
            .services
            .values()
            .map(|s| {
                let fixed: serde_json::Map<String, serde_json::Value> = s
                    .locked
                    .iter()
                    .filter_map(|k| Some((k.clone(), s.options.get(k)?.clone())))
                    .collect();
                serde_json::json!({"name": s.name, "scenario": fixed})
            })
            .collect();
        serde_json::Value::Array(list)
    }

    /// The operator's queries, under `/genesys/1/admin/`.
    async fn admin(self: &Arc<Self>, request: &GmsRequest, rest: &[&str]) -> GmsResponse {
        match rest {
            ["callback", "cancel"] if request.method == Method::POST => {
                api::bulk_cancel(self, request).await
            }
            // The configured services with their options, those their scenario fixes named.
            ["services"] if request.method == Method::GET => {
                let services: serde_json::Map<String, serde_json::Value> = self
                    .services
                    .values()
                    .map(|s| {
                        let view = serde_json::json!({
                            "options": s.options,
                            "locked": s.locked,
                            "document": s.document.as_str(),
                            "inbound_document": s.inbound_document.as_str(),
                        });
                        (s.name.clone(), view)
                    })
                    .collect();
                GmsResponse::json(200, &serde_json::Value::Object(services))
            }
            // Every agent with its state.
            ["agents"] if request.method == Method::GET => {
                GmsResponse::json(200, &serde_json::json!(self.router.agents()))
            }
            ["flows"] if request.method == Method::GET => {
                GmsResponse::json(200, &self.flows.status())
            }
            ["callback", "queues"] if request.method == Method::GET => {
                match api::request_fields(request) {
                    Ok(query) => query::queues(&self.index, &self.router, &query),
                    Err(answer) => answer,
                }
            }
            _ => GmsResponse::not_found(format!("no GMS resource {}", request.path)),
        }
    }

    async fn cometd(&self, request: &GmsRequest) -> GmsResponse {
        match handle_cometd_for_user(&self.comet, &request.body, request.gms_user.as_deref()).await
        {
            Ok(replies) => match serde_json::to_vec(&replies) {
                Ok(body) => GmsResponse::text(200, "application/json;charset=UTF-8", body),
                Err(e) => GmsResponse::error(500, "InternalError", e.to_string()),
            },
            Err(e) => GmsResponse::bad_request(e),
        }
    }

    pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        // Every update of these maps is a single insert or remove: a panic elsewhere cannot
        // leave one half-done, so a poisoned lock is still consistent.
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The headers GMS puts on every answer (the seed's captured responses carry them).
const NO_CACHE_HEADERS: [(hyper::header::HeaderName, &str); 3] = [
    (hyper::header::CACHE_CONTROL, "no-cache, no-store"),
    (hyper::header::PRAGMA, "no-cache"),
    (hyper::header::EXPIRES, "Thu, 01 Jan 1970 00:00:00 GMT"),
];

/// A request refused for its credentials: 401 or 403, in the API's error shape.
pub(crate) fn refused(denied: &Denied) -> GmsResponse {
    match denied {
        Denied::Unauthenticated(m) => GmsResponse::error(401, "Unauthorized", m.clone()),
        Denied::Forbidden(m) => GmsResponse::error(403, "Forbidden", m.clone()),
    }
}

/// The callback application as the server mounts it, under `/genesys/`.
impl Mount for GmsApp {
    fn name(&self) -> &'static str {
        "gms"
    }

    fn prefix(&self) -> &str {
        "/genesys/"
    }

    /// The built-in documents in front of the server's resolver: the engine reads them (a
    /// stored session's `<script src="chat.js">` after a restart) and the flows read every
    /// configured document through it.
    fn resolver(&self, inner: Arc<dyn Resolver>) -> Arc<dyn Resolver> {
        self.flows.resolver(inner)
    }

    fn register(&self, registry: &mut Registry) {
        GmsApp::register(self, registry);
    }

    fn open_store(&self, store: Arc<dyn Store>) -> Result<(), MountError> {
        GmsApp::open_store(self, store)
            .map(|_| ())
            .map_err(|e| MountError {
                mount: "gms".into(),
                message: e.to_string(),
            })
    }

    fn attach(self: Arc<Self>, engine: Engine, public_url: &str) {
        GmsApp::attach(&self, engine, public_url);
    }

    fn handle(self: Arc<Self>, request: MountRequest) -> MountFuture<'static> {
        Box::pin(async move {
            let request = GmsRequest::from_parts(
                &request.parts,
                request.body,
                request.caller,
                request.peer.ip(),
            );
            let answer = GmsApp::handle(&self, request).await;
            let status =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = full_response(status, answer.content_type, answer.body);
            // As GMS: no answer of this API may be cached (records and positions change).
            let headers = response.headers_mut();
            for (name, value) in NO_CACHE_HEADERS {
                headers.insert(name, hyper::header::HeaderValue::from_static(value));
            }
            if let Some(policy) = answer.content_security_policy {
                headers.insert(
                    hyper::header::CONTENT_SECURITY_POLICY,
                    hyper::header::HeaderValue::from_static(policy),
                );
                headers.insert(
                    "x-content-type-options",
                    hyper::header::HeaderValue::from_static("nosniff"),
                );
            }
            if let Some(secs) = answer.retry_after_secs {
                response.headers_mut().insert(
                    hyper::header::RETRY_AFTER,
                    hyper::header::HeaderValue::from(secs),
                );
            }
            response
        })
    }

    fn close(&self) {
        GmsApp::close(self);
    }
}

impl Drop for GmsApp {
    fn drop(&mut self) {
        if let Some(attached) = self.attached.get() {
            attached.ticker.abort();
            attached.janitor.abort();
            attached.offers.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::NewChat;

    #[test]
    fn ended_chats_are_forgotten_with_their_links() {
        let app = GmsApp::new(GmsConfig::default_config()).unwrap();
        let open = app.chat.create(NewChat {
            service_id: "s1".into(),
            ..NewChat::default()
        });
        let ended = app.chat.create(NewChat {
            service_id: "s2".into(),
            ..NewChat::default()
        });
        app.chat.end(&ended.chat_id).unwrap();
        for (service, chat) in [("s1", &open.chat_id), ("s2", &ended.chat_id)] {
            GmsApp::lock(&app.customer_chats).insert(
                service.into(),
                CustomerChat {
                    chat_id: chat.clone(),
                    participant_id: "1".into(),
                },
            );
            GmsApp::lock(&app.agent_seats).insert(("a1".into(), chat.clone()), "2".into());
        }
        // Not yet old enough.
        assert_eq!(app.forget_ended_chats(Duration::from_secs(60)), 0);
        assert_eq!(app.forget_ended_chats(Duration::ZERO), 1);
        assert_eq!(app.chat.list().len(), 1);
        assert!(GmsApp::lock(&app.customer_chats).contains_key("s1"));
        assert!(!GmsApp::lock(&app.customer_chats).contains_key("s2"));
        assert_eq!(GmsApp::lock(&app.agent_seats).len(), 1);
    }
}
