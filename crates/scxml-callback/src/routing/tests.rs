//! Router and invoke-type tests: reservations, queues, multi-target progress, events.

use super::*;
use scxml::interpreter::{Event, InvokeRequest, InvokeSource};
use scxml::io::{CustomInvokeType, EventSink};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn agent(
    id: &str,
    name: &str,
    skills: &[(&str, i64)],
    groups: &[&str],
    media: &[Media],
) -> AgentConfig {
    let mut a = AgentConfig::new(id);
    a.name = Some(name.into());
    a.skills = skills.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    a.groups = groups.iter().map(|g| g.to_string()).collect();
    a.place = Some(format!("place_{id}"));
    a.media = media.to_vec();
    a
}

/// a1 Alice (Sales; chat+voice), a2 Bob (Sales, Support; chat), a3 Carol (Support; voice).
fn router() -> Router {
    Router::new(DirectoryConfig {
        agents: vec![
            agent(
                "a1",
                "Alice",
                &[("English", 7), ("Loans", 3)],
                &["Sales"],
                &[Media::Chat, Media::Voice],
            ),
            agent(
                "a2",
                "Bob",
                &[("English", 4), ("Loans", 5)],
                &["Sales", "Support"],
                &[Media::Chat],
            ),
            agent(
                "a3",
                "Carol",
                &[("Spanish", 9)],
                &["Support"],
                &[Media::Voice],
            ),
        ],
        ..Default::default()
    })
    .unwrap()
}

struct Clock(Instant);
impl Clock {
    fn at(&self, secs: u64) -> Instant {
        self.0 + Duration::from_secs(secs)
    }
}

fn spec(id: &str, vq: &str, target: &str) -> RequestSpec {
    RequestSpec::new(id, vq, TargetSpec::parse(target).unwrap())
}

fn ready(r: &Router, agent: &str, now: Instant) -> Vec<Outcome> {
    r.login(agent, now).unwrap();
    r.set_ready(agent, now).unwrap()
}

fn reserved(request: &str, agent: &str, name: &str) -> Outcome {
    Outcome::Reserved {
        request: request.into(),
        agent: agent.into(),
        agent_name: name.into(),
    }
}

fn state(r: &Router, agent: &str) -> AgentState {
    r.agent(agent).unwrap().state
}

