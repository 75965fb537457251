//! `increment`: the seed's Python `increment` handler, ported.
//!
//! ```python
//! logger = logging.getLogger()
//! logger.setLevel(logging.INFO)
//!
//! def lambda_handler(event, context):
//!     result = None
//!     action = event.get('action')
//!     if action == 'increment':
//!         result = event.get('number', 0) + 1
//!         logger.info('Calculated result of %s', result)
//!     else:
//!         logger.error("%s is not a valid action.", action)
//!     return {'result': result}
//! ```
//!
//! `{"action":"increment","number":3}` gives `{"result":4}` and the INFO
//! record `Calculated result of 4`; any other action gives `{"result":null}`
//! and the ERROR record `<action> is not a valid action.` (`None` when there
//! is no action). Integers stay integers, floats stay floats; adding 1 to a
//! non-number is Python's `TypeError`.
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p increment
//! lambda-wasm invoke increment.handler --task-root target/wasm32-wasip1/guest --event guests/events/increment.json
//! ```

use lambda_wasm_guest::log::{Level, Logger};
use lambda_wasm_guest::{Context, Diagnostic, handler};
use serde::Serialize;
use serde_json::{Number, Value};

/// The module-level logger, as Python's `logger.setLevel(logging.INFO)`:
/// DEBUG and TRACE records are dropped here, before they reach the host.
static LOGGER: Logger = Logger::new(Level::Info);

/// The response, `{"result": ...}`: the incremented number, or `null`.
#[derive(Debug, PartialEq, Serialize)]
pub struct Response {
    /// `number + 1`, or `None` when the action was not `increment`.
    pub result: Option<Number>,
}

/// Increments `number` (default 0) when `action` is `increment`.
pub fn handler(event: Value, _ctx: &Context) -> Result<Response, Diagnostic> {
    let Value::Object(event) = event else {
        return Err(Diagnostic::new(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", python_type(&event)),
        ));
    };
    let action = event.get("action").unwrap_or(&Value::Null);
    let mut result = None;
    if action == "increment" {
        let number = event.get("number").cloned().unwrap_or(Value::from(0));
        let sum = add_one(&number)?;
        LOGGER.info(format_args!("Calculated result of {sum}"));
        result = Some(sum);
    } else {
        LOGGER.error(format_args!(
            "{} is not a valid action.",
            python_str(action)
        ));
    }
    Ok(Response { result })
}

handler!(handler);

/// Python's `value + 1`: ints stay ints (bools count as ints), floats stay
/// floats, anything else is a `TypeError` with Python's wording.
fn add_one(value: &Value) -> Result<Number, Diagnostic> {
    let type_error = |message: String| Diagnostic::new("TypeError", message);
    match value {
        Value::Number(n) => Ok(if let Some(i) = n.as_i64() {
            i.checked_add(1)
                .map(Number::from)
                .unwrap_or_else(|| Number::from(i as u64 + 1))
        } else if let Some(u) = n.as_u64() {
            // Python's ints have no limit; past u64 the best JSON can do is a float.
            u.checked_add(1)
                .map(Number::from)
                .unwrap_or_else(|| Number::from_f64(u as f64 + 1.0).expect("finite"))
        } else {
            let f = n.as_f64().unwrap_or(f64::NAN) + 1.0;
            Number::from_f64(f).ok_or_else(|| type_error(format!("cannot add 1 to {n}")))?
        }),
        Value::Bool(b) => Ok(Number::from(*b as i64 + 1)),
        Value::String(_) => Err(type_error(
            "can only concatenate str (not \"int\") to str".into(),
        )),
        Value::Array(_) => Err(type_error(
            "can only concatenate list (not \"int\") to list".into(),
        )),
        other => Err(type_error(format!(
            "unsupported operand type(s) for +: '{}' and 'int'",
            python_type(other)
        ))),
    }
}

/// The Python type name of a JSON value.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's `str()` of a JSON value, for `%s`.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a JSON value (close enough for log messages).
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_repr(&Value::from(k.as_str())),
                    python_repr(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_wasm_guest::testing::{invoke, take_logs};
    use serde_json::json;

    fn run(event: Value) -> Value {
        serde_json::to_value(handler(event, &Context::default()).unwrap()).unwrap()
    }

    #[test]
    fn increments_and_logs_the_result() {
        take_logs();
        assert_eq!(
            run(json!({"action": "increment", "number": 3})),
            json!({"result": 4})
        );
        assert_eq!(
            take_logs(),
            [(Level::Info, "Calculated result of 4".to_owned())]
        );
    }

    #[test]
    fn number_defaults_to_zero_and_keeps_its_kind() {
        assert_eq!(run(json!({"action": "increment"})), json!({"result": 1}));
        assert_eq!(
            run(json!({"action": "increment", "number": -5})),
            json!({"result": -4})
        );
        assert_eq!(
            run(json!({"action": "increment", "number": 2.5})),
            json!({"result": 3.5})
        );
        assert_eq!(
            run(json!({"action": "increment", "number": i64::MAX})),
            json!({"result": 9223372036854775808u64})
        );
        assert_eq!(
            run(json!({"action": "increment", "number": true})),
            json!({"result": 2})
        );
        let bytes = serde_json::to_vec(
            &handler(
                json!({"action": "increment", "number": 3.0}),
                &Context::default(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(bytes, br#"{"result":4.0}"#);
    }

    #[test]
    fn other_actions_log_an_error_and_return_null() {
        take_logs();
        assert_eq!(run(json!({"number": 3})), json!({"result": null}));
        assert_eq!(run(json!({"action": "decrement"})), json!({"result": null}));
        assert_eq!(run(json!({"action": ["a", 1]})), json!({"result": null}));
        assert_eq!(
            take_logs(),
            [
                (Level::Error, "None is not a valid action.".to_owned()),
                (Level::Error, "decrement is not a valid action.".to_owned()),
                (Level::Error, "['a', 1] is not a valid action.".to_owned()),
            ]
        );
    }

    #[test]
    fn bad_inputs_raise_what_python_raises() {
        let r = invoke(handler, br#"{"action":"increment","number":"3"}"#, "");
        let e = r.error.unwrap();
        assert_eq!(e.error_type, "TypeError");
        assert_eq!(
            e.error_message,
            "can only concatenate str (not \"int\") to str"
        );
        let e = invoke(handler, br#"{"action":"increment","number":null}"#, "")
            .error
            .unwrap();
        assert_eq!(
            e.error_message,
            "unsupported operand type(s) for +: 'NoneType' and 'int'"
        );
        let e = invoke(handler, b"[1]", "").error.unwrap();
        assert_eq!(
            (e.error_type.as_str(), e.error_message.as_str()),
            ("AttributeError", "'list' object has no attribute 'get'")
        );
    }

    #[test]
    fn seed_event_through_the_abi() {
        // guests/events/increment.json
        let r = invoke(handler, br#"{ "action": "increment", "number": 3 }"#, "");
        assert_eq!(r.status, 0);
        assert_eq!(r.response.as_deref(), Some(&br#"{"result":4}"#[..]));
        assert_eq!(r.logs, [(Level::Info, "Calculated result of 4".to_owned())]);
    }
}
