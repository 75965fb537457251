//! The WASI world a guest runs in: the task root read-only, its own /tmp,
//! a filtered environment, stdio wired to the logs, and nothing else; and
//! the WASI calls that reach it ([`add_wasi_to_linker`]).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p1::types::{
    Errno, Event, EventFdReadwrite, Eventrwflags, Eventtype, Subclockflags, Subscription,
    SubscriptionU,
};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self, WasiSnapshotPreview1 as _};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::engine::split::rest::LateRest;
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
    /// The rest of a split module, instantiated when its core first needs it.
    pub rest: Option<Arc<LateRest>>,
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
        // File I/O on the calling thread, not handed to tokio's blocking
        // pool: an interpreter imports hundreds of files at init, and even a
        // Rust guest's start (its chdir into the task root) paid ~170 us for
        // the pool's thread start-ups and hand-offs. A lone relative sleep,
        // which wasmtime-wasi then does on this thread too, is ours
        // ([`add_wasi_to_linker`]). Concurrent workers keep the pool: a
        // worker blocked on a file would stall the others on its thread.
        .allow_blocking_current_thread(settings.concurrency == 1)
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

/// Adds WASI preview 1 (wasmtime-wasi's, asynchronous) to `linker`, with
/// `wasi` projecting a store's data to the guest's context, and one call of
/// our own: `poll_oneoff` on a lone relative clock, a plain sleep (Rust's
/// `std::thread::sleep`, C's `nanosleep`), sleeps on tokio's timer.
/// wasmtime-wasi would sleep it with `std::thread::sleep` once file I/O may
/// block the calling thread ([`wasi_ctx`]), so a guest sleeping past its
/// deadline would hold the host until it woke ([`crate::limits::until_deadline`]
/// ends the wait for one on the timer). Every other poll is wasmtime-wasi's.
pub fn add_wasi_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    wasi: fn(&mut T) -> &mut WasiP1Ctx,
) -> wasmtime::Result<()> {
    wasmtime_wasi::p1::add_to_linker_async(linker, wasi)?;
    linker.allow_shadowing(true);
    let shadowed = linker
        .func_wrap_async(
            "wasi_snapshot_preview1",
            "poll_oneoff",
            move |caller: Caller<'_, T>,
                  (subscriptions, events, count, stored): (i32, i32, i32, i32)| {
                Box::new(poll_oneoff(
                    caller,
                    wasi,
                    [subscriptions, events, count, stored],
                ))
            },
        )
        .map(drop);
    linker.allow_shadowing(false);
    shadowed
}

/// `poll_oneoff(subscriptions, events, count, stored)`: the errno.
async fn poll_oneoff<T>(
    mut caller: Caller<'_, T>,
    wasi: fn(&mut T) -> &mut WasiP1Ctx,
    [subscriptions, events, count, stored]: [i32; 4],
) -> wasmtime::Result<i32> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let (mut memory, context) = guest_memory(&mut caller, wasi)?;
    if count == 1
        && let Some((userdata, duration)) = lone_relative_sleep(&mut memory, subscriptions)
    {
        tokio::time::sleep(duration).await;
        let mut memory = guest_memory(&mut caller, wasi)?.0;
        report_clock_event(&mut memory, userdata, events, stored)?;
        return Ok(Errno::Success as i32);
    }
    // What wiggle's linker glue does for each call of wasmtime-wasi's.
    context.set_hostcall_fuel(fuel);
    wasi_snapshot_preview1::poll_oneoff(context, &mut memory, subscriptions, events, count, stored)
        .await
}

/// The guest's memory and WASI context.
fn guest_memory<'a, T>(
    caller: &'a mut Caller<'_, T>,
    wasi: fn(&mut T) -> &mut WasiP1Ctx,
) -> wasmtime::Result<(wiggle::GuestMemory<'a>, &'a mut WasiP1Ctx)> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!("the module calls poll_oneoff but exports no memory");
    };
    let (bytes, data) = memory.data_and_store_mut(caller);
    Ok((wiggle::GuestMemory::Unshared(bytes), wasi(data)))
}

/// The subscription's user data and duration when it is a relative clock
/// (wasmtime-wasi's own test for this case). One it cannot read is left to
/// wasmtime-wasi's poll, which reports it.
fn lone_relative_sleep(
    memory: &mut wiggle::GuestMemory<'_>,
    subscription: i32,
) -> Option<(u64, Duration)> {
    let subscription = memory
        .read(wiggle::GuestPtr::<Subscription>::new(subscription as u32))
        .ok()?;
    match subscription.u {
        SubscriptionU::Clock(clock)
            if !clock
                .flags
                .contains(Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME) =>
        {
            Some((subscription.userdata, Duration::from_nanos(clock.timeout)))
        }
        _ => None,
    }
}

/// Writes the one event of an ended sleep, as wasmtime-wasi does (a
/// pointer out of bounds traps, as WASI asks).
fn report_clock_event(
    memory: &mut wiggle::GuestMemory<'_>,
    userdata: u64,
    events: i32,
    stored: i32,
) -> Result<(), wiggle::GuestError> {
    let event = Event {
        userdata,
        error: Errno::Success,
        type_: Eventtype::Clock,
        fd_readwrite: EventFdReadwrite {
            flags: Eventrwflags::empty(),
            nbytes: 1,
        },
    };
    memory.write(wiggle::GuestPtr::<Event>::new(events as u32), event)?;
    memory.write(wiggle::GuestPtr::<u32>::new(stored as u32), 1)
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
