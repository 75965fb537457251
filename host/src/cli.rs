//! The command line (clap stays here, in the binary): no subcommand is the
//! Lambda bootstrap; `invoke`, `serve`, `compile` and `strip` are test mode and tooling.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use lambda_wasm::engine::target::Arch;
use lambda_wasm::local::InvokeOptions;
use lambda_wasm::response::DEFAULT_MAX_RESPONSE_BYTES;
use lambda_wasm::serve::{ServeOptions, ServedFunctions, default_concurrency};
use lambda_wasm::settings::{DEFAULT_MEMORY_MB, LocalOptions, MAX_CONCURRENCY};

/// Run AWS Lambda handlers compiled to WebAssembly (wasm32-wasip1).
///
/// With no subcommand and AWS_LAMBDA_RUNTIME_API set, this is the function's
/// `bootstrap`: it serves events from the Lambda Runtime API using _HANDLER
/// and LAMBDA_TASK_ROOT.
#[derive(Debug, Parser)]
#[command(name = "lambda-wasm", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a handler once on an event, locally: the response on stdout, logs on stderr.
    ///
    /// Exit status: 0 success, 1 the function returned an error (its JSON is
    /// printed), 2 a usage or init error.
    Invoke(InvokeArgs),
    /// Serve a handler on a local endpoint compatible with Lambda's Invoke API.
    Serve(ServeArgs),
    /// Precompile MODULE.wasm to MODULE.cwasm for this host's CPU, for fast cold starts.
    Compile(CompileArgs),
    /// Write MODULE.wasm without the custom sections only debuggers and
    /// tools read (name, producers, target_features): a smaller .cwasm that
    /// loads faster; a trap then shows `<wasm function N>`, not its name.
    Strip(StripArgs),
    /// Split MODULE.wasm in two: a core that starts without the functions
    /// only the given table entries reach, and the rest, which the host
    /// instantiates the first time the core needs it (the Python
    /// interpreter's bundled packages; `make python` does this).
    Split(SplitArgs),
    /// Make a deployment package, function.zip: a `bootstrap` for the
    /// architecture, the task root, a .cwasm beside each .wasm compiled for
    /// every Lambda host of that architecture, and the Python interpreter or
    /// the JavaScript runner if needed.
    Package(PackageArgs),
    /// Compile the Python runtime glue to bytecode in the interpreter's home
    /// (`make python` and `package` do), so cold starts do not parse it.
    PreparePython(PreparePythonArgs),
    /// Snapshot the JavaScript runner with its runtime glue evaluated, in
    /// its home (`make js` and `package` do), so cold starts restore it.
    PrepareJs(PrepareJsArgs),
    /// Snapshot the Ruby interpreter with its runtime glue loaded, in the
    /// interpreter's home (`make ruby` and `package` do), so cold starts do
    /// not run `ruby-init` and the glue.
    PrepareRuby(PrepareRubyArgs),
}

/// The settings of the function a local command runs (for `serve --config`,
/// the settings a function's entry leaves out).
#[derive(Debug, Args)]
pub struct FunctionArgs {
    /// The folder holding the modules (the deployment package).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub task_root: PathBuf,
    /// An environment variable for the function (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,
    /// The function's timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// The function's memory size in MB: the cap on guest linear memory.
    #[arg(long = "memory", value_name = "MB", default_value_t = DEFAULT_MEMORY_MB, value_parser = clap::value_parser!(u32).range(1..=10240))]
    pub memory_mb: u32,
    /// The function name the context shows (default: the module's name).
    #[arg(long, value_name = "NAME")]
    pub function_name: Option<String>,
    /// The largest response allowed, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES)]
    pub max_response_bytes: usize,
    /// Give the guest this shell's AWS credentials (withheld by default;
    /// the host signs AWS requests with them either way).
    #[arg(long)]
    pub pass_credentials: bool,
    /// A host the guest may send HTTP(S) requests to: host, host:port or
    /// *.domain[:port]; repeat or comma-separate (LAMBDA_WASM_ALLOWED_HOSTS
    /// under the bootstrap). Loopback and private addresses need host:port.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_hosts: Vec<String>,
}

