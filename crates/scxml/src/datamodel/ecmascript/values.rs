//! Values crossing the trait: JSON in and out, inline XML as a DOM, and `_event`.

use super::*;

impl EcmaScriptDatamodel {
    pub(super) fn value_to_json(&mut self, value: &JsValue) -> DmResult<Value> {
        let keys = self.helpers.keys.clone();
        let result = ToJson::new(&keys).convert(value, &mut self.ctx);
        match result {
            Ok(v) => Ok(v.unwrap_or(Value::Null)),
            Err(e) => Err(self.js_error(e)),
        }
    }

    pub(super) fn json_to_value(&mut self, value: &Value) -> DmResult<JsValue> {
        json_to_js(value, &mut self.ctx).map_err(|e| self.js_error(e))
    }

    /// A DOM document for markup, `None` when it is not well-formed XML.
    pub(super) fn xml_value(&mut self, text: &str) -> DmResult<Option<JsValue>> {
        let Some(tree) = xml_dom::parse(text) else {
            return Ok(None);
        };
        let tree = self.json_to_value(&tree)?;
        let dom = match &self.helpers.dom {
            Some((dom, _)) => dom.clone(),
            None => {
                self.ran_code = true;
                let dom = helper(xml_dom::DOM_BUILDER, &mut self.ctx);
                let proto = dom
                    .get(js_string!("proto"), &mut self.ctx)
                    .ok()
                    .and_then(|v| v.as_object())
                    .expect("the DOM builder has a prototype");
                self.helpers.dom = Some((dom.clone(), proto));
                dom
            }
        };
        let result = dom.call(&JsValue::undefined(), &[tree], &mut self.ctx);
        result.map(Some).map_err(|e| self.js_error(e))
    }

    /// Inline text of `<data>`/`<assign>`: JSON, else XML as a DOM, else a space-normalised
    /// string.
    pub(super) fn inline_value(&mut self, text: &str) -> DmResult<JsValue> {
        if let Ok(json) = serde_json::from_str::<Value>(text) {
            return self.json_to_value(&json);
        }
        if xml_dom::looks_like_xml(text) {
            if let Some(dom) = self.xml_value(text)? {
                return Ok(dom);
            }
        }
        Ok(JsValue::from(JsString::from(
            normalize_space(text).as_str(),
        )))
    }

    /// `_event` as a JS object.
    pub(super) fn event_object(&mut self, event: &Event) -> JsResult<JsValue> {
        fn opt(s: &Option<String>) -> JsValue {
            match s {
                Some(s) => JsValue::from(JsString::from(s.as_str())),
                None => JsValue::undefined(),
            }
        }
        let data = match &event.data {
            None => JsValue::undefined(),
            Some(Value::String(s)) if xml_dom::looks_like_xml(s) => match self.xml_value(s) {
                Ok(Some(dom)) => dom,
                _ => JsValue::from(JsString::from(s.as_str())),
            },
            Some(v) => json_to_js(v, &mut self.ctx)?,
        };
        let ctx = &mut self.ctx;
        let obj = convert::plain_object(ctx);
        let fields = [
            (
                js_string!("name"),
                JsString::from(event.name.as_str()).into(),
            ),
            (
                js_string!("type"),
                JsString::from(event.kind.as_str()).into(),
            ),
            (js_string!("sendid"), opt(&event.sendid)),
            (js_string!("origin"), opt(&event.origin)),
            (js_string!("origintype"), opt(&event.origintype)),
            (js_string!("invokeid"), opt(&event.invokeid)),
            (js_string!("data"), data),
            (js_string!("raw"), opt(&event.raw)),
        ];
        for (key, value) in fields {
            convert::add_data_property(&obj, key, value);
        }
        Ok(obj.into())
    }
}
