//! Expressions simple enough to evaluate without compiling them.
//!
//! Most expressions of a typical document are literals (`'QUEUED'`, `200`, `null`, `[]`,
//! `({})`) or reads of a variable and its properties (`service_id`, `_event.data.agent`).
//! Compiling each into a boa script costs a parse, a bytecode compilation and a few garbage
//! collected objects, once per session: for short-lived sessions that is most of what their
//! expressions cost. [`Simple::parse`] recognises these forms; [`Simple::evaluate`] gives
//! their value directly.
//!
//! The fast path must not change what a program observes, so it only reads *own data
//! properties* of *ordinary objects* (no getter, proxy trap or exotic object runs), and gives
//! up (`None`) before doing anything observable whenever the form is not that plain: a
//! missing variable, an inherited or accessor property, a primitive or exotic base. The
//! caller then evaluates the compiled expression, which raises the proper error or runs the
//! getter exactly once. Global `let`/`const`/`class` bindings live outside the global object
//! and would shadow its properties, so the caller disables the fast path for a session as
//! soon as one of its scripts may declare one ([`may_declare_global_lexicals`]).

use boa_engine::object::builtins::JsArray;
use boa_engine::property::PropertyKey;
use boa_engine::{Context, JsObject, JsString, JsValue};

/// An expression that evaluates without compiling.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Simple {
    Null,
    Bool(bool),
    Integer(i32),
    String(JsString),
    /// `[]`: a new empty array.
    EmptyArray,
    /// `{}` or `({})`: a new empty object.
    EmptyObject,
    /// A global variable followed by property reads: `a`, `a.b.c`.
    Path(Vec<JsString>),
    /// A string literal followed by `+` and string literals or paths whose values are
    /// primitives: `'#_scxml_' + service_id`. Starting with a string, every `+` is a string
    /// concatenation, and converting a primitive to a string runs no code.
    Concat(Vec<Simple>),
}

/// Words that cannot be read as a global variable (`this`, `typeof`, ...), and the literals
/// handled on their own.
const RESERVED: [&str; 44] = [
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "implements",
    "interface",
    "package",
    "arguments",
];

/// Identifiers that strict-mode code may not assign to (the compiled setters are strict).
const STRICT_UNASSIGNABLE: [&str; 11] = [
    "implements",
    "interface",
    "let",
    "package",
    "private",
    "protected",
    "public",
    "static",
    "yield",
    "eval",
    "arguments",
];

/// True when a strict-mode assignment to this variable name compiles.
pub(super) fn strict_assignable(name: &JsString) -> bool {
    let name = name.to_std_string_escaped();
    !STRICT_UNASSIGNABLE.contains(&name.as_str())
}

/// True for a plain ASCII identifier (no escapes, no non-ASCII letters).
fn is_ascii_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

impl Simple {
    /// The simple form of an expression's text (already trimmed of spaces and a trailing
    /// `;`), or `None` when it needs the compiler.
    pub(super) fn parse(text: &str) -> Option<Simple> {
        let text = text.trim();
        if let Some(parts) = split_concatenation(text) {
            let parts: Vec<Simple> = parts
                .into_iter()
                .map(Simple::parse_operand)
                .collect::<Option<_>>()?;
            return matches!(parts.first(), Some(Simple::String(_)))
                .then_some(Simple::Concat(parts));
        }
        Simple::parse_operand(text)
    }

    /// A literal or a path (one operand of a concatenation).
    fn parse_operand(text: &str) -> Option<Simple> {
        let text = text.trim();
        match text {
            "null" => return Some(Simple::Null),
            "true" => return Some(Simple::Bool(true)),
            "false" => return Some(Simple::Bool(false)),
            "[]" => return Some(Simple::EmptyArray),
            "{}" | "({})" => return Some(Simple::EmptyObject),
            _ => {}
        }
        let bytes = text.as_bytes();
        let first = *bytes.first()?;
        if first.is_ascii_digit() {
            // Decimal integers only: a leading zero would be a legacy octal literal.
            if (first == b'0' && bytes.len() > 1) || !bytes.iter().all(u8::is_ascii_digit) {
                return None;
            }
            return text.parse::<i32>().ok().map(Simple::Integer);
        }
        if first == b'\'' || first == b'"' {
            let inner = text
                .strip_prefix(first as char)?
                .strip_suffix(first as char)?;
            // No escapes, no line breaks, no quote of the same kind inside.
            let plain = !inner
                .bytes()
                .any(|b| b == b'\\' || b == first || b == b'\n' || b == b'\r');
            return plain.then(|| Simple::String(JsString::from(inner)));
        }
        let mut names = Vec::new();
        for (i, name) in text.split('.').enumerate() {
            if !is_ascii_identifier(name) || (i == 0 && RESERVED.contains(&name)) {
                return None;
            }
            names.push(JsString::from(name));
        }
        Some(Simple::Path(names))
    }

