//! JavaScript handlers: a `.mjs`, `.js` or `.cjs` module in the task root
//! runs on the JavaScript runner (guest-sdk/js: QuickJS-NG for WASI), an
//! [`interpreter`](super::interpreter) guest. The runner carries its own
//! glue (Node.js's runtime behaviour, guest-sdk/js/src/runtime.js) and reads
//! `_HANDLER` and `LAMBDA_TASK_ROOT` itself, so this module only finds it
//! in its home ([`FunctionSettings::js_home`]), claims the handlers and says
//! how the runner is pre-initialised ([`PREINIT`]).

use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use super::interpreter::prepare::{self, Scratch};
use super::interpreter::snapshot::{self, Preinit, variables_object};
use super::interpreter::{self, Language};
use crate::errors::LambdaError;
use crate::sandbox::Extras;
use crate::settings::{FunctionSettings, JS_HOME_VARIABLE};

/// QuickJS-NG, for `.mjs`, `.js` and `.cjs` handlers.
pub const JAVASCRIPT: Language = Language {
    name: "JavaScript",
    claims: is_javascript_handler,
    load: load_runner,
    preinit: Some(&PREINIT),
    run: interpreter::run_export,
};

/// The runner's snapshots. Its `turn` export runs a function body of
/// runtime.js's hooks (guest-sdk/js/src/lib.rs): an empty one just
/// evaluates the glue (definitions only), which `prepare-js` snapshots;
/// `init(true)` then imports the handler and pauses once it settled (top-level
/// `await` included; `recordReads` and `reportReads` around it tell the host
/// which `process.env` variables it read), which `package` and test mode
/// snapshot; `init(false)` goes on to
/// the events. The glue is compiled into the runner, so the runner's hash
/// in the key covers it.
pub const PREINIT: Preinit = Preinit {
    home: |settings| &settings.js_home,
    interpreter_cwasm: RUNNER_CWASM,
    snapshot_file: RUNTIME_SNAPSHOT,
    glue_identity: || "runtime.js, inside the runner".into(),
    load_runtime: String::new,
    set_environment: set_environment_code,
    import_handler: "hooks.recordReads();\nhooks.init(true);\n",
    report_reads: "hooks.reportReads();\n",
    resume: "hooks.init(false);\n",
    turn: snapshot::turn_export,
};

/// The runner's file names inside its home, precompiled first (`make js`
/// installs both).
pub const RUNNER_FILES: [&str; 2] = [RUNNER_CWASM, RUNNER_WASM];
const RUNNER_CWASM: &str = "javascript.cwasm";
const RUNNER_WASM: &str = "javascript.wasm";
/// The runner with the glue evaluated ([`PREINIT`]), in its home.
pub const RUNTIME_SNAPSHOT: &str = "lambda-wasm-runtime.snapshot";
/// The extensions the Node.js runtime tries for a handler's module.
const EXTENSIONS: [&str; 3] = ["js", "mjs", "cjs"];

/// Whether `file` is JavaScript source (`package` then includes the runner).
pub fn is_source(file: &Path) -> bool {
    file.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| EXTENSIONS.contains(&ext))
}

/// Whether the handler names a JavaScript module and no Wasm or Python
/// module of that name exists.
fn is_javascript_handler(settings: &FunctionSettings) -> bool {
    let base = settings.task_root.join(settings.handler.module_path());
    let has = |ext: &str| base.with_extension(ext).is_file();
    if has("wasm") || has("cwasm") || has("py") {
        return false;
    }
    let module = settings
        .task_root
        .join(node_module_path(&settings.handler.raw));
    EXTENSIONS
        .iter()
        .any(|ext| module.with_extension(ext).is_file())
}

/// The module the Node.js runtime loads for a handler string: its folders,
/// then its file name up to the first dot (`src/app.deep.fn` is `src/app`,
/// the function being `deep.fn`), where [`HandlerName`](crate::handler_name::HandlerName) splits at the last.
fn node_module_path(handler: &str) -> PathBuf {
    let (folders, file) = handler.rsplit_once('/').unwrap_or(("", handler));
    let module = file.split('.').next().unwrap_or(file);
    Path::new(folders).join(module)
}

/// `lambda-wasm prepare-js`: snapshots the runner in `home` with its glue
/// evaluated ([`PREINIT`]), a build step (`make js`, `package`); returns
/// the snapshot's path.
pub async fn prepare_runner(home: &Path) -> anyhow::Result<PathBuf> {
    let scratch = Scratch::new("index.handler")?;
    let mut settings = scratch.settings.clone();
    settings.js_home = home.to_path_buf();
    let engine = crate::engine::new_engine()?;
    prepare::runtime_snapshot(&JAVASCRIPT, &engine, &settings, scratch.tmp.clone()).await
}

/// Code that makes `process.env` `variables` (runtime.js's `environ`, which
/// also restarts what a restored snapshot must not keep: the clock and the
/// random numbers).
fn set_environment_code(variables: &[(String, String)]) -> String {
    format!("hooks.environ({});\n", variables_object(variables))
}

/// Loads the runner; its sandbox needs nothing beyond the function's.
fn load_runner(
    engine: &Engine,
    settings: &FunctionSettings,
) -> Result<(Module, Extras), LambdaError> {
    let install = format!("run `make js` or set {JS_HOME_VARIABLE}");
    let module = interpreter::load_from_home(
        engine,
        settings,
        &settings.js_home,
        RUNNER_FILES,
        "the JavaScript runner",
        &install,
    )?;
    Ok((module, Extras::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_follow_the_node_runtime() {
        assert_eq!(node_module_path("index.handler"), Path::new("index"));
        assert_eq!(node_module_path("src/app.deep.fn"), Path::new("src/app"));
        assert_eq!(node_module_path("a.b/c.handler"), Path::new("a.b/c"));
    }
}