#[test]
fn reserves_an_agent_when_it_becomes_ready() {
    let (r, c) = (router(), Clock(Instant::now()));
    let out = r
        .enqueue(spec("r1", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    assert_eq!(
        out,
        [Outcome::Queued {
            request: "r1".into(),
            virtual_queue: "vq".into(),
            target_index: 0,
            position: 1,
            total_waiting: 1
        }]
    );
    assert_eq!(ready(&r, "a1", c.at(1)), [reserved("r1", "a1", "Alice")]);
    assert_eq!(
        state(&r, "a1"),
        AgentState::Reserved {
            request: "r1".into()
        }
    );
    let s = r.status("r1", c.at(0)).unwrap();
    assert_eq!((s.position, s.reserved_agent.as_deref()), (1, Some("a1")));
    assert_eq!(
        (s.total_waiting, s.eta, s.threshold_passed),
        (1, Some(0), true)
    );
    // A reserved agent is not offered other work.
    let out = r
        .enqueue(spec("r2", "vq", "Sales@SS.GA"), c.at(2), None)
        .unwrap();
    assert_eq!(out.len(), 1);
    // An agent already ready is reserved at enqueue.
    ready(&r, "a2", c.at(3));
    assert_eq!(
        state(&r, "a2"),
        AgentState::Reserved {
            request: "r2".into()
        }
    );
}

#[test]
fn reservation_follows_priority_then_arrival_and_eligibility() {
    let (r, c) = (router(), Clock(Instant::now()));
    r.enqueue(spec("low", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    let mut high = spec("high", "vq", "Sales@SS.GA");
    high.priority = 5;
    r.enqueue(high, c.at(1), None).unwrap();
    // Earliest, but only Support may take it.
    r.enqueue(spec("support", "vq", "Support@SS.GA"), c.at(0), None)
        .unwrap();
    assert_eq!(ready(&r, "a1", c.at(2)), [reserved("high", "a1", "Alice")]);
    // Bob serves both Sales and Support: "low" arrived first.
    assert_eq!(ready(&r, "a2", c.at(3)), [reserved("low", "a2", "Bob")]);
    // The two holding agents are ahead of it in the line.
    assert_eq!(r.status("support", c.at(0)).unwrap().position, 3);
}

#[test]
fn media_capability_is_required() {
    let (r, c) = (router(), Clock(Instant::now()));
    let mut voice = spec("v", "vq", "Sales@SS.GA");
    voice.media = Media::Voice;
    r.enqueue(voice, c.at(0), None).unwrap();
    assert!(ready(&r, "a2", c.at(1)).is_empty(), "Bob takes chat only");
    assert_eq!(ready(&r, "a1", c.at(2)), [reserved("v", "a1", "Alice")]);
}

#[test]
fn queue_positions_by_priority_then_arrival() {
    let (r, c) = (router(), Clock(Instant::now()));
    for (id, vq, prio) in [
        ("r1", "vq1", 0),
        ("r2", "vq1", 0),
        ("r3", "vq1", 5),
        ("r4", "vq1", 1),
        ("r5", "vq2", 9),
    ] {
        let mut s = spec(id, vq, "Sales@SS.GA");
        s.priority = prio;
        r.enqueue(s, c.at(0), None).unwrap();
    }
    let pos = |id: &str| {
        let s = r.status(id, c.at(0)).unwrap();
        (s.position, s.total_waiting)
    };
    assert_eq!(pos("r3"), (1, 4));
    assert_eq!(pos("r4"), (2, 4));
    assert_eq!(pos("r1"), (3, 4));
    assert_eq!(pos("r2"), (4, 4));
    assert_eq!(pos("r5"), (1, 1));
    // r5 (priority 9) takes the first agent; then r3 takes the second.
    ready(&r, "a1", c.at(1));
    assert_eq!(r.status("r5", c.at(0)).unwrap().position, 1);
    ready(&r, "a2", c.at(2));
    // r3 holds a2 now: first in line, ahead of everyone still waiting.
    assert_eq!(pos("r3"), (1, 4));
    assert_eq!(pos("r4"), (2, 4));
    assert_eq!(pos("r2"), (4, 4));
    let listed: Vec<String> = r
        .requests(Some("vq1"), c.at(3))
        .into_iter()
        .map(|v| v.request)
        .collect();
    assert_eq!(listed, ["r3", "r4", "r1", "r2"]);
}

#[test]
fn aged_priority_lets_a_long_wait_pass_newer_higher_priority_requests() {
    let (r, c) = (router(), Clock(Instant::now()));
    let mut old = spec("old", "vq", "Sales@SS.GA");
    old.aging = Some(PriorityAging {
        increment: 1,
        interval: Duration::from_secs(10),
    });
    r.enqueue(old, c.at(0), None).unwrap();
    let mut urgent = spec("urgent", "vq", "Sales@SS.GA");
    urgent.priority = 2;
    r.enqueue(urgent, c.at(5), None).unwrap();
    let pos = |id: &str, at: u64| r.status(id, c.at(at)).unwrap().position;
    // At 5 s "old" has priority 0 against 2; at 20 s, 2 against 2 and it arrived first.
    assert_eq!((pos("old", 5), pos("urgent", 5)), (2, 1));
    assert_eq!((pos("old", 20), pos("urgent", 20)), (1, 2));
    let listed: Vec<(String, i64)> = r
        .requests(Some("vq"), c.at(30))
        .into_iter()
        .map(|v| (v.request, v.priority))
        .collect();
    assert_eq!(listed, [("old".to_string(), 3), ("urgent".to_string(), 2)]);
    assert_eq!(ready(&r, "a1", c.at(30)), [reserved("old", "a1", "Alice")]);
}

#[test]
fn a_checkpointed_request_resumes_in_its_place_with_its_wait() {
    let (r, c) = (router(), Clock(Instant::now()));
    for id in ["first", "second"] {
        let mut s = spec(id, "vq", "Sales@SS.GA");
        s.queued_ttl = Some(Duration::from_secs(100));
        r.enqueue(s, c.at(0), None).unwrap();
    }
    ready(&r, "a1", c.at(10));
    let first = r.checkpoint("first", c.at(40)).unwrap();
    let second = r.checkpoint("second", c.at(40)).unwrap();
    assert_eq!(first.reserved_agent.as_deref(), Some("a1"));
    assert_eq!(first.waited, Duration::from_secs(40));
    // Another process, later: resumed in the other order, still in line by arrival.
    let again = router();
    let later = Clock(c.at(1000));
    for (id, point) in [("second", &second), ("first", &first)] {
        let mut s = spec(id, "vq", "Sales@SS.GA");
        s.queued_ttl = Some(Duration::from_secs(100));
        again.resume(s, point, later.at(0), None).unwrap();
    }
    let late = spec("late", "vq", "Sales@SS.GA");
    again.enqueue(late, later.at(1), None).unwrap();
    let pos = |id: &str| again.status(id, later.at(1)).unwrap().position;
    assert_eq!((pos("first"), pos("second"), pos("late")), (1, 2, 3));
    // No reservation came back; the queued ttl counts the wait before the restart.
    assert_eq!(
        again.status("first", later.at(1)).unwrap().reserved_agent,
        None
    );
    let timed_out = again.tick(later.at(61));
    assert!(timed_out.contains(&Outcome::TimedOut {
        request: "first".into()
    }));
    assert!(again.contains("late"));
}

/// Runs one interaction of `secs` seconds through `agent` (which must be the only ready one).
fn handle(r: &Router, id: &str, agent: &str, start: Instant, secs: u64) {
    r.enqueue(spec(id, "vq", "Sales@SS.GA"), start, None)
        .unwrap();
    assert_eq!(r.route(id, None, start).unwrap(), agent);
    r.end_interaction(agent, id, None, start + Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn eta_is_na_without_history_then_estimated() {
    let (r, c) = (router(), Clock(Instant::now()));
    r.enqueue(spec("w1", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    r.enqueue(spec("w2", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    let s = r.status("w2", c.at(0)).unwrap();
    assert_eq!(
        (s.eta, s.threshold_passed, s.reason.as_str()),
        (None, true, "eta n/a")
    );
    r.cancel("w1", c.at(0)).unwrap();
    r.cancel("w2", c.at(0)).unwrap();

    // History: 60 s on a1, 120 s on a2 (AHT 90).
    ready(&r, "a1", c.at(0));
    handle(&r, "h1", "a1", c.at(0), 60);
    r.set_not_ready("a1", c.at(60)).unwrap();
    ready(&r, "a2", c.at(60));
    handle(&r, "h2", "a2", c.at(60), 120);
    r.set_ready("a1", c.at(180)).unwrap();
    // Both agents busy again.
    for id in ["b1", "b2"] {
        r.enqueue(spec(id, "vq", "Sales@SS.GA"), c.at(200), None)
            .unwrap();
        r.route(id, None, c.at(200)).unwrap();
    }
    for id in ["w1", "w2", "w3"] {
        r.enqueue(spec(id, "vq", "Sales@SS.GA"), c.at(201), None)
            .unwrap();
    }
    let s = r.status("w1", c.at(0)).unwrap();
    assert_eq!(
        (s.position, s.eta, s.reason.as_str()),
        (1, Some(45), "position 1")
    );
    let s = r.status("w2", c.at(0)).unwrap();
    assert_eq!(
        (s.position, s.eta, s.threshold_passed),
        (2, Some(90), false)
    );
    assert_eq!(s.reason, "eta >= 40: only position 1 passes (position 2)");
    assert_eq!(r.status("w3", c.at(0)).unwrap().eta, Some(135));
    // A target nobody works on: n/a even with history.
    r.enqueue(spec("x", "vq_es", "a3@SS.A"), c.at(202), None)
        .unwrap();
    r.enqueue(spec("y", "vq_es", "a3@SS.A"), c.at(202), None)
        .unwrap();
    let s = r.status("y", c.at(0)).unwrap();
    assert_eq!((s.position, s.eta, s.reason.as_str()), (2, None, "eta n/a"));
    // A custom threshold table.
    let mut z = spec("z", "vq", "Sales@SS.GA");
    z.threshold = ThresholdTable::parse("0:3,200:1").unwrap();
    r.enqueue(z, c.at(203), None).unwrap();
    let s = r.status("z", c.at(0)).unwrap();
    assert_eq!(s.position, 4);
    assert_eq!((s.eta, s.threshold_passed), (Some(180), false));
}

#[test]
fn cancel_releases_the_agent_to_the_next_request() {
    let (r, c) = (router(), Clock(Instant::now()));
    r.enqueue(spec("r1", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    r.enqueue(spec("r2", "vq", "Sales@SS.GA"), c.at(1), None)
        .unwrap();
    ready(&r, "a1", c.at(2));
    assert_eq!(
        r.cancel("r1", c.at(3)).unwrap(),
        [reserved("r2", "a1", "Alice")]
    );
    assert!(!r.contains("r1"));
    assert_eq!(r.cancel("r2", c.at(4)).unwrap(), []);
    assert_eq!(state(&r, "a1"), AgentState::Ready);
    assert_eq!(
        r.cancel("r2", c.at(4)),
        Err(RoutingError::UnknownRequest("r2".into()))
    );
}

#[test]
fn reservation_timeout_releases_then_re_reserves() {
    let (r, c) = (router(), Clock(Instant::now()));
    let mut s = spec("r1", "vq", "Sales@SS.GA");
    s.reservation_timeout = Duration::from_secs(10);
    r.enqueue(s, c.at(0), None).unwrap();
    ready(&r, "a1", c.at(0));
    assert!(r.tick(c.at(9)).is_empty());
    // The request keeps its place and takes the agent again.
    assert_eq!(
        r.tick(c.at(10)),
        [
            Outcome::ReservationExpired {
                request: "r1".into(),
                agent: "a1".into(),
                reason: "timeout"
            },
            reserved("r1", "a1", "Alice"),
        ]
    );
    // With the agent gone not ready, it stays released.
    assert_eq!(
        r.set_not_ready("a1", c.at(11)).unwrap(),
        [Outcome::ReservationExpired {
            request: "r1".into(),
            agent: "a1".into(),
            reason: "agent_unavailable"
        }]
    );
    assert_eq!(r.status("r1", c.at(0)).unwrap().position, 1);
    // Another agent then takes it.
    assert_eq!(ready(&r, "a2", c.at(12)), [reserved("r1", "a2", "Bob")]);
    // release with requeue: back in line; the agent is free (and, being first, re-reserved).
    assert_eq!(
        r.release("r1", true, c.at(13)).unwrap(),
        [reserved("r1", "a2", "Bob")]
    );
}

#[test]
fn a_lapsed_reservation_passes_the_agent_to_the_next_request() {
    let (r, c) = (router(), Clock(Instant::now()));
    for id in ["r1", "r2"] {
        let mut s = spec(id, "vq", "a1@SS.A");
        s.reservation_timeout = Duration::from_secs(10);
        r.enqueue(s, c.at(0), None).unwrap();
    }
    assert_eq!(ready(&r, "a1", c.at(1)), [reserved("r1", "a1", "Alice")]);
    // r1 lets the reservation lapse: a1 goes to r2, though r1 is ahead in line.
    let expired = |request: &str| Outcome::ReservationExpired {
        request: request.into(),
        agent: "a1".into(),
        reason: "timeout",
    };
    assert_eq!(
        r.tick(c.at(11)),
        [expired("r1"), reserved("r2", "a1", "Alice")]
    );
    assert_eq!(r.status("r1", c.at(0)).unwrap().position, 2);
    // r2 lets it lapse too: both passed a1 over, so line order decides (r1 first).
    assert_eq!(
        r.tick(c.at(21)),
        [expired("r2"), reserved("r1", "a1", "Alice")]
    );
    // Cancelled, r1 frees a1, which r2 (passing it over only for others) takes back.
    r.cancel("r1", c.at(22)).unwrap();
    assert_eq!(
        state(&r, "a1"),
        AgentState::Reserved {
            request: "r2".into()
        }
    );
}

#[test]
fn routing_to_the_reserved_agent_and_agent_side() {
    let (r, c) = (router(), Clock(Instant::now()));
    r.enqueue(spec("r1", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    assert_eq!(
        r.route("r1", None, c.at(0)),
        Err(RoutingError::NotReserved("r1".into()))
    );
    assert_eq!(
        r.route("nope", None, c.at(0)),
        Err(RoutingError::UnknownRequest("nope".into()))
    );
    ready(&r, "a2", c.at(1));
    assert_eq!(r.route("r1", Some("chat-1"), c.at(2)).unwrap(), "a2");
    assert!(!r.contains("r1"));
    assert!(matches!(state(&r, "a2"), AgentState::Busy { .. }));
    let offers = r.offered("a2").unwrap();
    assert_eq!(
        offers,
        [Offer {
            interaction: "chat-1".into(),
            request: "r1".into(),
            virtual_queue: "vq".into(),
            accepted: false
        }]
    );
    assert!(r.accept("a2", "chat-2").is_err());
    r.accept("a2", "chat-1").unwrap();
    assert!(r.offered("a2").unwrap()[0].accepted);
    assert_eq!(
        r.logout("a2", c.at(3)),
        Err(RoutingError::AgentBusy("a2".into()))
    );
    assert_eq!(
        r.set_ready("a2", c.at(3)),
        Err(RoutingError::AgentBusy("a2".into()))
    );
    // A new request waits; ending the interaction frees Bob for it.
    r.enqueue(spec("r2", "vq", "Sales@SS.GA"), c.at(4), None)
        .unwrap();
    assert_eq!(
        r.end_interaction("a2", "chat-1", None, c.at(32)).unwrap(),
        [reserved("r2", "a2", "Bob")]
    );
    assert!(r.offered("a2").unwrap().is_empty());
    assert!(r.end_interaction("a2", "chat-1", None, c.at(33)).is_err());
}

#[test]
fn queued_ttl_expires_waiting_requests_only() {
    let (r, c) = (router(), Clock(Instant::now()));
    let mut s = spec("r1", "vq", "Sales@SS.GA");
    s.queued_ttl = Some(Duration::from_secs(30));
    r.enqueue(s, c.at(0), None).unwrap();
    assert!(r.tick(c.at(29)).is_empty());
    assert_eq!(
        r.tick(c.at(30)),
        [Outcome::TimedOut {
            request: "r1".into()
        }]
    );
    assert!(!r.contains("r1"));

    // A reserved request does not time out; once its reservation lapses past the ttl it does.
    let mut s = spec("r2", "vq", "Sales@SS.GA");
    s.queued_ttl = Some(Duration::from_secs(20));
    s.reservation_timeout = Duration::from_secs(30);
    r.enqueue(s, c.at(40), None).unwrap();
    ready(&r, "a1", c.at(40));
    assert!(r.tick(c.at(65)).is_empty());
    assert_eq!(
        r.tick(c.at(70)),
        [
            Outcome::ReservationExpired {
                request: "r2".into(),
                agent: "a1".into(),
                reason: "timeout"
            },
            Outcome::TimedOut {
                request: "r2".into()
            },
        ]
    );
    assert_eq!(state(&r, "a1"), AgentState::Ready);
}

fn multi(r: &Router, id: &str, list: Value, now: Instant) -> Vec<Outcome> {
    let s = RequestSpec::new(id, "vq", TargetSpec::from_value(&list).unwrap());
    r.enqueue(s, now, None).unwrap()
}

fn switched(request: &str, index: usize, target: &str) -> Outcome {
    Outcome::TargetSwitched {
        request: request.into(),
        index,
        target: target.into(),
    }
}

#[test]
fn multi_target_switches_on_timeout_with_clear_false() {
    let (r, c) = (router(), Clock(Instant::now()));
    r.login("a1", c.at(0)).unwrap();
    r.login("a3", c.at(0)).unwrap();
    multi(
        &r,
        "m",
        json!([
            {"target": "a3@SS.A", "timeout": 10},
            {"target": "a1@SS.A", "timeout": "10", "clear": false},
        ]),
        c.at(0),
    );
    assert!(r.tick(c.at(9)).is_empty());
    assert_eq!(r.tick(c.at(10)), [switched("m", 1, "a1@SS.A")]);
    // The last target stays; its timeout does not end the wait.
    assert!(r.tick(c.at(100)).is_empty());
    // Now on Alice's target.
    assert_eq!(r.status("m", c.at(0)).unwrap().target_index, 1);
    assert_eq!(
        r.set_ready("a1", c.at(101)).unwrap(),
        [reserved("m", "a1", "Alice")]
    );
}

#[test]
fn multi_target_clear_true_replaces_and_false_adds() {
    let (r, c) = (router(), Clock(Instant::now()));
    for a in ["a1", "a2"] {
        r.login(a, c.at(0)).unwrap();
    }
    let list = |clear: bool| {
        json!([
            {"target": "a2@SS.A", "timeout": 10},
            {"target": "a1@SS.A", "clear": clear},
        ])
    };
    multi(&r, "keep", list(false), c.at(0));
    multi(&r, "replace", list(true), c.at(0));
    assert_eq!(
        r.tick(c.at(10)),
        [
            switched("keep", 1, "a1@SS.A"),
            switched("replace", 1, "a1@SS.A")
        ]
    );
    // Bob is still a target of "keep" only.
    assert_eq!(
        r.set_ready("a2", c.at(11)).unwrap(),
        [reserved("keep", "a2", "Bob")]
    );
    assert_eq!(
        r.set_ready("a1", c.at(12)).unwrap(),
        [reserved("replace", "a1", "Alice")]
    );
}

#[test]
fn multi_target_catches_up_several_timeouts_in_one_tick() {
    let (r, c) = (router(), Clock(Instant::now()));
    multi(
        &r,
        "m",
        json!([
            {"target": "a1@SS.A", "timeout": 10},
            {"target": "a2@SS.A", "timeout": 10},
            {"target": "a3@SS.A", "timeout": 10},
        ]),
        c.at(0),
    );
    assert_eq!(
        r.tick(c.at(25)),
        [switched("m", 1, "a2@SS.A"), switched("m", 2, "a3@SS.A")]
    );
}

#[test]
fn multi_target_skips_on_statistic_but_never_the_last() {
    let (r, c) = (router(), Clock(Instant::now()));
    // No agent of Sales is ready: "RStatAgentsReady < 1" holds, so Sales is skipped at once.
    let out = multi(
        &r,
        "skip",
        json!([
            {"target": "Sales@SS.GA", "timeout": 10, "stat_to_check": "RStatAgentsReady", "stat_operator": "<", "stat_value": 1},
            {"target": "Support@SS.GA"},
        ]),
        c.at(0),
    );
    assert!(matches!(
        &out[0],
        Outcome::Queued {
            target_index: 1,
            ..
        }
    ));
    // The last target is used even when its statistic holds.
    let out = multi(
        &r,
        "last",
        json!([
            {"target": "Sales@SS.GA", "stat_to_check": "RStatAgentsTotal", "stat_operator": "<", "stat_value": "100"},
        ]),
        c.at(0),
    );
    assert!(matches!(
        &out[0],
        Outcome::Queued {
            target_index: 0,
            ..
        }
    ));
    // Not skipped when the statistic does not hold.
    ready(&r, "a2", c.at(1));
    r.cancel("skip", c.at(1)).unwrap();
    r.cancel("last", c.at(1)).unwrap();
    r.set_ready("a2", c.at(1)).unwrap();
    let out = multi(
        &r,
        "used",
        json!([
            {"target": "Support@SS.GA", "timeout": 5, "stat_to_check": "RStatAgentsReadyVoice", "stat_operator": ">=", "stat_value": 1},
            {"target": "Sales@SS.GA"},
        ]),
        c.at(2),
    );
    // Bob (chat only) is ready in Support: voice-ready is 0, so Support is used and Bob taken.
    assert_eq!(out[1], reserved("used", "a2", "Bob"));
    r.cancel("used", c.at(2)).unwrap();
    r.set_not_ready("a2", c.at(2)).unwrap();
    // Skipping also applies when moving on after a timeout; the last is never skipped.
    multi(
        &r,
        "later",
        json!([
            {"target": "a3@SS.A", "timeout": 10},
            {"target": "a1@SS.A", "timeout": 10, "stat_to_check": "RStatAgentsTotal", "stat_operator": ">=", "stat_value": 0},
            {"target": "a2@SS.A", "stat_to_check": "RStatAgentsTotal", "stat_operator": ">=", "stat_value": 0},
        ]),
        c.at(3),
    );
    assert_eq!(r.tick(c.at(13)), [switched("later", 2, "a2@SS.A")]);
}

#[test]
fn enqueue_errors() {
    let (r, c) = (router(), Clock(Instant::now()));
    assert_eq!(
        r.enqueue(spec("r", "vq", "Nobody@SS.GA"), c.at(0), None),
        Err(RoutingError::TargetNotFound("Nobody@SS.GA".into()))
    );
    r.enqueue(spec("r", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    assert_eq!(
        r.enqueue(spec("r", "vq", "Sales@SS.GA"), c.at(0), None),
        Err(RoutingError::DuplicateRequest("r".into()))
    );
    assert_eq!(
        r.set_ready("a1", c.at(0)),
        Err(RoutingError::AgentLoggedOut("a1".into()))
    );
    assert_eq!(
        r.login("zz", c.at(0)),
        Err(RoutingError::UnknownAgent("zz".into()))
    );
    // A skill-expression target matching nobody is accepted (and waits).
    r.enqueue(spec("s", "vq", "?:French>3@SS.GA"), c.at(0), None)
        .unwrap();
}

#[test]
fn skill_expression_targets_reserve_matching_agents() {
    let (r, c) = (router(), Clock(Instant::now()));
    r.enqueue(
        spec("r", "vq", "?:English>=5 & Loans>2@SS.GA"),
        c.at(0),
        None,
    )
    .unwrap();
    assert!(ready(&r, "a2", c.at(1)).is_empty());
    assert_eq!(ready(&r, "a1", c.at(2)), [reserved("r", "a1", "Alice")]);
}

#[test]
fn listener_hears_outcomes_in_order_until_the_request_is_gone() {
    let (r, c) = (router(), Clock(Instant::now()));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let listener: OutcomeListener = Arc::new(move |o: &Outcome| h.lock().unwrap().push(o.clone()));
    ready(&r, "a1", c.at(0));
    let mut s = spec("r1", "vq", "Sales@SS.GA");
    s.reservation_timeout = Duration::from_secs(5);
    r.enqueue(s, c.at(0), Some(listener)).unwrap();
    r.enqueue(spec("other", "vq", "Sales@SS.GA"), c.at(0), None)
        .unwrap();
    r.set_not_ready("a1", c.at(1)).unwrap();
    r.cancel("r1", c.at(2)).unwrap();
    ready(&r, "a1", c.at(3));
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 3, "{heard:?}");
    assert!(matches!(heard[0], Outcome::Queued { .. }));
    assert_eq!(heard[1], reserved("r1", "a1", "Alice"));
    assert!(matches!(heard[2], Outcome::ReservationExpired { .. }));
}

#[tokio::test]
async fn ticker_drives_timeouts() {
    let r = Arc::new(router());
    let mut s = spec("r", "vq", "Sales@SS.GA");
    s.queued_ttl = Some(Duration::from_millis(30));
    r.enqueue(s, Instant::now(), None).unwrap();
    let handle = r.clone().spawn_ticker(Duration::from_millis(5));
    for _ in 0..100 {
        if !r.contains("r") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.abort();
    assert!(!r.contains("r"));
}

// ---- the invoke type ----

#[derive(Default)]
struct TestSink(Mutex<Vec<Event>>);

impl EventSink for TestSink {
    fn deliver(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl TestSink {
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

fn invoke_request(id: &str, params: Value) -> InvokeRequest {
    InvokeRequest {
        invokeid: id.into(),
        kind: "routing".into(),
        source: InvokeSource::None,
        params: params
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        autoforward: false,
    }
}

fn data(e: &Event) -> &Value {
    e.data.as_ref().unwrap()
}

#[test]
fn invoke_queues_reserves_answers_position_and_routes() {
    let r = Arc::new(router());
    let ty = RoutingInvokeType::new(r.clone());
    let sink = Arc::new(TestSink::default());
    let mut service = ty
        .start(
            invoke_request(
                "inv1",
                json!({
                    "_target": "Sales@SS.GA", "_urs_virtual_queue": "vq_chat", "request": "svc-1",
                    "_urs_vq_priority": "2", "_media_type": "chat", "_urs_queued_ttl": 600,
                    "_agent_reserve_timeout": "30", "_eta_pos_threshold": "0:10,10:5"
                }),
            ),
            sink.clone(),
        )
        .unwrap();
    let events = sink.take();
    assert_eq!(names(&events), ["routing.queued"]);
    assert_eq!(data(&events[0])["request"], "svc-1");
    assert_eq!(data(&events[0])["virtual_queue"], "vq_chat");
    assert_eq!(data(&events[0])["position"], 1);

    service.deliver(Event::external("routing.position"));
    let events = sink.take();
    assert_eq!(names(&events), ["routing.position"]);
    let d = data(&events[0]);
    assert_eq!(
        (d["position"].clone(), d["eta"].clone()),
        (json!(1), json!("n/a"))
    );
    assert_eq!(
        (d["threshold_passed"].clone(), d["reason"].clone()),
        (json!(true), json!("eta n/a"))
    );
    assert_eq!(d["total_waiting"], 1);

    service.deliver(Event::external("routing.route"));
    let events = sink.take();
    assert_eq!(names(&events), ["routing.error"]);
    assert_eq!(data(&events[0])["error"], "not_reserved");
    assert_eq!(data(&events[0])["event"], "routing.route");

    let now = Instant::now();
    r.login("a1", now).unwrap();
    r.set_ready("a1", now).unwrap();
    let events = sink.take();
    assert_eq!(names(&events), ["routing.reserved"]);
    assert_eq!(
        data(&events[0]),
        &json!({"request": "svc-1", "agent": "a1", "agent_name": "Alice"})
    );

    let mut route = Event::external("routing.route");
    route.data = Some(json!({"interaction": "chat-7"}));
    service.deliver(route);
    let events = sink.take();
    assert_eq!(names(&events), ["routing.routed", "done.invoke.inv1"]);
    assert_eq!(
        data(&events[0]),
        &json!({"request": "svc-1", "agent": "a1", "agent_name": "Alice", "interaction": "chat-7"})
    );
    assert_eq!(r.offered("a1").unwrap()[0].interaction, "chat-7");
    // Cancelling after routing changes nothing.
    service.cancel();
    assert!(matches!(state(&r, "a1"), AgentState::Busy { .. }));
}

#[test]
fn invoke_reports_bad_params_as_routing_error() {
    let r = Arc::new(router());
    let ty = RoutingInvokeType::new(r.clone());
    for (params, kind) in [
        (json!({"target": "Sales@SS"}), "bad_target"),
        (json!({"target": "Nobody@SS.GA"}), "target_not_found"),
        (json!({}), "bad_parameter"),
        (
            json!({"target": "Sales@SS.GA", "media": "fax"}),
            "bad_parameter",
        ),
        (
            json!({"target": "Sales@SS.GA", "_eta_pos_threshold": "x"}),
            "bad_parameter",
        ),
        (
            json!({"target": (0..16).map(|_| json!({"target": "Sales@SS.GA"})).collect::<Vec<_>>()}),
            "too_many_targets",
        ),
    ] {
        let sink = Arc::new(TestSink::default());
        let mut service = ty
            .start(invoke_request("bad", params), sink.clone())
            .unwrap();
        let events = sink.take();
        assert_eq!(
            names(&events),
            ["routing.error", "done.invoke.bad"],
            "{kind}"
        );
        assert_eq!(data(&events[0])["error"], kind);
        assert_eq!(data(&events[0])["event"], "start");
        service.deliver(Event::external("routing.position"));
        assert_eq!(data(&sink.take()[0])["error"], "unknown_request");
    }
    let sink = Arc::new(TestSink::default());
    ty.start(
        invoke_request("bad", json!({"target": "Sales@SS.XY"})),
        sink.clone(),
    )
    .unwrap();
    let message = data(&sink.take()[0])["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("at position 9"), "{message}");
}

#[test]
fn invoke_cancel_releases_and_timeout_and_switch_events_arrive() {
    let r = Arc::new(router());
    let ty = RoutingInvokeType::new(r.clone());
    let now = Instant::now();
    ready(&r, "a1", now);
    let sink = Arc::new(TestSink::default());
    let mut service = ty
        .start(
            invoke_request("inv", json!({"target": "Sales@SS.GA"})),
            sink.clone(),
        )
        .unwrap();
    assert_eq!(names(&sink.take()), ["routing.queued", "routing.reserved"]);
    service.cancel();
    assert!(!r.contains("inv"));
    assert_eq!(state(&r, "a1"), AgentState::Ready);
    r.set_not_ready("a1", now).unwrap();

    // Multi-target list given as a JSON string, with a short ttl, driven by tick.
    let sink = Arc::new(TestSink::default());
    let list = r#"[{"target": "a1@SS.A", "timeout": 1}, {"target": "Sales@SS.GA"}]"#;
    let _service = ty
        .start(
            invoke_request("inv2", json!({"target": list, "queued_ttl": 2})),
            sink.clone(),
        )
        .unwrap();
    sink.take();
    r.tick(Instant::now() + Duration::from_millis(1500));
    let events = sink.take();
    assert_eq!(names(&events), ["routing.target_switched"]);
    assert_eq!(data(&events[0])["index"], 1);
    r.tick(Instant::now() + Duration::from_secs(3));
    let events = sink.take();
    assert_eq!(names(&events), ["routing.timeout", "done.invoke.inv2"]);
    assert!(!r.contains("inv2"));
}

#[test]
fn invoke_release_and_reservation_expiry_events() {
    let r = Arc::new(router());
    let ty = RoutingInvokeType::new(r.clone());
    let now = Instant::now();
    let sink = Arc::new(TestSink::default());
    let mut service = ty
        .start(
            invoke_request(
                "inv",
                json!({"target": "Sales@SS.GA", "reservation_timeout": 5}),
            ),
            sink.clone(),
        )
        .unwrap();
    ready(&r, "a2", now);
    sink.take();
    r.tick(Instant::now() + Duration::from_secs(6));
    let events = sink.take();
    assert_eq!(
        names(&events),
        ["routing.reservation_expired", "routing.reserved"]
    );
    assert_eq!(data(&events[0])["reason"], "timeout");
    // Answers to our own events (carrying an invoke id) are ignored.
    let mut echoed = Event::external("routing.position");
    echoed.invokeid = Some("inv".into());
    service.deliver(echoed);
    assert!(sink.take().is_empty());
    let mut release = Event::external("routing.release");
    release.data = Some(json!({"requeue": false}));
    service.deliver(release);
    let events = sink.take();
    assert_eq!(names(&events), ["routing.released", "done.invoke.inv"]);
    assert_eq!(state(&r, "a2"), AgentState::Ready);
    assert!(!r.contains("inv"));
}

#[test]
fn invoke_type_registers_under_both_names() {
    let mut registry = scxml::io::Registry::new();
    RoutingInvokeType::new(Arc::new(router())).register(&mut registry);
    for name in INVOKE_TYPE_NAMES {
        assert!(registry.invoke_type(name).is_some());
    }
}
