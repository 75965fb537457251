//! End-to-end tests of the Go and AssemblyScript guests (guests/go,
//! guests/assemblyscript) in runtime mode: the built `lambda-wasm` binary as
//! a bootstrap against the fake Runtime API. Each port must answer the seed
//! events exactly as the Rust port does (same JSON, same errorType and
//! errorMessage), a panic or abort must trap, and the next event after each
//! failure must succeed.
//!
//! The modules are built by make, not by this test:
//!
//! ```sh
//! make guests-go guests-as
//! cargo test --release -p lambda-wasm --test e2e languages_go_as::
//! ```
//!
//! A language whose modules are missing is skipped with one `SKIPPED` line,
//! unless `LAMBDA_WASM_REQUIRE_ALL=1` (CI), where that fails ([`require`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::*;
use serde_json::{Value, json};

/// A guest language: where `make TARGET` puts its modules.
struct Language {
    name: &'static str,
    make_target: &'static str,
    dir: &'static str,
    /// The event that makes its `crash` guest panic or abort.
    crash_event: &'static str,
}

const GO: Language = Language {
    name: "Go",
    make_target: "guests-go",
    dir: "guest-go",
    crash_event: r#"{"panic": "boom"}"#,
};

const ASSEMBLYSCRIPT: Language = Language {
    name: "AssemblyScript",
    make_target: "guests-as",
    dir: "guest-as",
    crash_event: r#"{"abort": "boom"}"#,
};

/// The modules every language builds: the three seed ports and `crash`.
const MODULES: &[&str] = &["hello", "region", "increment", "crash"];

impl Language {
    /// `<workspace>/target/wasm32-wasip1/<dir>`, where the Makefile builds.
    fn build_dir(&self) -> PathBuf {
        target_dir().join("wasm32-wasip1").join(self.dir)
    }

    /// The built modules, each with its `.cwasm` beside it, or `None` (after
    /// one loud line) when they were not built and this run may skip them.
    fn built(&self) -> Option<Precompiled> {
        let dir = self.build_dir();
        let missing: Vec<_> = MODULES
            .iter()
            .filter(|m| !dir.join(format!("{m}.wasm")).is_file())
            .collect();
        let prerequisite = format!("{} guests {missing:?} in {}", self.name, dir.display());
        let how = format!("run `make {}`", self.make_target);
        require(&prerequisite, missing.is_empty(), &how).then(|| precompile(&dir))
    }
}

/// A language's modules with their `.cwasm`s, compiled once per test by
/// `lambda-wasm compile`: a Go module is 4.5 MB, and every bootstrap
/// compiling its own on a busy machine would outlast the test's waits.
struct Precompiled(tempfile::TempDir);

