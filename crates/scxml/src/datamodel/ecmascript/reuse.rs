//! Handing a context on when its session ends: reset for any document when no code ran in
//! it ([`super::spare`]), or kept warm for the same document when only the session's variables
//! changed ([`super::warm`]).

use super::*;

impl EcmaScriptDatamodel {
    /// A datamodel on a warm context of `doc` (already reset, `_event` unbound).
    pub(super) fn from_warm(
        doc: &Arc<Document>,
        active: Rc<RefCell<StateSet>>,
        warm: warm::WarmContext,
    ) -> EcmaScriptDatamodel {
        gc_budget::note_context();
        let mut ctx = warm.ctx;
        ctx.insert_data(InState {
            doc: doc.clone(),
            active: active.clone(),
        });
        let builtins = builtin_globals(&mut ctx);
        let mut cache = warm.cache;
        cache.resize_with((doc.expr_count as usize).min(MAX_CACHED_ID), || None);
        EcmaScriptDatamodel {
            doc: doc.clone(),
            cache,
            simple: warm.simple,
            global_lexicals: false,
            active,
            foreach: Vec::new(),
            builtins,
            helpers: warm.helpers,
            function_sources: warm.function_sources,
            system_bound: false,
            ran_code: true,
            warm: true,
            global_scripts_run: 0,
            baseline: Some(warm.baseline),
            async_code: false,
            ctx: ManuallyDrop::new(ctx),
        }
    }

    /// Makes the context as good as a new one, when no compiled code ran in it: deletes the
    /// session's variables and unbinds the system variables. False when it cannot be reused.
    pub(super) fn reset_for_next_session(&mut self) -> bool {
        if self.ran_code {
            return false;
        }
        let builtins = self.builtins.clone();
        self.unbind_session(|key| match key {
            PropertyKey::String(name) => !builtins.contains(name),
            PropertyKey::Index(_) => true,
            // Only compiled code adds symbol-keyed properties.
            PropertyKey::Symbol(_) => false,
        })
    }

    /// What every reset does: deletes the global properties `is_variable` picks, and
    /// unbinds the system variables and the session's `In()` state. False when a property
    /// would not go.
    pub(super) fn unbind_session(&mut self, is_variable: impl Fn(&PropertyKey) -> bool) -> bool {
        let global = self.ctx.global_object();
        let Ok(keys) = global.own_property_keys(&mut self.ctx) else {
            return false;
        };
        for key in keys {
            if is_variable(&key)
                && !matches!(
                    global.delete_property_or_throw(key, &mut self.ctx),
                    Ok(true)
                )
            {
                return false;
            }
        }
        for id in SYSTEM_VARIABLES {
            if self
                .define_system(id, JsValue::undefined(), id == "_event")
                .is_err()
            {
                return false;
            }
        }
        self.ctx.remove_data::<InState>();
        true
    }

    /// False once the context holds what the fingerprint cannot judge (see [`warm`]): global
    /// lexical declarations, code that may queue jobs, the XML DOM helper.
    pub(super) fn may_stay_warm(&self) -> bool {
        !(self.global_lexicals || self.async_code || self.helpers.dom.is_some())
    }

    /// True for one of the document's top-level `<script>`s.
    pub(super) fn is_global_script(&self, script: &Expr) -> bool {
        self.doc
            .scripts
            .iter()
            .any(|e| matches!(e, Executable::Script(s) if s.id == script.id))
    }

    /// The baseline of a context whose top-level scripts have all just run, or `None` when
    /// it may not be kept warm (see [`warm`]).
    pub(super) fn take_baseline(&mut self) -> Option<warm::Baseline> {
        if !self.may_stay_warm() {
            return None;
        }
        let scripts_declare_functions_only = self.doc.scripts.iter().all(
            |e| matches!(e, Executable::Script(s) if warm::declares_functions_only(&s.source)),
        );
        if !scripts_declare_functions_only {
            return None;
        }
        let data: Vec<&Data> = self.doc.states.iter().flat_map(|s| &s.data).collect();
        let global = self.ctx.global_object();
        let keys = global.own_property_keys(&mut self.ctx).ok()?;
        let script_globals: HashSet<JsString> = keys
            .into_iter()
            .filter_map(|key| match key {
                PropertyKey::String(name) => Some(name),
                _ => None,
            })
            .filter(|name| {
                !self.builtins.contains(name)
                    && !data
                        .iter()
                        .any(|d| name.to_std_string().is_ok_and(|n| n == d.id))
            })
            .collect();
        // In a new context the data are initialised before the scripts run.
        let names: Vec<String> = script_globals
            .iter()
            .map(|n| n.to_std_string_escaped())
            .collect();
        let sees_script_global = data.iter().any(|d| match &d.init {
            DataInit::Expr(e) => names.iter().any(|n| mentions(&e.source, n)),
            _ => false,
        });
        if sees_script_global {
            return None;
        }
        let mut functions = HashMap::new();
        for name in &script_globals {
            let value = global.get(name.clone(), &mut self.ctx).ok()?;
            if let Some(f) = value.as_object().filter(|f| f.is_callable()) {
                functions.insert(name.to_std_string_escaped(), f);
            }
        }
        let builtins = &self.builtins;
        let print = warm::fingerprint(&mut self.ctx, |name| {
            is_session_variable(name, builtins, &script_globals)
        })
        .ok()?;
        Some(warm::Baseline {
            script_globals,
            functions,
            print,
        })
    }

    /// Makes a context whose document's scripts ran in it as good as a new one in which
    /// they just ran: deletes the session's variables, unbinds the system variables, and
    /// checks that nothing else changed since the baseline. False when it cannot be kept.
    pub(super) fn reset_warm(&mut self) -> bool {
        let Some(baseline) = self.baseline.clone() else {
            return false;
        };
        if !self.may_stay_warm() {
            return false;
        }
        self.foreach.clear();
        let builtins = self.builtins.clone();
        let deleted = self.unbind_session(|key| match key {
            PropertyKey::String(name) => {
                !is_system_variable(name)
                    && is_session_variable(name, &builtins, &baseline.script_globals)
            }
            // Left for the fingerprint to judge.
            PropertyKey::Index(_) | PropertyKey::Symbol(_) => false,
        });
        if !deleted {
            return false;
        }
        let print = warm::fingerprint(&mut self.ctx, |name| {
            is_session_variable(name, &builtins, &baseline.script_globals)
        });
        if !matches!(print, Ok(p) if p == baseline.print) {
            count(&counts::REFUSED);
            return false;
        }
        self.function_sources.retain(|name, _| {
            baseline
                .script_globals
                .contains(&JsString::from(name.as_str()))
        });
        true
    }
}
