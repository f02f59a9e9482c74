//! The callback application's configuration (TOML): configured services with their options,
//! the agents and groups routing knows, push providers and the comet endpoint.
//!
//! Option values may hold `$token$` placeholders and a service may let requests override
//! `_target` (`_overwritable_options`); the flow applies both when it starts.
//!
//! A service may name its documents by path or URL: `document` (the callback flow;
//! default the built-in `callback/chat.scxml`) and `inbound_document` (the inbound chat
//! script; default the built-in `inbound_chat.scxml`). They are read through the server's
//! resolver, so its allow-list (`--allow-url`) must cover them; a relative path is read
//! from the configuration file's directory.
//!
//! A service names a predefined scenario, which fixes some options (`chat-delayed`: wait for
//! an agent and for the customer's confirmation; `chat-immediate`: start the chat at once),
//! and adds its own options (`_target`, `_urs_virtual_queue`, ...). The options reach the
//! flow unchanged as its `options` data; Rust reads none of them except to validate, so the
//! behaviour stays in the SCXML. A service whose options contradict each other is refused at
//! start, with the service and the option named.
//!
//! ```toml
//! [services.chat-delay]
//! scenario = "chat-delayed"
//! _target = "Chat@StatServer.GA"
//! _urs_virtual_queue = "chat_vq"
//!
//! [[routing.agents]]
//! id = "agent1"
//! groups = ["Chat"]
//! ```

use super::availability::Schedule;
use super::chat::CometConfig;
use super::documents::{built_in_url, CALLBACK_CHAT, INBOUND_CHAT};
use super::office_hours::{OfficeHours, OfficeHoursConfig, OfficeHoursError};
use super::push::PushConfig;
use super::routing::{DirectoryConfig, RoutingError, TargetSpec, DEFAULT_RESERVATION_TIMEOUT};
use super::throttle::ThrottleRules;
use scxml::parse::location_to_url;
use scxml_server::{load_toml, parse_toml, TomlFileError};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use url::Url;

/// The configuration shipped with the binary: two chat services and a few agents.
pub const DEFAULT_CONFIG: &str = include_str!("../../../gms.toml");

/// The `[gms]` section of the server's configuration file: whether the application runs,
/// and from which configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GmsSection {
    /// Whether the callback application is mounted under `/genesys/`.
    pub enabled: bool,
    /// Its configuration file; absent: the built-in default (`gms.toml` of the sources).
    pub config: Option<std::path::PathBuf>,
}

impl Default for GmsSection {
    fn default() -> GmsSection {
        GmsSection {
            enabled: true,
            config: None,
        }
    }
}

impl GmsSection {
    /// The application this section asks for, or `None` when disabled.
    pub fn load(&self) -> Result<Option<std::sync::Arc<crate::GmsApp>>, crate::StartError> {
        if !self.enabled {
            return Ok(None);
        }
        let config = match &self.config {
            Some(path) => GmsConfig::load(path)?,
            None => GmsConfig::default_config(),
        };
        crate::GmsApp::new(config).map(Some)
    }
}

/// Why the application's configuration cannot be used: the file cannot be read or does not
/// fit, or a configured service is refused. The message names the file, or the service and
/// the option, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read, or its text does not fit (an unknown key, a value of the
    /// wrong type: the TOML error names the key, its line and column).
    #[error(transparent)]
    File(#[from] TomlFileError),
    /// A configured service (`[services.<name>]`) is refused.
    #[error("service {service}: {problem}")]
    Service {
        /// The service's name.
        service: String,
        /// What is wrong with its table.
        #[source]
        problem: ServiceError,
    },
    /// An office-hours table (`[office_hours.<name>]`) is refused.
    #[error("office_hours.{name}: {problem}")]
    OfficeHours {
        /// The table's name.
        name: String,
        /// What is wrong with it.
        #[source]
        problem: OfficeHoursError,
    },
}

