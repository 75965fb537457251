//! The invocation context: what AWS's Python runtime hands a handler as its
//! `context` object, read from the binary form of guest ABI 1.3 or, from
//! an older host, parsed from the `key=value` text of ABI v1 (docs/abi.md,
//! section 4).

use lambda_wasm_abi::context as keys;
use lambda_wasm_abi::context_layout::{self, ContextFields};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Diagnostic;

/// Everything Lambda tells a handler about the invocation it is serving.
///
/// The field names are those of the Python `context` object, so a port of a
/// Python handler reads the same. Values the host did not send (for example
/// no X-Ray trace) are empty strings, `0` or `None`.
///
/// It is `#[non_exhaustive]` because later minor versions of the ABI may add
/// keys; build one in tests with [`Context::default`], [`Context::parse`] or
/// the `with_*` methods.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Context {
    /// The request id of this invocation (Python `context.aws_request_id`).
    pub aws_request_id: String,
    /// The ARN the caller used: it names the alias or version invoked.
    pub invoked_function_arn: String,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// The function's version, `$LATEST` unless a published version runs.
    pub function_version: String,
    /// The memory configured for the function, in MB.
    pub memory_limit_in_mb: u32,
    /// The CloudWatch log group of the function.
    pub log_group_name: String,
    /// The CloudWatch log stream of this execution environment.
    pub log_stream_name: String,
    /// The invocation's deadline in Unix epoch milliseconds. Prefer
    /// [`Context::remaining_time_in_millis`], which asks the host (the host
    /// may enforce another deadline than the one Lambda sent).
    pub deadline_ms: u64,
    /// The X-Ray trace header of this invocation (`_X_AMZN_TRACE_ID` in
    /// other runtimes; a reactor's environment is fixed at start, so it is
    /// here instead).
    pub xray_trace_id: Option<String>,
    /// The Amazon Cognito identity of the caller, when it signed with
    /// Cognito credentials (Python `context.identity`).
    pub identity: Option<CognitoIdentity>,
    /// What a mobile SDK client attached to the invocation (Python
    /// `context.client_context`).
    pub client_context: Option<ClientContext>,
    /// The tenant of a multi-tenant function (Python `context.tenant_id`).
    pub tenant_id: Option<String>,
}

/// The Amazon Cognito identity that invoked the function.
///
/// Lambda sends it as `{"cognitoIdentityId", "cognitoIdentityPoolId"}`; the
/// Rust names are Python's attribute names. A missing id reads as `""`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CognitoIdentity {
    /// The caller's Cognito identity id.
    #[serde(
        default,
        alias = "cognitoIdentityId",
        alias = "identity_id",
        alias = "identityId"
    )]
    pub cognito_identity_id: String,
    /// The identity pool the caller's id belongs to.
    #[serde(
        default,
        alias = "cognitoIdentityPoolId",
        alias = "identity_pool_id",
        alias = "identityPoolId"
    )]
    pub cognito_identity_pool_id: String,
}

/// The client context a mobile SDK sent with the invocation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientContext {
    /// The calling application, when the client described it.
    #[serde(default, alias = "Client")]
    pub client: Option<ClientApplication>,
    /// Free-form values the application chose to send.
    #[serde(default, alias = "Custom")]
    pub custom: Map<String, Value>,
    /// The client's environment (platform, model, locale, ...).
    #[serde(default, alias = "environment", alias = "Env")]
    pub env: Map<String, Value>,
}

/// The mobile application that invoked the function. Lambda's JSON uses
/// these snake_case keys; the camelCase spelling some tools write is
/// accepted too. A missing value reads as `""`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientApplication {
    /// The installation id of the app on the device.
    #[serde(default, alias = "installationId")]
    pub installation_id: String,
    /// The app's title.
    #[serde(default, alias = "appTitle")]
    pub app_title: String,
    /// The app's version name.
    #[serde(default, alias = "appVersionName")]
    pub app_version_name: String,
    /// The app's version code.
    #[serde(default, alias = "appVersionCode")]
    pub app_version_code: String,
    /// The app's package name.
    #[serde(default, alias = "appPackageName")]
    pub app_package_name: String,
}

impl Context {
    /// Parses the context text of guest ABI v1: one `key=value` per line,
    /// split at the first `=`.
    ///
    /// Parsing never fails: unknown keys are ignored (later minor ABI
    /// versions may add some), and a value that does not parse (a number or
    /// a JSON object) leaves its field at the default, so a malformed key
    /// cannot turn into an error the function never made.
    pub fn parse(text: &str) -> Context {
        let mut ctx = Context::default();
        ctx.reparse(text);
        ctx
    }

