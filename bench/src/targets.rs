//! Issue 16's targets: one row each with what was measured, whether it met
//! the target, and a link to its "how we got here" in BENCHMARKS.md (a
//! `### ` heading named by the target). A target whose measurement did not
//! run says "not measured" and why, never a number.

use std::fmt::Write as _;

use crate::Measured;
use crate::endtoend::RowResult;
use crate::report::Criterion;

/// One target and what this run found.
#[derive(Debug)]
pub struct Target {
    /// What is measured; also the BENCHMARKS.md heading that says how we got here.
    pub what: &'static str,
    pub goal: &'static str,
    /// What was measured and whether it meets the goal, or why it was not measured.
    pub result: Result<Outcome, String>,
}

#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub measured: String,
    pub met: bool,
}

/// The heading above each target's "how we got here" in BENCHMARKS.md.
pub const SECTION: &str = "Issue 16's targets: how we got here";

/// Issue 16's targets, in its order.
pub fn table(m: &Measured, criterion: &Criterion) -> Vec<Target> {
    let target = |what, goal, result| Target { what, goal, result };
    vec![
        target(
            "Rust per-event instructions",
            "≤ 1.05× the native anchor's (callgrind)",
            instructions(m),
        ),
        target(
            "Rust events per second",
            "≥ the native anchor's",
            events_per_s(m),
        ),
        target(
            "Rust peak RSS",
            "≤ 8 MB",
            peak_rss_at_most(m, "wasm-rust", 8.0),
        ),
        target(
            "Warm boundary",
            "≤ 2 µs (hello via the ABI − natively, criterion medians)",
            boundary(criterion),
        ),
        target(
            "Rust cold start",
            "`.cwasm` within 1 ms of native (spawn → first response, median)",
            rust_cold_start(m),
        ),
        target(
            "Python seed hello cold start",
            "≤ 10 ms (packaged, spawn → first response, median of 21)",
            cold_start_at_most(m, "packaged-python-hello", 10.0),
        ),
        target(
            "invoke Init Duration",
            "≤ 5 ms (`lambda-wasm invoke`, Python seed hello, median)",
            init_at_most(&m.test_mode.python_init, 5.0),
        ),
        target(
            "Python seed increment cold start",
            "≤ 12 ms (packaged, spawn → first response, median of 21)",
            cold_start_at_most(m, "packaged-python-increment", 12.0),
        ),
        target(
            "Python numpy cold start",
            "≤ 30 ms (`import numpy as np`, packaged, median of 21)",
            cold_start_at_most(m, "packaged-python-numpy", 30.0),
        ),
        target(
            "Python peak RSS",
            "≤ awslambdaric's on the same handler (seed hello)",
            python_peak_rss(m),
        ),
        target(
            "Second invoke of a wasm",
            "a few ms: Init Duration ≤ 5 ms (compile cache, median)",
            init_at_most(&m.test_mode.cached_wasm_init, 5.0),
        ),
    ]
}

/// The Targets table in Markdown.
pub fn markdown(targets: &[Target]) -> String {
    let mut s = String::from(
        "| target | goal | measured | met | how we got here |\n|---|---|---|---|---|\n",
    );
    for t in targets {
        let (measured, met) = match &t.result {
            Ok(o) => (o.measured.clone(), if o.met { "yes" } else { "**no**" }),
            Err(why) => (format!("not measured ({})", one_line(why)), "–"),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {measured} | {met} | [how](#{}) |",
            t.what,
            t.goal,
            anchor(t.what)
        );
    }
    s
}

/// A Markdown table cell's text: one line, no column bars.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/")
}

/// The anchor GitHub gives a heading: lower case, spaces to hyphens,
/// punctuation other than `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The measured row `id`, or why there is none.
fn row<'a>(m: &'a Measured, id: &str) -> Result<&'a RowResult, String> {
    match m.rows.iter().find(|r| r.id == id) {
        Some(r) if r.events > 0 => Ok(r),
        Some(r) => Err(format!("`{id}` {}", r.note)),
        None => Err(m
            .skipped
            .iter()
            .find(|s| s.ids.contains(&id))
            .map(|s| s.why.clone())
            .unwrap_or_else(|| format!("row `{id}` not run (--only)"))),
    }
}

fn cold_ms(m: &Measured, id: &str) -> Result<f64, String> {
    row(m, id)?
        .cold_median_ms()
        .ok_or_else(|| format!("`{id}` has no cold start"))
}

