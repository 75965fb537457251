//! The guest side of guest ABI v1 (docs/abi.md): the exports every module
//! needs once (`lambda_abi_version`, `lambda_alloc`, `_initialize`), the
//! host imports of module `lambda_wasm`, and the glue that turns one handler
//! call into those imports.
//!
//! Most handlers never touch this module; the `handler!` macro does. It is
//! public as a documented escape hatch, e.g. [`set_raw_response`] for a
//! response that is not a serialized Rust value.
//!
//! Off Wasm (in `cargo test`) the imports are replaced by a thread-local
//! recorder, read back through [`crate::testing`].

use std::alloc::{Layout, alloc, dealloc};
use std::ptr::{NonNull, null_mut};

use serde::de::DeserializeOwned;

use crate::{Context, Diagnostic, IntoResponse};

/// The ABI version this SDK speaks; `lambda_abi_version` returns it and the
/// host refuses modules whose version it does not speak.
pub const ABI_VERSION: i32 = 1;

/// The host imports, exactly as docs/abi.md lists them. Pointers and `usize`
/// are `i32` on wasm32, so these are the `(i32, ...)` signatures of the ABI.
#[cfg(target_arch = "wasm32")]
mod sys {
    #[link(wasm_import_module = "lambda_wasm")]
    unsafe extern "C" {
        pub fn set_response(ptr: *const u8, len: usize);
        pub fn set_error(type_ptr: *const u8, type_len: usize, msg_ptr: *const u8, msg_len: usize);
        pub fn add_stack_frame(ptr: *const u8, len: usize);
        pub fn log(level: i32, ptr: *const u8, len: usize);
        pub fn remaining_time_ms() -> i64;
    }
}

/// Native stand-ins for the host imports: they record what a guest would
/// have sent, per thread (tests run on many threads), for [`crate::testing`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod recorder {
    use std::cell::RefCell;

    use crate::log::Level;

    /// What the guest sent to the stand-in host on this thread.
    #[derive(Debug, Default)]
    pub(crate) struct Recorded {
        pub(crate) response: Option<Vec<u8>>,
        pub(crate) error: Option<(String, String)>,
        pub(crate) stack_trace: Vec<String>,
        pub(crate) logs: Vec<(Level, String)>,
    }

    thread_local! {
        static RECORDED: RefCell<Recorded> = RefCell::default();
    }

    pub(crate) fn with<T>(f: impl FnOnce(&mut Recorded) -> T) -> T {
        RECORDED.with(|r| f(&mut r.borrow_mut()))
    }

    pub(crate) fn take() -> Recorded {
        with(std::mem::take)
    }
}

/// Returns [`ABI_VERSION`]; the host calls it at init to know how to talk
/// to the module. Defined once here so that a module may hold any number of
/// handlers.
#[cfg_attr(target_arch = "wasm32", unsafe(no_mangle))]
pub extern "C" fn lambda_abi_version() -> i32 {
    ABI_VERSION
}

/// Returns a pointer to `size` writable bytes (alignment 1), or null when
/// they cannot be had; the host writes each invocation's event and context
/// there. The handler wrapper frees them with [`free_invocation_buffer`].
#[cfg_attr(target_arch = "wasm32", unsafe(no_mangle))]
pub extern "C" fn lambda_alloc(size: usize) -> *mut u8 {
    if size == 0 {
        return NonNull::dangling().as_ptr();
    }
    match Layout::from_size_align(size, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => null_mut(),
    }
}

/// Frees a buffer returned by [`lambda_alloc`].
///
/// # Safety
/// `ptr` must come from `lambda_alloc(size)` with this same `size`, and not
/// have been freed yet.
pub unsafe fn free_invocation_buffer(ptr: *mut u8, size: usize) {
    if size != 0 && !ptr.is_null() {
        // SAFETY: same layout as in lambda_alloc, per the caller's contract.
        unsafe { dealloc(ptr, Layout::from_size_align_unchecked(size, 1)) }
    }
}

/// The WASI reactor entry point: runs the module's static constructors
/// (wasi-libc's among them) once, before the first handler call.
///
/// rustc links no `crt1-reactor.o` into a `cdylib`, so without this the
/// module would export no `_initialize`; and because this calls
/// `__wasm_call_ctors` explicitly, wasm-ld does not wrap every export in
/// constructor/destructor calls either. Rust code itself needs no
/// initializer: a `static` with `LazyLock` is the "init once" place.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[unsafe(export_name = "_initialize")]
pub extern "C" fn lambda_wasm_initialize() {
    use std::sync::atomic::{AtomicBool, Ordering};
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    static DONE: AtomicBool = AtomicBool::new(false);
    if !DONE.swap(true, Ordering::SeqCst) {
        // SAFETY: wasm-ld synthesizes this function; it is run only once.
        unsafe { __wasm_call_ctors() }
    }
}

/// Sets the invocation's response to these bytes, as they are: no
/// serialization and no check (the host validates it: at most 6 MiB, UTF-8,
/// one JSON value). Calling it again replaces the earlier value.
///
/// A handler that calls this itself must return
/// [`RawResponse::unset()`](crate::RawResponse::unset), or the wrapper's
/// own response replaces it.
pub fn set_raw_response(bytes: &[u8]) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host copies `len` bytes at `ptr` before returning.
    unsafe {
        sys::set_response(bytes.as_ptr(), bytes.len())
    };
    #[cfg(not(target_arch = "wasm32"))]
    recorder::with(|r| r.response = Some(bytes.to_vec()));
}

