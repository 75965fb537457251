//! Fault soak: one bootstrap process against the fake Runtime API serves a
//! long mix of good events and every fault the test guest offers (traps,
//! exits, timeouts, memory past the cap, invalid responses, log spam, sandbox
//! escapes, out-of-bounds host calls, invalid event JSON), and
//!
//! - every request id gets exactly one answer, of the right kind;
//! - the host never crashes (nor panics);
//! - its resident memory (`VmRSS` of the bootstrap) at the end is within 5%
//!   of its value after the first 10% of the events.
//!
//! `LAMBDA_WASM_SOAK_EVENTS` sets the number of events: the default (600) is
//! the short form `make test` runs; `make soak` runs 10,000 (this module
//! alone: `cargo test --release -p lambda-wasm --test e2e soak::`).
//! `LAMBDA_WASM_SOAK_ONLY=kind,kind` keeps only those kinds of event (and the
//! echo events), to find which one a failure comes from.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

/// Events in the short form (`make test`).
const DEFAULT_EVENTS: usize = 600;
/// Deadline of the `loop` events: each one costs this much.
const LOOP_DEADLINE: Duration = Duration::from_millis(150);
/// How much the final RSS may exceed the baseline. The same 5% for both
/// forms, but only the long form can see a slow leak (a short run is mostly
/// allocator noise). A leak this caught: `lambda_runtime` set
/// `_X_AMZN_TRACE_ID` with `std::env::set_var` for every invocation, and
/// glibc keeps every value ever set (+12% over 10,000 events); the host's
/// own Runtime API loop (host/src/runtime_api.rs) does not touch the process
/// environment.
const RSS_TOLERANCE: f64 = 0.05;

/// What an event must get back.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A response; the check gets the parsed JSON.
    Response(fn(&Value, u64) -> bool),
    /// A function error of this `errorType`.
    Error(&'static str),
}

/// One kind of event in the mix.
struct Case {
    name: &'static str,
    /// The event body for the n-th event overall (a marker makes each unique).
    event: fn(u64) -> Vec<u8>,
    timeout: Option<Duration>,
    expect: Expect,
}

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn ok_false(v: &Value, _: u64) -> bool {
    v["ok"] == false && v["error"].is_string()
}

