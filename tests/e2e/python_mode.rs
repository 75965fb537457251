//! End-to-end tests of Python handlers: the built `lambda-wasm` binary runs
//! `.py` modules on CPython 3.15 for WASI (`make python` installs it), in
//! runtime mode against the fake Runtime API and in `invoke` test mode.
//!
//! What is checked is AWS's Python runtime (awslambdaric) behaviour: the seed
//! examples unchanged, the context object, error bodies and stack traces,
//! init errors, marshalling, logs, the environment, imports. Every failure
//! case is followed by an event that succeeds.
//!
//! The interpreter is looked up in `<target>/release/python`, else
//! `<target>/debug/python` (or `$LAMBDA_WASM_PYTHON_HOME` when set); without
//! one, each test prints one `SKIPPED` line and returns, or fails under
//! `LAMBDA_WASM_REQUIRE_ALL=1` (`support::require`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

use crate::package;

// ---------------------------------------------------------------------------
// The interpreter, the seed's files, task roots

/// Where the interpreter is looked for: `$LAMBDA_WASM_PYTHON_HOME` when set,
/// then `<target>/release/python`, then `<target>/debug/python`.
fn python_home_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("LAMBDA_WASM_PYTHON_HOME").filter(|h| !h.is_empty()) {
        candidates.push(home.into());
    }
    candidates.push(target_dir().join("release").join("python"));
    candidates.push(target_dir().join("debug").join("python"));
    candidates
}

/// The interpreter's home, if one is installed.
pub(crate) fn python_home() -> Option<&'static Path> {
    static HOME: OnceLock<Option<PathBuf>> = OnceLock::new();
    HOME.get_or_init(|| {
        let installed = |home: &Path| {
            (home.join("python-snapshot.cwasm").is_file()
                || home.join("python-snapshot.wasm").is_file())
                && home.join("lib/python315.zip").is_file()
        };
        python_home_candidates()
            .into_iter()
            .find(|home| installed(home))
    })
    .as_deref()
}

/// The interpreter's home, or `None` (the test returns) after
/// [`require`] reported it missing.
pub(crate) fn require_python() -> Option<&'static Path> {
    require_home(
        "the Python interpreter",
        python_home(),
        &python_home_candidates(),
        "python",
    )
}

pub(crate) fn home_env(home: &Path) -> (&'static str, String) {
    (
        "LAMBDA_WASM_PYTHON_HOME",
        home.to_str().expect("a UTF-8 path").to_string(),
    )
}

fn seed_root(name: &str) -> TaskRoot {
    seed_port_root("python", name, "lambda_function.py")
}

/// A handler that does what its event asks, for the tests below.
const PROBE: &str = r#"import os
import sys
import time
import random

INSTANCE = "%016x" % random.getrandbits(64)
COUNTS = {"init": 0, "calls": 0}
COUNTS["init"] += 1
print("probe: init ran")


class CustomError(Exception):
    pass


def fail(message):
    raise CustomError(message)


def lambda_handler(event, context):
    COUNTS["calls"] += 1
    action = event.get("action")
    if action == "counter":
        return {"instance": INSTANCE, "init": COUNTS["init"], "calls": COUNTS["calls"]}
    if action == "context":
        first = context.get_remaining_time_in_millis()
        time.sleep(0.05)
        second = context.get_remaining_time_in_millis()
        cc = context.client_context
        return {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
            "client_context": None if cc is None else {
                "custom": cc.custom,
                "env": cc.env,
                "installation_id": None if cc.client is None else cc.client.installation_id,
            },
            "tenant_id": context.tenant_id,
            "remaining": [first, second],
            "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
            "has_log": callable(context.log),
            "repr": repr(context),
        }
    if action == "fail":
        fail(event.get("message", "boom"))
    if action == "set":
        return {1, 2}
    if action == "circular":
        d = {}
        d["self"] = d
        return d
    if action == "decimal":
        from decimal import Decimal
        return {"price": Decimal("1.10"), "big": Decimal("1E+2"), "list": [Decimal("-0.000001")]}
    if action == "none":
        return None
    if action == "unicode":
        return {"text": "h\u00e9llo \u2603"}
    if action == "print":
        print("probe: printed line")
        print("probe: stderr line", file=sys.stderr)
        context.log("probe: context.log line\n")
        return "printed"
    if action == "logging":
        import logging
        logging.getLogger().warning("probe: warning record %s", 1)
        logging.getLogger().error("probe: error record")
        logging.getLogger("child").info("probe: info record (dropped at the default WARNING level)")
        return [type(h).__name__ for h in logging.getLogger().handlers]
    if action == "modules":
        return {m: m in sys.modules for m in ("logging", "decimal", "traceback", "importlib")}
    if action == "env":
        return {k: os.environ.get(k) for k in (
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "_HANDLER", "LAMBDA_TASK_ROOT", "TZ", "MY_VARIABLE", "AWS_LAMBDA_RUNTIME_API", "AWS_SECRET_ACCESS_KEY")}
    if action == "files":
        with open("/tmp/probe.txt", "w") as f:
            f.write("written")
        with open("/tmp/probe.txt") as f:
            tmp = f.read()
        return {"tmp": tmp, "task_root": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"]))[:3]}
    if action == "exit":
        sys.exit(event.get("code", 2))
    if action == "os_exit":
        os._exit(event.get("code", 3))
    if action == "loop":
        while True:
            pass
    if action == "vendored":
        import vendored_pkg
        result = {"vendored": vendored_pkg.greet("Ada"), "file": vendored_pkg.__file__}
        try:
            import six
            result["six"] = six.__version__
        except ImportError:
            result["six"] = None
        return result
    if action == "nan":
        return {"value": float(event.get("value", "nan"))}
    if action == "bytes":
        return event["text"].encode()
    if action == "log_records":
        import logging
        log = logging.getLogger("probe.child")
        log.warning("probe: warning %s", "w")
        log.critical("probe: critical")
        try:
            {}["missing"]
        except KeyError:
            log.exception("probe: caught")
        log.error("probe: extra", extra={"order_id": 7})
        return "logged"
    return {"echo": event}
"#;

fn probe_root() -> TaskRoot {
    TaskRoot::builder()
        .file("lambda_function.py", PROBE)
        .build()
}

fn spawn(
    api: &FakeRuntimeApi,
    root: &TaskRoot,
    handler: &str,
    extra: &[(&str, &str)],
) -> Bootstrap {
    let home = python_home().expect("checked by require_python");
    spawn_with_home(api, root, handler, ("LAMBDA_WASM_PYTHON_HOME", home), extra)
}

async fn counter(boot: &mut Bootstrap, api: &FakeRuntimeApi) -> Value {
    let (_, o) = boot.call_json(api, json!({"action": "counter"})).await;
    o.json()
}

/// The guest's records and lines on the bootstrap's stderr that carry `id`.
fn lines_with<'a>(stderr: &'a str, id: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(id)).collect()
}

/// Asserts Lambda's text record `[LEVEL]\t<timestamp>\t<request id>\t<message>`.
#[track_caller]
fn assert_text_record(line: &str, level: &str, id: &str, message: &str) {
    let fields: Vec<&str> = line.splitn(4, '\t').collect();
    assert_eq!(fields.len(), 4, "not a text record: {line:?}");
    assert_eq!(fields[0], format!("[{level}]"), "{line:?}");
    let ts = fields[1];
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T" && &ts[19..20] == ".",
        "timestamp {ts:?} in {line:?}"
    );
    assert_eq!(fields[2], id, "{line:?}");
    assert_eq!(fields[3], message, "{line:?}");
}

