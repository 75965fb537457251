//! The host side of guest ABI v1 (docs/abi.md): the `lambda_wasm` imports,
//! the context encoding, and what a guest set during one invocation.

use std::sync::Arc;
use std::time::SystemTime;

use wasmtime::{AsContext, Caller, Extern, Linker, Memory};

use crate::errors::LambdaError;
use crate::invocation::InvocationContext;
use crate::logs::{Level, Logger};
use crate::outbound::Outbound;
use crate::response::GuestResponse;
use crate::settings::FunctionSettings;

use lambda_wasm_abi::context_layout::ContextFields;
pub use lambda_wasm_abi::{
    ABI_MINOR_VERSION, ABI_VERSION, ALLOC_EXPORT, BINARY_CONTEXT_MINOR_VERSION,
    DEFAULT_HANDLER_EXPORT, EVENT_BUFFER_EXPORT, MINOR_VERSION_EXPORT, VERSION_EXPORT,
    context as key, imports,
};

/// Error texts and stack frames are cut to this many bytes each.
const MAX_ERROR_TEXT_BYTES: usize = 256 * 1024;
/// More stack frames than this are dropped.
const MAX_STACK_FRAMES: usize = 1024;

/// What the guest has told the host during the current invocation.
pub struct AbiState {
    response: GuestResponse,
    error: Option<LambdaError>,
    deadline: SystemTime,
    max_response_bytes: usize,
    logger: Logger,
    memory: Option<Memory>,
    outbound: Arc<Outbound>,
}

/// The guest's result: its response, or the error it set.
pub struct GuestResult {
    /// What `set_response` left.
    pub response: GuestResponse,
    /// What `set_error`/`add_stack_frame` left.
    pub error: Option<LambdaError>,
}

impl AbiState {
    /// Fresh state for an instance whose logs go to `logger` and whose
    /// outbound requests go through `outbound`.
    pub fn new(logger: Logger, max_response_bytes: usize, outbound: Arc<Outbound>) -> Self {
        Self {
            response: GuestResponse::Unset,
            error: None,
            deadline: SystemTime::now(),
            max_response_bytes,
            logger,
            memory: None,
            outbound,
        }
    }

    /// Makes one outbound request (wire bytes) for the current invocation,
    /// by its deadline: the `http_request` status and the response or the
    /// error message. Shared by `http_request` and interpreters' `H` frames.
    pub fn http_request(
        &self,
        request: Vec<u8>,
    ) -> impl Future<Output = (i32, Vec<u8>)> + Send + 'static {
        let outbound = self.outbound.clone();
        let (deadline, request_id) = (self.deadline, self.logger.request_id());
        async move {
            match outbound.send(&request, deadline, &request_id).await {
                Ok(response) => (lambda_wasm_abi::http_status::OK, response),
                Err(error) => (error.code(), error.message().as_bytes().to_vec()),
            }
        }
    }

    /// Remembers the instance's exported memory, so that host calls do not
    /// look it up by name (a hash-map lookup) on every call.
    pub fn set_memory(&mut self, memory: Memory) {
        self.memory = Some(memory);
    }

    /// Clears the last result and sets the deadline `remaining_time_ms` counts to.
    pub fn begin(&mut self, deadline: SystemTime) {
        self.response = GuestResponse::Unset;
        self.error = None;
        self.deadline = deadline;
    }

    /// The largest response the function may send.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// Where the instance's logs go.
    pub fn logger(&self) -> &Logger {
        &self.logger
    }

    /// Takes what the guest set.
    pub fn take_result(&mut self) -> GuestResult {
        GuestResult {
            response: std::mem::take(&mut self.response),
            error: self.error.take(),
        }
    }
}

