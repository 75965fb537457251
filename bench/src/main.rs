//! `lambda-wasm-bench`: pushes events through Lambda runtimes over the
//! Runtime API and writes BENCHMARKS.md (`make bench`).
//!
//! One in-process Runtime API endpoint (the `fake-runtime-api` crate,
//! tests/fake-runtime-api/, hyper) serves each row's runtime process. Per row: `--cold-starts` fresh
//! processes, each timed from spawn to its first response (the event is
//! queued before the spawn); the last one then gets warm-up events and
//! `--events` events one at a time (closed loop, as Lambda sends one event
//! at a time to an execution environment): events/s and per-event latency
//! (enqueue to answer recorded), idle RSS (after the first event) and peak
//! RSS (VmHWM at the end), and the CPU each side spent per event.
//!
//! Row 0 is the endpoint's floor: an in-process Rust client that answers
//! every event at once, so the endpoint's own cost per event is shown.
//! The cross-check rows run the runtimes against cargo-lambda's emulator
//! (`cargo lambda watch --only-lambda-apis`) instead.
//!
//! Usage: see [`USAGE`] (`lambda-wasm-bench --help`); paths come from
//! environment variables (see `Paths::from_env`).

mod report;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use fake_runtime_api::{FakeRuntimeApi, Invocation, Outcome};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The seed's hello event.
pub const HELLO_EVENT: &[u8] = br#"{ "first_name": "John", "last_name": "Smith" }"#;
const WAIT: Duration = Duration::from_secs(60);

/// Where everything is; each overridable by an environment variable.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub work: PathBuf,
    pub lambda_wasm: PathBuf,
    pub native_hello: PathBuf,
    pub guest_dir: PathBuf,
    pub python_home: Option<PathBuf>,
    pub ric_python: PathBuf,
    pub cargo_lambda: PathBuf,
}

impl Paths {
    fn from_env() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let var = |name: &str, default: PathBuf| {
            std::env::var_os(name).map(PathBuf::from).unwrap_or(default)
        };
        let target = var("CARGO_TARGET_DIR", root.join("target"));
        let target = if target.is_absolute() {
            target
        } else {
            root.join(target)
        };
        let python_home = var("LAMBDA_WASM_PYTHON_HOME", target.join("release/python"));
        Paths {
            work: target.join("bench"),
            lambda_wasm: var("BENCH_LAMBDA_WASM", target.join("release/lambda-wasm")),
            native_hello: var("BENCH_NATIVE_HELLO", target.join("release/native-hello")),
            guest_dir: var("BENCH_GUEST_DIR", target.join("wasm32-wasip1/guest")),
            python_home: python_home
                .join("python-snapshot.cwasm")
                .is_file()
                .then_some(python_home),
            ric_python: var("BENCH_RIC_PYTHON", root.join(".tools/ric-venv/bin/python")),
            cargo_lambda: var(
                "BENCH_CARGO_LAMBDA",
                root.join(".tools/venv/bin/cargo-lambda"),
            ),
            root,
        }
    }
}

/// One runtime under test.
#[derive(Debug, Clone)]
struct Row {
    id: &'static str,
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    handler: &'static str,
    task_root: PathBuf,
    env: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    pub id: String,
    pub label: String,
    pub endpoint: String,
    pub events: usize,
    pub events_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    /// Every cold start measured, ms.
    pub cold_ms: Vec<f64>,
    pub idle_rss_kb: Option<u64>,
    pub peak_rss_kb: Option<u64>,
    /// CPU time of the runtime process per warm event.
    pub runtime_cpu_us: Option<f64>,
    /// CPU time of this process (endpoint + driver) per warm event.
    pub endpoint_cpu_us: f64,
    /// The handler's module files in the task root and their sizes, e.g.
    /// `hello.wasm 34 KB, hello.cwasm 130 KB` (empty for an interpreter's
    /// source or a native binary).
    pub module_sizes: String,
    pub note: String,
}

