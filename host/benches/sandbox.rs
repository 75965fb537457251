//! What the sandbox costs, per operation (`make bench`; never part of `make test`).
//!
//! - `load/*`: compile a module from `.wasm` vs deserialize its `.cwasm`
//!   (Rust hello guest; the CPython interpreter when one is installed; its
//!   compile only with `LAMBDA_WASM_BENCH_PYTHON_COMPILE=1`, minutes).
//! - `instantiate/*`: a fresh instance of the hello guest on the default
//!   engine (on-demand allocation, copy-on-write memory init), without
//!   copy-on-write, and on the pooling allocator; and a whole execution
//!   environment start (new store + instantiate + `_initialize`).
//! - `invoke/*`: one warm invocation through the ABI (`Function::invoke`) of
//!   a bare probe (the boundary alone) and of the hello guest, against the
//!   same hello handler compiled natively and called through the SDK's
//!   native path (parse, handler, serialize) — the difference is the
//!   sandbox's cost per event.
//!
//! Inputs: the built guests (`make guests`) under
//! `$CARGO_TARGET_DIR/wasm32-wasip1/guest`, and the Python interpreter in
//! `$LAMBDA_WASM_PYTHON_HOME` (else `target/release/python`), skipped when absent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lambda_wasm::abi::{ContextEncoder, ContextForm};
use lambda_wasm::engine::{self, HostEngine};
use lambda_wasm::function::Function;
use lambda_wasm::guest::GuestEnvironment;
use lambda_wasm::guest::reactor::ReactorEnvironment;
use lambda_wasm::invocation::{Invocation, InvocationContext, Outcome};
use lambda_wasm::logs::{LogConfig, Logger};
use lambda_wasm::sandbox::{Extras, Stdio};
use lambda_wasm::settings::{FunctionSettings, LocalOptions};
use lambda_wasm::store::InstanceTemplate;
use wasmtime::{Engine, Module};

const HELLO_EVENT: &[u8] = br#"{ "first_name": "John", "last_name": "Smith" }"#;

/// A reactor that does nothing but answer `null`: the ABI boundary alone.
const PROBE_WAT: &str = include_str!("probe.wat");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => workspace_root().join(d),
        _ => workspace_root().join("target"),
    }
}

fn guest_wasm(name: &str) -> PathBuf {
    let p = target_dir().join("wasm32-wasip1/guest").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `make guests` first",
        p.display()
    );
    p
}

fn python_home() -> Option<PathBuf> {
    let home = std::env::var_os("LAMBDA_WASM_PYTHON_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release/python"));
    home.join("python-snapshot.cwasm").is_file().then_some(home)
}

fn settings(task_root: &Path, handler: &str) -> FunctionSettings {
    FunctionSettings::local(&LocalOptions {
        handler: handler.into(),
        task_root: task_root.to_path_buf(),
        timeout: Duration::from_secs(3),
        memory_mb: 128,
        max_response_bytes: 6 << 20,
        ..Default::default()
    })
    .unwrap()
}

fn quiet_logger() -> Logger {
    Logger::to_writer(LogConfig::default(), Box::new(std::io::sink()))
}

