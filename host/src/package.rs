//! `lambda-wasm package`: a deployment package for a `provided.al2023`
//! function, written straight to `function.zip` ([`archive`]): the
//! `bootstrap` (this binary, or one built for the other architecture), the
//! task root's files, a `.cwasm` beside every `.wasm` compiled for the
//! architecture's baseline CPU ([`Arch`]; no compile at cold start, on any
//! Lambda host), the Python interpreter when the package has Python
//! handlers (its runtime glue and the task root's `.py` files precompiled
//! to bytecode by that interpreter, no parse at cold start either) and the
//! JavaScript runner when it has JavaScript, and for an interpreted
//! handler the interpreter's snapshot after its import ([`handler_snapshot`]).

pub mod archive;
pub mod handler_snapshot;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use wasmtime::Engine;

use self::archive::{Contents, ENTRY_TIME_UNIX_SECS};
pub use self::archive::{DIRECT_UPLOAD_LIMIT, LAMBDA_UNZIPPED_LIMIT, megabytes};
use self::handler_snapshot::{Outcome, Plan};
use crate::engine;
use crate::engine::source::{self, Freshness, SourceRecord, WasmFile, files_under};
use crate::engine::target::Arch;
use crate::guest::interpreter::Language;
use crate::guest::interpreter::handler_snapshot::FileRecord;
use crate::guest::interpreter::prepare::block_on;
use crate::guest::python::{self, bytecode, prepare::prepare_runtime};
use crate::guest::{javascript, ruby};
use crate::settings::{JS_HOME_VARIABLE, RUBY_HOME_VARIABLE};

/// What to package.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// The function's files.
    pub task_root: PathBuf,
    /// The zip to write.
    pub out: PathBuf,
    /// The architecture of the function.
    pub arch: Arch,
    /// The `bootstrap` to include; `None`: this executable.
    pub bootstrap: Option<PathBuf>,
    /// The Python interpreter's home.
    pub python_home: PathBuf,
    /// The JavaScript runner's home.
    pub js_home: PathBuf,
    /// The Ruby interpreter's home.
    pub ruby_home: PathBuf,
    /// The handler whose snapshot to ship (default: the Lambda console's
    /// for the task root's `lambda_function` or `index` file).
    pub handler: Option<String>,
    /// The function's variables the handler snapshot is taken with.
    pub env: Vec<(String, String)>,
    /// Ship no handler snapshot.
    pub no_handler_snapshot: bool,
}

/// What was packaged.
#[derive(Debug)]
pub struct PackageReport {
    /// Bytes of every file in the package, as Lambda counts them.
    pub unzipped_bytes: u64,
    /// Bytes of the zip.
    pub zipped_bytes: u64,
    /// Modules precompiled to `.cwasm`.
    pub compiled: Vec<PathBuf>,
    /// `.cwasm` files stored compressed to fit Lambda's limit.
    pub compressed: Vec<String>,
    /// Whether the Python interpreter was included.
    pub with_python: bool,
    /// Whether the JavaScript runner was included.
    pub with_javascript: bool,
    /// Whether the Ruby interpreter was included.
    pub with_ruby: bool,
    /// The handler snapshot.
    pub handler_snapshot: Outcome,
}

/// Each interpreter and its folder in a package.
const INTERPRETER_FOLDERS: [(&Language, &str); 3] = [
    (&python::PYTHON, "python"),
    (&javascript::JAVASCRIPT, "js"),
    (&ruby::RUBY, "ruby"),
];

