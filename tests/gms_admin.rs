//! The queries over callback services and scheduled callbacks, over real HTTP on loopback:
//! callbacks by properties, outstanding callbacks by virtual queue, free time slots,
//! scheduling and rescheduling, and the service index surviving a restart.

mod common;

use scxml_callback::time::{format_iso, now_ms, parse_iso};
use scxml_callback::GmsConfig;
use scxml_engine::EngineConfig;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const DEVICE: &str = "device-admin-1";
const HOUR_MS: i64 = 3_600_000;

/// Two chat-delay services on their own virtual queues; `sched` books at most two callbacks
/// per hour, up to two days ahead, and queues them one second before their time (and takes
/// any number of callbacks for one customer); `short` forgets completed callbacks quickly;
/// `limited` takes one outstanding callback per number and three in all.
const CONFIG: &str = r#"
    [services.sched]
    scenario = "chat-delayed"
    _target = "agent1@StatServer.A"
    _urs_virtual_queue = "sched_vq"
    _request_time_bucket = 60
    _max_request_by_time_bucket = 2
    _request_execution_time_buffer = 1
    _reject_future_desired_time = "2d"
    _enable_in_queue_checking = false

    [services.limited]
    scenario = "chat-delayed"
    _target = "agent2@StatServer.A"
    _enable_in_queue_checking = "strict"
    _max_queued_callbacks_per_service = 3

    [services.short]
    scenario = "chat-delayed"
    _target = "agent2@StatServer.A"
    _urs_virtual_queue = "short_vq"
    _ttl = 0.5

    [services.now]
    scenario = "chat-immediate"
    _target = "agent2@StatServer.A"

    [[routing.agents]]
    id = "agent1"
    [[routing.agents]]
    id = "agent2"
"#;

/// The server under test, with this file's helpers; see [`common::GmsServer`].
type Harness = common::GmsServer;

impl Harness {
    fn new() -> Harness {
        Harness::with(EngineConfig {
            shards: 2,
            ..EngineConfig::default()
        })
    }

    fn with(engine: EngineConfig) -> Harness {
        common::GmsServer::launch(GmsConfig::parse(CONFIG).unwrap(), engine)
    }

    /// Cancels a callback (DELETE) as its device.
    fn cancel(&self, id: &str) {
        let (status, body) = self.gms_form("DELETE", &format!("service/{id}"), Some(DEVICE), None);
        assert_eq!(status, 200, "{body}");
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.gms_form("GET", path, None, None)
    }

    /// Creates a callback of `service` with the form `form`; returns its id.
    fn start(&self, service: &str, form: &str) -> String {
        let (status, created) = self.create(service, form);
        assert_eq!(status, 200, "{created}");
        created["_id"].as_str().unwrap().to_string()
    }

    /// Creates a callback; a form without `_customer_number` (mandatory) gets a fresh one,
    /// so the per-number queue check never interferes.
    fn create(&self, service: &str, form: &str) -> (u16, Value) {
        static NEXT_NUMBER: AtomicU64 = AtomicU64::new(5_550_000);
        let form = if form.contains("_customer_number=") {
            form.to_string()
        } else {
            let number = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
            format!("_customer_number={number}&{form}")
        };
        self.gms_form(
            "POST",
            &format!("service/callback/{service}"),
            Some(DEVICE),
            Some(&form),
        )
    }

    fn record(&self, id: &str) -> Value {
        let (status, record) = self.gms_form("GET", &format!("service/{id}"), Some(DEVICE), None);
        assert_eq!(status, 200, "{record}");
        record
    }

    fn reschedule(&self, service: &str, id: &str, user: &str, form: &str) -> (u16, Value) {
        self.gms_form(
            "PUT",
            &format!("service/callback/{service}/{id}"),
            Some(user),
            Some(form),
        )
    }

    /// Polls a GET until `want` holds (5 s at most); returns the answer.
    fn wait_get(&self, path: &str, want: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/genesys/1/{path}");
        self.poll_get(&path, None, Duration::from_secs(5), |status, value| {
            status == 200 && want(value)
        })
    }

    fn agent_ready(&self, agent: &str) {
        for verb in ["login", "ready"] {
            let (status, view) =
                self.gms_form("POST", &format!("agents/{agent}/{verb}"), None, None);
            assert_eq!(status, 200, "{view}");
        }
    }
}

