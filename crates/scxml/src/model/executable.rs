//! Executable content (`<raise>`, `<send>`, `<assign>`, ...) and the expressions it carries.

use super::{Document, Pos};
use std::sync::Arc;
use std::time::Duration;

/// Index of an expression within its document: datamodels cache compiled code by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

/// An expression (or script) in the document's datamodel language, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The expression's index in its document, the key of a datamodel's compile cache.
    pub id: ExprId,
    /// The expression's text, as written (a `src` script: the fetched text).
    pub source: String,
    /// Where the attribute or element that holds the expression starts.
    pub pos: Pos,
}

/// An attribute that comes as a literal (`event="x"`) or an expression (`eventexpr="..."`).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// The plain attribute's value, used as written.
    Literal(String),
    /// The `...expr` attribute, evaluated when the element runs.
    Expr(Expr),
}

/// A `delay`/`delayexpr` pair; literal delays are CSS2 times parsed at load time.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    /// `delay`: a literal CSS2 time, already parsed.
    Fixed(Duration),
    /// `delayexpr`: evaluated when the `<send>` runs; its value must be a CSS2 time.
    Expr(Expr),
}

/// A sequence of executable content elements.
pub type Block = Vec<Executable>;

/// One element of executable content (SCXML section 4).
#[derive(Debug, Clone, PartialEq)]
pub enum Executable {
    /// `<raise event>`: puts an event on the session's internal queue.
    Raise {
        /// The event's name.
        event: String,
        /// Where the element starts.
        pos: Pos,
    },
    /// `<log label expr>`: hands a line to the host's log.
    Log {
        /// The `label` attribute.
        label: Option<String>,
        /// The `expr` attribute, evaluated to a string.
        expr: Option<Expr>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `<assign location expr|content>`.
    Assign {
        /// The location assigned to.
        location: Expr,
        /// The value assigned.
        value: AssignValue,
        /// Where the element starts.
        pos: Pos,
    },
    /// `<script>`; a `src` script is fetched at load time and carried as its source.
    Script(Expr),
    /// `<if>` with its `<elseif>` and `<else>` arms: the first arm whose condition holds runs.
    If {
        /// The arms in document order; the `<if>` arm first.
        branches: Vec<Branch>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `<foreach array item index>`.
    Foreach {
        /// The expression that gives the array iterated over.
        array: Expr,
        /// The variable each item is assigned to.
        item: Expr,
        /// The variable the item's index is assigned to, if any.
        index: Option<Expr>,
        /// The content run for each item.
        body: Block,
        /// Where the element starts.
        pos: Pos,
    },
    /// `<send>`, boxed: it is much larger than the other elements.
    Send(Box<Send>),
    /// `<cancel sendid|sendidexpr>`: cancels a delayed send of this session.
    Cancel {
        /// The id of the send to cancel.
        sendid: AttrValue,
        /// Where the element starts.
        pos: Pos,
    },
}

impl Executable {
    /// The element's tag name (`assign`, `send`, ...).
    pub fn tag(&self) -> &'static str {
        match self {
            Executable::Raise { .. } => "raise",
            Executable::Log { .. } => "log",
            Executable::Assign { .. } => "assign",
            Executable::Script(_) => "script",
            Executable::If { .. } => "if",
            Executable::Foreach { .. } => "foreach",
            Executable::Send(_) => "send",
            Executable::Cancel { .. } => "cancel",
        }
    }

    /// Where the element starts.
    pub fn pos(&self) -> Pos {
        match self {
            Executable::Raise { pos, .. }
            | Executable::Log { pos, .. }
            | Executable::Assign { pos, .. }
            | Executable::If { pos, .. }
            | Executable::Foreach { pos, .. }
            | Executable::Cancel { pos, .. } => *pos,
            Executable::Script(script) => script.pos,
            Executable::Send(send) => send.pos,
        }
    }
}

/// The value of an `<assign>`: its `expr`, or its inline children.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignValue {
    /// The `expr` attribute.
    Expr(Expr),
    /// Inline content: text, or XML markup kept as text.
    Inline(String),
}

/// One `<if>`/`<elseif>`/`<else>` arm; `cond` is `None` for `<else>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// The arm's condition; `None` for `<else>`.
    pub cond: Option<Expr>,
    /// The content run when the arm is chosen.
    pub body: Block,
}

/// `<param name expr|location>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The `name` attribute: the key the value is sent or passed under.
    pub name: String,
    /// The `expr`, or the `location` (both are evaluated as expressions).
    pub expr: Expr,
    /// Where the element starts.
    pub pos: Pos,
}

/// `<content expr>` or inline content.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// The `expr` attribute.
    Expr(Expr),
    /// Inline text (whitespace-trimmed as the data model expects) or XML markup as text.
    Inline(String),
    /// An inline `<scxml>` document (inside `<invoke>`), parsed and validated with its parent.
    Document(Arc<Document>),
}

/// `<donedata>`: either one `<content>` or a list of `<param>`s.
#[derive(Debug, Clone, PartialEq)]
pub struct DoneData {
    /// The `<content>` child, if the done data is one.
    pub content: Option<Content>,
    /// The `<param>` children, when the done data is made of them.
    pub params: Vec<Param>,
}

/// How a `<data>` element gets its initial value.
#[derive(Debug, Clone, PartialEq)]
pub enum DataInit {
    /// No value: the variable is created as undefined/null.
    None,
    /// The `expr` attribute.
    Expr(Expr),
    /// Inline content or the text fetched from `src`.
    Text(String),
    /// `src` could not be fetched; creating the datum raises `error.execution` with this reason.
    Unavailable(String),
}

/// `<send>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    /// `event` / `eventexpr`: the name of the event sent.
    pub event: Option<AttrValue>,
    /// `target` / `targetexpr`; `None` sends to the session's own external queue.
    pub target: Option<AttrValue>,
    /// `type` / `typeexpr`: the Event I/O Processor; `None` means the SCXML one.
    pub type_: Option<AttrValue>,
    /// `id`: a literal send id.
    pub id: Option<String>,
    /// `idlocation`: where to store a generated send id.
    pub idlocation: Option<Expr>,
    /// `delay` / `delayexpr`: how long the host holds the event before delivering it.
    pub delay: Option<Delay>,
    /// `namelist`: variables sent under their own names.
    pub namelist: Vec<Expr>,
    /// `<param>` children: values sent under the given names.
    pub params: Vec<Param>,
    /// `<content>` child: the event's whole data (exclusive with `namelist` and `<param>`).
    pub content: Option<Content>,
    /// Where the element starts.
    pub pos: Pos,
}

/// `<invoke>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoke {
    /// `type` / `typeexpr`: the kind of service; `None` means an SCXML session.
    pub type_: Option<AttrValue>,
    /// `src` / `srcexpr`: where the invoked service's definition is read from.
    pub src: Option<AttrValue>,
    /// `id`: a literal invoke id.
    pub id: Option<String>,
    /// `idlocation`: where to store a generated invoke id.
    pub idlocation: Option<Expr>,
    /// `namelist`: variables passed to the service under their own names.
    pub namelist: Vec<Expr>,
    /// `autoforward="true"`: every external event the invoking session processes is also
    /// sent to the service.
    pub autoforward: bool,
    /// `<param>` children: values passed to the service under the given names.
    pub params: Vec<Param>,
    /// `<content>` child: the service's definition given inline (instead of `src`).
    pub content: Option<Content>,
    /// `<finalize>`: run for each event the service sends back, before it is processed.
    pub finalize: Block,
    /// Where the element starts.
    pub pos: Pos,
}
