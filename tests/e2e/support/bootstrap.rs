//! The `lambda-wasm` binary as a Lambda `bootstrap` (runtime mode): started
//! with Lambda's environment against the fake Runtime API, its output kept
//! whole or summarized.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::{
    Buf, FakeRuntimeApi, Invocation, Outcome, TaskRoot, WAIT, base_command, bin, poll_until, pump,
    tail,
};

/// What a [`Bootstrap`] keeps of its stdout and stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Every byte (what the tests read back).
    All,
    /// A [`Summary`] only: for runs that log more than a test should hold
    /// (the soak's 10,000 events write ~120 MB).
    Summary,
}

/// Lines a [`Summary`] keeps.
const SUMMARY_LINES: usize = 60;
/// Bytes of a line a [`Summary`] keeps.
const SUMMARY_LINE_MAX: usize = 2000;

/// One output stream in short: its size, its last lines and every line
/// reporting a Rust panic (`panicked at`).
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Bytes written.
    pub bytes: u64,
    /// The last [`SUMMARY_LINES`] lines (each cut at [`SUMMARY_LINE_MAX`] bytes).
    pub last_lines: VecDeque<String>,
    /// Every line with `panicked at`.
    pub panics: Vec<String>,
}

impl Summary {
    /// The summary of everything in `bytes`.
    fn of(bytes: &[u8]) -> Summary {
        let mut summary = Summary::default();
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            summary.add_line(line);
        }
        summary
    }

    fn add_line(&mut self, line: &[u8]) {
        self.bytes += line.len() as u64;
        let kept = &line[..line.len().min(SUMMARY_LINE_MAX)];
        let text = String::from_utf8_lossy(kept).trim_end().to_string();
        if text.contains("panicked at") {
            self.panics.push(text.clone());
        }
        if self.last_lines.len() == SUMMARY_LINES {
            self.last_lines.pop_front();
        }
        self.last_lines.push_back(text);
    }
}

/// One output stream of a [`Bootstrap`], collected in the background.
enum Collected {
    All(Buf),
    Summary(Arc<Mutex<Summary>>),
}

impl Collected {
    fn start<R: AsyncRead + Unpin + Send + 'static>(capture: Capture, stream: R) -> Collected {
        match capture {
            Capture::All => Collected::All(pump(stream)),
            Capture::Summary => Collected::Summary(summarize(stream)),
        }
    }

    /// All of it, or a summary's last lines (lossy UTF-8).
    fn text(&self) -> String {
        match self {
            Collected::All(buf) => String::from_utf8_lossy(&buf.lock().unwrap()).into_owned(),
            Collected::Summary(summary) => {
                let summary = summary.lock().unwrap();
                Vec::from(summary.last_lines.clone()).join("\n")
            }
        }
    }

    fn summary(&self) -> Summary {
        match self {
            Collected::All(buf) => Summary::of(&buf.lock().unwrap()),
            Collected::Summary(summary) => summary.lock().unwrap().clone(),
        }
    }
}

/// Reads `stream` line by line into a [`Summary`], in the background.
fn summarize<R: AsyncRead + Unpin + Send + 'static>(stream: R) -> Arc<Mutex<Summary>> {
    let summary: Arc<Mutex<Summary>> = Arc::default();
    let sink = summary.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::with_capacity(256 * 1024, stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => sink.lock().unwrap().add_line(&line),
            }
        }
    });
    summary
}

/// Lambda's environment for a bootstrap of function `function` serving
/// `handler` from `task_root` on the Runtime API at `runtime_api`:
/// AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
/// AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION=$LATEST,
/// AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128, AWS_REGION=us-east-1 (and the
/// default region), log group and stream, TZ.
pub fn lambda_env(
    runtime_api: &str,
    task_root: &Path,
    handler: &str,
    function: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("_HANDLER", handler.to_string()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/26/[$LATEST]0123456789abcdef".into(),
        ),
        ("TZ", ":UTC".into()),
    ]
}

/// The `lambda-wasm` binary running as a `bootstrap` against a fake Runtime
/// API. Its stdout and stderr are collected (see [`Capture`]); it is killed
/// on drop (and its output printed when the test is panicking).
pub struct Bootstrap {
    child: tokio::process::Child,
    stdout: Collected,
    stderr: Collected,
    status: Option<ExitStatus>,
    handler: String,
}

impl Bootstrap {
    /// Starts `lambda-wasm` (no subcommand) with Lambda's environment
    /// ([`lambda_env`]) for function `test-fn`. `extra_env` is applied last
    /// (it overrides).
    pub fn spawn(
        api: &FakeRuntimeApi,
        task_root: &TaskRoot,
        handler: &str,
        extra_env: &[(&str, &str)],
    ) -> Bootstrap {
        Self::spawn_with(api, task_root, handler, extra_env, Capture::All)
    }

