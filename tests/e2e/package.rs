//! `lambda-wasm package`: the zip a user deploys, unzipped into a fresh
//! folder and its `bootstrap` run against the fake Runtime API, as Lambda
//! would; its determinism and executable bit (the Python package is
//! python_mode's); the arm64 package's architecture, and its bootstrap run
//! under qemu-aarch64 (`make package-test`, which builds the arm64
//! bootstrap and installs qemu); bad inputs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::*;

/// Lambda's limit on the unzipped package.
pub const LIMIT: u64 = 250 * 1024 * 1024;

/// `lambda-wasm package ARGS...`, which must succeed; its stderr.
#[track_caller]
pub fn package(args: &[&str], env: &[(&str, &str)]) -> String {
    let made = invoke_cli_env(&[&["package"], args].concat(), None, env);
    assert_eq!(made.code(), Some(0), "{made:#?}");
    made.stderr
}

/// `zip` extracted into a fresh folder (unix modes kept, as Lambda does).
pub fn unzip(zip: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("lambda-wasm-unzipped-")
        .tempdir()
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    archive.extract(dir.path()).unwrap();
    dir
}

/// The total size of the files under `dir`.
pub fn unzipped_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                folders.push(entry.path());
            } else {
                total += metadata.len();
            }
        }
    }
    total
}

/// Runs the unzipped package in `dir` on the seed hello's event: the seed's
/// answer, and no warning that an interpreter was not precompiled for this
/// machine or its snapshot not used.
pub async fn assert_seed_hello_answers(dir: &Path) {
    assert_hello_answers(
        &dir.join("bootstrap"),
        dir,
        "lambda_function.lambda_handler",
    )
    .await;
}

/// Runs `bootstrap` with the unzipped package `root` on the seed hello's
/// event with `handler`: the seed's answer, and no warning that a module or
/// interpreter was refused, not precompiled for this machine, or its
/// snapshot not used.
async fn assert_hello_answers(bootstrap: &Path, root: &Path, handler: &str) {
    let (outcome, stderr) = run_bootstrap(
        bootstrap,
        root,
        handler,
        json!({"first_name": "Ada", "last_name": "Lovelace"}),
        &[],
    )
    .await;
    assert_eq!(
        outcome.json(),
        json!({"message": "Hello Ada Lovelace!"}),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not using") && !stderr.contains("not precompiled"),
        "{stderr}"
    );
}

/// Runs the unzipped package's own `bootstrap` on `event` twice (the same
/// answer each time) and returns its answer and output (stderr, then stdout).
pub async fn run_unzipped(
    root: &Path,
    handler: &str,
    event: serde_json::Value,
) -> (Outcome, String) {
    run_unzipped_with(root, handler, event, &[]).await
}

/// [`run_unzipped`] with the function's variables `env` besides Lambda's.
pub async fn run_unzipped_with(
    root: &Path,
    handler: &str,
    event: serde_json::Value,
    env: &[(&str, &str)],
) -> (Outcome, String) {
    run_bootstrap(&root.join("bootstrap"), root, handler, event, env).await
}

/// Runs `bootstrap` (the package's own, or a program that runs it) with
/// the unzipped package `root` as its task root, as [`run_unzipped_with`].
async fn run_bootstrap(
    bootstrap: &Path,
    root: &Path,
    handler: &str,
    event: serde_json::Value,
    env: &[(&str, &str)],
) -> (Outcome, String) {
    let api = FakeRuntimeApi::start().await;
    // Its own /tmp, where a compressed module is unpacked, removed after.
    let tmp = tempfile::tempdir().unwrap();
    let mut boot_env = vec![("TMPDIR", tmp.path().to_str().unwrap())];
    boot_env.extend_from_slice(env);
    let mut boot =
        Bootstrap::spawn_program(bootstrap, &api, root, handler, &boot_env, Capture::All);
    let (_, first) = boot.call_json(&api, event.clone()).await;
    let (_, second) = boot.call_json(&api, event).await;
    assert_eq!(
        first.json(),
        second.json(),
        "the next event is answered too"
    );
    (first, boot.stderr() + &boot.stdout())
}

fn hello_root() -> TaskRoot {
    TaskRoot::builder()
        .guest_wasm_only("hello.wasm", "hello.wasm")
        .file("data/config.json", "{}")
        .build()
}