fn assert_error(status: u16, body: &Value, want: u16, exception: &str) {
    assert_eq!(status, want, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(body["exception"], exception, "{body}");
}

fn ids(records: &Value) -> Vec<String> {
    let mut ids: Vec<String> = records
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {records}"))
        .iter()
        .map(|r| r["_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A form value: an instant, URL-encoded (`+` would read as a space).
fn at(ms: i64) -> String {
    format_iso(ms).replace(':', "%3A")
}

/// The start of the hour `hours` after the current one.
fn hour_ahead(hours: i64) -> i64 {
    (now_ms() / HOUR_MS + hours) * HOUR_MS
}

#[test]
fn callbacks_are_found_by_their_properties() {
    let h = Harness::new();
    let a = h.start("sched", "_customer_number=5551000&usr_name=ann");
    let b = h.start("sched", "_customer_number=5551000&usr_name=bob");
    let c = h.start("short", "_customer_number=5551000&usr_name=cid");
    let later = h.start(
        "sched",
        &format!(
            "_customer_number=5552000&_desired_time={}",
            at(now_ms() + HOUR_MS)
        ),
    );

    let found = h.wait_get("service/callback/sched?_customer_number=5551000", |v| {
        ids(v).len() == 2
    });
    assert_eq!(ids(&found), sorted(vec![a.clone(), b.clone()]));
    let record = &found.as_array().unwrap()[0];
    for key in [
        "_id",
        "_service_name",
        "_callback_state",
        "_desired_time",
        "_expiration_time",
        "_customer_number",
        "_url",
    ] {
        assert!(!record[key].is_null(), "{key} missing: {record}");
    }
    assert_eq!(record["_service_name"], "sched");

    let (status, found) = h.get("service/callback/sched?_customer_number=5551000&usr_name=bob");
    assert_eq!(status, 200);
    assert_eq!(ids(&found), [b.as_str()]);
    let (_, found) = h.get("service/callback/sched?_callback_state=SCHEDULED");
    assert_eq!(ids(&found), [later.as_str()]);
    let (_, found) = h.get("service/callback/sched?_callback_state=QUEUED,SCHEDULED");
    assert_eq!(ids(&found).len(), 3);
    let (_, found) = h.get(&format!("service/callback/sched?_id={a}"));
    assert_eq!(ids(&found), [a.as_str()]);
    // Another service's callbacks are not listed; across services they are.
    let (_, found) = h.get("service/callback/short?usr_name=ann");
    assert_eq!(ids(&found), Vec::<String>::new());
    let (_, found) = h.get("service/callback?_customer_number=5551000");
    assert_eq!(ids(&found), sorted(vec![a.clone(), b.clone(), c.clone()]));

    // A cancelled callback is found COMPLETED, and leaves the index with its session (_ttl).
    h.cancel(&c);
    let found = h.wait_get("service/callback/short?_callback_state=COMPLETED", |v| {
        ids(v).len() == 1
    });
    assert_eq!(found[0]["_callback_reason"], "CANCELLED");
    h.wait_get("service/callback/short", |v| ids(v).is_empty());

    let (status, body) = h.get("service/callback/nope?_customer_number=5551000");
    assert_error(status, &body, 404, "ServiceNotFound");
    let (status, body) = h.get("service/callback/sched?customer_number=5551000");
    assert_error(status, &body, 400, "BadRequest");
    let (status, body) = h.get("service/callback/sched?_callback_state=WAITING");
    assert_error(status, &body, 400, "BadRequest");
}

#[test]
fn admin_queues_list_outstanding_callbacks_by_virtual_queue() {
    let h = Harness::new();
    let first = h.start("sched", "_customer_number=1");
    let second = h.start("sched", "_customer_number=2");
    let other = h.start("short", "_customer_number=3");
    let cancelled = h.start("sched", "_customer_number=4");
    let tomorrow = now_ms() + 30 * HOUR_MS;
    let far = h.start(
        "sched",
        &format!("_customer_number=5&_desired_time={}", at(tomorrow)),
    );
    h.cancel(&cancelled);

    let queues = h.wait_get("admin/callback/queues", |v| {
        v["short_vq"].as_array().is_some_and(|q| q.len() == 1)
            && v["sched_vq"].as_array().is_some_and(|q| q.len() == 2)
    });
    // Queue order, with positions; the callback scheduled in 30 hours is outside the default
    // window (24 hours ahead), the cancelled one is not outstanding.
    let sched = queues["sched_vq"].as_array().unwrap();
    assert_eq!(sched[0]["_id"], first.as_str());
    assert_eq!(sched[0]["_position"], 1);
    // With the estimated wait check-queue-position would give (no history yet: n/a).
    assert_eq!(sched[0]["_eta"], "n/a", "{}", sched[0]);
    assert_eq!(sched[1]["_id"], second.as_str());
    assert_eq!(sched[1]["_position"], 2);
    assert_eq!(queues["short_vq"][0]["_id"], other.as_str());

    let end = at(tomorrow + HOUR_MS);
    let (status, queues) = h.get(&format!(
        "admin/callback/queues?target=sched_vq&end_time={end}"
    ));
    assert_eq!(status, 200, "{queues}");
    assert_eq!(queues.as_object().unwrap().len(), 1, "{queues}");
    assert_eq!(
        ids(&queues["sched_vq"]),
        sorted(vec![first.clone(), second.clone(), far.clone()])
    );
    let (_, queues) = h.get(&format!(
        "admin/callback/queues?states=SCHEDULED&end_time={end}"
    ));
    assert_eq!(ids(&queues["sched_vq"]), [far.as_str()]);
    let (_, queues) = h.get("admin/callback/queues?target=sched_vq&max=1");
    assert_eq!(ids(&queues["sched_vq"]), [first.as_str()]);
    let (_, queues) = h.get("admin/callback/queues?_customer_number=2");
    assert_eq!(ids(&queues["sched_vq"]), [second.as_str()]);
    let (_, queues) = h.get("admin/callback/queues?states=COMPLETED");
    assert_eq!(ids(&queues["sched_vq"]), [cancelled.as_str()]);

    for bad in [
        "admin/callback/queues?max=lots",
        "admin/callback/queues?states=DONE",
        "admin/callback/queues?end_time=tomorrow",
        "admin/callback/queues?traget=sched_vq",
    ] {
        let (status, body) = h.get(bad);
        assert_error(status, &body, 400, "BadRequest");
    }
}

#[test]
fn a_scheduled_callback_queues_when_its_time_comes() {
    let h = Harness::new();
    // Submitted one second (the buffer) before its desired time.
    let desired = now_ms() + 2_500;
    let (status, created) = h.create(
        "sched",
        &format!("_customer_number=7&_desired_time={}", at(desired)),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["_desired_time"], format_iso(desired));
    let id = created["_id"].as_str().unwrap().to_string();
    let record = h.record(&id);
    assert_eq!(record["_callback_state"], "SCHEDULED");
    assert_eq!(record["_desired_time"], format_iso(desired));
    let (status, body) = h.gms_form(
        "POST",
        &format!("service/{id}/check-queue-position"),
        Some(DEVICE),
        None,
    );
    assert_error(status, &body, 409, "InvalidState");

    let queued = h.wait_get(&format!("service/callback/sched?_id={id}"), |v| {
        v[0]["_callback_state"] == "QUEUED"
    });
    let queued_at = now_ms();
    assert!(queued_at >= desired - 1_000, "queued too early");
    assert!(queued_at < desired + 1_000, "queued too late");
    assert_eq!(queued[0]["_desired_time"], format_iso(desired));
    let (status, position) = h.gms_form(
        "POST",
        &format!("service/{id}/check-queue-position"),
        Some(DEVICE),
        None,
    );
    assert_eq!(status, 200, "{position}");
    assert_eq!(position["_position"], 1);
    // And on to an agent as any callback.
    h.agent_ready("agent1");
    h.wait_get(&format!("service/callback/sched?_id={id}"), |v| {
        v[0]["_callback_state"] == "ROUTING" && v[0]["_agent"] == "agent1"
    });

    // A desired time already past queues at once.
    let past = h.start(
        "sched",
        &format!("_desired_time={}", at(now_ms() - HOUR_MS)),
    );
    assert_eq!(h.record(&past)["_callback_state"], "QUEUED");
}

#[test]
fn desired_times_are_checked_and_a_scheduled_callback_reschedules() {
    let h = Harness::new();
    let (status, body) = h.create("sched", "_desired_time=next%20tuesday");
    assert_error(status, &body, 400, "BadRequest");
    let (status, body) = h.create("sched", "_desired_time=2030-02-30T10%3A00%3A00Z");
    assert_error(status, &body, 400, "BadRequest");
    let (status, body) = h.create(
        "sched",
        &format!("_desired_time={}", at(now_ms() + 3 * 24 * HOUR_MS)),
    );
    assert_error(status, &body, 400, "CallbackExceptionAvailability");
    let (status, body) = h.create("now", &format!("_desired_time={}", at(now_ms() + HOUR_MS)));
    assert_error(status, &body, 400, "BadRequest");
    // Refused callbacks do not exist.
    let (_, all) = h.get("service/callback/sched");
    assert_eq!(ids(&all), Vec::<String>::new());

    let one = hour_ahead(2) + 60_000;
    let id = h.start(
        "sched",
        &format!("_customer_number=8&usr_note=a&_desired_time={}", at(one)),
    );
    assert_eq!(h.record(&id)["_callback_state"], "SCHEDULED");

    let two = hour_ahead(3) + 120_000;
    let (status, record) = h.reschedule(
        "sched",
        &id,
        DEVICE,
        &format!("_new_desired_time={}&usr_note=b", at(two)),
    );
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_desired_time"], format_iso(two));
    assert_eq!(record["_callback_state"], "SCHEDULED");
    assert_eq!(record["usr_note"], "b");
    let found = h.wait_get(&format!("service/callback/sched?_id={id}"), |v| {
        v[0]["_desired_time"] == format_iso(two).as_str()
    });
    assert_eq!(
        parse_iso(found[0]["_expiration_time"].as_str().unwrap()),
        Some(two + 86_400_000)
    );

    for (form, want, exception) in [
        ("_new_desired_time=soon".to_string(), 400, "BadRequest"),
        (String::new(), 400, "BadRequest"),
        (
            format!("_new_desired_time={}", at(now_ms() + 5 * 24 * HOUR_MS)),
            400,
            "CallbackExceptionAvailability",
        ),
    ] {
        let (status, body) = h.reschedule("sched", &id, DEVICE, &form);
        assert_error(status, &body, want, exception);
    }
    let form = format!("_new_desired_time={}", at(one));
    let (status, body) = h.reschedule("sched", &id, "someone-else", &form);
    assert_error(status, &body, 403, "Forbidden");
    let (status, body) = h.reschedule("short", &id, DEVICE, &form);
    assert_error(status, &body, 404, "ServiceNotFound");
    let (status, body) = h.reschedule("sched", "no-such-id", DEVICE, &form);
    assert_error(status, &body, 404, "ServiceNotFound");
    let (status, body) = h.reschedule("nope", &id, DEVICE, &form);
    assert_error(status, &body, 404, "ServiceNotFound");
    assert_eq!(
        h.record(&id)["_desired_time"],
        format_iso(two),
        "refusals change nothing"
    );

    // Rescheduled to now: it queues at once, and can no longer be rescheduled.
    let (status, record) = h.reschedule(
        "sched",
        &id,
        DEVICE,
        &format!("_new_desired_time={}", at(now_ms())),
    );
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_state"], "QUEUED");
    assert_eq!(h.record(&id)["_callback_state"], "QUEUED");
    let (status, body) = h.reschedule(
        "sched",
        &id,
        DEVICE,
        &format!("_new_desired_time={}", at(two)),
    );
    assert_error(status, &body, 409, "InvalidState");
    assert!(
        body["message"].as_str().unwrap().contains("QUEUED"),
        "{body}"
    );
}

#[test]
fn availability_lists_free_slots_with_their_capacity() {
    let h = Harness::new();
    let t = hour_ahead(2);
    // Two callbacks fill the slot at t, one takes half of the next.
    for (number, when) in [
        (1, t + 600_000),
        (2, t + 1_200_000),
        (3, t + HOUR_MS + 300_000),
    ] {
        h.start(
            "sched",
            &format!("_customer_number={number}&_desired_time={}", at(when)),
        );
    }
    let (status, body) = h.create("sched", &format!("_desired_time={}", at(t + 1_800_000)));
    assert_error(status, &body, 400, "CallbackExceptionAvailability");
    // Its slot full, the callback moves to another: not back into the full one.
    let moving = h.start("sched", &format!("_desired_time={}", at(t + 3 * HOUR_MS)));
    let (status, body) = h.reschedule(
        "sched",
        &moving,
        DEVICE,
        &format!("_new_desired_time={}", at(t + 60_000)),
    );
    assert_error(status, &body, 400, "CallbackExceptionAvailability");

    let path = format!(
        "service/callback/sched/availability?start={}&max-time-slots=4",
        at(t)
    );
    let (status, slots) = h.get(&path);
    assert_eq!(status, 200, "{slots}");
    let mut want = serde_json::Map::new();
    want.insert(format_iso(t + HOUR_MS), 1.into());
    want.insert(format_iso(t + 2 * HOUR_MS), 2.into());
    want.insert(format_iso(t + 3 * HOUR_MS), 1.into());
    want.insert(format_iso(t + 4 * HOUR_MS), 2.into());
    assert_eq!(slots, Value::Object(want));

    // Slots start on the hour from now; no more than the horizon (2 days) ahead.
    let (_, slots) = h.get("service/callback/sched/availability?number-of-days=5");
    let slots = slots.as_object().unwrap();
    let first = parse_iso(slots.keys().next().unwrap()).unwrap();
    assert_eq!(first, hour_ahead(1));
    assert!(slots.len() <= 48, "{}", slots.len());
    assert!(slots.len() >= 46, "{}", slots.len());
    let end = at(t + 2 * HOUR_MS);
    let (_, slots) = h.get(&format!(
        "service/callback/sched/availability?start={}&end={end}",
        at(t)
    ));
    assert_eq!(slots.as_object().unwrap().len(), 1, "{slots}");

    let (status, body) = h.get("service/callback/nope/availability");
    assert_error(status, &body, 404, "ServiceNotFound");
    for bad in [
        "start=today".to_string(),
        "number-of-days=-1".to_string(),
        "max-time-slots=x".to_string(),
        format!("end={end}&number-of-days=1"),
        "days=1".to_string(),
    ] {
        let (status, body) = h.get(&format!("service/callback/sched/availability?{bad}"));
        assert_error(status, &body, 400, "BadRequest");
    }
}

#[test]
fn the_service_index_survives_a_restart() {
    let dir = common::fresh_dir("gms-admin-restart");
    // Sessions hibernate as soon as they are idle: the queries must not need them.
    let engine = common::redb_engine;
    let t = hour_ahead(2);
    // Due in three seconds: its wake-up is still ahead when the server stops.
    let soon = now_ms() + 3_000;
    let (queued, scheduled, cancelled, waking) = {
        let h = Harness::with(engine(&dir));
        let waking = h.start("sched", &format!("usr_name=w&_desired_time={}", at(soon)));
        let queued = h.start("sched", "_customer_number=42&usr_name=q");
        let scheduled = h.start(
            "sched",
            &format!("_customer_number=42&_desired_time={}", at(t + 60_000)),
        );
        let cancelled = h.start("sched", "_customer_number=42");
        h.cancel(&cancelled);
        h.wait_get("service/callback/sched?_callback_state=COMPLETED", |v| {
            ids(v).len() == 1
        });
        (queued, scheduled, cancelled, waking)
    };

    let h = Harness::with(engine(&dir));
    // Answered from the index, as before the restart.
    let (status, found) = h.get("service/callback/sched?_customer_number=42");
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        ids(&found),
        sorted(vec![queued.clone(), scheduled.clone(), cancelled.clone()])
    );
    let state = |id: &str| {
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["_id"] == id)
            .unwrap()["_callback_state"]
            .clone()
    };
    assert_eq!(state(&queued), "QUEUED");
    assert_eq!(state(&scheduled), "SCHEDULED");
    assert_eq!(state(&cancelled), "COMPLETED");
    let (_, found) = h.get("service/callback/sched?usr_name=q");
    assert_eq!(ids(&found), [queued.as_str()]);
    // The booking still counts, and the scheduled callback still reschedules.
    let (_, slots) = h.get(&format!(
        "service/callback/sched/availability?start={}&max-time-slots=1",
        at(t)
    ));
    assert_eq!(slots[format_iso(t)], 1, "{slots}");
    let (status, record) = h.reschedule(
        "sched",
        &scheduled,
        DEVICE,
        &format!("_new_desired_time={}", at(t + HOUR_MS)),
    );
    assert_eq!(status, 200, "{record}");
    let (_, slots) = h.get(&format!(
        "service/callback/sched/availability?start={}&max-time-slots=1",
        at(t)
    ));
    assert_eq!(slots[format_iso(t)], 2, "{slots}");
    // The wake-up survived too: the callback queues when its time comes.
    let (_, found) = h.get("service/callback/sched?usr_name=w");
    assert_eq!(found[0]["_callback_state"], "SCHEDULED", "{found}");
    h.wait_get(&format!("service/callback/sched?_id={waking}"), |v| {
        v[0]["_callback_state"] == "QUEUED"
    });
    assert!(now_ms() >= soon - 1_000, "queued before its time");
    drop(h);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn queue_management_refuses_duplicate_numbers_and_a_full_service() {
    let h = Harness::new();
    let first = h.start("limited", "_customer_number=1");
    let (status, body) = h.create("limited", "_customer_number=1");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["exception"], "CallbackExceptionInQueue");
    h.start("limited", "_customer_number=2");
    h.start("limited", "_customer_number=3");
    let (status, body) = h.create("limited", "_customer_number=4");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["exception"], "CallbackExceptionThrottled");
    // Refused requests left no service behind.
    let (_, outstanding) = h.get("service/callback/limited");
    assert_eq!(ids(&outstanding).len(), 3, "{outstanding}");
    // Once the first is cancelled, its number and its place are free again.
    h.cancel(&first);
    h.start("limited", "_customer_number=1");

    // The default check allows two outstanding callbacks per number.
    h.start("short", "_customer_number=9");
    h.start("short", "_customer_number=9");
    let (status, body) = h.create("short", "_customer_number=9");
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("2 callbacks outstanding"));
}