fn peak_mb(m: &Measured, id: &str) -> Result<f64, String> {
    row(m, id)?
        .peak_rss_kb
        .map(|kb| kb as f64 / 1024.0)
        .ok_or_else(|| format!("`{id}` has no peak RSS"))
}

fn instructions(m: &Measured) -> Result<Outcome, String> {
    let counts = m.instructions.as_ref().map_err(Clone::clone)?;
    let ratio = counts.wasm_rust / counts.native;
    Ok(Outcome {
        measured: format!(
            "{ratio:.3}× ({:.0} vs {:.0} per event)",
            counts.wasm_rust, counts.native
        ),
        met: ratio <= 1.05,
    })
}

fn events_per_s(m: &Measured) -> Result<Outcome, String> {
    let (wasm, native) = (row(m, "wasm-rust")?, row(m, "native")?);
    let ratio = wasm.events_per_s / native.events_per_s;
    Ok(Outcome {
        measured: format!(
            "{ratio:.3}× ({:.0} vs {:.0})",
            wasm.events_per_s, native.events_per_s
        ),
        met: ratio >= 1.0,
    })
}

fn peak_rss_at_most(m: &Measured, id: &str, limit_mb: f64) -> Result<Outcome, String> {
    let peak = peak_mb(m, id)?;
    Ok(Outcome {
        measured: format!("{peak:.1} MB"),
        met: peak <= limit_mb,
    })
}

fn boundary(criterion: &Criterion) -> Result<Outcome, String> {
    let median = |id: &str| {
        criterion.get(id).map(|(_, median)| *median).ok_or_else(|| {
            format!("no criterion result `{id}` (`cargo bench -p lambda-wasm --bench sandbox`)")
        })
    };
    let over_us =
        (median("invoke/rust-hello/wasm-abi")? - median("invoke/rust-hello/native")?) / 1e3;
    Ok(Outcome {
        measured: format!("{over_us:.2} µs"),
        met: over_us <= 2.0,
    })
}

fn rust_cold_start(m: &Measured) -> Result<Outcome, String> {
    let (wasm, native) = (cold_ms(m, "wasm-rust")?, cold_ms(m, "native")?);
    Ok(Outcome {
        measured: format!("{:+.1} ms ({wasm:.1} vs {native:.1})", wasm - native),
        met: wasm - native <= 1.0,
    })
}

fn cold_start_at_most(m: &Measured, id: &str, limit_ms: f64) -> Result<Outcome, String> {
    let cold = cold_ms(m, id)?;
    Ok(Outcome {
        measured: format!("{cold:.1} ms"),
        met: cold <= limit_ms,
    })
}

fn init_at_most(
    timing: &Result<crate::test_mode::Timing, String>,
    limit_ms: f64,
) -> Result<Outcome, String> {
    let timing = timing.as_ref().map_err(Clone::clone)?;
    Ok(Outcome {
        measured: format!(
            "{:.1} ms (first run {:.1} ms)",
            timing.median_ms, timing.first_ms
        ),
        met: timing.median_ms <= limit_ms,
    })
}

