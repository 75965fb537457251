//! Warm invocations in a loop, for profilers: BENCHMARKS.md's "where the warm
//! invocation time goes" is measured with it.
//!
//! ```sh
//! cargo build --release -p lambda-wasm --example profile_invoke
//! target/release/examples/profile_invoke hello 100000     # the hello guest (.cwasm)
//! target/release/examples/profile_invoke probe 100000     # a guest that does nothing
//! target/release/examples/profile_invoke native 100000    # hello's handler, natively
//! target/release/examples/profile_invoke target/wasm32-wasip1/guest-go/hello.wasm 100000  # any module
//! valgrind --tool=callgrind target/release/examples/profile_invoke hello 5000
//! ```
//!
//! Criterion's samples (`host/benches/sandbox.rs`) time the same loop; this
//! one has no statistics around it, so a profile shows only the invocation.
//! Run two counts (e.g. 5,000 and 25,000) under callgrind and divide the
//! difference by 20,000 for instructions per invocation, init excluded.
//! Run from the repository root: guests come from `target/wasm32-wasip1/guest`
//! (`make guests`), their `.cwasm` is kept in `target/profile-invoke/`.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use lambda_wasm::abi::{ContextEncoder, ContextForm};
use lambda_wasm::engine::HostEngine;
use lambda_wasm::function::Function;
use lambda_wasm::invocation::{Invocation, InvocationContext};
use lambda_wasm::logs::{LogConfig, Logger};
use lambda_wasm::settings::{FunctionSettings, LocalOptions};

const HELLO_EVENT: &[u8] = br#"{ "first_name": "John", "last_name": "Smith" }"#;
const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench";
const TRACE_ID: &str = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";

/// The criterion bench's probe: the ABI boundary alone.
const PROBE_WAT: &str = include_str!("../benches/probe.wat");

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(guest), Some(count)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: profile_invoke hello|probe|native|<guest> COUNT");
    };
    let count: u32 = count.parse()?;
    let started = Instant::now();
    if guest == "native" {
        native(count)?;
    } else {
        sandboxed(&guest, count)?;
    }
    let per_invocation = started.elapsed() / count;
    eprintln!("{guest}: {per_invocation:?} per invocation (wall time, init included)");
    Ok(())
}

/// The hello handler through the guest SDK's native path (what criterion's
/// `invoke/rust-hello/native` times), with the binary context the host
/// writes for the hello guest (ABI 1.3).
fn native(count: u32) -> anyhow::Result<()> {
    let settings = settings("hello.handler", Path::new("."))?;
    let context = ContextEncoder::new(&settings)
        .encode_as(ContextForm::Binary, &hello_invocation().context)
        .to_vec();
    for _ in 0..count {
        let event = std::hint::black_box(HELLO_EVENT);
        let result = lambda_wasm_guest::testing::invoke(hello::handler, event, &context);
        assert_eq!(result.status, 0, "hello failed natively");
    }
    Ok(())
}

/// The settings of `handler` in `task_root`, as `invoke` makes them.
fn settings(handler: &str, task_root: &Path) -> anyhow::Result<FunctionSettings> {
    FunctionSettings::local(&LocalOptions {
        handler: handler.into(),
        task_root: task_root.to_path_buf(),
        timeout: Duration::from_secs(3),
        memory_mb: 128,
        max_response_bytes: 6 << 20,
        ..Default::default()
    })
    .map_err(|e| anyhow::anyhow!("{}", e.error_message))
}

/// `count` warm invocations of `guest` through `Function::invoke`, awaited
/// in one runtime as the bootstrap does.
fn sandboxed(guest: &str, count: u32) -> anyhow::Result<()> {
    let engine = HostEngine::new()?;
    let wasm = guest_module(guest);
    let module = module_name(guest);
    let guest = module.as_str();
    let task_root = Path::new("target/profile-invoke");
    std::fs::create_dir_all(task_root)?;
    let cwasm = task_root.join(format!("{guest}.cwasm"));
    if guest == "probe" {
        std::fs::write(
            &cwasm,
            engine
                .engine()
                .precompile_module(&wat::parse_str(PROBE_WAT)?)?,
        )?;
    } else {
        if !is_newer(&cwasm, &wasm) {
            std::fs::write(
                &cwasm,
                engine.engine().precompile_module(&std::fs::read(&wasm)?)?,
            )?;
        }
    }
    let settings = settings(&format!("{guest}.handler"), task_root)?;
    let logger = Logger::to_writer(LogConfig::default(), Box::new(std::io::sink()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut function = Function::load_with_engine(&engine, settings, logger)
            .await
            .map_err(|e| anyhow::anyhow!("init failed: {}", e.error_message))?;
        let invocation = hello_invocation();
        for _ in 0..count {
            let outcome = function.invoke(&invocation).await;
            anyhow::ensure!(!outcome.is_error(), "{guest} failed: {outcome:?}");
        }
        Ok(())
    })
}

/// The name `guest` runs under in the task root: a built Rust guest's own
/// name, or `<folder>-<stem>` for a module path such as
/// `target/wasm32-wasip1/guest-go/hello.wasm` (`guest-go-hello`).
fn module_name(guest: &str) -> String {
    let path = Path::new(guest);
    match (path.extension(), path.parent().and_then(Path::file_name)) {
        (Some(ext), Some(folder)) if ext == "wasm" => format!(
            "{}-{}",
            folder.to_string_lossy(),
            path.file_stem().unwrap_or_default().to_string_lossy()
        ),
        _ => guest.to_owned(),
    }
}

/// The module file of `guest`: the path itself when it is one, else the
/// built Rust guest in `target/wasm32-wasip1/guest`.
fn guest_module(guest: &str) -> std::path::PathBuf {
    if guest.ends_with(".wasm") {
        guest.into()
    } else {
        Path::new("target/wasm32-wasip1/guest").join(format!("{guest}.wasm"))
    }
}

/// Whether `output` was written after `input` (a `.cwasm` is reused across
/// runs, so callgrind does not count Cranelift compiling the guest).
fn is_newer(output: &Path, input: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    matches!((modified(output), modified(input)), (Some(out), Some(inp)) if out > inp)
}

/// The criterion bench's invocation: the hello event with a trace id.
fn hello_invocation() -> Invocation {
    Invocation {
        event: Bytes::from_static(HELLO_EVENT),
        context: InvocationContext {
            request_id: REQUEST_ID.into(),
            deadline: SystemTime::now() + Duration::from_secs(3600),
            invoked_function_arn: ARN.into(),
            trace_id: Some(TRACE_ID.into()),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
        },
    }
}
