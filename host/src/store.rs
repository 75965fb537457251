//! What every instance of a function is made from: one `Linker` with WASI
//! and the ABI imports, an `InstancePre`, and a fresh `Store` per instance
//! carrying its sandbox, ABI state and memory limiter.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::{Engine, InstancePre, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::abi::{self, AbiState};
use crate::errors::LambdaError;
use crate::guest_kind::GuestKind;
use crate::limits::MemoryLimiter;
use crate::logs::Logger;
use crate::python::{self, PythonBridge};
use crate::sandbox::{self, Extras, Stdio};
use crate::settings::FunctionSettings;

/// The data of one guest instance's `Store`.
pub struct GuestState {
    /// The instance's WASI preview 1 context (its sandbox).
    pub wasi: WasiP1Ctx,
    /// What the guest set through the `lambda_wasm` imports.
    pub abi: AbiState,
    /// The memory cap.
    pub limiter: MemoryLimiter,
    /// The interpreter's link to the host, for Python guests.
    pub python: Option<PythonBridge>,
}

/// A linked, ready-to-instantiate function, shared by all its instances.
pub struct InstanceTemplate {
    kind: GuestKind,
    /// The function's settings.
    pub settings: Arc<FunctionSettings>,
    /// Where guest logs go.
    pub logger: Logger,
    pre: InstancePre<GuestState>,
    tmp: PathBuf,
    extras: Extras,
}

impl InstanceTemplate {
    /// Links `module` against WASI preview 1 and the ABI imports (and, for
    /// the Python interpreter, its `host::call`); `extras` widen the sandbox.
    ///
    /// An import the host does not provide is an init error naming it.
    pub fn new(
        engine: &Engine,
        module: &Module,
        kind: &GuestKind,
        settings: Arc<FunctionSettings>,
        logger: Logger,
        tmp: PathBuf,
        extras: Extras,
    ) -> Result<Self, LambdaError> {
        let pre = Self::link(engine, module, kind, &settings)?;
        Ok(Self {
            kind: kind.clone(),
            settings,
            logger,
            pre,
            tmp,
            extras,
        })
    }

    /// The same function linked again with its own `logger`: one per
    /// concurrent worker, so each keeps its own current request id.
    pub fn with_logger(&self, logger: Logger) -> Result<Self, LambdaError> {
        let module = self.pre.module();
        Ok(Self {
            kind: self.kind.clone(),
            settings: self.settings.clone(),
            logger,
            pre: Self::link(module.engine(), module, &self.kind, &self.settings)?,
            tmp: self.tmp.clone(),
            extras: self.extras.clone(),
        })
    }

    fn link(
        engine: &Engine,
        module: &Module,
        kind: &GuestKind,
        settings: &FunctionSettings,
    ) -> Result<InstancePre<GuestState>, LambdaError> {
        let link_error = |e: wasmtime::Error| {
            LambdaError::import_module(&settings.handler.module, format!("{e:#}"))
        };
        let mut linker: Linker<GuestState> = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state| &mut state.wasi)
            .map_err(link_error)?;
        abi::add_to_linker(&mut linker, |state| &mut state.abi).map_err(link_error)?;
        if *kind == GuestKind::Python {
            python::add_to_linker(&mut linker).map_err(link_error)?;
        }
        linker.instantiate_pre(module).map_err(|e| {
            LambdaError::import_module(
                &settings.handler.module,
                format!("{e:#}; a guest may import only wasi_snapshot_preview1 and lambda_wasm (docs/abi.md)"),
            )
        })
    }

    /// The linked module.
    pub fn pre(&self) -> &InstancePre<GuestState> {
        &self.pre
    }

    /// A fresh store with its own sandbox; `extra_env` is a command's context.
    pub fn new_store(
        &self,
        stdio: Stdio,
        extra_env: &[(String, String)],
    ) -> Result<Store<GuestState>, LambdaError> {
        let settings = &self.settings;
        let mut extras = self.extras.clone();
        extras.env.extend_from_slice(extra_env);
        let wasi = sandbox::wasi_ctx(settings, &self.tmp, &self.logger, &extras, stdio)
            .map_err(|e| LambdaError::new("Runtime.SandboxError", e.to_string()))?;
        let state = GuestState {
            wasi,
            abi: AbiState::new(self.logger.clone(), settings.max_response_bytes),
            limiter: MemoryLimiter::new(settings.memory_mb),
            python: None,
        };
        let mut store = Store::new(self.pre.module().engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        Ok(store)
    }
}
