//! The handler snapshot a package ships
//! ([`crate::guest::interpreter::handler_snapshot`]): which handler, the
//! environment it is taken in (Lambda's as far as it is known before
//! deployment: the task root at `/var/task`, `_HANDLER`, `TZ=:UTC`, and the
//! `--env`/`--env-file` variables), and taking it at package time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::PackageOptions;
use crate::guest::AnyGuest;
use crate::guest::interpreter::handler_snapshot::{
    FileRecord, Location, RECORD_FILE, SNAPSHOT_FILE,
};
use crate::guest::interpreter::prepare::{self, Scratch, block_on};
use crate::guest::interpreter::{self, Language};
use crate::logs::Logger;
use crate::settings::{self, LAMBDA_TASK_ROOT, PreinitLevel};

/// The handlers a task root gets without `--handler`: the Lambda console's
/// defaults for the file it creates in each language.
const DEFAULT_HANDLERS: [(&str, &str); 5] = [
    ("lambda_function.py", "lambda_function.lambda_handler"),
    ("lambda_function.rb", "lambda_function.lambda_handler"),
    ("index.mjs", "index.handler"),
    ("index.js", "index.handler"),
    ("index.cjs", "index.handler"),
];

/// What `package` was told of the handler snapshot, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// None wanted (`--no-handler-snapshot`), or the handler is not
    /// interpreted (a Wasm module's init has nothing to snapshot).
    None,
    /// No `--handler` and no default handler file in the task root.
    NoHandler,
    /// Shipped for this handler.
    Shipped(String),
    /// Not shipped: why (the handler's import failed, ...).
    Failed(String),
}

/// Zip entries: names and contents.
pub type Entries = Vec<(String, Vec<u8>)>;

/// A handler snapshot to take: the function as it will run on Lambda.
pub struct Plan {
    scratch: Scratch,
    language: &'static Language,
    /// The task root's files as the function will see them.
    pub files: Vec<FileRecord>,
}

impl Plan {
    /// The snapshot `options` ask for, or why there is none.
    pub fn new(options: &PackageOptions) -> anyhow::Result<Result<Self, Outcome>> {
        if options.no_handler_snapshot {
            return Ok(Err(Outcome::None));
        }
        let Some(handler) = options
            .handler
            .clone()
            .or_else(|| default_handler(&options.task_root))
        else {
            return Ok(Err(Outcome::NoHandler));
        };
        let mut scratch = Scratch::over(&handler, &options.task_root)?;
        let settings = &mut scratch.settings;
        settings.guest_task_root = LAMBDA_TASK_ROOT.into();
        settings.guest_env = lambda_variables(&handler, &options.env);
        settings.python_home = options.python_home.clone();
        settings.js_home = options.js_home.clone();
        settings.ruby_home = options.ruby_home.clone();
        settings.preinit = PreinitLevel::Handler;
        match interpreter::language_for(settings) {
            Some(language) if language.preinit.is_some() => Ok(Ok(Self {
                scratch,
                language,
                files: Vec::new(),
            })),
            _ => Ok(Err(Outcome::None)),
        }
    }

    /// The handler whose snapshot this is.
    pub fn handler(&self) -> &str {
        &self.scratch.settings.handler.raw
    }

    /// Whether `language` is the one whose snapshot this is.
    pub fn is_for(&self, language: &Language) -> bool {
        self.language.name == language.name
    }

    /// Takes the snapshot (the handler's import runs now) and gives its two
    /// files' entries under `folder`, or why there is none: the import's
    /// error, as the function would report it at init.
    pub fn take(&self, folder: &str) -> anyhow::Result<Result<Entries, Outcome>> {
        let out = tempfile::tempdir().context("cannot create a scratch folder")?;
        let location = Location::in_home(out.path());
        let (settings, location_ref) = (&self.scratch.settings, &location);
        let taken = block_on(move || async move {
            let preinit = self.language.preinit.expect("checked by Plan::new");
            let engine = crate::engine::new_engine()?;
            let (module, extras) = (self.language.load)(&engine, settings)?;
            let template = prepare::template(
                &module,
                settings.clone(),
                self.scratch.tmp.clone(),
                extras.clone(),
            )?;
            preinit
                .prepare_handler(&template, &extras.env, self.files.clone(), location_ref)
                .await
        });
        if let Err(error) = taken {
            return Ok(Err(Outcome::Failed(
                self.import_error().unwrap_or(format!("{error:#}")),
            )));
        }
        let read = |path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        };
        Ok(Ok(vec![
            (
                format!("{folder}/{SNAPSHOT_FILE}"),
                read(&location.snapshot)?,
            ),
            (format!("{folder}/{RECORD_FILE}"), read(&location.record)?),
        ]))
    }

    /// The error the function's init reports, run now as the bootstrap would
    /// without a handler snapshot; `None` if it starts.
    fn import_error(&self) -> Option<String> {
        let mut settings = self.scratch.settings.clone();
        settings.preinit = PreinitLevel::Runtime;
        let tmp = self.scratch.tmp.clone();
        let loaded = block_on(move || async move {
            let engine = crate::engine::new_engine()?;
            let logger = Logger::to_stderr(settings.log);
            Ok(AnyGuest::load(&engine, Arc::new(settings), logger, tmp).await)
        });
        match loaded {
            Ok(Err(error)) => Some(format!("{}: {}", error.error_type, error.error_message)),
            _ => None,
        }
    }
}

