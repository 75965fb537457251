//! End-to-end tests of outbound HTTP (issue 12): a Python handler on the
//! built `lambda-wasm` (`serve`, and the bootstrap for the Runtime API's own
//! address) reaches a local HTTP server through the host, under the
//! allow-list; denials, limits and signing are seen from inside the guest,
//! and every failure is followed by an event that succeeds.
//!
//! boto3 against moto (PyPI `moto[server]`, in `.tools/venv` from `make
//! tools`) runs when both can be installed; otherwise those tests print
//! SKIPPED (and fail under `LAMBDA_WASM_REQUIRE_ALL=1`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::python_mode::require_python;
use crate::support::*;

/// The handler: each event names an operation on the network.
const HANDLER: &str = r#"
import http.client
import json
import os
import urllib.error
import urllib.request


def fetch(url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return {"status": r.status, "body": r.read().decode(), "type": r.headers.get("content-type")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode()}
    except urllib.error.URLError as e:
        return {"error": "URLError", "reason": str(e.reason)}


def lambda_handler(event, context):
    op = event["op"]
    if op == "get":
        return fetch(event["url"])
    if op == "post":
        conn = http.client.HTTPConnection(event["host"], event["port"])
        conn.request("POST", "/echo", body=event["body"].encode(), headers={"Content-Type": "text/plain"})
        r = conn.getresponse()
        return {"status": r.status, "body": r.read().decode(), "method": r.getheader("x-got-method")}
    if op == "signed":
        key = os.environ.get("AWS_ACCESS_KEY_ID", "")
        auth = "AWS4-HMAC-SHA256 Credential=%s/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00" % key
        out = fetch(event["url"], headers={"Authorization": auth, "X-Amz-Date": "20260101T000000Z", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
        out["guest_key"] = key
        out["env"] = "\n".join("%s=%s" % kv for kv in os.environ.items())
        return out
    if op == "timed":
        import time
        micros = []
        for _ in range(event["count"]):
            started = time.perf_counter()
            with urllib.request.urlopen(event["url"]) as r:
                r.read()
            micros.append((time.perf_counter() - started) * 1e6)
        return {"micros": micros}
    if op == "tls":
        import ssl
        try:
            urllib.request.urlopen(event["url"], timeout=30)
        except urllib.error.URLError as e:
            r = e.reason
            kinds = {"ssl_error": ssl.SSLError, "value_error": ValueError, "os_error": OSError}
            out = {name: isinstance(r, kind) for name, kind in kinds.items()}
            out.update(type=type(r).__name__, reason=str(r), verify_code=r.verify_code, verify_message=r.verify_message)
        conn = http.client.HTTPSConnection(event["host"], event["port"])
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as e:
            out["at_connect"] = e.verify_message
        return out
    if op == "many":
        n = 0
        for _ in range(event["count"]):
            with urllib.request.urlopen(event["url"]) as r:
                r.read()
                n += 1
        return {"count": n}
    raise ValueError(op)
"#;

// ---------------------------------------------------------------------------
// A local HTTP server the guest calls

/// A small keep-alive HTTP/1.1 server on 127.0.0.1 (one thread per
/// connection) that records the `Authorization` header of every request
/// and counts the connections it accepted.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) authorizations: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    pub(crate) fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen, accepted) = (authorizations.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    while serve_one(&mut reader, &stream, &seen) {}
                });
            }
        });
        TestServer {
            addr,
            authorizations,
            connections,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn allow(&self) -> String {
        self.addr.to_string()
    }
}

/// Answers one request: `/hello`, `/echo` (the body back), `/auth` (the
/// Authorization header back), `/redirect?to=URL`, `/huge` (7 MiB),
/// `/slow` (10 s), else 404. Whether the connection stays open for another.
fn serve_one(
    reader: &mut BufReader<TcpStream>,
    mut stream: &TcpStream,
    seen: &Mutex<Vec<String>>,
) -> bool {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return false;
    }
    let (mut length, mut authorization, mut close) = (0usize, String::new(), false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = value.trim().to_string(),
            "connection" => close = value.trim().eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    seen.lock().unwrap().push(authorization.clone());
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (status, extra, body) = match target.split_once('?').map_or(target.as_str(), |(p, _)| p) {
        "/hello" => ("200 OK", String::new(), b"hello from the server".to_vec()),
        "/echo" => ("200 OK", format!("x-got-method: {method}\r\n"), body),
        "/auth" => ("200 OK", String::new(), authorization.into_bytes()),
        "/redirect" => {
            let to = target.split_once("?to=").map_or("", |(_, to)| to);
            ("302 Found", format!("location: {to}\r\n"), Vec::new())
        }
        "/huge" => ("200 OK", String::new(), vec![b'x'; 7 * 1024 * 1024]),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(10));
            ("200 OK", String::new(), b"late".to_vec())
        }
        _ => ("404 Not Found", String::new(), b"no such path".to_vec()),
    };
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: {connection}\r\n{extra}\r\n",
        body.len()
    );
    // One write: a second small one would wait for the client's delayed ACK.
    let mut response = head.into_bytes();
    response.extend_from_slice(&body);
    stream.write_all(&response).is_ok() && !close
}

