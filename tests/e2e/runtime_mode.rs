//! End-to-end tests of runtime mode: the built `lambda-wasm` binary runs as a
//! `provided.al2023` bootstrap against the fake Runtime API (tests/fake-runtime-api/).
//!
//! Every failure case checks both the Lambda-shaped error (docs/abi.md
//! section 6) and that the next normal event on the same process succeeds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::*;
use serde_json::{Value, json};

/// A task root with the purpose-built test guest as `probe.wasm` and a data file.
fn probe_root() -> TaskRoot {
    TaskRoot::builder()
        .guest("test_guest.wasm", "probe.wasm")
        .file("data.txt", "task root data\n")
        .build()
}

/// `echo` on the probe succeeds and returns its event: the process is healthy.
#[track_caller]
fn assert_echo(outcome: &Outcome, marker: u64) {
    let v = outcome.json();
    // The echo action returns the event it got (possibly wrapped in "event").
    let event = if v.get("event").is_some() && v.get("marker").is_none() {
        &v["event"]
    } else {
        &v
    };
    assert_eq!(event["marker"], marker, "echo answered {v}");
}

async fn echo_ok(boot: &mut Bootstrap, api: &FakeRuntimeApi, marker: u64) {
    let (_, o) = boot
        .call_json(api, json!({"action": "echo", "marker": marker}))
        .await;
    assert_echo(&o, marker);
}

/// A bootstrap on `root` (the probe) with `env` that has answered one echo.
async fn healthy_probe(api: &FakeRuntimeApi, root: &TaskRoot, env: &[(&str, &str)]) -> Bootstrap {
    let mut boot = Bootstrap::spawn(api, root, "probe.handler", env);
    echo_ok(&mut boot, api, 0).await;
    boot
}

/// The bootstrap still runs and every event got exactly one answer.
#[track_caller]
fn assert_still_serving(boot: &mut Bootstrap, api: &FakeRuntimeApi) {
    assert!(boot.try_status().is_none(), "the bootstrap must still run");
    api.assert_all_answered_once();
}

