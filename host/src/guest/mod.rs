//! Guest kinds: the ways a function's code runs, each behind
//! [`GuestEnvironment`].
//!
//! - [`reactor`]: an ABI v1 module; one long-lived instance whose handler
//!   export is called per event (Rust, C, Zig, Go, AssemblyScript guests).
//! - [`command`]: a WASI program; a fresh instance runs `_start` per event.
//! - [`interpreter`]: a language runtime compiled to Wasm that loads the
//!   handler from source; [`python`], [`javascript`] and [`ruby`] are such languages.
//!
//! [`Guest`] holds what every kind shares: the linked template, an
//! execution environment started on demand and discarded after a fault, and
//! the guest's reply validated into an [`Outcome`].

pub mod command;
pub mod detect;
pub mod interpreter;
pub mod javascript;
pub mod python;
pub mod reactor;
pub mod ruby;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::{Engine, Linker, Module};

use self::command::CommandEnvironment;
use self::detect::ModuleKind;
use self::interpreter::{InterpreterEntry, InterpreterEnvironment};
use self::reactor::ReactorEnvironment;
use crate::engine;
use crate::errors::LambdaError;
use crate::fault::Fault;
use crate::invocation::{Call, Outcome};
use crate::logs::Logger;
use crate::response::{self, GuestResponse};
use crate::sandbox::Extras;
use crate::settings::FunctionSettings;
use crate::store::{GuestState, InstanceTemplate};

/// What a guest's code produced for one invocation, before validation.
#[derive(Debug)]
pub enum GuestReply {
    /// The response, to be checked (size, UTF-8, JSON).
    Response(GuestResponse),
    /// A function error the guest reported (or the host shaped for it).
    Error(LambdaError),
}

/// One execution environment of a guest kind: Lambda's execution
/// environment, started by the init phase and reused for warm invocations.
#[allow(async_fn_in_trait)] // used with concrete types only, whose futures are Send
pub trait GuestEnvironment: Sized {
    /// What this kind keeps in each store beside WASI, the ABI and the limiter.
    type State: Default + Send + 'static;
    /// What starting an environment needs besides the template.
    type Entry: Clone;

    /// Adds this kind's own imports to the function's linker.
    fn add_imports(linker: &mut Linker<GuestState<Self::State>>) -> wasmtime::Result<()>;

    /// Starts an environment: Lambda's init phase. Errors are init errors.
    async fn start(
        template: &InstanceTemplate<Self::State>,
        entry: &Self::Entry,
    ) -> Result<Self, LambdaError>;

    /// Runs one invocation. `Err` is a fault after which the environment
    /// must be discarded.
    async fn invoke(
        &mut self,
        template: &InstanceTemplate<Self::State>,
        call: &Call<'_>,
    ) -> Result<GuestReply, Fault>;

    /// The largest linear memory this environment has had, in bytes.
    fn peak_memory_bytes(&self) -> usize;
}

/// A function of one guest kind: its linked template and its environment.
pub struct Guest<E: GuestEnvironment> {
    template: InstanceTemplate<E::State>,
    entry: E::Entry,
    environment: Option<E>,
    /// The peak memory of the environment a fault discarded, for the
    /// REPORT line of the invocation that faulted.
    discarded_peak_bytes: usize,
}

impl<E: GuestEnvironment> Guest<E> {
    /// Links `module` and starts the first environment.
    async fn start(
        module: &Module,
        entry: E::Entry,
        settings: Arc<FunctionSettings>,
        logger: Logger,
        tmp: PathBuf,
        extras: Extras,
    ) -> Result<Self, LambdaError> {
        let template =
            InstanceTemplate::new(module, E::add_imports, settings, logger, tmp, extras)?;
        Self::start_on(template, entry).await
    }

    /// Starts an environment on `template` (Lambda's init phase).
    async fn start_on(
        template: InstanceTemplate<E::State>,
        entry: E::Entry,
    ) -> Result<Self, LambdaError> {
        let environment = E::start(&template, &entry).await?;
        Ok(Self {
            template,
            entry,
            environment: Some(environment),
            discarded_peak_bytes: 0,
        })
    }

    /// Another environment of the same compiled function, logging to
    /// `logger`. The future borrows nothing from `self`: a caller may let go
    /// of a lock on this guest while the new environment's init runs.
    fn replica(&self, logger: Logger) -> impl Future<Output = Result<Self, LambdaError>> + use<E> {
        let template = self.template.with_logger(logger);
        let entry = self.entry.clone();
        async move { Self::start_on(template?, entry).await }
    }

    /// Runs `call` in the environment, starting one first if the last was
    /// discarded (its init runs again, as Lambda resets a crashed sandbox).
    async fn run(&mut self, call: &Call<'_>) -> Outcome {
        let environment = match &mut self.environment {
            Some(environment) => environment,
            slot @ None => match E::start(&self.template, &self.entry).await {
                Ok(started) => slot.insert(started),
                Err(error) => return Outcome::Error(error),
            },
        };
        match environment.invoke(&self.template, call).await {
            Ok(GuestReply::Response(response)) => {
                match response::validate(response, call.settings.max_response_bytes) {
                    Ok(json) => Outcome::Response(json),
                    Err(error) => Outcome::Error(error),
                }
            }
            Ok(GuestReply::Error(error)) => Outcome::Error(error),
            Err(Fault(error)) => {
                tracing::warn!(
                    "discarding the execution environment after {}: {}; the next event starts a fresh one",
                    error.error_type,
                    error.error_message
                );
                self.discarded_peak_bytes = environment.peak_memory_bytes();
                self.environment = None;
                Outcome::Error(error)
            }
        }
    }

