//! The router: agents, waiting requests, multi-target progress and reservations, behind one
//! lock.
//!
//! This plays URS for the callback flows. A request is enqueued in a virtual queue with a
//! target list; whenever an agent of its current target set (with the request's media) is
//! ready and the request is first in line among the waiting requests that agent may serve
//! (priority, then arrival), the agent is **reserved** for it and offered nothing else. The
//! reservation ends when the interaction is routed to the agent (agent busy), when it times
//! out (agent ready again, request waits again and may be re-reserved), or when the request
//! is cancelled or released.
//!
//! A request whose reservation lapsed keeps its place in line, but the agent it let lapse
//! goes first to the other waiting requests that may take it: the lapsed request gets that
//! agent again only when no one else can use it (then at once, even in the same tick). This
//! lasts until the request is reserved again, so a customer who never confirms cannot hold an
//! agent against the customers behind.
//!
//! Time is always passed in (`now`), and [`Router::tick`] advances multi-target timeouts, the
//! queued ttl and reservation timeouts, so everything is deterministic under test;
//! [`Router::spawn_ticker`] drives it from a tokio interval in a server. Every change the
//! requesting session must hear about is an [`Outcome`]: returned by the call that caused it
//! and also passed to the request's [`OutcomeListener`], if it has one (the invoke type posts
//! them to the session as events). Listeners run while the router's lock is held, so they must
//! only hand the outcome on (e.g. post an event) and never call back into the router.

use super::directory::{Agent, AgentState, Directory, DirectoryConfig, Media};
use super::error::RoutingError;
use super::multi::TargetSpec;
use super::queue::{estimate_eta, queue_key, HandlingStats};
use super::threshold::ThresholdTable;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Default `_urs_queued_ttl`.
pub const DEFAULT_QUEUED_TTL: Duration = Duration::from_secs(660);
/// Default `_agent_reserve_timeout`, for the routing invoke and the callback services alike.
/// GMS's is 30 s; a customer given three 30-second confirmation attempts would lose the held
/// agent before the second push, so the default holds the agent for five minutes.
pub const DEFAULT_RESERVATION_TIMEOUT: Duration = Duration::from_secs(300);

/// How a waiting request's priority grows with its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityAging {
    /// What the priority grows by per interval (`_urs_vq_priority_increment`).
    pub increment: i64,
    /// How long a request waits for each increment (`_urs_vq_priority_increment_interval`).
    pub interval: Duration,
}

impl PriorityAging {
    /// The priority after waiting `waited`.
    pub fn priority(&self, base: i64, waited: Duration) -> i64 {
        let steps = waited.as_nanos() / self.interval.as_nanos().max(1);
        let steps = i64::try_from(steps).unwrap_or(i64::MAX);
        base.saturating_add(self.increment.saturating_mul(steps))
    }
}

/// Receives the outcomes of one request (runs under the router's lock: hand on, don't call
/// back).
pub type OutcomeListener = Arc<dyn Fn(&Outcome) + Send + Sync>;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Unique among queued requests (e.g. the callback service id or the invoke id).
    pub id: String,
    /// The virtual queue it waits in (`_urs_virtual_queue`); ordering, positions and
    /// handling-time statistics are per virtual queue.
    pub virtual_queue: String,
    /// Higher goes first.
    pub priority: i64,
    /// Priority aging (`_urs_vq_priority_increment` every
    /// `_urs_vq_priority_increment_interval`): the priority grows by `increment` for each full
    /// `interval` the request has waited, so long waits climb past newer, higher-priority ones.
    pub aging: Option<PriorityAging>,
    /// Who may take it (`_target`): one target string or a multi-target list.
    pub target: TargetSpec,
    /// The media of the interaction; only agents who handle it are reserved.
    pub media: Media,
    /// `_urs_queued_ttl`: the longest total wait; `None`: no limit.
    pub queued_ttl: Option<Duration>,
    /// `_agent_reserve_timeout`.
    pub reservation_timeout: Duration,
    /// `_eta_pos_threshold`.
    pub threshold: ThresholdTable,
}

impl RequestSpec {
    /// A chat request with priority 0 and the default ttl, reservation timeout and threshold.
    pub fn new(
        id: impl Into<String>,
        virtual_queue: impl Into<String>,
        target: TargetSpec,
    ) -> Self {
        RequestSpec {
            id: id.into(),
            virtual_queue: virtual_queue.into(),
            priority: 0,
            aging: None,
            target,
            media: Media::Chat,
            queued_ttl: Some(DEFAULT_QUEUED_TTL),
            reservation_timeout: DEFAULT_RESERVATION_TIMEOUT,
            threshold: ThresholdTable::default(),
        }
    }
}

