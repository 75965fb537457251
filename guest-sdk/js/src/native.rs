//! The few things runtime.js cannot do in JavaScript, given to it as one
//! object: the host link, files through WASI, script compilation with a file
//! name (CommonJS), randomness, the environment, a monotonic clock, raw
//! stdout/stderr and process exit.

use std::cell::Cell;

use rquickjs::context::EvalOptions;
use rquickjs::{Ctx, Exception, Function, Object, Result, TypedArray, Value};

/// The object runtime.js's function receives.
pub fn object<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;
    native.set("call", Function::new(ctx.clone(), call)?)?;
    native.set("exchange", Function::new(ctx.clone(), exchange)?)?;
    native.set("readFile", Function::new(ctx.clone(), read_file)?)?;
    native.set("stat", Function::new(ctx.clone(), stat)?)?;
    native.set("compile", Function::new(ctx.clone(), compile)?)?;
    native.set("randomBytes", Function::new(ctx.clone(), random_bytes)?)?;
    native.set("monotonicMs", Function::new(ctx.clone(), monotonic_ms)?)?;
    native.set("resumeClock", Function::new(ctx.clone(), resume_clock)?)?;
    native.set("write", Function::new(ctx.clone(), write)?)?;
    native.set("exit", Function::new(ctx.clone(), exit)?)?;
    native.set("environment", Function::new(ctx.clone(), environment)?)?;
    Ok(native)
}

/// Sends a frame (kind byte, then payload) to the host; its reply as text.
fn call(frame: String) -> String {
    let reply = crate::host::call(frame.as_bytes());
    String::from_utf8(reply).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Sends a frame of bytes (an `H` request, whose body may be binary) to the
/// host; its reply's bytes.
fn exchange<'js>(ctx: Ctx<'js>, frame: TypedArray<'js, u8>) -> Result<TypedArray<'js, u8>> {
    // SAFETY: no JavaScript runs while the host handles the frame, so
    // nothing can detach or resize its buffer before the slice is dropped.
    let reply = match unsafe { frame.as_bytes() } {
        Some(bytes) => crate::host::call(bytes),
        None => {
            return Err(Exception::throw_type(
                &ctx,
                "the frame's buffer is detached",
            ));
        }
    };
    TypedArray::new(ctx, reply)
}

/// Writes raw text to stdout (1) or stderr (2), as process.stdout.write does.
fn write(fd: i32, text: String) {
    use std::io::Write as _;
    // A closed stream must not fail the handler; Node ignores EPIPE too.
    let _ = match fd {
        2 => std::io::stderr().write_all(text.as_bytes()),
        _ => std::io::stdout().write_all(text.as_bytes()),
    };
}

/// process.exit: WASI's proc_exit, which ends the execution environment.
fn exit(code: i32) {
    std::process::exit(code)
}

/// A file's text, or null when it does not exist (module resolution probes).
fn read_file(ctx: Ctx<'_>, path: String) -> Result<Option<String>> {
    match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Exception::throw_type(&ctx, &format!("{path} is not UTF-8 text"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Exception::throw_message(
            &ctx,
            &format!("cannot read {path}: {e}"),
        )),
    }
}

/// 1 for a file, 2 for a directory, 0 for nothing (or nothing readable).
fn stat(path: String) -> i32 {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => 2,
        Ok(_) => 1,
        Err(_) => 0,
    }
}

/// Evaluates `source` as a script named `filename` (stack traces and syntax
/// errors name the file); CommonJS modules come here wrapped in a function.
fn compile<'js>(ctx: Ctx<'js>, source: String, filename: String) -> Result<Value<'js>> {
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(filename);
    ctx.eval_with_options(source, options)
}

/// `len` random bytes from WASI's `random_get`.
fn random_bytes<'js>(ctx: Ctx<'js>, len: usize) -> Result<TypedArray<'js, u8>> {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes).map_err(|errno| {
        Exception::throw_internal(&ctx, &format!("WASI random_get failed with errno {errno}"))
    })?;
    TypedArray::new(ctx, bytes)
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
    fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> u16;
}

fn fill_random(bytes: &mut [u8]) -> std::result::Result<(), u16> {
    // SAFETY: WASI writes exactly `len` bytes into the slice.
    match unsafe { random_get(bytes.as_mut_ptr(), bytes.len()) } {
        0 => Ok(()),
        errno => Err(errno),
    }
}

thread_local! {
    /// What [`monotonic_ms`] adds to WASI's monotonic clock, and the last
    /// value it returned.
    static CLOCK: Cell<(f64, f64)> = const { Cell::new((0.0, 0.0)) };
}

/// A monotonic clock in milliseconds (`performance.now()`, timers): WASI's,
/// shifted by [`resume_clock`].
fn monotonic_ms() -> f64 {
    const MONOTONIC: u32 = 1;
    let mut nanos = 0u64;
    // SAFETY: WASI writes one u64 to `nanos`; the monotonic clock always exists.
    unsafe { clock_time_get(MONOTONIC, 1_000, &mut nanos) };
    let (offset, _) = CLOCK.get();
    let now = nanos as f64 / 1e6 + offset;
    CLOCK.set((offset, now));
    now
}

/// Makes [`monotonic_ms`] go on from the last value it returned: a
/// restored snapshot runs in a new instance whose WASI clock may start
/// anywhere, and the timers it holds were set on the old clock.
fn resume_clock() {
    let (_, last) = CLOCK.get();
    CLOCK.set((0.0, last));
    let fresh = monotonic_ms();
    CLOCK.set((last - fresh, last));
}

/// The WASI environment as an object (`process.env`).
fn environment<'js>(ctx: Ctx<'js>) -> Result<Object<'js>> {
    let env = Object::new(ctx.clone())?;
    for (key, value) in std::env::vars_os() {
        env.set(
            key.to_string_lossy().as_ref(),
            value.to_string_lossy().as_ref(),
        )?;
    }
    Ok(env)
}
