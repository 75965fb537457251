//! `engine::load_module` + `ModuleKind::detect` on arbitrary bytes written as
//! `m.wasm` (binary Wasm or, as wasmtime's `wat` feature allows, text): Ok or
//! a `Runtime.ImportModuleError`/`Runtime.HandlerNotFound`, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use lambda_wasm::engine::{load_module, new_engine};
use lambda_wasm::guest::detect::ModuleKind;
use lambda_wasm::handler_name::HandlerName;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    engine: wasmtime::Engine,
    dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        engine: new_engine().expect("the host's engine"),
        dir: tempfile::Builder::new().prefix("lambda-wasm-fuzz-").tempdir().expect("temp dir"),
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let wasm: PathBuf = fixture.dir.path().join("m.wasm");
    std::fs::write(&wasm, data).expect("write m.wasm");
    for handler in ["m.handler", "m", "m._start"] {
        let handler = HandlerName::parse(handler).unwrap();
        match load_module(&fixture.engine, fixture.dir.path(), &handler) {
            Err(error) => {
                assert_eq!(error.error_type, "Runtime.ImportModuleError", "{}", error.error_message);
                assert!(error.error_message.starts_with("Unable to import module 'm': "), "{}", error.error_message);
                return; // the same bytes fail the same way for every handler
            }
            Ok(module) => match ModuleKind::detect(&module, &handler) {
                Ok(_) => {}
                Err(error) => assert!(
                    matches!(error.error_type.as_str(), "Runtime.ImportModuleError" | "Runtime.HandlerNotFound"),
                    "{error:?}"
                ),
            },
        }
    }
});