#[test]
fn an_operator_cancels_many_callbacks_at_once() {
    let h = Harness::new();
    let waiting: Vec<String> = (0..3).map(|_| h.start("sched", "")).collect();
    let done = h.start("sched", "");
    h.cancel(&done);
    let cancel = |body: Value, device: Option<&str>| {
        h.request(
            "POST",
            "/genesys/1/admin/callback/cancel",
            device,
            Some(("application/json", body.to_string())),
        )
    };

    // Devices do not cancel in bulk; bad bodies are refused whole.
    let body = json!({"reason": "closing early", "ids": [waiting[0]]});
    assert_eq!(cancel(body, Some(DEVICE)).0, 401);
    for bad in [
        json!({"ids": []}),
        json!({"ids": "one"}),
        json!({"ids": [1, 2]}),
        json!({"reason": 7, "ids": [waiting[0]]}),
        json!({"ids": vec!["x"; 1001]}),
    ] {
        let (status, body) = cancel(bad.clone(), None);
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(h.record(&waiting[0])["_callback_state"], "QUEUED");

    let mut ids = waiting.clone();
    ids.push(done.clone());
    ids.push("no-such-callback".into());
    let (status, results) = cancel(json!({"reason": "site closed", "ids": ids}), None);
    assert_eq!(status, 200, "{results}");
    let outcome: Vec<(Value, Value)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["_id"].clone(), r["status"].clone()))
        .collect();
    let expected: Vec<(Value, Value)> = ids
        .iter()
        .zip([200, 200, 200, 409, 404])
        .map(|(id, status)| (json!(id), json!(status)))
        .collect();
    assert_eq!(outcome, expected, "{results}");
    for id in &waiting {
        let record = h.record(id);
        assert_eq!(record["_callback_reason"], "CANCELLED", "{record}");
        assert_eq!(record["_cancel_reason"], "site closed", "{record}");
    }
    assert_eq!(
        results[3]["error"]["exception"], "InvalidState",
        "{results}"
    );
    // The one cancelled by its device keeps its own story.
    assert!(h.record(&done).get("_cancel_reason").is_none());
}