impl FunctionArgs {
    /// The options test mode builds `handler`'s settings from.
    pub fn local_options(&self, handler: &str) -> LocalOptions {
        LocalOptions {
            handler: handler.to_string(),
            task_root: self.task_root.clone(),
            env: self.env.clone(),
            timeout: Duration::from_secs_f64(self.timeout),
            memory_mb: self.memory_mb,
            function_name: self.function_name.clone(),
            max_response_bytes: self.max_response_bytes,
            pass_credentials: self.pass_credentials,
            python_home: None,
            allow_hosts: self.allow_hosts.clone(),
        }
    }
}

impl InvokeArgs {
    /// What the library's `invoke` runs.
    pub fn options(&self) -> InvokeOptions {
        InvokeOptions {
            function: self.function.local_options(&self.handler),
            event: self.event.clone(),
        }
    }
}

impl ServeArgs {
    /// What the library's `serve` serves.
    pub fn options(&self) -> ServeOptions {
        let functions = match (&self.config, &self.handler) {
            (Some(path), _) => ServedFunctions::ConfigFile {
                path: path.clone(),
                defaults: self.function.local_options(""),
            },
            (None, handler) => ServedFunctions::One(
                self.function
                    .local_options(handler.as_deref().unwrap_or("")),
            ),
        };
        ServeOptions {
            functions,
            concurrency: self
                .concurrency
                .map_or_else(default_concurrency, usize::from),
            listen: self.listen,
        }
    }
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The handler, MODULE.FUNCTION (e.g. hello.handler runs export `handler` of hello.wasm).
    #[arg(value_name = "HANDLER")]
    pub handler: String,
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The event: a JSON file, or - for stdin.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub event: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The handler to serve, MODULE.FUNCTION; any function name reaches it.
    #[arg(
        value_name = "HANDLER",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub handler: Option<String>,
    /// Serve the functions this JSON file names instead (README, "serve");
    /// the options below are the defaults its entries override.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Execution environments per function, i.e. invocations run at once
    /// (default: the number of cores); more requests queue.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_CONCURRENCY as i64))]
    pub concurrency: Option<u16>,
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The module to compile.
    #[arg(value_name = "MODULE.wasm")]
    pub wasm: PathBuf,
    /// Where to write the result (default: beside it, as MODULE.cwasm).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Compile for the baseline CPU of every Lambda host of this
    /// architecture (x86-64-v3 or Graviton2) instead of this machine's own
    /// features: a .cwasm to deploy, as `package` makes.
    #[arg(long)]
    pub portable: bool,
}

#[derive(Debug, Args)]
pub struct StripArgs {
    /// The module to strip.
    #[arg(value_name = "MODULE.wasm")]
    pub wasm: PathBuf,
    /// Where to write the stripped module (replaced if it exists; may be MODULE.wasm itself).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// The module to split (with its `name` section: the entries are found by name).
    #[arg(value_name = "MODULE.wasm")]
    pub wasm: PathBuf,
    /// The function in the first table entry of the part that loads late.
    #[arg(long, value_name = "FUNCTION")]
    pub rest_from: String,
    /// The function in the last table entry of that part.
    #[arg(long, value_name = "FUNCTION")]
    pub rest_to: String,
    /// Functions the core's code starts with, hottest first, so that a cold
    /// start's code shares the fewest pages: one per line, `INDEX NAME` in
    /// MODULE.wasm (bench/python-core-order.py writes the interpreter's).
    #[arg(long, value_name = "FILE")]
    pub hot_first: Option<PathBuf>,
    /// Where to write the core, the module to run (replaced if it exists).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Where to write the rest; the host finds it beside the core's `.cwasm`
    /// as `NAME-rest.wasm` or `NAME-rest.cwasm`.
    #[arg(long, value_name = "FILE")]
    pub rest_output: PathBuf,
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The folder holding the function's modules and files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub task_root: PathBuf,
    /// The zip to write (replaced if it exists).
    #[arg(short, long, value_name = "FILE", default_value = "function.zip")]
    pub out: PathBuf,
    /// The function's architecture, x86_64 or arm64 (default: this machine's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<Arch>,
    /// The `bootstrap` to include: a lambda-wasm built for ARCH (make
    /// bootstrap ARCH=arm64). Default: this executable, for this machine's
    /// architecture.
    #[arg(long, value_name = "FILE")]
    pub bootstrap: Option<PathBuf>,
    /// The handler whose interpreter is snapshotted after its import (its
    /// module-level code runs now, not at each cold start). Default: the
    /// Lambda console's, lambda_function.lambda_handler or index.handler,
    /// for the task root's lambda_function.py/.rb or index.mjs/.js/.cjs.
    #[arg(long, value_name = "HANDLER")]
    pub handler: Option<String>,
    /// A function variable the handler's import sees (repeatable; after
    /// --env-file's). A cold start restores the snapshot only when the
    /// variables the import read have the same values.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,
    /// Function variables from a dotenv-style file (NAME=value lines).
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Ship no handler snapshot: the handler is imported at each cold start.
    #[arg(long)]
    pub no_handler_snapshot: bool,
}

