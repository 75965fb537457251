//! The `js` extension's JavaScript-interop imports of Ruby's reactor
//! (`rb-js-abi-host.*`, `canonical_abi.*_js-abi-value`). There is no
//! JavaScript here, so each traps with a message saying so, but for the
//! outbound channel (docs/abi.md section 12): `JS.eval` of code that starts
//! with [`OUTBOUND_MARKER`] is an `H` frame, and the value it returns is the
//! host's answer, read by `JS::Object#to_s` (outbound.rb). Ruby code cannot
//! call a Wasm import of its own; the interpreter's C code can.
//!
//! These imports are wit-bindgen 0.x's canonical ABI as ruby.wasm 2.10.1's
//! C bindings (`bindgen/legacy/rb-js-abi-host.c`) and `js-core.c` use them:
//!
//! - `eval-js(code) -> variant { success(handle), failure(handle) }` gets
//!   the code as a pointer and length (a copy `JS.eval` frees afterwards),
//!   and a return area: the variant's tag byte at offset 0 and the handle
//!   at offset 4.
//! - `js-value-to-string(handle) -> string` writes a pointer and a length to
//!   its return area: a string the callee allocates with `cabi_realloc`,
//!   which `JS::Object#to_s` frees once it has copied it into a Ruby
//!   String. (The first attempt at this channel pointed into the value
//!   instead, and `free` of that address trapped inside dlmalloc.)
//! - `resource_drop_js-abi-value(handle)` is called when Ruby's GC frees
//!   the `JS::Object`, at any later time (another invocation's).
//!
//! A handle is the guest address of a [`new_value`] the host allocated with
//! `cabi_realloc`, so it needs no table on the host and stays valid in a
//! memory snapshot; it is freed when Ruby drops it.

use std::ops::Range;

use wasmtime::{Caller, Extern, FuncType, Linker, Memory, TypedFunc, ValType};

use crate::guest::interpreter::bridge::{self, InterpreterState};
use crate::store::GuestState;

/// The module of the JavaScript-interop imports.
const JS_HOST: &str = "rb-js-abi-host";
/// `JS.eval`'s import: the outbound channel ([`eval_js`]).
const EVAL_JS: &str = "eval-js: func(code: string) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }";
/// `JS::Object#to_s`'s import, which reads the host's answer ([`to_string`]).
const JS_VALUE_TO_STRING: &str = "js-value-to-string: func(value: handle<js-abi-value>) -> string";
/// Ruby's GC dropping a `JS::Object` ([`drop_value`]).
const DROP_JS_VALUE: (&str, &str) = ("canonical_abi", "resource_drop_js-abi-value");
/// What starts the code of a `JS.eval` that is an `H` frame (outbound.rb).
const OUTBOUND_MARKER: &[u8] = b"lambda-wasm:H";

/// The other JavaScript-interop imports (module, name, parameters, results)
/// of `ruby+stdlib.wasm` 2.10.x, all linked to a trap.
const JS_INTEROP_IMPORTS: &[(&str, &str, &[ValType], &[ValType])] = {
    use ValType::{F64, I32};
    const H: &str = JS_HOST;
    &[
        (
            H,
            "rb_wasm_throw_prohibit_rewind_exception",
            &[I32, I32],
            &[],
        ),
        (
            H,
            "is-js: func(value: handle<js-abi-value>) -> bool",
            &[I32],
            &[I32],
        ),
        (
            H,
            "instance-of: func(value: handle<js-abi-value>, klass: handle<js-abi-value>) -> bool",
            &[I32, I32],
            &[I32],
        ),
        (
            H,
            "global-this: func() -> handle<js-abi-value>",
            &[],
            &[I32],
        ),
        (
            H,
            "int-to-js-number: func(value: s32) -> handle<js-abi-value>",
            &[I32],
            &[I32],
        ),
        (
            H,
            "float-to-js-number: func(value: float64) -> handle<js-abi-value>",
            &[F64],
            &[I32],
        ),
        (
            H,
            "string-to-js-string: func(value: string) -> handle<js-abi-value>",
            &[I32, I32],
            &[I32],
        ),
        (
            H,
            "bool-to-js-bool: func(value: bool) -> handle<js-abi-value>",
            &[I32],
            &[I32],
        ),
        (
            H,
            "proc-to-js-function: func(value: u32) -> handle<js-abi-value>",
            &[I32],
            &[I32],
        ),
        (
            H,
            "rb-object-to-js-rb-value: func(raw-rb-abi-value: u32) -> handle<js-abi-value>",
            &[I32],
            &[I32],
        ),
        (
            H,
            "js-value-to-integer: func(value: handle<js-abi-value>) -> variant { as-float(float64), bignum(string) }",
            &[I32, I32],
            &[],
        ),
        (
            H,
            "export-js-value-to-host: func(value: handle<js-abi-value>) -> ()",
            &[I32],
            &[],
        ),
        (
            H,
            "import-js-value-from-host: func() -> handle<js-abi-value>",
            &[],
            &[I32],
        ),
        (
            H,
            "js-value-typeof: func(value: handle<js-abi-value>) -> string",
            &[I32, I32],
            &[],
        ),
        (
            H,
            "js-value-equal: func(lhs: handle<js-abi-value>, rhs: handle<js-abi-value>) -> bool",
            &[I32, I32],
            &[I32],
        ),
        (
            H,
            "js-value-strictly-equal: func(lhs: handle<js-abi-value>, rhs: handle<js-abi-value>) -> bool",
            &[I32, I32],
            &[I32],
        ),
        (
            H,
            "reflect-apply: func(target: handle<js-abi-value>, this-argument: handle<js-abi-value>, arguments: list<handle<js-abi-value>>) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }",
            &[I32, I32, I32, I32, I32],
            &[],
        ),
        (
            H,
            "reflect-get: func(target: handle<js-abi-value>, property-key: string) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }",
            &[I32, I32, I32, I32],
            &[],
        ),
        (
            H,
            "reflect-set: func(target: handle<js-abi-value>, property-key: string, value: handle<js-abi-value>) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }",
            &[I32, I32, I32, I32, I32],
            &[],
        ),
    ]
};

