//! Outbound HTTP(S) through the host (ABI 1.1, docs/abi.md section 12): a
//! small blocking client. The guest has no sockets; each request goes to
//! the host whole, which checks it against the deployer's allow-list
//! (`LAMBDA_WASM_ALLOWED_HOSTS`), speaks TLS, follows redirects and signs
//! AWS requests, and the call returns when the response is in.
//!
//! ```no_run
//! let response = lambda_wasm_guest::http::get("https://example.com/")?;
//! println!("{} {}", response.status, response.text());
//! # Ok::<(), lambda_wasm_guest::http::HttpError>(())
//! ```
//!
//! Off Wasm (`cargo test`) requests go to the responder set with
//! [`crate::testing::set_http_responder`].

use std::fmt;

use lambda_wasm_abi::http_status;

/// One request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

/// The response: any HTTP status (a 404 is a response, not an error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from any transfer encoding.
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// The deployer's policy refused the host or the address it resolves to.
    Denied,
    /// Resolving, connecting, TLS or HTTP failed.
    Failed,
    /// The invocation's deadline came first.
    TimedOut,
    /// A body was over its cap.
    TooLarge,
    /// The request could not be expressed (a bad URL or header).
    Malformed,
}

/// A request that got no response, with the host's message (which names
/// the host and, for a denial, the setting to change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// What kind of failure.
    pub kind: HttpErrorKind,
    /// The host's explanation.
    pub message: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::new("GET", url).send()
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and waits for the response.
    pub fn send(self) -> Result<Response, HttpError> {
        let wire = self.encode()?;
        let (status, reply) = exchange(&wire);
        let kind = match status {
            http_status::OK => return parse_response(&reply),
            http_status::DENIED => HttpErrorKind::Denied,
            http_status::TIMED_OUT => HttpErrorKind::TimedOut,
            http_status::TOO_LARGE => HttpErrorKind::TooLarge,
            http_status::MALFORMED => HttpErrorKind::Malformed,
            _ => HttpErrorKind::Failed,
        };
        Err(HttpError {
            kind,
            message: String::from_utf8_lossy(&reply).into_owned(),
        })
    }

    /// The request in the ABI's wire format.
    fn encode(&self) -> Result<Vec<u8>, HttpError> {
        let line_safe = |text: &str| !text.contains(['\n', '\r']);
        let bad = |what: String| HttpError {
            kind: HttpErrorKind::Malformed,
            message: what,
        };
        if !line_safe(&self.method) || self.method.contains(' ') || !line_safe(&self.url) {
            return Err(bad(format!(
                "bad method or URL: {} {}",
                self.method, self.url
            )));
        }
        let mut wire = Vec::with_capacity(self.body.len() + 256);
        wire.extend_from_slice(format!("{} {}\n", self.method, self.url).as_bytes());
        for (name, value) in &self.headers {
            if !line_safe(name) || !line_safe(value) || name.contains(':') {
                return Err(bad(format!("header {name:?} has a line break or colon")));
            }
            wire.extend_from_slice(format!("{name}: {value}\n").as_bytes());
        }
        wire.push(b'\n');
        wire.extend_from_slice(&self.body);
        Ok(wire)
    }
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses the host's `STATUS\n(Name: value\n)*\n body`.
fn parse_response(bytes: &[u8]) -> Result<Response, HttpError> {
    let malformed = || HttpError {
        kind: HttpErrorKind::Failed,
        message: "the host's response is malformed".to_string(),
    };
    let end = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or_else(malformed)?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| malformed())?;
    let mut lines = head.split('\n');
    let status = lines
        .next()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(malformed)?;
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect();
    Ok(Response {
        status,
        headers,
        body: bytes[end + 2..].to_vec(),
    })
}

/// Hands `wire` to the host: the status and the buffer it returned.
#[cfg(target_arch = "wasm32")]
fn exchange(wire: &[u8]) -> (i32, Vec<u8>) {
    let mut out = [0u32; 2];
    // SAFETY: `wire` is readable for its length and `out` writable for 8 bytes.
    let status =
        unsafe { crate::abi::sys::http_request(wire.as_ptr(), wire.len(), out.as_mut_ptr()) };
    let (ptr, len) = (out[0] as usize as *mut u8, out[1] as usize);
    // SAFETY: the host filled `len` bytes from `lambda_alloc(len)`, which are ours to free.
    let reply = unsafe {
        let reply = std::slice::from_raw_parts(ptr, len).to_vec();
        crate::abi::free_invocation_buffer(ptr, len);
        reply
    };
    (status, reply)
}

#[cfg(not(target_arch = "wasm32"))]
fn exchange(wire: &[u8]) -> (i32, Vec<u8>) {
    crate::abi::recorder::http_exchange(wire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::set_http_responder;

    #[test]
    fn requests_and_responses_cross_in_the_wire_format() {
        set_http_responder(|wire| {
            assert_eq!(
                wire,
                b"POST https://api.example.com/x\nContent-Type: text/plain\n\nping"
            );
            (0, b"201\nContent-Type: text/plain\nX-A: 1\n\npong".to_vec())
        });
        let response = Request::new("POST", "https://api.example.com/x")
            .header("Content-Type", "text/plain")
            .body("ping")
            .send()
            .unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.header("x-a"), Some("1"));
        assert_eq!(response.text(), "pong");
    }

    #[test]
    fn host_errors_keep_their_kind_and_message() {
        set_http_responder(|_| {
            (
                http_status::DENIED,
                b"outbound request to a:443 denied".to_vec(),
            )
        });
        let error = get("https://a/").unwrap_err();
        assert_eq!(error.kind, HttpErrorKind::Denied);
        assert!(error.to_string().contains("denied"));
        let error = Request::new("GET", "https://a/")
            .header("X", "a\nb")
            .send()
            .unwrap_err();
        assert_eq!(error.kind, HttpErrorKind::Malformed);
    }
}
