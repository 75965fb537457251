//! Lambda's error shapes: the `errorType`s and messages AWS's runtimes use,
//! and the JSON body the Runtime API and `lambda-wasm invoke` report.

use serde::Serialize;

/// The `errorType`s the host itself reports, as AWS's runtimes name them
/// (or, for what only a Wasm host sees, in the same `Runtime.*` style).
pub mod error_type {
    /// The module is missing, unreadable, not Wasm, or failed its init.
    pub const IMPORT_MODULE: &str = "Runtime.ImportModuleError";
    /// The module has no usable export of the handler's name.
    pub const HANDLER_NOT_FOUND: &str = "Runtime.HandlerNotFound";
    /// The handler string cannot name a module and function.
    pub const MALFORMED_HANDLER_NAME: &str = "Runtime.MalformedHandlerName";
    /// The response is not JSON, not UTF-8, or too large.
    pub const MARSHAL: &str = "Runtime.MarshalError";
    /// The event is not JSON.
    pub const UNMARSHAL: &str = "Runtime.UnmarshalError";
    /// The invocation ran past its deadline.
    pub const TIMED_OUT: &str = "Sandbox.Timedout";
    /// The guest trapped.
    pub const WASM_TRAP: &str = "Runtime.WasmTrap";
    /// The guest called `proc_exit` (or a command exited non-zero).
    pub const EXIT: &str = "Runtime.ExitError";
    /// The guest needed more memory than the function's memory size.
    pub const OUT_OF_MEMORY: &str = "Runtime.OutOfMemory";
    /// The guest broke its own protocol (a status without an error, a frame out of turn).
    pub const HANDLER: &str = "Runtime.HandlerError";
    /// The function's configuration (environment variables, options) is unusable.
    pub const INVALID_CONFIGURATION: &str = "Runtime.InvalidConfiguration";
    /// The host could not build the guest's sandbox (its /tmp, a preopen).
    pub const SANDBOX: &str = "Runtime.SandboxError";
    /// The host could not create its Wasm engine.
    pub const ENGINE: &str = "Runtime.EngineError";
}

/// A function or init error, shaped as Lambda reports it.
///
/// Every failure the host can see (a bad handler name, a missing module, a
/// trap, a timeout, an invalid response, the guest's own error) ends up as
/// one of these, so callers get the same JSON from the Runtime API, the local
/// server and `lambda-wasm invoke`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct LambdaError {
    /// Lambda's `errorType`, e.g. `Runtime.ImportModuleError` or the guest's own type name.
    pub error_type: String,
    /// Lambda's `errorMessage`.
    pub error_message: String,
    /// Lambda's `stackTrace`: one string per frame.
    pub stack_trace: Vec<String>,
    /// Which runtime's body [`LambdaError::to_json`] writes.
    pub shape: ErrorShape,
}

/// The error body's shape: each AWS runtime posts its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"errorMessage", "errorType", "requestId", "stackTrace"}`: Lambda's
    /// own errors and the Python runtime's.
    #[default]
    Lambda,
    /// `{"errorType", "errorMessage", "trace"}`: what AWS's Node.js runtime
    /// posts, `trace` being the error's stack, line by line.
    Node,
}

/// The wire shape, with Lambda's key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error_message: &'a str,
    error_type: &'a str,
    request_id: &'a str,
    stack_trace: &'a [String],
}

/// The Node.js runtime's wire shape, with its key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeErrorBody<'a> {
    error_type: &'a str,
    error_message: &'a str,
    trace: &'a [String],
}

