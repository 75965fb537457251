//! One host, many languages: the seed's three handlers and a `faults` guest
//! in every language lambda-wasm runs (Rust, Python, C, Zig, Go,
//! AssemblyScript, JavaScript, Ruby), laid out side by side in ONE task root and
//! each run by the built `lambda-wasm` bootstrap against the fake Runtime API.
//!
//! - [`seed_handlers_answer_alike_in_every_language`]: hello, region and
//!   increment give the same JSON on `guests/events/` in every language
//!   (region's `body` byte-identical to Python's json.dumps; increment's
//!   unknown action `{"result": null}` plus its ERROR log line), and the
//!   ports of Python's semantics agree on its errors too.
//! - [`faults_have_one_shape_in_every_language`]: each failure mode of
//!   [`MODES`] gives the error shape the Rust test guest gives (`errorType`,
//!   `errorMessage`, `stackTrace`, the request id), the next event on the
//!   same process succeeds, and returned errors and traps are identical
//!   across languages but for the language's own message text. Where a
//!   language cannot express a mode, or its runtime answers otherwise as
//!   AWS's does, its row in [`LANGUAGES`] says so and why.
//!
//! The compiled languages' modules come from `make guests-langs`, the Rust
//! ones from cargo ([`guest_dir`]); Python, JavaScript and Ruby need their
//! interpreters (`make python`, `make js`, `make ruby`). A language whose prerequisite is
//! missing is skipped with one `SKIPPED` line, unless
//! LAMBDA_WASM_REQUIRE_ALL=1 (CI), where that fails ([`require`]).
//!
//! Run alone: `cargo test --release -p lambda-wasm --test e2e languages::`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};

/// How a language's handlers get into the task root.
enum Kind {
    /// The Rust guests cargo builds into [`guest_dir`]; the faults guest is
    /// the test guest (`tests/guest`), driven by its own actions.
    Rust,
    /// Modules `make <make_target>` builds into `<target>/wasm32-wasip1/<built>`.
    Compiled {
        built: &'static str,
        make_target: &'static str,
    },
    /// Sources `guests/<folder>/<name>/<file>`, run by an interpreter.
    Interpreted {
        file: &'static str,
        function: &'static str,
        interpreter: Interpreter,
    },
}

#[derive(Clone, Copy)]
enum Interpreter {
    Python,
    JavaScript,
    Ruby,
}

/// One row of the table.
struct Language {
    name: &'static str,
    /// Its folder in the shared task root (and under `guests/`).
    folder: &'static str,
    kind: Kind,
    /// Whether its seed handlers keep Python's semantics on bad input
    /// (a missing key is `KeyError`, `"3" + 1` a `TypeError`).
    python_errors: bool,
    /// Failure modes whose outcome differs from [`Mode::expected`], and why.
    own_outcomes: &'static [(Mode, Expected)],
}

