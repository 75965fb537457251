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
//!
//! A pre-initialised runner is driven through [`turn`] instead: each call
//! runs a piece of code against runtime.js's hooks and turns the loop until
//! the glue stops, then returns with no Wasm frame live, so the host can
//! snapshot the memory in between (host/src/guest/interpreter/snapshot.rs).

mod host;
mod loader;
mod native;

use std::cell::RefCell;
use std::time::Duration;

use rquickjs::{CatchResultExt, Context, Ctx, Function, Object, Persistent, Runtime};

/// The runtime glue: a script whose value is a function of the native object.
const RUNTIME_JS: &str = include_str!("runtime.js");
/// The name the glue's frames carry in stack traces.
const RUNTIME_FILE: &str = "file:///var/runtime/index.mjs";
/// `fetch` over the host's outbound HTTP: a script whose value is a
/// function of the helpers runtime.js gives it.
const FETCH_JS: &str = include_str!("fetch.js");
/// The name fetch.js's frames carry in stack traces.
const FETCH_FILE: &str = "file:///var/runtime/fetch.mjs";
/// What [`run`] does with the hooks: the WASI environment, then the
/// handler's import and every event.
const RUN_CODE: &str = "hooks.environ();\nhooks.init(false);\n";

unsafe extern "C" {
    /// wasm-ld's constructor list: wasi-libc's and Rust std's set-up.
    fn __wasm_call_ctors();
}

/// A QuickJS runtime with the glue evaluated, kept between [`turn`]s.
struct Runner {
    runtime: Runtime,
    context: Context,
}

thread_local! {
    /// The runner once the glue is installed; dropped when the environment ends.
    static RUNNER: RefCell<Option<Runner>> = const { RefCell::new(None) };
}

/// Where runtime.js's `step` stopped the loop (its negative answers).
#[derive(Clone, Copy)]
enum Stop {
    /// The host has no more events (or init failed and was reported).
    Ended,
    /// The glue waits for the host with no Wasm frame needed: before
    /// `hooks.init`, or after the handler loaded but before the host was
    /// told (the two snapshot points).
    Paused,
    /// The handler's import failed, before the host was told.
    LoadFailed,
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
    status(serve(RUN_CODE))
}

/// Runs the code the host wrote at `ptr..ptr+len` (memory from
/// `host_alloc`) with runtime.js's hooks as `hooks`, installing the glue
/// first if this instance has not, then turns the event loop until the glue
/// stops: 0 when it ended or paused (see [`Stop`]), 1 when the
/// handler did not load or the runner failed (the reason is on stderr).
#[unsafe(no_mangle)]
pub extern "C" fn turn(ptr: *mut u8, len: usize) -> i32 {
    let code = host::take_buffer(ptr as u32, len as u32);
    match String::from_utf8(code) {
        Ok(code) => status(serve(&code)),
        Err(_) => status(Err("the host's code is not UTF-8".into())),
    }
}

fn status(served: Result<Stop, String>) -> i32 {
    match served {
        Ok(Stop::Ended | Stop::Paused) => 0,
        Ok(Stop::LoadFailed) => 1,
        Err(reason) => {
            eprintln!("lambda-wasm JavaScript runner: {reason}");
            1
        }
    }
}

/// Runs `code` against the hooks and the loop until the glue stops; drops
/// the runner when the environment is over.
fn serve(code: &str) -> Result<Stop, String> {
    if RUNNER.with_borrow(Option::is_none) {
        RUNNER.set(Some(start()?));
    }
    let served = RUNNER.with_borrow(|runner| {
        let runner = runner.as_ref().expect("started above");
        runner
            .context
            .with(|ctx| run_code(ctx, code))
            .and_then(|()| event_loop(&runner.runtime, &runner.context))
    });
    if !matches!(served, Ok(Stop::Paused)) {
        // QuickJS requires every object freed before its runtime.
        loader::clear_hooks();
        RUNNER.set(None);
    }
    served
}

/// A QuickJS runtime with runtime.js evaluated: its definitions only,
/// nothing that reads the environment or the task root.
fn start() -> Result<Runner, String> {
    let runtime = Runtime::new().map_err(|e| format!("cannot create the QuickJS runtime: {e}"))?;
    runtime.set_loader(loader::GlueResolver, loader::GlueLoader);
    runtime.set_host_promise_rejection_tracker(Some(Box::new(loader::track_rejection)));
    let context =
        Context::full(&runtime).map_err(|e| format!("cannot create the QuickJS context: {e}"))?;
    context.with(install_glue)?;
    Ok(Runner { runtime, context })
}

/// Turns the loop until runtime.js says stop.
fn event_loop(runtime: &Runtime, context: &Context) -> Result<Stop, String> {
    loop {
        drain_jobs(runtime);
        match context.with(step)? {
            -1.0 => return Ok(Stop::Ended),
            -2.0 => return Ok(Stop::Paused),
            -3.0 => return Ok(Stop::LoadFailed),
            wait if wait > 0.0 => std::thread::sleep(Duration::from_secs_f64(wait / 1000.0)),
            _ => {}
        }
    }
}

/// Evaluates `runtime.js` (giving it fetch.js as `native.fetchGlue`) and
/// keeps the hooks object it returns.
fn install_glue(ctx: Ctx<'_>) -> Result<(), String> {
    let glue = evaluate_glue(&ctx, RUNTIME_JS, RUNTIME_FILE)?;
    let fetch = evaluate_glue(&ctx, FETCH_JS, FETCH_FILE)?;
    let native = native::object(&ctx)
        .and_then(|native| native.set("fetchGlue", fetch).map(|()| native))
        .map_err(|e| e.to_string())?;
    let hooks: Object = glue
        .call((native,))
        .catch(&ctx)
        .map_err(|e| format!("runtime.js failed to start: {e}"))?;
    loader::set_hooks(Persistent::save(&ctx, hooks));
    Ok(())
}

/// The function a glue script (`file`) evaluates to.
fn evaluate_glue<'js>(ctx: &Ctx<'js>, source: &str, file: &str) -> Result<Function<'js>, String> {
    let mut options = rquickjs::context::EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(file.into());
    ctx.eval_with_options(source, options)
        .catch(ctx)
        .map_err(|e| format!("{file} failed to evaluate: {e}"))
}

/// Calls `code` as the body of a function of the hooks.
fn run_code(ctx: Ctx<'_>, code: &str) -> Result<(), String> {
    let mut options = rquickjs::context::EvalOptions::default();
    options.strict = true;
    options.filename = Some("lambda-wasm:turn".into());
    let function: Function = ctx
        .eval_with_options(format!("(function (hooks) {{\n{code}\n}})"), options)
        .catch(&ctx)
        .map_err(|e| format!("the host's code does not compile: {e}"))?;
    let hooks: Object = loader::hook_object(&ctx)?;
    function
        .call::<_, ()>((hooks,))
        .catch(&ctx)
        .map_err(|e| format!("the host's code failed: {e}"))
}

/// One turn of `runtime.js`'s loop: milliseconds to sleep, 0 to go on at
/// once, negative when it stops (see [`event_loop`]).
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
