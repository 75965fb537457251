//! The hostile guest suite: guests written to misbehave, each run in
//! runtime mode (a bootstrap against the fake Runtime API) and in test mode
//! (`lambda-wasm serve`). Every case checks the Lambda-shaped answer (the
//! error with its request id, or the denial the guest saw) and then that the
//! next normal event on the same process succeeds.
//!
//! The guests: the purpose-built test guest (`tests/guest`, one action per
//! misbehaviour), and, for what no toolchain emits, small modules in WAT
//! (`tests/e2e/hostile/guests/`): import calls with ranges outside memory, a
//! `lambda_alloc` and a kept event buffer that lie, malformed ABI version exports.
//!
//! Run: `cargo test -p lambda-wasm --test e2e hostile::` (after `make guests`).

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

/// What a hostile event must get back.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A function error of this `errorType` whose message contains the text.
    Error(&'static str, &'static str),
    /// A response `{"ok": false, ...}`: the sandbox said no to the guest.
    Denied,
    /// A response this check accepts.
    Response(fn(&Value) -> bool),
}

/// One hostile event, sent to a guest, and what it must get.
struct Case {
    name: &'static str,
    event: Vec<u8>,
    /// The deadline (runtime mode) or `--timeout` (test mode); 3 s by default.
    timeout: Option<Duration>,
    expect: Expect,
    /// Check right after this case that the host's peak RSS stayed under
    /// [`PEAK_RSS_LIMIT_KIB`] (cases that flood the logs come first).
    bounded_memory: bool,
}

fn case(name: &'static str, event: Value, expect: Expect) -> Case {
    Case {
        name,
        event: serde_json::to_vec(&event).unwrap(),
        timeout: None,
        expect,
        bounded_memory: false,
    }
}

/// A guest in a task root, the handler that runs it, and its normal event.
struct Guest {
    root: TaskRoot,
    handler: String,
    normal_event: fn(u64) -> Vec<u8>,
    is_normal_answer: fn(&Value, u64) -> bool,
}

fn probe() -> Guest {
    Guest {
        root: TaskRoot::builder()
            .guest("test_guest.wasm", "probe.wasm")
            .file("data.txt", "task root data\n")
            .build(),
        handler: "probe.handler".into(),
        normal_event: |n| serde_json::to_vec(&json!({"action": "echo", "marker": n})).unwrap(),
        is_normal_answer: |v, n| v["marker"] == n,
    }
}

/// A guest written in WAT (tests/e2e/hostile/guests/NAME.wat) as `NAME.wasm`.
fn wat_guest(name: &'static str, wat: &str) -> Guest {
    let wasm = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name}.wat: {e}"));
    Guest {
        root: TaskRoot::builder()
            .file(&format!("{name}.wasm"), wasm)
            .build(),
        handler: format!("{name}.handler"),
        normal_event: |_| b"{}".to_vec(),
        is_normal_answer: |v, _| v == &json!({"ok": true}),
    }
}

/// Credentials in the host's environment, which no guest may see.
const CREDENTIALS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "secret/EXAMPLE"),
    ("AWS_SESSION_TOKEN", "token-EXAMPLE"),
];

const TRAP: Expect = Expect::Error("Runtime.WasmTrap", "");
const MARSHAL: Expect = Expect::Error("Runtime.MarshalError", "Unable to marshal response: ");

