//! Skill expressions: the `?:English>=5 & Loans>2` part of a target string.
//!
//! URS lets a target name "every agent whose skills satisfy an expression" instead of a fixed
//! agent or group. This module parses such an expression with a small recursive-descent parser
//! (errors carry the character position, so a bad `_target` option can be pointed at) and
//! evaluates it against an agent's skill levels.
//!
//! Grammar (whitespace is ignored between tokens):
//!
//! ```text
//! or      := and ( ('|' | '||') and )*
//! and     := unary ( ('&' | '&&') unary )*
//! unary   := '!' unary | primary
//! primary := '(' or ')' | SKILL ( op NUMBER )?
//! op      := '=' | '==' | '!=' | '<' | '<=' | '>' | '>='
//! ```
//!
//! A bare `SKILL` means "has the skill at any level". An agent without a skill fails every
//! comparison on it, so `!(English=5)` also matches agents who lack English.
//!
//! The expression comes from a document or a request, so nothing in it may exhaust the stack:
//! chains of `&` and `|` parse into flat lists (a thousand terms are one level deep), and
//! parentheses and `!` may nest at most [`MAX_NESTING`] deep; deeper is a parse error at the
//! position where the limit was crossed.

use std::collections::BTreeMap;
use std::fmt;

/// How deep parentheses and `!` may nest in one expression. Real routing expressions nest two
/// or three deep; the bound keeps the parser, the evaluator and the drop of the tree (all
/// recursive) far from the end of any thread's stack.
pub(crate) const MAX_NESTING: usize = 64;

/// A comparison operator, shared by skill expressions and multi-target statistic checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=` or `==`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CompareOp {
    /// Parses `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn parse(text: &str) -> Option<CompareOp> {
        Some(match text.trim() {
            "=" | "==" => CompareOp::Eq,
            "!=" | "<>" => CompareOp::Ne,
            "<" => CompareOp::Lt,
            "<=" => CompareOp::Le,
            ">" => CompareOp::Gt,
            ">=" => CompareOp::Ge,
            _ => return None,
        })
    }

    /// The operator as written (`>=`, `!=`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// `left <op> right`.
    pub fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CompareOp::Eq => left == right,
            CompareOp::Ne => left != right,
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed skill expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SkillExpr {
    /// The agent has the skill (any level).
    Has(String),
    /// The agent has the skill and its level compares as stated.
    Compare {
        /// The skill name.
        skill: String,
        /// How the agent's level is compared.
        op: CompareOp,
        /// The level it is compared with.
        level: i64,
    },
    /// `!expr`: the agent does not satisfy the expression.
    Not(Box<SkillExpr>),
    /// `a & b & ...`: the agent satisfies every term (two or more).
    All(Vec<SkillExpr>),
    /// `a | b | ...`: the agent satisfies at least one term (two or more).
    Any(Vec<SkillExpr>),
}

impl SkillExpr {
    /// Parses an expression (without the leading `?:`).
    pub fn parse(text: &str) -> Result<SkillExpr, SkillError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            end: text.chars().count(),
            depth: 0,
        };
        let expr = parser.or()?;
        match parser.peek() {
            None => Ok(expr),
            Some((pos, tok)) => Err(SkillError::new(
                pos,
                format!("unexpected {} after a complete expression", tok.describe()),
            )),
        }
    }

    /// Whether an agent with these skill levels satisfies the expression.
    pub fn matches(&self, skills: &BTreeMap<String, i64>) -> bool {
        match self {
            SkillExpr::Has(skill) => skills.contains_key(skill),
            SkillExpr::Compare { skill, op, level } => skills
                .get(skill)
                .is_some_and(|have| op.holds(*have, *level)),
            SkillExpr::Not(inner) => !inner.matches(skills),
            SkillExpr::All(terms) => terms.iter().all(|term| term.matches(skills)),
            SkillExpr::Any(terms) => terms.iter().any(|term| term.matches(skills)),
        }
    }
}

impl fmt::Display for SkillExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkillExpr::Has(skill) => f.write_str(skill),
            SkillExpr::Compare { skill, op, level } => write!(f, "{skill}{op}{level}"),
            SkillExpr::Not(inner) => write!(f, "!({inner})"),
            SkillExpr::All(terms) => write_joined(f, terms, " & "),
            SkillExpr::Any(terms) => write_joined(f, terms, " | "),
        }
    }
}

/// Writes `(t1 SEP t2 SEP ...)`.
fn write_joined(f: &mut fmt::Formatter<'_>, terms: &[SkillExpr], separator: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write!(f, "{term}")?;
    }
    f.write_str(")")
}

/// A syntax error in a skill expression; `position` counts characters from the start of the
/// expression (0-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct SkillError {
    /// Where the error is, in characters from the start of the expression.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

