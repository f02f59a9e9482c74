//! The core's inputs: documents (loaded, validated, then run a little), CSS2 durations and
//! event descriptors.

use scxml::interpreter::{Event, Interpreter, Limits, NullHost, SessionOptions};
use scxml::model::EventDescriptor;
use scxml::parse::{parse_duration, parse_with, AllowList, FileResolver};
use std::sync::Arc;

/// A document: loaded with a resolver that reads nothing (a fuzzed `src` must not read this
/// machine's files), every problem with a position; a document that loads is started and
/// given a few events under tight step limits.
pub fn document(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let nothing = FileResolver::within(AllowList::prefixes(Vec::<String>::new()));
    match parse_with(text, "fuzz.scxml", None, &nothing) {
        Err(errors) => {
            assert!(!errors.problems.is_empty(), "an error without a problem");
            for problem in &errors.problems {
                assert!(
                    problem.pos.line >= 1 && problem.pos.column >= 1,
                    "{problem:?}"
                );
            }
        }
        Ok(doc) => {
            let options = SessionOptions {
                limits: Limits {
                    microsteps_per_macrostep: Some(1_000),
                    internal_events_per_macrostep: Some(1_000),
                },
                ..SessionOptions::default()
            };
            let mut session = Interpreter::new(Arc::new(doc), options);
            session.start(&mut NullHost);
            for name in ["e", "a.b", "done", "error.execution"] {
                session.process_event(Event::external(name), &mut NullHost);
            }
            let _ = session.snapshot();
        }
    }
}

/// A CSS2 time: parses or not, never panics; what parses is finite.
pub fn duration(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(d) = parse_duration(text) {
            assert!(d.as_secs_f64().is_finite());
        }
    }
}

/// An event descriptor against an event name: a plain name's descriptor matches the name,
/// and a descriptor matches every event below its name.
pub fn event_descriptor(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (token, event) = text.split_once('\n').unwrap_or((text, text));
    let descriptor = EventDescriptor::parse(token);
    let _ = descriptor.matches(event);
    let plain =
        !token.is_empty() && token != "*" && !token.ends_with('.') && !token.ends_with(".*");
    if plain {
        assert!(descriptor.matches(token), "{token:?} does not match itself");
        assert!(
            descriptor.matches(&format!("{token}.more")),
            "{token:?} misses its children"
        );
    }
}
