//! Handler snapshots (level 2 of docs/abi.md "Pre-initialisation"): the
//! interpreter snapshotted after the handler's module was imported, so a
//! cold start skips that import (issue 14, 16; Lambda SnapStart's idea).
//! `lambda-wasm package` ships one beside the interpreter; test mode keeps
//! them in its module cache. Both key it the same way.
//!
//! Beside each snapshot is an [`ImportRecord`]: the environment variables
//! the import read (names and a hash of each value, never the values: a
//! package must not hold secrets) and the task root's files. A snapshot is
//! restored only when the variables have those values now and the files are
//! unchanged; else the bootstrap says why, once, and imports the handler at
//! init from the runtime's snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::snapshot::{Snapshot, key};
use crate::engine::source;

/// The handler snapshot's file in a packaged interpreter's home.
pub const SNAPSHOT_FILE: &str = "lambda-wasm-handler.snapshot";
/// Its record's file, beside it.
pub const RECORD_FILE: &str = "lambda-wasm-handler.json";
/// Variables that count whether the import read them or not: the handler's
/// name (read by the glue, not always through the mapping that records
/// reads) and `TZ` (read by the C library, which the glue does not see).
const ALWAYS_READ: [&str; 2] = ["_HANDLER", "TZ"];

/// What the glue's `V` frame reports: the variables the import read
/// through the language's environment (`os.environ`, `ENV`, `process.env`).
#[derive(Debug, Default, Deserialize)]
pub struct ImportReads {
    /// The names it read, set or not.
    pub names: Vec<String>,
    /// Whether it listed the whole environment (iterated or copied it).
    #[serde(default)]
    pub all: bool,
}

impl ImportReads {
    /// The `V` frame's body.
    pub fn parse(body: &[u8]) -> anyhow::Result<Self> {
        serde_json::from_slice(body)
            .context("the runtime glue's record of the variables read at import is not valid JSON")
    }
}

/// What a handler snapshot depends on besides the interpreter and its glue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// Every variable that counts, with SHA-256 of its value when the
    /// snapshot was taken (`None`: unset then).
    pub variables: BTreeMap<String, Option<String>>,
    /// Whether the import listed the whole environment: then no variable
    /// may have appeared since either.
    pub whole_environment: bool,
    /// The task root's files.
    pub files: Vec<FileRecord>,
    /// Whether the import used the interpreter's rest (a split module's,
    /// as Python's bundled packages are): new environments then load it at
    /// init, where the import would have, not in their first invocation.
    #[serde(default)]
    pub loads_rest: bool,
}

/// One file of the task root, as the function sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Its path under the task root, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time (whole seconds since the epoch) where the
    /// function runs: a matching time spares reading the file.
    pub modified_secs: u64,
    /// SHA-256 of its contents.
    pub sha256: String,
}

impl FileRecord {
    /// The record of `file`, `path` under the task root; `modified_secs`
    /// overrides its time (a package's files get the zip's entry time).
    pub fn of(file: &Path, path: String, modified_secs: Option<u64>) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        Ok(Self {
            path,
            size: bytes.len() as u64,
            modified_secs: modified_secs.unwrap_or_else(|| modified_secs_of(file)),
            sha256: source::sha256_hex(&bytes),
        })
    }

    /// Whether the file under `root` still is what this records.
    fn unchanged_under(&self, root: &Path) -> bool {
        let file = root.join(&self.path);
        match std::fs::metadata(&file) {
            Ok(metadata) if metadata.len() == self.size => {
                modified_secs_of(&file) == self.modified_secs
                    || std::fs::read(&file)
                        .is_ok_and(|bytes| source::sha256_hex(&bytes) == self.sha256)
            }
            _ => false,
        }
    }
}

impl ImportRecord {
    /// The record of an import that read `reads`, taken with `variables`
    /// over a task root of `files`.
    pub fn new(
        reads: &ImportReads,
        variables: &[(String, String)],
        files: Vec<FileRecord>,
        loads_rest: bool,
    ) -> Self {
        let mut names: Vec<&str> = reads.names.iter().map(String::as_str).collect();
        names.extend(ALWAYS_READ);
        if reads.all {
            names.extend(variables.iter().map(|(name, _)| name.as_str()));
        }
        Self {
            variables: names
                .into_iter()
                .map(|name| (name.to_string(), value_hash(variables, name)))
                .collect(),
            whole_environment: reads.all,
            files,
            loads_rest,
        }
    }

