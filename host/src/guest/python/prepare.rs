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
    let scratch = Scratch::new("runtime.prepare")?;
    let mut settings = scratch.settings.clone();
    settings.python_home = home.to_path_buf();
    let engine = crate::engine::new_engine()?;
    let (module, mut extras) = load_interpreter_from(&engine, &settings, home)?;
    extras.args = [
        PYTHON_ARGV0,
        "-c",
        RUNTIME_COMPILER,
        "/tmp/runtime.pyc",
        RUNTIME_PY,
    ]
    .map(String::from)
    .to_vec();
    let template = prepare::template(&module, settings, scratch.tmp.clone(), extras)?;
    let mut store = template.new_store(Stdio::Reactor, &[])?;
    store::begin_init(&mut store);
    let status = run_interpreter(template.pre(), &mut store, None)
        .await
        .map_err(|e| anyhow::anyhow!("the interpreter failed: {}", crate::fault::describe(&e)))?;
    let compiled = scratch.tmp.join("runtime.pyc");
    if status != 0 || !compiled.is_file() {
        anyhow::bail!(
            "the interpreter could not compile the runtime glue (exit status {status}); see its output above"
        );
    }
    let pyc = install_runtime_pyc(&compiled, &runtime_pyc_path(home))?;
    let snapshot =
        prepare::runtime_snapshot(&PYTHON, &engine, &template.settings, scratch.tmp.clone())
            .await?;
    Ok(vec![pyc, snapshot])
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
