//! The Invoke operation: its invocation types (`RequestResponse` answered
//! with the result, `Event` queued and answered 202 at once, `DryRun`
//! answered 204 without running), payload limits, `X-Amz-Log-Type: Tail`,
//! `X-Amz-Client-Context`, and the response headers AWS clients read.

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use super::api::{ApiError, HttpResponse, LATEST};
use super::pool::{Lease, Pool};
use crate::invocation::{Invocation, Outcome};
use crate::local::local_invocation;

/// The largest synchronous payload (Lambda's 6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest asynchronous payload (Lambda's 1 MB).
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

impl InvocationType {
    fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        match headers.get("x-amz-invocation-type").map(|v| v.to_str()) {
            None => Ok(Self::RequestResponse),
            Some(Ok("RequestResponse")) => Ok(Self::RequestResponse),
            Some(Ok("Event")) => Ok(Self::Event),
            Some(Ok("DryRun")) => Ok(Self::DryRun),
            Some(other) => Err(ApiError::invalid_parameter(format!(
                "X-Amz-Invocation-Type {:?} is not RequestResponse, Event or DryRun",
                other.unwrap_or("<not text>")
            ))),
        }
    }

    fn max_payload(self) -> usize {
        match self {
            Self::Event => MAX_ASYNC_PAYLOAD,
            Self::RequestResponse | Self::DryRun => MAX_SYNC_PAYLOAD,
        }
    }
}

/// Whether `X-Amz-Log-Type: Tail` asks for the invocation's log.
fn wants_tail(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get("x-amz-log-type").map(|v| v.as_bytes()) {
        None | Some(b"None") => Ok(false),
        Some(b"Tail") => Ok(true),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "X-Amz-Log-Type {:?} is not None or Tail",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// `X-Amz-Client-Context`: base64 of a JSON object, passed to the handler.
fn client_context(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-amz-client-context") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::invalid_content(
            "X-Amz-Client-Context must be a base64-encoded JSON object (as the AWS CLI's --client-context sends)",
        )
    };
    let json = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| invalid())?;
    let context: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&json).map_err(|_| invalid())?;
    Ok(Some(serde_json::Value::Object(context).to_string()))
}

/// Reads the payload: at most the invocation type's limit, and JSON (an
/// empty payload is the event `{}`, as the AWS CLI sends without `--payload`).
async fn payload(body: Incoming, kind: InvocationType) -> Result<Bytes, ApiError> {
    let limit = kind.max_payload();
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| {
            ApiError::too_large(format!(
                "Request must be smaller than {limit} bytes for a {kind:?} invocation; send a smaller payload"
            ))
        })?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(|e| {
        ApiError::invalid_content(format!(
            "Could not parse request body into json: {e}. Send a JSON document (with AWS CLI v2, add --cli-binary-format raw-in-base64-out)"
        ))
    })?;
    Ok(bytes)
}

/// Answers one Invoke request for `pool`'s function; `qualifier` was checked.
pub async fn invoke(
    pool: Arc<Pool>,
    headers: HeaderMap,
    body: Incoming,
    qualifier: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = InvocationType::from_headers(&headers)?;
    let tail = wants_tail(&headers)? && kind == InvocationType::RequestResponse;
    let client_context = client_context(&headers)?;
    let event = payload(body, kind).await?;
    let mut invocation = local_invocation(event, pool.settings(), SystemTime::now());
    invocation.context.client_context = client_context;
    if let Some(qualifier) = qualifier {
        invocation.context.invoked_function_arn.push(':');
        invocation.context.invoked_function_arn.push_str(&qualifier);
    }
    let request_id = invocation.context.request_id.clone();
    let answer = Response::builder()
        .header("x-amzn-requestid", &request_id)
        .header("x-amz-executed-version", LATEST)
        .header(http::header::CONTENT_TYPE, "application/json");
    let empty = |answer: http::response::Builder, status| {
        let answer = answer.status(status).body(Full::new(Bytes::new()));
        Ok(answer.expect("static headers and a request id are valid"))
    };
    match kind {
        InvocationType::DryRun => empty(answer, StatusCode::NO_CONTENT),
        InvocationType::Event => {
            tokio::spawn(run_in_background(pool, invocation));
            empty(answer, StatusCode::ACCEPTED)
        }
        InvocationType::RequestResponse => {
            let timeout = pool.settings().timeout;
            let lease = pool.checkout(Some(timeout)).await.map_err(|_| {
                ApiError::throttled(format!(
                    "Rate Exceeded: all {} environments of {} stayed busy for its timeout of {:.2} s; retry, or raise its concurrency",
                    pool.concurrency(),
                    pool.name(),
                    timeout.as_secs_f64()
                ))
            })?;
            let (outcome, log) = run(lease, invocation).await?;
            let answer = match tail {
                true => answer.header("x-amz-log-result", log),
                false => answer,
            };
            let answer = match outcome {
                Outcome::Response(json) => {
                    answer.body(Full::new(Bytes::from(String::from(Box::<str>::from(json)))))
                }
                Outcome::Error(error) => answer
                    .header("x-amz-function-error", "Unhandled")
                    .body(Full::new(Bytes::from(error.to_json(&request_id)))),
            };
            Ok(answer.expect("static headers and a request id are valid"))
        }
    }
}

/// Runs `invocation` on a thread of its own: guest code does not yield
/// while it computes, so a busy or stuck handler must not hold one of the
/// threads that serve requests and other functions.
async fn run(mut lease: Lease, invocation: Invocation) -> Result<(Outcome, String), ApiError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(lease.run(invocation)))
        .await
        .map_err(|e| ApiError::service(format!("the invocation failed inside lambda-wasm: {e}")))
}

/// An `Event` invocation: queued for a free environment however long that
/// takes, its result logged and dropped, as Lambda's asynchronous invoke.
async fn run_in_background(pool: Arc<Pool>, invocation: Invocation) {
    let request_id = invocation.context.request_id.clone();
    let Ok(lease) = pool.checkout(None).await else {
        return;
    };
    match run(lease, invocation).await {
        Ok((Outcome::Response(json), _)) => tracing::info!(
            "{}: Event invocation {request_id} returned {} bytes (dropped)",
            pool.name(),
            json.get().len()
        ),
        Ok((Outcome::Error(error), _)) => tracing::warn!(
            "{}: Event invocation {request_id} failed: {}: {}",
            pool.name(),
            error.error_type,
            error.error_message
        ),
        Err(error) => tracing::error!("{}: Event invocation {request_id}: {error:?}", pool.name()),
    }
}
