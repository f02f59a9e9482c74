//! Services with flows of their own: the minimal example flow (`examples/callback_minimal.scxml`)
//! loaded by URL as a second service beside the built-in chat services, a changed document
//! picked up by new sessions while running ones keep theirs, a broken one refused with its
//! problems while the version before keeps serving; and which meaning of a numeric option
//! the chat flow holds.

mod common;

use scxml_callback::GmsConfig;
use scxml_engine::EngineConfig;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEVICE: &str = "device-flows-1";

/// Serves the files of `dir` over HTTP on loopback (each request reads the file again);
/// answers the base URL. The thread ends with the test process.
fn serve_dir(dir: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let dir: PathBuf = dir.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let answer = match std::fs::read_to_string(dir.join(path.trim_start_matches('/'))) {
                Ok(text) => format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/scxml+xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                ),
                Err(_) => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    base
}

fn example() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/callback_minimal.scxml");
    std::fs::read_to_string(path).unwrap()
}

fn wait_for(what: &str, probe: impl Fn() -> Value, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = probe();
        if want(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {value}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_minimal_flow_loaded_by_url_serves_a_second_service_beside_the_chat_services() {
    let dir = common::fresh_dir("gms-flows-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("minimal.scxml"), example()).unwrap();
    let base = serve_dir(&dir);
    let mut config = GmsConfig::default_config();
    let service = format!(
        "[services.minimal]\ndocument = \"{base}minimal.scxml\"\n_target = \"Chat@StatServer.GA\"\n"
    );
    let extra = GmsConfig::parse(&service).unwrap();
    config.services.extend(extra.services);
    config.flow_check_ms = 0;
    let h = common::GmsServer::launch_allowing(config, EngineConfig::default(), vec![base.clone()]);

    // The built-in chat flow still serves its services.
    let (status, chat) = h.gms_form(
        "POST",
        "service/callback/chat-delay",
        Some(DEVICE),
        Some("_customer_number=5550100"),
    );
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["_text"], "We will notify you when agent is available");
    let chat_id = chat["_id"].as_str().unwrap().to_string();
    let (status, _) = h.gms_form("DELETE", &format!("service/{chat_id}"), Some(DEVICE), None);
    assert_eq!(status, 200);

    // The minimal flow, end to end: start, queued, an agent, the push, connect.
    let (status, started) = h.gms_form("POST", "service/callback/minimal", Some(DEVICE), None);
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["_text"], "We will call you back");
    let first = started["_id"].as_str().unwrap().to_string();
    let record = |id: &str| {
        h.gms_form("GET", &format!("service/{id}"), Some(DEVICE), None)
            .1
    };
    assert_eq!(record(&first)["_callback_state"], "QUEUED");
    assert_eq!(record(&first)["_flow"], "minimal");
    let (status, early) = h.gms_form(
        "POST",
        &format!("service/{first}/connect"),
        Some(DEVICE),
        None,
    );
    assert_eq!(
        (status, early["exception"].as_str()),
        (409, Some("InvalidState"))
    );
    for step in ["login", "ready"] {
        let (status, view) = h.gms_form("POST", &format!("agents/agent1/{step}"), None, None);
        assert_eq!(status, 200, "{view}");
    }
    let reserved = wait_for(
        "the reservation",
        || record(&first),
        |r| r["_callback_state"] == "ROUTING",
    );
    assert_eq!(reserved["_agent"], "agent1");
    let (status, connected) = h.gms_form(
        "POST",
        &format!("service/{first}/connect"),
        Some(DEVICE),
        None,
    );
    assert_eq!(status, 200, "{connected}");
    assert_eq!(connected["_agent"], "agent1");
    assert_eq!(record(&first)["_callback_state"], "PROCESSING");

    // A new version serves new sessions; the running one keeps the version it started with.
    std::fs::write(
        dir.join("minimal.scxml"),
        example().replace("_flow: 'minimal'", "_flow: 'minimal v2'"),
    )
    .unwrap();
    let (status, second) = h.gms_form("POST", "service/callback/minimal", Some(DEVICE), None);
    assert_eq!(status, 200, "{second}");
    let second = second["_id"].as_str().unwrap().to_string();
    assert_eq!(record(&second)["_flow"], "minimal v2");
    assert_eq!(record(&first)["_flow"], "minimal");

    // A broken version is refused with its problems and positions; v2 keeps serving.
    std::fs::write(
        dir.join("minimal.scxml"),
        example().replace("target=\"reserved\"", "target=\"nowhere\""),
    )
    .unwrap();
    let (status, third) = h.gms_form("POST", "service/callback/minimal", Some(DEVICE), None);
    assert_eq!(status, 200, "{third}");
    let third = third["_id"].as_str().unwrap().to_string();
    assert_eq!(record(&third)["_flow"], "minimal v2");
    let (status, flows) = h.gms_form("GET", "admin/flows", None, None);
    assert_eq!(status, 200);
    let url = format!("{base}minimal.scxml");
    let entry = flows["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["url"] == url.as_str())
        .unwrap_or_else(|| panic!("{flows}"))
        .clone();
    assert_eq!(entry["version"], 2, "{entry}");
    let refused = entry["refused"]
        .as_str()
        .unwrap_or_else(|| panic!("{entry}"));
    assert!(refused.contains(&format!("{url}:")), "{refused}");
    assert!(refused.contains("nowhere"), "{refused}");
    // The position of the problem: line and column.
    let line = example()
        .lines()
        .position(|l| l.contains("target=\"reserved\""))
        .unwrap()
        + 1;
    assert!(refused.contains(&format!("{url}:{line}:")), "{refused}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_document_outside_the_allow_list_is_refused_and_named() {
    let mut config = GmsConfig::parse(
        "[services.elsewhere]\ndocument = \"file:///etc/passwd\"\n_target = \"Chat@StatServer.GA\"\n",
    )
    .unwrap();
    config.flow_check_ms = 0;
    let h = common::GmsServer::launch(config, EngineConfig::default());
    let (status, body) = h.gms_form("POST", "service/callback/elsewhere", Some(DEVICE), None);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["exception"], "FlowUnavailable");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("file:///etc/passwd") && message.contains("not under an allowed"),
        "{message}"
    );
    assert!(!message.contains("root:"), "{message}");
}

/// `chat.scxml` once defined `numberOption` twice: one took an empty option for unset (its
/// default), the other for 0, and JavaScript kept the second. One definition is left: an empty
/// option is unset. Here `_ttl = ""` leaves the default day (with the other meaning the record
/// would expire at once).
#[test]
fn an_empty_numeric_option_is_unset_and_takes_its_default() {
    let mut config = GmsConfig::default_config();
    let service = "[services.empty-ttl]\nscenario = \"chat-delayed\"\n_target = \"Chat@StatServer.GA\"\n_ttl = \"\"\n";
    config
        .services
        .extend(GmsConfig::parse(service).unwrap().services);
    let h = common::GmsServer::launch(config, EngineConfig::default());
    let (status, started) = h.gms_form(
        "POST",
        "service/callback/empty-ttl",
        Some(DEVICE),
        Some("_customer_number=5550100"),
    );
    assert_eq!(status, 200, "{started}");
    let id = started["_id"].as_str().unwrap();
    let (status, record) = h.gms_form("GET", &format!("service/{id}"), Some(DEVICE), None);
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["_callback_state"], "QUEUED", "{record}");
    let time =
        |field: &str| scxml_callback::time::parse_iso(record[field].as_str().unwrap()).unwrap();
    assert_eq!(
        time("_expiration_time") - time("_desired_time"),
        86_400_000,
        "{record}"
    );
}
