//! Command guests: any WASI program with `_start` runs as a handler, a fresh
//! instance per event, the event on stdin and the response on stdout.

use crate::abi;
use crate::errors::LambdaError;
use crate::fault::{self, FaultContext};
use crate::invocation::{Invocation, Outcome};
use crate::limits::{BLOCKED_CALL_GRACE, ticks_for};
use crate::response;
use crate::sandbox::{CapturedStdout, Stdio};
use crate::store::InstanceTemplate;

/// Runs `invocation` in a fresh instance of the command module.
pub async fn run(template: &InstanceTemplate, invocation: &Invocation) -> Outcome {
    let settings = &template.settings;
    let context = &invocation.context;
    let remaining = context.remaining();
    let stdout = CapturedStdout::new(settings.max_response_bytes);
    let env = context_env(template, invocation);
    let stdio = Stdio::Command {
        event: invocation.event.clone(),
        stdout: stdout.clone(),
    };
    let mut store = match template.new_store(stdio, &env) {
        Ok(store) => store,
        Err(error) => return Outcome::Error(error),
    };
    store.set_epoch_deadline(ticks_for(remaining));
    let run = async {
        let instance = template.pre().instantiate_async(&mut store).await?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call_async(&mut store, ()).await
    };
    let ended = match tokio::time::timeout(remaining + BLOCKED_CALL_GRACE, run).await {
        Ok(ended) => ended,
        Err(_elapsed) => {
            return Outcome::Error(LambdaError::timed_out(
                &context.request_id,
                remaining.as_secs_f64(),
            ));
        }
    };
    let exited_cleanly = match &ended {
        Ok(()) => true,
        Err(error) => error
            .downcast_ref::<wasmtime_wasi::I32Exit>()
            .is_some_and(|exit| exit.0 == 0),
    };
    if let (false, Err(error)) = (exited_cleanly, ended) {
        let fault_context = FaultContext {
            request_id: &context.request_id,
            timeout_secs: remaining.as_secs_f64(),
            memory_refused: store.data().limiter.refused(),
            memory_mb: settings.memory_mb,
        };
        return Outcome::Error(fault::classify(&error, &fault_context));
    }
    match response::validate(stdout.take_response(), settings.max_response_bytes) {
        Ok(json) => Outcome::Response(json),
        Err(error) => Outcome::Error(error),
    }
}

/// The context as `LAMBDA_CONTEXT_*` variables, plus `_X_AMZN_TRACE_ID`.
fn context_env(template: &InstanceTemplate, invocation: &Invocation) -> Vec<(String, String)> {
    let context = &invocation.context;
    let mut env: Vec<(String, String)> = abi::context_fields(context, &template.settings)
        .into_iter()
        .map(|(key, value)| {
            (
                format!("LAMBDA_CONTEXT_{}", key.to_ascii_uppercase()),
                value,
            )
        })
        .collect();
    if let Some(trace_id) = &context.trace_id {
        env.push(("_X_AMZN_TRACE_ID".into(), trace_id.clone()));
    }
    env
}