fn message_after_request_id<'a>(message: &'a str, id: &str) -> &'a str {
    let prefix = format!("RequestId: {id} Error: ");
    message
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("errorMessage {message:?} does not start with {prefix:?}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

// ---------------------------------------------------------------------------
// The fake itself

/// The Runtime API's `next` path.
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

mod raw_http {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    pub struct Resp {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Resp {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// One HTTP/1.1 request on a kept-alive connection, read by Content-Length.
    pub async fn request(
        conn: &mut BufReader<TcpStream>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        conn.get_mut().write_all(&bytes).await.unwrap();
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .expect("status line")
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            conn.read_line(&mut line).await.unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        conn.read_exact(&mut body).await.unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }
}

/// One connection through the protocol: `next` with every header, answers,
/// a duplicate, an unknown id, a bad path, an error answer, an init error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_runtime_api_speaks_the_protocol() {
    use tokio::io::BufReader;
    let api = FakeRuntimeApi::start().await;
    let mut conn = BufReader::new(tokio::net::TcpStream::connect(api.addr()).await.unwrap());

    // `next` blocks until something is queued.
    let api = std::sync::Arc::new(api);
    let api2 = api.clone();
    let enqueue = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        api2.invoke(
            Invocation::new(&b"{\"a\":1}"[..])
                .request_id("req-1")
                .trace_id("Root=1-abc")
                .client_context(r#"{"custom":{"k":"v"}}"#)
                .cognito_identity(r#"{"cognitoIdentityId":"id"}"#)
                .timeout(Duration::from_secs(5)),
        )
    });
    let before = now_ms();
    let r = raw_http::request(&mut conn, "GET", NEXT, &[], b"").await;
    assert_eq!(enqueue.await.unwrap(), "req-1");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{\"a\":1}");
    assert_eq!(r.header("Lambda-Runtime-Aws-Request-Id"), Some("req-1"));
    let deadline: u64 = r
        .header("Lambda-Runtime-Deadline-Ms")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deadline >= before + 5_000 && deadline <= now_ms() + 5_000,
        "deadline {deadline}"
    );
    assert_eq!(
        r.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some(fake_runtime_api::DEFAULT_ARN)
    );
    assert_eq!(r.header("Lambda-Runtime-Trace-Id"), Some("Root=1-abc"));
    assert_eq!(
        r.header("Lambda-Runtime-Client-Context"),
        Some(r#"{"custom":{"k":"v"}}"#)
    );
    assert_eq!(
        r.header("Lambda-Runtime-Cognito-Identity"),
        Some(r#"{"cognitoIdentityId":"id"}"#)
    );
    assert_eq!(
        api.delivery("req-1").unwrap().deadline_header,
        deadline.to_string()
    );

    // Same connection (keep-alive): answer it, then a duplicate, an unknown id, a bad path.
    let r = raw_http::request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        &[],
        b"\"ok\"",
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        api.outcome("req-1", WAIT).await,
        Outcome::Response("\"ok\"".into())
    );
    let r = raw_http::request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        &[],
        b"1",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = raw_http::request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/invocation/nope/error",
        &[],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = raw_http::request(&mut conn, "GET", "/2018-06-01/runtime/other", &[], b"").await;
    assert_eq!(r.status, 404);

    // An error answer, with its header, and generated ids/trace ids/deadlines.
    let id = api.invoke(Invocation::new("{}").raw_deadline("600000"));
    let r = raw_http::request(&mut conn, "GET", NEXT, &[], b"").await;
    assert_eq!(r.header("Lambda-Runtime-Aws-Request-Id"), Some(id.as_str()));
    assert_eq!(r.header("Lambda-Runtime-Deadline-Ms"), Some("600000"));
    assert!(
        r.header("Lambda-Runtime-Trace-Id")
            .unwrap()
            .starts_with("Root=1-")
    );
    assert!(r.header("Lambda-Runtime-Client-Context").is_none());
    let body = br#"{"errorMessage":"m","errorType":"T","requestId":"x","stackTrace":[]}"#;
    let path = format!("/2018-06-01/runtime/invocation/{id}/error");
    let r = raw_http::request(
        &mut conn,
        "POST",
        &path,
        &[("Lambda-Runtime-Function-Error-Type", "T")],
        body,
    )
    .await;
    assert_eq!(r.status, 202);
    let o = api.outcome(&id, WAIT).await;
    assert_eq!(o.error().0, Some("T"));
    assert_eq!(o.error().1["errorMessage"], "m");

    // Init error.
    let r = raw_http::request(
        &mut conn,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.X")],
        br#"{"errorType":"Runtime.X"}"#,
    )
    .await;
    assert_eq!(r.status, 202);
    let e = api.init_error(WAIT).await.unwrap();
    assert_eq!(e.error_type_header.as_deref(), Some("Runtime.X"));
    assert_eq!(e.body["errorType"], "Runtime.X");

    let s = api.stats();
    assert_eq!(
        (s.enqueued, s.delivered, s.responses, s.errors),
        (2, 2, 1, 1)
    );
    assert_eq!(
        (
            s.duplicate_answers,
            s.unknown_answers,
            s.not_found,
            s.init_errors
        ),
        (1, 1, 1, 1)
    );
    assert!(
        api.try_outcome("never", Duration::from_millis(50))
            .await
            .is_none()
    );
}

/// A fake where everything went right passes the exactly-once check,
/// including many ids and concurrent `next` calls on separate connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_runtime_api_answers_many_ids_exactly_once() {
    use tokio::io::BufReader;
    let api = FakeRuntimeApi::start().await;
    let ids: Vec<String> = (0..50)
        .map(|i| api.invoke(Invocation::json(&json!({ "i": i }))))
        .collect();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let addr = api.addr();
        workers.push(tokio::spawn(async move {
            let mut conn = BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
            for _ in 0..25 {
                let r = raw_http::request(&mut conn, "GET", NEXT, &[], b"").await;
                let id = r
                    .header("Lambda-Runtime-Aws-Request-Id")
                    .unwrap()
                    .to_string();
                let path = format!("/2018-06-01/runtime/invocation/{id}/response");
                assert_eq!(
                    raw_http::request(&mut conn, "POST", &path, &[], &r.body)
                        .await
                        .status,
                    202
                );
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(api.outcome(id, WAIT).await.json(), json!({ "i": i }));
    }
    api.assert_all_answered_once();
    // take_outcome forgets what it returns; the counters stay.
    assert_eq!(
        api.take_outcome(&ids[0], WAIT).await.unwrap().json(),
        json!({ "i": 0 })
    );
    assert!(
        api.take_outcome(&ids[0], Duration::from_millis(10))
            .await
            .is_none()
    );
    assert!(api.delivery(&ids[0]).is_none());
    assert_eq!(api.stats().responses, 50);
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Seed examples

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_hello() {
    let api = FakeRuntimeApi::start().await;
    // The .wasm alone: this test also covers the host compiling at init
    // (the others load a precompiled .cwasm, see support::precompiled).
    let root = TaskRoot::with_guest_wasm_only("hello.wasm", "hello.wasm");
    let mut boot = Bootstrap::spawn(&api, &root, "hello.handler", &[]);
    let (_, o) = boot
        .call_json(&api, json!({"first_name": "John", "last_name": "Smith"}))
        .await;
    assert_eq!(o.json(), json!({"message": "Hello John Smith!"}));
    let (_, o) = boot
        .call_json(&api, json!({"first_name": "Ada", "last_name": "Lovelace"}))
        .await;
    assert_eq!(o.json(), json!({"message": "Hello Ada Lovelace!"}));
    api.assert_all_answered_once();
}

/// Issue 16: the bootstrap never writes a module cache (Lambda's task root
/// and home are read-only; a deployment package carries `.cwasm` files),
/// even with a cache folder in its environment and only a `.wasm` to load.
#[tokio::test]
async fn the_bootstrap_writes_no_module_cache() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest_wasm_only("hello.wasm", "hello.wasm");
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_str().unwrap();
    let cache = home.path().join("xdg");
    let env = [
        ("HOME", home_path),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let mut boot = Bootstrap::spawn(&api, &root, "hello.handler", &env);
    let (_, o) = boot
        .call_json(&api, json!({"first_name": "John", "last_name": "Smith"}))
        .await;
    assert_eq!(o.json(), json!({"message": "Hello John Smith!"}));
    let written: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(written.is_empty(), "the bootstrap wrote {written:?}");
}

/// `pkg.mod.handler` and `pkg/mod.handler` name `pkg/mod.wasm`; a handler
/// with no dot runs the reactor's default export `handler`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_name_forms() {
    let root = TaskRoot::builder()
        .guest("hello.wasm", "pkg/greeter.wasm")
        .guest("hello.wasm", "hello.wasm")
        .build();
    let run = async |handler: &'static str| {
        let api = FakeRuntimeApi::start().await;
        let mut boot = Bootstrap::spawn(&api, &root, handler, &[]);
        let (_, o) = boot
            .call_json(&api, json!({"first_name": "A", "last_name": handler}))
            .await;
        assert_eq!(
            o.json(),
            json!({"message": format!("Hello A {handler}!")}),
            "handler {handler}"
        );
        api.assert_all_answered_once();
    };
    tokio::join!(
        run("pkg.greeter.handler"),
        run("pkg/greeter.handler"),
        run("hello")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_region() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest("region.wasm", "region.wasm");
    let mut boot = Bootstrap::spawn(&api, &root, "region.handler", &[]);
    let (_, o) = boot
        .call_json(
            &api,
            json!({"key1": "value1", "key2": "value2", "key3": "value3"}),
        )
        .await;
    assert_eq!(
        o.json(),
        json!({
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": "{\"Region \": \"us-east-1\"}"
        })
    );
    api.assert_all_answered_once();
}

/// increment: the result, and the ERROR log line tagged with the request id
/// on the bootstrap's stderr (text format).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_increment_and_text_logs() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest("increment.wasm", "increment.wasm");
    let mut boot = Bootstrap::spawn(&api, &root, "increment.handler", &[]);
    let (_, o) = boot
        .call_json(&api, json!({"action": "increment", "number": 3}))
        .await;
    assert_eq!(o.json(), json!({"result": 4}));
    let (id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let found = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines().any(|l| {
                l.contains(&id) && l.contains("foo is not a valid action.") && l.contains("ERROR")
            })
        })
        .await;
    assert!(
        found,
        "no ERROR line with request id {id} and 'foo is not a valid action.' on stderr:\n{}",
        boot.stderr()
    );
    // The next normal event still succeeds.
    let (_, o) = boot
        .call_json(&api, json!({"action": "increment", "number": 41}))
        .await;
    assert_eq!(o.json(), json!({"result": 42}));
    api.assert_all_answered_once();
}

/// AWS_LAMBDA_LOG_FORMAT=JSON: each guest record is one JSON object with
/// timestamp, level, requestId, message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest("increment.wasm", "increment.wasm");
    let mut boot = Bootstrap::spawn(
        &api,
        &root,
        "increment.handler",
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    );
    let (id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let (id2, o) = boot
        .call_json(&api, json!({"action": "increment", "number": 1}))
        .await;
    assert_eq!(o.json(), json!({"result": 2}));
    let found = boot
        .wait_for_stderr(WAIT, |s| s.contains("foo is not a valid action."))
        .await;
    assert!(found, "no guest log line on stderr:\n{}", boot.stderr());
    let stderr = boot.stderr();
    let mut guest_records = 0;
    for line in stderr
        .lines()
        .filter(|l| l.contains(&id) || l.contains(&id2))
    {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not a JSON object ({e}): {line:?}\n{stderr}"));
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("log line is not an object: {line}"));
        for key in ["timestamp", "level", "requestId", "message"] {
            assert!(obj.contains_key(key), "log record without {key}: {line}");
        }
        let ts = v["timestamp"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && ts.contains('T'),
            "timestamp {ts:?} is not UTC ISO 8601"
        );
        if v["message"]
            .as_str()
            .is_some_and(|m| m.contains("foo is not a valid action."))
        {
            assert_eq!(v["requestId"], id.as_str(), "{line}");
            assert_eq!(v["level"], "ERROR", "{line}");
            guest_records += 1;
        }
    }
    assert_eq!(
        guest_records, 1,
        "one JSON record of the guest's error line:\n{stderr}"
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Warm instances

/// The instance is reused (count 1,2,3, init ran once); after a trap the next
/// event gets a fresh instance (count restarts, init runs again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_instance_is_reused_and_reset_after_trap() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);

    let (_, o) = boot.call_json(&api, json!({"action": "init_count"})).await;
    let first = o.json()["instance_id"].clone();
    assert!(
        !first.is_null(),
        "init_count reports the instance id: {o:?}"
    );
    for n in 1..=3 {
        let (_, o) = boot.call_json(&api, json!({"action": "counter"})).await;
        assert_eq!(o.json()["count"], n, "{o:?}");
        assert_eq!(
            o.json()["instance_id"],
            first,
            "same instance while warm: {o:?}"
        );
    }
    let (_, o) = boot.call_json(&api, json!({"action": "init_count"})).await;
    assert_eq!(o.json()["init_count"], 1, "module init ran once: {o:?}");
    assert_eq!(o.json()["instance_id"], first, "same instance while warm");
    // A function error is a normal result: the instance stays.
    let (id, o) = boot
        .call_json(&api, json!({"action": "fail", "message": "x"}))
        .await;
    assert_lambda_error(&o, "CustomError", &id);
    let (_, o) = boot.call_json(&api, json!({"action": "counter"})).await;
    assert_eq!(
        o.json()["count"],
        4,
        "instance kept after a function error: {o:?}"
    );

    let (id, o) = boot.call_json(&api, json!({"action": "panic"})).await;
    assert_lambda_error(&o, "Panic", &id);

    let (_, o) = boot.call_json(&api, json!({"action": "counter"})).await;
    assert_eq!(o.json()["count"], 1, "fresh instance after a trap: {o:?}");
    assert_ne!(
        o.json()["instance_id"],
        first,
        "a new instance after the trap: {o:?}"
    );
    let (_, o) = boot.call_json(&api, json!({"action": "init_count"})).await;
    assert_eq!(
        o.json()["init_count"],
        1,
        "init ran (once) for the new instance: {o:?}"
    );
    api.assert_all_answered_once();
}

/// Lambda Managed Instances: with `AWS_LAMBDA_MAX_CONCURRENCY=2` a second
/// event is answered while the first is still running, each worker has its
/// own instance, and a fault in one leaves the other serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_instances_serve_concurrently() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(
        &api,
        &root,
        "probe.handler",
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
    );
    echo_ok(&mut boot, &api, 0).await;
    let slow = api.invoke(
        Invocation::json(&json!({"action": "sleep", "ms": 3000})).timeout(Duration::from_secs(20)),
    );
    let quick = api.invoke(Invocation::json(&json!({"action": "echo", "marker": 1})));
    let answer = api
        .try_outcome(&quick, WAIT)
        .await
        .expect("the quick event is answered");
    assert_echo(&answer, 1);
    assert!(
        api.try_outcome(&slow, Duration::ZERO).await.is_none(),
        "the quick event waited for the slow one"
    );
    let answer = api
        .try_outcome(&slow, WAIT)
        .await
        .expect("the slow event is answered");
    assert_eq!(answer.json()["slept_ms"], 3000);

    // A trap in one worker's environment; both keep serving.
    let (id, o) = boot.call_json(&api, json!({"action": "unreachable"})).await;
    assert_lambda_error(&o, "Runtime.WasmTrap", &id);
    for marker in 2..6 {
        echo_ok(&mut boot, &api, marker).await;
    }
    assert!(boot.try_status().is_none(), "the bootstrap must still run");
    api.assert_all_answered_once();
}

/// A second export of the same module is its own handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_export() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.second", &[]);
    let (_, o) = boot.call_json(&api, json!({})).await;
    assert_eq!(o.json(), json!({"handler": "second"}));
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Faults: each contained, each followed by a normal event

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_error_has_the_guests_type_and_message() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let (id, o) = boot
        .call_json(&api, json!({"action": "fail", "message": "boom"}))
        .await;
    let msg = assert_lambda_error(&o, "CustomError", &id);
    assert_eq!(msg, "boom");
    echo_ok(&mut boot, &api, 1).await;
    assert_still_serving(&mut boot, &api);
}