const LANGUAGES: &[Language] = &[
    Language {
        name: "Rust",
        folder: "rust",
        kind: Kind::Rust,
        python_errors: true,
        own_outcomes: &[],
    },
    Language {
        name: "Python",
        folder: "python",
        kind: Kind::Interpreted {
            file: "lambda_function.py",
            function: "lambda_handler",
            interpreter: Interpreter::Python,
        },
        python_errors: true,
        // The interpreter's allocator fails inside the limit and Python
        // raises MemoryError, which the handler may catch: a function error,
        // as AWS's runtime reports a MemoryError.
        own_outcomes: &[(Mode::Oom, Expected::Lambda("MemoryError"))],
    },
    Language {
        name: "C",
        folder: "c",
        kind: Kind::Compiled {
            built: "guest-c",
            make_target: "guests-c",
        },
        python_errors: true,
        own_outcomes: &[],
    },
    Language {
        name: "Zig",
        folder: "zig",
        kind: Kind::Compiled {
            built: "guest-zig",
            make_target: "guests-zig",
        },
        python_errors: true,
        own_outcomes: &[],
    },
    Language {
        name: "Go",
        folder: "go",
        kind: Kind::Compiled {
            built: "guest-go",
            make_target: "guests-go",
        },
        python_errors: true,
        own_outcomes: &[],
    },
    Language {
        name: "AssemblyScript",
        folder: "assemblyscript",
        kind: Kind::Compiled {
            built: "guest-as",
            make_target: "guests-as",
        },
        python_errors: true,
        own_outcomes: &[],
    },
    Language {
        name: "JavaScript",
        folder: "js",
        kind: Kind::Interpreted {
            file: "index.mjs",
            function: "handler",
            interpreter: Interpreter::JavaScript,
        },
        // A port to Node.js: a missing key is `undefined`, not an error.
        python_errors: false,
        own_outcomes: &[
            // A `throw` is always a function error; nothing traps.
            (
                Mode::Trap,
                Expected::Inexpressible("JavaScript has no way to trap"),
            ),
            // Errors have AWS's Node.js runtime's body (errorType,
            // errorMessage, trace), as every JavaScript error does.
            (Mode::Error, Expected::Node("CustomError")),
            // QuickJS's allocator fails inside the limit: the engine throws.
            (Mode::Oom, Expected::Node("InternalError")),
            // AWS's Node.js runtime: "Unable to stringify response body".
            (Mode::InvalidJson, Expected::Node("Error")),
        ],
    },
    Language {
        name: "Ruby",
        folder: "ruby",
        kind: Kind::Interpreted {
            file: "lambda_function.rb",
            function: "lambda_handler",
            interpreter: Interpreter::Ruby,
        },
        // A port to Ruby: a missing key is `nil`, not an error.
        python_errors: false,
        // AWS's Ruby runtime names a handler's exception `Function<Class>`.
        own_outcomes: &[
            (
                Mode::Trap,
                Expected::Inexpressible(
                    "Ruby has no way to trap: `abort` and stack overflows raise exceptions",
                ),
            ),
            (Mode::Error, Expected::Lambda("Function<CustomError>")),
            // Ruby's allocator fails inside the limit: NoMemoryError, a
            // critical exception after which the runtime starts afresh.
            (Mode::Oom, Expected::Lambda("Function<NoMemoryError>")),
            // `Float::NAN.to_json` raises while the runtime marshals the response.
            (
                Mode::InvalidJson,
                Expected::Lambda("Function<JSON::GeneratorError>"),
            ),
        ],
    },
];

/// The seed's handlers, each a module (or source folder) of its own.
const SEED_HANDLERS: &[&str] = &["hello", "region", "increment"];

// ---------------------------------------------------------------------------
// The shared task root

/// Where a language's module or source for handler `name` is, and the
/// handler string that runs it from the shared task root.
struct Handler {
    source: PathBuf,
    /// Its path in the task root.
    place: String,
    handler: String,
}

impl Language {
    /// The handler `name` (a seed handler, or `faults`).
    fn handler(&self, name: &str) -> Handler {
        let folder = self.folder;
        match &self.kind {
            Kind::Rust => {
                let built = if name == "faults" { "test_guest" } else { name };
                Handler {
                    source: guest(&format!("{built}.wasm")),
                    place: format!("{folder}/{built}.wasm"),
                    handler: format!("{folder}/{built}.handler"),
                }
            }
            Kind::Compiled { built, .. } => Handler {
                source: built_dir(built).join(format!("{name}.wasm")),
                place: format!("{folder}/{name}.wasm"),
                handler: format!("{folder}/{name}.handler"),
            },
            Kind::Interpreted { file, function, .. } => {
                let module = Path::new(file).with_extension("");
                let module = module.display();
                Handler {
                    source: workspace_root()
                        .join("guests")
                        .join(folder)
                        .join(name)
                        .join(file),
                    place: format!("{folder}/{name}/{file}"),
                    handler: format!("{folder}/{name}/{module}.{function}"),
                }
            }
        }
    }

    /// Whether its handlers can run here; one `SKIPPED` line (or a failure
    /// under LAMBDA_WASM_REQUIRE_ALL=1) when not.
    fn available(&self) -> bool {
        match &self.kind {
            Kind::Rust => true,
            Kind::Compiled { built, make_target } => {
                let dir = built_dir(built);
                let missing: Vec<String> = SEED_HANDLERS
                    .iter()
                    .chain(&["faults"])
                    .map(|m| format!("{m}.wasm"))
                    .filter(|file| !dir.join(file).is_file())
                    .collect();
                let prerequisite = format!(
                    "{} guests ({} in {})",
                    self.name,
                    missing.join(", "),
                    dir.display()
                );
                require(
                    &prerequisite,
                    missing.is_empty(),
                    &format!("run `make {make_target}`"),
                )
            }
            Kind::Interpreted { interpreter, .. } => match interpreter {
                Interpreter::Python => crate::python_mode::require_python().is_some(),
                Interpreter::JavaScript => crate::javascript::require_js().is_some(),
                Interpreter::Ruby => crate::ruby::require_ruby(),
            },
        }
    }