// ---------------------------------------------------------------------------
// The function under test

fn handler_root() -> TaskRoot {
    TaskRoot::builder()
        .file("lambda_function.py", HANDLER)
        .build()
}

fn home_env(home: &Path) -> [(&'static str, String); 1] {
    [("LAMBDA_WASM_PYTHON_HOME", home.display().to_string())]
}

/// `serve` of the handler with `args` (e.g. `--allow-host`) and `env`.
fn serve(home: &Path, root: &TaskRoot, args: &[&str], env: &[(&str, &str)]) -> LocalServer {
    let home_env = home_env(home);
    let mut all_env: Vec<(&str, &str)> = home_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all_env.extend_from_slice(env);
    LocalServer::start("lambda_function.lambda_handler", root, args, &all_env)
}

/// The handler served with `--allow-host` naming `web`, and `extra` arguments.
fn serve_allowing(home: &Path, web: &TestServer, extra: &[&str]) -> (TaskRoot, LocalServer) {
    let root = handler_root();
    let allow = web.allow();
    let mut args = vec!["--allow-host", allow.as_str()];
    args.extend_from_slice(extra);
    let server = serve(home, &root, &args, &[]);
    (root, server)
}

pub(crate) fn call(server: &LocalServer, event: Value) -> Value {
    server.invoke(event.to_string().as_bytes()).json()
}

/// The event after a failure: a GET that works.
#[track_caller]
pub(crate) fn assert_next_event_fine(server: &LocalServer, web: &TestServer) {
    let answer = call(server, json!({"op": "get", "url": web.url("/hello")}));
    assert_eq!(answer["body"], "hello from the server", "{answer}");
}

/// The Python handler's answer to a refused request.
#[track_caller]
fn assert_denied(answer: &Value, what: &str, words: &[&str]) {
    assert_refused(answer, "URLError", what, words);
}

/// A handler's answer to a refused request: `{"error": <the class it
/// caught>, "reason": <its message>}`, the message holding `words`.
#[track_caller]
pub(crate) fn assert_refused(answer: &Value, error: &str, what: &str, words: &[&str]) {
    assert_eq!(answer["error"], error, "{what}: {answer}");
    let reason = answer["reason"].as_str().unwrap_or_default();
    for word in words {
        assert!(
            reason.contains(word),
            "{what}: {word:?} missing in {reason:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Requests that work

#[test]
fn urllib_and_http_client_reach_an_allowed_host() {
    let Some(home) = require_python() else { return };
    let web = TestServer::start();
    let (_root, server) = serve_allowing(home, &web, &[]);
    assert_requests_work(&server, &web);
}

/// A handler serving `web` (allowed) answers the events `{"op": "get",
/// "url": URL}` with the response's `status`, `body` and content `type`, and
/// `{"op": "post", "host", "port", "body"}` (a POST to `/echo`) with its
/// `status`, `body` and `method` (the one the server saw): a GET, a 404 (a
/// response, not an error), a POST and a followed redirect.
#[track_caller]
pub(crate) fn assert_requests_work(server: &LocalServer, web: &TestServer) {
    let answer = call(server, json!({"op": "get", "url": web.url("/hello")}));
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["type"], "text/plain");
    let answer = call(server, json!({"op": "get", "url": web.url("/missing")}));
    assert_eq!(
        answer["status"], 404,
        "an HTTP error is a response: {answer}"
    );
    let port = web.addr.port();
    let answer = call(
        server,
        json!({"op": "post", "host": "127.0.0.1", "port": port, "body": "ping"}),
    );
    assert_eq!(
        (
            answer["status"].as_i64(),
            answer["body"].as_str(),
            answer["method"].as_str()
        ),
        (Some(200), Some("ping"), Some("POST")),
        "{answer}"
    );
    let redirect = web.url(&format!("/redirect?to={}", web.url("/hello")));
    let answer = call(server, json!({"op": "get", "url": redirect}));
    assert_eq!(
        answer["body"], "hello from the server",
        "a redirect to an allowed host is followed: {answer}"
    );
}

#[test]
fn a_thousand_requests_in_one_invocation() {
    let Some(home) = require_python() else { return };
    let web = TestServer::start();
    let (_root, server) = serve_allowing(home, &web, &["--timeout", "60"]);
    let started = Instant::now();
    let answer = call(
        &server,
        json!({"op": "many", "url": web.url("/hello"), "count": 1000}),
    );
    assert_eq!(answer["count"], 1000, "{answer}");
    eprintln!("1,000 guest requests took {:?}", started.elapsed());
    assert_eq!(
        web.connections.load(Ordering::SeqCst),
        1,
        "the host keeps one connection alive for all of them (urllib asks for Connection: close; the host decides)"
    );
    assert_next_event_fine(&server, &web);
}

// ---------------------------------------------------------------------------
// Denials

/// A request the host refuses: what it is, and from the allowed server
/// `web` and the unlisted `other`, the URL and the words the guest's error says.
type Refusal = (
    &'static str,
    fn(&TestServer, &TestServer) -> (String, Vec<String>),
);

/// Every refusal one function sees; it allows `web`, and lists the
/// metadata addresses and `localhost` (without a port), which stay refused
/// ([`refusals_allow_list`]).
const REFUSALS: &[Refusal] = &[
    ("a host not in the list", |_, _| {
        let says = [
            "example.com:80",
            "LAMBDA_WASM_ALLOWED_HOSTS",
            "--allow-host",
        ];
        (
            "http://example.com/".into(),
            says.map(String::from).to_vec(),
        )
    }),
    ("another local server", |_, other| {
        (other.url("/hello"), vec![other.allow(), "denied".into()])
    }),
    ("a redirect to a host not in the list", |web, other| {
        let url = web.url(&format!("/redirect?to={}", other.url("/hello")));
        (url, vec![other.allow(), "denied".into()])
    }),
    ("the instance metadata endpoint, though listed", |_, _| {
        let url = "http://169.254.169.254/latest/meta-data/";
        (url.into(), vec!["may never reach".into()])
    }),
    (
        "the container credentials endpoint, though listed",
        |_, _| {
            let url = "http://169.254.170.2/v2/credentials";
            (url.into(), vec!["may never reach".into()])
        },
    ),
    // The name is listed without a port, but it resolves to a loopback
    // address, which needs an exact host:port entry.
    ("a listed name that resolves to loopback", |web, _| {
        let port = web.addr.port();
        let says = [
            "localhost resolves to".into(),
            "loopback".into(),
            format!("localhost:{port}"),
        ];
        (format!("http://localhost:{port}/hello"), says.to_vec())
    }),
    ("a response over the 6 MB cap", |web, _| {
        let says = [
            "larger than 6291456 bytes",
            "LAMBDA_WASM_OUTBOUND_MAX_RESPONSE_BYTES",
        ];
        (web.url("/huge"), says.map(String::from).to_vec())
    }),
];

/// The `--allow-host` arguments of the function [`REFUSALS`] are seen by.
pub(crate) fn refusals_allow_list(web: &TestServer) -> Vec<String> {
    let listed = "169.254.169.254,169.254.170.2:80,localhost";
    ["--allow-host", &web.allow(), "--allow-host", listed]
        .map(String::from)
        .to_vec()
}

/// Every one of [`REFUSALS`] through `get` (a handler's answer to the event
/// `{"op": "get", "url": URL}`), which reports `error`, each followed by a
/// GET of `web` that works; `other` saw no request.
#[track_caller]
pub(crate) fn assert_refusals(
    web: &TestServer,
    other: &TestServer,
    error: &str,
    get: impl Fn(&str) -> Value,
) {
    for (what, case) in REFUSALS {
        let (url, says) = case(web, other);
        let says: Vec<&str> = says.iter().map(String::as_str).collect();
        assert_refused(&get(&url), error, what, &says);
        let answer = get(&web.url("/hello"));
        assert_eq!(
            answer["body"], "hello from the server",
            "after {what}: {answer}"
        );
    }
    assert!(
        other.authorizations.lock().unwrap().is_empty(),
        "the unlisted server saw no request"
    );
}

#[test]
fn refused_requests_say_why_and_the_next_event_is_fine() {
    let Some(home) = require_python() else { return };
    let (web, other) = (TestServer::start(), TestServer::start());
    let root = handler_root();
    let listed = refusals_allow_list(&web);
    let args: Vec<&str> = listed.iter().map(String::as_str).collect();
    let server = serve(home, &root, &args, &[]);
    assert_refusals(&web, &other, "URLError", |url| {
        call(&server, json!({"op": "get", "url": url}))
    });
}

#[test]
fn nothing_is_allowed_by_default() {
    let Some(home) = require_python() else { return };
    let web = TestServer::start();
    let root = handler_root();
    let server = serve(home, &root, &[], &[]);
    let answer = call(&server, json!({"op": "get", "url": web.url("/hello")}));
    assert_denied(
        &answer,
        "by default",
        &["denied", "LAMBDA_WASM_ALLOWED_HOSTS"],
    );
    assert!(web.authorizations.lock().unwrap().is_empty());
}

/// A TLS server on 127.0.0.1 whose certificate, made now, is self-signed:
/// no public root vouches for it, so the host refuses it at the handshake.
fn start_self_signed_tls() -> SocketAddr {
    use tokio_rustls::rustls::{ServerConfig, ServerConnection, crypto, pki_types};
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            // The handshake ends when the client rejects the certificate.
            let mut tls = ServerConnection::new(config.clone()).unwrap();
            let _ = tls.complete_io(&mut stream);
        }
    });
    addr
}