    /// Like [`spawn`](Self::spawn), keeping only what `capture` says of the
    /// process's output.
    pub fn spawn_with(
        api: &FakeRuntimeApi,
        task_root: &TaskRoot,
        handler: &str,
        extra_env: &[(&str, &str)],
        capture: Capture,
    ) -> Bootstrap {
        Self::spawn_program(&bin(), api, task_root.path(), handler, extra_env, capture)
    }

    /// Like [`spawn_with`](Self::spawn_with), running `program` (e.g. the
    /// `bootstrap` of an unzipped deployment package) on `task_root`.
    pub fn spawn_program(
        program: &Path,
        api: &FakeRuntimeApi,
        task_root: &Path,
        handler: &str,
        extra_env: &[(&str, &str)],
        capture: Capture,
    ) -> Bootstrap {
        let mut cmd = tokio::process::Command::new(program);
        base_command(cmd.as_std_mut());
        cmd.envs(lambda_env(&api.endpoint(), task_root, handler, "test-fn"));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.current_dir(task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let stdout = Collected::start(capture, child.stdout.take().unwrap());
        let stderr = Collected::start(capture, child.stderr.take().unwrap());
        Bootstrap {
            child,
            stdout,
            stderr,
            status: None,
            handler: handler.to_string(),
        }
    }

    /// Everything the process wrote to stderr so far (lossy UTF-8); its
    /// last lines under [`Capture::Summary`].
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Everything the process wrote to stdout so far (lossy UTF-8); its
    /// last lines under [`Capture::Summary`].
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Size, last lines and panic lines of stdout so far.
    pub fn stdout_summary(&self) -> Summary {
        self.stdout.summary()
    }

    /// Size, last lines and panic lines of stderr so far.
    pub fn stderr_summary(&self) -> Summary {
        self.stderr.summary()
    }

    /// Waits until `pred(stderr)` holds; false after `timeout`.
    pub async fn wait_for_stderr(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        poll_until(timeout, || pred(&self.stderr())).await
    }

    /// Waits for the process to exit; `None` if it still runs after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = tokio::time::timeout(timeout, self.child.wait())
                .await
                .ok()
                .map(|r| r.unwrap());
        }
        self.status
    }

    /// Has the process exited? (non-blocking)
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Enqueues `inv` and waits for its answer. On a timeout, panics with the
    /// process's state and its stderr so the failure explains itself.
    pub async fn call(&mut self, api: &FakeRuntimeApi, inv: Invocation) -> (String, Outcome) {
        let id = api.invoke(inv);
        let outcome = self.outcome(api, &id).await;
        (id, outcome)
    }

    /// The answer for `id`, waiting up to [`WAIT`]; `None` when none came,
    /// early if the process exits without answering.
    pub async fn try_outcome(&mut self, api: &FakeRuntimeApi, id: &str) -> Option<Outcome> {
        let until = Instant::now() + WAIT;
        loop {
            if let Some(o) = api.try_outcome(id, Duration::from_millis(250)).await {
                return Some(o);
            }
            if self.try_status().is_some() {
                // Exited: anything it posted before exiting is recorded by now.
                return api.try_outcome(id, Duration::from_millis(50)).await;
            }
            if Instant::now() >= until {
                return None;
            }
        }
    }

    /// The answer for `id` (already enqueued); panics like `call` on a
    /// timeout or when the process exited without answering.
    pub async fn outcome(&mut self, api: &FakeRuntimeApi, id: &str) -> Outcome {
        match self.try_outcome(api, id).await {
            Some(o) => o,
            None => {
                let status = self.try_status();
                panic!(
                    "no answer for {id} (waited up to {WAIT:?}; handler {}, process status {status:?}, {:?})\n--- stderr ---\n{}",
                    self.handler,
                    api.stats(),
                    tail(&self.stderr(), 8000)
                )
            }
        }
    }

    /// Enqueues an event (JSON) with default headers and waits for the answer.
    pub async fn call_json(
        &mut self,
        api: &FakeRuntimeApi,
        event: serde_json::Value,
    ) -> (String, Outcome) {
        self.call(api, Invocation::json(&event)).await
    }

    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "--- bootstrap ({}) stdout ---\n{}\n--- bootstrap stderr ---\n{}",
                self.handler,
                tail(&self.stdout(), 8000),
                tail(&self.stderr(), 16000)
            );
        }
    }
}
