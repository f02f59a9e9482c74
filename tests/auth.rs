//! Every route has an owner. Without the right credentials a request gets 401 (403 for a known
//! caller without the role) with the JSON error body, and changes nothing; out of the box
//! `scxml serve` makes an administrator token, keeps it private, and says where it is.

mod common;

use base64::Engine as _;
use common::{ServeProcess, ADMIN_TOKEN, AGENT1_TOKEN, OPERATOR_TOKEN};
use scxml_callback::GmsConfig;
use scxml_engine::EngineConfig;
use serde_json::{json, Value};

const COUNTER: &str = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript">
  <state id="s"/>
</scxml>"#;

/// One request with the `Authorization` header `auth` (none: `None`) and, for the device API,
/// a `gms_user`.
fn call(
    url: &str,
    method: &str,
    auth: Option<&str>,
    gms_user: Option<&str>,
    json_body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let http = common::http_agent();
    let mut headers: Vec<(&str, String)> = Vec::new();
    if let Some(auth) = auth {
        headers.push(("authorization", auth.to_string()));
    }
    if let Some(user) = gms_user {
        headers.push(("gms_user", user.to_string()));
    }
    let mut response = match method {
        "GET" | "DELETE" => {
            let mut request = if method == "GET" {
                http.get(url)
            } else {
                http.delete(url)
            };
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            request.call()
        }
        _ => {
            let mut request = http.post(url);
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            match json_body {
                Some(body) => request
                    .header("content-type", "application/json")
                    .send(body.to_string()),
                None => request.send_empty(),
            }
        }
    }
    .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        challenge,
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn server() -> common::GmsServer {
    common::GmsServer::launch(
        GmsConfig::default_config(),
        EngineConfig {
            shards: 1,
            ..EngineConfig::default()
        },
    )
}

fn session_count(h: &common::GmsServer) -> usize {
    let (status, list, _) = call(
        &h.url("/sessions"),
        "GET",
        Some(&bearer(ADMIN_TOKEN)),
        None,
        None,
    );
    assert_eq!(status, 200, "{list}");
    list["total"].as_u64().unwrap() as usize
}

#[test]
fn the_sessions_api_is_the_administrators() {
    let h = server();
    let before = session_count(&h);
    let create = json!({ "document": COUNTER });
    // Without credentials: 401, a challenge, the JSON error body, and nothing created.
    let (status, body, challenge) = call(
        &h.url("/sessions"),
        "POST",
        None,
        None,
        Some(create.clone()),
    );
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    assert!(
        body["message"].as_str().unwrap().contains("administrator"),
        "{body}"
    );
    assert!(challenge.unwrap().contains("Bearer"));
    // A wrong token, a wrong scheme, a Basic user that is not the token's: 401.
    for auth in [
        bearer("scxml_not-a-token"),
        format!("Token {ADMIN_TOKEN}"),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("test-ops:{ADMIN_TOKEN}"))
        ),
    ] {
        let (status, body, _) = call(
            &h.url("/sessions"),
            "POST",
            Some(&auth),
            None,
            Some(create.clone()),
        );
        assert_eq!(status, 401, "{auth}: {body}");
    }
    // An operator or an agent is known, but not the owner: 403.
    for token in [OPERATOR_TOKEN, AGENT1_TOKEN] {
        let (status, body, _) = call(
            &h.url("/sessions"),
            "POST",
            Some(&bearer(token)),
            None,
            Some(create.clone()),
        );
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "forbidden");
        let (status, _, _) = call(&h.url("/sessions"), "GET", Some(&bearer(token)), None, None);
        assert_eq!(status, 403);
    }
    assert_eq!(
        session_count(&h),
        before,
        "no refused request created anything"
    );
    // The administrator, by bearer token or HTTP Basic.
    let (status, body, _) = call(
        &h.url("/sessions"),
        "POST",
        Some(&bearer(ADMIN_TOKEN)),
        None,
        Some(create.clone()),
    );
    assert_eq!(status, 201, "{body}");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("test-admin:{ADMIN_TOKEN}"))
    );
    let id = body["id"].as_str().unwrap();
    let (status, _, _) = call(
        &h.url(&format!("/sessions/{id}")),
        "GET",
        Some(&basic),
        None,
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(session_count(&h), before + 1);
}

