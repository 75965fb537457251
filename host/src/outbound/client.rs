//! One outbound exchange: resolve and check every hop with the
//! [`Policy`], connect to exactly the address checked, speak TLS (rustls,
//! webpki roots) for `https://`, cap both bodies, follow at most
//! [`MAX_REDIRECTS`] redirects. Connections are kept alive in a [`Pool`]
//! keyed by the checked destination, so a later request reuses one only
//! after its own check lands on the same name and address.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName};

use super::OutboundError;
use super::policy::{Policy, Resolution};
use super::pool::{Destination, Pool, Sender};
use super::signing::Signer;
use super::wire::{GuestRequest, GuestResponse};

/// Redirects followed before the request fails (as browsers and urllib3 cap them).
pub const MAX_REDIRECTS: usize = 5;

/// What every exchange of one function shares.
pub struct Client {
    policy: Policy,
    signer: Signer,
    max_response_bytes: usize,
    /// Made at the first HTTPS request: most functions make none, and every
    /// cold start would pay for the root store and rustls's configuration.
    tls: OnceLock<TlsConnector>,
    pool: Pool,
}

impl Client {
    /// A client under `policy`, signing with `signer`, reading at most `max_response_bytes`.
    pub fn new(policy: Policy, signer: Signer, max_response_bytes: usize) -> Self {
        Self {
            policy,
            signer,
            max_response_bytes,
            tls: OnceLock::new(),
            pool: Pool::default(),
        }
    }

    /// Sends `request`, following redirects; the final response.
    pub async fn exchange(
        &self,
        mut request: GuestRequest,
    ) -> Result<GuestResponse, OutboundError> {
        for _ in 0..=MAX_REDIRECTS {
            let response = self.one_hop(&request).await?;
            match redirect_target(&request, &response) {
                Some(next) => request = next?,
                None => return Ok(response),
            }
        }
        Err(OutboundError::Failed(format!(
            "outbound request to {} failed: more than {MAX_REDIRECTS} redirects (the host follows at most {MAX_REDIRECTS}; request the final URL directly)",
            request.uri
        )))
    }

    /// A guest's `CONNECT`: the policy and address check of a hop, then a
    /// connection to it (TCP, and TLS with the certificate verified for
    /// `https`) unless one is idle in the pool, kept there for the request
    /// that follows. So a refused port or a bad certificate is reported
    /// when the guest connects, where a socket library reports it.
    pub async fn check(&self, uri: &Uri) -> Result<(), OutboundError> {
        let destination = self.resolve(uri).await?;
        let sender = match self.pool.take(&destination) {
            Some(idle) => idle,
            None => self.connect(&destination).await?,
        };
        self.pool.put(destination, sender);
        Ok(())
    }

    /// The hop's destination: its scheme, host, port and the checked address.
    async fn resolve(&self, uri: &Uri) -> Result<Destination, OutboundError> {
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let address = self
            .policy
            .resolve(&host, port)
            .await
            .map_err(|why| match why {
                Resolution::Denied(why) => OutboundError::Denied(why),
                Resolution::Failed(why) => OutboundError::Failed(why),
            })?;
        Ok(Destination {
            https,
            host,
            port,
            address,
        })
    }

