//! End-to-end test under a real third-party Runtime API emulator:
//! cargo-lambda's `cargo lambda watch --only-lambda-apis` (cargo-lambda
//! 1.9.2 from PyPI, installed into `.tools/venv` by `make tools`).
//!
//! What the emulator needs, found by running it:
//! - a Cargo project in its working directory (it runs `cargo metadata
//!   --no-deps` and only accepts invocations of functions that are `[[bin]]`
//!   targets of that project), so the test writes a throwaway one with bins
//!   `hello`, `region` and `probe` into a temp dir; nothing is built and no
//!   network is used;
//! - `--invoke-address 127.0.0.1 --invoke-port PORT` (the default is `[::]:9000`);
//!   the Runtime API is served on the same port under `/.rt`, one path prefix
//!   per function: a runtime for function NAME uses
//!   `AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:PORT/.rt/NAME` (the scheme is
//!   needed: `lambda_runtime_api_client` cannot parse `host:port/path`);
//! - invocations are `POST /2015-03-31/functions/NAME/invocations` (what
//!   `cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port PORT
//!   --data-ascii JSON NAME` sends): 200 with the response, or 500 with the
//!   function's error body.
//!
//! Its known quirk: every event carries `Lambda-Runtime-Deadline-Ms: 600000`
//! (a duration, not an epoch time); the host warns and uses
//! LAMBDA_WASM_TIMEOUT instead (docs/abi.md section 6).
//!
//! The binary is `$LAMBDA_WASM_CARGO_LAMBDA`, else
//! `<workspace>/.tools/venv/bin/cargo-lambda`, else `cargo-lambda` on PATH;
//! without one the test prints one `SKIPPED` line and returns, or fails
//! under `LAMBDA_WASM_REQUIRE_ALL=1` (`support::require`).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    Buf, PASS_THROUGH_ENV, TaskRoot, assert_error_body, bin, lambda_env, pump, require, tail,
    workspace_root,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on every single step (emulator start, one invocation, a log line).
const STEP: Duration = Duration::from_secs(20);

/// Names the cargo-lambda binary explicitly.
const CARGO_LAMBDA_ENV: &str = "LAMBDA_WASM_CARGO_LAMBDA";

/// The cargo-lambda binary: `$LAMBDA_WASM_CARGO_LAMBDA` (must exist when
/// set), else `<workspace>/.tools/venv/bin/cargo-lambda`, else PATH.
fn find_cargo_lambda() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CARGO_LAMBDA_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{CARGO_LAMBDA_ENV}={} is not a file",
            p.display()
        );
        return Some(p);
    }
    let venv = workspace_root()
        .join(".tools")
        .join("venv")
        .join("bin")
        .join("cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("cargo-lambda"))
        .find(|p| p.is_file())
}

/// The cargo-lambda binary, or `None` (the test returns) after [`require`]
/// reported it missing.
fn require_cargo_lambda() -> Option<PathBuf> {
    let exe = find_cargo_lambda();
    let how = format!(
        "`make tools` installs cargo-lambda 1.9.2 from PyPI into {} (or set ${CARGO_LAMBDA_ENV}, or put it on PATH)",
        workspace_root()
            .join(".tools/venv/bin/cargo-lambda")
            .display()
    );
    require("cargo-lambda", exe.is_some(), &how)
        .then_some(exe)
        .flatten()
}

/// A child process with captured stdout and stderr, killed on drop (its
/// output printed when the test is panicking).
struct Proc {
    name: String,
    child: tokio::process::Child,
    stdout: Buf,
    stderr: Buf,
}

