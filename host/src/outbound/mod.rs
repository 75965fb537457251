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
#[cfg(test)]
mod testing;
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
            let _slot = self
                .slots
                .acquire()
                .await
                .expect("the semaphore is never closed");
            if parsed.method == http::Method::CONNECT {
                // Only a connection, kept for the request to come (docs/abi.md).
                self.client.check(&parsed.uri).await?;
                return Ok(wire::GuestResponse {
                    status: 200,
                    headers: http::HeaderMap::new(),
                    body: bytes::Bytes::new(),
                });
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use testing::ok;

    /// The service for a test server at `addr` (the only host allowed).
    fn outbound_for(addr: std::net::SocketAddr, settings: OutboundSettings) -> Arc<Outbound> {
        Outbound::new(&OutboundSettings {
            allowed: AllowList::parse(&addr.to_string()).unwrap(),
            ..settings
        })
    }

    fn in_seconds(seconds: u64) -> SystemTime {
        SystemTime::now() + Duration::from_secs(seconds)
    }

    #[tokio::test]
    async fn a_request_body_over_the_cap_is_refused_before_anything_is_sent() {
        assert_eq!(
            OutboundSettings::default().max_request_bytes,
            6 * 1024 * 1024
        );
        let server = testing::serve(true, |_| async { ok("ok", true) }).await;
        let settings = OutboundSettings {
            max_request_bytes: 10,
            ..OutboundSettings::default()
        };
        let outbound = outbound_for(server.addr, settings);
        let post = |body: &str| format!("POST http://{}/\n\n{body}", server.addr).into_bytes();
        let error = outbound
            .send(&post("12345678901"), in_seconds(5), "req-1")
            .await
            .unwrap_err();
        assert!(matches!(error, OutboundError::TooLarge(_)), "{error:?}");
        assert!(
            error.message().contains("11 bytes is larger than 10 bytes")
                && error
                    .message()
                    .contains("LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES"),
            "{error:?}"
        );
        assert_eq!(
            server.accepted.load(Ordering::SeqCst),
            0,
            "nothing was sent"
        );
        // The cap is inclusive, and the service goes on serving.
        let response = outbound
            .send(&post("1234567890"), in_seconds(5), "req-2")
            .await;
        assert!(response.unwrap().starts_with(b"200\n"));
    }

    /// The service for a test server at `addr`, `limit` requests in flight at most.
    fn in_flight_limited(addr: std::net::SocketAddr, limit: usize) -> Arc<Outbound> {
        let settings = OutboundSettings {
            max_in_flight: limit,
            ..OutboundSettings::default()
        };
        outbound_for(addr, settings)
    }

    fn get(addr: std::net::SocketAddr) -> Vec<u8> {
        format!("GET http://{addr}/\n\n").into_bytes()
    }

    /// Sends `request` as its own task, with 10 s to go.
    fn spawn_send(
        outbound: &Arc<Outbound>,
        request: &[u8],
    ) -> tokio::task::JoinHandle<Result<Vec<u8>, OutboundError>> {
        let (outbound, request) = (outbound.clone(), request.to_vec());
        tokio::spawn(async move { outbound.send(&request, in_seconds(10), "req").await })
    }

    #[tokio::test]
    async fn requests_beyond_the_in_flight_limit_wait_for_a_slot() {
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (counting, highest) = (now.clone(), most.clone());
        let server = testing::serve(true, move |_| {
            let (now, most) = (counting.clone(), highest.clone());
            async move {
                most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                ok("ok", true)
            }
        })
        .await;
        let (outbound, get) = (in_flight_limited(server.addr, 2), get(server.addr));
        let requests: Vec<_> = (0..6).map(|_| spawn_send(&outbound, &get)).collect();
        for request in requests {
            assert!(request.await.unwrap().unwrap().starts_with(b"200\n"));
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "at most 2 at once, and 2 used"
        );
    }

    #[tokio::test]
    async fn a_request_waiting_for_a_slot_still_ends_by_its_deadline() {
        let server = testing::serve(true, |_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            ok("ok", true)
        })
        .await;
        let (outbound, get) = (in_flight_limited(server.addr, 1), get(server.addr));
        let holder = spawn_send(&outbound, &get);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let deadline = SystemTime::now() + Duration::from_millis(200);
        let waiter = outbound.send(&get, deadline, "req-2").await.unwrap_err();
        assert!(matches!(waiter, OutboundError::TimedOut(_)), "{waiter:?}");
        assert!(holder.await.unwrap().is_ok());
        assert_eq!(
            server.accepted.load(Ordering::SeqCst),
            1,
            "the waiter sent nothing"
        );
    }

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_request_is_logged_at_debug_without_headers_or_bodies() {
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);
        let server = testing::serve(true, |_| async { ok("response-body-secret", true) }).await;
        let outbound = outbound_for(server.addr, OutboundSettings::default());
        let put = format!(
            "PUT http://{}/object\nAuthorization: Bearer header-secret\nX-Api-Key: key-secret\n\nrequest-body-secret",
            server.addr
        );
        outbound
            .send(put.as_bytes(), in_seconds(5), "req-ok")
            .await
            .unwrap();
        let denied = b"GET http://denied.example/\nAuthorization: Bearer header-secret\n\n";
        outbound
            .send(denied, in_seconds(5), "req-denied")
            .await
            .unwrap_err();

        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let line = |id: &str| {
            log.lines()
                .find(|l| l.contains(id))
                .unwrap_or_default()
                .to_string()
        };
        // Each request's line is found by its request id, then its fields.
        let host = format!("host={}", server.addr.ip());
        for (id, fields) in [
            (
                "req-ok",
                ["method=PUT", &host, "status=200", "bytes=20"].as_slice(),
            ),
            (
                "req-denied",
                ["method=GET", "host=denied.example"].as_slice(),
            ),
        ] {
            let line = line(id);
            for field in [" DEBUG ", "duration_ms="].iter().chain(fields) {
                assert!(line.contains(field), "{field} missing from {line:?}");
            }
        }
        for secret in [
            "header-secret",
            "key-secret",
            "request-body-secret",
            "response-body-secret",
        ] {
            assert!(!log.contains(secret), "{secret} logged:\n{log}");
        }
    }
}