#[test]
fn a_refused_certificate_is_ssl_cert_verification_error_at_connect() {
    let Some(home) = require_python() else { return };
    let (web, tls) = (TestServer::start(), start_self_signed_tls());
    let (_root, server) = serve_allowing(home, &web, &["--allow-host", &tls.to_string()]);
    let event = json!({"op": "tls", "url": format!("https://{tls}/"), "host": "127.0.0.1", "port": tls.port()});
    let answer = call(&server, event);
    assert_eq!(answer["type"], "SSLCertVerificationError", "{answer}");
    for kind in ["ssl_error", "value_error", "os_error"] {
        assert_eq!(answer[kind], true, "{kind}: {answer}");
    }
    assert_eq!(
        (
            answer["verify_code"].as_i64(),
            answer["verify_message"].as_str()
        ),
        (Some(20), Some("unable to get local issuer certificate")),
        "{answer}"
    );
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ")
            && reason.contains("invalid peer certificate: UnknownIssuer"),
        "CPython's text and rustls's reason: {reason}"
    );
    assert_eq!(
        answer["at_connect"], "unable to get local issuer certificate",
        "http.client raises it at connect(): {answer}"
    );
    assert_next_event_fine(&server, &web);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_api_is_never_reachable() {
    let Some(home) = require_python() else { return };
    let api = FakeRuntimeApi::start().await;
    let web = TestServer::start();
    let root = handler_root();
    let allowed = format!("{},{}", api.addr(), web.allow());
    let home = home.display().to_string();
    let mut boot = Bootstrap::spawn(
        &api,
        &root,
        "lambda_function.lambda_handler",
        &[
            ("LAMBDA_WASM_PYTHON_HOME", &home),
            ("LAMBDA_WASM_ALLOWED_HOSTS", &allowed),
        ],
    );
    let next = format!("http://{}/2018-06-01/runtime/invocation/next", api.addr());
    let (_, outcome) = boot
        .call_json(&api, json!({"op": "get", "url": next}))
        .await;
    assert_denied(
        &outcome.json(),
        "the Runtime API",
        &["Lambda Runtime API", "may never reach"],
    );
    let (_, outcome) = boot
        .call_json(&api, json!({"op": "get", "url": web.url("/hello")}))
        .await;
    assert_eq!(outcome.json()["body"], "hello from the server");
}

