//! Turns what ended a guest call abnormally (trap, `proc_exit`, interrupt,
//! refused memory) into the Lambda error the caller sees.

use wasmtime::{FrameInfo, Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use crate::errors::LambdaError;

/// What the host knew when the call failed.
pub struct FaultContext<'a> {
    /// The invocation's request id.
    pub request_id: &'a str,
    /// The timeout to report if the deadline interrupted the guest.
    pub timeout_secs: f64,
    /// Whether the memory limiter refused a grow during the call.
    pub memory_refused: bool,
    /// The memory cap, for the out-of-memory message.
    pub memory_mb: u32,
}

/// The Lambda error for `error`, which ended a guest call.
pub fn classify(error: &wasmtime::Error, context: &FaultContext<'_>) -> LambdaError {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return LambdaError::exit(context.request_id, exit.0);
    }
    let trap = error.downcast_ref::<Trap>();
    if trap == Some(&Trap::Interrupt) {
        return LambdaError::timed_out(context.request_id, context.timeout_secs);
    }
    let frames = backtrace(error);
    if context.memory_refused {
        return LambdaError::out_of_memory(context.request_id, context.memory_mb)
            .with_stack_trace(frames);
    }
    LambdaError::trap(context.request_id, describe(error), frames)
}

/// What ended the call, in a few words and without the backtrace.
pub fn describe(error: &wasmtime::Error) -> String {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return format!("the guest exited with status {}", exit.0);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => "the deadline passed".to_string(),
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    }
}

/// The Wasm backtrace of `error`, one string per frame, innermost first.
pub fn backtrace(error: &wasmtime::Error) -> Vec<String> {
    error
        .downcast_ref::<WasmBacktrace>()
        .map(|trace| trace.frames().iter().map(describe_frame).collect())
        .unwrap_or_default()
}

fn describe_frame(frame: &FrameInfo) -> String {
    let module = frame.module().name().unwrap_or("<module>");
    let function = frame.func_name().map_or_else(
        || format!("<wasm function {}>", frame.func_index()),
        str::to_string,
    );
    let location = frame
        .symbols()
        .first()
        .and_then(|symbol| Some(format!(" at {}:{}", symbol.file()?, symbol.line()?)))
        .unwrap_or_default();
    format!("{module}!{function}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Engine, Instance, Module, Store};

    fn fail(wat: &str) -> wasmtime::Error {
        let engine = Engine::default();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &Module::new(&engine, wat).unwrap(), &[]).unwrap();
        instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .unwrap()
            .call(&mut store, ())
            .unwrap_err()
    }

    fn context(memory_refused: bool) -> FaultContext<'static> {
        FaultContext {
            request_id: "req-1",
            timeout_secs: 3.0,
            memory_refused,
            memory_mb: 128,
        }
    }

    #[test]
    fn a_trap_reports_its_message_and_backtrace() {
        let error =
            fail(r#"(module $guest (func $deep unreachable) (func (export "run") call $deep))"#);
        let lambda = classify(&error, &context(false));
        assert_eq!(lambda.error_type, "Runtime.WasmTrap");
        assert_eq!(
            lambda.error_message,
            "RequestId: req-1 Error: wasm trap: wasm `unreachable` instruction executed"
        );
        assert_eq!(lambda.stack_trace[0], "guest!deep");
        assert_eq!(lambda.stack_trace.len(), 2);
    }

    #[test]
    fn a_trap_after_a_refused_grow_is_out_of_memory() {
        let error = fail(r#"(module (func (export "run") unreachable))"#);
        assert_eq!(
            classify(&error, &context(true)).error_type,
            "Runtime.OutOfMemory"
        );
    }

    #[test]
    fn stack_exhaustion_is_a_trap() {
        let error = fail(r#"(module (func $f (export "run") call $f))"#);
        let lambda = classify(&error, &context(false));
        assert!(
            lambda.error_message.ends_with("call stack exhausted"),
            "{}",
            lambda.error_message
        );
    }
}