/// Sets the invocation's function error (`errorType`, `errorMessage`) and
/// clears the stack frames added before. The handler must then return
/// non-zero; the wrapper does both for an `Err`.
pub fn set_error(error_type: &str, error_message: &str) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host copies both ranges before returning.
    unsafe {
        sys::set_error(
            error_type.as_ptr(),
            error_type.len(),
            error_message.as_ptr(),
            error_message.len(),
        )
    };
    #[cfg(not(target_arch = "wasm32"))]
    recorder::with(|r| {
        r.error = Some((error_type.to_owned(), error_message.to_owned()));
        r.stack_trace.clear();
    });
}

/// Appends one line to the function error's `stackTrace`.
pub fn add_stack_frame(line: &str) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host copies the range before returning.
    unsafe {
        sys::add_stack_frame(line.as_ptr(), line.len())
    };
    #[cfg(not(target_arch = "wasm32"))]
    recorder::with(|r| r.stack_trace.push(line.to_owned()));
}

/// Reports a whole [`Diagnostic`]: [`set_error`] then one
/// [`add_stack_frame`] per line.
pub fn report_error(diagnostic: &Diagnostic) {
    set_error(&diagnostic.error_type, &diagnostic.error_message);
    for line in &diagnostic.stack_trace {
        add_stack_frame(line);
    }
}

/// Sends one log record to the host, which formats and filters it.
pub(crate) fn log(level: crate::log::Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host copies the range before returning.
    unsafe {
        sys::log(level as i32, message.as_ptr(), message.len())
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("[{level}] {message}");
        recorder::with(|r| r.logs.push((level, message.to_owned())));
    }
}

/// Milliseconds to the deadline the host enforces (0 once passed).
#[cfg(target_arch = "wasm32")]
pub(crate) fn remaining_time_ms() -> i64 {
    // SAFETY: no arguments, no memory access.
    unsafe { sys::remaining_time_ms() }
}

/// Runs one invocation of `handler` on the buffer the host filled: parses
/// the context, deserializes the event, frees the buffer, calls the handler
/// and reports its result. Returns the handler export's status: 0 for a
/// response, 1 for a function error.
///
/// This is what the `handler!` macro's export calls; it is public only for
/// that.
///
/// # Safety
/// `event_ptr` must be a buffer from `lambda_alloc(event_len + ctx_len)`,
/// holding the event followed by the context at `ctx_ptr`
/// (`= event_ptr + event_len`). It is freed here.
#[doc(hidden)]
pub unsafe fn run_handler<F, E, R, Er>(
    handler: F,
    event_ptr: *mut u8,
    event_len: usize,
    ctx_ptr: *mut u8,
    ctx_len: usize,
) -> i32
where
    F: FnOnce(E, &Context) -> Result<R, Er>,
    E: DeserializeOwned,
    R: IntoResponse,
    Er: Into<Diagnostic>,
{
    // SAFETY (both): ranges the host wrote, per the caller's contract.
    let event_bytes = unsafe { borrowed(event_ptr, event_len) };
    let ctx_bytes = unsafe { borrowed(ctx_ptr, ctx_len) };
    with_context(ctx_bytes, |context| {
        let event = serde_json::from_slice::<E>(event_bytes);
        // Everything is owned now: give the (maybe large) buffer back before
        // the handler runs.
        // SAFETY: the buffer of lambda_alloc(event_len + ctx_len), not used
        // after this.
        unsafe { free_invocation_buffer(event_ptr, event_len + ctx_len) };

        let outcome = match event {
            Err(e) => Err(Diagnostic::unmarshal(e)),
            Ok(event) => handler(event, context)
                .map_err(Into::into)
                .and_then(IntoResponse::into_response),
        };
        match outcome {
            Ok(Some(bytes)) => {
                set_raw_response(&bytes);
                0
            }
            Ok(None) => 0,
            Err(diagnostic) => {
                report_error(&diagnostic);
                1
            }
        }
    })
}

/// Runs `f` with the context parsed from the host's `bytes` (UTF-8 text; any
/// invalid byte is replaced).
///
/// The context lives in one slot per instance, re-filled each invocation, so
/// its strings keep their buffers: a warm invocation allocates nothing for
/// it. A handler that runs another handler (the slot is in use) gets a
/// context of its own.
fn with_context<R>(bytes: &[u8], f: impl FnOnce(&Context) -> R) -> R {
    thread_local! {
        static REUSED: std::cell::RefCell<Context> = std::cell::RefCell::default();
    }
    // from_utf8 checks ASCII a word at a time; from_utf8_lossy goes byte by byte.
    let text = std::str::from_utf8(bytes).map_or_else(
        |_| String::from_utf8_lossy(bytes),
        std::borrow::Cow::Borrowed,
    );
    REUSED.with(|slot| match slot.try_borrow_mut() {
        Ok(mut context) => {
            context.reparse(&text);
            f(&context)
        }
        Err(_) => f(&Context::parse(&text)),
    })
}

/// The bytes at `ptr..ptr+len`; an empty slice for `len == 0`, whatever
/// `ptr` is (from_raw_parts wants non-null even then).
unsafe fn borrowed<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: per the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}
