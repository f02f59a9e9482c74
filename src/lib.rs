//! scxml-runtime: a W3C SCXML 1.0 interpreter with ECMAScript and null datamodels.

pub mod cli;
pub mod conformance;
pub mod datamodel;
pub mod gms;
pub mod interpreter;
pub mod io;
pub mod model;
pub mod parse;
pub mod runtime;
pub mod server;
pub mod store;