impl LambdaError {
    /// An error of `error_type` with `error_message` and no stack trace.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
            shape: ErrorShape::Lambda,
        }
    }

    /// The same error with `stack_trace` attached.
    pub fn with_stack_trace(mut self, stack_trace: Vec<String>) -> Self {
        self.stack_trace = stack_trace;
        self
    }

    /// The module file is missing, unreadable or not valid Wasm.
    pub fn import_module(module: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            error_type::IMPORT_MODULE,
            format!("Unable to import module '{module}': {reason}"),
        )
    }

    /// The module has no usable export of that name.
    pub fn handler_not_found(function: &str, module: &str) -> Self {
        Self::new(
            error_type::HANDLER_NOT_FOUND,
            format!("Handler '{function}' missing on module '{module}'"),
        )
    }

    /// The handler string cannot name a module and function.
    pub fn malformed_handler(handler: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            error_type::MALFORMED_HANDLER_NAME,
            format!("Bad handler '{handler}': {reason}"),
        )
    }

    /// The guest's response cannot be sent (not JSON, not UTF-8, too large).
    pub fn marshal(reason: impl std::fmt::Display) -> Self {
        Self::new(
            error_type::MARSHAL,
            format!("Unable to marshal response: {reason}"),
        )
    }

    /// The event cannot be given to the guest (not JSON).
    pub fn unmarshal(reason: impl std::fmt::Display) -> Self {
        Self::new(
            error_type::UNMARSHAL,
            format!("Unable to unmarshal input: {reason}"),
        )
    }

    /// The invocation ran past its deadline.
    pub fn timed_out(request_id: &str, timeout_secs: f64) -> Self {
        Self::new(
            error_type::TIMED_OUT,
            format!(
                "RequestId: {request_id} Error: Task timed out after {timeout_secs:.2} seconds"
            ),
        )
    }

    /// The guest trapped; `frames` is its Wasm backtrace.
    pub fn trap(request_id: &str, message: impl std::fmt::Display, frames: Vec<String>) -> Self {
        Self::new(
            error_type::WASM_TRAP,
            format!("RequestId: {request_id} Error: {message}"),
        )
        .with_stack_trace(frames)
    }

    /// The guest called `proc_exit` (or a command module exited non-zero).
    pub fn exit(request_id: &str, status: i32) -> Self {
        let reason = if status == 0 {
            "Runtime exited without providing a reason".to_string()
        } else {
            format!("Runtime exited with error: exit status {status}")
        };
        Self::new(
            error_type::EXIT,
            format!("RequestId: {request_id} Error: {reason}"),
        )
    }

    /// The guest needed more linear memory than the function's memory size.
    pub fn out_of_memory(request_id: &str, limit_mb: u32) -> Self {
        Self::new(
            error_type::OUT_OF_MEMORY,
            format!(
                "RequestId: {request_id} Error: Runtime exited with error: guest memory limit of {limit_mb} MB exceeded"
            ),
        )
    }

    /// The guest broke its side of the protocol it speaks with the host.
    pub fn protocol(reason: impl std::fmt::Display) -> Self {
        Self::new(error_type::HANDLER, reason.to_string())
    }

    /// The function's configuration is unusable; `reason` says what to change.
    pub fn configuration(reason: impl std::fmt::Display) -> Self {
        Self::new(error_type::INVALID_CONFIGURATION, reason.to_string())
    }

    /// The host could not build the guest's sandbox.
    pub fn sandbox(reason: impl std::fmt::Display) -> Self {
        Self::new(error_type::SANDBOX, reason.to_string())
    }

    /// The same error written in `shape`.
    pub fn with_shape(mut self, shape: ErrorShape) -> Self {
        self.shape = shape;
        self
    }

    /// The JSON body Lambda expects, keys in the runtime's order; init errors
    /// pass `""` (the Node.js shape has no request id).
    pub fn to_json(&self, request_id: &str) -> Vec<u8> {
        let body = match self.shape {
            ErrorShape::Lambda => serde_json::to_vec(&ErrorBody {
                error_message: &self.error_message,
                error_type: &self.error_type,
                request_id,
                stack_trace: &self.stack_trace,
            }),
            ErrorShape::Node => serde_json::to_vec(&NodeErrorBody {
                error_type: &self.error_type,
                error_message: &self.error_message,
                trace: &self.stack_trace,
            }),
        };
        body.expect("an error body of strings always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_lambdas_keys_in_order() {
        let error =
            LambdaError::new("KeyError", "'first_name'").with_stack_trace(vec!["frame".into()]);
        let body = String::from_utf8(error.to_json("abc")).unwrap();
        assert_eq!(
            body,
            r#"{"errorMessage":"'first_name'","errorType":"KeyError","requestId":"abc","stackTrace":["frame"]}"#
        );
    }

    #[test]
    fn node_body_has_the_node_runtimes_keys_in_order() {
        let error = LambdaError::new("TypeError", "bad")
            .with_stack_trace(vec!["TypeError: bad".into(), "    at f (x.mjs:1:2)".into()])
            .with_shape(ErrorShape::Node);
        let body = String::from_utf8(error.to_json("abc")).unwrap();
        assert_eq!(
            body,
            r#"{"errorType":"TypeError","errorMessage":"bad","trace":["TypeError: bad","    at f (x.mjs:1:2)"]}"#
        );
    }

    #[test]
    fn messages_match_lambdas_wording() {
        assert_eq!(
            LambdaError::timed_out("id-1", 3.0).error_message,
            "RequestId: id-1 Error: Task timed out after 3.00 seconds"
        );
        assert_eq!(
            LambdaError::handler_not_found("nope", "hello").error_message,
            "Handler 'nope' missing on module 'hello'"
        );
        assert_eq!(
            LambdaError::exit("id-2", 0).error_message,
            "RequestId: id-2 Error: Runtime exited without providing a reason"
        );
        assert_eq!(
            LambdaError::exit("id-3", 1).error_message,
            "RequestId: id-3 Error: Runtime exited with error: exit status 1"
        );
    }
}
