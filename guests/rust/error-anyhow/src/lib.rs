//! `error-anyhow`: a handler written with `anyhow`, `?` and `.context()`
//! (as aws-lambda-rust-runtime's `basic-error-anyhow` example).
//!
//! The handler returns `anyhow::Result<Sum>`; the SDK turns an `Err` into
//! the function error: errorType `Error` (anyhow's type), errorMessage the
//! outermost context, and one `caused by: ...` stackTrace line per error
//! below it. No SDK feature is needed: `anyhow::Error` converts into a
//! `Diagnostic` as every error does.
//!
//! | event | result |
//! |---|---|
//! | `{"numbers": "1, 2, 3"}` | `{"sum":6}` |
//! | `{"numbers": "1, x"}` | `Error`: `item 2 is not a number: "x"`, stackTrace `caused by: invalid digit found in string` |
//! | `{"numbers": ""}` | `Error`: `no numbers to add` |
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p error-anyhow
//! echo '{"numbers": "1, x"}' | lambda-wasm invoke error_anyhow.handler --task-root target/wasm32-wasip1/guest --event -
//! ```

use anyhow::{Context as _, ensure};
use lambda_wasm_guest::{Context, handler};
use serde::{Deserialize, Serialize};

/// The event: comma-separated integers, as a form field would send them.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// `1, 2, 3`.
    pub numbers: String,
}

/// The response.
#[derive(Debug, PartialEq, Serialize)]
pub struct Sum {
    /// The numbers added up.
    pub sum: i64,
}

/// Adds up the event's numbers.
pub fn handler(request: Request, _ctx: &Context) -> anyhow::Result<Sum> {
    let numbers = request.numbers.trim();
    ensure!(!numbers.is_empty(), "no numbers to add");
    let mut sum = 0i64;
    for (index, text) in numbers.split(',').map(str::trim).enumerate() {
        let number: i64 = text
            .parse()
            .with_context(|| format!("item {} is not a number: {text:?}", index + 1))?;
        sum = sum.checked_add(number).context("the sum overflows")?;
    }
    Ok(Sum { sum })
}

handler!(handler);

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_wasm_guest::Diagnostic;
    use lambda_wasm_guest::testing::invoke;

    #[test]
    fn adds_the_numbers() {
        let r = invoke(handler, br#"{"numbers": "1, 2, 3"}"#, "");
        assert_eq!(r.response.as_deref(), Some(&br#"{"sum":6}"#[..]));
    }

    #[test]
    fn contexts_become_the_message_and_the_stack_trace() {
        let r = invoke(handler, br#"{"numbers": "1, x"}"#, "");
        assert_eq!(r.status, 1);
        assert_eq!(
            r.error,
            Some(
                Diagnostic::new("Error", "item 2 is not a number: \"x\"")
                    .with_stack_frame("caused by: invalid digit found in string")
            )
        );
    }

    #[test]
    fn ensure_fails_with_its_message() {
        let r = invoke(handler, br#"{"numbers": " "}"#, "");
        assert_eq!(r.error, Some(Diagnostic::new("Error", "no numbers to add")));
    }
}