/// The zip for this machine: the bootstrap at its root, executable, needing
/// no glibc newer than Amazon Linux 2023's; a
/// `.cwasm` beside the `.wasm`; the same bytes from the same input; and,
/// unzipped into a fresh folder, its bootstrap answers the seed's hello
/// from the precompiled module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zip_runs_its_own_bootstrap() {
    let root = hello_root();
    let out = tempfile::tempdir().unwrap();
    let zips = ["a.zip", "b.zip"].map(|name| out.path().join(name));
    for zip in &zips {
        let said = package(
            &[
                "--task-root",
                root.path().to_str().unwrap(),
                "--out",
                zip.to_str().unwrap(),
            ],
            &[],
        );
        assert!(said.contains("unzipped of Lambda's 250.0 MB"), "{said}");
    }
    let [a, b] = zips.clone().map(|zip| std::fs::read(zip).unwrap());
    assert!(a == b, "the same task root gave two different zips");

    let unzipped = unzip(&zips[0]);
    let dir = unzipped.path();
    for file in [
        "bootstrap",
        "hello.wasm",
        "hello.cwasm",
        "hello.cwasm.source",
        "data/config.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing from the zip");
    }
    let mode = std::fs::metadata(dir.join("bootstrap"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "the bootstrap's mode");
    if require_readelf() {
        assert_runs_on_al2023(&dir.join("bootstrap"));
    }
    let (outcome, stderr) = run_unzipped(
        dir,
        "hello.handler",
        json!({"first_name": "John", "last_name": "Smith"}),
    )
    .await;
    assert_eq!(outcome.json(), json!({"message": "Hello John Smith!"}));
    assert!(
        !stderr.contains("not using"),
        "the packaged .cwasm was refused:\n{stderr}"
    );
}

/// The arm64 bootstrap `make bootstrap ARCH=arm64` builds.
fn arm64_bootstrap() -> PathBuf {
    std::env::var_os("LAMBDA_WASM_ARM64_BOOTSTRAP").map_or_else(
        || target_dir().join("cross/aarch64-unknown-linux-gnu/release/lambda-wasm"),
        PathBuf::from,
    )
}

/// Whether binutils' `readelf` is here ([`require`]).
fn require_readelf() -> bool {
    let readelf = std::process::Command::new("readelf")
        .arg("--version")
        .output()
        .is_ok();
    require("readelf", readelf, "apt-get install binutils")
}

/// `readelf -h`'s machine line for `file`.
fn elf_machine(file: &Path) -> String {
    let out = std::process::Command::new("readelf")
        .arg("-h")
        .arg(file)
        .output()
        .expect("readelf runs");
    let header = String::from_utf8_lossy(&out.stdout).into_owned();
    header
        .lines()
        .find(|line| line.trim_start().starts_with("Machine:"))
        .unwrap_or_else(|| panic!("no machine in readelf -h {}: {header}", file.display()))
        .to_string()
}

/// Amazon Linux 2023's glibc: a `bootstrap` may need no newer symbol version.
const AL2023_GLIBC: (u32, u32) = (2, 34);

/// The newest `GLIBC_x.y` symbol version `file` needs (`readelf -V`);
/// `None` for a static executable.
fn newest_glibc(file: &Path) -> Option<(u32, u32)> {
    let out = std::process::Command::new("readelf")
        .args(["-V", "--wide"])
        .arg(file)
        .output()
        .expect("readelf runs");
    let versions = String::from_utf8_lossy(&out.stdout).into_owned();
    versions
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
}

/// Checks that `bootstrap` runs on Amazon Linux 2023: static, or needing
/// glibc 2.34 at most.
#[track_caller]
fn assert_runs_on_al2023(bootstrap: &Path) {
    if let Some(newest) = newest_glibc(bootstrap) {
        assert!(
            newest <= AL2023_GLIBC,
            "{} needs glibc {}.{}, newer than Amazon Linux 2023's 2.34",
            bootstrap.display(),
            newest.0,
            newest.1
        );
    }
}

/// Debian's AArch64 C library (package libc6-arm64-cross), which
/// qemu-aarch64 runs the arm64 bootstrap against.
const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// Whether qemu's user-mode AArch64 emulator and the AArch64 C library are
/// here ([`require`]).
fn require_qemu_aarch64() -> bool {
    let qemu = std::process::Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    require(
        "qemu-aarch64 and the AArch64 C library",
        qemu && Path::new(AARCH64_SYSROOT)
            .join("lib/ld-linux-aarch64.so.1")
            .exists(),
        "apt-get install qemu-user libc6-arm64-cross (make package-test does)",
    )
}

