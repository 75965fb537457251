//! A loaded function: its module compiled once, linked once, and the
//! execution environment that serves its invocations one at a time.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Engine;

use crate::command;
use crate::engine;
use crate::environment::{Environment, Fault};
use crate::errors::LambdaError;
use crate::guest_kind::GuestKind;
use crate::invocation::{Invocation, Outcome};
use crate::limits::EpochTicker;
use crate::logs::{Level, Logger};
use crate::python::{self, PythonEnvironment};
use crate::response;
use crate::sandbox::Extras;
use crate::settings::FunctionSettings;
use crate::store::InstanceTemplate;

/// A function ready to serve invocations.
pub struct Function {
    template: InstanceTemplate,
    kind: GuestKind,
    environment: Option<LiveEnvironment>,
    /// The guest's /tmp, deleted with the function and its replicas.
    _tmp: Arc<tempfile::TempDir>,
    _ticker: Arc<EpochTicker>,
}

/// A started execution environment of a long-lived kind.
enum LiveEnvironment {
    Reactor(Environment),
    Python(PythonEnvironment),
}

/// Timings of the init phase, for REPORT lines.
#[derive(Debug, Clone, Copy)]
pub struct InitReport {
    /// Compile (or deserialize), link and the first environment's init.
    pub duration: std::time::Duration,
}

impl Function {
    /// Loads the handler's module and starts its first execution environment
    /// (Lambda's init phase); errors are init errors.
    pub async fn load(
        settings: FunctionSettings,
        logger: Logger,
    ) -> Result<(Self, InitReport), LambdaError> {
        let started = Instant::now();
        let engine = engine::new_engine()
            .map_err(|e| LambdaError::new("Runtime.EngineError", format!("{e:#}")))?;
        Self::load_with_engine(&engine, settings, logger)
            .await
            .map(|function| {
                (
                    function,
                    InitReport {
                        duration: started.elapsed(),
                    },
                )
            })
    }

    /// [`Function::load`] with an existing engine (benchmarks share one).
    pub async fn load_with_engine(
        engine: &Engine,
        settings: FunctionSettings,
        logger: Logger,
    ) -> Result<Self, LambdaError> {
        if !settings.task_root.is_dir() {
            return Err(LambdaError::import_module(
                &settings.handler.module,
                format!(
                    "the task root {} is not a readable folder",
                    settings.task_root.display()
                ),
            ));
        }
        let (module, kind, extras) = if python::is_python_handler(&settings) {
            let (module, extras) = python::load_interpreter(engine, &settings)?;
            (module, GuestKind::Python, extras)
        } else {
            let module = engine::load_module(engine, &settings.task_root, &settings.handler)?;
            let kind = GuestKind::detect(&module, &settings.handler)?;
            (module, kind, Extras::default())
        };
        let tmp = tempfile::Builder::new()
            .prefix("lambda-wasm-tmp-")
            .tempdir()
            .map_err(|e| {
                LambdaError::new(
                    "Runtime.SandboxError",
                    format!("cannot create the guest's /tmp: {e}"),
                )
            })?;
        let logger = logger_for(&kind, logger);
        let template = InstanceTemplate::new(
            engine,
            &module,
            &kind,
            Arc::new(settings),
            logger,
            tmp.path().to_path_buf(),
            extras,
        )?;
        let environment = LiveEnvironment::start(&template, &kind).await?;
        Ok(Self {
            template,
            kind,
            environment,
            _tmp: Arc::new(tmp),
            _ticker: Arc::new(EpochTicker::start(engine)),
        })
    }

    /// Another execution environment of the same compiled function, logging
    /// to `logger`, for serving invocations concurrently: it shares the
    /// module, settings and /tmp, and runs its own init.
    pub async fn replica(&self, logger: Logger) -> Result<Self, LambdaError> {
        let template = self.template.with_logger(logger_for(&self.kind, logger))?;
        let environment = LiveEnvironment::start(&template, &self.kind).await?;
        Ok(Self {
            template,
            kind: self.kind.clone(),
            environment,
            _tmp: self._tmp.clone(),
            _ticker: self._ticker.clone(),
        })
    }

    /// The function's settings.
    pub fn settings(&self) -> &FunctionSettings {
        &self.template.settings
    }

    /// Runs one invocation to its outcome; never fails as a whole.
    ///
    /// A fault discards the execution environment; the next invocation starts
    /// a fresh one, whose init runs again, as Lambda resets a crashed sandbox.
    pub async fn invoke(&mut self, invocation: &Invocation) -> Outcome {
        let logger = self.template.logger.clone();
        logger.begin_invocation(&invocation.context.request_id);
        let outcome = self.run(invocation).await;
        // AWS's Python runtime logs its own errors; the host logs the others'.
        if let (Outcome::Error(error), false) = (&outcome, self.kind == GuestKind::Python) {
            let message = format!("{}: {}", error.error_type, error.error_message);
            logger.record(Level::Error, message.as_bytes());
        }
        logger.end_invocation();
        outcome
    }

    /// The largest linear memory the current environment has had, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        match &self.environment {
            Some(LiveEnvironment::Reactor(environment)) => environment.peak_memory_bytes(),
            Some(LiveEnvironment::Python(environment)) => environment.peak_memory_bytes(),
            None => 0,
        }
    }

    async fn run(&mut self, invocation: &Invocation) -> Outcome {
        if let Err(error) = response::validate_event(&invocation.event) {
            return Outcome::Error(error);
        }
        if self.kind == GuestKind::Command {
            return command::run(&self.template, invocation).await;
        }
        let environment = match &mut self.environment {
            Some(environment) => environment,
            slot @ None => match LiveEnvironment::start(&self.template, &self.kind).await {
                Ok(started) => slot.insert(started.expect("long-lived kinds start an environment")),
                Err(error) => return Outcome::Error(error),
            },
        };
        let result = match environment {
            LiveEnvironment::Reactor(environment) => {
                environment.invoke(&self.template, invocation).await
            }
            LiveEnvironment::Python(environment) => {
                environment.invoke(&self.template, invocation).await
            }
        };
        match result {
            Ok(outcome) => outcome,
            Err(Fault(error)) => {
                tracing::warn!(
                    "discarding the execution environment after {}: {}; the next event starts a fresh one",
                    error.error_type,
                    error.error_message
                );
                self.environment = None;
                Outcome::Error(error)
            }
        }
    }
}

/// AWS's Python runtime writes print() output as is, and formats its log
/// records itself; other guests' lines are tagged by the host.
fn logger_for(kind: &GuestKind, logger: Logger) -> Logger {
    match kind {
        GuestKind::Python => logger.with_raw_lines(),
        _ => logger,
    }
}

impl LiveEnvironment {
    /// Starts the environment a long-lived kind needs; `None` for commands.
    async fn start(
        template: &InstanceTemplate,
        kind: &GuestKind,
    ) -> Result<Option<Self>, LambdaError> {
        Ok(match kind {
            GuestKind::Reactor { export } => {
                Some(Self::Reactor(Environment::start(template, export).await?))
            }
            GuestKind::Python => Some(Self::Python(PythonEnvironment::start(template).await?)),
            GuestKind::Command => None,
        })
    }
}