fn invocation(event: &'static [u8]) -> Invocation {
    Invocation {
        event: Bytes::from_static(event),
        context: InvocationContext {
            request_id: "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into(),
            deadline: SystemTime::now() + Duration::from_secs(3600),
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
            trace_id: Some(
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
            ),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
        },
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `new_engine()`'s settings with copy-on-write memory init off.
fn engine_without_cow() -> Engine {
    let mut config = engine::base_config();
    config.memory_init_cow(false);
    Engine::new(&config).unwrap()
}

fn load(c: &mut Criterion) {
    let engine = engine::new_engine().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("load");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    let wasm = std::fs::read(guest_wasm("hello.wasm")).unwrap();
    let cwasm = dir.path().join("hello.cwasm");
    std::fs::write(&cwasm, engine.precompile_module(&wasm).unwrap()).unwrap();
    group.bench_function("rust-hello/compile-wasm", |b| {
        b.iter(|| Module::new(&engine, &wasm).unwrap())
    });
    // What the host does with a .cwasm: map the file, check it, link it.
    group.bench_function("rust-hello/deserialize-cwasm", |b| {
        b.iter(|| unsafe { Module::deserialize_file(&engine, &cwasm) }.unwrap())
    });

    if let Some(home) = python_home() {
        // The interpreter is split: the core every cold start loads, and
        // the rest (the bundled packages) the first import of one loads.
        let cwasm = home.join("python-snapshot.cwasm");
        group.bench_function("python-interpreter/deserialize-cwasm", |b| {
            b.iter(|| unsafe { Module::deserialize_file(&engine, &cwasm) }.unwrap())
        });
        let rest = home.join("python-snapshot-rest.cwasm");
        if rest.is_file() {
            group.bench_function("python-interpreter-rest/deserialize-cwasm", |b| {
                b.iter(|| unsafe { Module::deserialize_file(&engine, &rest) }.unwrap())
            });
        }
        // Compiling CPython (~100 MB of Wasm) takes minutes on two cores:
        // timed once, outside criterion, and only when asked for
        // (LAMBDA_WASM_BENCH_PYTHON_COMPILE=1), so `make bench` stays short.
        let wasm = home.join("python-snapshot.wasm");
        if wasm.is_file()
            && std::env::var_os("LAMBDA_WASM_BENCH_PYTHON_COMPILE").is_some_and(|v| v == "1")
        {
            let bytes = std::fs::read(&wasm).unwrap();
            let started = Instant::now();
            drop(Module::new(&engine, &bytes).unwrap());
            let secs = started.elapsed().as_secs_f64();
            println!(
                "load/python-interpreter/compile-wasm: one run, {secs:.2} s ({} MB of Wasm)",
                bytes.len() >> 20
            );
            write_one_shot("load/python-interpreter/compile-wasm", secs);
        }
    } else {
        println!(
            "load/python-*: skipped (no interpreter; set LAMBDA_WASM_PYTHON_HOME or run `make python`)"
        );
    }
    group.finish();
}

/// Records a measurement taken once (too slow for criterion's samples)
/// beside criterion's own results, for the report.
fn write_one_shot(name: &str, secs: f64) {
    let dir = target_dir().join("criterion").join(name.replace('/', "_"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("one-shot.json"),
        format!("{{\"name\":\"{name}\",\"seconds\":{secs}}}\n"),
    )
    .unwrap();
}

/// A linked hello template on `engine`.
fn hello_template(engine: &Engine, task_root: &Path, tmp: &Path) -> InstanceTemplate<()> {
    let settings = settings(task_root, "hello.handler");
    let module = Module::from_file(engine, task_root.join("hello.wasm")).unwrap();
    InstanceTemplate::new(
        &module,
        ReactorEnvironment::add_imports,
        Arc::new(settings),
        quiet_logger(),
        tmp.to_path_buf(),
        Extras::default(),
    )
    .unwrap()
}

fn instantiate(c: &mut Criterion) {
    let rt = rt();
    let root = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(guest_wasm("hello.wasm"), root.path().join("hello.wasm")).unwrap();
    let engines = [
        ("on-demand+cow", engine::new_engine().unwrap()),
        ("on-demand-no-cow", engine_without_cow()),
        ("pooling+cow", engine::new_engine_with_pooling().unwrap()),
    ];
    let mut group = c.benchmark_group("instantiate");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, engine) in &engines {
        let template = hello_template(engine, root.path(), tmp.path());
        // A store (with its WASI sandbox) and an instance, dropped after.
        group.bench_function(BenchmarkId::new("rust-hello/instance", name), |b| {
            b.iter(|| {
                let mut store = template.new_store(Stdio::Reactor, &[]).unwrap();
                store.set_epoch_deadline(1 << 40);
                rt.block_on(template.pre().instantiate_async(&mut store))
                    .unwrap();
                store
            })
        });
        // The above plus the ABI version check and `_initialize`: what a
        // cold (or replaced) execution environment costs the host.
        group.bench_function(BenchmarkId::new("rust-hello/environment", name), |b| {
            b.iter(|| {
                rt.block_on(ReactorEnvironment::start(&template, &"handler".to_string()))
                    .ok()
                    .unwrap()
            })
        });
    }
    group.finish();

    // The whole init phase as the bootstrap runs it (deserialize the .cwasm,
    // link, start the environment), for the cold-start breakdown.
    let mut group = c.benchmark_group("init");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let engine = HostEngine::new().unwrap();
    let wasm = std::fs::read(root.path().join("hello.wasm")).unwrap();
    std::fs::write(
        root.path().join("hello.cwasm"),
        engine.engine().precompile_module(&wasm).unwrap(),
    )
    .unwrap();
    group.bench_function("rust-hello/function-load-cwasm", |b| {
        b.iter(|| {
            rt.block_on(Function::load_with_engine(
                &engine,
                settings(root.path(), "hello.handler"),
                quiet_logger(),
            ))
            .ok()
            .unwrap()
        })
    });
    if let Some(home) = python_home() {
        let py_root = tempfile::tempdir().unwrap();
        std::fs::copy(
            workspace_root().join("bench/seed-hello/lambda_function.py"),
            py_root.path().join("lambda_function.py"),
        )
        .unwrap();
        let python = FunctionSettings {
            python_home: home.clone(),
            ..settings(py_root.path(), "lambda_function.lambda_handler")
        };
        group.bench_function("python-hello/function-load-cwasm", |b| {
            b.iter(|| {
                rt.block_on(Function::load_with_engine(
                    &engine,
                    python.clone(),
                    quiet_logger(),
                ))
                .ok()
                .unwrap()
            })
        });
    }
    group.finish();
}

fn invoke(c: &mut Criterion) {
    let rt = rt();
    let engine = HostEngine::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(guest_wasm("hello.wasm"), root.path().join("hello.wasm")).unwrap();
    std::fs::write(
        root.path().join("probe.wasm"),
        wat::parse_str(PROBE_WAT).unwrap(),
    )
    .unwrap();
    let load = |handler: &str| {
        rt.block_on(Function::load_with_engine(
            &engine,
            settings(root.path(), handler),
            quiet_logger(),
        ))
        .ok()
        .unwrap()
    };
    let mut probe = load("probe.handler");
    let mut hello = load("hello.handler");
    let inv = invocation(HELLO_EVENT);
    match rt.block_on(hello.invoke(&inv)) {
        Outcome::Response(json) => assert_eq!(json.get(), r#"{"message":"Hello John Smith!"}"#),
        Outcome::Error(e) => panic!("hello failed: {e:?}"),
    }

    let mut group = c.benchmark_group("invoke");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("probe/wasm-abi", |b| {
        b.iter_custom(|iters| warm_invocations(&rt, &mut probe, &inv, iters))
    });
    group.bench_function("rust-hello/wasm-abi", |b| {
        b.iter_custom(|iters| warm_invocations(&rt, &mut hello, &inv, iters))
    });
    // The same handler natively, through the SDK's own path (copy the event
    // and context into a buffer, read the context, deserialize, call,
    // serialize): exactly the guest's work without the sandbox, with the
    // binary context the host writes for the hello guest (ABI 1.3).
    let context = ContextEncoder::new(&settings(root.path(), "hello.handler"))
        .encode_as(ContextForm::Binary, &inv.context)
        .to_vec();
    let native = lambda_wasm_guest::testing::invoke(hello::handler, HELLO_EVENT, &context);
    assert_eq!(
        native.response.as_deref(),
        Some(&br#"{"message":"Hello John Smith!"}"#[..])
    );
    group.bench_function("rust-hello/native", |b| {
        b.iter(|| {
            lambda_wasm_guest::testing::invoke(
                hello::handler,
                std::hint::black_box(HELLO_EVENT),
                &context,
            )
        })
    });
    // Native with the runtime's own work on top (the event validated as
    // JSON, the response validated), as lambda_runtime would parse/serialize.
    group.bench_function("rust-hello/native-handler-only", |b| {
        b.iter(|| {
            let event: serde_json::Value =
                serde_json::from_slice(std::hint::black_box(HELLO_EVENT)).unwrap();
            serde_json::to_vec(&hello::handler(event, &Default::default()).unwrap()).unwrap()
        })
    });
    group.finish();
}

/// Times `iters` invocations awaited one after another inside one
/// `block_on`, as the bootstrap awaits them inside its runtime: entering the
/// runtime per invocation (~1,200 instructions) is not part of the cost.
fn warm_invocations(
    rt: &tokio::runtime::Runtime,
    function: &mut Function,
    invocation: &Invocation,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let started = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(function.invoke(invocation).await);
        }
        started.elapsed()
    })
}

criterion_group!(benches, load, instantiate, invoke);
criterion_main!(benches);