    async fn one_hop(&self, request: &GuestRequest) -> Result<GuestResponse, OutboundError> {
        let uri = &request.uri;
        let destination = self.resolve(uri).await?;
        let mut outgoing = build_request(request, &destination.host)?;
        self.signer
            .resign(&request.method, uri, outgoing.headers_mut(), &request.body)
            .map_err(|why| failed(&destination, "signing", &why))?;
        let (response, sender) = self.send(&destination, outgoing).await?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_response_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    OutboundError::TooLarge(format!(
                        "outbound request to {}:{} failed: the response body is larger than {} bytes (LAMBDA_WASM_OUTBOUND_MAX_RESPONSE_BYTES)",
                        destination.host, destination.port, self.max_response_bytes
                    ))
                } else {
                    failed(&destination, "reading the response body", &e)
                }
            })?
            .to_bytes();
        // Read to its end, the connection can carry the next request.
        self.pool.put(destination, sender);
        Ok(GuestResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// Sends `request` on an idle connection to `destination` or, when
    /// none is left open, on a new one; the response and its connection.
    async fn send(
        &self,
        destination: &Destination,
        mut request: http::Request<Full<Bytes>>,
    ) -> Result<(http::Response<hyper::body::Incoming>, Sender), OutboundError> {
        while let Some(mut sender) = self.pool.take(destination) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, sender)),
                // The server closed the idle connection before the request
                // went out: it is safe to send on another, whatever the method.
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(failed(destination, "HTTP exchange", error.error())),
                },
            }
        }
        let mut sender = self.connect(destination).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed(destination, "HTTP exchange", &e))?;
        Ok((response, sender))
    }

    /// A new HTTP/1.1 connection to exactly the checked address, in TLS
    /// for `https` (the certificate verified for the host name).
    async fn connect(&self, destination: &Destination) -> Result<Sender, OutboundError> {
        let address = destination.address;
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| failed(destination, &format!("cannot connect to {address}"), &e))?;
        let _ = tcp.set_nodelay(true);
        if destination.https {
            let name = ServerName::try_from(destination.host.clone())
                .map_err(|e| failed(destination, "bad TLS server name", &e))?;
            let tls = self
                .tls
                .get_or_init(tls_connector)
                .connect(name, tcp)
                .await
                .map_err(|e| tls_failed(destination, &e))?;
            handshake(TokioIo::new(tls)).await
        } else {
            handshake(TokioIo::new(tcp)).await
        }
        .map_err(|e| failed(destination, "HTTP handshake", &e))
    }
}

/// A request's failure, naming where it went.
fn failed(destination: &Destination, what: &str, error: &dyn std::fmt::Display) -> OutboundError {
    OutboundError::Failed(format!(
        "outbound request to {}:{} failed: {what}: {error}",
        destination.host, destination.port
    ))
}

/// TLS with the Mozilla roots (webpki-roots) and ring.
fn tls_connector() -> TlsConnector {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// What the message of a refused certificate says, followed by rustls's
/// reason after `: ` (docs/abi.md, section 12); the Python runtime raises
/// `ssl.SSLCertVerificationError` for it (outbound.py).
pub const CERTIFICATE_NOT_ACCEPTED: &str = "TLS certificate not accepted";

/// A failed TLS handshake; a certificate the host does not accept says so,
/// and which certificates it does accept.
fn tls_failed(destination: &Destination, error: &std::io::Error) -> OutboundError {
    let refused = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
    if refused {
        let what = format!(
            "{CERTIFICATE_NOT_ACCEPTED} (the host trusts certificates \
            that chain to a public web PKI root and name the URL's host; a \
            self-signed or private-CA certificate is refused)"
        );
        failed(destination, &what, error)
    } else {
        failed(destination, "TLS handshake", error)
    }
}

/// Starts HTTP/1.1 on `io`; the connection's driver runs as its own task
/// (the runtime's) until the sender is dropped or the server closes it.
async fn handshake<I>(io: I) -> Result<Sender, hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// The request as it goes on the wire: `Host` and `Content-Length` set,
/// hop-by-hop headers the guest may not choose dropped.
fn build_request(
    request: &GuestRequest,
    host: &str,
) -> Result<http::Request<Full<Bytes>>, OutboundError> {
    let uri = &request.uri;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers: HeaderMap = request.headers.clone();
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::TE,
        header::HOST,
        header::CONTENT_LENGTH,
    ] {
        headers.remove(name);
    }
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let host_value = HeaderValue::from_str(authority)
        .map_err(|_| OutboundError::Malformed(format!("{authority:?} is not a valid Host")))?;
    headers.insert(header::HOST, host_value);
    if !request.body.is_empty()
        || matches!(request.method, Method::POST | Method::PUT | Method::PATCH)
    {
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(request.body.len()),
        );
    }
    let mut outgoing = http::Request::builder()
        .method(request.method.clone())
        .uri(path)
        .body(Full::new(request.body.clone()))
        .map_err(|e| OutboundError::Malformed(format!("the request cannot be sent: {e}")))?;
    *outgoing.headers_mut() = headers;
    Ok(outgoing)
}

