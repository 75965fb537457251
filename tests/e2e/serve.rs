//! `lambda-wasm serve` driven by real AWS clients, with no AWS account: the
//! AWS CLI (`aws lambda ... --endpoint-url`) and a boto3 script, both from
//! PyPI in `<workspace>/.tools/venv` (`make tools`), check each Invoke API
//! semantic; then several functions in two languages at once (concurrency,
//! throttling, hot reload, and a bounded load test).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::cli_errors::assert_one_line_error;
use crate::python_mode::{home_env, require_python};
use crate::support::{
    HttpResponse, LocalServer, TaskRoot, WAIT, assert_error_body, guest, http, invoke_cli, require,
    seed_port_root, workspace_root,
};

/// The only version `serve` has.
const LATEST: &str = "$LATEST";

/// `aws` and the Python with boto3, from `make tools`; `None` (the test
/// returns) after [`require`] reported them missing.
fn require_aws_clients() -> Option<(PathBuf, PathBuf)> {
    let bin = workspace_root().join(".tools/venv/bin");
    let (aws, python) = (bin.join("aws"), bin.join("python"));
    let has_boto3 = Command::new(&python)
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|out| out.status.success());
    require(
        "the AWS CLI and boto3",
        aws.is_file() && has_boto3,
        "`make tools` installs awscli and boto3 from PyPI into .tools/venv",
    )
    .then_some((aws, python))
}

/// Dummy credentials and a region, and nothing from the user's AWS config.
fn client_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        // One attempt: a retried 429 or 5xx would hide what serve answered.
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard")
}

/// A handler in Python that sleeps as long as its event asks and echoes its id.
const SLEEPER: &str = r#"import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"id": event.get("id"), "arn": context.invoked_function_arn}
"#;

/// Functions in two languages behind one `serve --config`.
struct Fleet {
    server: LocalServer,
    /// Keeps the task roots and the config file alive.
    _roots: Vec<TaskRoot>,
    rust_root: PathBuf,
    python_root: PathBuf,
    sleeper_root: PathBuf,
}

/// `hello` (Rust), `pyhello` (Python's seed hello), `sleeper` (Python,
/// one environment, 2 s timeout) and `pyecho` (the same code, defaults).
fn fleet(home: &Path) -> Fleet {
    // The .wasm alone: a .cwasm without a record of its source would be
    // used for a replaced .wasm (with a warning), hiding the reload.
    let rust = TaskRoot::with_guest_wasm_only("hello.wasm", "hello.wasm");
    let python = TaskRoot::builder()
        .file(
            "lambda_function.py",
            std::fs::read(workspace_root().join("guests/python/hello/lambda_function.py")).unwrap(),
        )
        .build();
    let sleeper = TaskRoot::builder().file("sleeper.py", SLEEPER).build();
    let config = json!({"functions": {
        "hello": {"handler": "hello.handler", "task_root": rust.path(), "environment": {"STAGE": "test"}},
        "pyhello": {"handler": "lambda_function.lambda_handler", "task_root": python.path(), "concurrency": 2},
        "sleeper": {"handler": "sleeper.handler", "task_root": sleeper.path(), "timeout": 2, "concurrency": 1},
        "pyecho": {"handler": "sleeper.handler", "task_root": sleeper.path()},
    }});
    let file = TaskRoot::builder()
        .file("functions.json", config.to_string())
        .build();
    let config_path = file.path().join("functions.json");
    let (name, value) = home_env(home);
    let server = LocalServer::start_with(
        &["--config", config_path.to_str().unwrap()],
        &[(name, value.as_str())],
    );
    Fleet {
        server,
        rust_root: rust.path().to_path_buf(),
        python_root: python.path().to_path_buf(),
        sleeper_root: sleeper.path().to_path_buf(),
        _roots: vec![rust, python, sleeper, file],
    }
}

