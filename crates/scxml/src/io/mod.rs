//! Event I/O processors and the registry through which Rust code adds custom `<send>` and
//! `<invoke>` types.
//!
//! The SCXML Event I/O Processor (targets `#_internal`, `#_parent`, `#_scxml_<id>`,
//! `#_<invokeid>`) is built into every host; [`ScxmlTarget`] parses its target syntax. Anything
//! else is looked up in a [`Registry`] by type URI.
//!
//! What the SCXML processor does is the same for every host, so it is written once here,
//! sans-IO: [`Links`] keeps what a session is linked to (its parent, its invocations, the ones
//! it cancelled), [`route_send`] decides where a `<send>` goes ([`Outgoing`]), and
//! [`child_document`] finds the document an SCXML `<invoke>` runs. A host ([`LocalRuntime`],
//! or the `scxml-engine` crate's shards) keys its sessions by a type of its own (`K`) and
//! does the actual delivery.
//!
//! [`LocalRuntime`]: crate::runtime::LocalRuntime

mod child;
mod links;
mod registry;
mod target;

pub use child::{child_document, needs_fetch, ChildDocumentError};
pub use links::{check_invoke_type, route_send, Child, Delivery, Links, Outgoing};
pub use registry::{CustomInvokeType, CustomSendType, EventSink, InvokedService, Registry};
pub use target::ScxmlTarget;
