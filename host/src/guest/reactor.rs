//! Reactor guests (guest ABI v1, docs/abi.md): one live instance per
//! execution environment whose module-level state (globals, caches, /tmp)
//! persists across warm invocations; each event calls the handler export
//! with the event and context written into memory from `lambda_alloc`.

use wasmtime::{Instance, Memory, Store, TypedFunc};

use super::{GuestEnvironment, GuestReply};
use crate::abi::{ABI_VERSION, ALLOC_EXPORT, ContextEncoder, VERSION_EXPORT};
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
    alloc: TypedFunc<i32, i32>,
    handler: HandlerFunc,
    context: ContextEncoder,
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
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| init_error("the module exports no memory named \"memory\"".into()))?;
        store.data_mut().abi.set_memory(memory);
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, ALLOC_EXPORT)
            .map_err(|e| init_error(format!("{e:#}")))?;
        let handler = instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut store, export)
            .map_err(|_| LambdaError::handler_not_found(export, module_name))?;
        Ok(Self {
            store,
            memory,
            alloc,
            handler,
            context: ContextEncoder::new(&template.settings),
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
        let context_text = self.context.encode(context);
        let run = async {
            let (event_len, context_len) = (event.len(), context_text.len());
            let total = i32::try_from(event_len + context_len).map_err(|_| {
                wasmtime::format_err!("the event of {event_len} bytes does not fit a 32-bit guest")
            })?;
            let ptr = self.alloc.call_async(&mut self.store, total).await?;
            if ptr == 0 {
                wasmtime::bail!(
                    "lambda_alloc({total}) returned 0: the guest could not allocate the event"
                );
            }
            let base = ptr as u32 as usize;
            let memory = self.memory;
            memory
                .write(&mut self.store, base, event)
                .and_then(|()| {
                    memory.write(&mut self.store, base + event_len, context_text.as_bytes())
                })
                .map_err(|_| {
                    wasmtime::format_err!(
                        "lambda_alloc({total}) returned {ptr:#x}, but {total} bytes there run past the guest's {} bytes of memory",
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