/// Builds the package `options` describe and writes its zip.
pub fn package(options: &PackageOptions) -> anyhow::Result<PackageReport> {
    let task_root = &options.task_root;
    if !task_root.is_dir() {
        bail!("the task root {} is not a folder", task_root.display());
    }
    if options.out.is_dir() {
        bail!(
            "{} is a folder; give the zip file to write with --out (e.g. --out function.zip)",
            options.out.display()
        );
    }
    let engine = options
        .arch
        .compiling_engine()
        .map_err(anyhow::Error::from)?;
    let mut contents = Contents::default();
    let mut report = PackageReport {
        unzipped_bytes: 0,
        zipped_bytes: 0,
        compiled: Vec::new(),
        compressed: Vec::new(),
        with_python: false,
        with_javascript: false,
        with_ruby: false,
        handler_snapshot: Outcome::None,
    };
    let mut plan = match Plan::new(options)? {
        Ok(plan) => Some(plan),
        Err(outcome) => {
            report.handler_snapshot = outcome;
            None
        }
    };
    let out = std::path::absolute(&options.out).unwrap_or_else(|_| options.out.clone());
    for file in files_under(task_root)? {
        if std::path::absolute(&file).is_ok_and(|file| is_same_zip(&file, &out)) {
            continue;
        }
        let relative = file
            .strip_prefix(task_root)
            .expect("files_under yields paths under the root");
        let name = zip_name(relative)?;
        // The guest's CPython uses only bytecode of its own version, which
        // is compiled below; a task root's (pip's, the host Python's) is dead weight.
        if relative.iter().any(|part| part == "__pycache__") {
            continue;
        }
        if is_compiled_output(&file) {
            require_compiled_for(&file, options.arch)?;
        }
        contents.add_file(&name, &file)?;
        if let Some(plan) = &mut plan {
            let record = FileRecord::of(&file, name.clone(), Some(ENTRY_TIME_UNIX_SECS))?;
            plan.files.push(record);
        }
        if file.extension().is_some_and(|ext| ext == "wasm") {
            add_compiled(&mut contents, &engine, &file, &name)?;
            report.compiled.push(relative.to_path_buf());
        }
        report.with_python |= file.extension().is_some_and(|ext| ext == "py");
        report.with_javascript |= javascript::is_source(&file);
        report.with_ruby |= ruby::is_source(&file);
    }
    let bootstrap = bootstrap_for(options)?;
    contents.add_executable("bootstrap", &bootstrap)?;
    if report.with_python {
        add_python(&mut contents, &engine, options)?;
        add_task_root_bytecode(&mut contents, options)?;
    }
    if report.with_javascript {
        add_javascript(&mut contents, &engine, options).with_context(|| {
            format!("the task root has JavaScript; run `make js` or set {JS_HOME_VARIABLE}")
        })?;
    }
    if report.with_ruby {
        add_ruby(&mut contents, &engine, options).with_context(|| {
            format!("the task root has Ruby; run `make ruby` or set {RUBY_HOME_VARIABLE}")
        })?;
    }
    if let Some(plan) = &plan {
        report.handler_snapshot = add_handler_snapshot(&mut contents, plan)?;
    }
    report.compressed = contents.fit_lambda_limit()?;
    report.unzipped_bytes = contents.unzipped_bytes();
    report.zipped_bytes = contents.write_zip(&options.out)?;
    Ok(report)
}

/// Whether `file` is the zip being written (a task root of `.` holding an
/// earlier `function.zip`), which must not package itself.
fn is_same_zip(file: &Path, out: &Path) -> bool {
    file == out || file == out.with_extension("zip.partial")
}

/// The entry name of `relative`: its parts joined with `/`.
fn zip_name(relative: &Path) -> anyhow::Result<String> {
    let parts: Option<Vec<&str>> = relative.iter().map(|part| part.to_str()).collect();
    parts
        .map(|parts| parts.join("/"))
        .with_context(|| format!("{} is not a UTF-8 file name", relative.display()))
}

/// Whether `file` is a precompiled module (which `package` may replace).
fn is_compiled_output(file: &Path) -> bool {
    file.extension().is_some_and(|ext| ext == "cwasm")
}

