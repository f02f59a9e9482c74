//! What the datamodel reads off source text before (or instead of) compiling it: expression
//! text, the root of a location, identifiers, nesting too deep for boa's recursive parser,
//! whether a script may queue jobs, and error messages cleaned of boa's noise.

use super::*;

/// The text of an expression as it is compiled: a trailing `;` is tolerated (`expr="new
/// f();"`), and an empty expression is `undefined` (`<log expr=""/>`).
pub(super) fn expression_text(source: &str) -> &str {
    let text = source
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    if text.is_empty() {
        "undefined"
    } else {
        text
    }
}

/// The identifier a location starts with (`a` of `a.b[0]`), when it is a user variable that
/// the fused assignment may write: not a system variable, and followed only by member
/// accesses.
pub(super) fn location_root(location: &str) -> Option<&str> {
    let location = location.trim();
    let end = location
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .map_or(location.len(), |(i, _)| i);
    let (root, rest) = location.split_at(end);
    let rest = rest.trim_start();
    let member = rest.is_empty() || rest.starts_with('.') || rest.starts_with('[');
    (is_identifier(root) && member && !SYSTEM_VARIABLES.contains(&root)).then_some(root)
}

/// True for an ECMAScript identifier (reserved words are caught when the setter compiles).
pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// True when a source nests so deeply that parsing or compiling it could overflow the native
/// stack. A heuristic, not a parser: it skips string literals, and counts bracket depth,
/// operators per statement or line, and `else` branches.
pub(super) fn too_deep(source: &str) -> bool {
    let bytes = source.as_bytes();
    let (mut depth, mut chain, mut elses) = (0usize, 0usize, 0usize);
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == b'\\' {
                i += 1;
            } else if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'(' | b'[' | b'{' => {
                depth += 1;
                chain += 1;
                if depth > MAX_NESTING {
                    return true;
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b';' | b'\n' => chain = 0,
            b'?' | b'=' | b'!' | b'~' | b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'&'
            | b'|' | b'^' => chain += 1,
            b'e' if bytes[i..].starts_with(b"else") => elses += 1,
            _ => {}
        }
        if chain > MAX_CHAIN || elses > MAX_ELSE {
            return true;
        }
        i += 1;
    }
    false
}

/// True when a source may create promises or other jobs that outlive the code that queued
/// them (a conservative textual test).
pub(super) fn may_queue_jobs(source: &str) -> bool {
    [
        "Promise",
        "async",
        "await",
        "FinalizationRegistry",
        "WeakRef",
    ]
    .iter()
    .any(|word| source.contains(word))
}

/// True when `source` holds the identifier `name` as a whole word (in a string or comment it
/// counts too).
pub(super) fn mentions(source: &str, name: &str) -> bool {
    let bytes = source.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    source.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + name.len()).copied();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The first line of an engine message, without boa's position suffix (`(native)`,
/// `(unknown at :1:5)`) or backtrace.
pub(super) fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim_end();
    if let Some(open) = first.rfind(" (") {
        let suffix = &first[open + 2..];
        if suffix == "native)" || suffix.starts_with("unknown at ") {
            return first[..open].to_string();
        }
    }
    first.to_string()
}

pub(super) fn dm_error(message: impl Into<String>) -> DatamodelError {
    DatamodelError::new(message)
}
