//! `lambda-wasm-bench`: pushes events through Lambda runtimes over the
//! Runtime API and writes BENCHMARKS.md (`make bench`).
//!
//! One in-process Runtime API endpoint (the `fake-runtime-api` crate,
//! tests/fake-runtime-api/, hyper) serves each row's runtime process. Per
//! row: `--cold-starts` fresh processes (a target may fix the number), each
//! timed from spawn to its first response (the event is queued before the
//! spawn); the last one then gets warm-up events and
//! `--events` events one at a time (closed loop, as Lambda sends one event
//! at a time to an execution environment): events/s and per-event latency
//! (enqueue to answer recorded), idle RSS (after the first event) and peak
//! RSS (VmHWM at the end), and the CPU each side spent per event.
//!
//! Row 0 is the endpoint's floor: an in-process Rust client that answers
//! every event at once, so the endpoint's own cost per event is shown.
//! The cross-check rows run the runtimes against cargo-lambda's emulator
//! (`cargo lambda watch --only-lambda-apis`) instead.
//!
//! Usage: see [`USAGE`] (`lambda-wasm-bench --help`); paths come from
//! environment variables (see `Paths::from_env`).
//!
//! One module per measurement kind: [`endtoend`] (the rows above),
//! [`emulator`] (the cross-check), [`packaged`] (fresh bootstraps of
//! `lambda-wasm package`d Python functions, run as rows), [`callgrind`]
//! (per-event instructions), [`test_mode`] (`invoke`'s Init Duration and
//! its module cache); [`targets`] turns them into issue 16's Targets table
//! and [`report`] writes BENCHMARKS.md.

mod callgrind;
mod emulator;
mod endtoend;
mod packaged;
mod report;
mod rows;
mod targets;
mod test_mode;

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use endtoend::RowResult;
use rows::{Row, Skipped};

/// Where everything is; each overridable by an environment variable.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    /// CARGO_TARGET_DIR (criterion's results are under it).
    pub target: PathBuf,
    pub work: PathBuf,
    pub lambda_wasm: PathBuf,
    pub native_hello: PathBuf,
    pub guest_dir: PathBuf,
    pub python_home: Option<PathBuf>,
    pub ric_python: PathBuf,
    pub cargo_lambda: PathBuf,
    /// A program the packaged rows run their `bootstrap` under, given its
    /// path first (bench/link-order.sh profiles them with callgrind).
    pub bootstrap_wrapper: Option<PathBuf>,
}

impl Paths {
    fn from_env() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let var = |name: &str, default: PathBuf| {
            std::env::var_os(name).map(PathBuf::from).unwrap_or(default)
        };
        let target = var("CARGO_TARGET_DIR", root.join("target"));
        let target = if target.is_absolute() {
            target
        } else {
            root.join(target)
        };
        let python_home = var("LAMBDA_WASM_PYTHON_HOME", target.join("release/python"));
        Paths {
            work: target.join("bench"),
            lambda_wasm: var("BENCH_LAMBDA_WASM", target.join("release/lambda-wasm")),
            native_hello: var("BENCH_NATIVE_HELLO", target.join("release/native-hello")),
            guest_dir: var("BENCH_GUEST_DIR", target.join("wasm32-wasip1/guest")),
            python_home: python_home
                .join("python-snapshot.cwasm")
                .is_file()
                .then_some(python_home),
            ric_python: var("BENCH_RIC_PYTHON", root.join(".tools/ric-venv/bin/python")),
            cargo_lambda: var(
                "BENCH_CARGO_LAMBDA",
                root.join(".tools/venv/bin/cargo-lambda"),
            ),
            bootstrap_wrapper: std::env::var_os("BENCH_BOOTSTRAP_WRAPPER").map(PathBuf::from),
            root,
            target,
        }
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

pub struct Args {
    pub events: usize,
    pub warmup: usize,
    pub cold_starts: usize,
    /// Where the report goes: BENCHMARKS.md, unless `--only` ran part of
    /// the rows (then target/bench/BENCHMARKS.partial.md, so a partial run
    /// never drops the other rows from the committed table).
    report: Option<PathBuf>,
    only: Option<Vec<String>>,
    skip_emulator: bool,
}

/// What `--help` prints.
const USAGE: &str = "\
usage: lambda-wasm-bench [--events N] [--warmup N] [--cold-starts K]
                         [--only ROW,ROW...] [--no-emulator] [--report FILE]

