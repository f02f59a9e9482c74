//! Where a session's boa context comes from: built with the limits and `In()`, or taken
//! from the thread's spare contexts; the helpers read from its intrinsics; the set of
//! builtin global names, computed once per thread.

use super::*;

/// `In(id)`.
pub(super) fn in_state(_this: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = match args.first() {
        Some(v) => v.to_string(ctx)?.to_std_string_escaped(),
        None => return Ok(JsValue::new(false)),
    };
    let active = ctx.get_data::<InState>().is_some_and(|data| {
        data.doc
            .state_by_id(&id)
            .is_some_and(|s| data.active.borrow().contains(s))
    });
    Ok(JsValue::new(active))
}

/// Evaluates a trusted helper source to an object.
pub(super) fn helper(source: &str, ctx: &mut Context) -> JsObject {
    ctx.eval(Source::from_bytes(source))
        .ok()
        .and_then(|v| v.as_object())
        .expect("datamodel helper evaluates to an object")
}

/// A property of a builtin object, read without compiling any script.
pub(super) fn builtin_property(object: &JsObject, name: JsString, ctx: &mut Context) -> JsObject {
    object
        .get(name, ctx)
        .ok()
        .and_then(|v| v.as_object())
        .expect("the builtin property is an object")
}

thread_local! {
    /// The names of the global object's properties in a fresh context (builtins and `In`) and
    /// the system variables: every context is built the same way, so the set is computed
    /// once per thread and shared by its sessions.
    static BUILTIN_GLOBALS: std::cell::OnceCell<Rc<HashSet<JsString>>> =
        const { std::cell::OnceCell::new() };
}

/// The global names that are not user variables, for a context built by [`new_context`].
pub(super) fn builtin_globals(ctx: &mut Context) -> Rc<HashSet<JsString>> {
    BUILTIN_GLOBALS.with(|cell| {
        cell.get_or_init(|| {
            let mut names: HashSet<JsString> = SYSTEM_VARIABLES
                .iter()
                .map(|&s| JsString::from(s))
                .collect();
            let global = ctx.global_object();
            if let Ok(keys) = global.own_property_keys(ctx) {
                for key in keys {
                    if let PropertyKey::String(s) = key {
                        names.insert(s);
                    }
                }
            }
            Rc::new(names)
        })
        .clone()
    })
}

pub(super) fn new_context(
    doc: &Arc<Document>,
    active: &Rc<RefCell<StateSet>>,
) -> (Context, Helpers, Rc<HashSet<JsString>>) {
    gc_budget::note_context();
    let spare = spare::take();
    count(if spare.is_some() {
        &counts::SPARE
    } else {
        &counts::BUILT
    });
    let mut ctx = spare.unwrap_or_else(|| {
        let mut ctx = Context::default();
        let limits = ctx.runtime_limits_mut();
        limits.set_loop_iteration_limit(LOOP_ITERATION_LIMIT);
        limits.set_recursion_limit(RECURSION_LIMIT);
        limits.set_stack_size_limit(STACK_SIZE_LIMIT);
        ctx.register_global_builtin_callable(
            js_string!("In"),
            1,
            NativeFunction::from_fn_ptr(in_state),
        )
        .expect("In() can be registered");
        ctx
    });
    ctx.insert_data(InState {
        doc: doc.clone(),
        active: active.clone(),
    });
    let object = ctx.intrinsics().constructors().object().constructor();
    let keys = builtin_property(&object, js_string!("keys"), &mut ctx);
    let function_prototype = ctx.intrinsics().constructors().function().prototype();
    let fn_to_string = builtin_property(&function_prototype, js_string!("toString"), &mut ctx);
    let builtins = builtin_globals(&mut ctx);
    (
        ctx,
        Helpers {
            keys,
            dom: None,
            fn_to_string,
        },
        builtins,
    )
}
