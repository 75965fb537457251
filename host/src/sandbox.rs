//! The WASI world a guest runs in: the task root read-only, its own /tmp,
//! a filtered environment, stdio wired to the logs, and nothing else.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::logs::{GuestStream, Logger};
use crate::response::GuestResponse;
use crate::settings::FunctionSettings;

/// Where a guest's stdin and stdout go.
pub enum Stdio {
    /// Reactor: no stdin; stdout is log lines.
    Reactor,
    /// Command: the event is stdin; stdout is captured as the response.
    Command {
        /// What the command reads on stdin.
        event: Bytes,
        /// Where its stdout goes.
        stdout: CapturedStdout,
    },
}

/// What a kind of guest needs beyond the function's own sandbox.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The guest's argv; empty means just the module's name.
    pub args: Vec<String>,
    /// More variables, set after the function's own.
    pub env: Vec<(String, String)>,
    /// More read-only folders: (host path, guest path).
    pub read_only_dirs: Vec<(PathBuf, String)>,
    /// Do file I/O (and a lone relative sleep) on the calling thread rather
    /// than on tokio's blocking pool: much faster for an interpreter that
    /// imports hundreds of files at init, but such a sleep then blocks the
    /// host until it ends, so a guest sleeping past its deadline times out
    /// late. (CPython's `time.sleep` sleeps until an absolute time, which
    /// wasmtime never does on the calling thread, so it ends at the deadline.)
    /// Honoured only when one invocation runs at a time.
    pub blocking_file_io: bool,
}

/// The task root's second name: the working directory. On Lambda a
/// function's working directory is its task root, so `open("data.json")`
/// reads a file shipped beside the handler. WASI preview 1 has no working
/// directory; wasi-libc keeps its own, `/` at start (it reads no `PWD`), and
/// resolves a relative path against the longest matching preopen, where a
/// preopen named `.` matches any path no other preopen does. So relative
/// paths resolve in the task root for every guest kind, C and Rust, reactor
/// and command alike; `getcwd` still says `/` unless the guest changes
/// directory (Python's runtime glue does, to `LAMBDA_TASK_ROOT`).
const WORKING_DIR: &str = ".";

/// Builds the WASI context for one instance.
///
/// `tmp` is the host folder the guest sees as `/tmp`.
pub fn wasi_ctx(
    settings: &FunctionSettings,
    tmp: &Path,
    logger: &Logger,
    extras: &Extras,
    stdio: Stdio,
) -> std::io::Result<WasiP1Ctx> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .allow_blocking_current_thread(extras.blocking_file_io && settings.concurrency == 1)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .envs(&settings.guest_env)
        .envs(&extras.env)
        .stderr(GuestOutput::Log(logger.clone(), GuestStream::Stderr));
    if extras.args.is_empty() {
        builder.arg(settings.handler.module_file_stem());
    } else {
        builder.args(&extras.args);
    }
    let read_only = extras
        .read_only_dirs
        .iter()
        .map(|(host, guest)| (host.as_path(), guest.as_str(), FsPerms::ReadOnly));
    let task_root = settings.task_root.as_path();
    let dirs = read_only
        .chain([(
            task_root,
            settings.guest_task_root.as_str(),
            FsPerms::ReadOnly,
        )])
        .chain([(task_root, WORKING_DIR, FsPerms::ReadOnly)])
        .chain([(tmp, "/tmp", FsPerms::ReadWrite)]);
    for (host, guest, perms) in dirs {
        builder.preopened_dir(host, guest, perms).map_err(|e| {
            std::io::Error::other(format!(
                "cannot open {} for the guest's {guest}: {e}",
                host.display()
            ))
        })?;
    }
    match stdio {
        Stdio::Reactor => builder.stdout(GuestOutput::Log(logger.clone(), GuestStream::Stdout)),
        Stdio::Command { event, stdout } => builder
            .stdin(MemoryInputPipe::new(event))
            .stdout(GuestOutput::Capture(stdout)),
    };
    Ok(builder.build_p1())
}

/// A command's stdout: kept up to the response limit, counted past it.
#[derive(Clone)]
pub struct CapturedStdout(Arc<Mutex<Captured>>);

struct Captured {
    bytes: Vec<u8>,
    total: usize,
    max: usize,
}

impl CapturedStdout {
    /// Capture at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Mutex::new(Captured {
            bytes: Vec::new(),
            total: 0,
            max,
        })))
    }

    /// What the command wrote, as a response to validate.
    pub fn take_response(&self) -> GuestResponse {
        let mut captured = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if captured.total > captured.max {
            GuestResponse::TooLarge(captured.total)
        } else {
            GuestResponse::Bytes(std::mem::take(&mut captured.bytes))
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut captured = self.0.lock().unwrap_or_else(|p| p.into_inner());
        captured.total = captured.total.saturating_add(bytes.len());
        if captured.total <= captured.max {
            captured.bytes.extend_from_slice(bytes);
        }
    }
}

/// A guest output stream: log lines, or a command's captured stdout.
#[derive(Clone)]
enum GuestOutput {
    Log(Logger, GuestStream),
    Capture(CapturedStdout),
}

impl GuestOutput {
    fn accept(&self, bytes: &[u8]) {
        match self {
            GuestOutput::Log(logger, stream) => logger.guest_output(*stream, bytes),
            GuestOutput::Capture(captured) => captured.write(bytes),
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.accept(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1024 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.accept(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
