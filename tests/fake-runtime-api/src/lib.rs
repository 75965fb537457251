//! An in-process fake of the AWS Lambda Runtime API.
//!
//! It speaks the real protocol (base path `/2018-06-01`, HTTP/1.1 keep-alive)
//! on `127.0.0.1:<ephemeral port>`:
//!
//! | request | answer |
//! |---|---|
//! | `GET /runtime/invocation/next` | blocks until an invocation is queued, then `200` with the event body and the `Lambda-Runtime-*` headers |
//! | `POST /runtime/invocation/{id}/response` | records the body, `202` |
//! | `POST /runtime/invocation/{id}/error` | records the JSON body and `Lambda-Runtime-Function-Error-Type`, `202` |
//! | `POST /runtime/init/error` | records, `202` |
//! | a POST for an id that was never delivered, or was already answered | `400` (counted) |
//! | anything else | `404` |
//!
//! Its own cost per event is a few map operations under one `std` mutex, so
//! the benchmark harness (bench/) uses it as well as the end-to-end tests
//! (tests/e2e/).

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

const BASE: &str = "/2018-06-01/runtime/";

/// Deadline used when an invocation does not choose one: generous, so slow
/// (debug, instrumented) builds never time out by accident.
pub const DEFAULT_INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Default `Lambda-Runtime-Invoked-Function-Arn`.
pub const DEFAULT_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:test-fn";

/// How the `Lambda-Runtime-Deadline-Ms` header of an invocation is made.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Deadline {
    /// Delivery time + this duration (what Lambda does with the function's timeout).
    After(Duration),
    /// A fixed epoch-milliseconds value.
    EpochMs(u64),
    /// The header's raw text, sent as is (e.g. `"600000"`, as some local emulators send).
    Raw(String),
}

/// One event to hand to the runtime, built with a small builder:
/// `Invocation::json(&json!({...})).timeout(Duration::from_secs(1))`.
#[derive(Clone, Debug)]
pub struct Invocation {
    event: Bytes,
    request_id: Option<String>,
    deadline: Deadline,
    arn: String,
    trace_id: Option<String>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
}

impl Invocation {
    /// An invocation whose event is these raw bytes (not necessarily JSON).
    pub fn new(event: impl Into<Bytes>) -> Self {
        Invocation {
            event: event.into(),
            request_id: None,
            deadline: Deadline::After(DEFAULT_INVOCATION_TIMEOUT),
            arn: DEFAULT_ARN.to_string(),
            trace_id: Some(String::new()), // empty = generate one at enqueue time
            client_context: None,
            cognito_identity: None,
        }
    }

    /// An invocation whose event is this JSON value.
    pub fn json(event: &serde_json::Value) -> Self {
        Self::new(serde_json::to_vec(event).expect("serialize event"))
    }