    /// The value, or `None` when the compiled expression must be evaluated instead (nothing
    /// observable has happened then).
    pub(super) fn evaluate(&self, ctx: &mut Context) -> Option<JsValue> {
        Some(match self {
            Simple::Null => JsValue::null(),
            Simple::Bool(b) => JsValue::new(*b),
            Simple::Integer(i) => JsValue::new(*i),
            Simple::String(s) => JsValue::from(s.clone()),
            Simple::EmptyArray => JsArray::new(ctx).ok()?.into(),
            Simple::EmptyObject => super::convert::plain_object(ctx).into(),
            Simple::Path(names) => {
                let mut value: JsValue = ctx.global_object().into();
                for name in names {
                    value = own_data_property(&value.as_object()?, name)?;
                }
                value
            }
            Simple::Concat(parts) => {
                let mut text = Vec::new();
                for part in parts {
                    let value = part.evaluate(ctx)?;
                    let plain = value.is_string()
                        || value.is_number()
                        || value.is_boolean()
                        || value.is_null_or_undefined();
                    if !plain {
                        return None;
                    }
                    text.extend(value.to_string(ctx).ok()?.iter());
                }
                JsValue::from(JsString::from(&text[..]))
            }
        })
    }
}

/// The operands of `a + b + ...` when the text is such a chain (`+` outside string literals,
/// none of them doubled or unary); `None` otherwise.
fn split_concatenation(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'+' => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            None => {}
        }
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// The value of an own data property of an ordinary object, read without running any code;
/// `None` for anything else.
pub(super) fn own_data_property(object: &JsObject, name: &JsString) -> Option<JsValue> {
    own_data_descriptor(object, name).map(|(value, _)| value)
}

/// The value and writability of an own data property of an ordinary object; `None` for
/// anything else (missing, inherited, accessor, or an exotic object).
pub(super) fn own_data_descriptor(object: &JsObject, name: &JsString) -> Option<(JsValue, bool)> {
    if !object.is_ordinary() {
        return None;
    }
    let key = PropertyKey::from(name.clone());
    let descriptor = object.borrow().properties().get(&key)?;
    let value = descriptor.value()?.clone();
    Some((value, descriptor.writable().unwrap_or(false)))
}

/// True when a script's text may declare a global `let`, `const` or `class` binding: it
/// holds one of those words as a whole word (a conservative test: in a string or comment
/// it counts too).
pub(super) fn may_declare_global_lexicals(source: &str) -> bool {
    ["let", "const", "class"]
        .iter()
        .any(|word| super::mentions(source, word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_literals_and_paths() {
        assert_eq!(Simple::parse("null"), Some(Simple::Null));
        assert_eq!(Simple::parse(" true "), Some(Simple::Bool(true)));
        assert_eq!(Simple::parse("200"), Some(Simple::Integer(200)));
        assert_eq!(Simple::parse("0"), Some(Simple::Integer(0)));
        assert_eq!(Simple::parse("({})"), Some(Simple::EmptyObject));
        assert_eq!(Simple::parse("[]"), Some(Simple::EmptyArray));
        assert_eq!(
            Simple::parse("'QUEUED'"),
            Some(Simple::String(JsString::from("QUEUED")))
        );
        assert_eq!(
            Simple::parse("_event.data.agent"),
            Some(Simple::Path(vec![
                JsString::from("_event"),
                JsString::from("data"),
                JsString::from("agent")
            ]))
        );
        assert_eq!(
            Simple::parse("a.default"),
            Some(Simple::Path(vec![
                JsString::from("a"),
                JsString::from("default")
            ]))
        );
    }

    #[test]
    fn recognises_string_concatenations() {
        assert_eq!(
            Simple::parse("'#_scxml_' + service_id"),
            Some(Simple::Concat(vec![
                Simple::String(JsString::from("#_scxml_")),
                Simple::Path(vec![JsString::from("service_id")]),
            ]))
        );
        assert_eq!(
            Simple::parse("'a+b' + x.y + \"c\""),
            Some(Simple::Concat(vec![
                Simple::String(JsString::from("a+b")),
                Simple::Path(vec![JsString::from("x"), JsString::from("y")]),
                Simple::String(JsString::from("c")),
            ]))
        );
        // Only a chain that starts with a string is a concatenation throughout.
        for text in [
            "x + 'a'",
            "1 + 'a'",
            "'a' ++ b",
            "'a' + -b",
            "'a' +",
            "'a' + b()",
        ] {
            assert_eq!(Simple::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn leaves_everything_else_to_the_compiler() {
        for text in [
            "010",
            "1.5",
            "-1",
            "1e3",
            "99999999999",
            "'a\\'b'",
            "'a\"",
            "'a",
            "\"x'",
            "this",
            "typeof",
            "arguments",
            "a..b",
            "a.",
            ".a",
            "a[0]",
            "a()",
            "a + b",
            "é",
            "a .b",
            "'line\nbreak'",
            "x.1",
            "",
        ] {
            assert_eq!(Simple::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn finds_global_lexical_declarations() {
        assert!(may_declare_global_lexicals("let x = 1;"));
        assert!(may_declare_global_lexicals("x = 1; const y = 2"));
        assert!(may_declare_global_lexicals("class A {}"));
        assert!(!may_declare_global_lexicals(
            "var deleted = 1; delete o.letter; constant(); classes.push(1);"
        ));
    }
}