/// Adds the `lambda_wasm` imports to `linker`; `state` finds the [`AbiState`] in a store's data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    state: fn(&mut T) -> &mut AbiState,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        imports::MODULE,
        imports::SET_RESPONSE,
        move |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
            let max = state(caller.data_mut()).max_response_bytes;
            let (memory, range) = guest_range(&mut caller, state, "set_response", ptr, len)?;
            let response = if range.len() > max {
                GuestResponse::TooLarge(range.len())
            } else {
                GuestResponse::Bytes(memory.data(&caller)[range].to_vec())
            };
            state(caller.data_mut()).response = response;
            Ok(())
        },
    )?;
    linker.func_wrap(
        imports::MODULE,
        imports::SET_ERROR,
        move |mut caller: Caller<'_, T>,
              type_ptr: i32,
              type_len: i32,
              msg_ptr: i32,
              msg_len: i32| {
            let error_type = guest_text(&mut caller, state, "set_error", type_ptr, type_len)?;
            let message = guest_text(&mut caller, state, "set_error", msg_ptr, msg_len)?;
            state(caller.data_mut()).error = Some(LambdaError::new(error_type, message));
            Ok(())
        },
    )?;
    linker.func_wrap(
        imports::MODULE,
        imports::ADD_STACK_FRAME,
        move |mut caller: Caller<'_, T>, ptr: i32, len: i32| {
            let frame = guest_text(&mut caller, state, "add_stack_frame", ptr, len)?;
            let abi = state(caller.data_mut());
            let error = abi.error.get_or_insert_with(|| LambdaError::new("", ""));
            if error.stack_trace.len() < MAX_STACK_FRAMES {
                error.stack_trace.push(frame);
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        imports::MODULE,
        imports::LOG,
        move |mut caller: Caller<'_, T>, level: i32, ptr: i32, len: i32| {
            let (memory, range) = guest_range(&mut caller, state, "log", ptr, len)?;
            let (bytes, data) = memory.data_and_store_mut(&mut caller);
            state(data)
                .logger
                .record(Level::from_abi(level), &bytes[range]);
            Ok(())
        },
    )?;
    linker.func_wrap(
        imports::MODULE,
        imports::REMAINING_TIME_MS,
        move |mut caller: Caller<'_, T>| -> i64 {
            let deadline = state(caller.data_mut()).deadline;
            deadline
                .duration_since(SystemTime::now())
                .map_or(0, |left| left.as_millis() as i64)
        },
    )?;
    linker.func_wrap_async(
        imports::MODULE,
        imports::HTTP_REQUEST,
        move |mut caller: Caller<'_, T>, (req_ptr, req_len, out_ptr): (i32, i32, i32)| {
            Box::new(async move {
                let (memory, range) =
                    guest_range(&mut caller, state, "http_request", req_ptr, req_len)?;
                let request = memory.data(&caller)[range].to_vec();
                let exchange = state(caller.data_mut()).http_request(request);
                let (status, reply) = exchange.await;
                write_owned_buffer(&mut caller, state, &reply, out_ptr).await?;
                Ok(status)
            })
        },
    )?;
    Ok(())
}

/// Copies `bytes` into a buffer from the guest's `lambda_alloc` (the guest
/// owns it from then on) and writes its pointer and length at `out_ptr`.
async fn write_owned_buffer<T: Send>(
    caller: &mut Caller<'_, T>,
    state: fn(&mut T) -> &mut AbiState,
    bytes: &[u8],
    out_ptr: i32,
) -> wasmtime::Result<()> {
    let import = "http_request";
    let alloc = match caller.get_export(ALLOC_EXPORT) {
        Some(Extern::Func(func)) => func.typed::<i32, i32>(&*caller)?,
        _ => wasmtime::bail!("lambda_wasm.{import}: the guest exports no {ALLOC_EXPORT}"),
    };
    let len = i32::try_from(bytes.len()).map_err(|_| {
        wasmtime::format_err!(
            "lambda_wasm.{import}: {} bytes do not fit guest memory",
            bytes.len()
        )
    })?;
    let ptr = alloc.call_async(&mut *caller, len).await?;
    if ptr == 0 && len > 0 {
        wasmtime::bail!(
            "lambda_wasm.{import}: {ALLOC_EXPORT}({len}) returned 0: the guest could not allocate the response"
        );
    }
    let (memory, range) = guest_range(caller, state, import, ptr, len)?;
    memory.data_mut(&mut *caller)[range].copy_from_slice(bytes);
    let (memory, out) = guest_range(caller, state, import, out_ptr, 8)?;
    let mut pointer_and_length = [0u8; 8];
    pointer_and_length[..4].copy_from_slice(&(ptr as u32).to_le_bytes());
    pointer_and_length[4..].copy_from_slice(&(len as u32).to_le_bytes());
    memory.data_mut(&mut *caller)[out].copy_from_slice(&pointer_and_length);
    Ok(())
}