/// What is wrong with a service's table: an option the flows cannot work with, or options
/// that contradict each other. Values are shown as JSON, as the flow would see them.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A value has no JSON form for the flow's `options` data.
    #[error("{key}: {source}")]
    NotJson {
        /// The option.
        key: String,
        /// Why it does not convert.
        source: serde_json::Error,
    },
    /// `document` or `inbound_document` (named here) is empty.
    #[error("{0}: a path or URL is required")]
    NoDocument(String),
    /// `document` or `inbound_document` is not a usable path or URL.
    #[error("{key}: {reason}")]
    Document {
        /// `document` or `inbound_document`.
        key: String,
        /// Why the location is not usable, as the resolver's URL rules say.
        reason: String,
    },
    /// `scenario` names none of the predefined scenarios.
    #[error("unknown scenario {0} (chat-delayed or chat-immediate)")]
    UnknownScenario(Value),
    /// A key that is neither `document`, `inbound_document`, `scenario` nor an option
    /// (`_...` or `app_...`); most likely a typing mistake.
    #[error("unknown option {0:?} (options start with `_` or `app_`)")]
    UnknownOption(String),
    /// An option the service's scenario fixes is given another value.
    #[error("{key} = {given} contradicts its scenario, which fixes {fixed}")]
    ContradictsScenario {
        /// The option.
        key: &'static str,
        /// The service's value.
        given: Value,
        /// The scenario's value.
        fixed: Value,
    },
    /// The flow would wait for the customer's confirmation of an agent it does not wait for.
    #[error("_wait_for_user_confirm = true needs _wait_for_agent = true")]
    ConfirmWithoutAgent,
    /// A count or a duration is zero, negative, or not a number (or, for counts, not whole).
    #[error("{key} = {value} is not a positive {}", if *.whole { "integer" } else { "number" })]
    NotPositive {
        /// The option.
        key: &'static str,
        /// Its value.
        value: Value,
        /// Whether it must be a whole number.
        whole: bool,
    },
    /// `_reject_future_desired_time` is not a count with a unit.
    #[error(
        "_reject_future_desired_time must be a count with a unit s, m, h, d, w or M (e.g. 1M)"
    )]
    NotAHorizon,
    /// `_request_time_bucket` makes buckets shorter than a second or longer than a day.
    #[error("_request_time_bucket must be between 1 second and 1440 minutes")]
    BucketOutOfRange,
    /// A URS strategy option names a strategy other than the one the router runs.
    #[error("{key} = {value} is not a strategy of this router (it runs {known})")]
    UnknownStrategy {
        /// `_urs_prioritization_strategy` or `_urs_strategy_update_sub_routine`.
        key: &'static str,
        /// Its value.
        value: Value,
        /// The one strategy it may name.
        known: &'static str,
    },
    /// `_business_hours_service` names no `[office_hours.<name>]` table.
    #[error("_business_hours_service = {0} names no [office_hours.{0}] table")]
    UnknownOfficeHours(String),
    /// `_enable_reject_out_of_office_hours` without office hours to reject by.
    #[error("_enable_reject_out_of_office_hours needs _business_hours_service")]
    RejectWithoutOfficeHours,
    /// `_attach_udata` is none of `single_json`, `separate_keys`, `none`.
    #[error("_attach_udata = {0} must be single_json, separate_keys or none")]
    UnknownAttachUserData(Value),
    /// `_type` is neither `ors` nor `builtin`.
    #[error("_type = {0} must be ors or builtin")]
    UnknownType(Value),
    /// `_enable_in_queue_checking` is neither `true`, `false` nor `strict`.
    #[error("_enable_in_queue_checking = {0} must be true, false or strict")]
    UnknownQueueChecking(Value),
    /// `_request_execution_time_buffer` is not a number of seconds, at least 0.
    #[error("_request_execution_time_buffer must be a number of seconds")]
    NotABuffer,
    /// The service has no `_target` to route its callbacks to.
    #[error("_target is required")]
    NoTarget,
    /// `_target` (without `$token$`s to fill in later) is not a target or multi-target list.
    #[error("_target: {0}")]
    Target(RoutingError),
    /// `_overwritable_options` lists an option requests may not override.
    #[error("_overwritable_options may list only {allowed:?}, not {0:?}", allowed = OVERWRITABLE)]
    NotOverwritable(String),
}