fn hello_event(id: &str) -> Vec<u8> {
    json!({"first_name": id, "last_name": "Smith"})
        .to_string()
        .into_bytes()
}

/// `aws lambda invoke ... OUTFILE`: the CLI's output, stderr and the response payload.
fn aws_invoke(aws: &PathBuf, server: &LocalServer, args: &[&str]) -> (Output, Value, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("out.json");
    let output = client_env(&mut Command::new(aws))
        .args([
            "--endpoint-url",
            &format!("http://{}", server.addr),
            "lambda",
            "invoke",
        ])
        .args(args)
        .arg(&out_file)
        .output()
        .unwrap();
    let printed = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let payload = std::fs::read_to_string(&out_file).unwrap_or_default();
    (output, printed, payload)
}

fn aws_lambda(aws: &PathBuf, server: &LocalServer, args: &[&str]) -> Output {
    client_env(&mut Command::new(aws))
        .args([
            "--endpoint-url",
            &format!("http://{}", server.addr),
            "lambda",
        ])
        .args(args)
        .output()
        .unwrap()
}

/// What one `aws lambda invoke` must end with.
enum Expected {
    /// Success: the `StatusCode` and `FunctionError` the CLI prints, and a
    /// check of the payload it wrote (JSON; `Null` when there is none).
    Answer {
        status: u64,
        function_error: Option<&'static str>,
        payload: fn(&Value) -> bool,
    },
    /// Failure with this exception, as the CLI names it on stderr.
    Exception(&'static str),
}

/// One `aws lambda invoke` of the case table: its name (for the failure
/// message), its arguments and what it must end with.
struct CliCase {
    name: &'static str,
    args: Vec<String>,
    expected: Expected,
}

/// `aws lambda invoke` of `name` with `payload` and `extra` arguments.
fn cli_case(
    name: &'static str,
    function: &str,
    payload: &str,
    extra: &[&str],
    expected: Expected,
) -> CliCase {
    let mut args = vec![
        "--function-name".to_string(),
        function.to_string(),
        "--payload".to_string(),
        payload.to_string(),
    ];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    CliCase {
        name,
        args,
        expected,
    }
}

/// A 200 answer whose payload passes `payload`.
fn answered(payload: fn(&Value) -> bool) -> Expected {
    Expected::Answer {
        status: 200,
        function_error: None,
        payload,
    }
}

/// The Rust hello's whole answer to Ada Lovelace.
fn is_hellos_greeting(payload: &Value) -> bool {
    *payload == json!({"message": "Hello Ada Lovelace!"})
}

/// The seed hello's greeting of Ada Lovelace (the Python port's message).
fn greets_ada(payload: &Value) -> bool {
    payload["message"] == "Hello Ada Lovelace!"
}

/// Runs `case` and checks what it ended with; the CLI's printed output.
fn check_cli_case(aws: &PathBuf, server: &LocalServer, case: &CliCase) -> Value {
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let (out, printed, body) = aws_invoke(aws, server, &args);
    let name = case.name;
    match &case.expected {
        Expected::Answer {
            status,
            function_error,
            payload,
        } => {
            assert!(out.status.success(), "{name}: {out:?}");
            assert_eq!(printed["StatusCode"], *status, "{name}: {printed}");
            assert_eq!(
                printed["FunctionError"].as_str(),
                *function_error,
                "{name}: {printed}"
            );
            if *status == 200 {
                assert_eq!(printed["ExecutedVersion"], LATEST, "{name}: {printed}");
            }
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            assert!(payload(&body), "{name}: payload {body}");
        }
        Expected::Exception(exception) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && stderr.contains(exception),
                "{name}: {exception} not in {stderr}"
            );
        }
    }
    printed
}

