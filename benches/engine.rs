//! Interpreter throughput on the uSCXML benchmark charts (`../shared/benchmarks`).
//!
//! `state_entries`: LCCA.N and Transitions.N loop forever through eventless transitions; one
//! iteration resumes the session for a fixed slice of microsteps, and the throughput is the
//! number of entries of `mark` that slice makes (the charts are periodic, so it is constant),
//! i.e. criterion reports entries of `mark` per second, the figure the published benchmark
//! gives. `external_events`: toggle-null and toggle-ecma, one external event per iteration.
//! `session_start`: a new session of the callback flows (`scxml/`) built and run to its first
//! stable configuration, then dropped: the datamodel's context, its `<data>` and `<script>`
//! (per-session costs of the callback application). Sessions of one document after the first
//! start from the warm context the last one left; the `(new context)` variants start each
//! session from a document no session ran yet.
//!
//! Each bench measures for 2 s so the whole run stays well under two minutes. Charts that are
//! missing or do not load are skipped with a message.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use scxml::interpreter::{Event, Interpreter, Limits, NullHost, SessionOptions};
use scxml::model::Document;
use std::sync::Arc;
use std::time::Duration;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/benchmarks");

fn load(name: &str) -> Option<Arc<Document>> {
    let path = format!("{DIR}/{name}");
    if !std::path::Path::new(&path).is_file() {
        eprintln!("skipping {name}: {path} does not exist");
        return None;
    }
    match scxml::parse::load(&path) {
        Ok(doc) => Some(doc),
        Err(e) => {
            eprintln!("skipping {name}: {e}");
            None
        }
    }
}

/// Microsteps per iteration: a multiple of every chart's cycle length, scaled down for the
/// big charts so one iteration stays in the millisecond range.
fn slice(n: u32) -> u64 {
    match n {
        4 => 1200,
        16 => 240,
        _ => 24,
    }
}

fn state_entries(c: &mut Criterion) {
    let mut group = c.benchmark_group("state_entries");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for chart in ["LCCA", "Transitions"] {
        for n in [4, 16, 64] {
            let Some(doc) = load(&format!("{chart}.{n}.scxml")) else {
                continue;
            };
            let Some(mark) = doc.state_by_id("mark") else {
                eprintln!("skipping {chart}.{n}: no state `mark`");
                continue;
            };
            let budget = slice(n);
            let mut session = Interpreter::new(
                doc,
                SessionOptions {
                    limits: Limits::UNBOUNDED,
                    ..SessionOptions::default()
                },
            );
            session.watch_entries(mark);
            session.set_microstep_budget(Some(budget));
            session.start(&mut NullHost);
            let run_slice = |session: &mut Interpreter| {
                session.set_microstep_budget(Some(budget));
                session.resume(&mut NullHost);
            };
            // Calibrate: entries of `mark` per slice, once the loop is under way.
            run_slice(&mut session);
            let before = session.stats().watched_entries;
            run_slice(&mut session);
            let per_slice = session.stats().watched_entries - before;
            if per_slice == 0 || !session.is_running() {
                eprintln!("skipping {chart}.{n}: `mark` is not re-entered");
                continue;
            }
            group.throughput(Throughput::Elements(per_slice));
            group.bench_function(BenchmarkId::new(chart, n), |b| {
                b.iter(|| run_slice(&mut session))
            });
        }
    }
    group.finish();
}

fn external_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("external_events");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    for name in ["toggle-null", "toggle-ecma"] {
        let Some(doc) = load(&format!("{name}.scxml")) else {
            continue;
        };
        let mut session = Interpreter::new(doc, SessionOptions::default());
        session.start(&mut NullHost);
        let toggle = Event::external("toggle");
        group.bench_function(name, |b| {
            b.iter(|| session.process_event(toggle.clone(), &mut NullHost))
        });
    }
    group.finish();
}

fn session_start(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_start");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    for flow in ["callback/chat.scxml", "inbound_chat.scxml"] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scxml/").to_string() + flow;
        let doc = match scxml::parse::load(&path) {
            Ok(doc) => doc,
            Err(e) => {
                eprintln!("skipping {flow}: {e}");
                continue;
            }
        };
        group.bench_function(flow, |b| {
            b.iter(|| {
                let mut session = Interpreter::new(doc.clone(), SessionOptions::default());
                session.start(&mut NullHost);
                session
            })
        });
        // A document no session ran yet (the same text with a different comment each time):
        // no warm context to start from.
        let text = std::fs::read_to_string(&path).expect("the flow was just loaded");
        let base = doc.base_url.clone();
        let mut variant = 0u64;
        group.bench_function(format!("{flow} (new context)"), |b| {
            b.iter_batched(
                || {
                    variant += 1;
                    let text = format!("{text}<!-- {variant} -->");
                    Arc::new(
                        scxml::parse::parse_str(&text, flow, base.as_ref())
                            .expect("the flow parses"),
                    )
                },
                |doc| {
                    let mut session = Interpreter::new(doc, SessionOptions::default());
                    session.start(&mut NullHost);
                    session
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, state_entries, external_events, session_start);
criterion_main!(benches);
