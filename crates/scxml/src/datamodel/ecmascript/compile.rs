//! Compiling once per context: every expression, script and location is compiled on first
//! use and cached by its `ExprId`; plain expressions skip the compiler ([`super::simple`]).

use super::*;

impl EcmaScriptDatamodel {
    pub(super) fn compile(&mut self, expr: &Expr, kind: Kind, value: Option<&Expr>) -> Compiled {
        if too_deep(&expr.source) || value.is_some_and(|v| too_deep(&v.source)) {
            return Compiled::Failed(kind, "SyntaxError: expression nested too deeply".into());
        }
        self.ran_code = true;
        if kind == Kind::Script && may_declare_global_lexicals(&expr.source) {
            self.global_lexicals = true;
        }
        if may_queue_jobs(&expr.source) {
            self.async_code = true;
        }
        let text = match kind {
            Kind::Expr => format!("({}\n)", expression_text(&expr.source)),
            Kind::Script => expr.source.clone(),
            // A named parameter: `arguments` would allocate an object per call.
            Kind::Setter => format!(
                "(function ({SETTER_PARAM}) {{ 'use strict'; ({}\n) = {SETTER_PARAM}; }})",
                expr.source
            ),
            Kind::Assign => format!(
                "({}\n) = ({}\n);",
                expr.source,
                expression_text(value.map_or("", |v| v.source.as_str()))
            ),
        };
        let script = match Script::parse(Source::from_bytes(&text), None, &mut self.ctx) {
            Ok(script) => script,
            Err(e) => {
                let message = self.js_error(e).message;
                return Compiled::Failed(
                    kind,
                    match kind {
                        Kind::Setter => format!(
                            "`{}` is not a valid location ({})",
                            expr.source.trim(),
                            message.split(" at line ").next().unwrap_or_default()
                        ),
                        _ => message,
                    },
                );
            }
        };
        if kind == Kind::Assign {
            let root = location_root(&expr.source).map(JsString::from);
            return Compiled::Assign(script, root);
        }
        if kind != Kind::Setter {
            return Compiled::Script(kind, script);
        }
        match script.evaluate(&mut self.ctx) {
            Ok(f) => match f.as_object() {
                Some(f) => Compiled::Setter(f),
                None => Compiled::Failed(kind, "location did not compile to a setter".into()),
            },
            Err(e) => Compiled::Failed(kind, self.js_error(e).message),
        }
    }

    /// The index of the compiled form of `expr` in the cache, compiling it on first use;
    /// `Err(compiled)` for ids too large to cache.
    pub(super) fn prepare(&mut self, expr: &Expr, kind: Kind) -> Result<usize, Compiled> {
        self.prepare_with(expr, kind, None)
    }

    pub(super) fn prepare_with(
        &mut self,
        expr: &Expr,
        kind: Kind,
        value: Option<&Expr>,
    ) -> Result<usize, Compiled> {
        let index = expr.id.0 as usize;
        if index >= self.cache.len() {
            if index >= MAX_CACHED_ID {
                return Err(self.compile(expr, kind, value));
            }
            self.cache.resize_with(index + 1, || None);
        }
        if !matches!(&self.cache[index], Some(c) if c.kind() == kind) {
            let compiled = self.compile(expr, kind, value);
            self.cache[index] = Some(compiled);
        }
        Ok(index)
    }

    pub(super) fn run_compiled(
        &mut self,
        compiled: &Compiled,
        args: &[JsValue],
    ) -> DmResult<JsValue> {
        let result = match compiled {
            Compiled::Script(_, script) | Compiled::Assign(script, _) => {
                script.evaluate(&mut self.ctx)
            }
            Compiled::Setter(f) => f.call(&JsValue::undefined(), args, &mut self.ctx),
            Compiled::Failed(_, message) => return Err(dm_error(message.clone())),
        };
        result.map_err(|e| self.js_error(e))
    }

    /// Evaluates an expression or script (or calls a setter with `args`).
    pub(super) fn run(&mut self, expr: &Expr, kind: Kind, args: &[JsValue]) -> DmResult<JsValue> {
        match self.prepare(expr, kind) {
            Ok(index) => {
                let result = match &self.cache[index] {
                    Some(Compiled::Script(_, script)) | Some(Compiled::Assign(script, _)) => {
                        script.evaluate(&mut self.ctx)
                    }
                    Some(Compiled::Setter(f)) => f.call(&JsValue::undefined(), args, &mut self.ctx),
                    Some(Compiled::Failed(_, message)) => return Err(dm_error(message.clone())),
                    None => return Err(dm_error("expression was not compiled")),
                };
                result.map_err(|e| self.js_error(e))
            }
            Err(compiled) => self.run_compiled(&compiled, args),
        }
    }

    pub(super) fn eval_js(&mut self, expr: &Expr, cx: &EvalContext<'_>) -> DmResult<JsValue> {
        if let Some(value) = self.eval_simple(expr) {
            return Ok(value);
        }
        self.sync_active(cx);
        self.run(expr, Kind::Expr, &[])
    }

    /// The simple form of an expression (or location), parsed on first use.
    pub(super) fn simple_form(&mut self, expr: &Expr) -> Option<&Simple> {
        let index = expr.id.0 as usize;
        if index >= MAX_CACHED_ID {
            return None;
        }
        if index >= self.simple.len() {
            self.simple.resize_with(index + 1, || None);
        }
        self.simple[index]
            .get_or_insert_with(|| Simple::parse(expression_text(&expr.source)))
            .as_ref()
    }

    /// The value of a simple expression without compiling it; `None` when the compiled
    /// expression must run (nothing observable has happened then).
    pub(super) fn eval_simple(&mut self, expr: &Expr) -> Option<JsValue> {
        let reads_variables = self.global_lexicals;
        let simple = self.simple_form(expr)?;
        if reads_variables && matches!(simple, Simple::Path(_)) {
            return None;
        }
        let simple = simple.clone();
        simple.evaluate(&mut self.ctx)
    }
}