    /// [`Context::parse`] into this context, reusing its strings' buffers:
    /// the SDK keeps one context for every invocation of an instance, so a
    /// warm invocation allocates nothing for it.
    ///
    /// Every loop iteration in Wasm pays for the host's epoch (timeout)
    /// check, so it scans and compares eight bytes per iteration ([`find`],
    /// [`key_is`]) rather than through `str::split` and `memcmp`.
    pub(crate) fn reparse(&mut self, text: &str) {
        // The optional texts are parsed into their old buffers, then set
        // back as `None` when absent or empty ("not sent").
        let mut trace_id = take_buffer(&mut self.xray_trace_id);
        let mut tenant_id = take_buffer(&mut self.tenant_id);
        self.reset();
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let end = find(bytes, start, b'\n').unwrap_or(bytes.len());
            // '=' and '\n' are ASCII, so every slice below is on char boundaries.
            if let Some(equals) = find(&bytes[..end], start, b'=') {
                let value = &text[equals + 1..end];
                let value = value.strip_suffix('\r').unwrap_or(value);
                let key = &bytes[start..equals];
                if key_is(key, keys::XRAY_TRACE_ID) {
                    value.clone_into(&mut trace_id);
                } else if key_is(key, keys::TENANT_ID) {
                    value.clone_into(&mut tenant_id);
                } else {
                    self.set(key, value);
                }
            }
            start = end + 1;
        }
        self.xray_trace_id = Some(trace_id).filter(|text| !text.is_empty());
        self.tenant_id = Some(tenant_id).filter(|text| !text.is_empty());
    }

    /// Fills this context from the bytes the host wrote, reusing its
    /// strings' buffers: ABI 1.3's binary form, read in place, or the text
    /// of a host that does not know 1.3 (which never calls
    /// `lambda_abi_minor_version`). A binary context that does not decode is
    /// the invocation's error, `Runtime.InvalidContext`.
    pub(crate) fn refill(&mut self, bytes: &[u8]) -> Result<(), Diagnostic> {
        if !context_layout::is_binary(bytes) {
            self.reparse(&lossy_text(bytes));
            return Ok(());
        }
        let fields = ContextFields::decode(bytes).map_err(|error| {
            Diagnostic::new(
                "Runtime.InvalidContext",
                format!(
                    "{error}: the host and this module disagree on guest ABI 1.3 (docs/abi.md, section 4); rebuild the module with this host's lambda-wasm-guest"
                ),
            )
        })?;
        self.fill(&fields);
        Ok(())
    }

    /// Copies decoded binary fields in, reusing the strings' buffers.
    fn fill(&mut self, fields: &ContextFields<'_>) {
        for (text, value) in [
            (&mut self.aws_request_id, fields.aws_request_id),
            (&mut self.invoked_function_arn, fields.invoked_function_arn),
            (&mut self.function_name, fields.function_name),
            (&mut self.function_version, fields.function_version),
            (&mut self.log_group_name, fields.log_group_name),
            (&mut self.log_stream_name, fields.log_stream_name),
        ] {
            value.clone_into(text);
        }
        self.memory_limit_in_mb = fields.memory_limit_in_mb;
        self.deadline_ms = fields.deadline_ms;
        set_optional(&mut self.xray_trace_id, fields.xray_trace_id);
        set_optional(&mut self.tenant_id, fields.tenant_id);
        self.identity = json(fields.cognito_identity);
        self.client_context = json(fields.client_context);
    }

    /// Back to [`Context::default`], keeping the strings' buffers.
    fn reset(&mut self) {
        for text in [
            &mut self.aws_request_id,
            &mut self.invoked_function_arn,
            &mut self.function_name,
            &mut self.function_version,
            &mut self.log_group_name,
            &mut self.log_stream_name,
        ] {
            text.clear();
        }
        self.memory_limit_in_mb = 0;
        self.deadline_ms = 0;
        self.xray_trace_id = None;
        self.identity = None;
        self.client_context = None;
        self.tenant_id = None;
    }

    /// Stores one `key=value` line of a required key; unknown keys are ignored.
    fn set(&mut self, key: &[u8], value: &str) {
        let text = match key {
            _ if key_is(key, keys::AWS_REQUEST_ID) => &mut self.aws_request_id,
            _ if key_is(key, keys::INVOKED_FUNCTION_ARN) => &mut self.invoked_function_arn,
            _ if key_is(key, keys::FUNCTION_NAME) => &mut self.function_name,
            _ if key_is(key, keys::FUNCTION_VERSION) => &mut self.function_version,
            _ if key_is(key, keys::LOG_GROUP_NAME) => &mut self.log_group_name,
            _ if key_is(key, keys::LOG_STREAM_NAME) => &mut self.log_stream_name,
            _ if key_is(key, keys::DEADLINE_MS) => {
                self.deadline_ms = value.trim().parse().unwrap_or(0);
                return;
            }
            _ if key_is(key, keys::MEMORY_LIMIT_IN_MB) => {
                self.memory_limit_in_mb = value.trim().parse().unwrap_or(0);
                return;
            }
            _ if key_is(key, keys::COGNITO_IDENTITY) => {
                self.identity = json(value);
                return;
            }
            _ if key_is(key, keys::CLIENT_CONTEXT) => {
                self.client_context = json(value);
                return;
            }
            _ => return,
        };
        value.clone_into(text);
    }

    /// Milliseconds left before the invocation's deadline (0 once it has
    /// passed), as Python's `context.get_remaining_time_in_millis()`.
    ///
    /// In Wasm this asks the host, which knows the deadline it enforces;
    /// natively (in tests) it is computed from [`Context::deadline_ms`].
    pub fn remaining_time_in_millis(&self) -> u64 {
        #[cfg(target_arch = "wasm32")]
        {
            crate::abi::remaining_time_ms().max(0) as u64
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            self.deadline_ms.saturating_sub(now)
        }
    }

    /// Sets the request id; for building a context in tests.
    pub fn with_aws_request_id(mut self, id: impl Into<String>) -> Self {
        self.aws_request_id = id.into();
        self
    }

    /// Sets the function name; for building a context in tests.
    pub fn with_function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// Sets the deadline to `timeout` from now; for building a context in
    /// tests that look at [`Context::remaining_time_in_millis`].
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.deadline_ms = (now + timeout).as_millis() as u64;
        self
    }
}