/// Refuses a task root's `.cwasm` without its `.wasm` (which `package` would
/// compile again) when it is for another architecture.
fn require_compiled_for(cwasm: &Path, arch: Arch) -> anyhow::Result<()> {
    if cwasm.with_extension("wasm").is_file() {
        return Ok(());
    }
    match elf_machine(cwasm)? {
        Some(machine) if machine == arch.elf_machine() => Ok(()),
        _ => bail!(
            "{} is not precompiled for {arch} and has no .wasm beside it to compile again; add the .wasm to the task root",
            cwasm.display()
        ),
    }
}

/// Compiles the task root's module `wasm` (entry `name`) for the package:
/// its `.cwasm` and the record of its source, which names the time the
/// `.wasm` gets when Lambda unzips it.
fn add_compiled(
    contents: &mut Contents,
    engine: &Engine,
    wasm: &Path,
    name: &str,
) -> anyhow::Result<()> {
    let file = WasmFile::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let compiled = engine::precompile(engine, wasm, &file.bytes)?;
    let cwasm_name = format!("{}.cwasm", name.trim_end_matches(".wasm"));
    let record = SourceRecord {
        modified_secs: ENTRY_TIME_UNIX_SECS,
        modified_nanos: 0,
        ..file.record
    };
    contents.add_bytes(
        &format!("{cwasm_name}.source"),
        serde_json::to_vec(&record).expect("a record serializes"),
    );
    contents.add_bytes(&cwasm_name, compiled);
    Ok(())
}

/// The `bootstrap`: the one given, else this executable when the function
/// is for this machine's architecture; either must be for that architecture.
fn bootstrap_for(options: &PackageOptions) -> anyhow::Result<PathBuf> {
    let arch = options.arch;
    let bootstrap = match &options.bootstrap {
        Some(path) => path.clone(),
        None if Arch::host() == Some(arch) => {
            std::env::current_exe().context("cannot find this executable")?
        }
        None => bail!(
            "this lambda-wasm runs on {}, not {arch}: build a bootstrap for {arch} (make bootstrap ARCH={arch}) and give it with --bootstrap",
            std::env::consts::ARCH
        ),
    };
    match elf_machine(&bootstrap)? {
        Some(machine) if machine == arch.elf_machine() => Ok(bootstrap),
        Some(_) => bail!(
            "{} is built for another architecture than {arch}; give a bootstrap built for {arch} (make bootstrap ARCH={arch})",
            bootstrap.display()
        ),
        None => bail!(
            "{} is not a Linux executable (no ELF header); give a lambda-wasm built for {arch}",
            bootstrap.display()
        ),
    }
}

/// The ELF `e_machine` of `file`, or `None` when it is not an ELF file.
fn elf_machine(file: &Path) -> anyhow::Result<Option<u16>> {
    use std::io::Read as _;
    let mut header = [0u8; 20];
    let read = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut header))
        .with_context(|| format!("cannot read {}", file.display()))?;
    // e_ident: the magic, then class, data (1: little-endian), ...;
    // e_machine is at offset 18 in both 32- and 64-bit headers.
    Ok(
        (read == header.len() && header.starts_with(b"\x7fELF") && header[5] == 1)
            .then(|| u16::from_le_bytes([header[18], header[19]])),
    )
}