    /// Why a snapshot with this record cannot serve a function with
    /// `variables` over `task_root`; `None` when it can. `taken` names when
    /// the snapshot was taken, in the words the reason uses ("package time").
    pub fn mismatch(
        &self,
        task_root: &Path,
        variables: &[(String, String)],
        taken: &str,
    ) -> Option<String> {
        if let Some((name, _)) = self
            .variables
            .iter()
            .find(|(name, hash)| value_hash(variables, name) != **hash)
        {
            return Some(format!("{name} differs from {taken} (read at import)"));
        }
        let appeared = variables
            .iter()
            .find(|(name, _)| !self.variables.contains_key(name));
        if let (true, Some((name, _))) = (self.whole_environment, appeared) {
            return Some(format!(
                "{name} is set now and the handler's import listed the whole environment"
            ));
        }
        self.files
            .iter()
            .find(|file| !file.unchanged_under(task_root))
            .map(|file| format!("{} changed since {taken}", file.path))
    }

    /// The snapshot's key: the runtime's key (interpreter, glue, where the
    /// guest sees the task root) and this record.
    fn key(&self, runtime_key: &[u8; 32]) -> [u8; 32] {
        key(&[runtime_key, &self.to_json()])
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a record serializes")
    }
}

/// Where a handler snapshot and its record are.
pub struct Location {
    /// The snapshot.
    pub snapshot: PathBuf,
    /// Its record.
    pub record: PathBuf,
}

impl Location {
    /// The packaged snapshot in an interpreter's `home`.
    pub fn in_home(home: &Path) -> Self {
        Self {
            snapshot: home.join(SNAPSHOT_FILE),
            record: home.join(RECORD_FILE),
        }
    }

    /// A test-mode snapshot in `cache`, by the runtime's key, the handler
    /// and the task root's files as they are now (paths, sizes, times; a
    /// changed file makes another location, as `serve` reloads on such a
    /// change).
    pub fn in_cache(
        cache: &Path,
        runtime_key: &[u8; 32],
        handler: &str,
        task_root: &Path,
    ) -> anyhow::Result<Self> {
        let mut stamps = Vec::new();
        for file in source::files_under(task_root)? {
            let metadata = std::fs::metadata(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let modified = metadata.modified().ok();
            stamps.push(format!(
                "{}\0{}\0{modified:?}",
                file.display(),
                metadata.len()
            ));
        }
        let name = source::hex(&key(&[
            runtime_key,
            handler.as_bytes(),
            stamps.join("\n").as_bytes(),
        ]));
        Ok(Self {
            snapshot: cache.join(format!("{name}.snapshot")),
            record: cache.join(format!("{name}.json")),
        })
    }

    /// The snapshot here and its record, if there is one taken with the
    /// runtime `runtime_key` names; `Ok(None)` when there is none.
    pub fn load(&self, runtime_key: &[u8; 32]) -> anyhow::Result<Option<(Snapshot, ImportRecord)>> {
        let json = match std::fs::read(&self.record) {
            Ok(json) => json,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read {}", self.record.display()));
            }
        };
        let record: ImportRecord = serde_json::from_slice(&json).with_context(|| {
            format!(
                "{} is not a handler snapshot's record",
                self.record.display()
            )
        })?;
        let snapshot = Snapshot::load(&self.snapshot, &record.key(runtime_key))?
            .map(|snapshot| snapshot.loading_rest(record.loads_rest))
            .with_context(|| {
                format!(
                    "{} was taken with another interpreter, runtime glue or record than this one's",
                    self.snapshot.display()
                )
            })?;
        Ok(Some((snapshot, record)))
    }

    /// Saves `snapshot` and its `record` here (the folder made if needed).
    pub fn save(
        &self,
        snapshot: &Snapshot,
        record: &ImportRecord,
        runtime_key: &[u8; 32],
    ) -> anyhow::Result<()> {
        if let Some(folder) = self.snapshot.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        snapshot.save(&self.snapshot, &record.key(runtime_key))?;
        std::fs::write(&self.record, record.to_json())
            .with_context(|| format!("cannot write {}", self.record.display()))
    }
}

/// The packaged handler snapshot in `home`, if it can serve this function
/// (`variables` over `task_root`); else `None`, having said why in one line.
pub fn packaged(
    home: &Path,
    runtime_key: &[u8; 32],
    task_root: &Path,
    variables: &[(String, String)],
) -> Option<Snapshot> {
    let refuse = |reason: String| {
        tracing::warn!("not using the handler snapshot: {reason}; importing the handler at init");
    };
    match Location::in_home(home).load(runtime_key) {
        Ok(None) => None,
        Ok(Some((snapshot, record))) => match record.mismatch(task_root, variables, "package time")
        {
            None => Some(snapshot),
            Some(reason) => {
                refuse(reason);
                None
            }
        },
        Err(error) => {
            refuse(format!("{error:#}"));
            None
        }
    }
}

/// SHA-256 of the value of variable `name` in `variables` (the last one
/// wins, as in an environment), hex: what a record keeps of it; `None` when
/// it is unset.
fn value_hash(variables: &[(String, String)], name: &str) -> Option<String> {
    variables
        .iter()
        .rev()
        .find(|(existing, _)| existing == name)
        .map(|(_, value)| source::sha256_hex(value.as_bytes()))
}