/// A change a requesting session must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request was accepted into its virtual queue (first outcome of every request).
    Queued {
        /// The request id.
        request: String,
        /// The virtual queue it joined.
        virtual_queue: String,
        /// The first target used (earlier ones may have been skipped by their statistic).
        target_index: usize,
        /// Its 1-based place in the virtual queue's line ([`QueueStatus::position`]).
        position: usize,
        /// Requests in the virtual queue, this one included.
        total_waiting: usize,
    },
    /// An agent is reserved for the request.
    Reserved {
        /// The request id.
        request: String,
        /// The reserved agent's id.
        agent: String,
        /// The reserved agent's display name.
        agent_name: String,
    },
    /// A multi-target timeout moved the request to item `index` of its list.
    TargetSwitched {
        /// The request id.
        request: String,
        /// The new item's index in the list (0-based).
        index: usize,
        /// The new item's target string.
        target: String,
    },
    /// `_urs_queued_ttl` passed while waiting: the request left the queue.
    TimedOut {
        /// The request id.
        request: String,
    },
    /// The reservation ended without routing; the request waits again. `reason`: `timeout`,
    /// or `agent_unavailable` (the agent went not ready or logged out).
    ReservationExpired {
        /// The request id.
        request: String,
        /// The agent that was reserved.
        agent: String,
        /// `timeout` or `agent_unavailable`.
        reason: &'static str,
    },
}

impl Outcome {
    /// The request the outcome concerns.
    pub fn request(&self) -> &str {
        match self {
            Outcome::Queued { request, .. }
            | Outcome::Reserved { request, .. }
            | Outcome::TargetSwitched { request, .. }
            | Outcome::TimedOut { request }
            | Outcome::ReservationExpired { request, .. } => request,
        }
    }
}

/// Where a request stands (the `check-queue-position` answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// The request id.
    pub request: String,
    /// The virtual queue it waits in.
    pub virtual_queue: String,
    /// The agent reserved for it, if any.
    pub reserved_agent: Option<String>,
    /// 1-based place in the virtual queue's line: requests holding an agent first (they are
    /// served next), then the waiting ones, each in queue order.
    pub position: usize,
    /// Estimated wait in seconds; `None` is "n/a". `Some(0)` once an agent is reserved.
    pub eta: Option<u64>,
    /// Requests in the virtual queue (waiting, or holding an agent for the customer).
    pub total_waiting: usize,
    /// `_agent_ready_threshold_passed`: whether an agent is expected soon enough, by
    /// `_eta_pos_threshold`.
    pub threshold_passed: bool,
    /// Why the threshold decision came out so.
    pub reason: String,
    /// The current item of the target list.
    pub target_index: usize,
}

/// An interaction routed to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The interaction id.
    pub interaction: String,
    /// The request the interaction answers.
    pub request: String,
    /// The virtual queue the request waited in.
    pub virtual_queue: String,
    /// Whether the agent has accepted it yet.
    pub accepted: bool,
}

/// Where a request stood, to resume it elsewhere ([`Router::checkpoint`], [`Router::resume`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Its place in line (priority aside).
    pub arrival: u64,
    /// Time since it was enqueued.
    #[serde(with = "millis")]
    pub waited: Duration,
    /// The current item of its target list, and the time spent on it.
    pub step: usize,
    /// Time spent on the current item of the target list.
    #[serde(with = "millis")]
    pub in_step: Duration,
    /// The agents it may go to then (the target items reached, after their `clear` rules).
    pub eligible: Vec<String>,
    /// The agent reserved for it then, if any.
    pub reserved_agent: Option<String>,
}

/// Durations as whole milliseconds in checkpoints.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A waiting or reserved request, for listings (e.g. the admin queue view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestView {
    /// The request id.
    pub request: String,
    /// The virtual queue it waits in.
    pub virtual_queue: String,
    /// Its priority now, aging included.
    pub priority: i64,
    /// The media of the interaction.
    pub media: Media,
    /// The current item of the target list.
    pub target_index: usize,
    /// The target string of the current item.
    pub target: String,
    /// The agent reserved for it, if any.
    pub reserved_agent: Option<String>,
    /// Time since enqueue.
    pub waited: Duration,
}

#[derive(Debug)]
struct Reservation {
    agent: String,
    until: Instant,
}