/// Adds the Python interpreter: its licenses, standard library and runtime
/// bytecode (prepared in `python_home` now if it was not) and its module
/// precompiled for the architecture.
fn add_python(
    contents: &mut Contents,
    engine: &Engine,
    options: &PackageOptions,
) -> anyhow::Result<()> {
    let home = &options.python_home;
    let pyc = python::runtime_pyc_path(home);
    if !pyc.is_file() || !home.join(python_snapshot_name()).is_file() {
        block_on(|| prepare_runtime(home))?;
    }
    for file in files_under(home)? {
        let relative = file.strip_prefix(home).expect("under the home");
        let is_module = matches!(
            file.extension().and_then(|ext| ext.to_str()),
            Some("wasm" | "cwasm" | "zst" | "source")
        );
        // Bytecode is included only if it is this host's, the snapshot
        // with its key's record (both added below).
        let is_snapshot = file.file_name() == Some(python_snapshot_name());
        if !is_module && !is_snapshot && !python::is_runtime_pyc(&file) {
            contents.add_file(&format!("python/{}", zip_name(relative)?), &file)?;
        }
    }
    let pyc_name = zip_name(pyc.strip_prefix(home).expect("under the home"))?;
    contents.add_file(&format!("python/{pyc_name}"), &pyc)?;
    let [cwasm, wasm] = python::SNAPSHOT_FILES;
    add_interpreter(contents, engine, options.arch, home, "python", cwasm, wasm)
        .context("the task root has Python; run `make python` or set LAMBDA_WASM_PYTHON_HOME")?;
    let [rest_cwasm, rest_wasm] = python::REST_FILES;
    if home.join(rest_cwasm).is_file() || home.join(rest_wasm).is_file() {
        add_interpreter(
            contents,
            engine,
            options.arch,
            home,
            "python",
            rest_cwasm,
            rest_wasm,
        )?;
    }
    add_runtime_snapshot(contents, &python::PYTHON, home, "python")
}

/// The file name of Python's runtime snapshot in its home.
fn python_snapshot_name() -> &'static std::ffi::OsStr {
    let preinit = python::PYTHON.preinit.expect("Python is pre-initialised");
    std::ffi::OsStr::new(preinit.snapshot_file)
}

/// Adds the JavaScript runner precompiled for the architecture, with its
/// runtime snapshot (taken now in `js_home`) and the record of the `.wasm`
/// it came from, which the bootstrap keys that snapshot by.
fn add_javascript(
    contents: &mut Contents,
    engine: &Engine,
    options: &PackageOptions,
) -> anyhow::Result<()> {
    let home = &options.js_home;
    let [cwasm, wasm] = javascript::RUNNER_FILES;
    add_interpreter(contents, engine, options.arch, home, "js", cwasm, wasm)?;
    block_on(|| javascript::prepare_runner(home))?;
    add_runtime_snapshot(contents, &javascript::JAVASCRIPT, home, "js")
}

/// Adds the Ruby interpreter precompiled for the architecture, with its
/// runtime snapshot (taken now in `ruby_home`).
fn add_ruby(
    contents: &mut Contents,
    engine: &Engine,
    options: &PackageOptions,
) -> anyhow::Result<()> {
    let home = &options.ruby_home;
    let [cwasm, wasm] = ruby::INTERPRETER_FILES;
    add_interpreter(contents, engine, options.arch, home, "ruby", cwasm, wasm)?;
    block_on(|| ruby::prepare_runtime(home))?;
    add_runtime_snapshot(contents, &ruby::RUBY, home, "ruby")
}

/// Adds what restores `language`'s runtime snapshot in the package: the
/// snapshot in `home` and the record of the `.wasm` the interpreter's
/// `.cwasm` came from, which the bootstrap keys the snapshot by (without
/// that record a deployed snapshot is never restored).
fn add_runtime_snapshot(
    contents: &mut Contents,
    language: &Language,
    home: &Path,
    folder: &str,
) -> anyhow::Result<()> {
    let Some(preinit) = language.preinit else {
        return Ok(());
    };
    let snapshot = home.join(preinit.snapshot_file);
    contents.add_file(&format!("{folder}/{}", preinit.snapshot_file), &snapshot)?;
    let cwasm = preinit.interpreter_cwasm;
    let record = source::sidecar_path(&home.join(cwasm));
    contents.add_file(&format!("{folder}/{cwasm}.source"), &record)
}

/// Adds the handler snapshot `plan` takes now, in its interpreter's folder.
fn add_handler_snapshot(contents: &mut Contents, plan: &Plan) -> anyhow::Result<Outcome> {
    let (_, folder) = INTERPRETER_FOLDERS
        .iter()
        .find(|(language, _)| plan.is_for(language))
        .expect("every interpreted language has a folder");
    Ok(match plan.take(folder)? {
        Ok(entries) => {
            for (name, bytes) in entries {
                contents.add_bytes(&name, bytes);
            }
            Outcome::Shipped(plan.handler().to_string())
        }
        Err(outcome) => outcome,
    })
}