// ---------------------------------------------------------------------------
// Limits

#[test]
fn a_slow_server_ends_at_the_deadline() {
    let Some(home) = require_python() else { return };
    let web = TestServer::start();
    let (_root, server) = serve_allowing(home, &web, &["--timeout", "2"]);
    assert_slow_server_times_out(&server, &web);
}

/// A GET of `/slow` (10 s) from a handler serving `web` with a 2 s timeout
/// ends in `Task timed out` well before the server answers; the next event
/// is fine.
#[track_caller]
pub(crate) fn assert_slow_server_times_out(server: &LocalServer, web: &TestServer) {
    // An event first, so that the environment's init is not timed.
    assert_next_event_fine(server, web);
    let started = Instant::now();
    let response = server.invoke(
        json!({"op": "get", "url": web.url("/slow")})
            .to_string()
            .as_bytes(),
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert_timed_out(&response.json());
    assert_next_event_fine(server, web);
}

/// An invocation's error body says `Task timed out`.
#[track_caller]
pub(crate) fn assert_timed_out(body: &Value) {
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("Task timed out"),
        "{body}"
    );
}

// ---------------------------------------------------------------------------
// Credentials

#[test]
fn the_host_signs_with_its_key_and_the_guest_never_holds_it() {
    let Some(home) = require_python() else { return };
    let web = TestServer::start();
    let root = handler_root();
    let endpoint = format!("http://{}", web.allow());
    let server = serve(
        home,
        &root,
        &[
            "--allow-host",
            &web.allow(),
            "--env",
            &format!("AWS_ENDPOINT_URL={endpoint}"),
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDHOSTONLY"),
            ("AWS_SECRET_ACCESS_KEY", "host-secret-never-in-the-guest"),
            ("AWS_SESSION_TOKEN", "host-session-token"),
        ],
    );
    let answer = call(&server, json!({"op": "signed", "url": web.url("/auth")}));
    let seen = answer["body"].as_str().unwrap_or_default();
    assert!(
        seen.starts_with("AWS4-HMAC-SHA256 Credential=AKIDHOSTONLY/"),
        "{answer}"
    );
    assert!(seen.contains("/us-east-1/s3/aws4_request"), "{seen}");
    let guest_key = answer["guest_key"].as_str().unwrap_or_default();
    assert!(
        !guest_key.is_empty() && guest_key != "AKIDHOSTONLY",
        "{answer}"
    );
    assert!(
        !seen.contains(guest_key),
        "the placeholder never leaves: {seen}"
    );
    let env = answer["env"].as_str().unwrap_or_default();
    for secret in [
        "AKIDHOSTONLY",
        "host-secret-never-in-the-guest",
        "host-session-token",
    ] {
        assert!(!env.contains(secret), "{secret} in the guest's environment");
    }
    assert_next_event_fine(&server, &web);
}

