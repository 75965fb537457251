//! Guest ABI v1 (docs/abi.md) as data: the names, numbers and keys that the
//! `lambda-wasm` host and the Rust guest SDK must agree on, defined once.
//!
//! No dependencies and `no_std`, so that it builds for every guest target.

#![no_std]

pub mod context_layout;

/// The ABI version this crate describes; a reactor returns it from [`VERSION_EXPORT`].
pub const ABI_VERSION: i32 = 1;

/// The ABI's minor version: 1 adds [`imports::HTTP_REQUEST`], 2 the
/// optional export [`EVENT_BUFFER_EXPORT`], 3 the optional export
/// [`MINOR_VERSION_EXPORT`] and the binary context ([`context_layout`]).
/// A minor version only adds what a module may leave out, so a module built
/// for 1.0 runs unchanged and still returns [`ABI_VERSION`] from
/// [`VERSION_EXPORT`].
pub const ABI_MINOR_VERSION: i32 = 3;

/// The first minor version whose modules get the context in binary
/// ([`context_layout`]) rather than as text.
pub const BINARY_CONTEXT_MINOR_VERSION: i32 = 3;

/// `() -> i32`: the guest's ABI version; its presence marks a reactor guest.
pub const VERSION_EXPORT: &str = "lambda_abi_version";
/// `() -> i32` (ABI 1.3, optional): the minor version the module was built
/// for; from [`BINARY_CONTEXT_MINOR_VERSION`] on, the host writes the
/// context in binary. Without it the module gets the context text.
pub const MINOR_VERSION_EXPORT: &str = "lambda_abi_minor_version";
/// `(size: i32) -> i32`: guest memory for the host to write the event and context into.
pub const ALLOC_EXPORT: &str = "lambda_alloc";
/// `(size: i32) -> i32` (ABI 1.2, optional): a buffer of at least `size`
/// bytes that the guest keeps across invocations. A host that finds it
/// writes every event and context there and asks again only when an
/// invocation needs more; the handler does not free it. Without it the host
/// calls [`ALLOC_EXPORT`] for every event.
pub const EVENT_BUFFER_EXPORT: &str = "lambda_event_buffer";
/// The handler a reactor runs when the handler string names no function.
pub const DEFAULT_HANDLER_EXPORT: &str = "handler";

/// The host functions a guest imports, all from module [`imports::MODULE`].
pub mod imports {
    /// The import module of the host functions.
    pub const MODULE: &str = "lambda_wasm";
    /// `(ptr: i32, len: i32)`: the invocation's response bytes.
    pub const SET_RESPONSE: &str = "set_response";
    /// `(type_ptr: i32, type_len: i32, msg_ptr: i32, msg_len: i32)`: a function error.
    pub const SET_ERROR: &str = "set_error";
    /// `(ptr: i32, len: i32)`: one more line of the error's `stackTrace`.
    pub const ADD_STACK_FRAME: &str = "add_stack_frame";
    /// `(level: i32, ptr: i32, len: i32)`: one log record at a [`crate::Level`].
    pub const LOG: &str = "log";
    /// `() -> i64`: milliseconds left before the deadline.
    pub const REMAINING_TIME_MS: &str = "remaining_time_ms";
    /// `(req_ptr: i32, req_len: i32, out_ptr: i32) -> i32` (ABI 1.1): one
    /// outbound HTTP request; 0 and the response, or an [`super::http_status`]
    /// and a message, in a buffer from `lambda_alloc` whose pointer and length
    /// the host writes at `out_ptr` as two little-endian `u32`s.
    pub const HTTP_REQUEST: &str = "http_request";
}

/// What `http_request` returns (ABI 1.1).
pub mod http_status {
    /// The buffer holds the response.
    pub const OK: i32 = 0;
    /// The deployer's policy refused the host or its address; the buffer holds why.
    pub const DENIED: i32 = 1;
    /// Resolving, connecting, TLS or HTTP failed; the buffer holds why.
    pub const FAILED: i32 = 2;
    /// The invocation's deadline came first.
    pub const TIMED_OUT: i32 = 3;
    /// The request or response body is over its cap.
    pub const TOO_LARGE: i32 = 4;
    /// The request bytes are not a request.
    pub const MALFORMED: i32 = 5;
}

/// The keys of the context text (`key=value` lines), in the order the host
/// writes them; the binary form ([`context_layout`]) names its texts by them.
pub mod context {
    /// The request id.
    pub const AWS_REQUEST_ID: &str = "aws_request_id";
    /// The deadline, Unix epoch milliseconds.
    pub const DEADLINE_MS: &str = "deadline_ms";
    /// The ARN the caller invoked.
    pub const INVOKED_FUNCTION_ARN: &str = "invoked_function_arn";
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub const FUNCTION_NAME: &str = "function_name";
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub const FUNCTION_VERSION: &str = "function_version";
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub const MEMORY_LIMIT_IN_MB: &str = "memory_limit_in_mb";
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub const LOG_GROUP_NAME: &str = "log_group_name";
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub const LOG_STREAM_NAME: &str = "log_stream_name";
    /// The X-Ray trace header, when there is one.
    pub const XRAY_TRACE_ID: &str = "xray_trace_id";
    /// The Cognito identity, compact JSON, when there is one.
    pub const COGNITO_IDENTITY: &str = "cognito_identity";
    /// The mobile client context, compact JSON, when there is one.
    pub const CLIENT_CONTEXT: &str = "client_context";
    /// The tenant id, when there is one.
    pub const TENANT_ID: &str = "tenant_id";
}

/// A log record's level; the numbers are the `log` import's `level` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// Step-by-step detail.
    Trace = 0,
    /// Detail for debugging.
    Debug = 1,
    /// Normal operation.
    Info = 2,
    /// Something unexpected that the function survives.
    Warn = 3,
    /// A failure of this invocation.
    Error = 4,
    /// A failure the function cannot go on after.
    Fatal = 5,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    /// The level the `log` import's `n` means (out-of-range values clamp).
    pub const fn from_abi(n: i32) -> Self {
        match n {
            i32::MIN..=0 => Level::Trace,
            1 => Level::Debug,
            2 => Level::Info,
            3 => Level::Warn,
            4 => Level::Error,
            _ => Level::Fatal,
        }
    }

    /// The name Lambda prints for the level (`INFO`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// Reads an `AWS_LAMBDA_LOG_LEVEL` value (any case; Python's `WARNING`
    /// and `CRITICAL` too).
    pub fn parse(text: &str) -> Option<Self> {
        let is = |name: &str| text.eq_ignore_ascii_case(name);
        Level::ALL
            .into_iter()
            .find(|level| is(level.as_str()))
            .or_else(|| {
                if is("WARNING") {
                    Some(Level::Warn)
                } else if is("CRITICAL") {
                    Some(Level::Fatal)
                } else {
                    None
                }
            })
    }
}

impl core::fmt::Display for Level {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_numbers_round_trip() {
        for (n, level) in Level::ALL.into_iter().enumerate() {
            assert_eq!(level as i32, n as i32);
            assert_eq!(Level::from_abi(n as i32), level);
        }
        assert_eq!(Level::from_abi(-7), Level::Trace);
        assert_eq!(Level::from_abi(99), Level::Fatal);
    }

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!(Level::parse("info"), Some(Level::Info));
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("critical"), Some(Level::Fatal));
        assert_eq!(Level::parse("loud"), None);
    }
}
