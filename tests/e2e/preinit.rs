//! End-to-end tests of the interpreters' pre-initialisation
//! (host/src/guest/interpreter/snapshot.rs, handler_snapshot.rs, docs/abi.md
//! "Pre-initialisation"): `invoke` with a module cache snapshots the Python
//! interpreter after the handler's import and later cold starts restore it;
//! `package` ships such a snapshot for Python, JavaScript and Ruby, which the
//! unzipped bootstrap restores only while the variables the import read
//! keep their values. What a snapshot may not change: the outputs, the
//! environment and the randomness the handler sees, init errors; and a
//! snapshot of other sources is never used.

use std::path::Path;

use serde_json::{Value, json};

use crate::javascript::require_js;
use crate::package::{package, run_unzipped_with, unzip};
use crate::python_mode::{home_env, require_python};
use crate::ruby::{require_ruby, ruby_home};
use crate::support::*;

/// A handler that reports what module-level code and the handler saw.
const PROBE: &str = r#"import os, random, time

IMPORTS = 1
AT_IMPORT = os.environ.get("MY_VAR")

def lambda_handler(event, context):
    global IMPORTS
    IMPORTS += 1
    return {"calls": IMPORTS - 1, "at_import": AT_IMPORT, "at_invoke": os.environ.get("MY_VAR"),
            "random": random.random(), "function": context.function_name, "event": event}
"#;

/// `invoke` with a module cache in `cache`; `env`'s `LAMBDA_WASM_*`
/// variables are the host's, the others the function's (`--env`).
fn invoke(root: &Path, cache: &Path, env: &[(&str, &str)]) -> CliOutput {
    let home = require_python().expect("checked by the caller");
    let (k, v) = home_env(home);
    invoke_cached((k, &v), "lambda_function.lambda_handler", root, cache, env)
}

