//! The runtimes under test: the rows of the end-to-end table, their task
//! roots laid out under target/bench/.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::Paths;

/// One runtime under test.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: &'static str,
    pub label: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub handler: &'static str,
    pub task_root: PathBuf,
    pub env: Vec<(String, String)>,
    /// The event it is sent and the answer it must give.
    pub exchange: &'static Exchange,
    /// Fresh processes timed to their first response, where a target fixes
    /// the number (else `--cold-starts`).
    pub cold_starts: Option<usize>,
}

/// An event and the answer a row's handler gives it (as JSON).
#[derive(Debug)]
pub struct Exchange {
    pub event: &'static [u8],
    pub answer: &'static str,
}

/// The seed's hello.
pub const HELLO: Exchange = Exchange {
    event: br#"{ "first_name": "John", "last_name": "Smith" }"#,
    answer: r#"{"message": "Hello John Smith!"}"#,
};

/// Rows that could not be laid out, and why (an interpreter or toolchain
/// not built or installed).
#[derive(Debug)]
pub struct Skipped {
    pub ids: Vec<&'static str>,
    pub why: String,
}

impl Skipped {
    pub fn new(ids: &[&'static str], why: impl Into<String>) -> Self {
        Skipped {
            ids: ids.to_vec(),
            why: why.into(),
        }
    }
}

/// Runs `cmd` to its end; an error says which command failed and how.
pub fn run(cmd: &mut std::process::Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Why the Python rows cannot run.
pub const NO_PYTHON: &str =
    "lambda-wasm + Python: no interpreter (`make python` or LAMBDA_WASM_PYTHON_HOME)";

/// Lays out the task roots under target/bench/ and lists the rows.
pub fn rows(paths: &Paths) -> anyhow::Result<(Vec<Row>, Vec<Skipped>)> {
    let mut skipped = Vec::new();
    std::fs::create_dir_all(paths.work.join("logs"))?;
    let hello_wasm = paths.guest_dir.join("hello.wasm");
    if !hello_wasm.is_file() {
        bail!("{} is missing: run `make guests`", hello_wasm.display());
    }
    let rust_cwasm = paths.work.join("rust-cwasm");
    let rust_wasm = paths.work.join("rust-wasm");
    let python = paths.work.join("python");
    for dir in [&rust_cwasm, &rust_wasm, &python] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(&hello_wasm, rust_cwasm.join("hello.wasm"))?;
    std::fs::copy(&hello_wasm, rust_wasm.join("hello.wasm"))?;
    run(std::process::Command::new(&paths.lambda_wasm)
        .arg("compile")
        .arg(rust_cwasm.join("hello.wasm")))?;
    std::fs::copy(
        paths.root.join("bench/seed-hello/lambda_function.py"),
        python.join("lambda_function.py"),
    )?;

    let lambda_wasm = |id, label, handler, task_root: &Path, env: Vec<(String, String)>| Row {
        id,
        label,
        program: paths.lambda_wasm.clone(),
        args: Vec::new(),
        handler,
        task_root: task_root.to_path_buf(),
        env,
        exchange: &HELLO,
        cold_starts: None,
    };
    let mut rows = vec![
        Row {
            id: "native",
            label: "native lambda_runtime hello (anchor)",
            program: paths.native_hello.clone(),
            args: Vec::new(),
            handler: "hello.handler",
            task_root: rust_cwasm.clone(),
            env: Vec::new(),
            exchange: &HELLO,
            cold_starts: None,
        },
        lambda_wasm(
            "wasm-rust",
            "lambda-wasm + Rust hello (.cwasm)",
            "hello.handler",
            &rust_cwasm,
            Vec::new(),
        ),
        lambda_wasm(
            "wasm-rust-nocwasm",
            "lambda-wasm + Rust hello (.wasm, compiled at init)",
            "hello.handler",
            &rust_wasm,
            Vec::new(),
        ),
    ];
    if paths.ric_python.is_file() {
        rows.push(Row {
            id: "awslambdaric",
            label: "awslambdaric (CPython 3.11) + seed hello",
            program: paths.ric_python.clone(),
            args: ["-m", "awslambdaric", "lambda_function.lambda_handler"]
                .map(String::from)
                .to_vec(),
            handler: "lambda_function.lambda_handler",
            task_root: python.clone(),
            env: Vec::new(),
            exchange: &HELLO,
            cold_starts: None,
        });
    } else {
        skipped.push(Skipped::new(
            &["awslambdaric"],
            format!(
                "awslambdaric: {} missing (`make bench-tools`)",
                paths.ric_python.display()
            ),
        ));
    }
    if let Some(home) = &paths.python_home {
        rows.push(lambda_wasm(
            "wasm-python",
            "lambda-wasm + Python guest (seed hello, CPython 3.15 wasi)",
            "lambda_function.lambda_handler",
            &python,
            vec![(
                "LAMBDA_WASM_PYTHON_HOME".into(),
                home.to_string_lossy().into_owned(),
            )],
        ));
    } else {
        skipped.push(Skipped::new(&["wasm-python"], NO_PYTHON));
    }
    language_rows(paths, &lambda_wasm, &mut rows, &mut skipped)?;
    ruby_rows(paths, &lambda_wasm, &mut rows, &mut skipped)?;
    Ok((rows, skipped))
}

/// The seed hello in Ruby: on the Ruby guest (`make ruby`) restored from
/// its home's snapshot and with `LAMBDA_WASM_PREINIT=off`, and on Debian's
/// `ruby` under a minimal Runtime API loop (bench/ruby-runtime/runtime.rb);
/// a missing one is listed in `skipped`.
fn ruby_rows(
    paths: &Paths,
    lambda_wasm: &LambdaWasmRow<'_>,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<Skipped>,
) -> anyhow::Result<()> {
    let handler = "lambda_function.lambda_handler";
    let ruby = paths.work.join("ruby");
    let _ = std::fs::remove_dir_all(&ruby);
    std::fs::create_dir_all(&ruby)?;
    std::fs::copy(
        paths.root.join("guests/ruby/hello/lambda_function.rb"),
        ruby.join("lambda_function.rb"),
    )?;
    let ruby_home = paths.lambda_wasm.with_file_name("ruby");
    if ruby_home.join("ruby.cwasm").is_file() {
        let home = (
            "LAMBDA_WASM_RUBY_HOME".to_string(),
            ruby_home.to_string_lossy().into_owned(),
        );
        rows.push(lambda_wasm(
            "wasm-ruby",
            "lambda-wasm + Ruby guest (seed hello, Ruby 3.4 wasi, pre-initialised)",
            handler,
            &ruby,
            vec![home.clone()],
        ));
        rows.push(lambda_wasm(
            "wasm-ruby-nopreinit",
            "lambda-wasm + Ruby guest (seed hello, LAMBDA_WASM_PREINIT=off)",
            handler,
            &ruby,
            vec![home, ("LAMBDA_WASM_PREINIT".into(), "off".into())],
        ));
    } else {
        skipped.push(Skipped::new(
            &["wasm-ruby", "wasm-ruby-nopreinit"],
            format!(
                "lambda-wasm + Ruby: no interpreter in {} (`make ruby`)",
                ruby_home.display()
            ),
        ));
    }
    match which("ruby") {
        Some(program) => rows.push(Row {
            id: "ruby-native",
            label: "Debian ruby + minimal Runtime API loop (seed hello)",
            program,
            args: vec![
                paths
                    .root
                    .join("bench/ruby-runtime/runtime.rb")
                    .to_string_lossy()
                    .into_owned(),
                handler.into(),
            ],
            handler,
            task_root: ruby,
            env: Vec::new(),
            exchange: &HELLO,
            cold_starts: None,
        }),
        None => skipped.push(Skipped::new(
            &["ruby-native"],
            "Debian ruby: not installed (`apt-get install ruby`)",
        )),
    }
    Ok(())
}

/// `program`'s path on `$PATH`, if it is there.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The compiled languages' hello (`make guests-langs`), each a row with its
/// `.cwasm` and one with the `.wasm` alone.
struct LanguageRow {
    /// The folder under `<target>/wasm32-wasip1` holding its modules.
    folder: &'static str,
    cwasm: (&'static str, &'static str),
    wasm_only: (&'static str, &'static str),
}

const LANGUAGE_ROWS: &[LanguageRow] = &[
    LanguageRow {
        folder: "guest-c",
        cwasm: ("wasm-c", "lambda-wasm + C hello (.cwasm)"),
        wasm_only: (
            "wasm-c-nocwasm",
            "lambda-wasm + C hello (.wasm, compiled at init)",
        ),
    },
    LanguageRow {
        folder: "guest-zig",
        cwasm: ("wasm-zig", "lambda-wasm + Zig hello (.cwasm)"),
        wasm_only: (
            "wasm-zig-nocwasm",
            "lambda-wasm + Zig hello (.wasm, compiled at init)",
        ),
    },
    LanguageRow {
        folder: "guest-go",
        cwasm: ("wasm-go", "lambda-wasm + Go hello (.cwasm)"),
        wasm_only: (
            "wasm-go-nocwasm",
            "lambda-wasm + Go hello (.wasm, compiled at init)",
        ),
    },
    LanguageRow {
        folder: "guest-as",
        cwasm: ("wasm-as", "lambda-wasm + AssemblyScript hello (.cwasm)"),
        wasm_only: (
            "wasm-as-nocwasm",
            "lambda-wasm + AssemblyScript hello (.wasm, compiled at init)",
        ),
    },
];

type LambdaWasmRow<'a> =
    dyn Fn(&'static str, &'static str, &'static str, &Path, Vec<(String, String)>) -> Row + 'a;

/// The rows of [`LANGUAGE_ROWS`] whose modules are built, and the
/// JavaScript hello when the runner is (`make js`), beside Node.js itself
/// running the same file; a missing one is listed in `skipped`.
fn language_rows(
    paths: &Paths,
    lambda_wasm: &LambdaWasmRow<'_>,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<Skipped>,
) -> anyhow::Result<()> {
    let built = paths.guest_dir.parent().unwrap_or(&paths.guest_dir);
    for language in LANGUAGE_ROWS {
        let hello = built.join(language.folder).join("hello.wasm");
        if !hello.is_file() {
            skipped.push(Skipped::new(
                &[language.cwasm.0, language.wasm_only.0],
                format!(
                    "{}: {} missing (`make guests-langs`)",
                    language.cwasm.1,
                    hello.display()
                ),
            ));
            continue;
        }
        for (id, label) in [language.cwasm, language.wasm_only] {
            let dir = paths.work.join(id);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(&hello, dir.join("hello.wasm"))?;
            if id == language.cwasm.0 {
                run(std::process::Command::new(&paths.lambda_wasm)
                    .arg("compile")
                    .arg(dir.join("hello.wasm")))?;
            }
            rows.push(lambda_wasm(id, label, "hello.handler", &dir, Vec::new()));
        }
    }
    let js_home = paths.lambda_wasm.with_file_name("js");
    if js_home.join("javascript.cwasm").is_file() {
        let js = paths.work.join("js");
        let _ = std::fs::remove_dir_all(&js);
        std::fs::create_dir_all(&js)?;
        std::fs::copy(
            paths.root.join("guests/js/hello/index.mjs"),
            js.join("index.mjs"),
        )?;
        let home = (
            "LAMBDA_WASM_JS_HOME".into(),
            js_home.to_string_lossy().into_owned(),
        );
        rows.push(lambda_wasm(
            "wasm-js",
            "lambda-wasm + JavaScript guest (hello, QuickJS-NG wasi)",
            "index.handler",
            &js,
            vec![home],
        ));
        rows.push(Row {
            id: "node",
            label: "Node.js (minimal Runtime API loop, bench/node-runtime) + the same hello",
            program: "node".into(),
            args: vec![
                paths
                    .root
                    .join("bench/node-runtime/index.mjs")
                    .to_string_lossy()
                    .into_owned(),
            ],
            handler: "index.handler",
            task_root: js.clone(),
            env: Vec::new(),
            exchange: &HELLO,
            cold_starts: None,
        });
    } else {
        skipped.push(Skipped::new(
            &["wasm-js", "node"],
            format!(
                "lambda-wasm + JavaScript: no runner in {} (`make js`)",
                js_home.display()
            ),
        ));
    }
    Ok(())
}
