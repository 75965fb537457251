//! Runtime mode: the Lambda `bootstrap`. `lambda_runtime` drives the Runtime
//! API loop (next, headers, context, X-Ray); this module answers each
//! invocation and reports init errors.
//!
//! The answers are posted here rather than by `lambda_runtime` because
//! Lambda's error body carries `requestId` and `stackTrace`, which
//! `lambda_runtime::Diagnostic` cannot.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use http::{HeaderValue, Method, StatusCode};
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, Service};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, PooledClient, build_request};
use tokio::sync::Mutex;

use crate::errors::LambdaError;
use crate::function::Function;
use crate::invocation::{Invocation, InvocationContext, Outcome, compact_json};
use crate::limits::deadline_from_header;
use crate::logs::Logger;
use crate::settings::FunctionSettings;

/// The variables `lambda_runtime` insists on, with the value used when a
/// local Runtime API emulator leaves one out.
const REQUIRED_BY_LAMBDA_RUNTIME: &[(&str, &str)] = &[
    ("AWS_LAMBDA_FUNCTION_NAME", "lambda-wasm"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
];

/// Fills in the variables `lambda_runtime` would panic without.
///
/// Call before any other thread starts: it changes the process environment.
pub fn default_missing_lambda_variables() {
    for (name, default) in REQUIRED_BY_LAMBDA_RUNTIME {
        if std::env::var_os(name).is_none() {
            eprintln!("lambda-wasm: {name} is not set; using {default:?}");
            // SAFETY: called from main before the runtime or any thread starts.
            unsafe { std::env::set_var(name, default) };
        }
    }
}

/// Runs the bootstrap until the Runtime API goes away; exit status 1 after an init error.
pub async fn run() -> ExitCode {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    // The same parse lambda_runtime_api_client does, which panics where this explains.
    if api.parse::<http::Uri>().is_err() {
        eprintln!(
            "lambda-wasm: AWS_LAMBDA_RUNTIME_API={api:?} is not a host:port or a URL (with a path, write it as http://host:port/path)"
        );
        return ExitCode::from(1);
    }
    let client = Arc::new(PooledClient::builder().build());
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let loaded = match FunctionSettings::from_lambda_env(&vars) {
        Ok(settings) => {
            let logger = Logger::to_stderr(settings.log);
            Function::load(settings, logger)
                .await
                .map(|(function, _)| function)
        }
        Err(error) => Err(error),
    };
    let function = match loaded {
        Ok(function) => function,
        Err(error) => {
            eprintln!(
                "lambda-wasm: init failed: {}: {}",
                error.error_type, error.error_message
            );
            if let Err(post_error) = post_init_error(&client, &error).await {
                eprintln!(
                    "lambda-wasm: could not report the init error to the Runtime API: {post_error}"
                );
            }
            return ExitCode::from(1);
        }
    };
    let layer = AnswerInvocations {
        function: Arc::new(Mutex::new(function)),
        client,
        answered: Arc::default(),
    };
    serve_until_the_api_is_gone(layer).await
}

/// Runs `lambda_runtime`'s loop, starting it again when it stops on an
/// invocation it could not read, and giving up once it fails repeatedly
/// without answering anything (the Runtime API is gone).
///
/// `lambda_runtime` 1.5 ends its loop when a `next` response has a header it
/// cannot parse (e.g. a client context without every mobile-SDK field); that
/// invocation cannot be answered, since its request id never reaches us, and
/// the platform times it out. The execution environment survives.
async fn serve_until_the_api_is_gone(layer: AnswerInvocations) -> ExitCode {
    const FAILURES_BEFORE_GIVING_UP: u32 = 5;
    let mut failures_in_a_row = 0;
    loop {
        let answered_before = layer.answered.load(Ordering::Relaxed);
        let runtime =
            Runtime::new(lambda_runtime::service_fn(answered_by_layer)).layer(layer.clone());
        let error = match runtime.run().await {
            Ok(()) => return ExitCode::SUCCESS,
            Err(error) => error,
        };
        if layer.answered.load(Ordering::Relaxed) > answered_before {
            failures_in_a_row = 0;
        }
        failures_in_a_row += 1;
        if failures_in_a_row >= FAILURES_BEFORE_GIVING_UP {
            eprintln!("lambda-wasm: the Runtime API loop stopped: {error}");
            return ExitCode::from(1);
        }
        tracing::error!(
            "the Runtime API loop stopped on an invocation it could not read ({error}); that invocation gets no answer, serving the next"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10 << failures_in_a_row)).await;
    }
}

