//! `scxml run DOC [--event NAME[=JSON]]... [--trace] [--virtual-time]`: runs one session on a
//! [`LocalRuntime`], printing its `<log>` output (and with `--trace` the event and
//! configuration after every macrostep) on stdout.
//!
//! Each `--event` is delivered once the previous one has settled: the runtime has processed
//! every event that was ready (the session's own zero-delay sends included), but delayed sends
//! are not waited for. After the last one the session runs until it halts or nothing is left
//! to do (no ready events, no timers).

use super::load::load_or_exit;
use super::ArgError;
use scxml::interpreter::{Event, Interpreter, SessionOptions};
use scxml::runtime::{Clock, LocalRuntime, SessionKey};
use serde_json::Value;
use std::cell::RefCell;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The document: a path, a file: URL or an http(s):// URL.
    doc: String,
    /// An external event to deliver, in order. The JSON after `=` becomes `_event.data`; a
    /// value that is not JSON is taken as a string.
    #[arg(long = "event", value_name = "NAME[=JSON]", value_parser = parse_event)]
    events: Vec<Event>,
    /// Print the event and the configuration after every macrostep.
    #[arg(long)]
    trace: bool,
    /// Do not wait for delayed sends: jump to the next timer when idle.
    #[arg(long)]
    virtual_time: bool,
}

/// Exit code 0 when the session halted in a top-level final state, 1 otherwise, 2 when the
/// document did not load.
pub fn run(args: RunArgs) -> ExitCode {
    let doc = match load_or_exit(&args.doc) {
        Ok(doc) => doc,
        Err(code) => return code,
    };
    let clock = if args.virtual_time {
        Clock::Virtual
    } else {
        Clock::Real
    };
    let mut rt = LocalRuntime::new(clock);
    rt.set_resolver(super::load::resolver());
    let mut out = Output::default();
    if args.trace {
        let lines = out.traces.clone();
        // The first session the observer sees is the one `start` creates: the root.
        let mut root = None;
        rt.set_observer(Box::new(move |key, event, session| {
            let is_root = *root.get_or_insert(key) == key;
            lines
                .borrow_mut()
                .push(trace_line(key, is_root, event, session));
        }));
    }
    let root = rt.start(doc, SessionOptions::default());
    out.root = root;
    out.flush(&rt);

    let running = |rt: &LocalRuntime| rt.session(root).is_some_and(|s| s.is_running());
    for event in args.events {
        while running(&rt) && rt.has_ready_events() {
            rt.step(None);
            out.flush(&rt);
        }
        if !running(&rt) {
            eprintln!(
                "scxml: the session has ended; event `{}` and the ones after it were not delivered",
                event.name
            );
            break;
        }
        rt.send_event(root, event);
    }
    while running(&rt) && rt.step(None) {
        out.flush(&rt);
    }
    out.flush(&rt);

    match rt.session(root) {
        Some(session) if session.failure().is_some() => {
            eprintln!(
                "scxml: the session failed: {}",
                session
                    .failure()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            ExitCode::FAILURE
        }
        Some(session) if session.final_state().is_some() => {
            if args.trace {
                out.line(&format!(
                    "[trace] halted in final state {}",
                    session.final_state().unwrap_or_default()
                ));
            }
            ExitCode::SUCCESS
        }
        Some(session) if session.is_running() => {
            eprintln!(
                "scxml: no events or timers left; the session waits in [{}]",
                session.active_ids().join(", ")
            );
            ExitCode::FAILURE
        }
        _ => {
            eprintln!("scxml: the session halted outside a top-level final state");
            ExitCode::FAILURE
        }
    }
}

/// Prints logs and trace lines in the order they happened, one runtime step at a time.
#[derive(Default)]
struct Output {
    root: SessionKey,
    /// How many of the runtime's logs have been printed.
    logs_printed: usize,
    /// Trace lines written by the observer during the current step.
    traces: Rc<RefCell<Vec<String>>>,
}

impl Output {
    /// Prints the logs of the last step, then its trace lines (a macrostep logs while it runs
    /// and is traced when it ends).
    fn flush(&mut self, rt: &LocalRuntime) {
        let mut stdout = std::io::stdout().lock();
        for log in &rt.logs()[self.logs_printed.min(rt.logs().len())..] {
            let who = if log.session == self.root {
                String::new()
            } else {
                format!("(session {}) ", log.session)
            };
            let _ = match &log.label {
                Some(label) => writeln!(stdout, "[log] {who}{label}: {}", log.message),
                None => writeln!(stdout, "[log] {who}{}", log.message),
            };
        }
        self.logs_printed = rt.logs().len();
        for line in self.traces.borrow_mut().drain(..) {
            let _ = writeln!(stdout, "{line}");
        }
    }

    fn line(&self, text: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// `[trace] timer -> [on, green]`; sessions other than the first one are named by their key.
fn trace_line(
    key: SessionKey,
    is_root: bool,
    event: Option<&Event>,
    session: &Interpreter,
) -> String {
    let who = if is_root {
        String::new()
    } else {
        format!("(session {key}) ")
    };
    let event = event.map_or("(start)", |e| e.name.as_str());
    format!(
        "[trace] {who}{event} -> [{}]",
        session.active_ids().join(", ")
    )
}

/// Parses `NAME` or `NAME=VALUE`; VALUE is JSON when it parses as JSON, else a string.
pub fn parse_event(text: &str) -> Result<Event, ArgError> {
    let (name, data) = match text.split_once('=') {
        Some((name, value)) => (
            name,
            Some(serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))),
        ),
        None => (text, None),
    };
    if name.is_empty() {
        return Err(ArgError::EmptyEventName);
    }
    if name.chars().any(char::is_whitespace) {
        return Err(ArgError::SpaceInEventName(name.to_string()));
    }
    let mut event = Event::external(name);
    event.data = data;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_arguments() {
        let e = parse_event("order.placed={\"id\":7}").unwrap();
        assert_eq!(e.name, "order.placed");
        assert_eq!(e.data, Some(json!({"id": 7})));
        assert_eq!(parse_event("go").unwrap().data, None);
        assert_eq!(
            parse_event("say=hello world").unwrap().data,
            Some(json!("hello world"))
        );
        assert_eq!(parse_event("n=42").unwrap().data, Some(json!(42)));
        assert!(parse_event("=1").is_err());
        assert!(parse_event("a b").is_err());
    }
}
