//! Outbound HTTP(S) for guests: the one implementation behind the ABI's
//! `http_request` import and an interpreter's `H` frame. A guest never
//! holds a socket: it hands the host a request ([`wire`]) and gets the
//! response or an error message back. The host decides where it may go
//! ([`policy`]), makes the exchange ([`client`]) and, for AWS endpoints,
//! signs it with credentials the guest never sees ([`signing`]).
//!
//! Bounds: both bodies are capped; each request ends by the invocation's
//! deadline; at most [`OutboundSettings::max_in_flight`] requests of a
//! function are in flight at once, and a guest's call waits for a slot
//! (it is throttled; the host does no more work). A guest call blocks its
//! guest, so one execution environment has at most one request at a time.

pub mod client;
pub mod policy;
pub mod pool;
pub mod signing;
pub mod wire;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::Semaphore;

use self::client::Client;
use self::policy::{AllowList, Policy};
use self::signing::Signer;

/// The default cap on a request's and a response's body: Lambda's payload size.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// The default number of a function's requests in flight at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;

/// How a function's guests may reach the network.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Where requests may go (empty: nowhere).
    pub allowed: AllowList,
    /// `AWS_LAMBDA_RUNTIME_API`, which no request may reach.
    pub runtime_api: Option<String>,
    /// The function's credentials and the endpoints they sign for.
    pub signer: Signer,
    /// `LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES`: the largest request body.
    pub max_request_bytes: usize,
    /// `LAMBDA_WASM_OUTBOUND_MAX_RESPONSE_BYTES`: the largest response body.
    pub max_response_bytes: usize,
    /// `LAMBDA_WASM_OUTBOUND_MAX_IN_FLIGHT`: requests in flight at once.
    pub max_in_flight: usize,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            allowed: AllowList::default(),
            runtime_api: None,
            signer: Signer::default(),
            max_request_bytes: DEFAULT_MAX_BODY_BYTES,
            max_response_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// Why a request got no response; the guest gets [`OutboundError::code`]
/// and the message, which names the host and, for a denial, the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// The policy refused the host or the address it resolves to.
    Denied(String),
    /// Resolving, connecting, TLS or HTTP failed.
    Failed(String),
    /// The invocation's deadline came first.
    TimedOut(String),
    /// A body is over its cap.
    TooLarge(String),
    /// The guest's request bytes are not a request.
    Malformed(String),
}

impl OutboundError {
    /// The status the ABI's `http_request` returns for it (docs/abi.md).
    pub fn code(&self) -> i32 {
        use lambda_wasm_abi::http_status;
        match self {
            Self::Denied(_) => http_status::DENIED,
            Self::Failed(_) => http_status::FAILED,
            Self::TimedOut(_) => http_status::TIMED_OUT,
            Self::TooLarge(_) => http_status::TOO_LARGE,
            Self::Malformed(_) => http_status::MALFORMED,
        }
    }

    /// What went wrong and what to do.
    pub fn message(&self) -> &str {
        match self {
            Self::Denied(m)
            | Self::Failed(m)
            | Self::TimedOut(m)
            | Self::TooLarge(m)
            | Self::Malformed(m) => m,
        }
    }
}

/// A function's outbound service, shared by all its execution environments.
pub struct Outbound {
    client: Client,
    max_request_bytes: usize,
    slots: Semaphore,
}

impl Outbound {
    /// The service for `settings`.
    pub fn new(settings: &OutboundSettings) -> Arc<Self> {
        let policy = Policy::new(settings.allowed.clone(), settings.runtime_api.as_deref());
        Arc::new(Self {
            client: Client::new(policy, settings.signer.clone(), settings.max_response_bytes),
            max_request_bytes: settings.max_request_bytes,
            slots: Semaphore::new(settings.max_in_flight.max(1)),
        })
    }

    /// Makes the request in `request` (wire bytes) by `deadline`; the
    /// response's wire bytes. Logged at debug level without headers or bodies.
    pub async fn send(
        &self,
        request: &[u8],
        deadline: SystemTime,
        request_id: &str,
    ) -> Result<Vec<u8>, OutboundError> {
        let started = Instant::now();
        let parsed = wire::parse_request(request).map_err(|why| {
            OutboundError::Malformed(format!(
                "lambda_wasm.http_request: malformed request: {why}"
            ))
        })?;
        let (method, host) = (
            parsed.method.clone(),
            parsed.uri.host().unwrap_or_default().to_string(),
        );
        if parsed.body.len() > self.max_request_bytes {
            return Err(OutboundError::TooLarge(format!(
                "outbound request to {host} refused: its body of {} bytes is larger than {} bytes (LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES)",
                parsed.body.len(),
                self.max_request_bytes
            )));
        }
        let remaining = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let exchange = async {
            if parsed.method == http::Method::CONNECT {
                // Only the question "may this host be reached?" (docs/abi.md).
                self.client.check(&parsed.uri).await?;
                return Ok(wire::GuestResponse {
                    status: 200,
                    headers: http::HeaderMap::new(),
                    body: bytes::Bytes::new(),
                });
            }
            let _slot = self
                .slots
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.client.exchange(parsed).await
        };
        let result = match tokio::time::timeout(remaining, exchange).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::TimedOut(format!(
                "outbound request to {host} did not finish before the invocation's deadline"
            ))),
        };
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(response) => tracing::debug!(
                %method, %host, status = response.status, bytes = response.body.len(), duration_ms, request_id,
                "outbound request"
            ),
            Err(error) => tracing::debug!(
                %method, %host, error = error.message(), duration_ms, request_id,
                "outbound request failed"
            ),
        }
        result.map(|response| wire::encode_response(&response))
    }
}