/// One cycle of the mix. It ends with a trap and an echo, so every cycle
/// ends in the same state (a fresh instance that served one event): RSS is
/// sampled there.
fn cycle() -> Vec<Case> {
    use Expect::*;
    fn case(name: &'static str, event: fn(u64) -> Vec<u8>, expect: Expect) -> Case {
        Case {
            name,
            event,
            timeout: None,
            expect,
        }
    }
    vec![
        case(
            "echo",
            |n| body(json!({"action": "echo", "marker": n})),
            Response(|v, n| v["marker"] == n),
        ),
        case(
            "panic",
            |_| body(json!({"action": "panic"})),
            Error("Panic"),
        ),
        case(
            "counter",
            |_| body(json!({"action": "counter"})),
            Response(|v, _| v["count"].as_u64() >= Some(1)),
        ),
        case(
            "unreachable",
            |_| body(json!({"action": "unreachable"})),
            Error("Runtime.WasmTrap"),
        ),
        case(
            "echo",
            |n| body(json!({"action": "echo", "marker": n})),
            Response(|v, n| v["marker"] == n),
        ),
        case(
            "stack_overflow",
            |_| body(json!({"action": "stack_overflow"})),
            Error("Runtime.WasmTrap"),
        ),
        case(
            "alloc_past_cap",
            |_| body(json!({"action": "alloc", "mb": 300})),
            Error("Runtime.OutOfMemory"),
        ),
        case(
            "exit_1",
            |_| body(json!({"action": "exit", "code": 1})),
            Error("Runtime.ExitError"),
        ),
        case(
            "exit_0",
            |_| body(json!({"action": "exit", "code": 0})),
            Error("Runtime.ExitError"),
        ),
        case(
            "bad_utf8",
            |_| body(json!({"action": "bad_utf8"})),
            Error("Runtime.MarshalError"),
        ),
        case(
            "non_json",
            |_| body(json!({"action": "non_json"})),
            Error("Runtime.MarshalError"),
        ),
        case(
            "big_7mb",
            |_| body(json!({"action": "big", "mb": 7})),
            Error("Runtime.MarshalError"),
        ),
        case(
            "empty",
            |_| body(json!({"action": "empty"})),
            Error("Runtime.MarshalError"),
        ),
        case(
            "log_spam",
            |_| body(json!({"action": "log_spam", "mb": 0.25})),
            Response(|v, _| v["written_bytes"] == 256 * 1024),
        ),
        case(
            "oob_host_call",
            |_| body(json!({"action": "oob_host_call"})),
            Error("Runtime.WasmTrap"),
        ),
        case(
            "invalid_event_json",
            |n| format!("{{\"action\": \"echo\", \"marker\": {n}, oops").into_bytes(),
            Error("Runtime.UnmarshalError"),
        ),
        case(
            "read_etc_passwd",
            |_| body(json!({"action": "read_file", "path": "/etc/passwd"})),
            Response(ok_false),
        ),
        case(
            "socket",
            |_| body(json!({"action": "socket"})),
            Response(ok_false),
        ),
        case(
            "fail",
            |n| body(json!({"action": "fail", "message": format!("soak {n}")})),
            Error("CustomError"),
        ),
        Case {
            name: "loop_timeout",
            event: |_| body(json!({"action": "loop"})),
            timeout: Some(LOOP_DEADLINE),
            expect: Error("Sandbox.Timedout"),
        },
        case(
            "alloc_32mb",
            |_| body(json!({"action": "alloc", "mb": 32})),
            Response(|v, _| v["allocated_mb"] == 32.0),
        ),
        case(
            "unreachable",
            |_| body(json!({"action": "unreachable"})),
            Error("Runtime.WasmTrap"),
        ),
        case(
            "echo",
            |n| body(json!({"action": "echo", "marker": n})),
            Response(|v, n| v["marker"] == n),
        ),
    ]
}

/// `VmRSS` of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The last lines the bootstrap wrote, for a failure message.
fn diagnostics(boot: &Bootstrap) -> String {
    format!(
        "--- last stdout lines ---\n{}\n--- last stderr lines ---\n{}",
        boot.stdout(),
        boot.stderr()
    )
}