impl Proc {
    /// Spawns `cmd` in a cleared environment holding only `keep` (from this
    /// process, when set) and `env`.
    fn spawn(
        name: &str,
        mut cmd: tokio::process::Command,
        keep: &[&str],
        env: &[(&str, String)],
    ) -> Proc {
        cmd.env_clear();
        for k in keep {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdout = pump(child.stdout.take().unwrap());
        let stderr = pump(child.stderr.take().unwrap());
        Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn output(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            tail(&self.stdout(), 8000),
            self.name,
            tail(&self.stderr(), 16000)
        )
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits until `pred(stderr)` holds; false after `timeout`.
    async fn wait_for_stderr(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        crate::support::poll_until(timeout, || pred(&self.stderr())).await
    }

    /// Kills the process and reaps it.
    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(STEP, self.child.wait()).await;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("{}", self.output());
        }
    }
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The throwaway Cargo project cargo-lambda's `watch` insists on: one
/// `[[bin]]` per function name it should accept. Never built.
fn emulator_project(functions: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("lambda-wasm-cargo-lambda-")
        .tempdir()
        .unwrap();
    let mut manifest = String::from(
        "[package]\nname = \"cargo-lambda-emulator\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n",
    );
    for f in functions {
        manifest.push_str(&format!("\n[[bin]]\nname = \"{f}\"\npath = \"{f}.rs\"\n"));
        std::fs::write(dir.path().join(format!("{f}.rs")), "fn main() {}\n").unwrap();
    }
    // Its own workspace root, whatever surrounds the temp dir.
    manifest.push_str("\n[workspace]\n");
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    dir
}

/// Starts `cargo lambda watch --only-lambda-apis` on a free loopback port in
/// `project`, waiting until it accepts connections; a few attempts in case
/// the port got taken in between.
async fn start_emulator(exe: &Path, project: &Path) -> (Proc, u16) {
    // cargo-lambda runs `cargo metadata` ($CARGO, else cargo on PATH, via
    // rustup's variables); nothing else of this environment reaches it.
    const KEEP: &[&str] = &[
        "PATH",
        "HOME",
        "TMPDIR",
        "CARGO",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    ];
    let mut last = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let mut cmd = tokio::process::Command::new(exe);
        cmd.current_dir(project).args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ]);
        let mut emu = Proc::spawn("cargo-lambda watch", cmd, KEEP, &[("NO_COLOR", "1".into())]);
        let until = Instant::now() + STEP;
        loop {
            if let Some(status) = emu.try_status() {
                last = format!(
                    "cargo-lambda exited early ({status}) on port {port}:\n{}",
                    emu.output()
                );
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return (emu, port);
            }
            if Instant::now() >= until {
                panic!(
                    "cargo-lambda did not listen on 127.0.0.1:{port} within {STEP:?}:\n{}",
                    emu.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !last.contains("in use") {
            break;
        }
    }
    panic!("{last}");
}

/// The lambda-wasm bootstrap serving function `function` (`handler` in
/// `root`) from the emulator's Runtime API, with Lambda's environment.
fn start_bootstrap(
    port: u16,
    root: &TaskRoot,
    function: &str,
    handler: &str,
    extra_env: &[(&str, &str)],
) -> Proc {
    let runtime_api = format!("http://127.0.0.1:{port}/.rt/{function}");
    let mut env = lambda_env(&runtime_api, root.path(), handler, function);
    env.extend(extra_env.iter().map(|(k, v)| (*k, v.to_string())));
    let mut cmd = tokio::process::Command::new(bin());
    cmd.current_dir(root.path());
    Proc::spawn(
        &format!("lambda-wasm bootstrap ({function})"),
        cmd,
        PASS_THROUGH_ENV,
        &env,
    )
}

/// An HTTP response read to its end.
#[derive(Debug)]
struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {self:?}"))
    }
}

/// `POST /2015-03-31/functions/{function}/invocations` to the emulator (one
/// connection, `Connection: close`), bounded by [`STEP`].
async fn invoke(port: u16, function: &str, event: &Value, procs: &[&Proc]) -> Resp {
    let body = serde_json::to_vec(event).unwrap();
    let exchange = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
        let head = format!(
            "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(&body).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        std::io::Result::Ok(raw)
    };
    let raw = match tokio::time::timeout(STEP, exchange).await {
        Ok(Ok(raw)) => raw,
        outcome => {
            let logs: Vec<String> = procs.iter().map(|p| p.output()).collect();
            panic!(
                "invoking {function} with {event}: {outcome:?} (bounded by {STEP:?})\n{}",
                logs.join("\n")
            )
        }
    };
    parse_response(&raw)
        .unwrap_or_else(|| panic!("not an HTTP response: {:?}", String::from_utf8_lossy(&raw)))
}

