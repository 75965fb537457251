//! `lambda-wasm package`: a deployment package folder for a `provided.al2023`
//! function: this binary as `bootstrap`, the task root's files, a `.cwasm`
//! beside every `.wasm` (no compile at cold start), the Python interpreter
//! when the package has Python handlers, with the runtime glue precompiled
//! to bytecode (no parse at cold start either), and the JavaScript runner,
//! precompiled, when it has JavaScript.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::engine;
use crate::engine::source::{self, Freshness};
use crate::guest::python::{self, prepare::prepare_runtime};
use crate::guest::{javascript, ruby};
use crate::settings::{JS_HOME_VARIABLE, RUBY_HOME_VARIABLE};

/// Lambda's limit on a function's unzipped deployment package.
pub const LAMBDA_UNZIPPED_LIMIT: u64 = 250 * 1024 * 1024;

/// What was packaged.
#[derive(Debug)]
pub struct PackageReport {
    /// Bytes of every file in the package.
    pub unzipped_bytes: u64,
    /// Modules precompiled to `.cwasm`.
    pub compiled: Vec<PathBuf>,
    /// Whether the Python interpreter was included.
    pub with_python: bool,
    /// Whether the JavaScript runner was included.
    pub with_javascript: bool,
    /// Whether the Ruby interpreter was included.
    pub with_ruby: bool,
}

/// Builds the package for `task_root` in the empty (or new) folder `out`,
/// taking the interpreters from `python_home`, `js_home` and `ruby_home`.
pub fn package(
    task_root: &Path,
    out: &Path,
    python_home: &Path,
    js_home: &Path,
    ruby_home: &Path,
) -> anyhow::Result<PackageReport> {
    if !task_root.is_dir() {
        bail!("the task root {} is not a folder", task_root.display());
    }
    if out.exists()
        && out
            .read_dir()
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not empty; give a new folder with --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let engine = engine::new_engine().map_err(anyhow::Error::from)?;
    let mut report = PackageReport {
        unzipped_bytes: 0,
        compiled: Vec::new(),
        with_python: false,
        with_javascript: false,
        with_ruby: false,
    };
    for file in files_under(task_root)? {
        let relative = file
            .strip_prefix(task_root)
            .expect("files_under yields paths under the root");
        let target = out.join(relative);
        copy(&file, &target)?;
        if file.extension().is_some_and(|ext| ext == "wasm") {
            // From the copy, whose size and time the sidecar then records:
            // the cold start's check of them needs no hashing.
            engine::compile_to_file(&engine, &target, &target.with_extension("cwasm"))?;
            report.compiled.push(relative.to_path_buf());
        }
        report.with_python |= file.extension().is_some_and(|ext| ext == "py");
        report.with_javascript |= javascript::is_source(&file);
        report.with_ruby |= ruby::is_source(&file);
    }
    let executable = std::env::current_exe().context("cannot find this executable")?;
    copy(&executable, &out.join("bootstrap"))?;
    if report.with_python {
        let home = python_home;
        let has_cwasm = files_under(home)?
            .iter()
            .any(|f| f.extension().is_some_and(|ext| ext == "cwasm"));
        require_fresh_cwasm(home)?;
        // Bytecode is copied only if it is this host's (see below).
        let needed = |f: &PathBuf| {
            let is_wasm = f.extension().is_some_and(|ext| ext == "wasm");
            let replaced = has_cwasm && is_wasm;
            !(replaced || python::is_runtime_pyc(f))
        };
        for file in files_under(home)?.into_iter().filter(needed) {
            let relative = file.strip_prefix(home).expect("under the home");
            copy(&file, &out.join("python").join(relative))?;
        }
        include_runtime_pyc(home, &out.join("python"))?;
    }
    if report.with_javascript {
        let missing = format!("run `make js` or set {JS_HOME_VARIABLE}");
        let files = javascript::RUNNER_FILES;
        include_precompiled(&engine, js_home, files, &out.join("js"), &missing)?;
    }
    if report.with_ruby {
        let missing = format!("run `make ruby` or set {RUBY_HOME_VARIABLE}");
        let files = ruby::INTERPRETER_FILES;
        include_precompiled(&engine, ruby_home, files, &out.join("ruby"), &missing)?;
    }
    report.unzipped_bytes = files_under(out)?
        .iter()
        .map(|f| f.metadata().map_or(0, |m| m.len()))
        .sum();
    Ok(report)
}