/// The two forms of the context a reactor's handler may get (docs/abi.md,
/// section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextForm {
    /// `key=value` lines: every module without `lambda_abi_minor_version`
    /// (ABI 1.0 to 1.2), and command guests (as variables).
    Text,
    /// ABI 1.3's fixed header and texts ([`lambda_wasm_abi::context_layout`]),
    /// read in place without parsing.
    Binary,
}

impl ContextForm {
    /// The form a reactor gets when its `lambda_abi_minor_version` returns `minor`.
    pub fn for_minor_version(minor: i32) -> Self {
        if minor >= BINARY_CONTEXT_MINOR_VERSION {
            Self::Binary
        } else {
            Self::Text
        }
    }
}

/// Writes the context in either [`ContextForm`], once per invocation.
///
/// The lines that come from the function's settings are the same for every
/// invocation, so they are formatted once; each invocation only appends its
/// own fields, into a buffer reused across invocations (no allocation on the
/// warm path). Command guests get the same lines as variables.
pub struct ContextEncoder {
    settings_lines: String,
    text: String,
    settings: SettingsFields,
    binary: Vec<u8>,
}

/// The context fields that come from the function's settings.
struct SettingsFields {
    function_name: String,
    function_version: String,
    memory_limit_in_mb: u32,
    log_group_name: String,
    log_stream_name: String,
}

impl ContextEncoder {
    /// An encoder for the invocations of a function with `settings`.
    pub fn new(settings: &FunctionSettings) -> Self {
        let mut settings_lines = String::new();
        for (key, value) in [
            (key::FUNCTION_NAME, settings.function_name.as_str()),
            (key::FUNCTION_VERSION, &settings.function_version),
            (key::MEMORY_LIMIT_IN_MB, &settings.memory_mb.to_string()),
            (key::LOG_GROUP_NAME, &settings.log_group_name),
            (key::LOG_STREAM_NAME, &settings.log_stream_name),
        ] {
            push_line(&mut settings_lines, key, value);
        }
        Self {
            settings_lines,
            text: String::with_capacity(512),
            settings: SettingsFields {
                function_name: settings.function_name.clone(),
                function_version: settings.function_version.clone(),
                memory_limit_in_mb: settings.memory_mb,
                log_group_name: settings.log_group_name.clone(),
                log_stream_name: settings.log_stream_name.clone(),
            },
            binary: Vec::with_capacity(512),
        }
    }

    /// The context of `context` in `form`, valid until the next call.
    pub fn encode_as(&mut self, form: ContextForm, context: &InvocationContext) -> &[u8] {
        match form {
            ContextForm::Text => self.encode(context).as_bytes(),
            ContextForm::Binary => self.encode_binary(context),
        }
    }

    /// The binary context (ABI 1.3) of `context`, valid until the next call.
    fn encode_binary(&mut self, context: &InvocationContext) -> &[u8] {
        fn optional(value: &Option<String>) -> &str {
            value.as_deref().unwrap_or("")
        }
        let settings = &self.settings;
        let fields = ContextFields {
            aws_request_id: &context.request_id,
            deadline_ms: context.deadline_ms(),
            invoked_function_arn: &context.invoked_function_arn,
            function_name: &settings.function_name,
            function_version: &settings.function_version,
            memory_limit_in_mb: settings.memory_limit_in_mb,
            log_group_name: &settings.log_group_name,
            log_stream_name: &settings.log_stream_name,
            xray_trace_id: optional(&context.trace_id),
            cognito_identity: optional(&context.cognito_identity),
            client_context: optional(&context.client_context),
            tenant_id: optional(&context.tenant_id),
        };
        self.binary.resize(fields.encoded_len(), 0);
        fields
            .encode_into(&mut self.binary)
            .expect("a context's texts are far below 4 GiB: Lambda caps its headers");
        &self.binary
    }

    /// The context text (`key=value` lines) of `context`, valid until the next call.
    pub fn encode(&mut self, context: &InvocationContext) -> &str {
        let text = &mut self.text;
        text.clear();
        push_line(text, key::AWS_REQUEST_ID, &context.request_id);
        text.push_str(key::DEADLINE_MS);
        text.push('=');
        push_decimal(text, context.deadline_ms());
        text.push('\n');
        push_line(
            text,
            key::INVOKED_FUNCTION_ARN,
            &context.invoked_function_arn,
        );
        text.push_str(&self.settings_lines);
        let optional = [
            (key::XRAY_TRACE_ID, &context.trace_id),
            (key::COGNITO_IDENTITY, &context.cognito_identity),
            (key::CLIENT_CONTEXT, &context.client_context),
            (key::TENANT_ID, &context.tenant_id),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                push_line(text, key, value);
            }
        }
        text
    }
}