impl SkillError {
    fn new(position: usize, message: impl Into<String>) -> SkillError {
        SkillError {
            position,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(i64),
    Op(CompareOp),
    And,
    Or,
    Not,
    Open,
    Close,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("skill name '{name}'"),
            Token::Number(n) => format!("number {n}"),
            Token::Op(op) => format!("operator '{op}'"),
            Token::And => "'&'".into(),
            Token::Or => "'|'".into(),
            Token::Not => "'!'".into(),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, SkillError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let next = chars.get(i + 1).copied();
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Token::Open
            }
            ')' => {
                i += 1;
                Token::Close
            }
            '&' => {
                i += if next == Some('&') { 2 } else { 1 };
                Token::And
            }
            '|' => {
                i += if next == Some('|') { 2 } else { 1 };
                Token::Or
            }
            '!' if next == Some('=') => {
                i += 2;
                Token::Op(CompareOp::Ne)
            }
            '!' => {
                i += 1;
                Token::Not
            }
            '=' => {
                i += if next == Some('=') { 2 } else { 1 };
                Token::Op(CompareOp::Eq)
            }
            '<' | '>' => {
                let with_eq = next == Some('=');
                i += if with_eq { 2 } else { 1 };
                Token::Op(match (c, with_eq) {
                    ('<', false) => CompareOp::Lt,
                    ('<', true) => CompareOp::Le,
                    ('>', false) => CompareOp::Gt,
                    _ => CompareOp::Ge,
                })
            }
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if i < chars.len() && is_ident_char(chars[i]) && chars[i] != '-' {
                    // A name starting with digits, e.g. `3D_Modelling`.
                    while i < chars.len() && is_ident_char(chars[i]) {
                        i += 1;
                    }
                    Token::Ident(chars[start..i].iter().collect())
                } else {
                    let digits: String = chars[start..i].iter().collect();
                    let n = digits.parse::<i64>().map_err(|_| {
                        SkillError::new(start, format!("number '{digits}' is out of range"))
                    })?;
                    Token::Number(n)
                }
            }
            c if is_ident_char(c) => {
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                Token::Ident(chars[start..i].iter().collect())
            }
            other => {
                return Err(SkillError::new(
                    start,
                    format!("unexpected character '{other}'"),
                ))
            }
        };
        tokens.push((start, token));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    /// Position reported for "unexpected end".
    end: usize,
    /// How many `(` and `!` enclose the token being parsed.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<(usize, &Token)> {
        self.tokens.get(self.at).map(|(p, t)| (*p, t))
    }

    fn next(&mut self) -> Option<(usize, Token)> {
        let item = self.tokens.get(self.at).cloned();
        if item.is_some() {
            self.at += 1;
        }
        item
    }

    fn or(&mut self) -> Result<SkillExpr, SkillError> {
        let mut terms = vec![self.and()?];
        while let Some((_, Token::Or)) = self.peek() {
            self.at += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            SkillExpr::Any(terms)
        })
    }

    fn and(&mut self) -> Result<SkillExpr, SkillError> {
        let mut terms = vec![self.unary()?];
        while let Some((_, Token::And)) = self.peek() {
            self.at += 1;
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            SkillExpr::All(terms)
        })
    }

    fn unary(&mut self) -> Result<SkillExpr, SkillError> {
        if let Some((at, Token::Not)) = self.peek() {
            self.at += 1;
            self.enter(at)?;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(SkillExpr::Not(Box::new(inner?)));
        }
        self.primary()
    }

    /// Counts one more enclosing `(` or `!` (at `position`), refusing past [`MAX_NESTING`].
    fn enter(&mut self, position: usize) -> Result<(), SkillError> {
        if self.depth == MAX_NESTING {
            return Err(SkillError::new(
                position,
                format!("parentheses and '!' nest more than {MAX_NESTING} deep"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn primary(&mut self) -> Result<SkillExpr, SkillError> {
        match self.next() {
            None => Err(SkillError::new(
                self.end,
                "expected a skill name or '(' but the expression ended",
            )),
            Some((open_at, Token::Open)) => {
                self.enter(open_at)?;
                let inner = self.or();
                self.depth -= 1;
                let inner = inner?;
                match self.next() {
                    Some((_, Token::Close)) => Ok(inner),
                    Some((pos, tok)) => Err(SkillError::new(
                        pos,
                        format!(
                            "expected ')' to close the '(' at position {open_at}, found {}",
                            tok.describe()
                        ),
                    )),
                    None => Err(SkillError::new(
                        self.end,
                        format!("missing ')' to close the '(' at position {open_at}"),
                    )),
                }
            }
            Some((_, Token::Ident(skill))) => {
                let Some((_, Token::Op(op))) = self.peek() else {
                    return Ok(SkillExpr::Has(skill));
                };
                let op = *op;
                self.at += 1;
                match self.next() {
                    Some((_, Token::Number(level))) => Ok(SkillExpr::Compare { skill, op, level }),
                    Some((pos, tok)) => Err(SkillError::new(
                        pos,
                        format!(
                            "expected a skill level after '{skill}{op}', found {}",
                            tok.describe()
                        ),
                    )),
                    None => Err(SkillError::new(
                        self.end,
                        format!("expected a skill level after '{skill}{op}'"),
                    )),
                }
            }
            Some((pos, tok)) => Err(SkillError::new(
                pos,
                format!("expected a skill name or '(', found {}", tok.describe()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skills(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn parses_and_evaluates_comparisons() {
        let e = SkillExpr::parse("English>=5 & Loans>2").unwrap();
        assert!(e.matches(&skills(&[("English", 5), ("Loans", 3)])));
        assert!(!e.matches(&skills(&[("English", 4), ("Loans", 3)])));
        assert!(!e.matches(&skills(&[("English", 9)])));
        for (text, level, expect) in [
            ("S=3", 3, true),
            ("S==3", 4, false),
            ("S!=3", 4, true),
            ("S<3", 2, true),
            ("S<=3", 3, true),
            ("S>3", 3, false),
            ("S>=3", 3, true),
        ] {
            let e = SkillExpr::parse(text).unwrap();
            assert_eq!(e.matches(&skills(&[("S", level)])), expect, "{text}");
        }
    }

    #[test]
    fn precedence_not_and_or_parentheses() {
        // & binds tighter than |.
        let e = SkillExpr::parse("A=1 | B=1 & C=1").unwrap();
        assert!(e.matches(&skills(&[("A", 1)])));
        assert!(!e.matches(&skills(&[("B", 1)])));
        let e = SkillExpr::parse("(A=1 | B=1) & C=1").unwrap();
        assert!(!e.matches(&skills(&[("A", 1)])));
        assert!(e.matches(&skills(&[("B", 1), ("C", 1)])));
        let e = SkillExpr::parse("!(English=5) && Spanish").unwrap();
        assert!(e.matches(&skills(&[("Spanish", 1)])));
        assert!(!e.matches(&skills(&[("Spanish", 1), ("English", 5)])));
        let e = SkillExpr::parse("!!A").unwrap();
        assert!(e.matches(&skills(&[("A", 0)])));
    }

    #[test]
    fn errors_carry_positions() {
        let err = SkillExpr::parse("English>=").unwrap_err();
        assert_eq!(err.position, 9);
        let err = SkillExpr::parse("English>=x").unwrap_err();
        assert_eq!(err.position, 9);
        assert!(err.message.contains("skill level"), "{err}");
        let err = SkillExpr::parse("(A=1 | B=2").unwrap_err();
        assert_eq!(err.position, 10);
        assert!(err.message.contains("missing ')'"), "{err}");
        let err = SkillExpr::parse("A=1 B=2").unwrap_err();
        assert_eq!(err.position, 4);
        let err = SkillExpr::parse("A=1 & # ").unwrap_err();
        assert_eq!(err.position, 6);
        assert!(err.message.contains("'#'"));
        let err = SkillExpr::parse("").unwrap_err();
        assert_eq!(err.position, 0);
        let err = SkillExpr::parse("A=1 & ").unwrap_err();
        assert_eq!(err.position, 6);
        let err = SkillExpr::parse(">=3").unwrap_err();
        assert_eq!(err.position, 0);
        assert_eq!(
            err.to_string(),
            "at position 0: expected a skill name or '(', found operator '>='"
        );
    }

    #[test]
    fn nesting_is_bounded_and_long_chains_stay_flat() {
        // The input the fuzzer found: thousands of '(' overflowed the parser's stack.
        let err = SkillExpr::parse(&"(".repeat(5000)).unwrap_err();
        assert_eq!(err.position, MAX_NESTING);
        assert!(err.message.contains("nest more than 64 deep"), "{err}");
        let err = SkillExpr::parse(&"!".repeat(5000)).unwrap_err();
        assert_eq!(err.position, MAX_NESTING);
        // At the limit it still parses.
        let deep = format!("{}A{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(SkillExpr::parse(&deep)
            .unwrap()
            .matches(&skills(&[("A", 1)])));
        // A hundred thousand terms are one flat list, evaluated and dropped without recursion.
        let chain = vec!["A=1"; 100_000].join(" & ");
        let e = SkillExpr::parse(&chain).unwrap();
        assert!(matches!(&e, SkillExpr::All(terms) if terms.len() == 100_000));
        assert!(e.matches(&skills(&[("A", 1)])));
        let e = SkillExpr::parse("A | B & C | D").unwrap();
        assert_eq!(e.to_string(), "(A | (B & C) | D)");
    }
}
