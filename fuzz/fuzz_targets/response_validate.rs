//! `response::validate` (a guest's response) and `response::validate_event`
//! on arbitrary bytes: never panic; what passes is exactly one JSON value
//! taken from the input; what fails is a Lambda error of the right type.
#![no_main]

use lambda_wasm::response::{GuestResponse, validate, validate_event};
use libfuzzer_sys::fuzz_target;

/// One JSON text (RFC 8259): UTF-8, one value. (serde_json's `from_slice`
/// into `IgnoredAny` alone does not check UTF-8 inside strings.)
fn is_json_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the size limit, so the limit branch is reached too.
    let (limit, bytes) = match data.split_first() {
        Some((&b, rest)) if b < 16 => (b as usize * 4, rest),
        Some((_, rest)) => (lambda_wasm::response::DEFAULT_MAX_RESPONSE_BYTES, rest),
        None => (64, data),
    };
    match validate(GuestResponse::Bytes(bytes.to_vec()), limit) {
        Ok(raw) => {
            let json = raw.get();
            assert!(bytes.len() <= limit, "{} bytes passed a limit of {limit}", bytes.len());
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok(), "not JSON: {json:?}");
            let text = std::str::from_utf8(bytes).expect("accepted bytes are UTF-8");
            assert!(text.contains(json), "the response is not taken from the input");
            // docs/abi.md section 5: the response must be one complete JSON value.
            assert!(
                is_json_text(bytes),
                "accepted a response that is not one JSON text: {text:?} sent as {json:?}"
            );
            assert_eq!(json.trim(), json, "surrounding whitespace is kept");
        }
        Err(error) => {
            assert_eq!(error.error_type, "Runtime.MarshalError");
            assert!(error.error_message.starts_with("Unable to marshal response: "), "{}", error.error_message);
            assert!(error.stack_trace.is_empty());
            if bytes.len() <= limit {
                // Within the limit, only bytes serde_json rejects (or blank ones) fail.
                assert!(!is_json_text(bytes), "valid JSON rejected: {}", error.error_message);
            }
        }
    }
    let too_large = validate(GuestResponse::TooLarge(bytes.len() + limit + 1), limit).unwrap_err();
    assert_eq!(too_large.error_type, "Runtime.MarshalError");

    match validate_event(data) {
        // RFC 8259 section 8.1: JSON text is UTF-8 (lone surrogate escapes are
        // grammatical JSON, so serde_json::Value's stricter check is not used).
        Ok(()) => assert!(is_json_text(data), "accepted an event that is not a JSON text: {data:?}"),
        Err(error) => {
            assert_eq!(error.error_type, "Runtime.UnmarshalError");
            assert!(error.error_message.starts_with("Unable to unmarshal input: "), "{}", error.error_message);
        }
    }
});