/// The test guest's misbehaviours.
fn probe_cases() -> Vec<Case> {
    let action = |a: &str| json!({ "action": a });
    let one_second = Some(Duration::from_secs(1));
    let wrote_100_mb = Expect::Response(|v| v["written_bytes"] == 100 * 1024 * 1024);
    let mut cases = vec![
        Case {
            bounded_memory: true,
            ..case(
                "100 MB to stdout",
                json!({"action": "log_spam", "mb": 100, "line_bytes": 65536}),
                wrote_100_mb,
            )
        },
        Case {
            bounded_memory: true,
            ..case(
                "100 MB to stderr",
                json!({"action": "log_spam", "mb": 100, "line_bytes": 65536, "stream": "stderr"}),
                wrote_100_mb,
            )
        },
        Case {
            timeout: one_second,
            ..case("infinite loop", action("loop"), TIMED_OUT)
        },
        Case {
            timeout: one_second,
            ..case(
                "busy loop asking for the time and ignoring it",
                action("busy_wait"),
                TIMED_OUT,
            )
        },
        Case {
            timeout: one_second,
            ..case(
                "sleeping a minute past the deadline",
                json!({"action": "sleep", "ms": 60_000}),
                TIMED_OUT,
            )
        },
        case(
            "memory growth past the cap",
            json!({"action": "alloc", "mb": 300}),
            Expect::Error(
                "Runtime.OutOfMemory",
                "guest memory limit of 128 MB exceeded",
            ),
        ),
        case("deep recursion", action("stack_overflow"), TRAP),
        case("unreachable", action("unreachable"), TRAP),
        case("panic", action("panic"), Expect::Error("Panic", "boom")),
        case(
            "proc_exit(1) mid-invocation",
            json!({"action": "exit", "code": 1}),
            Expect::Error(
                "Runtime.ExitError",
                "Runtime exited with error: exit status 1",
            ),
        ),
        case(
            "proc_exit(0) mid-invocation",
            json!({"action": "exit", "code": 0}),
            Expect::Error(
                "Runtime.ExitError",
                "Runtime exited without providing a reason",
            ),
        ),
        case("invalid UTF-8 response", action("bad_utf8"), MARSHAL),
        case("non-JSON response", action("non_json"), MARSHAL),
        case("7 MB of JSON", json!({"action": "big", "mb": 7}), MARSHAL),
        case("empty response", action("empty"), MARSHAL),
        case(
            "reading AWS credentials from the environment",
            action("env"),
            Expect::Response(|v| {
                let env = v.get("env").unwrap_or(v);
                env.is_object()
                    && [
                        "AWS_ACCESS_KEY_ID",
                        "AWS_SECRET_ACCESS_KEY",
                        "AWS_SESSION_TOKEN",
                    ]
                    .iter()
                    .all(|name| env.get(name).is_none_or(is_placeholder))
                    && !env.to_string().contains("EXAMPLE")
            }),
        ),
        case(
            "listing /",
            json!({"action": "list_dir", "path": "/"}),
            Expect::Response(|v| {
                let listing = v.to_string();
                ["etc", "usr", "proc", "home", "root", "sys", "dev"]
                    .iter()
                    .all(|dir| !listing.contains(&format!("\"{dir}\"")))
            }),
        ),
        case("opening a socket", action("socket"), Expect::Denied),
        case(
            "writing the task root",
            json!({"action": "write_file", "path": "/var/task/new.txt", "content": "x"}),
            Expect::Denied,
        ),
    ];
    for path in [
        "/etc/passwd",
        "../etc/passwd",
        "/var/task/../../etc/passwd",
        "/proc/self/environ",
    ] {
        cases.push(case(
            "reading outside the task root",
            json!({"action": "read_file", "path": path}),
            Expect::Denied,
        ));
    }
    cases
}

const TIMED_OUT: Expect = Expect::Error("Sandbox.Timedout", "Task timed out after ");

/// Host imports called with bad ranges, and other ABI abuse.
fn abuse_import_cases() -> Vec<Case> {
    let raw = |name, event: &[u8], expect| Case {
        name,
        event: event.to_vec(),
        timeout: None,
        expect,
        bounded_memory: false,
    };
    let outside = Expect::Error("Runtime.WasmTrap", "outside guest memory");
    vec![
        raw("set_response past the end of memory", b"1", outside),
        raw("set_response of 4 GiB", b"2", outside),
        raw("set_error with an errorType outside memory", b"3", outside),
        raw("set_error with a 256 MiB message", b"4", outside),
        raw("add_stack_frame at a negative pointer", b"5", outside),
        raw("log across the end of memory", b"6", outside),
        raw(
            "log at level 99",
            b"7",
            Expect::Response(|v| v == &json!({"ok": true})),
        ),
        raw(
            "status -1 without set_error",
            b"8",
            Expect::Error("Runtime.HandlerError", "without calling set_error"),
        ),
        raw("a response set just before a trap", b"9", TRAP),
    ]
}

/// A `lambda_alloc` that hands out memory the guest does not have.
fn lying_alloc_cases() -> Vec<Case> {
    let event_of = |bytes: usize| serde_json::to_vec(&"x".repeat(bytes)).unwrap();
    let fault = Expect::Error("Runtime.WasmTrap", "lambda_alloc");
    vec![
        Case {
            name: "lambda_alloc runs past the end of memory",
            event: event_of(2000),
            timeout: None,
            expect: fault,
            bounded_memory: false,
        },
        Case {
            name: "lambda_alloc far outside memory",
            event: event_of(5000),
            timeout: None,
            expect: fault,
            bounded_memory: false,
        },
    ]
}

/// The guest of `lying_event_buffer.wat`: its normal event comes back as
/// the answer, read from the kept buffer.
fn lying_event_buffer() -> Guest {
    Guest {
        normal_event: |n| serde_json::to_vec(&json!({"marker": n})).unwrap(),
        is_normal_answer: |v, n| v == &json!({"marker": n}),
        ..wat_guest(
            "lying_event_buffer",
            include_str!("guests/lying_event_buffer.wat"),
        )
    }
}

