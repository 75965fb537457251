//! End-to-end tests of Ruby handlers: the built `lambda-wasm` binary runs
//! `.rb` files on Ruby 3.4 for WASI (`make ruby` installs it), in runtime
//! mode against the fake Runtime API.
//!
//! What is checked is AWS's Ruby runtime behaviour (aws_lambda_ric): the
//! seed examples ported, `FILE.METHOD` and `FILE.CLASS.METHOD` handlers, the
//! context object, error bodies (`Function<...>`, `Init<...>`) and their log
//! lines, `puts` and `Logger` lines, state across warm invocations and its
//! reset after a critical exception, a timeout and the memory cap followed
//! by a good event.
//!
//! The interpreter is looked up in `$LAMBDA_WASM_RUBY_HOME`, else
//! `<target>/release/ruby`; without it each test prints one `SKIPPED` line
//! and returns, or fails under `LAMBDA_WASM_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::outbound::{self, TestServer};
use crate::support::*;
use serde_json::{Value, json};

/// Where the interpreter is looked for.
pub(crate) fn ruby_home() -> PathBuf {
    match std::env::var_os("LAMBDA_WASM_RUBY_HOME").filter(|h| !h.is_empty()) {
        Some(home) => home.into(),
        None => target_dir().join("release").join("ruby"),
    }
}

fn installed(home: &Path) -> bool {
    home.join("ruby.cwasm").is_file() || home.join("ruby.wasm").is_file()
}

/// Whether the interpreter is installed; when not, [`require`] reported it.
pub(crate) fn require_ruby() -> bool {
    let how = format!("run `make ruby` (looked in {})", ruby_home().display());
    require("the Ruby interpreter", installed(&ruby_home()), &how)
}

/// Returns from the test after [`require`] reported the interpreter missing.
macro_rules! require_ruby {
    () => {
        if !require_ruby() {
            return;
        }
    };
}

fn spawn(
    api: &FakeRuntimeApi,
    root: &TaskRoot,
    handler: &str,
    extra: &[(&str, &str)],
) -> Bootstrap {
    let home = ruby_home();
    spawn_with_home(api, root, handler, ("LAMBDA_WASM_RUBY_HOME", &home), extra)
}

/// A task root holding a seed example's port (`guests/ruby/<name>/lambda_function.rb`).
fn seed_root(name: &str) -> TaskRoot {
    seed_port_root("ruby", name, "lambda_function.rb")
}

const HANDLER: &str = "lambda_function.lambda_handler";

// ---------------------------------------------------------------------------
// The seed examples, ported, with the Python originals' outputs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_hello_and_region() {
    require_ruby!();
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("hello");
    let mut boot = spawn(&api, &root, HANDLER, &[]);
    let (_, o) = boot.call_json(&api, seed_event("hello")).await;
    assert_eq!(o.json(), json!({"message": "Hello John Smith!"}));

    api.assert_all_answered_once();

    // A bootstrap of its own: the first one still takes events from its API.
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("region");
    let mut boot = spawn(&api, &root, HANDLER, &[("AWS_REGION", "eu-west-1")]);
    let (_, o) = boot.call_json(&api, seed_event("region")).await;
    assert_seed_region_response(&o.json(), "eu-west-1");
    api.assert_all_answered_once();
}

