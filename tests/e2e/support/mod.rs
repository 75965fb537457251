//! Shared end-to-end test support: the built binary, the built guests, task
//! roots, a bootstrap process driven by the fake Runtime API, test mode, and
//! [`require`] for tests that need something outside the workspace.

pub mod bootstrap;
pub mod local_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

pub use bootstrap::{Bootstrap, Capture, lambda_env};
pub use fake_runtime_api::{FakeRuntimeApi, Invocation, Outcome};
pub use local_server::{HttpResponse, LocalServer, http};

/// Generous wait used for every await on the process under test, so CI never hangs.
pub const WAIT: Duration = Duration::from_secs(30);

/// Set to `1` (`make test` does under CI), a missing prerequisite fails the
/// test instead of skipping it: CI cannot be green by skipping.
pub const REQUIRE_ALL_ENV: &str = "LAMBDA_WASM_REQUIRE_ALL";

/// Whether the test may go on: `available`, else it should return. A skip
/// prints one `SKIPPED <test>: <prerequisite> missing; <how_to_get_it>` line
/// past libtest's output capture; under [`REQUIRE_ALL_ENV`]`=1` it panics
/// with that message instead.
pub fn require(prerequisite: &str, available: bool, how_to_get_it: &str) -> bool {
    if available {
        return true;
    }
    // libtest runs each test on a thread named after it.
    let test = std::thread::current()
        .name()
        .unwrap_or("<test>")
        .to_string();
    let message = format!("{test}: {prerequisite} missing; {how_to_get_it}");
    if std::env::var(REQUIRE_ALL_ENV).is_ok_and(|v| v == "1") {
        panic!("{message} ({REQUIRE_ALL_ENV}=1 makes a missing prerequisite a failure)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {message}");
    false
}

/// [`require`] for an interpreter's home (Python's, the JavaScript
/// runner's): `home` when one was found, else `None` after one line naming
/// `what`, where it was looked for and `make <make_target>`.
pub fn require_home(
    what: &str,
    home: Option<&'static Path>,
    candidates: &[PathBuf],
    make_target: &str,
) -> Option<&'static Path> {
    let looked_in = candidates
        .iter()
        .map(|c| c.display().to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    let how = format!("run `make {make_target}` (looked in {looked_in})");
    require(what, home.is_some(), &how)
        .then_some(home)
        .flatten()
}

/// The guest crates `guest_dir()` builds.
pub const GUEST_PACKAGES: &[&str] = &[
    "hello",
    "region",
    "increment",
    "command-echo",
    "test-guest",
    "shared-client",
    "http-get",
];

/// Path of the built `lambda-wasm` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lambda-wasm"))
}

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// A task root holding a seed example's port as the repository holds it,
/// `guests/<language>/<name>/<file>`, under its own file name.
pub fn seed_port_root(language: &str, name: &str, file: &str) -> TaskRoot {
    let path = workspace_root()
        .join("guests")
        .join(language)
        .join(name)
        .join(file);
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    TaskRoot::builder().file(file, source).build()
}

/// A bootstrap of an interpreted handler whose interpreter home is `home`,
/// given as `variable`, with `extra` variables.
pub fn spawn_with_home(
    api: &FakeRuntimeApi,
    root: &TaskRoot,
    handler: &str,
    (variable, home): (&str, &Path),
    extra: &[(&str, &str)],
) -> Bootstrap {
    let home = home.to_str().expect("a UTF-8 path");
    let mut env: Vec<(&str, &str)> = vec![(variable, home)];
    env.extend_from_slice(extra);
    Bootstrap::spawn(api, root, handler, &env)
}

