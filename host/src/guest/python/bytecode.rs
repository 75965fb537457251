//! Bytecode for a task root's Python files, compiled by the guest's own
//! CPython (its magic number and `cpython-315` tag; the host's python3 is
//! another version), so that a cold start does not compile vendored
//! libraries such as botocore from source: the task root is read-only to
//! the guest, so the interpreter can never cache it there itself.
//!
//! They are checked-hash pycs: the import compares a hash of the source
//! rather than its modification time, which unzipping changes, so a file
//! edited after compiling is compiled afresh, never run stale. One compile
//! step makes them for two users:
//!
//! - `package` ships them as `__pycache__/NAME.cpython-315.pyc` beside each
//!   source, where the import system looks;
//! - test mode ([`cached_task_root_bytecode`]) keeps them per task root in
//!   the module cache folder, recompiling only sources whose bytecode is
//!   stale, and the guest reads them there through `sys.pycache_prefix`
//!   (read-only). The bootstrap has no such cache: Lambda's task root is
//!   the package, which already holds its bytecode.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use super::SNAPSHOT_FILES;
use super::prepare::BuildStep;
use crate::engine::source::files_under;
use crate::engine::source::hex;
use crate::guest::interpreter::prepare::block_on;
use crate::settings::LAMBDA_TASK_ROOT;

/// What the interpreter runs: compiles every `.py` under `argv[2]` (but in
/// `__pycache__`) with `sys.pycache_prefix` set to `argv[1]`, so the
/// bytecode lands in the writable `/tmp` mirroring the source tree, unless
/// the bytecode there is already that of the source. Files that do not
/// compile (e.g. Python 2 code some packages ship) are skipped: importing
/// one fails as it would without bytecode.
const COMPILER: &str = r#"import importlib.util, os, py_compile, sys
sys.pycache_prefix = sys.argv[1]
CHECKED_HASH = py_compile.PycInvalidationMode.CHECKED_HASH
HEADER = importlib.util.MAGIC_NUMBER + (3).to_bytes(4, "little")

def is_current(source, pyc):
    try:
        with open(pyc, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    with open(source, "rb") as f:
        return head == HEADER + importlib.util.source_hash(f.read())

for folder, folders, names in os.walk(sys.argv[2]):
    folders[:] = [name for name in folders if name != "__pycache__"]
    for name in names:
        source = os.path.join(folder, name)
        if name.endswith(".py") and not is_current(source, importlib.util.cache_from_source(source)):
            try:
                py_compile.compile(source, doraise=True, invalidation_mode=CHECKED_HASH)
            except py_compile.PyCompileError:
                pass
"#;

/// The folder of the module cache holding test mode's task-root bytecode.
const CACHE_FOLDER: &str = "python-bytecode";

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

/// Compiles the `.py` files under `task_root` with the interpreter in
/// `home`; the bytecode in `earlier` (a folder as [`TaskRootBytecode`]'s),
/// when given, is kept for the sources it is still current for.
pub async fn compile_task_root(
    home: &Path,
    task_root: &Path,
    earlier: Option<&Path>,
) -> anyhow::Result<TaskRootBytecode> {
    let step = BuildStep::new(home, Some(task_root))?;
    // With the prefix, `/var/task/a/b.py` compiles to `<prefix>/var/task/a/b.<tag>.pyc`.
    let folder = step
        .tmp()
        .join(PREFIX)
        .join(LAMBDA_TASK_ROOT.trim_start_matches('/'));
    if let Some(earlier) = earlier.filter(|earlier| earlier.is_dir()) {
        copy_tree(earlier, &folder)?;
    }
    let prefix = format!("/tmp/{PREFIX}");
    step.run(COMPILER, &[&prefix, LAMBDA_TASK_ROOT])
        .await
        .context("the Python interpreter could not compile the task root's files to bytecode")?;
    Ok(TaskRootBytecode {
        _step: step,
        folder,
    })
}

/// Test mode's bytecode of `task_root`, in the module cache folder
/// `cache`: a folder mirroring the task root (`a/b.cpython-315.pyc` for
/// `a/b.py`). Compiled with the interpreter in `home` when a `.py` file (or
/// the interpreter) changed since the last time, else as it is.
pub fn cached_task_root_bytecode(
    home: &Path,
    task_root: &Path,
    cache: &Path,
) -> anyhow::Result<PathBuf> {
    let name = hex(&Sha256::digest(task_root.as_os_str().as_encoded_bytes())[..16]);
    let folder = cache.join(CACHE_FOLDER).join(&name);
    let stamp_file = folder.with_extension("stamp");
    let stamp = sources_stamp(home, task_root)?;
    if folder.is_dir() && std::fs::read(&stamp_file).is_ok_and(|old| old == stamp) {
        return Ok(folder);
    }
    let compiled = block_on(|| compile_task_root(home, task_root, Some(&folder)))?;
    let partial = folder.with_extension(format!("partial-{}", std::process::id()));
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    // No folder when no source compiled (a handler with a syntax error).
    if compiled.folder.is_dir() {
        copy_tree(&compiled.folder, &partial)?;
    }
    if folder.is_dir() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("cannot remove {}", folder.display()))?;
    }
    std::fs::rename(&partial, &folder)
        .with_context(|| format!("cannot move {} to {}", partial.display(), folder.display()))?;
    std::fs::write(&stamp_file, stamp)
        .with_context(|| format!("cannot write {}", stamp_file.display()))?;
    Ok(folder)
}

/// What the bytecode depends on: the path, size and modification time of
/// every `.py` under `task_root`, and the interpreter's files in `home`.
fn sources_stamp(home: &Path, task_root: &Path) -> anyhow::Result<Vec<u8>> {
    let mut hasher = Sha256::new();
    let interpreter = SNAPSHOT_FILES.map(|file| home.join(file));
    let sources = files_under(task_root)?
        .into_iter()
        .filter(|file| file.extension().is_some_and(|ext| ext == "py"));
    for file in interpreter
        .into_iter()
        .filter(|file| file.is_file())
        .chain(sources)
    {
        let metadata =
            std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let modified = metadata
            .modified()?
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        hasher.update(file.as_os_str().as_encoded_bytes());
        hasher.update(metadata.len().to_le_bytes());
        hasher.update(modified.as_nanos().to_le_bytes());
    }
    Ok(hasher.finalize().to_vec())
}

/// Copies every file under `from` to the same place under `to`.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for file in files_under(from)? {
        let target = to.join(file.strip_prefix(from).expect("under the folder"));
        let parent = target.parent().expect("a file's folder");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        std::fs::copy(&file, &target)
            .with_context(|| format!("cannot copy {} to {}", file.display(), target.display()))?;
    }
    Ok(())
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