// ---------------------------------------------------------------------------
// A Rust guest: the SDK's client over the `http_request` import

#[test]
fn a_rust_guest_fetches_through_the_sdk_client() {
    let web = TestServer::start();
    let root = TaskRoot::with_guest("http_get.wasm", "http_get.wasm");
    let root_path = root.path().to_str().unwrap();
    let fetch = |url: String, allow: &str| {
        let event = json!({ "url": url }).to_string();
        invoke_cli(
            &[
                "invoke",
                "http_get.handler",
                "--task-root",
                root_path,
                "--allow-host",
                allow,
            ],
            Some(event.as_bytes()),
        )
    };
    let out = fetch(web.url("/hello"), &web.allow());
    assert_eq!(out.code(), Some(0), "{out:#?}");
    assert_eq!(out.json()["body"], "hello from the server");
    assert_eq!(out.json()["contentType"], "text/plain");
    let out = fetch(web.url("/hello"), "example.com");
    assert_eq!(out.code(), Some(1), "{out:#?}");
    let error = out.json();
    assert_eq!(error["errorType"], "HttpError", "{error}");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("denied: ") && message.contains(&web.allow()),
        "{message}"
    );
}

// ---------------------------------------------------------------------------
// boto3, vendored into the task root, against moto in server mode

/// boto3 as a deployment package vendors it (`pip install -t`), pinned.
const BOTO3: &str = "boto3==1.44.8";

/// The boto3 handler: clients made at import, used in the handler.
const BOTO3_HANDLER: &str = r#"
import boto3
import botocore.config
import botocore.exceptions

# One client at import, as the best practice says; the second is made in
# the handler, so that init (which compiles botocore from source in this
# interpreter) stays well inside its 10 s on a loaded machine.
s3 = boto3.client("s3")


