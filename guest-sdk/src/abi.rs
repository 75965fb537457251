//! The guest side of guest ABI v1 (docs/abi.md): the exports every module
//! needs once (`lambda_abi_version`, `lambda_abi_minor_version`,
//! `lambda_alloc`, `lambda_event_buffer`, `_initialize`), the
//! host imports of module `lambda_wasm`, and the glue that turns one handler
//! call into those imports: reading and freeing the invocation buffer, the
//! init hooks of `handler!(f, init)`, and the panic hook.
//!
//! Most handlers never touch this module; the `handler!` macro does. It is
//! public as a documented escape hatch, e.g. [`set_raw_response`] for a
//! response that is not a serialized Rust value.
//!
//! Off Wasm (in `cargo test`) the imports are replaced by a thread-local
//! recorder, read back through [`crate::testing`].

use std::alloc::{Layout, alloc, dealloc};
use std::any::Any;
use std::ptr::{NonNull, null_mut};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use lambda_wasm_abi::imports;
pub use lambda_wasm_abi::{ABI_MINOR_VERSION, ABI_VERSION};
use serde::de::DeserializeOwned;

use crate::log::Level;
use crate::{Context, Diagnostic, IntoResponse};

/// The `errorType` of a panic, set just before the panic aborts the
/// instance (docs/abi.md, "Errors set before a trap").
pub const PANIC_ERROR_TYPE: &str = "Panic";

/// `a == b`, in a `const` context.
const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// Attributes and function names must be literals; these check them against
// the names `lambda-wasm-abi` defines for the host.
const _: () = assert!(same_name(imports::MODULE, "lambda_wasm"));
const _: () = assert!(same_name(imports::SET_RESPONSE, "set_response"));
const _: () = assert!(same_name(imports::SET_ERROR, "set_error"));
const _: () = assert!(same_name(imports::ADD_STACK_FRAME, "add_stack_frame"));
const _: () = assert!(same_name(imports::LOG, "log"));
const _: () = assert!(same_name(imports::REMAINING_TIME_MS, "remaining_time_ms"));
const _: () = assert!(same_name(imports::HTTP_REQUEST, "http_request"));
const _: () = assert!(same_name(
    lambda_wasm_abi::VERSION_EXPORT,
    "lambda_abi_version"
));
const _: () = assert!(same_name(
    lambda_wasm_abi::MINOR_VERSION_EXPORT,
    "lambda_abi_minor_version"
));
const _: () = assert!(same_name(lambda_wasm_abi::ALLOC_EXPORT, "lambda_alloc"));
const _: () = assert!(same_name(
    lambda_wasm_abi::EVENT_BUFFER_EXPORT,
    "lambda_event_buffer"
));

