//! A function's configuration, from Lambda's environment (runtime mode) or
//! from the command line (test mode), and the environment its guest sees.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::errors::LambdaError;
use crate::handler_name::HandlerName;
use crate::logs::{Level, LogConfig, LogFormat};
use crate::outbound::policy::{ALLOWED_HOSTS_VARIABLE, AllowList};
use crate::outbound::signing::Signer;
use crate::outbound::{DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IN_FLIGHT, OutboundSettings};
use crate::response::DEFAULT_MAX_RESPONSE_BYTES;

/// Lambda's default function timeout, used when the platform's deadline is unusable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Lambda's smallest and default memory size.
pub const DEFAULT_MEMORY_MB: u32 = 128;

/// Variables holding AWS credentials: withheld from guests unless passed explicitly.
pub const CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// Everything needed to load and run one function.
#[derive(Debug, Clone)]
pub struct FunctionSettings {
    /// The deployment package on the host (`LAMBDA_TASK_ROOT`).
    pub task_root: PathBuf,
    /// Where the guest sees the task root: `/var/task`, or the real path in test mode.
    pub guest_task_root: String,
    /// The handler to run.
    pub handler: HandlerName,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`: the cap on guest linear memory.
    pub memory_mb: u32,
    /// The timeout used when the platform gives no usable deadline (and in test mode).
    pub timeout: Duration,
    /// The largest response the host sends.
    pub max_response_bytes: usize,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group_name: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream_name: String,
    /// How guest logs are written.
    pub log: LogConfig,
    /// The environment variables the guest sees (already filtered).
    pub guest_env: Vec<(String, String)>,
    /// How many invocations run at once (`AWS_LAMBDA_MAX_CONCURRENCY` under
    /// Lambda Managed Instances), each in its own execution environment.
    pub concurrency: usize,
    /// Where the Python interpreter for `.py` handlers is installed.
    pub python_home: PathBuf,
    /// The folder caching compiled modules across runs (test mode's
    /// choice); `None` in runtime mode, which never writes one.
    pub module_cache_dir: Option<PathBuf>,
    /// Where the JavaScript runner for `.mjs`/`.js`/`.cjs` handlers is installed.
    pub js_home: PathBuf,
    /// Where the Ruby interpreter for `.rb` handlers is installed.
    pub ruby_home: PathBuf,
    /// Which snapshot an interpreter starts from (`LAMBDA_WASM_PREINIT`).
    pub preinit: PreinitLevel,
    /// Where guests' outbound requests may go, and how they are bounded and signed.
    pub outbound: OutboundSettings,
}

/// How far an interpreter is pre-initialised (docs/abi.md, "Pre-initialisation").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreinitLevel {
    /// `off` (or `0`, `false`): every init runs from scratch.
    Off,
    /// `runtime`: from the interpreter's snapshot with the glue loaded; the
    /// handler's module is imported at each init.
    Runtime,
    /// The default: test mode also snapshots after the handler's import.
    Handler,
}

/// Where Lambda's guest sees the task root (test mode shows the real path).
pub const LAMBDA_TASK_ROOT: &str = "/var/task";

/// The variable that turns interpreter snapshots off.
pub const PREINIT_VARIABLE: &str = "LAMBDA_WASM_PREINIT";

/// The level `value` of [`PREINIT_VARIABLE`] names; anything else is the default.
fn preinit_level(value: Option<String>) -> PreinitLevel {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("0" | "off" | "false") => PreinitLevel::Off,
        Some("runtime") => PreinitLevel::Runtime,
        _ => PreinitLevel::Handler,
    }
}

/// The variable naming the Python interpreter's home.
pub const PYTHON_HOME_VARIABLE: &str = "LAMBDA_WASM_PYTHON_HOME";
/// The variable naming the JavaScript runner's home.
pub const JS_HOME_VARIABLE: &str = "LAMBDA_WASM_JS_HOME";
/// The variable naming the Ruby interpreter's home.
pub const RUBY_HOME_VARIABLE: &str = "LAMBDA_WASM_RUBY_HOME";

/// The Python interpreter's home: `variable` (the value of
/// [`PYTHON_HOME_VARIABLE`]) when set, else `python/` beside this executable.
pub fn python_home(variable: Option<String>) -> PathBuf {
    interpreter_home(variable, "python")
}

/// The JavaScript runner's home: `variable` (the value of
/// [`JS_HOME_VARIABLE`]) when set, else `js/` beside this executable.
pub fn js_home(variable: Option<String>) -> PathBuf {
    interpreter_home(variable, "js")
}

/// The Ruby interpreter's home: `variable` (the value of
/// [`RUBY_HOME_VARIABLE`]) when set, else `ruby/` beside this executable.
pub fn ruby_home(variable: Option<String>) -> PathBuf {
    interpreter_home(variable, "ruby")
}

/// An interpreter's home: `variable` when set, else `name` beside this executable.
fn interpreter_home(variable: Option<String>, name: &str) -> PathBuf {
    match variable {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => beside_executable(name),
    }
}

/// `name` in the folder of the running executable (where `package` puts
/// the interpreters beside the bootstrap).
fn beside_executable(name: &str) -> PathBuf {
    // Found once: each look is a readlink of /proc/self/exe, and every
    // function's settings name three homes.
    static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();
    let folder = FOLDER.get_or_init(|| Some(std::env::current_exe().ok()?.parent()?.to_path_buf()));
    folder
        .as_ref()
        .map_or_else(|| PathBuf::from(name), |folder| folder.join(name))
}

/// The most execution environments `AWS_LAMBDA_MAX_CONCURRENCY` can ask for.
pub const MAX_CONCURRENCY: usize = 256;

/// Reads `AWS_LAMBDA_MAX_CONCURRENCY`: 1 when unset; an error saying why for
/// a value that is not a number from 1 to [`MAX_CONCURRENCY`].
pub fn max_concurrency(value: Option<&str>) -> Result<usize, LambdaError> {
    let Some(raw) = value else { return Ok(1) };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(LambdaError::configuration(format!(
            "AWS_LAMBDA_MAX_CONCURRENCY={raw:?} is not a number from 1 to {MAX_CONCURRENCY}; serving one invocation at a time"
        ))),
    }
}

/// What test mode knows of a function, from the command line.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// The handler string.
    pub handler: String,
    /// The folder holding the modules.
    pub task_root: PathBuf,
    /// `--env K=V` pairs, applied last.
    pub env: Vec<(String, String)>,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--memory`.
    pub memory_mb: u32,
    /// `--function-name`; defaults to the module's name.
    pub function_name: Option<String>,
    /// `--max-response-bytes`.
    pub max_response_bytes: usize,
    /// `--pass-credentials`: give the guest the host's AWS credentials.
    pub pass_credentials: bool,
    /// The Python interpreter's home; default: [`python_home`] of the
    /// process's `LAMBDA_WASM_PYTHON_HOME`.
    pub python_home: Option<PathBuf>,
    /// `--allow-host`: the hosts guests may send requests to.
    pub allow_hosts: Vec<String>,
}

