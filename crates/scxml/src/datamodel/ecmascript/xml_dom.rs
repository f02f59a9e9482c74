//! XML values of the ECMAScript datamodel (SCXML B.2.2): markup in `<data>`, `<assign>` and
//! event data becomes a small DOM (`getElementsByTagName`, `getAttribute`, `childNodes`,
//! `textContent`, ...). quick-xml parses the markup into a JSON tree here; a JS builder
//! compiled once per context ([`DOM_BUILDER`]) turns the tree into node objects that share one
//! prototype. Every node has `toJSON`/`toString` giving its markup, so a DOM sent in an event
//! travels as its XML text and becomes a DOM again on the other side.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{json, Value};

/// How deeply elements may nest (the builder recurses in JS, under the recursion limit).
const MAX_XML_DEPTH: usize = 100;

/// True when the text could be markup: it starts with `<` and ends with `>`.
pub(super) fn looks_like_xml(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('<') && t.ends_with('>')
}

/// Parses one well-formed XML element (with optional prolog, comments and processing
/// instructions around it) into the tree the builder takes: an element is
/// `{"e": name, "a": [[name, value], ...], "c": [children]}`, a text node a string.
/// `None` when the text is not exactly one well-formed element.
pub(super) fn parse(text: &str) -> Option<Value> {
    if !looks_like_xml(text) {
        return None;
    }
    let mut reader = Reader::from_str(text.trim());
    reader.config_mut().check_end_names = true;
    // (name, attributes, children) of the open elements.
    let mut stack: Vec<(String, Vec<Value>, Vec<Value>)> = Vec::new();
    let mut root: Option<Value> = None;

    fn element(name: String, attrs: Vec<Value>, children: Vec<Value>) -> Value {
        json!({ "e": name, "a": attrs, "c": children })
    }
    fn add(
        stack: &mut [(String, Vec<Value>, Vec<Value>)],
        root: &mut Option<Value>,
        node: Value,
    ) -> Option<()> {
        match stack.last_mut() {
            Some((_, _, children)) => children.push(node),
            None if root.is_none() => *root = Some(node),
            None => return None,
        }
        Some(())
    }
    fn add_text(stack: &mut [(String, Vec<Value>, Vec<Value>)], text: &str) -> Option<()> {
        match stack.last_mut() {
            Some((_, _, children)) => {
                if let Some(Value::String(last)) = children.last_mut() {
                    last.push_str(text);
                } else if !text.is_empty() {
                    children.push(Value::String(text.to_string()));
                }
                Some(())
            }
            // Only whitespace may stand outside the root element.
            None if text.trim().is_empty() => Some(()),
            None => None,
        }
    }
    fn start(e: &quick_xml::events::BytesStart<'_>) -> Option<(String, Vec<Value>)> {
        let name = std::str::from_utf8(e.name().as_ref()).ok()?.to_string();
        let mut attrs = Vec::new();
        for attr in e.attributes() {
            let attr = attr.ok()?;
            let key = std::str::from_utf8(attr.key.as_ref()).ok()?.to_string();
            let value = attr.unescape_value().ok()?.into_owned();
            attrs.push(json!([key, value]));
        }
        Some((name, attrs))
    }

    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if root.is_some() || stack.len() >= MAX_XML_DEPTH {
                    return None;
                }
                let (name, attrs) = start(&e)?;
                stack.push((name, attrs, Vec::new()));
            }
            Event::Empty(e) => {
                if root.is_some() && stack.is_empty() {
                    return None;
                }
                let (name, attrs) = start(&e)?;
                add(&mut stack, &mut root, element(name, attrs, Vec::new()))?;
            }
            Event::End(_) => {
                let (name, attrs, children) = stack.pop()?;
                add(&mut stack, &mut root, element(name, attrs, children))?;
            }
            Event::Text(t) => {
                let text = t.xml_content().ok()?;
                add_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t.decode().ok()?;
                if stack.is_empty() {
                    return None;
                }
                add_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r.decode().ok()?)?.to_string(),
                };
                if stack.is_empty() {
                    return None;
                }
                add_text(&mut stack, &text)?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

