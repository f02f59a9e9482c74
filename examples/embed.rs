//! Embedding the interpreter in a Rust program, two ways.
//!
//! 1. Drive an [`Interpreter`] yourself with your own [`Host`]: you get every effect (sends,
//!    logs, the end of the session) as a call, and you feed external events back with
//!    `process_event`. This is all a server, a game loop or a test needs.
//! 2. Let [`LocalRuntime`] be the host, and teach it a custom `<send type>` through the
//!    [`Registry`]: the adapter talks back to the session through an [`EventSink`].
//!
//! Run with `cargo run --example embed`.

use scxml::interpreter::{
    Event, Host, Interpreter, InvokeError, InvokeRequest, SendError, SendRequest, SessionOptions,
};
use scxml::io::{CustomSendType, EventSink, Registry};
use scxml::runtime::{Clock, LocalRuntime, RunOutcome};
use serde_json::Value;
use std::sync::Arc;

/// The flow: waits for `go`, then notifies the outside world through a custom send type and
/// waits for its `ack`.
const FLOW: &str = r#"
<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null" initial="idle">
  <state id="idle">
    <transition event="go" target="working"/>
  </state>
  <state id="working">
    <onentry>
      <log label="working: asking ops"/>
      <send type="x-notify" target="ops" event="please.ack"/>
    </onentry>
    <transition event="ack" target="done"/>
  </state>
  <final id="done">
    <onentry><log label="done"/></onentry>
  </final>
</scxml>
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let doc = Arc::new(scxml::parse::parse_str(FLOW, "flow.scxml", None)?);
    with_own_host(doc.clone());
    with_local_runtime(doc);
    Ok(())
}

/// 1. A host of our own: prints what the session asks for.
fn with_own_host(doc: Arc<scxml::model::Document>) {
    println!("-- an Interpreter with our own Host");
    let mut host = PrintingHost;
    let mut session = Interpreter::new(doc, SessionOptions::default());
    session.start(&mut host); // runs to the first stable configuration
    println!("active: {:?}", session.active_ids());
    session.process_event(Event::external("go"), &mut host);
    println!("active: {:?}", session.active_ids());
    // Our host printed the send; here we play the part of `ops` and answer it.
    session.process_event(Event::external("ack"), &mut host);
    println!("final state: {:?}", session.final_state());
}

/// Every effect of a session, printed.
struct PrintingHost;

impl Host for PrintingHost {
    fn send(&mut self, request: SendRequest) -> Result<(), SendError> {
        println!(
            "send `{}` to {:?} (type {}, delay {:?})",
            request.event.name, request.target, request.kind, request.delay
        );
        Ok(())
    }
    fn cancel(&mut self, sendid: &str) {
        println!("cancel send {sendid}");
    }
    fn invoke(&mut self, request: InvokeRequest) -> Result<(), InvokeError> {
        Err(InvokeError::UnsupportedType(request.kind))
    }
    fn cancel_invoke(&mut self, _invokeid: &str) {}
    fn forward(&mut self, _invokeid: &str, _event: &Event) {}
    fn log(&mut self, label: Option<&str>, message: &str) {
        println!("log {}{message}", label.unwrap_or_default());
    }
    fn done(&mut self, donedata: Option<Value>) {
        println!("session done (donedata {donedata:?})");
    }
}

/// 2. The local runtime as host, with a custom send type that acknowledges at once.
fn with_local_runtime(doc: Arc<scxml::model::Document>) {
    println!("-- a LocalRuntime with a custom send type");
    let mut registry = Registry::new();
    registry.register_send(&["x-notify"], Arc::new(Notify));
    let mut rt = LocalRuntime::new(Clock::Virtual);
    *rt.registry_mut() = registry;
    let session = rt.start(doc, SessionOptions::default());
    rt.send_event(session, Event::external("go"));
    let outcome = rt.run(session, None);
    for log in rt.logs() {
        println!("log {}", log.label.as_deref().unwrap_or_default());
    }
    let final_state = rt.session(session).and_then(|s| s.final_state());
    println!("{outcome:?} in {final_state:?}");
    assert_eq!(outcome, RunOutcome::Halted);
}

/// `<send type="x-notify">`: an adapter to the outside world (here it only prints), which
/// answers the session through the sink.
struct Notify;

impl CustomSendType for Notify {
    fn send(&self, request: SendRequest, reply: Arc<dyn EventSink>) -> Result<(), SendError> {
        let target = request.target.unwrap_or_default();
        println!("x-notify: `{}` to {target}", request.event.name);
        reply.deliver(Event::external("ack"));
        Ok(())
    }
}