/// `invoke` of `handler` with a module cache in `cache` and the
/// interpreter's home variable `home`; `env`'s `LAMBDA_WASM_*` variables
/// are the host's, the others the function's (`--env`).
pub(crate) fn invoke_cached(
    (home_variable, home): (&str, &str),
    handler: &str,
    root: &Path,
    cache: &Path,
    env: &[(&str, &str)],
) -> CliOutput {
    let mut host_env = vec![
        (home_variable, home),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let root = root.to_str().unwrap();
    let mut args = vec!["invoke", handler, "--task-root", root, "--event", "-"];
    let function_env: Vec<String> = env
        .iter()
        .filter(|(name, _)| !name.starts_with("LAMBDA_WASM_"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    for variable in &function_env {
        args.extend(["--env", variable.as_str()]);
    }
    host_env.extend(
        env.iter()
            .filter(|(name, _)| name.starts_with("LAMBDA_WASM_")),
    );
    invoke_cli_env(
        &args,
        Some(
            br#"{"first_name": "John", "last_name": "Smith", "action": "increment", "number": 3}"#,
        ),
        &host_env,
    )
}

/// The handler snapshots in `cache`.
pub(crate) fn snapshots(cache: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(cache.join("lambda-wasm/snapshots"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// A task root with [`PROBE`] and an empty cache.
fn probe() -> (TaskRoot, tempfile::TempDir) {
    let root = TaskRoot::builder()
        .file("lambda_function.py", PROBE)
        .build();
    (root, tempfile::tempdir().unwrap())
}

#[test]
fn seed_outputs_are_those_of_a_cold_import() {
    if require_python().is_none() {
        return;
    }
    for name in ["hello", "increment", "region"] {
        let seed = workspace_root().join("guests/python").join(name);
        let cache = tempfile::tempdir().unwrap();
        let scratch = invoke(&seed, cache.path(), &[("LAMBDA_WASM_PREINIT", "off")]);
        assert_eq!(scratch.code(), Some(0), "{scratch:#?}");
        assert!(snapshots(cache.path()).is_empty(), "off takes no snapshot");
        let taken = invoke(&seed, cache.path(), &[]);
        let restored = invoke(&seed, cache.path(), &[]);
        assert!(!snapshots(cache.path()).is_empty());
        for run in [&taken, &restored] {
            assert_eq!(run.json(), scratch.json(), "{name}: {run:#?}");
        }
        if name == "increment" {
            // The log line of `import logging`'s handler, set up before the snapshot.
            assert!(
                restored.stderr.contains("Calculated result of 4"),
                "{restored:#?}"
            );
        }
    }
}

#[test]
fn module_code_runs_once_and_randomness_and_environment_are_the_functions() {
    if require_python().is_none() {
        return;
    }
    let (root, cache) = probe();
    let runs: Vec<Value> = (0..3)
        .map(|_| {
            let run = invoke(root.path(), cache.path(), &[("MY_VAR", "one")]);
            assert_eq!(run.code(), Some(0), "{run:#?}");
            run.json()
        })
        .collect();
    for run in &runs {
        assert_eq!(run["calls"], 1, "module state from one import: {run}");
        assert_eq!(run["at_import"], "one");
        assert_eq!(run["at_invoke"], "one");
        assert_eq!(run["function"], "lambda_function");
    }
    assert_ne!(
        runs[1]["random"], runs[2]["random"],
        "re-seeded at each restore"
    );
    // Another environment: module-level code sees it (another snapshot),
    // and at the runtime level only the handler's import sees nothing stale.
    let other = invoke(root.path(), cache.path(), &[("MY_VAR", "two")]).json();
    assert_eq!(
        (&other["at_import"], &other["at_invoke"]),
        (&json!("two"), &json!("two"))
    );
    for value in ["three", "four"] {
        let run = invoke(
            root.path(),
            cache.path(),
            &[("MY_VAR", value), ("LAMBDA_WASM_PREINIT", "runtime")],
        )
        .json();
        assert_eq!(
            (&run["at_import"], &run["at_invoke"]),
            (&json!(value), &json!(value))
        );
    }
}

#[test]
fn a_changed_source_is_imported_again() {
    if require_python().is_none() {
        return;
    }
    let (root, cache) = probe();
    assert_eq!(invoke(root.path(), cache.path(), &[]).json()["calls"], 1);
    root.write(
        "lambda_function.py",
        b"def lambda_handler(event, context):\n    return 'changed'\n",
    );
    let run = invoke(root.path(), cache.path(), &[]);
    assert_eq!(run.json(), json!("changed"), "{run:#?}");
    // A data file beside it is part of the key too.
    root.write("data.txt", b"1");
    assert_eq!(
        invoke(root.path(), cache.path(), &[]).json(),
        json!("changed")
    );
}

#[test]
fn import_errors_are_init_errors_as_without_snapshots() {
    if require_python().is_none() {
        return;
    }
    let root = TaskRoot::builder()
        .file("lambda_function.py", "import no_such_module\n")
        .build();
    let cache = tempfile::tempdir().unwrap();
    let scratch = invoke(root.path(), cache.path(), &[("LAMBDA_WASM_PREINIT", "off")]);
    for _ in 0..2 {
        let run = invoke(root.path(), cache.path(), &[]);
        assert_eq!(run.code(), scratch.code(), "{run:#?}");
        assert_eq!(run.stdout, scratch.stdout);
        assert!(
            run.stdout.contains("Runtime.ImportModuleError")
                && run.stdout.contains("No module named 'no_such_module'"),
            "{run:#?}"
        );
    }
    // Fixed, the function imports.
    root.write("lambda_function.py", PROBE.as_bytes());
    let fixed = invoke(root.path(), cache.path(), &[]);
    assert_eq!(fixed.json()["calls"], 1, "{fixed:#?}");
}

#[test]
fn a_corrupt_cached_snapshot_is_replaced() {
    if require_python().is_none() {
        return;
    }
    let (root, cache) = probe();
    invoke(root.path(), cache.path(), &[]);
    for snapshot in snapshots(cache.path()) {
        std::fs::write(&snapshot, b"not a snapshot").unwrap();
    }
    for _ in 0..2 {
        let run = invoke(root.path(), cache.path(), &[]);
        assert_eq!(run.json()["calls"], 1, "{run:#?}");
    }
}

// ---------------------------------------------------------------------------
// Handler snapshots shipped by `package`

/// What each probe's module-level code prints: seen where the import ran.
const MARKER: &str = "probe: module code ran";

/// A handler in one interpreted language whose module-level code prints
/// [`MARKER`] and keeps `MY_VAR` as it was at import.
struct Probe {
    language: &'static str,
    file: &'static str,
    source: &'static str,
    handler: &'static str,
    /// The interpreter's folder in a package.
    folder: &'static str,
    /// The host variable naming the interpreter's home, when installed
    /// (else [`require`] reported it).
    home: fn() -> Option<(&'static str, String)>,
}

const PROBES: [Probe; 3] = [
    Probe {
        language: "Python",
        file: "lambda_function.py",
        source: r#"import os
print("probe: module code ran")
AT_IMPORT = os.environ.get("MY_VAR")

def lambda_handler(event, context):
    return {"at_import": AT_IMPORT, "at_invoke": os.environ.get("MY_VAR")}
"#,
        handler: "lambda_function.lambda_handler",
        folder: "python",
        home: || require_python().map(home_env),
    },
    Probe {
        language: "JavaScript",
        file: "index.mjs",
        source: r#"console.log("probe: module code ran");
const AT_IMPORT = process.env.MY_VAR ?? null;
export const handler = async () => ({ at_import: AT_IMPORT, at_invoke: process.env.MY_VAR ?? null });
"#,
        handler: "index.handler",
        folder: "js",
        home: || require_js().map(|home| ("LAMBDA_WASM_JS_HOME", home.display().to_string())),
    },
    Probe {
        language: "Ruby",
        file: "lambda_function.rb",
        source: r#"puts "probe: module code ran"
AT_IMPORT = ENV['MY_VAR']

def lambda_handler(event:, context:)
  { at_import: AT_IMPORT, at_invoke: ENV['MY_VAR'] }
end
"#,
        handler: "lambda_function.lambda_handler",
        folder: "ruby",
        home: || {
            require_ruby().then(|| ("LAMBDA_WASM_RUBY_HOME", ruby_home().display().to_string()))
        },
    },
];

/// `package` of `root` (extra arguments `args`) with the interpreter's
/// `home` variable: the unzipped package and what `package` said.
fn package_probe(
    root: &TaskRoot,
    home: &(&str, String),
    args: &[&str],
) -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let task_root = root.path().to_str().unwrap();
    let zip_arg = zip.to_str().unwrap();
    let said = package(
        &[&["--task-root", task_root, "--out", zip_arg], args].concat(),
        &[(home.0, home.1.as_str())],
    );
    (unzip(&zip), said)
}

/// Runs the unzipped `probe` package in `dir` with `MY_VAR=value`: module
/// code and the handler both saw `value`; the bootstrap's output.
async fn answers_with_my_var(dir: &Path, probe: &Probe, value: &str) -> String {
    let (outcome, output) =
        run_unzipped_with(dir, probe.handler, json!({}), &[("MY_VAR", value)]).await;
    assert_eq!(
        outcome.json(),
        json!({"at_import": value, "at_invoke": value}),
        "{}: {output}",
        probe.language
    );
    output
}

/// For each language: `package` runs the handler's import (its output is
/// package's) and ships the snapshot; the unzipped bootstrap restores it
/// (module-level code does not run again) while `MY_VAR`, read at import,
/// has its package-time value, and otherwise says so in one line and
/// imports the handler at init, answering with the value it has now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packaged_handler_snapshots_restore_while_the_variables_read_at_import_hold() {
    for probe in &PROBES {
        let Some(home) = (probe.home)() else {
            continue;
        };
        let root = TaskRoot::builder().file(probe.file, probe.source).build();
        let (unzipped, said) = package_probe(&root, &home, &["--env", "MY_VAR=one"]);
        let language = probe.language;
        assert!(
            said.contains(MARKER)
                && said.contains(&format!("with a snapshot of {}", probe.handler)),
            "{language}: {said}"
        );
        let dir = unzipped.path();
        let snapshot = dir.join(probe.folder).join("lambda-wasm-handler.snapshot");
        assert!(snapshot.is_file(), "{language}: no {}", snapshot.display());
        let record =
            std::fs::read_to_string(dir.join(probe.folder).join("lambda-wasm-handler.json"))
                .unwrap();
        assert!(
            record.contains("\"MY_VAR\"") && !record.contains("\"one\""),
            "{language}: {record}"
        );

        let output = answers_with_my_var(dir, probe, "one").await;
        assert!(
            !output.contains(MARKER) && !output.contains("not using"),
            "{language}: {output}"
        );
        let output = answers_with_my_var(dir, probe, "two").await;
        let reason = "not using the handler snapshot: MY_VAR differs from package time (read at import); importing the handler at init";
        assert_eq!(output.matches(reason).count(), 1, "{language}: {output}");
        assert!(
            output.contains(MARKER),
            "{language}: the import ran at init: {output}"
        );
    }
}

/// `--no-handler-snapshot` ships none; nor does a handler whose import
/// fails at package time, which `package` warns of, naming the error, and
/// still writes the zip (the bootstrap reports the error at init).
#[test]
fn an_opt_out_or_a_failing_import_ships_no_handler_snapshot() {
    let probe = &PROBES[0];
    let Some(home) = (probe.home)() else {
        return;
    };
    let root = TaskRoot::builder().file(probe.file, probe.source).build();
    let broken = TaskRoot::builder()
        .file("lambda_function.py", "import no_such_module\n")
        .build();
    type SaidAsExpected = fn(&str) -> bool;
    let cases: [(&TaskRoot, &[&str], SaidAsExpected); 2] = [
        (&root, &["--no-handler-snapshot"], |said| {
            !said.contains(MARKER) && !said.contains("snapshot of")
        }),
        (&broken, &[], |said| {
            said.contains("warning: no handler snapshot")
                && said.contains("Runtime.ImportModuleError")
                && said.contains("No module named 'no_such_module'")
        }),
    ];
    for (root, args, said_as_expected) in cases {
        let (unzipped, said) = package_probe(root, &home, args);
        assert!(said_as_expected(&said), "{said}");
        let dir = unzipped.path();
        assert!(
            !dir.join("python/lambda-wasm-handler.snapshot").exists()
                && dir.join("lambda_function.py").is_file(),
            "{said}"
        );
    }
}
