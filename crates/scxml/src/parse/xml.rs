//! A small XML tree with source positions, read with quick-xml.
//!
//! The builder needs three things quick-xml's pull events do not give directly: the
//! `line:column` of every element and attribute (quick-xml reports byte offsets), the
//! namespace each element is in, and the raw source of an element's children (inline
//! `<content>` and `<data>` markup is kept as text). Reading the whole document into this tree
//! first keeps the builder a plain recursive walk.

use crate::model::Pos;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::HashMap;
use std::ops::Range;

/// The SCXML namespace.
pub(crate) const SCXML_NS: &str = "http://www.w3.org/2005/07/scxml";

/// How deeply elements may nest (the root counts as one). The tree, the builder and the
/// algorithm's entry procedures recurse along the nesting, so a document nested without bound
/// would overflow the stack of whatever thread loads or runs it. At this depth an unoptimised
/// build still fits in a 2 MiB thread stack several times over; no real chart comes near it.
pub(crate) const MAX_NESTING: usize = 256;

/// Converts byte offsets of one text into 1-based `line:column` positions (columns counted in
/// characters).
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> LineIndex<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, line_starts }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Pos {
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }
}

/// One attribute, its value unescaped.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    /// The qualified name as written (`id`, `xmlns:conf`, `conf:foo`).
    pub name: String,
    pub value: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    /// Character data (text, CDATA and resolved references), merged when adjacent.
    Text(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Element {
    /// The local name (`state`, `book`).
    pub name: String,
    /// The namespace URI the element is in (`None`: no namespace).
    pub namespace: Option<String>,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    pub pos: Pos,
    /// The byte range of the element's content in the source (between its tags).
    pub inner: Range<usize>,
    /// The byte range of the whole element, tags included.
    pub outer: Range<usize>,
}

impl Element {
    /// The value of an unprefixed attribute.
    pub(crate) fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// Child elements, in order.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The concatenated character data of the direct children.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    pub(crate) fn has_element_children(&self) -> bool {
        self.elements().next().is_some()
    }

    /// True when the element has children other than whitespace.
    pub(crate) fn has_content(&self) -> bool {
        self.children.iter().any(|n| match n {
            Node::Element(_) => true,
            Node::Text(t) => !t.trim().is_empty(),
        })
    }
}

/// Malformed XML: the one error a document can have that stops the reading.
#[derive(Debug, Clone)]
pub(crate) struct XmlError {
    pub pos: Pos,
    pub message: String,
}

/// An element being read: its start and the prefix bindings it declares.
struct Open {
    element: Element,
    /// `(prefix, previous binding)` to restore when the element closes.
    scope_saved: Vec<(String, Option<String>)>,
}

/// Reads a whole document into its root element.
pub(crate) fn read_document(text: &str) -> Result<Element, XmlError> {
    let lines = LineIndex::new(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().expand_empty_elements = false;
    // prefix ("" = default namespace) -> URI
    let mut scope: HashMap<String, String> = HashMap::new();
    scope.insert("xml".into(), "http://www.w3.org/XML/1998/namespace".into());
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Element> = None;
    let error_at = |offset: usize, message: String| XmlError {
        pos: lines.pos(offset),
        message,
    };
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let at = reader.error_position() as usize;
            error_at(at, format!("malformed XML: {e}"))
        })?;
        let end = reader.buffer_position() as usize;
        match event {
            Event::Start(tag) | Event::Empty(tag) => {
                let empty = end > 1 && text.as_bytes().get(end - 2) == Some(&b'/');
                if root.is_some() && stack.is_empty() {
                    return Err(error_at(start, "content after the root element".into()));
                }
                let (element, scope_saved) =
                    open_element(&tag, text, start, end, &lines, &mut scope)
                        .map_err(|m| error_at(start, m))?;
                let open = Open {
                    element,
                    scope_saved,
                };
                if empty {
                    close(open, &mut stack, &mut root, &mut scope);
                } else if stack.len() >= MAX_NESTING {
                    return Err(error_at(
                        start,
                        format!("elements nest deeper than {MAX_NESTING} levels"),
                    ));
                } else {
                    stack.push(open);
                }
            }
            Event::End(_) => {
                let Some(mut open) = stack.pop() else {
                    return Err(error_at(start, "end tag without a start tag".into()));
                };
                open.element.inner.end = start;
                open.element.outer.end = end;
                close(open, &mut stack, &mut root, &mut scope);
            }
            Event::Text(t) => {
                let decoded = t
                    .decode()
                    .map_err(|e| error_at(start, format!("bad text: {e}")))?;
                push_text(&mut stack, &decoded, || {
                    error_at(start, "text outside the root element".into())
                })?;
            }
            Event::CData(t) => {
                let decoded = t
                    .decode()
                    .map_err(|e| error_at(start, format!("bad CDATA: {e}")))?;
                push_text(&mut stack, &decoded, || {
                    error_at(start, "CDATA outside the root element".into())
                })?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r
                            .decode()
                            .map_err(|e| error_at(start, format!("bad reference: {e}")))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_string(),
                            None => {
                                return Err(error_at(start, format!("unknown entity `&{name};`")))
                            }
                        }
                    }
                    Err(e) => return Err(error_at(start, format!("bad character reference: {e}"))),
                };
                push_text(&mut stack, &resolved, || {
                    error_at(start, "reference outside the root element".into())
                })?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError {
            pos: open.element.pos,
            message: format!("<{}> is never closed", open.element.name),
        });
    }
    root.ok_or_else(|| error_at(text.len(), "the document has no root element".into()))
}

