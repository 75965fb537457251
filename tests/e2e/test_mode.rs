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

/// Issue 11: `compile`, rebuild the `.wasm`, `invoke`: the rebuilt code
/// runs, with a warning that the `.cwasm` is stale; not the old code.
#[test]
fn a_stale_cwasm_does_not_shadow_a_rebuilt_wasm() {
    let root = TaskRoot::with_guest_wasm_only("hello.wasm", "fn.wasm");
    let wasm = root.path().join("fn.wasm");
    let compiled = invoke_cli(&["compile", wasm.to_str().unwrap()], None);
    assert_eq!(compiled.code(), Some(0), "{compiled:#?}");
    assert!(root.path().join("fn.cwasm.source").is_file(), "the sidecar");
    let out = invoke("fn.handler", &root, "-", &[], Some(HELLO_EVENT.as_bytes()));
    assert_eq!(
        out.json(),
        json!({"message": "Hello John Smith!"}),
        "{out:#?}"
    );
    assert!(!out.stderr.contains("not using"), "{out:#?}");

    // "Rebuild" fn.wasm as other code: the region guest.
    std::fs::copy(guest("region.wasm"), &wasm).unwrap();
    let out = invoke("fn.handler", &root, "-", &[], Some(b"{}"));
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(
        out.json()["statusCode"],
        200,
        "the rebuilt code runs: {out:#?}"
    );
    assert!(
        out.stderr.contains("fn.cwasm") && out.stderr.contains("lambda-wasm compile"),
        "a warning naming the stale .cwasm and the fix: {out:#?}"
    );
}

/// Issue 16: test mode caches compiled modules under `$XDG_CACHE_HOME/lambda-wasm`:
/// the second `invoke` loads the cache entry, and an entry that does not
/// load is compiled again and replaced.
#[test]
fn a_second_invoke_uses_the_module_cache() {
    let root = TaskRoot::with_guest_wasm_only("hello.wasm", "hello.wasm");
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        let args = [
            "invoke",
            "hello.handler",
            "--task-root",
            root.path().to_str().unwrap(),
            "--event",
            "-",
        ];
        let env = [
            ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
            ("LAMBDA_WASM_LOG", "debug"),
        ];
        let out = invoke_cli_env(&args, Some(HELLO_EVENT.as_bytes()), &env);
        assert_eq!(
            out.json(),
            json!({"message": "Hello John Smith!"}),
            "{out:#?}"
        );
        out
    };
    let entries = || {
        std::fs::read_dir(cache.path().join("lambda-wasm"))
            .map(|dir| dir.map(|e| e.unwrap().path()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let first = run();
    assert!(first.stderr.contains("stored"), "{first:#?}");
    let [entry] = entries().try_into().expect("one cache entry");
    let second = run();
    assert!(
        second.stderr.contains("from the module cache"),
        "{second:#?}"
    );

    std::fs::write(&entry, b"\x7fELF, but cut short").unwrap();
    let third = run();
    assert!(third.stderr.contains("not using the cached"), "{third:#?}");
    assert_eq!(entries(), [entry], "replaced, nothing left over");
    let fourth = run();
    assert!(
        fourth.stderr.contains("from the module cache"),
        "{fourth:#?}"
    );
}

/// Issue 11: a module that imports nothing from WASI (built for
/// wasm32-unknown-unknown) runs, with a warning that says so at load.
#[test]
fn a_module_without_wasi_warns_at_load() {
    let wat = r#"(module
        (memory (export "memory") 1)
        (data (i32.const 0) "{}")
        (func (export "lambda_abi_version") (result i32) i32.const 1)
        (func (export "lambda_alloc") (param i32) (result i32) i32.const 1024)
        (func (export "handler") (param i32 i32 i32 i32) (result i32) i32.const 0))"#;
    let root = TaskRoot::builder()
        .file("bare.wasm", wat::parse_str(wat).unwrap())
        .build();
    let out = invoke("bare.handler", &root, "-", &[], Some(b"{}"));
    assert!(
        out.stderr.contains("wasi_snapshot_preview1") && out.stderr.contains("wasm32-wasip1"),
        "{out:#?}"
    );
}