#[test]
fn metrics_and_admin_queries_are_the_operators_health_is_public() {
    let h = server();
    let (status, _, _) = call(&h.url("/healthz"), "GET", None, None, None);
    assert_eq!(status, 200);
    for path in [
        "/metrics",
        "/genesys/1/admin/flows",
        "/genesys/1/admin/callback/queues",
    ] {
        let (status, body, _) = call(&h.url(path), "GET", None, None, None);
        assert_eq!(status, 401, "{path}: {body}");
        let (status, body, _) = call(&h.url(path), "GET", Some(&bearer(AGENT1_TOKEN)), None, None);
        assert_eq!(status, 403, "{path}: {body}");
        for token in [OPERATOR_TOKEN, ADMIN_TOKEN] {
            let (status, body, _) = call(&h.url(path), "GET", Some(&bearer(token)), None, None);
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
}

#[test]
fn an_agent_reaches_only_its_own_routes() {
    let h = server();
    let own = h.url("/genesys/1/agents/agent1/login");
    let other = h.url("/genesys/1/agents/agent2/login");
    let (status, body, _) = call(&own, "POST", None, None, None);
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].is_string() && body["exception"].is_string(),
        "{body}"
    );
    let (status, body, _) = call(&other, "POST", Some(&bearer(AGENT1_TOKEN)), None, None);
    assert_eq!(status, 403, "{body}");
    let (status, body, _) = call(
        &other.replace("/login", "/interactions"),
        "GET",
        Some(&bearer(AGENT1_TOKEN)),
        None,
        None,
    );
    assert_eq!(status, 403, "another agent's interactions: {body}");
    let (status, body, _) = call(&own, "POST", Some(&bearer(AGENT1_TOKEN)), None, None);
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = call(
        &own.replace("/login", "/interactions"),
        "GET",
        Some(&bearer(AGENT1_TOKEN)),
        None,
        None,
    );
    assert_eq!(status, 200, "{body}");
    // An operator is not an agent.
    let (status, _, _) = call(&own, "POST", Some(&bearer(OPERATOR_TOKEN)), None, None);
    assert_eq!(status, 403);
}