fn python_peak_rss(m: &Measured) -> Result<Outcome, String> {
    let (ours, ric) = (
        peak_mb(m, "packaged-python-hello")?,
        peak_mb(m, "awslambdaric")?,
    );
    Ok(Outcome {
        measured: format!("{ours:.1} vs {ric:.1} MB"),
        met: ours <= ric,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callgrind::PerEvent;
    use crate::rows::Skipped;
    use crate::test_mode::{TestMode, Timing};

    fn row(id: &str, events_per_s: f64, cold_ms: f64, peak_mb: u64) -> RowResult {
        RowResult {
            id: id.into(),
            events: 100,
            events_per_s,
            cold_ms: vec![cold_ms],
            peak_rss_kb: Some(peak_mb * 1024),
            ..RowResult::default()
        }
    }

    fn outcome<'a>(targets: &'a [Target], what: &str) -> &'a Result<Outcome, String> {
        &targets.iter().find(|t| t.what == what).unwrap().result
    }

    fn met(targets: &[Target], what: &str) -> bool {
        outcome(targets, what).as_ref().unwrap().met
    }

    #[test]
    fn each_target_is_met_or_not_by_its_measurement() {
        let measured = Measured {
            rows: vec![
                row("native", 2000.0, 2.0, 4),
                row("wasm-rust", 2500.0, 3.5, 7),
                row("awslambdaric", 1900.0, 90.0, 15),
                row("packaged-python-hello", 2100.0, 9.0, 31),
                row("packaged-python-increment", 2100.0, 12.5, 33),
            ],
            skipped: Vec::new(),
            instructions: Ok(PerEvent {
                wasm_rust: 103_000.0,
                native: 100_000.0,
            }),
            test_mode: TestMode {
                python_init: Ok(Timing {
                    first_ms: 40.0,
                    median_ms: 6.0,
                }),
                cached_wasm_init: Ok(Timing {
                    first_ms: 200.0,
                    median_ms: 3.0,
                }),
            },
        };
        let criterion = Criterion::from([
            ("invoke/rust-hello/wasm-abi".to_string(), (0.0, 3_400.0)),
            ("invoke/rust-hello/native".to_string(), (0.0, 1_400.0)),
        ]);
        let targets = table(&measured, &criterion);
        assert_eq!(targets.len(), 11, "one row per target of issue 16");
        assert!(
            met(&targets, "Rust per-event instructions"),
            "1.03× ≤ 1.05×"
        );
        assert!(met(&targets, "Rust events per second"));
        assert!(met(&targets, "Rust peak RSS"), "7 MB ≤ 8 MB");
        assert!(met(&targets, "Warm boundary"), "exactly 2 µs is met");
        assert!(!met(&targets, "Rust cold start"), "+1.5 ms");
        assert!(met(&targets, "Python seed hello cold start"));
        assert!(!met(&targets, "invoke Init Duration"), "6 ms > 5 ms");
        assert!(
            !met(&targets, "Python seed increment cold start"),
            "12.5 ms > 12 ms"
        );
        assert!(
            !met(&targets, "Python peak RSS"),
            "31 MB > awslambdaric's 15 MB"
        );
        assert!(met(&targets, "Second invoke of a wasm"));
        assert_eq!(
            outcome(&targets, "Rust cold start"),
            &Ok(Outcome {
                measured: "+1.5 ms (3.5 vs 2.0)".into(),
                met: false
            })
        );
    }

    #[test]
    fn a_missing_measurement_says_why_and_shows_no_number() {
        let measured = Measured {
            rows: vec![
                row("native", 2000.0, 2.0, 4),
                RowResult {
                    id: "wasm-rust".into(),
                    note: "failed: exited before answering".into(),
                    ..RowResult::default()
                },
            ],
            skipped: vec![Skipped {
                ids: vec!["packaged-python-hello", "packaged-python-numpy"],
                why: "no interpreter (`make python`)".into(),
            }],
            instructions: Err("valgrind not installed (`make bench-tools`)".into()),
            test_mode: TestMode::not_run("not in --only"),
        };
        let targets = table(&measured, &Criterion::new());
        let why = |what| outcome(&targets, what).as_ref().unwrap_err().clone();
        assert_eq!(
            why("Rust per-event instructions"),
            "valgrind not installed (`make bench-tools`)"
        );
        assert_eq!(
            why("Rust events per second"),
            "`wasm-rust` failed: exited before answering"
        );
        assert_eq!(
            why("Python numpy cold start"),
            "no interpreter (`make python`)"
        );
        assert_eq!(
            why("Python seed increment cold start"),
            "row `packaged-python-increment` not run (--only)"
        );
        assert!(why("Warm boundary").contains("cargo bench"));
        assert_eq!(why("Second invoke of a wasm"), "not in --only");
        let text = markdown(&targets);
        assert!(text.contains(
            "| Rust per-event instructions | ≤ 1.05× the native anchor's (callgrind) | not measured (valgrind not installed (`make bench-tools`)) | – | [how](#rust-per-event-instructions) |"
        ));
        assert_eq!(text.lines().count(), 2 + 11);
    }

    #[test]
    fn every_target_links_to_its_how_we_got_here_in_benchmarks_md() {
        let benchmarks = include_str!("../../BENCHMARKS.md");
        let section = benchmarks
            .split_once(&format!("\n## {SECTION}\n"))
            .expect("BENCHMARKS.md has the targets' section")
            .1;
        let measured = Measured {
            rows: Vec::new(),
            skipped: Vec::new(),
            instructions: Err(String::new()),
            test_mode: TestMode::not_run(""),
        };
        for target in table(&measured, &Criterion::new()) {
            assert!(
                section.contains(&format!("\n### {}\n", target.what)),
                "no `### {}` in BENCHMARKS.md's \"{SECTION}\"",
                target.what
            );
        }
    }
}
