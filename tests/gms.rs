//! The GMS callback application end to end over real HTTP on loopback: the chat-delay and
//! chat-immediate scenarios as a device, an agent desktop and CometD see them, and the error
//! answers (wrong device, unknown service, requests invalid in the current state).

mod common;

use scxml_callback::GmsConfig;
use scxml_engine::{EngineConfig, HibernationPolicy};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const DEVICE: &str = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673";

/// The server under test, with this file's helpers; see [`common::GmsServer`].
type Harness = common::GmsServer;

impl Harness {
    fn new() -> Harness {
        Harness::with(
            GmsConfig::default_config(),
            EngineConfig {
                shards: 2,
                ..EngineConfig::default()
            },
        )
    }

    /// A server with `config` (quick timeouts for tests) on an engine set up by `engine`.
    fn with(config: GmsConfig, engine: EngineConfig) -> Harness {
        common::GmsServer::launch(config, engine)
    }

    /// A request with an optional `gms_user` and body (content type, text).
    fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (u16, Value) {
        self.request(method, path, user, body)
    }

    fn post(&self, path: &str, user: Option<&str>) -> (u16, Value) {
        self.call("POST", &format!("/genesys/1/{path}"), user, None)
    }

    fn post_form(&self, path: &str, user: Option<&str>, form: &str) -> (u16, Value) {
        let body = Some(("application/x-www-form-urlencoded", form.to_string()));
        self.call("POST", &format!("/genesys/1/{path}"), user, body)
    }

    fn post_json(&self, path: &str, user: Option<&str>, value: Value) -> (u16, Value) {
        let body = Some(("application/json", value.to_string()));
        self.call("POST", &format!("/genesys/1/{path}"), user, body)
    }

    fn get(&self, path: &str, user: Option<&str>) -> (u16, Value) {
        self.call("GET", &format!("/genesys/1/{path}"), user, None)
    }

    /// One CometD request as the device.
    fn comet(&self, messages: Value) -> Vec<Value> {
        let body = Some(("application/json", messages.to_string()));
        let (status, replies) = self.call("POST", "/genesys/cometd", Some(DEVICE), body);
        assert_eq!(status, 200, "{replies}");
        replies.as_array().cloned().unwrap()
    }

    /// Handshakes and subscribes to `/_genesys`; returns the client id.
    fn comet_subscribe(&self) -> String {
        let replies = self.comet(json!([{"channel": "/meta/handshake", "version": "1.0",
            "supportedConnectionTypes": ["long-polling"]}]));
        let client = replies[0]["clientId"].as_str().unwrap().to_string();
        let replies = self.comet(json!([{"channel": "/meta/subscribe", "clientId": client,
            "subscription": "/_genesys"}]));
        assert_eq!(replies[0]["successful"], true, "{replies:?}");
        client
    }

    /// Long-polls until a delivery on `/_genesys` satisfies `want`.
    fn comet_wait(&self, client: &str, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        common::poll_until(what, Duration::from_secs(5), || {
            let replies = self.comet(json!([{"channel": "/meta/connect", "clientId": client,
                "connectionType": "long-polling"}]));
            replies
                .iter()
                .filter(|m| m["channel"] == "/_genesys")
                .find(|m| want(&m["data"]))
                .map(|found| found["data"].clone())
                .ok_or_else(|| format!("{replies:?}"))
        })
    }

    /// Polls a GET until `want` holds.
    fn wait_get(&self, path: &str, user: Option<&str>, want: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/genesys/1/{path}");
        self.poll_get(&path, user, Duration::from_secs(5), |_, v| want(v))
    }

    fn agent_ready(&self, agent: &str) {
        let (status, view) = self.post(&format!("agents/{agent}/login"), None);
        assert_eq!(status, 200, "{view}");
        let (status, view) = self.post(&format!("agents/{agent}/ready"), None);
        assert_eq!(status, 200, "{view}");
    }

    /// Waits for the interaction routed to `agent`; returns it.
    fn offered(&self, agent: &str) -> Value {
        let offers = self.wait_get(&format!("agents/{agent}/interactions"), None, |v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        });
        offers[0].clone()
    }
}

fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "----WebKitFormBoundary0WnE36LruxJ4S5nu";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn assert_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["exception"].is_string(), "{body}");
}