    /// The current environment's peak memory; after a fault, the peak of
    /// the environment it discarded.
    fn peak_memory_bytes(&self) -> usize {
        self.environment.as_ref().map_or(
            self.discarded_peak_bytes,
            GuestEnvironment::peak_memory_bytes,
        )
    }
}

/// The init of a new environment ([`AnyGuest::replica`]), of whichever kind.
pub type ReplicaStart =
    std::pin::Pin<Box<dyn Future<Output = Result<AnyGuest, LambdaError>> + Send>>;

/// A loaded function of whichever kind its module or source is.
pub enum AnyGuest {
    /// An ABI v1 module.
    Reactor(Guest<ReactorEnvironment>),
    /// A WASI command.
    Command(Guest<CommandEnvironment>),
    /// Source run by an interpreter guest.
    Interpreter(Guest<InterpreterEnvironment>),
}

/// Runs the same expression on whichever kind `$guest` holds.
macro_rules! each_kind {
    ($guest:expr, $g:ident => $body:expr) => {
        match $guest {
            AnyGuest::Reactor($g) => $body,
            AnyGuest::Command($g) => $body,
            AnyGuest::Interpreter($g) => $body,
        }
    };
}

impl AnyGuest {
    /// Loads the handler's module (or its interpreter) and starts its first
    /// environment: Lambda's init phase. Errors are init errors.
    pub async fn load(
        engine: &Engine,
        settings: Arc<FunctionSettings>,
        logger: Logger,
        tmp: PathBuf,
    ) -> Result<Self, LambdaError> {
        if let Some(language) = interpreter::language_for(&settings) {
            let (module, extras) = (language.load)(engine, &settings)?;
            // An interpreter's runtime formats its records as the
            // language's AWS runtime does; the host writes them as they come.
            let logger = logger.with_raw_lines();
            let template = || {
                let (settings, logger) = (settings.clone(), logger.clone());
                // Only on a cache miss in test mode: a template that takes a snapshot.
                InstanceTemplate::new(
                    &module,
                    InterpreterEnvironment::add_imports,
                    settings,
                    logger,
                    tmp.clone(),
                    extras.clone(),
                )
            };
            let resume = match language.preinit {
                Some(preinit) => preinit.resume_for(&settings, &extras.env, template).await,
                None => None,
            };
            let entry = InterpreterEntry { language, resume };
            let guest = Guest::start(&module, entry, settings, logger, tmp, extras).await?;
            return Ok(Self::Interpreter(guest));
        }
        let module = engine::load_module(
            engine,
            &settings.task_root,
            &settings.handler,
            settings.module_cache_dir.as_deref(),
        )?;
        let extras = Extras::default();
        let kind = ModuleKind::detect(&module, &settings.handler)?;
        if detect::lacks_wasi(&module) {
            tracing::warn!(
                "{} imports nothing from wasi_snapshot_preview1, so it runs without environment variables, clock, stdout or /tmp: was it built for wasm32-unknown-unknown? Build it for wasm32-wasip1",
                settings.handler.module
            );
        }
        Ok(match kind {
            ModuleKind::Reactor { export } => {
                Self::Reactor(Guest::start(&module, export, settings, logger, tmp, extras).await?)
            }
            ModuleKind::Command => {
                Self::Command(Guest::start(&module, (), settings, logger, tmp, extras).await?)
            }
        })
    }

    /// Another environment of the same function (see [`Guest::replica`]:
    /// the future borrows nothing from `self`).
    pub fn replica(&self, logger: Logger) -> ReplicaStart {
        match self {
            Self::Reactor(guest) => {
                let start = guest.replica(logger);
                Box::pin(async move { Ok(Self::Reactor(start.await?)) })
            }
            Self::Command(guest) => {
                let start = guest.replica(logger);
                Box::pin(async move { Ok(Self::Command(start.await?)) })
            }
            Self::Interpreter(guest) => {
                let start = guest.replica(logger.with_raw_lines());
                Box::pin(async move { Ok(Self::Interpreter(start.await?)) })
            }
        }
    }

    /// Runs one invocation to its outcome.
    pub async fn run(&mut self, call: &Call<'_>) -> Outcome {
        each_kind!(self, guest => guest.run(call).await)
    }

    /// The largest linear memory the current environment has had, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        each_kind!(self, guest => guest.peak_memory_bytes())
    }

    /// The function's settings.
    pub fn settings(&self) -> &Arc<FunctionSettings> {
        each_kind!(self, guest => &guest.template.settings)
    }

    /// Where the function's logs go.
    pub fn logger(&self) -> &Logger {
        each_kind!(self, guest => &guest.template.logger)
    }

    /// Whether the guest's runtime logs its own function errors (as AWS's
    /// language runtimes do), so the host must not log them again.
    pub fn logs_its_own_errors(&self) -> bool {
        matches!(self, Self::Interpreter(_))
    }
}