/// A centre open on one day only (2030-01-02, 09:00 to 17:00 in New York: 14:00 to 22:00
/// UTC), so that it is closed now whenever the test runs.
const OFFICE: &str = r#"
    [office_hours.one-day]
    timezone = "America/New_York"
    special = ["2030-01-02 09:00-17:00"]
    closed = ["2030-01-01"]

    [services.open-day]
    scenario = "chat-delayed"
    _target = "agent1@StatServer.A"
    _business_hours_service = "one-day"
    _enable_reject_out_of_office_hours = true
    _request_time_bucket = 60
    _reject_future_desired_time = "5000d"

    [services.lenient]
    scenario = "chat-delayed"
    _target = "agent1@StatServer.A"
    _business_hours_service = "one-day"
    _reject_future_desired_time = "5000d"

    [[routing.agents]]
    id = "agent1"
"#;

#[test]
fn office_hours_refuse_closed_times_and_list_only_open_slots() {
    let h = common::GmsServer::launch(GmsConfig::parse(OFFICE).unwrap(), EngineConfig::default());
    let create = |service: &str, form: &str| {
        h.gms_form(
            "POST",
            &format!("service/callback/{service}"),
            Some(DEVICE),
            Some(&format!("_customer_number=5551234&{form}")),
        )
    };
    // Closed now: a callback for now is refused, naming the next opening.
    let (status, body) = create("open-day", "");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["exception"], "CallbackExceptionAvailability");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("closed now"), "{message}");
    assert!(message.contains("2030-01-02T14:00:00.000Z"), "{message}");
    // Unless the service takes callbacks while closed.
    assert_eq!(create("lenient", "").0, 200);

    // A desired time: inside the hours it is booked; outside (the night before, a holiday)
    // it is refused with the next opening.
    let (status, body) = create("open-day", "_desired_time=2030-01-02T15:30:00.000Z");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["_desired_time"], "2030-01-02T15:30:00.000Z");
    for closed in ["2030-01-02T13:59:00.000Z", "2030-01-01T15:00:00.000Z"] {
        let (status, body) = create("lenient", &format!("_desired_time={closed}"));
        assert_eq!(status, 400, "{closed}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("outside the office hours"), "{message}");
        assert!(message.contains("2030-01-02T14:00:00.000Z"), "{message}");
    }

    // A reschedule into closed hours is refused the same way.
    let id = body_id(&create(
        "open-day",
        "_desired_time=2030-01-02T16:00:00.000Z",
    ));
    let (status, body) = h.gms_form(
        "PUT",
        &format!("service/callback/open-day/{id}"),
        Some(DEVICE),
        Some("_new_desired_time=2030-01-03T16:00:00.000Z"),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("outside the office hours"),
        "{body}"
    );

    // Availability over two days lists the eight open hours only.
    let (status, slots) = h.gms_form(
        "GET",
        "service/callback/open-day/availability?start=2030-01-01T00:00:00.000Z&number-of-days=2",
        None,
        None,
    );
    assert_eq!(status, 200, "{slots}");
    let starts: Vec<&String> = slots.as_object().unwrap().keys().collect();
    let expected: Vec<String> = (14..22)
        .map(|hour| format!("2030-01-02T{hour}:00:00.000Z"))
        .collect();
    assert_eq!(starts, expected.iter().collect::<Vec<_>>(), "{slots}");
}

