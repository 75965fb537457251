//! A served function's execution environments: instances of its one
//! compiled module, started on demand up to its concurrency and reused
//! warm; requests past that queue for a free one. Before each invocation the
//! task root is checked for changed code ([`watch`]): new code replaces the
//! old for the next invocations (environments running the old code finish
//! theirs first and are then dropped); code that no longer loads leaves the
//! old code serving, with the error logged.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::FunctionSpec;
use super::tail::LogTail;
use super::watch;
use crate::engine::HostEngine;
use crate::errors::LambdaError;
use crate::function::{Function, InitReport};
use crate::invocation::{Invocation, Outcome};
use crate::local;
use crate::logs::Logger;
use crate::settings::FunctionSettings;

/// A function's environments and the code they run.
pub struct Pool {
    spec: FunctionSpec,
    settings: FunctionSettings,
    engine: HostEngine,
    /// One permit per environment that may run at once.
    permits: Arc<Semaphore>,
    code: tokio::sync::Mutex<Code>,
    idle: Mutex<Vec<Environment>>,
}

/// The loaded code: a template environment that replicas are made from
/// (it never runs invocations itself, so making one never waits for a
/// running invocation).
struct Code {
    template: Function,
    fingerprint: u64,
    generation: u64,
    loaded_at: SystemTime,
}

/// One execution environment, with its own log for `Tail`.
struct Environment {
    function: Function,
    log: LogTail,
    generation: u64,
    /// Set until its first invocation, whose REPORT line shows it.
    init: Option<InitReport>,
}

/// All environments were busy for longer than the caller would wait.
#[derive(Debug)]
pub struct Throttled;

impl Pool {
    /// Loads the function's code (Lambda's init phase, once, to fail early).
    pub async fn load(spec: FunctionSpec, engine: HostEngine) -> Result<Self, LambdaError> {
        let settings = local::settings(&spec.options)?;
        let fingerprint = watch::fingerprint(&settings.task_root);
        let template = load_template(&engine, &settings).await?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(spec.concurrency)),
            code: tokio::sync::Mutex::new(Code {
                template,
                fingerprint,
                generation: 0,
                loaded_at: SystemTime::now(),
            }),
            idle: Mutex::new(Vec::new()),
            spec,
            settings,
            engine,
        })
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.settings.function_name
    }

    /// The function's settings.
    pub fn settings(&self) -> &FunctionSettings {
        &self.settings
    }

    /// The environment variables its configuration sets (not Lambda's own).
    pub fn variables(&self) -> &[(String, String)] {
        &self.spec.options.env
    }

    /// How many environments run at once.
    pub fn concurrency(&self) -> usize {
        self.spec.concurrency
    }

    /// When the code now served was loaded.
    pub async fn loaded_at(&self) -> SystemTime {
        self.code.lock().await.loaded_at
    }

    /// An environment running the current code, waiting at most `wait` for
    /// one to be free (`None`: as long as it takes).
    pub async fn checkout(self: &Arc<Self>, wait: Option<Duration>) -> Result<Lease, Throttled> {
        self.reload_if_changed().await;
        let acquire = self.permits.clone().acquire_owned();
        let permit = match wait {
            Some(wait) => tokio::time::timeout(wait, acquire)
                .await
                .map_err(|_| Throttled)?,
            None => acquire.await,
        }
        .expect("the semaphore is never closed");
        Ok(Lease {
            pool: self.clone(),
            environment: None,
            _permit: permit,
        })
    }

    /// Swaps in new code when the task root changed since the last look.
    async fn reload_if_changed(&self) {
        let mut code = self.code.lock().await;
        let fingerprint = watch::fingerprint(&self.settings.task_root);
        if fingerprint == code.fingerprint {
            return;
        }
        // Recorded before loading, so code that fails is retried only once it changes again.
        code.fingerprint = fingerprint;
        match load_template(&self.engine, &self.settings).await {
            Ok(template) => {
                code.template = template;
                code.generation += 1;
                code.loaded_at = SystemTime::now();
                self.lock_idle().clear();
                tracing::info!("{}: code changed; reloaded", self.name());
            }
            Err(error) => tracing::error!(
                "{}: the changed code does not load ({}: {}); still serving the previous code. Fix it and invoke again",
                self.name(),
                error.error_type,
                error.error_message
            ),
        }
    }

    /// A warm environment of the current code, else a new one (its init runs).
    /// The new one's init runs after the code's lock is let go, so that it
    /// never holds up a request that a warm environment could serve.
    async fn warm_or_new_environment(&self) -> Result<Environment, LambdaError> {
        let log = LogTail::default();
        let (start, started, generation) = {
            let code = self.code.lock().await;
            let generation = code.generation;
            let warm = {
                let mut idle = self.lock_idle();
                idle.retain(|environment| environment.generation == generation);
                idle.pop()
            };
            if let Some(environment) = warm {
                return Ok(environment);
            }
            let started = Instant::now();
            let start = code.template.replica(log.logger(self.settings.log));
            (start, started, generation)
        };
        let function = start.await?;
        Ok(Environment {
            function,
            log,
            generation,
            init: Some(InitReport {
                duration: started.elapsed(),
            }),
        })
    }

    /// Takes `environment` back for reuse; one running code that was since
    /// replaced is dropped at the next checkout ([`Pool::warm_or_new_environment`]).
    fn checkin(&self, environment: Environment) {
        self.lock_idle().push(environment);
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Environment>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The right to run one invocation in one of the pool's environments.
pub struct Lease {
    pool: Arc<Pool>,
    environment: Option<Environment>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// Runs `invocation` between START and END/REPORT lines, returning its
    /// outcome and that invocation's log (base64, the last 4 KB). Its
    /// deadline counts from when its environment is ready: not from when it
    /// queued, nor through a new environment's init, which Lambda times
    /// apart (its own 10 s limit) and reports as Init Duration.
    pub async fn run(&mut self, mut invocation: Invocation) -> (Outcome, String) {
        let environment = match self.environment.take() {
            Some(environment) => environment,
            None => match self.pool.warm_or_new_environment().await {
                Ok(environment) => environment,
                Err(error) => return (Outcome::Error(error), String::new()),
            },
        };
        let environment = self.environment.insert(environment);
        invocation.context.deadline = SystemTime::now() + self.pool.settings.timeout;
        let init = environment.init.take();
        let mut log = environment.log.clone();
        let outcome =
            local::run_reported(&mut environment.function, &invocation, init, &mut log).await;
        (outcome, log.take_base64())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // An environment whose invocation panicked is not reused.
        if let (Some(environment), false) = (self.environment.take(), std::thread::panicking()) {
            self.pool.checkin(environment);
        }
    }
}

async fn load_template(
    engine: &HostEngine,
    settings: &FunctionSettings,
) -> Result<Function, LambdaError> {
    Function::load_with_engine(engine, settings.clone(), Logger::to_stderr(settings.log)).await
}