    /// The event that makes its faults guest fail in `mode`.
    fn fault_event(&self, mode: Mode) -> Value {
        match self.kind {
            Kind::Rust => mode.test_guest_event(),
            _ => json!({"fail": mode.name()}),
        }
    }

    /// What `mode` gives in this language.
    fn expected(&self, mode: Mode) -> Expected {
        self.own_outcomes
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or(mode.expected(), |(_, e)| *e)
    }
}

fn built_dir(built: &str) -> PathBuf {
    target_dir().join("wasm32-wasip1").join(built)
}

/// The languages that can run here (the others reported by [`require`]).
fn available_languages() -> Vec<&'static Language> {
    LANGUAGES.iter().filter(|l| l.available()).collect()
}

/// ONE task root holding every language's `handlers` side by side
/// (`rust/hello.wasm`, `go/hello.wasm`, `python/hello/lambda_function.py`,
/// ...), each module with its `.cwasm` so no bootstrap compiles.
fn shared_task_root(languages: &[&Language], handlers: &[&str]) -> TaskRoot {
    let mut root = TaskRoot::builder();
    for language in languages {
        for name in handlers {
            let h = language.handler(name);
            let bytes = std::fs::read(&h.source)
                .unwrap_or_else(|e| panic!("read {}: {e}", h.source.display()));
            root = root.file(&h.place, bytes);
            let cwasm = h
                .place
                .ends_with(".wasm")
                .then(|| precompiled_module(&h.source))
                .flatten();
            if let Some(cwasm) = cwasm {
                let place = Path::new(&h.place).with_extension("cwasm");
                root = root.file(place.to_str().unwrap(), std::fs::read(cwasm).unwrap());
            }
        }
    }
    root.build()
}

/// The interpreters' homes for every bootstrap (a module ignores them).
fn interpreter_env() -> Vec<(&'static str, String)> {
    let mut env = Vec::new();
    if let Some(home) = crate::python_mode::python_home() {
        env.push(("LAMBDA_WASM_PYTHON_HOME", home.display().to_string()));
    }
    if let Some(home) = crate::javascript::js_home() {
        env.push(("LAMBDA_WASM_JS_HOME", home.display().to_string()));
    }
    let ruby_home = crate::ruby::ruby_home();
    env.push(("LAMBDA_WASM_RUBY_HOME", ruby_home.display().to_string()));
    env
}

fn spawn(api: &FakeRuntimeApi, root: &TaskRoot, handler: &str) -> Bootstrap {
    let env = interpreter_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Bootstrap::spawn(api, root, handler, &env)
}

// ---------------------------------------------------------------------------
// The seed's handlers

