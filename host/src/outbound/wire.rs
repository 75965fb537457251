//! The bytes a guest sends for an outbound request and gets back
//! (docs/abi.md, "Outbound HTTP"): a head of text lines, an empty line,
//! then the body, as in HTTP/1.1 itself, so that a guest needs no JSON
//! library. Lines end in `\n` (a `\r` before it is dropped).
//!
//! ```text
//! request:  METHOD SP absolute-URL \n  (Name: value \n)*  \n  body
//! response: STATUS \n                  (Name: value \n)*  \n  body
//! ```

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

/// A guest's request, parsed.
#[derive(Debug)]
pub struct GuestRequest {
    /// The method.
    pub method: Method,
    /// The absolute `http://` or `https://` URL.
    pub uri: Uri,
    /// The guest's headers, in order.
    pub headers: HeaderMap,
    /// The body (empty for none).
    pub body: Bytes,
}

/// What the host answers.
#[derive(Debug)]
pub struct GuestResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response's headers.
    pub headers: HeaderMap,
    /// The body, decoded from any transfer encoding.
    pub body: Bytes,
}

/// Parses a request; the error says what is malformed.
pub fn parse_request(bytes: &[u8]) -> Result<GuestRequest, String> {
    let (head, body) = split_head(bytes).ok_or("the request has no empty line ending its head")?;
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let first = std::str::from_utf8(lines.next().unwrap_or_default())
        .map_err(|_| "the request line is not UTF-8")?;
    let (method, url) = first
        .split_once(' ')
        .ok_or_else(|| format!("the request line {first:?} is not METHOD URL"))?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("{method:?} is not an HTTP method"))?;
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => {}
        _ => {
            return Err(format!(
                "{url:?} is not an absolute http:// or https:// URL"
            ));
        }
    }
    let mut headers = HeaderMap::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let (name, value) = split_header(line)?;
        headers.append(name, value);
    }
    Ok(GuestRequest {
        method,
        uri,
        headers,
        body: Bytes::copy_from_slice(body),
    })
}

/// The response's bytes.
pub fn encode_response(response: &GuestResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(response.body.len() + 64 * response.headers.len() + 8);
    out.extend_from_slice(response.status.to_string().as_bytes());
    out.push(b'\n');
    for (name, value) in &response.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(&response.body);
    out
}

fn split_head(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut start = 0;
    while let Some(offset) = bytes[start..].iter().position(|&b| b == b'\n') {
        let end = start + offset;
        if trim_cr(&bytes[start..end]).is_empty() && start > 0 {
            return Some((&bytes[..start], &bytes[end + 1..]));
        }
        start = end + 1;
    }
    None
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn split_header(line: &[u8]) -> Result<(HeaderName, HeaderValue), String> {
    let colon = line.iter().position(|&b| b == b':').ok_or_else(|| {
        format!(
            "the header line {:?} has no colon",
            String::from_utf8_lossy(line)
        )
    })?;
    let name = HeaderName::from_bytes(line[..colon].trim_ascii()).map_err(|_| {
        format!(
            "{:?} is not a header name",
            String::from_utf8_lossy(&line[..colon])
        )
    })?;
    let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii())
        .map_err(|_| format!("the value of header {name} is not allowed in HTTP"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_with_either_line_ending() {
        let request =
            parse_request(b"PUT https://example.com/a?b=1\r\nContent-Type: text/plain\r\nX-A: 1\nX-A: 2\n\r\nbody\n").unwrap();
        assert_eq!(request.method, Method::PUT);
        assert_eq!(request.uri.host(), Some("example.com"));
        assert_eq!(request.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&request.body[..], b"body\n");
    }

    #[test]
    fn malformed_requests_say_why() {
        for (bytes, why) in [
            (&b"GET http://a/"[..], "no empty line"),
            (b"GET /relative\n\n", "absolute"),
            (b"GET ftp://a/\n\n", "absolute"),
            (b"GET\n\n", "METHOD URL"),
            (b"GET http://a/\nbad header\n\n", "no colon"),
        ] {
            let error = parse_request(bytes).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }

    #[test]
    fn responses_encode_head_then_body() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let bytes = encode_response(&GuestResponse {
            status: 200,
            headers,
            body: Bytes::from_static(b"hi"),
        });
        assert_eq!(bytes, b"200\ncontent-type: text/plain\n\nhi");
    }
}