/// Adds the JavaScript-interop imports: the outbound channel, and the
/// others as traps.
pub fn add_to_linker(linker: &mut Linker<GuestState<InterpreterState>>) -> wasmtime::Result<()> {
    let engine = linker.engine().clone();
    for &(module, name, params, results) in JS_INTEROP_IMPORTS {
        let ty = FuncType::new(&engine, params.iter().cloned(), results.iter().cloned());
        let short = name.split(':').next().unwrap_or(name);
        linker.func_new(module, name, ty, move |_, _, _| Err(no_javascript(short)))?;
    }
    linker.func_wrap_async(
        JS_HOST,
        EVAL_JS,
        |caller, (code, len, ret): (i32, i32, i32)| Box::new(eval_js(caller, code, len, ret)),
    )?;
    linker.func_wrap_async(
        JS_HOST,
        JS_VALUE_TO_STRING,
        |caller, (value, ret): (i32, i32)| Box::new(to_string(caller, value, ret)),
    )?;
    linker.func_wrap_async(
        DROP_JS_VALUE.0,
        DROP_JS_VALUE.1,
        |caller, (value,): (i32,)| Box::new(drop_value(caller, value)),
    )?;
    Ok(())
}

/// The trap of a JavaScript-interop import (`short` is its name).
fn no_javascript(short: &str) -> wasmtime::Error {
    wasmtime::format_err!(
        "Ruby called JavaScript interop ({short}), which lambda-wasm does not provide: there is no JavaScript host; do not `require \"js\"` in a Lambda handler"
    )
}

/// `JS.eval(code)`: when `code` is [`OUTBOUND_MARKER`] and an `H` frame,
/// makes the request and answers `success` with a [`new_value`] holding the
/// reply (the status digit, then the response or the message). Any other
/// code traps, as there is no JavaScript.
async fn eval_js(
    mut caller: Caller<'_, GuestState<InterpreterState>>,
    code: i32,
    len: i32,
    ret: i32,
) -> wasmtime::Result<()> {
    let memory = memory_of(&mut caller)?;
    let range = guest_range(memory.data_size(&caller), code, len)?;
    let Some(frame) = memory.data(&caller)[range].strip_prefix(OUTBOUND_MARKER) else {
        return Err(no_javascript("eval-js"));
    };
    let request = frame.to_vec();
    let reply = bridge::outbound_reply(&caller.data().abi, request).await;
    let value = new_value(&mut caller, memory, &reply).await?;
    let mut success = [0u8; 8];
    success[4..].copy_from_slice(&value.to_le_bytes());
    memory.write(&mut caller, ret as u32 as usize, &success)?;
    Ok(())
}