/// A panic traps; the caller gets its message and location (the SDK's
/// panic hook reports them before the abort), and the logs have it too,
/// tagged with the request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_traps_and_its_message_is_reported() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let (id, o) = boot.call_json(&api, json!({"action": "panic"})).await;
    let msg = assert_lambda_error(&o, "Panic", &id);
    assert!(
        msg.starts_with("panicked at tests/guest/src/lib.rs:") && msg.ends_with(": boom"),
        "{msg}"
    );
    assert_stack_trace_nonempty(&o);
    let logged = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines().any(|l| l.contains(&id) && l.contains("boom"))
        })
        .await;
    assert!(
        logged,
        "the panic message 'boom' is not on stderr with {id}:\n{}",
        boot.stderr()
    );
    echo_ok(&mut boot, &api, 2).await;
    assert_still_serving(&mut boot, &api);
}

/// Traps: `unreachable`, a stack overflow, a bad host-call range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_are_wasm_trap_errors() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    for (n, action) in ["unreachable", "stack_overflow", "oob_host_call"]
        .into_iter()
        .enumerate()
    {
        let (id, o) = boot.call_json(&api, json!({"action": action})).await;
        let msg = assert_lambda_error(&o, "Runtime.WasmTrap", &id);
        let reason = message_after_request_id(msg, &id);
        assert!(!reason.is_empty(), "{action}: empty trap message");
        if action != "oob_host_call" {
            assert_stack_trace_nonempty(&o);
        } else {
            assert!(reason.contains("outside guest memory"), "{action}: {msg}");
        }
        echo_ok(&mut boot, &api, 10 + n as u64).await;
    }
    assert_still_serving(&mut boot, &api);
}

