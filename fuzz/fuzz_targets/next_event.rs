//! `runtime_api::NextEvent::from_response` with arbitrary headers and body
//! (what any Runtime API implementation may send on `next`): it never
//! panics; an invocation keeps its request id and body as sent; the JSON
//! context headers reach the guest as compact one-line JSON or not at all;
//! and the context text the guest gets has one `key=value` per line.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use lambda_wasm::abi::ContextEncoder;
use lambda_wasm::handler_name::HandlerName;
use lambda_wasm::logs::LogConfig;
use lambda_wasm::runtime_api::NextEvent;
use lambda_wasm::settings::FunctionSettings;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// The headers a `next` response carries; any may be absent or malformed.
const NAMES: [&str; 7] = [
    "lambda-runtime-aws-request-id",
    "lambda-runtime-deadline-ms",
    "lambda-runtime-invoked-function-arn",
    "lambda-runtime-trace-id",
    "lambda-runtime-client-context",
    "lambda-runtime-cognito-identity",
    "lambda-runtime-aws-tenant-id",
];

#[derive(Arbitrary, Debug)]
struct Input {
    headers: Vec<(u8, Vec<u8>)>,
    body: Vec<u8>,
}

fn settings() -> FunctionSettings {
    FunctionSettings {
        task_root: "/var/task".into(),
        guest_task_root: "/var/task".into(),
        handler: HandlerName::parse("m.handler").unwrap(),
        memory_mb: 128,
        timeout: Duration::from_secs(3),
        max_response_bytes: 1024,
        function_name: "f".into(),
        function_version: "$LATEST".into(),
        log_group_name: String::new(),
        log_stream_name: String::new(),
        log: LogConfig::default(),
        guest_env: Vec::new(),
        concurrency: 1,
        python_home: "/opt/python".into(),
    }
}

fuzz_target!(|input: Input| {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let name = HeaderName::from_static(NAMES[*name as usize % NAMES.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let body = Bytes::from(input.body.clone());
    let event = NextEvent::from_response(&headers, body.clone(), Duration::from_secs(3));
    let NextEvent::Invocation { invocation, .. } = event else {
        let has_id = headers
            .get(NAMES[0])
            .is_some_and(|id| !id.as_bytes().is_empty());
        assert!(!has_id, "a request id was there: {headers:?}");
        return;
    };
    assert!(!invocation.context.request_id.is_empty());
    assert_eq!(invocation.event, body);
    for json in [&invocation.context.client_context, &invocation.context.cognito_identity]
        .into_iter()
        .flatten()
    {
        assert!(!json.contains(['\n', '\r']), "{json:?}");
        serde_json::from_str::<serde_json::Value>(json).expect("compact JSON");
    }
    let settings = settings();
    let mut encoder = ContextEncoder::new(&settings);
    let text = encoder.encode(&invocation.context);
    for line in text.split_terminator('\n') {
        assert!(line.split_once('=').is_some(), "line without '=': {line:?}");
    }
});
