//! The CometD (Bayeux 1.0) server behind `/genesys/cometd`, long-polling transport.
//!
//! [`CometServer::handle`] takes one HTTP request's batch of Bayeux messages and returns the
//! reply batch: `/meta/handshake`, `/meta/connect` (the long poll), `/meta/subscribe`,
//! `/meta/unsubscribe`, `/meta/disconnect` and publishes. Publishes on `/service/chatV2/<name>`
//! are Chat v2 operations ([`super::v2`]); other channels are broadcast to their subscribers.
//! Server-side code reaches clients with [`CometServer::publish`] (subscribers of a channel),
//! [`CometServer::publish_to_user`] (the clients of one `gms_user`) and
//! [`CometServer::deliver`]; the push provider `comet` and chat followers use these.
//!
//! Messages queued for a client are returned with its next connect (at once if any are
//! waiting), or with any other reply to that client. A client that has not been seen for
//! [`CometConfig::session_timeout_ms`] and has no connect waiting is forgotten; its next
//! message gets `402::Unknown client` with advice to handshake again.

use super::bayeux::{
    self, Advice, Delivery, Message, Outgoing, Reconnect, Reply, CONNECT, DISCONNECT, HANDSHAKE,
    SUBSCRIBE, UNSUBSCRIBE,
};
use super::client::{CometClient, PollEnd};
use super::server::ChatServer;
use super::{follow, ids, v2};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Timing and limits of the comet endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CometConfig {
    /// How long a connect waits for messages (advice `timeout`), milliseconds.
    pub timeout_ms: u64,
    /// Advised pause between the end of a connect and the next one, milliseconds.
    pub interval_ms: u64,
    /// A client without a waiting connect is forgotten after this long, milliseconds.
    pub session_timeout_ms: u64,
    /// Undelivered messages kept per client; the oldest are dropped beyond it.
    pub max_queue: usize,
}

impl Default for CometConfig {
    fn default() -> CometConfig {
        CometConfig {
            timeout_ms: 30_000,
            interval_ms: 0,
            session_timeout_ms: 60_000,
            max_queue: 1000,
        }
    }
}

/// Who a server-side message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// Every client subscribed to the channel.
    Subscribers,
    /// The clients bound to a `gms_user` that subscribed to the channel (any of them, for a
    /// `/service/` channel).
    User(String),
    /// One client by id, subscribed or not.
    Client(String),
}

/// Told of each chat a customer asks for over Chat v2 (its chat id and the service name of
/// the channel), so the application can route it to an agent.
pub type ChatRequested = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The Bayeux server.
pub struct CometServer {
    config: CometConfig,
    clients: Mutex<HashMap<String, Arc<CometClient>>>,
    chat: Option<Arc<ChatServer>>,
    chat_requested: std::sync::OnceLock<ChatRequested>,
    /// Chat followers running, so a chat is not forwarded twice to the same recipient.
    followers: Mutex<HashSet<(Recipient, String)>>,
    last_sweep: Mutex<Instant>,
}

impl std::fmt::Debug for CometServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CometServer")
            .field("config", &self.config)
            .field("clients", &self.client_count())
            .finish()
    }
}