def lambda_handler(event, context):
    op = event["op"]
    if op == "s3":
        s3.create_bucket(Bucket="lambda-wasm-test")
        s3.put_object(Bucket="lambda-wasm-test", Key="greeting.txt", Body=b"hello from s3")
        body = s3.get_object(Bucket="lambda-wasm-test", Key="greeting.txt")["Body"].read()
        return {"body": body.decode()}
    if op == "dynamodb":
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="items",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="items", Item={"id": {"S": "1"}, "value": {"S": "hello from dynamodb"}})
        item = dynamodb.get_item(TableName="items", Key={"id": {"S": "1"}})["Item"]
        return {"value": item["value"]["S"]}
    if op == "timed_get_object":
        import time
        micros = []
        for _ in range(event["count"]):
            started = time.perf_counter()
            s3.get_object(Bucket="lambda-wasm-test", Key="greeting.txt")["Body"].read()
            micros.append((time.perf_counter() - started) * 1e6)
        return {"micros": micros}
    if op == "tls":
        config = botocore.config.Config(retries={"total_max_attempts": 1})
        try:
            boto3.client("s3", endpoint_url=event["url"], config=config).list_buckets()
        except botocore.exceptions.SSLError as e:
            return {"error": type(e).__name__, "message": str(e), "cause": type(e.kwargs["error"]).__name__}
    if op == "denied":
        try:
            boto3.client("s3", endpoint_url="http://example.com").list_buckets()
        except botocore.exceptions.EndpointConnectionError as e:
            return {"error": type(e).__name__, "message": str(e), "cause": str(e.kwargs.get("error"))}
    return {"version": boto3.__version__}
"#;

/// The vendored packages, installed once into `<target>/e2e-boto3`.
fn vendored_boto3() -> Option<PathBuf> {
    let dir = target_dir().join("e2e-boto3");
    if !dir.join("boto3/__init__.py").is_file() {
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-input",
                "--disable-pip-version-check",
                "-t",
            ])
            .arg(&dir)
            .arg(BOTO3)
            .stdin(Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return None;
        }
    }
    Some(dir)
}

/// A task root holding the boto3 handler and a copy of the vendored packages.
fn boto3_root(vendored: &Path) -> TaskRoot {
    let root = TaskRoot::builder()
        .file("lambda_function.py", BOTO3_HANDLER)
        .build();
    let copied = Command::new("cp")
        .arg("-r")
        .args(
            [
                "boto3",
                "botocore",
                "s3transfer",
                "jmespath",
                "dateutil",
                "urllib3",
                "six.py",
            ]
            .map(|p| vendored.join(p)),
        )
        .arg(root.path())
        .status();
    assert!(
        copied.is_ok_and(|s| s.success()),
        "copying the vendored packages"
    );
    root
}

/// A task root with the boto3 handler and boto3 vendored, or `None` when
/// pip cannot install it (SKIPPED, as [`require`] says).
fn require_boto3_root() -> Option<TaskRoot> {
    let vendored = vendored_boto3();
    let how = "`python3 -m pip install -t` needs pip and PyPI";
    if !require(BOTO3, vendored.is_some(), how) {
        return None;
    }
    Some(boto3_root(&vendored?))
}

/// The host's credentials for the boto3 tests (the guest gets placeholders).
const CREDENTIALS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing-secret"),
];

/// `serve` of a boto3 task root with `args`, the host holding [`CREDENTIALS`],
/// and test mode's caches in a folder of their own (as a user's shell has
/// `$XDG_CACHE_HOME`), kept while the server runs: boto3 is compiled to
/// bytecode at load, so its import stays well within init's 10 s on a
/// loaded machine.
fn serve_boto3(home: &Path, root: &TaskRoot, args: &[&str]) -> (LocalServer, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let cache_home = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let server = serve(home, root, args, &[&CREDENTIALS[..], &cache_home].concat());
    (server, cache)
}

