//! `test-guest`: one purpose-built guest for the host's end-to-end tests.
//! Its `handler` export dispatches on the event's `"action"` string, and
//! each action triggers one behaviour the host must handle or contain:
//!
//! | action | event fields | what it does |
//! |---|---|---|
//! | `echo` | any | returns the event |
//! | `counter` | | increments a static counter: `{"count": n, "instance_id"}` (warm reuse) |
//! | `init_count` | | `{"init_count", "instance_id"}`: how often module init ran in this instance, and a random id chosen once per instance |
//! | `context` | | the whole [`Context`] as JSON, plus `remaining_time_in_millis` |
//! | `env` | | every environment variable, as a JSON object |
//! | `cwd` | | `{"ok": true, "cwd"}`: the working directory |
//! | `read_file` | `path` | `{"ok": true, "content"}` or `{"ok": false, "error"}` |
//! | `write_file` | `path`, `content` | `{"ok": true}` or `{"ok": false, "error"}` |
//! | `list_dir` | `path` | `{"ok": true, "entries": [sorted names]}` or `{"ok": false, "error"}` |
//! | `tmp_roundtrip` | `content`? | writes `/tmp/x`, reads it back: `{"ok": true, "content"}` |
//! | `fail` | `message`, `cause`? | function error `CustomError` with that message (and a `caused by:` frame) |
//! | `panic` | | `panic!("boom")`: the SDK's panic hook sets the error `Panic` (`panicked at tests/guest/src/lib.rs:<line>:<column>: boom`) and prints the message to stderr, then the abort traps |
//! | `unreachable` | | the `unreachable` instruction |
//! | `stack_overflow` | | unbounded recursion |
//! | `alloc` | `mb` | allocates and fills `mb` MiB, kept in a static: `{"allocated_mb", "held_mb"}` |
//! | `loop` | | spins forever (for timeouts) |
//! | `busy_wait` | | spins forever asking the host for the remaining time and ignoring it |
//! | `sleep` | `ms` | `std::thread::sleep`, then `{"slept_ms"}` |
//! | `exit` | `code` | `std::process::exit(code)`, 0 included |
//! | `bad_utf8` | | a response that is not UTF-8 |
//! | `non_json` | | the response `this is not json` |
//! | `big` | `mb` or `bytes` | a valid JSON string of exactly that size (`bytes` wins) |
//! | `empty` | | a 0-byte response |
//! | `raw` | `text` | exactly that text as the response |
//! | `log_spam` | `mb`, `line_bytes`? (1024), `stream`? (`stdout`/`stderr`) | that many MiB to stdout (or stderr) in lines |
//! | `log_line` | `bytes` | one line of that many bytes to stderr, no newline |
//! | `log` | | one SDK record per level (`test-guest <LEVEL> record`), one `println!` (`test-guest stdout line`), one `eprintln!` (`test-guest stderr line`) |
//! | `socket` | | tries a TCP connection: `{"ok": false, "error"}` |
//! | `oob_host_call` | | calls `lambda_wasm.set_response` with an out-of-bounds range |
//!
//! Any other action is a function error `UnknownAction`.
//!
//! Other exports, for handler resolution and ABI edge cases:
//! `second` (a second handler: `{"handler": "second"}`), `typed` (event
//! `{"name": string}` → `{"name"}`; anything else is
//! `Runtime.UnmarshalError`), `raw_status` (returns 7 without calling
//! `set_error`) and `wrong_signature` (an export of type `() -> i32`).
//!
//! Build: `cargo build --profile guest --target wasm32-wasip1 -p test-guest`
//! → `target/wasm32-wasip1/guest/test_guest.wasm` (handler `test_guest.handler`).

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use lambda_wasm_guest::{Context, Diagnostic, RawResponse, abi, handler};
use serde::Deserialize;
use serde_json::{Value, json};

const MIB: u64 = 1024 * 1024;

/// How many times this instance's module-level init ran (1 once touched).
static INIT_RUNS: AtomicU32 = AtomicU32::new(0);

/// Module-level state set up once per instance, on the first invocation.
static INSTANCE_ID: LazyLock<u64> = LazyLock::new(|| {
    INIT_RUNS.fetch_add(1, Ordering::SeqCst);
    random_u64()
});

/// The `counter` action's count; survives warm invocations only.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// What `alloc` allocated, kept so the memory stays in use.
static HELD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The error of the `fail` action, named so the host can check `errorType`.
#[derive(Debug)]
pub struct CustomError {
    message: String,
    cause: Option<std::io::Error>,
}

impl fmt::Display for CustomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CustomError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_ref().map(|e| e as _)
    }
}

