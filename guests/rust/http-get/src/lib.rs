//! `http-get`: calls a web service through the host's outbound HTTP
//! (docs/abi.md section 11) and returns what it answered.
//!
//! The event is `{"url": "https://..."}`; the response is
//! `{"status": 200, "contentType": "...", "body": "..."}`. A request the
//! host refuses or cannot make is the function error `HttpError` with the
//! host's message (which names the host and the setting to change).
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p http-get
//! lambda-wasm invoke http_get.handler --task-root target/wasm32-wasip1/guest \
//!     --allow-host example.com <<< '{"url": "https://example.com/"}'
//! ```

use std::fmt;

use lambda_wasm_guest::http::{self, HttpErrorKind};
use lambda_wasm_guest::{Context, handler};
use serde::{Deserialize, Serialize};

/// What to fetch.
#[derive(Debug, Deserialize)]
pub struct Fetch {
    /// An absolute `http://` or `https://` URL.
    pub url: String,
}

/// What the service answered.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body as text.
    pub body: String,
}

/// The request got no response: the host's message.
#[derive(Debug)]
pub struct HttpError(pub http::HttpError);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            HttpErrorKind::Denied => "denied",
            HttpErrorKind::TimedOut => "timed out",
            HttpErrorKind::TooLarge => "too large",
            HttpErrorKind::Malformed | HttpErrorKind::Failed => "failed",
        };
        write!(f, "{kind}: {}", self.0.message)
    }
}

impl std::error::Error for HttpError {}

/// GETs the event's URL.
pub fn handler(event: Fetch, _context: &Context) -> Result<Fetched, HttpError> {
    let response = http::get(&event.url).map_err(HttpError)?;
    Ok(Fetched {
        status: response.status,
        content_type: response.header("content-type").map(str::to_string),
        body: response.text(),
    })
}

handler!(handler);

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_wasm_guest::testing;

    #[test]
    fn returns_what_the_service_answered() {
        testing::set_http_responder(|wire| {
            assert!(wire.starts_with(b"GET https://example.com/\n"));
            (0, b"200\ncontent-type: text/html\n\n<p>hi</p>".to_vec())
        });
        let out = testing::invoke(handler, br#"{"url":"https://example.com/"}"#, "");
        assert_eq!(out.json().unwrap()["body"], "<p>hi</p>");
        assert_eq!(out.json().unwrap()["contentType"], "text/html");
    }

    #[test]
    fn a_denial_is_a_function_error_with_the_hosts_message() {
        testing::set_http_responder(|_| {
            (1, b"outbound request to example.com:443 denied".to_vec())
        });
        let out = testing::invoke(handler, br#"{"url":"https://example.com/"}"#, "");
        let error = out.error.unwrap();
        assert_eq!(error.error_type, "HttpError");
        assert!(
            error
                .error_message
                .contains("denied: outbound request to example.com:443")
        );
    }
}