/// Puts this host's runtime bytecode in the packaged interpreter: copied from
/// `home` when it was prepared there, else compiled now.
fn include_runtime_pyc(home: &Path, packaged_home: &Path) -> anyhow::Result<()> {
    let prepared = python::runtime_pyc_path(home);
    if prepared.is_file() {
        return copy(&prepared, &python::runtime_pyc_path(packaged_home));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start an async runtime to compile the Python runtime glue")?
        .block_on(prepare_runtime(packaged_home))
        .map(drop)
}

/// Refuses an interpreter `.cwasm` compiled from another `.wasm` than the
/// one beside it: the package ships the `.cwasm` alone, so it would run old code.
fn require_fresh_cwasm(home: &Path) -> anyhow::Result<()> {
    for cwasm in files_under(home)?
        .into_iter()
        .filter(|f| f.extension().is_some_and(|ext| ext == "cwasm"))
    {
        let wasm = cwasm.with_extension("wasm");
        if wasm.is_file() && source::freshness(&cwasm, &wasm) == Freshness::Stale {
            bail!(
                "{} was compiled from another {} than the one there now; run `lambda-wasm compile {}` (make python does) and package again",
                cwasm.display(),
                wasm.display(),
                wasm.display()
            );
        }
    }
    Ok(())
}

/// Puts an interpreter (the JavaScript runner, Ruby) in the package,
/// precompiled: `files` are its `.cwasm` and `.wasm` names; the `.cwasm`
/// from `home`, else the `.wasm` compiled now; `missing` says how to get it.
fn include_precompiled(
    engine: &wasmtime::Engine,
    home: &Path,
    files: [&str; 2],
    packaged_home: &Path,
    missing: &str,
) -> anyhow::Result<()> {
    let [cwasm, wasm] = files.map(|name| home.join(name));
    let packaged = packaged_home.join(files[0]);
    if cwasm.is_file() {
        return copy(&cwasm, &packaged);
    }
    if !wasm.is_file() {
        bail!(
            "the task root needs {} or {} in {}, which is not there; {missing}",
            files[0],
            files[1],
            home.display()
        );
    }
    std::fs::create_dir_all(packaged_home)
        .with_context(|| format!("cannot create {}", packaged_home.display()))?;
    engine::compile_to_file(engine, &wasm, &packaged)
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Every regular file under `root`, following no symbolic links out of it.
fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("cannot list {}", folder.display()))?
        {
            let path = entry?.path();
            let metadata = std::fs::metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if metadata.is_dir() {
                folders.push(path);
            } else if metadata.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_modules_with_their_cwasm_and_the_bootstrap() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pkg")).unwrap();
        std::fs::write(
            root.path().join("pkg/m.wasm"),
            wat::parse_str("(module)").unwrap(),
        )
        .unwrap();
        std::fs::write(root.path().join("config.json"), "{}").unwrap();
        let out = tempfile::tempdir().unwrap();
        let report = package(
            root.path(),
            &out.path().join("pkg-out"),
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
        )
        .unwrap();
        for file in ["bootstrap", "config.json", "pkg/m.wasm", "pkg/m.cwasm"] {
            assert!(out.path().join("pkg-out").join(file).is_file(), "{file}");
        }
        assert_eq!(report.compiled, [PathBuf::from("pkg/m.wasm")]);
        assert!(!report.with_python && !report.with_javascript && !report.with_ruby);
        assert!(report.unzipped_bytes > 0);
    }

    #[test]
    fn packaged_modules_are_fresh_by_size_and_time() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("m.wasm"),
            wat::parse_str("(module)").unwrap(),
        )
        .unwrap();
        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().join("pkg");
        package(
            root.path(),
            &out,
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
        )
        .unwrap();
        let sidecar = std::fs::read_to_string(out.join("m.cwasm.source")).unwrap();
        let record: source::SourceRecord = serde_json::from_str(&sidecar).unwrap();
        let copy = std::fs::metadata(out.join("m.wasm")).unwrap();
        let since_epoch = copy
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        assert_eq!(
            (record.modified_secs, record.modified_nanos),
            (since_epoch.as_secs(), since_epoch.subsec_nanos()),
            "the record is the packaged copy's"
        );
    }

    #[test]
    fn refuses_a_stale_interpreter_cwasm() {
        let home = tempfile::tempdir().unwrap();
        let wasm = home.path().join("python-snapshot.wasm");
        std::fs::write(&wasm, wat::parse_str("(module)").unwrap()).unwrap();
        let engine = engine::new_engine().unwrap();
        engine::compile_to_file(&engine, &wasm, &wasm.with_extension("cwasm")).unwrap();
        assert!(require_fresh_cwasm(home.path()).is_ok());
        std::fs::write(&wasm, wat::parse_str("(module (func))").unwrap()).unwrap();
        let error = require_fresh_cwasm(home.path()).unwrap_err().to_string();
        assert!(error.contains("lambda-wasm compile"), "{error}");
    }

    #[test]
    fn refuses_to_write_into_a_folder_with_files() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("hello.wasm"),
            wat::parse_str("(module)").unwrap(),
        )
        .unwrap();
        let nowhere = Path::new("/nonexistent");
        let error = package(root.path(), root.path(), nowhere, nowhere, nowhere)
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not empty"), "{error}");
    }
}
