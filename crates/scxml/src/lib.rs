//! scxml: a W3C SCXML 1.0 interpreter with ECMAScript and null datamodels.
#![warn(missing_docs, unreachable_pub)]

pub mod datamodel;
pub mod interpreter;
pub mod io;
pub mod model;
pub mod parse;
pub mod runtime;