/// `file`'s modification time in whole seconds since the epoch (0 when
/// unknown): zip keeps whole seconds.
fn modified_secs_of(file: &Path) -> u64 {
    std::fs::metadata(file)
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    fn reads(names: &[&str], all: bool) -> ImportReads {
        ImportReads {
            names: names.iter().map(|name| name.to_string()).collect(),
            all,
        }
    }

    #[test]
    fn a_record_keeps_hashes_of_what_the_import_read_and_tz() {
        let env = vars(&[("_HANDLER", "m.h"), ("SECRET", "hunter2"), ("OTHER", "x")]);
        let record =
            ImportRecord::new(&reads(&["SECRET", "UNSET"], false), &env, Vec::new(), false);
        let names: Vec<_> = record.variables.keys().map(String::as_str).collect();
        assert_eq!(names, ["SECRET", "TZ", "UNSET", "_HANDLER"]);
        assert_eq!(record.variables["UNSET"], None);
        assert_eq!(record.variables["TZ"], None);
        let json = String::from_utf8(record.to_json()).unwrap();
        assert!(!json.contains("hunter2"), "a value in the record: {json}");
    }

    #[test]
    fn a_mismatch_names_the_variable_or_file() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("m.py"), "x = 1\n").unwrap();
        let file = FileRecord::of(&root.path().join("m.py"), "m.py".into(), None).unwrap();
        let env = vars(&[("_HANDLER", "m.h"), ("FOO", "1")]);
        let record = ImportRecord::new(&reads(&["FOO", "BAR"], false), &env, vec![file], false);
        assert_eq!(record.mismatch(root.path(), &env, "the snapshot"), None);
        let unread_changed = vars(&[("_HANDLER", "m.h"), ("FOO", "1"), ("NEW", "2")]);
        assert_eq!(
            record.mismatch(root.path(), &unread_changed, "the snapshot"),
            None
        );
        let cases = [
            (vars(&[("_HANDLER", "m.h"), ("FOO", "2")]), "FOO differs"),
            (vars(&[("_HANDLER", "m.h")]), "FOO differs"),
            (
                vars(&[("_HANDLER", "m.h"), ("FOO", "1"), ("BAR", "")]),
                "BAR differs",
            ),
            (
                vars(&[("_HANDLER", "n.h"), ("FOO", "1")]),
                "_HANDLER differs",
            ),
            (
                vars(&[("_HANDLER", "m.h"), ("FOO", "1"), ("TZ", ":UTC")]),
                "TZ differs",
            ),
        ];
        for (env, expected) in cases {
            let reason = record.mismatch(root.path(), &env, "the snapshot").unwrap();
            assert!(reason.starts_with(expected), "{reason}");
        }
        std::fs::write(root.path().join("m.py"), "x = 22\n").unwrap();
        let reason = record.mismatch(root.path(), &env, "the snapshot").unwrap();
        assert_eq!(reason, "m.py changed since the snapshot");
    }

    #[test]
    fn listing_the_environment_makes_every_variable_count() {
        let root = tempfile::tempdir().unwrap();
        let env = vars(&[("_HANDLER", "m.h"), ("A", "1")]);
        let record = ImportRecord::new(&reads(&[], true), &env, Vec::new(), false);
        assert_eq!(record.mismatch(root.path(), &env, "the snapshot"), None);
        let more = vars(&[("_HANDLER", "m.h"), ("A", "1"), ("B", "2")]);
        let reason = record.mismatch(root.path(), &more, "the snapshot").unwrap();
        assert!(reason.contains("B is set now"), "{reason}");
    }

    #[test]
    fn a_saved_snapshot_loads_only_with_its_record_and_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::in_home(dir.path());
        let runtime = key(&[b"interpreter"]);
        assert!(location.load(&runtime).unwrap().is_none(), "none yet");
        let snapshot = Snapshot::capture(&[0; 65536], &[1; 65536]);
        let record = ImportRecord::new(
            &reads(&["A"], false),
            &vars(&[("A", "1")]),
            Vec::new(),
            false,
        );
        location.save(&snapshot, &record, &runtime).unwrap();
        let (_, loaded) = location.load(&runtime).unwrap().unwrap();
        assert_eq!(loaded, record);
        let error = location.load(&key(&[b"another"])).unwrap_err();
        assert!(
            format!("{error:#}").contains("another interpreter"),
            "{error:#}"
        );
        let tampered = String::from_utf8(record.to_json())
            .unwrap()
            .replace("\"A\"", "\"B\"");
        std::fs::write(&location.record, tampered).unwrap();
        assert!(
            location.load(&runtime).is_err(),
            "a record edited after the snapshot"
        );
    }
}
