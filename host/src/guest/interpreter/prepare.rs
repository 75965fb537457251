//! The build steps that run an interpreter outside any function
//! (`prepare-python`, `prepare-js`, `prepare-ruby`; `make`, `package`): a scratch sandbox,
//! the interpreter linked in it, and its runtime snapshot taken as the
//! bootstrap will restore it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tempfile::TempDir;
use wasmtime::{Engine, Module};

use super::bridge::InterpreterState;
use super::{InterpreterEnvironment, Language};
use crate::errors::LambdaError;
use crate::guest::GuestEnvironment as _;
use crate::limits::INIT_TIMEOUT;
use crate::logs::Logger;
use crate::response::DEFAULT_MAX_RESPONSE_BYTES;
use crate::sandbox::Extras;
use crate::settings::{FunctionSettings, LAMBDA_TASK_ROOT, LocalOptions};
use crate::store::InstanceTemplate;

/// Runs a build step (which needs an async runtime: the interpreter's) to
/// its end on a thread of its own with a runtime of its own, so that sync
/// code can wait for it whether or not it runs inside a runtime.
pub fn block_on<T, F>(step: impl FnOnce() -> F + Send) -> anyhow::Result<T>
where
    T: Send,
    F: Future<Output = anyhow::Result<T>>,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start an async runtime for an interpreter's build step")?
                    .block_on(step())
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("an interpreter's build step panicked")))
    })
}

/// A build step's sandbox: an empty task root and `/tmp` in a scratch
/// folder (removed when this is dropped), and settings naming them.
pub struct Scratch {
    _folder: TempDir,
    /// The settings of a function with `handler` there (homes as the process's).
    pub settings: FunctionSettings,
    /// The folder the guest sees as `/tmp`.
    pub tmp: PathBuf,
}

impl Scratch {
    /// A scratch sandbox for a function whose handler is `handler`, over an
    /// empty task root.
    pub fn new(handler: &str) -> anyhow::Result<Self> {
        Self::build(handler, None)
    }

    /// A scratch sandbox for a function whose handler is `handler`, over
    /// `task_root` (which the step only reads).
    pub fn over(handler: &str, task_root: &Path) -> anyhow::Result<Self> {
        Self::build(handler, Some(task_root.to_path_buf()))
    }

    fn build(handler: &str, task_root: Option<PathBuf>) -> anyhow::Result<Self> {
        let folder = tempfile::tempdir().context("cannot create a scratch folder")?;
        let tmp = folder.path().join("tmp");
        let task_root = task_root.unwrap_or_else(|| folder.path().join("task"));
        for dir in [&task_root, &tmp] {
            if !dir.is_dir() {
                std::fs::create_dir(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
        }
        let settings = FunctionSettings::local(&LocalOptions {
            handler: handler.into(),
            task_root,
            timeout: INIT_TIMEOUT,
            memory_mb: 1024,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            ..LocalOptions::default()
        })?;
        Ok(Self {
            _folder: folder,
            settings,
            tmp,
        })
    }
}

/// The interpreter linked for a build step, logging to stderr.
pub fn template(
    module: &Module,
    settings: FunctionSettings,
    tmp: PathBuf,
    extras: Extras,
) -> Result<InstanceTemplate<InterpreterState>, LambdaError> {
    let logger = Logger::to_stderr(settings.log);
    InstanceTemplate::new(
        module,
        InterpreterEnvironment::add_imports,
        Arc::new(settings),
        logger,
        tmp,
        extras,
    )
}

/// Snapshots `language`'s interpreter with its glue loaded into its home,
/// in a sandbox laid out as the bootstrap's (the language's own extras, the
/// task root at `/var/task`); returns the snapshot's path.
pub async fn runtime_snapshot(
    language: &Language,
    engine: &Engine,
    settings: &FunctionSettings,
    tmp: PathBuf,
) -> anyhow::Result<PathBuf> {
    let preinit = language
        .preinit
        .with_context(|| format!("{} is not pre-initialised", language.name))?;
    let mut settings = settings.clone();
    settings.guest_task_root = LAMBDA_TASK_ROOT.into();
    let (module, extras) = (language.load)(engine, &settings)?;
    let template = template(&module, settings, tmp, extras)?;
    preinit
        .prepare(&template)
        .await
        .with_context(|| format!("cannot snapshot the {} interpreter", language.name))
}
