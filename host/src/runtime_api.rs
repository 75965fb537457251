//! The Lambda Runtime API: one struct per request, each with its test
//! beneath it, and the client that sends them.
//!
//! The host drives this loop itself rather than through `lambda_runtime`'s
//! `Runtime`, for three reasons that each lost invocations or memory there:
//! it parses `Lambda-Runtime-Client-Context` and
//! `Lambda-Runtime-Cognito-Identity` into fixed structs and ends its loop
//! when a caller's JSON does not fit them (that invocation is never
//! answered); it calls `std::env::set_var("_X_AMZN_TRACE_ID")` for every
//! event, which glibc never frees (about 150 bytes per event); and its
//! error type cannot carry Lambda's `requestId` and `stackTrace`. The HTTP
//! client underneath is still the one `lambda_runtime` uses,
//! `lambda_runtime_api_client`.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, PooledClient};

use crate::errors::LambdaError;
use crate::invocation::{Invocation, InvocationContext, compact_json};
use crate::limits::{Deadline, deadline_from_header};

/// The header that names the request id on `next`.
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";

/// The headers of a `next` response that the host reads.
mod next_header {
    pub const REQUEST_ID: &str = super::REQUEST_ID;
    pub const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
    pub const INVOKED_FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
    pub const TRACE_ID: &str = "lambda-runtime-trace-id";
    pub const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
    pub const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
    pub const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
}

/// The values of the [`next_header`]s, found in one pass over the map
/// (seven `HeaderMap::get`s hashed a name each: ~1,800 instructions per
/// event). The first value of a repeated header counts, as with `get`.
#[derive(Default)]
struct NextHeaders<'a> {
    request_id: Option<&'a HeaderValue>,
    deadline_ms: Option<&'a HeaderValue>,
    invoked_function_arn: Option<&'a HeaderValue>,
    trace_id: Option<&'a HeaderValue>,
    client_context: Option<&'a HeaderValue>,
    cognito_identity: Option<&'a HeaderValue>,
    tenant_id: Option<&'a HeaderValue>,
}

impl<'a> NextHeaders<'a> {
    fn read(headers: &'a HeaderMap) -> Self {
        let mut found = Self::default();
        for (name, value) in headers {
            let slot = match name.as_str() {
                next_header::REQUEST_ID => &mut found.request_id,
                next_header::DEADLINE_MS => &mut found.deadline_ms,
                next_header::INVOKED_FUNCTION_ARN => &mut found.invoked_function_arn,
                next_header::TRACE_ID => &mut found.trace_id,
                next_header::CLIENT_CONTEXT => &mut found.client_context,
                next_header::COGNITO_IDENTITY => &mut found.cognito_identity,
                next_header::TENANT_ID => &mut found.tenant_id,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// The header naming a function error's type on `error` and `init/error`.
const FUNCTION_ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// A request to the Runtime API.
pub trait IntoRequest {
    /// The HTTP request, its path relative to the API's base.
    fn into_request(self) -> Result<Request<Body>, BoxError>;
}

/// A request with the client's `User-Agent`, as
/// `lambda_runtime_api_client::build_request` makes it, whose value is
/// taken from there once: that function looks the header's name up from
/// text and checks the value for every request (~860 instructions).
fn request() -> http::request::Builder {
    static CLIENT_USER_AGENT: LazyLock<HeaderValue> = LazyLock::new(|| {
        let request = lambda_runtime_api_client::build_request().body(());
        request
            .expect("the client's own request is valid")
            .headers()[USER_AGENT]
            .clone()
    });
    Request::builder().header(USER_AGENT, CLIENT_USER_AGENT.clone())
}

/// `GET /runtime/invocation/next`: blocks until Lambda has an event.
pub struct NextEventRequest;

impl IntoRequest for NextEventRequest {
    fn into_request(self) -> Result<Request<Body>, BoxError> {
        // Parsed once: a `Uri` from text is parsed on every request (~1,000
        // instructions per event), a clone of this one shares its bytes.
        static NEXT: LazyLock<Uri> =
            LazyLock::new(|| Uri::from_static("/2018-06-01/runtime/invocation/next"));
        Ok(request()
            .method(Method::GET)
            .uri(NEXT.clone())
            .body(Body::empty())?)
    }
}

/// `Content-Type: application/json`, checked once, not per request.
const JSON_CONTENT: HeaderValue = HeaderValue::from_static("application/json");

/// `POST /runtime/invocation/{id}/response`: the function's result.
pub struct EventCompletionRequest<'a> {
    /// The invocation answered.
    pub request_id: &'a str,
    /// The validated JSON response.
    pub body: String,
}

impl IntoRequest for EventCompletionRequest<'_> {
    fn into_request(self) -> Result<Request<Body>, BoxError> {
        Ok(request()
            .method(Method::POST)
            .uri(invocation_path(self.request_id, "response"))
            .header(CONTENT_TYPE, JSON_CONTENT)
            .body(Body::from(self.body))?)
    }
}

/// `POST /runtime/invocation/{id}/error`: a function error, in Lambda's
/// error body with the request id.
pub struct EventErrorRequest<'a> {
    /// The invocation answered.
    pub request_id: &'a str,
    /// What went wrong.
    pub error: &'a LambdaError,
}

impl IntoRequest for EventErrorRequest<'_> {
    fn into_request(self) -> Result<Request<Body>, BoxError> {
        error_request(
            invocation_path(self.request_id, "error"),
            self.error,
            self.request_id,
        )
    }
}