/// The increment seed, and its Logger lines as the Ruby runtime's
/// LogFormatter writes them: `I, [<time> #<pid>]  INFO <request id> -- : <message>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_increment_and_logger_lines() {
    require_ruby!();
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("increment");
    let mut boot = spawn(&api, &root, HANDLER, &[]);
    let (inc_id, o) = boot.call_json(&api, seed_event("increment")).await;
    assert_eq!(o.json(), json!({"result": 4}));
    let (bad_id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let logged = boot
        .wait_for_stderr(WAIT, |s| s.contains("foo is not"))
        .await;
    assert!(logged, "{}", boot.stderr());
    let stderr = boot.stderr();
    let line = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stderr}"))
            .to_string()
    };
    let info = line("Calculated result of 4");
    assert!(info.starts_with("I, ["), "{info:?}");
    assert!(
        info.ends_with(&format!("]  INFO {inc_id} -- : Calculated result of 4")),
        "{info:?}"
    );
    let error = line("foo is not");
    assert!(error.starts_with("E, ["), "{error:?}");
    assert!(
        error.ends_with(&format!("] ERROR {bad_id} -- : foo is not a valid action.")),
        "{error:?}"
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Handlers, context, state

const PROBE: &str = r#"require 'logger'
$calls = 0
INSTANCE = rand

module Billing
  class Handler
    def self.process(event:, context:)
      { 'style' => 'class method', 'event' => event }
    end
  end
end

def lambda_handler(event:, context:)
  $calls += 1
  case event['action']
  when 'context'
    {
      'aws_request_id' => context.aws_request_id,
      'function_name' => context.function_name,
      'function_version' => context.function_version,
      'invoked_function_arn' => context.invoked_function_arn,
      'memory_limit_in_mb' => context.memory_limit_in_mb,
      'log_group_name' => context.log_group_name,
      'log_stream_name' => context.log_stream_name,
      'identity' => context.identity,
      'client_context' => context.client_context,
      'deadline_ms' => context.deadline_ms,
      'remaining' => context.get_remaining_time_in_millis,
      'class' => context.class.name
    }
  when 'raise' then raise ArgumentError, 'bad input'
  when 'custom' then raise KeyError.new('no such key')
  when 'nil' then nil.upcase
  when 'loop' then loop {}
  when 'hog'
    hoard = []
    loop { hoard << ('x' * 1_000_000) }
  when 'js'
    require 'js'
    JS.global
  when 'js_eval'
    require 'js.so'
    JS.eval('return 1 + 1')
  when 'logs'
    puts "puts line"
    $stderr.puts "stderr line"
    Logger.new($stdout, progname: 'app').warn('careful')
    'logged'
  else
    { 'calls' => $calls, 'instance' => INSTANCE }
  end
end
"#;

fn probe_root() -> TaskRoot {
    TaskRoot::builder()
        .file("lambda_function.rb", PROBE)
        .build()
}

/// A bootstrap serving [`PROBE`] with its API and task root.
async fn start_probe() -> (FakeRuntimeApi, TaskRoot, Bootstrap) {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let boot = spawn(&api, &root, HANDLER, &[]);
    (api, root, boot)
}

/// The next event is the first of a fresh environment; every event so far
/// was answered once.
async fn assert_fresh_environment(boot: &mut Bootstrap, api: &FakeRuntimeApi) {
    let (_, o) = boot.call_json(api, json!({})).await;
    assert_eq!(o.json()["calls"], 1, "a fresh environment");
    api.assert_all_answered_once();
}

/// `context` has the Ruby runtime's fields, and a `FILE.CLASS.METHOD`
/// handler (a class method in a module) runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_fields_and_class_method_handlers() {
    require_ruby!();
    let (api, root, mut boot) = start_probe().await;
    let (id, o) = boot.call_json(&api, json!({"action": "context"})).await;
    let v = o.json();
    assert_eq!(v["aws_request_id"], id.as_str());
    assert_eq!(v["class"], "LambdaContext");
    assert_eq!(
        v["memory_limit_in_mb"], "128",
        "a string, as the runtime reads it"
    );
    for key in [
        "function_name",
        "function_version",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
    ] {
        assert!(v[key].as_str().is_some_and(|s| !s.is_empty()), "{key}: {v}");
    }
    assert!(
        v["invoked_function_arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:lambda:"),
        "{v}"
    );
    assert_eq!(v["identity"], Value::Null);
    assert_eq!(v["client_context"], Value::Null);
    let remaining = v["remaining"].as_i64().unwrap();
    assert!(remaining > 0 && remaining < 120_000, "{v}");
    assert!(
        v["deadline_ms"].as_i64().unwrap() > 1_600_000_000_000,
        "{v}"
    );

    api.assert_all_answered_once();
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, &root, "lambda_function.Billing::Handler.process", &[]);
    let (_, o) = boot.call_json(&api, json!({"n": 1})).await;
    assert_eq!(
        o.json(),
        json!({"style": "class method", "event": {"n": 1}})
    );
    api.assert_all_answered_once();
}