/// A JSON value of the context; `None` when it was not sent (empty) or does
/// not parse, so a malformed value cannot become an error the function never made.
fn json<T: DeserializeOwned>(text: &str) -> Option<T> {
    if text.is_empty() {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Sets an optional text, keeping its buffer; empty means not sent.
fn set_optional(slot: &mut Option<String>, value: &str) {
    let mut buffer = take_buffer(slot);
    buffer.push_str(value);
    *slot = Some(buffer).filter(|text| !text.is_empty());
}

/// The context text: UTF-8, with any invalid byte replaced.
fn lossy_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    // from_utf8 checks ASCII a word at a time; from_utf8_lossy goes byte by byte.
    std::str::from_utf8(bytes).map_or_else(
        |_| String::from_utf8_lossy(bytes),
        std::borrow::Cow::Borrowed,
    )
}

/// Eight copies of a byte's lowest bit, for the word-at-a-time tricks below.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// The index of the first `byte` in `bytes[from..]`, eight bytes at a time.
fn find(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    let pattern = LOW_BITS * u64::from(byte);
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        // A byte equal to `byte` is zero in `word`; the lowest byte flagged
        // by "has a zero byte" is exact (a borrow only flags higher ones).
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ pattern;
        let zero = word.wrapping_sub(LOW_BITS) & !word & (LOW_BITS << 7);
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == byte)
        .map(|offset| at + offset)
}

/// `key == expected`, compared eight bytes at a time (the last word may
/// overlap the one before it).
fn key_is(key: &[u8], expected: &str) -> bool {
    let expected = expected.as_bytes();
    if key.len() != expected.len() {
        return false;
    }
    if key.len() < 8 {
        return key == expected;
    }
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    let last = key.len() - 8;
    (0..last)
        .step_by(8)
        .all(|at| word(key, at) == word(expected, at))
        && word(key, last) == word(expected, last)
}