/// Everything the application is set up from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmsConfig {
    /// How long a GMS request waits for the flow's answer before a 504, milliseconds.
    #[serde(default = "default_exchange_timeout_ms")]
    pub exchange_timeout_ms: u64,
    /// How often the router advances its timeouts, milliseconds.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// A directory whose files replace the built-in documents of the same name
    /// (`callback/chat.scxml`, `callback/chat.js`, `inbound_chat.scxml`); absent: the copies
    /// built into the binary.
    #[serde(default)]
    pub documents_dir: Option<PathBuf>,
    /// How often a flow document is checked for a new version, at most, milliseconds: when a
    /// session is about to start from it and it was checked longer ago.
    #[serde(default = "default_flow_check_ms")]
    pub flow_check_ms: u64,
    /// The directory relative document paths of services are read from: the configuration
    /// file's (absent: the working directory).
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
    /// Configured services by name (the `{service}` of `service/callback/{service}`).
    #[serde(default)]
    pub services: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// Agents and groups.
    #[serde(default)]
    pub routing: DirectoryConfig,
    /// Push providers (APNs, FCM, webhooks) and their credentials.
    #[serde(default)]
    pub push: PushConfig,
    /// CometD long-poll and session timeouts.
    #[serde(default)]
    pub comet: CometConfig,
    /// `[gms.limits]`: request rates per device and per client address, callbacks per
    /// device.
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
    /// Office hours by name, for the services' `_business_hours_service`.
    #[serde(default)]
    pub office_hours: BTreeMap<String, OfficeHoursConfig>,
}

fn default_exchange_timeout_ms() -> u64 {
    10_000
}

fn default_tick_ms() -> u64 {
    250
}

fn default_flow_check_ms() -> u64 {
    1000
}

/// A predefined scenario: the options it fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// `chat-delayed`: a chat callback that waits for an agent and for the customer's
    /// confirmation before the chat starts.
    ChatDelayed,
    /// `chat-immediate`: a chat callback that starts the chat at once, without waiting
    /// for an agent or a confirmation.
    ChatImmediate,
}

impl Scenario {
    fn parse(name: &str) -> Option<Scenario> {
        match name {
            "chat-delayed" | "chat-delay" => Some(Scenario::ChatDelayed),
            "chat-immediate" => Some(Scenario::ChatImmediate),
            _ => None,
        }
    }

    /// The options the scenario fixes (a service may repeat them, not change them).
    fn fixed(self) -> Vec<(&'static str, Value)> {
        let confirm = self == Scenario::ChatDelayed;
        vec![
            ("_media_type", Value::from("chat")),
            ("_wait_for_agent", Value::from(confirm)),
            ("_wait_for_user_confirm", Value::from(confirm)),
        ]
    }
}

/// The options a request may override, when the service lists them in
/// `_overwritable_options`.
const OVERWRITABLE: [&str; 2] = ["_target", "_ors"];

/// The routing strategy our router runs: wait for the target (and its multi-target list,
/// priority and aging) until an agent is reserved. It is the GMS default, and the only one;
/// a service naming another is refused rather than silently routed differently.
const STRATEGY: &str = "WaitForTarget";
/// The strategy's update hook: the router applies priority changes at once, which is what
/// `SetRouteDelay` is for in URS.
const UPDATE_SUB_ROUTINE: &str = "SetRouteDelay";