/// Module state lives across warm invocations; a StandardError is a
/// `Function<...>` error that keeps the environment, as the Ruby runtime
/// does, with its log lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_errors_keep_the_environment() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    let (_, o) = boot.call_json(&api, json!({})).await;
    let first = o.json();
    assert_eq!(first["calls"], 1);
    let (id, o) = boot.call_json(&api, json!({"action": "raise"})).await;
    assert_eq!(
        assert_lambda_error(&o, "Function<ArgumentError>", &id),
        "bad input"
    );
    let trace = o.error().1["stackTrace"].as_array().unwrap().clone();
    assert!(
        trace[0]
            .as_str()
            .unwrap()
            .starts_with("/var/task/lambda_function.rb:"),
        "the user's frames, none of the runtime's: {trace:?}"
    );
    assert!(
        trace
            .iter()
            .all(|f| !f.as_str().unwrap().contains("/var/runtime")),
        "{trace:?}"
    );
    let (id, o) = boot.call_json(&api, json!({"action": "custom"})).await;
    assert_eq!(
        assert_lambda_error(&o, "Function<KeyError>", &id),
        "no such key"
    );
    let (_, o) = boot.call_json(&api, json!({})).await;
    assert_eq!(o.json()["calls"], 4, "the same environment");
    assert_eq!(o.json()["instance"], first["instance"]);
    let stderr = boot.stderr();
    assert!(stderr.contains("Error raised from handler method\n{\n  \"errorMessage\": \"bad input\",\n  \"errorType\": \"Function<ArgumentError>\","), "{stderr}");
    api.assert_all_answered_once();
}

/// NoMethodError (here on nil) is a critical exception: the Ruby runtime
/// reports it and exits, so the next event starts a fresh environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_method_error_resets_the_environment() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    boot.call_json(&api, json!({})).await;
    let (id, o) = boot.call_json(&api, json!({"action": "nil"})).await;
    assert_eq!(
        assert_lambda_error(&o, "Function<NoMethodError>", &id),
        "undefined method 'upcase' for nil"
    );
    assert_fresh_environment(&mut boot, &api).await;
    assert!(
        boot.stderr().contains("Critical exception from handler"),
        "{}",
        boot.stderr()
    );
}

/// A handler method that does not exist is found missing at the first
/// event, as the Ruby runtime finds it: `Function<NoMethodError>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_handler_method() {
    require_ruby!();
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.no_such_method", &[]);
    for _ in 0..2 {
        let (id, o) = boot.call_json(&api, json!({})).await;
        let message = assert_lambda_error(&o, "Function<NoMethodError>", &id);
        assert!(
            message.contains("undefined method 'no_such_method'"),
            "{message}"
        );
    }
    api.assert_all_answered_once();
}

async fn init_error_case(root: &TaskRoot, handler: &str, error_type: &str) -> Value {
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, root, handler, &[]);
    let err = api
        .init_error(WAIT)
        .await
        .unwrap_or_else(|| panic!("no init error for {handler}:\n{}", boot.stderr()));
    assert_eq!(
        err.error_type_header.as_deref(),
        Some(error_type),
        "{:?}",
        err.body
    );
    assert_eq!(err.body["errorType"], error_type, "{}", err.body);
    let status = boot
        .wait_exit(WAIT)
        .await
        .expect("the bootstrap exits after an init error");
    assert!(!status.success(), "exit status {status}");
    assert!(
        boot.stderr().contains("Init error when loading handler"),
        "{}",
        boot.stderr()
    );
    err.body
}

