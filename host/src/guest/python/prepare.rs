//! `lambda-wasm prepare-python`: compiles the runtime glue to bytecode with
//! the interpreter itself, then snapshots the interpreter with that glue
//! loaded ([`PREINIT`]), a build step (`make python`, `package`) so that
//! cold starts neither parse nor run it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::{
    PREINIT, PYTHON_ARGV0, RUNTIME_PY, is_runtime_pyc, load_interpreter, load_interpreter_from,
    runtime_pyc_path,
};
use crate::guest::interpreter::bridge::{self, InterpreterState};
use crate::guest::interpreter::run_interpreter;
use crate::limits::INIT_TIMEOUT;
use crate::logs::Logger;
use crate::response::DEFAULT_MAX_RESPONSE_BYTES;
use crate::sandbox::Stdio;
use crate::settings::{FunctionSettings, LAMBDA_TASK_ROOT, LocalOptions};
use crate::store::{self, InstanceTemplate};

/// What the interpreter runs to compile `argv[2]` as `-c` would (file name
/// `<string>`, which the runtime's tracebacks rely on) and write the magic
/// number and the marshalled code to `argv[1]`.
const RUNTIME_COMPILER: &str = r#"import sys, marshal
code = compile(sys.argv[2], "<string>", "exec")
with open(sys.argv[1], "wb") as f:
    f.write(sys.modules["_frozen_importlib_external"].MAGIC_NUMBER + marshal.dumps(code))
"#;

/// Compiles the runtime glue to bytecode with the interpreter in `home`,
/// writes it to [`runtime_pyc_path`] (removing other hosts' bytecode there),
/// then writes the interpreter's snapshot; returns the files written.
pub async fn prepare_runtime(home: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let task_root = scratch.path().join("task");
    std::fs::create_dir(&task_root)
        .with_context(|| format!("cannot create {}", task_root.display()))?;
    let step = BuildStep::new(home, &task_root, scratch.path())?;
    step.run(RUNTIME_COMPILER, &["/tmp/runtime.pyc", RUNTIME_PY])
        .await
        .context("the interpreter could not compile the runtime glue")?;
    let compiled = step.tmp.join("runtime.pyc");
    if !compiled.is_file() {
        anyhow::bail!("the interpreter wrote no runtime bytecode; see its output above");
    }
    let pyc = install_runtime_pyc(&compiled, &runtime_pyc_path(home))?;
    let snapshot = take_snapshot(&step.engine, &step.settings, step.tmp).await?;
    Ok(vec![pyc, snapshot])
}

/// The interpreter in a home, run as `python -c` for a build step over a
/// task root (read-only, at `/var/task` as under the bootstrap), with a
/// scratch `/tmp` for what the step writes.
pub(super) struct BuildStep {
    engine: wasmtime::Engine,
    settings: FunctionSettings,
    /// The host folder the guest sees as `/tmp`.
    pub tmp: PathBuf,
}

impl BuildStep {
    /// A step with the interpreter in `home` over `task_root`; its `/tmp`
    /// is a new folder in `scratch`.
    pub fn new(home: &Path, task_root: &Path, scratch: &Path) -> anyhow::Result<Self> {
        let tmp = scratch.join("tmp");
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut settings = FunctionSettings::local(&LocalOptions {
            handler: "runtime.prepare".into(),
            task_root: task_root.to_path_buf(),
            timeout: INIT_TIMEOUT,
            memory_mb: 1024,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            python_home: Some(home.to_path_buf()),
            ..LocalOptions::default()
        })?;
        settings.guest_task_root = LAMBDA_TASK_ROOT.into();
        Ok(Self {
            engine: crate::engine::new_engine()?,
            settings,
            tmp,
        })
    }

    /// Runs `script` with `args` (`sys.argv[1:]`) to its end; an error
    /// unless it exits with status 0 (its output went to stderr).
    pub async fn run(&self, script: &str, args: &[&str]) -> anyhow::Result<()> {
        let home = &self.settings.python_home;
        let (module, mut extras) = load_interpreter_from(&self.engine, &self.settings, home)?;
        extras.args = [PYTHON_ARGV0, "-c", script]
            .into_iter()
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let template =
            interpreter_template(&module, self.settings.clone(), self.tmp.clone(), extras)?;
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        store::begin_init(&mut store);
        let status = run_interpreter(template.pre(), &mut store, None)
            .await
            .map_err(|e| {
                anyhow::anyhow!("the interpreter failed: {}", crate::fault::describe(&e))
            })?;
        if status != 0 {
            anyhow::bail!("the interpreter exited with status {status}; see its output above");
        }
        Ok(())
    }
}

/// Snapshots the interpreter with the glue loaded, in a sandbox laid out as
/// the bootstrap's: [`load_interpreter`]'s extras, the task root at
/// `/var/task`.
async fn take_snapshot(
    engine: &wasmtime::Engine,
    settings: &FunctionSettings,
    tmp: PathBuf,
) -> anyhow::Result<PathBuf> {
    let mut settings = settings.clone();
    settings.guest_task_root = LAMBDA_TASK_ROOT.into();
    let (module, extras) = load_interpreter(engine, &settings)?;
    let template = interpreter_template(&module, settings, tmp, extras)?;
    PREINIT
        .prepare(&template)
        .await
        .map_err(|e| anyhow::anyhow!("cannot snapshot the interpreter: {e:#}"))
}

/// The interpreter linked for a build step, logging to stderr.
fn interpreter_template(
    module: &wasmtime::Module,
    settings: FunctionSettings,
    tmp: PathBuf,
    extras: crate::sandbox::Extras,
) -> Result<InstanceTemplate<InterpreterState>, crate::errors::LambdaError> {
    let logger = Logger::to_stderr(settings.log);
    InstanceTemplate::new(
        module,
        bridge::add_to_linker,
        Arc::new(settings),
        logger,
        tmp,
        extras,
    )
}

/// Moves `compiled` to `target` and removes other runtime bytecode beside it.
fn install_runtime_pyc(compiled: &Path, target: &Path) -> anyhow::Result<PathBuf> {
    let lib = target.parent().expect("the bytecode lives in lib/");
    for entry in std::fs::read_dir(lib).with_context(|| format!("cannot list {}", lib.display()))? {
        let old = entry?.path();
        if is_runtime_pyc(&old) && old != target {
            std::fs::remove_file(&old)
                .with_context(|| format!("cannot remove {}", old.display()))?;
        }
    }
    let partial = target.with_extension("pyc.partial");
    std::fs::copy(compiled, &partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    Ok(target.to_path_buf())
}
