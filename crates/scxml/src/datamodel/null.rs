//! The null datamodel (SCXML B.1): no variables, and the only condition is `In('stateid')`.

use super::{Datamodel, DatamodelError, DmResult, EvalContext, SystemVariables};
use crate::interpreter::Event;
use crate::model::{AssignValue, Content, Data, Expr};
use serde_json::Value;

/// The null datamodel: it holds nothing; conditions may only be `In('id')`, and every other
/// evaluation (expressions, assignments, scripts) is an error, which the interpreter reports
/// as `error.execution`.
#[derive(Debug, Default)]
pub struct NullDatamodel;

impl NullDatamodel {
    /// The null datamodel (it has no state: this is the same as `NullDatamodel`).
    pub fn new() -> NullDatamodel {
        NullDatamodel
    }
}

fn unsupported(what: &str) -> DatamodelError {
    DatamodelError::new(format!("the null datamodel has no {what}"))
}

/// Parses `In('id')` / `In("id")` with optional surrounding whitespace.
fn parse_in(source: &str) -> Option<&str> {
    let inner = source
        .trim()
        .strip_prefix("In")?
        .trim_start()
        .strip_prefix('(')?
        .trim_end()
        .strip_suffix(')')?
        .trim();
    let unquoted = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))?;
    Some(unquoted)
}

impl Datamodel for NullDatamodel {
    fn init_system(&mut self, _sys: &SystemVariables) -> DmResult<()> {
        Ok(())
    }
    fn declare(&mut self, _id: &str) -> DmResult<()> {
        Ok(())
    }
    fn init_data(&mut self, _data: &Data, _cx: EvalContext<'_>) -> DmResult<()> {
        Err(unsupported("<data>"))
    }
    fn set_value(&mut self, _id: &str, _value: &Value) -> DmResult<()> {
        Ok(())
    }
    fn set_event(&mut self, _event: &Event) -> DmResult<()> {
        Ok(())
    }
    fn eval_cond(&mut self, expr: &Expr, cx: EvalContext<'_>) -> DmResult<bool> {
        match parse_in(&expr.source) {
            Some(id) => Ok(cx.in_state(id)),
            None => Err(DatamodelError::new(format!(
                "the null datamodel only understands In('state'), not `{}`",
                expr.source
            ))),
        }
    }
    fn eval_value(&mut self, _expr: &Expr, _cx: EvalContext<'_>) -> DmResult<Value> {
        Err(unsupported("expressions"))
    }
    fn eval_string(&mut self, _expr: &Expr, _cx: EvalContext<'_>) -> DmResult<String> {
        Err(unsupported("expressions"))
    }
    fn assign(&mut self, _l: &Expr, _v: &AssignValue, _cx: EvalContext<'_>) -> DmResult<()> {
        Err(unsupported("<assign>"))
    }
    fn assign_value(&mut self, _l: &Expr, _v: &Value, _cx: EvalContext<'_>) -> DmResult<()> {
        Err(unsupported("locations"))
    }
    fn eval_content(&mut self, content: &Content, _cx: EvalContext<'_>) -> DmResult<Value> {
        match content {
            Content::Inline(text) => Ok(Value::String(text.clone())),
            _ => Err(unsupported("content expressions")),
        }
    }
    fn execute_script(&mut self, _script: &Expr, _cx: EvalContext<'_>) -> DmResult<()> {
        Err(unsupported("<script>"))
    }
    fn foreach_begin(&mut self, _array: &Expr, _cx: EvalContext<'_>) -> DmResult<usize> {
        Err(unsupported("<foreach>"))
    }
    fn foreach_step(
        &mut self,
        _item: &Expr,
        _index: Option<&Expr>,
        _i: usize,
        _cx: EvalContext<'_>,
    ) -> DmResult<()> {
        Err(unsupported("<foreach>"))
    }
    fn foreach_end(&mut self) {}
    fn export(&mut self) -> DmResult<Value> {
        Ok(Value::Object(Default::default()))
    }
    fn import(&mut self, _snapshot: &Value) -> DmResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_in;

    #[test]
    fn parses_in_predicate() {
        assert_eq!(parse_in("In('s1')"), Some("s1"));
        assert_eq!(parse_in(" In ( \"a.b\" ) "), Some("a.b"));
        assert_eq!(parse_in("In(s1)"), None);
        assert_eq!(parse_in("true"), None);
    }
}
