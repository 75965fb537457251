//! Test mode as a server: a local endpoint speaking Lambda's Invoke API
//! (`POST /2015-03-31/functions/{name}/invocations`), so `curl`, the AWS CLI
//! (`--endpoint-url`) and AWS SDKs can call a handler on a laptop.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::function::{Function, InitReport};
use crate::invocation::Outcome;
use crate::local::{self, local_invocation, run_reported};
use crate::settings::LocalOptions;

/// The largest event accepted, as Lambda's synchronous invoke payload limit.
const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

struct Server {
    function: Mutex<Function>,
    init: std::sync::Mutex<Option<InitReport>>,
}

/// What `lambda-wasm serve` serves, and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The function.
    pub function: LocalOptions,
    /// The address to listen on.
    pub listen: std::net::SocketAddr,
}

/// `lambda-wasm serve`: loads the function, then answers invocations until interrupted.
pub async fn serve(options: &ServeOptions) -> ExitCode {
    let (function, init) = match local::load(&options.function).await {
        Ok(loaded) => loaded,
        Err(_) => return ExitCode::from(2),
    };
    let listener = match TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "lambda-wasm: cannot listen on {}: {error}; pick another with --listen",
                options.listen
            );
            return ExitCode::from(2);
        }
    };
    let address = listener.local_addr().map_or(options.listen, |a| a);
    eprintln!(
        "lambda-wasm: serving {} on http://{address}/2015-03-31/functions/function/invocations",
        options.function.handler
    );
    let server = Arc::new(Server {
        function: Mutex::new(function),
        init: std::sync::Mutex::new(Some(init)),
    });
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        };
        let (stream, _) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {error}");
            }
        });
    }
}

impl Server {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let is_invoke =
            path.starts_with("/2015-03-31/functions/") && path.ends_with("/invocations");
        if request.method() != Method::POST || !is_invoke {
            return aws_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!(
                    "{} {path} is not served here; POST /2015-03-31/functions/function/invocations",
                    request.method()
                ),
            );
        }
        let asynchronous = request
            .headers()
            .get("x-amz-invocation-type")
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"Event"));
        let event = match Limited::new(request.into_body(), MAX_EVENT_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                return aws_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLargeException",
                    &format!("the event is over {MAX_EVENT_BYTES} bytes"),
                );
            }
        };
        let event = if event.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            event
        };
        let mut function = self.function.lock().await;
        let invocation = local_invocation(event, function.settings(), SystemTime::now());
        let init = self.init.lock().unwrap_or_else(|p| p.into_inner()).take();
        let outcome = run_reported(&mut function, &invocation, init).await;
        let version = function.settings().function_version.clone();
        drop(function);
        let builder = Response::builder()
            .header("x-amzn-requestid", &invocation.context.request_id)
            .header("x-amz-executed-version", version)
            .header(http::header::CONTENT_TYPE, "application/json");
        let response = match (asynchronous, outcome) {
            (true, _) => builder
                .status(StatusCode::ACCEPTED)
                .body(Full::new(Bytes::new())),
            (false, Outcome::Response(json)) => builder
                .status(StatusCode::OK)
                .body(Full::new(Bytes::from(String::from(Box::<str>::from(json))))),
            (false, Outcome::Error(error)) => builder
                .status(StatusCode::OK)
                .header("x-amz-function-error", "Unhandled")
                .body(Full::new(Bytes::from(
                    error.to_json(&invocation.context.request_id),
                ))),
        };
        response.expect("static headers and a request id are valid")
    }
}

/// An error in the shape AWS's Lambda API uses for its own failures.
fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "Type": "User", "message": message }).to_string();
    Response::builder()
        .status(status)
        .header("x-amzn-errortype", error_type)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static headers are valid")
}
