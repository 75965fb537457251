//! A precompiled module stored zstd-compressed, `MODULE.cwasm.zst`, so that a
//! deployment package fits Lambda's 250 MB unzipped limit: the Python
//! interpreter's `.cwasm` is 258 MB, compressed about 60 MB.
//!
//! Wasmtime maps a `.cwasm` from a file, so the host unpacks it once into
//! the temporary folder (Lambda's `/tmp`, 512 MB by default) and maps that
//! file: ~0.5 s at a cold start, and none when a restarted bootstrap finds
//! it already there. The file is named by the compressed file's path, size
//! and time, and written beside and renamed, so it is never half there.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::source;

/// The extension of a compressed `.cwasm`.
pub const EXTENSION: &str = "cwasm.zst";

/// zstd's level for packaging: level 3 (its default) compresses the Python
/// interpreter's `.cwasm` 4.3 times in about a second; higher levels take
/// far longer for a few percent.
const LEVEL: i32 = 3;

/// The folder, under the temporary folder, holding unpacked modules.
const UNPACKED_DIR: &str = "lambda-wasm-unpacked";

/// Whether `path` is a compressed `.cwasm`.
pub fn is_compressed(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.ends_with(EXTENSION))
}

/// `cwasm` compressed, for a package.
pub fn compress(cwasm: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::bulk::compress(cwasm, LEVEL)
}

/// The unpacked `.cwasm` of the compressed `packed`: unpacked now into the
/// temporary folder unless an earlier start did.
pub fn unpacked(packed: &Path) -> std::io::Result<PathBuf> {
    let metadata = std::fs::metadata(packed)?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let identity = format!(
        "{}\n{}\n{}",
        packed.display(),
        metadata.len(),
        modified.as_nanos()
    );
    let stem = packed
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(EXTENSION))
        .unwrap_or("module.");
    let dir = std::env::temp_dir().join(UNPACKED_DIR);
    let out = dir.join(format!(
        "{stem}{}.cwasm",
        &source::sha256_hex(identity.as_bytes())[..16]
    ));
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir)?;
    let started = std::time::Instant::now();
    let partial = tempfile::NamedTempFile::new_in(&dir)?;
    let mut writer = std::io::BufWriter::new(partial);
    zstd::stream::copy_decode(std::fs::File::open(packed)?, &mut writer)?;
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .persist(&out)
        .map_err(|e| e.error)?;
    tracing::debug!(
        "unpacked {} to {} in {:?}",
        packed.display(),
        out.display(),
        started.elapsed()
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_once_to_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let packed = dir.path().join("m.cwasm.zst");
        std::fs::write(&packed, compress(&bytes).unwrap()).unwrap();
        assert!(is_compressed(&packed) && !is_compressed(&dir.path().join("m.cwasm")));
        let out = unpacked(&packed).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
        assert!(out.file_name().unwrap().to_str().unwrap().starts_with("m."));
        assert_eq!(unpacked(&packed).unwrap(), out, "reused");
        std::fs::remove_file(out).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let packed = dir.path().join("bad.cwasm.zst");
        std::fs::write(&packed, b"not zstd").unwrap();
        assert!(unpacked(&packed).is_err());
    }
}
