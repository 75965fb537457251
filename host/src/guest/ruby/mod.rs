//! Ruby handlers: a `.rb` file in the task root runs on Ruby 3.4 for WASI
//! (npm's `@ruby/3.4-wasm-wasi`, `make ruby` installs it), an
//! [`interpreter`](super::interpreter) guest. This module finds the
//! interpreter in its home ([`FunctionSettings::ruby_home`]) and claims the
//! handlers; [`vm`] drives it with the runtime glue, `runtime.rb`, which
//! behaves as AWS's Ruby runtime (aws_lambda_ric).

mod interop;
mod vm;

use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use super::interpreter::prepare::{self, Scratch};
use super::interpreter::snapshot::Preinit;
use super::interpreter::{self, Language};
use crate::errors::LambdaError;
use crate::sandbox::Extras;
use crate::settings::{FunctionSettings, RUBY_HOME_VARIABLE};

pub use self::vm::add_to_linker;

/// Ruby 3.4, for `.rb` handlers.
pub const RUBY: Language = Language {
    name: "Ruby",
    claims: is_ruby_handler,
    load: load_interpreter,
    preinit: Some(&PREINIT),
    run: vm::run,
};

/// Ruby's snapshots: after `ruby-init` and the glue's definitions (nothing
/// that reads the environment or requires the handler), taken by
/// `prepare-ruby`, or after the handler's `require` (with the variables it
/// reads through `ENV` recorded), taken by `package` and in test mode;
/// new environments resume with `LambdaWasm.start`.
const PREINIT: Preinit = Preinit {
    home: |settings| &settings.ruby_home,
    interpreter_cwasm: INTERPRETER_CWASM,
    snapshot_file: RUNTIME_SNAPSHOT,
    glue_identity: vm::glue_identity,
    load_runtime: vm::load_runtime_source,
    set_environment: vm::set_environment_source,
    import_handler: vm::LOAD_HANDLER_QUIETLY,
    report_reads: vm::REPORT_READS,
    resume: vm::START,
    turn: vm::turn,
};

/// The interpreter with the runtime glue loaded ([`PREINIT`]), in its home.
pub const RUNTIME_SNAPSHOT: &str = "lambda-wasm-runtime.snapshot";

/// The interpreter's file names inside its home, precompiled first (`make
/// ruby` installs both).
pub const INTERPRETER_FILES: [&str; 2] = [INTERPRETER_CWASM, INTERPRETER_WASM];
const INTERPRETER_CWASM: &str = "ruby.cwasm";
const INTERPRETER_WASM: &str = "ruby.wasm";

/// `lambda-wasm prepare-ruby`: snapshots the interpreter in `home` with
/// the glue loaded, in a sandbox laid out as the bootstrap's (the task root
/// at `/var/task`), into `home` (`make ruby`, `package`); its path.
pub async fn prepare_runtime(home: &Path) -> anyhow::Result<PathBuf> {
    let scratch = Scratch::new("lambda_function.lambda_handler")?;
    let mut settings = scratch.settings.clone();
    settings.ruby_home = home.to_path_buf();
    let engine = crate::engine::new_engine()?;
    prepare::runtime_snapshot(&RUBY, &engine, &settings, scratch.tmp.clone()).await
}

/// Whether `file` is Ruby source.
pub fn is_source(file: &Path) -> bool {
    file.extension().is_some_and(|ext| ext == "rb")
}

/// Whether the handler names a Ruby file: `FILE.rb` exists for the part of
/// the handler before its first dot (AWS's Ruby runtime splits the whole
/// string on dots: `FILE.METHOD` or `FILE.CLASS.METHOD`), or, when no Wasm,
/// Python or JavaScript module has the handler's name, the task root holds
/// Ruby source, so that a misspelt file is Ruby's own `Init<LoadError>`.
fn is_ruby_handler(settings: &FunctionSettings) -> bool {
    let root = &settings.task_root;
    let file = settings.handler.raw.split('.').next().unwrap_or_default();
    if root.join(file).with_extension("rb").is_file() {
        return true;
    }
    let base = root.join(settings.handler.module_path());
    let other = ["wasm", "cwasm", "py", "js", "mjs", "cjs"]
        .iter()
        .any(|ext| base.with_extension(ext).is_file());
    !other && has_ruby_source(root)
}

/// Whether `dir` holds a `.rb` file or a Gemfile at its top.
fn has_ruby_source(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|entry| is_source(&entry.path()) || entry.file_name() == "Gemfile")
}

/// Loads the interpreter; its standard library is packed inside the module
/// (wasi-vfs). The sandbox gets the folders above the task root
/// ([`ancestors_of`]).
fn load_interpreter(
    engine: &Engine,
    settings: &FunctionSettings,
) -> Result<(Module, Extras), LambdaError> {
    let install = format!("run `make ruby` or set {RUBY_HOME_VARIABLE}");
    let module = interpreter::load_from_home(
        engine,
        settings,
        &settings.ruby_home,
        INTERPRETER_FILES,
        "the Ruby interpreter",
        &install,
    )?;
    let module_name = &settings.handler.module;
    let ancestors = ancestors_of(&settings.guest_task_root).map_err(|error| {
        LambdaError::import_module(
            module_name,
            format!("cannot create the folders Ruby sees above the task root: {error}"),
        )
    })?;
    let extras = Extras {
        env: vec![("HOME".into(), "/tmp".into())],
        read_only_dirs: ancestors.into_iter().collect(),
        ..Extras::default()
    };
    Ok((module, extras))
}

/// The guest's folders above the task root, as an empty tree on the host
/// and the guest path of its top (`/var` for `/var/task`); none when the
/// task root is a top-level folder. Ruby's `require` and `require_relative`
/// resolve real paths from `/` down, and a sandbox that sees only the task
/// root has no `/var`; the task root itself is still its own, longer,
/// preopen. The tree is the same for every function with that path, so it
/// is kept in the host's temporary folder and made once.
fn ancestors_of(guest_task_root: &str) -> std::io::Result<Option<(PathBuf, String)>> {
    let relative = guest_task_root.trim_start_matches('/');
    let Some((top, _)) = relative.split_once('/') else {
        return Ok(None);
    };
    let tree = std::env::temp_dir().join("lambda-wasm-ruby-root");
    std::fs::create_dir_all(tree.join(relative))?;
    Ok(Some((tree.join(top), format!("/{top}"))))
}