#[test]
fn the_aws_cli_sees_each_invoke_semantic() {
    let (Some((aws, _)), Some(home)) = (require_aws_clients(), require_python()) else {
        return;
    };
    let mut fleet = fleet(home);
    let ada = r#"{"first_name": "Ada", "last_name": "Lovelace"}"#;
    let big = tempfile::tempdir().unwrap();
    let big_file = big.path().join("big.json");
    std::fs::write(
        &big_file,
        json!({"first_name": "x".repeat(7 << 20)}).to_string(),
    )
    .unwrap();
    let big_payload = format!("file://{}", big_file.display());
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:pyhello";
    let arn_latest = format!("{arn}:$LATEST");
    let cases = [
        cli_case(
            "RequestResponse",
            "hello",
            ada,
            &[],
            answered(is_hellos_greeting),
        ),
        cli_case(
            "Python, the qualifier in the name",
            "pyhello:$LATEST",
            ada,
            &[],
            answered(greets_ada),
        ),
        cli_case("Python, by ARN", arn, ada, &[], answered(greets_ada)),
        cli_case(
            "Python, by ARN with a qualifier",
            &arn_latest,
            ada,
            &[],
            answered(greets_ada),
        ),
        cli_case(
            "--qualifier, seen in the context's ARN",
            "sleeper",
            r#"{"id": 7}"#,
            &["--qualifier", "$LATEST"],
            answered(|payload| {
                payload["id"] == 7
                    && payload["arn"]
                        == "arn:aws:lambda:us-east-1:000000000000:function:sleeper:$LATEST"
            }),
        ),
        cli_case(
            "a function error: Unhandled, the error as the payload",
            "hello",
            r#"{"first_name": 1}"#,
            &[],
            Expected::Answer {
                status: 200,
                function_error: Some("Unhandled"),
                payload: |error| {
                    error["errorType"].is_string() && error["errorMessage"].is_string()
                },
            },
        ),
        cli_case(
            "DryRun runs nothing",
            "hello",
            ada,
            &["--invocation-type", "DryRun"],
            Expected::Answer {
                status: 204,
                function_error: None,
                payload: Value::is_null,
            },
        ),
        cli_case(
            "Event answers at once",
            "pyhello",
            ada,
            &["--invocation-type", "Event"],
            Expected::Answer {
                status: 202,
                function_error: None,
                payload: Value::is_null,
            },
        ),
        cli_case(
            "an unknown function",
            "nope",
            "{}",
            &[],
            Expected::Exception("ResourceNotFoundException"),
        ),
        cli_case(
            "an unknown qualifier",
            "hello:7",
            "{}",
            &[],
            Expected::Exception("ResourceNotFoundException"),
        ),
        cli_case(
            "a payload that is not JSON",
            "hello",
            "{not json",
            &[],
            Expected::Exception("InvalidRequestContentException"),
        ),
        cli_case(
            "a payload over 6 MB",
            "hello",
            &big_payload,
            &[],
            Expected::Exception("RequestTooLargeException"),
        ),
    ];
    for case in &cases {
        check_cli_case(&aws, &fleet.server, case);
    }

    // The log's tail: START/END/REPORT of this request, base64.
    let tail = cli_case(
        "Tail",
        "hello",
        ada,
        &["--log-type", "Tail"],
        answered(is_hellos_greeting),
    );
    let printed = check_cli_case(&aws, &fleet.server, &tail);
    let log = base64::engine::general_purpose::STANDARD
        .decode(printed["LogResult"].as_str().expect("LogResult"))
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    for line in ["START RequestId: ", "END RequestId: ", "REPORT RequestId: "] {
        assert!(log.contains(line), "{line} missing in {log}");
    }

    // The Event invocation ran in the background, its result logged.
    let until = Instant::now() + WAIT;
    while !fleet.server.stderr().contains("pyhello: Event invocation") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        fleet.server.stderr().contains("pyhello: Event invocation"),
        "{}",
        fleet.server.stderr()
    );
    let server = &fleet.server;

    // list-functions and get-function show what is served.
    let out = aws_lambda(&aws, server, &["list-functions"]);
    assert!(out.status.success(), "{out:?}");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = listed["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hello", "pyecho", "pyhello", "sleeper"]);
    let out = aws_lambda(&aws, server, &["get-function", "--function-name", "hello"]);
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["Configuration"]["Handler"], "hello.handler", "{got}");
    assert_eq!(
        got["Configuration"]["Environment"]["Variables"],
        json!({"STAGE": "test"})
    );
    let out = aws_lambda(&aws, server, &["get-function", "--function-name", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFoundException"));

    // Still serving after every bad request.
    let r = fleet.server.post(
        "/2015-03-31/functions/hello/invocations",
        &hello_event("after"),
    );
    assert_eq!(r.json(), json!({"message": "Hello after Smith!"}));
    assert!(!fleet.server.stderr().contains("panicked"));
}

/// boto3's view: the response fields and the exception classes it raises.
const BOTO3_SCRIPT: &str = r#"
import base64, json, sys
import boto3
from botocore.config import Config

client = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local",
                      config=Config(retries={"max_attempts": 1, "mode": "standard"}))