/// The (emptied) buffer of an optional text, to parse its next value into.
fn take_buffer(slot: &mut Option<String>) -> String {
    let mut buffer = slot.take().unwrap_or_default();
    buffer.clear();
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "aws_request_id=8476a536-e9f4-11e8-9739-2dfe598c3fcd\n\
        deadline_ms=1780000000000\n\
        invoked_function_arn=arn:aws:lambda:us-east-1:123456789012:function:hello\n\
        function_name=hello\n\
        function_version=$LATEST\n\
        memory_limit_in_mb=128\n\
        log_group_name=/aws/lambda/hello\n\
        log_stream_name=2026/11/26/[$LATEST]abc\n\
        xray_trace_id=Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\n\
        cognito_identity={\"cognitoIdentityId\":\"id-1\",\"cognitoIdentityPoolId\":\"pool-1\"}\n\
        client_context={\"client\":{\"installation_id\":\"inst\",\"app_title\":\"App\",\"app_version_name\":\"1.0\",\"app_version_code\":\"10\",\"app_package_name\":\"com.example\"},\"custom\":{\"k\":\"v\"},\"env\":{\"platform\":\"Android\"}}\n\
        tenant_id=tenant-a\n";

    #[test]
    fn parses_every_key_of_the_abi() {
        let ctx = Context::parse(FULL);
        assert_eq!(ctx.aws_request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(ctx.deadline_ms, 1_780_000_000_000);
        assert_eq!(
            ctx.invoked_function_arn,
            "arn:aws:lambda:us-east-1:123456789012:function:hello"
        );
        assert_eq!(ctx.function_name, "hello");
        assert_eq!(ctx.function_version, "$LATEST");
        assert_eq!(ctx.memory_limit_in_mb, 128);
        assert_eq!(ctx.log_group_name, "/aws/lambda/hello");
        assert_eq!(ctx.log_stream_name, "2026/11/26/[$LATEST]abc");
        // Split at the first '=' only: the trace header has more of them.
        assert_eq!(
            ctx.xray_trace_id.as_deref(),
            Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        );
        let identity = ctx.identity.expect("identity");
        assert_eq!(identity.cognito_identity_id, "id-1");
        assert_eq!(identity.cognito_identity_pool_id, "pool-1");
        let client_context = ctx.client_context.expect("client context");
        let client = client_context.client.expect("client");
        assert_eq!(client.installation_id, "inst");
        assert_eq!(client.app_title, "App");
        assert_eq!(client.app_version_name, "1.0");
        assert_eq!(client.app_version_code, "10");
        assert_eq!(client.app_package_name, "com.example");
        assert_eq!(client_context.custom["k"], "v");
        assert_eq!(client_context.env["platform"], "Android");
        assert_eq!(ctx.tenant_id.as_deref(), Some("tenant-a"));
    }

    #[test]
    fn ignores_unknown_keys_and_lines_without_equals() {
        let ctx = Context::parse("future_key=1\nno equals here\n\naws_request_id=abc\n");
        assert_eq!(ctx, Context::default().with_aws_request_id("abc"));
    }

    #[test]
    fn missing_keys_leave_defaults() {
        let ctx = Context::parse("");
        assert_eq!(ctx, Context::default());
        assert_eq!(ctx.xray_trace_id, None);
        assert_eq!(ctx.identity, None);
        assert_eq!(ctx.client_context, None);
        assert_eq!(ctx.tenant_id, None);
    }

    #[test]
    fn last_line_may_lack_its_newline_and_values_may_be_empty() {
        let ctx = Context::parse("function_name=\nxray_trace_id=\naws_request_id=r1");
        assert_eq!(ctx.function_name, "");
        assert_eq!(ctx.xray_trace_id, None);
        assert_eq!(ctx.aws_request_id, "r1");
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        let ctx = Context::parse(
            "deadline_ms=soon\nmemory_limit_in_mb=-1\ncognito_identity={not json\nclient_context=42\n",
        );
        assert_eq!(ctx, Context::default());
    }

    #[test]
    fn accepts_the_other_spellings_of_nested_keys() {
        let ctx = Context::parse(
            "cognito_identity={\"identity_id\":\"i\",\"identity_pool_id\":\"p\"}\n\
             client_context={\"Client\":{\"installationId\":\"x\"},\"environment\":{\"a\":1}}\n",
        );
        assert_eq!(ctx.identity.unwrap().cognito_identity_pool_id, "p");
        let cc = ctx.client_context.unwrap();
        assert_eq!(cc.client.unwrap().installation_id, "x");
        assert_eq!(cc.env["a"], 1);
        assert!(cc.custom.is_empty());
    }

    #[test]
    fn empty_client_context_has_no_client() {
        let cc = Context::parse("client_context={}\n")
            .client_context
            .unwrap();
        assert_eq!(cc, ClientContext::default());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads the real-time clock, which Miri's isolation hides"
    )]
    fn remaining_time_counts_down_from_the_deadline() {
        let ctx = Context::default().with_timeout(std::time::Duration::from_secs(10));
        let left = ctx.remaining_time_in_millis();
        assert!((9_000..=10_000).contains(&left), "{left}");
        assert_eq!(Context::default().remaining_time_in_millis(), 0);
    }

    #[test]
    fn finds_bytes_in_and_past_whole_words() {
        let text = b"0123456789abcdef=xyz\n";
        for (at, &byte) in text.iter().enumerate() {
            assert_eq!(find(text, 0, byte), Some(at), "{}", byte as char);
        }
        assert_eq!(find(text, 3, b'1'), None);
        assert_eq!(find(text, 5, b'='), Some(16));
        assert_eq!(
            find(b"\x80\x81=", 0, b'='),
            Some(2),
            "no false match across bytes"
        );
        assert!(key_is(b"invoked_function_arn", "invoked_function_arn"));
        assert!(!key_is(b"invoked_function_arm", "invoked_function_arn"));
        assert!(!key_is(b"aws_request_ix", "aws_request_id"));
        assert!(!key_is(b"bws_request_id", "aws_request_id"));
        assert!(key_is(b"short", "short") && !key_is(b"shirt", "short"));
    }

    #[test]
    fn reparsing_forgets_the_previous_invocation() {
        let mut ctx = Context::parse(FULL);
        ctx.reparse("aws_request_id=r2\ntenant_id=\n");
        assert_eq!(ctx, Context::default().with_aws_request_id("r2"));
        ctx.reparse(FULL);
        assert_eq!(ctx, Context::parse(FULL));
    }

    /// FULL's values as the host's binary form (ABI 1.3).
    fn full_binary() -> Vec<u8> {
        let ctx = Context::parse(FULL);
        let identity = r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#;
        let client_context = FULL
            .lines()
            .find_map(|line| line.strip_prefix("client_context="))
            .unwrap();
        let fields = ContextFields {
            aws_request_id: &ctx.aws_request_id,
            deadline_ms: ctx.deadline_ms,
            invoked_function_arn: &ctx.invoked_function_arn,
            function_name: &ctx.function_name,
            function_version: &ctx.function_version,
            memory_limit_in_mb: ctx.memory_limit_in_mb,
            log_group_name: &ctx.log_group_name,
            log_stream_name: &ctx.log_stream_name,
            xray_trace_id: ctx.xray_trace_id.as_deref().unwrap(),
            cognito_identity: identity,
            client_context,
            tenant_id: ctx.tenant_id.as_deref().unwrap(),
        };
        let mut bytes = vec![0; fields.encoded_len()];
        fields.encode_into(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn the_binary_form_reads_as_the_text_does() {
        let mut ctx = Context::default();
        ctx.refill(&full_binary()).unwrap();
        assert_eq!(ctx, Context::parse(FULL));
        // Refilled from a context with nothing optional: nothing left over.
        let bare = ContextFields {
            aws_request_id: "r2",
            ..ContextFields::default()
        };
        let mut bytes = vec![0; bare.encoded_len()];
        bare.encode_into(&mut bytes).unwrap();
        ctx.refill(&bytes).unwrap();
        assert_eq!(ctx, Context::default().with_aws_request_id("r2"));
        // An older host's text is still read.
        ctx.refill(FULL.as_bytes()).unwrap();
        assert_eq!(ctx, Context::parse(FULL));
    }

    #[test]
    fn a_binary_context_that_does_not_decode_is_the_invocations_error() {
        let mut bytes = full_binary();
        bytes.truncate(bytes.len() - 1);
        let error = Context::default().refill(&bytes).unwrap_err();
        assert_eq!(error.error_type, "Runtime.InvalidContext");
        assert!(
            error
                .error_message
                .starts_with("the binary context's tenant_id at "),
            "{}",
            error.error_message
        );
    }

    #[test]
    fn serializes_with_python_attribute_names() {
        let json = serde_json::to_value(Context::parse(FULL)).unwrap();
        assert_eq!(json["identity"]["cognito_identity_id"], "id-1");
        assert_eq!(json["client_context"]["client"]["app_title"], "App");
        assert_eq!(json["memory_limit_in_mb"], 128);
    }
}
