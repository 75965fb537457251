//! Which functions `serve` serves: one handler from the command line (any
//! function name reaches it), or the functions a JSON config file names.
//!
//! ```json
//! {
//!   "functions": {
//!     "hello":  { "handler": "hello.handler", "task_root": "build/rust" },
//!     "greet":  { "handler": "lambda_function.lambda_handler",
//!                 "task_root": "py/greet", "environment": { "GREETING": "Hi" },
//!                 "memory": 256, "timeout": 10, "concurrency": 4 }
//!   }
//! }
//! ```
//!
//! `task_root` is relative to the config file's folder; settings left out
//! take the command line's values (`--timeout`, `--memory`, `--env`,
//! `--concurrency`, ...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::settings::{LocalOptions, MAX_CONCURRENCY};

/// Lambda's largest timeout, in seconds.
const MAX_TIMEOUT_SECS: f64 = 900.0;
/// Lambda's memory sizes, in MB.
const MEMORY_RANGE_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// One function `serve` runs.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// How it is loaded; `function_name` is its name.
    pub options: LocalOptions,
    /// How many invocations run at once, each in its own environment.
    pub concurrency: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    functions: BTreeMap<String, FunctionEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionEntry {
    handler: String,
    task_root: PathBuf,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    memory: Option<u32>,
    timeout: Option<f64>,
    concurrency: Option<usize>,
}

/// Reads the functions `path` names, each over `defaults` (the command
/// line's settings) and `concurrency`. Errors say which function and
/// setting is wrong.
pub fn read(
    path: &Path,
    defaults: &LocalOptions,
    concurrency: usize,
) -> anyhow::Result<Vec<FunctionSpec>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
    let file: ConfigFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; expected {{\"functions\": {{\"NAME\": {{\"handler\": ..., \"task_root\": ...}}}}}} (README, \"serve\")",
            path.display()
        )
    })?;
    if file.functions.is_empty() {
        anyhow::bail!(
            "{}: \"functions\" is empty; name at least one function",
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    file.functions
        .into_iter()
        .map(|(name, entry)| {
            entry
                .into_spec(&name, base, defaults, concurrency)
                .map_err(|e| anyhow::anyhow!("{}: function {name:?}: {e}", path.display()))
        })
        .collect()
}

impl FunctionEntry {
    fn into_spec(
        self,
        name: &str,
        base: &Path,
        defaults: &LocalOptions,
        concurrency: usize,
    ) -> anyhow::Result<FunctionSpec> {
        check_name(name)?;
        let mut options = defaults.clone();
        options.function_name = Some(name.to_string());
        options.handler = self.handler;
        options.task_root = base.join(self.task_root);
        options.env.extend(self.environment);
        if let Some(memory) = self.memory {
            if !MEMORY_RANGE_MB.contains(&memory) {
                anyhow::bail!(
                    "memory {memory} is not from {} to {} MB",
                    MEMORY_RANGE_MB.start(),
                    MEMORY_RANGE_MB.end()
                );
            }
            options.memory_mb = memory;
        }
        if let Some(secs) = self.timeout {
            if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
                anyhow::bail!(
                    "timeout {secs} is not more than 0 and at most {MAX_TIMEOUT_SECS} seconds"
                );
            }
            options.timeout = Duration::from_secs_f64(secs);
        }
        let concurrency = self.concurrency.unwrap_or(concurrency);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            anyhow::bail!("concurrency {concurrency} is not from 1 to {MAX_CONCURRENCY}");
        }
        Ok(FunctionSpec {
            options,
            concurrency,
        })
    }
}

/// Lambda's function names: 1 to 64 letters, digits, `-` and `_`.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        anyhow::bail!("not a Lambda function name: use 1 to 64 letters, digits, - and _");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("functions.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn defaults() -> LocalOptions {
        LocalOptions {
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            env: vec![("FROM_CLI".into(), "1".into())],
            ..LocalOptions::default()
        }
    }

    #[test]
    fn entries_override_the_command_lines_settings() {
        let (dir, path) = write(
            r#"{"functions": {
                "a": {"handler": "hello.handler", "task_root": "rust"},
                "b-2": {"handler": "app.handler", "task_root": "/abs", "environment": {"K": "v"},
                        "memory": 256, "timeout": 1.5, "concurrency": 3}}}"#,
        );
        let specs = read(&path, &defaults(), 2).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].options.function_name.as_deref(), Some("a"));
        assert_eq!(specs[0].options.task_root, dir.path().join("rust"));
        assert_eq!(specs[0].concurrency, 2);
        assert_eq!(specs[1].options.task_root, PathBuf::from("/abs"));
        assert_eq!(specs[1].options.memory_mb, 256);
        assert_eq!(specs[1].options.timeout, Duration::from_millis(1500));
        assert_eq!(specs[1].concurrency, 3);
        assert_eq!(specs[1].options.env.len(), 2);
    }

    #[test]
    fn says_which_function_and_setting_is_wrong() {
        for (text, expected) in [
            (r#"{"functions": {}}"#, "is empty"),
            (r#"{"function": {}}"#, "unknown field"),
            (r#"{"functions": {"a": {"handler": "h.x"}}}"#, "task_root"),
            (
                r#"{"functions": {"a b": {"handler": "h.x", "task_root": "."}}}"#,
                "\"a b\": not a Lambda function name",
            ),
            (
                r#"{"functions": {"a": {"handler": "h.x", "task_root": ".", "memory": 64}}}"#,
                "memory 64",
            ),
            (
                r#"{"functions": {"a": {"handler": "h.x", "task_root": ".", "timeout": 0}}}"#,
                "timeout 0",
            ),
            (
                r#"{"functions": {"a": {"handler": "h.x", "task_root": ".", "concurrency": 0}}}"#,
                "concurrency 0",
            ),
            ("not json", "expected"),
        ] {
            let (_dir, path) = write(text);
            let error = format!("{:#}", read(&path, &defaults(), 1).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
            assert!(error.contains("functions.json"), "{error}");
        }
        let missing = format!(
            "{}",
            read(Path::new("/nope/f.json"), &defaults(), 1).unwrap_err()
        );
        assert!(
            missing.contains("cannot read the config file /nope/f.json"),
            "{missing}"
        );
    }
}
