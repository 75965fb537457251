//! `lambda-wasm strip`: a module without the custom sections that only
//! debuggers and tools read. Wasmtime carries the `name` section into a
//! `.cwasm` (function names for trap backtraces) and reads it back at every
//! load; for a module of 90,000 functions (the Python interpreter's) that
//! was ~20 MB of the `.cwasm` and a fifth of its deserialization
//! (BENCHMARKS.md, "Python cold start: the interpreter stripped"; the
//! interpreter is now [`split`](super::split), which drops them too).

use std::path::Path;

use anyhow::Context as _;
use wasm_encoder::RawSection;
use wasmparser::{Parser, Payload};

/// The custom sections `strip` removes: function and local names (a trap in
/// the stripped module then shows `<wasm function N>` where it showed the
/// name), the toolchain that produced the module, and the features it was
/// built with. None changes what the module does.
pub const REMOVED_SECTIONS: [&str; 3] = ["name", "producers", "target_features"];

/// `wasm` without the [`REMOVED_SECTIONS`]; every other section is kept
/// byte for byte, in its order.
pub fn strip(wasm: &[u8]) -> wasmparser::Result<Vec<u8>> {
    let mut module = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if let Payload::CustomSection(section) = &payload
            && REMOVED_SECTIONS.contains(&section.name())
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    Ok(module.finish())
}

/// Writes the module `wasm`, [`strip`]ped, to `out` (replaced, never half
/// written, so `out` may be `wasm` itself).
pub fn strip_file(wasm: &Path, out: &Path) -> anyhow::Result<()> {
    super::require_binary(wasm)?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let stripped = strip(&bytes)
        .with_context(|| format!("{} is not a valid WebAssembly module", wasm.display()))?;
    super::write_replacing(out, &stripped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each section of `wasm` as (id, custom section name, contents).
    fn sections(wasm: &[u8]) -> Vec<(u8, String, Vec<u8>)> {
        Parser::new(0)
            .parse_all(wasm)
            .filter_map(|payload| {
                let payload = payload.unwrap();
                let name = match &payload {
                    Payload::CustomSection(section) => section.name().to_string(),
                    _ => String::new(),
                };
                let (id, range) = payload.as_section()?;
                Some((id, name, wasm[range].to_vec()))
            })
            .collect()
    }

    fn custom(name: &str, data: &[u8]) -> wasm_encoder::CustomSection<'static> {
        wasm_encoder::CustomSection {
            name: name.to_string().into(),
            data: data.to_vec().into(),
        }
    }

    #[test]
    fn removes_the_tool_sections_and_keeps_every_other_byte() {
        let mut module = wat::parse_str(
            r#"(module $m (memory 1) (func $answer (export "f") (result i32) i32.const 42)
                 (data (i32.const 0) "kept"))"#,
        )
        .unwrap();
        for (name, data) in [
            ("producers", &b"\x01\x08language\x01\x04Rust\x00"[..]),
            ("target_features", b"\x01\x2b\x0bbulk-memory"),
            ("kept-by-strip", b"user data"),
        ] {
            wasm_encoder::Section::append_to(&custom(name, data), &mut module);
        }
        let before = sections(&module);
        let names: Vec<&str> = before.iter().map(|(_, name, _)| name.as_str()).collect();
        for removed in REMOVED_SECTIONS {
            assert!(names.contains(&removed), "the test module has {removed}");
        }

        let stripped = strip(&module).unwrap();
        let expected: Vec<_> = before
            .into_iter()
            .filter(|(_, name, _)| !REMOVED_SECTIONS.contains(&name.as_str()))
            .collect();
        assert_eq!(sections(&stripped), expected);
        assert!(expected.iter().any(|(_, name, _)| name == "kept-by-strip"));

        let engine = super::super::new_engine().unwrap();
        let loaded = wasmtime::Module::new(&engine, &stripped).unwrap();
        assert!(loaded.get_export("f").is_some(), "still the same module");
    }

    #[test]
    fn strips_a_file_into_another_and_refuses_what_is_not_wasm() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("m.wasm");
        let out = dir.path().join("m.stripped.wasm");
        std::fs::write(&wasm, wat::parse_str("(module $named)").unwrap()).unwrap();
        strip_file(&wasm, &out).unwrap();
        assert!(sections(&std::fs::read(&out).unwrap()).is_empty());

        std::fs::write(&wasm, b"#!/bin/sh\n").unwrap();
        let error = format!("{:#}", strip_file(&wasm, &out).unwrap_err());
        assert!(
            error.ends_with("m.wasm is not a WebAssembly binary (it does not start with \\0asm)"),
            "{error}"
        );
        let error = format!(
            "{:#}",
            strip_file(&dir.path().join("missing.wasm"), &out).unwrap_err()
        );
        assert!(error.contains("cannot read"), "{error}");
    }
}