impl CometServer {
    /// A comet server without chat (publish/subscribe and push only).
    pub fn new(config: CometConfig) -> CometServer {
        CometServer {
            config,
            clients: Mutex::new(HashMap::new()),
            chat: None,
            chat_requested: std::sync::OnceLock::new(),
            followers: Mutex::new(HashSet::new()),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// A comet server that also serves Chat v2 operations from `chat`.
    pub fn with_chat(config: CometConfig, chat: Arc<ChatServer>) -> CometServer {
        CometServer {
            chat: Some(chat),
            ..CometServer::new(config)
        }
    }

    /// Sets who hears of the chats asked for over Chat v2 (once; later calls are ignored).
    pub fn on_chat_requested(&self, hook: ChatRequested) {
        let _ = self.chat_requested.set(hook);
    }

    /// Tells the hook, if one is set, of a new Chat v2 chat.
    pub(crate) fn chat_requested(&self, chat_id: &str, service: &str) {
        if let Some(hook) = self.chat_requested.get() {
            hook(chat_id, service);
        }
    }

    /// The timing and limits it was started with.
    pub fn config(&self) -> &CometConfig {
        &self.config
    }

    /// The chat server behind Chat v2 operations, when started [`CometServer::with_chat`].
    pub fn chat(&self) -> Option<&Arc<ChatServer>> {
        self.chat.as_ref()
    }

    /// Clients known now.
    pub fn client_count(&self) -> usize {
        self.lock_clients().len()
    }

    /// Handles one request's batch. `gms_user` (the request's header) binds a handshaking
    /// client to the device; a handshake may also carry it as `ext.gms_user`.
    pub async fn handle(
        self: &Arc<Self>,
        messages: Vec<Message>,
        gms_user: Option<&str>,
    ) -> Vec<Outgoing> {
        self.maybe_sweep();
        let mut replies: Vec<Outgoing> = Vec::new();
        let mut connects = Vec::new();
        let mut active: Vec<Arc<CometClient>> = Vec::new();
        for message in messages {
            let Some(channel) = message.channel.clone() else {
                replies.push(Reply::failure(&message, "400::Missing channel").into());
                continue;
            };
            if channel == HANDSHAKE {
                replies.push(self.handshake(&message, gms_user).into());
                continue;
            }
            if channel == CONNECT {
                connects.push(message);
                continue;
            }
            let Some(client) = self.client_of(&message) else {
                replies.push(Reply::unknown_client(&message).into());
                continue;
            };
            client.touch();
            if let Some(user) = gms_user {
                client.bind_user(user);
            }
            let reply = match channel.as_str() {
                SUBSCRIBE => subscription(&client, &message, true),
                UNSUBSCRIBE => subscription(&client, &message, false),
                DISCONNECT => {
                    self.remove_client(client.id());
                    Reply::to(&message, true)
                }
                meta if meta.starts_with("/meta/") => {
                    Reply::failure(&message, "400::Unknown meta channel")
                }
                _ => self.publish_from(&client, &channel, &message),
            };
            replies.push(reply.into());
            if !client.is_closed() && !active.iter().any(|c| Arc::ptr_eq(c, &client)) {
                active.push(client);
            }
        }
        if connects.is_empty() {
            // No long poll in this request: hand over what is queued for its clients now.
            for client in &active {
                replies.extend(client.drain().into_iter().map(Outgoing::from));
            }
        }
        for message in connects {
            replies.extend(self.connect(&message).await);
        }
        replies
    }

    /// [`CometServer::handle`] on JSON values, for tests that write messages as `json!`.
    #[cfg(test)]
    pub(crate) async fn handle_json(
        self: &Arc<Self>,
        messages: Vec<Value>,
        gms_user: Option<&str>,
    ) -> Vec<Value> {
        let messages = messages
            .into_iter()
            .map(|m| serde_json::from_value(m).expect("a Bayeux message object"))
            .collect();
        let replies = self.handle(messages, gms_user).await;
        replies
            .iter()
            .map(|r| serde_json::to_value(r).expect("replies serialise"))
            .collect()
    }

    /// Sends `data` on `channel` to every subscriber; returns how many clients got it.
    pub fn publish(&self, channel: &str, data: Value) -> usize {
        self.deliver(&Recipient::Subscribers, channel, data)
    }

    /// Sends `data` on `channel` to the clients of one `gms_user`; returns how many got it.
    pub fn publish_to_user(&self, gms_user: &str, channel: &str, data: Value) -> usize {
        self.deliver(&Recipient::User(gms_user.to_string()), channel, data)
    }

    /// Sends `data` on `channel` to the recipient; returns how many clients got it.
    pub fn deliver(&self, to: &Recipient, channel: &str, data: Value) -> usize {
        let message = Delivery {
            channel: channel.to_string(),
            data,
        };
        let service = bayeux::is_service_channel(channel);
        let targets: Vec<Arc<CometClient>> = {
            let clients = self.lock_clients();
            match to {
                Recipient::Client(id) => clients.get(id).cloned().into_iter().collect(),
                _ => clients.values().cloned().collect(),
            }
        };
        targets
            .into_iter()
            .filter(|c| match to {
                Recipient::Client(_) => true,
                Recipient::Subscribers => c.is_subscribed(channel),
                Recipient::User(user) => {
                    c.gms_user().as_deref() == Some(user.as_str())
                        && (service || c.is_subscribed(channel))
                }
            })
            .filter(|c| c.enqueue(message.clone(), self.config.max_queue))
            .count()
    }

    /// True when a client with this id is known.
    pub fn has_client(&self, client_id: &str) -> bool {
        self.lock_clients().contains_key(client_id)
    }

    /// Forwards a chat's new entries, from transcript position `from`, to a recipient on a
    /// channel (e.g. a device's `gms_user` on `/_genesys` for Chat v1 `ixn/chat`), until the
    /// chat ends or the recipient goes away. Each entry arrives as
    /// `{"chatId", "messages": [entry], "chatEnded", "nextPosition", "statusCode": 0}`.
    /// Does nothing when the same chat is already forwarded to that recipient.
    pub fn follow_chat(
        self: &Arc<Self>,
        chat_id: &str,
        to: Recipient,
        channel: &str,
        from: u64,
    ) -> Result<(), super::ChatError> {
        let chat = self
            .chat
            .clone()
            .ok_or_else(|| super::ChatError::UnknownChat(chat_id.to_string()))?;
        follow::spawn(
            self,
            chat,
            follow::Follow {
                chat_id: chat_id.to_string(),
                to,
                channel: channel.to_string(),
                from,
                extra: serde_json::Map::new(),
                until_left: None,
            },
        )
    }

    /// Forgets clients that expired; returns how many.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let expiry = Duration::from_millis(self.config.session_timeout_ms);
        let expired: Vec<Arc<CometClient>> = {
            let mut clients = self.lock_clients();
            let ids: Vec<String> = clients
                .values()
                .filter(|c| c.expired(now, expiry))
                .map(|c| c.id().to_string())
                .collect();
            ids.iter().filter_map(|id| clients.remove(id)).collect()
        };
        for client in &expired {
            client.close();
        }
        expired.len()
    }

    pub(super) fn register_follower(&self, key: (Recipient, String)) -> bool {
        lock(&self.followers).insert(key)
    }

    pub(super) fn unregister_follower(&self, key: &(Recipient, String)) {
        lock(&self.followers).remove(key);
    }

    fn handshake(&self, message: &Message, gms_user: Option<&str>) -> Reply {
        if let Some(types) = &message.supported_connection_types {
            if !types
                .iter()
                .any(|t| bayeux::CONNECTION_TYPES.contains(&t.as_str()))
            {
                return Reply {
                    supported_connection_types: Some(
                        bayeux::CONNECTION_TYPES.map(str::to_string).to_vec(),
                    ),
                    version: Some(bayeux::VERSION.into()),
                    advice: Some(Advice {
                        reconnect: Some(Reconnect::None),
                        ..Advice::default()
                    }),
                    ..Reply::failure(message, "301::Connection types not supported")
                };
            }
        }
        let user = message
            .ext
            .as_ref()
            .and_then(|ext| ext.gms_user.clone())
            .or_else(|| gms_user.map(str::to_string));
        let id = ids::token();
        self.lock_clients()
            .insert(id.clone(), Arc::new(CometClient::new(id.clone(), user)));
        Reply {
            client_id: Some(id),
            version: Some(bayeux::VERSION.into()),
            supported_connection_types: Some(vec!["long-polling".into()]),
            advice: Some(self.advice(self.config.timeout_ms)),
            ..Reply::to(message, true)
        }
    }

    async fn connect(&self, message: &Message) -> Vec<Outgoing> {
        let Some(client) = self.client_of(message) else {
            return vec![Reply::unknown_client(message).into()];
        };
        let mut timeout = self.config.timeout_ms;
        if let Some(asked) = message.advice.and_then(|a| a.timeout) {
            timeout = timeout.min(asked);
        }
        match client.poll(Duration::from_millis(timeout)).await {
            PollEnd::Messages(out) => {
                let reply = Reply {
                    advice: Some(self.advice(self.config.timeout_ms)),
                    ..Reply::to(message, true)
                };
                out.into_iter()
                    .map(Outgoing::from)
                    .chain([reply.into()])
                    .collect()
            }
            PollEnd::Closed => vec![Reply::unknown_client(message).into()],
        }
    }

    fn publish_from(
        self: &Arc<Self>,
        client: &Arc<CometClient>,
        channel: &str,
        message: &Message,
    ) -> Reply {
        if !bayeux::is_valid_channel(channel) || channel.contains('*') {
            return Reply::failure(message, "400::Invalid channel");
        }
        let data = message.data.clone().unwrap_or(Value::Null);
        if let Some(service) = channel.strip_prefix(v2::CHANNEL_PREFIX) {
            return match &self.chat {
                Some(chat) => {
                    v2::handle(self, chat, client, channel, service, &data);
                    Reply::to(message, true)
                }
                None => Reply::failure(message, "503::Chat is not available"),
            };
        }
        if bayeux::is_service_channel(channel) {
            return Reply::failure(message, "404::Unknown service channel");
        }
        self.publish(channel, data);
        Reply::to(message, true)
    }

    fn advice(&self, timeout_ms: u64) -> Advice {
        Advice {
            reconnect: Some(Reconnect::Retry),
            interval: Some(self.config.interval_ms),
            timeout: Some(timeout_ms),
        }
    }

    fn client_of(&self, message: &Message) -> Option<Arc<CometClient>> {
        let id = message.client_id.as_deref()?;
        self.lock_clients().get(id).cloned()
    }

    fn remove_client(&self, id: &str) {
        if let Some(client) = self.lock_clients().remove(id) {
            client.close();
        }
    }

    /// Sweeps at most every few seconds, from request handling (no timer task needed).
    fn maybe_sweep(&self) {
        let now = Instant::now();
        let every = Duration::from_millis((self.config.session_timeout_ms / 4).max(1000));
        {
            let mut last = lock(&self.last_sweep);
            if now.duration_since(*last) < every {
                return;
            }
            *last = now;
        }
        self.sweep();
    }

    fn lock_clients(&self) -> MutexGuard<'_, HashMap<String, Arc<CometClient>>> {
        lock(&self.clients)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `/meta/subscribe` and `/meta/unsubscribe` (`subscription` is one channel or a list).
fn subscription(client: &CometClient, message: &Message, subscribe: bool) -> Reply {
    let channels = message
        .subscription
        .as_ref()
        .map(bayeux::Subscription::channels)
        .unwrap_or_default();
    if channels.is_empty() {
        return Reply::failure(message, "403::Missing subscription");
    }
    if let Some(bad) = channels
        .iter()
        .find(|c| !bayeux::is_valid_channel(c) || c.starts_with("/meta/"))
    {
        return Reply::failure(message, format!("403::Cannot subscribe to {bad}"));
    }
    for channel in channels {
        if subscribe {
            client.subscribe(channel);
        } else {
            client.unsubscribe(channel);
        }
    }
    Reply {
        subscription: message.subscription.clone(),
        ..Reply::to(message, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn server(timeout_ms: u64) -> Arc<CometServer> {
        Arc::new(CometServer::new(CometConfig {
            timeout_ms,
            ..CometConfig::default()
        }))
    }

    async fn handshake(server: &Arc<CometServer>, user: Option<&str>) -> String {
        let replies = server
            .handle_json(
                vec![
                    json!({"channel": "/meta/handshake", "version": "1.0", "id": "1",
                            "supportedConnectionTypes": ["long-polling"]}),
                ],
                user,
            )
            .await;
        assert_eq!(replies.len(), 1);
        let r = &replies[0];
        assert_eq!(r["successful"], true);
        assert_eq!(r["id"], "1");
        assert_eq!(r["version"], "1.0");
        assert_eq!(r["supportedConnectionTypes"], json!(["long-polling"]));
        assert_eq!(r["advice"]["reconnect"], "retry");
        r["clientId"].as_str().unwrap().to_string()
    }

    async fn subscribe(server: &Arc<CometServer>, client: &str, channel: &str) {
        let replies = server
            .handle_json(
                vec![json!({"channel": "/meta/subscribe", "clientId": client,
                            "subscription": channel, "id": "2"})],
                None,
            )
            .await;
        assert_eq!(replies[0]["successful"], true, "{replies:?}");
        assert_eq!(replies[0]["subscription"], channel);
    }

    fn connect(client: &str) -> Value {
        json!({"channel": "/meta/connect", "clientId": client, "connectionType": "long-polling", "id": "3"})
    }

    #[tokio::test]
    async fn handshake_subscribe_publish_connect_round_trip() {
        let server = server(30_000);
        let a = handshake(&server, None).await;
        let b = handshake(&server, None).await;
        subscribe(&server, &a, "/chat/room").await;
        // b publishes; a gets it on its next connect, at once.
        let replies = server
            .handle_json(
                vec![json!({"channel": "/chat/room", "clientId": b, "data": {"x": 1}, "id": "9"})],
                None,
            )
            .await;
        assert_eq!(
            replies,
            vec![json!({"channel": "/chat/room", "clientId": b, "id": "9", "successful": true})]
        );
        let started = std::time::Instant::now();
        let replies = server.handle_json(vec![connect(&a)], None).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            replies[0],
            json!({"channel": "/chat/room", "data": {"x": 1}})
        );
        assert_eq!(replies[1]["channel"], "/meta/connect");
        assert_eq!(replies[1]["successful"], true);
        assert_eq!(replies[1]["advice"]["timeout"], 30_000);
    }

    #[tokio::test]
    async fn connect_waits_until_a_message_arrives() {
        let server = server(30_000);
        let a = handshake(&server, None).await;
        subscribe(&server, &a, "/news/*").await;
        let poll = tokio::spawn({
            let server = server.clone();
            let a = a.clone();
            async move { server.handle_json(vec![connect(&a)], None).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!poll.is_finished());
        assert_eq!(server.publish("/news/today", json!("hello")), 1);
        assert_eq!(server.publish("/other", json!("nobody")), 0);
        let replies = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            replies[0],
            json!({"channel": "/news/today", "data": "hello"})
        );
        assert_eq!(replies[1]["successful"], true);
    }

    #[tokio::test]
    async fn connect_times_out_with_just_the_reply() {
        let server = server(100);
        let a = handshake(&server, None).await;
        let started = std::time::Instant::now();
        let replies = server.handle_json(vec![connect(&a)], None).await;
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0]["successful"], true);
        // The client's advice {timeout: 0} (first connect) returns at once.
        let mut first = connect(&a);
        first["advice"] = json!({"timeout": 0});
        let replies = server.handle_json(vec![first], None).await;
        assert_eq!(replies.len(), 1);
    }

    #[tokio::test]
    async fn unknown_client_is_told_to_handshake() {
        let server = server(100);
        for channel in ["/meta/connect", "/meta/subscribe", "/foo"] {
            let replies = server
                .handle_json(vec![json!({"channel": channel, "clientId": "nope", "id": "5", "subscription": "/x"})], None)
                .await;
            assert_eq!(replies.len(), 1);
            assert_eq!(replies[0]["successful"], false);
            assert_eq!(replies[0]["error"], "402::Unknown client");
            assert_eq!(replies[0]["advice"]["reconnect"], "handshake");
            assert_eq!(replies[0]["id"], "5");
        }
    }

    #[tokio::test]
    async fn disconnect_ends_the_session_and_a_waiting_connect() {
        let server = server(30_000);
        let a = handshake(&server, None).await;
        let poll = tokio::spawn({
            let server = server.clone();
            let a = a.clone();
            async move { server.handle_json(vec![connect(&a)], None).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        let replies = server
            .handle_json(
                vec![json!({"channel": "/meta/disconnect", "clientId": a})],
                None,
            )
            .await;
        assert_eq!(replies[0]["successful"], true);
        let replies = tokio::time::timeout(Duration::from_secs(5), poll)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replies[0]["successful"], false);
        assert!(!server.has_client(&a));
    }

    #[tokio::test]
    async fn users_and_unsubscribe() {
        let server = server(100);
        let a = handshake(&server, Some("device-1")).await;
        let b = handshake(&server, None).await;
        subscribe(&server, &a, "/_genesys").await;
        subscribe(&server, &b, "/_genesys").await;
        assert_eq!(server.publish_to_user("device-1", "/_genesys", json!(1)), 1);
        assert_eq!(server.publish_to_user("device-2", "/_genesys", json!(1)), 0);
        assert_eq!(server.publish("/_genesys", json!(2)), 2);
        let replies = server
            .handle_json(vec![json!({"channel": "/meta/unsubscribe", "clientId": b, "subscription": "/_genesys"})], None)
            .await;
        // No connect in the batch: b's queued message comes with the reply.
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1]["data"], 2);
        assert_eq!(server.publish("/_genesys", json!(3)), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_lost_between_polls_under_load() {
        let server = server(30_000);
        let a = handshake(&server, None).await;
        subscribe(&server, &a, "/load").await;
        let publisher = std::thread::spawn({
            let server = server.clone();
            move || {
                for i in 0..500 {
                    assert_eq!(server.publish("/load", json!(i)), 1);
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 500 {
            let replies = tokio::time::timeout(
                Duration::from_secs(10),
                server.handle_json(vec![connect(&a)], None),
            )
            .await
            .unwrap();
            assert_eq!(replies.last().unwrap()["channel"], "/meta/connect");
            got.extend(
                replies
                    .iter()
                    .filter(|r| r["channel"] == "/load")
                    .map(|r| r["data"].as_u64().unwrap()),
            );
        }
        publisher.join().unwrap();
        assert_eq!(got, (0..500).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn idle_sessions_expire() {
        let server = Arc::new(CometServer::new(CometConfig {
            session_timeout_ms: 50,
            ..CometConfig::default()
        }));
        let a = handshake(&server, None).await;
        assert_eq!(server.sweep(), 0);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(server.sweep(), 1);
        assert!(!server.has_client(&a));
    }

    #[tokio::test]
    async fn bad_requests() {
        let server = server(100);
        let a = handshake(&server, None).await;
        let replies = server
            .handle_json(
                vec![
                    json!({"id": "1"}),
                    json!({"channel": "/meta/subscribe", "clientId": a, "subscription": "/meta/connect"}),
                    json!({"channel": "/meta/bogus", "clientId": a}),
                    json!({"channel": "/service/other", "clientId": a, "data": {}}),
                    json!({"channel": "/meta/handshake", "supportedConnectionTypes": ["websocket"]}),
                ],
                None,
            )
            .await;
        assert!(
            replies.iter().all(|r| r["successful"] == false),
            "{replies:?}"
        );
        assert_eq!(replies[4]["error"], "301::Connection types not supported");
    }
}