/// The host imports, exactly as docs/abi.md lists them. Pointers and `usize`
/// are `i32` on wasm32, so these are the `(i32, ...)` signatures of the ABI.
#[cfg(target_arch = "wasm32")]
pub(crate) mod sys {
    #[link(wasm_import_module = "lambda_wasm")]
    unsafe extern "C" {
        pub fn set_response(ptr: *const u8, len: usize);
        pub fn set_error(type_ptr: *const u8, type_len: usize, msg_ptr: *const u8, msg_len: usize);
        pub fn add_stack_frame(ptr: *const u8, len: usize);
        pub fn log(level: i32, ptr: *const u8, len: usize);
        pub fn remaining_time_ms() -> i64;
        /// ABI 1.1; imported only by modules that use [`crate::http`].
        pub fn http_request(req_ptr: *const u8, req_len: usize, out_ptr: *mut u32) -> i32;
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

    /// Answers a guest's outbound request off Wasm: the `http_request`
    /// status and the response (or message) bytes.
    pub(crate) type HttpResponder = fn(&[u8]) -> (i32, Vec<u8>);

    thread_local! {
        static RECORDED: RefCell<Recorded> = RefCell::default();
        static HTTP_RESPONDER: RefCell<Option<HttpResponder>> = const { RefCell::new(None) };
    }

    pub(crate) fn set_http_responder(responder: HttpResponder) {
        HTTP_RESPONDER.with(|r| *r.borrow_mut() = Some(responder));
    }

    /// The stand-in for the `http_request` import.
    pub(crate) fn http_exchange(wire: &[u8]) -> (i32, Vec<u8>) {
        match HTTP_RESPONDER.with(|r| *r.borrow()) {
            Some(responder) => responder(wire),
            None => (
                lambda_wasm_abi::http_status::FAILED,
                b"no host off Wasm: set one with lambda_wasm_guest::testing::set_http_responder"
                    .to_vec(),
            ),
        }
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

/// ABI 1.3: returns [`ABI_MINOR_VERSION`], which asks a host that knows
/// it for the binary context (read without parsing). An older host does
/// not call it and writes the context text, which the SDK reads too.
#[cfg_attr(target_arch = "wasm32", unsafe(no_mangle))]
pub extern "C" fn lambda_abi_minor_version() -> i32 {
    ABI_MINOR_VERSION
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

/// The buffer [`lambda_event_buffer`] last handed out, and its size.
/// Relaxed atomics: a Wasm instance runs one thread, and they compile to
/// plain loads and stores there.
static KEPT_BUFFER: (AtomicPtr<u8>, AtomicUsize) =
    (AtomicPtr::new(null_mut()), AtomicUsize::new(0));

/// ABI 1.2: returns a buffer of at least `size` bytes that this module
/// keeps across invocations (null when it cannot be had). A host that finds
/// this export writes every event and context there, and asks again only
/// for a larger one: one guest call, malloc and free fewer per event than
/// with [`lambda_alloc`]. The buffer it replaces is freed.
#[cfg_attr(target_arch = "wasm32", unsafe(no_mangle))]
pub extern "C" fn lambda_event_buffer(size: usize) -> *mut u8 {
    let (kept, kept_size) = &KEPT_BUFFER;
    let old = kept.swap(null_mut(), Ordering::Relaxed);
    // SAFETY: the kept buffer came from lambda_alloc(kept_size) and no
    // invocation is running (the host writes the next one after this).
    unsafe { free_invocation_buffer(old, kept_size.swap(0, Ordering::Relaxed)) };
    let new = lambda_alloc(size);
    if !new.is_null() {
        kept.store(new, Ordering::Relaxed);
        kept_size.store(size, Ordering::Relaxed);
    }
    new
}

/// Frees a buffer returned by [`lambda_alloc`]; the buffer that
/// [`lambda_event_buffer`] keeps is left alone.
///
/// # Safety
/// `ptr` must come from `lambda_alloc(size)` with this same `size`, or be
/// the kept buffer, and not have been freed yet.
pub unsafe fn free_invocation_buffer(ptr: *mut u8, size: usize) {
    if size != 0 && !ptr.is_null() && ptr != KEPT_BUFFER.0.load(Ordering::Relaxed) {
        // SAFETY: same layout as in lambda_alloc, per the caller's contract.
        unsafe { dealloc(ptr, Layout::from_size_align_unchecked(size, 1)) }
    }
}

/// The WASI reactor entry point, the module's init phase: runs the module's
/// static constructors (wasi-libc's, and those of `handler!(f, init)`, which
/// register init hooks), installs the panic hook, then runs the init hooks.
/// An init hook's `Err` is reported with `set_error` and ends init with a
/// trap: the host's init error (docs/abi.md, "Errors set before a trap").
///
/// rustc links no `crt1-reactor.o` into a `cdylib`, so without this the
/// module would export no `_initialize`; and because this calls
/// `__wasm_call_ctors` explicitly, wasm-ld does not wrap every export in
/// constructor/destructor calls either.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[unsafe(export_name = "_initialize")]
pub extern "C" fn lambda_wasm_initialize() {
    use std::sync::atomic::{AtomicBool, Ordering};
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: wasm-ld synthesizes this function; it is run only once.
    unsafe { __wasm_call_ctors() }
    enter_task_root();
    install_panic_hook();
    if let Err(diagnostic) = run_init_hooks() {
        report_error(&diagnostic);
        // A trap is the only way to fail `_initialize` (it returns nothing).
        core::arch::wasm32::unreachable()
    }
}

/// Lambda starts a function in its task root; wasi-libc starts in `/`.
/// Relative paths already resolve in the task root (the host preopens it as
/// `.` too, docs/abi.md section 6); changing directory makes
/// `std::env::current_dir()` say so as well, as on Lambda.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
fn enter_task_root() {
    if let Some(task_root) = std::env::var_os("LAMBDA_TASK_ROOT") {
        // A task root that cannot be entered leaves `/`: relative paths still work.
        let _ = std::env::set_current_dir(task_root);
    }
}

/// A function run once in the init phase; its `Err` is the init error.
pub type InitHook = fn() -> Result<(), Diagnostic>;

/// The hooks `handler!(f, init)` registered from the module's constructors.
static INIT_HOOKS: Mutex<Vec<InitHook>> = Mutex::new(Vec::new());

/// Adds a hook for `_initialize` to run. `handler!(f, init)` calls this
/// from a constructor; it is public only for that.
#[doc(hidden)]
pub fn register_init(hook: InitHook) {
    INIT_HOOKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(hook);
}

/// Runs the registered init hooks in order, up to the first failure.
#[cfg(any(target_arch = "wasm32", test))]
fn run_init_hooks() -> Result<(), Diagnostic> {
    // Taken out first: a hook runs user code, which must not find the lock held.
    let hooks = std::mem::take(&mut *INIT_HOOKS.lock().unwrap_or_else(PoisonError::into_inner));
    hooks.into_iter().try_for_each(|hook| hook())
}

/// The state `handler!(f, init)` keeps for every invocation of `f`: what
/// `init` returned, made once per instance. It is typed by the handler's
/// signature, which the macro ties to `init`'s at compile time.
#[doc(hidden)]
#[derive(Default)]
pub struct StateSlot(OnceLock<Box<dyn Any + Send + Sync>>);

impl StateSlot {
    /// An empty slot, for a `static`.
    pub const fn new() -> Self {
        StateSlot(OnceLock::new())
    }

    /// Runs `init` and keeps its state, unless the slot is already filled.
    pub fn init<S, Er>(&self, init: impl FnOnce() -> Result<S, Er>) -> Result<(), Diagnostic>
    where
        S: Any + Send + Sync,
        Er: Into<Diagnostic>,
    {
        if self.0.get().is_none() {
            let state = init().map_err(Into::into)?;
            // Only this instance's init thread gets here: the set cannot race.
            let _ = self.0.set(Box::new(state));
        }
        Ok(())
    }

    /// The state, made now by `init` if `_initialize` did not run it (a host
    /// that skips `_initialize`; then its `Err` is this invocation's error).
    fn get_or_init<S, Er>(&self, init: impl FnOnce() -> Result<S, Er>) -> Result<&S, Diagnostic>
    where
        S: Any + Send + Sync,
        Er: Into<Diagnostic>,
    {
        self.init(init)?;
        Ok(self
            .0
            .get()
            .and_then(|state| state.downcast_ref())
            .expect("handler! ties the slot's type to the handler's"))
    }
}

/// Installs, once, the hook that reports a panic as the invocation's (or
/// init's) error through `set_error`, before printing it to stderr as
/// Rust's default hook does; then the panic aborts (wasm32-wasip1 has no
/// unwinding), which traps the instance.
#[cfg(any(target_arch = "wasm32", test))]
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report_error(&panic_diagnostic(info));
            print(info);
        }));
    });
}