/// The seed's event file `guests/events/<name>.json`.
fn seed_event(name: &str) -> Value {
    let path = workspace_root()
        .join("guests/events")
        .join(format!("{name}.json"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

/// What one invocation answered, comparable across languages: the
/// response's JSON value, or the function error's type and message.
#[derive(Debug, PartialEq)]
enum Answer {
    Response(Value),
    Error { error_type: Value, message: Value },
}

impl Answer {
    fn of(outcome: &Outcome) -> Answer {
        if !outcome.is_error() {
            return Answer::Response(outcome.json());
        }
        let (_, body) = outcome.error();
        Answer::Error {
            error_type: body["errorType"].clone(),
            message: body["errorMessage"].clone(),
        }
    }

    fn error(error_type: &str, message: &str) -> Answer {
        Answer::Error {
            error_type: json!(error_type),
            message: json!(message),
        }
    }
}

/// An event for a seed handler and the answer every language gives to it.
struct Case {
    event: Value,
    answer: Answer,
    /// Only for languages that keep Python's errors ([`Language::python_errors`]).
    python_errors_only: bool,
}

fn case(event: Value, answer: Answer) -> Case {
    Case {
        event,
        answer,
        python_errors_only: false,
    }
}

fn python_case(event: Value, answer: Answer) -> Case {
    Case {
        event,
        answer,
        python_errors_only: true,
    }
}

/// The events of seed handler `name` and what Python's handler answers.
/// The bootstrap runs with AWS_REGION=us-east-1.
fn seed_cases(name: &str) -> Vec<Case> {
    let ok = Answer::Response;
    match name {
        "hello" => vec![
            case(
                seed_event("hello"),
                ok(json!({"message": "Hello John Smith!"})),
            ),
            python_case(
                json!({"last_name": "Smith"}),
                Answer::error("KeyError", "'first_name'"),
            ),
            case(
                json!({"first_name": "Ada", "last_name": "Lovelace"}),
                ok(json!({"message": "Hello Ada Lovelace!"})),
            ),
        ],
        "region" => vec![case(
            seed_event("region"),
            ok(json!({
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                // Python's json.dumps: ", " and ": " separators.
                "body": "{\"Region \": \"us-east-1\"}"
            })),
        )],
        "increment" => vec![
            case(seed_event("increment"), ok(json!({"result": 4}))),
            case(
                json!({"action": "decrement", "number": 3}),
                ok(json!({"result": null})),
            ),
            case(
                json!({"action": "increment", "number": 2.5}),
                ok(json!({"result": 3.5})),
            ),
            python_case(
                json!({"action": "increment", "number": "3"}),
                Answer::error("TypeError", "can only concatenate str (not \"int\") to str"),
            ),
        ],
        other => panic!("no cases for {other}"),
    }
}

/// Runs seed handler `name` of `language` on its cases, in one bootstrap.
async fn check_seed_handler(language: &Language, root: &TaskRoot, name: &str) {
    let handler = language.handler(name).handler;
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, root, &handler);
    for case in seed_cases(name) {
        if case.python_errors_only && !language.python_errors {
            continue;
        }
        let (_, outcome) = boot.call_json(&api, case.event.clone()).await;
        assert_eq!(
            Answer::of(&outcome),
            case.answer,
            "{} {handler} answered {}",
            language.name,
            case.event
        );
    }
    if name == "increment" {
        assert_unknown_action_logged(language, &boot).await;
    }
    api.assert_all_answered_once();
}

/// increment's ERROR log line for the unknown action `decrement`, in the
/// language's log format (`[ERROR]\t<time>\t<id>\t<msg>`, Node's
/// `<time>\t<id>\tERROR\t<msg>` or Ruby's
/// `E, [<time> #<pid>] ERROR <id> -- : <msg>`).
async fn assert_unknown_action_logged(language: &Language, boot: &Bootstrap) {
    let logged = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines().any(|l| {
                l.contains("ERROR")
                    && ["\t", " -- : "]
                        .iter()
                        .any(|sep| l.ends_with(&format!("{sep}decrement is not a valid action.")))
            })
        })
        .await;
    assert!(
        logged,
        "{} increment: no ERROR line 'decrement is not a valid action.':\n{}",
        language.name,
        boot.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_handlers_answer_alike_in_every_language() {
    let languages = available_languages();
    let root = shared_task_root(&languages, SEED_HANDLERS);
    for language in &languages {
        for name in SEED_HANDLERS {
            check_seed_handler(language, &root, name).await;
        }
        invoke_hello(language, &root);
    }
}

/// Test mode runs the same handler from the same task root.
fn invoke_hello(language: &Language, root: &TaskRoot) {
    let handler = language.handler("hello").handler;
    let event = workspace_root().join("guests/events/hello.json");
    let env: Vec<String> = interpreter_env()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut args = vec![
        "invoke",
        handler.as_str(),
        "--task-root",
        root.path().to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
    ];
    args.extend(env.iter().flat_map(|kv| ["--env", kv.as_str()]));
    let out = invoke_cli(&args, None);
    assert_eq!(
        out.code(),
        Some(0),
        "{} {handler} in test mode: {out:?}",
        language.name
    );
    assert_eq!(out.json(), json!({"message": "Hello John Smith!"}));
}

// ---------------------------------------------------------------------------
// Faults

/// A failure mode of the faults guests (`{"fail": "<name>"}`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// A returned handler error with a type and a message.
    Error,
    /// A panic, abort or `unreachable`.
    Trap,
    /// Allocating past the function's memory (128 MB).
    Oom,
    /// A busy loop past the deadline.
    Timeout,
    /// A response over Lambda's 6 MB limit.
    Oversize,
    /// A response that is not JSON.
    InvalidJson,
}

const MODES: &[Mode] = &[
    Mode::Error,
    Mode::Trap,
    Mode::Oom,
    Mode::Timeout,
    Mode::Oversize,
    Mode::InvalidJson,
];

/// What a failure gives the caller.
#[derive(Clone, Copy, Debug)]
enum Expected {
    /// The Lambda error body the Rust test guest gives (errorMessage,
    /// errorType, requestId, stackTrace) with this errorType.
    Lambda(&'static str),
    /// AWS's Node.js runtime's error body (errorType, errorMessage, trace)
    /// with this errorType; the request id is on its ERROR log line.
    Node(&'static str),
    /// The language cannot express the mode: why.
    Inexpressible(&'static str),
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Error => "error",
            Mode::Trap => "trap",
            Mode::Oom => "oom",
            Mode::Timeout => "timeout",
            Mode::Oversize => "oversize",
            Mode::InvalidJson => "invalid_json",
        }
    }

    /// The Rust test guest's outcome: the reference every language meets.
    fn expected(self) -> Expected {
        Expected::Lambda(match self {
            Mode::Error => "CustomError",
            Mode::Trap => "Runtime.WasmTrap",
            Mode::Oom => "Runtime.OutOfMemory",
            Mode::Timeout => "Sandbox.Timedout",
            Mode::Oversize | Mode::InvalidJson => "Runtime.MarshalError",
        })
    }

    /// The Rust test guest's action for this mode.
    fn test_guest_event(self) -> Value {
        match self {
            Mode::Error => json!({"action": "fail", "message": FAULT_MESSAGE}),
            Mode::Trap => json!({"action": "unreachable"}),
            Mode::Oom => json!({"action": "alloc", "mb": 300}),
            Mode::Timeout => json!({"action": "loop"}),
            Mode::Oversize => json!({"action": "big", "mb": 7}),
            Mode::InvalidJson => json!({"action": "non_json"}),
        }
    }

    /// The function timeout for this mode's event: short for `timeout`;
    /// long enough for the others on a busy machine (Go's runtime takes
    /// ~1 s to fill 128 MB).
    fn timeout(self) -> Duration {
        match self {
            Mode::Timeout => Duration::from_secs(1),
            _ => Duration::from_secs(20),
        }
    }
}

/// The message of every faults guest's returned error.
const FAULT_MESSAGE: &str = "the event asked for an error";

/// One failure's error, for comparing languages.
#[derive(Debug)]
struct Failure {
    language: &'static str,
    error_type: String,
    /// The message with the request id taken out.
    message: String,
    /// The body's keys, sorted.
    keys: Vec<String>,
    stack_trace_empty: bool,
}

/// Sends `mode`'s event to `language`'s faults guest, checks the error
/// against [`Language::expected`], then that the next event succeeds on the
/// same process. `None` for a mode the language cannot express.
async fn check_fault(
    language: &'static Language,
    boot: &mut Bootstrap,
    api: &FakeRuntimeApi,
    mode: Mode,
) -> Option<Failure> {
    let expected = language.expected(mode);
    if let Expected::Inexpressible(why) = expected {
        eprintln!("{} {mode:?}: not checked: {why}", language.name);
        return None;
    }
    let event = language.fault_event(mode);
    let (id, outcome) = boot
        .call(api, Invocation::json(&event).timeout(mode.timeout()))
        .await;
    let what = format!("{} {mode:?}", language.name);
    let (_, body) = outcome.error();
    match expected {
        Expected::Lambda(error_type) => {
            assert_lambda_error(&outcome, error_type, &id);
        }
        Expected::Node(error_type) => {
            assert_node_error(body, error_type, &what);
            assert_logged_with_id(boot, &id, error_type, &what).await;
        }
        Expected::Inexpressible(_) => unreachable!("returned above"),
    }
    let message = body["errorMessage"].as_str().unwrap_or_default();
    let failure = Failure {
        language: language.name,
        error_type: body["errorType"].as_str().unwrap_or_default().to_owned(),
        message: message.replace(&id, "<id>"),
        keys: body.as_object().unwrap().keys().cloned().collect(),
        stack_trace_empty: body["stackTrace"].as_array().is_none_or(Vec::is_empty),
    };
    assert_mode_message(mode, &failure, &what);

    let next = json!({"marker": mode.name()});
    let (_, outcome) = boot.call_json(api, next_event(language, &next)).await;
    assert!(
        !outcome.is_error(),
        "{what}: the next event failed: {outcome:?}"
    );
    Some(failure)
}

/// An event the faults guest answers successfully: the test guest echoes
/// its `echo` action, the others any event without `fail`.
fn next_event(language: &Language, marker: &Value) -> Value {
    match language.kind {
        Kind::Rust => json!({"action": "echo", "marker": marker["marker"]}),
        _ => marker.clone(),
    }
}

/// AWS's Node.js runtime's error body: exactly errorType, errorMessage and
/// trace (an array of strings).
fn assert_node_error(body: &Value, error_type: &str, what: &str) {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "trace"],
        "{what}: {body}"
    );
    assert_eq!(body["errorType"], error_type, "{what}: {body}");
    assert!(
        body["trace"]
            .as_array()
            .is_some_and(|t| t.iter().all(Value::is_string)),
        "{what}: {body}"
    );
}

