//! An embeddable W3C [SCXML 1.0] interpreter: statecharts written as XML documents, run by
//! the algorithm of the specification's Appendix D, with the null and ECMAScript datamodels.
//!
//! A document is parsed and validated once into an immutable, indexed [`Document`]: every
//! problem is reported with its `line:column`, and an invalid document never reaches the
//! interpreter. Any number of sessions share the document; each [`Interpreter`] is one
//! session, which the host starts and then hands external [`Event`]s to. Every call runs a
//! macrostep to completion and returns.
//!
//! # Example
//!
//! Parse a document, run it on [`LocalRuntime`] with one event, and check where it ended.
//! The delayed `<send>` costs no time: [`Clock::Virtual`] jumps to the next timer whenever
//! nothing else is ready.
//!
//! ```
//! use std::sync::Arc;
//! use scxml::{Clock, Event, LocalRuntime, RunOutcome, SessionOptions};
//!
//! let text = r#"
//! <scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="null"
//!        initial="idle">
//!   <state id="idle">
//!     <transition event="start" target="working"/>
//!   </state>
//!   <state id="working">
//!     <onentry>
//!       <log label="working"/>
//!       <send event="finished" delay="5s"/>
//!     </onentry>
//!     <transition event="finished" target="done"/>
//!   </state>
//!   <final id="done"/>
//! </scxml>"#;
//! let doc = Arc::new(scxml::parse_str(text, "example.scxml", None)?);
//!
//! let mut runtime = LocalRuntime::new(Clock::Virtual);
//! let session = runtime.start(doc, SessionOptions::default());
//! runtime.send_event(session, Event::external("start"));
//! assert_eq!(runtime.run(session, None), RunOutcome::Halted);
//!
//! let interpreter = runtime.session(session).expect("a halted session is kept");
//! assert_eq!(interpreter.final_state(), Some("done"));
//! assert_eq!(runtime.logs()[0].label.as_deref(), Some("working"));
//! # Ok::<(), scxml::ParseErrors>(())
//! ```
//!
//! # Features
//!
//! - `ecmascript` (default): the ECMAScript datamodel, on [boa_engine]. It is the datamodel
//!   of a document without a `datamodel` attribute.
//! - With `--no-default-features` only the null datamodel is built (conditions are
//!   `In('state')`, no variables, no scripts), and the crate's dependencies are quick-xml,
//!   serde, serde_json, thiserror, url and tracing. The parser then refuses documents that
//!   ask for `datamodel="ecmascript"` (and gives documents without the attribute the null
//!   datamodel).
//!
//! # Sans-IO: the host
//!
//! The interpreter owns no thread, socket, timer or clock. Whatever a session does outside
//! itself (a `<send>` it cannot deliver alone, an `<invoke>`, `<cancel>`, `<log>`, reaching
//! a top-level final state) is a call on the [`Host`] it is given, and the host brings events
//! back with [`Interpreter::process_event`]. So the same interpreter runs in a test, a CLI,
//! a game loop or a server, and the host decides what a send, a timer or an invocation
//! means there.
//!
//! ```
//! use std::sync::Arc;
//! use scxml::{Event, Interpreter, NullHost, SessionOptions};
//!
//! let text = r#"<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"
//!     datamodel="null"><state id="off"><transition event="flip" target="on"/></state>
//!     <state id="on"/></scxml>"#;
//! let doc = Arc::new(scxml::parse_str(text, "switch.scxml", None)?);
//! let mut host = NullHost; // drops every effect: enough for a pure statechart
//! let mut session = Interpreter::new(doc, SessionOptions::default());
//! session.start(&mut host);
//! assert_eq!(session.active_atomic_ids(), ["off"]);
//! session.process_event(Event::external("flip"), &mut host);
//! assert_eq!(session.active_atomic_ids(), ["on"]);
//! # Ok::<(), scxml::ParseErrors>(())
//! ```
//!
//! [`LocalRuntime`] is a ready host: it runs a session and everything it invokes on the
//! calling thread, with delayed sends on a virtual or a real [`Clock`], SCXML child
//! sessions, and custom `<send>`/`<invoke>` types that Rust code adds to its [`Registry`]
//! ([`CustomSendType`], [`CustomInvokeType`]; they answer through an [`EventSink`]). What
//! the SCXML Event I/O Processor does (targets such as `#_parent` and `#_<invokeid>`, links
//! between sessions, the document an `<invoke>` runs) is written once, sans-IO, in [`io`],
//! for every host to share; the `scxml-engine` crate is the other host, many sessions on a
//! few threads for a server. A session at rest can be captured as a [`SessionSnapshot`] and
//! restored later.
//!
//! # Reading `src`: the resolver
//!
//! Every URL a document names (`<data src>`, `<script src>`, `<invoke src>` and `srcexpr`,
//! and the document itself when it is loaded by path or URL) is read through a
//! [`Resolver`], at load time and at run time: the resolver is where a host decides what a
//! document may read. Relative references resolve against the URL of the document that
//! holds them, never the working directory. The crate itself does no network I/O:
//!
//! - [`FileResolver`] reads `file:` URLs: [`FileResolver::unrestricted`] any local file,
//!   [`FileResolver::within`] only under the prefixes of an [`AllowList`] (compared after
//!   normalisation, and by canonical path, so neither `..` nor a symbolic link climbs out).
//! - [`parse_str`] and [`load`] read any local file: they are for trusted documents. A host
//!   that runs documents it does not trust, or reads other URLs (HTTP), passes its own
//!   resolver to [`parse_with`], [`load_with`] or [`load_url`], and to
//!   [`LocalRuntime::set_resolver`].
//!
//! # Modules
//!
//! The items most programs need are re-exported here; each module holds the rest of its
//! part: [`model`] (the parsed document), [`chart`] (the document as a chart to draw: JSON,
//! Graphviz DOT, Mermaid), [`parse`] (parsing, validation, resolvers),
//! [`interpreter`] (sessions, events, the host interface, snapshots), [`datamodel`] (the
//! `Datamodel` trait and its implementations), [`io`] (the shared SCXML I/O core and the
//! custom type registry) and [`runtime`] (`LocalRuntime`).
//!
//! [SCXML 1.0]: https://www.w3.org/TR/scxml/
//! [boa_engine]: https://docs.rs/boa_engine
#![warn(missing_docs, unreachable_pub)]

pub mod chart;
pub mod datamodel;
pub mod interpreter;
pub mod io;
pub mod model;
pub mod parse;
pub mod runtime;

pub use datamodel::Datamodel;
pub use interpreter::{
    Event, EventType, Failure, Host, Interpreter, InvokeError, InvokeRequest, InvokeSource, Limits,
    NullHost, SendError, SendRequest, SessionOptions, SessionSnapshot,
};
pub use io::{CustomInvokeType, CustomSendType, EventSink, InvokedService, Registry};
pub use model::Document;
pub use parse::{
    load, load_url, load_with, parse_str, parse_with, AllowList, FetchError, FileResolver,
    LoadError, ParseErrors, Problem, Resolver,
};
pub use runtime::{Clock, LocalRuntime, LogRecord, RunOutcome, SessionKey};
