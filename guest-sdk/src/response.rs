//! What a handler may return on success: any `Serialize` value (sent as
//! JSON), or a [`RawResponse`] (sent as it is).

use serde::Serialize;

use crate::Diagnostic;

/// A handler's `Ok` value turned into the bytes of `set_response`.
///
/// Implemented for every `Serialize` type (serialized with `serde_json`; a
/// failure becomes `Runtime.MarshalError`) and for [`RawResponse`]. `()`
/// serializes to `null`, as a Python handler returning `None`.
pub trait IntoResponse {
    /// The response bytes, or `None` to leave the response unset (the host
    /// then answers `null`, or what the guest set with
    /// [`crate::abi::set_raw_response`]).
    fn into_response(self) -> Result<Option<Vec<u8>>, Diagnostic>;
}

impl<T: Serialize> IntoResponse for T {
    fn into_response(self) -> Result<Option<Vec<u8>>, Diagnostic> {
        serde_json::to_vec(&self)
            .map(Some)
            .map_err(Diagnostic::marshal)
    }
}

/// A response sent byte for byte, with no serialization: for a body that is
/// already JSON text, or (in tests of a host) one that deliberately is not.
/// The host still validates it (size, UTF-8, one JSON value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawResponse(Option<Vec<u8>>);

impl RawResponse {
    /// Exactly these bytes, even empty or not JSON.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        RawResponse(Some(bytes.into()))
    }

    /// A value serialized to JSON now, so that a handler returning
    /// `RawResponse` can also return ordinary values.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Diagnostic> {
        serde_json::to_vec(value)
            .map(RawResponse::new)
            .map_err(Diagnostic::marshal)
    }

    /// No response from the wrapper: the host answers `null`, or keeps what
    /// the handler already sent with [`crate::abi::set_raw_response`].
    pub fn unset() -> Self {
        RawResponse(None)
    }

    /// The bytes that will be sent, if any.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }
}

impl From<Vec<u8>> for RawResponse {
    fn from(bytes: Vec<u8>) -> Self {
        RawResponse::new(bytes)
    }
}

impl IntoResponse for RawResponse {
    fn into_response(self) -> Result<Option<Vec<u8>>, Diagnostic> {
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn serialize_values_become_json() {
        assert_eq!(
            serde_json::json!({"a": 1}).into_response().unwrap(),
            Some(br#"{"a":1}"#.to_vec())
        );
        assert_eq!(().into_response().unwrap(), Some(b"null".to_vec()));
    }

    #[test]
    fn serialization_failure_is_a_marshal_error() {
        let bad: HashMap<(i32, i32), i32> = HashMap::from([((1, 2), 3)]);
        let d = bad.into_response().unwrap_err();
        assert_eq!(d.error_type, "Runtime.MarshalError");
        assert_eq!(
            d.error_message,
            "Unable to marshal response: key must be a string"
        );
    }

    #[test]
    fn raw_responses_pass_unchanged() {
        assert_eq!(
            RawResponse::new(b"\xff".to_vec()).into_response().unwrap(),
            Some(vec![0xff])
        );
        assert_eq!(
            RawResponse::new(Vec::new()).into_response().unwrap(),
            Some(vec![])
        );
        assert_eq!(RawResponse::unset().into_response().unwrap(), None);
        assert_eq!(
            RawResponse::json(&[1, 2]).unwrap().as_bytes(),
            Some(&b"[1,2]"[..])
        );
    }
}