#[derive(Debug, Args)]
pub struct PreparePythonArgs {
    /// The interpreter's home (default: $LAMBDA_WASM_PYTHON_HOME, else python/ beside this executable).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PrepareJsArgs {
    /// The runner's home (default: $LAMBDA_WASM_JS_HOME, else js/ beside this executable).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PrepareRubyArgs {
    /// The interpreter's home (default: $LAMBDA_WASM_RUBY_HOME, else ruby/ beside this executable).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
}

fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not K=V")),
    }
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 900.0 => Ok(secs),
        Ok(secs) if secs > 900.0 => Err(format!(
            "{text} seconds is over Lambda's limit of 900 seconds"
        )),
        Ok(_) => Err(format!(
            "{text} seconds is not allowed: a timeout must be more than 0 seconds (and at most 900)"
        )),
        Err(_) => Err(format!(
            "{text:?} is not a number of seconds (more than 0, at most 900)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_invocation() {
        let cli = Cli::try_parse_from([
            "lambda-wasm",
            "invoke",
            "hello.handler",
            "--task-root",
            "dir",
            "--event",
            "e.json",
            "--env",
            "A=b=c",
            "--timeout",
            "1.5",
        ])
        .unwrap();
        let Some(Command::Invoke(args)) = cli.command else {
            panic!("not invoke")
        };
        assert_eq!(args.handler, "hello.handler");
        assert_eq!(args.function.env, [("A".to_string(), "b=c".to_string())]);
        assert_eq!(args.function.timeout, 1.5);
        assert_eq!(args.event, "e.json");
    }

    #[test]
    fn serve_takes_a_handler_or_a_config_file() {
        let cli = Cli::try_parse_from([
            "lambda-wasm",
            "serve",
            "--config",
            "f.json",
            "--concurrency",
            "3",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve")
        };
        let options = args.options();
        assert!(matches!(
            options.functions,
            ServedFunctions::ConfigFile { .. }
        ));
        assert_eq!(options.concurrency, 3);
        let error = Cli::try_parse_from(["lambda-wasm", "serve"]).unwrap_err();
        assert!(error.to_string().contains("<HANDLER>"), "{error}");
        let error =
            Cli::try_parse_from(["lambda-wasm", "serve", "h.x", "--config", "f.json"]).unwrap_err();
        assert!(error.to_string().contains("cannot be used with"), "{error}");
    }

    #[test]
    fn rejects_bad_values_with_a_reason() {
        let error =
            Cli::try_parse_from(["lambda-wasm", "invoke", "h.x", "--env", "novalue"]).unwrap_err();
        assert!(error.to_string().contains("is not K=V"));
        let error =
            Cli::try_parse_from(["lambda-wasm", "invoke", "h.x", "--timeout", "1000"]).unwrap_err();
        assert!(error.to_string().contains("900"));
        let error =
            Cli::try_parse_from(["lambda-wasm", "invoke", "h.x", "--timeout", "0"]).unwrap_err();
        assert!(
            error.to_string().contains("0 seconds is not allowed"),
            "{error}"
        );
    }
}
