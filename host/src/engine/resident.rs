//! What the bootstrap gives back to the system: pages of files it maps that
//! are only read while loading. Left mapped they count in its RSS for the
//! life of the process.
//!
//! - A loaded `.cwasm`'s wasmtime metadata (the `.wasmtime.info` ELF
//!   section: the module's types, functions and exports, decoded into
//!   wasmtime's own structures by `Module::deserialize_file`; megabytes for
//!   the Python interpreter). Sound because of how wasmtime 48 loads a
//!   `.cwasm` on Linux (checked in its `MmapVec::from_file`; recheck on a
//!   wasmtime upgrade, which `a_released_module_still_serializes_to_its_file`
//!   would catch): the whole file is mapped private at `Module::image_range`,
//!   and the metadata pages are never written.
//! - This executable's dynamic relocation table (`.rela.dyn`, 0.9 MB: the
//!   ~38,000 relative relocations of a position-independent executable),
//!   which the dynamic loader reads once, before `main`, and never again (the
//!   binary is linked with BIND_NOW, and it is in a segment never written).
//!
//! `MADV_DONTNEED` on such pages only drops this process's mapping of them; a
//! later read faults the file's bytes back in, the same bytes since the file
//! must not change while it is mapped (`deserialize_file`'s contract; a
//! rebuilt binary is a new file). Only whole pages inside the range are
//! released, never a neighbour's.

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

/// Releases the pages of this executable's dynamic relocation table (see the
/// module documentation); returns how many bytes were released (0 where
/// this is not Linux or the executable has none).
pub fn release_dynamic_relocations() -> usize {
    let Some(table) = own_relocation_table() else {
        return 0;
    };
    let pages = whole_pages(table, 0, page_size());
    if pages.is_empty() {
        return 0;
    }
    // SAFETY: whole pages of this executable's read-only segment (checked by
    // `own_relocation_table`), which nothing writes and the loader has read.
    unsafe { drop_pages(pages.start as *const u8, pages.len()) }
}

/// One entry of an ELF `PT_DYNAMIC` segment (`Elf64_Dyn`).
#[cfg(target_os = "linux")]
#[repr(C)]
struct DynamicEntry {
    tag: i64,
    value: u64,
}

/// The addresses of this executable's `DT_RELA` table, found through its
/// program headers (the kernel's auxiliary vector points at them), when the
/// table lies inside a segment mapped from the file and not writable.
#[cfg(target_os = "linux")]
fn own_relocation_table() -> Option<Range<usize>> {
    use object::elf::{DT_NULL, DT_RELA, DT_RELASZ, PF_W, PT_DYNAMIC, PT_LOAD, PT_PHDR};
    // SAFETY: getauxval has no preconditions.
    let (phdr, phnum) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR),
            libc::getauxval(libc::AT_PHNUM),
        )
    };
    if phdr == 0 || phnum == 0 {
        return None;
    }
    // SAFETY: AT_PHDR and AT_PHNUM describe this executable's program
    // headers, mapped for the life of the process.
    let headers =
        unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum as usize) };
    let base = phdr as usize - headers.iter().find(|h| h.p_type == PT_PHDR)?.p_vaddr as usize;
    let dynamic = headers.iter().find(|h| h.p_type == PT_DYNAMIC)?;
    let count = dynamic.p_memsz as usize / size_of::<DynamicEntry>();
    // SAFETY: the PT_DYNAMIC segment, mapped (and relocated) by the loader.
    let entries = unsafe {
        std::slice::from_raw_parts(
            (base + dynamic.p_vaddr as usize) as *const DynamicEntry,
            count,
        )
    };
    let (mut table, mut size) = (None, None);
    for entry in entries.iter().take_while(|e| e.tag != DT_NULL) {
        match entry.tag {
            DT_RELA => table = Some(entry.value as usize),
            DT_RELASZ => size = Some(entry.value as usize),
            _ => {}
        }
    }
    // glibc may have made the address absolute in place.
    let table = table?;
    let start = if base != 0 && table >= base {
        table
    } else {
        base + table
    };
    let range = start..start.checked_add(size?)?;
    let in_read_only_segment = headers.iter().any(|h| {
        let segment = base + h.p_vaddr as usize;
        h.p_type == PT_LOAD
            && h.p_flags & PF_W == 0
            && segment <= range.start
            && range.end <= segment + h.p_filesz as usize
    });
    in_read_only_segment.then_some(range)
}

#[cfg(not(target_os = "linux"))]
fn own_relocation_table() -> Option<Range<usize>> {
    None
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
    #[cfg(target_os = "linux")]
    fn the_relocation_table_is_released_and_reads_back_the_same() {
        // This test binary is a position-independent executable too.
        let table = own_relocation_table().expect("a PIE has a DT_RELA table");
        // SAFETY: a read-only part of this executable's mapping.
        let read = || {
            unsafe { std::slice::from_raw_parts(table.start as *const u8, table.len()) }.to_vec()
        };
        let before = read();
        let released = release_dynamic_relocations();
        assert!(released >= page_size(), "released {released} bytes");
        assert!(
            read() == before,
            "the released pages read back as the file's bytes"
        );
    }

    #[test]
    fn another_file_length_is_left_alone() {
        let engine = super::super::new_engine().unwrap();
        let module = Module::new(&engine, wat::parse_str("(module)").unwrap()).unwrap();
        assert_eq!(release_load_only_pages(&module, 1), 0);
    }
}