/// An event that is not JSON is an error for that event, not a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_that_is_not_json_is_an_unmarshal_error() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let (id, o) = boot
        .call(&api, Invocation::new(&b"{\"action\": not json"[..]))
        .await;
    let msg = assert_lambda_error(&o, "Runtime.UnmarshalError", &id);
    assert!(msg.starts_with("Unable to unmarshal input: "), "{msg}");
    echo_ok(&mut boot, &api, 20).await;
    assert_still_serving(&mut boot, &api);
}

/// `proc_exit` inside an invocation, with a failure code and with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proc_exit_is_an_exit_error() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let (id, o) = boot
        .call_json(&api, json!({"action": "exit", "code": 1}))
        .await;
    let msg = assert_lambda_error(&o, "Runtime.ExitError", &id);
    assert_eq!(
        message_after_request_id(msg, &id),
        "Runtime exited with error: exit status 1"
    );
    echo_ok(&mut boot, &api, 1).await;
    let (id, o) = boot
        .call_json(&api, json!({"action": "exit", "code": 0}))
        .await;
    let msg = assert_lambda_error(&o, "Runtime.ExitError", &id);
    assert_eq!(
        message_after_request_id(msg, &id),
        "Runtime exited without providing a reason"
    );
    echo_ok(&mut boot, &api, 2).await;
    assert_still_serving(&mut boot, &api);
}

/// An endless loop with a 1 s deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_times_out_at_the_deadline() {
    assert_times_out_at_the_deadline(json!({"action": "loop"})).await;
}

/// A sleep of 30 s (`std::thread::sleep`: WASI's `poll_oneoff` on one
/// relative clock) with a 1 s deadline: the host stops waiting on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_past_the_deadline_times_out_at_the_deadline() {
    assert_times_out_at_the_deadline(json!({"action": "sleep", "ms": 30_000})).await;
}

/// A short sleep ends after its time and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_sleep_ends_after_its_time() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let started = std::time::Instant::now();
    let (_, o) = boot
        .call_json(&api, json!({"action": "sleep", "ms": 200}))
        .await;
    assert_eq!(o.json()["slept_ms"], 200, "{o:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_still_serving(&mut boot, &api);
}

/// `event` with a 1 s deadline is `Sandbox.Timedout` after about 1 s, and
/// the next event is served.
async fn assert_times_out_at_the_deadline(event: Value) {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let started = std::time::Instant::now();
    let (id, o) = boot
        .call(
            &api,
            Invocation::json(&event).timeout(Duration::from_secs(1)),
        )
        .await;
    let msg = assert_lambda_error(&o, "Sandbox.Timedout", &id);
    let reason = message_after_request_id(msg, &id);
    let secs = reason
        .strip_prefix("Task timed out after ")
        .and_then(|r| r.strip_suffix(" seconds"))
        .unwrap_or_else(|| panic!("timeout message {msg:?}"));
    let (whole, frac) = secs
        .split_once('.')
        .unwrap_or_else(|| panic!("N.NN in {msg:?}"));
    assert!(
        whole.parse::<u32>().is_ok() && frac.len() == 2 && frac.parse::<u32>().is_ok(),
        "N.NN in {msg:?}"
    );
    let secs: f64 = secs.parse().unwrap();
    assert!(
        (0.5..=1.5).contains(&secs),
        "timed out after {secs} s, deadline was 1 s"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    echo_ok(&mut boot, &api, 3).await;
    assert_still_serving(&mut boot, &api);
}

/// 16 MB is fine; 300 MB is past AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_past_the_function_size_is_out_of_memory() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let memory = [("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")];
    let mut boot = healthy_probe(&api, &root, &memory).await;
    let (_, o) = boot
        .call_json(&api, json!({"action": "alloc", "mb": 16}))
        .await;
    assert!(!o.is_error(), "alloc 16 MB: {o:?}");
    let (id, o) = boot
        .call_json(&api, json!({"action": "alloc", "mb": 300}))
        .await;
    let msg = assert_lambda_error(&o, "Runtime.OutOfMemory", &id);
    assert_eq!(
        message_after_request_id(msg, &id),
        "Runtime exited with error: guest memory limit of 128 MB exceeded"
    );
    echo_ok(&mut boot, &api, 4).await;
    assert_still_serving(&mut boot, &api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_responses_are_marshal_errors() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);
    echo_ok(&mut boot, &api, 0).await;
    let cases = [
        json!({"action": "bad_utf8"}),
        json!({"action": "non_json"}),
        json!({"action": "empty"}),
        json!({"action": "big", "mb": 7}),
        json!({"action": "raw", "text": "{\"a\": 1} trailing"}),
    ];
    for (n, event) in cases.into_iter().enumerate() {
        let (id, o) = boot.call_json(&api, event.clone()).await;
        let msg = assert_lambda_error(&o, "Runtime.MarshalError", &id);
        let reason = msg
            .strip_prefix("Unable to marshal response: ")
            .unwrap_or_else(|| panic!("{event}: {msg:?}"));
        assert!(!reason.is_empty(), "{event}: {msg:?}");
        echo_ok(&mut boot, &api, 1 + n as u64).await;
    }
    // Responses that are fine: raw JSON text as is, big but under 6 MiB.
    let (_, o) = boot
        .call_json(&api, json!({"action": "raw", "text": "[1, 2, 3]"}))
        .await;
    assert_eq!(o.json(), json!([1, 2, 3]));
    let (_, o) = boot
        .call_json(&api, json!({"action": "big", "mb": 5}))
        .await;
    assert!(o.json().to_string().len() > 5_000_000, "big 5 MB response");
    api.assert_all_answered_once();
}