#[test]
fn chat_delay_end_to_end() {
    let h = Harness::new();
    let client = h.comet_subscribe();

    // Start Callback (multipart, as the GMS tester sends it).
    let (content_type, body) = multipart(&[
        ("_customer_number", "4082652649"),
        ("usr_customer_name", "Bob Markel"),
        ("usr_reason", "billing question"),
        ("_device_notification_id", DEVICE),
        ("_device_os", "comet"),
    ]);
    let (status, created) = h.call(
        "POST",
        "/genesys/1/service/callback/chat-delay",
        Some(DEVICE),
        Some((&content_type, body)),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(keys(&created), ["_id", "_text"]);
    assert_eq!(
        created["_text"],
        "We will notify you when agent is available"
    );
    let id = created["_id"].as_str().unwrap().to_string();

    // Waiting: first in line, no estimate yet.
    let (status, position) = h.post(&format!("service/{id}/check-queue-position"), Some(DEVICE));
    assert_eq!(status, 200, "{position}");
    assert_eq!(
        keys(&position),
        [
            "_agent_ready_threshold_passed",
            "_agent_ready_threshold_passed_reason",
            "_eta",
            "_position",
            "_total_waiting"
        ]
    );
    assert_eq!(position["_position"], 1);
    assert_eq!(position["_total_waiting"], 1);
    assert_eq!(position["_eta"], "n/a");
    assert_eq!(position["_agent_ready_threshold_passed"], true);
    assert_eq!(position["_agent_ready_threshold_passed_reason"], "eta n/a");

    // Connect before an agent is available: a JSON error, and the service carries on.
    let (status, refused) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_error(status, &refused, 409);
    let (status, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_state"], "QUEUED");
    assert_eq!(record["_id"], id.as_str());
    assert_eq!(record["_service_name"], "chat-delay");
    assert_eq!(record["_customer_number"], "4082652649");
    assert_eq!(record["usr_reason"], "billing question");

    // An agent becomes ready: it is reserved and the device hears so by comet.
    h.agent_ready("agent1");
    let pushed = h.comet_wait(&client, "agent available", |d| {
        d["tag"] == format!("service.agentavailable.{id}")
    });
    assert_eq!(
        pushed["message"],
        json!({"_id": id, "_action": "get-dialog-user-confirmation-provide_code-false"})
    );
    assert!(pushed["id"].is_string());
    let (_, agent) = h.get("agents/agent1", None);
    assert_eq!(agent["state"]["state"], "reserved", "{agent}");

    // Connect: the start-chat dialog.
    let (status, dialog) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_eq!(status, 200, "{dialog}");
    assert_eq!(
        dialog,
        json!({
            "_dialog_id": "1",
            "_action": "StartChat",
            "_label": "Start Chat",
            "_start_chat_url": format!("{}/genesys/1/service/{id}/ixn/chat", h.base),
            "_comet_url": format!("{}/genesys/cometd", h.base),
            "_user_header": DEVICE,
            "_id_to_jump_before": "exit://",
            "_chat_parameters": {"subject": "None"},
            "_id": id,
        })
    );

    // Reserved: nobody ahead any more.
    let (status, position) = h.post(&format!("service/{id}/check-queue-position"), Some(DEVICE));
    assert_eq!(status, 200, "{position}");
    assert_eq!(position["_position"], 1);
    assert_eq!(position["_agent_ready_threshold_passed"], true);

    // Initiate Chat.
    let (status, chat) = h.post_form(
        &format!("service/{id}/ixn/chat"),
        Some(DEVICE),
        "notify_by=comet&firstName=John&lastName=Hill&_verbose=false&subject=testing&email=j.h%40gmail.com",
    );
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat, json!({"_id": id, "_comet_channel": "/_genesys"}));

    // The chat reaches the reserved agent, who accepts it.
    let offer = h.offered("agent1");
    assert_eq!(offer["service_id"], id.as_str());
    assert_eq!(offer["accepted"], false);
    assert_eq!(offer["chat"]["subject"], "testing");
    let ixn = offer["interaction"].as_str().unwrap().to_string();
    let (status, accepted) = h.post(&format!("agents/agent1/interactions/{ixn}/accept"), None);
    assert_eq!(status, 200, "{accepted}");
    let (_, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(record["_callback_state"], "PROCESSING");
    assert_eq!(record["_agent"], "agent1");

    // Messages both ways through the chat server.
    let (status, sent) = h.post_json(
        &format!("agents/agent1/interactions/{ixn}/messages"),
        None,
        json!({"text": "Hello, Alice here"}),
    );
    assert_eq!(status, 200, "{sent}");
    let seen = h.comet_wait(&client, "the agent's message", |d| {
        d["messages"][0]["text"] == "Hello, Alice here"
    });
    assert_eq!(seen["chatId"], ixn.as_str());
    assert_eq!(seen["messages"][0]["from"]["type"], "Agent");
    assert_eq!(seen["messages"][0]["from"]["nickname"], "Alice");
    // The customer types (the agent sees it), then sends.
    let typing = |operation: &str, form: &str| {
        let path = format!("service/{id}/ixn/chat/{operation}");
        let (status, transcript) = h.post_form(&path, Some(DEVICE), form);
        assert_eq!(status, 200, "{transcript}");
        transcript["messages"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone()
    };
    let last = typing("startTyping", "message=Hi");
    assert_eq!(last["type"], "TypingStarted", "{last}");
    assert_eq!(last["from"]["type"], "Client");
    let last = typing("stopTyping", "");
    assert_eq!(last["type"], "TypingStopped", "{last}");
    let (status, transcript) = h.post_form(
        &format!("service/{id}/ixn/chat/send"),
        Some(DEVICE),
        "message=Hi%20Alice",
    );
    assert_eq!(status, 200, "{transcript}");
    let (_, transcript) = h.get(
        &format!("agents/agent1/interactions/{ixn}/transcript"),
        None,
    );
    let texts: Vec<&str> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "Message")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Hello, Alice here", "Hi Alice"]);

    // Agent to device: pushed by comet, so nothing is kept.
    let (status, sent) = h.post_form(
        &format!("service/{id}/internal-notification"),
        None,
        "_display_message=Message%20to%20be%20displayed%20to%20user&_application_message=MESSAGE_FOR_MOBILE_APP_INTERNAL_USE",
    );
    assert_eq!(
        (status, sent),
        (200, json!({"message": "Notification Sent"}))
    );
    let pushed = h.comet_wait(&client, "internal notification", |d| {
        d["message"]["_internal_message"].is_string()
    });
    assert_eq!(
        pushed["message"],
        json!({"_internal_message": "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE", "_id": id,
               "_display_message": "Message to be displayed to user"})
    );
    let (status, kept) = h.post(
        &format!("service/{id}/retrieve-notifications"),
        Some(DEVICE),
    );
    assert_eq!((status, kept), (200, json!([])));

    // Device to agent: kept for the desktop's poll.
    let (status, sent) = h.post_form(
        &format!("service/{id}/agent-notification"),
        Some(DEVICE),
        "_display_message=Message%20to%20be%20displayed%20to%20agent&_application_message=MESSAGE_FOR_AGENT_DESKTOP_INTERNAL_USE",
    );
    assert_eq!(
        (status, sent),
        (200, json!({"message": "Notification Sent"}))
    );
    let (status, kept) = h.post(&format!("service/{id}/retrieve-agent-notifications"), None);
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept.as_array().unwrap().len(), 1);
    assert_eq!(kept[0]["tag"], format!("agent.message.{id}"));
    let message: Value = serde_json::from_str(kept[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(
        message,
        json!({"_id": id, "_internal_message": "MESSAGE_FOR_AGENT_DESKTOP_INTERNAL_USE",
               "_display_message": "Message to be displayed to agent"})
    );
    let (_, kept) = h.post(&format!("service/{id}/retrieve-agent-notifications"), None);
    assert_eq!(kept, json!([]));

    // The agent ends the chat: the service completes, the agent is free.
    let (status, ended) = h.post(&format!("agents/agent1/interactions/{ixn}/end"), None);
    assert_eq!(status, 200, "{ended}");
    let record = h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["_callback_state"] == "COMPLETED"
    });
    assert_eq!(record["_callback_reason"], "AGENT_CONNECTED");
    let (_, agent) = h.get("agents/agent1", None);
    assert_eq!(agent["state"]["state"], "ready", "{agent}");

    // The flows are served so that they can be loaded by URL.
    for file in ["chat.scxml", "inbound_chat.scxml"] {
        let (status, text) = h.get(
            &format!("document/service_template/callback/src/{file}"),
            None,
        );
        assert_eq!(status, 200);
        assert!(text.as_str().unwrap().contains("<scxml"), "{file}");
    }
}

/// A GMS client follows what it is given: the `_action` of the agent-available push, then the
/// dialog's `_start_chat_url`; it never names a step of its own.
#[test]
fn a_client_that_follows_the_pushed_action_completes_the_chat_delay_scenario() {
    let h = Harness::new();
    let (status, created) = h.post_json(
        "service/callback/chat-delay",
        Some(DEVICE),
        json!({"_customer_number": "4082652649", "_device_notification_id": DEVICE}),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();
    h.agent_ready("agent1");

    // No push provider: the agent-available message is kept for the device's poll.
    let pushed = common::poll_until(
        "the agent-available notification",
        Duration::from_secs(5),
        || {
            // Paced under the device's request rate.
            std::thread::sleep(Duration::from_millis(80));
            let (_, list) = h.post(
                &format!("service/{id}/retrieve-notifications"),
                Some(DEVICE),
            );
            match list.as_array() {
                Some(l) if !l.is_empty() => Ok(list),
                _ => Err(list.to_string()),
            }
        },
    );
    let action = pushed[0]["_action"].as_str().unwrap().to_string();
    assert_eq!(pushed[0]["_id"], id.as_str());

    // The pushed action, POSTed as it came: the start-chat dialog, as connect gives it.
    let (status, dialog) = h.post(&format!("service/{id}/{action}"), Some(DEVICE));
    assert_eq!(status, 200, "POST {action}: {dialog}");
    assert_eq!(dialog["_action"], "StartChat");
    assert_eq!(dialog["_id"], id.as_str());
    let start_chat = dialog["_start_chat_url"].as_str().unwrap();
    let start_chat = start_chat.strip_prefix(h.base.as_str()).unwrap();
    let form = (
        "application/x-www-form-urlencoded",
        "firstName=Bob".to_string(),
    );
    let (status, chat) = h.call("POST", start_chat, Some(DEVICE), Some(form));
    assert_eq!(status, 200, "{chat}");

    let offer = h.offered("agent1");
    assert_eq!(offer["service_id"], id.as_str());
    let ixn = offer["interaction"].as_str().unwrap().to_string();
    let (status, _) = h.post(&format!("agents/agent1/interactions/{ixn}/accept"), None);
    assert_eq!(status, 200);
    let (status, _) = h.post(&format!("agents/agent1/interactions/{ixn}/end"), None);
    assert_eq!(status, 200);
    let record = h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["_callback_state"] == "COMPLETED"
    });
    assert_eq!(record["_callback_reason"], "AGENT_CONNECTED");

    // A dialog step this server does not offer (an access code) is still unknown.
    let (status, body) = h.post(
        &format!("service/{id}/get-dialog-user-confirmation-provide_code-true"),
        Some(DEVICE),
    );
    assert_error(status, &body, 404);
}

