//! Interpreter guests: a language runtime compiled to Wasm (CPython for
//! WASI, QuickJS-NG, Ruby) that loads the handler from source in the task root, one
//! long-lived interpreter per execution environment. Each language is a
//! [`Language`]: which handlers it claims and how its interpreter is loaded;
//! everything else here is shared.
//!
//! The interpreter runs its runtime glue, which imports the handler once and
//! then pulls each event through the `host.call` import ([`bridge`]), parked
//! in it between invocations. Frames the glue sends start with one byte: `N`
//! ready for the first event, `R` + JSON a response, `E` + JSON an error,
//! `I` + JSON an init error, `X` + JSON an error after which the runtime
//! ends (the environment is discarded), `L` + level digit + a record
//! formatted as the language's AWS runtime writes it, `V` + JSON the
//! environment variables the handler's import read (while a handler
//! snapshot is taken, [`handler_snapshot`]). The host answers `N`, `R` and `E` with
//! the next invocation: request id, deadline (ms), function ARN, trace id,
//! client context, Cognito identity, tenant id and the event, separated by
//! NUL bytes; an empty answer ends the interpreter.
//!
//! A [`Language`]'s `run` starts the interpreter and carries these frames:
//! Python's and JavaScript's glue call `host.call` from their `run` export;
//! Ruby's reactor has no such import, so the host calls into it instead,
//! one frame per call ([`super::ruby`]).

pub mod bridge;
pub mod handler_snapshot;
pub mod prepare;
pub mod snapshot;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wasmtime::{Engine, InstancePre, Linker, Module, Store};

use self::bridge::{Bridge, Delivery, GuestMessage, InterpreterState};
use self::snapshot::{Preinit, Resume};
use super::{GuestEnvironment, GuestReply, javascript, python, ruby};
use crate::engine;
use crate::errors::LambdaError;
use crate::fault::{self, Evidence, Fault};
use crate::handler_name::HandlerName;
use crate::invocation::Call;
use crate::limits;
use crate::sandbox::{Extras, Stdio};
use crate::settings::FunctionSettings;
use crate::store::{self, GuestState, InstanceTemplate};

/// An interpreter's module and what its sandbox needs beyond the function's.
pub type LoadedInterpreter = (Module, Extras);

/// An interpreter's whole life: instantiated, initialised, then serving
/// events until the host has no more; its exit status.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = wasmtime::Result<i32>> + Send + 'a>>;

/// How a language runs its interpreter in `store`, from the snapshot when
/// one is given (see [`RunFuture`]).
pub type RunInterpreter = for<'a> fn(
    &'a InstancePre<GuestState<InterpreterState>>,
    &'a mut Store<GuestState<InterpreterState>>,
    Option<&'a Resume>,
) -> RunFuture<'a>;

/// A language whose handlers run from source on an interpreter guest.
pub struct Language {
    /// The language's name, for messages.
    pub name: &'static str,
    /// Whether the function's handler names a source module of this language.
    pub claims: fn(&FunctionSettings) -> bool,
    /// The interpreter's module and what its sandbox needs beyond the function's.
    pub load: fn(&Engine, &FunctionSettings) -> Result<LoadedInterpreter, LambdaError>,
    /// How its interpreter is pre-initialised, if it can be ([`snapshot`]).
    pub preinit: Option<&'static Preinit>,
    /// Runs the interpreter.
    pub run: RunInterpreter,
}

/// How an interpreter's environments start: its language, and the snapshot
/// they resume from, if any.
#[derive(Clone)]
pub struct InterpreterEntry {
    /// The language whose interpreter runs.
    pub language: &'static Language,
    /// The snapshot new environments start from, if any.
    pub resume: Option<Arc<Resume>>,
}

/// An interpreter's module from its `home`, where `[cwasm, wasm]` are its
/// file names (the `.cwasm` preferred); when neither is there, the
/// handler's import error says that `what` is not installed and `install`
/// how to install it.
pub fn load_from_home(
    engine: &Engine,
    settings: &FunctionSettings,
    home: &std::path::Path,
    [cwasm, wasm]: [&str; 2],
    what: &str,
    install: &str,
) -> Result<Module, LambdaError> {
    let module_name = &settings.handler.module;
    if !home.join(cwasm).is_file() && !home.join(wasm).is_file() {
        return Err(LambdaError::import_module(
            module_name,
            format!(
                "{what} is not installed: no {cwasm} or {wasm} in {}; {install}",
                home.display()
            ),
        ));
    }
    let stem = cwasm.trim_end_matches(".cwasm");
    let interpreter = HandlerName::parse(&format!("{stem}.run")).expect("a valid name");
    engine::load_module(
        engine,
        home,
        &interpreter,
        settings.module_cache_dir.as_deref(),
    )
    .map_err(|error| LambdaError::import_module(module_name, error.error_message))
}

/// Every interpreted language, in the order their claims are checked.
const LANGUAGES: &[&Language] = &[&python::PYTHON, &javascript::JAVASCRIPT, &ruby::RUBY];

/// The language whose interpreter runs this function's handler, if any.
pub fn language_for(settings: &FunctionSettings) -> Option<&'static Language> {
    LANGUAGES
        .iter()
        .copied()
        .find(|language| (language.claims)(settings))
}

/// A running interpreter: one execution environment of an interpreted function.
pub struct InterpreterEnvironment {
    invocations: mpsc::Sender<Delivery>,
    messages: mpsc::UnboundedReceiver<GuestMessage>,
    task: JoinHandle<TaskEnd>,
    peak_memory: Arc<AtomicUsize>,
}

