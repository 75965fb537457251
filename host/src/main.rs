//! `lambda-wasm`: the Lambda bootstrap that runs Wasm handlers, and its test mode.
//!
//! ```text
//! lambda-wasm                                   # bootstrap (AWS_LAMBDA_RUNTIME_API set)
//! lambda-wasm invoke hello.handler --task-root DIR --event event.json
//! lambda-wasm serve hello.handler --task-root DIR
//! lambda-wasm serve --config functions.json
//! lambda-wasm compile hello.wasm
//! lambda-wasm strip big.wasm -o big.stripped.wasm
//! lambda-wasm package --task-root DIR --out function.zip [--arch arm64 --bootstrap FILE]
//! ```

use std::process::ExitCode;

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use lambda_wasm::engine::target::Arch;
use lambda_wasm::guest::javascript::prepare_runner;
use lambda_wasm::guest::python::prepare::prepare_runtime;
use lambda_wasm::guest::ruby;
use lambda_wasm::package::handler_snapshot::Outcome;
use lambda_wasm::settings::{
    JS_HOME_VARIABLE, PYTHON_HOME_VARIABLE, RUBY_HOME_VARIABLE, js_home, python_home, ruby_home,
};
use lambda_wasm::{bootstrap, engine, local, package, serve};

fn main() -> ExitCode {
    // Before anything grows the RSS: the table the loader read then never
    // counts in the peak.
    engine::resident::release_dynamic_relocations();
    // Lambda starts the bootstrap with no arguments: nothing for clap to
    // parse, and building its command tree would cost the cold start ~0.2 ms.
    let cli = match std::env::args_os().len() {
        1 => Cli { command: None },
        _ => Cli::parse(),
    };
    if cli.command.is_none() && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!(
            "lambda-wasm: no subcommand and AWS_LAMBDA_RUNTIME_API is not set.\n\
                 Deployed as a Lambda bootstrap it serves the Runtime API; locally, try\n  \
                 lambda-wasm invoke hello.handler --task-root DIR --event event.json\n\
                 (lambda-wasm --help lists every command)"
        );
        return ExitCode::from(2);
    }
    init_tracing();
    let workers = match &cli.command {
        None => bootstrap::concurrency_from_env(),
        // Requests and functions are served on every core.
        Some(Command::Serve(_)) => serve::default_concurrency(),
        Some(_) => 1,
    };
    let runtime = match async_runtime(workers) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("lambda-wasm: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        None => runtime.block_on(bootstrap::run()),
        Some(Command::Invoke(args)) => runtime.block_on(local::invoke(&args.options())),
        Some(Command::Serve(args)) => runtime.block_on(serve::serve(&args.options())),
        Some(Command::Compile(args)) => compile(&args),
        Some(Command::Strip(args)) => strip(&args),
        Some(Command::Split(args)) => split(&args),
        Some(Command::Package(args)) => package(&args),
        Some(Command::PreparePython(args)) => runtime.block_on(prepare_python(&args)),
        Some(Command::PrepareJs(args)) => runtime.block_on(prepare_js(&args)),
        Some(Command::PrepareRuby(args)) => runtime.block_on(prepare_ruby(&args)),
    }
}

/// One thread for one invocation at a time (the common case, and the
/// cheapest); a thread per worker, up to the cores, for concurrent workers.
fn async_runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers == 1 {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.min(cores))
        .enable_all()
        .build()
}

/// Host diagnostics on stderr; `LAMBDA_WASM_LOG` filters them (default: info).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAMBDA_WASM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}

fn compile(args: &cli::CompileArgs) -> ExitCode {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.wasm.with_extension("cwasm"));
    let engine = match Arch::host() {
        Some(arch) if args.portable => arch.compiling_engine(),
        _ => engine::new_engine(),
    };
    let compiled = engine
        .map_err(anyhow::Error::from)
        .and_then(|engine| engine::compile_to_file(&engine, &args.wasm, &output));
    report_written(compiled.map(|()| vec![output]))
}

fn strip(args: &cli::StripArgs) -> ExitCode {
    let stripped = engine::strip::strip_file(&args.wasm, &args.output);
    report_written(stripped.map(|()| vec![args.output.clone()]))
}

fn split(args: &cli::SplitArgs) -> ExitCode {
    let entries = engine::split::RestEntries {
        first: &args.rest_from,
        last: &args.rest_to,
    };
    let split = engine::split::split_file(
        &args.wasm,
        &entries,
        args.hot_first.as_deref(),
        &args.output,
        &args.rest_output,
    );
    if let Ok(split) = &split {
        let (core, rest) = split.functions;
        let first = match split.hot_first {
            0 => String::new(),
            hot => format!(" ({hot} of them first)"),
        };
        eprintln!("lambda-wasm: {core} functions in the core{first}, {rest} in the rest");
    }
    report_written(split.map(|_| vec![args.output.clone(), args.rest_output.clone()]))
}