/// A syntax error, a missing file and a malformed handler string are init
/// errors as the Ruby runtime classifies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_errors() {
    require_ruby!();
    let root = TaskRoot::builder()
        .file("lambda_function.rb", PROBE)
        .file(
            "broken.rb",
            "def lambda_handler(event:, context: ; end end\n",
        )
        .build();
    let body = init_error_case(&root, "broken.lambda_handler", "Init<SyntaxError>").await;
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("/var/task/broken.rb:1"),
        "{body}"
    );
    let body = init_error_case(&root, "missing.lambda_handler", "Init<LoadError>").await;
    assert_eq!(body["errorMessage"], "cannot load such file -- missing");
    let body = init_error_case(&root, "lambda_function.a.b.c", "Init<ArgumentError>").await;
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Invalid handler"),
        "{body}"
    );
}

/// `puts`, `$stderr` and a Logger on $stdout reach the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_and_logger_reach_the_logs() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    let (id, o) = boot.call_json(&api, json!({"action": "logs"})).await;
    assert_eq!(o.json(), "logged");
    assert!(
        boot.wait_for_stderr(WAIT, |s| s.contains("careful")).await,
        "{}",
        boot.stderr()
    );
    let stderr = boot.stderr();
    assert!(stderr.lines().any(|l| l == "puts line"), "{stderr}");
    assert!(stderr.lines().any(|l| l == "stderr line"), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with("W, [") && l.ends_with(&format!("]  WARN {id} -- app: careful"))),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Limits and bad input: each followed by a good event

/// An infinite loop ends at the deadline; the next event gets a fresh
/// environment and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out_and_the_next_event_is_fine() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    boot.call_json(&api, json!({})).await;
    let inv = Invocation::json(&json!({"action": "loop"})).timeout(Duration::from_secs(1));
    let (id, o) = boot.call(&api, inv).await;
    let (_, body) = o.error();
    assert_eq!(body["errorType"], "Sandbox.Timedout", "{body}");
    assert!(
        body["errorMessage"].as_str().unwrap().contains(&id),
        "{body}"
    );
    assert_fresh_environment(&mut boot, &api).await;
}

/// Growing past the function's memory size: Ruby's own NoMemoryError (a
/// critical exception), then a fresh environment serves the next event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_cap_and_the_next_event_is_fine() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    let (id, o) = boot.call_json(&api, json!({"action": "hog"})).await;
    assert_eq!(
        assert_lambda_error(&o, "Function<NoMemoryError>", &id),
        "failed to allocate memory"
    );
    assert_fresh_environment(&mut boot, &api).await;
}

/// The interpreter's JavaScript interop has no JavaScript behind it: using
/// it (`require "js"`, or `JS.eval` of code that is not the outbound glue's
/// request) fails the invocation with a message saying so, and the next
/// event is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_interop_fails_loudly() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    for (action, import) in [("js", ""), ("js_eval", "(eval-js)")] {
        let (_, o) = boot.call_json(&api, json!({"action": action})).await;
        let (_, body) = o.error();
        let text = body.to_string();
        assert!(
            text.contains("Ruby called JavaScript interop") && text.contains(import),
            "{action}: {body}"
        );
        assert_fresh_environment(&mut boot, &api).await;
    }
}

// ---------------------------------------------------------------------------
// Pre-initialisation (host/src/guest/interpreter/snapshot.rs): the bootstrap
// restores the home's snapshot of Ruby with its glue loaded (`make ruby`
// takes it); `invoke` with a module cache takes and restores one taken after
// the handler's `require`. Neither may change what the handler sees.

/// The runtime snapshot `make ruby` writes into the interpreter's home.
const RUNTIME_SNAPSHOT: &str = "lambda-wasm-runtime.snapshot";

/// A handler reporting what its file's top-level code and the handler saw.
const SNAPSHOT_PROBE: &str = r#"puts "loading lambda_function.rb"
$loads = ($loads || 0) + 1
AT_LOAD = ENV['MY_VAR']

def lambda_handler(event:, context:)
  { 'loads' => $loads, 'at_load' => AT_LOAD, 'at_invoke' => ENV['MY_VAR'],
    'random' => rand, 'function' => context.function_name, 'event' => event }
