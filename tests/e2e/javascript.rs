//! End-to-end tests of JavaScript handlers: the built `lambda-wasm` binary
//! runs `.mjs`/`.js`/`.cjs` modules on the JavaScript runner (QuickJS-NG for
//! WASI, `make js` installs it), in runtime mode against the fake Runtime API.
//!
//! What is checked is AWS's Node.js runtime behaviour (aws-lambda-ric): the
//! seed examples ported, ES modules, CommonJS and callback handlers, the
//! context object, error bodies (`errorType`, `errorMessage`, `trace`), init
//! errors, console log lines, and a timeout followed by a good event.
//!
//! The runner is looked up in `$LAMBDA_WASM_JS_HOME`, else
//! `<target>/release/js`, else `<target>/debug/js`; without one each test
//! prints one `SKIPPED` line and returns, or fails under
//! `LAMBDA_WASM_REQUIRE_ALL=1` (`support::require`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The runner, task roots, spawning

/// Where the runner is looked for: `$LAMBDA_WASM_JS_HOME` when set, then
/// `<target>/release/js`, then `<target>/debug/js`.
fn js_home_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("LAMBDA_WASM_JS_HOME").filter(|h| !h.is_empty()) {
        candidates.push(home.into());
    }
    candidates.push(target_dir().join("release").join("js"));
    candidates.push(target_dir().join("debug").join("js"));
    candidates
}

/// The runner's home, if one is installed.
pub(crate) fn js_home() -> Option<&'static Path> {
    static HOME: OnceLock<Option<PathBuf>> = OnceLock::new();
    HOME.get_or_init(|| {
        let installed = |home: &Path| {
            home.join("javascript.cwasm").is_file() || home.join("javascript.wasm").is_file()
        };
        js_home_candidates()
            .into_iter()
            .find(|home| installed(home))
    })
    .as_deref()
}

/// The runner's home, or `None` (the test returns) after [`require`]
/// reported it missing.
pub(crate) fn require_js() -> Option<&'static Path> {
    require_home(
        "the JavaScript runner",
        js_home(),
        &js_home_candidates(),
        "js",
    )
}

/// Returns from the test after [`require`] reported the runner missing.
macro_rules! require_js {
    () => {
        if require_js().is_none() {
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
    let home = js_home().expect("checked by require_js!");
    spawn_with_home(api, root, handler, ("LAMBDA_WASM_JS_HOME", home), extra)
}

/// A task root holding a seed example's port (`guests/js/<name>/index.mjs`).
fn seed_root(name: &str) -> TaskRoot {
    seed_port_root("js", name, "index.mjs")
}

/// The lines on the bootstrap's stderr that carry `id`.
fn lines_with<'a>(stderr: &'a str, id: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(id)).collect()
}

/// Asserts the Node.js runtime's text line `<ISO time>\t<request id>\t<LEVEL>\t<message>`.
#[track_caller]
fn assert_node_line(line: &str, level: &str, id: &str, message: &str) {
    let fields: Vec<&str> = line.splitn(4, '\t').collect();
    assert_eq!(fields.len(), 4, "not a Node.js log line: {line:?}");
    let ts = fields[0];
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T" && &ts[19..20] == ".",
        "timestamp {ts:?} in {line:?}"
    );
    assert_eq!(
        (fields[1], fields[2], fields[3]),
        (id, level, message),
        "{line:?}"
    );
}

/// The Node.js runtime's error body `{"errorType", "errorMessage", "trace"}`
/// with `error_type` (in the header too); returns the body.
#[track_caller]
fn assert_node_error<'a>(outcome: &'a Outcome, error_type: &str) -> &'a Value {
    let (header, body) = outcome.error();
    assert_node_error_body(body, error_type);
    assert_eq!(
        header,
        Some(error_type),
        "Lambda-Runtime-Function-Error-Type header; body {body}"
    );
    body
}

#[track_caller]
fn assert_node_error_body(body: &Value, error_type: &str) {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "trace"],
        "error keys of {body}"
    );
    assert_eq!(body["errorType"], error_type, "errorType of {body}");
    assert!(body["errorMessage"].is_string(), "errorMessage of {body}");
    let trace = body["trace"]
        .as_array()
        .unwrap_or_else(|| panic!("trace is not an array: {body}"));
    assert!(
        trace.iter().all(Value::is_string),
        "trace entries must be strings: {body}"
    );
}