// ---------------------------------------------------------------------------
// The seed examples, runtime mode

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_hello() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("hello");
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (_, o) = boot
        .call_json(&api, json!({"first_name": "John", "last_name": "Smith"}))
        .await;
    assert_eq!(
        o,
        Outcome::Response(r#"{"message": "Hello John Smith!"}"#.into()),
        "awslambdaric's JSON spacing"
    );
    // A missing key: KeyError, the frame in awslambdaric's format.
    let (id, o) = boot.call_json(&api, json!({"first_name": "John"})).await;
    let msg = assert_lambda_error(&o, "KeyError", &id);
    assert_eq!(msg, "'last_name'");
    assert_eq!(
        o.error().1["stackTrace"],
        json!([
            "  File \"/var/task/lambda_function.py\", line 2, in lambda_handler\n    message = 'Hello {} {}!'.format(event['first_name'], event['last_name'])\n"
        ])
    );
    let (_, o) = boot
        .call_json(&api, json!({"first_name": "Ada", "last_name": "Lovelace"}))
        .await;
    assert_eq!(o.json(), json!({"message": "Hello Ada Lovelace!"}));
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_region() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("region");
    let mut boot = spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[("AWS_REGION", "eu-west-1")],
    );
    let (_, o) = boot
        .call_json(
            &api,
            json!({"key1": "value1", "key2": "value2", "key3": "value3"}),
        )
        .await;
    let v = o.json();
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["headers"], json!({"Content-Type": "application/json"}));
    // json.dumps({"Region ": region}), byte for byte.
    assert_eq!(v["body"], "{\"Region \": \"eu-west-1\"}");
    api.assert_all_answered_once();
}

/// increment: the results, and logger.error's record in Lambda's text format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_increment_and_text_logs() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("increment");
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (inc_id, o) = boot
        .call_json(&api, json!({"action": "increment", "number": 3}))
        .await;
    assert_eq!(o.json(), json!({"result": 4}));
    let (id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let found = boot
        .wait_for_stderr(WAIT, |s| {
            lines_with(s, &id)
                .iter()
                .any(|l| l.contains("foo is not a valid action."))
        })
        .await;
    assert!(
        found,
        "no record of the bad action on stderr:\n{}",
        boot.stderr()
    );
    let stderr = boot.stderr();
    let line = lines_with(&stderr, &id)
        .into_iter()
        .find(|l| l.contains("foo is not a valid action."))
        .unwrap();
    assert_text_record(line, "ERROR", &id, "foo is not a valid action.");
    // logger.info after logger.setLevel(logging.INFO) in the module.
    let line = lines_with(&stderr, &inc_id)
        .into_iter()
        .find(|l| l.contains("Calculated result of 4"));
    assert_text_record(
        line.unwrap_or_else(|| panic!("no INFO record:\n{stderr}")),
        "INFO",
        &inc_id,
        "Calculated result of 4",
    );
    let (_, o) = boot
        .call_json(&api, json!({"action": "increment", "number": 41}))
        .await;
    assert_eq!(o.json(), json!({"result": 42}));
    api.assert_all_answered_once();
}

/// The keys of a JSON log record, in the order written.
fn json_keys(line: &str) -> Vec<String> {
    let v: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON record ({e}): {line:?}"));
    let mut keys: Vec<(usize, String)> = v
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (line.find(&format!("\"{k}\": ")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// `2026-11-26T06:20:33Z`: awslambdaric's JSON timestamps have no milliseconds.
#[track_caller]
fn assert_json_timestamp(v: &Value) {
    let ts = v["timestamp"].as_str().unwrap_or_default();
    assert!(
        ts.len() == 20 && &ts[10..11] == "T" && ts.ends_with('Z'),
        "timestamp {ts:?} in {v}"
    );
}

/// AWS_LAMBDA_LOG_FORMAT=JSON: records are awslambdaric's JsonFormatter
/// objects (logger name, exception fields, extra attributes, Python's level
/// names), and a handler's exception is its JSON log_error record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_records_match_awslambdaric() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    );
    let (id, o) = boot.call_json(&api, json!({"action": "log_records"})).await;
    assert_eq!(o.json(), "logged");
    let (fail_id, _) = boot.call_json(&api, json!({"action": "fail"})).await;
    let done = boot
        .wait_for_stderr(WAIT, |s| s.contains("\"errorType\": \"CustomError\""))
        .await;
    assert!(done, "{}", boot.stderr());
    let stderr = boot.stderr();
    let record = |needle: &str| -> (Value, Vec<String>) {
        let line = stderr
            .lines()
            .find(|l| l.starts_with('{') && l.contains(needle))
            .unwrap_or_else(|| panic!("no record with {needle:?}:\n{stderr}"));
        (serde_json::from_str(line).unwrap(), json_keys(line))
    };
    let (v, keys) = record("probe: warning w");
    assert_eq!(
        keys,
        ["timestamp", "level", "message", "logger", "requestId"],
        "{v}"
    );
    assert_eq!(
        (&v["level"], &v["logger"], &v["requestId"]),
        (&json!("WARNING"), &json!("probe.child"), &json!(id))
    );
    assert_json_timestamp(&v);
    assert_eq!(record("probe: critical").0["level"], "CRITICAL");
    let (v, keys) = record("probe: caught");
    assert_eq!(
        keys,
        [
            "timestamp",
            "level",
            "message",
            "logger",
            "stackTrace",
            "errorType",
            "errorMessage",
            "requestId",
            "location"
        ],
        "{v}"
    );
    assert_eq!(
        (&v["errorType"], &v["errorMessage"]),
        (&json!("KeyError"), &json!("'missing'"))
    );
    let line = PROBE
        .lines()
        .position(|l| l.contains("{}[\"missing\"]"))
        .unwrap()
        + 1;
    // traceback.format_tb, carets included, as awslambdaric's JsonFormatter.
    assert_eq!(
        v["stackTrace"],
        json!([format!(
            "  File \"/var/task/lambda_function.py\", line {line}, in lambda_handler\n    {{}}[\"missing\"]\n    ~~^^^^^^^^^^^\n"
        )])
    );
    assert_eq!(
        v["location"],
        format!("/var/task/lambda_function.py:lambda_handler:{}", line + 2)
    );
    assert_eq!(
        record("probe: extra").0["order_id"],
        7,
        "extra attributes are fields"
    );
    // The handler's exception: log_error's JSON, request id included.
    let (v, keys) = record("\"errorType\": \"CustomError\"");
    assert_eq!(
        keys,
        [
            "timestamp",
            "level",
            "errorMessage",
            "errorType",
            "requestId",
            "stackTrace"
        ],
        "{v}"
    );
    assert_eq!(
        (&v["level"], &v["requestId"]),
        (&json!("ERROR"), &json!(fail_id))
    );
    assert_json_timestamp(&v);
    api.assert_all_answered_once();
}

/// Text format: Python's level names and an exception's traceback, as
/// awslambdaric's formatter writes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_log_records_match_awslambdaric() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (id, _) = boot.call_json(&api, json!({"action": "log_records"})).await;
    let done = boot
        .wait_for_stderr(WAIT, |s| s.contains("probe: extra"))
        .await;
    assert!(done, "{}", boot.stderr());
    let stderr = boot.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?}:\n{stderr}"))
    };
    assert_text_record(
        lines[find("probe: warning w")],
        "WARNING",
        &id,
        "probe: warning w",
    );
    assert_text_record(
        lines[find("probe: critical")],
        "CRITICAL",
        &id,
        "probe: critical",
    );
    let caught = find("probe: caught");
    assert_text_record(lines[caught], "ERROR", &id, "probe: caught");
    assert_eq!(lines[caught + 1], "Traceback (most recent call last):");
    assert!(find("KeyError: 'missing'") > caught + 2, "{stderr}");
    api.assert_all_answered_once();
}