/// Starts a chat-immediate service and its chat; returns the service id.
fn immediate_chat(h: &Harness) -> String {
    let (status, dialog) = h.post_json(
        "service/callback/chat-immediate",
        Some(DEVICE),
        json!({"_customer_number": "5551234"}),
    );
    assert_eq!(status, 200, "{dialog}");
    let id = dialog["_id"].as_str().unwrap().to_string();
    let (status, chat) = h.post_form(
        &format!("service/{id}/ixn/chat"),
        Some(DEVICE),
        "firstName=Ann",
    );
    assert_eq!(status, 200, "{chat}");
    id
}

#[test]
fn a_customer_who_leaves_the_chat_before_an_agent_has_it_ends_the_callback() {
    let h = Harness::new();
    let id = immediate_chat(&h);
    let (status, transcript) = h.post(&format!("service/{id}/ixn/chat/disconnect"), Some(DEVICE));
    assert_eq!(status, 200, "{transcript}");
    let record = h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["_callback_state"] == "COMPLETED"
    });
    assert_eq!(record["_callback_reason"], "FAIL_INTERACTION_DELETED");

    // Nobody routes the dead chat: an agent who gets ready now is neither held nor offered it.
    h.agent_ready("agent2");
    std::thread::sleep(Duration::from_millis(300));
    let (_, offers) = h.get("agents/agent2/interactions", None);
    assert_eq!(offers, json!([]));
    let (_, agent) = h.get("agents/agent2", None);
    assert_eq!(agent["state"]["state"], "ready", "{agent}");
}

