//! ABI 1.3: the invocation context in binary, for a guest that exports
//! [`crate::MINOR_VERSION_EXPORT`] returning 3 or more (docs/abi.md,
//! section 4). The guest reads each value where the host wrote it: no
//! lines to split, no keys to compare, no numbers to parse.
//!
//! All integers are little-endian. The header is [`HEADER_LEN`] bytes:
//!
//! | at | type | value |
//! |---:|---|---|
//! | 0 | 4 bytes | [`MAGIC`]: `\0` then `lc3` (a context text never starts with `\0`) |
//! | 4 | u32 | `memory_limit_in_mb` |
//! | 8 | u64 | `deadline_ms` |
//! | 16 + 8·i | u32, u32 | offset (from the context's start) and length of text `i`, in [`TEXT_KEYS`]' order |
//!
//! The texts are UTF-8; a length of 0 means the value was not sent.

use core::fmt;

use crate::context as key;

/// The first bytes of a binary context.
pub const MAGIC: [u8; 4] = *b"\0lc3";
/// The number of texts the header locates.
pub const TEXT_COUNT: usize = 10;
/// The header's size; the host writes the texts right after it.
pub const HEADER_LEN: usize = 16 + 8 * TEXT_COUNT;
/// The context keys of the texts, in the order of their header slots.
pub const TEXT_KEYS: [&str; TEXT_COUNT] = [
    key::AWS_REQUEST_ID,
    key::INVOKED_FUNCTION_ARN,
    key::FUNCTION_NAME,
    key::FUNCTION_VERSION,
    key::LOG_GROUP_NAME,
    key::LOG_STREAM_NAME,
    key::XRAY_TRACE_ID,
    key::COGNITO_IDENTITY,
    key::CLIENT_CONTEXT,
    key::TENANT_ID,
];

/// One invocation's context, borrowed from the host's values (to encode)
/// or from the bytes the host wrote (decoded). An empty text was not sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextFields<'a> {
    /// The request id.
    pub aws_request_id: &'a str,
    /// The deadline, Unix epoch milliseconds.
    pub deadline_ms: u64,
    /// The ARN the caller invoked.
    pub invoked_function_arn: &'a str,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: &'a str,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: &'a str,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_limit_in_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group_name: &'a str,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream_name: &'a str,
    /// The X-Ray trace header.
    pub xray_trace_id: &'a str,
    /// The Cognito identity, compact JSON.
    pub cognito_identity: &'a str,
    /// The mobile client context, compact JSON.
    pub client_context: &'a str,
    /// The tenant id.
    pub tenant_id: &'a str,
}

/// Why bytes are not a binary context, or a context does not fit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The bytes do not start with [`MAGIC`]: a context text, or not a context.
    NotBinary,
    /// Fewer bytes than the header needs.
    Truncated {
        /// The context's length.
        len: usize,
    },
    /// A text's offset and length reach past the context's end.
    OutOfRange {
        /// The text's context key.
        key: &'static str,
        /// Its offset.
        offset: u32,
        /// Its length.
        len: u32,
        /// The context's length.
        context_len: usize,
    },
    /// A text is not UTF-8.
    NotUtf8 {
        /// The text's context key.
        key: &'static str,
    },
    /// The texts together are over 4 GiB, past what a u32 offset reaches.
    TooLarge,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayoutError::NotBinary => write!(
                f,
                "the context does not start with the binary form's magic bytes"
            ),
            LayoutError::Truncated { len } => write!(
                f,
                "the binary context is {len} bytes, shorter than its {HEADER_LEN}-byte header"
            ),
            LayoutError::OutOfRange {
                key,
                offset,
                len,
                context_len,
            } => write!(
                f,
                "the binary context's {key} at {offset}, {len} bytes long, runs past its {context_len} bytes"
            ),
            LayoutError::NotUtf8 { key } => write!(f, "the binary context's {key} is not UTF-8"),
            LayoutError::TooLarge => write!(
                f,
                "the context's texts are over 4 GiB, past the binary form's u32 offsets"
            ),
        }
    }
}

impl<'a> ContextFields<'a> {
    /// The texts, in [`TEXT_KEYS`]' order.
    fn texts(&self) -> [&'a str; TEXT_COUNT] {
        [
            self.aws_request_id,
            self.invoked_function_arn,
            self.function_name,
            self.function_version,
            self.log_group_name,
            self.log_stream_name,
            self.xray_trace_id,
            self.cognito_identity,
            self.client_context,
            self.tenant_id,
        ]
    }

    /// The fields with `texts` in [`TEXT_KEYS`]' order.
    fn with_texts(deadline_ms: u64, memory_limit_in_mb: u32, texts: [&'a str; TEXT_COUNT]) -> Self {
        let [
            aws_request_id,
            invoked_function_arn,
            function_name,
            function_version,
            log_group_name,
            log_stream_name,
            xray_trace_id,
            cognito_identity,
            client_context,
            tenant_id,
        ] = texts;
        Self {
            aws_request_id,
            deadline_ms,
            invoked_function_arn,
            function_name,
            function_version,
            memory_limit_in_mb,
            log_group_name,
            log_stream_name,
            xray_trace_id,
            cognito_identity,
            client_context,
            tenant_id,
        }
    }

    /// The size of the binary context: the header and every text.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.texts().iter().map(|text| text.len()).sum::<usize>()
    }