end
"#;

fn snapshot_probe_root() -> TaskRoot {
    TaskRoot::builder()
        .file("lambda_function.rb", SNAPSHOT_PROBE)
        .build()
}

/// `invoke` of `root`'s handler with the module cache in `cache`, the
/// function's `MY_VAR` and, when given, `LAMBDA_WASM_PREINIT`.
fn invoke_cached(root: &Path, cache: &Path, my_var: &str, preinit: Option<&str>) -> CliOutput {
    let home = ruby_home();
    let mut env = vec![
        ("LAMBDA_WASM_RUBY_HOME", home.to_str().unwrap()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    env.extend(preinit.map(|level| ("LAMBDA_WASM_PREINIT", level)));
    let variable = format!("MY_VAR={my_var}");
    let root = root.to_str().unwrap();
    let args = [
        "invoke",
        HANDLER,
        "--task-root",
        root,
        "--env",
        &variable,
        "--event",
        "-",
    ];
    let event =
        br#"{"first_name": "John", "last_name": "Smith", "action": "increment", "number": 3}"#;
    invoke_cli_env(&args, Some(event), &env)
}

/// The handler snapshots in `cache` (each has its record beside it).
fn cached_snapshots(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("lambda-wasm/snapshots")).map_or(0, |dir| {
        dir.filter(|entry| {
            entry.as_ref().is_ok_and(|entry| {
                entry
                    .path()
                    .extension()
                    .is_some_and(|ext| ext == "snapshot")
            })
        })
        .count()
    })
}

#[test]
fn snapshots_leave_the_seed_outputs_as_they_are() {
    require_ruby!();
    for name in ["hello", "increment", "region"] {
        let seed = workspace_root().join("guests/ruby").join(name);
        let cache = tempfile::tempdir().unwrap();
        let scratch = invoke_cached(&seed, cache.path(), "", Some("off"));
        assert_eq!(scratch.code(), Some(0), "{scratch:#?}");
        assert_eq!(cached_snapshots(cache.path()), 0, "off takes no snapshot");
        let taken = invoke_cached(&seed, cache.path(), "", None);
        let restored = invoke_cached(&seed, cache.path(), "", None);
        assert_eq!(cached_snapshots(cache.path()), 1);
        for run in [&taken, &restored] {
            assert_eq!(run.json(), scratch.json(), "{name}: {run:#?}");
        }
        if name == "increment" {
            // The Logger the file made at load, set up before the snapshot.
            assert!(
                restored.stderr.contains("INFO")
                    && restored.stderr.contains("Calculated result of 4"),
                "{restored:#?}"
            );
        }
    }
}

/// The handler's file is loaded once, when its snapshot is taken (its
/// `puts` is not written again); each restore re-seeds `rand` and makes
/// `ENV` the function's, and another environment is another snapshot.
#[test]
fn a_restored_handler_sees_the_functions_environment_and_fresh_randomness() {
    require_ruby!();
    let root = snapshot_probe_root();
    let cache = tempfile::tempdir().unwrap();
    let runs: Vec<CliOutput> = (0..3)
        .map(|_| invoke_cached(root.path(), cache.path(), "one", None))
        .collect();
    let outputs: Vec<Value> = runs.iter().map(CliOutput::json).collect();
    for output in &outputs {
        assert_eq!(output["loads"], 1, "one load per environment: {output}");
        assert_eq!(
            (&output["at_load"], &output["at_invoke"]),
            (&json!("one"), &json!("one"))
        );
        assert_eq!(output["function"], "lambda_function");
    }
    assert!(
        runs[0].stderr.contains("loading lambda_function.rb"),
        "{:#?}",
        runs[0]
    );
    assert!(
        !runs[1].stderr.contains("loading lambda_function.rb"),
        "restored, not loaded again: {:#?}",
        runs[1]
    );
    assert_ne!(
        outputs[1]["random"], outputs[2]["random"],
        "re-seeded at each restore"
    );
    let other = invoke_cached(root.path(), cache.path(), "two", None).json();
    assert_eq!(
        (&other["at_load"], &other["at_invoke"]),
        (&json!("two"), &json!("two"))
    );
    // From the runtime's snapshot only, the file is loaded at each init.
    for value in ["three", "four"] {
        let run = invoke_cached(root.path(), cache.path(), value, Some("runtime"));
        assert!(
            run.stderr.contains("loading lambda_function.rb"),
            "{run:#?}"
        );
        let output = run.json();
        assert_eq!(
            (&output["at_load"], &output["at_invoke"]),
            (&json!(value), &json!(value))
        );
    }
}

/// A file that does not load leaves no snapshot: the function reports the
/// same init error as without snapshots, each time, until it is fixed; a
/// changed file is loaded again.
#[test]
fn load_errors_and_changed_files_with_snapshots() {
    require_ruby!();
    let root = TaskRoot::builder()
        .file("lambda_function.rb", "require 'no_such_gem'\n")
        .build();
    let cache = tempfile::tempdir().unwrap();
    let scratch = invoke_cached(root.path(), cache.path(), "", Some("off"));
    assert!(scratch.stdout.contains("Init<LoadError>"), "{scratch:#?}");
    for _ in 0..2 {
        let run = invoke_cached(root.path(), cache.path(), "", None);
        assert_eq!(
            (run.code(), &run.stdout),
            (scratch.code(), &scratch.stdout),
            "{run:#?}"
        );
    }
    root.write("lambda_function.rb", SNAPSHOT_PROBE.as_bytes());
    let fixed = invoke_cached(root.path(), cache.path(), "", None);
    assert_eq!(fixed.json()["loads"], 1, "{fixed:#?}");
    root.write(
        "lambda_function.rb",
        b"def lambda_handler(event:, context:)\n  'changed'\nend\n",
    );
    let changed = invoke_cached(root.path(), cache.path(), "", None);
    assert_eq!(changed.json(), json!("changed"), "{changed:#?}");
}

/// A home whose interpreter is the real home's and whose snapshot is the
/// real one's bytes after `edit`.
fn home_with_snapshot(edit: impl FnOnce(&mut Vec<u8>)) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    for file in ["ruby.cwasm", "ruby.cwasm.source", "ruby.wasm"] {
        std::os::unix::fs::symlink(ruby_home().join(file), home.path().join(file)).unwrap();
    }
    let mut snapshot = std::fs::read(ruby_home().join(RUNTIME_SNAPSHOT)).unwrap();
    edit(&mut snapshot);
    std::fs::write(home.path().join(RUNTIME_SNAPSHOT), snapshot).unwrap();
    home
}

