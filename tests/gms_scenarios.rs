//! Scenarios of the GMS callback application over real HTTP on loopback, beyond the happy
//! paths of `tests/gms.rs`: edited flows loaded from a directory, queue positions with several
//! customers, a customer who never confirms (lapsed reservations, confirmation attempts),
//! multi-target switching (timeout, statistic), skill targets, and the inbound chat script's
//! fallback group.

mod common;

use scxml_callback::GmsConfig;
use scxml_engine::EngineConfig;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DEVICE: &str = "device-scenarios-1";

/// The server under test, with this file's helpers; see [`common::GmsServer`].
type Harness = common::GmsServer;

impl Harness {
    /// A server running the callback application with `config` (quick timeouts for tests).
    fn with(config: GmsConfig) -> Harness {
        let engine = EngineConfig {
            shards: 2,
            ..EngineConfig::default()
        };
        common::GmsServer::launch(config, engine)
    }

    fn parse(toml: &str) -> Harness {
        Harness::with(GmsConfig::parse(toml).unwrap())
    }

    fn post(&self, path: &str, user: Option<&str>) -> (u16, Value) {
        self.gms_form("POST", path, user, None)
    }

    fn get(&self, path: &str, user: Option<&str>) -> (u16, Value) {
        self.gms_form("GET", path, user, None)
    }

    /// Starts a callback of `service` as `device` (each device its own customer number);
    /// returns its id.
    fn start(&self, service: &str, device: &str) -> String {
        let form = format!("_customer_number=555-{device}");
        let (status, created) = self.gms_form(
            "POST",
            &format!("service/callback/{service}"),
            Some(device),
            Some(&form),
        );
        assert_eq!(status, 200, "{created}");
        created["_id"].as_str().unwrap().to_string()
    }

    fn position(&self, id: &str, device: &str) -> Value {
        let (status, position) =
            self.post(&format!("service/{id}/check-queue-position"), Some(device));
        assert_eq!(status, 200, "{position}");
        position
    }

    fn record(&self, id: &str, device: &str) -> Value {
        let (status, record) = self.get(&format!("service/{id}"), Some(device));
        assert_eq!(status, 200, "{record}");
        record
    }

    /// The agent's state object (`{"state": "ready"}`, `{"state": "reserved", "request": ..}`).
    fn agent_state(&self, agent: &str) -> Value {
        let (status, view) = self.get(&format!("agents/{agent}"), None);
        assert_eq!(status, 200, "{view}");
        view["state"].clone()
    }

    fn agent_ready(&self, agent: &str) {
        let (status, view) = self.post(&format!("agents/{agent}/login"), None);
        assert_eq!(status, 200, "{view}");
        let (status, view) = self.post(&format!("agents/{agent}/ready"), None);
        assert_eq!(status, 200, "{view}");
    }

    /// Polls `probe` every 20 ms until `want` holds, for at most `within`.
    fn wait_for(
        &self,
        what: &str,
        within: Duration,
        probe: impl Fn() -> Value,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        common::poll_until(what, within, || {
            let value = probe();
            if want(&value) {
                Ok(value)
            } else {
                Err(value.to_string())
            }
        })
    }

    /// Waits until the service holds an agent (state ROUTING); returns the record.
    fn wait_reserved(&self, id: &str, device: &str, within: Duration) -> Value {
        self.wait_for(
            "a reservation",
            within,
            || self.record(id, device),
            |r| r["_callback_state"] == "ROUTING",
        )
    }
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(dir.join("callback")).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// Replaces the one occurrence of `from` in `text` (fails if the flow no longer has it).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected once in the flow: {from}"
    );
    text.replacen(from, to, 1)
}