    /// Writes the binary context into `out`, which must be
    /// [`encoded_len`](Self::encoded_len) bytes long (a shorter one panics).
    pub fn encode_into(&self, out: &mut [u8]) -> Result<(), LayoutError> {
        let (header, mut rest) = out.split_at_mut(HEADER_LEN);
        header[..4].copy_from_slice(&MAGIC);
        header[4..8].copy_from_slice(&self.memory_limit_in_mb.to_le_bytes());
        header[8..16].copy_from_slice(&self.deadline_ms.to_le_bytes());
        let mut offset = HEADER_LEN;
        for (slot, text) in header[16..].chunks_exact_mut(8).zip(self.texts()) {
            let start = u32::try_from(offset).map_err(|_| LayoutError::TooLarge)?;
            let len = u32::try_from(text.len()).map_err(|_| LayoutError::TooLarge)?;
            slot[..4].copy_from_slice(&start.to_le_bytes());
            slot[4..].copy_from_slice(&len.to_le_bytes());
            let (place, after) = rest.split_at_mut(text.len());
            place.copy_from_slice(text.as_bytes());
            rest = after;
            offset += text.len();
        }
        Ok(())
    }

    /// Reads a binary context; every text is checked to lie inside `bytes`
    /// and to be UTF-8.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, LayoutError> {
        if !is_binary(bytes) {
            return Err(LayoutError::NotBinary);
        }
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(LayoutError::Truncated { len: bytes.len() })?;
        let mut texts = [""; TEXT_COUNT];
        for ((text, slot), key) in texts
            .iter_mut()
            .zip(header[16..].chunks_exact(8))
            .zip(TEXT_KEYS)
        {
            let (offset, len) = (u32_at(slot, 0), u32_at(slot, 4));
            let out_of_range = || LayoutError::OutOfRange {
                key,
                offset,
                len,
                context_len: bytes.len(),
            };
            let start = offset as usize;
            let end = start.checked_add(len as usize).ok_or_else(out_of_range)?;
            let raw = bytes.get(start..end).ok_or_else(out_of_range)?;
            *text = core::str::from_utf8(raw).map_err(|_| LayoutError::NotUtf8 { key })?;
        }
        let deadline_ms = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        Ok(Self::with_texts(deadline_ms, u32_at(header, 4), texts))
    }
}

/// Whether `context` is in the binary form (it starts with [`MAGIC`]).
pub fn is_binary(context: &[u8]) -> bool {
    context.starts_with(&MAGIC)
}

/// The little-endian u32 at `bytes[at..at + 4]`.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    const FULL: ContextFields<'static> = ContextFields {
        aws_request_id: "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        deadline_ms: 1_780_000_000_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:hello",
        function_name: "hello",
        function_version: "$LATEST",
        memory_limit_in_mb: 128,
        log_group_name: "/aws/lambda/hello",
        log_stream_name: "2026/11/26/[$LATEST]abc",
        xray_trace_id: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        cognito_identity: r#"{"cognitoIdentityId":"id-1"}"#,
        client_context: "",
        tenant_id: "tenant-ä",
    };

    fn encoded(fields: &ContextFields<'_>) -> Vec<u8> {
        let mut bytes = vec![0; fields.encoded_len()];
        fields.encode_into(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn every_field_survives_a_round_trip() {
        let bytes = encoded(&FULL);
        assert!(is_binary(&bytes));
        assert_eq!(ContextFields::decode(&bytes), Ok(FULL));
        let empty = ContextFields::default();
        assert_eq!(encoded(&empty).len(), HEADER_LEN);
        assert_eq!(ContextFields::decode(&encoded(&empty)), Ok(empty));
    }

    #[test]
    fn the_header_is_the_documented_one() {
        let bytes = encoded(&FULL);
        assert_eq!(&bytes[..4], b"\0lc3");
        assert_eq!(u32_at(&bytes, 4), 128);
        assert_eq!(
            u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
            1_780_000_000_000
        );
        assert_eq!(
            (u32_at(&bytes, 16), u32_at(&bytes, 20)),
            (HEADER_LEN as u32, 36)
        );
        assert_eq!(
            &bytes[HEADER_LEN..HEADER_LEN + 36],
            FULL.aws_request_id.as_bytes()
        );
    }

    #[test]
    fn text_and_short_input_are_not_a_binary_context() {
        assert_eq!(
            ContextFields::decode(b"aws_request_id=r-1\n"),
            Err(LayoutError::NotBinary)
        );
        let bytes = encoded(&FULL);
        assert_eq!(
            ContextFields::decode(&bytes[..HEADER_LEN - 1]),
            Err(LayoutError::Truncated {
                len: HEADER_LEN - 1
            })
        );
    }

    #[test]
    fn a_text_past_the_end_is_refused_with_its_key() {
        let bytes = encoded(&FULL);
        let cut = &bytes[..bytes.len() - 1];
        let error = ContextFields::decode(cut).unwrap_err();
        assert_eq!(
            error,
            LayoutError::OutOfRange {
                key: key::TENANT_ID,
                offset: (bytes.len() - 9) as u32,
                len: 9,
                context_len: cut.len()
            }
        );
        assert_eq!(
            std::format!("{error}"),
            std::format!(
                "the binary context's tenant_id at {}, 9 bytes long, runs past its {} bytes",
                bytes.len() - 9,
                cut.len()
            )
        );
        let mut wrapping = bytes.clone();
        wrapping[16..24].copy_from_slice(&[0xff; 8]);
        assert!(matches!(
            ContextFields::decode(&wrapping),
            Err(LayoutError::OutOfRange {
                key: key::AWS_REQUEST_ID,
                ..
            })
        ));
    }

    #[test]
    fn a_text_that_is_not_utf8_is_refused_with_its_key() {
        let mut bytes = encoded(&FULL);
        let last = bytes.len() - 1;
        bytes[last] = 0xff;
        assert_eq!(
            ContextFields::decode(&bytes),
            Err(LayoutError::NotUtf8 {
                key: key::TENANT_ID
            })
        );
    }
}
