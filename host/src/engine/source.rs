//! Which `.wasm` a `.cwasm` was compiled from, so a stale `.cwasm` never
//! shadows a rebuilt `.wasm` (docs/abi.md section 1).
//!
//! wasmtime's artifact is an ELF file with no room for our own metadata, so
//! `compile` and `package` write a small JSON sidecar beside it,
//! `MODULE.cwasm.source`: the `.wasm`'s SHA-256, size and modification time.
//! At load the size and time are compared first (one `stat`); the `.wasm` is
//! hashed only when its size matches but its time does not (a copy, a
//! checkout), so an unchanged module costs no hashing at cold start.
//!
//! Also [`files_under`], the listing of a task root that `package`, the
//! Python bytecode step and the handler snapshots' records share.

use std::fs::Metadata;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The identity of a `.wasm` as it was when a `.cwasm` was compiled from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// SHA-256 of the `.wasm`'s bytes, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time: seconds since the Unix epoch ...
    pub modified_secs: u64,
    /// ... and nanoseconds within that second.
    pub modified_nanos: u32,
}

/// What a `.cwasm`'s sidecar says of the `.wasm` beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Compiled from this very `.wasm`.
    Fresh,
    /// Compiled from other bytes than the `.wasm` has now.
    Stale,
    /// No readable sidecar (a `.cwasm` from an older lambda-wasm or from
    /// `wasmtime compile`): its source is unknown.
    Unrecorded,
}

/// A `.wasm` read whole, with its identity.
pub struct WasmFile {
    /// The module's bytes.
    pub bytes: Vec<u8>,
    /// Their identity, as a sidecar records it.
    pub record: SourceRecord,
}

impl WasmFile {
    /// Reads `wasm`, its size and time taken from the same open file.
    pub fn read(wasm: &Path) -> std::io::Result<Self> {
        let mut file = std::fs::File::open(wasm)?;
        let metadata = file.metadata()?;
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        file.read_to_end(&mut bytes)?;
        let (modified_secs, modified_nanos) = modified(&metadata);
        let record = SourceRecord {
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            modified_secs,
            modified_nanos,
        };
        Ok(Self { bytes, record })
    }
}

/// The sidecar of `cwasm`: its path with `.source` appended.
pub fn sidecar_path(cwasm: &Path) -> PathBuf {
    let mut path = cwasm.as_os_str().to_owned();
    path.push(".source");
    PathBuf::from(path)
}

/// Writes `record` as `cwasm`'s sidecar, beside and renamed into place.
pub fn write_sidecar(cwasm: &Path, record: &SourceRecord) -> anyhow::Result<()> {
    let json = serde_json::to_vec(record).expect("a record serializes");
    super::write_replacing(&sidecar_path(cwasm), &json)
}

/// Whether `cwasm` was compiled from `wasm` as it is now.
pub fn freshness(cwasm: &Path, wasm: &Path) -> Freshness {
    let Some(record) = read_sidecar(cwasm) else {
        return Freshness::Unrecorded;
    };
    let Ok(metadata) = std::fs::metadata(wasm) else {
        return Freshness::Stale;
    };
    if metadata.len() != record.size {
        return Freshness::Stale;
    }
    if same_time(&record, modified(&metadata)) {
        return Freshness::Fresh;
    }
    match WasmFile::read(wasm) {
        Ok(file) if file.record.sha256 == record.sha256 => Freshness::Fresh,
        _ => Freshness::Stale,
    }
}

/// The SHA-256 of the `.wasm` that `cwasm` was compiled from, as its
/// sidecar records it (what a snapshot of the module's memory is keyed by).
pub fn recorded_sha256(cwasm: &Path) -> Option<String> {
    read_sidecar(cwasm).map(|record| record.sha256)
}

fn read_sidecar(cwasm: &Path) -> Option<SourceRecord> {
    let json = std::fs::read(sidecar_path(cwasm)).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The recorded time, or that time cut to whole seconds: zip stores times
/// in seconds, so an unzipped deployment package keeps only those; a
/// rebuilt `.wasm` has a new time, with nanoseconds.
fn same_time(record: &SourceRecord, (secs, nanos): (u64, u32)) -> bool {
    secs == record.modified_secs && (nanos == record.modified_nanos || nanos == 0)
}

fn modified(metadata: &Metadata) -> (u64, u32) {
    let since_epoch = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    (since_epoch.as_secs(), since_epoch.subsec_nanos())
}

/// SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `wasm` was modified after `cwasm` (for a `.cwasm` without a
/// sidecar, a hint that it may be stale).
pub fn newer_than(wasm: &Path, cwasm: &Path) -> bool {
    let time = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match (time(wasm), time(cwasm)) {
        (Some(wasm), Some(cwasm)) => wasm > cwasm,
        _ => false,
    }
}

/// Every regular file under `root`, following no symbolic links out of it.
pub fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("cannot list {}", folder.display()))?
        {
            let path = entry?.path();
            let metadata = std::fs::metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if metadata.is_dir() {
                folders.push(path);
            } else if metadata.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn set_modified(path: &Path, time: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    fn recorded(dir: &Path, bytes: &[u8]) -> (PathBuf, PathBuf) {
        let wasm = dir.join("m.wasm");
        let cwasm = dir.join("m.cwasm");
        std::fs::write(&wasm, bytes).unwrap();
        set_modified(
            &wasm,
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
        );
        write_sidecar(&cwasm, &WasmFile::read(&wasm).unwrap().record).unwrap();
        (wasm, cwasm)
    }

    #[test]
    fn the_same_file_is_fresh_without_hashing_a_rebuilt_one_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let (wasm, cwasm) = recorded(dir.path(), b"\0asm one");
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Fresh);
        // Same size, new bytes, new time: what a rebuild looks like.
        std::fs::write(&wasm, b"\0asm two").unwrap();
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Stale);
        std::fs::write(&wasm, b"\0asm longer").unwrap();
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Stale);
    }

    #[test]
    fn a_copy_with_another_time_is_fresh_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (wasm, cwasm) = recorded(dir.path(), b"\0asm one");
        set_modified(&wasm, SystemTime::now());
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Fresh);
    }

    #[test]
    fn same_size_and_time_cut_to_seconds_counts_as_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (wasm, cwasm) = recorded(dir.path(), b"\0asm one");
        set_modified(&wasm, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Fresh);
    }

    #[test]
    fn no_sidecar_is_unrecorded_and_a_missing_wasm_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let (wasm, cwasm) = recorded(dir.path(), b"\0asm one");
        std::fs::remove_file(&wasm).unwrap();
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Stale);
        std::fs::write(sidecar_path(&cwasm), b"not json").unwrap();
        assert_eq!(freshness(&cwasm, &wasm), Freshness::Unrecorded);
    }
}