fn flow_source(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scxml")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies the shipped flows into a directory with three edits: the start answer's `_text`
/// (chat.scxml), an extra `_virtual_queue` field in the check-queue-position answer (its
/// helper in chat.js), and a `connect` while queued answered 202 instead of refused
/// (chat.scxml).
fn edited_flows() -> TempDir {
    let dir = TempDir::new("gms-scenarios-flows");
    let chat = flow_source("callback/chat.scxml");
    let chat = edit(
        &chat,
        "_text: 'We will notify you when agent is available'",
        "_text: 'An agent will chat with you shortly'",
    );
    let script = edit(
        &flow_source("callback/chat.js"),
        "_total_waiting: d.total_waiting,",
        "_total_waiting: d.total_waiting, _virtual_queue: d.virtual_queue,",
    );
    std::fs::write(dir.0.join("callback/chat.js"), script).unwrap();
    let connect = r#"<transition event="gms.connect" cond="waitForConfirm()">"#;
    let start = chat.find(connect).expect("the queued connect transition");
    let end = start + chat[start..].find("</transition>").unwrap() + "</transition>".len();
    let replacement = format!(
        r#"{connect}
          <script>answer(202, {{_id: service_id, _text: 'Still looking for an agent'}});</script>
        </transition>"#
    );
    let chat = format!("{}{replacement}{}", &chat[..start], &chat[end..]);
    std::fs::write(dir.0.join("callback/chat.scxml"), chat).unwrap();
    std::fs::write(
        dir.0.join("inbound_chat.scxml"),
        flow_source("inbound_chat.scxml"),
    )
    .unwrap();
    dir
}

/// Start, position and an early connect, with the built-in flows or edited ones; then an
/// agent, the confirmation and the chat, which inbound_chat.scxml (from the same place)
/// hands to the callback for routing.
fn walk_through(h: &Harness) -> (Value, Value, (u16, Value)) {
    let (status, created) = h.gms_form(
        "POST",
        "service/callback/chat-delay",
        Some(DEVICE),
        Some("_customer_number=5551234"),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap().to_string();
    let position = h.position(&id, DEVICE);
    let early = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_eq!(h.record(&id, DEVICE)["_callback_state"], "QUEUED");

    h.agent_ready("agent1");
    h.wait_reserved(&id, DEVICE, Duration::from_secs(3));
    let (status, dialog) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_eq!(status, 200, "{dialog}");
    assert_eq!(dialog["_action"], "StartChat");
    let (status, chat) = h.gms_form(
        "POST",
        &format!("service/{id}/ixn/chat"),
        Some(DEVICE),
        Some("firstName=Ann&subject=loans"),
    );
    assert_eq!(status, 200, "{chat}");
    let offers = h.wait_for(
        "the chat offered to agent1",
        Duration::from_secs(3),
        || h.get("agents/agent1/interactions", None).1,
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    );
    assert_eq!(offers[0]["service_id"], id.as_str());
    (created, position, early)
}

#[test]
fn edited_flows_from_documents_dir_change_the_behaviour() {
    // The built-in flows.
    let h = Harness::with(GmsConfig::default_config());
    let (created, position, (status, early)) = walk_through(&h);
    assert_eq!(
        created["_text"],
        "We will notify you when agent is available"
    );
    assert!(position.get("_virtual_queue").is_none(), "{position}");
    assert_eq!(position["_position"], 1);
    assert_eq!(status, 409, "{early}");
    assert_eq!(early["exception"], "AgentNotAvailable");
    drop(h);

    // The same configuration reading edited copies from a directory.
    let dir = edited_flows();
    let mut config = GmsConfig::default_config();
    config.documents_dir = Some(dir.0.clone());
    let h = Harness::with(config);
    let (created, position, (status, early)) = walk_through(&h);
    assert_eq!(created["_text"], "An agent will chat with you shortly");
    assert_eq!(position["_virtual_queue"], "chat_vq");
    assert_eq!(position["_position"], 1);
    assert_eq!(position["_total_waiting"], 1);
    assert_eq!(status, 202, "{early}");
    assert_eq!(early["_text"], "Still looking for an agent");
    // The edited flow is also the one served.
    let (status, served) = h.get("document/service_template/callback/src/chat.scxml", None);
    assert_eq!(status, 200);
    assert!(served
        .as_str()
        .unwrap()
        .contains("An agent will chat with you shortly"));
}

#[test]
fn queue_positions_with_several_waiting_customers() {
    let h = Harness::with(GmsConfig::default_config());
    let devices = ["device-a", "device-b", "device-c"];
    let ids: Vec<String> = devices.iter().map(|d| h.start("chat-delay", d)).collect();
    // Each start is answered once its request is queued.
    for (i, (id, device)) in ids.iter().zip(devices).enumerate() {
        let position = h.position(id, device);
        assert_eq!(position["_position"], i + 1, "{position}");
        assert_eq!(position["_total_waiting"], 3, "{position}");
        assert_eq!(position["_eta"], "n/a", "{position}");
    }

    // The first cancels: the others move up.
    let (status, record) = h.gms_form(
        "DELETE",
        &format!("service/callback/chat-delay/{}", ids[0]),
        Some(devices[0]),
        None,
    );
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_reason"], "CANCELLED");
    // Answered once dequeued.
    for (i, (id, device)) in ids.iter().zip(devices).enumerate().skip(1) {
        let position = h.position(id, device);
        assert_eq!(position["_position"], i, "{position}");
        assert_eq!(position["_total_waiting"], 2, "{position}");
    }

    // An agent: reserved for the new first, which stays first in line (served next); the
    // last is behind it, as the admin queue listing shows too.
    h.agent_ready("agent1");
    let record = h.wait_reserved(&ids[1], devices[1], Duration::from_secs(3));
    assert_eq!(record["_agent"], "agent1");
    let position = h.position(&ids[1], devices[1]);
    assert_eq!(position["_position"], 1, "{position}");
    let position = h.position(&ids[2], devices[2]);
    assert_eq!(position["_position"], 2, "{position}");
    assert_eq!(position["_total_waiting"], 2, "{position}");
    let (status, queues) = h.get("admin/callback/queues", None);
    assert_eq!(status, 200, "{queues}");
    let listed: Vec<(Value, Value)> = queues["chat_vq"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["_id"].clone(), r["_position"].clone()))
        .collect();
    assert_eq!(
        listed,
        [(json!(ids[1]), json!(1)), (json!(ids[2]), json!(2))],
        "{queues}"
    );
    assert_eq!(h.record(&ids[2], devices[2])["_callback_state"], "QUEUED");
}

/// A flow's answers leave after the effects of the same macrostep: `start` is answered once
/// the request is queued, and `DELETE` once it is dequeued, so no waiting is needed.
#[test]
fn a_cancel_answer_comes_after_the_dequeue() {
    for round in 0..10 {
        let h = Harness::with(GmsConfig::default_config());
        let first = h.start("chat-delay", "device-a");
        let second = h.start("chat-delay", "device-b");
        let position = h.position(&second, "device-b");
        assert_eq!(position["_position"], 2, "round {round}: {position}");
        assert_eq!(position["_total_waiting"], 2, "round {round}: {position}");
        let (status, _) = h.gms_form(
            "DELETE",
            &format!("service/callback/chat-delay/{first}"),
            Some("device-a"),
            None,
        );
        assert_eq!(status, 200);
        let position = h.position(&second, "device-b");
        assert_eq!(position["_position"], 1, "round {round}: {position}");
        assert_eq!(position["_total_waiting"], 1, "round {round}: {position}");
    }
}

const SHORT_HOLD: &str = r#"
    [services.short-hold]
    scenario = "chat-delayed"
    _target = "Hold@StatServer.GA"
    _agent_reserve_timeout = 0.5
    [[routing.agents]]
    id = "holder"
    groups = ["Hold"]
"#;

/// Takes the notifications kept for the device (no push provider is set up for it).
fn take_notifications(h: &Harness, id: &str) -> Vec<Value> {
    let (status, list) = h.post(
        &format!("service/{id}/retrieve-notifications"),
        Some(DEVICE),
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// Waits for the next agent-available notification of a service.
fn wait_agent_available(h: &Harness, id: &str, within: Duration) {
    let notifications = h.wait_for(
        "an agent-available notification",
        within,
        || json!(take_notifications(h, id)),
        |list| !list.as_array().unwrap().is_empty(),
    );
    assert_eq!(
        notifications,
        json!([{"_id": id, "_action": "get-dialog-user-confirmation-provide_code-false"}])
    );
}

#[test]
fn an_unconfirmed_reservation_lapses_after_agent_reserve_timeout() {
    let h = Harness::parse(SHORT_HOLD);
    let id = h.start("short-hold", DEVICE);
    h.agent_ready("holder");
    let reserved_at = Instant::now();
    let record = h.wait_reserved(&id, DEVICE, Duration::from_secs(2));
    assert_eq!(record["_agent"], "holder");
    wait_agent_available(&h, &id, Duration::from_secs(1));

    // The customer never confirms: after 0.5 s the reservation ends. With nobody else
    // waiting, the agent is held again for the same customer, who hears so again.
    wait_agent_available(&h, &id, Duration::from_secs(2));
    assert!(reserved_at.elapsed() >= Duration::from_millis(450));
    assert_eq!(
        h.agent_state("holder"),
        json!({"state": "reserved", "request": id})
    );
    // The customer confirms late: the renewed reservation still works.
    let (status, dialog) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_eq!(status, 200, "{dialog}");
    assert_eq!(dialog["_action"], "StartChat");
}

#[test]
fn a_lapsed_reservation_goes_to_the_next_customer() {
    let h = Harness::parse(SHORT_HOLD);
    let first = h.start("short-hold", "device-first");
    h.agent_ready("holder");
    let record = h.wait_reserved(&first, "device-first", Duration::from_secs(2));
    assert_eq!(record["_agent"], "holder");
    let second = h.start("short-hold", "device-second");
    assert_eq!(h.position(&second, "device-second")["_position"], 2);

    // The first never confirms: after 0.5 s the agent is released and goes to the second.
    let started = Instant::now();
    let state = h.wait_for(
        "the agent held for the second customer",
        Duration::from_secs(2),
        || h.agent_state("holder"),
        |s| s["request"] == second.as_str(),
    );
    assert_eq!(state["state"], "reserved");
    assert!(started.elapsed() < Duration::from_secs(1));
    let record = h.record(&second, "device-second");
    assert_eq!(record["_callback_state"], "ROUTING");
    assert_eq!(record["_agent"], "holder");
    assert_eq!(h.record(&first, "device-first")["_agent"], Value::Null);
}

/// A service `multi` whose `_target` is the JSON list of `steps` over the groups First
/// (agent first1, logged in but not ready) and Second (agent second1, ready).
fn two_target_service(steps: &str) -> Harness {
    let h = Harness::parse(&format!(
        r#"
        [services.multi]
        scenario = "chat-delayed"
        _target = '[{steps}]'
        [[routing.agents]]
        id = "first1"
        groups = ["First"]
        [[routing.agents]]
        id = "second1"
        groups = ["Second"]
        "#
    ));
    let (status, view) = h.post("agents/first1/login", None);
    assert_eq!(status, 200, "{view}");
    h.agent_ready("second1");
    h
}

#[test]
fn multi_target_switches_to_the_second_target_after_its_timeout() {
    let h = two_target_service(
        r#"{"target": "First@StatServer.GA", "timeout": 1}, {"target": "Second@StatServer.GA", "clear": true}"#,
    );
    let started = Instant::now();
    let id = h.start("multi", DEVICE);

    // While the first target is current, the ready agent of the second is not taken.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(h.record(&id, DEVICE)["_callback_state"], "QUEUED");
    assert_eq!(h.agent_state("second1"), json!({"state": "ready"}));

    let record = h.wait_reserved(&id, DEVICE, Duration::from_secs(2));
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(record["_agent"], "second1");
    assert_eq!(
        h.agent_state("second1"),
        json!({"state": "reserved", "request": id})
    );
    assert_eq!(h.agent_state("first1")["state"], "not_ready");
}

#[test]
fn a_skill_expression_target_takes_only_matching_agents() {
    let h = Harness::parse(
        r#"
        [services.english]
        scenario = "chat-delayed"
        _target = "?:English>=7@StatServer.GA"
        [[routing.agents]]
        id = "novice"
        skills = { English = 5 }
        [[routing.agents]]
        id = "fluent"
        skills = { English = 8 }
        "#,
    );
    let id = h.start("english", DEVICE);
    h.agent_ready("novice");
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(h.record(&id, DEVICE)["_callback_state"], "QUEUED");
    assert_eq!(h.agent_state("novice"), json!({"state": "ready"}));

    h.agent_ready("fluent");
    let record = h.wait_reserved(&id, DEVICE, Duration::from_secs(2));
    assert_eq!(record["_agent"], "fluent");
    assert_eq!(
        h.agent_state("fluent"),
        json!({"state": "reserved", "request": id})
    );
    assert_eq!(h.agent_state("novice"), json!({"state": "ready"}));
}

#[test]
fn multi_target_skips_a_target_by_its_statistic() {
    // No agent of First is ready (RStatAgentsReady < 1): First is skipped at once rather than
    // waited on for its 30 s, and the ready agent of Second is taken.
    let h = two_target_service(
        r#"{"target": "First@StatServer.GA", "timeout": 30, "stat_to_check": "RStatAgentsReady", "stat_operator": "<", "stat_value": "1"}, {"target": "Second@StatServer.GA"}"#,
    );
    let started = Instant::now();
    let skipped = h.start("multi", "device-skipped");
    let record = h.wait_reserved(&skipped, "device-skipped", Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(record["_agent"], "second1");
    assert_eq!(
        h.agent_state("second1"),
        json!({"state": "reserved", "request": skipped})
    );
    assert_eq!(h.agent_state("first1")["state"], "not_ready");

    // With an agent of First ready the statistic does not hold: First is used (Second's only
    // agent is held anyway).
    h.agent_ready("first1");
    let used = h.start("multi", "device-used");
    let record = h.wait_reserved(&used, "device-used", Duration::from_secs(2));
    assert_eq!(record["_agent"], "first1");
}

/// One agent and two chat-delayed services whose customers get 0.3 s per confirmation
/// attempt and two attempts; then one service fails, the other connects anyway.
const NO_CONFIRM: &str = r#"
    [services.confirm-or-fail]
    scenario = "chat-delayed"
    _target = "Hold@StatServer.GA"
    _user_confirm_timeout = 0.3
    _max_number_of_user_availability_confirmation_attempts = 2
    _on_user_confirm_timeout = "FAIL"
    [services.confirm-or-connect]
    scenario = "chat-delayed"
    _target = "Hold@StatServer.GA"
    _user_confirm_timeout = 0.3
    _max_number_of_user_availability_confirmation_attempts = 2
    [[routing.agents]]
    id = "holder"
    groups = ["Hold"]
"#;

#[test]
fn a_customer_who_never_confirms_fails_after_the_last_attempt() {
    let h = Harness::parse(NO_CONFIRM);
    let id = h.start("confirm-or-fail", DEVICE);
    h.agent_ready("holder");
    wait_agent_available(&h, &id, Duration::from_secs(2));
    let first_push = Instant::now();

    // No connect within 0.3 s: notified again, the agent still held.
    wait_agent_available(&h, &id, Duration::from_secs(2));
    assert!(first_push.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        h.agent_state("holder"),
        json!({"state": "reserved", "request": id})
    );
    assert_eq!(h.record(&id, DEVICE)["_callback_state"], "ROUTING");

    // None after the last attempt either: the service ends and the agent is free.
    let record = h.wait_for(
        "the service to fail",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "COMPLETED",
    );
    assert!(first_push.elapsed() >= Duration::from_millis(500));
    assert_eq!(record["_callback_reason"], "FAIL_USER_NO_CONFIRM");
    assert_eq!(record["_agent"], Value::Null);
    assert!(take_notifications(&h, &id).is_empty());
    let (status, late) = h.post(&format!("service/{id}/connect"), Some(DEVICE));
    assert_eq!(status, 409, "{late}");
    h.wait_for(
        "the agent released",
        Duration::from_secs(1),
        || h.agent_state("holder"),
        |s| s["state"] == "ready",
    );

    // The next customer gets the agent.
    let next = h.start("confirm-or-fail", "device-next");
    let record = h.wait_reserved(&next, "device-next", Duration::from_secs(2));
    assert_eq!(record["_agent"], "holder");
}

#[test]
fn a_customer_who_never_confirms_is_connected_anyway() {
    let h = Harness::parse(NO_CONFIRM);
    let id = h.start("confirm-or-connect", DEVICE);
    h.agent_ready("holder");
    wait_agent_available(&h, &id, Duration::from_secs(2));
    let chat = |h: &Harness| {
        h.gms_form(
            "POST",
            &format!("service/{id}/ixn/chat"),
            Some(DEVICE),
            Some("firstName=Ann"),
        )
    };
    // While attempts remain, the chat waits for the confirmation.
    let (status, refused) = chat(&h);
    assert_eq!(status, 409, "{refused}");
    wait_agent_available(&h, &id, Duration::from_secs(2));

    // After the last attempt the service goes on as if confirmed, with the agent still held:
    // the chat may start and is routed to it.
    let (status, accepted) = h
        .wait_for(
            "the chat accepted",
            Duration::from_secs(2),
            || json!(chat(&h)),
            |answer| answer[0] == 200,
        )
        .as_array()
        .map(|a| (a[0].clone(), a[1].clone()))
        .unwrap();
    assert_eq!(status, 200, "{accepted}");
    let record = h.wait_for(
        "the chat routed",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "PROCESSING",
    );
    assert_eq!(record["_agent"], "holder");
    let (_, offers) = h.get("agents/holder/interactions", None);
    assert_eq!(offers[0]["service_id"], id.as_str());
    assert_eq!(offers[0]["interaction"], record["_interaction"]);
    assert!(take_notifications(&h, &id).is_empty());
}

/// A chat-immediate service whose target has no agent available, and a fallback group;
/// app_find_agent_timeout is 0.5 s.
const FALLBACK: &str = r#"
    [services.lonely]
    scenario = "chat-immediate"
    _target = "Nobody@StatServer.GA"
    app_find_agent_timeout = 0.5
    app_selected_agent_group = "Backup"
    [[routing.agents]]
    id = "absent"
    groups = ["Nobody"]
    [[routing.agents]]
    id = "backup1"
    groups = ["Backup"]
"#;

/// Starts a chat-immediate callback and its chat; returns the service id.
fn start_immediate_chat(h: &Harness) -> String {
    start_chat(h, "lonely", "_customer_number=5551234", "firstName=Ann")
}

/// Starts an immediate-chat callback of `service` with the create `form`, then its chat with
/// the chat `form`; returns the service id.
fn start_chat(h: &Harness, service: &str, form: &str, chat_form: &str) -> String {
    let (status, created) = h.gms_form(
        "POST",
        &format!("service/callback/{service}"),
        Some(DEVICE),
        Some(form),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["_action"], "StartChat");
    let id = created["_id"].as_str().unwrap().to_string();
    let (status, chat) = h.gms_form(
        "POST",
        &format!("service/{id}/ixn/chat"),
        Some(DEVICE),
        Some(chat_form),
    );
    assert_eq!(status, 200, "{chat}");
    id
}

#[test]
fn a_chat_the_target_cannot_take_in_time_goes_to_the_fallback_group() {
    let h = Harness::parse(FALLBACK);
    h.agent_ready("backup1");
    let started = Instant::now();
    let id = start_immediate_chat(&h);
    let record = h.wait_for(
        "the chat delegated to the service",
        Duration::from_secs(1),
        || h.record(&id, DEVICE),
        |r| r["_interaction"].is_string(),
    );
    let interaction = record["_interaction"].clone();
    // The service keeps the chat while it looks for an agent of its own target.
    assert_eq!(record["_callback_state"], "QUEUED");
    assert_eq!(h.agent_state("backup1"), json!({"state": "ready"}));

    // After app_find_agent_timeout the chat goes to the group's agent.
    let offers = h.wait_for(
        "the chat offered to backup1",
        Duration::from_secs(2),
        || h.get("agents/backup1/interactions", None).1,
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    );
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert_eq!(offers[0]["interaction"], interaction);
    // The desktop names the callback service, not the inbound script that routed it.
    assert_eq!(offers[0]["service_id"], id.as_str());
    let record = h.wait_for(
        "the service processing",
        Duration::from_secs(1),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "PROCESSING",
    );
    assert_eq!(record["_agent"], "backup1");
    // The target's agent coming ready later is not taken: the service left the queue.
    h.agent_ready("absent");
    assert_eq!(h.agent_state("absent"), json!({"state": "ready"}));

    // The agent ends the chat: the service completes.
    let ixn = interaction.as_str().unwrap();
    let (status, ended) = h.post(&format!("agents/backup1/interactions/{ixn}/end"), None);
    assert_eq!(status, 200, "{ended}");
    let record = h.wait_for(
        "the service completed",
        Duration::from_secs(1),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "COMPLETED",
    );
    assert_eq!(record["_callback_reason"], "AGENT_CONNECTED");
    assert_eq!(record["_agent"], "backup1");
}

#[test]
fn a_chat_nobody_takes_in_time_ends_the_service() {
    let h = Harness::parse(FALLBACK);
    let (status, view) = h.post("agents/backup1/login", None);
    assert_eq!(status, 200, "{view}");
    let started = Instant::now();
    let id = start_immediate_chat(&h);

    // app_find_agent_timeout on the target, then again on the fallback group.
    let record = h.wait_for(
        "the service to give up",
        Duration::from_secs(3),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "COMPLETED",
    );
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(record["_callback_reason"], "FAIL_AGENT_CONNECT");
    assert_eq!(record["_agent"], Value::Null);
    // The customer's chat is closed with a word, not left open.
    let transcript = h.wait_for(
        "the chat to be closed",
        Duration::from_secs(2),
        || {
            let path = format!("service/{id}/ixn/chat/refresh");
            h.gms_form("POST", &path, Some(DEVICE), Some("transcriptPosition=1"))
                .1
        },
        |t| t["chatEnded"] == true,
    );
    let notices: Vec<&Value> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "Notice")
        .collect();
    assert_eq!(notices.len(), 1, "{transcript}");
    assert_eq!(notices[0]["from"]["type"], "External");
    assert!(notices[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("No agent is available"));
    // Nobody waits for an agent any more.
    h.agent_ready("backup1");
    h.agent_ready("absent");
    assert_eq!(h.agent_state("backup1"), json!({"state": "ready"}));
    assert_eq!(h.agent_state("absent"), json!({"state": "ready"}));
}

#[test]
fn a_create_without_a_mandatory_lookup_key_is_refused_with_fail_no_customer_number() {
    let h = Harness::parse(
        r#"
        [services.by-number]
        scenario = "chat-delayed"
        _target = "Chat@StatServer.GA"
        [services.by-account]
        scenario = "chat-delayed"
        _target = "Chat@StatServer.GA"
        _mandatory_customer_lookup_keys = "_customer_number, usr_account"
        [services.anonymous]
        scenario = "chat-delayed"
        _target = "Chat@StatServer.GA"
        _mandatory_customer_lookup_keys = ""
        "#,
    );
    let create = |service: &str, form: &str| {
        h.gms_form(
            "POST",
            &format!("service/callback/{service}"),
            Some(DEVICE),
            Some(form),
        )
    };
    // The default: _customer_number, absent or blank.
    for form in ["", "_customer_number=", "_customer_number=%20%20&usr_x=1"] {
        let (status, body) = create("by-number", form);
        assert_eq!(status, 400, "{form}: {body}");
        assert_eq!(body["_callback_reason"], "FAIL_NO_CUSTOMER_NUMBER");
        assert_eq!(body["exception"], "CallbackExceptionMissingParameter");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("_customer_number"),
            "{body}"
        );
    }
    // Nothing was left behind: no record, no session waiting.
    let (_, all) = h.get("service/callback/by-number", None);
    assert_eq!(all, json!([]), "{all}");
    assert_eq!(create("by-number", "_customer_number=5551234").0, 200);

    // Every key of the list is needed.
    let (status, body) = create("by-account", "_customer_number=5551234");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("usr_account"),
        "{body}"
    );
    assert_eq!(
        create("by-account", "_customer_number=5551234&usr_account=A-17").0,
        200
    );

    // An empty list asks for none.
    assert_eq!(create("anonymous", "").0, 200);
}

#[test]
fn a_callback_queued_past_urs_queued_ttl_fails_queueing_not_ttl() {
    let h = Harness::parse(
        r#"
        [services.short-queue]
        scenario = "chat-delayed"
        _target = "Idle@StatServer.GA"
        _urs_queued_ttl = 1
        [[routing.agents]]
        id = "never-ready"
        groups = ["Idle"]
        "#,
    );
    let id = h.start("short-queue", DEVICE);
    let record = h.wait_for(
        "the queue to give up",
        Duration::from_secs(5),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "COMPLETED",
    );
    assert_eq!(record["_callback_reason"], "FAIL_QUEUEING", "{record}");
}

#[test]
fn a_flow_error_ends_the_service_with_fail_error_and_answers_the_waiting_request() {
    // The shipped flow with a helper that throws when asked for the queue position.
    let dir = TempDir::new("gms-scenarios-failing");
    let script = format!(
        "{}\nfunction position(d) {{ throw new Error('the position helper is broken'); }}\n",
        flow_source("callback/chat.js")
    );
    std::fs::write(dir.0.join("callback/chat.js"), script).unwrap();
    let mut config = GmsConfig::default_config();
    config.documents_dir = Some(dir.0.clone());
    let h = Harness::with(config);
    let id = h.start("chat-delay", DEVICE);

    let asked = Instant::now();
    let (status, body) = h.post(&format!("service/{id}/check-queue-position"), Some(DEVICE));
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["_callback_reason"], "FAIL_ERROR", "{body}");
    assert_eq!(body["exception"], "FlowError", "{body}");
    // Answered at once, not after the exchange timeout.
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let record = h.record(&id, DEVICE);
    assert_eq!(
        (&record["_callback_state"], &record["_callback_reason"]),
        (&json!("COMPLETED"), &json!("FAIL_ERROR")),
        "{record}"
    );
    // The dead service holds nothing: it is out of the queue.
    let (status, queue) = h.get("admin/callback/queues", None);
    assert_eq!(status, 200, "{queue}");
    assert!(!queue.to_string().contains(&id), "{queue}");
}

#[test]
fn the_customers_user_data_reaches_the_agent_with_the_chat() {
    let h = Harness::parse(
        r#"
        [services.packed]
        scenario = "chat-immediate"
        _target = "Desk@StatServer.GA"
        [services.separate]
        scenario = "chat-immediate"
        _target = "Desk@StatServer.GA"
        _attach_udata = "separate_keys"
        [services.private]
        scenario = "chat-immediate"
        _target = "Desk@StatServer.GA"
        _attach_udata = "none"
        [[routing.agents]]
        id = "desk"
        groups = ["Desk"]
        "#,
    );
    h.agent_ready("desk");
    let mut seen = Vec::new();
    for service in ["packed", "separate", "private"] {
        let id = start_chat(
            &h,
            service,
            "_customer_number=5551234&usr_customer_name=John%20Hill&usr_reason=loans",
            "firstName=John",
        );
        let offers = h.wait_for(
            "the chat offered to the agent",
            Duration::from_secs(3),
            || h.get("agents/desk/interactions", None).1,
            |v| {
                v.as_array()
                    .is_some_and(|a| a.iter().any(|o| o["service_id"] == id.as_str()))
            },
        );
        let offer = offers
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["service_id"] == id.as_str())
            .unwrap()
            .clone();
        seen.push(offer["chat"]["userData"].clone());
        // Done with this one: the agent ends it and is free for the next.
        let ixn = offer["interaction"].as_str().unwrap();
        let (status, ended) = h.post(&format!("agents/desk/interactions/{ixn}/end"), None);
        assert_eq!(status, 200, "{ended}");
        h.wait_for(
            "the agent free again",
            Duration::from_secs(3),
            || h.agent_state("desk"),
            |s| s["state"] == "ready",
        );
    }
    let packed = &seen[0];
    let json: Value = serde_json::from_str(packed["GMS_UserData"].as_str().unwrap()).unwrap();
    assert_eq!(
        json,
        json!({"usr_customer_name": "John Hill", "usr_reason": "loans"}),
        "{packed}"
    );
    assert_eq!(seen[1]["usr_customer_name"], "John Hill", "{}", seen[1]);
    assert_eq!(seen[1]["usr_reason"], "loans");
    assert!(seen[1].get("GMS_UserData").is_none());
    // Whatever the option, the chat names its service; with "none" nothing else.
    let keys: Vec<&String> = seen[2].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["_service_id"], "{}", seen[2]);
}

