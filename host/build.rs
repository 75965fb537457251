//! Links the release `lambda-wasm` binary with the functions a bootstrap
//! runs (from spawn through warm events, with the Rust, Python, JavaScript
//! and Ruby guests) placed next to each other, in the order
//! `host/link-order.txt` lists them.
//!
//! Why: the kernel maps a file's pages around each page a process touches
//! (fault-around, 64 KiB), so code spread over the 15 MB text segment made
//! ~6.5 MB of it resident: most of the bootstrap's RSS (BENCHMARKS.md, "Rust
//! guest at native speed"). Packed together, ~1.5 MB is.
//!
//! Rust symbol names carry hashes that change without the function changing
//! (LLVM's `.llvm.<digits>`, the mangling's crate hashes, which follow the
//! workspace's path and the build's features): this program is also the
//! link's wrapper (the C driver's `-wrapper`), which, right before the linker
//! runs, matches the list against the symbols of the link's inputs without
//! those hashes (build/link_order.rs). Functions the binary lacks (a
//! dependency or toolchain update) are skipped silently: the binary is then
//! only larger in memory, never wrong; `make link-order` regenerates the list.

#[path = "build/elf.rs"]
mod elf;
#[path = "build/link_order.rs"]
mod link_order;

use std::env;
use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};

/// The first argument when the C driver runs this program as the link's wrapper.
const WRAPPER_FLAG: &str = "--link-order-wrapper";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.split_first() {
        Some((flag, rest)) if flag == WRAPPER_FLAG => wrap_link(rest),
        _ => {
            configure_link();
            ExitCode::SUCCESS
        }
    }
}

/// Tells cargo how to link the binary: the ordering file and, where the
/// C driver is GCC's, this program as its wrapper to write that file.
fn configure_link() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    // Only an optimised binary is measured or shipped; the wrapper reads
    // every rlib's symbols (~1.5 GB in a debug build), seconds per link.
    if env::var("PROFILE").as_deref() != Ok("release") || !uses_rusts_own_lld() {
        return;
    }
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let list = Path::new(&manifest_dir).join("link-order.txt");
    let resolved =
        Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("link-order.txt");
    let wrapper = env::current_exe().expect("the build script knows its own path");
    let wrapper_args = [wrapper.as_path(), Path::new(WRAPPER_FLAG), &list, &resolved];
    let ordering = match wrapper_args
        .iter()
        .map(|arg| arg.to_str())
        .collect::<Option<Vec<_>>>()
    {
        // GCC's -wrapper splits its argument at commas.
        Some(args) if cc_is_gcc() && !args.iter().any(|arg| arg.contains(',')) => {
            println!("cargo:rustc-link-arg-bin=lambda-wasm=-wrapper");
            println!("cargo:rustc-link-arg-bin=lambda-wasm={}", args.join(","));
            resolved
        }
        // Without the wrapper, the names LLVM suffixes are not placed.
        _ => list,
    };
    println!(
        "cargo:rustc-link-arg-bin=lambda-wasm=-Wl,--symbol-ordering-file={}",
        ordering.display()
    );
    println!("cargo:rustc-link-arg-bin=lambda-wasm=-Wl,--no-warn-symbol-ordering");
}

/// Whether the binary is linked by the LLD that rustc ships (it is, by
/// default, for x86_64-unknown-linux-gnu since Rust 1.90; the workspace needs
/// newer): only LLD knows `--symbol-ordering-file`. A linker chosen by the
/// user (`RUSTC_LINKER`, e.g. cargo-lambda's zig for cross builds, or
/// linker flags in RUSTFLAGS) or another target's default (GNU ld) may not.
fn uses_rusts_own_lld() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    target == "x86_64-unknown-linux-gnu"
        && env::var_os("RUSTC_LINKER").is_none()
        && !rustflags.contains("link")
}

/// Whether `cc`, the C driver rustc links through, is GCC: only GCC has
/// `-wrapper` (clang rejects it).
fn cc_is_gcc() -> bool {
    Command::new("cc")
        .arg("-v")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stderr).contains("gcc version"))
}

/// Runs as the link's wrapper: `args` are the list, the ordering file to
/// write, then the command GCC runs (collect2 and its arguments, which name
/// the link's inputs, and LLD's through it). The link runs whatever happens
/// to the order: it only makes the binary smaller in memory.
fn wrap_link(args: &[String]) -> ExitCode {
    let [list, resolved, command, command_args @ ..] = args else {
        eprintln!("{WRAPPER_FLAG} needs: LIST ORDERING-FILE COMMAND [ARG...] (host/build.rs)");
        return ExitCode::FAILURE;
    };
    let ordering = resolve(Path::new(list), command_args);
    if let Err(e) = fs::write(resolved, ordering) {
        eprintln!("lambda-wasm's link order: cannot write {resolved}: {e}");
        return ExitCode::FAILURE;
    }
    match Command::new(command).args(command_args).status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |code| code as u8)),
        Err(e) => {
            eprintln!("lambda-wasm's link order wrapper: cannot run {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The ordering file's text: the list with each name resolved against the
/// symbols of the inputs on the linker command line. An input or list it
/// cannot read only leaves names unresolved (a warning in the linker's
/// output, which rustc shows when the link fails).
fn resolve(list: &Path, linker_args: &[String]) -> String {
    let list = fs::read_to_string(list).unwrap_or_else(|e| {
        eprintln!(
            "warning: lambda-wasm's link order: cannot read {}: {e}",
            list.display()
        );
        String::new()
    });
    let mut resolver = link_order::Resolver::new(&list);
    for input in link_order::input_files(linker_args) {
        if let Err(e) = elf::for_each_symbol(&input, |symbol| resolver.see(symbol)) {
            eprintln!("warning: lambda-wasm's link order: {e}");
        }
    }
    resolver.ordering()
}