/// AWS_LAMBDA_LOG_FORMAT=JSON: logging records are JSON objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = seed_root("increment");
    let mut boot = spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    );
    let (id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let found = boot
        .wait_for_stderr(WAIT, |s| s.contains("foo is not a valid action."))
        .await;
    assert!(found, "no record on stderr:\n{}", boot.stderr());
    let stderr = boot.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("foo is not a valid action."))
        .unwrap();
    let v: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON record ({e}): {line:?}"));
    assert_eq!(v["level"], "ERROR", "{line}");
    assert_eq!(v["requestId"], id.as_str(), "{line}");
    assert_eq!(v["message"], "foo is not a valid action.", "{line}");
    assert_eq!(v["logger"], "root", "{line}");
    assert_json_timestamp(&v);
    let (_, o) = boot
        .call_json(&api, json!({"action": "increment", "number": 1}))
        .await;
    assert_eq!(o.json(), json!({"result": 2}));
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// The execution environment

/// Module-level code runs once per environment; globals persist across warm
/// invocations; a crash (sys.exit, os._exit, a timeout) gives a fresh
/// interpreter whose module code runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_code_runs_once_and_again_after_a_crash() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let first = counter(&mut boot, &api).await;
    assert_eq!(
        (first["init"].clone(), first["calls"].clone()),
        (json!(1), json!(1)),
        "{first}"
    );
    for n in 2..=4 {
        let v = counter(&mut boot, &api).await;
        assert_eq!(
            (v["init"].clone(), v["calls"].clone(), v["instance"].clone()),
            (json!(1), json!(n), first["instance"].clone())
        );
    }
    let init_lines = boot.stderr().matches("probe: init ran").count();
    assert_eq!(
        init_lines,
        1,
        "module code ran {init_lines} times:\n{}",
        boot.stderr()
    );

    let mut instance = first["instance"].clone();
    let crashes = [
        (
            Invocation::json(&json!({"action": "exit", "code": 2})),
            "Runtime.ExitError",
        ),
        (
            Invocation::json(&json!({"action": "os_exit", "code": 3})),
            "Runtime.ExitError",
        ),
        (
            Invocation::json(&json!({"action": "loop"})).timeout(Duration::from_secs(1)),
            "Sandbox.Timedout",
        ),
    ];
    for (inv, error_type) in crashes {
        let (id, o) = boot.call(&api, inv).await;
        assert_lambda_error(&o, error_type, &id);
        let v = counter(&mut boot, &api).await;
        assert_eq!(
            (v["init"].clone(), v["calls"].clone()),
            (json!(1), json!(1)),
            "a fresh interpreter after {error_type}: {v}"
        );
        assert_ne!(v["instance"], instance, "a new instance after {error_type}");
        instance = v["instance"].clone();
    }
    assert!(boot.try_status().is_none(), "the bootstrap must still run");
    api.assert_all_answered_once();
}

/// A handler spinning in one of several pure-Python loop shapes.
const BUSY: &str = r#"import time


def lambda_handler(event, context):
    shape = event.get("shape")
    if shape == "pass":
        while True:
            pass
    if shape == "continue":
        while 1:
            continue
    if shape == "increment":
        x = 0
        while True:
            x += 1
    if shape == "range":
        for _ in range(10**15):
            pass
    if shape == "recursion":
        def f(n):
            return f(n - 1) if n else 0
        while True:
            f(50)
    if shape == "sleep":
        time.sleep(30)
    return "idle"
"#;

/// The loop shapes of [`BUSY`]; `pass` and `continue` call no C function.
const BUSY_SHAPES: [&str; 6] = [
    "pass",
    "continue",
    "increment",
    "range",
    "recursion",
    "sleep",
];

/// How late a timed-out invocation may end on a busy shared machine. The
/// bug this guards against ended `while True: pass` at the init deadline,
/// 10 s after init, whatever the function's timeout.
const TIMEOUT_SLACK: Duration = Duration::from_millis(1500);

/// Every busy loop, the first invocation after init included, ends at its
/// deadline (issue 11, bug 2), and the next event is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_loops_end_at_the_deadline() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::builder().file("lambda_function.py", BUSY).build();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let timeout = Duration::from_secs(1);
    for shape in BUSY_SHAPES {
        let started = Instant::now();
        let (id, o) = boot
            .call(
                &api,
                Invocation::json(&json!({"shape": shape})).timeout(timeout),
            )
            .await;
        let took = started.elapsed();
        assert_lambda_error(&o, "Sandbox.Timedout", &id);
        assert!(
            took < timeout + TIMEOUT_SLACK,
            "{shape}: timed out after {took:?}, not at its {timeout:?} deadline"
        );
        let (_, o) = boot.call_json(&api, json!({"shape": "none"})).await;
        assert_eq!(o.json(), json!("idle"), "the event after {shape}");
    }
    api.assert_all_answered_once();
}