#[test]
fn throttles_bound_new_callbacks_per_service_and_per_customer() {
    let h = Harness::parse(
        r#"
        [services.busy]
        scenario = "chat-delayed"
        _target = "Chat@StatServer.GA"
        _throttle_callbacks_per_service_1 = 3
        _throttle_ttl_1 = 60
        _throttle_request_parameters_limit = 1
        [[routing.agents]]
        id = "nobody-yet"
        groups = ["Chat"]
        "#,
    );
    let http = common::http_agent();
    let create = |number: &str| {
        let mut response = http
            .post(&h.url("/genesys/1/service/callback/busy"))
            .header("gms_user", DEVICE)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(format!("_customer_number={number}"))
            .unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        (response.status().as_u16(), retry_after, body)
    };
    assert_eq!(create("5550001").0, 200);
    // The same customer again within the hour.
    let (status, retry_after, body) = create("5550001");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["exception"], "CallbackExceptionThrottled");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("same _customer_number"),
        "{body}"
    );
    assert!(
        retry_after.is_some_and(|s| s > 3000 && s <= 3600),
        "{retry_after:?}"
    );
    // Others, up to the service's three a minute.
    assert_eq!(create("5550002").0, 200);
    assert_eq!(create("5550003").0, 200);
    let (status, retry_after, body) = create("5550004");
    assert_eq!(status, 429, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("3 callbacks in the last 60 s"),
        "{body}"
    );
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );
    // Nothing was created for the refused ones.
    let (_, all) = h.get("service/callback/busy", None);
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
}

