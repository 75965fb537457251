//! The end-to-end tests of the built `lambda-wasm` binary, one test binary
//! with a module per suite (as wasmtime's `tests/all/main.rs`), so the
//! support code compiles once.
//!
//! Run one suite with a filter: `cargo test --release -p lambda-wasm --test
//! e2e python_mode::`. A test whose prerequisite is missing (the Python
//! interpreter, the JavaScript runner, cargo-lambda) prints one `SKIPPED` line and returns; with
//! `LAMBDA_WASM_REQUIRE_ALL=1` (`make test` under CI) it fails instead
//! ([`support::require`]).

mod support;

mod cargo_lambda;
mod cli_errors;
mod hostile;
mod in_process;
mod javascript;
mod languages;
mod outbound;
mod package;
mod preinit;
mod python_mode;
mod ruby;
mod runtime_mode;
mod serve;
mod soak;
mod test_mode;
