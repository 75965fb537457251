//! A loaded function: its module compiled once, linked once, and the
//! execution environment that serves its invocations one at a time.

use std::sync::Arc;
use std::time::Instant;

use crate::engine::HostEngine;
use crate::errors::{LambdaError, error_type};
use crate::guest::AnyGuest;
use crate::invocation::{Call, Invocation, Outcome};
use crate::logs::{Level, Logger};
use crate::response;
use crate::settings::FunctionSettings;

/// A function ready to serve invocations.
pub struct Function {
    guest: AnyGuest,
    /// The guest's /tmp, deleted with the function and its replicas.
    _tmp: Arc<tempfile::TempDir>,
    /// Keeps the engine's epoch ticker running while the function lives.
    _engine: HostEngine,
}

/// Timings of the init phase, for REPORT lines.
#[derive(Debug, Clone, Copy)]
pub struct InitReport {
    /// Compile (or deserialize), link and the first environment's init.
    pub duration: std::time::Duration,
}

impl Function {
    /// Loads the handler's module and starts its first execution environment
    /// (Lambda's init phase) on a new engine; errors are init errors.
    pub async fn load(
        settings: FunctionSettings,
        logger: Logger,
    ) -> Result<(Self, InitReport), LambdaError> {
        let started = Instant::now();
        let engine = HostEngine::new()
            .map_err(|e| LambdaError::new(error_type::ENGINE, format!("{e:#}")))?;
        let function = Self::load_with_engine(&engine, settings, logger).await?;
        let init = InitReport {
            duration: started.elapsed(),
        };
        Ok((function, init))
    }

    /// [`Function::load`] on an existing engine, which functions share.
    pub async fn load_with_engine(
        engine: &HostEngine,
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
        let tmp = tempfile::Builder::new()
            .prefix("lambda-wasm-tmp-")
            .tempdir()
            .map_err(|e| LambdaError::sandbox(format!("cannot create the guest's /tmp: {e}")))?;
        let guest = AnyGuest::load(
            engine.engine(),
            Arc::new(settings),
            logger,
            tmp.path().to_path_buf(),
        )
        .await?;
        Ok(Self {
            guest,
            _tmp: Arc::new(tmp),
            _engine: engine.clone(),
        })
    }

    /// Another execution environment of the same compiled function, logging
    /// to `logger`, for serving invocations concurrently: it shares the
    /// module, settings and /tmp, and runs its own init. The future borrows
    /// nothing from `self`, so the init need not hold a lock on it (`serve`).
    pub fn replica(
        &self,
        logger: Logger,
    ) -> impl Future<Output = Result<Self, LambdaError>> + Send + use<> {
        let guest = self.guest.replica(logger);
        let (tmp, engine) = (self._tmp.clone(), self._engine.clone());
        async move {
            Ok(Self {
                guest: guest.await?,
                _tmp: tmp,
                _engine: engine,
            })
        }
    }

    /// The function's settings.
    pub fn settings(&self) -> &FunctionSettings {
        self.guest.settings()
    }

    /// Runs one invocation to its outcome; never fails as a whole.
    ///
    /// A fault discards the execution environment; the next invocation starts
    /// a fresh one, whose init runs again, as Lambda resets a crashed sandbox.
    pub async fn invoke(&mut self, invocation: &Invocation) -> Outcome {
        let logger = self.guest.logger().clone();
        logger.begin_invocation(&invocation.context.request_id);
        let outcome = match response::validate_event(&invocation.event) {
            Ok(()) => {
                let settings = self.guest.settings().clone();
                self.guest.run(&Call::new(invocation, &settings)).await
            }
            Err(error) => Outcome::Error(error),
        };
        if let (Outcome::Error(error), false) = (&outcome, self.guest.logs_its_own_errors()) {
            let message = format!("{}: {}", error.error_type, error.error_message);
            logger.record(Level::Error, message.as_bytes());
        }
        logger.end_invocation();
        outcome
    }

    /// The largest linear memory the current environment has had, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.guest.peak_memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogConfig;
    use std::time::Duration;

    /// An ABI v1 reactor whose handler never returns.
    const SPIN: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "lambda_abi_version") (result i32) i32.const 1)
        (func (export "lambda_alloc") (param i32) (result i32) i32.const 1024)
        (func (export "handler") (param i32 i32 i32 i32) (result i32)
            (loop (br 0))
            i32.const 0))"#;

    async fn spinner(engine: &HostEngine, root: &std::path::Path) -> Function {
        let settings = FunctionSettings::for_test("spin.handler", root);
        let logger = Logger::to_writer(LogConfig::default(), Box::new(std::io::sink()));
        Function::load_with_engine(engine, settings, logger)
            .await
            .unwrap()
    }

    fn invocation_with(timeout: Duration) -> Invocation {
        Invocation::for_test(b"{}", timeout)
    }

    /// Two functions on one engine share its one epoch ticker: with a ticker
    /// per function the epoch would advance twice as fast and a deadline
    /// would interrupt the guest at half its time.
    #[tokio::test(flavor = "current_thread")]
    async fn functions_on_one_engine_keep_their_deadlines() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("spin.wasm"), wat::parse_str(SPIN).unwrap()).unwrap();
        let engine = HostEngine::new().unwrap();
        let mut first = spinner(&engine, root.path()).await;
        let _second = spinner(&engine, root.path()).await;
        let timeout = Duration::from_millis(400);
        let started = Instant::now();
        let outcome = first.invoke(&invocation_with(timeout)).await;
        let elapsed = started.elapsed();
        match outcome {
            Outcome::Error(error) => assert_eq!(error.error_type, "Sandbox.Timedout"),
            Outcome::Response(json) => panic!("a busy loop answered {json}"),
        }
        assert!(
            elapsed >= timeout - Duration::from_millis(20),
            "interrupted after {elapsed:?} of a {timeout:?} deadline"
        );
    }
}
