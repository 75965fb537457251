//! Test mode's cache of compiled modules, so a second `invoke` or `serve`
//! of an unchanged `.wasm` deserializes it in a few milliseconds instead of
//! compiling it again (docs/abi.md section 1).
//!
//! An entry is wasmtime's precompiled artifact, named by the SHA-256 of the
//! module's bytes together with the engine's compatibility hash (wasmtime's
//! version, the engine's settings, the target and the CPU features it
//! compiles for): a rebuilt module, another host version or another CPU is
//! a miss, never a wrong hit. Entries are written beside and renamed into
//! place, so a reader never sees half an entry; one that does not load is
//! compiled again and replaced. The bootstrap never uses a cache (Lambda's
//! task root is read-only; a deployment package carries `.cwasm` files).

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::{Engine, Module};

use super::source::{WasmFile, hex};

/// A folder of compiled modules.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
}

/// Bumped when the way entries are named or written changes.
const ENTRY_FORMAT: &[u8] = b"lambda-wasm module cache 1";

impl ModuleCache {
    /// A cache in `dir`, created when the first entry is written.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where test mode caches: `$XDG_CACHE_HOME/lambda-wasm`, else
    /// `$HOME/.cache/lambda-wasm` (the XDG base directory rules: a relative
    /// `XDG_CACHE_HOME` is ignored); `None` when neither is known.
    pub fn default_dir(
        xdg_cache_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Option<PathBuf> {
        let absolute =
            |value: Option<OsString>| value.map(PathBuf::from).filter(|path| path.is_absolute());
        let base = absolute(xdg_cache_home).or_else(|| Some(absolute(home)?.join(".cache")))?;
        Some(base.join("lambda-wasm"))
    }

    /// `wasm` compiled for `engine`: from the cache when it holds it, else
    /// compiled and stored. A cache that cannot be written only costs the
    /// next run a compile, so that is a warning, not an error.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &Path,
    ) -> Result<Module, super::ModuleFileError> {
        let file = WasmFile::read(wasm).map_err(|e| super::ModuleFileError::Unreadable {
            path: wasm.to_path_buf(),
            source: e,
        })?;
        let entry = self.entry_path(engine, &file.record.sha256);
        if entry.is_file() {
            match super::deserialize(engine, &entry) {
                Ok(module) => {
                    tracing::debug!(
                        "loaded {} from the module cache: {}",
                        wasm.display(),
                        entry.display()
                    );
                    return Ok(module);
                }
                Err(reason) => tracing::warn!(
                    "not using the cached {}: {reason}; compiling {} again",
                    entry.display(),
                    wasm.display()
                ),
            }
        }
        let module = super::compile_bytes(engine, wasm, &file.bytes)?;
        if let Err(error) = self.store(&entry, &module) {
            tracing::warn!(
                "cannot write the module cache entry {}: {error}; the next run compiles {} again",
                entry.display(),
                wasm.display()
            );
        }
        Ok(module)
    }

    /// The entry for the module whose SHA-256 is `wasm_sha256`, compiled by `engine`.
    fn entry_path(&self, engine: &Engine, wasm_sha256: &str) -> PathBuf {
        let mut key = DigestHasher(Sha256::new());
        key.0.update(ENTRY_FORMAT);
        engine.precompile_compatibility_hash().hash(&mut key);
        key.0.update(wasm_sha256.as_bytes());
        self.dir.join(format!("{}.cwasm", hex(&key.0.finalize())))
    }

    fn store(&self, entry: &Path, module: &Module) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        super::write_replacing(entry, &module.serialize()?)?;
        tracing::debug!("stored {} in the module cache", entry.display());
        Ok(())
    }
}

/// Feeds a [`Hash`] value into a SHA-256: the engine's compatibility hash is
/// only offered as a `Hash`, and a 64-bit `Hasher` would be a weak key.
struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        unreachable!("only the digest is used")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::source::sha256_hex;

    fn os(text: &str) -> Option<OsString> {
        Some(OsString::from(text))
    }

    #[test]
    fn lives_under_xdg_cache_home_else_home() {
        assert_eq!(
            ModuleCache::default_dir(os("/xdg"), os("/home/me")),
            Some(PathBuf::from("/xdg/lambda-wasm"))
        );
        assert_eq!(
            ModuleCache::default_dir(os("relative"), os("/home/me")),
            Some(PathBuf::from("/home/me/.cache/lambda-wasm"))
        );
        assert_eq!(
            ModuleCache::default_dir(None, os("/home/me")),
            Some(PathBuf::from("/home/me/.cache/lambda-wasm"))
        );
        assert_eq!(ModuleCache::default_dir(None, None), None);
    }

    #[test]
    fn a_second_load_hits_and_a_corrupt_entry_is_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("m.wasm");
        std::fs::write(
            &wasm,
            wat::parse_str(r#"(module (func (export "f")))"#).unwrap(),
        )
        .unwrap();
        let cache = ModuleCache::new(dir.path().join("cache"));
        let engine = super::super::new_engine().unwrap();
        cache.load_or_compile(&engine, &wasm).unwrap();
        let entries = || std::fs::read_dir(dir.path().join("cache")).unwrap().count();
        assert_eq!(entries(), 1);
        let entry = cache.entry_path(&engine, &WasmFile::read(&wasm).unwrap().record.sha256);
        assert!(entry.is_file());

        std::fs::write(&entry, b"\x7fELF but not wasmtime's").unwrap();
        let module = cache.load_or_compile(&engine, &wasm).unwrap();
        assert!(module.get_export("f").is_some());
        assert!(
            unsafe { Module::deserialize_file(&engine, &entry) }.is_ok(),
            "replaced"
        );
        assert_eq!(entries(), 1, "no partial files left");
    }

    #[test]
    fn another_module_is_another_entry() {
        let cache = ModuleCache::new(PathBuf::from("/c"));
        let engine = super::super::new_engine().unwrap();
        assert_ne!(
            cache.entry_path(&engine, &sha256_hex(b"\0asm one")),
            cache.entry_path(&engine, &sha256_hex(b"\0asm two"))
        );
    }
}