/// The workspace target dir: `CARGO_TARGET_DIR` (relative to the workspace
/// root when relative), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// Folder holding the built guests (`<target>/wasm32-wasip1/guest`). The
/// first call in a test process runs
/// `cargo build --profile guest --target wasm32-wasip1 -p hello ...` (cargo
/// itself decides what is missing or stale). Set
/// `LAMBDA_WASM_TEST_SKIP_GUEST_BUILD=1` to use what is already there.
pub fn guest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir();
        let dir = target.join("wasm32-wasip1").join("guest");
        let skip = std::env::var("LAMBDA_WASM_TEST_SKIP_GUEST_BUILD").is_ok_and(|v| v == "1");
        let all_present = || {
            [
                "hello",
                "region",
                "increment",
                "command-echo",
                "test_guest",
                "shared_client",
            ]
            .iter()
            .all(|g| dir.join(format!("{g}.wasm")).is_file())
        };
        if skip && all_present() {
            return dir;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args(["build", "--profile", "guest", "--target", "wasm32-wasip1"])
            .arg("--target-dir")
            .arg(&target);
        for p in GUEST_PACKAGES {
            cmd.args(["-p", p]);
        }
        // The test process inherits cargo's per-crate variables; none of them
        // belongs to the nested build.
        cmd.env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_PRIMARY_PACKAGE");
        let started = Instant::now();
        let out = cmd.output().expect("run cargo to build the guests");
        if !out.status.success() {
            if all_present() {
                eprintln!(
                    "warning: building the guests failed; using the existing ones in {}:\n{}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                return dir;
            }
            panic!(
                "building the guests failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if started.elapsed() > Duration::from_secs(5) {
            eprintln!("built the guests in {:?}", started.elapsed());
        }
        dir
    })
}

/// Path of one built guest, e.g. `guest("test_guest.wasm")`.
pub fn guest(file: &str) -> PathBuf {
    let p = guest_dir().join(file);
    assert!(p.is_file(), "guest {} was not built", p.display());
    p
}

/// A `.cwasm` of the built guest `built` (e.g. `"hello.wasm"`), made once by
/// `lambda-wasm compile` and cached under `<target>/e2e-cwasm/`, keyed by the
/// binary and the guest (size and mtime of each) so a rebuild of either makes
/// a new one. `None` (with a note on stderr) when compiling fails: callers
/// then use the `.wasm` alone.
///
/// Compiling a module with a debug build of wasmtime takes seconds; every
/// bootstrap of the suite compiling its own would dominate the run time.
pub fn precompiled(built: &str) -> Option<PathBuf> {
    precompiled_module(&guest(built))
}

/// [`precompiled`] for any built module, e.g. one `make guests-langs` put
/// under `<target>/wasm32-wasip1/guest-go`: cached under a name made of its
/// path below `<target>` (`wasm32-wasip1-guest-go-hello-<key>.cwasm`).
pub fn precompiled_module(wasm: &Path) -> Option<PathBuf> {
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};
    type Slot = Arc<OnceLock<Option<PathBuf>>>;
    static CACHE: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let slot = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(wasm.display().to_string())
        .or_default()
        .clone();
    slot.get_or_init(|| {
        let wasm = wasm.to_path_buf();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for p in [bin(), wasm.clone()] {
            let m = std::fs::metadata(&p).ok()?;
            m.len().hash(&mut h);
            m.modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_nanos()
                .hash(&mut h);
            p.hash(&mut h);
        }
        let dir = target_dir().join("e2e-cwasm");
        std::fs::create_dir_all(&dir).ok()?;
        let below_target = wasm.strip_prefix(target_dir()).unwrap_or(&wasm);
        let stem = below_target
            .with_extension("")
            .to_string_lossy()
            .trim_start_matches('/')
            .replace('/', "-");
        let out = dir.join(format!("{stem}-{:016x}.cwasm", h.finish()));
        if out.is_file() {
            return Some(out);
        }
        // Drop older entries of this guest (and their source records);
        // `compile` writes beside and renames, so a reader never sees half.
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&format!("{stem}-")) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let result = std::process::Command::new(bin())
            .env_clear()
            .arg("compile")
            .arg(&wasm)
            .arg("-o")
            .arg(&out)
            .output();
        match result {
            Ok(o) if o.status.success() => Some(out),
            Ok(o) => {
                eprintln!(
                    "note: `lambda-wasm compile {}` failed ({}); tests use the .wasm: {}",
                    wasm.display(),
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                );
                None
            }
            Err(e) => {
                eprintln!("note: cannot run `lambda-wasm compile`: {e}; tests use the .wasm");
                None
            }
        }
    })
    .clone()
}