/// Two events from a bootstrap of [`SNAPSHOT_PROBE`] with the interpreter
/// in `home` and `extra` variables.
async fn probe_bootstrap(home: &Path, extra: &[(&str, &str)]) -> Vec<Value> {
    let api = FakeRuntimeApi::start().await;
    let root = snapshot_probe_root();
    let mut boot = spawn_with_home(&api, &root, HANDLER, ("LAMBDA_WASM_RUBY_HOME", home), extra);
    let mut outputs = Vec::new();
    for n in 0..2 {
        let (_, o) = boot.call_json(&api, json!({ "n": n })).await;
        outputs.push(o.json());
    }
    api.assert_all_answered_once();
    outputs
}

/// The bootstrap restores the home's snapshot: the function's variables,
/// a random seed of its own per environment, the same answers as without
/// it; a stale or corrupt snapshot is never restored (the function starts
/// from scratch and answers the same).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_restores_only_a_current_runtime_snapshot() {
    require_ruby!();
    let snapshot_made = ruby_home().join(RUNTIME_SNAPSHOT).is_file();
    if !require(
        "the Ruby runtime snapshot",
        snapshot_made,
        "run `make ruby`",
    ) {
        return;
    }
    let variables = [("MY_VAR", "mine")];
    let stale_key = home_with_snapshot(|bytes| bytes[30] ^= 0xff);
    let corrupt = home_with_snapshot(|bytes| bytes.truncate(100));
    let off = probe_bootstrap(
        &ruby_home(),
        &[("MY_VAR", "mine"), ("LAMBDA_WASM_PREINIT", "off")],
    )
    .await;
    let mut randoms = Vec::new();
    for home in [
        ruby_home().as_path(),
        ruby_home().as_path(),
        stale_key.path(),
        corrupt.path(),
    ] {
        let outputs = probe_bootstrap(home, &variables).await;
        for (output, expected) in outputs.iter().zip(&off) {
            let without_random = |v: &Value| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("random");
                v
            };
            assert_eq!(
                without_random(output),
                without_random(expected),
                "{}",
                home.display()
            );
            assert_eq!(output["at_load"], "mine");
        }
        randoms.push(outputs[0]["random"].clone());
    }
    assert_ne!(randoms[0], randoms[1], "each environment re-seeds Random");
}

