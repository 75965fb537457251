//! The Lambda API's shapes as `serve` speaks them: which operation a request
//! is, function names (plain, `name:qualifier`, full or partial ARN, with
//! `?Qualifier=`), AWS's error responses (status, `x-amzn-ErrorType`, JSON
//! body, which the AWS CLI and SDKs turn into their exception classes), and
//! the `FunctionConfiguration` that ListFunctions and GetFunction return.

use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::pool::Pool;
use crate::local;
use crate::logs::format_timestamp;

/// What `serve` answers with.
pub type HttpResponse = Response<Full<Bytes>>;

/// The API version prefix of every function operation.
const FUNCTIONS: &str = "/2015-03-31/functions";

/// The only version a local function has.
pub const LATEST: &str = "$LATEST";

/// A Lambda API operation.
#[derive(Debug, PartialEq)]
pub enum Operation {
    /// `POST /2015-03-31/functions/{name}/invocations`.
    Invoke(FunctionRef),
    /// `GET /2015-03-31/functions/`.
    ListFunctions,
    /// `GET /2015-03-31/functions/{name}`.
    GetFunction(FunctionRef),
    /// `GET /2015-03-31/functions/{name}/configuration`.
    GetFunctionConfiguration(FunctionRef),
}

/// A function as a request names it.
#[derive(Debug, PartialEq)]
pub struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// `$LATEST`, a version or an alias, from the name or `?Qualifier=`.
    pub qualifier: Option<String>,
}

/// An error in the shape AWS's Lambda API uses for its own failures.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error_type: &'static str,
    message: String,
}

impl ApiError {
    /// 400 `InvalidParameterValueException`.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    /// 400 `InvalidRequestContentException`.
    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            message,
        )
    }

    /// 404 `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// 413 `RequestTooLargeException`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            message,
        )
    }

    /// 429 `TooManyRequestsException`.
    pub fn throttled(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            message,
        )
    }

    /// 500 `ServiceException`.
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            message,
        )
    }

    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    /// The HTTP response: status, `x-amzn-ErrorType` and `{"Type", "message"}`.
    pub fn response(&self) -> HttpResponse {
        let kind = if self.status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let body = json!({ "Type": kind, "message": self.message }).to_string();
        Response::builder()
            .status(self.status)
            .header("x-amzn-errortype", self.error_type)
            .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("static headers are valid")
    }
}

/// The operation `method path?query` asks for.
pub fn operation(method: &Method, path: &str, query: Option<&str>) -> Result<Operation, ApiError> {
    let unknown = || {
        ApiError::not_found(format!(
            "{method} {path} is not served here; serve answers Invoke (POST {FUNCTIONS}/NAME/invocations), ListFunctions (GET {FUNCTIONS}/) and GetFunction (GET {FUNCTIONS}/NAME)"
        ))
    };
    let rest = path.strip_prefix(FUNCTIONS).ok_or_else(unknown)?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let reference = |name: &str| function_ref(name, query_qualifier(query));
    match (method, segments.as_slice()) {
        (&Method::GET, []) => Ok(Operation::ListFunctions),
        (&Method::POST, [name, "invocations"]) => Ok(Operation::Invoke(reference(name)?)),
        (&Method::GET, [name]) => Ok(Operation::GetFunction(reference(name)?)),
        (&Method::GET, [name, "configuration"]) => {
            Ok(Operation::GetFunctionConfiguration(reference(name)?))
        }
        _ => Err(unknown()),
    }
}

fn query_qualifier(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "Qualifier")
        .map(|(_, value)| decode(value))
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Parses a function name as Lambda accepts it: `NAME`, `NAME:QUALIFIER`,
/// `ACCOUNT:function:NAME[:QUALIFIER]` or
/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
pub fn function_ref(
    encoded: &str,
    query_qualifier: Option<String>,
) -> Result<FunctionRef, ApiError> {
    let text = decode(encoded);
    let parts: Vec<&str> = text.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        [_account, "function", name] => (*name, None),
        [_account, "function", name, qualifier] => (*name, Some(*qualifier)),
        ["arn", _, "lambda", _, _, "function", name] => (*name, None),
        ["arn", _, "lambda", _, _, "function", name, qualifier] => (*name, Some(*qualifier)),
        _ => return Err(bad_name(&text)),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !valid {
        return Err(bad_name(&text));
    }
    let qualifier = match (qualifier, query_qualifier) {
        (Some(from_name), Some(from_query)) if from_name != from_query => {
            return Err(ApiError::invalid_parameter(format!(
                "The derived qualifier from the function name ({from_name}) does not match the specified qualifier ({from_query}); give one of them"
            )));
        }
        (Some(from_name), _) => Some(from_name.to_string()),
        (None, from_query) => from_query,
    };
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier,
    })
}

