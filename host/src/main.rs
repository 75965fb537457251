//! `lambda-wasm`: the Lambda bootstrap that runs Wasm handlers, and its test mode.
//!
//! ```text
//! lambda-wasm                                   # bootstrap (AWS_LAMBDA_RUNTIME_API set)
//! lambda-wasm invoke hello.handler --task-root DIR --event event.json
//! lambda-wasm serve hello.handler --task-root DIR
//! lambda-wasm compile hello.wasm
//! lambda-wasm package --task-root DIR --out pkg
//! ```

use std::process::ExitCode;

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use lambda_wasm::guest::python::prepare::prepare_runtime;
use lambda_wasm::settings::{
    JS_HOME_VARIABLE, PYTHON_HOME_VARIABLE, RUBY_HOME_VARIABLE, js_home, python_home, ruby_home,
};
use lambda_wasm::{bootstrap, engine, local, package, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    let workers = match cli.command {
        None => bootstrap::concurrency_from_env(),
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
        Some(Command::Package(args)) => package(&args),
        Some(Command::PreparePython(args)) => runtime.block_on(prepare_python(&args)),
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
    let compiled = engine::new_engine()
        .map_err(anyhow::Error::from)
        .and_then(|engine| engine::compile_to_file(&engine, &args.wasm, &output));
    match compiled {
        Ok(()) => {
            eprintln!("lambda-wasm: wrote {}", output.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lambda-wasm: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn prepare_python(args: &cli::PreparePythonArgs) -> ExitCode {
    let home = args
        .home
        .clone()
        .unwrap_or_else(|| python_home(std::env::var(PYTHON_HOME_VARIABLE).ok()));
    match prepare_runtime(&home).await {
        Ok(written) => {
            eprintln!("lambda-wasm: wrote {}", written.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lambda-wasm: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn package(args: &cli::PackageArgs) -> ExitCode {
    let home = python_home(std::env::var(PYTHON_HOME_VARIABLE).ok());
    let js = js_home(std::env::var(JS_HOME_VARIABLE).ok());
    let ruby = ruby_home(std::env::var(RUBY_HOME_VARIABLE).ok());
    let report = match package::package(&args.task_root, &args.out, &home, &js, &ruby) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("lambda-wasm: {error:#}");
            return ExitCode::from(2);
        }
    };
    let megabytes = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    eprintln!(
        "lambda-wasm: wrote {} ({:.1} MB unzipped; Lambda allows {:.0} MB), {} module(s) precompiled{}{}{}",
        args.out.display(),
        megabytes(report.unzipped_bytes),
        megabytes(package::LAMBDA_UNZIPPED_LIMIT),
        report.compiled.len(),
        if report.with_python {
            ", with the Python interpreter"
        } else {
            ""
        },
        if report.with_javascript {
            ", with the JavaScript runner"
        } else {
            ""
        },
        if report.with_ruby {
            ", with the Ruby interpreter"
        } else {
            ""
        }
    );
    if report.unzipped_bytes > package::LAMBDA_UNZIPPED_LIMIT {
        eprintln!(
            "lambda-wasm: this is over Lambda's zip limit; deploy it as a container image instead (packaging/Dockerfile, README \"Deploy to Lambda\")"
        );
    }
    ExitCode::SUCCESS
}