/// Whether `value` holds a `\n` or `\r`: a branch-free fold over the
/// bytes, which the compiler vectorizes (`str::contains` with a char
/// pattern decodes UTF-8 char by char, ten times slower here).
fn has_line_break(value: &str) -> bool {
    let mut found = 0u8;
    for &b in value.as_bytes() {
        found |= u8::from(b == b'\n') | u8::from(b == b'\r');
    }
    found != 0
}

/// Appends `n` in decimal, without the formatting machinery of `write!`.
fn push_decimal(text: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    text.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// Appends `key=value\n`, with any line break in `value` made a space.
fn push_line(text: &mut String, key: &str, value: &str) {
    text.push_str(key);
    text.push('=');
    if has_line_break(value) {
        text.push_str(&value.replace(['\n', '\r'], " "));
    } else {
        text.push_str(value);
    }
    text.push('\n');
}

/// The guest's memory: the handle [`AbiState::set_memory`] kept, else
/// (an instance whose environment did not keep it) the `memory` export.
fn guest_memory<T>(
    caller: &mut Caller<'_, T>,
    state: fn(&mut T) -> &mut AbiState,
    import: &str,
) -> wasmtime::Result<Memory> {
    if let Some(memory) = state(caller.data_mut()).memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("lambda_wasm.{import}: the guest exports no memory named \"memory\""),
    }
}