/// `POST /runtime/init/error`: the function could not start; the process
/// exits after sending it.
pub struct InitErrorRequest<'a> {
    /// Why init failed.
    pub error: &'a LambdaError,
}

impl IntoRequest for InitErrorRequest<'_> {
    fn into_request(self) -> Result<Request<Body>, BoxError> {
        error_request("/2018-06-01/runtime/init/error".into(), self.error, "")
    }
}

fn error_request(
    path: String,
    error: &LambdaError,
    request_id: &str,
) -> Result<Request<Body>, BoxError> {
    let error_type =
        HeaderValue::from_str(&error.error_type).unwrap_or(HeaderValue::from_static("Unhandled"));
    Ok(request()
        .method(Method::POST)
        .uri(path)
        .header(CONTENT_TYPE, JSON_CONTENT)
        .header(FUNCTION_ERROR_TYPE, error_type)
        .body(Body::from(error.to_json(request_id)))?)
}

/// `/2018-06-01/runtime/invocation/{request_id}/{action}`, built in one
/// allocation: this runs for every event (a `String` per byte and `format!`
/// cost ~8,000 instructions per event, a third of the bootstrap's overhead
/// over the native runtime; BENCHMARKS.md, "Rust guest at native speed").
fn invocation_path(request_id: &str, action: &str) -> String {
    const PREFIX: &str = "/2018-06-01/runtime/invocation/";
    let mut path = String::with_capacity(PREFIX.len() + 3 * request_id.len() + 1 + action.len());
    path.push_str(PREFIX);
    push_percent_encoded(&mut path, request_id);
    path.push('/');
    path.push_str(action);
    path
}