/// cargo-lambda's emulator sends `Lambda-Runtime-Deadline-Ms: 600000`: a
/// warning, then the configured timeout; the event succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_deadline_header() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let mut boot = Bootstrap::spawn(&api, &root, "hello.handler", &[]);
    let event = json!({"first_name": "John", "last_name": "Smith"});
    let (_, o) = boot
        .call(&api, Invocation::json(&event).raw_deadline("600000"))
        .await;
    assert_eq!(o.json(), json!({"message": "Hello John Smith!"}));
    let warned = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines().any(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("warn") && (l.contains("deadline") || l.contains("600000"))
            })
        })
        .await;
    assert!(
        warned,
        "no warning about the deadline on stderr:\n{}",
        boot.stderr()
    );
    // Logs go to CloudWatch, not a terminal: no ANSI colour codes.
    assert!(
        !boot.stderr().contains('\x1b'),
        "ANSI escape codes in the bootstrap's logs:\n{:?}",
        boot.stderr()
    );
    let (_, o) = boot.call_json(&api, event).await;
    assert_eq!(o.json(), json!({"message": "Hello John Smith!"}));
    api.assert_all_answered_once();
}

/// ABI edges: a non-zero status without `set_error`, a typed event that does
/// not deserialize.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_edge_handlers() {
    let root = probe_root();
    let raw_status = async {
        let api = FakeRuntimeApi::start().await;
        let mut boot = Bootstrap::spawn(&api, &root, "probe.raw_status", &[]);
        for _ in 0..2 {
            let (id, o) = boot.call_json(&api, json!({})).await;
            let msg = assert_lambda_error(&o, "Runtime.HandlerError", &id);
            assert!(
                msg.contains("handler returned status 7 without calling set_error"),
                "{msg}"
            );
        }
        api.assert_all_answered_once();
    };
    let typed = async {
        let api = FakeRuntimeApi::start().await;
        let mut boot = Bootstrap::spawn(&api, &root, "probe.typed", &[]);
        let (id, o) = boot.call_json(&api, json!({"nom": "Ann"})).await;
        let msg = assert_lambda_error(&o, "Runtime.UnmarshalError", &id);
        assert!(msg.starts_with("Unable to unmarshal input: "), "{msg}");
        let (_, o) = boot.call_json(&api, json!({"name": "Ann"})).await;
        assert_eq!(o.json(), json!({"name": "Ann"}));
        api.assert_all_answered_once();
    };
    tokio::join!(raw_status, typed);
}

// ---------------------------------------------------------------------------
// Logs

/// Runs the probe's `log` action (one SDK record per level, one stdout line,
/// one stderr line) and waits for its lines: (request id, stderr).
async fn log_action(boot: &mut Bootstrap, api: &FakeRuntimeApi) -> (String, String) {
    let (id, o) = boot.call_json(api, json!({"action": "log"})).await;
    assert_eq!(o.json()["logged"], true);
    let done = boot
        .wait_for_stderr(WAIT, |s| {
            s.contains("test-guest stderr line") && s.contains("test-guest stdout line")
        })
        .await;
    assert!(done, "guest lines missing:\n{}", boot.stderr());
    (id, boot.stderr())
}

/// The probe's `log` action in Lambda's text format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_log_records_in_text_format() {
    let root = probe_root();
    let api = FakeRuntimeApi::start().await;
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);
    let (id, stderr) = log_action(&mut boot, &api).await;
    let line_with = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stderr}"))
            .to_string()
    };
    // Lambda's text format for records: [LEVEL]\t<timestamp>\t<request id>\t<message>.
    let warn = line_with("test-guest WARN record");
    let fields: Vec<&str> = warn.split('\t').collect();
    assert_eq!(fields.len(), 4, "{warn:?}");
    assert_eq!(fields[0], "[WARN]", "{warn:?}");
    assert!(
        fields[1].ends_with('Z') && fields[1].contains('T'),
        "{warn:?}"
    );
    assert_eq!(fields[2], id, "{warn:?}");
    assert_eq!(fields[3], "test-guest WARN record", "{warn:?}");
    assert!(line_with("test-guest ERROR record").starts_with("[ERROR]\t"));
    // Plain output lines: <timestamp>\t<request id>\t<line>.
    for needle in ["test-guest stdout line", "test-guest stderr line"] {
        let l = line_with(needle);
        let fields: Vec<&str> = l.split('\t').collect();
        assert_eq!(fields.len(), 3, "{l:?}");
        assert_eq!((fields[1], fields[2]), (id.as_str(), needle), "{l:?}");
    }
    echo_ok(&mut boot, &api, 1).await;
}

/// The probe's `log` action in the JSON format with AWS_LAMBDA_LOG_LEVEL=WARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_log_records_in_json_format_filtered_by_level() {
    let root = probe_root();
    let api = FakeRuntimeApi::start().await;
    let env = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
    ];
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &env);
    let (id, stderr) = log_action(&mut boot, &api).await;
    let mut levels = std::collections::BTreeMap::new();
    for line in stderr.lines().filter(|l| l.contains(&id)) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON record ({e}): {line:?}\n{stderr}"));
        assert_eq!(v["requestId"], id.as_str(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        if let Some(m) = v["message"]
            .as_str()
            .filter(|m| m.starts_with("test-guest"))
        {
            levels.insert(
                m.to_string(),
                v["level"].as_str().unwrap_or("?").to_string(),
            );
        }
    }
    for below in ["TRACE", "DEBUG", "INFO"] {
        let m = format!("test-guest {below} record");
        assert!(
            !levels.contains_key(&m),
            "{m} should be filtered by AWS_LAMBDA_LOG_LEVEL=WARN: {levels:?}"
        );
    }
    for kept in ["WARN", "ERROR", "FATAL"] {
        let m = format!("test-guest {kept} record");
        assert_eq!(
            levels.get(&m).map(String::as_str),
            Some(kept),
            "{levels:?}\n{stderr}"
        );
    }
    assert_eq!(
        levels.get("test-guest stdout line").map(String::as_str),
        Some("INFO"),
        "{levels:?}"
    );
    assert_eq!(
        levels.get("test-guest stderr line").map(String::as_str),
        Some("ERROR"),
        "{levels:?}"
    );
    echo_ok(&mut boot, &api, 1).await;
}

/// A line past 256 KiB is split; the event succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_line_past_256_kib_is_split() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);
    let (id, o) = boot
        .call_json(&api, json!({"action": "log_line", "bytes": 600_000}))
        .await;
    assert_eq!(o.json()["written_bytes"], 600_000);
    let got_all = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines()
                .filter(|l| l.contains(&id))
                .map(|l| l.matches('y').count())
                .sum::<usize>()
                >= 600_000
        })
        .await;
    assert!(got_all, "the 600,000-byte line did not arrive in full");
    let stderr = boot.stderr();
    let pieces: Vec<usize> = stderr
        .lines()
        .filter(|l| l.contains(&id) && l.contains("yyyy"))
        .map(str::len)
        .collect();
    assert!(
        pieces.len() >= 3,
        "a 600,000-byte line is split in 256 KiB pieces: {pieces:?}"
    );
    assert!(pieces.iter().all(|&n| n <= 256 * 1024 + 512), "{pieces:?}");
    echo_ok(&mut boot, &api, 1).await;
    api.assert_all_answered_once();
}