/// Adds bytecode for the task root's `.py` files, compiled by the package's
/// Python interpreter, beside each source in `__pycache__`.
fn add_task_root_bytecode(contents: &mut Contents, options: &PackageOptions) -> anyhow::Result<()> {
    let compiled =
        block_on(|| bytecode::compile_task_root(&options.python_home, &options.task_root, None))?;
    if !compiled.folder.is_dir() {
        return Ok(());
    }
    for file in files_under(&compiled.folder)? {
        let relative = file
            .strip_prefix(&compiled.folder)
            .expect("under the folder");
        let name = zip_name(&bytecode::pycache_path(relative))?;
        // Read now: the scratch folder is gone when the zip is written.
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        contents.add_bytes(&name, bytes);
    }
    Ok(())
}

/// Adds an interpreter's module, as `folder/cwasm_name`: the `.cwasm` in
/// `home` when it is for this architecture's baseline and compiled from the
/// `.wasm` there, else that `.wasm` compiled now (minutes for CPython).
fn add_interpreter(
    contents: &mut Contents,
    engine: &Engine,
    arch: Arch,
    home: &Path,
    folder: &str,
    cwasm_name: &str,
    wasm_name: &str,
) -> anyhow::Result<()> {
    let (cwasm, wasm) = (home.join(cwasm_name), home.join(wasm_name));
    let entry = format!("{folder}/{cwasm_name}");
    if cwasm.is_file() && is_portable(&cwasm, &wasm, arch) {
        return contents.add_file(&entry, &cwasm);
    }
    if !wasm.is_file() {
        bail!(
            "no {wasm_name} in {} to compile for {arch}{}",
            home.display(),
            if cwasm.is_file() {
                format!(
                    " (its {cwasm_name} is not for the {arch} baseline, {})",
                    arch.baseline_name()
                )
            } else {
                String::new()
            }
        );
    }
    tracing::info!(
        "compiling {} for {arch} ({}); an interpreter takes minutes (`lambda-wasm compile --portable` ahead of time saves this)",
        wasm.display(),
        arch.baseline_name()
    );
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    contents.add_bytes(&entry, engine::precompile(engine, &wasm, &bytes)?);
    Ok(())
}

