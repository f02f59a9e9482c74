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
    pub id: ExprId,
    pub source: String,
    pub pos: Pos,
}

/// An attribute that comes as a literal (`event="x"`) or an expression (`eventexpr="..."`).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Literal(String),
    Expr(Expr),
}

/// A `delay`/`delayexpr` pair; literal delays are CSS2 times parsed at load time.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    Fixed(Duration),
    Expr(Expr),
}

/// A sequence of executable content elements.
pub type Block = Vec<Executable>;

#[derive(Debug, Clone, PartialEq)]
pub enum Executable {
    Raise {
        event: String,
        pos: Pos,
    },
    Log {
        label: Option<String>,
        expr: Option<Expr>,
        pos: Pos,
    },
    Assign {
        location: Expr,
        value: AssignValue,
        pos: Pos,
    },
    /// `<script>`; a `src` script is fetched at load time and carried as its source.
    Script(Expr),
    If {
        branches: Vec<Branch>,
        pos: Pos,
    },
    Foreach {
        array: Expr,
        item: Expr,
        index: Option<Expr>,
        body: Block,
        pos: Pos,
    },
    Send(Box<Send>),
    Cancel {
        sendid: AttrValue,
        pos: Pos,
    },
}

/// The value of an `<assign>`: its `expr`, or its inline children.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignValue {
    Expr(Expr),
    /// Inline content: text, or XML markup kept as text.
    Inline(String),
}

/// One `<if>`/`<elseif>`/`<else>` arm; `cond` is `None` for `<else>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub cond: Option<Expr>,
    pub body: Block,
}

/// `<param name expr|location>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    /// The `expr`, or the `location` (both are evaluated as expressions).
    pub expr: Expr,
    pub pos: Pos,
}

/// `<content expr>` or inline content.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Expr(Expr),
    /// Inline text (whitespace-trimmed as the data model expects) or XML markup as text.
    Inline(String),
    /// An inline `<scxml>` document (inside `<invoke>`), parsed and validated with its parent.
    Document(Arc<Document>),
}

/// `<donedata>`: either one `<content>` or a list of `<param>`s.
#[derive(Debug, Clone, PartialEq)]
pub struct DoneData {
    pub content: Option<Content>,
    pub params: Vec<Param>,
}

/// How a `<data>` element gets its initial value.
#[derive(Debug, Clone, PartialEq)]
pub enum DataInit {
    /// No value: the variable is created as undefined/null.
    None,
    Expr(Expr),
    /// Inline content or the text fetched from `src`.
    Text(String),
    /// `src` could not be fetched; creating the datum raises `error.execution` with this reason.
    Unavailable(String),
}

/// `<send>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub event: Option<AttrValue>,
    pub target: Option<AttrValue>,
    pub type_: Option<AttrValue>,
    /// `id`: a literal send id.
    pub id: Option<String>,
    /// `idlocation`: where to store a generated send id.
    pub idlocation: Option<Expr>,
    pub delay: Option<Delay>,
    pub namelist: Vec<Expr>,
    pub params: Vec<Param>,
    pub content: Option<Content>,
    pub pos: Pos,
}

/// `<invoke>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoke {
    pub type_: Option<AttrValue>,
    pub src: Option<AttrValue>,
    pub id: Option<String>,
    pub idlocation: Option<Expr>,
    pub namelist: Vec<Expr>,
    pub autoforward: bool,
    pub params: Vec<Param>,
    pub content: Option<Content>,
    pub finalize: Block,
    pub pos: Pos,
}