// ---------------------------------------------------------------------------
// The seed examples, ported (guests/js), with the Python originals' outputs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_hello() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("hello");
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let (_, o) = boot.call_json(&api, seed_event("hello")).await;
    assert_eq!(o.json(), json!({"message": "Hello John Smith!"}));
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_region() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("region");
    let mut boot = spawn(&api, &root, "index.handler", &[("AWS_REGION", "eu-west-1")]);
    let (_, o) = boot.call_json(&api, seed_event("region")).await;
    assert_seed_region_response(&o.json(), "eu-west-1");
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_increment_and_log_lines() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("increment");
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let (inc_id, o) = boot.call_json(&api, seed_event("increment")).await;
    assert_eq!(o.json(), json!({"result": 4}));
    let (bad_id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let logged = boot
        .wait_for_stderr(WAIT, |s| {
            lines_with(s, &bad_id)
                .iter()
                .any(|l| l.contains("foo is not"))
        })
        .await;
    assert!(logged, "no line for the bad action:\n{}", boot.stderr());
    let stderr = boot.stderr();
    let line = |id: &str, needle: &str| {
        *lines_with(&stderr, id)
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stderr}"))
    };
    assert_node_line(
        line(&inc_id, "Calculated"),
        "INFO",
        &inc_id,
        "Calculated result of 4",
    );
    assert_node_line(
        line(&bad_id, "foo is not"),
        "ERROR",
        &bad_id,
        "foo is not a valid action.",
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Module kinds and handler styles

const ESM: &str = r#"import { greet } from "./lib/greet.mjs";
import data from "./data.json" with { type: "json" };
import greeter from "greeter";
import { shout } from "greeter/shout";
console.log("esm: init ran");
const config = await new Promise((resolve) => setTimeout(() => resolve({ loaded: true }), 5));
let calls = 0;
export const handler = async (event) => {
  calls += 1;
  return { greeting: greet(event.name), data, config, calls, pkg: greeter("pkg"), shout: shout("hey") };
};
"#;

const CALLBACK: &str = r#"exports.handler = function (event, context, callback) {
  const order = [];
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => order.push("timer"), 20);
  callback(null, order);
};
"#;