impl RowResult {
    pub fn cold_median_ms(&self) -> Option<f64> {
        median(&self.cold_ms)
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

struct Args {
    events: usize,
    warmup: usize,
    cold_starts: usize,
    /// Where the report goes: BENCHMARKS.md, unless `--only` ran part of
    /// the rows (then target/bench/BENCHMARKS.partial.md, so a partial run
    /// never drops the other rows from the committed table).
    report: Option<PathBuf>,
    only: Option<Vec<String>>,
    skip_emulator: bool,
}

/// What `--help` prints.
const USAGE: &str = "\
usage: lambda-wasm-bench [--events N] [--warmup N] [--cold-starts K]
                         [--only ROW,ROW...] [--no-emulator] [--report FILE]

  --events N        warm events per row (10000)
  --warmup N        events before timing (1000)
  --cold-starts K   fresh processes timed to their first response (7)
  --only ROWS       rows to run: floor, native, wasm-rust, wasm-rust-nocwasm,
                    awslambdaric, wasm-python, wasm-c, wasm-zig, wasm-go,
                    wasm-as (each also -nocwasm), wasm-js, node
                    (comma-separated)
  --no-emulator     skip the cargo-lambda cross-check rows
  --report FILE     the file whose generated part is rewritten (BENCHMARKS.md;
                    with --only, target/bench/BENCHMARKS.partial.md)

Environment: CARGO_TARGET_DIR, LAMBDA_WASM_PYTHON_HOME, BENCH_LAMBDA_WASM,
BENCH_NATIVE_HELLO, BENCH_GUEST_DIR, BENCH_RIC_PYTHON, BENCH_CARGO_LAMBDA.";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        events: 10_000,
        warmup: 1_000,
        cold_starts: 7,
        report: None,
        only: None,
        skip_emulator: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--events" => args.events = value()?.parse()?,
            "--warmup" => args.warmup = value()?.parse()?,
            "--cold-starts" => args.cold_starts = value()?.parse::<usize>()?.max(1),
            "--report" => args.report = Some(PathBuf::from(value()?)),
            "--only" => args.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--no-emulator" => args.skip_emulator = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let paths = Paths::from_env();
    let args = parse_args()?;
    // One thread for the endpoint and the driver: no cross-thread wake-ups
    // in the endpoint's own cost per event.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(run_all(&paths, &args))?;
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(paths.work.join("e2e.json"), json)?;
    let (report, chart) = match (&args.report, &args.only) {
        (Some(report), _) => (report.clone(), report.with_file_name("latency.svg")),
        (None, None) => (
            paths.root.join("BENCHMARKS.md"),
            paths.root.join("bench/latency.svg"),
        ),
        (None, Some(_)) => (
            paths.work.join("BENCHMARKS.partial.md"),
            paths.work.join("latency.svg"),
        ),
    };
    report::write(
        &paths,
        &report,
        &chart,
        &results,
        args.events,
        args.cold_starts,
    )?;
    println!("wrote {} and {}", report.display(), chart.display());
    Ok(())
}

fn lambda_env(endpoint: &str, row: &Row) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", endpoint),
        ("_HANDLER", row.handler),
        ("LAMBDA_TASK_ROOT", &row.task_root.to_string_lossy()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/26/[$LATEST]bench"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("TZ", ":UTC"),
        ("PATH", &std::env::var("PATH").unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(row.env.iter().cloned());
    env
}

fn spawn(row: &Row, endpoint: &str, log: &Path) -> anyhow::Result<tokio::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut cmd = tokio::process::Command::new(&row.program);
    cmd.args(&row.args)
        .env_clear()
        .envs(lambda_env(endpoint, row))
        .current_dir(&row.task_root)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    cmd.spawn()
        .with_context(|| format!("spawn {}", row.program.display()))
}

async fn stop(mut child: tokio::process::Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

fn check_hello(body: &[u8]) -> anyhow::Result<()> {
    let value: serde_json::Value = serde_json::from_slice(body).context("response is not JSON")?;
    if value != serde_json::json!({"message": "Hello John Smith!"}) {
        bail!("unexpected response {value}");
    }
    Ok(())
}

/// `/proc/PID/status` field in kB.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of a process, seconds.
fn proc_cpu_s(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

fn self_cpu_s() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn summarize(lats: &mut [Duration]) -> (f64, f64, f64) {
    lats.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| us(lats[((lats.len() as f64 * p) as usize).min(lats.len() - 1)]);
    let mean = lats.iter().map(|d| us(*d)).sum::<f64>() / lats.len() as f64;
    (pct(0.50), pct(0.99), mean)
}

/// One warm event through the fake endpoint, closed loop.
async fn one(api: &FakeRuntimeApi) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let id = api.invoke(Invocation::new(Bytes::from_static(HELLO_EVENT)));
    match api.take_outcome(&id, WAIT).await {
        Some(Outcome::Response(_)) => Ok(started.elapsed()),
        Some(other) => bail!("event {id} failed: {other:?}"),
        None => bail!("no answer for event {id} within {WAIT:?}"),
    }
}

async fn run_row(paths: &Paths, row: &Row, args: &Args) -> anyhow::Result<RowResult> {
    let log = paths.work.join(format!("logs/{}.log", row.id));
    let _ = std::fs::remove_file(&log);
    let mut cold_ms = Vec::new();
    for attempt in 0..args.cold_starts {
        let api = FakeRuntimeApi::start().await;
        let id = api.invoke(Invocation::new(Bytes::from_static(HELLO_EVENT)));
        let started = Instant::now();
        let mut child = spawn(row, &api.endpoint(), &log)?;
        let outcome = tokio::select! {
            o = api.take_outcome(&id, WAIT) => o,
            status = child.wait() => bail!("{} exited before answering ({status:?}); see {}", row.label, log.display()),
        };
        let cold = started.elapsed();
        match outcome {
            Some(Outcome::Response(body)) => check_hello(&body)?,
            other => bail!(
                "{}: first event: {other:?}; see {}",
                row.label,
                log.display()
            ),
        }
        cold_ms.push(cold.as_secs_f64() * 1e3);
        if attempt + 1 < args.cold_starts {
            stop(child).await;
            continue;
        }
        let pid = child.id().context("no pid")?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle_rss_kb = proc_status_kb(pid, "VmRSS:");
        for _ in 0..args.warmup {
            one(&api).await?;
        }
        let (cpu0, self0) = (proc_cpu_s(pid), self_cpu_s());
        let mut lats = Vec::with_capacity(args.events);
        let started = Instant::now();
        for _ in 0..args.events {
            lats.push(one(&api).await?);
        }
        let total = started.elapsed();
        let (cpu1, self1) = (proc_cpu_s(pid), self_cpu_s());
        let peak_rss_kb = proc_status_kb(pid, "VmHWM:");
        stop(child).await;
        let (p50_us, p99_us, mean_us) = summarize(&mut lats);
        let per_event = |s: f64| s / args.events as f64 * 1e6;
        return Ok(RowResult {
            id: row.id.into(),
            label: row.label.into(),
            endpoint: "fake (Rust, hyper)".into(),
            events: args.events,
            events_per_s: args.events as f64 / total.as_secs_f64(),
            p50_us,
            p99_us,
            mean_us,
            cold_ms,
            idle_rss_kb,
            peak_rss_kb,
            runtime_cpu_us: cpu0.zip(cpu1).map(|(a, b)| per_event(b - a)),
            endpoint_cpu_us: per_event(self1 - self0),
            module_sizes: module_sizes(paths, row),
            note: String::new(),
        });
    }
    unreachable!()
}

/// The sizes of `row`'s module files in its task root (`MODULE.wasm` and
/// `MODULE.cwasm`, whichever are there), for the report; a native row's
/// binary.
fn module_sizes(paths: &Paths, row: &Row) -> String {
    let kb = |bytes: u64| format!("{:.0} KB", bytes as f64 / 1024.0);
    if row.program != paths.lambda_wasm {
        return match std::fs::metadata(&row.program) {
            Ok(m) => format!("binary {}", kb(m.len())),
            Err(_) => String::new(),
        };
    }
    let module = row.handler.split('.').next().unwrap_or_default();
    ["wasm", "cwasm"]
        .iter()
        .filter_map(|ext| {
            let file = format!("{module}.{ext}");
            let bytes = std::fs::metadata(row.task_root.join(&file)).ok()?.len();
            Some(format!("{file} {}", kb(bytes)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A minimal HTTP/1.1 exchange on a kept-alive connection: writes `request`,
/// returns (headers, body).
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> anyhow::Result<(String, Vec<u8>)> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap_or(0))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("connection closed");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((head, buf[end + 4..end + 4 + len].to_vec()));
        }
    }
}

/// Row 0: the endpoint with a runtime that costs nothing (an in-process
/// raw HTTP/1.1 client answering a fixed response).
async fn run_floor(args: &Args) -> anyhow::Result<RowResult> {
    let api = FakeRuntimeApi::start().await;
    let addr = api.addr();
    let client = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::new();
        let next =
            format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: {addr}\r\n\r\n");
        let body = br#"{"message":"Hello John Smith!"}"#;
        loop {
            let (head, _event) = exchange(&mut stream, &mut buf, next.as_bytes()).await?;
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id:"))
                .context("no request id")?
                .trim()
                .to_string();
            let post = format!(
                "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let mut request = post.into_bytes();
            request.extend_from_slice(body);
            exchange(&mut stream, &mut buf, &request).await?;
        }
        #[allow(unreachable_code)]
        anyhow::Ok(())
    });
    for _ in 0..args.warmup {
        one(&api).await?;
    }
    let self0 = self_cpu_s();
    let mut lats = Vec::with_capacity(args.events);
    let started = Instant::now();
    for _ in 0..args.events {
        lats.push(one(&api).await?);
    }
    let total = started.elapsed();
    let self1 = self_cpu_s();
    client.abort();
    let (p50_us, p99_us, mean_us) = summarize(&mut lats);
    Ok(RowResult {
        id: "floor".into(),
        label: "endpoint floor (in-process raw HTTP client, no handler)".into(),
        endpoint: "fake (Rust, hyper)".into(),
        events: args.events,
        events_per_s: args.events as f64 / total.as_secs_f64(),
        p50_us,
        p99_us,
        mean_us,
        cold_ms: Vec::new(),
        idle_rss_kb: None,
        peak_rss_kb: None,
        runtime_cpu_us: None,
        endpoint_cpu_us: self1 - self0,
        module_sizes: String::new(),
        note: "CPU column: endpoint + driver + client, all in this process".into(),
    }
    .per_event_cpu(args.events))
}

impl RowResult {
    fn per_event_cpu(mut self, events: usize) -> Self {
        self.endpoint_cpu_us = self.endpoint_cpu_us / events as f64 * 1e6;
        self
    }
}

fn run(cmd: &mut std::process::Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Lays out the task roots under target/bench/ and lists the rows.
fn rows(paths: &Paths) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    let mut skipped = Vec::new();
    std::fs::create_dir_all(paths.work.join("logs"))?;
    let hello_wasm = paths.guest_dir.join("hello.wasm");
    if !hello_wasm.is_file() {
        bail!("{} is missing: run `make guests`", hello_wasm.display());
    }
    let rust_cwasm = paths.work.join("rust-cwasm");
    let rust_wasm = paths.work.join("rust-wasm");
    let python = paths.work.join("python");
    for dir in [&rust_cwasm, &rust_wasm, &python] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(&hello_wasm, rust_cwasm.join("hello.wasm"))?;
    std::fs::copy(&hello_wasm, rust_wasm.join("hello.wasm"))?;
    run(std::process::Command::new(&paths.lambda_wasm)
        .arg("compile")
        .arg(rust_cwasm.join("hello.wasm")))?;
    std::fs::copy(
        paths.root.join("bench/seed-hello/lambda_function.py"),
        python.join("lambda_function.py"),
    )?;

    let lambda_wasm = |id, label, handler, task_root: &Path, env: Vec<(String, String)>| Row {
        id,
        label,
        program: paths.lambda_wasm.clone(),
        args: Vec::new(),
        handler,
        task_root: task_root.to_path_buf(),
        env,
    };
    let mut rows = vec![
        Row {
            id: "native",
            label: "native lambda_runtime hello (anchor)",
            program: paths.native_hello.clone(),
            args: Vec::new(),
            handler: "hello.handler",
            task_root: rust_cwasm.clone(),
            env: Vec::new(),
        },
        lambda_wasm(
            "wasm-rust",
            "lambda-wasm + Rust hello (.cwasm)",
            "hello.handler",
            &rust_cwasm,
            Vec::new(),
        ),
        lambda_wasm(
            "wasm-rust-nocwasm",
            "lambda-wasm + Rust hello (.wasm, compiled at init)",
            "hello.handler",
            &rust_wasm,
            Vec::new(),
        ),
    ];
    if paths.ric_python.is_file() {
        rows.push(Row {
            id: "awslambdaric",
            label: "awslambdaric (CPython 3.11) + seed hello",
            program: paths.ric_python.clone(),
            args: ["-m", "awslambdaric", "lambda_function.lambda_handler"]
                .map(String::from)
                .to_vec(),
            handler: "lambda_function.lambda_handler",
            task_root: python.clone(),
            env: Vec::new(),
        });
    } else {
        skipped.push(format!(
            "awslambdaric: {} missing (`make bench-tools`)",
            paths.ric_python.display()
        ));
    }
    if let Some(home) = &paths.python_home {
        rows.push(lambda_wasm(
            "wasm-python",
            "lambda-wasm + Python guest (seed hello, CPython 3.15 wasi)",
            "lambda_function.lambda_handler",
            &python,
            vec![(
                "LAMBDA_WASM_PYTHON_HOME".into(),
                home.to_string_lossy().into_owned(),
            )],
        ));
    } else {
        skipped.push(
            "lambda-wasm + Python: no interpreter (`make python` or LAMBDA_WASM_PYTHON_HOME)"
                .into(),
        );
    }
    language_rows(paths, &lambda_wasm, &mut rows, &mut skipped)?;
    ruby_rows(paths, &lambda_wasm, &mut rows, &mut skipped)?;
    Ok((rows, skipped))
}

/// The seed hello in Ruby: on the Ruby guest (`make ruby`) restored from
/// its home's snapshot and with `LAMBDA_WASM_PREINIT=off`, and on Debian's
/// `ruby` under a minimal Runtime API loop (bench/ruby-runtime/runtime.rb);
/// a missing one is listed in `skipped`.
fn ruby_rows(
    paths: &Paths,
    lambda_wasm: &LambdaWasmRow<'_>,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<String>,
) -> anyhow::Result<()> {
    let handler = "lambda_function.lambda_handler";
    let ruby = paths.work.join("ruby");
    let _ = std::fs::remove_dir_all(&ruby);
    std::fs::create_dir_all(&ruby)?;
    std::fs::copy(
        paths.root.join("guests/ruby/hello/lambda_function.rb"),
        ruby.join("lambda_function.rb"),
    )?;
    let ruby_home = paths.lambda_wasm.with_file_name("ruby");
    if ruby_home.join("ruby.cwasm").is_file() {
        let home = (
            "LAMBDA_WASM_RUBY_HOME".to_string(),
            ruby_home.to_string_lossy().into_owned(),
        );
        rows.push(lambda_wasm(
            "wasm-ruby",
            "lambda-wasm + Ruby guest (seed hello, Ruby 3.4 wasi, pre-initialised)",
            handler,
            &ruby,
            vec![home.clone()],
        ));
        rows.push(lambda_wasm(
            "wasm-ruby-nopreinit",
            "lambda-wasm + Ruby guest (seed hello, LAMBDA_WASM_PREINIT=off)",
            handler,
            &ruby,
            vec![home, ("LAMBDA_WASM_PREINIT".into(), "off".into())],
        ));
    } else {
        skipped.push(format!(
            "lambda-wasm + Ruby: no interpreter in {} (`make ruby`)",
            ruby_home.display()
        ));
    }
    match which("ruby") {
        Some(program) => rows.push(Row {
            id: "ruby-native",
            label: "Debian ruby + minimal Runtime API loop (seed hello)",
            program,
            args: vec![
                paths
                    .root
                    .join("bench/ruby-runtime/runtime.rb")
                    .to_string_lossy()
                    .into_owned(),
                handler.into(),
            ],
            handler,
            task_root: ruby,
            env: Vec::new(),
        }),
        None => skipped.push("Debian ruby: not installed (`apt-get install ruby`)".into()),
    }
    Ok(())
}

/// `program`'s path on `$PATH`, if it is there.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The compiled languages' hello (`make guests-langs`), each a row with its
/// `.cwasm` and one with the `.wasm` alone.
struct LanguageRow {
    /// The folder under `<target>/wasm32-wasip1` holding its modules.
    folder: &'static str,
    cwasm: (&'static str, &'static str),
    wasm_only: (&'static str, &'static str),
}

const LANGUAGE_ROWS: &[LanguageRow] = &[
    LanguageRow {
        folder: "guest-c",
        cwasm: ("wasm-c", "lambda-wasm + C hello (.cwasm)"),
        wasm_only: (
            "wasm-c-nocwasm",
            "lambda-wasm + C hello (.wasm, compiled at init)",
        ),
    },
    LanguageRow {
        folder: "guest-zig",
        cwasm: ("wasm-zig", "lambda-wasm + Zig hello (.cwasm)"),
        wasm_only: (
            "wasm-zig-nocwasm",
            "lambda-wasm + Zig hello (.wasm, compiled at init)",
        ),
    },
    LanguageRow {
        folder: "guest-go",
        cwasm: ("wasm-go", "lambda-wasm + Go hello (.cwasm)"),
        wasm_only: (
            "wasm-go-nocwasm",
            "lambda-wasm + Go hello (.wasm, compiled at init)",
        ),
    },
    LanguageRow {
        folder: "guest-as",
        cwasm: ("wasm-as", "lambda-wasm + AssemblyScript hello (.cwasm)"),
        wasm_only: (
            "wasm-as-nocwasm",
            "lambda-wasm + AssemblyScript hello (.wasm, compiled at init)",
        ),
    },
];

type LambdaWasmRow<'a> =
    dyn Fn(&'static str, &'static str, &'static str, &Path, Vec<(String, String)>) -> Row + 'a;

/// The rows of [`LANGUAGE_ROWS`] whose modules are built, and the
/// JavaScript hello when the runner is (`make js`), beside Node.js itself
/// running the same file; a missing one is listed in `skipped`.
fn language_rows(
    paths: &Paths,
    lambda_wasm: &LambdaWasmRow<'_>,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<String>,
) -> anyhow::Result<()> {
    let built = paths.guest_dir.parent().unwrap_or(&paths.guest_dir);
    for language in LANGUAGE_ROWS {
        let hello = built.join(language.folder).join("hello.wasm");
        if !hello.is_file() {
            skipped.push(format!(
                "{}: {} missing (`make guests-langs`)",
                language.cwasm.1,
                hello.display()
            ));
            continue;
        }
        for (id, label) in [language.cwasm, language.wasm_only] {
            let dir = paths.work.join(id);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(&hello, dir.join("hello.wasm"))?;
            if id == language.cwasm.0 {
                run(std::process::Command::new(&paths.lambda_wasm)
                    .arg("compile")
                    .arg(dir.join("hello.wasm")))?;
            }
            rows.push(lambda_wasm(id, label, "hello.handler", &dir, Vec::new()));
        }
    }
    let js_home = paths.lambda_wasm.with_file_name("js");
    if js_home.join("javascript.cwasm").is_file() {
        let js = paths.work.join("js");
        let _ = std::fs::remove_dir_all(&js);
        std::fs::create_dir_all(&js)?;
        std::fs::copy(
            paths.root.join("guests/js/hello/index.mjs"),
            js.join("index.mjs"),
        )?;
        let home = (
            "LAMBDA_WASM_JS_HOME".into(),
            js_home.to_string_lossy().into_owned(),
        );
        rows.push(lambda_wasm(
            "wasm-js",
            "lambda-wasm + JavaScript guest (hello, QuickJS-NG wasi)",
            "index.handler",
            &js,
            vec![home],
        ));
        rows.push(Row {
            id: "node",
            label: "Node.js (minimal Runtime API loop, bench/node-runtime) + the same hello",
            program: "node".into(),
            args: vec![
                paths
                    .root
                    .join("bench/node-runtime/index.mjs")
                    .to_string_lossy()
                    .into_owned(),
            ],
            handler: "index.handler",
            task_root: js.clone(),
            env: Vec::new(),
        });
    } else {
        skipped.push(format!(
            "lambda-wasm + JavaScript: no runner in {} (`make js`)",
            js_home.display()
        ));
    }
    Ok(())
}

async fn run_all(paths: &Paths, args: &Args) -> anyhow::Result<Vec<RowResult>> {
    let (rows, skipped) = rows(paths)?;
    for s in &skipped {
        eprintln!("skipping {s}");
    }
    let wanted = |id: &str| {
        args.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == id))
    };
    let mut results = Vec::new();
    if wanted("floor") {
        eprintln!("== endpoint floor");
        results.push(run_floor(args).await?);
    }
    for row in rows.iter().filter(|r| wanted(r.id)) {
        eprintln!("== {}", row.label);
        match run_row(paths, row, args).await {
            Ok(r) => {
                eprintln!(
                    "   {:.0} events/s, p50 {:.1} us, p99 {:.1} us, cold {:.1} ms, peak RSS {:?} kB",
                    r.events_per_s,
                    r.p50_us,
                    r.p99_us,
                    r.cold_median_ms().unwrap_or(0.0),
                    r.peak_rss_kb
                );
                results.push(r);
            }
            Err(e) => {
                eprintln!("   failed: {e:#}");
                results.push(RowResult {
                    id: row.id.into(),
                    label: row.label.into(),
                    endpoint: "fake (Rust, hyper)".into(),
                    events: 0,
                    events_per_s: 0.0,
                    p50_us: 0.0,
                    p99_us: 0.0,
                    mean_us: 0.0,
                    cold_ms: Vec::new(),
                    idle_rss_kb: None,
                    peak_rss_kb: None,
                    runtime_cpu_us: None,
                    endpoint_cpu_us: 0.0,
                    module_sizes: String::new(),
                    note: format!("failed: {e:#}"),
                });
            }
        }
    }
    if !args.skip_emulator && paths.cargo_lambda.is_file() {
        for row in rows
            .iter()
            .filter(|r| wanted(r.id) && r.id != "awslambdaric" && !r.id.ends_with("-nocwasm"))
        {
            eprintln!("== {} via cargo-lambda's emulator", row.label);
            match emulator::run_row(paths, row, args).await {
                Ok(r) => results.push(r),
                Err(e) => eprintln!("   failed: {e:#}"),
            }
        }
    }
    Ok(results)
}

mod emulator {
    //! The cross-check: the same runtimes against `cargo lambda watch
    //! --only-lambda-apis` (cargo-lambda 1.9.2 from PyPI), events sent to its
    //! Invoke API. Its Runtime API is at `http://127.0.0.1:PORT/.rt/NAME`
    //! (see tests/e2e/cargo_lambda.rs for the emulator's ways).
    use super::*;