fn parse_response(raw: &[u8]) -> Option<Resp> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_field = std::str::from_utf8(&rest[..eol]).ok()?;
            let size = usize::from_str_radix(size_field.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[eol + 2..];
            if size == 0 {
                break body;
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    } else {
        let len = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(rest.len());
        rest.get(..len)?.to_vec()
    };
    Some(Resp {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_cargo_lambda_watch() {
    let Some(exe) = require_cargo_lambda() else {
        return;
    };
    let started = Instant::now();

    let project = emulator_project(&["hello", "region", "probe"]);
    let (emulator, port) = start_emulator(&exe, project.path()).await;

    // One task root with the three modules (each with its precompiled .cwasm);
    // one bootstrap process per function, as Lambda runs them.
    let root = TaskRoot::builder()
        .guest("hello.wasm", "hello.wasm")
        .guest("region.wasm", "region.wasm")
        .guest("test_guest.wasm", "probe.wasm")
        .build();
    let mut hello = start_bootstrap(port, &root, "hello", "hello.handler", &[]);
    let mut region = start_bootstrap(
        port,
        &root,
        "region",
        "region.handler",
        &[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ],
    );
    let mut probe = start_bootstrap(port, &root, "probe", "probe.handler", &[]);

    // hello: the seed's example, through the emulator.
    let all = [&emulator, &hello, &region, &probe];
    let r = invoke(
        port,
        "hello",
        &json!({"first_name": "John", "last_name": "Smith"}),
        &all,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({"message": "Hello John Smith!"}));

    // The emulator's deadline header is a duration: the host said so and used its own timeout.
    let warned = hello
        .wait_for_stderr(STEP, |e| {
            e.contains("WARN")
                && e.contains("Lambda-Runtime-Deadline-Ms 600000 is not an epoch time")
                && e.contains("LAMBDA_WASM_TIMEOUT")
        })
        .await;
    assert!(
        warned,
        "no warning about the 600000 deadline:\n{}",
        hello.output()
    );

    // region: the function's own environment.
    let r = invoke(
        port,
        "region",
        &json!({"key1": "value1", "key2": "value2", "key3": "value3"}),
        &all,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json(),
        json!({
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": "{\"Region \": \"eu-west-1\"}"
        })
    );

    // A function error: cargo-lambda answers 500 with the runtime's error body.
    let r = invoke(
        port,
        "probe",
        &json!({"action": "fail", "message": "x"}),
        &all,
    )
    .await;
    assert_eq!(
        r.status, 500,
        "a function error is a 500 from cargo-lambda: {r:?}"
    );
    let body = r.json();
    let request_id = body["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("no requestId in {body}"))
        .to_string();
    assert!(!request_id.is_empty(), "{body}");
    assert_error_body(&body, "CustomError", &request_id);
    assert_eq!(body["errorMessage"], "x", "{body}");
    // The ERROR log line names the same request (the emulator's request id).
    let logged = probe
        .wait_for_stderr(STEP, |e| {
            e.lines()
                .any(|l| l.contains(&request_id) && l.contains("CustomError"))
        })
        .await;
    assert!(
        logged,
        "no ERROR line for {request_id}:\n{}",
        probe.output()
    );

    // The same processes go on: a good event on the probe, and hello again.
    let r = invoke(port, "probe", &json!({"action": "echo", "marker": 7}), &all).await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    let event = if v.get("event").is_some() && v.get("marker").is_none() {
        &v["event"]
    } else {
        &v
    };
    assert_eq!(event["marker"], 7, "echo answered {v}");
    let r = invoke(
        port,
        "hello",
        &json!({"first_name": "Ada", "last_name": "Lovelace"}),
        &all,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({"message": "Hello Ada Lovelace!"}));

    for p in [&mut hello, &mut region, &mut probe] {
        assert!(
            p.try_status().is_none(),
            "{} exited:\n{}",
            p.name,
            p.output()
        );
        assert!(
            !p.stderr().contains("panicked"),
            "{} panicked:\n{}",
            p.name,
            p.output()
        );
    }
    for p in [probe, region, hello, emulator] {
        p.stop().await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
