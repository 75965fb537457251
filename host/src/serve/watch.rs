//! Whether a function's code changed on disk: a fingerprint of the `.wasm`,
//! `.cwasm` and handler source files (Python, JavaScript, Ruby) under its
//! task root (their paths,
//! sizes and modification times), taken at the start of each invocation so
//! an edit is served by the next one without a restart.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use crate::guest::{javascript, ruby};

/// Whether a change of `file` means new code: a module, or source an
/// interpreter guest loads.
fn is_code(file: &Path) -> bool {
    file.extension()
        .is_some_and(|ext| ext == "wasm" || ext == "cwasm" || ext == "py")
        || javascript::is_source(file)
        || ruby::is_source(file)
}

/// At most this many entries are looked at, so a huge task root cannot make
/// every invocation slow; changes past them are not seen.
const MAX_ENTRIES: usize = 4096;

/// Folders never holding the handler's code: written by interpreters
/// themselves (`__pycache__`) or hidden (`.git`).
fn skipped(name: &str) -> bool {
    name == "__pycache__" || name.starts_with('.')
}

/// A value that changes when any code file under `root` is added, removed
/// or rewritten.
pub fn fingerprint(root: &Path) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut budget = MAX_ENTRIES;
    visit(root, &mut hasher, &mut budget);
    hasher.finish()
}

fn visit(dir: &Path, hasher: &mut DefaultHasher, budget: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    // read_dir's order is unspecified; sorting keeps the fingerprint stable.
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = entry.path();
        // Not followed through symlinks to folders, so a link loop ends.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !skipped(&entry.file_name().to_string_lossy()) {
                visit(&path, hasher, budget);
            }
            continue;
        }
        if !is_code(&path) {
            continue;
        }
        path.hash(hasher);
        if let Ok(meta) = std::fs::metadata(&path) {
            meta.len().hash(hasher);
            meta.modified().ok().hash(hasher);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_with_code_files_only() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pkg")).unwrap();
        std::fs::write(root.path().join("pkg/app.py"), "x = 1\n").unwrap();
        let first = fingerprint(root.path());
        std::fs::write(root.path().join("notes.txt"), "not code").unwrap();
        std::fs::create_dir(root.path().join("__pycache__")).unwrap();
        std::fs::write(root.path().join("__pycache__/app.py"), "cache").unwrap();
        assert_eq!(fingerprint(root.path()), first);
        std::fs::write(root.path().join("pkg/app.py"), "x = 22\n").unwrap();
        let edited = fingerprint(root.path());
        assert_ne!(edited, first);
        std::fs::write(root.path().join("hello.wasm"), b"\0asm").unwrap();
        let with_module = fingerprint(root.path());
        assert_ne!(with_module, edited);
        std::fs::write(root.path().join("handler.rb"), "def handler; end\n").unwrap();
        assert_ne!(fingerprint(root.path()), with_module, "Ruby source is code");
    }
}