/// `JS::Object#to_s` of an [`eval_js`] value: a copy of its bytes in a new
/// allocation, which `to_s` frees, its address and length written to the
/// return area `ret`.
async fn to_string(
    mut caller: Caller<'_, GuestState<InterpreterState>>,
    value: i32,
    ret: i32,
) -> wasmtime::Result<()> {
    let memory = memory_of(&mut caller)?;
    let bytes = value_bytes(&caller, memory, value)?;
    let len = i32::try_from(bytes.len())?;
    let copy = realloc_of(&mut caller)?
        .call_async(&mut caller, (0, 0, 1, len))
        .await?;
    let data = memory.data_mut(&mut caller);
    // The allocation may have grown memory; `bytes` still lies below its old end.
    data.copy_within(bytes, copy as u32 as usize);
    let string = [copy.to_le_bytes(), len.to_le_bytes()];
    memory.write(&mut caller, ret as u32 as usize, string.as_flattened())?;
    Ok(())
}

/// Ruby's GC dropped the `JS::Object` of an [`eval_js`] value: frees it.
async fn drop_value(
    mut caller: Caller<'_, GuestState<InterpreterState>>,
    value: i32,
) -> wasmtime::Result<()> {
    let memory = memory_of(&mut caller)?;
    value_bytes(&caller, memory, value)?;
    free(&mut caller, memory, value).await
}

/// Copies `bytes` into a new value of [`eval_js`] in guest memory: their
/// length as a little-endian `u32`, then the bytes, at least [`FREEABLE`]
/// bytes in all. Its address (the handle).
async fn new_value(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    memory: Memory,
    bytes: &[u8],
) -> wasmtime::Result<i32> {
    let len = u32::try_from(bytes.len())?;
    let size = i32::try_from((4 + bytes.len()).max(FREEABLE))?;
    let value = realloc_of(caller)?
        .call_async(&mut *caller, (0, 0, 4, size))
        .await?;
    let at = value as u32 as usize;
    memory.write(&mut *caller, at, &len.to_le_bytes())?;
    memory.write(&mut *caller, at + 4, bytes)?;
    Ok(value)
}

/// Where the bytes of the [`new_value`] at `value` lie.
fn value_bytes(
    caller: &Caller<'_, GuestState<InterpreterState>>,
    memory: Memory,
    value: i32,
) -> wasmtime::Result<Range<usize>> {
    let size = memory.data_size(caller);
    let head = guest_range(size, value, 4)?;
    let len: [u8; 4] = memory.data(caller)[head].try_into().expect("4 bytes");
    let len = i32::try_from(u32::from_le_bytes(len))?;
    guest_range(size, value.wrapping_add(4), len).map_err(|_| {
        wasmtime::format_err!(
            "Ruby passed {value:#x}, which is not a value of the outbound channel"
        )
    })
}

/// The smallest allocation [`free`] can free: it writes its 8 bytes there.
const FREEABLE: usize = 8;

/// Frees the guest allocation at `ptr` (of at least [`FREEABLE`] bytes).
/// The module exports no `free`; its `cabi_post_rstring-ptr`, the canonical
/// ABI's clean-up after `rstring-ptr`, frees the string whose address and
/// length the return area it is given holds, so the allocation is made
/// that return area, naming itself.
async fn free(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    memory: Memory,
    ptr: i32,
) -> wasmtime::Result<()> {
    let area = [ptr.to_le_bytes(), 1i32.to_le_bytes()];
    memory.write(&mut *caller, ptr as u32 as usize, area.as_flattened())?;
    let post = match caller.get_export("cabi_post_rstring-ptr") {
        Some(Extern::Func(func)) => func.typed::<i32, ()>(&*caller)?,
        _ => wasmtime::bail!("the Ruby interpreter exports no cabi_post_rstring-ptr"),
    };
    post.call_async(&mut *caller, ptr).await
}

/// `ptr..ptr+len`, which must lie in a memory of `size` bytes.
fn guest_range(size: usize, ptr: i32, len: i32) -> wasmtime::Result<Range<usize>> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => wasmtime::bail!("Ruby passed {start:#x}+{len}, outside its memory"),
    }
}

fn realloc_of(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
) -> wasmtime::Result<TypedFunc<(i32, i32, i32, i32), i32>> {
    match caller.get_export("cabi_realloc") {
        Some(Extern::Func(func)) => func.typed(&*caller),
        _ => wasmtime::bail!("the Ruby interpreter exports no cabi_realloc"),
    }
}

fn memory_of(caller: &mut Caller<'_, GuestState<InterpreterState>>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the Ruby interpreter exports no memory"),
    }
}
