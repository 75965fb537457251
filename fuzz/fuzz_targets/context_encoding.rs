//! `abi::ContextEncoder` with arbitrary field values: every line is
//! `key=value` with a known key, split at the first `=` it gives back the
//! value (newlines turned into spaces), in ABI order.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use lambda_wasm::abi::ContextEncoder;
use lambda_wasm::handler_name::HandlerName;
use lambda_wasm::invocation::InvocationContext;
use lambda_wasm::logs::LogConfig;
use lambda_wasm::settings::FunctionSettings;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    request_id: String,
    deadline_ms: u64,
    invoked_function_arn: String,
    trace_id: Option<String>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
    tenant_id: Option<String>,
    function_name: String,
    function_version: String,
    memory_mb: u32,
    log_group_name: String,
    log_stream_name: String,
}

fn one_line(value: &str) -> String {
    value.replace(['\n', '\r'], " ")
}

fuzz_target!(|input: Input| {
    // Deadlines past the year 10000 are not ones the Runtime API sends.
    let deadline_ms = input.deadline_ms % 253_402_300_800_000;
    let context = InvocationContext {
        request_id: input.request_id.clone(),
        deadline: UNIX_EPOCH + Duration::from_millis(deadline_ms),
        invoked_function_arn: input.invoked_function_arn.clone(),
        trace_id: input.trace_id.clone(),
        client_context: input.client_context.clone(),
        cognito_identity: input.cognito_identity.clone(),
        tenant_id: input.tenant_id.clone(),
    };
    let settings = FunctionSettings {
        task_root: "/var/task".into(),
        guest_task_root: "/var/task".into(),
        handler: HandlerName::parse("m.handler").unwrap(),
        memory_mb: input.memory_mb,
        timeout: Duration::from_secs(3),
        max_response_bytes: 1024,
        function_name: input.function_name.clone(),
        function_version: input.function_version.clone(),
        log_group_name: input.log_group_name.clone(),
        log_stream_name: input.log_stream_name.clone(),
        log: LogConfig::default(),
        guest_env: Vec::new(),
        concurrency: 1,
        python_home: "/opt/python".into(),
    };
    let mut encoder = ContextEncoder::new(&settings);
    let text = encoder.encode(&context);

    let mut expected: Vec<(&str, String)> = vec![
        ("aws_request_id", one_line(&input.request_id)),
        ("deadline_ms", deadline_ms.to_string()),
        ("invoked_function_arn", one_line(&input.invoked_function_arn)),
        ("function_name", one_line(&input.function_name)),
        ("function_version", one_line(&input.function_version)),
        ("memory_limit_in_mb", input.memory_mb.to_string()),
        ("log_group_name", one_line(&input.log_group_name)),
        ("log_stream_name", one_line(&input.log_stream_name)),
    ];
    for (key, value) in [
        ("xray_trace_id", &input.trace_id),
        ("client_context", &input.client_context),
        ("cognito_identity", &input.cognito_identity),
        ("tenant_id", &input.tenant_id),
    ] {
        if let Some(value) = value {
            expected.push((key, one_line(value)));
        }
    }
    // ABI order of the optional keys: xray_trace_id, cognito_identity, client_context, tenant_id.
    let order = |key: &str| ["xray_trace_id", "cognito_identity", "client_context", "tenant_id"].iter().position(|k| *k == key);
    expected.sort_by_key(|(key, _)| order(key).map_or(0, |i| i + 1));

    assert!(text.ends_with('\n') || text.is_empty(), "{text:?}");
    let parsed: Vec<(&str, &str)> = text
        .split_terminator('\n')
        .map(|line| line.split_once('=').unwrap_or_else(|| panic!("line without '=': {line:?}")))
        .collect();
    assert_eq!(parsed.len(), expected.len(), "{text:?}");
    for ((key, value), (want_key, want_value)) in parsed.iter().zip(&expected) {
        assert_eq!(key, want_key, "{text:?}");
        assert_eq!(value, want_value, "{text:?}");
        assert!(!value.contains(['\n', '\r']));
    }
});