// ---------------------------------------------------------------------------
// Outbound HTTP (docs/abi.md section 12): Net::HTTP through the host, against
// tests/e2e/outbound.rs's local server, under the allow-list, with the same
// events and checks as the Python handler's

/// A handler making the request each event names with Net::HTTP (or
/// open-uri), answering as outbound.rs's Python handler does.
const NET_HTTP_HANDLER: &str = r#"require 'net/http'
require 'open-uri'

def lambda_handler(event:, context:)
  case event['op']
  when 'get'
    res = Net::HTTP.get_response(URI(event['url']))
    { 'status' => res.code.to_i, 'body' => res.body, 'type' => res['content-type'] }
  when 'post'
    Net::HTTP.start(event['host'], event['port']) do |http|
      res = http.post('/echo', event['body'], 'Content-Type' => 'text/plain')
      { 'status' => res.code.to_i, 'body' => res.body, 'method' => res['x-got-method'] }
    end
  when 'header'
    uri = URI(event['url'])
    req = Net::HTTP::Get.new(uri)
    req['Authorization'] = 'Bearer from-ruby'
    { 'body' => Net::HTTP.start(uri.host, uri.port) { |http| http.request(req) }.body }
  when 'open_uri'
    { 'body' => URI(event['url']).open(&:read) }
  when 'https'
    http = Net::HTTP.new(event['host'], 443)
    http.use_ssl = true
    { 'status' => http.get('/').code.to_i }
  when 'timed'
    uri = URI(event['url'])
    micros = Array.new(event['count']) do
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      Net::HTTP.get_response(uri).body
      (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1e6
    end
    { 'micros' => micros }
  end
rescue SocketError => e
  { 'error' => e.class.name, 'reason' => e.message }
end
"#;

/// What the handler reports a refused request as.
const OUTBOUND_ERROR: &str = "LambdaWasm::OutboundError";

fn net_http_root() -> TaskRoot {
    TaskRoot::builder()
        .file("lambda_function.rb", NET_HTTP_HANDLER)
        .build()
}

/// `serve` of [`NET_HTTP_HANDLER`] with `args` (`--allow-host`, ...) and a
/// function timeout of `timeout` seconds: `serve`'s first event also waits
/// for the environment's init (seconds on a loaded machine).
fn serve_net_http(args: &[&str], timeout: &str) -> (TaskRoot, LocalServer) {
    let root = net_http_root();
    let home = ruby_home();
    let env = [("LAMBDA_WASM_RUBY_HOME", home.to_str().unwrap())];
    let args = [args, &["--timeout", timeout]].concat();
    let server = LocalServer::start(HANDLER, &root, &args, &env);
    (root, server)
}

/// GET, a 404, POST and a redirect the host follows, as the Python
/// handler's; then a request header and open-uri.
#[test]
fn net_http_and_open_uri_reach_an_allowed_host() {
    require_ruby!();
    let web = TestServer::start();
    let (_root, server) = serve_net_http(&["--allow-host", &web.allow()], "30");
    outbound::assert_requests_work(&server, &web);
    let answer = outbound::call(&server, json!({"op": "header", "url": web.url("/auth")}));
    assert_eq!(answer["body"], "Bearer from-ruby", "{answer}");
    let answer = outbound::call(&server, json!({"op": "open_uri", "url": web.url("/hello")}));
    assert_eq!(answer["body"], "hello from the server", "{answer}");
}

/// Every refusal the Python handler sees (a host not on the list, the
/// metadata endpoints, a redirect elsewhere, a response over the cap, ...)
/// and HTTPS to a host not on the list: a SocketError the handler rescues,
/// naming the host and the setting, each followed by a request that works.
#[test]
fn refused_requests_raise_a_socket_error_and_the_next_event_is_fine() {
    require_ruby!();
    let (web, other) = (TestServer::start(), TestServer::start());
    let listed = outbound::refusals_allow_list(&web);
    let args: Vec<&str> = listed.iter().map(String::as_str).collect();
    let (_root, server) = serve_net_http(&args, "30");
    outbound::assert_refusals(&web, &other, OUTBOUND_ERROR, |url| {
        outbound::call(&server, json!({"op": "get", "url": url}))
    });
    let answer = outbound::call(&server, json!({"op": "https", "host": "example.com"}));
    let says = ["example.com:443", "LAMBDA_WASM_ALLOWED_HOSTS"];
    outbound::assert_refused(&answer, OUTBOUND_ERROR, "HTTPS", &says);
    outbound::assert_next_event_fine(&server, &web);
}

/// Net::HTTP GETs from the guest beside native ones (BENCHMARKS.md).
#[test]
#[ignore]
fn measure_net_http_get_against_native() {
    require_ruby!();
    let web = TestServer::start();
    let (_root, server) = serve_net_http(&["--allow-host", &web.allow()], "120");
    outbound::measure_gets_against_native(&server, &web, "Ruby guest Net::HTTP");
}

/// A request to a server slower than the invocation's timeout: `Task timed
/// out`, and the next event is fine. Under the Runtime API, so that the
/// environment's init is not part of the invocation's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_ends_at_the_deadline() {
    require_ruby!();
    let web = TestServer::start();
    let api = FakeRuntimeApi::start().await;
    let root = net_http_root();
    let allow = web.allow();
    let mut boot = spawn(
        &api,
        &root,
        HANDLER,
        &[("LAMBDA_WASM_ALLOWED_HOSTS", &allow)],
    );
    let hello = json!({"op": "get", "url": web.url("/hello")});
    let (_, o) = boot.call_json(&api, hello.clone()).await;
    assert_eq!(o.json()["body"], "hello from the server");
    let slow = json!({"op": "get", "url": web.url("/slow")});
    let (_, o) = boot
        .call(
            &api,
            Invocation::json(&slow).timeout(Duration::from_secs(2)),
        )
        .await;
    outbound::assert_timed_out(o.error().1);
    let (_, o) = boot.call_json(&api, hello).await;
    assert_eq!(o.json()["body"], "hello from the server");
}

// ---------------------------------------------------------------------------
// Deployment packages

/// A package of the Ruby seed carries the interpreter's runtime snapshot
/// and the record it is keyed by, and its bootstrap restores it (no "not
/// using" warning) and answers as the source does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_restores_the_runtime_snapshot() {
    require_ruby!();
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let seed = workspace_root().join("guests/ruby/hello");
    let home = ruby_home();
    let said = crate::package::package(
        &[
            "--task-root",
            seed.to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
        ],
        &[("LAMBDA_WASM_RUBY_HOME", home.to_str().unwrap())],
    );
    let unzipped = crate::package::unzip(&zip);
    let dir = unzipped.path();
    for file in [
        "ruby/lambda-wasm-runtime.snapshot",
        "ruby/ruby.cwasm.source",
    ] {
        assert!(dir.join(file).is_file(), "no {file} in the package: {said}");
    }
    crate::package::assert_seed_hello_answers(dir).await;
}