/// The arm64 package: its bootstrap and `.cwasm` are AArch64 code, the
/// bootstrap static or needing glibc 2.34 at most, and, run under
/// qemu-aarch64 through the Runtime API, it answers the seed's hello from
/// the AArch64 `.cwasm`. Needs the arm64 bootstrap (minutes to
/// cross-build) and qemu: `make package-test` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the arm64 bootstrap and qemu-aarch64: make package-test"]
async fn the_arm64_zip_holds_aarch64_code() {
    let bootstrap = arm64_bootstrap();
    if !require(
        "the arm64 bootstrap",
        bootstrap.is_file(),
        "run `make bootstrap ARCH=arm64`",
    ) || !require_readelf()
        || !require_qemu_aarch64()
    {
        return;
    }
    let root = hello_root();
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let said = package(
        &[
            "--task-root",
            root.path().to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
            "--arch",
            "arm64",
            "--bootstrap",
            bootstrap.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        said.contains("for arm64") && said.contains("Neoverse N1"),
        "{said}"
    );
    let unzipped = unzip(&zip);
    for file in ["bootstrap", "hello.cwasm"] {
        let machine = elf_machine(&unzipped.path().join(file));
        assert!(machine.contains("AArch64"), "{file}: {machine}");
    }
    assert_runs_on_al2023(&unzipped.path().join("bootstrap"));
    let file = std::process::Command::new("file")
        .arg(unzipped.path().join("bootstrap"))
        .output();
    if let Ok(file) = file {
        let said = String::from_utf8_lossy(&file.stdout).into_owned();
        assert!(
            said.contains("aarch64") || said.contains("ARM aarch64"),
            "{said}"
        );
    }
    assert_answers_under_qemu(unzipped.path()).await;
}

/// Runs the unzipped arm64 package's bootstrap under qemu-aarch64 on the
/// seed hello's event: the seed's answer, from its AArch64 `.cwasm` (no
/// warning that it was refused and the `.wasm` compiled instead).
async fn assert_answers_under_qemu(root: &Path) {
    let emulated = tempfile::tempdir().unwrap();
    let program = emulated.path().join("bootstrap");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nexec qemu-aarch64 -L {AARCH64_SYSROOT} '{}' \"$@\"\n",
            root.join("bootstrap").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_hello_answers(&program, root, "hello.handler").await;
}

/// Bad inputs get one clear line and no zip: an arm64 package without an
/// arm64 bootstrap, a bootstrap of the other architecture or not an
/// executable, an unknown architecture, an --env-file with a bad line (named
/// file:line) or none, a module that is not Wasm (a folder as --out:
/// cli_errors).
#[test]
fn bad_inputs_are_refused_clearly() {
    let root = hello_root();
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("function.zip");
    let task = root.path().to_str().unwrap();
    let host_arch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "x86_64"
    };
    let other_arch = if host_arch == "arm64" {
        "x86_64"
    } else {
        "arm64"
    };
    let text = out.path().join("not-elf");
    std::fs::write(&text, "#!/bin/sh\n").unwrap();
    let bad_env = out.path().join("bad.env");
    let no_env = out.path().join("none.env");
    std::fs::write(&bad_env, "A=1\nno-equals\n").unwrap();
    let me = bin();
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["--arch", other_arch],
            &["make bootstrap ARCH=", "--bootstrap"],
        ),
        (
            vec!["--arch", other_arch, "--bootstrap", me.to_str().unwrap()],
            &["built for another architecture"],
        ),
        (
            vec!["--arch", host_arch, "--bootstrap", text.to_str().unwrap()],
            &["not a Linux executable"],
        ),
        (vec!["--arch", "riscv64"], &["use x86_64 or arm64"]),
        (
            vec!["--env-file", bad_env.to_str().unwrap()],
            &["bad.env:2: \"no-equals\" is not NAME=value"],
        ),
        (
            vec!["--env-file", no_env.to_str().unwrap()],
            &["cannot read the --env-file", "none.env"],
        ),
    ];
    for (extra, expected) in cases {
        let args = [
            &[
                "package",
                "--task-root",
                task,
                "--out",
                zip.to_str().unwrap(),
            ],
            &extra[..],
        ]
        .concat();
        let made = invoke_cli(&args, None);
        assert_eq!(made.code(), Some(2), "{args:?}: {made:#?}");
        for part in expected {
            assert!(
                made.stderr.contains(part),
                "{args:?}: {part:?} not in {made:#?}"
            );
        }
        assert!(!zip.exists(), "{args:?} wrote a zip");
    }
    let bad = TaskRoot::builder().file("bad.wasm", "not wasm").build();
    let made = invoke_cli(
        &[
            "package",
            "--task-root",
            bad.path().to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(made.code(), Some(2), "{made:#?}");
    assert!(
        made.stderr.contains("bad.wasm is not a WebAssembly binary"),
        "{made:#?}"
    );
    assert!(!zip.exists());
}