/// Dispatches on `event.action`; see the table in the crate docs.
pub fn handler(event: Value, ctx: &Context) -> Result<RawResponse, Diagnostic> {
    let instance_id = *INSTANCE_ID;
    let action = event
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| Diagnostic::new("UnknownAction", "the event has no \"action\" string"))?;
    let reply = match action {
        "echo" => event,
        "counter" => {
            json!({"count": COUNTER.fetch_add(1, Ordering::SeqCst) + 1, "instance_id": instance_id})
        }
        "init_count" => {
            json!({"init_count": INIT_RUNS.load(Ordering::SeqCst), "instance_id": instance_id})
        }
        "context" => {
            let mut value = serde_json::to_value(ctx)?;
            value["remaining_time_in_millis"] = ctx.remaining_time_in_millis().into();
            value
        }
        "env" => Value::Object(
            std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned().into(),
                    )
                })
                .collect(),
        ),
        "cwd" => outcome(std::env::current_dir().map(|dir| json!({"cwd": dir}))),
        "read_file" => outcome(
            std::fs::read(str_arg(&event, "path")?)
                .map(|bytes| json!({"content": String::from_utf8_lossy(&bytes)})),
        ),
        "write_file" => outcome(
            std::fs::write(str_arg(&event, "path")?, str_arg(&event, "content")?)
                .map(|()| json!({})),
        ),
        "list_dir" => outcome(list_dir(str_arg(&event, "path")?)),
        "tmp_roundtrip" => {
            let content = event
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or("roundtrip");
            outcome(
                std::fs::write("/tmp/x", content)
                    .and_then(|()| std::fs::read_to_string("/tmp/x"))
                    .map(|content| json!({"content": content})),
            )
        }
        "fail" => {
            let message = event
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("failed on purpose");
            let cause = event
                .get("cause")
                .and_then(Value::as_str)
                .map(std::io::Error::other);
            return Err(CustomError {
                message: message.to_owned(),
                cause,
            }
            .into());
        }
        "panic" => panic!("boom"),
        "unreachable" => trap(),
        "stack_overflow" => json!({"depth": recurse(0)}),
        "alloc" => {
            let mb = num_arg(&event, "mb")?;
            let block = vec![1u8; (mb * MIB as f64) as usize];
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            held.push(block);
            let held_bytes: usize = held.iter().map(Vec::len).sum();
            json!({"allocated_mb": mb, "held_mb": held_bytes as f64 / MIB as f64})
        }
        "loop" => {
            let mut spins = 0u64;
            loop {
                spins = black_box(spins.wrapping_add(1));
            }
        }
        "busy_wait" => loop {
            black_box(ctx.remaining_time_in_millis());
        },
        "sleep" => {
            let ms = num_arg(&event, "ms")? as u64;
            std::thread::sleep(std::time::Duration::from_millis(ms));
            json!({"slept_ms": ms})
        }
        "exit" => std::process::exit(num_arg(&event, "code")? as i32),
        "bad_utf8" => return Ok(RawResponse::new(b"\"\xff\xfe\"".to_vec())),
        "non_json" => return Ok(RawResponse::new(b"this is not json".to_vec())),
        "big" => {
            let size = match event.get("bytes").and_then(Value::as_u64) {
                Some(bytes) => bytes as usize,
                None => (num_arg(&event, "mb")? * MIB as f64) as usize,
            };
            return Ok(RawResponse::new(json_string_of_size(size)));
        }
        "empty" => return Ok(RawResponse::new(Vec::new())),
        "raw" => {
            return Ok(RawResponse::new(
                str_arg(&event, "text")?.as_bytes().to_vec(),
            ));
        }
        "log_spam" => {
            let total = (num_arg(&event, "mb")? * MIB as f64) as usize;
            let line_bytes = event
                .get("line_bytes")
                .and_then(Value::as_u64)
                .unwrap_or(1024)
                .max(1) as usize;
            let written = match event.get("stream").and_then(Value::as_str) {
                Some("stderr") => write_lines(&mut std::io::stderr().lock(), total, line_bytes)?,
                _ => write_lines(&mut std::io::stdout().lock(), total, line_bytes)?,
            };
            json!({"written_bytes": written})
        }
        "log_line" => {
            let bytes = num_arg(&event, "bytes")? as usize;
            std::io::stderr().write_all(&vec![b'y'; bytes])?;
            json!({"written_bytes": bytes})
        }
        "log" => {
            lambda_wasm_guest::log::trace!("test-guest TRACE record");
            lambda_wasm_guest::log::debug!("test-guest DEBUG record");
            lambda_wasm_guest::log::info!("test-guest INFO record");
            lambda_wasm_guest::log::warn!("test-guest WARN record");
            lambda_wasm_guest::log::error!("test-guest ERROR record");
            lambda_wasm_guest::log::fatal!("test-guest FATAL record");
            println!("test-guest stdout line");
            eprintln!("test-guest stderr line");
            json!({"logged": true})
        }
        "socket" => match std::net::TcpStream::connect("127.0.0.1:80") {
            Ok(_) => json!({"ok": true}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        "oob_host_call" => {
            oob_set_response();
            json!({"ok": false, "error": "the host accepted an out-of-bounds range"})
        }
        other => {
            return Err(Diagnostic::new(
                "UnknownAction",
                format!("unknown action {other:?}; see tests/guest/src/lib.rs for the actions"),
            ));
        }
    };
    RawResponse::json(&reply)
}