#[test]
fn with_the_agent_a_cancel_is_refused_and_the_customer_leaving_completes_the_callback() {
    let h = Harness::new();
    let id = immediate_chat(&h);
    h.agent_ready("agent2");
    let ixn = h.offered("agent2")["interaction"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = h.post(&format!("agents/agent2/interactions/{ixn}/accept"), None);
    assert_eq!(status, 200);
    h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["_callback_state"] == "PROCESSING"
    });

    // The customer is connected: a cancel would write CANCELLED over that.
    let path = format!("/genesys/1/service/{id}");
    let (status, refused) = h.call("DELETE", &path, Some(DEVICE), None);
    assert_error(status, &refused, 409);
    let (_, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(record["_callback_state"], "PROCESSING");

    // The customer leaves: the callback is done, its customer was connected.
    let (status, _) = h.post(&format!("service/{id}/ixn/chat/disconnect"), Some(DEVICE));
    assert_eq!(status, 200);
    let record = h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["_callback_state"] == "COMPLETED"
    });
    assert_eq!(record["_callback_reason"], "AGENT_CONNECTED");
    // The agent still holds the chat until ending it.
    let (status, ended) = h.post(&format!("agents/agent2/interactions/{ixn}/end"), None);
    assert_eq!(status, 200, "{ended}");
    let (_, agent) = h.get("agents/agent2", None);
    assert_eq!(agent["state"]["state"], "ready", "{agent}");
}

#[test]
fn chat_immediate_starts_the_chat_at_once() {
    let h = Harness::new();
    let (status, dialog) = h.post_json(
        "service/callback/chat-immediate",
        Some(DEVICE),
        json!({"_customer_number": "5551234", "subject": "loans"}),
    );
    assert_eq!(status, 200, "{dialog}");
    let id = dialog["_id"].as_str().unwrap().to_string();
    assert_eq!(dialog["_action"], "StartChat");
    assert_eq!(dialog["_user_header"], DEVICE);
    assert_eq!(dialog["_chat_parameters"], json!({"subject": "loans"}));
    assert_eq!(
        dialog["_start_chat_url"],
        format!("{}/genesys/1/service/{id}/ixn/chat", h.base)
    );

    // The chat may start before any agent is there; it is routed once one is ready.
    let (status, chat) = h.post_form(
        &format!("service/{id}/ixn/chat"),
        Some(DEVICE),
        "firstName=Ann&subject=loans",
    );
    assert_eq!(
        (status, chat),
        (200, json!({"_id": id, "_comet_channel": "/_genesys"}))
    );
    let (status, again) = h.post(&format!("service/{id}/ixn/chat"), Some(DEVICE));
    assert_error(status, &again, 409);
    h.agent_ready("agent2");
    let offer = h.offered("agent2");
    assert_eq!(offer["service_id"], id.as_str());

    // No push provider for this device: notifications are kept for polling.
    let (_, kept) = h.post(
        &format!("service/{id}/retrieve-notifications"),
        Some(DEVICE),
    );
    assert_eq!(kept, json!([]));
    let (status, sent) = h.post_form(
        &format!("service/{id}/internal-notification"),
        None,
        "_display_message=Hello&_application_message=APP",
    );
    assert_eq!(
        (status, sent),
        (200, json!({"message": "Notification Sent"}))
    );
    let (_, kept) = h.post(
        &format!("service/{id}/retrieve-notifications"),
        Some(DEVICE),
    );
    assert_eq!(
        kept,
        json!([{"_internal_message": "APP", "_id": id, "_display_message": "Hello"}])
    );
    let (_, kept) = h.post(
        &format!("service/{id}/retrieve-notifications"),
        Some(DEVICE),
    );
    assert_eq!(kept, json!([]));
}