/// How the interpreter's `run` ended.
struct TaskEnd {
    result: wasmtime::Result<i32>,
    evidence: Evidence,
}

impl GuestEnvironment for InterpreterEnvironment {
    type State = InterpreterState;
    type Entry = InterpreterEntry;

    fn add_imports(linker: &mut Linker<GuestState<InterpreterState>>) -> wasmtime::Result<()> {
        bridge::add_to_linker(linker)?;
        ruby::add_to_linker(linker)
    }

    /// Starts the interpreter and waits until it has imported the handler.
    async fn start(
        template: &InstanceTemplate<InterpreterState>,
        entry: &InterpreterEntry,
    ) -> Result<Self, LambdaError> {
        let run = entry.language.run;
        let (invocations_tx, invocations_rx) = mpsc::channel(1);
        let (messages_tx, mut messages_rx) = mpsc::unbounded_channel();
        let mut store = template.new_store(Stdio::Reactor, &[])?;
        let peak_memory = Arc::new(AtomicUsize::new(0));
        store.data_mut().kind.bridge = Some(Bridge {
            invocations: invocations_rx,
            messages: messages_tx,
            peak_memory: peak_memory.clone(),
        });
        store::begin_init(&mut store);
        let pre = template.pre().clone();
        let resume = entry.resume.clone();
        let task = tokio::spawn(async move {
            let result = run(&pre, &mut store, resume.as_deref()).await;
            TaskEnd {
                result,
                evidence: store.data_mut().take_evidence(),
            }
        });
        let module = &template.settings.handler.module;
        let init_error = |reason: String| LambdaError::import_module(module, reason);
        match limits::within_init(messages_rx.recv()).await {
            Some(Some(GuestMessage::Ready)) => Ok(Self {
                invocations: invocations_tx,
                messages: messages_rx,
                task,
                peak_memory,
            }),
            Some(Some(GuestMessage::InitFailed(error))) => Err(error),
            Some(Some(GuestMessage::Finished(_) | GuestMessage::Exited(_))) => Err(init_error(
                "the interpreter's runtime answered before it was ready".into(),
            )),
            Some(None) => Err(init_error(format!(
                "init failed: {}",
                describe_end(task.await)
            ))),
            None => {
                task.abort();
                Err(init_error(limits::init_timed_out()))
            }
        }
    }

    async fn invoke(
        &mut self,
        _template: &InstanceTemplate<InterpreterState>,
        call: &Call<'_>,
    ) -> Result<GuestReply, Fault> {
        let sent = self
            .invocations
            .send(Delivery::of(call.invocation))
            .await
            .is_ok();
        let received = match sent {
            true => limits::until_deadline(call.remaining, self.messages.recv())
                .await
                .ok(),
            false => Some(None),
        };
        match received {
            Some(Some(GuestMessage::Finished(Ok(response)))) => Ok(GuestReply::Response(response)),
            Some(Some(GuestMessage::Finished(Err(error)))) => Ok(GuestReply::Error(error)),
            Some(Some(GuestMessage::Exited(error))) => Err(Fault(error)),
            Some(Some(_)) => Err(Fault(LambdaError::protocol(
                "the interpreter's runtime sent a frame out of turn",
            ))),
            Some(None) => {
                let end = (&mut self.task).await;
                Err(Fault(fault_of(end, call)))
            }
            None => {
                self.task.abort();
                Err(Fault(call.timed_out()))
            }
        }
    }

    /// The largest linear memory the interpreter has had, in bytes, as of
    /// its last frame (REPORT's `Max Memory Used`).
    fn peak_memory_bytes(&self) -> usize {
        self.peak_memory.load(Ordering::Relaxed)
    }
}

impl Drop for InterpreterEnvironment {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// [`Language::run`] of an interpreter whose `run` export serves the events
/// itself, through `host.call`.
pub fn run_export<'a>(
    pre: &'a InstancePre<GuestState<InterpreterState>>,
    store: &'a mut Store<GuestState<InterpreterState>>,
    resume: Option<&'a Resume>,
) -> RunFuture<'a> {
    Box::pin(run_interpreter(pre, store, resume))
}

/// Instantiates the interpreter and runs it until the host has no more
/// events for it: from `resume`'s snapshot, or from scratch (its init and
/// its `run` export).
pub async fn run_interpreter<T: Send>(
    pre: &InstancePre<GuestState<T>>,
    store: &mut Store<GuestState<T>>,
    resume: Option<&Resume>,
) -> wasmtime::Result<i32> {
    let instance = pre.instantiate_async(&mut *store).await?;
    if let Some(resume) = resume {
        return resume.run(store, &instance).await;
    }
    if let Ok(initialize) = instance.get_typed_func::<(), ()>(&mut *store, "_initialize") {
        initialize.call_async(&mut *store, ()).await?;
    }
    let run = instance.get_typed_func::<(), i32>(&mut *store, "run")?;
    run.call_async(&mut *store, ()).await
}

/// The error for an interpreter that ended during `call`.
fn fault_of(end: Result<TaskEnd, tokio::task::JoinError>, call: &Call<'_>) -> LambdaError {
    match end {
        Ok(TaskEnd {
            result: Ok(status), ..
        }) => LambdaError::exit(call.request_id(), status),
        Ok(TaskEnd {
            result: Err(error),
            evidence,
        }) => fault::classify(&error, call, evidence),
        Err(join_error) => LambdaError::trap(
            call.request_id(),
            format!("the interpreter task failed: {join_error}"),
            Vec::new(),
        ),
    }
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
