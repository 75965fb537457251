//! Command guests: any WASI program with `_start` runs as a handler, a fresh
//! instance per event, the event on stdin, the context in `LAMBDA_CONTEXT_*`
//! variables and the response on stdout.

use super::{GuestEnvironment, GuestReply};
use crate::abi::ContextEncoder;
use crate::errors::LambdaError;
use crate::fault::{self, Fault};
use crate::invocation::{Call, InvocationContext};
use crate::limits;
use crate::sandbox::{CapturedStdout, Stdio};
use crate::store::{self, GuestState, InstanceTemplate};

/// A command function's environment: nothing lives between events but the
/// encoder of their context and the memory the last instance used.
pub struct CommandEnvironment {
    context: ContextEncoder,
    peak_memory_bytes: usize,
}

impl GuestEnvironment for CommandEnvironment {
    type State = ();
    type Entry = ();

    fn add_imports(linker: &mut wasmtime::Linker<GuestState<()>>) -> wasmtime::Result<()> {
        store::no_more_imports(linker)
    }

    /// A command has no init phase of its own: each event runs `_start` anew.
    async fn start(template: &InstanceTemplate<()>, _: &()) -> Result<Self, LambdaError> {
        Ok(Self {
            context: ContextEncoder::new(&template.settings),
            peak_memory_bytes: 0,
        })
    }

    async fn invoke(
        &mut self,
        template: &InstanceTemplate<()>,
        call: &Call<'_>,
    ) -> Result<GuestReply, Fault> {
        let context = &call.invocation.context;
        let stdout = CapturedStdout::new(call.settings.max_response_bytes);
        let env = self.context_env(context);
        let stdio = Stdio::Command {
            event: call.invocation.event.clone(),
            stdout: stdout.clone(),
        };
        let mut store = template.new_store(stdio, &env).map_err(Fault)?;
        store::begin_invocation(&mut store, context.deadline, call.remaining);
        let run = async {
            let instance = template.pre().instantiate_async(&mut store).await?;
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call_async(&mut store, ()).await
        };
        let ended = limits::until_deadline(call.remaining, run).await.ok();
        self.peak_memory_bytes = store.data().limiter.peak_bytes();
        match ended {
            None => Ok(GuestReply::Error(call.timed_out())),
            Some(Err(error)) if !exited_cleanly(&error) => {
                let evidence = store.data_mut().take_evidence();
                Ok(GuestReply::Error(fault::classify(&error, call, evidence)))
            }
            Some(_) => Ok(GuestReply::Response(stdout.take_response())),
        }
    }

    fn peak_memory_bytes(&self) -> usize {
        self.peak_memory_bytes
    }
}

impl CommandEnvironment {
    /// The context as `LAMBDA_CONTEXT_<KEY>` variables (the ABI's context
    /// lines, keys upper-cased), plus `_X_AMZN_TRACE_ID`.
    fn context_env(&mut self, context: &InvocationContext) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .context
            .encode(context)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| {
                (
                    format!("LAMBDA_CONTEXT_{}", key.to_ascii_uppercase()),
                    value.to_string(),
                )
            })
            .collect();
        if let Some(trace_id) = &context.trace_id {
            env.push(("_X_AMZN_TRACE_ID".into(), trace_id.clone()));
        }
        env
    }
}

/// Whether a command's `_start` ended by `proc_exit(0)`, which is success
/// (Go's and many other toolchains' commands always exit that way).
fn exited_cleanly(error: &wasmtime::Error) -> bool {
    error
        .downcast_ref::<wasmtime_wasi::I32Exit>()
        .is_some_and(|exit| exit.0 == 0)
}
