//! The `js` extension's JavaScript-interop imports of Ruby's reactor
//! (`rb-js-abi-host.*`, `canonical_abi.*_js-abi-value`). There is no
//! JavaScript here, so each traps with a message saying so.

use wasmtime::{FuncType, Linker, ValType};

use crate::guest::interpreter::bridge::InterpreterState;
use crate::store::GuestState;

/// The module of the JavaScript-interop imports.
const JS_HOST: &str = "rb-js-abi-host";

/// The JavaScript-interop imports (module, name, parameters, results) of
/// `ruby+stdlib.wasm` 2.10.x, all linked to a trap.
const JS_INTEROP_IMPORTS: &[(&str, &str, &[ValType], &[ValType])] = {
    use ValType::{F64, I32};
    const H: &str = JS_HOST;
    &[
        (
            H,
            "eval-js: func(code: string) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }",
            &[I32, I32, I32],
            &[],
        ),
        (
            H,
            "js-value-to-string: func(value: handle<js-abi-value>) -> string",
            &[I32, I32],
            &[],
        ),
        ("canonical_abi", "resource_drop_js-abi-value", &[I32], &[]),
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

/// Adds the JavaScript-interop imports, each a trap.
pub fn add_to_linker(linker: &mut Linker<GuestState<InterpreterState>>) -> wasmtime::Result<()> {
    let engine = linker.engine().clone();
    for &(module, name, params, results) in JS_INTEROP_IMPORTS {
        let ty = FuncType::new(&engine, params.iter().cloned(), results.iter().cloned());
        let short = name.split(':').next().unwrap_or(name);
        linker.func_new(module, name, ty, move |_, _, _| Err(no_javascript(short)))?;
    }
    Ok(())
}

/// The trap of a JavaScript-interop import (`short` is its name).
fn no_javascript(short: &str) -> wasmtime::Error {
    wasmtime::format_err!(
        "Ruby called JavaScript interop ({short}), which lambda-wasm does not provide: there is no JavaScript host; do not `require \"js\"` in a Lambda handler"
    )
}