/// Defaults of options a service does not set.
fn defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("_ttl", Value::from(86_400)),
        ("_type", Value::from("ors")),
        ("_urs_virtual_queue", Value::from("default")),
        ("_urs_prioritization_strategy", Value::from(STRATEGY)),
        (
            "_urs_strategy_update_sub_routine",
            Value::from(UPDATE_SUB_ROUTINE),
        ),
        ("_use_debug_push_certificate", Value::from(false)),
        (
            "_agent_reserve_timeout",
            Value::from(DEFAULT_RESERVATION_TIMEOUT.as_secs()),
        ),
        ("_user_confirm_timeout", Value::from(30)),
        ("_on_user_confirm_timeout", Value::from("CONNECT-ANYWAY")),
        (
            "_max_number_of_user_availability_confirmation_attempts",
            Value::from(3),
        ),
        ("app_find_agent_timeout", Value::from(60)),
        // Queue management: refuse a callback for a number that already has two outstanding
        // ("strict": one; false: no check), or past this many outstanding in the service.
        ("_enable_in_queue_checking", Value::from("true")),
        ("_max_queued_callbacks_per_service", Value::from(1000)),
        // Scheduled callbacks: bucket minutes, callbacks per bucket, seconds submitted ahead
        // of the desired time, how far ahead a desired time may be.
        ("_request_time_bucket", Value::from(5)),
        ("_max_request_by_time_bucket", Value::from(100)),
        ("_request_execution_time_buffer", Value::from(120)),
        ("_reject_future_desired_time", Value::from("1M")),
        (
            "_attach_udata",
            Value::from(AttachUserData::SingleJson.as_str()),
        ),
        // Throttles (0 turns one off): callbacks per service per window, and per caller.
        ("_throttle_callbacks_per_service_1", Value::from(500)),
        ("_throttle_ttl_1", Value::from(300)),
        ("_throttle_callbacks_per_service_2", Value::from(1000)),
        ("_throttle_ttl_2", Value::from(3600)),
        (
            "_throttle_request_parameters",
            Value::from("_customer_number"),
        ),
        ("_throttle_request_parameters_limit", Value::from(6)),
    ]
}

/// `_attach_udata`: how the callback's user data (its `usr_*` fields) reaches the chat
/// interaction, and so the agent who takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachUserData {
    /// One key, [`AttachUserData::SINGLE_KEY`], whose value is the fields as JSON text (the
    /// GMS default).
    SingleJson,
    /// Each field under its own key.
    SeparateKeys,
    /// Nothing is attached.
    None,
}

impl AttachUserData {
    /// The key `single_json` attaches the user data under.
    pub const SINGLE_KEY: &'static str = "GMS_UserData";

    /// Reads the option's value (case-insensitive); `None` for an unknown one.
    pub fn parse(value: &Value) -> Option<AttachUserData> {
        match value.as_str()?.trim().to_ascii_lowercase().as_str() {
            "single_json" => Some(AttachUserData::SingleJson),
            "separate_keys" => Some(AttachUserData::SeparateKeys),
            "none" => Some(AttachUserData::None),
            _ => None,
        }
    }

    /// The option's value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachUserData::SingleJson => "single_json",
            AttachUserData::SeparateKeys => "separate_keys",
            AttachUserData::None => "none",
        }
    }

    /// What to attach for `user_data` (the callback's `usr_*` fields).
    pub fn attach(self, user_data: Map<String, Value>) -> Map<String, Value> {
        match self {
            AttachUserData::None => Map::new(),
            _ if user_data.is_empty() => Map::new(),
            AttachUserData::SeparateKeys => user_data,
            AttachUserData::SingleJson => [(
                AttachUserData::SINGLE_KEY.to_string(),
                Value::from(Value::Object(user_data).to_string()),
            )]
            .into_iter()
            .collect(),
        }
    }
}

/// A configured service, validated: its name, its documents and every option as the flow
/// sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// The service name, as in `/genesys/1/service/{name}`.
    pub name: String,
    /// Every option of the service (its scenario's and its own), with the values the flow
    /// reads from `_data`.
    pub options: Map<String, Value>,
    /// The callback flow its sessions run (`document = "path or URL"`; default the built-in
    /// `callback/chat.scxml`).
    pub document: Url,
    /// The inbound chat script its chats start (`inbound_document`; default the built-in
    /// `inbound_chat.scxml`).
    pub inbound_document: Url,
    /// Its `_throttle_*` options, read.
    pub throttle: ThrottleRules,
    /// The options its scenario fixes (a request or an edit may not change them).
    pub locked: Vec<String>,
}

impl GmsConfig {
    /// The configuration built into the binary.
    pub fn default_config() -> GmsConfig {
        GmsConfig::parse(DEFAULT_CONFIG).expect("the built-in gms.toml is valid")
    }

    /// Reads a configuration file; relative paths in it are then taken from its directory.
    pub fn load(path: &Path) -> Result<GmsConfig, ConfigError> {
        let mut config: GmsConfig = load_toml(path)?;
        config.base_dir = path.parent().map(Path::to_path_buf);
        Ok(config)
    }

    /// Parses a configuration from TOML text; `base_dir` is left unset.
    pub fn parse(text: &str) -> Result<GmsConfig, ConfigError> {
        Ok(parse_toml(text)?)
    }