/// The next request when `response` redirects (with a `Location`), as
/// browsers do: 303 (and 301/302 after a POST) become a GET without body;
/// `Authorization` is dropped when the host changes.
fn redirect_target(
    request: &GuestRequest,
    response: &GuestResponse,
) -> Option<Result<GuestRequest, OutboundError>> {
    let status = StatusCode::from_u16(response.status).ok()?;
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers.get(header::LOCATION)?.to_str().ok()?;
    Some(resolve_location(&request.uri, location).map(|uri| {
        let to_get = status == StatusCode::SEE_OTHER
            || (matches!(status.as_u16(), 301 | 302) && request.method == Method::POST);
        let mut headers = request.headers.clone();
        if uri.host() != request.uri.host() {
            headers.remove(header::AUTHORIZATION);
            headers.remove(header::COOKIE);
        }
        let (method, body) = if to_get {
            headers.remove(header::CONTENT_TYPE);
            (Method::GET, Bytes::new())
        } else {
            (request.method.clone(), request.body.clone())
        };
        GuestRequest {
            method,
            uri,
            headers,
            body,
        }
    }))
}

/// `location` (absolute, or relative to `base`) as an absolute URL.
fn resolve_location(base: &Uri, location: &str) -> Result<Uri, OutboundError> {
    let bad = || {
        OutboundError::Failed(format!(
            "outbound request to {base} failed: bad redirect Location {location:?}"
        ))
    };
    let uri: Uri = location.parse().map_err(|_| bad())?;
    if uri.scheme().is_some() {
        return match uri.scheme_str() {
            Some("http" | "https") => Ok(uri),
            _ => Err(bad()),
        };
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{dir}/{location}")
    };
    Uri::builder()
        .scheme(base.scheme_str().unwrap_or("http"))
        .authority(base.authority().map_or("", |a| a.as_str()))
        .path_and_query(path)
        .build()
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::policy::AllowList;
    use crate::outbound::testing::{self, ok};
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;

    fn client_allowing(allow: &str) -> Client {
        let policy = Policy::new(AllowList::parse(allow).unwrap(), None);
        Client::new(policy, Signer::default(), 1024)
    }

    fn get(url: &str) -> GuestRequest {
        GuestRequest {
            method: Method::GET,
            uri: url.parse().unwrap(),
            headers: HeaderMap::from_iter([(
                header::CONNECTION,
                HeaderValue::from_static("close"),
            )]),
            body: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn connections_are_reused_until_the_server_closes_them() {
        // (whether the server closes each connection, connections it sees
        // for 5 requests): the guest's `Connection: close` is the host's choice.
        for (close, connections) in [(false, 1), (true, 5)] {
            let server = testing::serve(close, move |_| async move { ok("ok", close) }).await;
            let (addr, accepted) = (server.addr, server.accepted);
            let client = client_allowing(&addr.to_string());
            for _ in 0..5 {
                let url = format!("http://{addr}/");
                let response = client.exchange(get(&url)).await.unwrap();
                assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
            }
            assert_eq!(
                accepted.load(Ordering::SeqCst),
                connections,
                "close: {close}"
            );
        }
    }

    #[tokio::test]
    async fn a_pooled_destination_is_still_checked_on_every_request() {
        let addr = testing::serve(false, |_| async { ok("ok", false) })
            .await
            .addr;
        let client = client_allowing(&addr.to_string());
        let url = format!("http://{addr}/");
        client.exchange(get(&url)).await.unwrap();
        let stricter = Client {
            policy: Policy::new(AllowList::default(), None),
            pool: std::mem::take(&mut { client }.pool),
            ..client_allowing("")
        };
        let denied = stricter.exchange(get(&url)).await.unwrap_err();
        assert!(matches!(denied, OutboundError::Denied(_)), "{denied:?}");
    }

    /// A server where `/hop/N` redirects to `/hop/N-1` and `/hop/0`
    /// answers `ok`; `/away` redirects to `location`.
    async fn redirecting_server(location: &'static str) -> SocketAddr {
        let server = testing::serve(false, move |line| async move {
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            let to = match path
                .strip_prefix("/hop/")
                .map(|n| n.parse::<usize>().unwrap())
            {
                Some(0) => return ok("ok", false),
                Some(n) => format!("/hop/{}", n - 1),
                None => location.to_string(),
            };
            format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n")
        })
        .await;
        server.addr
    }

    #[tokio::test]
    async fn redirects_are_followed_at_most_max_redirects_hops() {
        let addr = redirecting_server("/hop/0").await;
        let client = client_allowing(&addr.to_string());
        let url = |hops: usize| format!("http://{addr}/hop/{hops}");
        let response = client.exchange(get(&url(MAX_REDIRECTS))).await.unwrap();
        assert_eq!((response.status, &response.body[..]), (200, &b"ok"[..]));
        let error = client
            .exchange(get(&url(MAX_REDIRECTS + 1)))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, OutboundError::Failed(m) if m.contains("more than 5 redirects")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn every_redirect_hop_is_checked_against_the_policy() {
        // (where the allowed server redirects to): each is refused as a
        // request made there directly would be.
        for location in [
            "http://127.0.0.1:9/",
            "http://169.254.169.254/latest/meta-data/",
            "http://not-allowed.example/",
        ] {
            let addr = redirecting_server(location).await;
            let client = client_allowing(&addr.to_string());
            let error = client
                .exchange(get(&format!("http://{addr}/away")))
                .await
                .unwrap_err();
            assert!(
                matches!(error, OutboundError::Denied(_)),
                "{location}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_an_error_that_says_so() {
        let server = testing::serve_self_signed_tls().await;
        let client = client_allowing(&server.addr.to_string());
        let url = format!("https://{}/", server.addr);
        let error = client.exchange(get(&url)).await.unwrap_err();
        let OutboundError::Failed(message) = &error else {
            panic!("{error:?}");
        };
        assert!(
            message.contains("TLS certificate not accepted")
                && message.ends_with("invalid peer certificate: UnknownIssuer"),
            "{message}"
        );
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_check_connects_and_leaves_the_connection_for_the_request() {
        let server = testing::serve(false, |_| async { ok("ok", false) }).await;
        let client = client_allowing(&server.addr.to_string());
        let url = format!("http://{}/", server.addr);
        client.check(&url.parse().unwrap()).await.unwrap();
        client.check(&url.parse().unwrap()).await.unwrap();
        let response = client.exchange(get(&url)).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_check_reports_a_bad_certificate_or_a_closed_port() {
        let server = testing::serve_self_signed_tls().await;
        let client = client_allowing(&server.addr.to_string());
        let uri = format!("https://{}/", server.addr).parse().unwrap();
        let error = client.check(&uri).await.unwrap_err();
        assert!(
            error.message().contains(CERTIFICATE_NOT_ACCEPTED),
            "{error:?}"
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = client_allowing(&closed.to_string());
        let error = client
            .check(&format!("http://{closed}/").parse().unwrap())
            .await
            .unwrap_err();
        assert!(error.message().contains("cannot connect to"), "{error:?}");
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let base: Uri = "http://a.example/x/y?q".parse().unwrap();
        assert_eq!(resolve_location(&base, "/z").unwrap(), "http://a.example/z");
        assert_eq!(
            resolve_location(&base, "w").unwrap(),
            "http://a.example/x/w"
        );
        assert_eq!(
            resolve_location(&base, "https://b.example/").unwrap(),
            "https://b.example/"
        );
        assert!(resolve_location(&base, "file:///etc/passwd").is_err());
    }
}