impl FunctionSettings {
    /// Settings for runtime mode, read from Lambda's reserved variables in `vars`.
    pub fn from_lambda_env(vars: &[(String, String)]) -> Result<Self, LambdaError> {
        let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let handler_text = get("_HANDLER").ok_or_else(|| {
            LambdaError::configuration(
                "_HANDLER is not set; set it to MODULE.FUNCTION, e.g. hello.handler",
            )
        })?;
        let handler = HandlerName::parse(&handler_text)?;
        let task_root = get("LAMBDA_TASK_ROOT").unwrap_or_else(|| LAMBDA_TASK_ROOT.into());
        let memory_mb = parse_number(
            get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            DEFAULT_MEMORY_MB,
        )?;
        let timeout_secs: f64 = parse_number(
            get("LAMBDA_WASM_TIMEOUT"),
            "LAMBDA_WASM_TIMEOUT",
            DEFAULT_TIMEOUT.as_secs_f64(),
        )?;
        let max_response_bytes = parse_number(
            get("LAMBDA_WASM_MAX_RESPONSE_BYTES"),
            "LAMBDA_WASM_MAX_RESPONSE_BYTES",
            DEFAULT_MAX_RESPONSE_BYTES,
        )?;
        let pass_credentials = get("LAMBDA_WASM_PASS_CREDENTIALS")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let log = log_config(get("AWS_LAMBDA_LOG_FORMAT"), get("AWS_LAMBDA_LOG_LEVEL"))?;
        let allowed = AllowList::parse(&get(ALLOWED_HOSTS_VARIABLE).unwrap_or_default())
            .map_err(LambdaError::configuration)?;
        let outbound = outbound_settings(&get, allowed, Signer::from_vars(vars, vars))?;
        let mut guest_env = guest_env(vars, pass_credentials, LAMBDA_TASK_ROOT);
        if !pass_credentials {
            put_placeholders(&mut guest_env, &outbound.signer);
        }
        Ok(Self {
            task_root: PathBuf::from(task_root),
            guest_task_root: LAMBDA_TASK_ROOT.into(),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| handler.module_file_stem().to_string()),
            function_version: get("AWS_LAMBDA_FUNCTION_VERSION")
                .unwrap_or_else(|| "$LATEST".into()),
            log_group_name: get("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default(),
            log_stream_name: get("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
            guest_env,
            outbound,
            concurrency: max_concurrency(get("AWS_LAMBDA_MAX_CONCURRENCY").as_deref()).unwrap_or(1),
            python_home: python_home(get(PYTHON_HOME_VARIABLE)),
            module_cache_dir: None,
            js_home: js_home(get(JS_HOME_VARIABLE)),
            preinit: preinit_level(get(PREINIT_VARIABLE)),
            ruby_home: ruby_home(get(RUBY_HOME_VARIABLE)),
            handler,
            memory_mb,
            timeout: Duration::from_secs_f64(timeout_secs),
            max_response_bytes,
            log,
        })
    }

    /// Test-mode settings for `handler` in `task_root` with small limits (3 s,
    /// 128 MB, 1 KiB responses): the unit tests' common function.
    #[cfg(test)]
    pub(crate) fn for_test(handler: &str, task_root: &std::path::Path) -> Self {
        Self::local(&LocalOptions {
            handler: handler.into(),
            task_root: task_root.to_path_buf(),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            max_response_bytes: 1024,
            ..LocalOptions::default()
        })
        .expect("valid test settings")
    }

    /// Settings for test mode: a Lambda-like environment made up from `options`,
    /// with no variable of the host's leaking in except those named.
    pub fn local(options: &LocalOptions) -> Result<Self, LambdaError> {
        let handler = HandlerName::parse(&options.handler)?;
        let task_root = options.task_root.canonicalize().map_err(|e| {
            LambdaError::import_module(
                &handler.module,
                format!(
                    "the task root {} cannot be opened: {e}",
                    options.task_root.display()
                ),
            )
        })?;
        let guest_task_root = task_root.to_string_lossy().into_owned();
        let function_name = options
            .function_name
            .clone()
            .unwrap_or_else(|| handler.module_file_stem().to_string());
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let mut vars: Vec<(String, String)> = [
            ("AWS_REGION", region.as_str()),
            ("AWS_DEFAULT_REGION", region.as_str()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.as_str()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                &options.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                &format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local/[$LATEST]lambda-wasm"),
            ("_HANDLER", options.handler.as_str()),
            ("LAMBDA_TASK_ROOT", guest_task_root.as_str()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
            ("TZ", ":UTC"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let from_host = ["AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL"]
            .iter()
            .chain(if options.pass_credentials {
                CREDENTIAL_VARIABLES
            } else {
                &[]
            });
        for name in from_host {
            if let Ok(value) = std::env::var(name) {
                vars.push((name.to_string(), value));
            }
        }
        for (name, value) in &options.env {
            vars.retain(|(existing, _)| existing != name);
            vars.push((name.clone(), value.clone()));
        }
        let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let log = log_config(get("AWS_LAMBDA_LOG_FORMAT"), get("AWS_LAMBDA_LOG_LEVEL"))?;
        let allowed = AllowList::parse_all(&options.allow_hosts).map_err(|why| {
            LambdaError::configuration(why.replace(ALLOWED_HOSTS_VARIABLE, "--allow-host"))
        })?;
        // The host signs with this shell's credentials; the guest gets them
        // only with --pass-credentials, else placeholders.
        let host_credentials: Vec<(String, String)> = CREDENTIAL_VARIABLES
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect();
        let outbound =
            outbound_settings(&get, allowed, Signer::from_vars(&host_credentials, &vars))?;
        let mut guest_env = guest_env(&vars, true, &guest_task_root);
        if !options.pass_credentials {
            put_placeholders(&mut guest_env, &outbound.signer);
        }
        Ok(Self {
            task_root,
            function_name,
            function_version: "$LATEST".into(),
            log_group_name: get("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default(),
            log_stream_name: get("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
            guest_env,
            outbound,
            concurrency: 1,
            python_home: options
                .python_home
                .clone()
                .unwrap_or_else(|| python_home(std::env::var(PYTHON_HOME_VARIABLE).ok())),
            module_cache_dir: None,
            js_home: js_home(std::env::var(JS_HOME_VARIABLE).ok()),
            preinit: preinit_level(
                get(PREINIT_VARIABLE).or_else(|| std::env::var(PREINIT_VARIABLE).ok()),
            ),
            ruby_home: ruby_home(std::env::var(RUBY_HOME_VARIABLE).ok()),
            guest_task_root,
            handler,
            memory_mb: options.memory_mb,
            timeout: options.timeout,
            max_response_bytes: options.max_response_bytes,
            log,
        })
    }
}

/// The guest's environment: the host's minus the runtime's own plumbing,
/// per-invocation values and (unless `pass_credentials`) AWS credentials.
pub fn guest_env(
    vars: &[(String, String)],
    pass_credentials: bool,
    guest_task_root: &str,
) -> Vec<(String, String)> {
    let withheld = |name: &str| {
        name == "AWS_LAMBDA_RUNTIME_API"
            || name == "_X_AMZN_TRACE_ID"
            || name.starts_with("LAMBDA_WASM_")
            || (!pass_credentials && CREDENTIAL_VARIABLES.contains(&name))
    };
    let mut env: Vec<(String, String)> = vars
        .iter()
        .filter(|(name, _)| !withheld(name))
        .map(|(name, value)| {
            let value = if name == "LAMBDA_TASK_ROOT" {
                guest_task_root.to_string()
            } else {
                value.clone()
            };
            (name.clone(), value)
        })
        .collect();
    if !env.iter().any(|(name, _)| name == "LAMBDA_TASK_ROOT") {
        env.push(("LAMBDA_TASK_ROOT".into(), guest_task_root.to_string()));
    }
    env
}

/// Gives the guest the signer's placeholder credentials in place of any it had.
fn put_placeholders(guest_env: &mut Vec<(String, String)>, signer: &Signer) {
    for (name, value) in signer.placeholders() {
        guest_env.retain(|(existing, _)| *existing != name);
        guest_env.push((name, value));
    }
}

/// The outbound settings from the function's variables (`get`): the caps,
/// the Runtime API's address to bar, and `allowed` and `signer` as given.
fn outbound_settings(
    get: &dyn Fn(&str) -> Option<String>,
    allowed: AllowList,
    signer: Signer,
) -> Result<OutboundSettings, LambdaError> {
    let number = |name: &str, default: usize| parse_number(get(name), name, default);
    Ok(OutboundSettings {
        allowed,
        runtime_api: get("AWS_LAMBDA_RUNTIME_API"),
        signer,
        max_request_bytes: number(
            "LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES",
            DEFAULT_MAX_BODY_BYTES,
        )?,
        max_response_bytes: number(
            "LAMBDA_WASM_OUTBOUND_MAX_RESPONSE_BYTES",
            DEFAULT_MAX_BODY_BYTES,
        )?,
        max_in_flight: number("LAMBDA_WASM_OUTBOUND_MAX_IN_FLIGHT", DEFAULT_MAX_IN_FLIGHT)?,
    })
}

/// The log format and level from `AWS_LAMBDA_LOG_FORMAT` / `AWS_LAMBDA_LOG_LEVEL`.
pub fn log_config(format: Option<String>, level: Option<String>) -> Result<LogConfig, LambdaError> {
    let format = match format.as_deref() {
        None | Some("") => LogFormat::Text,
        Some(text) => LogFormat::parse(text).ok_or_else(|| {
            LambdaError::configuration(format!(
                "AWS_LAMBDA_LOG_FORMAT is {text:?}; use Text or JSON"
            ))
        })?,
    };
    let min_level = match level.as_deref() {
        None | Some("") => Level::Trace,
        Some(text) => Level::parse(text).ok_or_else(|| {
            LambdaError::configuration(format!(
                "AWS_LAMBDA_LOG_LEVEL is {text:?}; use TRACE, DEBUG, INFO, WARN, ERROR or FATAL"
            ))
        })?,
    };
    Ok(LogConfig { format, min_level })
}

fn parse_number<T: std::str::FromStr>(
    value: Option<String>,
    name: &str,
    default: T,
) -> Result<T, LambdaError> {
    match value {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            LambdaError::configuration(format!("{name} is {text:?}, which is not a number"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_concurrency_values() {
        assert_eq!(max_concurrency(None), Ok(1));
        assert_eq!(max_concurrency(Some("4")), Ok(4));
        assert_eq!(max_concurrency(Some(" 2 ")), Ok(2));
        for bad in ["0", "-1", "many", "100000"] {
            let error = max_concurrency(Some(bad)).unwrap_err().error_message;
            assert!(error.contains("AWS_LAMBDA_MAX_CONCURRENCY"), "{error}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_lambdas_variables() {
        let settings = FunctionSettings::from_lambda_env(&vars(&[
            ("_HANDLER", "hello.handler"),
            ("LAMBDA_TASK_ROOT", "/tmp/pkg"),
            ("AWS_LAMBDA_FUNCTION_NAME", "hello-fn"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]))
        .unwrap();
        assert_eq!(settings.task_root, PathBuf::from("/tmp/pkg"));
        assert_eq!(settings.memory_mb, 256);
        assert_eq!(settings.function_name, "hello-fn");
        assert_eq!(settings.timeout, DEFAULT_TIMEOUT);
        assert_eq!(settings.log.format, LogFormat::Json);
        assert!(
            settings
                .guest_env
                .contains(&("LAMBDA_TASK_ROOT".into(), "/var/task".into()))
        );
    }

    #[test]
    fn says_what_is_wrong() {
        let missing = FunctionSettings::from_lambda_env(&[]).unwrap_err();
        assert!(missing.error_message.contains("_HANDLER is not set"));
        let bad = FunctionSettings::from_lambda_env(&vars(&[
            ("_HANDLER", "a.b"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
        ]))
        .unwrap_err();
        assert!(
            bad.error_message
                .contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        );
    }

    #[test]
    fn outbound_caps_come_from_the_variables() {
        let read = |pairs: &[(&str, &str)]| {
            let pairs = vars(pairs);
            let get = |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            outbound_settings(&get, AllowList::default(), Signer::default())
        };
        let defaults = read(&[]).unwrap();
        assert_eq!(
            (defaults.max_request_bytes, defaults.max_response_bytes),
            (DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)
        );
        assert_eq!(defaults.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        let set = read(&[
            ("LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES", "1024"),
            ("LAMBDA_WASM_OUTBOUND_MAX_RESPONSE_BYTES", "2048"),
            ("LAMBDA_WASM_OUTBOUND_MAX_IN_FLIGHT", "3"),
        ])
        .unwrap();
        assert_eq!(
            (
                set.max_request_bytes,
                set.max_response_bytes,
                set.max_in_flight
            ),
            (1024, 2048, 3)
        );
        let bad = read(&[("LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES", "6MB")]).unwrap_err();
        assert!(
            bad.error_message
                .contains("LAMBDA_WASM_OUTBOUND_MAX_REQUEST_BYTES is \"6MB\""),
            "{}",
            bad.error_message
        );
    }

    #[test]
    fn withholds_credentials_and_plumbing() {
        let host = vars(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("LAMBDA_WASM_TIMEOUT", "5"),
        ]);
        let names =
            |env: Vec<(String, String)>| env.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            names(guest_env(&host, false, "/var/task")),
            ["AWS_REGION", "LAMBDA_TASK_ROOT"]
        );
        let passed = names(guest_env(&host, true, "/var/task"));
        assert!(passed.contains(&"AWS_SESSION_TOKEN".to_string()));
        assert!(!passed.contains(&"AWS_LAMBDA_RUNTIME_API".to_string()));
    }
}
