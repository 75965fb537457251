//! SigV4 with the function's credentials, which only the host holds.
//!
//! The guest's SDK signs with placeholder credentials the host put in its
//! environment ([`PLACEHOLDER_ACCESS_KEY_ID`], ...). For a request to an AWS
//! endpoint (`*.amazonaws.com`, `*.amazonaws.com.cn`, or a host named by an
//! `AWS_ENDPOINT_URL*` variable) that carries a SigV4 `Authorization`, the
//! host drops the guest's `Authorization`, `X-Amz-Date` and
//! `X-Amz-Security-Token` and signs again with the real credentials, for the
//! region and service the guest's own credential scope names.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderValue};

/// The access key id a guest sees in place of the function's.
pub const PLACEHOLDER_ACCESS_KEY_ID: &str = "ASIALAMBDAWASMPLACEHOLDER";
/// The secret access key a guest sees: the host signs, so it is no secret.
pub const PLACEHOLDER_SECRET_ACCESS_KEY: &str = "lambda-wasm-placeholder-the-host-signs-requests";
/// The session token a guest sees when the function has one.
pub const PLACEHOLDER_SESSION_TOKEN: &str = "lambda-wasm-placeholder-session-token";

const AWS_DOMAINS: [&str; 2] = [".amazonaws.com", ".amazonaws.com.cn"];

/// The function's credentials (never printed) and the hosts they sign for.
#[derive(Clone, Default)]
pub struct Signer {
    credentials: Option<HostCredentials>,
    /// Hosts of `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` (lower case).
    endpoint_hosts: Vec<String>,
}