struct Request {
    spec: RequestSpec,
    /// The agents each item of the target list names (resolved at enqueue).
    step_agents: Vec<BTreeSet<String>>,
    step: usize,
    step_started: Instant,
    /// Agents the request may currently go to (after `clear` rules).
    eligible: BTreeSet<String>,
    arrival: u64,
    enqueued_at: Instant,
    reservation: Option<Reservation>,
    /// The agent whose reservation for this request timed out: offered to the other waiting
    /// requests first (see [`dispatch`]); cleared by the next reservation.
    lapsed_agent: Option<String>,
}

impl Request {
    /// Its priority now, aging included.
    fn priority(&self, now: Instant) -> i64 {
        match self.spec.aging {
            Some(aging) => aging.priority(
                self.spec.priority,
                now.saturating_duration_since(self.enqueued_at),
            ),
            None => self.spec.priority,
        }
    }

    /// Its place in line now: priority (aged) descending, then arrival.
    fn key(&self, now: Instant) -> (std::cmp::Reverse<i64>, u64) {
        queue_key(self.priority(now), self.arrival)
    }

    /// Its place in the line the customers are told about: requests holding an agent first
    /// (they are served next), then the waiting ones, each in queue order.
    fn line_key(&self, now: Instant) -> (bool, (std::cmp::Reverse<i64>, u64)) {
        (self.reservation.is_none(), self.key(now))
    }

    fn last_step(&self) -> usize {
        self.spec.target.steps.len() - 1
    }
}

#[derive(Default)]
struct State {
    dir: Directory,
    requests: BTreeMap<String, Request>,
    listeners: HashMap<String, OutcomeListener>,
    next_arrival: u64,
    stats: HandlingStats,
}

/// The routing engine. Thread-safe; every method takes `&self`.
pub struct Router {
    state: Mutex<State>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("Router")
            .field("agents", &st.dir.agents.len())
            .field("requests", &st.requests.len())
            .finish()
    }
}