/// The handler of the Lambda console's default file in `task_root`, if any.
fn default_handler(task_root: &Path) -> Option<String> {
    DEFAULT_HANDLERS
        .iter()
        .find(|(file, _)| task_root.join(file).is_file())
        .map(|(_, handler)| handler.to_string())
}

/// The function's variables at package time: what Lambda sets that does
/// not depend on the deployment, then `env`.
fn lambda_variables(handler: &str, env: &[(String, String)]) -> Vec<(String, String)> {
    let mut variables: Vec<(String, String)> = [
        ("_HANDLER", handler),
        ("LAMBDA_TASK_ROOT", LAMBDA_TASK_ROOT),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("TZ", ":UTC"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    for (name, value) in env {
        variables.retain(|(existing, _)| existing != name);
        variables.push((name.clone(), value.clone()));
    }
    settings::guest_env(&variables, true, LAMBDA_TASK_ROOT)
}

/// The variables of a dotenv-style `file`: `NAME=value` lines (an optional
/// `export ` before the name; the value's surrounding single or double
/// quotes removed), blank lines and `#` comments skipped.
pub fn read_env_file(file: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the --env-file {}", file.display()))?;
    let mut variables = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", file.display(), index + 1);
        let assignment = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = assignment.split_once('=') else {
            anyhow::bail!("{}: {line:?} is not NAME=value", at());
        };
        let name = name.trim();
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            anyhow::bail!(
                "{}: {name:?} is not a variable name (letters, digits and _, not starting with a digit)",
                at()
            );
        }
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|quote| value.strip_prefix(*quote)?.strip_suffix(*quote));
        let value = match unquoted {
            Some(inner) => inner,
            None if value.starts_with(['"', '\'']) => {
                anyhow::bail!("{}: the value of {name} has no closing quote", at())
            }
            None => value,
        };
        variables.push((name.to_string(), value.to_string()));
    }
    Ok(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_dotenv_lines_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".env");
        std::fs::write(
            &file,
            "# settings\n\nA=1\nexport B = two words \nC=\"quoted = x\"\nD='single'\nE=\n",
        )
        .unwrap();
        let variables = read_env_file(&file).unwrap();
        let pairs: Vec<(&str, &str)> = variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("A", "1"),
                ("B", "two words"),
                ("C", "quoted = x"),
                ("D", "single"),
                ("E", "")
            ]
        );
        for (text, expected) in [
            ("A=1\nno equals\n", ":2: \"no equals\" is not NAME=value"),
            ("1A=x\n", ":1: \"1A\" is not a variable name"),
            ("A-B=x\n", ":1: \"A-B\" is not a variable name"),
            ("A=\"open\n", ":1: the value of A has no closing quote"),
        ] {
            std::fs::write(&file, text).unwrap();
            let error = read_env_file(&file).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let error = read_env_file(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot read the --env-file"), "{error}");
    }

    #[test]
    fn the_console_defaults_name_the_handler() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(default_handler(dir.path()), None);
        std::fs::write(dir.path().join("index.mjs"), "").unwrap();
        assert_eq!(
            default_handler(dir.path()).as_deref(),
            Some("index.handler")
        );
        std::fs::write(dir.path().join("lambda_function.py"), "").unwrap();
        assert_eq!(
            default_handler(dir.path()).as_deref(),
            Some("lambda_function.lambda_handler")
        );
    }

    #[test]
    fn package_time_variables_are_lambdas_and_the_given_ones() {
        let env = [
            ("TZ".to_string(), "Europe/Paris".to_string()),
            ("A".into(), "1".into()),
        ];
        let variables = lambda_variables("m.h", &env);
        let get = |name: &str| {
            variables
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("_HANDLER"), Some("m.h"));
        assert_eq!(get("LAMBDA_TASK_ROOT"), Some("/var/task"));
        assert_eq!(get("TZ"), Some("Europe/Paris"));
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("AWS_REGION"), None, "not known before deployment");
    }
}
