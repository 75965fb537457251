//! Turns `host/link-order.txt` into the ordering file LLD reads, with each
//! listed function under the name(s) it has in this link.
//!
//! Why: LLD matches ordering names exactly and skips the rest silently, and a
//! Rust symbol name carries hashes that change without the function
//! changing: LLVM renames a local function it shares between codegen units
//! to `name.llvm.<digits>` (a hash of the unit: almost any code change), and
//! the legacy mangling's `17h<16 hex digits>E` and v0's crate disambiguators
//! (`Cs<base-62>_`) hash the crate's metadata, which cargo derives from, among
//! others, the workspace's path and the features in the build. A list taken
//! in one checkout then missed a third of its functions in another. So the
//! link wrapper (host/build.rs) compares names without those hashes and
//! places every symbol of this link that matches a listed function.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// What LLVM appends to a local function it promotes for another codegen unit.
const LLVM_SUFFIX: &str = ".llvm.";

/// `name` without a trailing `.llvm.<digits>`.
fn without_llvm_suffix(name: &str) -> &str {
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

/// A legacy-mangled `_ZN...17h<16 hex digits>E` without its hash (`_ZN...E`).
fn without_legacy_hash(name: &str) -> Option<String> {
    const HASH: usize = "17h0123456789abcdef".len();
    let body = name.strip_prefix("_ZN")?.strip_suffix('E')?;
    let at = body.len().checked_sub(HASH)?;
    let hash = body.get(at..)?;
    (hash.starts_with("17h") && hash[3..].bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("_ZN{}E", &body[..at]))
}

/// A v0-mangled `_R...` without its crates' disambiguators: each
/// `Cs<base-62 digits>_` before a crate's name becomes `C`.
fn without_crate_disambiguators(name: &str) -> Option<String> {
    let bytes = name.strip_prefix("_R")?.as_bytes();
    let mut out = String::from("_R");
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'C' && bytes.get(i + 1) == Some(&b's') {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let underscore = i + 2 + digits;
            if bytes.get(underscore) == Some(&b'_')
                && bytes.get(underscore + 1).is_some_and(u8::is_ascii_digit)
            {
                out.push('C');
                i = underscore + 1;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    Some(out)
}

/// `symbol` without the hashes that change from build to build: what a
/// listed name and a symbol of this link are compared by.
pub fn stable_name(symbol: &str) -> String {
    let name = without_llvm_suffix(symbol);
    without_legacy_hash(name)
        .or_else(|| without_crate_disambiguators(name))
        .unwrap_or_else(|| name.to_owned())
}

/// The listed functions and the names they have in this link.
pub struct Resolver {
    /// Each listed function's stable name and the name the list gives it,
    /// in the list's order, each function once.
    listed: Vec<(String, String)>,
    /// Stable name of a listed function -> the symbols of this link with it.
    in_this_link: HashMap<String, BTreeSet<String>>,
}

impl Resolver {
    /// Reads the list: one symbol name a line, hottest first; `#` starts a
    /// comment line.
    pub fn new(list: &str) -> Resolver {
        let mut listed = Vec::new();
        let mut in_this_link = HashMap::new();
        for line in list.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let stable = stable_name(line);
            if !in_this_link.contains_key(&stable) {
                in_this_link.insert(stable.clone(), BTreeSet::new());
                listed.push((stable, without_llvm_suffix(line).to_owned()));
            }
        }
        Resolver {
            listed,
            in_this_link,
        }
    }

    /// Notes a symbol name defined by one of the link's inputs.
    pub fn see(&mut self, symbol: &str) {
        if let Some(names) = self.in_this_link.get_mut(&stable_name(symbol)) {
            names.insert(symbol.to_owned());
        }
    }

    /// The ordering file: for each listed function in the list's order, the
    /// symbols of this link that are it (sorted, so the file, and the binary,
    /// are the same for the same inputs), or, when none was seen (a
    /// function this link lacks), the listed name.
    pub fn ordering(&self) -> String {
        let mut out = String::new();
        for (stable, listed) in &self.listed {
            let seen = &self.in_this_link[stable];
            if seen.is_empty() {
                out.push_str(listed);
                out.push('\n');
            }
            for symbol in seen {
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
        assert_eq!(without_llvm_suffix("foo.llvm."), "foo.llvm.");
        assert_eq!(without_llvm_suffix("foo.llvm.12x"), "foo.llvm.12x");
        assert_eq!(without_llvm_suffix("foo.llvm.1.llvm.2"), "foo.llvm.1");
    }

    #[test]
    fn a_legacy_name_is_compared_without_its_hash() {
        assert_eq!(
            stable_name("_ZN11lambda_wasm3abi9push_line17hfa1d964e922a99adE"),
            "_ZN11lambda_wasm3abi9push_lineE"
        );
        assert_eq!(
            stable_name("_ZN5tokio4park17h0123456789abcdefE.llvm.42"),
            "_ZN5tokio4parkE"
        );
        // Not a hash: kept.
        assert_eq!(stable_name("_ZN3foo17hxyzE"), "_ZN3foo17hxyzE");
        assert_eq!(stable_name("memcpy"), "memcpy");
    }

    #[test]
    fn a_v0_name_is_compared_without_its_crates_disambiguators() {
        assert_eq!(
            stable_name(
                "_RNvXs2_NtNtCsjrHSEGnQ3l9_3std4hash6randomNtB5_13DefaultHasherNtNtCsgEmfK2I1SDS_4core4hash6Hasher5write.llvm.14859324403105931178"
            ),
            "_RNvXs2_NtNtC3std4hash6randomNtB5_13DefaultHasherNtNtC4core4hash6Hasher5write"
        );
        // `Cs` inside an identifier, not before a crate's name: kept.
        assert_eq!(stable_name("_RNvC5Cs1_x3foo"), "_RNvC5Cs1_x3foo");
    }

    #[test]
    fn a_listed_function_is_followed_by_every_name_it_has_in_this_link() {
        let mut resolver =
            Resolver::new("# comment\nhot.llvm.111\nwarm\n\n_ZN4cold17h0000000000000000E\nlocal\n");
        for symbol in [
            "_ZN4cold17h1111111111111111E",
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
            "hot.llvm.222\nhot.llvm.999\nwarm\n_ZN4cold17h1111111111111111E\nlocal\n"
        );
    }

    #[test]
    fn each_listed_function_appears_once_in_its_first_place() {
        let resolver = Resolver::new(
            "b\na.llvm.1\nb\na.llvm.2\n_ZN1c17h0000000000000000E\n_ZN1c17h1111111111111111E\n",
        );
        assert_eq!(resolver.ordering(), "b\na\n_ZN1c17h0000000000000000E\n");
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
