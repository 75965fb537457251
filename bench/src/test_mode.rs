//! Test mode (`lambda-wasm invoke`, a fresh process each run): the Init
//! Duration of its REPORT line for the Python seed hello, and for the Rust
//! hello's `.wasm` alone, whose compiled module the first run puts in the
//! cache under `$XDG_CACHE_HOME/lambda-wasm` (a fresh one here) and the
//! later runs load.

use std::path::Path;

use anyhow::{Context as _, bail};

use crate::{Paths, median};

/// Timed runs after the first.
const RUNS: usize = 11;

/// Init Durations of `invoke`, ms.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The first run, which fills the cache.
    pub first_ms: f64,
    /// The median of the [`RUNS`] after it.
    pub median_ms: f64,
}

/// Both test-mode measurements; an error says why one was not made.
#[derive(Debug)]
pub struct TestMode {
    pub python_init: Result<Timing, String>,
    pub cached_wasm_init: Result<Timing, String>,
}

impl TestMode {
    /// What the report shows when test mode was not run.
    pub fn not_run(why: &str) -> Self {
        TestMode {
            python_init: Err(why.into()),
            cached_wasm_init: Err(why.into()),
        }
    }
}

pub fn measure(paths: &Paths) -> TestMode {
    let python_init = match &paths.python_home {
        Some(home) => timing(
            paths,
            "python-hello",
            ("lambda_function.py", &paths.root.join("bench/seed-hello")),
            "lambda_function.lambda_handler",
            &[("LAMBDA_WASM_PYTHON_HOME", home)],
        ),
        None => Err(anyhow::anyhow!(crate::rows::NO_PYTHON)),
    };
    let cached_wasm_init = timing(
        paths,
        "rust-wasm",
        ("hello.wasm", &paths.guest_dir),
        "hello.handler",
        &[],
    );
    let why = |e: anyhow::Error| format!("{e:#}");
    TestMode {
        python_init: python_init.map_err(why),
        cached_wasm_init: cached_wasm_init.map_err(why),
    }
}

/// `invoke` of `handler` in a task root holding only `file` (copied from
/// `from`), with a cache of its own: the first run, then [`RUNS`] more.
fn timing(
    paths: &Paths,
    name: &str,
    (file, from): (&str, &Path),
    handler: &str,
    env: &[(&str, &Path)],
) -> anyhow::Result<Timing> {
    let dir = paths.work.join("test-mode").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let (task_root, cache) = (dir.join("task-root"), dir.join("cache"));
    std::fs::create_dir_all(&task_root)?;
    std::fs::copy(from.join(file), task_root.join(file))
        .with_context(|| format!("{} missing", from.join(file).display()))?;
    let invoke = || {
        let out = std::process::Command::new(&paths.lambda_wasm)
            .args(["invoke", handler, "--task-root"])
            .arg(&task_root)
            .arg("--event")
            .arg(paths.root.join("guests/events/hello.json"))
            .env("XDG_CACHE_HOME", &cache)
            .envs(env.iter().copied())
            .output()
            .context("run lambda-wasm invoke")?;
        let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
        match init_duration_ms(&text) {
            Some(ms) if out.status.success() => Ok(ms),
            _ => bail!(
                "`lambda-wasm invoke {handler}` gave no Init Duration ({}):\n{text}",
                out.status
            ),
        }
    };
    let first_ms = invoke()?;
    let runs = (0..RUNS)
        .map(|_| invoke())
        .collect::<anyhow::Result<Vec<f64>>>()?;
    Ok(Timing {
        first_ms,
        median_ms: median(&runs).context("no runs")?,
    })
}

/// The Init Duration of a REPORT line, ms.
fn init_duration_ms(text: &str) -> Option<f64> {
    let (_, after) = text.split_once("Init Duration: ")?;
    after.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_init_duration_from_the_report_line() {
        let report = "END RequestId: 1\nREPORT RequestId: 1\tDuration: 0.52 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 2 MB\tInit Duration: 3.41 ms\n";
        assert_eq!(init_duration_ms(report), Some(3.41));
        assert_eq!(
            init_duration_ms("REPORT RequestId: 1\tDuration: 0.52 ms"),
            None
        );
    }
}