    /// Every configured service with its options resolved, or the first contradiction.
    pub fn services(&self) -> Result<BTreeMap<String, Service>, ConfigError> {
        self.services
            .iter()
            .map(|(name, table)| {
                let refused = |problem| ConfigError::Service {
                    service: name.clone(),
                    problem,
                };
                let service = resolve(name, table, self.base_dir.as_deref()).map_err(refused)?;
                let hours = service.options.get("_business_hours_service");
                match hours.and_then(Value::as_str).filter(|h| !h.is_empty()) {
                    Some(h) if !self.office_hours.contains_key(h) => {
                        return Err(refused(ServiceError::UnknownOfficeHours(h.to_string())))
                    }
                    None if service
                        .options
                        .get("_enable_reject_out_of_office_hours")
                        .is_some_and(truthy) =>
                    {
                        return Err(refused(ServiceError::RejectWithoutOfficeHours))
                    }
                    _ => {}
                }
                Ok((name.clone(), service))
            })
            .collect()
    }

    /// Every office-hours table, read, or the first refused.
    pub fn office_hours(&self) -> Result<BTreeMap<String, OfficeHours>, ConfigError> {
        self.office_hours
            .iter()
            .map(|(name, table)| {
                let hours = OfficeHours::from_config(table).map_err(|problem| {
                    ConfigError::OfficeHours {
                        name: name.clone(),
                        problem,
                    }
                })?;
                Ok((name.clone(), hours))
            })
            .collect()
    }
}

/// Applies the scenario and the defaults to a service's table and checks it.
fn resolve(
    name: &str,
    table: &BTreeMap<String, toml::Value>,
    base_dir: Option<&Path>,
) -> Result<Service, ServiceError> {
    let mut options = Map::new();
    let mut scenario = None;
    let mut document = built_in_url(CALLBACK_CHAT);
    let mut inbound_document = built_in_url(INBOUND_CHAT);
    for (key, value) in table {
        let value = serde_json::to_value(value).map_err(|source| ServiceError::NotJson {
            key: key.clone(),
            source,
        })?;
        if key == "document" || key == "inbound_document" {
            let url = document_url(key, value.as_str().unwrap_or_default(), base_dir)?;
            *(if key == "document" {
                &mut document
            } else {
                &mut inbound_document
            }) = url;
            continue;
        }
        if key == "scenario" {
            let text = value.as_str().unwrap_or_default();
            scenario = Some(
                Scenario::parse(text)
                    .ok_or_else(|| ServiceError::UnknownScenario(value.clone()))?,
            );
            continue;
        }
        if !(key.starts_with('_') || key.starts_with("app_")) {
            return Err(ServiceError::UnknownOption(key.clone()));
        }
        options.insert(key.clone(), value);
    }
    let locked: Vec<String> = scenario
        .map(|s| s.fixed().into_iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default();
    if let Some(scenario) = scenario {
        for (key, fixed) in scenario.fixed() {
            match options.get(key) {
                Some(given) if !same_option(given, &fixed) => {
                    return Err(ServiceError::ContradictsScenario {
                        key,
                        given: given.clone(),
                        fixed,
                    })
                }
                _ => {
                    options.insert(key.to_string(), fixed);
                }
            }
        }
    }
    for (key, value) in defaults() {
        options.entry(key.to_string()).or_insert(value);
    }
    let flag = |key: &str| options.get(key).is_some_and(truthy);
    if flag("_wait_for_user_confirm") && !flag("_wait_for_agent") {
        return Err(ServiceError::ConfirmWithoutAgent);
    }
    let positive = |key: &'static str, whole: bool| {
        let Some(value) = options.get(key) else {
            return Ok(());
        };
        let n = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n > 0.0 && (!whole || n.fract() == 0.0) => Ok(()),
            _ => Err(ServiceError::NotPositive {
                key,
                value: value.clone(),
                whole,
            }),
        }
    };
    let text = |key: &str| options.get(key).and_then(Value::as_str).unwrap_or_default();
    for (key, known) in [
        ("_urs_prioritization_strategy", STRATEGY),
        ("_urs_strategy_update_sub_routine", UPDATE_SUB_ROUTINE),
    ] {
        if text(key) != known {
            return Err(ServiceError::UnknownStrategy {
                key,
                value: options[key].clone(),
                known,
            });
        }
    }
    if AttachUserData::parse(&options["_attach_udata"]).is_none() {
        return Err(ServiceError::UnknownAttachUserData(
            options["_attach_udata"].clone(),
        ));
    }
    if !["ors", "builtin"].contains(&text("_type")) {
        return Err(ServiceError::UnknownType(options["_type"].clone()));
    }
    let checking = match &options["_enable_in_queue_checking"] {
        Value::Bool(b) => b.to_string(),
        other => other.as_str().unwrap_or_default().to_ascii_lowercase(),
    };
    if !["true", "false", "strict"].contains(&checking.as_str()) {
        return Err(ServiceError::UnknownQueueChecking(
            options["_enable_in_queue_checking"].clone(),
        ));
    }
    positive("_max_queued_callbacks_per_service", true)?;
    positive("_user_confirm_timeout", false)?;
    positive(
        "_max_number_of_user_availability_confirmation_attempts",
        true,
    )?;
    Schedule::of(&options)?;
    let buffer = options.get("_request_execution_time_buffer");
    if !buffer.is_some_and(|b| {
        b.as_f64()
            .or_else(|| b.as_str()?.trim().parse().ok())
            .is_some_and(|n| n >= 0.0)
    }) {
        return Err(ServiceError::NotABuffer);
    }
    let target = options.get("_target").ok_or(ServiceError::NoTarget)?;
    let has_token = target.as_str().is_some_and(|t| t.contains('$'));
    if !has_token {
        TargetSpec::from_value(target).map_err(ServiceError::Target)?;
    }
    if let Some(list) = options.get("_overwritable_options") {
        let names: Vec<String> = match list {
            Value::String(s) => s.split(',').map(|n| n.trim().to_string()).collect(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().unwrap_or("?").to_string())
                .collect(),
            other => vec![other.to_string()],
        };
        if let Some(bad) = names.iter().find(|n| !OVERWRITABLE.contains(&n.as_str())) {
            return Err(ServiceError::NotOverwritable(bad.clone()));
        }
    }
    let throttle = ThrottleRules::of(&options)?;
    Ok(Service {
        name: name.to_string(),
        options,
        document,
        inbound_document,
        throttle,
        locked,
    })
}

