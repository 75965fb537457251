//! End-to-end tests of the handlers written in other languages against guest
//! ABI v1: the seed's three handlers ported to C (guest-sdk/c, guests/c) and
//! Zig (guest-sdk/zig, guests/zig) must answer exactly what the Rust ports
//! answer, through the built `lambda-wasm` bootstrap and the fake Runtime API.
//!
//! `make guests-langs` builds the modules into
//! `<target>/wasm32-wasip1/guest-c` and `guest-zig` (`<target>` follows
//! CARGO_TARGET_DIR, as here). A language whose modules are missing is
//! skipped with one `SKIPPED` line, unless LAMBDA_WASM_REQUIRE_ALL=1 (CI),
//! where that fails ([`require`]).
//!
//! Run alone: `cargo test --release -p lambda-wasm --test e2e languages::`.

use std::path::{Path, PathBuf};

use crate::support::*;
use serde_json::{Value, json};

/// A language with guests built by `make <make_target>`.
struct Language {
    name: &'static str,
    /// The folder under `<target>/wasm32-wasip1` holding its modules.
    folder: &'static str,
    make_target: &'static str,
}

const C: Language = Language {
    name: "C",
    folder: "guest-c",
    make_target: "guests-c",
};

const ZIG: Language = Language {
    name: "Zig",
    folder: "guest-zig",
    make_target: "guests-zig",
};

/// The modules every language builds: the seed's three handlers and the
/// trap-on-request `fault` guest.
const MODULES: &[&str] = &["hello", "region", "increment", "fault"];

/// The folder with the language's built modules; `None` when some are
/// missing ([`require`]: one loud line, or a failure under
/// LAMBDA_WASM_REQUIRE_ALL=1).
fn built_modules(language: &Language) -> Option<PathBuf> {
    let dir = target_dir().join("wasm32-wasip1").join(language.folder);
    let missing: Vec<&str> = MODULES
        .iter()
        .copied()
        .filter(|m| !dir.join(format!("{m}.wasm")).is_file())
        .collect();
    let prerequisite = format!(
        "{} guests ({} in {})",
        language.name,
        missing.join(", "),
        dir.display()
    );
    let how = format!("run `make {}`", language.make_target);
    require(&prerequisite, missing.is_empty(), &how).then_some(dir)
}

