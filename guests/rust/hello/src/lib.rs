//! `hello`: the seed's Python `hello` handler, ported.
//!
//! ```python
//! def lambda_handler(event, context):
//!     message = 'Hello {} {}!'.format(event['first_name'], event['last_name'])
//!     return {'message': message}
//! ```
//!
//! `{"first_name":"John","last_name":"Smith"}` gives
//! `{"message":"Hello John Smith!"}`; a missing key gives the function error
//! Python would raise: errorType `KeyError`, errorMessage `'first_name'`.
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p hello
//! lambda-wasm invoke hello.handler --task-root target/wasm32-wasip1/guest --event guests/events/hello.json
//! ```

use std::fmt;

use lambda_wasm_guest::{Context, handler};
use serde::Serialize;
use serde_json::Value;

/// The response, `{"message": ...}`.
#[derive(Debug, PartialEq, Serialize)]
pub struct Greeting {
    /// `Hello <first_name> <last_name>!`
    pub message: String,
}

/// Python's `KeyError`: the event has no such key. Its message is the key
/// quoted, as `str(KeyError('first_name'))` is `'first_name'`.
#[derive(Debug, PartialEq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0)
    }
}

impl std::error::Error for KeyError {}

/// Greets the person named in the event.
///
/// The event is any JSON (not a struct) so that a missing key is Python's
/// `KeyError` rather than a deserialization error, and a non-string name is
/// printed as Python's `str()` would.
pub fn handler(event: Value, _ctx: &Context) -> Result<Greeting, KeyError> {
    let field = |key: &str| {
        event
            .get(key)
            .map(python_str)
            .ok_or_else(|| KeyError(key.to_owned()))
    };
    let first_name = field("first_name")?;
    let last_name = field("last_name")?;
    Ok(Greeting {
        message: format!("Hello {first_name} {last_name}!"),
    })
}

handler!(handler);

/// Python's `str()` of a JSON value, for `'{}'.format(value)`.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn greets_by_full_name() {
        let event = json!({"first_name": "John", "last_name": "Smith"});
        let greeting = handler(event, &Context::default()).unwrap();
        assert_eq!(
            serde_json::to_value(greeting).unwrap(),
            json!({"message": "Hello John Smith!"})
        );
    }

    #[test]
    fn missing_key_is_a_key_error() {
        let err = handler(json!({"last_name": "Smith"}), &Context::default()).unwrap_err();
        assert_eq!(err, KeyError("first_name".into()));
        let err = handler(json!({"first_name": "John"}), &Context::default()).unwrap_err();
        assert_eq!(err.to_string(), "'last_name'");
    }

    #[test]
    fn key_error_reaches_lambda_as_python_reports_it() {
        let r = lambda_wasm_guest::testing::invoke(handler, b"{}", "");
        let e = r.error.unwrap();
        assert_eq!(
            (e.error_type.as_str(), e.error_message.as_str()),
            ("KeyError", "'first_name'")
        );
    }

    #[test]
    fn the_seed_event_works() {
        // guests/events/hello.json
        let event = br#"{ "first_name": "John", "last_name": "Smith" }"#;
        let r = lambda_wasm_guest::testing::invoke(handler, event, "");
        assert_eq!(
            r.response.as_deref(),
            Some(&br#"{"message":"Hello John Smith!"}"#[..])
        );
    }

    #[test]
    fn non_string_names_print_like_python() {
        let g = handler(
            json!({"first_name": 7, "last_name": null}),
            &Context::default(),
        )
        .unwrap();
        assert_eq!(g.message, "Hello 7 None!");
    }
}