/// Whether `cwasm` was compiled from `wasm` as it is now (or has no `.wasm`
/// beside it) and loads on every Lambda host of `arch`. That can be checked
/// only on `arch` itself: for the other architecture the module is compiled.
fn is_portable(cwasm: &Path, wasm: &Path, arch: Arch) -> bool {
    let fresh = !wasm.is_file() || source::freshness(cwasm, wasm) == Freshness::Fresh;
    fresh
        && Arch::host() == Some(arch)
        && arch
            .baseline_host_engine()
            .is_ok_and(|engine| engine::loads(&engine, cwasm))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(task_root: &Path, out: &Path) -> PackageOptions {
        PackageOptions {
            task_root: task_root.to_path_buf(),
            out: out.to_path_buf(),
            arch: Arch::host().expect("tests run on x86_64 or aarch64"),
            bootstrap: None,
            python_home: PathBuf::from("/nonexistent"),
            js_home: PathBuf::from("/nonexistent"),
            ruby_home: PathBuf::from("/nonexistent"),
            handler: None,
            env: Vec::new(),
            no_handler_snapshot: false,
        }
    }

    fn module(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    fn names(zip: &Path) -> Vec<String> {
        let archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
        archive
            .file_names()
            .map(|name| name.unwrap().into_owned())
            .collect()
    }

    #[test]
    fn zips_modules_with_their_cwasm_and_the_bootstrap_but_not_itself() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pkg")).unwrap();
        std::fs::write(root.path().join("pkg/m.wasm"), module("(module)")).unwrap();
        std::fs::write(root.path().join("config.json"), "{}").unwrap();
        let zip = root.path().join("function.zip");
        let report = package(&options(root.path(), &zip)).unwrap();
        let mut expected = [
            "bootstrap",
            "config.json",
            "pkg/m.cwasm",
            "pkg/m.cwasm.source",
            "pkg/m.wasm",
        ];
        expected.sort_unstable();
        assert_eq!(names(&zip), expected);
        assert_eq!(report.compiled, [PathBuf::from("pkg/m.wasm")]);
        assert!(!report.with_python && !report.with_javascript);
        assert!(report.unzipped_bytes > report.zipped_bytes && report.compressed.is_empty());
        package(&options(root.path(), &zip)).unwrap();
        assert_eq!(
            names(&zip),
            expected,
            "an earlier zip in the task root is left out"
        );
    }

    #[test]
    fn the_source_record_names_the_time_lambda_unzips_to() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("m.wasm"), module("(module)")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let zip = out.path().join("f.zip");
        package(&options(root.path(), &zip)).unwrap();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        let record: SourceRecord =
            serde_json::from_reader(archive.by_name("m.cwasm.source").unwrap()).unwrap();
        assert_eq!(
            (record.modified_secs, record.modified_nanos),
            (ENTRY_TIME_UNIX_SECS, 0)
        );
        let wasm = archive.by_name("m.wasm").unwrap();
        let time = wasm.last_modified().unwrap();
        assert_eq!(
            (time.year(), time.month(), time.day(), time.hour()),
            (1980, 1, 1, 0)
        );
    }

    #[test]
    fn compiles_an_interpreter_whose_cwasm_is_stale_or_not_for_the_baseline() {
        let arch = Arch::host().unwrap();
        let home = tempfile::tempdir().unwrap();
        let wasm = home.path().join("runner.wasm");
        let cwasm = home.path().join("runner.cwasm");
        std::fs::write(&wasm, module("(module)")).unwrap();
        engine::compile_to_file(&arch.compiling_engine().unwrap(), &wasm, &cwasm).unwrap();
        assert!(
            is_portable(&cwasm, &wasm, arch),
            "compiled for the baseline"
        );
        std::fs::write(&wasm, module("(module (func))")).unwrap();
        assert!(!is_portable(&cwasm, &wasm, arch), "stale");
        engine::compile_to_file(&engine::new_engine().unwrap(), &wasm, &cwasm).unwrap();
        let beyond_baseline =
            cfg!(target_arch = "x86_64") && std::is_x86_feature_detected!("avx512f");
        assert_eq!(
            !is_portable(&cwasm, &wasm, arch),
            beyond_baseline,
            "native code"
        );

        std::fs::remove_file(&wasm).unwrap();
        std::fs::write(&cwasm, b"stale").unwrap();
        let mut contents = Contents::default();
        let error = add_interpreter(
            &mut contents,
            &arch.compiling_engine().unwrap(),
            arch,
            home.path(),
            "runner",
            "runner.cwasm",
            "runner.wasm",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("no runner.wasm in") && error.contains("not for the"),
            "{error}"
        );
    }

    #[test]
    fn refuses_a_folder_as_out_and_a_cwasm_for_another_architecture() {
        let root = tempfile::tempdir().unwrap();
        let error = package(&options(root.path(), root.path()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a folder"), "{error}");

        let other = match Arch::host().unwrap() {
            Arch::X86_64 => Arch::Arm64,
            Arch::Arm64 => Arch::X86_64,
        };
        let foreign = other
            .compiling_engine()
            .unwrap()
            .precompile_module(&module("(module)"))
            .unwrap();
        std::fs::write(root.path().join("m.cwasm"), foreign).unwrap();
        let zip = root.path().join("f.zip");
        let error = package(&options(root.path(), &zip))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("m.cwasm is not precompiled for") && error.contains("add the .wasm"),
            "{error}"
        );
        assert!(!zip.exists());
    }
}