/// An invocation's output past 16 MiB is dropped (with one notice); the
/// event succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_output_past_16_mib_is_capped() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = healthy_probe(&api, &root, &[]).await;
    let before = boot.stderr().len();
    let (_, o) = boot
        .call_json(&api, json!({"action": "log_spam", "mb": 20}))
        .await;
    assert_eq!(o.json()["written_bytes"], 20 * 1024 * 1024);
    echo_ok(&mut boot, &api, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = boot.stderr().len() - before;
    assert!(
        logged < 18 * 1024 * 1024,
        "20 MiB of output should be capped near 16 MiB, logged {logged} bytes"
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Init errors

async fn expect_init_error(root: &TaskRoot, handler: &str, error_type: &str) -> String {
    let api = FakeRuntimeApi::start().await;
    let mut boot = Bootstrap::spawn(&api, root, handler, &[]);
    let Some(e) = api.init_error(WAIT).await else {
        panic!(
            "{handler}: no init error within {WAIT:?}; stderr:\n{}",
            boot.stderr()
        );
    };
    assert_error_body(&e.body, error_type, "");
    assert_eq!(
        e.error_type_header.as_deref(),
        Some(error_type),
        "{handler}: header"
    );
    let status = boot
        .wait_exit(WAIT)
        .await
        .unwrap_or_else(|| panic!("{handler}: still running after an init error"));
    assert!(!status.success(), "{handler}: exit status {status}");
    assert_eq!(api.stats().delivered, 0);
    e.body["errorMessage"].as_str().unwrap().to_string()
}

/// An emulator that accepts the `init/error` post and never answers does not
/// keep a failed bootstrap alive: it exits 1 after a few seconds (issue 11,
/// bug 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_post_is_bounded() {
    let api = FakeRuntimeApi::start().await;
    // Connections queue in the backlog; nothing ever reads or answers them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let root = TaskRoot::builder().build();
    let started = std::time::Instant::now();
    let mut boot = Bootstrap::spawn(
        &api,
        &root,
        "missing.handler",
        &[("AWS_LAMBDA_RUNTIME_API", silent_addr.as_str())],
    );
    let status = boot.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "the bootstrap must exit 1 after {:?}; stderr:\n{}",
        started.elapsed(),
        boot.stderr()
    );
    assert!(
        boot.stderr().contains("did not answer the init error"),
        "{}",
        boot.stderr()
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_errors() {
    let empty = TaskRoot::builder().build();
    let not_wasm = TaskRoot::builder()
        .file("nope.wasm", "this is not wasm")
        .build();
    let probe = probe_root();
    let (missing, bad_bytes, no_export, wrong_sig, malformed, empty_fn, dotdot) = tokio::join!(
        expect_init_error(&empty, "nope.handler", "Runtime.ImportModuleError"),
        expect_init_error(&not_wasm, "nope.handler", "Runtime.ImportModuleError"),
        expect_init_error(&probe, "probe.nope", "Runtime.HandlerNotFound"),
        expect_init_error(&probe, "probe.wrong_signature", "Runtime.HandlerNotFound"),
        expect_init_error(&probe, "", "Runtime.MalformedHandlerName"),
        expect_init_error(&probe, "probe.", "Runtime.MalformedHandlerName"),
        expect_init_error(&probe, "../probe.handler", "Runtime.MalformedHandlerName"),
    );
    assert!(
        missing.starts_with("Unable to import module 'nope': "),
        "{missing}"
    );
    assert!(
        bad_bytes.starts_with("Unable to import module 'nope': "),
        "{bad_bytes}"
    );
    // AWS's message, then what the module does export (issue 11).
    assert!(
        no_export.starts_with("Handler 'nope' missing on module 'probe'; it exports: "),
        "{no_export}"
    );
    assert!(
        wrong_sig.starts_with("Handler 'wrong_signature' missing on module 'probe'; it exports: ")
            && wrong_sig.contains("wrong_signature"),
        "{wrong_sig}"
    );
    assert!(malformed.starts_with("Bad handler '': "), "{malformed}");
    assert!(empty_fn.starts_with("Bad handler 'probe.': "), "{empty_fn}");
    assert!(
        dotdot.starts_with("Bad handler '../probe.handler': "),
        "{dotdot}"
    );
}

/// A relative path resolves in the task root, Lambda's working directory
/// (issue 11, bug 4), for a reactor as for any guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_paths_resolve_in_the_task_root() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);
    for path in ["data.txt", "./data.txt"] {
        let (_, o) = boot
            .call_json(&api, json!({"action": "read_file", "path": path}))
            .await;
        assert_eq!(
            o.json(),
            json!({"ok": true, "content": "task root data\n"}),
            "{path}"
        );
    }
    let (_, o) = boot
        .call_json(
            &api,
            json!({"action": "read_file", "path": "../etc/passwd"}),
        )
        .await;
    assert_eq!(
        o.json()["ok"],
        false,
        "no way out of the task root: {}",
        o.json()
    );
    // The Rust SDK enters the task root in `_initialize`, as Lambda starts there.
    let (_, o) = boot.call_json(&api, json!({"action": "cwd"})).await;
    assert_eq!(o.json(), json!({"ok": true, "cwd": "/var/task"}));
    api.assert_all_answered_once();
}

/// The Rust SDK's init hook (`handler!(f, init)`) runs in the init phase:
/// its `Err` is the init error, with the guest's own errorType, reported to
/// `/runtime/init/error`; when it succeeds the handler gets its state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_init_hook_is_the_init_error() {
    let root = TaskRoot::with_guest("shared_client.wasm", "shared_client.wasm");
    let message = expect_init_error(&root, "shared_client.handler", "ConfigError").await;
    assert!(message.contains("TABLE_NAME"), "{message}");

    let api = FakeRuntimeApi::start().await;
    let mut boot = Bootstrap::spawn(
        &api,
        &root,
        "shared_client.handler",
        &[("TABLE_NAME", "orders")],
    );
    let (_, o) = boot.call_json(&api, json!({"id": "42"})).await;
    assert!(!o.is_error(), "{o:?}; stderr:\n{}", boot.stderr());
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Sandbox

/// Credentials and a setting of the function's own, for the sandbox tests.
const SANDBOX_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "secret/EXAMPLE"),
    ("AWS_SESSION_TOKEN", "token-EXAMPLE"),
    ("MY_FUNCTION_SETTING", "kept"),
];

