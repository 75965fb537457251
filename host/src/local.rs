//! Test mode: run a handler on an event from a file or stdin, with a made-up
//! context, writing the platform's START/END/REPORT lines as Lambda would.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use crate::engine::cache::ModuleCache;
use crate::errors::LambdaError;
use crate::function::{Function, InitReport};
use crate::invocation::{Invocation, InvocationContext, Outcome};
use crate::logs::Logger;
use crate::settings::{FunctionSettings, LocalOptions};

/// Exit status of `invoke` when the function returned an error.
const FUNCTION_ERROR: u8 = 1;
/// Exit status of `invoke` for a usage or init error.
const USAGE_OR_INIT_ERROR: u8 = 2;

/// What `lambda-wasm invoke` runs.
#[derive(Debug, Clone)]
pub struct InvokeOptions {
    /// The function.
    pub function: LocalOptions,
    /// The event: a JSON file's path, or `-` for stdin.
    pub event: String,
}

/// `lambda-wasm invoke`: prints the response (or error) JSON on stdout.
pub async fn invoke(options: &InvokeOptions) -> ExitCode {
    let event = match read_event(&options.event) {
        Ok(event) => event,
        Err(message) => {
            eprintln!("lambda-wasm: {message}");
            return ExitCode::from(USAGE_OR_INIT_ERROR);
        }
    };
    let (mut function, init) = match load(&options.function).await {
        Ok(loaded) => loaded,
        Err(error) => {
            print_json(&error.to_json(""));
            return ExitCode::from(USAGE_OR_INIT_ERROR);
        }
    };
    let invocation = local_invocation(event, function.settings(), SystemTime::now());
    let outcome = run_reported(
        &mut function,
        &invocation,
        Some(init),
        &mut std::io::stderr(),
    )
    .await;
    match outcome {
        Outcome::Response(json) => {
            print_json(json.get().as_bytes());
            ExitCode::SUCCESS
        }
        Outcome::Error(error) => {
            print_json(&error.to_json(&invocation.context.request_id));
            ExitCode::from(FUNCTION_ERROR)
        }
    }
}

/// Loads the function for test mode; an init error is also said on stderr in one line.
///
/// Test mode caches compiled modules in the user's cache folder, so the
/// next `invoke` or `serve` of an unchanged `.wasm` does not compile it again.
pub async fn load(options: &LocalOptions) -> Result<(Function, InitReport), LambdaError> {
    let loaded = match settings(options) {
        Ok(settings) => {
            let logger = Logger::to_stderr(settings.log);
            Function::load(settings, logger).await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = &loaded {
        eprintln!(
            "lambda-wasm: init failed: {}: {}",
            error.error_type, error.error_message
        );
    }
    loaded
}

/// Test mode's settings for `options`, caching compiled modules in the
/// user's cache folder.
pub fn settings(options: &LocalOptions) -> Result<FunctionSettings, LambdaError> {
    let mut settings = FunctionSettings::local(options)?;
    settings.module_cache_dir =
        ModuleCache::default_dir(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"));
    Ok(settings)
}

/// The made-up account every local function belongs to.
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// The ARN a local function `name` has in `region`.
pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{LOCAL_ACCOUNT}:function:{name}")
}

/// The region a function's guest sees (`AWS_REGION`).
pub fn region(settings: &FunctionSettings) -> &str {
    settings
        .guest_env
        .iter()
        .find(|(name, _)| name == "AWS_REGION")
        .map_or("us-east-1", |(_, value)| value.as_str())
}

/// A context like Lambda's for a local invocation starting at `now`.
pub fn local_invocation(event: Bytes, settings: &FunctionSettings, now: SystemTime) -> Invocation {
    let context = InvocationContext {
        request_id: uuid::Uuid::new_v4().to_string(),
        deadline: now + settings.timeout,
        invoked_function_arn: function_arn(region(settings), &settings.function_name),
        trace_id: None,
        client_context: None,
        cognito_identity: None,
        tenant_id: None,
    };
    Invocation { event, context }
}

/// Runs `invocation` between START and END/REPORT lines written to
/// `platform_log` (stderr for `invoke`; the environment's log for `serve`,
/// whose `Tail` returns them with the function's own lines).
pub async fn run_reported(
    function: &mut Function,
    invocation: &Invocation,
    init: Option<InitReport>,
    platform_log: &mut dyn Write,
) -> Outcome {
    let request_id = &invocation.context.request_id;
    let version = &function.settings().function_version;
    // Lines go out whole (one write each), so concurrent environments sharing
    // stderr never interleave within a line.
    let _ = platform_log
        .write_all(format!("START RequestId: {request_id} Version: {version}\n").as_bytes());
    let started = Instant::now();
    let outcome = function.invoke(invocation).await;
    let duration = started.elapsed();
    let report = report_line(request_id, duration, function, init);
    let _ = platform_log.write_all(format!("END RequestId: {request_id}\n{report}\n").as_bytes());
    outcome
}

fn report_line(
    request_id: &str,
    duration: Duration,
    function: &Function,
    init: Option<InitReport>,
) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    let memory_used_mb = function.peak_memory_bytes().div_ceil(1024 * 1024);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {millis:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {memory_used_mb} MB",
        millis.ceil() as u64,
        function.settings().memory_mb,
    );
    if let Some(init) = init {
        line.push_str(&format!(
            "\tInit Duration: {:.2} ms",
            init.duration.as_secs_f64() * 1000.0
        ));
    }
    line
}

fn read_event(source: &str) -> anyhow::Result<Bytes> {
    let bytes = if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot read the event from stdin: {e}"))?;
        bytes
    } else {
        std::fs::read(source).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the event file {source}: {e}; pass a JSON file or - for stdin"
            )
        })?
    };
    Ok(Bytes::from(bytes))
}

fn print_json(json: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(json);
    let _ = stdout.write_all(b"\n");
    let _ = stdout.flush();
}
