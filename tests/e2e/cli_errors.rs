//! Bad input to the command line and to the local server: each mistake gets
//! a one-line error on stderr that says what to do, the documented exit code
//! (2 for a usage or init error, 1 for a function error), and never a panic.
//! (`serve`'s bad requests and command lines: serve.rs.)

use std::path::Path;

use crate::support::*;
use serde_json::json;

const HELLO_EVENT: &[u8] = br#"{"first_name": "John", "last_name": "Smith"}"#;

/// No panic, no backtrace hint.
#[track_caller]
fn assert_no_panic(out: &CliOutput) {
    assert!(!out.stderr.contains("panicked"), "a panic: {out:#?}");
    assert!(
        !out.stderr.contains("RUST_BACKTRACE"),
        "a backtrace hint: {out:#?}"
    );
}

/// Exit status `code`, exactly one non-empty line on stderr, containing every
/// one of `needles`, and no panic. Returns that line.
#[track_caller]
pub(crate) fn assert_one_line_error<'a>(
    out: &'a CliOutput,
    code: i32,
    needles: &[&str],
) -> &'a str {
    assert_eq!(out.code(), Some(code), "exit status: {out:#?}");
    assert_no_panic(out);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected a one-line error on stderr: {out:#?}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "stderr line lacks {needle:?}: {out:#?}"
        );
    }
    lines[0]
}

/// An init error from `invoke`: exit 2, one line on stderr, and the init
/// error JSON (request id "") on stdout.
#[track_caller]
fn assert_init_error(out: &CliOutput, error_type: &str, needles: &[&str]) {
    let line = assert_one_line_error(out, 2, needles);
    assert!(line.contains(error_type), "{out:#?}");
    assert_error_body(&out.json(), error_type, "");
}

fn invoke(handler: &str, task_root: &Path, event: &str, stdin: Option<&[u8]>) -> CliOutput {
    invoke_cli(
        &[
            "invoke",
            handler,
            "--task-root",
            task_root.to_str().unwrap(),
            "--event",
            event,
        ],
        stdin,
    )
}

// ---------------------------------------------------------------------------
// invoke

#[test]
fn missing_event_file() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let missing = root.path().join("no-such-event.json");
    let out = invoke(
        "hello.handler",
        root.path(),
        missing.to_str().unwrap(),
        None,
    );
    assert_one_line_error(
        &out,
        2,
        &["no-such-event.json", "pass a JSON file or - for stdin"],
    );
    assert!(out.stdout.is_empty(), "{out:#?}");
}

/// `--timeout 0` says 0 is not allowed; `--memory` below what the module
/// needs to start names the flag and the minimum (issue 11).
#[test]
fn timeout_and_memory_out_of_range() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let task_root = root.path().to_str().unwrap();
    let args = |flag, value| {
        [
            "invoke",
            "hello.handler",
            "--task-root",
            task_root,
            flag,
            value,
        ]
    };
    let out = invoke_cli(&args("--timeout", "0"), Some(HELLO_EVENT));
    assert_eq!(out.code(), Some(2), "{out:#?}");
    assert!(out.stderr.contains("0 seconds is not allowed"), "{out:#?}");
    let out = invoke_cli(&args("--memory", "1"), Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.ImportModuleError",
        &["--memory", "needs at least 2 MB", "memory size of 1 MB"],
    );
}

#[test]
fn task_root_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let out = invoke("hello.handler", &missing, "-", Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.ImportModuleError",
        &["no-such-folder", "task root"],
    );
}

#[test]
fn task_root_that_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.wasm");
    std::fs::copy(guest("hello.wasm"), &file).unwrap();
    let out = invoke("hello.handler", &file, "-", Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.ImportModuleError",
        &["hello.wasm", "not a readable folder"],
    );
}

#[test]
fn invalid_handler_strings() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    for (handler, reason) in [
        ("", "the handler is empty; use MODULE.FUNCTION"),
        ("../x.h", "'..' component"),
        ("a.", "the function part after the last '.' is empty"),
        (".handler", "the module part before the last '.' is empty"),
        ("/etc/passwd.x", "relative path under the task root"),
    ] {
        let out = invoke(handler, root.path(), "-", Some(HELLO_EVENT));
        assert_init_error(
            &out,
            "Runtime.MalformedHandlerName",
            &[&format!("Bad handler '{handler}'"), reason],
        );
    }
}

/// Issue 11: errors that say what to do about the handler string.
#[test]
fn handler_mistakes_say_what_to_do() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    let out = invoke("hello.wasm", root.path(), "-", Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.MalformedHandlerName",
        &["'.wasm'", "does not belong", "hello.handler"],
    );
    let out = invoke("helo.handler", root.path(), "-", Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.ImportModuleError",
        &["no helo.wasm or helo.py", "did you mean hello?"],
    );
    let out = invoke("hello.handle", root.path(), "-", Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.HandlerNotFound",
        &[
            "Handler 'handle' missing on module 'hello'",
            "it exports: ",
            "handler",
        ],
    );
}

/// Issue 11: a wasip2 component is refused with the target to build for.
#[test]
fn a_component_says_to_build_for_wasip1() {
    // The component binary format's preamble: magic, version 0x0d, layer 1.
    let root = TaskRoot::builder()
        .file("comp.wasm", b"\0asm\x0d\0\x01\0".to_vec())
        .build();
    let out = invoke("comp.handler", root.path(), "-", Some(HELLO_EVENT));
    assert_init_error(
        &out,
        "Runtime.ImportModuleError",
        &["is a WebAssembly component", "wasm32-wasip1"],
    );
}

