//! Reactor guests (guest ABI v1, docs/abi.md): one live instance per
//! execution environment whose module-level state (globals, caches, /tmp)
//! persists across warm invocations; each event calls the handler export
//! with the event and context written into the guest's event buffer (ABI
//! 1.2, kept across invocations) or into memory from `lambda_alloc`; the
//! context in binary for a module built for ABI 1.3, else as text.

use wasmtime::{Instance, Memory, Store, TypedFunc};

use super::{GuestEnvironment, GuestReply};
use crate::abi::{
    ABI_VERSION, ALLOC_EXPORT, ContextEncoder, ContextForm, EVENT_BUFFER_EXPORT,
    MINOR_VERSION_EXPORT, VERSION_EXPORT,
};
use crate::errors::LambdaError;
use crate::fault::{self, Fault};
use crate::invocation::Call;
use crate::limits;
use crate::sandbox::Stdio;
use crate::store::{self, GuestState, InstanceTemplate};

type HandlerFunc = TypedFunc<(i32, i32, i32, i32), i32>;

/// A started reactor instance.
pub struct ReactorEnvironment {
    store: Store<GuestState<()>>,
    memory: Memory,
    buffer: EventBuffer,
    handler: HandlerFunc,
    context: ContextEncoder,
    context_form: ContextForm,
}

impl GuestEnvironment for ReactorEnvironment {
    type State = ();
    /// The handler export each event calls.
    type Entry = String;

    fn add_imports(linker: &mut wasmtime::Linker<GuestState<()>>) -> wasmtime::Result<()> {
        store::no_more_imports(linker)
    }

    /// Instantiates the guest, runs its init (`_initialize`) and checks its
    /// ABI version, as Lambda's init phase.
    async fn start(template: &InstanceTemplate<()>, export: &String) -> Result<Self, LambdaError> {
        let module_name = &template.settings.handler.module;
        let init_error = |reason: String| LambdaError::import_module(module_name, reason);
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        store::begin_init(&mut store);
        let instance = template
            .pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|e| init_error(format!("instantiation failed: {e:#}")))?;
        // `_initialize` runs before any other export is called (docs/abi.md):
        // some toolchains' exports trap until it has run (Go's runtime does).
        if let Some(initialize) = instance.get_func(&mut store, "_initialize") {
            let initialize = initialize
                .typed::<(), ()>(&store)
                .map_err(|e| init_error(format!("_initialize: {e:#}")))?;
            let called = limits::within_init(initialize.call_async(&mut store, ())).await;
            init_result(called, &mut store)
                .map_err(|failure| failure.into_init_error(module_name))?;
        }
        check_version(&mut store, &instance)
            .await
            .map_err(|failure| failure.into_init_error(module_name))?;
        let context_form = context_form(&mut store, &instance)
            .await
            .map_err(|failure| failure.into_init_error(module_name))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| init_error("the module exports no memory named \"memory\"".into()))?;
        store.data_mut().abi.set_memory(memory);
        let buffer = EventBuffer::of(&mut store, &instance).map_err(init_error)?;
        let handler = instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut store, export)
            .map_err(|_| LambdaError::handler_not_found(export, module_name))?;
        Ok(Self {
            store,
            memory,
            buffer,
            handler,
            context: ContextEncoder::new(&template.settings),
            context_form,
        })
    }

    async fn invoke(
        &mut self,
        _template: &InstanceTemplate<()>,
        call: &Call<'_>,
    ) -> Result<GuestReply, Fault> {
        let context = &call.invocation.context;
        store::begin_invocation(&mut self.store, context.deadline, call.remaining);
        let event = &call.invocation.event;
        let context_bytes = self.context.encode_as(self.context_form, context);
        let run = async {
            let (event_len, context_len) = (event.len(), context_bytes.len());
            let total = i32::try_from(event_len + context_len).map_err(|_| {
                wasmtime::format_err!("the event of {event_len} bytes does not fit a 32-bit guest")
            })?;
            let ptr = self.buffer.place(&mut self.store, total).await?;
            let base = ptr as u32 as usize;
            let memory = self.memory;
            memory
                .write(&mut self.store, base, event)
                .and_then(|()| {
                    memory.write(&mut self.store, base + event_len, context_bytes)
                })
                .map_err(|_| {
                    wasmtime::format_err!(
                        "{} returned {ptr:#x}, but the invocation's {total} bytes there run past the guest's {} bytes of memory",
                        self.buffer.export(),
                        memory.data_size(&self.store)
                    )
                })?;
            let args = (
                ptr,
                event_len as i32,
                ptr.wrapping_add(event_len as i32),
                context_len as i32,
            );
            self.handler.call_async(&mut self.store, args).await
        };
        let status = match limits::until_deadline(call.remaining, run).await.ok() {
            Some(Ok(status)) => status,
            Some(Err(error)) => {
                let evidence = self.store.data_mut().take_evidence();
                return Err(Fault(fault::classify(&error, call, evidence)));
            }
            None => return Err(Fault(call.timed_out())),
        };
        let result = self.store.data_mut().abi.take_result();
        if status == 0 {
            return Ok(GuestReply::Response(result.response));
        }
        Ok(GuestReply::Error(
            result
                .error
                .filter(|e| !e.error_type.is_empty())
                .unwrap_or_else(|| {
                    LambdaError::protocol(format!(
                        "the handler returned status {status} without calling set_error"
                    ))
                }),
        ))
    }

    fn peak_memory_bytes(&self) -> usize {
        self.store.data().limiter.peak_bytes()
    }
}

