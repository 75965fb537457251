//! Bytecode for a task root's Python files, compiled at `package` time by
//! the guest's own CPython (its magic number and `cpython-315` tag; the
//! host's python3 is another version), so that a cold start does not
//! compile vendored libraries such as botocore from source: the task root
//! is read-only at `/var/task`, so the interpreter can never cache it there
//! itself (and `PYTHONDONTWRITEBYTECODE` stays set).
//!
//! The files are `__pycache__/NAME.cpython-315.pyc` beside each source, where
//! the import system looks. They are checked-hash pycs: the import compares
//! a hash of the source rather than its modification time, which unzipping
//! changes, so a file edited after packaging is compiled afresh, never run stale.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::prepare::BuildStep;
use crate::settings::LAMBDA_TASK_ROOT;

/// What the interpreter runs: compiles every `.py` under `argv[2]` with
/// `sys.pycache_prefix` set to `argv[1]`, so the bytecode lands in the
/// writable `/tmp` mirroring the source tree. Files that do not compile
/// (e.g. Python 2 code some packages ship) are skipped: importing one fails
/// as it would without bytecode.
const COMPILER: &str = r#"import compileall, py_compile, sys
sys.pycache_prefix = sys.argv[1]
compileall.compile_dir(sys.argv[2], quiet=2, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
"#;

/// Where, under the step's `/tmp`, the bytecode is written.
const PREFIX: &str = "pycache";

/// The bytecode of a task root: a folder mirroring it (`a/b.cpython-315.pyc`
/// for `a/b.py`; its entry in a package is [`pycache_path`]), kept while
/// this lives. Sources that do not compile have none.
pub struct TaskRootBytecode {
    _step: BuildStep,
    /// The folder holding the bytecode.
    pub folder: PathBuf,
}

/// Compiles the `.py` files under `task_root` with the interpreter in `home`.
pub async fn compile_task_root(home: &Path, task_root: &Path) -> anyhow::Result<TaskRootBytecode> {
    let step = BuildStep::new(home, Some(task_root))?;
    let prefix = format!("/tmp/{PREFIX}");
    step.run(COMPILER, &[&prefix, LAMBDA_TASK_ROOT])
        .await
        .context("the Python interpreter could not compile the task root's files to bytecode")?;
    // With the prefix, `/var/task/a/b.py` compiles to `<prefix>/var/task/a/b.<tag>.pyc`.
    let folder = step
        .tmp()
        .join(PREFIX)
        .join(LAMBDA_TASK_ROOT.trim_start_matches('/'));
    Ok(TaskRootBytecode {
        _step: step,
        folder,
    })
}

/// `a/b.cpython-315.pyc` (relative to [`compile_task_root`]'s folder) as
/// the import system looks for it: `a/__pycache__/b.cpython-315.pyc`.
pub fn pycache_path(relative: &Path) -> PathBuf {
    let name = relative.file_name().unwrap_or_default();
    relative.with_file_name("__pycache__").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_goes_to_pycache_beside_the_source() {
        assert_eq!(
            pycache_path(Path::new("botocore/client.cpython-315.pyc")),
            Path::new("botocore/__pycache__/client.cpython-315.pyc")
        );
        assert_eq!(
            pycache_path(Path::new("app.cpython-315.pyc")),
            Path::new("__pycache__/app.cpython-315.pyc")
        );
    }
}
