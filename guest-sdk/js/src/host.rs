//! The link to the host: the `host.call` import and the `host_alloc` export
//! it writes its replies (and the code of a `turn`) into (the interpreter
//! protocol of host/src/guest/interpreter/).

use std::cell::Cell;

#[link(wasm_import_module = "host")]
unsafe extern "C" {
    /// Sends one frame; the host stores its reply's pointer and length
    /// (little-endian u32s) at `out_ptr` and `out_len`.
    #[link_name = "call"]
    fn host_call(ptr: *const u8, len: usize, out_ptr: *mut u32, out_len: *mut u32) -> i32;
}

thread_local! {
    /// The buffer the host is writing the current reply into, and its capacity.
    static REPLY: Cell<Option<(*mut u8, usize)>> = const { Cell::new(None) };
}

/// Memory for the host's reply of `len` bytes, owned again by [`take_buffer`].
#[unsafe(no_mangle)]
pub extern "C" fn host_alloc(len: i32) -> i32 {
    let capacity = usize::try_from(len).unwrap_or(0).max(1);
    let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(capacity));
    let ptr = buffer.as_mut_ptr();
    REPLY.set(Some((ptr, capacity)));
    ptr as i32
}

/// Sends `frame` and returns the host's reply (empty when it has none).
pub fn call(frame: &[u8]) -> Vec<u8> {
    let (mut ptr, mut len) = (0u32, 0u32);
    // SAFETY: the host reads `frame` during the call and writes two u32s to
    // the out pointers, which live across it.
    unsafe { host_call(frame.as_ptr(), frame.len(), &mut ptr, &mut len) };
    take_buffer(ptr, len)
}

/// The `len` bytes the host wrote at `ptr` into the buffer of the last
/// [`host_alloc`] (a reply, or the code of a `turn`), owned again; empty
/// when `ptr` is not that buffer.
pub fn take_buffer(ptr: u32, len: u32) -> Vec<u8> {
    match REPLY.take() {
        // SAFETY: the host wrote `len` <= capacity bytes into the buffer
        // host_alloc leaked; it is owned here again.
        Some((buffer, capacity)) if buffer as usize == ptr as usize && len as usize <= capacity => unsafe {
            Vec::from_raw_parts(buffer, len as usize, capacity)
        },
        _ => Vec::new(),
    }
}
