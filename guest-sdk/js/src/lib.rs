//! lambda-wasm's JavaScript runner: QuickJS-NG (through `rquickjs`) built
//! for wasm32-wasip1, running Node.js-style Lambda handlers from source.
//!
//! It speaks the host's interpreter protocol (host/src/guest/interpreter/, docs/abi.md):
//! the host calls [`run`] once per execution environment; `runtime.js` loads
//! the handler named by `_HANDLER` from `LAMBDA_TASK_ROOT`, then pulls each
//! invocation through the `host.call` import and answers it with `R` or `E`
//! frames, logging with `L` frames. Rust keeps the event loop's outer turn
//! (QuickJS jobs, then `runtime.js`'s `step`, then a sleep until the next
//! timer); everything Node-specific lives in `runtime.js`.

mod host;
mod loader;
mod native;

use std::time::Duration;

use rquickjs::{CatchResultExt, Context, Ctx, Function, Object, Persistent, Runtime};

/// The runtime glue: a script whose value is a function of the native object.
const RUNTIME_JS: &str = include_str!("runtime.js");
/// The name the glue's frames carry in stack traces.
const RUNTIME_FILE: &str = "file:///var/runtime/index.mjs";

unsafe extern "C" {
    /// wasm-ld's constructor list: wasi-libc's and Rust std's set-up.
    fn __wasm_call_ctors();
}

/// The reactor's initialisation (the host calls it once, before [`run`]):
/// a cdylib gets no `_initialize` of its own on wasm32-wasip1.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    // SAFETY: called once by the host before any other export.
    unsafe { __wasm_call_ctors() }
}

/// Runs the execution environment: init, then every invocation until the
/// host answers with no event. 0 when it ended that way, 1 when the runner
/// itself failed (the reason is on stderr).
#[unsafe(no_mangle)]
pub extern "C" fn run() -> i32 {
    match serve() {
        Ok(()) => 0,
        Err(reason) => {
            eprintln!("lambda-wasm JavaScript runner: {reason}");
            1
        }
    }
}

fn serve() -> Result<(), String> {
    let runtime = Runtime::new().map_err(|e| format!("cannot create the QuickJS runtime: {e}"))?;
    runtime.set_loader(loader::GlueResolver, loader::GlueLoader);
    runtime.set_host_promise_rejection_tracker(Some(Box::new(loader::track_rejection)));
    let context =
        Context::full(&runtime).map_err(|e| format!("cannot create the QuickJS context: {e}"))?;
    let served = context
        .with(install_glue)
        .and_then(|()| event_loop(&runtime, &context));
    loader::clear_hooks();
    served
}

/// Turns the loop until runtime.js says the environment is over.
fn event_loop(runtime: &Runtime, context: &Context) -> Result<(), String> {
    loop {
        drain_jobs(runtime);
        match context.with(step)? {
            wait if wait < 0.0 => return Ok(()),
            wait if wait > 0.0 => std::thread::sleep(Duration::from_secs_f64(wait / 1000.0)),
            _ => {}
        }
    }
}

/// Evaluates `runtime.js` and keeps the hooks object it returns.
fn install_glue(ctx: Ctx<'_>) -> Result<(), String> {
    let mut options = rquickjs::context::EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(RUNTIME_FILE.into());
    let glue: Function = ctx
        .eval_with_options(RUNTIME_JS, options)
        .catch(&ctx)
        .map_err(|e| format!("runtime.js failed to evaluate: {e}"))?;
    let hooks: Object = glue
        .call((native::object(&ctx).map_err(|e| e.to_string())?,))
        .catch(&ctx)
        .map_err(|e| format!("runtime.js failed to start: {e}"))?;
    loader::set_hooks(Persistent::save(&ctx, hooks));
    Ok(())
}

/// One turn of `runtime.js`'s loop: milliseconds to sleep, 0 to go on at
/// once, negative when the host has no more events.
fn step(ctx: Ctx<'_>) -> Result<f64, String> {
    let step: Function = loader::hook(&ctx, "step")?;
    step.call(())
        .catch(&ctx)
        .map_err(|e| format!("runtime.js's event loop failed: {e}"))
}

/// Runs promise jobs until none is left. A job that throws (rare: promise
/// reactions catch their own errors) is reported on stderr, as Node would
/// crash on an uncaught exception outside any promise.
fn drain_jobs(runtime: &Runtime) {
    loop {
        match runtime.execute_pending_job() {
            Ok(true) => {}
            Ok(false) => return,
            Err(job) => job.0.with(|ctx| {
                let error = ctx.catch();
                eprintln!("lambda-wasm JavaScript runner: a job threw: {error:?}");
            }),
        }
    }
}
