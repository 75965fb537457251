//! Per-event instructions (valgrind's callgrind) of the Rust hello guest's
//! bootstrap and of the native anchor: each runs through the fake endpoint
//! twice, with [`FEW`] and [`MANY`] warm events, and (total at MANY − total
//! at FEW) / (MANY − FEW) is what one event costs, start-up cancelled out.
//! Instructions rather than time: wall time on a shared machine is noise.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::Paths;
use crate::endtoend::{events, fresh_log, start, terminate};
use crate::rows::{Row, run, which};

const FEW: usize = 1_000;
const MANY: usize = 3_000;

/// User-space instructions per warm event.
#[derive(Debug, Clone, Copy)]
pub struct PerEvent {
    pub wasm_rust: f64,
    pub native: f64,
}

/// Counts the `wasm-rust` and `native` rows of `rows`; the error says why
/// that could not be done (valgrind missing, a row missing or failing).
pub async fn measure(paths: &Paths, rows: &[Row]) -> Result<PerEvent, String> {
    let valgrind = which("valgrind").ok_or("valgrind not installed (`make bench-tools`)")?;
    let row = |id: &str| {
        rows.iter()
            .find(|r| r.id == id)
            .ok_or_else(|| format!("no `{id}` row"))
    };
    let (native, wasm_rust) = (row("native")?, row("wasm-rust")?);
    let counted = async {
        let wasm_rust = compiled_under_valgrind(paths, &valgrind, wasm_rust)?;
        anyhow::Ok(PerEvent {
            wasm_rust: per_event(paths, &valgrind, &wasm_rust).await?,
            native: per_event(paths, &valgrind, native).await?,
        })
    };
    counted
        .await
        .map_err(|e| format!("callgrind failed: {e:#}"))
}

/// `row` with its `.cwasm` compiled again under valgrind (`--tool=none`):
/// valgrind shows the program fewer CPU features than the machine has, and
/// a `.cwasm` built for more would be refused and the `.wasm` compiled in
/// the counted run.
fn compiled_under_valgrind(paths: &Paths, valgrind: &Path, row: &Row) -> anyhow::Result<Row> {
    let dir = paths.work.join("callgrind").join(row.id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let wasm = dir.join("hello.wasm");
    std::fs::copy(row.task_root.join("hello.wasm"), &wasm)?;
    run(std::process::Command::new(valgrind)
        .args(["-q", "--tool=none"])
        .arg(&paths.lambda_wasm)
        .arg("compile")
        .arg(&wasm))?;
    Ok(Row {
        task_root: dir,
        ..row.clone()
    })
}

async fn per_event(paths: &Paths, valgrind: &Path, row: &Row) -> anyhow::Result<f64> {
    let few = total(paths, valgrind, row, FEW).await?;
    let many = total(paths, valgrind, row, MANY).await?;
    Ok(many.saturating_sub(few) as f64 / (MANY - FEW) as f64)
}

/// The instructions of one process of `row` under callgrind: a cold start
/// and `count` warm events, then SIGTERM (on which callgrind writes its
/// counts).
async fn total(paths: &Paths, valgrind: &Path, row: &Row, count: usize) -> anyhow::Result<u64> {
    let out = paths
        .work
        .join("callgrind")
        .join(format!("{}-{count}.out", row.id));
    let _ = std::fs::remove_file(&out);
    let mut args = vec![
        "--tool=callgrind".to_string(),
        format!("--callgrind-out-file={}", out.display()),
        row.program.to_string_lossy().into_owned(),
    ];
    args.extend(row.args.iter().cloned());
    let counted = Row {
        program: PathBuf::from(valgrind),
        args,
        ..row.clone()
    };
    let log = fresh_log(paths, &format!("callgrind-{}-{count}", row.id));
    let started = start(&counted, &log).await?;
    events(&started.api, counted.exchange, count).await?;
    terminate(started.child).await;
    let text = std::fs::read_to_string(&out).with_context(|| {
        format!(
            "no callgrind output {}; see {}",
            out.display(),
            log.display()
        )
    })?;
    totals(&text).with_context(|| format!("no `totals:` line in {}", out.display()))
}

/// The instruction count of a callgrind output file.
fn totals(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("totals:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_totals_line() {
        let out = "version: 1\ncmd: /bin/true\nevents: Ir\nfl=(1) x\n0 5\nsummary: 300195\ntotals: 300195\n";
        assert_eq!(totals(out), Some(300_195));
        assert_eq!(totals("events: Ir\n"), None);
    }
}
