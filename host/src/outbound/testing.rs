//! Local servers for the outbound unit tests: plain HTTP/1.1 on 127.0.0.1
//! whose answer to each request comes from the test, and the same over
//! TLS with a self-signed certificate (which the host must refuse).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, ServerConfig, pki_types::PrivateKeyDer};

/// A running test server: its address and how many connections it accepted.
pub struct TestServer {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

/// Serves HTTP/1.1 on 127.0.0.1: each request's line (`GET /path HTTP/1.1`)
/// goes to `respond`, whose answer is written back as the whole response
/// (head and body). Keeps connections alive unless `close` is set.
pub async fn serve<F, Fut>(close: bool, respond: F) -> TestServer
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer {
        addr: listener.local_addr().unwrap(),
        accepted: Arc::new(AtomicUsize::new(0)),
    };
    let (accepted, respond) = (server.accepted.clone(), Arc::new(respond));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(stream, close, respond.clone()));
        }
    });
    server
}

/// A `200 OK` response with `body`, keeping or closing the connection.
pub fn ok(body: &str, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: {connection}\r\n\r\n{body}",
        body.len()
    )
}

/// Serves TLS on 127.0.0.1 with a freshly made self-signed certificate for
/// `127.0.0.1` (no public root vouches for it); answers `ok` after a handshake.
pub async fn serve_self_signed_tls() -> TestServer {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer {
        addr: listener.local_addr().unwrap(),
        accepted: Arc::new(AtomicUsize::new(0)),
    };
    let accepted = server.accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            if let Ok(tls) = acceptor.accept(stream).await {
                let respond = Arc::new(|_| async { ok("ok", true) });
                tokio::spawn(answer(tls, true, respond));
            }
        }
    });
    server
}

/// Answers the requests on one connection (their bodies are not read).
async fn answer<S, F, Fut>(stream: S, close: bool, respond: Arc<F>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Fn(String) -> Fut,
    Fut: Future<Output = String>,
{
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut line = String::new();
        while stream.read_line(&mut line).await.unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let response = respond(request_line.trim_end().to_string()).await;
        if stream
            .get_mut()
            .write_all(response.as_bytes())
            .await
            .is_err()
            || close
        {
            return;
        }
    }
}