/// Lambda Managed Instances: each of the `AWS_LAMBDA_MAX_CONCURRENCY`
/// execution environments is its own interpreter that imported the handler
/// once; events sent at once are all answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_instances_run_one_interpreter_per_environment() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
    );
    counter(&mut boot, &api).await;
    let ids: Vec<String> = (0..6)
        .map(|_| api.invoke(Invocation::json(&json!({"action": "counter"}))))
        .collect();
    let mut instances = std::collections::HashSet::new();
    for id in &ids {
        let v = boot.outcome(&api, id).await.json();
        assert_eq!(v["init"], 1, "module code ran once per environment: {v}");
        instances.insert(v["instance"].to_string());
    }
    assert!(instances.len() <= 2, "{instances:?}");
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_object() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let inv = Invocation::json(&json!({"action": "context"}))
        .timeout(Duration::from_secs(20))
        .trace_id("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        .client_context(r#"{"custom": {"k": "v"}, "env": {"platform": "x"}}"#)
        .cognito_identity(r#"{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}"#);
    let (id, o) = boot.call(&api, inv).await;
    let v = o.json();
    assert_eq!(v["aws_request_id"], id.as_str());
    assert_eq!(v["function_name"], "test-fn");
    assert_eq!(v["function_version"], "$LATEST");
    assert_eq!(v["invoked_function_arn"], fake_runtime_api::DEFAULT_ARN);
    assert_eq!(
        v["memory_limit_in_mb"], "128",
        "a string, as awslambdaric reads it from the environment"
    );
    assert_eq!(v["log_group_name"], "/aws/lambda/test-fn");
    assert_eq!(v["log_stream_name"], "2026/11/26/[$LATEST]0123456789abcdef");
    assert_eq!(v["identity"], json!(["id-1", "pool-1"]));
    assert_eq!(
        v["client_context"],
        json!({"custom": {"k": "v"}, "env": {"platform": "x"}, "installation_id": null})
    );
    assert_eq!(v["tenant_id"], Value::Null);
    assert_eq!(
        v["trace_id"],
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    );
    assert_eq!(v["has_log"], true);
    let remaining: Vec<i64> = v["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_i64().unwrap())
        .collect();
    assert!(
        remaining[0] > 10_000 && remaining[0] <= 20_000,
        "remaining time {remaining:?} of a 20 s deadline"
    );
    assert!(
        remaining[1] <= remaining[0] - 40,
        "get_remaining_time_in_millis counts down: {remaining:?}"
    );
    let repr = v["repr"].as_str().unwrap();
    assert!(
        repr.starts_with(&format!(
            "LambdaContext([aws_request_id={id},log_group_name=/aws/lambda/test-fn,"
        )),
        "{repr}"
    );
    assert!(
        repr.contains(
            "identity=CognitoIdentity([cognito_identity_id=id-1,cognito_identity_pool_id=pool-1])"
        ),
        "{repr}"
    );

    // No client context, no identity, no trace id: None, empty identity, no variable.
    let (_, o) = boot
        .call(
            &api,
            Invocation::json(&json!({"action": "context"})).no_trace_id(),
        )
        .await;
    let v = o.json();
    assert_eq!(v["client_context"], Value::Null);
    assert_eq!(v["identity"], json!([null, null]));
    assert_eq!(
        v["trace_id"],
        Value::Null,
        "_X_AMZN_TRACE_ID is removed when an event has none"
    );
    let (_, o) = boot.call_json(&api, json!({"action": "none"})).await;
    assert_eq!(o, Outcome::Response("null".into()));
    api.assert_all_answered_once();
}

/// The client context header as awslambdaric reads it: `client` with its
/// snake_case fields (`context.client_context.client.installation_id`), and
/// a header that is not JSON failing that invocation only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_context_header() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let client = r#"{"client": {"installation_id": "inst-1", "app_title": "app", "app_version_name": "1.0", "app_version_code": "1", "app_package_name": "pkg"}, "custom": {"k": "v"}, "env": {}}"#;
    let (_, o) = boot
        .call(
            &api,
            Invocation::json(&json!({"action": "context"})).client_context(client),
        )
        .await;
    assert_eq!(
        o.json()["client_context"],
        json!({"custom": {"k": "v"}, "env": {}, "installation_id": "inst-1"})
    );
    let (_, o) = boot.call_json(&api, json!({"action": "none"})).await;
    assert_eq!(o, Outcome::Response("null".into()));
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_and_files() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[("MY_VARIABLE", "mine"), ("AWS_SECRET_ACCESS_KEY", "secret")],
    );
    let (_, o) = boot.call_json(&api, json!({"action": "env"})).await;
    let v = o.json();
    assert_eq!(v["AWS_REGION"], "us-east-1");
    assert_eq!(v["AWS_DEFAULT_REGION"], "us-east-1");
    assert_eq!(v["AWS_LAMBDA_FUNCTION_NAME"], "test-fn");
    assert_eq!(v["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(v["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(v["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/test-fn");
    assert_eq!(v["_HANDLER"], "lambda_function.lambda_handler");
    assert_eq!(v["LAMBDA_TASK_ROOT"], "/var/task");
    assert_eq!(v["TZ"], ":UTC");
    assert_eq!(v["MY_VARIABLE"], "mine", "the function's own variables");
    assert_eq!(
        v["AWS_LAMBDA_RUNTIME_API"],
        Value::Null,
        "the host's own settings are not passed"
    );
    assert_eq!(
        v["AWS_SECRET_ACCESS_KEY"],
        Value::Null,
        "credentials are withheld by default"
    );
    let (_, o) = boot.call_json(&api, json!({"action": "files"})).await;
    assert_eq!(
        o.json(),
        json!({"tmp": "written", "task_root": ["lambda_function.py"]})
    );
    api.assert_all_answered_once();
}

/// The working directory is the task root, as on Lambda (issue 11, bug 4):
/// `open("data.json")` reads the file shipped beside the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_directory_is_the_task_root() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let handler = r#"import os


def lambda_handler(event, context):
    with open("data.json") as f:
        return {"cwd": os.getcwd(), "data": f.read()}
"#;
    let root = TaskRoot::builder()
        .file("lambda_function.py", handler)
        .file("data.json", r#"{"shipped": true}"#)
        .build();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (_, o) = boot.call_json(&api, json!({})).await;
    assert_eq!(
        o.json(),
        json!({"cwd": "/var/task", "data": r#"{"shipped": true}"#})
    );
    api.assert_all_answered_once();
}

/// hello never imports logging, decimal, traceback or importlib: its cold
/// start does not pay for them (the runtime installs its log handler lazily).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_slow_is_imported_up_front() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let none = json!({"logging": false, "decimal": false, "traceback": false, "importlib": false});
    let (_, o) = boot.call_json(&api, json!({"action": "modules"})).await;
    assert_eq!(o.json(), none);
    // Nor does an error or a marshal error.
    let (id, o) = boot.call_json(&api, json!({"action": "fail"})).await;
    assert_lambda_error(&o, "CustomError", &id);
    let (id, o) = boot.call_json(&api, json!({"action": "set"})).await;
    assert_lambda_error(&o, "Runtime.MarshalError", &id);
    let (_, o) = boot.call_json(&api, json!({"action": "modules"})).await;
    assert_eq!(o.json(), none);
    // Importing logging installs the Lambda handler on the root logger.
    let (_, o) = boot.call_json(&api, json!({"action": "logging"})).await;
    assert_eq!(o.json(), json!(["LambdaLoggerHandler"]));
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Function errors and marshalling

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_are_function_errors() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (id, o) = boot
        .call_json(&api, json!({"action": "fail", "message": "it broke"}))
        .await;
    let msg = assert_lambda_error(&o, "CustomError", &id);
    assert_eq!(msg, "it broke");
    // traceback.format_list of the handler's frames; the runtime's own are dropped.
    let line_of = |needle: &str| PROBE.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert_eq!(
        o.error().1["stackTrace"],
        json!([
            format!(
                "  File \"/var/task/lambda_function.py\", line {}, in lambda_handler\n    fail(event.get(\"message\", \"boom\"))\n",
                line_of("fail(event.get(")
            ),
            format!(
                "  File \"/var/task/lambda_function.py\", line {}, in fail\n    raise CustomError(message)\n",
                line_of("raise CustomError")
            ),
        ])
    );
    // The error is logged as awslambdaric's log_error writes it: one record,
    // lines joined by \r, indentation as no-break spaces, no other prefix.
    let expected = format!(
        "[ERROR] CustomError: it broke\rTraceback (most recent call last):\r{nb}{nb}File \"/var/task/lambda_function.py\", line {}, in lambda_handler\r{nb}{nb}{nb}{nb}fail(event.get(\"message\", \"boom\"))\r{nb}{nb}File \"/var/task/lambda_function.py\", line {}, in fail\r{nb}{nb}{nb}{nb}raise CustomError(message)",
        line_of("fail(event.get("),
        line_of("raise CustomError"),
        nb = '\u{a0}'
    );
    let logged = boot
        .wait_for_stderr(WAIT, |s| s.lines().any(|l| l == expected))
        .await;
    assert!(logged, "no error record {expected:?}:\n{}", boot.stderr());
    let (_, o) = boot.call_json(&api, json!({"action": "echo"})).await;
    assert_eq!(o.json(), json!({"echo": {"action": "echo"}}));

    // An event that is not JSON.
    let (id, o) = boot
        .call(&api, Invocation::new(&b"{\"action\": not json"[..]))
        .await;
    let msg = assert_lambda_error(&o, "Runtime.UnmarshalError", &id);
    // awslambdaric's reason would be json's "Expecting value: line 1 column
    // 12 (char 11)"; the host checks the event before the interpreter sees it.
    assert!(msg.starts_with("Unable to unmarshal input: "), "{msg}");
    assert_eq!(o.error().1["stackTrace"], json!([]));
    assert_eq!(
        counter(&mut boot, &api).await["init"],
        1,
        "the same interpreter after function errors"
    );
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unserializable_results_are_marshal_errors() {
    if require_python().is_none() {
        return;
    }
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let cases = [
        (
            "set",
            "Unable to marshal response: Object of type set is not JSON serializable",
        ),
        (
            "circular",
            "Unable to marshal response: Circular reference detected",
        ),
    ];
    for (action, message) in cases {
        let (id, o) = boot.call_json(&api, json!({"action": action})).await;
        assert_eq!(
            assert_lambda_error(&o, "Runtime.MarshalError", &id),
            message
        );
        let (_, o) = boot
            .call_json(&api, json!({"action": "echo", "after": action}))
            .await;
        assert_eq!(
            o.json(),
            json!({"echo": {"action": "echo", "after": action}})
        );
    }
    api.assert_all_answered_once();
}

/// Decimal is written as its exact text, as awslambdaric's encoder does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_is_written_as_its_exact_text() {
    if require_python().is_none() {
        return;
    }
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (_, o) = boot.call_json(&api, json!({"action": "decimal"})).await;
    assert_eq!(
        o,
        Outcome::Response(r#"{"price": 1.10, "big": 1E+2, "list": [-0.000001]}"#.into())
    );
    api.assert_all_answered_once();
}

/// NaN and the infinities: awslambdaric writes bare NaN/Infinity tokens,
/// which are not JSON; the host answers only JSON, so they are a
/// MarshalError with the json module's reason (docs/abi.md section 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_and_infinities_are_marshal_errors() {
    if require_python().is_none() {
        return;
    }
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    for value in ["nan", "inf", "-inf"] {
        let (id, o) = boot
            .call_json(&api, json!({"action": "nan", "value": value}))
            .await;
        assert_eq!(
            assert_lambda_error(&o, "Runtime.MarshalError", &id),
            format!(
                "Unable to marshal response: Out of range float values are not JSON compliant: {value}"
            )
        );
    }
    api.assert_all_answered_once();
}

/// `bytes`: awslambdaric posts them unchanged; here they must then be JSON
/// (docs/abi.md section 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_pass_through_when_they_are_json() {
    if require_python().is_none() {
        return;
    }
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (_, o) = boot
        .call_json(&api, json!({"action": "bytes", "text": "{\"ok\":  true}"}))
        .await;
    assert_eq!(o, Outcome::Response(r#"{"ok":  true}"#.into()));
    let (id, o) = boot
        .call_json(&api, json!({"action": "bytes", "text": "hello"}))
        .await;
    let message = assert_lambda_error(&o, "Runtime.MarshalError", &id);
    assert!(message.contains("the response is not JSON"), "{message}");
    api.assert_all_answered_once();
}

/// Non-ASCII is escaped (AWS_EXECUTION_ENV is not a python3.12+ managed runtime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_is_escaped() {
    if require_python().is_none() {
        return;
    }
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (_, o) = boot.call_json(&api, json!({"action": "unicode"})).await;
    assert_eq!(
        o,
        Outcome::Response(r#"{"text": "h\u00e9llo \u2603"}"#.into())
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Init errors: reported to /runtime/init/error; the bootstrap exits; a fixed
// function then starts normally

async fn init_error_case(
    files: &[(&str, &str)],
    handler: &str,
    error_type: &str,
) -> (Value, String) {
    let api = FakeRuntimeApi::start().await;
    let mut builder = TaskRoot::builder();
    for (path, text) in files {
        builder = builder.file(path, *text);
    }
    let root = builder.build();
    let mut boot = spawn(&api, &root, handler, &[]);
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
    assert_error_body(&err.body, error_type, "");
    let status = boot
        .wait_exit(WAIT)
        .await
        .expect("the bootstrap exits after an init error");
    assert!(!status.success(), "exit status {status}");
    let stderr = boot.stderr();
    assert!(
        stderr.contains(&format!("[ERROR] {error_type}: ")),
        "the init error is logged:\n{stderr}"
    );

    // The same task root with a working module: the next start succeeds.
    root.write("lambda_function.py", PROBE.as_bytes());
    for (path, _) in files {
        if *path != "lambda_function.py" {
            let _ = std::fs::remove_file(root.path().join(path));
        }
    }
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    assert_eq!(counter(&mut boot, &api).await["init"], 1);
    api.assert_all_answered_once();
    (err.body, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_import() {
    if require_python().is_none() {
        return;
    }
    let (body, _) = init_error_case(
        &[("lambda_function.py", "import does_not_exist_anywhere\n")],
        "lambda_function.lambda_handler",
        "Runtime.ImportModuleError",
    )
    .await;
    assert_eq!(
        body["errorMessage"],
        "Unable to import module 'lambda_function': No module named 'does_not_exist_anywhere'"
    );
    assert_eq!(body["stackTrace"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_syntax() {
    if require_python().is_none() {
        return;
    }
    let (body, _) = init_error_case(
        &[(
            "lambda_function.py",
            "def lambda_handler(event, context):\n    return {\n",
        )],
        "lambda_function.lambda_handler",
        "Runtime.UserCodeSyntaxError",
    )
    .await;
    let msg = body["errorMessage"].as_str().unwrap();
    assert!(
        msg.starts_with("Syntax error in module 'lambda_function': "),
        "{msg}"
    );
    assert!(msg.ends_with("(lambda_function.py, line 2)"), "{msg}");
    // awslambdaric's form: '  File "<file>" Line <n>\n    <text>'.
    let trace = body["stackTrace"].as_array().unwrap();
    assert_eq!(trace.len(), 1, "{body}");
    assert_eq!(
        trace[0], "  File \"/var/task/lambda_function.py\" Line 2\n        return {\n",
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_handler_not_found() {
    if require_python().is_none() {
        return;
    }
    let (body, _) = init_error_case(
        &[(
            "lambda_function.py",
            "def other(event, context):\n    return 1\n",
        )],
        "lambda_function.lambda_handler",
        "Runtime.HandlerNotFound",
    )
    .await;
    assert_eq!(
        body["errorMessage"],
        "Handler 'lambda_handler' missing on module 'lambda_function'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_malformed_handler() {
    if require_python().is_none() {
        return;
    }
    let (body, _) = init_error_case(
        &[("lambda_function.py", PROBE)],
        "lambda_function",
        "Runtime.MalformedHandlerName",
    )
    .await;
    assert_eq!(
        body["errorMessage"],
        "Bad handler 'lambda_function': not enough values to unpack (expected 2, got 1)"
    );
}

/// An exception in module code: its own type, the module's frame last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_exception_in_module_code() {
    if require_python().is_none() {
        return;
    }
    let (body, stderr) = init_error_case(
        &[(
            "lambda_function.py",
            "X = 1\nraise ValueError('bad configuration')\n",
        )],
        "lambda_function.lambda_handler",
        "ValueError",
    )
    .await;
    assert_eq!(body["errorMessage"], "bad configuration");
    let trace = body["stackTrace"].as_array().unwrap();
    assert_eq!(
        trace.last().unwrap(),
        "  File \"/var/task/lambda_function.py\", line 2, in <module>\n    raise ValueError('bad configuration')\n",
        "{body}"
    );
    assert!(
        trace
            .iter()
            .all(|f| !f.as_str().unwrap().contains("<string>")),
        "runtime frames in {body}"
    );
    assert!(
        stderr.contains("LAMBDA_WARNING: Unhandled exception."),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Logs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_and_logging_reach_the_logs() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &[]);
    let (print_id, o) = boot.call_json(&api, json!({"action": "print"})).await;
    assert_eq!(o.json(), "printed");
    let (log_id, o) = boot.call_json(&api, json!({"action": "logging"})).await;
    assert_eq!(o.json(), json!(["LambdaLoggerHandler"]));
    let done = boot
        .wait_for_stderr(WAIT, |s| {
            s.contains("probe: context.log line") && s.contains("probe: error record")
        })
        .await;
    assert!(done, "guest output missing:\n{}", boot.stderr());
    let stderr = boot.stderr();
    // As awslambdaric: what the code prints is written as is, untagged.
    for line in [
        "probe: printed line",
        "probe: stderr line",
        "probe: context.log line",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "no line {line:?} (request {print_id}):\n{stderr}"
        );
    }
    let logged = lines_with(&stderr, &log_id);
    let error = logged
        .iter()
        .find(|l| l.contains("probe: error record"))
        .unwrap();
    assert_text_record(error, "ERROR", &log_id, "probe: error record");
    let warning = logged
        .iter()
        .find(|l| l.contains("probe: warning record 1"));
    let warning = warning.unwrap_or_else(|| panic!("no warning record:\n{stderr}"));
    assert!(warning.starts_with("[WARN"), "{warning:?}");
    assert!(
        !stderr.contains("dropped at the default WARNING level"),
        "the root logger's level is WARNING:\n{stderr}"
    );
    api.assert_all_answered_once();
}

/// AWS_LAMBDA_LOG_LEVEL sets the root logger's level (awslambdaric) and the
/// host drops records below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_level_variable() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[("AWS_LAMBDA_LOG_LEVEL", "ERROR")],
    );
    let (id, _) = boot.call_json(&api, json!({"action": "logging"})).await;
    let found = boot
        .wait_for_stderr(WAIT, |s| s.contains("probe: error record"))
        .await;
    assert!(found, "{}", boot.stderr());
    let stderr = boot.stderr();
    assert!(
        !lines_with(&stderr, &id)
            .iter()
            .any(|l| l.contains("probe: warning record")),
        "WARNING below ERROR:\n{stderr}"
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Imports: packages, handler names, vendored code

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_name_forms() {
    if require_python().is_none() {
        return;
    }
    let root = TaskRoot::builder()
        .file("pkg/__init__.py", "")
        .file("pkg/mod.py", "from . import helper\n\ndef handler(event, context):\n    return {'module': __name__, 'helper': helper.VALUE}\n")
        .file("pkg/helper.py", "VALUE = 'relative import'\n")
        .build();
    let run = async |handler: &'static str| {
        let api = FakeRuntimeApi::start().await;
        let mut boot = spawn(&api, &root, handler, &[]);
        let (_, o) = boot.call_json(&api, json!({})).await;
        assert_eq!(
            o.json(),
            json!({"module": "pkg.mod", "helper": "relative import"}),
            "handler {handler}"
        );
        api.assert_all_answered_once();
    };
    tokio::join!(run("pkg/mod.handler"), run("pkg.mod.handler"));
}

// ---------------------------------------------------------------------------
// The packages bundled with the interpreter (numpy, pandas, ...): the
// interpreter's rest, which loads the first time a handler uses one.

/// A handler that imports numpy at module level, and one that imports it
/// (and pandas) only when an event asks.
const NUMPY_AT_IMPORT: &str = r#"
import numpy as np

def lambda_handler(event, context):
    return {"sum": int(np.arange(event["n"]).sum())}
"#;
const NUMPY_ON_DEMAND: &str = r#"
def lambda_handler(event, context):
    if not event.get("numpy"):
        return {"plain": event["n"] * 2}
    import numpy as np
    import pandas as pd
    frame = pd.DataFrame({"a": np.arange(event["n"])})
    return {"sum": int(frame["a"].sum())}
"#;

/// Whether the bootstrap's log says the interpreter's rest was loaded.
fn loaded_the_rest(boot: &Bootstrap) -> bool {
    boot.stderr().contains("loaded python-snapshot-rest")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_packages_load_when_first_used() {
    if require_python().is_none() {
        return;
    }
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::builder()
        .file("lambda_function.py", NUMPY_ON_DEMAND)
        .build();
    let log = [("LAMBDA_WASM_LOG", "info,lambda_wasm::engine::split=debug")];
    let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &log);
    let (_, o) = boot.call_json(&api, json!({"n": 21})).await;
    assert_eq!(o.json(), json!({"plain": 42}));
    assert!(!loaded_the_rest(&boot), "{}", boot.stderr());
    for _ in 0..2 {
        let (_, o) = boot.call_json(&api, json!({"n": 10, "numpy": true})).await;
        assert_eq!(o.json(), json!({"sum": 45}));
    }
    let (_, o) = boot.call_json(&api, json!({"n": 4})).await;
    assert_eq!(o.json(), json!({"plain": 8}));
    let stderr = boot.stderr();
    assert_eq!(
        stderr.matches("loaded python-snapshot-rest").count(),
        1,
        "{stderr}"
    );
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_packages_imported_at_init_load_at_init() {
    if require_python().is_none() {
        return;
    }
    let root = TaskRoot::builder()
        .file("lambda_function.py", NUMPY_AT_IMPORT)
        .build();
    for preinit in ["off", "runtime"] {
        let api = FakeRuntimeApi::start().await;
        let env = [
            ("LAMBDA_WASM_LOG", "info,lambda_wasm::engine::split=debug"),
            ("LAMBDA_WASM_PREINIT", preinit),
        ];
        let mut boot = spawn(&api, &root, "lambda_function.lambda_handler", &env);
        let loaded = boot
            .wait_for_stderr(Duration::from_secs(60), |stderr| {
                stderr.contains("loaded python-snapshot-rest")
            })
            .await;
        assert!(loaded, "{preinit}: loaded at init\n{}", boot.stderr());
        let (_, o) = boot.call_json(&api, json!({"n": 5})).await;
        assert_eq!(o.json(), json!({"sum": 10}), "{preinit}");
        api.assert_all_answered_once();
    }
    // Test mode's handler snapshot, taken by the first run, records that the
    // import used the rest: the second run restores it and loads the rest
    // at init too, before the invocation starts.
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
        ("LAMBDA_WASM_LOG", "info,lambda_wasm::engine::split=debug"),
    ];
    for run in ["takes the snapshot", "restores it"] {
        let handler = "lambda_function.lambda_handler";
        let out = invoke_with(handler, root.path(), br#"{"n": 5}"#, &[], &env);
        assert_eq!(out.json(), json!({"sum": 10}), "{run}: {}", out.stderr);
        let loaded = out.stderr.find("loaded python-snapshot-rest");
        let started = out.stderr.find("START RequestId");
        assert!(
            loaded.is_some() && loaded < started,
            "{run}: {}",
            out.stderr
        );
    }
}

/// A home whose interpreter lacks its rest fails the init saying so, and
/// what to run; the bootstrap answers the event with that init error.
#[test]
fn an_interpreter_without_its_rest_is_an_init_error() {
    let Some(home) = require_python() else {
        return;
    };
    let partial = tempfile::tempdir().unwrap();
    copy_linked(home, partial.path(), &|file| {
        !file.to_string_lossy().contains("python-snapshot-rest")
    });
    let root = TaskRoot::builder()
        .file("lambda_function.py", NUMPY_AT_IMPORT)
        .build();
    let home = [("LAMBDA_WASM_PYTHON_HOME", partial.path().to_str().unwrap())];
    let handler = "lambda_function.lambda_handler";
    let out = invoke_with(handler, root.path(), b"{}", &[], &home);
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    for part in ["is incomplete", "python-snapshot-rest.cwasm", "make python"] {
        assert!(out.stderr.contains(part), "{part}: {}", out.stderr);
    }
}

/// Hard-links (else copies) every file under `from` that `keep` accepts into `to`.
fn copy_linked(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_linked(&source, &target, keep);
        } else if keep(&source) && std::fs::hard_link(&source, &target).is_err() {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

/// `six` from PyPI (`pip download`, cached under the target dir), unzipped
/// into the task root; false when pip or the network is unavailable.
fn vendored_six(root: &Path) -> bool {
    let cache = target_dir().join("e2e-python-wheels");
    let wheel = || {
        std::fs::read_dir(&cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("six-") && n.ends_with(".whl"))
            })
    };
    if wheel().is_none() {
        let _ = std::fs::create_dir_all(&cache);
        let status = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-input",
                "--disable-pip-version-check",
                "--quiet",
                "six==1.17.0",
                "-d",
            ])
            .arg(&cache)
            .stdin(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return false;
        }
    }
    let Some(wheel) = wheel() else { return false };
    let status = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(root)
        .status();
    status.is_ok_and(|s| s.success()) && root.join("six.py").is_file()
}

/// The probe and a small package written into the task root.
fn vendored_root() -> TaskRoot {
    TaskRoot::builder()
        .file("lambda_function.py", PROBE)
        .file("vendored_pkg/__init__.py", "from .greeting import greet\n")
        .file(
            "vendored_pkg/greeting.py",
            "def greet(name):\n    return 'Hello ' + name\n",
        )
        .build()
}

/// The probe's answer to `vendored` in a bootstrap on `root`.
async fn vendored_answer(root: &TaskRoot) -> Value {
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, root, "lambda_function.lambda_handler", &[]);
    let (_, o) = boot.call_json(&api, json!({"action": "vendored"})).await;
    api.assert_all_answered_once();
    o.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendored_packages_import() {
    if require_python().is_none() {
        return;
    }
    let v = vendored_answer(&vendored_root()).await;
    assert_eq!(v["vendored"], "Hello Ada");
    assert_eq!(v["file"], "/var/task/vendored_pkg/__init__.py");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendored_wheel_from_pypi_imports() {
    if require_python().is_none() {
        return;
    }
    let root = vendored_root();
    let has_six = vendored_six(root.path());
    let how = "`python3 -m pip download six==1.17.0` needs pip and the network \
               (the wheel is then cached in <target>/e2e-python-wheels)";
    if !require("six 1.17.0 from PyPI", has_six, how) {
        return;
    }
    let v = vendored_answer(&root).await;
    assert_eq!(v["six"], "1.17.0", "{v}");
}

// ---------------------------------------------------------------------------
// Test mode: `lambda-wasm invoke`

fn invoke(handler: &str, root: &Path, event: &[u8], extra: &[&str]) -> CliOutput {
    invoke_with(handler, root, event, extra, &[])
}

/// [`invoke`] with more variables (after the interpreter's home, which they may replace).
fn invoke_with(
    handler: &str,
    root: &Path,
    event: &[u8],
    extra: &[&str],
    env: &[(&str, &str)],
) -> CliOutput {
    let home = python_home().expect("checked by require_python");
    let (k, v) = home_env(home);
    let root = root.to_str().unwrap();
    let mut args = vec!["invoke", handler, "--task-root", root, "--event", "-"];
    args.extend_from_slice(extra);
    let mut variables = vec![(k, v.as_str())];
    variables.extend_from_slice(env);
    invoke_cli_env(&args, Some(event), &variables)
}

/// `invoke --timeout 1` ends a busy loop at its deadline (issue 11, bug 2).
#[test]
fn invoke_ends_busy_loops_at_the_deadline() {
    if require_python().is_none() {
        return;
    }
    let root = TaskRoot::builder().file("lambda_function.py", BUSY).build();
    for shape in ["pass", "increment"] {
        let event = json!({ "shape": shape }).to_string();
        let started = Instant::now();
        let out = invoke(
            "lambda_function.lambda_handler",
            root.path(),
            event.as_bytes(),
            &["--timeout", "1"],
        );
        let took = started.elapsed();
        assert_eq!(out.code(), Some(1), "{shape}: {}", out.stderr);
        assert_eq!(out.json()["errorType"], "Sandbox.Timedout", "{shape}");
        assert!(
            took < Duration::from_secs(1) + TIMEOUT_SLACK + Duration::from_secs(1),
            "{shape}: invoke took {took:?} (init included) for a 1 s timeout"
        );
    }
}

#[test]
fn invoke_seed_examples() {
    if require_python().is_none() {
        return;
    }
    let events = workspace_root().join("guests/events");
    let read = |name: &str| std::fs::read(events.join(name)).unwrap();
    let python = workspace_root().join("guests/python");

    let out = invoke(
        "lambda_function.lambda_handler",
        &python.join("hello"),
        &read("hello.json"),
        &[],
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(
        out.stdout.trim_end(),
        r#"{"message": "Hello John Smith!"}"#,
        "{out:#?}"
    );

    let out = invoke(
        "lambda_function.lambda_handler",
        &python.join("region"),
        &read("region.json"),
        &["--env", "AWS_REGION=eu-west-1"],
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(out.json()["body"], "{\"Region \": \"eu-west-1\"}");

    let out = invoke(
        "lambda_function.lambda_handler",
        &python.join("increment"),
        &read("increment.json"),
        &[],
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim_end(), r#"{"result": 4}"#);
    assert!(out.stderr.contains("Calculated result of 4"), "{out:#?}");
    // REPORT's Max Memory Used is the interpreter's linear memory.
    let used: u32 = out
        .stderr
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Max Memory Used in {out:#?}"));
    assert!((1..=128).contains(&used), "{used} MB of 128 MB: {out:#?}");

    let out = invoke(
        "lambda_function.lambda_handler",
        &python.join("increment"),
        br#"{"action": "foo"}"#,
        &[],
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(
        out.json(),
        json!({"result": null}),
        "stdout holds only the response"
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("foo is not a valid action."))
        .unwrap_or_else(|| panic!("{out:#?}"));
    let id = line.split('\t').nth(2).unwrap_or_default().to_string();
    assert!(!id.is_empty(), "{line:?}");
    assert_text_record(line, "ERROR", &id, "foo is not a valid action.");
}

#[test]
fn invoke_errors() {
    if require_python().is_none() {
        return;
    }
    let root = probe_root();
    let out = invoke(
        "lambda_function.lambda_handler",
        root.path(),
        br#"{"action": "fail", "message": "boom"}"#,
        &[],
    );
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let v = out.json();
    let request_id = v["requestId"].as_str().unwrap_or_default().to_string();
    assert_error_body(&v, "CustomError", &request_id);
    assert_eq!(v["errorMessage"], "boom");
    // The task root is at its real path in test mode.
    let frame = v["stackTrace"][0].as_str().unwrap();
    let file = root
        .path()
        .canonicalize()
        .unwrap()
        .join("lambda_function.py");
    assert!(
        frame.starts_with(&format!("  File \"{}\", line ", file.display())),
        "{frame}"
    );

    let out = invoke("lambda_function.nope", root.path(), b"{}", &[]);
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(
        format!("{}{}", out.stdout, out.stderr)
            .contains("Handler 'nope' missing on module 'lambda_function'"),
        "{out:#?}"
    );
}

/// A handler importing a vendored module, saying where its bytecode is
/// looked for and whether the guest may write there.
const CACHED_IMPORT: &str = r#"import os, sys
import vendored_mod


def lambda_handler(event, context):
    try:
        open(vendored_mod.__spec__.cached, "ab").close()
        writable = True
    except OSError:
        writable = False
    seen = os.path.isfile(vendored_mod.__spec__.cached)
    return {"value": vendored_mod.VALUE, "prefix": sys.pycache_prefix, "seen": seen, "writable": writable}
"#;

/// Test mode keeps the task root's bytecode in the module cache: the first
/// `invoke` compiles it with the guest's CPython, later ones read it (the
/// guest sees it read-only through `sys.pycache_prefix`), and an edited
/// source is compiled again, never run stale.
#[test]
fn invoke_keeps_the_task_roots_bytecode_in_the_cache() {
    let Some(home) = require_python() else {
        return;
    };
    let root = TaskRoot::builder()
        .file("lambda_function.py", CACHED_IMPORT)
        .file("vendored_mod.py", "VALUE = 'first'\n")
        .build();
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = home_env(home);
    let env = [
        (k, v.as_str()),
        ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
        // Each invoke imports the handler (no snapshot taken after it).
        ("LAMBDA_WASM_PREINIT", "runtime"),
    ];
    let task_root = root.path().to_str().unwrap();
    let run = || {
        let args = [
            "invoke",
            "lambda_function.lambda_handler",
            "--task-root",
            task_root,
            "--event",
            "-",
        ];
        let out = invoke_cli_env(&args, Some(b"{}"), &env);
        assert_eq!(out.code(), Some(0), "{out:#?}");
        out.json()
    };
    let pyc = || {
        let folders = cache.path().join("lambda-wasm/python-bytecode");
        let folder = std::fs::read_dir(&folders)
            .unwrap()
            .flatten()
            .find(|e| e.path().is_dir());
        let file = folder
            .expect("a task root's bytecode folder")
            .path()
            .join("vendored_mod.cpython-315.pyc");
        std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    };
    let answer = run();
    assert_eq!(
        answer,
        json!({"value": "first", "prefix": "/var/cache/pycache", "seen": true, "writable": false})
    );
    let first = pyc();
    assert_eq!(&first[4..8], &[3, 0, 0, 0], "a checked-hash pyc");
    assert_eq!(run()["value"], "first");
    assert_eq!(pyc(), first, "an unchanged source is not compiled again");
    root.write("vendored_mod.py", b"VALUE = 'edited'\n");
    assert_eq!(run()["value"], "edited", "an edited source is picked up");
    assert_ne!(pyc(), first, "and compiled again");
}

/// `package` ships the interpreter, precompiled and compressed to fit
/// Lambda's 250 MB, with the runtime glue as bytecode; unzipped into a fresh
/// folder, its own bootstrap answers the seed's hello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packaged_interpreter_fits_and_runs() {
    let Some(home) = require_python() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let seed = workspace_root().join("guests/python/hello");
    let (k, v) = home_env(home);
    let said = package::package(
        &[
            "--task-root",
            seed.to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
        ],
        &[(k, v.as_str())],
    );
    assert!(said.contains("with the Python interpreter"), "{said}");
    let unzipped = package::unzip(&zip);
    let dir = unzipped.path();
    let size = package::unzipped_size(dir);
    assert!(
        size <= package::LIMIT,
        "{size} bytes unzipped, over Lambda's limit"
    );
    let bytecode: Vec<_> = std::fs::read_dir(dir.join("python/lib"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("lambda-wasm-runtime-")
        })
        .collect();
    assert_eq!(bytecode.len(), 1, "one runtime bytecode file");
    package::assert_seed_hello_answers(dir).await;
}

// ---------------------------------------------------------------------------
// Timing (ignored by default): `cargo test --release -p lambda-wasm --test e2e
// python_mode::timing -- --ignored --nocapture` prints the first-response
// time and the warm cost.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn timing_hello() {
    if require_python().is_none() {
        return;
    }
    let event = json!({"first_name": "John", "last_name": "Smith"});
    let python = seed_root("hello");
    let rust = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    for (name, root, handler) in [
        ("python", &python, "lambda_function.lambda_handler"),
        ("rust", &rust, "hello.handler"),
    ] {
        let api = FakeRuntimeApi::start().await;
        let started = Instant::now();
        let mut boot = spawn(&api, root, handler, &[]);
        let (_, o) = boot.call_json(&api, event.clone()).await;
        let first = started.elapsed();
        assert!(!o.is_error(), "{o:?}");
        // One at a time (each a full Runtime API round trip), then a burst
        // enqueued at once (the bootstrap's own loop back to back).
        let n = 2000;
        let started = Instant::now();
        for _ in 0..n {
            let (_, o) = boot.call_json(&api, event.clone()).await;
            assert!(!o.is_error());
        }
        let one_by_one = started.elapsed() / n;
        let started = Instant::now();
        let ids: Vec<String> = (0..n)
            .map(|_| api.invoke(Invocation::json(&event)))
            .collect();
        for id in &ids {
            assert!(!boot.outcome(&api, id).await.is_error());
        }
        let burst = started.elapsed() / n;
        eprintln!(
            "{name} hello: process start to first response {first:?}; warm {one_by_one:?} per event one by one, {burst:?} in a burst (fake Runtime API included)"
        );
    }
}