/// Appends `segment` percent-encoded: request ids are UUIDs on Lambda;
/// anything else is escaped to stay one path segment.
fn push_percent_encoded(path: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    // A UUID has nothing to escape: one copy, not a `push` per byte.
    if segment.bytes().all(unreserved) {
        path.push_str(segment);
        return;
    }
    for b in segment.bytes() {
        if unreserved(b) {
            path.push(char::from(b));
        } else {
            path.push('%');
            path.push(char::from(HEX[usize::from(b >> 4)]));
            path.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// What a `next` response held.
#[derive(Debug)]
pub enum NextEvent {
    /// An invocation to run and answer.
    Invocation {
        /// The event and its context.
        invocation: Invocation,
        /// Set when the deadline header was unusable and the function's
        /// timeout stands in for it.
        deadline_warning: Option<String>,
    },
    /// An event without a request id: nothing can answer it.
    Unanswerable(String),
    /// `204 No Content`: some local emulators end a long poll this way when
    /// no event came; ask again.
    NoEvent,
}

impl NextEvent {
    /// Reads the event and its context from a `next` response's headers and
    /// body. Headers are read leniently: a client context or identity that is
    /// not JSON is treated as absent, since the handler can do nothing with it.
    pub fn from_response(
        headers: &HeaderMap,
        body: Bytes,
        settings_timeout: std::time::Duration,
    ) -> Self {
        let found = NextHeaders::read(headers);
        fn text(value: Option<&HeaderValue>) -> Option<Cow<'_, str>> {
            value.map(|value| header_text(value.as_bytes()))
        }
        fn header(value: Option<&HeaderValue>) -> Option<String> {
            text(value).map(Cow::into_owned)
        }
        let Some(request_id) = header(found.request_id).filter(|id| !id.is_empty()) else {
            return Self::Unanswerable(format!(
                "an event of {} bytes came without a Lambda-Runtime-Aws-Request-Id header",
                body.len()
            ));
        };
        let deadline_ms = text(found.deadline_ms).and_then(|ms| ms.trim().parse().ok());
        let Deadline { at, warning } =
            deadline_from_header(deadline_ms, SystemTime::now(), settings_timeout);
        let context = InvocationContext {
            request_id,
            deadline: at,
            invoked_function_arn: header(found.invoked_function_arn).unwrap_or_default(),
            trace_id: header(found.trace_id),
            client_context: text(found.client_context).and_then(|json| compact_json(&json)),
            cognito_identity: text(found.cognito_identity).and_then(|json| compact_json(&json)),
            tenant_id: header(found.tenant_id),
        };
        Self::Invocation {
            invocation: Invocation {
                event: body,
                context,
            },
            deadline_warning: warning,
        }
    }
}

/// A header value as text, any invalid UTF-8 replaced (`from_utf8` checks
/// ASCII a word at a time; `from_utf8_lossy` goes byte by byte).
fn header_text(bytes: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(bytes).map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
}

/// The Runtime API at `AWS_LAMBDA_RUNTIME_API`.
#[derive(Debug)]
pub struct RuntimeApi {
    client: PooledClient,
    /// The `Host` of every request, made once (see [`host_header`]).
    host: HeaderValue,
}

impl RuntimeApi {
    /// The client for `address` (`host:port`, or a URL with a path); an
    /// error says what is wrong with it.
    pub fn new(address: &str) -> Result<Self, LambdaError> {
        let uri = address
            .parse::<Uri>()
            .ok()
            .filter(|uri| uri.authority().is_some())
            .ok_or_else(|| {
                LambdaError::configuration(format!(
                    "AWS_LAMBDA_RUNTIME_API={address:?} is not a host:port or a URL (with a path, write it as http://host:port/path)"
                ))
            })?;
        let host = host_header(&uri).ok_or_else(|| {
            LambdaError::configuration(format!(
                "AWS_LAMBDA_RUNTIME_API={address:?}: its host is not a valid Host header"
            ))
        })?;
        Ok(Self {
            client: PooledClient::builder().with_endpoint(uri).build(),
            host,
        })
    }

    /// Sends `request` with its `Host` set: hyper_util's client would
    /// otherwise `format!` it for every request (~1,000 instructions).
    fn call(
        &self,
        mut request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Incoming>, BoxError>> + use<> {
        request.headers_mut().insert(HOST, self.host.clone());
        self.client.call(request)
    }

    /// Waits for the next event.
    pub async fn next_event(
        &self,
        settings_timeout: std::time::Duration,
    ) -> Result<NextEvent, BoxError> {
        let response = self.call(NextEventRequest.into_request()?).await?;
        let status = response.status();
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!(
                "the Runtime API answered {status} to GET next: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )
            .into());
        }
        if status == StatusCode::NO_CONTENT {
            return Ok(NextEvent::NoEvent);
        }
        Ok(NextEvent::from_response(
            &parts.headers,
            body,
            settings_timeout,
        ))
    }

    /// Sends `request` and checks that the Runtime API accepted it.
    pub async fn send(&self, request: impl IntoRequest) -> Result<(), BoxError> {
        let request = request.into_request()?;
        let path = request.uri().path().to_string();
        let response = self.call(request).await?;
        let status = response.status();
        // Read the body so the connection goes back to the pool.
        let body = response.into_body().collect().await?.to_bytes();
        match status {
            status if status.is_success() => Ok(()),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Err("the Runtime API refused the payload as too large (413)".into())
            }
            status => Err(format!(
                "the Runtime API answered {status} to POST {path}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )
            .into()),
        }
    }
}

/// The `Host` header hyper_util's client writes for requests to `api` (the
/// host, and the port unless it is the scheme's default); `None` when the
/// address has no authority or the host is not a header value.
fn host_header(api: &Uri) -> Option<HeaderValue> {
    let authority = api.authority()?;
    let default_port = if api.scheme() == Some(&http::uri::Scheme::HTTPS) {
        443
    } else {
        80
    };
    match authority.port() {
        Some(port) if port.as_u16() != default_port => {
            HeaderValue::from_str(&format!("{}:{port}", authority.host())).ok()
        }
        _ => HeaderValue::from_str(authority.host()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

    async fn body_text(request: Request<Body>) -> String {
        let bytes = request.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn next_event_request() {
        let request = NextEventRequest.into_request().unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "/2018-06-01/runtime/invocation/next");
    }

    #[tokio::test]
    async fn event_completion_request() {
        let request = EventCompletionRequest {
            request_id: ID,
            body: r#"{"ok":true}"#.into(),
        }
        .into_request()
        .unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            request.uri(),
            "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response"
        );
        assert_eq!(body_text(request).await, r#"{"ok":true}"#);
    }

    #[tokio::test]
    async fn event_error_request() {
        let error = LambdaError::new("ValueError", "bad");
        let request = EventErrorRequest {
            request_id: ID,
            error: &error,
        }
        .into_request()
        .unwrap();
        assert_eq!(
            request.uri(),
            "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/error"
        );
        assert_eq!(request.headers()[FUNCTION_ERROR_TYPE], "ValueError");
        let body: serde_json::Value = serde_json::from_str(&body_text(request).await).unwrap();
        assert_eq!(body["requestId"], ID);
        assert_eq!(body["errorType"], "ValueError");
    }

    #[tokio::test]
    async fn init_error_request() {
        let error = LambdaError::new("Runtime.ImportModuleError", "Unable to import module 'x'");
        let request = InitErrorRequest { error: &error }.into_request().unwrap();
        assert_eq!(request.uri(), "/2018-06-01/runtime/init/error");
        assert_eq!(
            request.headers()[FUNCTION_ERROR_TYPE],
            "Runtime.ImportModuleError"
        );
        let body: serde_json::Value = serde_json::from_str(&body_text(request).await).unwrap();
        assert_eq!(body["requestId"], "");
    }

    #[test]
    fn request_ids_stay_one_path_segment() {
        let encoded = |segment: &str| {
            let mut path = String::new();
            push_percent_encoded(&mut path, segment);
            path
        };
        assert_eq!(encoded(ID), ID);
        assert_eq!(encoded("a/b c"), "a%2Fb%20c");
        assert_eq!(encoded("é~"), "%C3%A9~");
        assert_eq!(
            invocation_path("a/b", "error"),
            "/2018-06-01/runtime/invocation/a%2Fb/error"
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn invocation(event: NextEvent) -> (Invocation, Option<String>) {
        match event {
            NextEvent::Invocation {
                invocation,
                deadline_warning,
            } => (invocation, deadline_warning),
            other => panic!("not an invocation: {other:?}"),
        }
    }

    #[test]
    fn next_event_reads_every_context_header() {
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 3000;
        let (invocation, warning) = invocation(NextEvent::from_response(
            &headers(&[
                (REQUEST_ID, ID),
                ("lambda-runtime-deadline-ms", &deadline_ms.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:1:function:f",
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700",
                ),
                ("lambda-runtime-client-context", r#"{"custom": {"a": 1}}"#),
                (
                    "lambda-runtime-cognito-identity",
                    r#"{"cognitoIdentityId": "only-id"}"#,
                ),
                ("lambda-runtime-aws-tenant-id", "tenant-1"),
            ]),
            Bytes::from_static(b"{}"),
            Duration::from_secs(3),
        ));
        assert!(warning.is_none());
        let context = invocation.context;
        assert_eq!(context.request_id, ID);
        assert_eq!(context.deadline_ms(), deadline_ms);
        assert_eq!(
            context.invoked_function_arn,
            "arn:aws:lambda:us-east-1:1:function:f"
        );
        assert_eq!(
            context.trace_id.as_deref(),
            Some("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700")
        );
        assert_eq!(
            context.client_context.as_deref(),
            Some(r#"{"custom":{"a":1}}"#)
        );
        assert_eq!(
            context.cognito_identity.as_deref(),
            Some(r#"{"cognitoIdentityId":"only-id"}"#)
        );
        assert_eq!(context.tenant_id.as_deref(), Some("tenant-1"));
        assert_eq!(invocation.event, Bytes::from_static(b"{}"));
    }

    #[test]
    fn next_event_tolerates_headers_it_cannot_use() {
        let (invocation, warning) = invocation(NextEvent::from_response(
            &headers(&[
                (REQUEST_ID, ID),
                ("lambda-runtime-deadline-ms", "600000"),
                ("lambda-runtime-client-context", "not json"),
                ("lambda-runtime-cognito-identity", "{"),
            ]),
            Bytes::new(),
            Duration::from_secs(3),
        ));
        assert!(warning.unwrap().contains("600000"));
        assert!(invocation.context.remaining() <= Duration::from_secs(3));
        assert_eq!(invocation.context.client_context, None);
        assert_eq!(invocation.context.cognito_identity, None);
        assert_eq!(invocation.context.trace_id, None);
    }

    #[test]
    fn next_event_takes_the_first_of_repeated_headers() {
        let (invocation, _) = invocation(NextEvent::from_response(
            &headers(&[
                ("x-other", "ignored"),
                (REQUEST_ID, ID),
                ("lambda-runtime-trace-id", "Root=first"),
                (REQUEST_ID, "second-id"),
                ("lambda-runtime-trace-id", "Root=second"),
            ]),
            Bytes::new(),
            Duration::from_secs(3),
        ));
        assert_eq!(invocation.context.request_id, ID);
        assert_eq!(invocation.context.trace_id.as_deref(), Some("Root=first"));
    }

    #[test]
    fn next_event_without_request_id_is_unanswerable() {
        let event = NextEvent::from_response(
            &HeaderMap::new(),
            Bytes::from_static(b"{}"),
            Duration::from_secs(3),
        );
        assert!(matches!(event, NextEvent::Unanswerable(why) if why.contains("Request-Id")));
    }

    /// A Runtime API that answers each request on its own connection with
    /// the next of `responses` (raw HTTP): its address, and the requests'
    /// heads as it received them.
    async fn scripted_api(
        responses: Vec<&'static str>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (received, requests) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for response in responses {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 4096];
                let len = stream.read(&mut request).await.unwrap_or(0);
                let _ = received.send(String::from_utf8_lossy(&request[..len]).into_owned());
                stream.write_all(response.as_bytes()).await.unwrap();
            }
        });
        (address, requests)
    }

    /// The `Host` and `User-Agent` the host sets itself are the ones the
    /// client would have written.
    #[tokio::test]
    async fn requests_name_the_api_host_and_the_client() {
        let (address, mut requests) = scripted_api(vec![
            "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ])
        .await;
        let api = RuntimeApi::new(&address).unwrap();
        let answer = EventCompletionRequest {
            request_id: ID,
            body: "{}".into(),
        };
        api.send(answer).await.unwrap();
        let head = requests.recv().await.unwrap().to_ascii_lowercase();
        assert!(head.contains(&format!("\r\nhost: {address}\r\n")), "{head}");
        assert!(head.contains("\r\nuser-agent: aws-lambda-rust/"), "{head}");
    }

    #[test]
    fn host_header_leaves_out_the_default_port() {
        let host = |api: &str| host_header(&api.parse().unwrap()).unwrap();
        assert_eq!(host("127.0.0.1:9001"), "127.0.0.1:9001");
        assert_eq!(host("http://localhost:80/prefix"), "localhost");
        assert_eq!(host("https://api.example:443"), "api.example");
        assert_eq!(host("https://api.example:80"), "api.example:80");
    }

    #[tokio::test]
    async fn next_event_over_http() {
        let (address, _requests) = scripted_api(vec![
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\ngone",
        ])
        .await;
        let api = RuntimeApi::new(&address).unwrap();
        let timeout = Duration::from_secs(3);
        assert!(matches!(
            api.next_event(timeout).await.unwrap(),
            NextEvent::NoEvent
        ));
        let (invocation, _) = invocation(api.next_event(timeout).await.unwrap());
        assert_eq!(invocation.context.request_id, "req-1");
        assert_eq!(invocation.event, Bytes::from_static(b"{}"));
        let error = api.next_event(timeout).await.unwrap_err().to_string();
        assert!(error.contains("500") && error.contains("gone"), "{error}");
    }

    #[test]
    fn api_addresses() {
        assert!(RuntimeApi::new("127.0.0.1:9001").is_ok());
        assert!(RuntimeApi::new("http://127.0.0.1:9001/prefix").is_ok());
        assert!(
            RuntimeApi::new("not a host")
                .unwrap_err()
                .error_message
                .contains("host:port")
        );
        assert!(RuntimeApi::new("/only/a/path").is_err());
    }
}