/// A task root holding one of the language's modules as `<module>.wasm`
/// (the host compiles it at init: these modules are small).
fn language_root(dir: &Path, module: &str) -> TaskRoot {
    let file = format!("{module}.wasm");
    let bytes = std::fs::read(dir.join(&file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
    TaskRoot::builder().file(&file, bytes).build()
}

/// The seed's event file `guests/events/<name>.json`.
fn seed_event(name: &str) -> Value {
    let path = workspace_root()
        .join("guests/events")
        .join(format!("{name}.json"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

/// What one invocation answered, in a form two guests can be compared by:
/// the response's JSON value, or the error's type and message (the stack
/// trace and request id differ by design).
#[derive(Debug, PartialEq)]
enum Answer {
    Response(Value),
    Error { error_type: Value, message: Value },
}

impl Answer {
    fn of(outcome: &Outcome) -> Answer {
        if outcome.is_error() {
            let (_, body) = outcome.error();
            Answer::Error {
                error_type: body["errorType"].clone(),
                message: body["errorMessage"].clone(),
            }
        } else {
            Answer::Response(outcome.json())
        }
    }
}

/// A bootstrap that has served some events, kept running (with its Runtime
/// API) so that its logs can still be read.
struct Served {
    answers: Vec<Answer>,
    boot: Bootstrap,
    _api: FakeRuntimeApi,
}

/// One bootstrap serving `module.handler` from `root`, fed `events` in order.
async fn run(root: &TaskRoot, module: &str, events: &[Value]) -> Served {
    let api = FakeRuntimeApi::start().await;
    let mut boot = Bootstrap::spawn(&api, root, &format!("{module}.handler"), &[]);
    let mut answers = Vec::new();
    for event in events {
        let (_, outcome) = boot.call_json(&api, event.clone()).await;
        answers.push(Answer::of(&outcome));
    }
    api.assert_all_answered_once();
    Served {
        answers,
        boot,
        _api: api,
    }
}

/// Runs `events` through the language's `module` and through the Rust port
/// (each in one bootstrap) and asserts identical answers; returns the
/// language's run.
async fn assert_same_as_rust(
    language: &Language,
    dir: &Path,
    module: &str,
    events: &[Value],
) -> Served {
    let rust_root = TaskRoot::with_guest(&format!("{module}.wasm"), &format!("{module}.wasm"));
    let expected = run(&rust_root, module, events).await.answers;
    let served = run(&language_root(dir, module), module, events).await;
    for ((event, got), want) in events.iter().zip(&served.answers).zip(&expected) {
        assert_eq!(
            got, want,
            "{} {module} answered {got:?} to {event}, the Rust port {want:?}",
            language.name
        );
    }
    served
}

/// The log record `[LEVEL]\t<timestamp>\t<request id>\t<message>` is on stderr.
async fn assert_logged(boot: &Bootstrap, level: &str, message: &str) {
    let found = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines().any(|l| {
                l.starts_with(&format!("[{level}]\t")) && l.ends_with(&format!("\t{message}"))
            })
        })
        .await;
    assert!(
        found,
        "no [{level}] record {message:?} on stderr:\n{}",
        boot.stderr()
    );
}

/// hello: the greeting, then a missing key (a returned error, KeyError
/// `'first_name'` as in the Rust port), then the greeting again from the same
/// instance.
async fn hello(language: &Language, dir: &Path) {
    let events = [
        seed_event("hello"),
        json!({"last_name": "Smith"}),
        seed_event("hello"),
    ];
    let answers = assert_same_as_rust(language, dir, "hello", &events)
        .await
        .answers;
    assert_eq!(
        answers[0],
        Answer::Response(json!({"message": "Hello John Smith!"}))
    );
    assert_eq!(
        answers[1],
        Answer::Error {
            error_type: json!("KeyError"),
            message: json!("'first_name'")
        }
    );
}

/// region: the proxy response whose `body` is byte-identical to Python's
/// json.dumps (the bootstrap sets AWS_REGION=us-east-1).
async fn region(language: &Language, dir: &Path) {
    let answers = assert_same_as_rust(language, dir, "region", &[seed_event("region")])
        .await
        .answers;
    let Answer::Response(response) = &answers[0] else {
        panic!("{} region failed: {answers:?}", language.name)
    };
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["body"], r#"{"Region ": "us-east-1"}"#);
}

/// increment: the sum with its INFO record, then an unknown action:
/// `{"result": null}` and Python's ERROR record.
async fn increment(language: &Language, dir: &Path) {
    let events = [
        seed_event("increment"),
        json!({"action": "decrement", "number": 3}),
    ];
    let served = assert_same_as_rust(language, dir, "increment", &events).await;
    assert_eq!(served.answers[0], Answer::Response(json!({"result": 4})));
    assert_eq!(served.answers[1], Answer::Response(json!({"result": null})));
    assert_logged(&served.boot, "INFO", "Calculated result of 4").await;
    assert_logged(&served.boot, "ERROR", "decrement is not a valid action.").await;
}

/// fault: a trap is Runtime.WasmTrap, and the next event succeeds on the
/// fresh instance.
async fn trap(language: &Language, dir: &Path) {
    let api = FakeRuntimeApi::start().await;
    let root = language_root(dir, "fault");
    let mut boot = Bootstrap::spawn(&api, &root, "fault.handler", &[]);
    let (id, outcome) = boot.call_json(&api, json!({"action": "trap"})).await;
    assert_lambda_error(&outcome, "Runtime.WasmTrap", &id);
    let echo = json!({"action": "echo", "marker": 7});
    let (_, outcome) = boot.call_json(&api, echo.clone()).await;
    assert_eq!(
        outcome.json(),
        echo,
        "{} fault after the trap",
        language.name
    );
    api.assert_all_answered_once();
}

/// Test mode runs the same module: `lambda-wasm invoke` prints the response.
fn invoke_hello(language: &Language, dir: &Path) {
    let event = workspace_root().join("guests/events/hello.json");
    let out = invoke_cli(
        &[
            "invoke",
            "hello.handler",
            "--task-root",
            dir.to_str().unwrap(),
            "--event",
            event.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.code(),
        Some(0),
        "{} hello in test mode: {out:?}",
        language.name
    );
    assert_eq!(out.json(), json!({"message": "Hello John Smith!"}));
}

async fn all_cases(language: &Language) {
    let Some(dir) = built_modules(language) else {
        return;
    };
    hello(language, &dir).await;
    region(language, &dir).await;
    increment(language, &dir).await;
    trap(language, &dir).await;
    invoke_hello(language, &dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_guests_answer_as_the_rust_ports() {
    all_cases(&C).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zig_guests_answer_as_the_rust_ports() {
    all_cases(&ZIG).await;
}