fn bad_name(text: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "{text:?} is not a function name or ARN; use NAME, NAME:$LATEST or arn:aws:lambda:REGION:ACCOUNT:function:NAME"
    ))
}

/// The 404 for a function or qualifier that is not served.
pub fn function_not_found(region: &str, reference: &FunctionRef) -> ApiError {
    let mut arn = local::function_arn(region, &reference.name);
    if let Some(qualifier) = &reference.qualifier {
        arn = format!("{arn}:{qualifier}");
    }
    ApiError::not_found(format!(
        "Function not found: {arn}; serve runs $LATEST of the functions ListFunctions shows"
    ))
}

/// A successful JSON answer.
pub fn json_response(status: StatusCode, value: &Value) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("static headers are valid")
}

/// Lambda's `FunctionConfiguration` of a served function.
pub fn function_configuration(pool: &Pool, loaded_at: SystemTime) -> Value {
    let settings = pool.settings();
    let variables: serde_json::Map<String, Value> = pool
        .variables()
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    json!({
        "FunctionName": pool.name(),
        "FunctionArn": local::function_arn(local::region(settings), pool.name()),
        "Runtime": "provided.al2023",
        "Role": format!("arn:aws:iam::{}:role/lambda-wasm-local", local::LOCAL_ACCOUNT),
        "Handler": settings.handler.raw,
        "Description": format!("served by lambda-wasm from {}", settings.task_root.display()),
        "Timeout": settings.timeout.as_secs_f64().ceil() as u64,
        "MemorySize": settings.memory_mb,
        // Lambda's format: 2026-12-01T02:03:04.567+0000.
        "LastModified": format_timestamp(loaded_at).replace('Z', "+0000"),
        "Version": LATEST,
        "Environment": { "Variables": variables },
        "PackageType": "Zip",
        "Architectures": [architecture()],
        "State": "Active",
        "LastUpdateStatus": "Successful",
    })
}

/// Lambda's name for this machine's architecture.
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, qualifier: Option<&str>) -> FunctionRef {
        FunctionRef {
            name: name.into(),
            qualifier: qualifier.map(Into::into),
        }
    }

    #[test]
    fn names_qualifiers_and_arns() {
        let invoke = |path: &str, query| operation(&Method::POST, path, query).unwrap();
        assert_eq!(
            invoke("/2015-03-31/functions/hello/invocations", None),
            Operation::Invoke(reference("hello", None))
        );
        assert_eq!(
            invoke("/2015-03-31/functions/hello%3A%24LATEST/invocations", None),
            Operation::Invoke(reference("hello", Some("$LATEST")))
        );
        assert_eq!(
            invoke(
                "/2015-03-31/functions/hello/invocations",
                Some("Qualifier=%24LATEST")
            ),
            Operation::Invoke(reference("hello", Some("$LATEST")))
        );
        assert_eq!(
            invoke(
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahello%3Aprod/invocations",
                None
            ),
            Operation::Invoke(reference("hello", Some("prod")))
        );
        assert_eq!(
            invoke(
                "/2015-03-31/functions/123456789012:function:hello/invocations",
                None
            ),
            Operation::Invoke(reference("hello", None))
        );
        let get = |path: &str| operation(&Method::GET, path, None).unwrap();
        assert_eq!(get("/2015-03-31/functions/"), Operation::ListFunctions);
        assert_eq!(get("/2015-03-31/functions"), Operation::ListFunctions);
        assert_eq!(
            get("/2015-03-31/functions/hello"),
            Operation::GetFunction(reference("hello", None))
        );
    }

    #[test]
    fn bad_names_and_paths_say_why() {
        let error = |path: &str, query| operation(&Method::POST, path, query).unwrap_err();
        let e = error("/2015-03-31/functions/a:b:c:d:e/invocations", None);
        assert_eq!(e.error_type, "InvalidParameterValueException");
        assert!(e.message.contains("not a function name or ARN"), "{e:?}");
        let e = error(
            "/2015-03-31/functions/hello:1/invocations",
            Some("Qualifier=2"),
        );
        assert!(e.message.contains("does not match"), "{e:?}");
        let e = error("/2015-03-31/functions/hello/nope", None);
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e = operation(&Method::DELETE, "/2015-03-31/functions/hello", None).unwrap_err();
        assert_eq!(e.error_type, "ResourceNotFoundException");
    }
}