/// A kept event buffer (ABI 1.2) that is not what the guest said it is.
fn lying_event_buffer_cases() -> Vec<Case> {
    let event_of = |bytes: usize| serde_json::to_vec(&"x".repeat(bytes)).unwrap();
    vec![
        Case {
            name: "lambda_event_buffer runs past the end of memory",
            event: event_of(70_000),
            timeout: None,
            expect: Expect::Error("Runtime.WasmTrap", "lambda_event_buffer returned 0x1ffb8"),
            bounded_memory: false,
        },
        Case {
            name: "lambda_event_buffer cannot allocate",
            event: event_of(120_000),
            timeout: None,
            expect: Expect::Error(
                "Runtime.WasmTrap",
                "returned 0: the guest could not allocate",
            ),
            bounded_memory: false,
        },
    ]
}

/// Checks one answer: `Ok` a response, `Err` an error body.
#[track_caller]
fn check(case: &Case, request_id: &str, answer: Result<Value, Value>) {
    let name = case.name;
    match (case.expect, answer) {
        (Expect::Error(error_type, needle), Err(body)) => {
            assert_error_body(&body, error_type, request_id);
            let message = body["errorMessage"].as_str().unwrap();
            assert!(
                message.contains(needle),
                "{name}: {message:?} does not contain {needle:?}"
            );
        }
        (Expect::Denied, Ok(v)) => assert_eq!(v["ok"], false, "{name}: {v}"),
        (Expect::Response(accepts), Ok(v)) => assert!(accepts(&v), "{name}: {v}"),
        (expect, answer) => panic!("{name}: expected {expect:?}, got {answer:?}"),
    }
}

/// Peak RSS of a process, from /proc.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The most the host may hold at its peak while a guest writes 100 MB of
/// logs: well under what was written, so the logs were not buffered whole.
const PEAK_RSS_LIMIT_KIB: u64 = 96 * 1024;

/// The host process `pid` never held more than [`PEAK_RSS_LIMIT_KIB`].
#[track_caller]
fn assert_bounded_memory(case: &Case, pid: Option<u32>) {
    let peak = pid.and_then(peak_rss_kib);
    let peak = peak.unwrap_or_else(|| panic!("{}: cannot read the host's peak RSS", case.name));
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "{}: the host's peak RSS reached {peak} KiB",
        case.name
    );
}

// ---------------------------------------------------------------------------
// Runtime mode: one bootstrap per guest serves every case, each followed by
// a normal event.

