//! The symbol names a link input defines, read from an ELF object's symbol
//! table or an archive's (rlib's) symbol index, without reading the rest of
//! the file (the link's rlibs are hundreds of MB).

use std::fs::File;
use std::path::Path;

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol, ReadCache};

/// Calls `each` with the symbol names `path` defines: every symbol of an ELF
/// object, or the global ones of an archive. Names LLVM suffixes are global
/// (promoted for another codegen unit), so an archive's index has them all.
pub fn for_each_symbol(path: &Path, mut each: impl FnMut(&str)) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let cache = ReadCache::new(file);
    let unreadable =
        |e: object::Error| format!("cannot read the symbols of {}: {e}", path.display());
    if let Ok(archive) = ArchiveFile::parse(&cache) {
        for symbol in archive.symbols().map_err(unreadable)?.into_iter().flatten() {
            if let Ok(name) = std::str::from_utf8(symbol.map_err(unreadable)?.name()) {
                each(name);
            }
        }
    } else {
        let object = object::File::parse(&cache).map_err(unreadable)?;
        for symbol in object.symbols() {
            if let Ok(name) = symbol.name() {
                each(name);
            }
        }
    }
    Ok(())
}
