//! Native test support: run a handler through the same ABI path the host
//! uses, without a host. Only off Wasm (`cargo test`), where the host
//! imports are replaced by a per-thread recorder.

use serde::de::DeserializeOwned;

use crate::abi::{self, recorder};
use crate::log::Level;
use crate::{Context, Diagnostic, IntoResponse};

/// Answers this thread's outbound requests ([`crate::http`]) off Wasm:
/// `responder` gets the request in the ABI's wire format (docs/abi.md
/// section 12) and returns the `http_request` status (0 for a response)
/// and the response (or error message) bytes.
pub fn set_http_responder(responder: fn(&[u8]) -> (i32, Vec<u8>)) {
    recorder::set_http_responder(responder);
}

/// What one invocation sent to the (stand-in) host.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The handler export's return value: 0 success, non-zero error.
    pub status: i32,
    /// The bytes given to `set_response`, if it was called.
    pub response: Option<Vec<u8>>,
    /// The function error given to `set_error` and `add_stack_frame`.
    pub error: Option<Diagnostic>,
    /// The records sent through the logger, in order.
    pub logs: Vec<(Level, String)>,
}

impl Invocation {
    /// The response parsed as JSON (`None` if unset or not JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.response.as_deref()?).ok()
    }
}

/// Runs `handler` as the host would: `event` and `context` (the
/// `key=value` lines of docs/abi.md section 4, or the binary form of ABI
/// 1.3, `lambda_wasm_abi::context_layout`) are copied into a `lambda_alloc`
/// buffer, which the wrapper frees.
pub fn invoke<F, E, R, Er>(handler: F, event: &[u8], context: impl AsRef<[u8]>) -> Invocation
where
    F: FnOnce(E, &Context) -> Result<R, Er>,
    E: DeserializeOwned,
    R: IntoResponse,
    Er: Into<Diagnostic>,
{
    recorder::take();
    let context = context.as_ref();
    let total = event.len() + context.len();
    let buffer = abi::lambda_alloc(total);
    assert!(!buffer.is_null(), "lambda_alloc({total}) failed");
    // SAFETY: `buffer` has `total` writable bytes; run_handler frees it.
    let status = unsafe {
        std::ptr::copy_nonoverlapping(event.as_ptr(), buffer, event.len());
        let ctx_ptr = buffer.add(event.len());
        std::ptr::copy_nonoverlapping(context.as_ptr(), ctx_ptr, context.len());
        abi::run_handler(handler, buffer, event.len(), ctx_ptr, context.len())
    };
    let recorded = recorder::take();
    Invocation {
        status,
        response: recorded.response,
        error: recorded
            .error
            .map(|(error_type, error_message)| Diagnostic {
                error_type,
                error_message,
                stack_trace: recorded.stack_trace,
            }),
        logs: recorded.logs,
    }
}

/// The log records sent on this thread since the last call (or the last
/// [`invoke`]); for tests that call a handler function directly.
pub fn take_logs() -> Vec<(Level, String)> {
    recorder::with(|r| std::mem::take(&mut r.logs))
}
