//! The library in-process: `Function` loaded from the test guest and driven
//! directly, beside the subprocess suites, so a failure points at the host's
//! code rather than at a process boundary, and the host's own state between
//! invocations (environment reuse, replacement after a fault, REPORT's
//! memory) can be checked without parsing logs.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lambda_wasm::engine::HostEngine;
use lambda_wasm::function::Function;
use lambda_wasm::invocation::{Invocation, InvocationContext, Outcome};
use lambda_wasm::logs::{LogConfig, Logger};
use lambda_wasm::settings::{FunctionSettings, LocalOptions};
use serde_json::{Value, json};

use crate::support::TaskRoot;

/// The test guest's function, on its own engine, logging nowhere.
async fn load(root: &TaskRoot, timeout: Duration) -> Function {
    let settings = FunctionSettings::local(&LocalOptions {
        handler: "probe.handler".into(),
        task_root: root.path().to_path_buf(),
        timeout,
        memory_mb: 128,
        max_response_bytes: 6 << 20,
        ..LocalOptions::default()
    })
    .expect("settings");
    let logger = Logger::to_writer(LogConfig::default(), Box::new(std::io::sink()));
    let engine = HostEngine::new().expect("engine");
    Function::load_with_engine(&engine, settings, logger)
        .await
        .unwrap_or_else(|error| panic!("init failed: {error}"))
}

fn probe() -> TaskRoot {
    TaskRoot::with_guest("test_guest.wasm", "probe.wasm")
}

async fn call(function: &mut Function, event: Value) -> Outcome {
    let timeout = function.settings().timeout;
    let invocation = Invocation {
        event: Bytes::from(event.to_string()),
        context: InvocationContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            deadline: SystemTime::now() + timeout,
            invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:probe".into(),
            trace_id: None,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
        },
    };
    function.invoke(&invocation).await
}

fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(json) => serde_json::from_str(json.get()).expect("JSON"),
        Outcome::Error(error) => panic!("a function error: {error:?}"),
    }
}

fn error_type(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Error(error) => &error.error_type,
        Outcome::Response(json) => panic!("a response: {json}"),
    }
}

#[tokio::test]
async fn warm_invocations_share_the_environment_until_a_fault() {
    let root = probe();
    let mut function = load(&root, Duration::from_secs(3)).await;
    let first = response(call(&mut function, json!({"action": "counter"})).await);
    let second = response(call(&mut function, json!({"action": "counter"})).await);
    assert_eq!(
        (first["count"].as_u64(), second["count"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(first["instance_id"], second["instance_id"]);

    let fault = call(&mut function, json!({"action": "unreachable"})).await;
    assert_eq!(error_type(&fault), "Runtime.WasmTrap");
    let after = response(call(&mut function, json!({"action": "counter"})).await);
    assert_eq!(after["count"], 1, "a fresh environment after the fault");
    assert_ne!(after["instance_id"], first["instance_id"]);
}

#[tokio::test]
async fn a_function_error_keeps_the_environment() {
    let root = probe();
    let mut function = load(&root, Duration::from_secs(3)).await;
    response(call(&mut function, json!({"action": "counter"})).await);
    let failed = call(&mut function, json!({"action": "fail", "message": "no"})).await;
    assert_eq!(error_type(&failed), "CustomError");
    let after = response(call(&mut function, json!({"action": "counter"})).await);
    assert_eq!(after["count"], 2);
}

#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    let root = probe();
    let mut function = load(&root, Duration::from_secs(3)).await;
    match call(&mut function, json!({"action": "panic"})).await {
        Outcome::Error(error) => {
            assert_eq!(error.error_type, "Panic");
            assert!(error.error_message.ends_with(": boom"), "{error:?}");
            assert!(
                error
                    .stack_trace
                    .iter()
                    .any(|frame| frame.ends_with("!core::panicking::panic_fmt")),
                "demangled Wasm frames follow: {:?}",
                error.stack_trace
            );
        }
        Outcome::Response(json) => panic!("a panic answered {json}"),
    }
    response(call(&mut function, json!({"action": "echo"})).await);
}

#[tokio::test]
async fn faults_replace_the_environment_and_report_its_memory() {
    let root = probe();
    let mut function = load(&root, Duration::from_millis(300)).await;
    let timed_out = call(&mut function, json!({"action": "loop"})).await;
    assert_eq!(error_type(&timed_out), "Sandbox.Timedout");
    let out_of_memory = call(&mut function, json!({"action": "alloc", "mb": 300})).await;
    assert_eq!(error_type(&out_of_memory), "Runtime.OutOfMemory");
    response(call(&mut function, json!({"action": "alloc", "mb": 64})).await);
    let trapped = call(&mut function, json!({"action": "unreachable"})).await;
    assert_eq!(error_type(&trapped), "Runtime.WasmTrap");
    assert!(
        function.peak_memory_bytes() > 64 << 20,
        "REPORT's memory is the faulted environment's: {}",
        function.peak_memory_bytes()
    );
    response(call(&mut function, json!({"action": "echo"})).await);
}