/// `moto_server` on 127.0.0.1 at a free port, killed on drop.
struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let python = workspace_root().join(".tools/venv/bin/python3");
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new(python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(moto.addr).is_ok() {
            return Some(moto);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn boto3_puts_and_gets_through_the_host_against_moto() {
    let Some(home) = require_python() else { return };
    let Some(root) = require_boto3_root() else {
        return;
    };
    let moto = start_moto();
    if !require(
        "moto[server] 5.2.5",
        moto.is_some(),
        "run `make tools` (installs it into .tools/venv)",
    ) {
        return;
    }
    let moto = moto.unwrap();
    let allow = moto.addr.to_string();
    let endpoint = format!("AWS_ENDPOINT_URL=http://{allow}");
    let args = [
        "--allow-host",
        &allow,
        "--env",
        &endpoint,
        "--timeout",
        "60",
    ];
    let (server, _cache) = serve_boto3(home, &root, &args);
    let answer = call(&server, json!({"op": "s3"}));
    assert_eq!(answer["body"], "hello from s3", "{answer}");
    let answer = call(&server, json!({"op": "dynamodb"}));
    assert_eq!(answer["value"], "hello from dynamodb", "{answer}");
    let answer = call(&server, json!({"op": "denied"}));
    assert_eq!(answer["error"], "EndpointConnectionError", "{answer}");
    let cause = answer["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("example.com:80") && cause.contains("LAMBDA_WASM_ALLOWED_HOSTS"),
        "{answer}"
    );
    let answer = call(&server, json!({"op": "version"}));
    assert_eq!(
        answer["version"], "1.44.8",
        "the next event is fine: {answer}"
    );
}

#[test]
fn boto3_imports_without_any_network() {
    let Some(home) = require_python() else { return };
    let Some(root) = require_boto3_root() else {
        return;
    };
    let (server, _cache) = serve_boto3(home, &root, &["--timeout", "30"]);
    let answer = call(&server, json!({"op": "version"}));
    assert_eq!(answer["version"], "1.44.8", "{answer}");
}

#[test]
fn boto3_reports_a_refused_certificate_as_botocore_ssl_error() {
    let Some(home) = require_python() else { return };
    let Some(root) = require_boto3_root() else {
        return;
    };
    let tls = start_self_signed_tls().to_string();
    let (server, _cache) = serve_boto3(home, &root, &["--allow-host", &tls, "--timeout", "30"]);
    let answer = call(
        &server,
        json!({"op": "tls", "url": format!("https://{tls}")}),
    );
    assert_eq!(
        (answer["error"].as_str(), answer["cause"].as_str()),
        (Some("SSLError"), Some("SSLError")),
        "botocore's SSLError from urllib3's: {answer}"
    );
    let message = answer["message"].as_str().unwrap_or_default();
    let expected = format!(
        "SSL validation failed for https://{tls}/ [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate ("
    );
    assert!(message.starts_with(&expected), "{message}");
    let answer = call(&server, json!({"op": "version"}));
    assert_eq!(
        answer["version"], "1.44.8",
        "the next event is fine: {answer}"
    );
}

// ---------------------------------------------------------------------------
// Measurements for BENCHMARKS.md (ignored: run them by name, never timed in tests)
//
// cargo test --release -p lambda-wasm --test e2e outbound::measure -- --ignored --nocapture

/// p50 and p99 of `micros`.
fn percentiles(mut micros: Vec<f64>) -> (f64, f64) {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

fn micros_of(answer: &Value) -> Vec<f64> {
    answer["micros"]
        .as_array()
        .expect("micros")
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

/// `count` GETs of `url` from native Rust: hyper's HTTP/1.1 client on one
/// keep-alive connection, as the host's pool makes them; microseconds each.
fn native_gets(addr: SocketAddr, path: &str, count: usize) -> Vec<f64> {
    use http_body_util::{BodyExt, Empty};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut micros = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let request = http::Request::get(path)
                .header(http::header::HOST, addr.to_string())
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            response.into_body().collect().await.unwrap();
            micros.push(started.elapsed().as_secs_f64() * 1e6);
        }
        micros
    })
}

#[test]
#[ignore]
fn measure_guest_get_against_native() {
    let Some(home) = require_python() else { return };
    let web = TestServer::start();
    let (_root, server) = serve_allowing(home, &web, &["--timeout", "120"]);
    measure_gets_against_native(&server, &web, "Python guest urllib");
}

/// Prints p50 and p99 of 2,000 GETs of `web`'s `/hello` from native Rust
/// and from `guest`, a handler `server` serves that answers `{"op":
/// "timed", "url", "count"}` with the `micros` each request took, measured
/// in the guest (after 200 of each to warm up).
pub(crate) fn measure_gets_against_native(server: &LocalServer, web: &TestServer, guest: &str) {
    let count = 2000;
    native_gets(web.addr, "/hello", 200);
    let native = native_gets(web.addr, "/hello", count);
    call(
        server,
        json!({"op": "timed", "url": web.url("/hello"), "count": 200}),
    );
    let guest_micros = micros_of(&call(
        server,
        json!({"op": "timed", "url": web.url("/hello"), "count": count}),
    ));
    let (n50, n99) = percentiles(native);
    let (g50, g99) = percentiles(guest_micros);
    println!(
        "GET /hello x{count}: native Rust (hyper, keep-alive) p50 {n50:.0} µs p99 {n99:.0} µs; {guest} through the host p50 {g50:.0} µs p99 {g99:.0} µs; connections the server accepted: {}",
        web.connections.load(Ordering::SeqCst)
    );
}

/// boto3 `get_object` against one moto server, timed inside the same
/// handler: in the Python guest (`serve`) and under awslambdaric 4.2.2 on
/// native CPython (`.tools/ric-venv`, `make bench-tools`) as the function's
/// bootstrap, both on the vendored boto3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_boto3_get_object() {
    let Some(home) = require_python() else { return };
    let ric = workspace_root().join(".tools/ric-venv/bin/python");
    let (Some(vendored), Some(moto), true) = (vendored_boto3(), start_moto(), ric.is_file()) else {
        panic!("needs boto3 (pip), moto (make tools) and awslambdaric (make bench-tools)");
    };
    let root = boto3_root(&vendored);
    let allow = moto.addr.to_string();
    let endpoint = format!("http://{allow}");
    let endpoint_env = format!("AWS_ENDPOINT_URL={endpoint}");
    let args = [
        "--allow-host",
        &allow,
        "--env",
        &endpoint_env,
        "--timeout",
        "120",
    ];
    let (server, _cache) = serve_boto3(home, &root, &args);
    call(&server, json!({"op": "s3"}));
    let count = 300;
    call(&server, json!({"op": "timed_get_object", "count": 30}));
    let guest = micros_of(&call(
        &server,
        json!({"op": "timed_get_object", "count": count}),
    ));
    let bootstrap = root.path().join("ric-bootstrap");
    std::fs::write(
        &bootstrap,
        format!(
            "#!/bin/sh\nexec {} -m awslambdaric \"$_HANDLER\"\n",
            ric.display()
        ),
    )
    .unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&bootstrap, executable).unwrap();
    let api = FakeRuntimeApi::start().await;
    let mut env = vec![("AWS_ENDPOINT_URL", endpoint.as_str())];
    env.extend_from_slice(&CREDENTIALS);
    let mut ric_boot = Bootstrap::spawn_program(
        &bootstrap,
        &api,
        root.path(),
        "lambda_function.lambda_handler",
        &env,
        Capture::All,
    );
    ric_boot
        .call_json(&api, json!({"op": "timed_get_object", "count": 30}))
        .await;
    let (_, outcome) = ric_boot
        .call_json(&api, json!({"op": "timed_get_object", "count": count}))
        .await;
    let native = micros_of(&outcome.json());
    let (n50, n99) = percentiles(native);
    let (g50, g99) = percentiles(guest);
    println!(
        "boto3 get_object x{count} against moto: awslambdaric 4.2.2 on native CPython p50 {n50:.0} µs p99 {n99:.0} µs; Python guest through the host p50 {g50:.0} µs p99 {g99:.0} µs"
    );
}