/// Whether a `panicked at` line is a panic of the host itself (a guest's
/// Rust panic message names tests/guest/src and is a normal log line).
fn is_host_panic(line: &str) -> bool {
    !line.contains("tests/guest/src")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_soak() {
    let events: usize = std::env::var("LAMBDA_WASM_SOAK_EVENTS")
        .ok()
        .map(|v| v.parse().expect("LAMBDA_WASM_SOAK_EVENTS is a number"))
        .unwrap_or(DEFAULT_EVENTS);
    let mut cases = cycle();
    // To find which fault a regression comes from: LAMBDA_WASM_SOAK_ONLY=panic,exit_1
    // keeps those kinds (and the echo events) in the cycle.
    if let Ok(only) = std::env::var("LAMBDA_WASM_SOAK_ONLY") {
        cases.retain(|c| c.name == "echo" || only.split(',').any(|o| o.trim() == c.name));
    }
    let cycles = events.div_ceil(cases.len()).max(10);
    // The baseline: the end of the cycle that completes the first 10% of the
    // events (never the first cycle: it includes the first-use growth).
    let baseline_cycle = cycles.div_ceil(10).max(2) - 1;

    let api = FakeRuntimeApi::start().await;
    let root = TaskRoot::builder()
        .guest("test_guest.wasm", "probe.wasm")
        .build();
    // Its output is summarized, not kept: 10,000 events of logs would fill
    // the test's memory.
    let mut boot = Bootstrap::spawn_with(&api, &root, "probe.handler", &[], Capture::Summary);
    let pid = boot.id().expect("the bootstrap is running");
    let started = Instant::now();

    let mut sent = 0u64;
    let mut per_case: BTreeMap<&str, u64> = BTreeMap::new();
    let mut baseline = None;
    let mut samples = Vec::with_capacity(cycles);
    for cycle_index in 0..cycles {
        for case in &cases {
            let n = sent;
            let mut invocation = Invocation::new((case.event)(n));
            if let Some(timeout) = case.timeout {
                invocation = invocation.timeout(timeout);
            }
            let id = api.invoke(invocation);
            sent += 1;
            let outcome = match api.take_outcome(&id, WAIT).await {
                Some(outcome) => outcome,
                None => panic!(
                    "event {n} ({}): no answer for {id} within {WAIT:?}; process status {:?}; {:?}\n{}",
                    case.name,
                    boot.try_status(),
                    api.stats(),
                    diagnostics(&boot)
                ),
            };
            let context = || {
                format!(
                    "event {n} ({}), request {id}: {outcome:?}\n{}",
                    case.name,
                    diagnostics(&boot)
                )
            };
            match case.expect {
                Expect::Response(check) => {
                    let Outcome::Response(bytes) = &outcome else {
                        panic!("expected a response; {}", context())
                    };
                    let v: Value = serde_json::from_slice(bytes)
                        .unwrap_or_else(|e| panic!("response not JSON ({e}); {}", context()));
                    assert!(check(&v, n), "wrong response; {}", context());
                }
                Expect::Error(error_type) => {
                    assert!(outcome.is_error(), "expected {error_type}; {}", context());
                    let (header, body) = outcome.error();
                    assert_error_body(body, error_type, &id);
                    assert_eq!(header, Some(error_type), "{}", context());
                    let message = body["errorMessage"].as_str().unwrap();
                    if matches!(
                        error_type,
                        "Runtime.WasmTrap"
                            | "Runtime.ExitError"
                            | "Runtime.OutOfMemory"
                            | "Sandbox.Timedout"
                    ) {
                        assert!(
                            message.starts_with(&format!("RequestId: {id} Error: ")),
                            "{}",
                            context()
                        );
                    }
                }
            }
            *per_case.entry(case.name).or_default() += 1;
        }
        if let Some(status) = boot.try_status() {
            panic!(
                "the bootstrap exited ({status}) after {sent} events\n{}",
                diagnostics(&boot)
            );
        }
        let rss = rss_kib(pid);
        samples.push(rss);
        if cycle_index == baseline_cycle {
            baseline = Some((sent, rss));
        }
    }

    let elapsed = started.elapsed();
    let (baseline_events, baseline_rss) = baseline.unwrap();
    let final_rss = *samples.last().unwrap();
    let peak = samples.iter().max().unwrap();
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    eprintln!(
        "soak: {sent} events in {elapsed:.1?} ({cycles} cycles of {}); RSS {} KiB after the first cycle, {baseline_rss} KiB after {baseline_events} events (baseline), {final_rss} KiB at the end ({:+.2}%), {peak} KiB highest sample; {hwm}",
        cases.len(),
        samples[0],
        (final_rss as f64 / baseline_rss as f64 - 1.0) * 100.0,
    );
    eprintln!("soak: events per kind {per_case:?}");
    let (stdout, stderr) = (boot.stdout_summary(), boot.stderr_summary());
    eprintln!(
        "soak: bootstrap wrote {} bytes to stdout, {} to stderr",
        stdout.bytes, stderr.bytes
    );

    assert!(
        boot.try_status().is_none(),
        "the bootstrap must still run\n{}",
        diagnostics(&boot)
    );
    api.assert_all_answered_once();
    let stats = api.stats();
    assert_eq!(stats.enqueued, sent, "{stats:?}");
    assert_eq!(stats.init_errors, 0, "{stats:?}");
    for stream in [stdout, stderr] {
        let panics: Vec<&String> = stream.panics.iter().filter(|l| is_host_panic(l)).collect();
        assert!(panics.is_empty(), "the host panicked: {panics:#?}");
    }
    assert!(
        final_rss as f64 <= baseline_rss as f64 * (1.0 + RSS_TOLERANCE),
        "RSS grew from {baseline_rss} KiB (after {baseline_events} events) to {final_rss} KiB after {sent} events; samples per cycle: {samples:?}"
    );
}