/// Checks that `ptr..ptr+len` lies inside the guest's memory and returns
/// the memory with the range.
fn guest_range<T>(
    caller: &mut Caller<'_, T>,
    state: fn(&mut T) -> &mut AbiState,
    import: &str,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<(Memory, std::ops::Range<usize>)> {
    let memory = guest_memory(caller, state, import)?;
    let size = memory.data_size(caller.as_context());
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    match start.checked_add(len) {
        Some(end) if end <= size => Ok((memory, start..end)),
        _ => wasmtime::bail!(
            "lambda_wasm.{import}: range {start:#x}..{:#x} is outside guest memory of {size} bytes",
            start as u64 + len as u64
        ),
    }
}

/// The guest's bytes at `ptr..ptr+len` as text (lossy UTF-8), cut to
/// [`MAX_ERROR_TEXT_BYTES`].
fn guest_text<T>(
    caller: &mut Caller<'_, T>,
    state: fn(&mut T) -> &mut AbiState,
    import: &str,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<String> {
    let (memory, range) = guest_range(caller, state, import, ptr, len)?;
    let bytes = &memory.data(&caller)[range];
    let bytes = &bytes[..bytes.len().min(MAX_ERROR_TEXT_BYTES)];
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogConfig;
    use std::time::{Duration, UNIX_EPOCH};
    use wasmtime::{Engine, Module, Store};

    const GUEST: &str = r#"(module
        (import "lambda_wasm" "set_response" (func $set_response (param i32 i32)))
        (import "lambda_wasm" "set_error" (func $set_error (param i32 i32 i32 i32)))
        (import "lambda_wasm" "add_stack_frame" (func $frame (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "{\"ok\":true}CustomErrorboomat f")
        (func (export "respond") (call $set_response (i32.const 0) (i32.const 11)))
        (func (export "fail")
            (call $set_error (i32.const 11) (i32.const 11) (i32.const 22) (i32.const 4))
            (call $frame (i32.const 26) (i32.const 4)))
        (func (export "out_of_bounds") (call $set_response (i32.const 65530) (i32.const 100))))"#;

    fn run(export: &str) -> (wasmtime::Result<()>, GuestResult) {
        let engine = Engine::default();
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker, |state: &mut AbiState| state).unwrap();
        let logger = Logger::to_writer(LogConfig::default(), Box::new(std::io::sink()));
        let outbound = Outbound::new(&crate::outbound::OutboundSettings::default());
        let mut store = Store::new(&engine, AbiState::new(logger, 64, outbound));
        let instance = linker
            .instantiate(&mut store, &Module::new(&engine, GUEST).unwrap())
            .unwrap();
        let func = instance
            .get_typed_func::<(), ()>(&mut store, export)
            .unwrap();
        let outcome = func.call(&mut store, ());
        (outcome, store.data_mut().take_result())
    }

    #[test]
    fn set_response_copies_the_bytes() {
        let (outcome, result) = run("respond");
        outcome.unwrap();
        assert_eq!(
            result.response,
            GuestResponse::Bytes(br#"{"ok":true}"#.to_vec())
        );
    }

    #[test]
    fn set_error_and_frames_make_a_lambda_error() {
        let (_, result) = run("fail");
        let error = result.error.unwrap();
        assert_eq!(
            (error.error_type.as_str(), error.error_message.as_str()),
            ("CustomError", "boom")
        );
        assert_eq!(error.stack_trace, ["at f"]);
    }

    #[test]
    fn out_of_bounds_ranges_trap_with_a_clear_message() {
        let (outcome, _) = run("out_of_bounds");
        let message = format!("{:#}", outcome.unwrap_err());
        assert!(message.contains("lambda_wasm.set_response: range 0xfffa..0x1005e is outside guest memory of 65536 bytes"), "{message}");
    }

    #[test]
    fn decimals_are_written_whole() {
        for n in [0, 7, 10, 1_795_000_000_000, u64::MAX] {
            let mut text = String::new();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string());
        }
    }

    fn sample_context() -> (FunctionSettings, InvocationContext) {
        let settings =
            FunctionSettings::from_lambda_env(&[("_HANDLER".into(), "hello.handler".into())])
                .unwrap();
        let context = InvocationContext {
            request_id: "req-1".into(),
            deadline: UNIX_EPOCH + Duration::from_millis(1_795_000_000_000),
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:hello".into(),
            trace_id: Some("Root=1-abc".into()),
            client_context: None,
            cognito_identity: Some(r#"{"cognitoIdentityId":"id"}"#.into()),
            tenant_id: Some("tenant\r\nx=1".into()),
        };
        (settings, context)
    }

    #[test]
    fn context_lines_skip_missing_values() {
        let (settings, context) = sample_context();
        let mut encoder = ContextEncoder::new(&settings);
        let text = encoder.encode(&context).to_string();
        assert!(text.starts_with("aws_request_id=req-1\ndeadline_ms=1795000000000\n"));
        assert!(text.contains("\nxray_trace_id=Root=1-abc\n"));
        assert!(text.contains("\ncognito_identity={\"cognitoIdentityId\":\"id\"}\n"));
        assert!(!text.contains("client_context"));
        assert!(
            text.ends_with("\ntenant_id=tenant  x=1\n"),
            "line breaks become spaces"
        );
        assert_eq!(
            text.lines()
                .map(|line| line.split_once('=').unwrap().0)
                .collect::<Vec<_>>(),
            [
                "aws_request_id",
                "deadline_ms",
                "invoked_function_arn",
                "function_name",
                "function_version",
                "memory_limit_in_mb",
                "log_group_name",
                "log_stream_name",
                "xray_trace_id",
                "cognito_identity",
                "tenant_id"
            ],
            "the ABI's order"
        );
    }

    #[test]
    fn the_binary_context_holds_the_values_of_the_text() {
        let (settings, context) = sample_context();
        let mut encoder = ContextEncoder::new(&settings);
        let text = encoder.encode_as(ContextForm::Text, &context).to_vec();
        let value = |key: &str| {
            std::str::from_utf8(&text)
                .unwrap()
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or("")
                .to_string()
        };
        let binary = encoder.encode_as(ContextForm::Binary, &context);
        let fields = ContextFields::decode(binary).unwrap();
        assert_eq!(fields.deadline_ms.to_string(), value(key::DEADLINE_MS));
        assert_eq!(
            fields.memory_limit_in_mb.to_string(),
            value(key::MEMORY_LIMIT_IN_MB)
        );
        assert_eq!(fields.aws_request_id, value(key::AWS_REQUEST_ID));
        assert_eq!(fields.function_name, value(key::FUNCTION_NAME));
        assert_eq!(fields.log_stream_name, value(key::LOG_STREAM_NAME));
        assert_eq!(fields.xray_trace_id, value(key::XRAY_TRACE_ID));
        assert_eq!(fields.client_context, "", "not sent");
        assert_eq!(
            fields.tenant_id, "tenant\r\nx=1",
            "binary texts are kept whole: no line to break"
        );
    }
}