async fn prepare_python(args: &cli::PreparePythonArgs) -> ExitCode {
    let home = args
        .home
        .clone()
        .unwrap_or_else(|| python_home(std::env::var(PYTHON_HOME_VARIABLE).ok()));
    report_written(prepare_runtime(&home).await)
}

async fn prepare_js(args: &cli::PrepareJsArgs) -> ExitCode {
    let home = args
        .home
        .clone()
        .unwrap_or_else(|| js_home(std::env::var(JS_HOME_VARIABLE).ok()));
    report_written(prepare_runner(&home).await.map(|snapshot| vec![snapshot]))
}

async fn prepare_ruby(args: &cli::PrepareRubyArgs) -> ExitCode {
    let home = args
        .home
        .clone()
        .unwrap_or_else(|| ruby_home(std::env::var(RUBY_HOME_VARIABLE).ok()));
    report_written(ruby::prepare_runtime(&home).await.map(|file| vec![file]))
}

/// Names the files a command wrote, or says why it failed.
fn report_written(written: anyhow::Result<Vec<std::path::PathBuf>>) -> ExitCode {
    match written {
        Ok(written) => {
            for file in written {
                eprintln!("lambda-wasm: wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lambda-wasm: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn package(args: &cli::PackageArgs) -> ExitCode {
    let Some(arch) = args.arch.or_else(Arch::host) else {
        eprintln!(
            "lambda-wasm: this machine ({}) is not one of Lambda's architectures; give --arch x86_64 or --arch arm64",
            std::env::consts::ARCH
        );
        return ExitCode::from(2);
    };
    let mut env = match &args.env_file {
        Some(file) => match package::handler_snapshot::read_env_file(file) {
            Ok(env) => env,
            Err(error) => {
                eprintln!("lambda-wasm: {error:#}");
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    env.extend(args.env.iter().cloned());
    let options = package::PackageOptions {
        handler: args.handler.clone(),
        env,
        no_handler_snapshot: args.no_handler_snapshot,
        task_root: args.task_root.clone(),
        out: args.out.clone(),
        arch,
        bootstrap: args.bootstrap.clone(),
        python_home: python_home(std::env::var(PYTHON_HOME_VARIABLE).ok()),
        js_home: js_home(std::env::var(JS_HOME_VARIABLE).ok()),
        ruby_home: ruby_home(std::env::var(RUBY_HOME_VARIABLE).ok()),
    };
    let report = match package::package(&options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("lambda-wasm: {error:#}");
            return ExitCode::from(2);
        }
    };
    let mut included = String::new();
    if report.with_python {
        included.push_str(", with the Python interpreter");
    }
    if report.with_javascript {
        included.push_str(", with the JavaScript runner");
    }
    if report.with_ruby {
        included.push_str(", with the Ruby interpreter");
    }
    if !report.compressed.is_empty() {
        included.push_str(&format!(
            "; compressed to fit (unpacked into /tmp at a cold start): {}",
            report.compressed.join(", ")
        ));
    }
    eprintln!(
        "lambda-wasm: wrote {} for {arch}: {} unzipped of Lambda's {}, {} zipped; {} module(s) precompiled for {}{included}",
        args.out.display(),
        package::megabytes(report.unzipped_bytes),
        package::megabytes(package::LAMBDA_UNZIPPED_LIMIT),
        package::megabytes(report.zipped_bytes),
        report.compiled.len(),
        arch.baseline_name(),
    );
    match &report.handler_snapshot {
        Outcome::Shipped(handler) => eprintln!(
            "lambda-wasm: with a snapshot of {handler} after its import: its module-level code ran now and cold starts restore it (docs/abi.md, \"Pre-initialisation\"; --no-handler-snapshot to opt out)"
        ),
        Outcome::Failed(error) => eprintln!(
            "lambda-wasm: warning: no handler snapshot: the handler's module did not import at package time ({error}); the function imports it at each cold start and reports that error there"
        ),
        Outcome::NoHandler if report.with_python || report.with_javascript || report.with_ruby => {
            eprintln!(
                "lambda-wasm: note: no handler snapshot: give --handler to have the handler's import run at package time rather than at each cold start"
            )
        }
        Outcome::NoHandler | Outcome::None => {}
    }
    if report.zipped_bytes > package::DIRECT_UPLOAD_LIMIT {
        eprintln!(
            "lambda-wasm: the zip is over the {} Lambda takes in a request (--zip-file); upload it to S3 and create the function with --code S3Bucket=...,S3Key=...",
            package::megabytes(package::DIRECT_UPLOAD_LIMIT)
        );
    }
    ExitCode::SUCCESS
}