/// A temporary task root holding chosen guests under chosen names.
pub struct TaskRoot {
    dir: tempfile::TempDir,
}

impl TaskRoot {
    pub fn builder() -> TaskRootBuilder {
        TaskRootBuilder {
            entries: Vec::new(),
        }
    }

    /// A task root with one built guest copied under `as_name` (with its `.cwasm`).
    pub fn with_guest(built: &str, as_name: &str) -> TaskRoot {
        Self::builder().guest(built, as_name).build()
    }

    /// A task root with one built guest's `.wasm` alone, compiled by the host.
    pub fn with_guest_wasm_only(built: &str, as_name: &str) -> TaskRoot {
        Self::builder().guest_wasm_only(built, as_name).build()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds a file after the fact (relative path; parent folders are made).
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, bytes).unwrap();
    }
}

pub struct TaskRootBuilder {
    entries: Vec<(String, Source)>,
}

enum Source {
    /// A built guest, and whether to add its precompiled `.cwasm` beside it.
    Guest(String, bool),
    Bytes(Vec<u8>),
}

impl TaskRootBuilder {
    /// Copies the built guest `built` (e.g. `"test_guest.wasm"`) to `as_name`
    /// (e.g. `"probe.wasm"`, or `"pkg/mod.wasm"`), and its precompiled
    /// `.cwasm` beside it (`probe.cwasm`) so the host loads instead of
    /// compiling; see [`precompiled`].
    pub fn guest(mut self, built: &str, as_name: &str) -> Self {
        self.entries
            .push((as_name.to_string(), Source::Guest(built.to_string(), true)));
        self
    }

    /// Like [`guest`](Self::guest) but the `.wasm` alone: the host compiles it
    /// (a few seconds with a debug build).
    pub fn guest_wasm_only(mut self, built: &str, as_name: &str) -> Self {
        self.entries
            .push((as_name.to_string(), Source::Guest(built.to_string(), false)));
        self
    }

    /// Writes a file with these bytes.
    pub fn file(mut self, rel: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.entries
            .push((rel.to_string(), Source::Bytes(bytes.into())));
        self
    }

    pub fn build(self) -> TaskRoot {
        let dir = tempfile::Builder::new()
            .prefix("lambda-wasm-task-")
            .tempdir()
            .expect("temp dir");
        for (rel, src) in self.entries {
            let dest = dir.path().join(&rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            match src {
                Source::Guest(built, with_cwasm) => {
                    std::fs::copy(guest(&built), &dest)
                        .unwrap_or_else(|e| panic!("copy {built}: {e}"));
                    if let Some(cwasm) = with_cwasm.then(|| precompiled(&built)).flatten() {
                        std::fs::copy(cwasm, dest.with_extension("cwasm")).unwrap();
                    }
                }
                Source::Bytes(b) => std::fs::write(&dest, b).unwrap(),
            }
        }
        TaskRoot { dir }
    }
}

/// Host environment variables a child keeps; everything else is cleared so
/// the developer's environment (AWS_*, LAMBDA_WASM_*) cannot leak into a test.
pub const PASS_THROUGH_ENV: &[&str] = &[
    "PATH",
    "TMPDIR",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "LLVM_PROFILE_FILE",
];

/// Clears `cmd`'s environment but for [`PASS_THROUGH_ENV`].
fn base_command(cmd: &mut std::process::Command) {
    cmd.env_clear();
    for k in PASS_THROUGH_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
}

pub type Buf = Arc<Mutex<Vec<u8>>>;

/// Checks `done` every 20 ms until it holds (true) or `timeout` passes (false).
pub async fn poll_until(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Collects everything `r` yields into a shared buffer, in the background.
pub fn pump<R: tokio::io::AsyncRead + Unpin + Send + 'static>(mut r: R) -> Buf {
    let buf: Buf = Arc::default();
    let b = buf.clone();
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => b.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    buf
}

/// The last `max` bytes of `s` (on a char boundary).
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Result of one `lambda-wasm` run in test mode.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// stdout parsed as one JSON value; panics with the whole output if it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:#?}"))
    }
}