#[derive(Clone)]
struct HostCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field(
                "access_key_id",
                &self.credentials.as_ref().map(|c| &c.access_key_id),
            )
            .field("endpoint_hosts", &self.endpoint_hosts)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from the host's variables `host_vars` (credentials) and the
    /// function's `function_vars` (endpoint overrides).
    pub fn from_vars(host_vars: &[(String, String)], function_vars: &[(String, String)]) -> Self {
        let get = |name: &str| {
            host_vars
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(HostCredentials {
                access_key_id,
                secret_access_key,
                session_token: get("AWS_SESSION_TOKEN"),
            }),
            _ => None,
        };
        let endpoint_hosts = function_vars
            .iter()
            .filter(|(name, _)| name.starts_with("AWS_ENDPOINT_URL"))
            .filter_map(|(_, url)| {
                url.parse::<http::Uri>()
                    .ok()?
                    .host()
                    .map(str::to_ascii_lowercase)
            })
            .collect();
        Self {
            credentials,
            endpoint_hosts,
        }
    }

    /// The variables the guest gets instead of the credentials: placeholders
    /// for each the host holds, so that an SDK signs and the host re-signs.
    pub fn placeholders(&self) -> Vec<(String, String)> {
        let Some(credentials) = &self.credentials else {
            return Vec::new();
        };
        let mut vars = vec![
            ("AWS_ACCESS_KEY_ID", PLACEHOLDER_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", PLACEHOLDER_SECRET_ACCESS_KEY),
        ];
        if credentials.session_token.is_some() {
            vars.push(("AWS_SESSION_TOKEN", PLACEHOLDER_SESSION_TOKEN));
        }
        vars.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Whether requests to `host` are re-signed.
    fn signs_for(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        AWS_DOMAINS.iter().any(|domain| host.ends_with(domain))
            || self.endpoint_hosts.contains(&host)
    }

    /// Re-signs `request` in place when it goes to an AWS endpoint and the
    /// guest signed it with SigV4; leaves it alone otherwise. `headers` must
    /// already hold every header that will be sent (`Host` included).
    pub fn resign(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let (Some(credentials), Some(host)) = (&self.credentials, uri.host()) else {
            return Ok(());
        };
        if !self.signs_for(host) {
            return Ok(());
        }
        let Some((region, service)) = guest_scope(headers) else {
            return Ok(());
        };
        for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
            headers.remove(name);
        }
        let mut settings = SigningSettings::default();
        if service.starts_with("s3") {
            // S3 signs the path as sent, neither normalized nor encoded twice.
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let content_sha256 = headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let signable_body = match &content_sha256 {
            Some(hash) => {
                settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
                SignableBody::Precomputed(hash.clone())
            }
            None => SignableBody::Bytes(body),
        };
        let identity = Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.clone(),
            None,
            "lambda-wasm-host",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(&service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let texts: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            method.as_str(),
            uri.to_string(),
            texts.into_iter(),
            signable_body,
        )
        .map_err(|e| format!("cannot sign the request: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        let (signed_headers, _) = instructions.into_parts();
        for header in signed_headers {
            let value = HeaderValue::from_str(header.value())
                .map_err(|e| format!("cannot sign the request: {e}"))?;
            headers.insert(header.name(), value);
        }
        Ok(())
    }
}

/// The region and service of the guest's SigV4 `Authorization`
/// (`AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...`).
fn guest_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let rest = value.strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest
        .split(',')
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut scope = credential.split('/').skip(2);
    let region = scope.next()?.to_string();
    let service = scope.next()?.to_string();
    Some((region, service))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn guest_headers(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        headers.insert("x-amz-date", HeaderValue::from_static("20200101T000000Z"));
        headers.insert(
            "x-amz-security-token",
            HeaderValue::from_static(PLACEHOLDER_SESSION_TOKEN),
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential={PLACEHOLDER_ACCESS_KEY_ID}/20200101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
            ))
            .unwrap(),
        );
        headers
    }

    #[test]
    fn aws_requests_are_signed_with_the_hosts_key() {
        let signer = Signer::from_vars(
            &vars(&[
                ("AWS_ACCESS_KEY_ID", "AKIDHOST"),
                ("AWS_SECRET_ACCESS_KEY", "s3cret"),
                ("AWS_SESSION_TOKEN", "tok"),
            ]),
            &[],
        );
        let mut headers = guest_headers("dynamodb.eu-west-1.amazonaws.com");
        let uri: http::Uri = "https://dynamodb.eu-west-1.amazonaws.com/".parse().unwrap();
        signer
            .resign(&http::Method::POST, &uri, &mut headers, b"{}")
            .unwrap();
        let auth = headers["authorization"].to_str().unwrap();
        assert!(auth.contains("Credential=AKIDHOST/"), "{auth}");
        assert!(auth.contains("/eu-west-1/dynamodb/aws4_request"), "{auth}");
        assert_eq!(headers["x-amz-security-token"], "tok");
        assert_ne!(headers["x-amz-date"], "20200101T000000Z");
        assert!(
            format!("{signer:?}").contains("AKIDHOST") && !format!("{signer:?}").contains("s3cret")
        );
    }

    #[test]
    fn other_hosts_and_unsigned_requests_are_left_alone() {
        let signer = Signer::from_vars(
            &vars(&[
                ("AWS_ACCESS_KEY_ID", "AKIDHOST"),
                ("AWS_SECRET_ACCESS_KEY", "s3cret"),
            ]),
            &vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]),
        );
        let mut headers = guest_headers("example.com");
        let before = headers.clone();
        let uri: http::Uri = "https://example.com/".parse().unwrap();
        signer
            .resign(&http::Method::GET, &uri, &mut headers, b"")
            .unwrap();
        assert_eq!(headers, before);
        let mut headers = guest_headers("127.0.0.1:5000");
        let uri: http::Uri = "http://127.0.0.1:5000/".parse().unwrap();
        signer
            .resign(&http::Method::GET, &uri, &mut headers, b"")
            .unwrap();
        assert!(
            headers["authorization"]
                .to_str()
                .unwrap()
                .contains("AKIDHOST")
        );
        assert!(
            !headers.contains_key("x-amz-security-token"),
            "no token: none sent"
        );
    }

    #[test]
    fn placeholders_only_for_what_the_host_holds() {
        assert!(Signer::default().placeholders().is_empty());
        let signer = Signer::from_vars(
            &vars(&[
                ("AWS_ACCESS_KEY_ID", "AKIDHOST"),
                ("AWS_SECRET_ACCESS_KEY", "s3cret"),
            ]),
            &[],
        );
        let names: Vec<_> = signer.placeholders().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    }
}