/// Where each invocation's event and context are written.
enum EventBuffer {
    /// ABI 1.0 and 1.1: a new buffer from `lambda_alloc` for every event,
    /// which the guest's handler frees.
    PerEvent { alloc: TypedFunc<i32, i32> },
    /// ABI 1.2: the buffer the guest keeps (`lambda_event_buffer`), asked
    /// for again only when an invocation needs more than `capacity` bytes.
    /// It saves a guest call, and the guest a malloc and free, per event.
    Kept {
        reserve: TypedFunc<i32, i32>,
        ptr: i32,
        capacity: i32,
    },
}

/// The least a kept event buffer is asked for: most events and their
/// context fit, so the guest is asked once per environment.
const MIN_KEPT_BUFFER_BYTES: i32 = 64 * 1024;

impl EventBuffer {
    /// The module's kept buffer when it exports one, else `lambda_alloc`.
    fn of(store: &mut Store<GuestState<()>>, instance: &Instance) -> Result<Self, String> {
        if let Ok(reserve) = instance.get_typed_func::<i32, i32>(&mut *store, EVENT_BUFFER_EXPORT) {
            return Ok(Self::Kept {
                reserve,
                ptr: 0,
                capacity: 0,
            });
        }
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut *store, ALLOC_EXPORT)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Self::PerEvent { alloc })
    }

    /// The export that hands out the buffer, for error messages.
    fn export(&self) -> &'static str {
        match self {
            Self::PerEvent { .. } => ALLOC_EXPORT,
            Self::Kept { .. } => EVENT_BUFFER_EXPORT,
        }
    }

    /// A guest pointer to `total` bytes for this invocation's event and
    /// context (checked against memory when they are written).
    async fn place(
        &mut self,
        store: &mut Store<GuestState<()>>,
        total: i32,
    ) -> wasmtime::Result<i32> {
        let export = self.export();
        let (func, asked) = match &*self {
            Self::Kept { ptr, capacity, .. } if total <= *capacity => return Ok(*ptr),
            Self::Kept { reserve, .. } => (reserve, total.max(MIN_KEPT_BUFFER_BYTES)),
            Self::PerEvent { alloc } => (alloc, total),
        };
        let ptr = func.call_async(&mut *store, asked).await?;
        if ptr == 0 {
            wasmtime::bail!("{export}({asked}) returned 0: the guest could not allocate the event");
        }
        if let Self::Kept {
            ptr: kept,
            capacity,
            ..
        } = self
        {
            (*kept, *capacity) = (ptr, asked);
        }
        Ok(ptr)
    }
}