fn modules_root() -> TaskRoot {
    TaskRoot::builder()
        .file("index.mjs", ESM)
        .file("lib/greet.mjs", "export const greet = (name) => `hello ${name}`;\n")
        .file("data.json", r#"{"answer": 42}"#)
        .file(
            "node_modules/greeter/package.json",
            r#"{"name": "greeter", "exports": {".": {"import": "./esm.mjs", "require": "./cjs.js"}, "./shout": "./shout.js"}}"#,
        )
        .file("node_modules/greeter/esm.mjs", "export default (who) => `esm greeter for ${who}`;\n")
        .file("node_modules/greeter/cjs.js", "module.exports = (who) => `cjs greeter for ${who}`;\n")
        .file("node_modules/greeter/shout.js", "exports.shout = (s) => s.toUpperCase() + '!';\n")
        .file(
            "app.cjs",
            "const greeter = require('greeter');\nexports.handler = async (event) => ({ kind: 'cjs', pkg: greeter('cjs'), dir: __dirname === process.env.LAMBDA_TASK_ROOT });\n",
        )
        .file("plain.js", "module.exports = { handler: async () => ({ kind: 'js' }) };\n")
        .file("callback.js", CALLBACK)
        .file("src/nested.js", "exports.deep = { fn: async () => 'nested' };\n")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es_modules_with_imports_and_state() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = modules_root();
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    for calls in 1..=2 {
        let (_, o) = boot.call_json(&api, json!({"name": "Ada"})).await;
        assert_eq!(
            o.json(),
            json!({
                "greeting": "hello Ada", "data": {"answer": 42}, "config": {"loaded": true},
                "calls": calls, "pkg": "esm greeter for pkg", "shout": "HEY!"
            })
        );
    }
    assert_eq!(
        boot.stderr().matches("esm: init ran").count(),
        1,
        "{}",
        boot.stderr()
    );
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commonjs_handlers() {
    require_js!();
    let root = modules_root();
    for (handler, expected) in [
        (
            "app.handler",
            json!({"kind": "cjs", "pkg": "cjs greeter for cjs", "dir": true}),
        ),
        ("plain.handler", json!({"kind": "js"})),
        ("src/nested.deep.fn", json!("nested")),
    ] {
        let api = FakeRuntimeApi::start().await;
        let mut boot = spawn(&api, &root, handler, &[]);
        let (_, o) = boot.call_json(&api, json!({})).await;
        assert_eq!(o.json(), expected, "{handler}");
        api.assert_all_answered_once();
    }
}

/// callback(null, value) waits for the event loop to empty unless
/// callbackWaitsForEmptyEventLoop is false (the timer then runs later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_handlers_follow_callback_waits_for_empty_event_loop() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = modules_root();
    let mut boot = spawn(&api, &root, "callback.handler", &[]);
    let (_, o) = boot.call_json(&api, json!({"wait": true})).await;
    assert_eq!(
        o.json(),
        json!(["timer"]),
        "the response waited for the timer"
    );
    let (_, o) = boot.call_json(&api, json!({"wait": false})).await;
    assert_eq!(o.json(), json!([]), "the response did not wait");
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// The context, errors, init errors, logs, timeouts

const PROBE: &str = r#"let instance = Math.random();
export const handler = async (event, context) => {
  switch (event.action) {
    case "context": {
      const first = context.getRemainingTimeInMillis();
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {
        awsRequestId: context.awsRequestId, functionName: context.functionName,
        functionVersion: context.functionVersion, invokedFunctionArn: context.invokedFunctionArn,
        memoryLimitInMB: context.memoryLimitInMB, logGroupName: context.logGroupName,
        logStreamName: context.logStreamName, identity: context.identity ?? null,
        clientContext: context.clientContext ?? null, waits: context.callbackWaitsForEmptyEventLoop,
        remaining: [first, context.getRemainingTimeInMillis()], trace: process.env._X_AMZN_TRACE_ID,
      };
    }
    case "throw": {
      const err = new TypeError("bad input");
      err.code = "E_BAD";
      throw err;
    }
    case "log":
      console.log("plain %s", "text", { a: 1, nested: { b: [1, 2] } });
      console.warn("multi\nline");
      console.debug("debug line");
      return "logged";
    case "loop":
      while (true) {}
    default:
      return { instance };
  }
};
"#;

fn probe_root() -> TaskRoot {
    TaskRoot::builder().file("index.mjs", PROBE).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_fields_match_node() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let inv = Invocation::json(&json!({"action": "context"}))
        .arn("arn:aws:lambda:us-east-1:123456789012:function:test-fn:live")
        .trace_id("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
        .client_context(r#"{"custom": {"k": "v"}, "env": {"platform": "web"}}"#)
        .cognito_identity(r#"{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}"#);
    let (id, o) = boot.call(&api, inv).await;
    let v = o.json();
    assert_eq!(v["awsRequestId"], id.as_str());
    assert_eq!(v["functionName"], "test-fn");
    assert_eq!(v["functionVersion"], "$LATEST");
    assert_eq!(
        v["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test-fn:live"
    );
    assert_eq!(v["memoryLimitInMB"], "128", "a string, as in Node");
    assert_eq!(v["logGroupName"], "/aws/lambda/test-fn");
    assert_eq!(v["logStreamName"], "2026/11/26/[$LATEST]0123456789abcdef");
    assert_eq!(
        v["identity"],
        json!({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    );
    assert_eq!(
        v["clientContext"],
        json!({"custom": {"k": "v"}, "env": {"platform": "web"}})
    );
    assert_eq!(v["waits"], true);
    assert_eq!(
        v["trace"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    );
    let (first, second) = (
        v["remaining"][0].as_i64().unwrap(),
        v["remaining"][1].as_i64().unwrap(),
    );
    assert!(
        first > 0 && second <= first - 40,
        "remaining time {first} then {second}"
    );
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrown_error_has_nodes_shape_and_log_line() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let (id, o) = boot.call_json(&api, json!({"action": "throw"})).await;
    let body = assert_node_error(&o, "TypeError");
    assert_eq!(body["errorMessage"], "bad input");
    let trace: Vec<&str> = body["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(trace[0], "TypeError: bad input", "{body}");
    assert!(
        trace[1].starts_with("    at handler (file://") && trace[1].contains("/index.mjs:"),
        "{body}"
    );
    let logged = boot
        .wait_for_stderr(WAIT, |s| {
            lines_with(s, &id)
                .iter()
                .any(|l| l.contains("Invoke Error"))
        })
        .await;
    assert!(logged, "no Invoke Error line:\n{}", boot.stderr());
    let stderr = boot.stderr();
    let line = lines_with(&stderr, &id)
        .into_iter()
        .find(|l| l.contains("Invoke Error"))
        .unwrap();
    let (prefix, formatted) = line
        .split_once("Invoke Error \t")
        .expect("Node's `Invoke Error \\t{...}`");
    assert!(prefix.ends_with(&format!("\t{id}\tERROR\t")), "{line:?}");
    let logged: Value = serde_json::from_str(formatted).unwrap();
    assert_eq!(
        (
            &logged["errorType"],
            &logged["errorMessage"],
            &logged["code"]
        ),
        (&json!("TypeError"), &json!("bad input"), &json!("E_BAD"))
    );
    assert_eq!(logged["stack"][0], "TypeError: bad input");
    // The environment goes on.
    let (_, o) = boot.call_json(&api, json!({})).await;
    assert!(o.json()["instance"].is_number());
    api.assert_all_answered_once();
}

async fn init_error_case(root: &TaskRoot, handler: &str, error_type: &str) -> (Value, String) {
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
    assert_node_error_body(&err.body, error_type);
    let status = boot
        .wait_exit(WAIT)
        .await
        .expect("the bootstrap exits after an init error");
    assert!(!status.success(), "exit status {status}");
    (err.body, boot.stderr())
}

/// A module that imports a missing package: Node's resolution errors, as
/// AWS's Node.js runtime reports them, and its "Uncaught Exception" line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_missing_module() {
    require_js!();
    let root = TaskRoot::builder()
        .file(
            "index.mjs",
            "import x from 'not-installed';\nexport const handler = async () => x;\n",
        )
        .file(
            "app.js",
            "const x = require('not-installed');\nexports.handler = async () => x;\n",
        )
        .build();
    let (body, stderr) = init_error_case(&root, "index.handler", "Runtime.ImportModuleError").await;
    assert_eq!(
        body["errorMessage"],
        "Error: Cannot find package 'not-installed' imported from /var/task/index.mjs"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("Uncaught Exception"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains(
            "\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"Runtime.ImportModuleError\""
        ),
        "{line:?}"
    );
    let (body, _) = init_error_case(&root, "app.handler", "Runtime.ImportModuleError").await;
    assert_eq!(
        body["errorMessage"],
        "Error: Cannot find module 'not-installed'\nRequire stack:\n- /var/task/app.js\n- /var/runtime/index.mjs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_missing_handler() {
    require_js!();
    let root = TaskRoot::builder()
        .file("index.mjs", "export const other = 1;\n")
        .build();
    let (body, _) = init_error_case(&root, "index.handler", "Runtime.HandlerNotFound").await;
    assert_eq!(
        body["errorMessage"],
        "index.handler is undefined or not exported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_syntax() {
    require_js!();
    let root = TaskRoot::builder()
        .file("index.mjs", "export const handler = async () => {;\n")
        .build();
    let (body, _) = init_error_case(&root, "index.handler", "Runtime.UserCodeSyntaxError").await;
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("SyntaxError: "), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_lines_text_json_and_level() {
    require_js!();
    let root = probe_root();
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let (id, o) = boot.call_json(&api, json!({"action": "log"})).await;
    assert_eq!(o.json(), "logged");
    assert!(
        boot.wait_for_stderr(WAIT, |s| s.contains("debug line"))
            .await,
        "{}",
        boot.stderr()
    );
    let stderr = boot.stderr();
    let lines = lines_with(&stderr, &id);
    let find = |needle: &str| {
        *lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?}:\n{stderr}"))
    };
    assert_node_line(
        find("plain"),
        "INFO",
        &id,
        "plain text { a: 1, nested: { b: [ 1, 2 ] } }",
    );
    assert_node_line(find("multi"), "WARN", &id, "multi\rline");
    assert_node_line(find("debug line"), "DEBUG", &id, "debug line");
    drop(boot);

    let api = FakeRuntimeApi::start().await;
    let env = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
    ];
    let mut boot = spawn(&api, &root, "index.handler", &env);
    let (id, _) = boot.call_json(&api, json!({"action": "log"})).await;
    assert!(
        boot.wait_for_stderr(WAIT, |s| s.contains("multi")).await,
        "{}",
        boot.stderr()
    );
    let stderr = boot.stderr();
    assert!(
        !stderr.contains("plain text") && !stderr.contains("debug line"),
        "below WARN:\n{stderr}"
    );
    let line = stderr.lines().find(|l| l.contains("multi")).unwrap();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(
        (&v["level"], &v["requestId"], &v["message"]),
        (&json!("WARN"), &json!(id), &json!("multi\nline"))
    );
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'), "{v}");
}

/// An infinite loop ends at the deadline; the next event gets a fresh
/// environment (module code runs again) and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out_and_the_next_event_is_fine() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let (_, o) = boot.call_json(&api, json!({})).await;
    let before = o.json()["instance"].clone();
    let inv = Invocation::json(&json!({"action": "loop"})).timeout(Duration::from_secs(1));
    let (id, o) = boot.call(&api, inv).await;
    let (_, body) = o.error();
    assert_eq!(body["errorType"], "Sandbox.Timedout", "{body}");
    assert!(
        body["errorMessage"].as_str().unwrap().contains(&id),
        "{body}"
    );
    let (_, o) = boot.call_json(&api, json!({})).await;
    let after = o.json()["instance"].clone();
    assert!(
        after.is_number() && after != before,
        "a fresh environment: {before} then {after}"
    );
    api.assert_all_answered_once();
}

const UNCAUGHT: &str = r#"const instance = Math.random();
export const handler = async (event) => {
  if (event.kind === "timer") {
    setTimeout(() => { throw new RangeError("from a timer"); }, 5);
    return new Promise(() => {});
  }
  if (event.kind === "reject") {
    Promise.reject(new Error("nobody listens"));
    return new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (event.kind === "exit") process.exit(3);
  return instance;
};
"#;

/// A timer callback's exception and an unhandled rejection fail the running
/// invocation as the Node.js runtime reports them; `process.exit` ends the
/// environment (`Runtime.ExitError`) and the next event gets a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncaught_errors_and_process_exit() {
    require_js!();
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::builder().file("index.mjs", UNCAUGHT).build();
    let mut boot = spawn(&api, &root, "index.handler", &[]);
    let (_, o) = boot.call_json(&api, json!({"kind": "timer"})).await;
    assert_eq!(
        assert_node_error(&o, "RangeError")["errorMessage"],
        "from a timer"
    );
    let (_, o) = boot.call_json(&api, json!({"kind": "reject"})).await;
    let body = assert_node_error(&o, "Runtime.UnhandledPromiseRejection");
    assert_eq!(body["errorMessage"], "Error: nobody listens");
    let (_, o) = boot.call_json(&api, json!({})).await;
    let before = o.json();
    let (_, o) = boot.call_json(&api, json!({"kind": "exit"})).await;
    assert_eq!(o.error().1["errorType"], "Runtime.ExitError", "{o:?}");
    let (_, o) = boot.call_json(&api, json!({})).await;
    assert!(
        o.json().is_number() && o.json() != before,
        "a fresh environment"
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Pre-initialisation (docs/abi.md "Pre-initialisation"): `invoke` with a
// module cache snapshots the runner after the handler's module was
// evaluated; later cold starts restore it.

/// A handler that reports what module-level code and the handler saw; its
/// top-level `await` waits on a timer, and the handler on another (the
/// clock goes on after a restore).
const PROBE_MJS: &str = r#"let evaluations = 0;
evaluations += 1;
const atImport = process.env.MY_VAR;
await new Promise((resolve) => setTimeout(resolve, 5));
let calls = 0;
export const handler = async (event, context) => {
  calls += 1;
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return {
    evaluations, calls, atImport, atInvoke: process.env.MY_VAR,
    random: Math.random(), waited: Date.now() - start,
    function: context.functionName, event,
  };
};
"#;

/// `invoke` of `handler` in `root` with a module cache in `cache` (see
/// [`crate::preinit::invoke_cached`]).
fn invoke_js(handler: &str, root: &Path, cache: &Path, env: &[(&str, &str)]) -> CliOutput {
    let home = js_home().expect("checked by require_js!");
    let home = home.to_str().expect("a UTF-8 path");
    crate::preinit::invoke_cached(("LAMBDA_WASM_JS_HOME", home), handler, root, cache, env)
}

#[test]
fn preinit_seed_outputs_are_those_of_a_cold_start() {
    require_js!();
    for name in ["hello", "increment", "region"] {
        let seed = seed_root(name);
        let cache = tempfile::tempdir().unwrap();
        let run = |env: &[(&str, &str)]| invoke_js("index.handler", seed.path(), cache.path(), env);
        let scratch = run(&[("LAMBDA_WASM_PREINIT", "off")]);
        assert_eq!(scratch.code(), Some(0), "{scratch:#?}");
        assert!(crate::preinit::snapshots(cache.path()).is_empty());
        let (taken, restored) = (run(&[]), run(&[]));
        let runtime_only = run(&[("LAMBDA_WASM_PREINIT", "runtime")]);
        assert!(!crate::preinit::snapshots(cache.path()).is_empty());
        for run in [&taken, &restored, &runtime_only] {
            assert_eq!(run.json(), scratch.json(), "{name}: {run:#?}");
        }
        if name == "increment" {
            assert!(restored.stderr.contains("INFO"), "{restored:#?}");
        }
    }
}

#[test]
fn preinit_evaluates_the_module_once_with_the_functions_environment() {
    require_js!();
    let root = TaskRoot::builder().file("index.mjs", PROBE_MJS).build();
    let cache = tempfile::tempdir().unwrap();
    let runs: Vec<Value> = (0..3)
        .map(|_| {
            let run = invoke_js(
                "index.handler",
                root.path(),
                cache.path(),
                &[("MY_VAR", "one")],
            );
            assert_eq!(run.code(), Some(0), "{run:#?}");
            run.json()
        })
        .collect();
    for run in &runs {
        assert_eq!(
            (&run["evaluations"], &run["calls"]),
            (&json!(1), &json!(1)),
            "{run}"
        );
        assert_eq!(
            (&run["atImport"], &run["atInvoke"]),
            (&json!("one"), &json!("one"))
        );
        assert_eq!(run["function"], "index");
        let waited = run["waited"].as_f64().unwrap();
        assert!(
            (19.0..2000.0).contains(&waited),
            "timers run on the restored clock: {run}"
        );
    }
    assert_ne!(
        runs[1]["random"], runs[2]["random"],
        "Math.random differs per restore"
    );
    let other = invoke_js(
        "index.handler",
        root.path(),
        cache.path(),
        &[("MY_VAR", "two")],
    )
    .json();
    assert_eq!(
        (&other["atImport"], &other["atInvoke"]),
        (&json!("two"), &json!("two"))
    );
    let runtime = invoke_js(
        "index.handler",
        root.path(),
        cache.path(),
        &[("MY_VAR", "three"), ("LAMBDA_WASM_PREINIT", "runtime")],
    )
    .json();
    assert_eq!(
        (&runtime["atImport"], &runtime["atInvoke"]),
        (&json!("three"), &json!("three"))
    );
}

#[test]
fn preinit_never_uses_a_stale_snapshot() {
    require_js!();
    let root = TaskRoot::builder().file("index.mjs", PROBE_MJS).build();
    let cache = tempfile::tempdir().unwrap();
    let first = invoke_js("index.handler", root.path(), cache.path(), &[]);
    assert_eq!(first.json()["calls"], 1, "{first:#?}");
    root.write(
        "index.mjs",
        b"export const handler = async () => 'changed';\n",
    );
    let changed = invoke_js("index.handler", root.path(), cache.path(), &[]);
    assert_eq!(changed.json(), json!("changed"), "{changed:#?}");
    // A corrupt snapshot in the cache is replaced; one in the runner's home
    // is not used (the function starts from scratch).
    for snapshot in crate::preinit::snapshots(cache.path()) {
        std::fs::write(&snapshot, b"not a snapshot").unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let installed = js_home().expect("checked by require_js!");
    for file in std::fs::read_dir(installed).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, home.path().join(file.file_name().unwrap())).unwrap();
    }
    std::fs::write(home.path().join("lambda-wasm-runtime.snapshot"), b"garbage").unwrap();
    let home_env = ("LAMBDA_WASM_JS_HOME", home.path().to_str().unwrap());
    for _ in 0..2 {
        let run = invoke_js("index.handler", root.path(), cache.path(), &[home_env]);
        assert_eq!(run.json(), json!("changed"), "{run:#?}");
    }
}

#[test]
fn preinit_init_errors_are_those_of_a_cold_start() {
    require_js!();
    let cases = [
        (
            "index.mjs",
            "import { x } from './missing.mjs';\nexport const handler = () => x;\n",
            "Runtime.ImportModuleError",
        ),
        (
            "index.mjs",
            "export const handler = async (event => {;\n",
            "Runtime.UserCodeSyntaxError",
        ),
        (
            "index.mjs",
            "export const other = 1;\n",
            "Runtime.HandlerNotFound",
        ),
        (
            "index.mjs",
            "await new Promise(() => {});\nexport const handler = () => 1;\n",
            "Runtime.ExitError",
        ),
    ];
    for (file, source, error_type) in cases {
        let root = TaskRoot::builder().file(file, source).build();
        let cache = tempfile::tempdir().unwrap();
        let scratch = invoke_js(
            "index.handler",
            root.path(),
            cache.path(),
            &[("LAMBDA_WASM_PREINIT", "off")],
        );
        assert!(
            scratch.stdout.contains(error_type),
            "{error_type}: {scratch:#?}"
        );
        for _ in 0..2 {
            let run = invoke_js("index.handler", root.path(), cache.path(), &[]);
            assert_eq!(
                (run.code(), &run.stdout),
                (scratch.code(), &scratch.stdout),
                "{run:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// fetch over the host's outbound HTTP (docs/abi.md section 12), against a
// local server (outbound.rs's)

/// Each event names a request; failures the handler catches come back as
/// `{name, message, cause}`, and `uncaught` lets fetch's rejection fail the
/// invocation.
const FETCH_MJS: &str = r#"export const handler = async (event) => {
  const describe = async (res) => ({
    status: res.status, ok: res.ok, type: res.headers.get("content-type"),
    method: res.headers.get("x-got-method"),
  });
  switch (event.op) {
    case "get": {
      const res = await fetch(event.url);
      return { ...(await describe(res)), text: await res.text() };
    }
    case "post": {
      const res = await fetch(event.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ greeting: "hi", n: 3 }),
      });
      return { ...(await describe(res)), json: await res.json() };
    }
    case "headers": {
      const headers = new Headers({ Authorization: "Bearer js-token" });
      const res = await fetch(new Request(event.url, { headers }));
      return { text: await res.text() };
    }
    case "bytes": {
      const res = await fetch(event.url, { method: "PUT", body: new Uint8Array([0, 1, 254, 255]) });
      return { bytes: [...new Uint8Array(await res.arrayBuffer())], used: res.bodyUsed };
    }
    case "denied":
      try {
        await fetch(event.url);
        return "reached";
      } catch (e) {
        return { name: e.name, message: e.message, cause: e.cause && e.cause.message };
      }
    case "uncaught":
      return (await fetch(event.url)).status;
  }
};
"#;

fn fetch_server(web: &crate::outbound::TestServer) -> (TaskRoot, LocalServer) {
    let root = TaskRoot::builder().file("index.mjs", FETCH_MJS).build();
    let home = js_home().expect("checked by require_js!");
    let home = home.to_str().expect("a UTF-8 path");
    let allow = web.allow();
    let server = LocalServer::start(
        "index.handler",
        &root,
        &["--allow-host", &allow],
        &[("LAMBDA_WASM_JS_HOME", home)],
    );
    (root, server)
}

#[test]
fn fetch_gets_and_posts_with_headers_and_bodies() {
    require_js!();
    let web = crate::outbound::TestServer::start();
    let (_root, server) = fetch_server(&web);
    let call = |event: Value| server.invoke(event.to_string().as_bytes()).json();
    let got = call(json!({"op": "get", "url": web.url("/hello")}));
    assert_eq!(
        got,
        json!({"status": 200, "ok": true, "type": "text/plain", "method": null, "text": "hello from the server"})
    );
    let missing = call(json!({"op": "get", "url": web.url("/missing")}));
    assert_eq!(
        (&missing["status"], &missing["ok"]),
        (&json!(404), &json!(false)),
        "{missing}"
    );
    let posted = call(json!({"op": "post", "url": web.url("/echo")}));
    assert_eq!(posted["method"], "POST", "{posted}");
    assert_eq!(posted["json"], json!({"greeting": "hi", "n": 3}));
    let headers = call(json!({"op": "headers", "url": web.url("/auth")}));
    assert_eq!(headers["text"], "Bearer js-token");
    let bytes = call(json!({"op": "bytes", "url": web.url("/echo")}));
    assert_eq!(bytes, json!({"bytes": [0, 1, 254, 255], "used": true}));
}

#[test]
fn fetch_denials_reject_like_nodes_and_the_next_event_is_fine() {
    require_js!();
    let web = crate::outbound::TestServer::start();
    let (_root, server) = fetch_server(&web);
    let call = |event: Value| server.invoke(event.to_string().as_bytes());
    let denied = call(json!({"op": "denied", "url": "http://example.com/"})).json();
    assert_eq!(
        (&denied["name"], &denied["message"]),
        (&json!("TypeError"), &json!("fetch failed")),
        "{denied}"
    );
    let cause = denied["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("example.com") && cause.contains("LAMBDA_WASM_ALLOWED_HOSTS"),
        "{cause}"
    );
    let metadata =
        call(json!({"op": "denied", "url": "http://169.254.169.254/latest/meta-data/"})).json();
    assert_eq!(metadata["message"], "fetch failed", "{metadata}");
    let bad_url = call(json!({"op": "denied", "url": "not a url"})).json();
    assert_eq!(bad_url["name"], "TypeError", "{bad_url}");
    assert!(
        bad_url["message"]
            .as_str()
            .unwrap()
            .contains("Failed to parse URL"),
        "{bad_url}"
    );
    let uncaught = call(json!({"op": "uncaught", "url": "http://example.com/"}));
    assert_node_error_body(&uncaught.json(), "TypeError");
    let next = call(json!({"op": "get", "url": web.url("/hello")})).json();
    assert_eq!(next["text"], "hello from the server", "{next}");
}

/// `package` of a JavaScript task root ships the runner, its runtime
/// snapshot and the record that keys it; the unzipped bootstrap answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_ships_the_runner_and_its_snapshot() {
    require_js!();
    let root = seed_root("hello");
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let home = js_home().expect("checked by require_js!").to_str().unwrap();
    crate::package::package(
        &[
            "--task-root",
            root.path().to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
        ],
        &[("LAMBDA_WASM_JS_HOME", home)],
    );
    let unzipped = crate::package::unzip(&zip);
    let dir = unzipped.path();
    for file in [
        "js/javascript.cwasm",
        "js/javascript.cwasm.source",
        "js/lambda-wasm-runtime.snapshot",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing from the zip");
    }
    let event = json!({"first_name": "John", "last_name": "Smith"});
    let (outcome, stderr) = crate::package::run_unzipped(dir, "index.handler", event).await;
    assert_eq!(
        outcome.json(),
        json!({"message": "Hello John Smith!"}),
        "{stderr}"
    );
}