#[test]
fn errors_wrong_device_unknown_service_and_cancel() {
    let h = Harness::new();
    let (status, body) = h.post("service/callback/no-such-service", Some(DEVICE));
    assert_error(status, &body, 404);
    let (status, body) = h.post("service/not-a-service/connect", Some(DEVICE));
    assert_error(status, &body, 404);
    let (status, body) = h.get("service/not-a-service", Some(DEVICE));
    assert_error(status, &body, 404);

    let (status, created) = h.post_form(
        "service/callback/chat-delay",
        Some(DEVICE),
        "_customer_number=1",
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();

    // Another device may not touch it; the owner still can.
    for (method, path) in [
        ("GET", format!("/genesys/1/service/{id}")),
        ("POST", format!("/genesys/1/service/{id}/connect")),
        (
            "POST",
            format!("/genesys/1/service/{id}/check-queue-position"),
        ),
        ("DELETE", format!("/genesys/1/service/{id}")),
    ] {
        let (status, body) = h.call(method, &path, Some("someone-else"), None);
        assert_error(status, &body, 403);
        // Neither a device nor credentials: asked who it is.
        let (status, body) = common::anonymous_request(&h.http, method, &h.url(&path), None);
        assert_error(status, &body, 401);
    }
    let (status, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(status, 200);
    assert_eq!(record["_callback_state"], "QUEUED");
    // Also under its service's name, and only there.
    let (status, named) = h.get(&format!("service/callback/chat-delay/{id}"), Some(DEVICE));
    assert_eq!((status, &named), (200, &record));
    let (status, body) = h.get(
        &format!("service/callback/chat-immediate/{id}"),
        Some(DEVICE),
    );
    assert_error(status, &body, 404);
    // A cancel under another service's name does not reach it.
    let (status, body) = h.call(
        "DELETE",
        &format!("/genesys/1/service/callback/chat-immediate/{id}"),
        Some(DEVICE),
        None,
    );
    assert_error(status, &body, 404);
    assert_eq!(
        h.get(&format!("service/{id}"), Some(DEVICE)).1["_callback_state"],
        "QUEUED"
    );

    // Cancel: dequeued, so a ready agent is not reserved for it.
    let (status, record) = h.call(
        "DELETE",
        &format!("/genesys/1/service/callback/chat-delay/{id}"),
        Some(DEVICE),
        None,
    );
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_state"], "COMPLETED");
    assert_eq!(record["_callback_reason"], "CANCELLED");
    h.agent_ready("agent1");
    std::thread::sleep(Duration::from_millis(100));
    let (_, agent) = h.get("agents/agent1", None);
    assert_eq!(agent["state"]["state"], "ready", "{agent}");
    let (status, body) = h.call(
        "DELETE",
        &format!("/genesys/1/service/{id}"),
        Some(DEVICE),
        None,
    );
    assert_error(status, &body, 409);
    let (status, body) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_error(status, &body, 409);

    // Unknown agents and malformed bodies are JSON errors too.
    let (status, body) = h.post("agents/nobody/login", None);
    assert_error(status, &body, 404);
    let (status, body) = h.call(
        "POST",
        "/genesys/1/service/callback/chat-delay",
        Some(DEVICE),
        Some(("application/json", "{nope".into())),
    );
    assert_error(status, &body, 400);
}

/// A chat-delay service `quick` with a `_ttl` of `ttl` seconds, targeting `agent1`.
fn quick_service(ttl: f64) -> GmsConfig {
    GmsConfig::parse(&format!(
        r#"
        [services.quick]
        scenario = "chat-delayed"
        _target = "agent1@StatServer.A"
        _ttl = {ttl}
        [[routing.agents]]
        id = "agent1"
        "#
    ))
    .unwrap()
}

#[test]
fn completed_services_hibernate_and_expire_after_their_ttl() {
    let config = quick_service(0.6);
    let h = Harness::with(
        config,
        EngineConfig {
            shards: 1,
            hibernation: HibernationPolicy {
                idle_after: Some(Duration::from_millis(30)),
                ..HibernationPolicy::default()
            },
            ..EngineConfig::default()
        },
    );
    let (status, created) = h.post_form(
        "service/callback/quick",
        Some(DEVICE),
        "_customer_number=5550100",
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();
    let (status, _) = h.call(
        "DELETE",
        &format!("/genesys/1/service/{id}"),
        Some(DEVICE),
        None,
    );
    assert_eq!(status, 200);
    // Idle, it hibernates; the next request brings it back with its record.
    std::thread::sleep(Duration::from_millis(200));
    let (status, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_reason"], "CANCELLED");
    // After _ttl the service is gone.
    h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["exception"] == "ServiceNotFound"
    });
    let (status, _) = h.call("GET", &format!("/sessions/{id}"), None, None);
    assert_eq!(status, 404, "the expired session is removed");
}

#[test]
fn flows_load_from_a_directory_and_an_unanswered_request_times_out() {
    let dir = std::env::temp_dir().join(format!("gms-flows-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("callback")).unwrap();
    // A flow that answers start and nothing else.
    std::fs::write(
        dir.join("callback/chat.scxml"),
        r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
          <state id="s">
            <transition event="gms.start">
              <send type="gms-response" targetexpr="_event.origin">
                <param name="status" expr="201"/>
                <param name="body" expr="({started: true})"/>
              </send>
            </transition>
          </state>
        </scxml>"#,
    )
    .unwrap();
    let inbound = include_str!("../scxml/inbound_chat.scxml");
    std::fs::write(dir.join("inbound_chat.scxml"), inbound).unwrap();
    let mut config = GmsConfig::default_config();
    config.documents_dir = Some(dir.clone());
    config.exchange_timeout_ms = 200;
    let h = Harness::with(config, EngineConfig::default());
    let (status, created) = h.post("service/callback/chat-delay", Some(DEVICE));
    assert_eq!((status, &created), (201, &json!({"started": true})));
    let (status, body) = h.get("service/callback/src/x", None);
    assert_error(status, &body, 404);
    let (status, served) = h.get("document/service_template/callback/src/chat.scxml", None);
    assert_eq!(status, 200);
    assert!(served.as_str().unwrap().contains("started"));
    let (status, _) = h.get("agents/agent1", None);
    assert_eq!(status, 200);
    let sessions = h.call("GET", "/sessions", None, None).1;
    let id = sessions["sessions"][0]["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let (status, body) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_error(status, &body, 504);
    assert!(started.elapsed() < Duration::from_secs(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn requests_fill_tokens_and_override_the_options_a_service_allows() {
    let config = GmsConfig::parse(
        r#"
        [services.by-token]
        scenario = "chat-delayed"
        _target = "$agent_id$@StatServer.A"
        [services.overridable]
        scenario = "chat-delayed"
        _target = "Nobody@StatServer.GA"
        _overwritable_options = "_target"
        [routing]
        agent_groups = ["Nobody"]
        [[routing.agents]]
        id = "agent1"
        [[routing.agents]]
        id = "agent2"
        "#,
    )
    .unwrap();
    let h = Harness::with(config, EngineConfig::default());
    let (_, by_token) = h.post_form(
        "service/callback/by-token",
        Some(DEVICE),
        "_customer_number=5550100&agent_id=agent2",
    );
    let by_token = by_token["_id"].as_str().unwrap().to_string();
    let (_, overridden) = h.post_form(
        "service/callback/overridable",
        Some(DEVICE),
        "_customer_number=5550100&_target=agent1%40StatServer.A",
    );
    let overridden = overridden["_id"].as_str().unwrap().to_string();
    h.agent_ready("agent2");
    h.agent_ready("agent1");
    let record = h.wait_get(&format!("service/{by_token}"), Some(DEVICE), |r| {
        r["_callback_state"] == "ROUTING"
    });
    assert_eq!(record["_agent"], "agent2");
    let record = h.wait_get(&format!("service/{overridden}"), Some(DEVICE), |r| {
        r["_callback_state"] == "ROUTING"
    });
    assert_eq!(record["_agent"], "agent1");
}

#[test]
fn a_completed_service_survives_a_restart() {
    let dir = common::fresh_dir("gms-restart");
    let engine = common::redb_engine;
    let id = {
        let h = Harness::with(GmsConfig::default_config(), engine(&dir));
        let (_, created) = h.post_form(
            "service/callback/chat-delay",
            Some(DEVICE),
            "_customer_number=5550100&usr_x=1",
        );
        let id = created["_id"].as_str().unwrap().to_string();
        let (status, _) = h.call(
            "DELETE",
            &format!("/genesys/1/service/{id}"),
            Some(DEVICE),
            None,
        );
        assert_eq!(status, 200);
        id
    };
    let h = Harness::with(GmsConfig::default_config(), engine(&dir));
    let (status, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_reason"], "CANCELLED");
    assert_eq!(record["usr_x"], "1");
    let (status, body) = h.get(&format!("service/{id}"), Some("someone-else"));
    assert_error(status, &body, 403);
    drop(h);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn waiting_callbacks_survive_a_restart_and_complete() {
    let dir = common::fresh_dir("gms-restart-waiting");
    // Sessions hibernate as soon as they are idle, so the waiting callbacks are also woken
    // from the store while their routing requests are live.
    let engine = common::redb_engine;
    let position = |h: &Harness, id: &str| {
        let (status, p) = h.post(&format!("service/{id}/check-queue-position"), Some(DEVICE));
        assert_eq!(status, 200, "{p}");
        (
            p["_position"].as_u64().unwrap(),
            p["_total_waiting"].as_u64().unwrap(),
        )
    };
    let (first, second) = {
        let h = Harness::with(GmsConfig::default_config(), engine(&dir));
        let create = |name: &str| {
            let form = format!("_customer_number=555&usr_name={name}");
            let (status, created) = h.post_form("service/callback/chat-delay", Some(DEVICE), &form);
            assert_eq!(status, 200, "{created}");
            created["_id"].as_str().unwrap().to_string()
        };
        let first = create("first");
        let second = create("second");
        assert_eq!(position(&h, &first), (1, 2));
        assert_eq!(position(&h, &second), (2, 2));
        // The first is offered an agent, and the server stops before the customer confirms.
        h.agent_ready("agent1");
        h.wait_get(&format!("service/{first}"), Some(DEVICE), |r| {
            r["_callback_state"] == "ROUTING"
        });
        // A waiting callback hibernates with its routing request live, and wakes for the
        // next request.
        h.poll_get(
            "/sessions?status=hibernated",
            None,
            Duration::from_secs(5),
            |_, list| list.to_string().contains(&second),
        );
        // Behind the first, which holds the agent.
        assert_eq!(position(&h, &second), (2, 2));
        let (_, view) = h.call("GET", &format!("/sessions/{first}"), None, None);
        assert_eq!(view["not_persisted"], Value::Null, "{view}");
        (first, second)
    };

    // Agents start logged out: the reservation is gone and the first callback waits again,
    // ahead of the second, as before.
    let h = Harness::with(GmsConfig::default_config(), engine(&dir));
    let record = h.wait_get(&format!("service/{first}"), Some(DEVICE), |r| {
        r["_callback_state"] == "QUEUED"
    });
    assert_eq!(record["_agent"], Value::Null);
    assert_eq!(record["usr_name"], "first");
    assert_eq!(position(&h, &first), (1, 2));
    assert_eq!(position(&h, &second), (2, 2));
    let (status, refused) = h.post(&format!("service/{first}/connect"), Some(DEVICE));
    assert_error(status, &refused, 409);

    // The flow completes on the new server.
    h.agent_ready("agent1");
    h.wait_get(&format!("service/{first}"), Some(DEVICE), |r| {
        r["_callback_state"] == "ROUTING"
    });
    let (status, dialog) = h.post(&format!("service/{first}/connect"), Some(DEVICE));
    assert_eq!(status, 200, "{dialog}");
    assert_eq!(dialog["_action"], "StartChat");
    let (status, chat) = h.post_form(
        &format!("service/{first}/ixn/chat"),
        Some(DEVICE),
        "firstName=John&lastName=Hill&subject=after%20restart",
    );
    assert_eq!(status, 200, "{chat}");
    let offer = h.offered("agent1");
    assert_eq!(offer["service_id"], first.as_str());
    let ixn = offer["interaction"].as_str().unwrap().to_string();
    let (status, _) = h.post(&format!("agents/agent1/interactions/{ixn}/accept"), None);
    assert_eq!(status, 200);
    let (status, _) = h.post(&format!("agents/agent1/interactions/{ixn}/end"), None);
    assert_eq!(status, 200);
    let record = h.wait_get(&format!("service/{first}"), Some(DEVICE), |r| {
        r["_callback_state"] == "COMPLETED"
    });
    assert_eq!(record["_callback_reason"], "AGENT_CONNECTED");

    // The second is next for the same agent, now free again.
    h.wait_get(&format!("service/{second}"), Some(DEVICE), |r| {
        r["_callback_state"] == "ROUTING" && r["_agent"] == "agent1"
    });
    drop(h);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_service_still_waiting_when_its_ttl_passes_is_removed_and_dequeued() {
    let config = quick_service(0.5);
    let h = Harness::with(
        config,
        EngineConfig {
            shards: 1,
            ..EngineConfig::default()
        },
    );
    let (status, created) = h.post_form(
        "service/callback/quick",
        Some(DEVICE),
        "_customer_number=5550100",
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();
    let (_, record) = h.get(&format!("service/{id}"), Some(DEVICE));
    assert_eq!(record["_callback_state"], "QUEUED");
    let expires = record["_expiration_time"].as_str().unwrap().to_string();
    assert!(expires.as_str() > record["_desired_time"].as_str().unwrap());
    // _ttl after its desired time (the creation) the service is gone, queued or not.
    h.wait_get(&format!("service/{id}"), Some(DEVICE), |r| {
        r["exception"] == "ServiceNotFound"
    });
    let (_, found) = h.get(&format!("service/callback/quick?_id={id}"), None);
    assert_eq!(found, json!([]));
    // Its routing request went with it: a ready agent is not reserved for it.
    h.agent_ready("agent1");
    std::thread::sleep(Duration::from_millis(100));
    let (_, agent) = h.get("agents/agent1", None);
    assert_eq!(agent["state"]["state"], "ready", "{agent}");
}

#[test]
fn malformed_multipart_is_a_400_naming_the_problem() {
    let h = Harness::new();
    let boundary = "----WebKitFormBoundary0WnE36LruxJ4S5nu";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    // The closing boundary never comes.
    let truncated = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_customer_number\"\r\n\r\n4082"
    );
    // A part without a name.
    let unnamed =
        format!("--{boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{boundary}--\r\n");
    for body in [truncated, unnamed] {
        let (status, answer) = h.call(
            "POST",
            "/genesys/1/service/callback/chat-delay",
            Some(DEVICE),
            Some((&content_type, body)),
        );
        assert_error(status, &answer, 400);
        assert!(
            answer["message"].as_str().unwrap().contains("multipart"),
            "{answer}"
        );
    }
    let (status, answer) = h.call(
        "POST",
        "/genesys/1/service/callback/chat-delay",
        Some(DEVICE),
        Some(("multipart/form-data", "x".into())),
    );
    assert_error(status, &answer, 400);
    assert!(
        answer["message"].as_str().unwrap().contains("boundary"),
        "{answer}"
    );
}

#[test]
fn the_position_answers_a_get_and_no_answer_may_be_cached() {
    let h = Harness::launch(GmsConfig::default_config(), EngineConfig::default());
    let (status, created) = h.post_form(
        "service/callback/chat-delay",
        Some(DEVICE),
        "_customer_number=5551234",
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap();
    let (status, position) = h.get(&format!("service/{id}/check-queue-position"), Some(DEVICE));
    assert_eq!(status, 200, "{position}");
    assert_eq!(position["_position"], 1, "{position}");
    assert_eq!(position["_eta"], "n/a", "{position}");

    // The seed's headers, on answers and on errors alike.
    let http = common::http_agent();
    for path in [format!("service/{id}"), "service/no-such-id".to_string()] {
        let response = http
            .get(&h.url(&format!("/genesys/1/{path}")))
            .header("gms_user", DEVICE)
            .call()
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-cache, no-store"),
            "{path}"
        );
        assert_eq!(header("pragma").as_deref(), Some("no-cache"), "{path}");
        assert_eq!(
            header("expires").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            "{path}"
        );
    }
}

#[test]
fn a_device_that_names_no_push_provider_is_pushed_over_cometd_as_in_the_seed() {
    let h = Harness::new();
    let client = h.comet_subscribe();
    // The seed's create: an APNs-like token and an empty _device_os.
    let (content_type, body) = multipart(&[
        ("_customer_number", "4082652649"),
        (
            "_device_notification_id",
            "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673",
        ),
        ("_device_os", ""),
    ]);
    let (status, created) = h.call(
        "POST",
        "/genesys/1/service/callback/chat-delay",
        Some(DEVICE),
        Some((&content_type, body)),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();
    h.agent_ready("agent1");
    // The device's CometD client (known by its gms_user) gets the push; nothing is kept.
    let pushed = h.comet_wait(&client, "agent available", |d| {
        d["tag"] == format!("service.agentavailable.{id}")
    });
    assert_eq!(pushed["message"]["_id"], id.as_str());
    let (_, kept) = h.post(
        &format!("service/{id}/retrieve-notifications"),
        Some(DEVICE),
    );
    assert_eq!(kept, json!([]));
}

#[test]
fn a_chat_v2_customer_over_rest_reaches_an_agent_of_the_group() {
    let h = Harness::new();
    h.agent_ready("agent1");
    let v2 = |path: &str, form: &str| {
        h.call(
            "POST",
            &format!("/genesys/2/chat/{path}"),
            None,
            Some(("application/x-www-form-urlencoded", form.to_string())),
        )
    };
    let (status, started) = v2(
        "chat-delay",
        "firstName=Ann&lastName=Lee&subject=loans&userData%5Baccount%5D=A-17",
    );
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["statusCode"], 0);
    let chat_id = started["chatId"].as_str().unwrap().to_string();
    let key = started["secureKey"].as_str().unwrap().to_string();
    assert!(
        started["userId"].is_string() && started["alias"].is_string(),
        "{started}"
    );

    // inbound_chat.scxml routes it to the service's group: agent1 is offered it.
    let offer = h.offered("agent1");
    assert_eq!(offer["interaction"], chat_id.as_str());
    assert_eq!(offer["chat"]["userData"]["account"], "A-17", "{offer}");
    let (status, _) = h.post(
        &format!("agents/agent1/interactions/{chat_id}/accept"),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = h.post_json(
        &format!("agents/agent1/interactions/{chat_id}/messages"),
        None,
        json!({"text": "Hello Ann"}),
    );
    assert_eq!(status, 200);

    // The customer reads, writes and sends a custom notice with its key.
    let op = |operation: &str, extra: &str| {
        v2(
            &format!("chat-delay/{chat_id}/{operation}"),
            &format!("secureKey={key}&transcriptPosition=1&{extra}"),
        )
    };
    let (status, refreshed) = op("refresh", "");
    assert_eq!(status, 200, "{refreshed}");
    let texts: Vec<&str> = refreshed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "Message")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Hello Ann"], "{refreshed}");
    assert_eq!(op("send", "message=Hi").0, 200);
    assert_eq!(op("customNotice", "message=page%3Dpricing").0, 200);
    let (_, transcript) = h.get(
        &format!("agents/agent1/interactions/{chat_id}/transcript?from=1"),
        None,
    );
    let kinds: Vec<(&str, Option<&str>)> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "Message" || m["type"] == "CustomNotice")
        .map(|m| (m["type"].as_str().unwrap(), m["text"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Message", Some("Hello Ann")),
            ("Message", Some("Hi")),
            ("CustomNotice", Some("page=pricing"))
        ],
        "{transcript}"
    );

    // A wrong key or chat is refused in Chat v2's shape; unknown services are 404.
    let (status, refused) = v2(
        &format!("chat-delay/{chat_id}/send"),
        "secureKey=nope&message=x",
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["statusCode"], 1);
    assert_eq!(refused["errors"][0]["code"], 102);
    assert_eq!(v2("no-such-service", "firstName=X").0, 404);

    // The customer leaves: the chat ends for the agent too once the agent ends it.
    let (status, left) = op("disconnect", "");
    assert_eq!(status, 200, "{left}");
    let (status, _) = h.post(&format!("agents/agent1/interactions/{chat_id}/end"), None);
    assert_eq!(status, 200);
}

#[test]
fn a_chat_v2_customer_over_cometd_is_routed_too() {
    let h = Harness::new();
    h.agent_ready("agent2");
    let replies = h.comet(json!([{"channel": "/meta/handshake", "version": "1.0",
        "supportedConnectionTypes": ["long-polling"]}]));
    let client = replies[0]["clientId"].as_str().unwrap().to_string();
    let channel = "/service/chatV2/chat-delay";
    let replies = h.comet(json!([{"channel": "/meta/subscribe", "clientId": client,
        "subscription": channel}]));
    assert_eq!(replies[0]["successful"], true, "{replies:?}");
    let published = h.comet(json!([{"channel": channel, "clientId": client,
        "data": {"operation": "requestChat", "nickname": "Ann"}}]));
    let answer_in = |replies: &[Value]| {
        replies
            .iter()
            .find(|m| m["channel"] == channel && m["data"]["chatId"].is_string())
            .map(|m| m["data"].clone())
    };
    // The answer comes with the publish's reply or with the next connect.
    let answer = answer_in(&published).unwrap_or_else(|| {
        common::poll_until("the requestChat answer", Duration::from_secs(3), || {
            let replies = h.comet(json!([{"channel": "/meta/connect", "clientId": client,
                "connectionType": "long-polling"}]));
            answer_in(&replies).ok_or_else(|| format!("{published:?} {replies:?}"))
        })
    });
    let offer = h.offered("agent2");
    assert_eq!(offer["interaction"], answer["chatId"], "{offer}");
}