/// Refuses a module whose `lambda_abi_version` is not this host's.
async fn check_version(
    store: &mut Store<GuestState<()>>,
    instance: &Instance,
) -> Result<(), InitFailure> {
    let version = instance
        .get_typed_func::<(), i32>(&mut *store, VERSION_EXPORT)
        .map_err(|e| InitFailure::reason(format!("{e:#}")))?;
    let called = limits::within_init(version.call_async(&mut *store, ())).await;
    let guest_version = init_result(called, store)?;
    if guest_version != ABI_VERSION {
        return Err(InitFailure::reason(format!(
            "the module speaks guest ABI version {guest_version}; this host speaks version {ABI_VERSION} (docs/abi.md)"
        )));
    }
    Ok(())
}

/// The context form the module asks for with `lambda_abi_minor_version`
/// (ABI 1.3), read once at init: text for a module without that export.
async fn context_form(
    store: &mut Store<GuestState<()>>,
    instance: &Instance,
) -> Result<ContextForm, InitFailure> {
    let Some(export) = instance.get_func(&mut *store, MINOR_VERSION_EXPORT) else {
        return Ok(ContextForm::Text);
    };
    let minor_version = export.typed::<(), i32>(&*store).map_err(|e| {
        InitFailure::reason(format!("{MINOR_VERSION_EXPORT} must be () -> i32: {e:#}"))
    })?;
    let called = limits::within_init(minor_version.call_async(&mut *store, ())).await;
    Ok(ContextForm::for_minor_version(init_result(called, store)?))
}

/// Why a call made during init failed, and what the guest reported first.
struct InitFailure {
    reason: String,
    guest_error: Option<LambdaError>,
}

impl InitFailure {
    /// A failure the host found, not one the guest reported.
    fn reason(reason: String) -> Self {
        Self {
            reason,
            guest_error: None,
        }
    }

    /// The init error: the one the guest reported (an SDK's failed init
    /// hook sets an error, then traps), else an import error saying why.
    fn into_init_error(self, module: &str) -> LambdaError {
        self.guest_error
            .unwrap_or_else(|| LambdaError::import_module(module, self.reason))
    }
}