fn body_id((status, body): &(u16, Value)) -> String {
    assert_eq!(*status, 200, "{body}");
    body["_id"].as_str().unwrap().to_string()
}

#[test]
fn the_operator_pages_callbacks_and_reads_services_and_agents() {
    let h = Harness::new();
    let ids: Vec<String> = (0..5).map(|_| h.start("sched", "")).collect();
    let (status, page) = h.get("service/callback/sched?offset=1&limit=2");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 5);
    assert_eq!(page["callbacks"].as_array().unwrap().len(), 2);
    let (_, all) = h.get("service/callback/sched");
    assert_eq!(
        all.as_array().unwrap().len(),
        ids.len(),
        "without paging, GMS's array"
    );
    assert_eq!(page["callbacks"][0], all[1]);
    assert_eq!(h.get("service/callback/sched?limit=x").0, 400);
    // Devices see neither.
    let (status, _) = h.gms_form("GET", "admin/services", Some(DEVICE), None);
    assert_eq!(status, 401);
    let (status, services) = h.get("admin/services");
    assert_eq!(status, 200, "{services}");
    assert_eq!(services["sched"]["options"]["_request_time_bucket"], 60);
    assert!(services["sched"]["locked"]
        .as_array()
        .unwrap()
        .contains(&json!("_wait_for_agent")));
    let (status, agents) = h.get("admin/agents");
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents[0]["id"], "agent1");
    assert_eq!(agents[0]["state"]["state"], "logged_out");
}