const TWO_DESKS: &str = r#"
    [services.desk]
    scenario = "chat-immediate"
    _target = "Desk@StatServer.GA"
    [services.picky]
    scenario = "chat-immediate"
    _target = "Desk@StatServer.GA"
    _max_transfer_to_agent_attempts = 1
    [[routing.agents]]
    id = "desk1"
    groups = ["Desk"]
    [[routing.agents]]
    id = "desk2"
    groups = ["Desk"]
"#;

/// Starts an immediate chat callback of `service` with its chat; returns the service id.
fn start_desk_chat(h: &Harness, service: &str) -> String {
    start_chat(h, service, "_customer_number=5551234", "firstName=Ann")
}

/// Waits until `agent` is offered an interaction; returns its id.
fn offered_to(h: &Harness, agent: &str) -> String {
    let offers = h.wait_for(
        "an offer",
        Duration::from_secs(3),
        || h.get(&format!("agents/{agent}/interactions"), None).1,
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    );
    offers[0]["interaction"].as_str().unwrap().to_string()
}

#[test]
fn an_agent_who_turns_a_chat_down_sends_it_to_the_next_agent() {
    let h = Harness::parse(TWO_DESKS);
    h.agent_ready("desk1");
    let id = start_desk_chat(&h, "desk");
    let ixn = offered_to(&h, "desk1");
    let (status, view) = h.post(&format!("agents/desk1/interactions/{ixn}/reject"), None);
    assert_eq!(status, 200, "{view}");
    // The agent who said no is not offered the next one at once.
    assert_eq!(view["state"], json!({"state": "not_ready"}), "{view}");
    let record = h.wait_for(
        "the callback queued again",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "QUEUED",
    );
    assert_eq!(record["_agent"], Value::Null, "{record}");
    assert_eq!(record["_interaction"], ixn.as_str(), "{record}");

    // The next agent gets the same chat, and may not turn it down once accepted.
    h.agent_ready("desk2");
    assert_eq!(offered_to(&h, "desk2"), ixn);
    let record = h.wait_for(
        "the chat with desk2",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "PROCESSING",
    );
    assert_eq!(record["_agent"], "desk2");
    let (status, _) = h.post(&format!("agents/desk2/interactions/{ixn}/accept"), None);
    assert_eq!(status, 200);
    let (status, body) = h.post(&format!("agents/desk2/interactions/{ixn}/reject"), None);
    assert_eq!(status, 409, "{body}");
    // Nor turn down what it was never offered.
    let (status, _) = h.post("agents/desk1/interactions/nope/reject", None);
    assert_eq!(status, 404);
}

