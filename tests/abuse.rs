//! Abuse of the public device API is bounded: requests per device and per client address,
//! callbacks open per device; past a bound the answer is 429 with `Retry-After` and the GMS
//! error body, and nothing is done.

mod common;

use scxml_callback::{GmsConfig, LimitsConfig};
use scxml_engine::EngineConfig;
use serde_json::Value;

fn server(limits: LimitsConfig) -> common::GmsServer {
    let mut config = GmsConfig::default_config();
    config.limits = limits;
    common::GmsServer::launch(
        config,
        EngineConfig {
            shards: 1,
            ..EngineConfig::default()
        },
    )
}

fn next_number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(5_550_000);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A device's request: status, `Retry-After`, body.
fn device_call(
    h: &common::GmsServer,
    method: &str,
    path: &str,
    user: &str,
) -> (u16, Option<u64>, Value) {
    let http = common::http_agent();
    let url = h.url(path);
    let mut response = match method {
        "GET" => http.get(&url).header("gms_user", user).call(),
        "DELETE" => http.delete(&url).header("gms_user", user).call(),
        _ => http
            .post(&url)
            .header("gms_user", user)
            .header("content-type", "application/x-www-form-urlencoded")
            // A number of its own each time: the flow refuses a customer's duplicate requests.
            .send(format!("_customer_number={}", next_number())),
    }
    .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    (
        status,
        retry_after,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[test]
fn a_device_past_its_rate_gets_429_with_retry_after_and_others_are_not_held() {
    let h = server(LimitsConfig {
        device_requests_per_second: 1.0,
        device_burst: 5,
        address_requests_per_second: 1000.0,
        address_burst: 1000,
        ..LimitsConfig::default()
    });
    let path = "/genesys/1/service/callback/chat-delay/availability";
    let answers: Vec<_> = (0..8)
        .map(|_| device_call(&h, "GET", path, "greedy"))
        .collect();
    let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
    assert_eq!(ok, 5, "the burst, and no more: {answers:?}");
    let (status, retry_after, body) = answers.last().unwrap();
    assert_eq!(*status, 429);
    assert_eq!(*retry_after, Some(1));
    assert_eq!(body["exception"], "TooManyRequests", "{body}");
    // Another device is not held by the first one.
    assert_eq!(device_call(&h, "GET", path, "patient").0, 200);
    // Credentials are not rate-bounded as devices are.
    let (status, _) = h.request("GET", path, None, None);
    assert_eq!(status, 200);
}

#[test]
fn one_address_is_bounded_whatever_gms_user_it_claims() {
    let h = server(LimitsConfig {
        device_requests_per_second: 1000.0,
        device_burst: 1000,
        address_requests_per_second: 1.0,
        address_burst: 4,
        ..LimitsConfig::default()
    });
    let path = "/genesys/1/service/callback/chat-delay/availability";
    let statuses: Vec<u16> = (0..6)
        .map(|i| device_call(&h, "GET", path, &format!("device-{i}")).0)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
}

#[test]
fn a_device_keeps_a_bounded_number_of_callbacks_open() {
    let h = server(LimitsConfig {
        callbacks_per_device: 2,
        ..LimitsConfig::default()
    });
    let create = "/genesys/1/service/callback/chat-delay";
    let first = device_call(&h, "POST", create, "d1");
    assert_eq!(first.0, 200, "{first:?}");
    assert_eq!(device_call(&h, "POST", create, "d1").0, 200);
    let (status, retry_after, body) = device_call(&h, "POST", create, "d1");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["exception"], "TooManyCallbacks");
    assert!(retry_after.is_some());
    // Another device has its own; and once one of d1's ends, d1 may ask again.
    assert_eq!(device_call(&h, "POST", create, "d2").0, 200);
    let id = first.2["_id"].as_str().unwrap();
    assert_eq!(
        device_call(&h, "DELETE", &format!("/genesys/1/service/{id}"), "d1").0,
        200
    );
    assert_eq!(device_call(&h, "POST", create, "d1").0, 200);
}
