//! The `scxml` command's library: the command-line tool and the W3C conformance runner, on top
//! of the `scxml` core, the engine, the server and the callback application.

pub mod cli;
pub mod conformance;