/// The outcome of a call made during init and bounded by
/// [`limits::within_init`] (`None`: out of time).
fn init_result<R>(
    called: Option<wasmtime::Result<R>>,
    store: &mut Store<GuestState<()>>,
) -> Result<R, InitFailure> {
    match called {
        Some(Ok(value)) => Ok(value),
        Some(Err(error)) => Err(InitFailure {
            reason: format!("init failed: {}", fault::describe(&error)),
            guest_error: store.data_mut().take_evidence().guest_error,
        }),
        None => Err(InitFailure::reason(limits::init_timed_out())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::engine::HostEngine;
    use crate::function::Function;
    use crate::invocation::{Invocation, Outcome};
    use crate::logs::{LogConfig, Logger};
    use crate::settings::FunctionSettings;

    /// A reactor whose answer is how often the host called `export` (one
    /// digit), which it counts; `extra` adds exports.
    fn counting(export: &str, extra: &str) -> String {
        format!(
            r#"(module
            (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
            (memory (export "memory") 2)
            (global $asked (mut i32) (i32.const 0))
            (func (export "lambda_abi_version") (result i32) i32.const 1)
            (func (export "{export}") (param i32) (result i32)
                (global.set $asked (i32.add (global.get $asked) (i32.const 1)))
                i32.const 1024)
            {extra}
            (func (export "handler") (param i32 i32 i32 i32) (result i32)
                (i32.store8 (i32.const 16) (i32.add (i32.const 48) (global.get $asked)))
                (call $set_response (i32.const 16) (i32.const 1))
                i32.const 0))"#
        )
    }

    /// The answers to events of these sizes, in order, from one environment.
    async fn answers(wat: &str, event_sizes: &[usize]) -> Vec<String> {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("m.wasm"), wat::parse_str(wat).unwrap()).unwrap();
        let settings = FunctionSettings::for_test("m.handler", root.path());
        let logger = Logger::to_writer(LogConfig::default(), Box::new(std::io::sink()));
        let engine = HostEngine::new().unwrap();
        let mut function = Function::load_with_engine(&engine, settings, logger)
            .await
            .unwrap();
        let mut answers = Vec::new();
        for &size in event_sizes {
            let event = serde_json::to_vec(&"x".repeat(size - 2)).unwrap();
            let invocation = Invocation {
                event: event.into(),
                ..Invocation::for_test(b"", Duration::from_secs(3))
            };
            match function.invoke(&invocation).await {
                Outcome::Response(json) => answers.push(json.get().to_string()),
                Outcome::Error(error) => panic!("{error:?}"),
            }
        }
        answers
    }

    /// A reactor that answers 1 when the context it got is binary (starts
    /// with `\0`), else 0; `extra` adds exports.
    fn context_form_probe(extra: &str) -> String {
        format!(
            r#"(module
            (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
            (memory (export "memory") 2)
            (func (export "lambda_abi_version") (result i32) i32.const 1)
            (func (export "lambda_alloc") (param i32) (result i32) i32.const 1024)
            {extra}
            (func (export "handler") (param i32 i32 i32 i32) (result i32)
                (i32.store8 (i32.const 16)
                    (i32.add (i32.const 48) (i32.eqz (i32.load8_u (local.get 2)))))
                (call $set_response (i32.const 16) (i32.const 1))
                i32.const 0))"#
        )
    }

    /// ABI 1.3: a module whose `lambda_abi_minor_version` returns 3 or more
    /// gets the binary context; one without the export (1.0 to 1.2) or
    /// returning less keeps getting the text.
    #[tokio::test(flavor = "current_thread")]
    async fn only_a_module_built_for_1_3_gets_the_binary_context() {
        let minor = |n: i32| {
            format!(r#"(func (export "lambda_abi_minor_version") (result i32) i32.const {n})"#)
        };
        assert_eq!(
            answers(&context_form_probe(""), &[10, 10]).await,
            ["0", "0"]
        );
        assert_eq!(answers(&context_form_probe(&minor(2)), &[10]).await, ["0"]);
        assert_eq!(
            answers(&context_form_probe(&minor(3)), &[10, 10]).await,
            ["1", "1"]
        );
        assert_eq!(answers(&context_form_probe(&minor(4)), &[10]).await, ["1"]);
    }

    /// A module of ABI 1.0/1.1 shape gets a new `lambda_alloc` buffer per event.
    #[tokio::test(flavor = "current_thread")]
    async fn without_a_kept_buffer_every_event_calls_lambda_alloc() {
        let wat = counting("lambda_alloc", "");
        assert_eq!(answers(&wat, &[10, 10, 10]).await, ["1", "2", "3"]);
    }

    /// ABI 1.2: the kept buffer is asked for once (at least 64 KiB), and
    /// again only for an event that does not fit; `lambda_alloc` is not called.
    #[tokio::test(flavor = "current_thread")]
    async fn a_kept_buffer_is_asked_for_again_only_when_an_event_does_not_fit() {
        let never_called = r#"(func (export "lambda_alloc") (param i32) (result i32) unreachable)"#;
        let wat = counting("lambda_event_buffer", never_called);
        let sizes = [10, 60_000, 10, 70_000, 70_000, 10];
        assert_eq!(answers(&wat, &sizes).await, ["1", "1", "1", "2", "2", "2"]);
    }
}
