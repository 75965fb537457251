//! `lambda-wasm prepare-python`: compiles the runtime glue to bytecode with
//! the interpreter itself, then snapshots the interpreter with that glue
//! loaded ([`super::PREINIT`]), a build step (`make python`, `package`) so that
//! cold starts neither parse nor run it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{
    PYTHON, PYTHON_ARGV0, RUNTIME_PY, is_runtime_pyc, load_interpreter_from, runtime_pyc_path,
};
use crate::guest::interpreter::prepare::{self, Scratch};
use crate::guest::interpreter::run_interpreter;
use crate::sandbox::Stdio;
use crate::settings::LAMBDA_TASK_ROOT;
use crate::store;

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
    let step = BuildStep::new(home, None)?;
    step.run(RUNTIME_COMPILER, &["/tmp/runtime.pyc", RUNTIME_PY])
        .await
        .context("the interpreter could not compile the runtime glue")?;
    let compiled = step.tmp().join("runtime.pyc");
    if !compiled.is_file() {
        anyhow::bail!("the interpreter wrote no runtime bytecode; see its output above");
    }
    let pyc = install_runtime_pyc(&compiled, &runtime_pyc_path(home))?;
    let snapshot = prepare::runtime_snapshot(
        &PYTHON,
        &step.engine,
        &step.scratch.settings,
        step.scratch.tmp.clone(),
    )
    .await?;
    Ok(vec![pyc, snapshot])
}

/// The interpreter in a home, run as `python -c` for a build step over a
/// task root (read-only, at `/var/task` as under the bootstrap), with a
/// scratch `/tmp` for what the step writes (kept while the step lives).
pub(super) struct BuildStep {
    engine: wasmtime::Engine,
    scratch: Scratch,
}

impl BuildStep {
    /// A step with the interpreter in `home` over `task_root` (an empty
    /// one when `None`).
    pub fn new(home: &Path, task_root: Option<&Path>) -> anyhow::Result<Self> {
        let mut scratch = match task_root {
            Some(task_root) => Scratch::over("runtime.prepare", task_root)?,
            None => Scratch::new("runtime.prepare")?,
        };
        scratch.settings.python_home = home.to_path_buf();
        scratch.settings.guest_task_root = LAMBDA_TASK_ROOT.into();
        Ok(Self {
            engine: crate::engine::new_engine()?,
            scratch,
        })
    }

    /// The host folder the guest sees as `/tmp`.
    pub fn tmp(&self) -> &Path {
        &self.scratch.tmp
    }

    /// Runs `script` with `args` (`sys.argv[1:]`) to its end; an error
    /// unless it exits with status 0 (its output went to stderr).
    pub async fn run(&self, script: &str, args: &[&str]) -> anyhow::Result<()> {
        let settings = &self.scratch.settings;
        let (module, mut extras) =
            load_interpreter_from(&self.engine, settings, &settings.python_home)?;
        extras.args = [PYTHON_ARGV0, "-c", script]
            .into_iter()
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let template =
            prepare::template(&module, settings.clone(), self.tmp().to_path_buf(), extras)?;
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
