//! What every instance of a function is made from: one `Linker` with WASI,
//! the ABI imports and the guest kind's own, an `InstancePre`, and a fresh
//! `Store` per instance carrying its sandbox, ABI state and memory limiter.
//!
//! The store's data is generic over what a guest kind adds (`T`), as Spin's
//! `Data<T>`: the plumbing here never names a guest kind; each kind projects
//! its part with `|state| &mut state.kind`, as wasmtime's `p1::add_to_linker`
//! projects WASI.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmtime::{AsContextMut, Engine, InstancePre, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::abi::{self, AbiState};
use crate::engine::split::rest::{self, LateRest, RestLink};
use crate::errors::LambdaError;
use crate::fault::Evidence;
use crate::limits::{self, MemoryLimiter};
use crate::logs::Logger;
use crate::outbound::Outbound;
use crate::sandbox::{self, Extras, Stdio};
use crate::settings::FunctionSettings;

/// The data of one guest instance's `Store`.
pub struct GuestState<T> {
    /// The instance's WASI preview 1 context (its sandbox).
    pub wasi: WasiP1Ctx,
    /// What the guest set through the `lambda_wasm` imports.
    pub abi: AbiState,
    /// The memory cap.
    pub limiter: MemoryLimiter,
    /// When the running Wasm code traps (the current invocation's or init's deadline).
    pub stop_at: Instant,
    /// What the guest kind keeps per instance (an interpreter's link to the host).
    pub kind: T,
    /// A split module's rest, for this store.
    pub rest: Option<RestLink>,
}

impl<T> GuestState<T> {
    /// What the store knows after a failed call: a refused grow, and the
    /// error the guest reported before failing.
    pub fn take_evidence(&mut self) -> Evidence {
        Evidence {
            memory_refused: self.limiter.refused(),
            guest_error: self
                .abi
                .take_result()
                .error
                .filter(|error| !error.error_type.is_empty()),
        }
    }
}

/// Adds a guest kind's own imports to a linker.
pub type AddImports<T> = fn(&mut Linker<GuestState<T>>) -> wasmtime::Result<()>;

/// A linked, ready-to-instantiate function, shared by all its instances.
pub struct InstanceTemplate<T> {
    /// The function's settings.
    pub settings: Arc<FunctionSettings>,
    /// Where guest logs go.
    pub logger: Logger,
    pre: InstancePre<GuestState<T>>,
    add_imports: AddImports<T>,
    tmp: PathBuf,
    extras: Extras,
    outbound: Arc<Outbound>,
}

impl<T: Default + Send + 'static> InstanceTemplate<T> {
    /// Links `module` against WASI preview 1, the ABI imports and the kind's
    /// own (`add_imports`); `extras` widen the sandbox.
    ///
    /// An import the host does not provide is an init error naming it.
    pub fn new(
        module: &Module,
        add_imports: AddImports<T>,
        settings: Arc<FunctionSettings>,
        logger: Logger,
        tmp: PathBuf,
        extras: Extras,
    ) -> Result<Self, LambdaError> {
        check_memory_fits(module, &settings)?;
        let pre = link(module.engine(), module, add_imports, &settings)?;
        let outbound = Outbound::new(&settings.outbound);
        Ok(Self {
            settings,
            logger,
            pre,
            add_imports,
            tmp,
            extras,
            outbound,
        })
    }

    /// The same function linked again with its own `logger`: one per
    /// concurrent worker, so each keeps its own current request id.
    pub fn with_logger(&self, logger: Logger) -> Result<Self, LambdaError> {
        let module = self.pre.module();
        Ok(Self {
            settings: self.settings.clone(),
            logger,
            pre: link(module.engine(), module, self.add_imports, &self.settings)?,
            add_imports: self.add_imports,
            tmp: self.tmp.clone(),
            extras: self.extras.clone(),
            outbound: self.outbound.clone(),
        })
    }

    /// The linked module.
    pub fn pre(&self) -> &InstancePre<GuestState<T>> {
        &self.pre
    }

    /// A fresh store with its own sandbox; `extra_env` is a command's context.
    pub fn new_store(
        &self,
        stdio: Stdio,
        extra_env: &[(String, String)],
    ) -> Result<Store<GuestState<T>>, LambdaError> {
        let settings = &self.settings;
        let mut extras = self.extras.clone();
        extras.env.extend_from_slice(extra_env);
        let wasi = sandbox::wasi_ctx(settings, &self.tmp, &self.logger, &extras, stdio)
            .map_err(|e| LambdaError::sandbox(e.to_string()))?;
        let state = GuestState {
            wasi,
            abi: AbiState::new(
                self.logger.clone(),
                settings.max_response_bytes,
                self.outbound.clone(),
            ),
            limiter: MemoryLimiter::new(settings.memory_mb),
            stop_at: Instant::now(),
            kind: T::default(),
            rest: self.extras.rest.clone().map(RestLink::new),
        };
        let mut store = Store::new(self.pre.module().engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|store| Ok(limits::on_epoch_tick(store.data().stop_at)));
        Ok(store)
    }
}