/// The URL of a service's document: a URL as given, or a path, relative to `base_dir` (the
/// configuration file's directory) when there is one.
fn document_url(key: &str, location: &str, base_dir: Option<&Path>) -> Result<Url, ServiceError> {
    if location.trim().is_empty() {
        return Err(ServiceError::NoDocument(key.to_string()));
    }
    let unusable = |reason: String| ServiceError::Document {
        key: key.to_string(),
        reason,
    };
    match base_dir {
        Some(dir) if Url::parse(location).is_err() && Path::new(location).is_relative() => {
            let dir = std::path::absolute(dir).map_err(|e| unusable(e.to_string()))?;
            location_to_url(&dir.join(location).to_string_lossy())
                .map_err(|e| unusable(e.to_string()))
        }
        _ => location_to_url(location).map_err(|e| unusable(e.to_string())),
    }
}

/// True for `true` and `"true"` (options often come as strings).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn same_option(given: &Value, fixed: &Value) -> bool {
    match fixed {
        Value::Bool(b) => truthy(given) == *b && (given.is_boolean() || given.is_string()),
        _ => given == fixed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_has_both_chat_services() {
        let services = GmsConfig::default_config().services().unwrap();
        let delay = &services["chat-delay"].options;
        assert_eq!(delay["_wait_for_user_confirm"], true);
        assert_eq!(delay["_media_type"], "chat");
        let immediate = &services["chat-immediate"].options;
        assert_eq!(immediate["_wait_for_agent"], false);
        assert_eq!(delay["_user_confirm_timeout"], 30);
        assert_eq!(delay["_on_user_confirm_timeout"], "CONNECT-ANYWAY");
        assert_eq!(
            delay["_max_number_of_user_availability_confirmation_attempts"],
            3
        );
    }

    #[test]
    fn confirmation_options_must_be_positive() {
        let service = |extra: &str| {
            GmsConfig::parse(&format!(
                "[services.x]\nscenario = \"chat-delayed\"\n_target = \"a@S.A\"\n{extra}\n"
            ))
            .unwrap()
            .services()
        };
        assert!(service("_user_confirm_timeout = 0.5").is_ok());
        assert!(service("_user_confirm_timeout = \"0\"").is_err());
        let err = service("_max_number_of_user_availability_confirmation_attempts = 1.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("positive integer"), "{err}");
        assert!(service("_max_number_of_user_availability_confirmation_attempts = \"2\"").is_ok());
    }

    #[test]
    fn only_the_routers_strategy_and_known_types_are_accepted() {
        let service = |extra: &str| {
            GmsConfig::parse(&format!(
                "[services.x]\nscenario = \"chat-delayed\"\n_target = \"a@S.A\"\n{extra}\n"
            ))
            .unwrap()
            .services()
        };
        let defaults = service("").unwrap();
        assert_eq!(
            defaults["x"].options["_urs_prioritization_strategy"],
            "WaitForTarget"
        );
        assert!(service("_urs_strategy_update_sub_routine = \"SetRouteDelay\"").is_ok());
        let err = service("_urs_prioritization_strategy = \"Lottery\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a strategy of this router"), "{err}");
        assert!(service("_type = \"builtin\"").is_ok());
        assert!(service("_type = \"soap\"")
            .unwrap_err()
            .to_string()
            .contains("ors or builtin"));
    }

    #[test]
    fn contradictions_are_refused() {
        let config = GmsConfig::parse(
            "[services.x]\n_target = \"a@S.A\"\n_wait_for_user_confirm = true\n_wait_for_agent = false\n",
        )
        .unwrap();
        let err = config.services().unwrap_err().to_string();
        assert!(err.contains("needs _wait_for_agent"), "{err}");
        let config = GmsConfig::parse(
            "[services.x]\nscenario = \"chat-immediate\"\n_target = \"a@S.A\"\n_wait_for_user_confirm = true\n",
        )
        .unwrap();
        assert!(config
            .services()
            .unwrap_err()
            .to_string()
            .contains("contradicts"));
        let config = GmsConfig::parse("[services.x]\nscenario = \"chat-delayed\"\n").unwrap();
        assert!(config
            .services()
            .unwrap_err()
            .to_string()
            .contains("_target"));
        let config = GmsConfig::parse(
            "[services.x]\nscenario = \"chat-delayed\"\n_target = \"a@S.A\"\n_attach_udata = \"xml\"\n",
        )
        .unwrap();
        let err = config.services().unwrap_err().to_string();
        assert!(err.contains("single_json, separate_keys or none"), "{err}");
        // Office hours: named tables only, read at start.
        let service = "[services.x]\nscenario = \"chat-delayed\"\n_target = \"a@S.A\"\n";
        for (extra, expect) in [
            (
                "_business_hours_service = \"nope\"\n",
                "names no [office_hours.nope]",
            ),
            (
                "_enable_reject_out_of_office_hours = true\n",
                "needs _business_hours_service",
            ),
        ] {
            let config = GmsConfig::parse(&format!("{service}{extra}")).unwrap();
            let err = config.services().unwrap_err().to_string();
            assert!(err.contains(expect), "{err}");
        }
        let config = GmsConfig::parse(
            "[office_hours.x]\ntimezone = \"Europe/Nowhere\"\nweekly = [\"Mon 09:00-17:00\"]\n",
        )
        .unwrap();
        let err = config.office_hours().unwrap_err().to_string();
        assert!(err.starts_with("office_hours.x: timezone"), "{err}");
        assert!(
            GmsConfig::parse("[services.x]\nscenario = \"chat-delayed\"\nbogus = 1\n")
                .unwrap()
                .services()
                .is_err()
        );
        assert!(GmsConfig::parse("unknown = 1").is_err());
        let config = GmsConfig::parse(
            "[services.x]\n_target = \"a@S.A\"\n_overwritable_options = \"_target,_ttl\"\n",
        )
        .unwrap();
        assert!(config
            .services()
            .unwrap_err()
            .to_string()
            .contains("_overwritable_options"));
    }
}
