//! The callback application's adapters: what URS, Stat Server, the push providers and the
//! chat server do for a Genesys Mobile Services style callback service, and the HTTP side
//! that turns GMS requests into events of the flows. The flows themselves are SCXML
//! documents under `scxml/`; these modules only supply the parts they talk to.
//!
//! - [`app`]: [`GmsApp`], the wiring and the entry point for `/genesys/` requests.
//! - [`config`]: configured services, agents, push and comet settings ([`GmsConfig`]).
//! - `documents`: the flows: built in, overlaid by a directory, or each service's own by
//!   path or URL; new versions for new sessions.
//! - [`exchange`]: requests waiting for their flow's answer, and `<send type="gms-response">`.
//! - `api`: the callback API (`/genesys/1/service/...`) as flow events.
//! - [`index`]: the service index the flows keep (`<send type="gms-index">`), stored.
//! - `query`, `availability`: queries over many services and free time slots, read
//!   from the index.
//! - [`time`]: ISO 8601 date-times.
//! - [`verb`]: the GMS verbs a flow answers ([`Verb`]).
//! - `ixn_chat`: the customer's chat interaction (`ixn/chat`) and `inbound_chat.scxml`.
//! - `agents_api`: the agent desktop's stand-in API.
//! - [`form`], [`response`]: request fields in, GMS answers out.
//! - [`chat`], [`push`], [`routing`]: the adapters the flows use.
#![warn(missing_docs, unreachable_pub)]

mod access;
mod agents_api;
mod api;
pub mod app;
mod availability;
pub mod chat;
mod chat_v2;
pub mod config;
mod documents;
pub mod exchange;
pub mod form;
pub mod index;
mod ixn_chat;
mod limits;
pub mod office_hours;
mod pages;
pub mod push;
mod query;
pub mod record;
pub mod response;
pub mod routing;
pub mod throttle;
pub mod time;
pub mod verb;

pub use app::{GmsApp, GmsRequest, StartError};
pub use config::{ConfigError, GmsConfig, GmsSection, ServiceError};
pub use documents::FlowError;
pub use index::IndexError;
pub use limits::{LimitsConfig, Throttled};
pub use response::GmsResponse;
pub use verb::Verb;