payload = json.dumps({"first_name": "Grace", "last_name": "Hopper"})

r = client.invoke(FunctionName="hello", Payload=payload, LogType="Tail")
assert r["StatusCode"] == 200, r
assert r["ExecutedVersion"] == "$LATEST", r
assert json.loads(r["Payload"].read()) == {"message": "Hello Grace Hopper!"}
log = base64.b64decode(r["LogResult"]).decode()
request_id = r["ResponseMetadata"]["RequestId"]
assert f"START RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log, log

r = client.invoke(FunctionName="pyhello", Qualifier="$LATEST", Payload=payload)
assert json.loads(r["Payload"].read())["message"] == "Hello Grace Hopper!"
r = client.invoke(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST", Payload=payload)
assert r["StatusCode"] == 200 and "FunctionError" not in r, r

r = client.invoke(FunctionName="hello", Payload=json.dumps({"first_name": 1}))
assert r["FunctionError"] == "Unhandled", r
assert "errorType" in json.loads(r["Payload"].read())

assert client.invoke(FunctionName="hello", InvocationType="DryRun", Payload=payload)["StatusCode"] == 204
assert client.invoke(FunctionName="hello", InvocationType="Event", Payload=payload)["StatusCode"] == 202

def raises(exception, **kwargs):
    try:
        client.invoke(**kwargs)
    except exception as e:
        return e.response
    raise AssertionError(f"{kwargs} did not raise {exception}")

raises(client.exceptions.ResourceNotFoundException, FunctionName="nope", Payload=payload)
raises(client.exceptions.ResourceNotFoundException, FunctionName="hello", Qualifier="prod", Payload=payload)
raises(client.exceptions.InvalidRequestContentException, FunctionName="hello", Payload=b"{oops")
raises(client.exceptions.RequestTooLargeException, FunctionName="hello", Payload=b'"' + b"x" * (7 << 20) + b'"')
raises(client.exceptions.RequestTooLargeException, FunctionName="hello", InvocationType="Event",
       Payload=b'"' + b"x" * (2 << 20) + b'"')

names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
assert names == ["hello", "pyecho", "pyhello", "sleeper"], names
config = client.get_function(FunctionName="pyhello")["Configuration"]
assert config["Handler"] == "lambda_function.lambda_handler" and config["Runtime"] == "provided.al2023", config
raises(client.exceptions.ResourceNotFoundException, FunctionName="nope")  # via invoke
try:
    client.get_function(FunctionName="nope")
    raise AssertionError("get_function of an unknown function succeeded")
except client.exceptions.ResourceNotFoundException:
    pass
print("boto3 ok")
"#;

#[test]
fn boto3_sees_each_invoke_semantic() {
    let (Some((_, python)), Some(home)) = (require_aws_clients(), require_python()) else {
        return;
    };
    let mut fleet = fleet(home);
    let out = client_env(&mut Command::new(python))
        .args(["-c", BOTO3_SCRIPT, &format!("http://{}", fleet.server.addr)])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("boto3 ok"),
        "{}\n{}\nserver: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        fleet.server.stderr()
    );
}

