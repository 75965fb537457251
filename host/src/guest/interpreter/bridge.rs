//! `host.call`: the one import through which an interpreter guest talks to
//! the host (see the frame protocol in [`super`]). The interpreter sits in
//! this call between invocations, as a suspended async host call, until the
//! host hands it the next invocation.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use tokio::sync::mpsc;
use wasmtime::{AsContextMut, Caller, Extern, Linker, Memory};

use crate::abi::AbiState;
use crate::errors::{ErrorShape, LambdaError};
use crate::invocation::Invocation;
use crate::logs::Level;
use crate::response::GuestResponse;
use crate::store::{self, GuestState};

/// What an interpreter instance keeps in its store.
#[derive(Default)]
pub struct InterpreterState {
    /// Its link to the host, set when its environment starts.
    pub(super) bridge: Option<Bridge>,
    /// The body of the last `V` frame: which environment variables the
    /// handler's import read, reported while a handler snapshot is taken.
    pub(super) import_reads: Option<Vec<u8>>,
}

impl InterpreterState {
    /// Keeps a `V` frame's body (see [`Self::import_reads`]).
    pub(crate) fn keep_import_reads(&mut self, body: &[u8]) {
        self.import_reads = Some(body.to_vec());
    }
}

/// The store-side end of the link between the interpreter and the host.
pub struct Bridge {
    pub(super) invocations: mpsc::Receiver<Delivery>,
    pub(super) messages: mpsc::UnboundedSender<GuestMessage>,
    /// The interpreter's peak linear memory, updated at each frame, for REPORT lines.
    pub(super) peak_memory: Arc<AtomicUsize>,
}

/// The next invocation, as the frame the interpreter reads, and its deadline.
pub struct Delivery {
    pub(super) frame: Vec<u8>,
    pub(super) deadline: SystemTime,
}

impl Delivery {
    /// The frame for `invocation`: NUL-separated context fields, then the event.
    pub fn of(invocation: &Invocation) -> Self {
        let context = &invocation.context;
        let deadline = context.deadline_ms().to_string();
        let fields: [&str; 7] = [
            &context.request_id,
            &deadline,
            &context.invoked_function_arn,
            context.trace_id.as_deref().unwrap_or_default(),
            context.client_context.as_deref().unwrap_or_default(),
            context.cognito_identity.as_deref().unwrap_or_default(),
            context.tenant_id.as_deref().unwrap_or_default(),
        ];
        let mut frame = Vec::with_capacity(invocation.event.len() + 256);
        for field in fields {
            frame.extend(field.bytes().filter(|&b| b != 0));
            frame.push(0);
        }
        frame.extend_from_slice(&invocation.event);
        Self {
            frame,
            deadline: context.deadline,
        }
    }
}

/// What the interpreter reported.
pub enum GuestMessage {
    /// Init is done.
    Ready,
    /// Init failed with this error.
    InitFailed(LambdaError),
    /// The current invocation's response or function error.
    Finished(Result<GuestResponse, LambdaError>),
    /// The current invocation's error, after which the runtime ends (AWS's
    /// Ruby runtime exits after a critical exception): the environment is
    /// discarded and the next event starts a fresh one.
    Exited(LambdaError),
}

/// Adds `host.call`, an interpreter's only import beyond WASI.
pub fn add_to_linker(linker: &mut Linker<GuestState<InterpreterState>>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        "host",
        "call",
        |mut caller: Caller<'_, GuestState<InterpreterState>>,
         (ptr, len, out_ptr, out_len): (i32, i32, i32, i32)| {
            Box::new(async move {
                let reply = answer(&mut caller, ptr, len).await?;
                write_reply(&mut caller, &reply, out_ptr, out_len).await?;
                Ok(0)
            })
        },
    )?;
    Ok(())
}

/// Handles the frame at `ptr..ptr+len`; the reply to send back.
async fn answer(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let frame = frame_range(memory.data_size(&*caller), ptr, len)?;
    let body = frame.start + 1..frame.end;
    match memory.data(&*caller)[frame.start] {
        b'L' => {
            log_record(caller, memory, body);
            return Ok(Vec::new());
        }
        b'H' => return Ok(http_request(caller, memory, body).await),
        b'V' => {
            let (bytes, state) = memory.data_and_store_mut(&mut *caller);
            state.kind.keep_import_reads(&bytes[body]);
            return Ok(Vec::new());
        }
        _ => {}
    }
    let max_response_bytes = caller.data().abi.max_response_bytes();
    let message = message_of(&memory.data(&*caller)[frame], max_response_bytes)?;
    hand_over(caller, message).await
}

/// The message of a frame other than `L`, `H` and `V`.
pub(crate) fn message_of(
    frame: &[u8],
    max_response_bytes: usize,
) -> wasmtime::Result<GuestMessage> {
    let (&kind, body) = frame
        .split_first()
        .ok_or_else(|| wasmtime::format_err!("host::call: empty frame"))?;
    Ok(match kind {
        b'N' => GuestMessage::Ready,
        b'I' => GuestMessage::InitFailed(error_from_json(body)),
        b'R' => GuestMessage::Finished(Ok(response(body, max_response_bytes))),
        b'E' => GuestMessage::Finished(Err(error_from_json(body))),
        b'X' => GuestMessage::Exited(error_from_json(body)),
        other => wasmtime::bail!("host::call: unknown frame kind {:?}", other as char),
    })
}