    /// The request id (default: a fresh unique id).
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Deadline = delivery time + `timeout` (default [`DEFAULT_INVOCATION_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Deadline::After(timeout);
        self
    }

    /// A fixed deadline in Unix epoch milliseconds.
    pub fn deadline_ms(mut self, epoch_ms: u64) -> Self {
        self.deadline = Deadline::EpochMs(epoch_ms);
        self
    }

    /// The raw `Lambda-Runtime-Deadline-Ms` header value, e.g. `"600000"`.
    pub fn raw_deadline(mut self, raw: impl Into<String>) -> Self {
        self.deadline = Deadline::Raw(raw.into());
        self
    }

    /// The `Lambda-Runtime-Invoked-Function-Arn` header (default [`DEFAULT_ARN`]).
    pub fn arn(mut self, arn: impl Into<String>) -> Self {
        self.arn = arn.into();
        self
    }

    /// The `Lambda-Runtime-Trace-Id` header (default: a generated X-Ray id).
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Send no `Lambda-Runtime-Trace-Id` header at all.
    pub fn no_trace_id(mut self) -> Self {
        self.trace_id = None;
        self
    }

    /// The `Lambda-Runtime-Client-Context` header (JSON text).
    pub fn client_context(mut self, json: impl Into<String>) -> Self {
        self.client_context = Some(json.into());
        self
    }

    /// The `Lambda-Runtime-Cognito-Identity` header (JSON text).
    pub fn cognito_identity(mut self, json: impl Into<String>) -> Self {
        self.cognito_identity = Some(json.into());
        self
    }
}

/// What the runtime answered for one invocation.
#[derive(Clone, PartialEq)]
pub enum Outcome {
    /// `POST /runtime/invocation/{id}/response`: the body as sent.
    Response(Bytes),
    /// `POST /runtime/invocation/{id}/error`. A body that is not JSON is kept
    /// as `Value::String("<not JSON> ...")` so a test fails with it in view.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header.
        error_type_header: Option<String>,
        /// The body as JSON.
        body: serde_json::Value,
    },
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Response(b) => {
                let text = String::from_utf8_lossy(&b[..b.len().min(2048)]);
                write!(f, "Response({} bytes: {text:?})", b.len())
            }
            Outcome::Error {
                error_type_header,
                body,
            } => f
                .debug_struct("Error")
                .field("error_type_header", error_type_header)
                .field("body", body)
                .finish(),
        }
    }
}

impl Outcome {
    /// The response parsed as JSON; panics on an error outcome or a non-JSON body.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        match self {
            Outcome::Response(b) => serde_json::from_slice(b)
                .unwrap_or_else(|e| panic!("response is not JSON ({e}): {self:?}")),
            Outcome::Error { .. } => panic!("expected a response, got {self:?}"),
        }
    }

    /// `(error_type_header, body)` of an error outcome; panics on a response.
    #[track_caller]
    pub fn error(&self) -> (Option<&str>, &serde_json::Value) {
        match self {
            Outcome::Error {
                error_type_header,
                body,
            } => (error_type_header.as_deref(), body),
            Outcome::Response(_) => panic!("expected an error, got {self:?}"),
        }
    }

    /// Whether the runtime posted an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error { .. })
    }
}

/// A `POST /runtime/init/error`.
#[derive(Clone, Debug, PartialEq)]
pub struct InitError {
    /// The `Lambda-Runtime-Function-Error-Type` header.
    pub error_type_header: Option<String>,
    /// The body as JSON (a body that is not JSON as for [`Outcome::Error`]).
    pub body: serde_json::Value,
}

/// What the fake sent for one delivered invocation.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The `Lambda-Runtime-Deadline-Ms` header value as sent.
    pub deadline_header: String,
}

/// Counters; `answers_per_id` etc. are checked by [`FakeRuntimeApi::assert_all_answered_once`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Invocations enqueued by `invoke`.
    pub enqueued: u64,
    /// `next` calls answered with an invocation.
    pub delivered: u64,
    /// Invocations still queued (not delivered yet).
    pub queued: u64,
    /// Delivered and not answered yet.
    pub in_flight: u64,
    /// Accepted `/response` posts.
    pub responses: u64,
    /// Accepted `/error` posts.
    pub errors: u64,
    /// Posts for an id that was already answered (answered 400).
    pub duplicate_answers: u64,
    /// Posts for an id that was never delivered (answered 400).
    pub unknown_answers: u64,
    /// `/runtime/init/error` posts.
    pub init_errors: u64,
    /// Requests on any other path/method (answered 404).
    pub not_found: u64,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Invocation)>,
    /// Delivered, waiting for an answer.
    in_flight: HashSet<String>,
    /// Every delivery ever made, by id.
    deliveries: HashMap<String, Delivery>,
    outcomes: HashMap<String, Outcome>,
    /// Enqueued and not answered yet (to check "exactly once").
    unanswered: HashSet<String>,
    init_errors: Vec<InitError>,
    stats: Stats,
}

struct State {
    inner: Mutex<Inner>,
    /// Woken when an invocation is queued.
    queued: Notify,
    /// Woken when an outcome or an init error is recorded.
    answered: Notify,
    /// Connection tasks, aborted on drop.
    tasks: Mutex<Vec<AbortHandle>>,
    id_prefix: u64,
    next_id: AtomicU64,
}

/// The fake Runtime API server. Dropping it stops the server.
pub struct FakeRuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    accept_task: AbortHandle,
}

impl FakeRuntimeApi {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> FakeRuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let state = Arc::new(State {
            inner: Mutex::new(Inner::default()),
            queued: Notify::new(),
            answered: Notify::new(),
            tasks: Mutex::new(Vec::new()),
            id_prefix: (nanos ^ ((std::process::id() as u64) << 32) ^ addr.port() as u64)
                & 0xffff_ffff,
            next_id: AtomicU64::new(1),
        });
        let accept_state = state.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let conn_state = accept_state.clone();
                let handle = tokio::spawn(async move {
                    let service = service_fn(move |req| handle(conn_state.clone(), req));
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                let mut tasks = accept_state.tasks.lock().unwrap();
                tasks.retain(|t| !t.is_finished());
                tasks.push(handle.abort_handle());
            }
        })
        .abort_handle();
        FakeRuntimeApi {
            addr,
            state,
            accept_task,
        }
    }

    /// `host:port`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Enqueues an invocation and returns its request id.
    pub fn invoke(&self, invocation: Invocation) -> String {
        let mut invocation = invocation;
        let n = self.state.next_id.fetch_add(1, Ordering::Relaxed);
        let id = invocation.request_id.take().unwrap_or_else(|| {
            format!(
                "{:08x}-{:04x}-4000-8000-{:012x}",
                self.state.id_prefix,
                (n >> 48) & 0xffff,
                n & 0xffff_ffff_ffff
            )
        });
        if invocation.trace_id.as_deref() == Some("") {
            invocation.trace_id = Some(format!(
                "Root=1-{:08x}-{:012x}{:012x};Parent={:016x};Sampled=0",
                self.state.id_prefix, n, self.state.id_prefix, n
            ));
        }
        {
            let mut inner = self.state.inner.lock().unwrap();
            inner.unanswered.insert(id.clone());
            inner.stats.enqueued += 1;
            inner.queue.push_back((id.clone(), invocation));
        }
        self.state.queued.notify_waiters();
        id
    }

    /// The answer for `request_id`, waiting up to `timeout`; `None` when none came.
    pub async fn try_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.answered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(o) = self.state.inner.lock().unwrap().outcomes.get(request_id) {
                return Some(o.clone());
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Like [`try_outcome`](Self::try_outcome), and forgets the invocation
    /// (its outcome and delivery record) so a long benchmark holds no
    /// history; the counters stay. A later post for that id counts as unknown.
    pub async fn take_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.answered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.state.inner.lock().unwrap();
                if let Some(o) = inner.outcomes.remove(request_id) {
                    inner.deliveries.remove(request_id);
                    return Some(o);
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The answer for `request_id`; panics (with the counters) after `timeout`.
    #[track_caller]
    pub fn outcome<'a>(
        &'a self,
        request_id: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Outcome> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            match self.try_outcome(request_id, timeout).await {
                Some(o) => o,
                None => panic!(
                    "{caller}: no answer for request {request_id} within {timeout:?}; {:?}",
                    self.stats()
                ),
            }
        }
    }

    /// The first `/runtime/init/error`, waiting up to `timeout`.
    pub async fn init_error(&self, timeout: Duration) -> Option<InitError> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.answered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(e) = self.state.inner.lock().unwrap().init_errors.first() {
                return Some(e.clone());
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Every init error recorded so far.
    pub fn init_errors(&self) -> Vec<InitError> {
        self.state.inner.lock().unwrap().init_errors.clone()
    }

    /// What was sent for a delivered invocation.
    pub fn delivery(&self, request_id: &str) -> Option<Delivery> {
        self.state
            .inner
            .lock()
            .unwrap()
            .deliveries
            .get(request_id)
            .cloned()
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let inner = self.state.inner.lock().unwrap();
        let mut s = inner.stats.clone();
        s.queued = inner.queue.len() as u64;
        s.in_flight = inner.in_flight.len() as u64;
        s
    }

    /// Every enqueued id was delivered once and answered exactly once; no
    /// post was duplicated or for an unknown id; nothing is left queued.
    #[track_caller]
    pub fn assert_all_answered_once(&self) {
        let inner = self.state.inner.lock().unwrap();
        let unanswered = &inner.unanswered;
        let stats = &inner.stats;
        assert!(
            unanswered.is_empty(),
            "unanswered request ids {unanswered:?}; {stats:?}"
        );
        assert_eq!(
            stats.duplicate_answers, 0,
            "an id was answered twice; {stats:?}"
        );
        assert_eq!(
            stats.unknown_answers, 0,
            "answer for an unknown id; {stats:?}"
        );
        assert_eq!(stats.delivered, stats.enqueued, "{stats:?}");
        assert_eq!(stats.responses + stats.errors, stats.enqueued, "{stats:?}");
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.accept_task.abort();
        for t in self.state.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

fn epoch_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn accepted() -> Response<Full<Bytes>> {
    reply(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"status":"OK"}"#),
    )
}

fn parse_body(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        serde_json::Value::String(format!("<not JSON: {e}> {}", String::from_utf8_lossy(body)))
    })
}

fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(rest) = req.uri().path().strip_prefix(BASE).map(str::to_owned) else {
        state.inner.lock().unwrap().stats.not_found += 1;
        return Ok(reply(StatusCode::NOT_FOUND, Bytes::from_static(b"{}")));
    };
    let method = req.method().clone();
    if method == Method::GET && rest == "invocation/next" {
        return Ok(next(&state).await);
    }
    if method == Method::POST && rest == "init/error" {
        let header = error_type_header(&req);
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        {
            let mut inner = state.inner.lock().unwrap();
            inner.stats.init_errors += 1;
            inner.init_errors.push(InitError {
                error_type_header: header,
                body: parse_body(&body),
            });
        }
        state.answered.notify_waiters();
        return Ok(accepted());
    }
    let answer = match rest
        .strip_prefix("invocation/")
        .and_then(|r| r.rsplit_once('/'))
    {
        Some((id, kind)) if method == Method::POST && (kind == "response" || kind == "error") => {
            Some((id.to_string(), kind == "response"))
        }
        _ => None,
    };
    if let Some((id, is_response)) = answer {
        let header = error_type_header(&req);
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let status = {
            let mut inner = state.inner.lock().unwrap();
            if inner.in_flight.remove(&id) {
                let outcome = if is_response {
                    inner.stats.responses += 1;
                    Outcome::Response(body)
                } else {
                    inner.stats.errors += 1;
                    Outcome::Error {
                        error_type_header: header,
                        body: parse_body(&body),
                    }
                };
                inner.unanswered.remove(&id);
                inner.outcomes.insert(id, outcome);
                StatusCode::ACCEPTED
            } else if inner.outcomes.contains_key(&id) {
                inner.stats.duplicate_answers += 1;
                StatusCode::BAD_REQUEST
            } else {
                inner.stats.unknown_answers += 1;
                StatusCode::BAD_REQUEST
            }
        };
        if status == StatusCode::ACCEPTED {
            state.answered.notify_waiters();
            return Ok(accepted());
        }
        return Ok(reply(
            status,
            Bytes::from_static(
                br#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
            ),
        ));
    }
    state.inner.lock().unwrap().stats.not_found += 1;
    Ok(reply(StatusCode::NOT_FOUND, Bytes::from_static(b"{}")))
}

async fn next(state: &State) -> Response<Full<Bytes>> {
    let (id, inv, deadline_header) = loop {
        let notified = state.queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut inner = state.inner.lock().unwrap();
            if let Some((id, inv)) = inner.queue.pop_front() {
                let deadline_header = match &inv.deadline {
                    Deadline::After(d) => (epoch_ms_now() + d.as_millis() as u64).to_string(),
                    Deadline::EpochMs(ms) => ms.to_string(),
                    Deadline::Raw(raw) => raw.clone(),
                };
                let delivery = Delivery {
                    deadline_header: deadline_header.clone(),
                };
                inner.in_flight.insert(id.clone());
                inner.deliveries.insert(id.clone(), delivery);
                inner.stats.delivered += 1;
                break (id, inv, deadline_header);
            }
        }
        notified.await;
    };
    let mut r = Response::new(Full::new(inv.event));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", &id);
    put("lambda-runtime-deadline-ms", &deadline_header);
    put("lambda-runtime-invoked-function-arn", &inv.arn);
    if let Some(t) = &inv.trace_id {
        put("lambda-runtime-trace-id", t);
    }
    if let Some(c) = &inv.client_context {
        put("lambda-runtime-client-context", c);
    }
    if let Some(c) = &inv.cognito_identity {
        put("lambda-runtime-cognito-identity", c);
    }
    r
}
