//! End-to-end tests of test mode:
//! `lambda-wasm invoke HANDLER --task-root DIR --event FILE|-` prints the
//! response JSON on stdout and logs on stderr; exit 0 on success, 1 on a
//! function error (the error JSON on stdout), 2 on a usage or init error.

use std::path::Path;

use crate::support::*;
use serde_json::json;

const HELLO_EVENT: &str = r#"{ "first_name": "John", "last_name": "Smith" }"#;

fn invoke(
    handler: &str,
    root: &TaskRoot,
    event: &str,
    extra: &[&str],
    stdin: Option<&[u8]>,
) -> CliOutput {
    let root = root.path().to_str().unwrap();
    let mut args = vec!["invoke", handler, "--task-root", root, "--event", event];
    args.extend_from_slice(extra);
    invoke_cli(&args, stdin)
}

fn event_file(dir: &Path, text: &str) -> String {
    let p = dir.join("event.json");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn hello_from_an_event_file() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let events = tempfile::tempdir().unwrap();
    let out = invoke(
        "hello.handler",
        &root,
        &event_file(events.path(), HELLO_EVENT),
        &[],
        None,
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(out.json(), json!({"message": "Hello John Smith!"}));

    // The shared sample event, when this checkout has it next to it.
    let shared = workspace_root().join("../shared/events/hello.json");
    if shared.is_file() {
        let out = invoke("hello.handler", &root, shared.to_str().unwrap(), &[], None);
        assert_eq!(out.code(), Some(0), "{out:#?}");
        assert_eq!(out.json(), json!({"message": "Hello John Smith!"}));
    } else {
        eprintln!(
            "note: {} is absent; only the inline event was used",
            shared.display()
        );
    }
}

#[test]
fn event_from_stdin() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let out = invoke(
        "hello.handler",
        &root,
        "-",
        &[],
        Some(br#"{"first_name": "Ada", "last_name": "Lovelace"}"#),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(out.json(), json!({"message": "Hello Ada Lovelace!"}));
}

#[test]
fn env_option_sets_the_region() {
    let root = TaskRoot::with_guest("region.wasm", "region.wasm");
    let out = invoke(
        "region.handler",
        &root,
        "-",
        &["--env", "AWS_REGION=eu-west-1"],
        Some(b"{}"),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(
        out.json(),
        json!({
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": "{\"Region \": \"eu-west-1\"}"
        })
    );
}

#[test]
fn increment_logs_go_to_stderr() {
    let root = TaskRoot::with_guest("increment.wasm", "increment.wasm");
    let out = invoke(
        "increment.handler",
        &root,
        "-",
        &[],
        Some(br#"{"action": "foo"}"#),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(
        out.json(),
        json!({"result": null}),
        "stdout holds only the response"
    );
    assert!(
        out.stderr.contains("foo is not a valid action."),
        "{out:#?}"
    );
}

#[test]
fn function_error_exits_1() {
    let root = TaskRoot::with_guest("test_guest.wasm", "probe.wasm");
    let out = invoke(
        "probe.handler",
        &root,
        "-",
        &[],
        Some(br#"{"action": "fail", "message": "boom"}"#),
    );
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let v = out.json();
    let request_id = v["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("requestId: {v}"))
        .to_string();
    assert_error_body(&v, "CustomError", &request_id);
    assert_eq!(v["errorMessage"], "boom");
}

#[test]
fn missing_module_exits_2_with_one_line() {
    let root = TaskRoot::builder().build();
    let out = invoke("nope.handler", &root, "-", &[], Some(b"{}"));
    assert_eq!(out.code(), Some(2), "{out:#?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    let lines: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("Unable to import module 'nope'"))
        .collect();
    assert!(
        !lines.is_empty(),
        "no 'Unable to import module' message: {out:#?}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    let stderr_lines = out.stderr.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        stderr_lines <= 1,
        "expected a one-line message on stderr: {out:#?}"
    );
    // When the error JSON is printed on stdout, it is the init error shape.
    if !out.stdout.trim().is_empty() {
        let v = out.json();
        assert_error_body(&v, "Runtime.ImportModuleError", "");
    }
}

#[test]
fn usage_error_exits_2() {
    let out = invoke_cli(&["invoke"], None);
    assert_eq!(out.code(), Some(2), "{out:#?}");
}

#[test]
fn timeout_option() {
    let root = TaskRoot::with_guest("test_guest.wasm", "probe.wasm");
    let started = std::time::Instant::now();
    let out = invoke(
        "probe.handler",
        &root,
        "-",
        &["--timeout", "1"],
        Some(br#"{"action": "loop"}"#),
    );
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let v = out.json();
    let request_id = v["requestId"].as_str().unwrap_or_default().to_string();
    assert_error_body(&v, "Sandbox.Timedout", &request_id);
    let msg = v["errorMessage"].as_str().unwrap();
    assert!(msg.ends_with("Task timed out after 1.00 seconds"), "{msg}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn memory_and_function_name_options() {
    let root = TaskRoot::with_guest("test_guest.wasm", "probe.wasm");
    let out = invoke(
        "probe.handler",
        &root,
        "-",
        &["--memory", "256", "--function-name", "my-fn"],
        Some(br#"{"action": "context"}"#),
    );
    assert_eq!(out.code(), Some(0), "{out:#?}");
    let v = out.json();
    let ctx = v.get("context").unwrap_or(&v);
    assert_eq!(ctx["function_name"], "my-fn", "{ctx}");
    let mem = ctx["memory_limit_in_mb"]
        .as_u64()
        .or_else(|| ctx["memory_limit_in_mb"].as_str()?.parse().ok());
    assert_eq!(mem, Some(256), "{ctx}");
}