impl Router {
    /// A router over the configured agents, all logged out.
    pub fn new(config: DirectoryConfig) -> Result<Router, RoutingError> {
        Ok(Router {
            state: Mutex::new(State {
                dir: Directory::new(config)?,
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking listener must not wedge routing for everyone.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` under the lock, then hands each outcome to its request's listener (still under
    /// the lock, so listeners see outcomes in order) and forgets listeners of requests gone.
    fn with_state<T>(
        &self,
        op: impl FnOnce(&mut State) -> Result<(T, Vec<Outcome>), RoutingError>,
    ) -> Result<(T, Vec<Outcome>), RoutingError> {
        let mut st = self.lock();
        let (value, outcomes) = op(&mut st)?;
        for outcome in &outcomes {
            if let Some(listener) = st.listeners.get(outcome.request()) {
                listener(outcome);
            }
        }
        let State {
            requests,
            listeners,
            ..
        } = &mut *st;
        listeners.retain(|id, _| requests.contains_key(id));
        Ok((value, outcomes))
    }

    fn outcomes(
        &self,
        op: impl FnOnce(&mut State, &mut Vec<Outcome>) -> Result<(), RoutingError>,
    ) -> Result<Vec<Outcome>, RoutingError> {
        self.with_state(|st| {
            let mut out = Vec::new();
            op(st, &mut out)?;
            Ok(((), out))
        })
        .map(|(_, out)| out)
    }

    // ---- agents ----

    /// Logs an agent in (not ready). Already logged in: no change.
    pub fn login(&self, agent: &str, now: Instant) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, _| {
            let a = st.dir.agent_mut(agent)?;
            if a.state == AgentState::LoggedOut {
                set_state(a, AgentState::NotReady, now);
            }
            Ok(())
        })
    }

    /// Logs an agent out. A reservation it held ends (`agent_unavailable`); an agent busy with
    /// an interaction must end it first.
    pub fn logout(&self, agent: &str, now: Instant) -> Result<Vec<Outcome>, RoutingError> {
        self.unavailable(agent, AgentState::LoggedOut, now)
    }

    /// Makes an agent not ready (logging it in if needed). As for logout, a reservation ends.
    pub fn set_not_ready(&self, agent: &str, now: Instant) -> Result<Vec<Outcome>, RoutingError> {
        self.unavailable(agent, AgentState::NotReady, now)
    }

    fn unavailable(
        &self,
        agent: &str,
        state: AgentState,
        now: Instant,
    ) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, out| {
            let a = st.dir.agent_mut(agent)?;
            match a.state.clone() {
                AgentState::Busy { .. } => return Err(RoutingError::AgentBusy(agent.into())),
                AgentState::Reserved { request } => {
                    set_state(a, state, now);
                    if let Some(r) = st.requests.get_mut(&request) {
                        r.reservation = None;
                    }
                    out.push(Outcome::ReservationExpired {
                        request,
                        agent: agent.into(),
                        reason: "agent_unavailable",
                    });
                }
                _ => set_state(a, state, now),
            }
            dispatch(st, now, out);
            Ok(())
        })
    }

    /// Makes a logged-in agent ready; it may be reserved at once. Reserved: no change.
    pub fn set_ready(&self, agent: &str, now: Instant) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, out| {
            let a = st.dir.agent_mut(agent)?;
            match a.state {
                AgentState::LoggedOut => return Err(RoutingError::AgentLoggedOut(agent.into())),
                AgentState::Busy { .. } => return Err(RoutingError::AgentBusy(agent.into())),
                AgentState::Reserved { .. } | AgentState::Ready => {}
                AgentState::NotReady | AgentState::WrapUp { .. } => {
                    a.wrap_up_until = None;
                    set_state(a, AgentState::Ready, now)
                }
            }
            dispatch(st, now, out);
            Ok(())
        })
    }

    /// A copy of one agent with its state.
    pub fn agent(&self, agent: &str) -> Option<Agent> {
        self.lock().dir.agent(agent).cloned()
    }

    /// Copies of all agents, by id.
    pub fn agents(&self) -> Vec<Agent> {
        self.lock().dir.agents().cloned().collect()
    }

    // ---- requests ----

    /// Queues a request. Bad or unknown targets are refused here. The outcomes start with
    /// [`Outcome::Queued`] and may include an immediate [`Outcome::Reserved`]; `listener` (if
    /// any) receives them and every later outcome of the request.
    pub fn enqueue(
        &self,
        spec: RequestSpec,
        now: Instant,
        listener: Option<OutcomeListener>,
    ) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, out| {
            let arrival = next_arrival(st);
            let mut request = new_request(st, spec, arrival, now)?;
            let first = first_usable_step(&request, 0, &st.dir);
            request.step = first;
            request.eligible = request.step_agents[first].clone();
            let id = request.spec.id.clone();
            let virtual_queue = request.spec.virtual_queue.clone();
            st.requests.insert(id.clone(), request);
            if let Some(listener) = listener {
                st.listeners.insert(id.clone(), listener);
            }
            let (position, total_waiting) = rank(st, &id, now);
            out.push(Outcome::Queued {
                request: id,
                virtual_queue,
                target_index: first,
                position,
                total_waiting,
            });
            dispatch(st, now, out);
            Ok(())
        })
    }

    /// Removes a request (queued or reserved); a reserved agent becomes ready and may be
    /// reserved for the next request at once.
    pub fn cancel(&self, request: &str, now: Instant) -> Result<Vec<Outcome>, RoutingError> {
        self.release(request, false, now)
    }

    /// Ends a request's reservation (its agent becomes ready). With `requeue` the request keeps
    /// waiting in its place and may be reserved again (even by the same agent); without, it
    /// leaves the queue (as [`Router::cancel`]).
    pub fn release(
        &self,
        request: &str,
        requeue: bool,
        now: Instant,
    ) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, out| {
            let r = st
                .requests
                .get_mut(request)
                .ok_or_else(|| RoutingError::UnknownRequest(request.into()))?;
            let reservation = r.reservation.take();
            if !requeue {
                st.requests.remove(request);
                st.listeners.remove(request);
            }
            if let Some(res) = reservation {
                if let Ok(a) = st.dir.agent_mut(&res.agent) {
                    set_state(a, AgentState::Ready, now);
                }
            }
            dispatch(st, now, out);
            Ok(())
        })
    }

    /// Where a request stands in the queue, to bring it back with [`Router::resume`] in
    /// another process. `None` for an unknown request.
    pub fn checkpoint(&self, request: &str, now: Instant) -> Option<Checkpoint> {
        let st = self.lock();
        let r = st.requests.get(request)?;
        Some(Checkpoint {
            arrival: r.arrival,
            waited: now.saturating_duration_since(r.enqueued_at),
            step: r.step,
            in_step: now.saturating_duration_since(r.step_started),
            eligible: r.eligible.iter().cloned().collect(),
            reserved_agent: r.reservation.as_ref().map(|res| res.agent.clone()),
        })
    }

    /// Puts back a request saved by [`Router::checkpoint`] (after a restart): same place in
    /// line (its arrival), same wait so far (for `_urs_queued_ttl`), same target item and time
    /// on it. A reservation is not brought back (agents start logged out); the request waits
    /// again. No `Queued` outcome: the session heard that before.
    pub fn resume(
        &self,
        spec: RequestSpec,
        checkpoint: &Checkpoint,
        now: Instant,
        listener: Option<OutcomeListener>,
    ) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, out| {
            let mut request = new_request(st, spec, checkpoint.arrival, now)?;
            st.next_arrival = st.next_arrival.max(checkpoint.arrival + 1);
            request.enqueued_at = now.checked_sub(checkpoint.waited).unwrap_or(now);
            request.step = checkpoint.step.min(request.last_step());
            request.step_started = now.checked_sub(checkpoint.in_step).unwrap_or(now);
            request.eligible = checkpoint.eligible.iter().cloned().collect();
            let id = request.spec.id.clone();
            st.requests.insert(id.clone(), request);
            if let Some(listener) = listener {
                st.listeners.insert(id, listener);
            }
            dispatch(st, now, out);
            Ok(())
        })
    }

    /// Whether the router knows the request (waiting or reserved).
    pub fn contains(&self, request: &str) -> bool {
        self.lock().requests.contains_key(request)
    }

    /// Position, ETA, total waiting and the `_eta_pos_threshold` decision for a request.
    pub fn status(&self, request: &str, now: Instant) -> Result<QueueStatus, RoutingError> {
        let st = self.lock();
        let r = st
            .requests
            .get(request)
            .ok_or_else(|| RoutingError::UnknownRequest(request.into()))?;
        let (position, total_waiting) = rank(&st, request, now);
        let base = QueueStatus {
            request: request.to_string(),
            virtual_queue: r.spec.virtual_queue.clone(),
            reserved_agent: None,
            position,
            eta: None,
            total_waiting,
            threshold_passed: true,
            reason: String::new(),
            target_index: r.step,
        };
        if let Some(res) = &r.reservation {
            return Ok(QueueStatus {
                reserved_agent: Some(res.agent.clone()),
                eta: Some(0),
                reason: "agent reserved".into(),
                ..base
            });
        }
        let working = r
            .eligible
            .iter()
            .filter_map(|id| st.dir.agent(id))
            .filter(|a| a.can_handle(r.spec.media) && a.state.working())
            .count();
        let eta = estimate_eta(position, st.stats.average(&r.spec.virtual_queue), working);
        let decision = r.spec.threshold.decide(eta, position);
        Ok(QueueStatus {
            eta,
            threshold_passed: decision.passed,
            reason: decision.reason,
            ..base
        })
    }

    /// Waiting and reserved requests, optionally of one virtual queue, in the line the
    /// customers are told about (holding an agent first, then waiting; each in queue order).
    pub fn requests(&self, virtual_queue: Option<&str>, now: Instant) -> Vec<RequestView> {
        let st = self.lock();
        let mut list: Vec<&Request> = st
            .requests
            .values()
            .filter(|r| virtual_queue.is_none_or(|vq| r.spec.virtual_queue == vq))
            .collect();
        list.sort_by_key(|r| r.line_key(now));
        list.into_iter()
            .map(|r| RequestView {
                request: r.spec.id.clone(),
                virtual_queue: r.spec.virtual_queue.clone(),
                priority: r.priority(now),
                media: r.spec.media,
                target_index: r.step,
                target: r.spec.target.steps[r.step].target.text.clone(),
                reserved_agent: r.reservation.as_ref().map(|res| res.agent.clone()),
                waited: now.saturating_duration_since(r.enqueued_at),
            })
            .collect()
    }

    /// Routes the request's interaction to its reserved agent, which becomes busy with it (an
    /// offer until accepted). The request leaves the router. `interaction` defaults to the
    /// request id. Returns the agent id.
    pub fn route(
        &self,
        request: &str,
        interaction: Option<&str>,
        now: Instant,
    ) -> Result<String, RoutingError> {
        self.with_state(|st| {
            let r = st
                .requests
                .get(request)
                .ok_or_else(|| RoutingError::UnknownRequest(request.into()))?;
            let res = r
                .reservation
                .as_ref()
                .ok_or_else(|| RoutingError::NotReserved(request.into()))?;
            let agent = res.agent.clone();
            let virtual_queue = r.spec.virtual_queue.clone();
            let a = st.dir.agent_mut(&agent)?;
            set_state(
                a,
                AgentState::Busy {
                    interaction: interaction.unwrap_or(request).to_string(),
                    request: request.to_string(),
                    virtual_queue,
                    accepted: false,
                },
                now,
            );
            a.busy_since = Some(now);
            st.requests.remove(request);
            Ok((agent, Vec::new()))
        })
        .map(|(agent, _)| agent)
    }

    /// The interactions routed to an agent (at most one: agents take one at a time).
    pub fn offered(&self, agent: &str) -> Result<Vec<Offer>, RoutingError> {
        let st = self.lock();
        let a = st
            .dir
            .agent(agent)
            .ok_or_else(|| RoutingError::UnknownAgent(agent.into()))?;
        Ok(match &a.state {
            AgentState::Busy {
                interaction,
                request,
                virtual_queue,
                accepted,
            } => vec![Offer {
                interaction: interaction.clone(),
                request: request.clone(),
                virtual_queue: virtual_queue.clone(),
                accepted: *accepted,
            }],
            _ => Vec::new(),
        })
    }

    /// The agent accepts an offered interaction.
    pub fn accept(&self, agent: &str, interaction: &str) -> Result<(), RoutingError> {
        let mut st = self.lock();
        let a = st.dir.agent_mut(agent)?;
        match &mut a.state {
            AgentState::Busy {
                interaction: current,
                accepted,
                ..
            } if current == interaction => {
                *accepted = true;
                Ok(())
            }
            _ => Err(RoutingError::NoSuchInteraction {
                agent: agent.into(),
                interaction: interaction.into(),
            }),
        }
    }

    /// The agent turns down an interaction offered to it (not yet accepted): it goes
    /// not-ready, so it is not offered the next one at once, and the offer is answered so
    /// its request's owner can route the interaction again.
    pub fn reject(
        &self,
        agent: &str,
        interaction: &str,
        now: Instant,
    ) -> Result<Offer, RoutingError> {
        self.with_state(|st| {
            let a = st.dir.agent_mut(agent)?;
            let offer = match &a.state {
                AgentState::Busy {
                    interaction: current,
                    accepted: true,
                    ..
                } if current == interaction => {
                    return Err(RoutingError::AlreadyAccepted {
                        agent: agent.into(),
                        interaction: interaction.into(),
                    })
                }
                AgentState::Busy {
                    interaction: current,
                    request,
                    virtual_queue,
                    accepted: false,
                } if current == interaction => Offer {
                    interaction: current.clone(),
                    request: request.clone(),
                    virtual_queue: virtual_queue.clone(),
                    accepted: false,
                },
                _ => {
                    return Err(RoutingError::NoSuchInteraction {
                        agent: agent.into(),
                        interaction: interaction.into(),
                    })
                }
            };
            a.busy_since = None;
            set_state(a, AgentState::NotReady, now);
            Ok((offer, Vec::new()))
        })
        .map(|(offer, _)| offer)
    }

    /// The offers their agents did not accept within `accept_timeout_secs`, with the agents:
    /// each agent goes not-ready, as if it had rejected the offer, and the offers are answered
    /// so their owners route the interactions again.
    pub fn lapsed_offers(&self, now: Instant) -> Vec<(String, Offer)> {
        let mut st = self.lock();
        let Some(timeout) = st.dir.accept_timeout else {
            return Vec::new();
        };
        let mut lapsed = Vec::new();
        for a in st.dir.agents.values_mut() {
            let AgentState::Busy {
                interaction,
                request,
                virtual_queue,
                accepted: false,
            } = &a.state
            else {
                continue;
            };
            if a.busy_since
                .is_some_and(|since| now.saturating_duration_since(since) >= timeout)
            {
                let offer = Offer {
                    interaction: interaction.clone(),
                    request: request.clone(),
                    virtual_queue: virtual_queue.clone(),
                    accepted: false,
                };
                lapsed.push((a.id.clone(), offer));
                a.busy_since = None;
                set_state(a, AgentState::NotReady, now);
            }
        }
        lapsed
    }

    /// The agent finishes an interaction: its handling time (since routing) is recorded for
    /// the ETA, and the agent wraps up for `wrap_up` (default the configured
    /// `wrap_up_secs`) or, with none, is ready again (and may be reserved at once).
    pub fn end_interaction(
        &self,
        agent: &str,
        interaction: &str,
        wrap_up: Option<Duration>,
        now: Instant,
    ) -> Result<Vec<Outcome>, RoutingError> {
        self.outcomes(|st, out| {
            let a = st.dir.agent_mut(agent)?;
            let virtual_queue = match &a.state {
                AgentState::Busy {
                    interaction: current,
                    virtual_queue,
                    ..
                } if current == interaction => virtual_queue.clone(),
                _ => {
                    return Err(RoutingError::NoSuchInteraction {
                        agent: agent.into(),
                        interaction: interaction.into(),
                    })
                }
            };
            let handled = a
                .busy_since
                .take()
                .map(|since| now.saturating_duration_since(since));
            let wrap_up = wrap_up.unwrap_or(st.dir.wrap_up);
            let a = st.dir.agent_mut(agent)?;
            if wrap_up.is_zero() {
                set_state(a, AgentState::Ready, now);
            } else {
                a.wrap_up_until = Some(now + wrap_up);
                let interaction = interaction.to_string();
                set_state(a, AgentState::WrapUp { interaction }, now);
            }
            if let Some(handled) = handled {
                st.stats.record(&virtual_queue, handled);
            }
            dispatch(st, now, out);
            Ok(())
        })
    }

    // ---- time ----

    /// Advances time: ends reservations past their timeout, drops requests past their queued
    /// ttl, moves requests past a target's timeout to the next target, then reserves agents.
    pub fn tick(&self, now: Instant) -> Vec<Outcome> {
        self.outcomes(|st, out| {
            end_wrap_ups(st, now);
            expire_reservations(st, now, out);
            expire_ttl(st, now, out);
            advance_targets(st, now, out);
            dispatch(st, now, out);
            Ok(())
        })
        .unwrap_or_default()
    }

    /// Calls [`Router::tick`] every `every` on the current tokio runtime (must be called from
    /// within one). Abort the handle to stop.
    pub fn spawn_ticker(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                self.tick(Instant::now());
            }
        })
    }
}

/// The next arrival number: wall-clock microseconds, made strictly increasing, so that line
/// order survives a restart ([`Router::resume`] keeps a request's number).
fn next_arrival(st: &mut State) -> u64 {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let arrival = st.next_arrival.max(wall);
    st.next_arrival = arrival + 1;
    arrival
}

/// A request waiting at its first target item, its target list resolved against the agents;
/// refused when its id is in use or it has no target.
fn new_request(
    st: &State,
    spec: RequestSpec,
    arrival: u64,
    now: Instant,
) -> Result<Request, RoutingError> {
    if st.requests.contains_key(&spec.id) {
        return Err(RoutingError::DuplicateRequest(spec.id.clone()));
    }
    if spec.target.steps.is_empty() {
        return Err(RoutingError::BadTargetList("no target".into()));
    }
    let step_agents = spec
        .target
        .steps
        .iter()
        .map(|s| s.target.resolve(&st.dir))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Request {
        step_agents,
        step: 0,
        step_started: now,
        eligible: BTreeSet::new(),
        arrival,
        enqueued_at: now,
        reservation: None,
        lapsed_agent: None,
        spec,
    })
}

/// Agents whose after-call work is over are ready again.
fn end_wrap_ups(st: &mut State, now: Instant) {
    for a in st.dir.agents.values_mut() {
        if a.wrap_up_until.is_some_and(|until| until <= now) {
            a.wrap_up_until = None;
            if matches!(a.state, AgentState::WrapUp { .. }) {
                set_state(a, AgentState::Ready, now);
            }
        }
    }
}

fn set_state(agent: &mut Agent, state: AgentState, now: Instant) {
    agent.state = state;
    agent.since = Some(now);
}

/// The first step at or after `from` whose statistic does not say "skip" (never past the last).
fn first_usable_step(r: &Request, from: usize, dir: &Directory) -> usize {
    let last = r.last_step();
    let mut i = from;
    while i < last {
        match &r.spec.target.steps[i].check {
            Some(check) if check.holds(&r.step_agents[i], dir) => i += 1,
            _ => break,
        }
    }
    i
}

/// (1-based position among waiting requests of the same virtual queue, number waiting there).
/// A reserved request gets position 0.
fn rank(st: &State, request: &str, now: Instant) -> (usize, usize) {
    let Some(r) = st.requests.get(request) else {
        return (0, 0);
    };
    let mine = r.line_key(now);
    let mut total = 0;
    let mut ahead = 0;
    for o in st
        .requests
        .values()
        .filter(|o| o.spec.virtual_queue == r.spec.virtual_queue)
    {
        total += 1;
        if o.line_key(now) < mine {
            ahead += 1;
        }
    }
    (ahead + 1, total)
}

/// Reserves ready agents: requests in queue order (priority, then arrival, across virtual
/// queues) each take the longest-idle ready agent they may go to. A request passes over the
/// agent whose reservation for it lapsed; a second pass lets it take that agent when nobody
/// else did.
fn dispatch(st: &mut State, now: Instant, out: &mut Vec<Outcome>) {
    let mut order: Vec<(std::cmp::Reverse<i64>, u64, String)> = st
        .requests
        .values()
        .filter(|r| r.reservation.is_none())
        .map(|r| {
            let (p, a) = r.key(now);
            (p, a, r.spec.id.clone())
        })
        .collect();
    order.sort();
    for pass_over_lapsed in [true, false] {
        for (_, _, id) in &order {
            let r = &st.requests[id];
            if r.reservation.is_some() {
                continue;
            }
            let lapsed = r.lapsed_agent.as_deref().filter(|_| pass_over_lapsed);
            let chosen = r
                .eligible
                .iter()
                .filter(|a| Some(a.as_str()) != lapsed)
                .filter_map(|a| st.dir.agent(a))
                .filter(|a| a.state == AgentState::Ready && a.can_handle(r.spec.media))
                .min_by_key(|a| (a.since, a.id.clone()))
                .map(|a| (a.id.clone(), a.name.clone()));
            let Some((agent, agent_name)) = chosen else {
                continue;
            };
            reserve(st, id, &agent, now);
            out.push(Outcome::Reserved {
                request: id.clone(),
                agent,
                agent_name,
            });
        }
    }
}

/// Holds `agent` for request `id` (both known and free).
fn reserve(st: &mut State, id: &str, agent: &str, now: Instant) {
    if let Ok(a) = st.dir.agent_mut(agent) {
        set_state(
            a,
            AgentState::Reserved {
                request: id.to_string(),
            },
            now,
        );
    }
    if let Some(r) = st.requests.get_mut(id) {
        let until = now + r.spec.reservation_timeout;
        r.reservation = Some(Reservation {
            agent: agent.to_string(),
            until,
        });
        r.lapsed_agent = None;
    }
}

fn expire_reservations(st: &mut State, now: Instant, out: &mut Vec<Outcome>) {
    let State { dir, requests, .. } = st;
    for r in requests.values_mut() {
        if r.reservation.as_ref().is_some_and(|res| res.until <= now) {
            let res = r.reservation.take().expect("checked above");
            if let Ok(a) = dir.agent_mut(&res.agent) {
                if a.state
                    == (AgentState::Reserved {
                        request: r.spec.id.clone(),
                    })
                {
                    set_state(a, AgentState::Ready, now);
                }
            }
            r.lapsed_agent = Some(res.agent.clone());
            out.push(Outcome::ReservationExpired {
                request: r.spec.id.clone(),
                agent: res.agent,
                reason: "timeout",
            });
        }
    }
}

fn expire_ttl(st: &mut State, now: Instant, out: &mut Vec<Outcome>) {
    let expired: Vec<String> = st
        .requests
        .values()
        .filter(|r| r.reservation.is_none())
        .filter(|r| {
            r.spec
                .queued_ttl
                .is_some_and(|ttl| r.enqueued_at + ttl <= now)
        })
        .map(|r| r.spec.id.clone())
        .collect();
    for id in expired {
        st.requests.remove(&id);
        out.push(Outcome::TimedOut { request: id });
    }
}

fn advance_targets(st: &mut State, now: Instant, out: &mut Vec<Outcome>) {
    let State { dir, requests, .. } = st;
    for r in requests.values_mut() {
        if r.reservation.is_some() {
            continue;
        }
        loop {
            let step = r.step;
            if step >= r.last_step() {
                break;
            }
            let Some(timeout) = r.spec.target.steps[step].timeout else {
                break;
            };
            let deadline = r.step_started + timeout;
            if deadline > now {
                break;
            }
            let next = first_usable_step(r, step + 1, dir);
            if r.spec.target.steps[next].clear {
                r.eligible = r.step_agents[next].clone();
            } else {
                let add = r.step_agents[next].clone();
                r.eligible.extend(add);
            }
            r.step = next;
            r.step_started = deadline;
            out.push(Outcome::TargetSwitched {
                request: r.spec.id.clone(),
                index: next,
                target: r.spec.target.steps[next].target.text.clone(),
            });
        }
    }
}