fn precompile(built: &Path) -> Precompiled {
    let dir = tempfile::Builder::new()
        .prefix("lambda-wasm-langs-")
        .tempdir()
        .expect("temp dir");
    let compiles: Vec<_> = MODULES
        .iter()
        .map(|module| {
            let wasm = dir.path().join(format!("{module}.wasm"));
            std::fs::copy(built.join(format!("{module}.wasm")), &wasm)
                .unwrap_or_else(|e| panic!("copy {module}.wasm from {}: {e}", built.display()));
            let child = std::process::Command::new(bin())
                .env_clear() // as support::precompiled: no host setting leaks in
                .arg("compile")
                .arg(&wasm)
                .arg("-o")
                .arg(wasm.with_extension("cwasm"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin().display()));
            (module, child)
        })
        .collect();
    for (module, child) in compiles {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "lambda-wasm compile {module}.wasm: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Precompiled(dir)
}

impl Precompiled {
    /// A task root holding `module.wasm` and `module.cwasm`.
    fn task_root(&self, module: &str) -> TaskRoot {
        let mut root = TaskRoot::builder();
        for file in [format!("{module}.wasm"), format!("{module}.cwasm")] {
            let bytes = std::fs::read(self.0.path().join(&file)).unwrap();
            root = root.file(&file, bytes);
        }
        root.build()
    }
}

/// What an invocation answered, in a form two guests can be compared by:
/// the response JSON, or the error's type and message. (A function error's
/// message has no request id in it; the trap's does and is not compared.)
#[derive(Debug, PartialEq)]
enum Answer {
    Response(Value),
    Error { error_type: String, message: String },
}

fn answer(outcome: &Outcome) -> Answer {
    if !outcome.is_error() {
        return Answer::Response(outcome.json());
    }
    let (header, body) = outcome.error();
    let error_type = body["errorType"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        header,
        Some(error_type.as_str()),
        "error header and body disagree: {outcome:?}"
    );
    Answer::Error {
        error_type,
        message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Runs `events` in order through one bootstrap serving `module.handler`
/// from `root`; returns each answer with its request id.
async fn run(root: TaskRoot, module: &str, events: &[Value]) -> Vec<(String, Answer)> {
    let api = FakeRuntimeApi::start().await;
    let mut boot = Bootstrap::spawn(&api, &root, &format!("{module}.handler"), &[]);
    let mut answers = Vec::new();
    for event in events {
        let (id, outcome) = boot.call_json(&api, event.clone()).await;
        answers.push((id, answer(&outcome)));
    }
    api.assert_all_answered_once();
    answers
}

/// Runs a seed port and the Rust port on the same events (one bootstrap
/// each); every answer must be the same. Returns the port's answers.
async fn assert_same_as_rust(
    language: &Language,
    guests: &Precompiled,
    module: &str,
    events: &[Value],
) -> Vec<Answer> {
    let rust = TaskRoot::with_guest(&format!("{module}.wasm"), &format!("{module}.wasm"));
    let (ported, rust) = tokio::join!(
        run(guests.task_root(module), module, events),
        run(rust, module, events)
    );
    for ((event, (_, ported)), (_, rust)) in events.iter().zip(&ported).zip(&rust) {
        assert_eq!(
            ported, rust,
            "{} {module} answered {event} differently from the Rust port",
            language.name
        );
    }
    ported.into_iter().map(|(_, answer)| answer).collect()
}

/// hello, region, increment and crash of one language.
async fn check_language(language: &Language) {
    let Some(guests) = language.built() else {
        return;
    };
    let hello = [
        json!({"first_name": "John", "last_name": "Smith"}),
        json!({"last_name": "Smith"}),
        json!({"first_name": "Ada", "last_name": "Lovelace"}),
    ];
    let region = [json!({"key1": "value1", "key2": "value2", "key3": "value3"})];
    let increment = [
        json!({"action": "increment", "number": 3}),
        json!({"action": "foo"}),
        json!({"action": "increment", "number": 2.5}),
        json!({"action": "increment", "number": "3"}),
        json!({"action": "increment", "number": 41}),
    ];
    let (hello, region, increment) = tokio::join!(
        assert_same_as_rust(language, &guests, "hello", &hello),
        assert_same_as_rust(language, &guests, "region", &region),
        assert_same_as_rust(language, &guests, "increment", &increment),
    );

    // Equal to Rust's is not enough: the answers must be the right ones.
    let response = |value: Value| Answer::Response(value);
    let error = |error_type: &str, message: &str| Answer::Error {
        error_type: error_type.into(),
        message: message.into(),
    };
    assert_eq!(
        hello,
        [
            response(json!({"message": "Hello John Smith!"})),
            error("KeyError", "'first_name'"),
            response(json!({"message": "Hello Ada Lovelace!"})),
        ]
    );
    assert_eq!(
        region,
        [response(json!({
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": "{\"Region \": \"us-east-1\"}"
        }))]
    );
    assert_eq!(
        increment,
        [
            response(json!({"result": 4})),
            response(json!({"result": null})),
            response(json!({"result": 3.5})),
            error("TypeError", "can only concatenate str (not \"int\") to str"),
            response(json!({"result": 42})),
        ]
    );
    assert_increment_logs(language, &guests).await;
    assert_crash_traps(language, &guests).await;
}

/// increment's ERROR record for an unknown action, tagged with the request
/// id, beside its `{"result": null}`.
async fn assert_increment_logs(language: &Language, guests: &Precompiled) {
    let api = FakeRuntimeApi::start().await;
    let root = guests.task_root("increment");
    let mut boot = Bootstrap::spawn(&api, &root, "increment.handler", &[]);
    let (id, o) = boot.call_json(&api, json!({"action": "foo"})).await;
    assert_eq!(o.json(), json!({"result": null}));
    let logged = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines().any(|l| {
                l.contains(&id) && l.contains("ERROR") && l.contains("foo is not a valid action.")
            })
        })
        .await;
    assert!(
        logged,
        "{} increment: no ERROR line with {id} and 'foo is not a valid action.':\n{}",
        language.name,
        boot.stderr()
    );
}

/// crash: a panic (Go) or abort (AssemblyScript) traps, its message is
/// logged, and the next event on the same bootstrap succeeds.
async fn assert_crash_traps(language: &Language, guests: &Precompiled) {
    let crash: Value = serde_json::from_str(language.crash_event).unwrap();
    let api = FakeRuntimeApi::start().await;
    let root = guests.task_root("crash");
    let mut boot = Bootstrap::spawn(&api, &root, "crash.handler", &[]);
    let (id, o) = boot.call_json(&api, crash).await;
    let (_, body) = o.error();
    assert_eq!(
        body["errorType"], "Runtime.WasmTrap",
        "{} crash: {o:?}",
        language.name
    );
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("RequestId: {id} Error: ")) && message.contains("unreachable"),
        "{} crash: errorMessage {message:?}",
        language.name
    );
    assert!(
        boot.wait_for_stderr(WAIT, |s| s
            .lines()
            .any(|l| l.contains("FATAL") && l.contains("boom")))
            .await,
        "{} crash: the panic message is not logged at FATAL:\n{}",
        language.name,
        boot.stderr()
    );
    let (_, o) = boot.call_json(&api, json!({"marker": 7})).await;
    assert_eq!(
        o.json(),
        json!({"marker": 7}),
        "{}: the event after the trap",
        language.name
    );
    api.assert_all_answered_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_guests_answer_as_the_rust_guests_do() {
    check_language(&GO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_guests_answer_as_the_rust_guests_do() {
    check_language(&ASSEMBLYSCRIPT).await;
}
