//! The deployment package's contents and its zip file: entries sorted by
//! name with a fixed time, so the same input gives the same bytes; the
//! `bootstrap` executable (unix mode 0o755) as Lambda requires; made to fit
//! Lambda's 250 MB unzipped limit by compressing the largest `.cwasm` files
//! when it would not (see [`crate::engine::compressed`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime};

use crate::engine::compressed;

/// Lambda's limit on a function's unzipped deployment package.
pub const LAMBDA_UNZIPPED_LIMIT: u64 = 250 * 1024 * 1024;
/// Lambda's limit on a zip uploaded in the request itself; a larger one
/// goes through S3.
pub const DIRECT_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

/// The time of every entry: the earliest a zip can state (1980-01-01
/// 00:00), so that a package depends only on the files' contents.
pub const ENTRY_TIME: DateTime = DateTime::DEFAULT;
/// [`ENTRY_TIME`] in seconds since the Unix epoch, read as UTC (as Lambda,
/// whose clock is UTC, unzips it).
pub const ENTRY_TIME_UNIX_SECS: u64 = 315_532_800;

/// Where an entry's bytes come from.
pub enum Content {
    /// A file, read when the zip is written.
    File(PathBuf),
    /// Bytes made while packaging (a compiled module, its source record).
    Bytes(Vec<u8>),
}

/// One file of the package.
pub struct Entry {
    content: Content,
    executable: bool,
    size: u64,
}

/// The package's files by their path inside it (`/`-separated).
#[derive(Default)]
pub struct Contents {
    entries: BTreeMap<String, Entry>,
}

impl Contents {
    /// Adds (or replaces) the file `name` with the bytes of the file `from`,
    /// executable when `from` is.
    pub fn add_file(&mut self, name: &str, from: &Path) -> anyhow::Result<()> {
        let metadata =
            std::fs::metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
        let executable =
            std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0;
        self.insert(
            name,
            Content::File(from.to_path_buf()),
            executable,
            metadata.len(),
        );
        Ok(())
    }

    /// Adds (or replaces) the file `name` holding `bytes`.
    pub fn add_bytes(&mut self, name: &str, bytes: Vec<u8>) {
        let size = bytes.len() as u64;
        self.insert(name, Content::Bytes(bytes), false, size);
    }

    /// Adds (or replaces) the executable `name` with the bytes of `from`.
    pub fn add_executable(&mut self, name: &str, from: &Path) -> anyhow::Result<()> {
        self.add_file(name, from)?;
        if let Some(entry) = self.entries.get_mut(name) {
            entry.executable = true;
        }
        Ok(())
    }

    fn insert(&mut self, name: &str, content: Content, executable: bool, size: u64) {
        let entry = Entry {
            content,
            executable,
            size,
        };
        self.entries.insert(name.to_string(), entry);
    }

    /// Whether the package has the file `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The bytes of every file, as Lambda counts the unzipped size.
    pub fn unzipped_bytes(&self) -> u64 {
        self.entries.values().map(|entry| entry.size).sum()
    }

    /// Compresses the largest `.cwasm` files (to `.cwasm.zst`, their source
    /// records renamed with them) until the package fits Lambda's limit;
    /// returns the new names. Fails, naming the largest files, when even
    /// that does not make it fit.
    pub fn fit_lambda_limit(&mut self) -> anyhow::Result<Vec<String>> {
        let mut compressed_names = Vec::new();
        while self.unzipped_bytes() > LAMBDA_UNZIPPED_LIMIT {
            let Some(largest) = self.largest_uncompressed_cwasm() else {
                bail!(
                    "the package is {} unzipped, over Lambda's limit of {}; its largest files: {}. Leave large files out of the task root, or deploy a container image (packaging/Dockerfile)",
                    megabytes(self.unzipped_bytes()),
                    megabytes(LAMBDA_UNZIPPED_LIMIT),
                    self.largest_files(5)
                );
            };
            let packed_name = format!("{largest}.zst");
            let bytes = self.read(&largest)?;
            let packed = compressed::compress(&bytes)
                .with_context(|| format!("cannot compress {largest}"))?;
            self.entries.remove(&largest);
            self.add_bytes(&packed_name, packed);
            if let Some(record) = self.entries.remove(&format!("{largest}.source")) {
                self.entries.insert(format!("{packed_name}.source"), record);
            }
            compressed_names.push(packed_name);
        }
        Ok(compressed_names)
    }

    fn largest_uncompressed_cwasm(&self) -> Option<String> {
        self.entries
            .iter()
            .filter(|(name, _)| name.ends_with(".cwasm"))
            .max_by_key(|(_, entry)| entry.size)
            .map(|(name, _)| name.clone())
    }