/// Gives `message` to the host and waits for its answer: the next
/// invocation's frame, with the store armed for its deadline, or empty when
/// the interpreter is to end (after an init error or an exit, or when the
/// host has no more events).
pub(crate) async fn hand_over(
    mut store: impl AsContextMut<Data = GuestState<InterpreterState>>,
    message: GuestMessage,
) -> wasmtime::Result<Vec<u8>> {
    let ends = matches!(
        message,
        GuestMessage::InitFailed(_) | GuestMessage::Exited(_)
    );
    let mut context = store.as_context_mut();
    let peak = context.data().limiter.peak_bytes();
    let Some(bridge) = context.data_mut().kind.bridge.as_mut() else {
        wasmtime::bail!("host::call: this interpreter has no host to answer it");
    };
    bridge.peak_memory.store(peak, Ordering::Relaxed);
    if bridge.messages.send(message).is_err() || ends {
        return Ok(Vec::new());
    }
    let Some(next) = bridge.invocations.recv().await else {
        return Ok(Vec::new());
    };
    let remaining = next
        .deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    store::begin_invocation(store, next.deadline, remaining);
    Ok(next.frame)
}

/// An `H` frame: an outbound request in the ABI's wire format.
async fn http_request(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    memory: Memory,
    body: Range<usize>,
) -> Vec<u8> {
    let request = memory.data(&*caller)[body].to_vec();
    outbound_reply(&caller.data().abi, request).await
}

/// The reply to an `H` frame's `request`, made by the same code as a
/// reactor's `http_request`: the status digit (`0` and the response, or
/// `1`..`5` and the error message). Also Ruby's outbound channel's answer.
pub(crate) fn outbound_reply(
    abi: &AbiState,
    request: Vec<u8>,
) -> impl Future<Output = Vec<u8>> + Send + 'static {
    let exchange = abi.http_request(request);
    async move {
        let (status, bytes) = exchange.await;
        let mut reply = Vec::with_capacity(bytes.len() + 1);
        reply.push(b'0' + status as u8);
        reply.extend_from_slice(&bytes);
        reply
    }
}

/// The frame's bytes, which must lie in memory and hold at least the kind byte.
fn frame_range(memory_size: usize, ptr: i32, len: i32) -> wasmtime::Result<Range<usize>> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    match start.checked_add(len) {
        Some(end) if len > 0 && end <= memory_size => Ok(start..end),
        _ if len == 0 => wasmtime::bail!("host::call: empty frame"),
        _ => wasmtime::bail!("host::call: frame {start:#x}+{len} is outside guest memory"),
    }
}

/// An `R` frame's response, refused by size before anything is copied.
fn response(body: &[u8], max_response_bytes: usize) -> GuestResponse {
    if body.len() > max_response_bytes {
        return GuestResponse::TooLarge(body.len());
    }
    GuestResponse::Bytes(body.to_vec())
}

/// An `L` frame: a level digit and a record the interpreter already
/// formatted as its AWS runtime writes it; logged without a copy.
fn log_record(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    memory: Memory,
    body: Range<usize>,
) {
    let (bytes, state) = memory.data_and_store_mut(caller);
    let (&digit, record) = bytes[body].split_first().unwrap_or((&b'2', b""));
    let level = Level::from_abi(i32::from(digit) - i32::from(b'0'));
    state.abi.logger().formatted_record(level, record);
}

/// The error of an `E` or `I` frame: JSON with `errorType`, `errorMessage`
/// and `stackTrace` (a list of strings), or `trace` instead: the Node.js
/// runtime's body, which the host then posts in that shape.
fn error_from_json(body: &[u8]) -> LambdaError {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (trace_key, shape) = match value.get("trace") {
        Some(_) => ("trace", ErrorShape::Node),
        None => ("stackTrace", ErrorShape::Lambda),
    };
    let stack_trace = value
        .get(trace_key)
        .and_then(|v| v.as_array())
        .map(|frames| {
            frames
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    match text("errorType") {
        error_type if error_type.is_empty() => {
            LambdaError::protocol("the interpreter's runtime sent a malformed error frame")
        }
        error_type => LambdaError::new(error_type, text("errorMessage"))
            .with_stack_trace(stack_trace)
            .with_shape(shape),
    }
}

/// Copies `reply` into memory from the guest's `host_alloc` and stores its pointer and length.
async fn write_reply(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    reply: &[u8],
    out_ptr: i32,
    out_len: i32,
) -> wasmtime::Result<()> {
    let alloc = match caller.get_export("host_alloc") {
        Some(Extern::Func(func)) => func.typed::<i32, i32>(&*caller)?,
        _ => wasmtime::bail!("host::call: the interpreter exports no host_alloc"),
    };
    let len = i32::try_from(reply.len())
        .map_err(|_| wasmtime::format_err!("host::call: reply too large"))?;
    let ptr = alloc.call_async(&mut *caller, len.max(1)).await?;
    let memory = guest_memory(caller)?;
    memory.write(&mut *caller, ptr as u32 as usize, reply)?;
    memory.write(
        &mut *caller,
        out_ptr as u32 as usize,
        &(ptr as u32).to_le_bytes(),
    )?;
    memory.write(
        &mut *caller,
        out_len as u32 as usize,
        &(len as u32).to_le_bytes(),
    )?;
    Ok(())
}

fn guest_memory(caller: &mut Caller<'_, GuestState<InterpreterState>>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("host::call: the interpreter exports no memory"),
    }
}