/// `Panic`, `panicked at src/lib.rs:10:5: <message>`: the text Rust prints,
/// on one line.
#[cfg(any(target_arch = "wasm32", test))]
fn panic_diagnostic(info: &std::panic::PanicHookInfo<'_>) -> Diagnostic {
    // What the default hook prints for a payload that is not a string.
    let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
    let error_message = match info.location() {
        Some(at) => format!(
            "panicked at {}:{}:{}: {message}",
            at.file(),
            at.line(),
            at.column()
        ),
        None => format!("panicked: {message}"),
    };
    Diagnostic::new(PANIC_ERROR_TYPE, error_message)
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
pub(crate) fn log(level: Level, message: &str) {
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

/// Runs one invocation of `handler` on the buffer the host filled and
/// reports its result. Returns the handler export's status: 0 for a
/// response, 1 for a function error.
///
/// This is what the `handler!` macro's export calls; it is public only for
/// that.
///
/// # Safety
/// `event_ptr` must be a buffer from `lambda_alloc(event_len + ctx_len)`,
/// or the one `lambda_event_buffer` keeps, holding the event followed by
/// the context at `ctx_ptr` (`= event_ptr + event_len`). The first is
/// freed here, the kept one is not.
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
    let call = |event, context: &Context| handler(event, context).map_err(Into::into);
    // SAFETY: per this function's contract.
    unsafe { invoke(call, event_ptr, event_len, ctx_ptr, ctx_len) }
}

/// [`run_handler`] for `handler!(f, init)`: `handler` also gets the state
/// `init` made in `_initialize`, kept in `state`. `init` is passed too so
/// that its state type must be the handler's.
///
/// # Safety
/// As for [`run_handler`].
#[doc(hidden)]
pub unsafe fn run_handler_with_state<F, I, E, S, R, Er, Ei>(
    handler: F,
    init: I,
    state: &StateSlot,
    event_ptr: *mut u8,
    event_len: usize,
    ctx_ptr: *mut u8,
    ctx_len: usize,
) -> i32
where
    F: FnOnce(E, &Context, &S) -> Result<R, Er>,
    I: FnOnce() -> Result<S, Ei>,
    E: DeserializeOwned,
    S: Any + Send + Sync,
    R: IntoResponse,
    Er: Into<Diagnostic>,
    Ei: Into<Diagnostic>,
{
    let call = |event, context: &Context| {
        let state = state.get_or_init(init)?;
        handler(event, context, state).map_err(Into::into)
    };
    // SAFETY: per this function's contract.
    unsafe { invoke(call, event_ptr, event_len, ctx_ptr, ctx_len) }
}

/// Reads the invocation out of the host's buffer (freeing it), calls `call`
/// and reports its outcome; returns the export's status.
///
/// # Safety
/// As for [`run_handler`].
unsafe fn invoke<E, R>(
    call: impl FnOnce(E, &Context) -> Result<R, Diagnostic>,
    event_ptr: *mut u8,
    event_len: usize,
    ctx_ptr: *mut u8,
    ctx_len: usize,
) -> i32
where
    E: DeserializeOwned,
    R: IntoResponse,
{
    with_reused_context(|context| {
        // SAFETY: per this function's contract.
        let event = unsafe { take_invocation(event_ptr, event_len, ctx_ptr, ctx_len, context) };
        let outcome = event
            .and_then(|event| call(event, context))
            .and_then(IntoResponse::into_response);
        report(outcome)
    })
}

/// Reads the context into `context` and deserializes the event, then frees
/// the host's buffer: everything is owned by then, and the (maybe large)
/// buffer is given back before the handler runs. No reference into the
/// buffer outlives this function's first block.
///
/// # Safety
/// As for [`run_handler`].
unsafe fn take_invocation<E: DeserializeOwned>(
    event_ptr: *mut u8,
    event_len: usize,
    ctx_ptr: *mut u8,
    ctx_len: usize,
    context: &mut Context,
) -> Result<E, Diagnostic> {
    let event = {
        // SAFETY (both): ranges the host wrote, per the caller's contract.
        let event_bytes = unsafe { borrowed(event_ptr, event_len) };
        let ctx_bytes = unsafe { borrowed(ctx_ptr, ctx_len) };
        context
            .refill(ctx_bytes)
            .and_then(|()| serde_json::from_slice::<E>(event_bytes).map_err(Diagnostic::unmarshal))
    };
    // SAFETY: the buffer of lambda_alloc(event_len + ctx_len) or the kept
    // one (left alone); the slices into it are gone.
    unsafe { free_invocation_buffer(event_ptr, event_len + ctx_len) };
    event
}

/// Sends an invocation's outcome to the host; returns the export's status.
fn report(outcome: Result<Option<Vec<u8>>, Diagnostic>) -> i32 {
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
}

/// Runs `f` with the instance's context, to be re-filled for this invocation.
///
/// The context lives in one slot per instance, re-filled each invocation, so
/// its strings keep their buffers: a warm invocation allocates nothing for
/// it. A handler that runs another handler (the slot is in use) gets a
/// context of its own.
fn with_reused_context<R>(f: impl FnOnce(&mut Context) -> R) -> R {
    thread_local! {
        static REUSED: std::cell::RefCell<Context> = std::cell::RefCell::default();
    }
    REUSED.with(|slot| match slot.try_borrow_mut() {
        Ok(mut context) => f(&mut context),
        Err(_) => f(&mut Context::default()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_hooks_run_in_order_up_to_the_first_failure() {
        use std::sync::atomic::{AtomicU32, Ordering};
        static RAN: AtomicU32 = AtomicU32::new(0);
        register_init(|| {
            RAN.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        register_init(|| Err(Diagnostic::new("ConfigError", "TABLE_NAME is not set")));
        register_init(|| {
            RAN.fetch_add(100, Ordering::SeqCst);
            Ok(())
        });
        let failure = run_init_hooks().unwrap_err();
        assert_eq!(
            failure,
            Diagnostic::new("ConfigError", "TABLE_NAME is not set")
        );
        assert_eq!(RAN.load(Ordering::SeqCst), 1);
        // Run once: the hooks are gone.
        assert_eq!(run_init_hooks(), Ok(()));
    }

    #[test]
    fn state_slot_inits_once_and_keeps_a_failure_out() {
        let slot = StateSlot::new();
        let failed = slot.get_or_init(|| Err::<u32, _>("no config"));
        assert_eq!(failed.unwrap_err(), Diagnostic::new("&str", "no config"));
        assert_eq!(slot.init(|| Ok::<u32, Diagnostic>(7)), Ok(()));
        let again = slot.get_or_init(|| -> Result<u32, Diagnostic> { unreachable!("init ran") });
        assert_eq!(again, Ok(&7));
    }

    /// Writes `event` and `context` into `buffer` and runs an echo handler on them.
    fn echo_from(buffer: *mut u8, event: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        fn echo(event: serde_json::Value, _: &Context) -> Result<serde_json::Value, Diagnostic> {
            Ok(event)
        }
        // SAFETY: the caller's buffer holds at least both texts.
        let status = unsafe {
            buffer.copy_from_nonoverlapping(event.as_ptr(), event.len());
            let ctx = buffer.add(event.len());
            ctx.copy_from_nonoverlapping(context.as_ptr(), context.len());
            run_handler(echo, buffer, event.len(), ctx, context.len())
        };
        assert_eq!(status, 0);
        recorder::take().response
    }

    #[test]
    fn the_kept_event_buffer_serves_invocations_until_a_larger_one_replaces_it() {
        let (event, context) = (&br#"{"n":1}"#[..], &b"aws_request_id=r-1\n"[..]);
        let first = lambda_event_buffer(64);
        assert!(!first.is_null());
        // Not freed by the invocations (Miri would see a use after free).
        for _ in 0..3 {
            assert_eq!(echo_from(first, event, context).as_deref(), Some(event));
        }
        // The larger one replaces it (Miri: the first is freed, once).
        let second = lambda_event_buffer(4096);
        assert_eq!(echo_from(second, event, context).as_deref(), Some(event));
        // A per-event buffer from lambda_alloc is still freed by the handler.
        let per_event = lambda_alloc(event.len() + context.len());
        assert_eq!(echo_from(per_event, event, context).as_deref(), Some(event));
        // Give the kept buffer back (a zero-sized one needs no memory).
        lambda_event_buffer(0);
    }

    #[test]
    fn panics_are_reported_with_their_location_before_they_abort() {
        install_panic_hook();
        install_panic_hook(); // once: a second call adds no second report
        recorder::take();
        let line = line!() + 1;
        let panicked = std::panic::catch_unwind(|| panic!("boom {}", 7));
        assert!(panicked.is_err());
        let recorded = recorder::take();
        let (error_type, error_message) = recorded.error.expect("set_error was called");
        assert_eq!(error_type, "Panic");
        assert_eq!(
            error_message,
            format!("panicked at {}:{line}:52: boom 7", file!())
        );
        assert!(recorded.stack_trace.is_empty());
    }
}