async fn runtime_mode(guest: Guest, cases: Vec<Case>) {
    let api = FakeRuntimeApi::start().await;
    let mut boot = Bootstrap::spawn(&api, &guest.root, &guest.handler, CREDENTIALS);
    for (n, case) in cases.iter().enumerate() {
        let mut invocation = Invocation::new(case.event.clone());
        if let Some(timeout) = case.timeout {
            invocation = invocation.timeout(timeout);
        }
        let (id, outcome) = boot.call(&api, invocation).await;
        let answer = match &outcome {
            Outcome::Response(_) => Ok(outcome.json()),
            _ => Err(outcome.error().1.clone()),
        };
        check(case, &id, answer);
        if case.bounded_memory {
            assert_bounded_memory(case, boot.id());
        }
        let marker = n as u64;
        let (_, next) = boot
            .call(&api, Invocation::new((guest.normal_event)(marker)))
            .await;
        assert!(
            !next.is_error() && (guest.is_normal_answer)(&next.json(), marker),
            "after {}: the next normal event got {next:?}",
            case.name
        );
    }
    assert!(boot.try_status().is_none(), "the bootstrap must still run");
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_guest_in_runtime_mode() {
    runtime_mode(probe(), probe_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abused_imports_in_runtime_mode() {
    let guest = wat_guest("abuse_imports", include_str!("guests/abuse_imports.wat"));
    runtime_mode(guest, abuse_import_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_alloc_in_runtime_mode() {
    let guest = wat_guest("lying_alloc", include_str!("guests/lying_alloc.wat"));
    runtime_mode(guest, lying_alloc_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_event_buffer_in_runtime_mode() {
    runtime_mode(lying_event_buffer(), lying_event_buffer_cases()).await;
}

// ---------------------------------------------------------------------------
// Test mode: `lambda-wasm serve`, one server per deadline, each case followed
// by a normal event.

fn test_mode(guest: Guest, cases: Vec<Case>) {
    let mut servers: Vec<(Option<Duration>, LocalServer)> = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let at = match servers.iter().position(|(t, _)| *t == case.timeout) {
            Some(at) => at,
            None => {
                let timeout = case.timeout.unwrap_or(Duration::from_secs(3));
                let secs = timeout.as_secs_f64().to_string();
                let server = LocalServer::start(
                    &guest.handler,
                    &guest.root,
                    &["--timeout", &secs],
                    CREDENTIALS,
                );
                servers.push((case.timeout, server));
                servers.len() - 1
            }
        };
        let server = &servers[at].1;
        let response = server.invoke(&case.event);
        assert_eq!(response.status, 200, "{}: {response:?}", case.name);
        let request_id = response
            .header("x-amzn-requestid")
            .unwrap_or_else(|| panic!("{}: no request id in {response:?}", case.name))
            .to_string();
        let answer = match response.header("x-amz-function-error") {
            Some(_) => Err(response.json()),
            None => Ok(response.json()),
        };
        check(case, &request_id, answer);
        if case.bounded_memory {
            assert_bounded_memory(case, Some(server.pid()));
        }
        let marker = n as u64;
        let next = server.invoke(&(guest.normal_event)(marker));
        assert!(
            next.header("x-amz-function-error").is_none()
                && (guest.is_normal_answer)(&next.json(), marker),
            "after {}: the next normal event got {next:?}",
            case.name
        );
    }
}

#[test]
fn test_guest_in_test_mode() {
    test_mode(probe(), probe_cases());
}

#[test]
fn abused_imports_in_test_mode() {
    let guest = wat_guest("abuse_imports", include_str!("guests/abuse_imports.wat"));
    test_mode(guest, abuse_import_cases());
}

#[test]
fn lying_alloc_in_test_mode() {
    let guest = wat_guest("lying_alloc", include_str!("guests/lying_alloc.wat"));
    test_mode(guest, lying_alloc_cases());
}

#[test]
fn lying_event_buffer_in_test_mode() {
    test_mode(lying_event_buffer(), lying_event_buffer_cases());
}

// ---------------------------------------------------------------------------
// Malformed ABI version exports: init errors, in both modes.

/// A reactor's other exports, around a `lambda_abi_version` under test.
fn module_with(version_export: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
            (memory (export "memory") 1)
            (func (export "lambda_alloc") (param i32) (result i32) (i32.const 1024))
            (func (export "handler") (param i32 i32 i32 i32) (result i32) (i32.const 0))
            {version_export})"#
    );
    wat::parse_str(wat).unwrap()
}

/// Each malformed `lambda_abi_version`, and what the init error must say.
const MALFORMED_VERSIONS: &[(&str, &str, &str)] = &[
    (
        "version 2",
        r#"(func (export "lambda_abi_version") (result i32) (i32.const 2))"#,
        "speaks guest ABI version 2",
    ),
    (
        "a global, not a function",
        r#"(global (export "lambda_abi_version") i32 (i32.const 1))"#,
        "lambda_abi_version",
    ),
    (
        "takes a parameter",
        r#"(func (export "lambda_abi_version") (param i32) (result i32) (i32.const 1))"#,
        "lambda_abi_version",
    ),
    (
        "returns i64",
        r#"(func (export "lambda_abi_version") (result i64) (i64.const 1))"#,
        "lambda_abi_version",
    ),
    (
        "traps",
        r#"(func (export "lambda_abi_version") (result i32) (unreachable))"#,
        "unreachable",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_abi_version_in_runtime_mode() {
    for (what, export, needle) in MALFORMED_VERSIONS {
        let root = TaskRoot::builder()
            .file("bad.wasm", module_with(export))
            .build();
        let api = FakeRuntimeApi::start().await;
        let mut boot = Bootstrap::spawn(&api, &root, "bad.handler", &[]);
        let error = api
            .init_error(WAIT)
            .await
            .unwrap_or_else(|| panic!("{what}: no init error; stderr:\n{}", boot.stderr()));
        assert_error_body(&error.body, "Runtime.ImportModuleError", "");
        let message = error.body["errorMessage"].as_str().unwrap();
        assert!(
            message.starts_with("Unable to import module 'bad': ") && message.contains(needle),
            "{what}: {message}"
        );
        let status = boot.wait_exit(WAIT).await.expect("exits after init/error");
        assert!(!status.success(), "{what}: {status}");
    }
}

#[test]
fn malformed_abi_version_in_test_mode() {
    for (what, export, needle) in MALFORMED_VERSIONS {
        let root = TaskRoot::builder()
            .file("bad.wasm", module_with(export))
            .build();
        let event = root.path().join("event.json");
        std::fs::write(&event, "{}").unwrap();
        let out = invoke_cli(
            &[
                "invoke",
                "bad.handler",
                "--task-root",
                root.path().to_str().unwrap(),
                "--event",
                event.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.code(), Some(2), "{what}: {out:#?}");
        assert!(
            out.stderr.contains("Runtime.ImportModuleError") && out.stderr.contains(needle),
            "{what}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
    }
}

/// Whether a guest's credential variable holds the host's placeholder
/// (docs/abi.md section 12: the host signs; the guest never sees the keys).
fn is_placeholder(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|value| value.to_ascii_lowercase().contains("placeholder"))
}