/// One environment busy with a slow invocation: the next request waits for
/// it, one that would wait past the timeout gets 429, and other functions
/// answer meanwhile.
#[test]
fn a_busy_function_queues_then_throttles_and_never_blocks_another() {
    let Some(home) = require_python() else {
        return;
    };
    let fleet = fleet(home);
    let addr = fleet.server.addr;
    let sleep = |id: u32, secs: f64| {
        std::thread::spawn(move || {
            let body = json!({"id": id, "sleep": secs}).to_string();
            http(
                addr,
                "POST",
                "/2015-03-31/functions/sleeper/invocations",
                body.as_bytes(),
            )
        })
    };
    // Warm the one environment so init does not count against the waits.
    let warm = sleep(0, 0.0).join().unwrap();
    assert_eq!(warm.status, 200, "{warm:?}");
    let slow = sleep(1, 1.2);
    std::thread::sleep(Duration::from_millis(200));
    // Another function answers while the sleeper's only environment is busy.
    let started = Instant::now();
    let r = fleet.server.post(
        "/2015-03-31/functions/hello/invocations",
        &hello_event("busy"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    // Queued behind the slow one (1 s left of a 2 s wait): answered.
    let queued = sleep(2, 0.0).join().unwrap();
    assert_eq!(queued.json()["id"], 2, "{queued:?}");
    assert_eq!(slow.join().unwrap().json()["id"], 1);

    // Two that time out (2 s each) hold the environment 4 s: a third gives up at 2 s.
    let first = sleep(3, 10.0);
    std::thread::sleep(Duration::from_millis(100));
    let second = sleep(4, 10.0);
    std::thread::sleep(Duration::from_millis(100));
    let throttled = sleep(5, 0.0).join().unwrap();
    assert_eq!(throttled.status, 429, "{throttled:?}");
    assert_eq!(
        throttled.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    for timed_out in [first.join().unwrap(), second.join().unwrap()] {
        assert_timed_out(&timed_out, "Task timed out");
    }
    assert_eq!(sleep(6, 0.0).join().unwrap().json()["id"], 6);
}

/// An unhandled function error whose body says `message`: how `serve`
/// answers an invocation that ran out of time.
#[track_caller]
fn assert_timed_out(response: &HttpResponse, message: &str) {
    assert_eq!(
        response.header("x-amz-function-error"),
        Some("Unhandled"),
        "{response:?}"
    );
    assert!(
        String::from_utf8_lossy(&response.body).contains(message),
        "{response:?}"
    );
}

/// A handler whose module code (its init) takes 3 s.
const SLOW_INIT: &str = r#"import time
time.sleep(3)

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"id": event.get("id")}
"#;

/// `serve` of [`SLOW_INIT`] with `args`, and its task root (kept while it
/// serves); `None` without the Python guest.
fn serve_slow_init(args: &[&str]) -> Option<(LocalServer, TaskRoot)> {
    let home = require_python()?;
    let root = TaskRoot::builder().file("slow_init.py", SLOW_INIT).build();
    let (name, value) = home_env(home);
    let server = LocalServer::start("slow_init.handler", &root, args, &[(name, value.as_str())]);
    Some((server, root))
}

/// A new environment's init runs outside its function's lock: while one
/// request waits for a second environment's 3 s init, another gets the
/// first, warm environment at once.
#[test]
fn a_slow_init_never_holds_up_a_warm_environment() {
    let Some((server, _root)) = serve_slow_init(&["--concurrency", "2"]) else {
        return;
    };
    let addr = server.addr;
    let invoke = |id: u32, secs: f64| {
        std::thread::spawn(move || {
            let started = Instant::now();
            let body = json!({"id": id, "sleep": secs}).to_string();
            let r = http(addr, "POST", INVOCATIONS, body.as_bytes());
            assert_eq!(r.json()["id"], id, "{r:?}");
            started.elapsed()
        })
    };
    // The first environment, warm.
    invoke(0, 0.0).join().unwrap();
    // It is busy for 0.5 s, so the next request starts a second one (3 s).
    let busy = invoke(1, 0.5);
    std::thread::sleep(Duration::from_millis(100));
    let initializing = invoke(2, 0.0);
    busy.join().unwrap();
    let waited = invoke(3, 0.0).join().unwrap();
    assert!(
        waited < Duration::from_millis(1500),
        "a request waited {waited:?} for another environment's init"
    );
    let init = initializing.join().unwrap();
    assert!(
        init >= Duration::from_millis(2500),
        "the second environment's init took only {init:?}: did it run?"
    );
}

/// A new environment's init (3 s here) runs under its own limit, as on
/// Lambda, not against its first event's timeout (1 s): that event answers;
/// a handler that then runs past the timeout still times out, and the
/// function keeps serving.
#[test]
fn a_slow_init_does_not_use_up_the_first_events_timeout() {
    let Some((server, _root)) = serve_slow_init(&["--timeout", "1"]) else {
        return;
    };
    let invoke = |id: u32, secs: f64| {
        let body = json!({"id": id, "sleep": secs}).to_string();
        http(server.addr, "POST", INVOCATIONS, body.as_bytes())
    };
    let first = invoke(1, 0.0);
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(
        first.json()["id"],
        1,
        "the first event timed out during init: {first:?}"
    );
    assert_timed_out(&invoke(2, 1.5), "Task timed out after 1.00 seconds");
    assert_eq!(invoke(3, 0.0).json()["id"], 3);
}

/// Edited code is served by the next invocation, after the running one
/// finishes on the old; code that no longer loads leaves the old code
/// serving, with the error logged.
#[test]
fn changed_code_is_reloaded_and_broken_code_keeps_the_old() {
    let Some(home) = require_python() else {
        return;
    };
    let mut fleet = fleet(home);
    let invoke = |name: &str| {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        fleet.server.post(&path, &hello_event("Reload"))
    };
    assert_eq!(invoke("pyhello").json()["message"], "Hello Reload Smith!");
    let source = fleet.python_root.join("lambda_function.py");
    std::fs::write(
        &source,
        "def lambda_handler(event, context):\n    return {'message': 'edited'}\n",
    )
    .unwrap();
    assert_eq!(invoke("pyhello").json(), json!({"message": "edited"}));
    std::fs::write(
        &source,
        "def lambda_handler(event, context)\n    return 1\n",
    )
    .unwrap();
    assert_eq!(invoke("pyhello").json(), json!({"message": "edited"}));

    // An edit during an invocation (in a warm environment): that invocation
    // finishes on the old code, the next runs the new.
    let sleeper = "/2015-03-31/functions/sleeper/invocations";
    assert_eq!(fleet.server.post(sleeper, br#"{"id": 0}"#).json()["id"], 0);
    let addr = fleet.server.addr;
    let running =
        std::thread::spawn(move || http(addr, "POST", sleeper, br#"{"id": 1, "sleep": 1.0}"#));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(
        fleet.sleeper_root.join("sleeper.py"),
        "def handler(event, context):\n    return {'edited': event.get('id')}\n",
    )
    .unwrap();
    let finished = running.join().unwrap();
    assert_eq!(finished.json()["id"], 1, "not the old code: {finished:?}");
    let r = fleet.server.post(sleeper, br#"{"id": 2}"#);
    assert_eq!(r.json(), json!({"edited": 2}), "{r:?}");

    // A Rust module replaced by garbage, then by another handler's module.
    let module = fleet.rust_root.join("hello.wasm");
    std::fs::write(&module, b"\0asm garbage").unwrap();
    assert_eq!(invoke("hello").json()["message"], "Hello Reload Smith!");
    std::fs::copy(guest("region.wasm"), &module).unwrap();
    let r = invoke("hello");
    let log = fleet.server.stderr();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.json().get("message").is_none(),
        "still the old module: {r:?}\n{log}"
    );
    assert!(
        log.contains("pyhello: the changed code does not load"),
        "{log}"
    );
    assert!(
        log.contains("hello: the changed code does not load"),
        "{log}"
    );
    assert!(log.contains("still serving the previous code"), "{log}");
}

/// The load test of `make test`: 2,000 requests from 64 client threads
/// across three functions in two languages; each answer echoes its own id.
#[test]
fn load_2000_requests_from_64_threads_each_get_their_own_answer() {
    let Some(home) = require_python() else {
        return;
    };
    const REQUESTS: usize = 2000;
    const THREADS: usize = 64;
    let fleet = fleet(home);
    let addr = fleet.server.addr;
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..THREADS)
        .map(|_| {
            let next = next.clone();
            std::thread::spawn(move || {
                let mut answered = 0;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= REQUESTS {
                        return answered;
                    }
                    let function = ["hello", "pyhello", "pyecho"][n % 3];
                    let id = format!("req-{n}");
                    let body = match function {
                        "pyecho" => json!({"id": id}).to_string().into_bytes(),
                        _ => hello_event(&id),
                    };
                    let path = format!("/2015-03-31/functions/{function}/invocations");
                    let r = http(addr, "POST", &path, &body);
                    assert_eq!(r.status, 200, "{function} {id}: {r:?}");
                    let got = r.json();
                    match function {
                        "pyecho" => assert_eq!(got["id"], id.as_str(), "{got}"),
                        _ => assert_eq!(got["message"], format!("Hello {id} Smith!"), "{got}"),
                    }
                    answered += 1;
                }
            })
        })
        .collect();
    let answered: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let elapsed = started.elapsed();
    assert_eq!(answered, REQUESTS);
    eprintln!(
        "serve load: {REQUESTS} requests from {THREADS} threads in {:.2} s ({:.0} requests/s)",
        elapsed.as_secs_f64(),
        REQUESTS as f64 / elapsed.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// One handler from the command line: `serve HANDLER --task-root DIR`, which
// any function name reaches.

const HELLO_EVENT: &[u8] = br#"{"first_name": "John", "last_name": "Smith"}"#;

#[track_caller]
fn assert_hello(server: &LocalServer) {
    let r = server.invoke(HELLO_EVENT);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("x-amz-function-error"), None, "{r:?}");
    assert_eq!(r.json(), json!({"message": "Hello John Smith!"}));
}

/// One bad request of the case table, and what it must get.
struct BadRequest {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
    status: u16,
    /// `x-amzn-ErrorType` of an API error; `None`: a function error
    /// (`X-Amz-Function-Error: Unhandled` and the error as the body).
    error_type: Option<&'static str>,
}

const INVOCATIONS: &str = "/2015-03-31/functions/function/invocations";

#[test]
fn serve_answers_bad_requests_and_keeps_serving() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let mut server = LocalServer::start("hello.handler", &root, &[], &[]);
    assert_hello(&server);
    let over_6_mb =
        serde_json::to_vec(&json!({"first_name": "x".repeat(7 * 1024 * 1024), "last_name": "y"}))
            .unwrap();
    let not_found = |name, method, path| BadRequest {
        name,
        method,
        path,
        body: b"{}".to_vec(),
        status: 404,
        error_type: Some("ResourceNotFoundException"),
    };
    let cases = [
        BadRequest {
            name: "an event that does not fit the handler's type",
            method: "POST",
            path: INVOCATIONS,
            body: br#"{"first_name": 1}"#.to_vec(),
            status: 200,
            error_type: None,
        },
        BadRequest {
            name: "an event that is not JSON",
            method: "POST",
            path: INVOCATIONS,
            body: b"{oops".to_vec(),
            status: 400,
            error_type: Some("InvalidRequestContentException"),
        },
        BadRequest {
            name: "an event over the 6 MB payload limit",
            method: "POST",
            path: INVOCATIONS,
            body: over_6_mb,
            status: 413,
            error_type: Some("RequestTooLargeException"),
        },
        not_found(
            "an unknown operation",
            "POST",
            "/2015-03-31/functions/function/nope",
        ),
        not_found("not the Lambda API", "POST", "/"),
        not_found("GET of invocations", "GET", INVOCATIONS),
    ];
    for case in &cases {
        let name = case.name;
        let r = http(server.addr, case.method, case.path, &case.body);
        assert_eq!(r.status, case.status, "{name}: {r:?}");
        match case.error_type {
            Some(error_type) => {
                assert_eq!(
                    r.header("x-amzn-errortype"),
                    Some(error_type),
                    "{name}: {r:?}"
                )
            }
            None => {
                assert_eq!(
                    r.header("x-amz-function-error"),
                    Some("Unhandled"),
                    "{name}: {r:?}"
                );
                let request_id = r.header("x-amzn-requestid").expect("x-amzn-requestid");
                let error = r.json();
                let error_type = error["errorType"].as_str().expect("errorType");
                assert_error_body(&error, error_type, request_id);
            }
        }
        assert_hello(&server);
    }

    // Not HTTP at all.
    let mut garbage = TcpStream::connect(server.addr).unwrap();
    garbage.write_all(b"\x00\x01 not http\r\n\r\n").unwrap();
    garbage.set_read_timeout(Some(WAIT)).unwrap();
    let _ = garbage.read_to_end(&mut Vec::new());
    assert_hello(&server);

    assert!(server.is_running(), "serve exited: {}", server.stderr());
    let stderr = server.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn serve_on_a_port_in_use() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = invoke_cli(
        &[
            "serve",
            "hello.handler",
            "--task-root",
            root.path().to_str().unwrap(),
            "--listen",
            &addr,
        ],
        None,
    );
    assert_one_line_error(&out, 2, &[&addr, "--listen"]);
    drop(taken);
}

#[test]
fn serve_with_a_bad_handler_or_task_root() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let missing = root.path().join("nope");
    let cases: [(&str, &str, &Path, &[&str]); 2] = [
        (
            "a malformed handler",
            "a.",
            root.path(),
            &["Runtime.MalformedHandlerName", "Bad handler 'a.'"],
        ),
        (
            "a missing task root",
            "hello.handler",
            &missing,
            &["Runtime.ImportModuleError", "nope"],
        ),
    ];
    for (name, handler, task_root, needles) in cases {
        let out = invoke_cli(
            &[
                "serve",
                handler,
                "--task-root",
                task_root.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ],
            None,
        );
        assert_eq!(out.code(), Some(2), "{name}: {out:#?}");
        assert_one_line_error(&out, 2, needles);
    }
}

/// The seed's Python increment handler behind the local Invoke API, warm
/// across requests (its module code runs once), a bad action logged and
/// answered `{"result": null}`.
#[test]
fn serve_runs_the_python_seed_example() {
    let Some(home) = require_python() else {
        return;
    };
    let root = seed_port_root("python", "increment", "lambda_function.py");
    let (name, value) = home_env(home);
    let server = LocalServer::start(
        "lambda_function.lambda_handler",
        &root,
        &[],
        &[(name, value.as_str())],
    );
    for number in [3, 41] {
        let event = json!({"action": "increment", "number": number}).to_string();
        let response = server.invoke(event.as_bytes());
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(response.json(), json!({"result": number + 1}));
    }
    let response = server.invoke(br#"{"action": "nope", "number": 1}"#);
    assert_eq!(
        response.header("x-amz-function-error"),
        None,
        "{response:?}"
    );
    assert_eq!(response.json(), json!({"result": null}));
}