/// Test mode reports an event that is not JSON as Runtime API mode does:
/// the function error `Runtime.UnmarshalError` for that invocation (exit 1,
/// the error JSON on stdout), without running the guest.
#[test]
fn invalid_event_json() {
    let root = TaskRoot::with_guest("hello.wasm", "hello.wasm");
    for event in [&b"{\"first_name\": oops"[..], b"not json", b"{} {}", b""] {
        let out = invoke("hello.handler", root.path(), "-", Some(event));
        assert_eq!(out.code(), Some(1), "{out:#?}");
        assert_no_panic(&out);
        let v = out.json();
        let request_id = v["requestId"]
            .as_str()
            .unwrap_or_else(|| panic!("requestId: {v}"))
            .to_string();
        assert_error_body(&v, "Runtime.UnmarshalError", &request_id);
        assert!(
            v["errorMessage"]
                .as_str()
                .unwrap()
                .starts_with("Unable to unmarshal input: "),
            "{v}"
        );
        assert!(
            out.stderr
                .contains(&format!("REPORT RequestId: {request_id}")),
            "{out:#?}"
        );
    }
}

/// A 7 MB event (over Lambda's 6 MB invoke payload limit) through `invoke`:
/// test mode has no payload limit of its own, so the guest gets it.
#[test]
fn huge_event_through_invoke() {
    let root = TaskRoot::with_guest("test_guest.wasm", "probe.wasm");
    let event = json!({"action": "counter", "pad": "x".repeat(7 * 1024 * 1024)});
    let out = invoke(
        "probe.handler",
        root.path(),
        "-",
        Some(&serde_json::to_vec(&event).unwrap()),
    );
    assert_no_panic(&out);
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(out.json()["count"], 1, "{out:#?}");
}

// ---------------------------------------------------------------------------
// compile and package

#[test]
fn compile_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    let out = invoke_cli(&["compile", missing.to_str().unwrap()], None);
    assert_one_line_error(&out, 2, &["cannot read", "missing.wasm"]);
    assert!(!dir.path().join("missing.cwasm").exists());
}

#[test]
fn compile_bytes_that_are_not_wasm() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("binary.wasm", &b"\0asm\x01\0\0\0\xff\xff\xff"[..]),
        ("version.wasm", b"\0asm\x09\0\0\0"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = invoke_cli(&["compile", file.to_str().unwrap()], None);
        assert_one_line_error(&out, 2, &[name, "is not a valid WebAssembly module"]);
        assert!(
            !file.with_extension("cwasm").exists(),
            "{name}: a .cwasm was written"
        );
    }
}

/// A `.wasm` file holding text is refused by its missing binary header, in
/// one line, rather than parsed as the WebAssembly text format.
#[test]
fn text_that_is_not_wasm_gets_a_one_line_error() {
    // Any file not starting with the full `\0asm` magic: text, an empty file, a cut header.
    for bytes in [&b"this is not wasm"[..], b"", b"\0as"] {
        let root = TaskRoot::builder().file("m.wasm", bytes).build();
        let wasm = root.path().join("m.wasm");
        let out = invoke_cli(&["compile", wasm.to_str().unwrap()], None);
        assert_one_line_error(&out, 2, &["m.wasm", "is not a WebAssembly binary"]);
        let out = invoke("m.handler", root.path(), "-", Some(b"{}"));
        assert_init_error(
            &out,
            "Runtime.ImportModuleError",
            &["m.wasm", "is not a WebAssembly binary"],
        );
    }
}

/// `strip` names the file and what is wrong with it, in one line, and
/// writes nothing.
#[test]
fn strip_bytes_that_are_not_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.wasm");
    for (name, bytes, problem) in [
        (
            "text.wasm",
            &b"this is not wasm"[..],
            "is not a WebAssembly binary",
        ),
        (
            "cut.wasm",
            b"\0asm\x01\0\0\0\x01\xff",
            "is not a valid WebAssembly module",
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let args = [
            "strip",
            file.to_str().unwrap(),
            "-o",
            out_file.to_str().unwrap(),
        ];
        let out = invoke_cli(&args, None);
        assert_one_line_error(&out, 2, &[name, problem]);
        assert!(!out_file.exists(), "{name}: an output was written");
    }
}

/// `split` names the module, and the table entry it cannot find or the
/// module it cannot read, in one line, and writes nothing.
#[test]
fn split_names_what_it_cannot_find() {
    let dir = tempfile::tempdir().unwrap();
    let (core, rest) = (dir.path().join("core.wasm"), dir.path().join("rest.wasm"));
    let named = wat::parse_str(
        r#"(module (table 2 funcref) (elem (i32.const 0) $a $b) (func $a) (func $b))"#,
    )
    .unwrap();
    for (name, bytes, from, problem) in [
        (
            "text.wasm",
            b"this is not wasm".to_vec(),
            "a",
            "is not a WebAssembly binary",
        ),
        ("named.wasm", named, "c", "no function named `c`"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let args = [
            "split",
            file.to_str().unwrap(),
            "--rest-from",
            from,
            "--rest-to",
            "b",
            "-o",
            core.to_str().unwrap(),
            "--rest-output",
            rest.to_str().unwrap(),
        ];
        let out = invoke_cli(&args, None);
        assert_one_line_error(&out, 2, &[name, problem]);
        assert!(
            !core.exists() && !rest.exists(),
            "{name}: an output was written"
        );
    }
}

#[test]
fn package_onto_a_folder() {
    let root = TaskRoot::with_guest_wasm_only("hello.wasm", "hello.wasm");
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::write(out_dir.path().join("keep.txt"), "mine").unwrap();
    let out = invoke_cli(
        &[
            "package",
            "--task-root",
            root.path().to_str().unwrap(),
            "--out",
            out_dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_one_line_error(&out, 2, &["is a folder", "--out function.zip"]);
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["keep.txt"], "package wrote into the folder");
}
