//! `command-echo`: a plain WASI program used as a handler, with no SDK: the
//! "command" kind of guest (docs/abi.md, section 3).
//!
//! It reads the event from stdin and writes the response to stdout:
//! `{"event": <event>, "request_id": ..., "function_name": ...}`, the last
//! two from the `LAMBDA_CONTEXT_*` environment variables the host sets. It
//! logs `command-echo: got N bytes` on stderr. The event `{"exit": N}` makes
//! it exit with status N without writing a response; an event that is not
//! JSON makes it exit with status 1.
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p command-echo
//! lambda-wasm invoke command-echo --task-root target/wasm32-wasip1/guest --event guests/events/hello.json
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use serde_json::{Value, json};

fn main() -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("command-echo: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("command-echo: got {} bytes", input.len());

    let event: Value = if input.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&input) {
            Ok(event) => event,
            Err(e) => {
                eprintln!("command-echo: the event is not JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    if let Some(code) = event.get("exit").and_then(Value::as_i64) {
        std::process::exit(code as i32);
    }

    let response = json!({
        "event": event,
        "request_id": std::env::var("LAMBDA_CONTEXT_AWS_REQUEST_ID").ok(),
        "function_name": std::env::var("LAMBDA_CONTEXT_FUNCTION_NAME").ok(),
    });
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut stdout, &response)
        .map_err(std::io::Error::from)
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("command-echo: cannot write stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
