//! What QuickJS asks the embedder, answered by runtime.js's hooks: where an
//! `import` specifier points (`resolve`), the ES module source of a file
//! (`load`, which also turns CommonJS and JSON files into modules), and
//! which promises were rejected with no handler (`rejection`).

use std::cell::RefCell;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Exception, FromJs, Function, Module, Object, Persistent, Value};

thread_local! {
    /// The object runtime.js returned; set once, before any module loads.
    static HOOKS: RefCell<Option<Persistent<Object<'static>>>> = const { RefCell::new(None) };
}

/// Keeps runtime.js's hooks for the callbacks below.
pub fn set_hooks(hooks: Persistent<Object<'static>>) {
    HOOKS.set(Some(hooks));
}

/// Drops the hooks: QuickJS requires every object freed before its runtime.
pub fn clear_hooks() {
    HOOKS.set(None);
}

/// The object of runtime.js's hooks.
pub fn hook_object<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>, String> {
    let hooks = HOOKS
        .with_borrow(Clone::clone)
        .ok_or("runtime.js's hooks are not installed")?;
    hooks.restore(ctx).map_err(|e| e.to_string())
}

/// The hook `name` of runtime.js.
pub fn hook<'js, T: FromJs<'js>>(ctx: &Ctx<'js>, name: &str) -> Result<T, String> {
    hook_object(ctx)?
        .get(name)
        .map_err(|e| format!("runtime.js has no {name} hook: {e}"))
}

/// Resolves specifiers with runtime.js's Node-style resolution; the names
/// it returns are `file://` URLs, as Node names ES modules in stack traces.
pub struct GlueResolver;

impl Resolver for GlueResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let resolve: Function =
            hook(ctx, "resolve").map_err(|e| Exception::throw_internal(ctx, &e))?;
        resolve.call((base, name))
    }
}

/// Declares the module runtime.js gives as source for a resolved name, with
/// Node's `import.meta.url`, `filename` and `dirname`.
pub struct GlueLoader;

impl Loader for GlueLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let load: Function = hook(ctx, "load").map_err(|e| Exception::throw_internal(ctx, &e))?;
        let source: String = load.call((name,))?;
        let module = Module::declare(ctx.clone(), name, source)?;
        let meta = module.meta()?;
        meta.set("url", name)?;
        if let Some(path) = name.strip_prefix("file://") {
            let dir = path
                .rsplit_once('/')
                .map_or("/", |(dir, _)| if dir.is_empty() { "/" } else { dir });
            meta.set("filename", path)?;
            meta.set("dirname", dir)?;
        }
        Ok(module)
    }
}

/// QuickJS's rejection tracker: tells runtime.js a promise was rejected with
/// no handler (`handled` false) or got one later (true); it decides after
/// the job queue drained, as Node's `unhandledRejection` does.
pub fn track_rejection<'js>(ctx: Ctx<'js>, promise: Value<'js>, reason: Value<'js>, handled: bool) {
    if let Ok(rejection) = hook::<Function>(&ctx, "rejection")
        && rejection.call::<_, ()>((promise, reason, handled)).is_err()
    {
        ctx.catch();
    }
}