/// The handler `Runtime::new` requires; [`AnswerInvocations`] answers every
/// invocation itself, so this is never reached.
async fn answered_by_layer(_: LambdaEvent<serde::de::IgnoredAny>) -> Result<(), BoxError> {
    Err("lambda-wasm answers invocations in its runtime layer".into())
}

/// A `tower` layer that runs each invocation on the function and posts the answer.
#[derive(Clone)]
struct AnswerInvocations {
    function: Arc<Mutex<Function>>,
    client: Arc<PooledClient>,
    /// Invocations answered so far.
    answered: Arc<AtomicU64>,
}

impl<S> tower::Layer<S> for AnswerInvocations {
    type Service = AnswerInvocations;

    fn layer(&self, _inner: S) -> Self::Service {
        self.clone()
    }
}

impl Service<LambdaInvocation> for AnswerInvocations {
    type Response = ();
    type Error = BoxError;
    type Future = lambda_runtime::BoxFuture<'static, Result<(), BoxError>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, raw: LambdaInvocation) -> Self::Future {
        let function = self.function.clone();
        let client = self.client.clone();
        let answered = self.answered.clone();
        Box::pin(async move {
            let mut function = function.lock().await;
            let invocation = invocation_from(raw, function.settings());
            let outcome = function.invoke(&invocation).await;
            drop(function);
            // A failed post is logged, not returned: returning would stop the loop.
            if let Err(error) = post_outcome(&client, &invocation.context.request_id, outcome).await
            {
                tracing::error!(
                    "could not send the result of {}: {error}",
                    invocation.context.request_id
                );
            }
            answered.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }
}

/// The host's view of an invocation from what `lambda_runtime` received.
fn invocation_from(raw: LambdaInvocation, settings: &FunctionSettings) -> Invocation {
    let header = |name: &str| raw.parts.headers.get(name).and_then(|v| v.to_str().ok());
    let deadline = deadline_from_header(
        Some(raw.context.deadline),
        SystemTime::now(),
        settings.timeout,
    );
    if let Some(warning) = &deadline.warning {
        tracing::warn!("{warning}");
    }
    let context = InvocationContext {
        request_id: raw.context.request_id.clone(),
        deadline: deadline.at,
        invoked_function_arn: raw.context.invoked_function_arn.clone(),
        trace_id: raw.context.xray_trace_id.clone(),
        client_context: header("lambda-runtime-client-context").and_then(compact_json),
        cognito_identity: header("lambda-runtime-cognito-identity").and_then(compact_json),
        tenant_id: raw.context.tenant_id.clone(),
    };
    Invocation {
        event: raw.body,
        context,
    }
}

async fn post_outcome(
    client: &PooledClient,
    request_id: &str,
    outcome: Outcome,
) -> Result<(), BoxError> {
    let id = percent_encode(request_id);
    match outcome {
        Outcome::Response(json) => {
            let body = Body::from(json.get().to_string());
            post(
                client,
                &format!("/2018-06-01/runtime/invocation/{id}/response"),
                None,
                body,
            )
            .await
        }
        Outcome::Error(error) => {
            let body = Body::from(error.to_json(request_id));
            post(
                client,
                &format!("/2018-06-01/runtime/invocation/{id}/error"),
                Some(&error.error_type),
                body,
            )
            .await
        }
    }
}

async fn post_init_error(client: &PooledClient, error: &LambdaError) -> Result<(), BoxError> {
    let body = Body::from(error.to_json(""));
    post(
        client,
        "/2018-06-01/runtime/init/error",
        Some(&error.error_type),
        body,
    )
    .await
}

async fn post(
    client: &PooledClient,
    path: &str,
    error_type: Option<&str>,
    body: Body,
) -> Result<(), BoxError> {
    let mut request = build_request()
        .method(Method::POST)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)?;
    if let Some(error_type) = error_type {
        let value =
            HeaderValue::from_str(error_type).unwrap_or(HeaderValue::from_static("Unhandled"));
        request
            .headers_mut()
            .insert("lambda-runtime-function-error-type", value);
    }
    let response = client.call(request).await?;
    match response.status() {
        status if status.is_success() => Ok(()),
        StatusCode::PAYLOAD_TOO_LARGE => {
            Err("the Runtime API refused the payload as too large (413)".into())
        }
        status => Err(format!("the Runtime API answered {status} to POST {path}").into()),
    }
}

/// Request ids are UUIDs on Lambda; anything else is escaped to stay one path segment.
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_stay_one_path_segment() {
        assert_eq!(
            percent_encode("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
        );
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
    }
}