async fn assert_logged_with_id(boot: &Bootstrap, id: &str, error_type: &str, what: &str) {
    let logged = boot
        .wait_for_stderr(WAIT, |s| {
            s.lines()
                .any(|l| l.contains(id) && l.contains("ERROR") && l.contains(error_type))
        })
        .await;
    assert!(
        logged,
        "{what}: no ERROR line with {id} and {error_type}:\n{}",
        boot.stderr()
    );
}

/// The message each mode's reference outcome carries.
fn assert_mode_message(mode: Mode, failure: &Failure, what: &str) {
    let message = failure.message.as_str();
    let host_prefix = "RequestId: <id> Error: ";
    let ok = match (mode, failure.error_type.as_str()) {
        (Mode::Error, _) => message == FAULT_MESSAGE,
        (Mode::Trap, _) => {
            message.starts_with(host_prefix)
                && message.contains("unreachable")
                && !failure.stack_trace_empty
        }
        (Mode::Oom, "Runtime.OutOfMemory") => {
            message
                == "RequestId: <id> Error: Runtime exited with error: guest memory limit of 128 MB exceeded"
        }
        (Mode::Timeout, _) => message == "RequestId: <id> Error: Task timed out after 1.00 seconds",
        (Mode::Oversize, _) => {
            message.starts_with("Unable to marshal response: the response is ")
                && message.contains("over the limit of 6291456 bytes")
        }
        (Mode::InvalidJson, "Runtime.MarshalError") => {
            message.starts_with("Unable to marshal response: ")
        }
        (Mode::InvalidJson, "Function<JSON::GeneratorError>") => message.contains("NaN"),
        (Mode::InvalidJson, _) => message == "Unable to stringify response body",
        // The interpreters' own out-of-memory exceptions.
        (Mode::Oom, _) => true,
    };
    assert!(
        ok,
        "{what}: unexpected errorMessage {message:?} ({failure:?})"
    );
}

