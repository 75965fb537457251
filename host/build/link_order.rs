//! Turns `host/link-order.txt` into the ordering file LLD reads, with each
//! listed function under the name it has in this link.
//!
//! Why: LLVM renames a local function it shares between codegen units to
//! `name.llvm.<digits>`, a hash of the unit that changes with almost any code
//! change; LLD matches ordering names exactly and skips the rest silently. So
//! the list keeps the names without that suffix, and the link wrapper
//! (host/build.rs) resolves them against the symbols of the link's inputs.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// What LLVM appends to a local function it promotes for another codegen unit.
const LLVM_SUFFIX: &str = ".llvm.";

/// `name` without a trailing `.llvm.<digits>`.
pub fn without_llvm_suffix(name: &str) -> &str {
    match name.rfind(LLVM_SUFFIX) {
        Some(at) => {
            let digits = &name[at + LLVM_SUFFIX.len()..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                &name[..at]
            } else {
                name
            }
        }
        None => name,
    }
}

/// The listed functions and the suffixed names they have in this link.
pub struct Resolver {
    /// Listed names in order, without suffixes, each once.
    listed: Vec<String>,
    /// Listed name -> the `name.llvm.<digits>` symbols seen for it.
    suffixed: HashMap<String, BTreeSet<String>>,
}

impl Resolver {
    /// Reads the list: one symbol name a line, hottest first; `#` starts a
    /// comment line. Names that still carry a suffix (a list from before the
    /// suffixes were stripped) are taken without it.
    pub fn new(list: &str) -> Resolver {
        let mut listed = Vec::new();
        let mut suffixed = HashMap::new();
        for line in list.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = without_llvm_suffix(line);
            if !suffixed.contains_key(name) {
                suffixed.insert(name.to_owned(), BTreeSet::new());
                listed.push(name.to_owned());
            }
        }
        Resolver { listed, suffixed }
    }

    /// Notes a symbol name defined by one of the link's inputs.
    pub fn see(&mut self, symbol: &str) {
        let name = without_llvm_suffix(symbol);
        if name.len() == symbol.len() {
            return;
        }
        if let Some(names) = self.suffixed.get_mut(name) {
            names.insert(symbol.to_owned());
        }
    }

    /// The ordering file: each listed name in the list's order, then the
    /// suffixed names it has in this link (sorted, so the file, and the
    /// binary, are the same for the same inputs).
    pub fn ordering(&self) -> String {
        let mut out = String::new();
        for name in &self.listed {
            out.push_str(name);
            out.push('\n');
            for symbol in &self.suffixed[name] {
                out.push_str(symbol);
                out.push('\n');
            }
        }
        out
    }
}

/// The files on a linker command line whose symbols can carry a suffix: the
/// object files and archives (rlibs) named by path. Libraries found through
/// `-l` are C (libc, libgcc) and never do.
pub fn input_files(linker_args: &[String]) -> Vec<PathBuf> {
    linker_args
        .iter()
        .filter(|arg| !arg.starts_with('-'))
        .filter(|arg| [".o", ".rlib", ".a"].iter().any(|ext| arg.ends_with(ext)))
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_a_trailing_llvm_hash() {
        assert_eq!(
            without_llvm_suffix("_RNvfoo.llvm.18075598678540060183"),
            "_RNvfoo"
        );
        assert_eq!(
            without_llvm_suffix("_ZN3foo17h0123456789abcdefE"),
            "_ZN3foo17h0123456789abcdefE"
        );
        assert_eq!(without_llvm_suffix("foo.llvm."), "foo.llvm.");
        assert_eq!(without_llvm_suffix("foo.llvm.12x"), "foo.llvm.12x");
        assert_eq!(without_llvm_suffix("foo.llvm.1.llvm.2"), "foo.llvm.1");
    }

    #[test]
    fn a_listed_name_is_followed_by_its_suffixed_names_in_this_link() {
        let mut resolver = Resolver::new("# comment\nhot.llvm.111\nwarm\n\ncold\n");
        for symbol in [
            "cold",
            "hot.llvm.999",
            "hot.llvm.222",
            "other.llvm.5",
            "warm",
            "hotter.llvm.7",
        ] {
            resolver.see(symbol);
        }
        assert_eq!(
            resolver.ordering(),
            "hot\nhot.llvm.222\nhot.llvm.999\nwarm\ncold\n"
        );
    }

    #[test]
    fn each_listed_name_appears_once_in_its_first_place() {
        let resolver = Resolver::new("b\na.llvm.1\nb\na.llvm.2\n");
        assert_eq!(resolver.ordering(), "b\na\n");
    }

    #[test]
    fn inputs_are_the_objects_and_archives_named_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("main.o");
        let rlib = dir.path().join("libstd-1234.rlib");
        std::fs::write(&object, b"").unwrap();
        std::fs::write(&rlib, b"").unwrap();
        let args: Vec<String> = [
            "-plugin-opt=x.o".to_owned(),
            "-o".to_owned(),
            dir.path().join("lambda-wasm").display().to_string(),
            object.display().to_string(),
            dir.path().join("missing.o").display().to_string(),
            rlib.display().to_string(),
            "-lc".to_owned(),
        ]
        .into();
        assert_eq!(input_files(&args), vec![object, rlib]);
    }
}
