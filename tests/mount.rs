//! The seam between the server and its applications: a second, tiny application mounted
//! beside the callback application. It registers a custom send type, keeps its records in a
//! table of its own in the engine's store, delivers events to sessions through the engine it
//! was attached to, and answers the requests under its prefix; the server knows none of it.

mod common;

use hyper::StatusCode;
use scxml::interpreter::{Event, SendError, SendRequest};
use scxml::io::{CustomSendType, EventSink, Registry};
use scxml_callback::{GmsApp, GmsConfig};
use scxml_engine::store::{Store, Table, Write};
use scxml_engine::{Engine, EngineConfig};
use scxml_server::{full_response, Mount, MountError, MountFuture, MountRequest};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The application's own table.
const NOTES: Table = Table::new("notes");

/// Notes: `<send type="note" event="...">` stores a note; `GET /notes/` lists them from the
/// store; `POST /notes/{session}/{event}` sends an event to a session.
#[derive(Default)]
struct Notes {
    store: OnceLock<Arc<dyn Store>>,
    engine: OnceLock<Engine>,
    written: Mutex<u64>,
}

struct NoteSendType(Arc<Notes>);

impl CustomSendType for NoteSendType {
    fn send(&self, request: SendRequest, _reply: Arc<dyn EventSink>) -> Result<(), SendError> {
        let store = self
            .0
            .store
            .get()
            .ok_or_else(|| SendError::Communication("no store yet".into()))?;
        let mut written = self.0.written.lock().unwrap();
        *written += 1;
        let note = json!({"event": request.event.name, "data": request.event.data});
        store
            .apply(&[Write {
                table: NOTES,
                key: format!("{:06}", *written),
                value: Some(note.to_string().into_bytes()),
            }])
            .map_err(|e| SendError::Communication(e.to_string()))
    }
}

/// The mount is a handle on the application, so its send type can share it.
struct NotesMount(Arc<Notes>);

impl Mount for NotesMount {
    fn name(&self) -> &'static str {
        "notes"
    }

    fn prefix(&self) -> &str {
        "/notes/"
    }

    fn register(&self, registry: &mut Registry) {
        registry.register_send(&["note"], Arc::new(NoteSendType(self.0.clone())));
    }

    fn open_store(&self, store: Arc<dyn Store>) -> Result<(), MountError> {
        self.0.store.set(store).map_err(|_| MountError {
            mount: "notes".into(),
            message: "opened twice".into(),
        })
    }

    fn attach(self: Arc<Self>, engine: Engine, _public_url: &str) {
        let _ = self.0.engine.set(engine);
    }

    fn handle(self: Arc<Self>, request: MountRequest) -> MountFuture<'static> {
        Box::pin(async move {
            let path = request.parts.uri.path().to_string();
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            let (status, body) = match (request.parts.method.as_str(), segments.as_slice()) {
                ("GET", ["notes"]) => {
                    let notes: Vec<Value> = self
                        .0
                        .store
                        .get()
                        .unwrap()
                        .scan(NOTES)
                        .unwrap()
                        .into_iter()
                        .map(|(_, v)| serde_json::from_slice(&v).unwrap())
                        .collect();
                    (StatusCode::OK, json!(notes))
                }
                ("POST", ["notes", session, event]) => {
                    match self
                        .0
                        .engine
                        .get()
                        .unwrap()
                        .send(session, Event::external(*event))
                    {
                        Ok(()) => (StatusCode::ACCEPTED, json!({"sent": event})),
                        Err(e) => (StatusCode::NOT_FOUND, json!({"error": e.to_string()})),
                    }
                }
                _ => (
                    StatusCode::NOT_FOUND,
                    json!({"error": "no such note route"}),
                ),
            };
            full_response(status, "application/json", body.to_string())
        })
    }
}

#[test]
fn a_second_application_mounts_beside_the_callback_application() {
    let notes: Arc<dyn Mount> = Arc::new(NotesMount(Arc::new(Notes::default())));
    let gms: Arc<dyn Mount> = GmsApp::new(GmsConfig::default_config()).unwrap();
    let server = common::TestServer::serve_with(
        common::loopback_options(EngineConfig {
            shards: 2,
            ..EngineConfig::default()
        }),
        vec![notes, gms],
    );
    let call = |method: &str, path: &str, body: Option<Value>| {
        server.request(
            method,
            path,
            None,
            body.map(|b| ("application/json", b.to_string())),
        )
    };

    assert_eq!(call("GET", "/notes/", None), (200, json!([])));
    let doc = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
        <state id="s">
            <transition event="write">
                <send type="note" event="hello"><param name="n" expr="7"/></send>
            </transition>
        </state>
    </scxml>"#;
    let (status, created) = call("POST", "/sessions", Some(json!({"document": doc})));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, sent) = call("POST", &format!("/notes/{id}/write"), None);
    assert_eq!(status, 202, "{sent}");
    let notes = common::poll_until("a note", Duration::from_secs(10), || {
        let (_, notes) = call("GET", "/notes/", None);
        if notes.as_array().is_some_and(|n| !n.is_empty()) {
            Ok(notes)
        } else {
            Err(notes.to_string())
        }
    });
    assert_eq!(notes, json!([{"event": "hello", "data": {"n": 7}}]));
    assert_eq!(call("POST", "/notes/nobody/write", None).0, 404);

    // The callback application still serves its prefix, and the server its own routes.
    let (status, _) = call(
        "GET",
        "/genesys/1/document/service_template/callback/src/chat.scxml",
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = call("GET", "/healthz", None);
    assert_eq!(status, 200);
    let (_, metrics) = call("GET", "/metrics", None);
    assert!(
        metrics.as_str().unwrap().contains("route=\"notes\""),
        "{metrics}"
    );
}