    fn free_port() -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
            .local_addr()?
            .port())
    }

    /// The Cargo project `watch` insists on: one `[[bin]]` named `bench`.
    fn project(work: &Path) -> anyhow::Result<PathBuf> {
        let dir = work.join("cargo-lambda-project");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"bench-emulator\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[[bin]]\nname = \"bench\"\npath = \"bench.rs\"\n\n[workspace]\n",
        )?;
        std::fs::write(dir.join("bench.rs"), "fn main() {}\n")?;
        Ok(dir)
    }

    async fn invoke(
        stream: &mut TcpStream,
        buf: &mut Vec<u8>,
        port: u16,
    ) -> anyhow::Result<Vec<u8>> {
        let mut request = format!(
            "POST /2015-03-31/functions/bench/invocations HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            HELLO_EVENT.len()
        )
        .into_bytes();
        request.extend_from_slice(HELLO_EVENT);
        let (head, body) = exchange(stream, buf, &request).await?;
        if !head.starts_with("http/1.1 200") {
            bail!(
                "emulator answered {}: {}",
                head.lines().next().unwrap_or(""),
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }

    pub async fn run_row(paths: &Paths, row: &Row, args: &Args) -> anyhow::Result<RowResult> {
        let project = project(&paths.work)?;
        let port = free_port()?;
        let log = paths.work.join(format!("logs/cargo-lambda-{}.log", row.id));
        let emu_log = std::fs::File::create(&log)?;
        let mut emu = tokio::process::Command::new(&paths.cargo_lambda);
        emu.args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(emu_log.try_clone()?)
        .stderr(emu_log)
        .kill_on_drop(true);
        let emu = emu.spawn().context("spawn cargo-lambda")?;
        let until = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > until {
                bail!(
                    "cargo-lambda did not listen on {port}; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let endpoint = format!("http://127.0.0.1:{port}/.rt/bench");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::new();
        // Cold start: the invocation is sent, then the runtime spawned.
        let started = Instant::now();
        let child = spawn(
            row,
            &endpoint,
            &paths.work.join(format!("logs/{}-emulator.log", row.id)),
        )?;
        let body = invoke(&mut stream, &mut buf, port).await?;
        let cold = started.elapsed();
        check_hello(&body)?;
        let pid = child.id().context("no pid")?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle_rss_kb = proc_status_kb(pid, "VmRSS:");
        let events = (args.events / 5).max(100);
        for _ in 0..args.warmup / 5 {
            invoke(&mut stream, &mut buf, port).await?;
        }
        let cpu0 = proc_cpu_s(pid);
        let emu_pid = emu.id().context("no emulator pid")?;
        let emu0 = proc_cpu_s(emu_pid);
        let mut lats = Vec::with_capacity(events);
        let t = Instant::now();
        for _ in 0..events {
            let s = Instant::now();
            invoke(&mut stream, &mut buf, port).await?;
            lats.push(s.elapsed());
        }
        let total = t.elapsed();
        let (cpu1, emu1) = (proc_cpu_s(pid), proc_cpu_s(emu_pid));
        let peak_rss_kb = proc_status_kb(pid, "VmHWM:");
        stop(child).await;
        stop(emu).await;
        let (p50_us, p99_us, mean_us) = summarize(&mut lats);
        let per_event = |s: f64| s / events as f64 * 1e6;
        Ok(RowResult {
            id: format!("{}@cargo-lambda", row.id),
            label: row.label.into(),
            endpoint: "cargo-lambda 1.9.2 emulator".into(),
            events,
            events_per_s: events as f64 / total.as_secs_f64(),
            p50_us,
            p99_us,
            mean_us,
            cold_ms: vec![cold.as_secs_f64() * 1e3],
            idle_rss_kb,
            peak_rss_kb,
            runtime_cpu_us: cpu0.zip(cpu1).map(|(a, b)| per_event(b - a)),
            endpoint_cpu_us: emu0.zip(emu1).map(|(a, b)| per_event(b - a)).unwrap_or(0.0),
            module_sizes: String::new(),
            note: "CPU column: the emulator process".into(),
        })
    }
}