#[test]
fn past_max_transfer_attempts_the_service_gives_up_and_closes_the_chat() {
    let h = Harness::parse(TWO_DESKS);
    h.agent_ready("desk1");
    let id = start_desk_chat(&h, "picky");
    let ixn = offered_to(&h, "desk1");
    let (status, _) = h.post(&format!("agents/desk1/interactions/{ixn}/reject"), None);
    assert_eq!(status, 200);
    let record = h.wait_for(
        "the service to give up",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "COMPLETED",
    );
    assert_eq!(record["_callback_reason"], "FAIL_AGENT_CONNECT", "{record}");
    // The customer's chat was closed with a word.
    let transcript = h.wait_for(
        "the chat closed",
        Duration::from_secs(2),
        || {
            h.gms_form(
                "POST",
                &format!("service/{id}/ixn/chat/refresh"),
                Some(DEVICE),
                Some("transcriptPosition=1"),
            )
            .1
        },
        |t| t["chatEnded"] == true,
    );
    assert!(
        transcript.to_string().contains("No agent is available now"),
        "{transcript}"
    );
}

#[test]
fn a_chat_the_fallback_groups_agent_turns_down_goes_to_another_of_the_group() {
    let config = format!("{FALLBACK}[[routing.agents]]\nid = \"backup2\"\ngroups = [\"Backup\"]\n");
    let h = Harness::parse(&config);
    h.agent_ready("backup1");
    let id = start_immediate_chat(&h);
    let ixn = offered_to(&h, "backup1");
    h.wait_for(
        "the service processing",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_agent"] == "backup1",
    );
    let (status, _) = h.post(&format!("agents/backup1/interactions/{ixn}/reject"), None);
    assert_eq!(status, 200);
    // Back to looking among the group (ROUTING, no agent) until backup2 comes.
    h.wait_for(
        "the service waiting for the group again",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "ROUTING" && r["_agent"].is_null(),
    );
    h.agent_ready("backup2");
    assert_eq!(offered_to(&h, "backup2"), ixn);
    let record = h.wait_for(
        "the chat with backup2",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "PROCESSING",
    );
    assert_eq!(record["_agent"], "backup2", "{record}");
}