/// An init error naming the setting to raise when the module's initial
/// linear memory is larger than the function's memory size (wasmtime's own
/// "memory minimum size of 17 pages exceeds memory limits" names neither).
fn check_memory_fits(module: &Module, settings: &FunctionSettings) -> Result<(), LambdaError> {
    const MIB: u64 = 1024 * 1024;
    let needed_bytes = module
        .exports()
        .filter_map(|export| export.ty().memory().cloned())
        .map(|memory| memory.minimum().saturating_mul(memory.page_size()))
        .max()
        .unwrap_or(0);
    let needed_mb = needed_bytes.div_ceil(MIB);
    if needed_mb <= u64::from(settings.memory_mb) {
        return Ok(());
    }
    Err(LambdaError::import_module(
        &settings.handler.module,
        format!(
            "the Wasm module that runs it needs at least {needed_mb} MB of memory to start (its initial linear memory is {needed_bytes} bytes), more than the function's memory size of {} MB: raise the memory size (--memory in test mode; the function's MemorySize, AWS_LAMBDA_FUNCTION_MEMORY_SIZE, under the bootstrap)",
            settings.memory_mb
        ),
    ))
}

fn link<T: Send + 'static>(
    engine: &Engine,
    module: &Module,
    add_imports: AddImports<T>,
    settings: &FunctionSettings,
) -> Result<InstancePre<GuestState<T>>, LambdaError> {
    let link_error =
        |e: wasmtime::Error| LambdaError::import_module(&settings.handler.module, format!("{e:#}"));
    let mut linker: Linker<GuestState<T>> = Linker::new(engine);
    sandbox::add_wasi_to_linker(&mut linker, |state| &mut state.wasi).map_err(link_error)?;
    abi::add_to_linker(&mut linker, |state| &mut state.abi).map_err(link_error)?;
    add_imports(&mut linker).map_err(link_error)?;
    if LateRest::needed_by(module) {
        rest::add_to_linker(&mut linker, |state| state.rest.as_mut()).map_err(link_error)?;
    }
    linker.instantiate_pre(module).map_err(|e| {
        LambdaError::import_module(
            &settings.handler.module,
            format!(
                "{e:#}; a guest may import only wasi_snapshot_preview1 and lambda_wasm (docs/abi.md)"
            ),
        )
    })
}

/// Arms a store for one invocation ending at `deadline` (`remaining` from
/// now): the ABI's result and deadline, the limiter's memory of a refused
/// grow, and the epoch deadline. Every guest kind starts its calls here.
pub fn begin_invocation<T: 'static>(
    mut store: impl AsContextMut<Data = GuestState<T>>,
    deadline: SystemTime,
    remaining: Duration,
) {
    let mut store = store.as_context_mut();
    let state = store.data_mut();
    state.abi.begin(deadline);
    state.limiter.reset_refused();
    stop_at(store, remaining);
}

/// Arms a store for the init phase: at most [`limits::INIT_TIMEOUT`]
/// (outbound requests made at init end by then too).
pub fn begin_init<T: 'static>(store: &mut Store<GuestState<T>>) {
    store
        .data_mut()
        .abi
        .begin(SystemTime::now() + limits::INIT_TIMEOUT);
    stop_at(store.as_context_mut(), limits::INIT_TIMEOUT);
}

/// Makes the store's Wasm code trap `remaining` from now, checked at every
/// epoch tick ([`limits::on_epoch_tick`]).
fn stop_at<T: 'static>(
    mut store: wasmtime::StoreContextMut<'_, GuestState<T>>,
    remaining: Duration,
) {
    store.data_mut().stop_at = Instant::now() + remaining;
    store.set_epoch_deadline(1);
}

/// No imports beyond WASI and the ABI's: reactors and commands.
pub fn no_more_imports<T>(_: &mut Linker<GuestState<T>>) -> wasmtime::Result<()> {
    Ok(())
}