#[test]
fn a_callback_answers_its_device_and_an_operator_only() {
    let h = server();
    let (status, created, _) = call(
        &h.url("/genesys/1/service/callback/chat-delay"),
        "POST",
        None,
        Some("device-1"),
        Some(json!({"_customer_number": "5551234"})),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["_id"].as_str().unwrap();
    let record = h.url(&format!("/genesys/1/service/{id}"));
    let (status, _, _) = call(&record, "GET", None, Some("device-1"), None);
    assert_eq!(status, 200);
    // Another device, or an agent who does not hold it, is known and refused; a request
    // naming nobody is asked who it is.
    for (auth, user, expected) in [
        (None, Some("device-2"), 403),
        (None, None, 401),
        (Some(bearer(AGENT1_TOKEN)), None, 403),
    ] {
        let (status, body, _) = call(&record, "GET", auth.as_deref(), user, None);
        assert_eq!(status, expected, "{auth:?} {user:?}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    // The agent desktop's verbs are for the agent holding the callback: nobody holds it yet.
    let poll = h.url(&format!(
        "/genesys/1/service/{id}/retrieve-agent-notifications"
    ));
    let (status, body, _) = call(&poll, "POST", Some(&bearer(AGENT1_TOKEN)), None, None);
    assert_eq!(status, 403, "{body}");
    let (status, body, _) = call(&poll, "POST", None, Some("device-1"), None);
    assert_eq!(status, 401, "{body}");
    // Once agent1 holds it, agent1 may: its own credential reaches this callback's desk verbs.
    let agent1 = h.url("/genesys/1/agents/agent1");
    for step in ["login", "ready"] {
        let url = format!("{agent1}/{step}");
        let (status, body, _) = call(&url, "POST", Some(&bearer(AGENT1_TOKEN)), None, None);
        assert_eq!(status, 200, "{body}");
    }
    common::poll_until(
        "agent1 holding the callback",
        std::time::Duration::from_secs(3),
        || {
            let (_, record, _) = call(&record, "GET", None, Some("device-1"), None);
            if record["_agent"] == "agent1" {
                Ok(())
            } else {
                Err(record.to_string())
            }
        },
    );
    let (status, body, _) = call(&poll, "POST", Some(&bearer(AGENT1_TOKEN)), None, None);
    assert_eq!((status, &body), (200, &json!([])), "{body}");
    // A device that does not name itself creates nothing.
    let (status, body, _) = call(
        &h.url("/genesys/1/service/callback/chat-delay"),
        "POST",
        None,
        None,
        Some(json!({"_customer_number": "5551234"})),
    );
    assert_eq!(status, 401, "{body}");
    // Listing callbacks by their properties shows customers' numbers: an operator's query.
    let query = h.url("/genesys/1/service/callback/chat-delay?_customer_number=5551234");
    let (status, _, _) = call(&query, "GET", None, Some("device-1"), None);
    assert_eq!(status, 401);
    let (status, found, _) = call(&query, "GET", Some(&bearer(OPERATOR_TOKEN)), None, None);
    assert_eq!(status, 200, "{found}");
    assert!(found.to_string().contains(id), "{found}");
    // The operator may cancel any callback.
    let (status, body, _) = call(&record, "DELETE", Some(&bearer(OPERATOR_TOKEN)), None, None);
    assert_eq!(status, 200, "{body}");
    let (_, after, _) = call(&record, "GET", None, Some("device-1"), None);
    assert_eq!(after["_callback_state"], "COMPLETED", "{after}");
    assert_eq!(after["_callback_reason"], "CANCELLED", "{after}");
}

#[tokio::test]
async fn authentication_off_is_refused_beyond_loopback() {
    let options = scxml_server::StartOptions {
        listen: ([0, 0, 0, 0], 0).into(),
        auth: scxml_server::Authenticator::disabled(),
        ..common::loopback_options(EngineConfig::default())
    };
    let err = scxml_server::start(options).await.err().expect("refused");
    assert!(err.to_string().contains("authentication off"), "{err}");
}

#[test]
fn out_of_the_box_serve_makes_a_private_administrator_token_and_says_where() {
    let dir = common::unique_dir("auth-first-start");
    let data = dir.join("data");
    let args = ["--no-gms".as_ref(), "--data".as_ref(), data.as_os_str()];
    let mut server = ServeProcess::start_with_token(&args, None);
    let line = server.next_line();
    let path = data.join("admin-token");
    assert_eq!(
        line.trim(),
        format!(
            "administrator token created in {} (Authorization: Bearer <token>)",
            path.display()
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its user may read it");
    }
    let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
    let (status, _, _) = call(&server.url("/sessions"), "GET", None, None, None);
    assert_eq!(status, 401, "not open out of the box");
    let (status, body, _) = call(
        &server.url("/sessions"),
        "GET",
        Some(&bearer(&token)),
        None,
        None,
    );
    assert_eq!(status, 200, "{body}");
    server.kill();
    // The next start keeps the same token.
    let mut server = ServeProcess::start_with_token(&args, None);
    assert!(server.next_line().starts_with("administrator token in "));
    let (status, _, _) = call(
        &server.url("/sessions"),
        "GET",
        Some(&bearer(&token)),
        None,
        None,
    );
    assert_eq!(status, 200);
    server.kill();
    std::fs::remove_dir_all(&dir).ok();
}