/// Cold start of the boto3 handler under the bootstrap of an unzipped
/// `package`, with its task-root bytecode and with the `__pycache__`
/// folders removed (as packages were before): spawn to first response,
/// median of 5 fresh processes each, alternating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_boto3_cold_start() {
    let Some(home) = require_python() else { return };
    let vendored = vendored_boto3().expect("needs boto3 (pip)");
    let root = boto3_root(&vendored);
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let home_var = home.display().to_string();
    crate::package::package(
        &[
            "--task-root",
            root.path().to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
        ],
        &[("LAMBDA_WASM_PYTHON_HOME", &home_var)],
    );
    let with = crate::package::unzip(&zip);
    let without = crate::package::unzip(&zip);
    let removed = Command::new("find")
        .arg(without.path())
        .args([
            "-name",
            "__pycache__",
            "-prune",
            "-exec",
            "rm",
            "-r",
            "{}",
            "+",
        ])
        .status();
    assert!(removed.is_ok_and(|s| s.success()));
    let (mut timed_with, mut timed_without) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for (dir, times) in [(&with, &mut timed_with), (&without, &mut timed_without)] {
            let api = FakeRuntimeApi::start().await;
            let started = Instant::now();
            let mut boot = Bootstrap::spawn_program(
                &dir.path().join("bootstrap"),
                &api,
                dir.path(),
                "lambda_function.lambda_handler",
                &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "60")],
                Capture::All,
            );
            let (_, outcome) = boot.call_json(&api, json!({"op": "version"})).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(outcome.json()["version"], "1.44.8", "{}", boot.stderr());
        }
    }
    let median = |mut ms: Vec<f64>| {
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    println!(
        "boto3 handler, bootstrap spawn to first response, median of 5: with task-root bytecode {:.0} ms {timed_with:.0?}; without {:.0} ms {timed_without:.0?}",
        median(timed_with.clone()),
        median(timed_without.clone())
    );
}
