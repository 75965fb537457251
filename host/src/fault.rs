//! Turns what ended a guest call abnormally (trap, `proc_exit`, interrupt,
//! refused memory) into the Lambda error the caller sees.

use wasmtime::{FrameInfo, Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use crate::errors::LambdaError;
use crate::invocation::Call;

/// The instance can no longer be trusted: the caller must discard it.
#[derive(Debug)]
pub struct Fault(pub LambdaError);

/// What the guest's store knew when a call failed.
#[derive(Debug, Default)]
pub struct Evidence {
    /// Whether the memory limiter refused a grow during the call.
    pub memory_refused: bool,
    /// The error the guest reported just before it failed, e.g. a Rust
    /// panic's message set by the guest SDK's panic hook before it aborted.
    pub guest_error: Option<LambdaError>,
}

/// The Lambda error for `error`, which ended `call`'s guest code.
pub fn classify(error: &wasmtime::Error, call: &Call<'_>, evidence: Evidence) -> LambdaError {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return LambdaError::exit(call.request_id(), exit.0);
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return call.timed_out();
    }
    let frames = backtrace(error);
    if evidence.memory_refused {
        return LambdaError::out_of_memory(call.request_id(), call.settings.memory_mb)
            .with_stack_trace(frames);
    }
    match evidence.guest_error {
        Some(mut reported) => {
            reported.stack_trace.extend(frames);
            reported
        }
        None => LambdaError::trap(call.request_id(), describe(error), frames),
    }
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

/// The Wasm backtrace of `error`, one string per frame, innermost first,
/// with Rust and C++ symbol names demangled.
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
        |name| format!("{:#}", rustc_demangle::demangle(name)),
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
    use crate::invocation::Invocation;
    use crate::settings::FunctionSettings;
    use std::time::Duration;
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

    fn classify_with(error: &wasmtime::Error, evidence: Evidence) -> LambdaError {
        let settings =
            FunctionSettings::from_lambda_env(&[("_HANDLER".into(), "m.handler".into())]).unwrap();
        let invocation = Invocation::for_test(b"{}", Duration::from_secs(3));
        classify(error, &Call::new(&invocation, &settings), evidence)
    }

    #[test]
    fn a_trap_reports_its_message_and_backtrace() {
        let error =
            fail(r#"(module $guest (func $deep unreachable) (func (export "run") call $deep))"#);
        let lambda = classify_with(&error, Evidence::default());
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
        let evidence = Evidence {
            memory_refused: true,
            guest_error: None,
        };
        assert_eq!(
            classify_with(&error, evidence).error_type,
            "Runtime.OutOfMemory"
        );
    }

    #[test]
    fn a_trap_after_the_guest_reported_an_error_keeps_the_guests_error() {
        let error = fail(r#"(module $guest (func (export "run") unreachable))"#);
        let reported = LambdaError::new("Panic", "index out of bounds at src/lib.rs:3:5")
            .with_stack_trace(vec!["src/lib.rs:3:5".into()]);
        let lambda = classify_with(
            &error,
            Evidence {
                memory_refused: false,
                guest_error: Some(reported),
            },
        );
        assert_eq!(lambda.error_type, "Panic");
        assert_eq!(
            lambda.error_message,
            "index out of bounds at src/lib.rs:3:5"
        );
        assert_eq!(lambda.stack_trace[0], "src/lib.rs:3:5");
        assert!(lambda.stack_trace.len() > 1, "the trap's frames follow");
    }

    #[test]
    fn rust_symbols_are_demangled() {
        let error = fail(
            r#"(module $guest
                (func $_ZN5hello7handler17h0123456789abcdefE unreachable)
                (func (export "run") call $_ZN5hello7handler17h0123456789abcdefE))"#,
        );
        let lambda = classify_with(&error, Evidence::default());
        assert_eq!(lambda.stack_trace[0], "guest!hello::handler");
    }

    #[test]
    fn stack_exhaustion_is_a_trap() {
        let error = fail(r#"(module (func $f (export "run") call $f))"#);
        let lambda = classify_with(&error, Evidence::default());
        assert!(
            lambda.error_message.ends_with("call stack exhausted"),
            "{}",
            lambda.error_message
        );
    }
}
