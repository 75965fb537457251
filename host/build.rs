//! Links the `lambda-wasm` binary with the functions a bootstrap runs (from
//! spawn through warm events, Rust hello guest `.cwasm`) placed next to each
//! other, in the order `host/link-order.txt` lists them.
//!
//! Why: the kernel maps a file's pages around each page a process touches
//! (fault-around, 64 KiB), so code spread over the 15 MB text segment made
//! ~6.5 MB of it resident: most of the bootstrap's RSS (BENCHMARKS.md, "Rust
//! guest at native speed"). Packed together, ~1.5 MB is. Symbols the file
//! names but the binary lacks (a dependency or toolchain update changes the
//! mangled names' hashes) are skipped silently: the binary is then only
//! larger in memory, never wrong; `make link-order` regenerates the list.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if uses_rusts_own_lld() {
        let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let order = Path::new(&manifest_dir).join("link-order.txt");
        println!(
            "cargo:rustc-link-arg-bin=lambda-wasm=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=lambda-wasm=-Wl,--no-warn-symbol-ordering");
    }
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
