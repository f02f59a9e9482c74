//! Variables: the datamodel's `<data>` and system variables as properties of the global
//! object, and stores into locations (a plain store, a fused assignment, a declaring one).

use super::*;

/// A global property a session owns: its variables and its system variables. The rest
/// (builtins, what the top-level scripts declared) outlives it in a warm context.
pub(super) fn is_session_variable(
    name: &JsString,
    builtins: &HashSet<JsString>,
    script_globals: &HashSet<JsString>,
) -> bool {
    is_system_variable(name) || !(builtins.contains(name) || script_globals.contains(name))
}

pub(super) fn is_system_variable(name: &JsString) -> bool {
    SYSTEM_VARIABLES.iter().any(|s| name == *s)
}

impl EcmaScriptDatamodel {
    /// Stores a value directly when the location is a global variable that is a plain
    /// writable data property (what the compiled setter would do, without compiling it);
    /// gives the value back otherwise.
    pub(super) fn store_simple(&mut self, location: &Expr, value: JsValue) -> Result<(), JsValue> {
        if self.global_lexicals {
            return Err(value);
        }
        let name = match self.simple_form(location) {
            Some(Simple::Path(names)) if names.len() == 1 => names[0].clone(),
            _ => return Err(value),
        };
        let global = self.ctx.global_object();
        if name == js_string!(SETTER_PARAM)
            || self.builtins.contains(&name)
            || !simple::strict_assignable(&name)
            || !matches!(own_data_descriptor(&global, &name), Some((_, true)))
        {
            return Err(value);
        }
        // An own writable data property of an ordinary object: setting it runs no code.
        match global.set(name, value.clone(), true, &mut self.ctx) {
            Ok(true) => Ok(()),
            _ => Err(value),
        }
    }

    /// Stores a value in a location through its compiled setter.
    pub(super) fn store(&mut self, location: &Expr, value: JsValue) -> DmResult<()> {
        match self.store_simple(location, value) {
            Ok(()) => Ok(()),
            Err(value) => self.run(location, Kind::Setter, &[value]).map(|_| ()),
        }
    }

    /// Creates or rebinds a user variable.
    pub(super) fn define_var(&mut self, id: &str, value: JsValue) -> DmResult<()> {
        if SYSTEM_VARIABLES.contains(&id) {
            return Err(dm_error(format!("{id} is a read-only system variable")));
        }
        let name = JsString::from(id);
        if self.builtins.contains(&name) {
            // A redefined builtin would not be undone when the context is reset.
            self.ran_code = true;
        }
        let desc = PropertyDescriptor::builder()
            .value(value)
            .writable(true)
            .enumerable(true)
            .configurable(true);
        let global = self.ctx.global_object();
        global
            .define_property_or_throw(name, desc, &mut self.ctx)
            .map(|_| ())
            .map_err(|e| self.js_error(e))
    }

    /// Binds a system variable. The non-configurable ones are bound once per session, but a
    /// context kept from an earlier session (see [`spare`]) already has them: they are
    /// written as is, without the checks of `[[DefineOwnProperty]]`.
    pub(super) fn define_system(
        &mut self,
        id: &str,
        value: JsValue,
        configurable: bool,
    ) -> DmResult<()> {
        let desc = PropertyDescriptor::builder()
            .value(value)
            .writable(false)
            .enumerable(false)
            .configurable(configurable);
        let global = self.ctx.global_object();
        if !configurable {
            global.insert_property(JsString::from(id), desc);
            return Ok(());
        }
        global
            .define_property_or_throw(JsString::from(id), desc, &mut self.ctx)
            .map(|_| ())
            .map_err(|e| self.js_error(e))
    }

    pub(super) fn has_global(&mut self, id: &str) -> DmResult<bool> {
        let global = self.ctx.global_object();
        global
            .has_property(JsString::from(id), &mut self.ctx)
            .map_err(|e| self.js_error(e))
    }

    /// Stores a value in a `<foreach>` item or index, declaring a new plain variable.
    pub(super) fn store_declaring(&mut self, location: &Expr, value: JsValue) -> DmResult<()> {
        // Compile first: an illegal name must not leave a variable behind.
        if let Ok(index) = self.prepare(location, Kind::Setter) {
            if let Some(Compiled::Failed(_, message)) = &self.cache[index] {
                return Err(dm_error(message.clone()));
            }
        }
        let name = location.source.trim();
        if !is_identifier(name) {
            return Err(dm_error(format!("`{name}` is not a legal variable name")));
        }
        if !self.has_global(name)? {
            self.define_var(name, JsValue::undefined())?;
        }
        self.store(location, value)
    }
}
