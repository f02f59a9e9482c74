//! Event I/O processors and the registry through which Rust code adds custom `<send>` and
//! `<invoke>` types.
//!
//! The SCXML Event I/O Processor (targets `#_internal`, `#_parent`, `#_scxml_<id>`,
//! `#_<invokeid>`) is built into every host; [`ScxmlTarget`] parses its target syntax. Anything
//! else is looked up in a [`Registry`] by type URI.

mod child;
mod links;
mod registry;
mod target;

pub use child::{child_document, needs_fetch, ChildDocumentError};
pub use links::{check_invoke_type, route_send, Child, Delivery, Links, Outgoing};
pub use registry::{CustomInvokeType, CustomSendType, EventSink, InvokedService, Registry};
pub use target::ScxmlTarget;
