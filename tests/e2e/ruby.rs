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

use crate::support::*;
use serde_json::{Value, json};

/// Where the interpreter is looked for.
fn ruby_home() -> PathBuf {
    match std::env::var_os("LAMBDA_WASM_RUBY_HOME").filter(|h| !h.is_empty()) {
        Some(home) => home.into(),
        None => target_dir().join("release").join("ruby"),
    }
}

fn installed(home: &Path) -> bool {
    home.join("ruby.cwasm").is_file() || home.join("ruby.wasm").is_file()
}

/// Returns from the test after [`require`] reported the interpreter missing.
macro_rules! require_ruby {
    () => {
        let how = format!("run `make ruby` (looked in {})", ruby_home().display());
        if !require("the Ruby interpreter", installed(&ruby_home()), &how) {
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
/// it fails the invocation with a message saying so, and the next event is
/// fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_interop_fails_loudly() {
    require_ruby!();
    let (api, _root, mut boot) = start_probe().await;
    let (_, o) = boot.call_json(&api, json!({"action": "js"})).await;
    let (_, body) = o.error();
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("do not `require \\\"js\\\"`")
            || body.to_string().contains("JavaScript interop"),
        "{body}"
    );
    assert_fresh_environment(&mut boot, &api).await;
}