  --events N        warm events per row (10000)
  --warmup N        events before timing (1000)
  --cold-starts K   fresh processes timed to their first response (7)
  --only ROWS       what to run (comma-separated): the rows floor, native,
                    wasm-rust, wasm-rust-nocwasm, awslambdaric, wasm-python,
                    wasm-c, wasm-zig, wasm-go, wasm-as (each also -nocwasm),
                    wasm-js, node, wasm-ruby, wasm-ruby-nopreinit,
                    ruby-native, packaged-python-hello,
                    packaged-python-increment, packaged-python-numpy; and
                    instructions (callgrind of native and wasm-rust),
                    test-mode (`invoke`'s Init Duration and module cache)
  --no-emulator     skip the cargo-lambda cross-check rows
  --report FILE     the file whose generated part is rewritten (BENCHMARKS.md;
                    with --only, target/bench/BENCHMARKS.partial.md)

Environment: CARGO_TARGET_DIR, LAMBDA_WASM_PYTHON_HOME, BENCH_LAMBDA_WASM,
BENCH_NATIVE_HELLO, BENCH_GUEST_DIR, BENCH_RIC_PYTHON, BENCH_CARGO_LAMBDA,
BENCH_BOOTSTRAP_WRAPPER.";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        events: 10_000,
        warmup: 1_000,
        cold_starts: 7,
        report: None,
        only: None,
        skip_emulator: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--events" => args.events = value()?.parse()?,
            "--warmup" => args.warmup = value()?.parse()?,
            "--cold-starts" => args.cold_starts = value()?.parse::<usize>()?.max(1),
            "--report" => args.report = Some(PathBuf::from(value()?)),
            "--only" => args.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--no-emulator" => args.skip_emulator = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let paths = Paths::from_env();
    let args = parse_args()?;
    // One thread for the endpoint and the driver: no cross-thread wake-ups
    // in the endpoint's own cost per event.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let measured = rt.block_on(run_all(&paths, &args))?;
    let json = serde_json::to_string_pretty(&measured.rows)?;
    std::fs::write(paths.work.join("e2e.json"), json)?;
    let (report, chart) = match (&args.report, &args.only) {
        (Some(report), _) => (report.clone(), report.with_file_name("latency.svg")),
        (None, None) => (
            paths.root.join("BENCHMARKS.md"),
            paths.root.join("bench/latency.svg"),
        ),
        (None, Some(_)) => (
            paths.work.join("BENCHMARKS.partial.md"),
            paths.work.join("latency.svg"),
        ),
    };
    report::write(
        &paths,
        &report,
        &chart,
        &measured,
        args.events,
        args.cold_starts,
    )?;
    println!("wrote {} and {}", report.display(), chart.display());
    Ok(())
}

impl Args {
    /// Whether `--only` names `id` (everything runs without it).
    fn wants(&self, id: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == id))
    }
}

/// Everything one run measured, for the report.
pub struct Measured {
    pub rows: Vec<RowResult>,
    /// Rows that could not run, and why.
    pub skipped: Vec<Skipped>,
    pub instructions: Result<callgrind::PerEvent, String>,
    pub test_mode: test_mode::TestMode,
}

/// Why a measurement left out by `--only` shows no number.
const NOT_IN_ONLY: &str = "not in --only";

async fn run_all(paths: &Paths, args: &Args) -> anyhow::Result<Measured> {
    let (mut rows, mut skipped) = rows::rows(paths)?;
    let (packaged, packaging_skipped) = packaged::rows(paths, |id| args.wants(id)).await;
    rows.extend(packaged);
    skipped.extend(packaging_skipped);
    for s in &skipped {
        eprintln!("skipping {}", s.why);
    }
    let mut results = Vec::new();
    if args.wants("floor") {
        eprintln!("== endpoint floor");
        results.push(endtoend::run_floor(args).await?);
    }
    for row in rows.iter().filter(|r| args.wants(r.id)) {
        eprintln!("== {}", row.label);
        results.push(run_row(paths, row, args).await);
    }
    if !args.skip_emulator && paths.cargo_lambda.is_file() {
        // Not the packaged rows: what they are for is their cold starts.
        for row in rows.iter().filter(|r| {
            args.wants(r.id)
                && r.id != "awslambdaric"
                && !r.id.ends_with("-nocwasm")
                && !r.id.starts_with("packaged-")
        }) {
            eprintln!("== {} via cargo-lambda's emulator", row.label);
            match emulator::run_row(paths, row, args).await {
                Ok(r) => results.push(r),
                Err(e) => eprintln!("   failed: {e:#}"),
            }
        }
    }
    let instructions = if args.wants("instructions") {
        eprintln!("== per-event instructions (callgrind)");
        callgrind::measure(paths, &rows).await
    } else {
        Err(NOT_IN_ONLY.into())
    };
    let test_mode = if args.wants("test-mode") {
        eprintln!("== test mode (`lambda-wasm invoke`)");
        test_mode::measure(paths)
    } else {
        test_mode::TestMode::not_run(NOT_IN_ONLY)
    };
    Ok(Measured {
        rows: results,
        skipped,
        instructions,
        test_mode,
    })
}

/// One row's result; a failure is recorded in its note.
async fn run_row(paths: &Paths, row: &Row, args: &Args) -> RowResult {
    match endtoend::run_row(paths, row, args).await {
        Ok(r) => {
            eprintln!(
                "   {:.0} events/s, p50 {:.1} us, p99 {:.1} us, cold {:.1} ms, peak RSS {:?} kB",
                r.events_per_s,
                r.p50_us,
                r.p99_us,
                r.cold_median_ms().unwrap_or(0.0),
                r.peak_rss_kb
            );
            r
        }
        Err(e) => {
            eprintln!("   failed: {e:#}");
            RowResult::failed(row, &e)
        }
    }
}
