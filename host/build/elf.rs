//! The symbol names a link input defines, read from the symbol tables of an
//! ELF object or of an archive's (rlib's) member objects, without reading
//! the rest of the file (the link's rlibs are hundreds of MB).

use std::fs::File;
use std::path::Path;

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol, ReadCache, ReadRef, SymbolKind};

/// Calls `each` with the name of every function `path` defines, local ones
/// included: an archive's index names only its global symbols, and most of
/// the functions a bootstrap runs are local to their codegen unit (generic
/// instantiations, closures), named with the crates' hashes of the build
/// that listed them.
pub fn for_each_symbol(path: &Path, mut each: impl FnMut(&str)) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let cache = ReadCache::new(file);
    let unreadable =
        |e: object::Error| format!("cannot read the symbols of {}: {e}", path.display());
    match ArchiveFile::parse(&cache) {
        Ok(archive) => {
            for member in archive.members() {
                let (offset, size) = member.map_err(unreadable)?.file_range();
                // Members that are not objects (rustc's `lib.rmeta`) have no symbols.
                if let Ok(object) = object::File::parse(cache.range(offset, size)) {
                    each_defined(&object, &mut each);
                }
            }
        }
        Err(_) => each_defined(&object::File::parse(&cache).map_err(unreadable)?, &mut each),
    }
    Ok(())
}

/// Calls `each` with the name of every function `object` defines.
fn each_defined<'data, R: ReadRef<'data>>(
    object: &object::File<'data, R>,
    each: &mut impl FnMut(&str),
) {
    for symbol in object
        .symbols()
        .filter(|symbol| symbol.is_definition() && symbol.kind() == SymbolKind::Text)
    {
        if let Ok(name) = symbol.name() {
            each(name);
        }
    }
}