#[test]
fn the_agent_ends_with_a_disposition_and_wraps_up_before_the_next_chat() {
    // [routing] keys come before its [[routing.agents]] tables.
    let config = TWO_DESKS.replacen(
        "    [[routing.agents]]",
        "    [routing]\n    wrap_up_secs = 30\n    [[routing.agents]]",
        1,
    );
    let h = Harness::parse(&config);
    h.agent_ready("desk1");
    let id = start_desk_chat(&h, "desk");
    let ixn = offered_to(&h, "desk1");
    let (status, _) = h.post(&format!("agents/desk1/interactions/{ixn}/accept"), None);
    assert_eq!(status, 200);
    // A short wrap-up of its own, and how it went.
    let (status, ended) = h.gms_form(
        "POST",
        &format!("agents/desk1/interactions/{ixn}/end"),
        None,
        Some("disposition=SALE&wrap_up_secs=0.4"),
    );
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        ended["agent_state"],
        json!({"state": "wrap_up", "interaction": ixn})
    );
    let record = h.wait_for(
        "the service completed",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "COMPLETED",
    );
    assert_eq!(record["_disposition"], "SALE", "{record}");
    assert_eq!(record["_callback_reason"], "AGENT_CONNECTED");
    // In wrap-up the agent takes no new chat; after it, the agent is ready and takes one.
    let next = start_desk_chat(&h, "desk");
    assert_eq!(h.record(&next, DEVICE)["_agent"], Value::Null);
    let waited = Instant::now();
    let second = offered_to(&h, "desk1");
    assert_ne!(second, ixn);
    assert!(
        waited.elapsed() >= Duration::from_millis(200),
        "{:?}",
        waited.elapsed()
    );

    // The configured 30 s applies when the desktop names none; ready ends it early.
    let ixn = second;
    let (status, ended) = h.post(&format!("agents/desk1/interactions/{ixn}/end"), None);
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["agent_state"]["state"], "wrap_up");
    assert_eq!(h.agent_state("desk1")["state"], "wrap_up");
    let (status, view) = h.post("agents/desk1/ready", None);
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["state"], json!({"state": "ready"}));
    // Bad fields are refused, and nothing ends.
    let (status, _) = h.gms_form(
        "POST",
        "agents/desk1/interactions/none/end",
        None,
        Some("wrap_up_secs=-1"),
    );
    assert_eq!(status, 400);
}