/// Every mode of one language's faults guest, in one bootstrap.
async fn check_faults(language: &'static Language, root: &TaskRoot) -> Vec<(Mode, Failure)> {
    let api = FakeRuntimeApi::start().await;
    let mut boot = spawn(&api, root, &language.handler("faults").handler);
    let mut failures = Vec::new();
    for &mode in MODES {
        if let Some(failure) = check_fault(language, &mut boot, &api, mode).await {
            failures.push((mode, failure));
        }
    }
    assert!(
        boot.try_status().is_none(),
        "{}: the bootstrap exited",
        language.name
    );
    api.assert_all_answered_once();
    failures
}

/// Returned errors and traps must look the same in every language that has
/// the Lambda body: same keys, errorType and message (the trap's reason
/// after the request id is the host's), stackTrace present. The errorType
/// is compared as its class: AWS's Ruby runtime writes `Function<Class>`.
fn assert_same_across_languages(failures: &[(Mode, Failure)]) {
    for mode in [Mode::Error, Mode::Trap] {
        let same: Vec<&Failure> = failures
            .iter()
            .filter(|(m, f)| *m == mode && f.keys.iter().any(|k| k == "requestId"))
            .map(|(_, f)| f)
            .collect();
        let Some(first) = same.first() else { continue };
        for other in &same[1..] {
            assert_eq!(
                (&other.keys, error_class(other), &other.message),
                (&first.keys, error_class(first), &first.message),
                "{mode:?}: {} and {} differ",
                first.language,
                other.language
            );
        }
    }
}

/// A failure's errorType without Ruby's `Function<...>` around the class.
fn error_class(failure: &Failure) -> &str {
    let error_type = failure.error_type.as_str();
    error_type
        .strip_prefix("Function<")
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap_or(error_type)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_have_one_shape_in_every_language() {
    let languages = available_languages();
    let root = shared_task_root(&languages, &["faults"]);
    let mut failures = Vec::new();
    for language in languages {
        failures.extend(check_faults(language, &root).await);
    }
    assert_same_across_languages(&failures);
}