handler!(handler);

/// A second handler in the same module: `test_guest.second`.
pub fn second(_event: Value, _ctx: &Context) -> Result<Value, Diagnostic> {
    Ok(json!({"handler": "second"}))
}

handler!(second);

/// The event of the `typed` handler.
#[derive(Deserialize)]
pub struct Named {
    /// Any string; a missing or non-string name is an unmarshal error.
    pub name: String,
}

/// A handler with a typed event, to trigger `Runtime.UnmarshalError`.
pub fn typed(event: Named, _ctx: &Context) -> Result<Value, Diagnostic> {
    Ok(json!({"name": event.name}))
}

handler!(typed);

/// An ABI-level handler that returns a non-zero status without calling
/// `set_error` (the host must report `Runtime.HandlerError`).
#[allow(dead_code)]
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "raw_status"))]
extern "C" fn raw_status(
    event_ptr: *mut u8,
    event_len: usize,
    _ctx_ptr: *mut u8,
    ctx_len: usize,
) -> i32 {
    // SAFETY: the host's lambda_alloc(event_len + ctx_len) buffer.
    unsafe { abi::free_invocation_buffer(event_ptr, event_len + ctx_len) };
    7
}

/// An export whose signature is not a handler's (the host must report
/// `Runtime.HandlerNotFound`).
#[allow(dead_code)]
#[cfg_attr(target_arch = "wasm32", unsafe(export_name = "wrong_signature"))]
extern "C" fn wrong_signature() -> i32 {
    0
}

/// `{"ok": true, ...fields}` or `{"ok": false, "error"}`: file actions
/// report I/O errors as data, never as a panic.
fn outcome(result: std::io::Result<Value>) -> Value {
    match result {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), true.into());
            Value::Object(fields)
        }
        Ok(other) => json!({"ok": true, "value": other}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
}

fn list_dir(path: &str) -> std::io::Result<Value> {
    let mut entries = std::fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(json!({"entries": entries}))
}

fn str_arg<'a>(event: &'a Value, key: &str) -> Result<&'a str, Diagnostic> {
    event.get(key).and_then(Value::as_str).ok_or_else(|| {
        Diagnostic::new(
            "MissingArgument",
            format!("this action needs a string {key:?}"),
        )
    })
}

fn num_arg(event: &Value, key: &str) -> Result<f64, Diagnostic> {
    event.get(key).and_then(Value::as_f64).ok_or_else(|| {
        Diagnostic::new(
            "MissingArgument",
            format!("this action needs a number {key:?}"),
        )
    })
}

/// A JSON string literal of exactly `size` bytes (`""` below 2).
fn json_string_of_size(size: usize) -> Vec<u8> {
    let mut body = vec![b'a'; size.max(2)];
    body[0] = b'"';
    *body.last_mut().expect("at least 2 bytes") = b'"';
    body
}

/// Recurses until the stack runs out; `black_box` keeps the frames (and
/// their locals in linear memory) from being optimised away.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(true) {
        recurse(depth + 1) + black_box(&frame)[7]
    } else {
        depth
    }
}

/// The Wasm `unreachable` instruction (off Wasm: an abort).
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

/// Calls the host's `set_response` with a range far outside linear memory.
fn oob_set_response() {
    #[cfg(target_arch = "wasm32")]
    {
        #[link(wasm_import_module = "lambda_wasm")]
        unsafe extern "C" {
            fn set_response(ptr: *const u8, len: usize);
        }
        // SAFETY: deliberately invalid; the host must trap, not read.
        unsafe { set_response(0xFFFF_FFF0usize as *const u8, 1000) };
    }
}

/// Writes `total` bytes to `out` in lines of `line_bytes` (newline included).
fn write_lines(out: &mut impl Write, total: usize, line_bytes: usize) -> std::io::Result<usize> {
    let mut line = vec![b'x'; line_bytes];
    line[line_bytes - 1] = b'\n';
    let mut written = 0;
    while written < total {
        let n = line_bytes.min(total - written);
        out.write_all(&line[line_bytes - n..])?;
        written += n;
    }
    out.flush()?;
    Ok(written)
}

/// A random id per instance: std's `RandomState` draws its keys from WASI
/// `random_get`.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_strings_have_the_exact_size() {
        assert_eq!(json_string_of_size(2), b"\"\"");
        assert_eq!(json_string_of_size(0), b"\"\"");
        let s = json_string_of_size(1000);
        assert_eq!(s.len(), 1000);
        assert!(serde_json::from_slice::<String>(&s).is_ok());
    }
}
