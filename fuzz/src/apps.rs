//! The server's and the callback application's inputs: routing target strings, skill
//! expressions, the multi-target JSON option, multipart and form bodies, Bayeux messages,
//! the sessions API bodies and the configuration files.

use scxml_callback::form::parse_fields;
use scxml_callback::routing::{SkillExpr, Target, TargetSpec};
use scxml_server::{CreateSession, FileConfig, SendEvent};

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// `name@server.type`: parses or is refused with a reason.
pub fn target_string(data: &[u8]) {
    if let Some(t) = text(data) {
        let _ = Target::parse(t);
    }
}

/// `?:English>=5&Loans>2`: parses or is refused with a reason; what parses evaluates and
/// prints.
pub fn skill_expression(data: &[u8]) {
    if let Some(t) = text(data) {
        if let Ok(expr) = SkillExpr::parse(t) {
            let _ = expr.matches(&Default::default());
            let _ = expr.to_string();
        }
    }
}

/// `_target` as a JSON list of up to 15 targets.
pub fn multi_target(data: &[u8]) {
    if let Some(t) = text(data) {
        let _ = TargetSpec::parse(t);
    }
}

/// A request body under each content type the API takes; the first byte picks the type.
pub fn form_body(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let content_type = match kind % 5 {
        0 => "multipart/form-data; boundary=XyZ",
        1 => "multipart/form-data",
        2 => "application/x-www-form-urlencoded",
        3 => "application/json",
        _ => "",
    };
    let _ = parse_fields(Some(content_type), body);
}

/// A CometD request body: one message or a list of them.
pub fn bayeux(data: &[u8]) {
    let _ = scxml_callback::chat::decode_messages(data);
}

/// The bodies of `POST /sessions` and `POST /sessions/{id}/events`.
pub fn sessions_body(data: &[u8]) {
    let _ = CreateSession::parse(data);
    if let Ok(event) = SendEvent::parse(data) {
        assert!(!event.name.is_empty() && !event.name.contains(char::is_whitespace));
    }
}

/// The server's configuration file and the callback application's, its services checked.
pub fn config_file(data: &[u8]) {
    if let Some(t) = text(data) {
        let _ = FileConfig::parse(t);
        if let Ok(config) = scxml_callback::GmsConfig::parse(t) {
            let _ = config.services();
        }
    }
}
