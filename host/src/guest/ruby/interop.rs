//! The `js` extension's JavaScript-interop imports of Ruby's reactor
//! (`rb-js-abi-host.*`, `canonical_abi.*_js-abi-value`). There is no
//! JavaScript here, so each traps with a message saying so, but one:
//! `eval-js` (Ruby's `JS.eval`) of code marked as an `H` frame is the
//! outbound glue's channel to the host (outbound.rb; docs/abi.md section
//! 12), since Ruby code cannot call a Wasm import of its own and the
//! interpreter's C code can.

use wasmtime::{Caller, FuncType, Linker, Memory, TypedFunc, ValType};

use crate::guest::interpreter::bridge::InterpreterState;
use crate::store::GuestState;

/// The module of the JavaScript-interop imports.
const JS_HOST: &str = "rb-js-abi-host";
/// `JS.eval`'s import: the outbound glue's channel to the host
/// ([`eval_js`]).
const EVAL_JS: &str = "eval-js: func(code: string) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }";
/// `JS::Object#to_s`'s import, which reads the host's answer.
const JS_VALUE_TO_STRING: &str = "js-value-to-string: func(value: handle<js-abi-value>) -> string";
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

/// Adds the JavaScript-interop imports: the outbound channel
/// ([`eval_js`]) and the others as traps.
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
        |caller, (ptr, len, ret): (i32, i32, i32)| Box::new(eval_js(caller, ptr, len, ret)),
    )?;
    linker.func_wrap(JS_HOST, JS_VALUE_TO_STRING, answer_of)?;
    linker.func_wrap_async(
        "canonical_abi",
        "resource_drop_js-abi-value",
        |mut caller, (answer,): (i32,)| {
            Box::new(async move {
                let len = answer_len(&mut caller, answer)?;
                release(&mut caller, answer, 4 + len).await
            })
        },
    )?;
    Ok(())
}

/// The trap of a JavaScript-interop import (`short` is its name).
fn no_javascript(short: &str) -> wasmtime::Error {
    wasmtime::format_err!(
        "Ruby called JavaScript interop ({short}), which lambda-wasm does not provide: there is no JavaScript host; do not `require \"js\"` in a Lambda handler"
    )
}

/// `JS.eval(code)`: when `code` (at `ptr..ptr+len`) is [`OUTBOUND_MARKER`]
/// and an `H` frame, makes the request as `host.call` does for the other
/// interpreters and answers with a "value" that is the host's answer (the
/// status digit, then the response or the message) in guest memory: its
/// length, then its bytes ([`answer_of`] reads it; dropping the value frees
/// it). Any other code traps, as there is no JavaScript.
async fn eval_js(
    mut caller: Caller<'_, GuestState<InterpreterState>>,
    ptr: i32,
    len: i32,
    ret: i32,
) -> wasmtime::Result<()> {
    let memory = memory_of(&mut caller)?;
    let range = guest_range(&caller, memory, ptr, len)?;
    let Some(frame) = memory.data(&caller)[range].strip_prefix(OUTBOUND_MARKER) else {
        return Err(no_javascript("eval-js"));
    };
    let frame = frame.to_vec();
    // Ruby's C glue copies the code for the import and never frees it.
    release(&mut caller, ptr, len).await?;
    let (status, bytes) = caller.data().abi.http_request(frame).await;
    let answer_len = i32::try_from(bytes.len() + 1)?;
    let answer = guest_alloc(&mut caller, 4, 4 + answer_len).await?;
    let mut value = Vec::with_capacity(bytes.len() + 5);
    value.extend_from_slice(&answer_len.to_le_bytes());
    value.push(b'0' + status as u8);
    value.extend_from_slice(&bytes);
    memory.write(&mut caller, answer as u32 as usize, &value)?;
    // The variant `success(handle)`: tag byte 0, the handle at offset 4.
    let mut variant = [0u8; 8];
    variant[4..].copy_from_slice(&answer.to_le_bytes());
    memory.write(&mut caller, ret as u32 as usize, &variant)?;
    Ok(())
}

/// `JS::Object#to_s` of an [`eval_js`] value: its bytes, where they are
/// (Ruby copies them into a String).
fn answer_of(
    mut caller: Caller<'_, GuestState<InterpreterState>>,
    answer: i32,
    ret: i32,
) -> wasmtime::Result<()> {
    let len = answer_len(&mut caller, answer)?;
    let pair = [
        (answer as u32 + 4).to_le_bytes(),
        (len as u32).to_le_bytes(),
    ]
    .concat();
    memory_of(&mut caller)?.write(&mut caller, ret as u32 as usize, &pair)?;
    Ok(())
}

/// The length an [`eval_js`] value starts with.
fn answer_len(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    answer: i32,
) -> wasmtime::Result<i32> {
    let memory = memory_of(&mut *caller)?;
    let range = guest_range(&*caller, memory, answer, 4)?;
    let bytes: [u8; 4] = memory.data(&*caller)[range].try_into().expect("4 bytes");
    Ok(i32::from_le_bytes(bytes))
}

/// `ptr..ptr+len`, which must lie in guest memory.
fn guest_range(
    store: impl wasmtime::AsContext,
    memory: Memory,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<std::ops::Range<usize>> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    match start.checked_add(len) {
        Some(end) if end <= memory.data_size(&store) => Ok(start..end),
        _ => wasmtime::bail!("Ruby passed {start:#x}+{len}, outside its memory"),
    }
}

/// `len` bytes from the guest's allocator (`cabi_realloc`), aligned to `align`.
async fn guest_alloc(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    align: i32,
    len: i32,
) -> wasmtime::Result<i32> {
    realloc_of(caller)?
        .call_async(&mut *caller, (0, 0, align, len))
        .await
}

/// Gives back the guest's allocation at `ptr` of `len` bytes. The module
/// exports no `free`, only `cabi_realloc`, which aborts on a size of 0:
/// shrinking to one byte returns the rest to its allocator.
async fn release(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<()> {
    if len > 1 {
        realloc_of(caller)?
            .call_async(&mut *caller, (ptr, len, 1, 1))
            .await?;
    }
    Ok(())
}

fn realloc_of(
    caller: &mut Caller<'_, GuestState<InterpreterState>>,
) -> wasmtime::Result<TypedFunc<(i32, i32, i32, i32), i32>> {
    match caller.get_export("cabi_realloc") {
        Some(wasmtime::Extern::Func(func)) => func.typed(&*caller),
        _ => wasmtime::bail!("the Ruby interpreter exports no cabi_realloc"),
    }
}

fn memory_of(caller: &mut Caller<'_, GuestState<InterpreterState>>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(wasmtime::Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the Ruby interpreter exports no memory"),
    }
}
