//! `serde_json::Value` <-> `JsValue`, with depth limits so that no value can overflow the
//! native stack. JS -> JSON follows `JSON.stringify` closely: `undefined`, functions and
//! symbols are dropped from objects (and become `null` in arrays and at the top), NaN and the
//! infinities become `null`, `toJSON` methods are honoured (dates, the XML DOM), cycles are an
//! error. Integral numbers become JSON integers.

use boa_engine::builtins::object::OrdinaryObject;
use boa_engine::object::builtins::JsArray;
use boa_engine::object::ObjectInitializer;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    js_string, Context, JsNativeError, JsObject, JsResult, JsString, JsValue, JsVariant,
};
use serde_json::{Map, Number, Value};

/// How deeply nested a value may be in either direction.
pub(super) const MAX_DEPTH: usize = 128;

/// The largest array converted to JSON (a sparse `a[1e9] = 1` must not loop for ever).
const MAX_ARRAY_LEN: u64 = 10_000_000;

/// A new ordinary object whose prototype is `Object.prototype`, as `{}` makes it: with a
/// shared shape, so that objects given the same keys in the same order share one property
/// table (`JsObject::with_object_proto` gives each object a hash table of its own).
pub(super) fn plain_object(ctx: &mut Context) -> JsObject {
    ObjectInitializer::with_native_data(OrdinaryObject, ctx).build()
}

/// Gives a new object an enumerable, writable, configurable data property: what
/// CreateDataProperty does when the object has no property of that name yet, without looking
/// for one (an object built here gets each name once).
pub(super) fn add_data_property(obj: &JsObject, key: JsString, value: JsValue) {
    obj.insert_property(
        key,
        PropertyDescriptor::builder()
            .value(value)
            .writable(true)
            .enumerable(true)
            .configurable(true),
    );
}

/// JSON -> JS.
pub(super) fn json_to_js(value: &Value, ctx: &mut Context) -> JsResult<JsValue> {
    json_to_js_at(value, ctx, 0)
}

fn json_to_js_at(value: &Value, ctx: &mut Context, depth: usize) -> JsResult<JsValue> {
    if depth > MAX_DEPTH {
        return Err(JsNativeError::range()
            .with_message("value nested too deeply")
            .into());
    }
    Ok(match value {
        Value::Null => JsValue::null(),
        Value::Bool(b) => JsValue::new(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => JsValue::new(i as i32),
            _ => JsValue::new(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => JsValue::from(JsString::from(s.as_str())),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(json_to_js_at(item, ctx, depth + 1)?);
            }
            JsArray::from_iter(out, ctx).into()
        }
        Value::Object(map) => {
            let obj = plain_object(ctx);
            for (key, item) in map {
                let item = json_to_js_at(item, ctx, depth + 1)?;
                // A JSON object's names are unique (serde_json keeps the last of repeats).
                add_data_property(&obj, JsString::from(key.as_str()), item);
            }
            obj.into()
        }
    })
}

/// A JS number as JSON: integral values as integers, NaN and infinities as `null`.
pub(super) fn number_to_json(f: f64) -> Value {
    if !f.is_finite() {
        Value::Null
    } else if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// JS -> JSON. `keys` is `Object.keys`, looked up once per context.
pub(super) struct ToJson<'a> {
    keys: &'a JsObject,
    ancestors: Vec<JsObject>,
}

impl<'a> ToJson<'a> {
    pub(super) fn new(keys: &'a JsObject) -> ToJson<'a> {
        ToJson {
            keys,
            ancestors: Vec::new(),
        }
    }

    /// The JSON form of a value; `None` for what JSON has no form for (undefined, functions,
    /// symbols).
    pub(super) fn convert(
        &mut self,
        value: &JsValue,
        ctx: &mut Context,
    ) -> JsResult<Option<Value>> {
        Ok(Some(match value.variant() {
            JsVariant::Undefined | JsVariant::Symbol(_) => return Ok(None),
            JsVariant::Null => Value::Null,
            JsVariant::Boolean(b) => Value::Bool(b),
            JsVariant::String(s) => Value::String(s.to_std_string_escaped()),
            JsVariant::Integer32(i) => Value::from(i),
            JsVariant::Float64(f) => number_to_json(f),
            JsVariant::BigInt(b) => Value::String(b.to_string()),
            JsVariant::Object(obj) => {
                if obj.is_callable() {
                    return Ok(None);
                }
                let to_json = obj.get(js_string!("toJSON"), ctx)?;
                if let Some(f) = to_json.as_callable() {
                    let replaced = f.call(value, &[], ctx)?;
                    if !replaced.is_object() {
                        return self.convert(&replaced, ctx);
                    }
                    // An object from toJSON is serialised as is (no second toJSON).
                    let obj = replaced.as_object().expect("checked is_object");
                    return self.object(&obj, ctx).map(Some);
                }
                return self.object(&obj, ctx).map(Some);
            }
        }))
    }

    fn object(&mut self, obj: &JsObject, ctx: &mut Context) -> JsResult<Value> {
        if self.ancestors.len() >= MAX_DEPTH
            || self.ancestors.iter().any(|a| JsObject::equals(a, obj))
        {
            return Err(JsNativeError::typ()
                .with_message("cyclic or too deeply nested value cannot be converted to JSON")
                .into());
        }
        self.ancestors.push(obj.clone());
        let result = self.object_inner(obj, ctx);
        self.ancestors.pop();
        result
    }

    fn object_inner(&mut self, obj: &JsObject, ctx: &mut Context) -> JsResult<Value> {
        if obj.is_array() {
            let len = obj.get(js_string!("length"), ctx)?.to_length(ctx)?;
            if len > MAX_ARRAY_LEN {
                return Err(JsNativeError::range()
                    .with_message("array too long to convert to JSON")
                    .into());
            }
            let mut out = Vec::with_capacity(len.min(1024) as usize);
            for i in 0..len {
                let item = obj.get(i, ctx)?;
                out.push(self.convert(&item, ctx)?.unwrap_or(Value::Null));
            }
            return Ok(Value::Array(out));
        }
        let keys = self
            .keys
            .call(&JsValue::undefined(), &[obj.clone().into()], ctx)?;
        let keys = keys
            .as_object()
            .ok_or_else(|| JsNativeError::typ().with_message("Object.keys gave no array"))?;
        let keys = JsArray::from_object(keys)?;
        let len = keys.length(ctx)?;
        let mut map = Map::new();
        for i in 0..len {
            let key = keys.get(i, ctx)?;
            let Some(key) = key.as_string() else { continue };
            let item = obj.get(key.clone(), ctx)?;
            if let Some(item) = self.convert(&item, ctx)? {
                map.insert(key.to_std_string_escaped(), item);
            }
        }
        Ok(Value::Object(map))
    }
}

/// Collapses runs of whitespace into single spaces and trims (XML whitespace normalisation).
pub(super) fn normalize_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