/// Evaluates to a function `(tree) -> document node`; the function's `proto` property is the
/// prototype every node shares (how export recognises a DOM).
pub(super) const DOM_BUILDER: &str = r#"(function () {
  'use strict';
  function esc(s, attr) {
    s = String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    return attr ? s.replace(/"/g, '&quot;') : s;
  }
  function serialize(n) {
    var i, out;
    if (n.nodeType === 3) return esc(n.nodeValue, false);
    if (n.nodeType === 9) {
      out = '';
      for (i = 0; i < n.childNodes.length; i++) out += serialize(n.childNodes[i]);
      return out;
    }
    out = '<' + n.nodeName;
    for (i = 0; i < n.attributes.length; i++) {
      out += ' ' + n.attributes[i].name + '="' + esc(n.attributes[i].value, true) + '"';
    }
    if (n.childNodes.length === 0) return out + '/>';
    out += '>';
    for (i = 0; i < n.childNodes.length; i++) out += serialize(n.childNodes[i]);
    return out + '</' + n.nodeName + '>';
  }
  function text(n) {
    if (n.nodeType === 3) return n.nodeValue;
    var s = '';
    for (var i = 0; i < n.childNodes.length; i++) s += text(n.childNodes[i]);
    return s;
  }
  function walk(n, name, out) {
    for (var i = 0; i < n.childNodes.length; i++) {
      var c = n.childNodes[i];
      if (c.nodeType === 1) {
        if (name === '*' || c.nodeName === name || c.localName === name) out.push(c);
        walk(c, name, out);
      }
    }
    return out;
  }
  var proto = {
    getElementsByTagName: function (name) { return walk(this, String(name), []); },
    getAttribute: function (name) {
      var a = this.attributes;
      if (!a) return null;
      for (var i = 0; i < a.length; i++) if (a[i].name === name) return a[i].value;
      return null;
    },
    hasAttribute: function (name) { return this.getAttribute(name) !== null; },
    hasChildNodes: function () { return this.childNodes.length > 0; },
    toString: function () { return serialize(this); },
    toJSON: function () { return serialize(this); }
  };
  Object.defineProperty(proto, 'textContent', { get: function () { return text(this); } });
  Object.defineProperty(proto, 'firstChild', { get: function () { return this.childNodes[0] || null; } });
  Object.defineProperty(proto, 'lastChild', {
    get: function () { return this.childNodes[this.childNodes.length - 1] || null; }
  });
  Object.defineProperty(proto, 'children', {
    get: function () { return this.childNodes.filter(function (c) { return c.nodeType === 1; }); }
  });
  function node(type, name, parent) {
    var n = Object.create(proto);
    n.nodeType = type;
    n.nodeName = name;
    Object.defineProperty(n, 'parentNode', { value: parent, writable: true });
    return n;
  }
  function build(t, parent) {
    var n;
    if (typeof t === 'string') {
      n = node(3, '#text', parent);
      n.nodeValue = t;
      n.data = t;
      n.childNodes = [];
      return n;
    }
    n = node(1, t.e, parent);
    var colon = t.e.indexOf(':');
    n.tagName = t.e;
    n.localName = colon < 0 ? t.e : t.e.slice(colon + 1);
    n.prefix = colon < 0 ? null : t.e.slice(0, colon);
    n.nodeValue = null;
    n.attributes = t.a.map(function (p) { return { name: p[0], value: p[1] }; });
    n.childNodes = t.c.map(function (c) { return build(c, n); });
    return n;
  }
  var make = function (tree) {
    var d = node(9, '#document', null);
    d.nodeValue = null;
    var root = build(tree, d);
    d.childNodes = [root];
    d.documentElement = root;
    return d;
  };
  make.proto = proto;
  return make;
})()"#;
