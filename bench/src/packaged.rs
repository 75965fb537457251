//! Fresh bootstraps of `lambda-wasm package`d Python functions, as Lambda
//! runs them: the zip unzipped, its `bootstrap` started in that folder.
//! They are rows like the others (cold starts, then warm events and peak
//! RSS), each with the [`COLD_STARTS`] fresh processes issue 16's targets
//! are the median of.

use std::path::Path;

use crate::Paths;
use crate::endtoend::{fresh_log, start, stop};
use crate::rows::{Exchange, HELLO, NO_PYTHON, Row, Skipped, run};

/// Fresh processes per function (issue 16: the median of 21).
pub const COLD_STARTS: usize = 21;

/// One Python function to package, its handler file from the repository.
struct Function {
    id: &'static str,
    label: &'static str,
    handler_file: &'static str,
    exchange: &'static Exchange,
}

const INCREMENT: Exchange = Exchange {
    event: br#"{ "action": "increment", "number": 3 }"#,
    answer: r#"{"result": 4}"#,
};

const NUMPY_SUM: Exchange = Exchange {
    event: HELLO.event,
    answer: r#"{"sum": 45}"#,
};

const FUNCTIONS: &[Function] = &[
    Function {
        id: "packaged-python-hello",
        label: "packaged Python seed hello (bootstrap from `lambda-wasm package`)",
        handler_file: "bench/seed-hello/lambda_function.py",
        exchange: &HELLO,
    },
    Function {
        id: "packaged-python-increment",
        label: "packaged Python seed increment (`import logging`)",
        handler_file: "guests/python/increment/lambda_function.py",
        exchange: &INCREMENT,
    },
    Function {
        id: "packaged-python-numpy",
        label: "packaged Python, `import numpy as np` at module level",
        handler_file: "bench/numpy-handler/lambda_function.py",
        exchange: &NUMPY_SUM,
    },
];

const HANDLER: &str = "lambda_function.lambda_handler";

/// Packages and unzips each wanted function under target/bench/packaged
/// and starts it once, untimed: that start unpacks the interpreter's
/// compressed `.cwasm` into the rows' TMPDIR (seconds, once per Lambda
/// environment: BENCHMARKS.md, "Deployment package"), and the timed starts
/// measure the bootstrap with it in place. One that cannot be is skipped.
pub async fn rows(paths: &Paths, wanted: impl Fn(&str) -> bool) -> (Vec<Row>, Vec<Skipped>) {
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    let wanted: Vec<&Function> = FUNCTIONS.iter().filter(|f| wanted(f.id)).collect();
    let Some(home) = &paths.python_home else {
        let ids: Vec<&'static str> = wanted.iter().map(|f| f.id).collect();
        skipped.push(Skipped::new(&ids, NO_PYTHON));
        return (rows, skipped);
    };
    let work = paths.work.join("packaged");
    let _ = std::fs::remove_dir_all(&work);
    for function in wanted {
        eprintln!("== packaging {}", function.label);
        let packaged = async {
            let row = package(paths, home, &work, function)?;
            let first = start(&row, &fresh_log(paths, &format!("{}-unpack", row.id))).await?;
            stop(first.child).await;
            anyhow::Ok(row)
        };
        match packaged.await {
            Ok(row) => rows.push(row),
            Err(e) => skipped.push(Skipped::new(
                &[function.id],
                format!("{}: {e:#}", function.label),
            )),
        }
    }
    (rows, skipped)
}

/// `lambda-wasm package` of `function` (with its handler snapshot), unzipped
/// into `work/ID` (Debian's `unzip` keeps the files' modes and times, as
/// Lambda's unpacking does); the row that runs its `bootstrap`.
fn package(paths: &Paths, home: &Path, work: &Path, function: &Function) -> anyhow::Result<Row> {
    let source = work.join(format!("{}-src", function.id));
    let folder = work.join(function.id);
    let zip = work.join(format!("{}.zip", function.id));
    std::fs::create_dir_all(&source)?;
    std::fs::copy(
        paths.root.join(function.handler_file),
        source.join("lambda_function.py"),
    )?;
    run(std::process::Command::new(&paths.lambda_wasm)
        .arg("package")
        .arg("--task-root")
        .arg(&source)
        .arg("--out")
        .arg(&zip)
        .args(["--handler", HANDLER])
        .env("LAMBDA_WASM_PYTHON_HOME", home))?;
    run(std::process::Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&zip)
        .arg("-d")
        .arg(&folder))?;
    let tmp = work.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let bootstrap = folder.join("bootstrap");
    let (program, args) = match &paths.bootstrap_wrapper {
        Some(wrapper) => (
            wrapper.clone(),
            vec![bootstrap.to_string_lossy().into_owned()],
        ),
        None => (bootstrap, Vec::new()),
    };
    Ok(Row {
        id: function.id,
        label: function.label,
        program,
        args,
        handler: HANDLER,
        task_root: folder,
        env: vec![("TMPDIR".into(), tmp.to_string_lossy().into_owned())],
        exchange: function.exchange,
        cold_starts: Some(COLD_STARTS),
    })
}