#[test]
fn a_flow_edit_that_breaks_the_record_contract_is_refused_with_the_field() {
    // An edit of the shipped flow that writes its states in lower case: the queries by
    // state would silently find nothing.
    let dir = TempDir::new("gms-scenarios-contract");
    let script = format!(
        "{}\nfunction record() {{ return {{_id: service_id, _service_name: service_name, \
         _callback_state: callback_state.toLowerCase(), _callback_reason: callback_reason}}; }}\n",
        flow_source("callback/chat.js")
    );
    std::fs::write(dir.0.join("callback/chat.js"), script).unwrap();
    let mut config = GmsConfig::default_config();
    config.documents_dir = Some(dir.0.clone());
    let h = Harness::with(config);
    let asked = Instant::now();
    let (status, body) = h.gms_form(
        "POST",
        "service/callback/chat-delay",
        Some(DEVICE),
        Some("_customer_number=5551234"),
    );
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["exception"], "FlowError");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("_callback_state \"queued\" is not one of SCHEDULED, QUEUED"),
        "{message}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // Nothing half-made is left: no record, no session of the service.
    let (_, all) = h.get("service/callback/chat-delay", None);
    assert_eq!(all, json!([]), "{all}");
}

#[test]
fn an_offer_nobody_accepts_in_time_goes_back_to_the_queue() {
    let config = TWO_DESKS.replacen(
        "    [[routing.agents]]",
        "    [routing]\n    accept_timeout_secs = 0.4\n    [[routing.agents]]",
        1,
    );
    let h = Harness::parse(&config);
    h.agent_ready("desk1");
    let id = start_desk_chat(&h, "desk");
    let ixn = offered_to(&h, "desk1");
    let offered = Instant::now();
    // desk1 never answers: after 0.4 s it is not-ready and the chat waits again.
    let state = h.wait_for(
        "the offer taken back",
        Duration::from_secs(3),
        || h.agent_state("desk1"),
        |s| s["state"] == "not_ready",
    );
    assert_eq!(state, json!({"state": "not_ready"}));
    assert!(offered.elapsed() >= Duration::from_millis(350));
    h.wait_for(
        "the callback queued again",
        Duration::from_secs(2),
        || h.record(&id, DEVICE),
        |r| r["_callback_state"] == "QUEUED",
    );
    h.agent_ready("desk2");
    assert_eq!(offered_to(&h, "desk2"), ixn);
}