    /// The `count` largest files with their sizes, largest first.
    fn largest_files(&self, count: usize) -> String {
        let mut by_size: Vec<_> = self.entries.iter().collect();
        by_size.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.size));
        by_size
            .iter()
            .take(count)
            .map(|(name, entry)| format!("{name} ({})", megabytes(entry.size)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn read(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        match &self.entries[name].content {
            Content::Bytes(bytes) => Ok(bytes.clone()),
            Content::File(path) => {
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
            }
        }
    }

    /// Writes the zip to `out` (beside it first, then renamed, so a failed
    /// run leaves no half zip); returns its size.
    pub fn write_zip(&self, out: &Path) -> anyhow::Result<u64> {
        let partial_path = out.with_extension("zip.partial");
        let file = std::fs::File::create(&partial_path)
            .with_context(|| format!("cannot create {}", partial_path.display()))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        for (name, entry) in &self.entries {
            zip.start_file(name.as_str(), options(name, entry))
                .with_context(|| format!("cannot add {name} to the zip"))?;
            match &entry.content {
                Content::Bytes(bytes) => zip.write_all(bytes),
                Content::File(path) => std::fs::File::open(path)
                    .and_then(|mut file| std::io::copy(&mut file, &mut zip).map(drop)),
            }
            .with_context(|| format!("cannot write {name} into {}", partial_path.display()))?;
        }
        let mut writer = zip
            .finish()
            .with_context(|| format!("cannot finish {}", partial_path.display()))?;
        writer.flush()?;
        drop(writer);
        std::fs::rename(&partial_path, out).with_context(|| {
            format!(
                "cannot move {} to {}",
                partial_path.display(),
                out.display()
            )
        })?;
        Ok(std::fs::metadata(out)?.len())
    }
}

/// How an entry is stored: deflated, except what is compressed already (a
/// `.cwasm.zst`, the interpreter's standard library zip), stored as is.
fn options(name: &str, entry: &Entry) -> SimpleFileOptions {
    let already_compressed = name.ends_with(".zst") || name.ends_with(".zip");
    let method = if already_compressed {
        CompressionMethod::Stored
    } else {
        CompressionMethod::Deflated
    };
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(ENTRY_TIME)
        .unix_permissions(if entry.executable { 0o755 } else { 0o644 })
        .large_file(entry.size >= u64::from(u32::MAX))
}

/// `bytes` in megabytes, for messages (`12.3 MB`).
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    /// Every entry of `zip`: its name, unix mode and bytes.
    fn read_zip(zip: &Path) -> anyhow::Result<Vec<(String, u32, Vec<u8>)>> {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(zip)?)?;
        let mut files = Vec::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            files.push((
                file.name()?.into_owned(),
                file.unix_mode().unwrap_or(0),
                bytes,
            ));
        }
        Ok(files)
    }

    #[test]
    fn the_same_contents_give_the_same_zip() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let zips = [dir.path().join("a.zip"), dir.path().join("b.zip")];
        for zip in &zips {
            let mut contents = Contents::default();
            contents.add_bytes("z.txt", b"last".to_vec());
            contents.add_executable("bootstrap", &script).unwrap();
            contents.add_bytes("a/b.txt", b"first".to_vec());
            contents.write_zip(zip).unwrap();
        }
        let [a, b] = zips.clone().map(|zip| std::fs::read(zip).unwrap());
        assert_eq!(a, b);
        let files = read_zip(&zips[0]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|(name, mode, _)| (name.as_str(), mode & 0o777))
            .collect();
        assert_eq!(
            names,
            [("a/b.txt", 0o644), ("bootstrap", 0o755), ("z.txt", 0o644)]
        );
    }

    #[test]
    fn compresses_the_largest_cwasm_to_fit_and_names_what_is_big_when_it_cannot() {
        let mut contents = Contents::default();
        let big = (LAMBDA_UNZIPPED_LIMIT / 2) as usize;
        contents.add_bytes("python/python-snapshot.cwasm", vec![7; big + 1024]);
        contents.add_bytes("python/python-snapshot.cwasm.source", b"{}".to_vec());
        contents.add_bytes("hello.cwasm", vec![1; 1024]);
        contents.add_bytes("data.bin", vec![0; big]);
        let packed = contents.fit_lambda_limit().unwrap();
        assert_eq!(packed, ["python/python-snapshot.cwasm.zst"]);
        assert!(contents.contains("python/python-snapshot.cwasm.zst.source"));
        assert!(
            contents.contains("hello.cwasm"),
            "small modules stay as they are"
        );
        assert!(contents.unzipped_bytes() <= LAMBDA_UNZIPPED_LIMIT);

        contents.add_bytes("more.bin", vec![0; big]);
        let error = contents.fit_lambda_limit().unwrap_err().to_string();
        assert!(
            error.contains("over Lambda's limit of 250.0 MB")
                && error.contains("data.bin (125.0 MB), more.bin (125.0 MB)"),
            "{error}"
        );
    }
}
