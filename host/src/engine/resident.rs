//! What a loaded `.cwasm` gives back to the system: the pages of the part
//! of it that is only read while it loads, wasmtime's serialized metadata
//! (the `.wasmtime.info` ELF section: the module's types, functions and
//! exports, decoded into wasmtime's own structures by
//! `Module::deserialize_file`; megabytes for the Python interpreter). Left
//! mapped they count in the bootstrap's RSS for the life of the process.
//!
//! Sound because of how wasmtime 48 loads a `.cwasm` on Linux (checked in
//! its `MmapVec::from_file`; recheck on a wasmtime upgrade, which
//! `a_released_module_still_serializes_to_its_file` would catch): the whole
//! file is mapped private at `Module::image_range`, and the metadata pages
//! are never written. `MADV_DONTNEED` on such pages only drops this
//! process's mapping of them; a later read (`Module::serialize`) faults the
//! file's bytes back in, the same bytes since the file must not change
//! while the module lives (`deserialize_file`'s contract). Only whole pages
//! inside the section are released, never a neighbour's.

use std::ops::Range;

use object::read::elf::ElfFile64;
use object::{Object as _, ObjectSection as _};
use wasmtime::Module;

/// The ELF section of wasmtime's metadata, read only by deserialization.
const LOAD_ONLY_SECTION: &str = ".wasmtime.info";

/// Releases the pages of `module`'s metadata section from this process's
/// resident memory; `module` came from `Module::deserialize_file` of a file
/// of `file_len` bytes. Returns how many bytes were released (0 where this
/// is not Linux, or the image is not that file's mapping).
pub fn release_load_only_pages(module: &Module, file_len: u64) -> usize {
    let image = module.image_range();
    let len = image.end as usize - image.start as usize;
    if len as u64 != file_len {
        return 0;
    }
    // SAFETY: `image_range` is the module's mapped artifact, readable and
    // unchanged while `module` lives (wasmtime reads it as a slice too).
    let bytes = unsafe { std::slice::from_raw_parts(image.start, len) };
    let Some(section) = section_range(bytes, LOAD_ONLY_SECTION) else {
        return 0;
    };
    let pages = whole_pages(section, image.start as usize, page_size());
    if pages.is_empty() {
        return 0;
    }
    // SAFETY: see the module documentation: whole pages of a private file
    // mapping that nothing writes, inside the image `module` keeps mapped.
    unsafe { drop_pages(image.start.add(pages.start), pages.len()) }
}

/// The byte range of the ELF section `name` in `elf`, if it has one.
fn section_range(elf: &[u8], name: &str) -> Option<Range<usize>> {
    let file = ElfFile64::<object::Endianness>::parse(elf).ok()?;
    let (offset, size) = file.section_by_name(name)?.file_range()?;
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    (end <= elf.len()).then_some(start..end)
}

/// The part of `range` (offsets from `base`, an address) made of whole
/// pages of `page` bytes, as offsets from `base`.
fn whole_pages(range: Range<usize>, base: usize, page: usize) -> Range<usize> {
    let first = (base + range.start).next_multiple_of(page) - base;
    let end = (base + range.end) / page * page - base;
    first..end.max(first)
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Drops `len` bytes of pages at `start` from this process's mapping.
///
/// # Safety
/// They must be whole pages of a private file mapping that nothing wrote.
#[cfg(target_os = "linux")]
unsafe fn drop_pages(start: *const u8, len: usize) -> usize {
    // SAFETY: the caller's contract.
    let result = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if result == 0 { len } else { 0 }
}

#[cfg(not(target_os = "linux"))]
fn page_size() -> usize {
    4096
}

/// Elsewhere the pages stay: a no-op.
#[cfg(not(target_os = "linux"))]
unsafe fn drop_pages(_start: *const u8, _len: usize) -> usize {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_pages_inside_the_range() {
        assert_eq!(whole_pages(100..9000, 0, 4096), 4096..8192);
        assert_eq!(whole_pages(0..8192, 4096, 4096), 0..8192);
        assert_eq!(whole_pages(100..4000, 0, 4096), 4096..4096);
        assert!(whole_pages(100..4000, 0, 4096).is_empty());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_released_module_still_serializes_to_its_file() {
        // Enough functions for a metadata section of several pages.
        let functions: String = (0..3000)
            .map(|i| format!("(func (export \"f{i}\") (result i32) i32.const {i})"))
            .collect();
        let wasm = wat::parse_str(format!("(module {functions})")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cwasm = dir.path().join("m.cwasm");
        let engine = super::super::new_engine().unwrap();
        std::fs::write(&cwasm, engine.precompile_module(&wasm).unwrap()).unwrap();
        let file = std::fs::read(&cwasm).unwrap();

        // SAFETY: compiled just now by this wasmtime; the file stays as is.
        let module = unsafe { Module::deserialize_file(&engine, &cwasm) }.unwrap();
        let released = release_load_only_pages(&module, file.len() as u64);
        assert!(released >= page_size(), "released {released} bytes");

        assert!(
            module.serialize().unwrap() == file,
            "the released pages read back as the file's bytes"
        );
        assert!(module.get_export("f2999").is_some());
    }

    #[test]
    fn another_file_length_is_left_alone() {
        let engine = super::super::new_engine().unwrap();
        let module = Module::new(&engine, wat::parse_str("(module)").unwrap()).unwrap();
        assert_eq!(release_load_only_pages(&module, 1), 0);
    }
}
