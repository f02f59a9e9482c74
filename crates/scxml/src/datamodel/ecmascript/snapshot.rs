//! Export and import for snapshots: values as JSON, functions as their source (those of the
//! top-level scripts, unchanged, by name: a restore runs the scripts again).

use super::*;

impl EcmaScriptDatamodel {
    /// The source text of a function variable, for export. A function's text never changes,
    /// so it is remembered per variable with the function object it came from: exporting
    /// after every macrostep does not stringify the document's functions again and again.
    pub(super) fn function_source(&mut self, name: &str, function: &JsObject) -> DmResult<String> {
        if let Some((known, source)) = self.function_sources.get(name) {
            if JsObject::equals(known, function) {
                return Ok(source.clone());
            }
        }
        let f = self.helpers.fn_to_string.clone();
        let source = f
            .call(&function.clone().into(), &[], &mut self.ctx)
            .and_then(|s| s.to_string(&mut self.ctx))
            .map_err(|e| self.js_error(e))?
            .to_std_string_escaped();
        if source.contains("[native code]") {
            return Err(dm_error(format!(
                "{name} is a native function and cannot be exported"
            )));
        }
        self.function_sources
            .insert(name.to_string(), (function.clone(), source.clone()));
        Ok(source)
    }

    /// One exported variable: JSON, or a marker object for what JSON cannot hold.
    pub(super) fn export_value(&mut self, name: &str, value: &JsValue) -> DmResult<Option<Value>> {
        let marker = |key: &str, v: Value| {
            let mut m = Map::new();
            m.insert(key.to_string(), v);
            Value::Object(m)
        };
        if value.is_undefined() {
            return Ok(Some(marker(UNDEFINED_KEY, Value::Bool(true))));
        }
        if let Some(obj) = value.as_object() {
            let declared = self.baseline.as_ref().and_then(|b| b.functions.get(name));
            if declared.is_some_and(|f| JsObject::equals(f, &obj)) {
                return Ok(Some(marker(SCRIPT_KEY, Value::Bool(true))));
            }
            if obj.is_callable() {
                let source = self.function_source(name, &obj)?;
                return Ok(Some(marker(FUNCTION_KEY, Value::String(source))));
            }
            let is_dom = match (&self.helpers.dom, obj.prototype()) {
                (Some((_, dom_proto)), Some(p)) => JsObject::equals(&p, dom_proto),
                _ => false,
            };
            if is_dom {
                let xml = self.value_to_json(value)?;
                return Ok(Some(marker(XML_KEY, xml)));
            }
        }
        let json = self.value_to_json(value)?;
        // User objects that look like markers are wrapped so they come back as they were.
        if let Value::Object(m) = &json {
            if m.len() == 1
                && [FUNCTION_KEY, XML_KEY, UNDEFINED_KEY, VALUE_KEY, SCRIPT_KEY]
                    .iter()
                    .any(|k| m.contains_key(*k))
            {
                return Ok(Some(marker(VALUE_KEY, json)));
            }
        }
        Ok(Some(json))
    }

    /// Runs the document's top-level scripts, to restore a snapshot that names their
    /// functions (see [`SCRIPT_KEY`]); the context may then be kept warm like one that
    /// started its session.
    pub(super) fn run_global_scripts(&mut self) -> DmResult<()> {
        let doc = self.doc.clone();
        for executable in &doc.scripts {
            if let Executable::Script(script) = executable {
                self.run(script, Kind::Script, &[])?;
                self.global_scripts_run += 1;
            }
        }
        if self.global_scripts_run == doc.scripts.len() {
            self.baseline = self.take_baseline().map(Rc::new);
        }
        Ok(())
    }

    /// True when `exported` is the function marker of the function the global `name` holds.
    pub(super) fn is_current_function(&mut self, name: &str, exported: &Value) -> DmResult<bool> {
        let Some(Value::String(source)) = exported.get(FUNCTION_KEY) else {
            return Ok(false);
        };
        let global = self.ctx.global_object();
        let current = global
            .get(JsString::from(name), &mut self.ctx)
            .map_err(|e| self.js_error(e))?;
        match current.as_object() {
            Some(f) if f.is_callable() => Ok(self.function_source(name, &f)? == *source),
            _ => Ok(false),
        }
    }

    pub(super) fn import_value(&mut self, value: &Value) -> DmResult<JsValue> {
        if let Value::Object(m) = value {
            if m.len() == 1 {
                let (key, inner) = m.iter().next().expect("one entry");
                match (key.as_str(), inner) {
                    (FUNCTION_KEY, Value::String(source)) => {
                        if too_deep(source) {
                            return Err(dm_error("function nested too deeply"));
                        }
                        let text = format!("({source}\n)");
                        self.ran_code = true;
                        let result = self.ctx.eval(Source::from_bytes(&text));
                        return result.map_err(|e| self.js_error(e));
                    }
                    (XML_KEY, Value::String(xml)) => {
                        return match self.xml_value(xml)? {
                            Some(dom) => Ok(dom),
                            None => Err(dm_error("exported XML does not parse")),
                        };
                    }
                    (UNDEFINED_KEY, _) => return Ok(JsValue::undefined()),
                    (VALUE_KEY, inner) => return self.json_to_value(inner),
                    _ => {}
                }
            }
        }
        self.json_to_value(value)
    }
}
