//! One execution environment of a reactor guest: a live instance whose
//! module-level state (globals, caches, /tmp) persists across warm
//! invocations, discarded after a fault.

use std::time::Duration;

use wasmtime::{Memory, Store, TypedFunc};

use crate::abi::{ABI_VERSION, ALLOC_EXPORT, ContextEncoder, VERSION_EXPORT};
use crate::errors::LambdaError;
use crate::fault::{self, FaultContext};
use crate::invocation::{Invocation, Outcome};
use crate::limits::{BLOCKED_CALL_GRACE, ticks_for};
use crate::response;
use crate::sandbox::Stdio;
use crate::store::{GuestState, InstanceTemplate};

/// Lambda's limit on a function's init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

type HandlerFunc = TypedFunc<(i32, i32, i32, i32), i32>;

/// A started reactor instance.
pub struct Environment {
    store: Store<GuestState>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    handler: HandlerFunc,
    context: ContextEncoder,
}

/// The instance can no longer be trusted: the caller must discard it.
#[derive(Debug)]
pub struct Fault(pub LambdaError);

impl Environment {
    /// Instantiates the guest and runs its init (`_initialize`), as Lambda's init phase.
    pub async fn start(template: &InstanceTemplate, export: &str) -> Result<Self, LambdaError> {
        let module_name = &template.settings.handler.module;
        let init_error = |reason: String| LambdaError::import_module(module_name, reason);
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        store.set_epoch_deadline(ticks_for(INIT_TIMEOUT));
        let instance = template
            .pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|e| init_error(format!("instantiation failed: {e:#}")))?;
        let func = |store: &mut Store<GuestState>, name: &str| instance.get_func(&mut *store, name);

        let version = func(&mut store, VERSION_EXPORT)
            .expect("GuestKind::detect checked the version export")
            .typed::<(), i32>(&store)
            .map_err(|e| init_error(format!("{e:#}")))?;
        // `_initialize` runs before any other export is called (docs/abi.md):
        // some toolchains' exports trap until it has run (Go's runtime does).
        if let Some(initialize) = func(&mut store, "_initialize") {
            let initialize = initialize
                .typed::<(), ()>(&store)
                .map_err(|e| init_error(format!("_initialize: {e:#}")))?;
            call_in_init(initialize.call_async(&mut store, ()))
                .await
                .map_err(&init_error)?;
        }
        let guest_version = call_in_init(version.call_async(&mut store, ()))
            .await
            .map_err(&init_error)?;
        if guest_version != ABI_VERSION {
            return Err(init_error(format!(
                "the module speaks guest ABI version {guest_version}; this host speaks version {ABI_VERSION} (docs/abi.md)"
            )));
        }
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

    /// Runs one invocation. `Ok` is a result to send (response or function
    /// error); `Err` is a fault after which this instance must be discarded.
    pub async fn invoke(
        &mut self,
        template: &InstanceTemplate,
        invocation: &Invocation,
    ) -> Result<Outcome, Fault> {
        let settings = &template.settings;
        let context = &invocation.context;
        let remaining = context.remaining();
        let fault_context = |store: &Store<GuestState>| FaultContext {
            request_id: &context.request_id,
            timeout_secs: remaining.as_secs_f64(),
            memory_refused: store.data().limiter.refused(),
            memory_mb: settings.memory_mb,
        };

        self.store.data_mut().abi.begin(context.deadline);
        self.store.data_mut().limiter.reset_refused();
        self.store.set_epoch_deadline(ticks_for(remaining));

        let context_text = self.context.encode(context);
        let call = async {
            let (event_len, context_len) = (invocation.event.len(), context_text.len());
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
                .write(&mut self.store, base, &invocation.event)
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
        // Timeout polls the call before its timer: a call that never blocks
        // in a host call never registers the timer.
        let status = match tokio::time::timeout(remaining + BLOCKED_CALL_GRACE, call).await {
            Ok(Ok(status)) => status,
            Ok(Err(error)) => {
                return Err(Fault(fault::classify(&error, &fault_context(&self.store))));
            }
            Err(_elapsed) => {
                return Err(Fault(LambdaError::timed_out(
                    &context.request_id,
                    remaining.as_secs_f64(),
                )));
            }
        };

        let result = self.store.data_mut().abi.take_result();
        if status == 0 {
            return Ok(
                match response::validate(result.response, settings.max_response_bytes) {
                    Ok(json) => Outcome::Response(json),
                    Err(error) => Outcome::Error(error),
                },
            );
        }
        Ok(Outcome::Error(
            result
                .error
                .filter(|e| !e.error_type.is_empty())
                .unwrap_or_else(|| {
                    LambdaError::new(
                        "Runtime.HandlerError",
                        format!("the handler returned status {status} without calling set_error"),
                    )
                }),
        ))
    }

    /// The largest linear memory this instance has had, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.store.data().limiter.peak_bytes()
    }
}

/// Awaits a call made during init, bounded by [`INIT_TIMEOUT`].
async fn call_in_init<R>(
    call: impl std::future::Future<Output = wasmtime::Result<R>>,
) -> Result<R, String> {
    match tokio::time::timeout(INIT_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("init failed: {}", fault::describe(&error))),
        Err(_) => Err(format!(
            "init did not finish within {} seconds",
            INIT_TIMEOUT.as_secs()
        )),
    }
}