/// Runs `lambda-wasm ARGS...` with `stdin` (or an empty stdin) in a cleared
/// environment (PATH, TMPDIR, RUST_LOG kept) plus `env`; killed after 60 s.
pub fn invoke_cli(args: &[&str], stdin: Option<&[u8]>) -> CliOutput {
    invoke_cli_env(args, stdin, &[])
}

pub fn invoke_cli_env(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> CliOutput {
    let mut cmd = std::process::Command::new(bin());
    base_command(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin().display()));
    let mut child_stdin = child.stdin.take().unwrap();
    let input = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    let writer = std::thread::spawn(move || {
        let _ = child_stdin.write_all(&input);
    });
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let s = child.wait().unwrap();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!(
                "lambda-wasm {args:?} did not finish within 60 s ({s}); stderr:\n{}",
                tail(&stderr, 8000)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    CliOutput {
        status,
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

/// Checks the Lambda error shape: exactly the keys errorMessage, errorType,
/// requestId, stackTrace (in that order when the body keeps order), the
/// given type and request id, the type in the header too. Returns the message.
#[track_caller]
pub fn assert_lambda_error<'a>(
    outcome: &'a Outcome,
    error_type: &str,
    request_id: &str,
) -> &'a str {
    let (header, body) = outcome.error();
    assert_error_body(body, error_type, request_id);
    assert_eq!(
        header,
        Some(error_type),
        "Lambda-Runtime-Function-Error-Type header; body {body}"
    );
    body["errorMessage"].as_str().unwrap()
}

/// The body part of [`assert_lambda_error`].
#[track_caller]
pub fn assert_error_body(body: &serde_json::Value, error_type: &str, request_id: &str) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "requestId", "stackTrace"],
        "error keys of {body}"
    );
    assert_eq!(body["errorType"], error_type, "errorType of {body}");
    assert_eq!(body["requestId"], request_id, "requestId of {body}");
    assert!(body["errorMessage"].is_string(), "errorMessage of {body}");
    let trace = body["stackTrace"]
        .as_array()
        .unwrap_or_else(|| panic!("stackTrace is not an array: {body}"));
    assert!(
        trace.iter().all(|f| f.is_string()),
        "stackTrace entries must be strings: {body}"
    );
}

/// Non-empty stackTrace of an error outcome.
#[track_caller]
pub fn assert_stack_trace_nonempty(outcome: &Outcome) {
    let (_, body) = outcome.error();
    let trace = body["stackTrace"].as_array().unwrap();
    assert!(!trace.is_empty(), "expected a non-empty stackTrace: {body}");
}

/// A seed example's event (`guests/events/<name>.json`).
pub fn seed_event(name: &str) -> serde_json::Value {
    let path = workspace_root()
        .join("guests/events")
        .join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The region seed's response in `region`, as the Python original returns
/// it: its `body` is Python's `json.dumps({"Region ": region})`, byte for byte.
#[track_caller]
pub fn assert_seed_region_response(response: &serde_json::Value, region: &str) {
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        response["headers"],
        serde_json::json!({"Content-Type": "application/json"}),
        "{response}"
    );
    assert_eq!(
        response["body"],
        format!("{{\"Region \": \"{region}\"}}"),
        "{response}"
    );
}