/// Adds character data to the innermost open element; whitespace outside the root is fine.
fn push_text(
    stack: &mut [Open],
    text: &str,
    outside: impl FnOnce() -> XmlError,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(open) => {
            match open.element.children.last_mut() {
                Some(Node::Text(t)) => t.push_str(text),
                _ => open.element.children.push(Node::Text(text.to_string())),
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(outside()),
    }
}

/// Ends an element: restores the namespace scope and attaches it to its parent.
fn close(
    open: Open,
    stack: &mut [Open],
    root: &mut Option<Element>,
    scope: &mut HashMap<String, String>,
) {
    for (prefix, previous) in open.scope_saved.into_iter().rev() {
        match previous {
            Some(uri) => scope.insert(prefix, uri),
            None => scope.remove(&prefix),
        };
    }
    match stack.last_mut() {
        Some(parent) => parent.element.children.push(Node::Element(open.element)),
        None => *root = Some(open.element),
    }
}

/// Byte offset of `part` within `text`, when it is a slice of it.
fn offset_in(text: &str, part: &[u8]) -> Option<usize> {
    let base = text.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    (p >= base && p + part.len() <= base + text.len()).then(|| p - base)
}

type Opened = (Element, Vec<(String, Option<String>)>);

fn open_element(
    tag: &BytesStart<'_>,
    text: &str,
    start: usize,
    end: usize,
    lines: &LineIndex<'_>,
    scope: &mut HashMap<String, String>,
) -> Result<Opened, String> {
    let qname = std::str::from_utf8(tag.name().as_ref())
        .map_err(|_| "element name is not UTF-8".to_string())?
        .to_string();
    let mut attrs = Vec::new();
    for attr in tag.attributes().with_checks(true) {
        let attr = attr.map_err(|e| format!("malformed attribute: {e}"))?;
        let name = std::str::from_utf8(attr.key.as_ref())
            .map_err(|_| "attribute name is not UTF-8".to_string())?
            .to_string();
        let value = attr
            .unescape_value()
            .map_err(|e| format!("attribute `{name}`: {e}"))?
            .into_owned();
        let pos =
            offset_in(text, attr.key.as_ref()).map_or_else(|| lines.pos(start), |o| lines.pos(o));
        attrs.push(Attr { name, value, pos });
    }
    let mut scope_saved = Vec::new();
    for a in &attrs {
        let prefix = if a.name == "xmlns" {
            Some(String::new())
        } else {
            a.name.strip_prefix("xmlns:").map(str::to_string)
        };
        if let Some(prefix) = prefix {
            let previous = if a.value.is_empty() && prefix.is_empty() {
                scope.remove("")
            } else {
                scope.insert(prefix.clone(), a.value.clone())
            };
            scope_saved.push((prefix, previous));
        }
    }
    let (prefix, local) = match qname.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", qname.as_str()),
    };
    let namespace = match scope.get(prefix) {
        Some(uri) => Some(uri.clone()),
        None if prefix.is_empty() => None,
        None => {
            return Err(format!(
                "the prefix `{prefix}` of <{qname}> is not declared"
            ))
        }
    };
    let element = Element {
        name: local.to_string(),
        namespace,
        attrs,
        children: Vec::new(),
        pos: lines.pos(start),
        inner: end..end,
        outer: start..end,
    };
    Ok((element, scope_saved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_lines_and_character_columns() {
        let idx = LineIndex::new("ab\ncdé\nf");
        assert_eq!(idx.pos(0), Pos { line: 1, column: 1 });
        assert_eq!(idx.pos(3), Pos { line: 2, column: 1 });
        assert_eq!(idx.pos(7), Pos { line: 2, column: 4 });
        assert_eq!(idx.pos(8), Pos { line: 3, column: 1 });
    }

    #[test]
    fn reads_elements_attributes_namespaces_and_text() {
        let doc = "<?xml version=\"1.0\"?>\n<scxml xmlns=\"http://www.w3.org/2005/07/scxml\">\n  <data id=\"d\">a &amp; <![CDATA[<b>]]>&#65;</data><x:y xmlns:x=\"urn:x\"/>\n</scxml>";
        let root = read_document(doc).unwrap();
        assert_eq!(root.name, "scxml");
        assert_eq!(root.namespace.as_deref(), Some(SCXML_NS));
        assert_eq!(root.pos, Pos { line: 2, column: 1 });
        let kids: Vec<_> = root.elements().collect();
        assert_eq!(kids[0].text(), "a & <b>A");
        assert_eq!(kids[0].attr("id").unwrap().pos, Pos { line: 3, column: 9 });
        assert_eq!(kids[1].name, "y");
        assert_eq!(kids[1].namespace.as_deref(), Some("urn:x"));
        assert_eq!(&doc[kids[0].inner.clone()], "a &amp; <![CDATA[<b>]]>&#65;");
    }

    #[test]
    fn malformed_xml_is_reported_with_a_position() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "",
            "<a/><b/>",
            "<a x='1' x='2'/>",
            "<p:a/>",
            "<a>&nope;</a>",
        ] {
            let err = read_document(bad).unwrap_err();
            assert!(err.pos.line >= 1, "{bad}: {err:?}");
        }
    }
}
