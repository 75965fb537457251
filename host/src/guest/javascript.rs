//! JavaScript handlers: a `.mjs`, `.js` or `.cjs` module in the task root
//! runs on the JavaScript runner (guest-sdk/js: QuickJS-NG for WASI), an
//! [`interpreter`](super::interpreter) guest. The runner carries its own
//! glue (Node.js's runtime behaviour, guest-sdk/js/src/runtime.js) and reads
//! `_HANDLER` and `LAMBDA_TASK_ROOT` itself, so this module only finds it
//! in its home ([`FunctionSettings::js_home`]) and claims the handlers.

use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

use super::interpreter::{self, Language};
use crate::errors::LambdaError;
use crate::sandbox::Extras;
use crate::settings::{FunctionSettings, JS_HOME_VARIABLE};

/// QuickJS-NG, for `.mjs`, `.js` and `.cjs` handlers.
pub const JAVASCRIPT: Language = Language {
    name: "JavaScript",
    claims: is_javascript_handler,
    load: load_runner,
    // The runner has no `turn` export to stop between its glue and the
    // handler yet, so it is not pre-initialised (docs/abi.md).
    preinit: None,
    run: interpreter::run_export,
};

/// The runner's file names inside its home, precompiled first (`make js`
/// installs both).
pub const RUNNER_FILES: [&str; 2] = [RUNNER_CWASM, RUNNER_WASM];
const RUNNER_CWASM: &str = "javascript.cwasm";
const RUNNER_WASM: &str = "javascript.wasm";
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
    // Module loading reads many small files: block on them rather than
    // hopping to tokio's blocking pool for each (as for Python).
    let extras = Extras {
        blocking_file_io: true,
        ..Extras::default()
    };
    Ok((module, extras))
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