/// One probe event in the sandbox; the answer says `ok` (but for `env` and
/// `tmp_roundtrip`).
async fn sandbox_call(boot: &mut Bootstrap, api: &FakeRuntimeApi, event: Value) -> Value {
    let (_, o) = boot.call_json(api, event.clone()).await;
    let v = o.json();
    assert!(
        v["ok"].is_boolean() || event["action"] == "env" || event["action"] == "tmp_roundtrip",
        "{event} → {v}"
    );
    v
}

/// Host files are invisible; the task root is visible read-only at /var/task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_hides_host_files_and_keeps_the_task_root_read_only() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", SANDBOX_ENV);
    let mut call = async |event: Value| sandbox_call(&mut boot, &api, event).await;
    let v = call(json!({"action": "read_file", "path": "/etc/passwd"})).await;
    assert_eq!(v["ok"], false, "read /etc/passwd: {v}");
    let v = call(json!({"action": "read_file", "path": "/var/task/data.txt"})).await;
    assert_eq!(v["ok"], true, "read the task root: {v}");
    let v =
        call(json!({"action": "write_file", "path": "/var/task/new.txt", "content": "x"})).await;
    assert_eq!(v["ok"], false, "write into the task root: {v}");
    assert!(!root.path().join("new.txt").exists());
    echo_ok(&mut boot, &api, 1).await;
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_tmp_is_writable() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", SANDBOX_ENV);
    let mut call = async |event: Value| sandbox_call(&mut boot, &api, event).await;
    let v = call(json!({"action": "tmp_roundtrip"})).await;
    assert_eq!(v["ok"], true, "/tmp roundtrip: {v}");
    let v =
        call(json!({"action": "write_file", "path": "/tmp/probe.txt", "content": "hello"})).await;
    assert_eq!(v["ok"], true, "{v}");
    let v = call(json!({"action": "read_file", "path": "/tmp/probe.txt"})).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v.to_string().contains("hello"), "{v}");
    echo_ok(&mut boot, &api, 1).await;
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_shows_nothing_of_the_host_at_root() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", SANDBOX_ENV);
    let v = sandbox_call(&mut boot, &api, json!({"action": "list_dir", "path": "/"})).await;
    let listing = v.to_string();
    for host_dir in [
        "\"etc\"", "\"usr\"", "\"bin\"", "\"proc\"", "\"home\"", "\"root\"", "\"sys\"", "\"dev\"",
    ] {
        assert!(
            !listing.contains(host_dir),
            "list_dir / shows {host_dir}: {v}"
        );
    }
    echo_ok(&mut boot, &api, 1).await;
    api.assert_all_answered_once();
}

/// Reserved variables yes, credentials and the API endpoint no.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_environment_withholds_credentials() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", SANDBOX_ENV);
    let env = sandbox_call(&mut boot, &api, json!({"action": "env"})).await;
    let env = env.get("env").unwrap_or(&env).clone();
    assert!(env.is_object(), "env is not an object: {env}");
    assert_eq!(env["AWS_REGION"], "us-east-1", "{env}");
    assert_eq!(env["_HANDLER"], "probe.handler", "{env}");
    assert!(env["LAMBDA_TASK_ROOT"].is_string(), "{env}");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "test-fn", "{env}");
    assert_eq!(
        env["MY_FUNCTION_SETTING"], "kept",
        "the function's own variables pass: {env}"
    );
    // The credentials are the host's placeholders (it signs the guest's
    // AWS requests itself, docs/abi.md section 12), never the function's.
    for secret in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        let value = env[secret]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            value.contains("placeholder"),
            "{secret} is not the host's placeholder: {env}"
        );
    }
    assert!(
        env.get("AWS_LAMBDA_RUNTIME_API").is_none(),
        "AWS_LAMBDA_RUNTIME_API leaked into the guest: {env}"
    );
    let text = env.to_string();
    assert!(
        !text.contains("AKIAEXAMPLE")
            && !text.contains("secret/EXAMPLE")
            && !text.contains("token-EXAMPLE")
    );
    assert!(
        !text.contains(&api.endpoint()),
        "the Runtime API endpoint leaked: {env}"
    );
    echo_ok(&mut boot, &api, 1).await;
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_has_no_network() {
    let (api, root) = (FakeRuntimeApi::start().await, probe_root());
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", SANDBOX_ENV);
    let v = sandbox_call(&mut boot, &api, json!({"action": "socket"})).await;
    assert_eq!(v["ok"], false, "socket: {v}");
    echo_ok(&mut boot, &api, 1).await;
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Context

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_carries_every_header() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);
    let deadline = now_ms() + 45_000;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:test-fn:live";
    let trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
    // As the AWS mobile SDK sends it: every `client` field present.
    let client_context = json!({
        "client": {
            "installation_id": "i-1",
            "app_title": "app",
            "app_version_name": "1.0",
            "app_version_code": "10",
            "app_package_name": "com.example.app"
        },
        "custom": {"k": "v"},
        "env": {"platform": "test"}
    });
    let identity =
        json!({"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"});
    let (id, o) = boot
        .call(
            &api,
            Invocation::json(&json!({"action": "context"}))
                .request_id("8476a536-e9f4-11e8-9739-2dfe598c3fcd")
                .deadline_ms(deadline)
                .arn(arn)
                .trace_id(trace)
                .client_context(client_context.to_string())
                .cognito_identity(identity.to_string()),
        )
        .await;
    let v = o.json();
    let ctx = v.get("context").unwrap_or(&v);
    assert_eq!(ctx["aws_request_id"], id.as_str(), "{ctx}");
    assert_eq!(as_u64(&ctx["deadline_ms"]), Some(deadline), "{ctx}");
    assert_eq!(ctx["invoked_function_arn"], arn, "{ctx}");
    assert_eq!(ctx["xray_trace_id"], trace, "{ctx}");
    // The SDK maps these onto its structs (Python's attribute names).
    let cc = as_json(&ctx["client_context"]);
    assert_eq!(cc["client"]["installation_id"], "i-1", "{ctx}");
    assert_eq!(cc["client"]["app_title"], "app", "{ctx}");
    assert_eq!(cc["client"]["app_package_name"], "com.example.app", "{ctx}");
    assert_eq!(cc["custom"], client_context["custom"], "{ctx}");
    assert_eq!(cc["env"], client_context["env"], "{ctx}");
    let ident = as_json(&ctx["identity"]);
    let ident_id = ident
        .get("cognito_identity_id")
        .or(ident.get("cognitoIdentityId"));
    let ident_pool = ident
        .get("cognito_identity_pool_id")
        .or(ident.get("cognitoIdentityPoolId"));
    assert_eq!(ident_id, Some(&identity["cognitoIdentityId"]), "{ctx}");
    assert_eq!(
        ident_pool,
        Some(&identity["cognitoIdentityPoolId"]),
        "{ctx}"
    );
    assert_eq!(ctx["function_name"], "test-fn", "{ctx}");
    assert_eq!(ctx["function_version"], "$LATEST", "{ctx}");
    assert_eq!(as_u64(&ctx["memory_limit_in_mb"]), Some(128), "{ctx}");
    assert_eq!(ctx["log_group_name"], "/aws/lambda/test-fn", "{ctx}");
    assert_eq!(
        ctx["log_stream_name"], "2026/11/26/[$LATEST]0123456789abcdef",
        "{ctx}"
    );
    let remaining =
        as_u64(&ctx["remaining_time_in_millis"]).unwrap_or_else(|| panic!("remaining: {ctx}"));
    assert!(
        remaining > 20_000 && remaining <= 45_000,
        "remaining_time_in_millis {remaining}"
    );

    // Without the optional headers, the keys are absent (or null) and the
    // next invocation's values are its own.
    let (id2, o) = boot
        .call(
            &api,
            Invocation::json(&json!({"action": "context"})).no_trace_id(),
        )
        .await;
    let v = o.json();
    let ctx = v.get("context").unwrap_or(&v);
    assert_eq!(ctx["aws_request_id"], id2.as_str(), "{ctx}");
    assert_ne!(id, id2);
    assert!(
        ctx.get("client_context").is_none_or(Value::is_null),
        "{ctx}"
    );
    assert!(ctx.get("identity").is_none_or(Value::is_null), "{ctx}");
    assert!(ctx.get("xray_trace_id").is_none_or(Value::is_null), "{ctx}");
    api.assert_all_answered_once();
}

