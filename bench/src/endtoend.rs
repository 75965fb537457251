//! The end-to-end rows: each runtime process against the fake Runtime API
//! endpoint (tests/fake-runtime-api/), cold starts (spawn → first
//! response), then warm events one at a time: events/s, latency, RSS and
//! CPU per event. Row 0, the endpoint's floor, answers in-process.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use fake_runtime_api::{FakeRuntimeApi, Invocation, Outcome};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::rows::{Exchange, HELLO, Row};
use crate::{Args, Paths, median};

/// How long any one answer may take.
pub const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Default, Serialize)]
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
    /// The result of a row that could not be measured: its note says why.
    pub fn failed(row: &Row, error: &anyhow::Error) -> Self {
        RowResult {
            id: row.id.into(),
            label: row.label.into(),
            endpoint: FAKE_ENDPOINT.into(),
            note: format!("failed: {error:#}"),
            ..RowResult::default()
        }
    }

    pub fn cold_median_ms(&self) -> Option<f64> {
        median(&self.cold_ms)
    }
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

pub fn spawn(row: &Row, endpoint: &str, log: &Path) -> anyhow::Result<tokio::process::Child> {
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

/// Kills a runtime process (the harness is done with it).
pub async fn stop(mut child: tokio::process::Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// Ends a runtime process with SIGTERM, as Lambda's shutdown does, and
/// waits for it: a tool wrapping it (valgrind) then still writes its output.
pub async fn terminate(mut child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) with a pid this process spawned and has not reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
    let _ = child.wait().await;
}

/// Checks an answer against the one `exchange` expects (as JSON values).
pub fn check_answer(exchange: &Exchange, body: &[u8]) -> anyhow::Result<()> {
    let value: serde_json::Value = serde_json::from_slice(body).context("response is not JSON")?;
    let expected: serde_json::Value = serde_json::from_str(exchange.answer)?;
    if value != expected {
        bail!("unexpected response {value} (expected {expected})");
    }
    Ok(())
}

/// `/proc/PID/status` field in kB.
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of a process, seconds.
pub fn proc_cpu_s(pid: u32) -> Option<f64> {
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

impl RowResult {
    /// The warm columns of a row whose events took `lats` each and `total`
    /// in all (events/s, latency percentiles); the rest is the caller's.
    pub fn warm(mut lats: Vec<Duration>, total: Duration) -> Self {
        lats.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let pct = |p: f64| us(lats[((lats.len() as f64 * p) as usize).min(lats.len() - 1)]);
        RowResult {
            events: lats.len(),
            events_per_s: lats.len() as f64 / total.as_secs_f64(),
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            mean_us: lats.iter().map(|d| us(*d)).sum::<f64>() / lats.len() as f64,
            ..RowResult::default()
        }
    }
}

/// One warm event through the fake endpoint, closed loop.
async fn one(api: &FakeRuntimeApi, exchange: &Exchange) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let id = api.invoke(Invocation::new(Bytes::from_static(exchange.event)));
    match api.take_outcome(&id, WAIT).await {
        Some(Outcome::Response(_)) => Ok(started.elapsed()),
        Some(other) => bail!("event {id} failed: {other:?}"),
        None => bail!("no answer for event {id} within {WAIT:?}"),
    }
}

/// `n` warm events, one at a time: the latency of each, and their total.
pub async fn events(
    api: &FakeRuntimeApi,
    exchange: &Exchange,
    n: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let mut lats = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        lats.push(one(api, exchange).await?);
    }
    Ok((lats, started.elapsed()))
}

/// A runtime process that has answered its first event.
pub struct Started {
    pub api: FakeRuntimeApi,
    pub child: tokio::process::Child,
    /// Spawn → first response.
    pub cold: Duration,
}

/// One cold start of `row`: its first event is queued, then the process
/// spawned (its output appended to `log`) and timed to its answer, which
/// is checked.
pub async fn start(row: &Row, log: &Path) -> anyhow::Result<Started> {
    let api = FakeRuntimeApi::start().await;
    let id = api.invoke(Invocation::new(Bytes::from_static(row.exchange.event)));
    let started = Instant::now();
    let mut child = spawn(row, &api.endpoint(), log)?;
    let outcome = tokio::select! {
        o = api.take_outcome(&id, WAIT) => o,
        status = child.wait() => bail!("{} exited before answering ({status:?}); see {}", row.label, log.display()),
    };
    let cold = started.elapsed();
    match outcome {
        Some(Outcome::Response(body)) => check_answer(row.exchange, &body)
            .with_context(|| format!("{}: first event; see {}", row.label, log.display()))?,
        other => bail!(
            "{}: first event: {other:?}; see {}",
            row.label,
            log.display()
        ),
    }
    Ok(Started { api, child, cold })
}

/// `row`'s log file under target/bench/logs, emptied.
pub fn fresh_log(paths: &Paths, name: &str) -> std::path::PathBuf {
    let log = paths.work.join(format!("logs/{name}.log"));
    let _ = std::fs::remove_file(&log);
    log
}

/// The row's cold starts, then its warm events on the last process.
pub async fn run_row(paths: &Paths, row: &Row, args: &Args) -> anyhow::Result<RowResult> {
    let log = fresh_log(paths, row.id);
    let mut cold_ms = Vec::new();
    let mut last = None;
    for _ in 0..row.cold_starts.unwrap_or(args.cold_starts) {
        let started = start(row, &log).await?;
        cold_ms.push(started.cold.as_secs_f64() * 1e3);
        if let Some(previous) = last.replace(started) {
            stop(previous.child).await;
        }
    }
    let Started { api, child, .. } = last.context("no cold start")?;
    let pid = child.id().context("no pid")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss_kb = proc_status_kb(pid, "VmRSS:");
    events(&api, row.exchange, args.warmup).await?;
    let (cpu0, self0) = (proc_cpu_s(pid), self_cpu_s());
    let (lats, total) = events(&api, row.exchange, args.events).await?;
    let (cpu1, self1) = (proc_cpu_s(pid), self_cpu_s());
    let peak_rss_kb = proc_status_kb(pid, "VmHWM:");
    stop(child).await;
    let per_event = |s: f64| s / args.events as f64 * 1e6;
    Ok(RowResult {
        id: row.id.into(),
        label: row.label.into(),
        endpoint: FAKE_ENDPOINT.into(),
        cold_ms,
        idle_rss_kb,
        peak_rss_kb,
        runtime_cpu_us: cpu0.zip(cpu1).map(|(a, b)| per_event(b - a)),
        endpoint_cpu_us: per_event(self1 - self0),
        module_sizes: module_sizes(paths, row),
        ..RowResult::warm(lats, total)
    })
}

/// The endpoint column of the rows this module runs.
pub const FAKE_ENDPOINT: &str = "fake (Rust, hyper)";

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
pub async fn exchange(
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
pub async fn run_floor(args: &Args) -> anyhow::Result<RowResult> {
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
    events(&api, &HELLO, args.warmup).await?;
    let self0 = self_cpu_s();
    let (lats, total) = events(&api, &HELLO, args.events).await?;
    let self1 = self_cpu_s();
    client.abort();
    Ok(RowResult {
        id: "floor".into(),
        label: "endpoint floor (in-process raw HTTP client, no handler)".into(),
        endpoint: FAKE_ENDPOINT.into(),
        endpoint_cpu_us: (self1 - self0) / args.events as f64 * 1e6,
        note: "CPU column: endpoint + driver + client, all in this process".into(),
        ..RowResult::warm(lats, total)
    })
}
