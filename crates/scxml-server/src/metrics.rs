//! `GET /metrics` in the Prometheus text format: sessions, events, macrostep time, and HTTP
//! requests by route and status with a latency histogram.

use super::http::{self, Body};
use super::App;
use hyper::{Response, StatusCode};
use scxml_engine::MACROSTEP_BUCKETS_MICROS;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the request latency buckets, in seconds.
const BUCKETS: [f64; 8] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// Request counters, by route.
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<&'static str, RouteStats>>,
    /// Connections closed at once because `max_connections` were open.
    refused_connections: std::sync::atomic::AtomicU64,
}

impl HttpMetrics {
    /// Counts a connection closed at once for want of a slot.
    pub fn connection_refused(&self) {
        self.refused_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn record(&self, route: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let stats = routes.entry(route).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                stats.buckets[i] += 1;
            }
        }
        stats.count += 1;
        stats.sum_seconds += secs;
    }
}

pub(crate) fn render(app: &App) -> Response<Body> {
    let stats = app.engine.stats();
    let mut out = String::new();
    let counter = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    let sessions = stats.sessions.load(Ordering::Relaxed) as u64;
    let hibernated = stats.hibernated.load(Ordering::Relaxed) as u64;
    counter(
        &mut out,
        "scxml_sessions_live",
        "Sessions with a live context.",
        "gauge",
        sessions.saturating_sub(hibernated),
    );
    counter(
        &mut out,
        "scxml_sessions_hibernated",
        "Sessions written out, waiting for their next event.",
        "gauge",
        hibernated,
    );
    counter(
        &mut out,
        "scxml_sessions_created_total",
        "Sessions started (invoked children included).",
        "counter",
        stats.sessions_created.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "scxml_events_total",
        "External events processed.",
        "counter",
        stats.events_processed.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "scxml_macrosteps_total",
        "Macrosteps run.",
        "counter",
        stats.macrosteps.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "scxml_http_connections_refused_total",
        "Connections closed at once because the most connections allowed were open.",
        "counter",
        app.metrics.refused_connections.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "scxml_workers_abandoned_total",
        "Worker threads given up on by the watchdog, each held by a macrostep that ran past its deadline (the process is degraded above zero).",
        "counter",
        stats.abandoned_workers.load(Ordering::Relaxed),
    );
    let contexts = scxml::datamodel::ecmascript::context_counts();
    let _ = writeln!(
        out,
        "# HELP scxml_js_contexts_total JavaScript contexts sessions started with, by origin: built anew, a spare one no code ran in, or a warm one of the same document (this process).\n# TYPE scxml_js_contexts_total counter"
    );
    for (origin, n) in [
        ("built", contexts.built),
        ("spare", contexts.spare),
        ("warm", contexts.warm),
    ] {
        let _ = writeln!(out, "scxml_js_contexts_total{{origin=\"{origin}\"}} {n}");
    }
    counter(
        &mut out,
        "scxml_js_contexts_refused_total",
        "Contexts not kept warm because their session changed more than its variables (this process).",
        "counter",
        contexts.refused,
    );
    let _ = writeln!(
        out,
        "# HELP scxml_macrostep_seconds Macrostep latency.\n# TYPE scxml_macrostep_seconds histogram"
    );
    for (bound, bucket) in MACROSTEP_BUCKETS_MICROS
        .iter()
        .zip(&stats.macrostep_buckets)
    {
        let _ = writeln!(
            out,
            "scxml_macrostep_seconds_bucket{{le=\"{}\"}} {}",
            *bound as f64 / 1e6,
            bucket.load(Ordering::Relaxed)
        );
    }
    let macrosteps = stats.macrosteps.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "scxml_macrostep_seconds_bucket{{le=\"+Inf\"}} {macrosteps}\nscxml_macrostep_seconds_sum {}\nscxml_macrostep_seconds_count {macrosteps}",
        stats.macrostep_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "# HELP scxml_http_requests_total HTTP requests by route and status.\n# TYPE scxml_http_requests_total counter");
    let _ = writeln!(out, "# HELP scxml_http_request_seconds HTTP request latency by route.\n# TYPE scxml_http_request_seconds histogram");
    if let Ok(routes) = app.metrics.routes.lock() {
        for (route, s) in routes.iter() {
            for (status, n) in &s.by_status {
                let _ = writeln!(
                    out,
                    "scxml_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "scxml_http_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "scxml_http_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "scxml_http_request_seconds_sum{{route=\"{route}\"}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "scxml_http_request_seconds_count{{route=\"{route}\"}} {}",
                s.count
            );
        }
    }
    http::full(StatusCode::OK, "text/plain; version=0.0.4", out)
}