/// Client contexts and identities Lambda forwards as the caller wrote them
/// (`aws lambda invoke --client-context` takes any JSON object) reach the
/// guest as written; a header that is not JSON reaches it as absent. Every
/// such invocation is answered, on the same execution environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusual_context_headers_are_answered() {
    let api = FakeRuntimeApi::start().await;
    let root = probe_root();
    let mut boot = Bootstrap::spawn(&api, &root, "probe.handler", &[]);
    let (_, first) = boot.call_json(&api, json!({"action": "counter"})).await;
    let instance = first.json()["instance_id"].clone();
    let context = Invocation::json(&json!({"action": "context"}));
    let client = |ctx: &Value| as_json(&ctx["client_context"]);
    let identity = |ctx: &Value| as_json(&ctx["identity"]);
    type Check = fn(&Value) -> bool;
    let cases: [(Invocation, Check); 4] = [
        (
            context
                .clone()
                .client_context(r#"{"client":{"app_title":"only a title"}}"#),
            |ctx| as_json(&ctx["client_context"])["client"]["app_title"] == "only a title",
        ),
        (
            context.clone().client_context(r#"{"custom":{"a":1}}"#),
            |ctx| as_json(&ctx["client_context"])["custom"]["a"] == 1,
        ),
        (
            context
                .clone()
                .cognito_identity(r#"{"cognitoIdentityId":"only-id"}"#),
            |ctx| as_json(&ctx["identity"])["cognito_identity_id"] == "only-id",
        ),
        (
            context
                .clone()
                .client_context("not json")
                .cognito_identity("{"),
            |ctx| ctx["client_context"].is_null() && ctx["identity"].is_null(),
        ),
    ];
    for (invocation, reached_the_guest) in cases {
        let (id, o) = boot.call(&api, invocation).await;
        let v = o.json();
        let ctx = v.get("context").unwrap_or(&v);
        assert_eq!(ctx["aws_request_id"], id.as_str(), "{ctx}");
        assert!(
            reached_the_guest(ctx),
            "client context {} / identity {}",
            client(ctx),
            identity(ctx)
        );
    }
    let (_, last) = boot.call_json(&api, json!({"action": "counter"})).await;
    assert_eq!(
        last.json()["instance_id"],
        instance,
        "the execution environment survived"
    );
    api.assert_all_answered_once();
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// A JSON value the guest may return parsed or as its text.
fn as_json(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        _ => v.clone(),
    }
}

// ---------------------------------------------------------------------------
// Command modules

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_module_per_event() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest("command-echo.wasm", "echo.wasm");
    let mut boot = Bootstrap::spawn(&api, &root, "echo.handler", &[]);
    for n in 0..3 {
        let event = json!({"n": n, "text": "héllo"});
        let (id, o) = boot.call_json(&api, event.clone()).await;
        let v = o.json();
        assert_eq!(v["event"], event, "{v}");
        assert_eq!(v["request_id"], id.as_str(), "{v}");
        assert_eq!(v["function_name"], "test-fn", "{v}");
    }
    let (id, o) = boot.call_json(&api, json!({"exit": 3})).await;
    let msg = assert_lambda_error(&o, "Runtime.ExitError", &id);
    assert_eq!(
        message_after_request_id(msg, &id),
        "Runtime exited with error: exit status 3"
    );
    let (id, o) = boot.call_json(&api, json!({"n": 9})).await;
    let v = o.json();
    assert_eq!(
        (v["event"].clone(), v["request_id"].clone()),
        (json!({"n": 9}), json!(id))
    );
    api.assert_all_answered_once();
}

// ---------------------------------------------------------------------------
// Volume

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_sequential_events_each_answered_once() {
    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let mut boot = Bootstrap::spawn(&api, &root, "hello.handler", &[]);
    let ids: Vec<String> = (0..1000)
        .map(|i| {
            api.invoke(Invocation::json(
                &json!({"first_name": "N", "last_name": i.to_string()}),
            ))
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let o = boot.outcome(&api, id).await;
        assert_eq!(
            o.json(),
            json!({"message": format!("Hello N {i}!")}),
            "event {i}"
        );
    }
    let s = api.stats();
    assert_eq!(
        (s.enqueued, s.delivered, s.responses, s.errors),
        (1000, 1000, 1000, 0),
        "{s:?}"
    );
    api.assert_all_answered_once();
}
