//! The cross-check: the same runtimes against `cargo lambda watch
//! --only-lambda-apis` (cargo-lambda 1.9.2 from PyPI), events sent to its
//! Invoke API. Its Runtime API is at `http://127.0.0.1:PORT/.rt/NAME`
//! (see tests/e2e/cargo_lambda.rs for the emulator's ways).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::net::TcpStream;

use crate::endtoend::{RowResult, check_answer, exchange, proc_cpu_s, proc_status_kb, spawn, stop};
use crate::rows::Row;
use crate::{Args, Paths};

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
    event: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let mut request = format!(
        "POST /2015-03-31/functions/bench/invocations HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        event.len()
    )
    .into_bytes();
    request.extend_from_slice(event);
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
    let runtime_log = paths.work.join(format!("logs/{}-emulator.log", row.id));
    let mut child = spawn(row, &endpoint, &runtime_log)?;
    // The emulator holds the invocation until a runtime answers it: a
    // runtime that dies first would leave the harness waiting forever.
    let body = tokio::select! {
        answer = invoke(&mut stream, &mut buf, port, row.exchange.event) => answer?,
        status = child.wait() => bail!(
            "the runtime exited ({}) before answering its first event; see {}",
            status?,
            runtime_log.display()
        ),
    };
    let cold = started.elapsed();
    check_answer(row.exchange, &body)?;
    let pid = child.id().context("no pid")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss_kb = proc_status_kb(pid, "VmRSS:");
    let events = (args.events / 5).max(100);
    for _ in 0..args.warmup / 5 {
        invoke(&mut stream, &mut buf, port, row.exchange.event).await?;
    }
    let cpu0 = proc_cpu_s(pid);
    let emu_pid = emu.id().context("no emulator pid")?;
    let emu0 = proc_cpu_s(emu_pid);
    let mut lats = Vec::with_capacity(events);
    let all = Instant::now();
    for _ in 0..events {
        let s = Instant::now();
        invoke(&mut stream, &mut buf, port, row.exchange.event).await?;
        lats.push(s.elapsed());
    }
    let total = all.elapsed();
    let (cpu1, emu1) = (proc_cpu_s(pid), proc_cpu_s(emu_pid));
    let peak_rss_kb = proc_status_kb(pid, "VmHWM:");
    stop(child).await;
    stop(emu).await;
    let per_event = |s: f64| s / events as f64 * 1e6;
    Ok(RowResult {
        id: format!("{}@cargo-lambda", row.id),
        label: row.label.into(),
        endpoint: "cargo-lambda 1.9.2 emulator".into(),
        cold_ms: vec![cold.as_secs_f64() * 1e3],
        idle_rss_kb,
        peak_rss_kb,
        runtime_cpu_us: cpu0.zip(cpu1).map(|(a, b)| per_event(b - a)),
        endpoint_cpu_us: emu0.zip(emu1).map(|(a, b)| per_event(b - a)).unwrap_or(0.0),
        note: "CPU column: the emulator process".into(),
        ..RowResult::warm(lats, total)
    })
}
