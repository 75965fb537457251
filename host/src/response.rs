//! Checks a guest's response before it leaves the host: size, UTF-8, JSON.

use serde_json::value::RawValue;

use crate::errors::LambdaError;

/// Lambda's synchronous payload limit: 6 MB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The only whitespace JSON allows around a value (RFC 8259).
const JSON_WHITESPACE: &[u8] = b" \t\n\r";

/// What a guest produced as its response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GuestResponse {
    /// The guest set nothing: the result is `null`, as a Python handler returning `None`.
    #[default]
    Unset,
    /// The bytes the guest set.
    Bytes(Vec<u8>),
    /// The guest tried to set this many bytes, over the limit; nothing was copied.
    TooLarge(usize),
}

/// Validates `response` against `max_bytes`; the result is the exact JSON to send.
pub fn validate(response: GuestResponse, max_bytes: usize) -> Result<Box<RawValue>, LambdaError> {
    let bytes = match response {
        GuestResponse::Unset => {
            return Ok(RawValue::from_string("null".into()).expect("null is JSON"));
        }
        GuestResponse::TooLarge(len) => return Err(too_large(len, max_bytes)),
        GuestResponse::Bytes(bytes) => bytes,
    };
    if bytes.len() > max_bytes {
        return Err(too_large(bytes.len(), max_bytes));
    }
    if bytes.iter().all(|b| JSON_WHITESPACE.contains(b)) {
        return Err(LambdaError::marshal(
            "the response is empty; a handler with nothing to return sends null",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        LambdaError::marshal(format!(
            "the response is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let trimmed = text.trim_matches(|c: char| c.is_ascii() && JSON_WHITESPACE.contains(&(c as u8)));
    if trimmed.len() == text.len() {
        RawValue::from_string(text)
    } else {
        RawValue::from_string(trimmed.to_string())
    }
    .map_err(|e| LambdaError::marshal(format!("the response is not JSON: {e}")))
}

fn too_large(len: usize, max_bytes: usize) -> LambdaError {
    LambdaError::marshal(format!(
        "the response is {len} bytes, over the limit of {max_bytes} bytes (raise it with --max-response-bytes in test mode, LAMBDA_WASM_MAX_RESPONSE_BYTES under the bootstrap)"
    ))
}

/// Checks that an event is one JSON value before a guest sees it.
pub fn validate_event(event: &[u8]) -> Result<(), LambdaError> {
    // serde_json skips string contents without checking them as UTF-8.
    let text = std::str::from_utf8(event).map_err(|e| {
        LambdaError::unmarshal(format!(
            "the event is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(LambdaError::unmarshal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<String, String> {
        validate(GuestResponse::Bytes(bytes.to_vec()), 64)
            .map(|raw| raw.get().to_string())
            .map_err(|e| {
                assert_eq!(e.error_type, "Runtime.MarshalError");
                e.error_message
            })
    }

    #[test]
    fn passes_json_through_unchanged() {
        assert_eq!(
            check(br#"{"message": "Hello John Smith!"}"#).unwrap(),
            r#"{"message": "Hello John Smith!"}"#
        );
        assert_eq!(check(b"null\n").unwrap(), "null");
        assert_eq!(validate(GuestResponse::Unset, 64).unwrap().get(), "null");
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(check(b"").unwrap_err().contains("empty"));
        assert!(check(b"not json").unwrap_err().contains("not JSON"));
        assert!(
            check(b"{\"a\": 1} trailing")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(check(b"\"\xff\"").unwrap_err().contains("offset 1"));
        assert!(
            check(&[b' '; 65])
                .unwrap_err()
                .contains("65 bytes, over the limit of 64")
        );
        for not_json_whitespace in [&b"0\x0c"[..], b"{}\x0b", "\u{a0}null".as_bytes()] {
            assert!(
                check(not_json_whitespace).is_err(),
                "{not_json_whitespace:?} (found by fuzz/response_validate)"
            );
        }
        let error = validate(GuestResponse::TooLarge(7_000_000), 64).unwrap_err();
        assert!(
            error
                .error_message
                .starts_with("Unable to marshal response: the response is 7000000 bytes")
        );
        for setting in ["--max-response-bytes", "LAMBDA_WASM_MAX_RESPONSE_BYTES"] {
            assert!(error.error_message.contains(setting), "{error:?}");
        }
    }

    #[test]
    fn events_must_be_json() {
        assert!(validate_event(br#"{"first_name": "John"}"#).is_ok());
        assert!(
            validate_event(b"\"\xff\"").is_err(),
            "invalid UTF-8 in a string (found by fuzz/response_validate)"
        );
        let error = validate_event(b"{oops").unwrap_err();
        assert_eq!(error.error_type, "Runtime.UnmarshalError");
        assert!(
            error
                .error_message
                .starts_with("Unable to unmarshal input: ")
        );
    }
}
