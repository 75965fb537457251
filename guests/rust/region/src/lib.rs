//! `region`: the seed's Python `region` handler, ported.
//!
//! ```python
//! def lambda_handler(event, context):
//!     json_region = os.environ['AWS_REGION']
//!     return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
//!             "body": json.dumps({"Region ": json_region})}
//! ```
//!
//! The body is byte-identical to Python's `json.dumps`: `{"Region ": "us-east-1"}`
//! (the key's trailing space, the `": "` separator, non-ASCII escaped as
//! `\uXXXX`). Without `AWS_REGION` the function error is Python's:
//! errorType `KeyError`, errorMessage `'AWS_REGION'`.
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p region
//! lambda-wasm invoke region.handler --task-root target/wasm32-wasip1/guest --event guests/events/region.json
//! ```

use std::fmt;
use std::fmt::Write as _;

use lambda_wasm_guest::{Context, handler};
use serde::Serialize;
use serde_json::Value;

/// An API Gateway proxy response, the shape the Python handler returns.
#[derive(Debug, PartialEq, Serialize)]
pub struct ProxyResponse {
    /// Always 200.
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    /// `{"Content-Type": "application/json"}`.
    pub headers: Headers,
    /// `json.dumps({"Region ": region})`.
    pub body: String,
}

/// The response headers.
#[derive(Debug, PartialEq, Serialize)]
pub struct Headers {
    /// Always `application/json`.
    #[serde(rename = "Content-Type")]
    pub content_type: String,
}

/// Python's `KeyError` for a missing environment variable.
#[derive(Debug, PartialEq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0)
    }
}

impl std::error::Error for KeyError {}

/// Reports the region the function runs in (`AWS_REGION`); the event is
/// ignored.
pub fn handler(_event: Value, _ctx: &Context) -> Result<ProxyResponse, KeyError> {
    let region = std::env::var_os("AWS_REGION").ok_or_else(|| KeyError("AWS_REGION".to_owned()))?;
    Ok(region_response(&region.to_string_lossy()))
}

handler!(handler);

/// The response for `region`.
pub fn region_response(region: &str) -> ProxyResponse {
    ProxyResponse {
        status_code: 200,
        headers: Headers {
            content_type: "application/json".to_owned(),
        },
        body: format!(
            "{{{}: {}}}",
            python_json_string("Region "),
            python_json_string(region)
        ),
    }
}

/// A JSON string literal exactly as Python's `json.dumps` writes it with its
/// default `ensure_ascii=True`: everything outside printable ASCII escaped,
/// `\uXXXX` in lowercase hex, surrogate pairs above U+FFFF.
pub fn python_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_matches_the_python_handler_byte_for_byte() {
        let bytes = serde_json::to_vec(&region_response("us-east-1")).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"Region \": \"us-east-1\"}"}"#
        );
    }

    #[test]
    fn body_escapes_like_json_dumps() {
        // python3 -c 'import json; print(json.dumps({"Region ": "é\"\\\n\x7f😀\x01"}))'
        assert_eq!(
            region_response("é\"\\\n\u{7f}😀\u{1}").body,
            r#"{"Region ": "\u00e9\"\\\n\u007f\ud83d\ude00\u0001"}"#
        );
    }

    #[test]
    fn handler_reads_aws_region_or_raises_key_error() {
        // The only test that touches the environment.
        // SAFETY: no other test reads or writes the environment.
        unsafe { std::env::remove_var("AWS_REGION") };
        let err = handler(json!({}), &Context::default()).unwrap_err();
        assert_eq!(err.to_string(), "'AWS_REGION'");
        unsafe { std::env::set_var("AWS_REGION", "eu-west-3") };
        let r = handler(json!({"key1": "value1"}), &Context::default()).unwrap();
        assert_eq!(r.body, r#"{"Region ": "eu-west-3"}"#);
        let r = lambda_wasm_guest::testing::invoke(handler, b"{}", "");
        assert_eq!(r.json().unwrap()["body"], r#"{"Region ": "eu-west-3"}"#);
    }
}
