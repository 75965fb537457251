//! Runtime mode: the Lambda `bootstrap`. Loads the function (Lambda's init
//! phase), then asks the Runtime API for events one at a time and answers
//! each exactly once; see [`crate::runtime_api`] for the requests.
//!
//! Under Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` > 1) it runs
//! that many workers, each with its own execution environment of the same
//! compiled module, each holding one `next` request at a time.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::errors::LambdaError;
use crate::function::Function;
use crate::invocation::{Invocation, Outcome};
use crate::logs::Logger;
use crate::runtime_api::{
    EventCompletionRequest, EventErrorRequest, InitErrorRequest, NextEvent, RuntimeApi,
};
use crate::settings::{FunctionSettings, max_concurrency};

/// `next` failures in a row after which the Runtime API counts as gone.
const FAILURES_BEFORE_GIVING_UP: u32 = 5;
/// The pause before asking again after a `next` that had no event (204), so
/// an emulator that answers at once is not polled in a tight loop.
const NO_EVENT_PAUSE: Duration = Duration::from_millis(10);
/// How long to wait for the Runtime API to take an init error before
/// exiting anyway: an emulator that never answers `init/error` (cargo-lambda
/// does not) must not keep a failed bootstrap alive.
const INIT_ERROR_POST_TIMEOUT: Duration = Duration::from_secs(3);
/// How many invocations to serve at once: `AWS_LAMBDA_MAX_CONCURRENCY`
/// (Lambda Managed Instances), else 1. An unusable value is reported and
/// read as 1.
pub fn concurrency_from_env() -> usize {
    let value = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok();
    max_concurrency(value.as_deref()).unwrap_or_else(|error| {
        eprintln!("lambda-wasm: {}", error.error_message);
        1
    })
}

/// Runs the bootstrap until the Runtime API goes away; exit status 1 after an init error.
pub async fn run() -> ExitCode {
    let address = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let api = match RuntimeApi::new(&address) {
        Ok(api) => api,
        Err(error) => {
            eprintln!("lambda-wasm: {}", error.error_message);
            return ExitCode::from(1);
        }
    };
    match load_workers().await {
        Ok(workers) => serve_all(Arc::new(api), workers).await,
        Err(error) => {
            eprintln!(
                "lambda-wasm: init failed: {}: {}",
                error.error_type, error.error_message
            );
            report_init_error(&api, &error).await;
            ExitCode::from(1)
        }
    }
}

/// Posts `error` to `init/error`, waiting at most [`INIT_ERROR_POST_TIMEOUT`].
async fn report_init_error(api: &RuntimeApi, error: &LambdaError) {
    let post = api.send(InitErrorRequest { error });
    match tokio::time::timeout(INIT_ERROR_POST_TIMEOUT, post).await {
        Ok(Ok(())) => {}
        Ok(Err(post_error)) => eprintln!(
            "lambda-wasm: could not report the init error to the Runtime API: {post_error}"
        ),
        Err(_) => eprintln!(
            "lambda-wasm: the Runtime API did not answer the init error within {} s; exiting without its answer",
            INIT_ERROR_POST_TIMEOUT.as_secs()
        ),
    }
}

/// Lambda's init phase: settings from the environment, the module, and one
/// execution environment per worker.
async fn load_workers() -> Result<Vec<Function>, LambdaError> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let settings = FunctionSettings::from_lambda_env(&vars)?;
    let (log, count) = (settings.log, settings.concurrency);
    let (first, _) = Function::load(settings, Logger::to_stderr(log)).await?;
    let mut workers = Vec::with_capacity(count);
    for _ in 1..count {
        workers.push(first.replica(Logger::to_stderr(log)).await?);
    }
    workers.push(first);
    Ok(workers)
}

/// Runs every worker's loop; returns when the first one stops (the Runtime
/// API is gone for all of them).
async fn serve_all(api: Arc<RuntimeApi>, mut workers: Vec<Function>) -> ExitCode {
    if workers.len() == 1 {
        return serve(&api, workers.remove(0)).await;
    }
    let mut running = tokio::task::JoinSet::new();
    for function in workers {
        let api = api.clone();
        running.spawn(async move { serve(&api, function).await });
    }
    match running.join_next().await {
        Some(Ok(code)) => code,
        Some(Err(error)) => {
            eprintln!("lambda-wasm: a worker stopped: {error}");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}

/// Answers events until `next` fails [`FAILURES_BEFORE_GIVING_UP`] times in
/// a row (the Runtime API is gone), backing off between failures.
async fn serve(api: &RuntimeApi, mut function: Function) -> ExitCode {
    let mut failures_in_a_row = 0;
    let mut warned_about_deadlines = false;
    loop {
        match api.next_event(function.settings().timeout).await {
            Ok(NextEvent::Invocation {
                invocation,
                deadline_warning,
            }) => {
                failures_in_a_row = 0;
                if let Some(warning) = deadline_warning.filter(|_| !warned_about_deadlines) {
                    tracing::warn!("{warning} (said once)");
                    warned_about_deadlines = true;
                }
                answer(api, &mut function, &invocation).await;
            }
            Ok(NextEvent::Unanswerable(why)) => {
                failures_in_a_row = 0;
                tracing::error!("{why}; it cannot be answered, serving the next");
            }
            Ok(NextEvent::NoEvent) => {
                failures_in_a_row = 0;
                tokio::time::sleep(NO_EVENT_PAUSE).await;
            }
            Err(error) => {
                failures_in_a_row += 1;
                if failures_in_a_row >= FAILURES_BEFORE_GIVING_UP {
                    eprintln!("lambda-wasm: the Runtime API is gone: {error}");
                    return ExitCode::from(1);
                }
                tracing::warn!("asking the Runtime API for the next event failed: {error}");
                tokio::time::sleep(Duration::from_millis(10 << failures_in_a_row)).await;
            }
        }
    }
}

/// Runs one invocation and posts its outcome; a failed post is logged, and
/// the loop goes on (the platform times out an invocation it never heard of).
async fn answer(api: &RuntimeApi, function: &mut Function, invocation: &Invocation) {
    let request_id = invocation.context.request_id.as_str();
    let sent = match function.invoke(invocation).await {
        Outcome::Response(json) => {
            api.send(EventCompletionRequest {
                request_id,
                body: Box::<str>::from(json).into(),
            })
            .await
        }
        Outcome::Error(error) => {
            api.send(EventErrorRequest {
                request_id,
                error: &error,
            })
            .await
        }
    };
    if let Err(error) = sent {
        tracing::error!("could not send the result of {request_id}: {error}");
    }
}
