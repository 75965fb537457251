//! Ruby's reactor (`ruby+stdlib.wasm` of `@ruby/3.4-wasm-wasi`) driven
//! through its exports, as the npm package's JavaScript drives it:
//! `_initialize`, `ruby-init`, then `rb-eval-string-protect` with results
//! read by `rstring-ptr`, in the canonical ABI its `rb-abi-guest` interface
//! was generated for.
//!
//! Ruby code cannot call a Wasm import of its own, so the interpreter
//! protocol's frames ([`super::super::interpreter`]) travel the other way
//! round: the host evaluates `runtime.rb` (the glue, which returns the `N` or
//! `I` frame), then, for each event, a call of the glue with the invocation
//! frame, which returns the `R`, `E` or `X` frame. Log records are the
//! glue's writes to stdout, as AWS's Ruby runtime writes them when it has no
//! telemetry pipe.
//!
//! The module imports the `js` extension's JavaScript interop; there is no
//! JavaScript here, so each of those imports traps with a message saying so.

use wasmtime::{
    AsContextMut, Caller, FuncType, Instance, InstancePre, Linker, Memory, Store, TypedFunc,
    ValType,
};

use crate::guest::interpreter::RunFuture;
use crate::guest::interpreter::bridge::{self, InterpreterState};
use crate::guest::interpreter::snapshot::Resume;
use crate::store::GuestState;

/// The glue, evaluated once per environment.
const RUNTIME_RB: &str = include_str!("runtime.rb");
/// The file name the glue's frames carry: under /var/runtime/lib, where AWS's
/// Ruby runtime cuts its own frames from a stack trace (as the glue does).
const RUNTIME_FILE: &str = "/var/runtime/lib/lambda_wasm_runtime.rb";
/// `ruby`'s arguments, as the npm package's `RubyVM#initialize` passes them
/// (each NUL-terminated: the guest reads them as C strings).
const RUBY_ARGS: [&str; 3] = ["ruby.wasm\0", "-EUTF-8\0", "-e_=0\0"];

/// The JavaScript-interop imports (module, name, parameters, results) of
/// `ruby+stdlib.wasm` 2.10.x, all linked to a trap.
const JS_INTEROP_IMPORTS: &[(&str, &str, &[ValType], &[ValType])] = {
    use ValType::{F64, I32};
    const H: &str = "rb-js-abi-host";
    &[
        (
            H,
            "rb_wasm_throw_prohibit_rewind_exception",
            &[I32, I32],
            &[],
        ),
        (
            H,
            "eval-js: func(code: string) -> variant { success(handle<js-abi-value>), failure(handle<js-abi-value>) }",
            &[I32, I32, I32],
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
            "js-value-to-string: func(value: handle<js-abi-value>) -> string",
            &[I32, I32],
            &[],
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
        ("canonical_abi", "resource_drop_js-abi-value", &[I32], &[]),
    ]
};

/// Adds Ruby's imports beyond WASI: the JavaScript-interop traps and the
/// handle table of Ruby values the host holds. A handle is the guest's own
/// pointer (`resource_new` and `resource_get` are the identity): the host
/// holds one value at a time and gives it back at once.
pub fn add_to_linker(linker: &mut Linker<GuestState<InterpreterState>>) -> wasmtime::Result<()> {
    let engine = linker.engine().clone();
    for &(module, name, params, results) in JS_INTEROP_IMPORTS {
        let ty = FuncType::new(&engine, params.iter().cloned(), results.iter().cloned());
        let short = name.split(':').next().unwrap_or(name);
        linker.func_new(module, name, ty, move |_, _, _| {
            wasmtime::bail!(
                "Ruby called JavaScript interop ({short}), which lambda-wasm does not provide: there is no JavaScript host; do not `require \"js\"` in a Lambda handler"
            )
        })?;
    }
    let identity = |_: Caller<'_, GuestState<InterpreterState>>, value: i32| value;
    linker.func_wrap("canonical_abi", "resource_new_rb-abi-value", identity)?;
    linker.func_wrap("canonical_abi", "resource_get_rb-abi-value", identity)?;
    Ok(())
}

/// [`Language::run`](crate::guest::interpreter::Language) for Ruby, which
/// is not pre-initialised (its `preinit` is `None`, so there is never a
/// snapshot to resume).
pub fn run<'a>(
    pre: &'a InstancePre<GuestState<InterpreterState>>,
    store: &'a mut Store<GuestState<InterpreterState>>,
    _resume: Option<&'a Resume>,
) -> RunFuture<'a> {
    Box::pin(serve(pre, store))
}

/// Starts Ruby, evaluates the glue and carries its frames until the host
/// has no more events.
async fn serve(
    pre: &InstancePre<GuestState<InterpreterState>>,
    store: &mut Store<GuestState<InterpreterState>>,
) -> wasmtime::Result<i32> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let mut vm = RubyVm::new(&instance, &mut *store)?;
    vm.initialize(&mut *store).await?;
    let mut frame = vm.eval(&mut *store, &boot_source()).await?;
    loop {
        let max_response_bytes = store.data().abi.max_response_bytes();
        let message = bridge::message_of(&frame, max_response_bytes)?;
        let invocation = bridge::hand_over(&mut *store, message).await?;
        if invocation.is_empty() {
            return Ok(0);
        }
        frame = vm.eval(&mut *store, &invoke_source(&invocation)).await?;
    }
}

/// What starts the glue: its source evaluated under its runtime file name,
/// then `LambdaWasm.start`, which loads the handler.
fn boot_source() -> Vec<u8> {
    let mut source = b"eval(".to_vec();
    quote_into(&mut source, RUNTIME_RB.as_bytes());
    source.extend_from_slice(b", TOPLEVEL_BINDING, ");
    quote_into(&mut source, RUNTIME_FILE.as_bytes());
    source.extend_from_slice(b", 1)\nLambdaWasm.start\n");
    source
}

/// The call of the glue for one invocation frame, as binary source so that
/// any bytes pass (the glue decodes the fields).
fn invoke_source(invocation: &[u8]) -> Vec<u8> {
    let mut source = Vec::with_capacity(invocation.len() + 64);
    source.extend_from_slice(b"# encoding: binary\nLambdaWasm.invoke(");
    quote_into(&mut source, invocation);
    source.extend_from_slice(b")\n");
    source
}

/// Appends `bytes` as a single-quoted Ruby literal: only `\` and `'` are
/// escaped there, so the literal is the bytes themselves.
fn quote_into(source: &mut Vec<u8>, bytes: &[u8]) {
    source.push(b'\'');
    for &byte in bytes {
        if byte == b'\\' || byte == b'\'' {
            source.push(b'\\');
        }
        source.push(byte);
    }
    source.push(b'\'');
}

/// The exports the host calls, and the buffer it passes source in.
struct RubyVm {
    memory: Memory,
    initialize: Option<TypedFunc<(), ()>>,
    realloc: TypedFunc<(i32, i32, i32, i32), i32>,
    ruby_init: TypedFunc<(i32, i32), ()>,
    eval: TypedFunc<(i32, i32), i32>,
    rstring_ptr: TypedFunc<i32, i32>,
    free_rstring: TypedFunc<i32, ()>,
    drop_value: TypedFunc<i32, ()>,
    /// Guest memory reused for each source string (Ruby copies it, and the
    /// canonical ABI's callee would otherwise own, and here leak, each one).
    buffer: (i32, i32),
}

impl RubyVm {
    fn new(instance: &Instance, mut store: impl AsContextMut) -> wasmtime::Result<Self> {
        let mut store = store.as_context_mut();
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::format_err!("the Ruby interpreter exports no memory"))?;
        // The canonical ABI names its exports by their signatures.
        let names: Vec<String> = instance
            .exports(&mut store)
            .map(|export| export.name().to_string())
            .collect();
        let named = |prefix: &str| -> wasmtime::Result<&str> {
            names
                .iter()
                .find(|name| name.as_str() == prefix || name.starts_with(&format!("{prefix}:")))
                .map(String::as_str)
                .ok_or_else(|| {
                    wasmtime::format_err!(
                        "the Ruby interpreter exports no {prefix}: is it @ruby/3.4-wasm-wasi's ruby+stdlib.wasm? run `make ruby`"
                    )
                })
        };
        Ok(Self {
            memory,
            initialize: instance.get_typed_func(&mut store, "_initialize").ok(),
            realloc: instance.get_typed_func(&mut store, named("cabi_realloc")?)?,
            ruby_init: instance.get_typed_func(&mut store, named("ruby-init")?)?,
            eval: instance.get_typed_func(&mut store, named("rb-eval-string-protect")?)?,
            rstring_ptr: instance.get_typed_func(&mut store, named("rstring-ptr")?)?,
            free_rstring: instance.get_typed_func(&mut store, named("cabi_post_rstring-ptr")?)?,
            drop_value: instance
                .get_typed_func(&mut store, named("canonical_abi_drop_rb-abi-value")?)?,
            buffer: (0, 0),
        })
    }

    /// WASI's reactor init, then `ruby-init` with [`RUBY_ARGS`].
    async fn initialize(
        &mut self,
        mut store: impl AsContextMut<Data: Send>,
    ) -> wasmtime::Result<()> {
        let mut store = store.as_context_mut();
        if let Some(initialize) = &self.initialize {
            initialize.call_async(&mut store, ()).await?;
        }
        let list = self.alloc(&mut store, 4, 8 * RUBY_ARGS.len()).await?;
        for (i, arg) in RUBY_ARGS.iter().enumerate() {
            let ptr = self.alloc(&mut store, 1, arg.len()).await?;
            self.memory
                .write(&mut store, ptr as usize, arg.as_bytes())?;
            let entry = [(ptr as u32).to_le_bytes(), (arg.len() as u32).to_le_bytes()].concat();
            self.memory
                .write(&mut store, list as usize + 8 * i, &entry)?;
        }
        self.ruby_init
            .call_async(&mut store, (list, RUBY_ARGS.len() as i32))
            .await
    }

    /// Evaluates `source` at the top level; the String it returns.
    async fn eval(
        &mut self,
        mut store: impl AsContextMut<Data: Send>,
        source: &[u8],
    ) -> wasmtime::Result<Vec<u8>> {
        let mut store = store.as_context_mut();
        let len = i32::try_from(source.len()).map_err(|_| {
            wasmtime::format_err!("a {} byte source is too large for Ruby", source.len())
        })?;
        if len > self.buffer.1 {
            let (old, old_len) = self.buffer;
            let ptr = self
                .realloc
                .call_async(&mut store, (old, old_len, 1, len))
                .await?;
            self.buffer = (ptr, len);
        }
        self.memory
            .write(&mut store, self.buffer.0 as usize, source)?;
        let ret = self
            .eval
            .call_async(&mut store, (self.buffer.0, len))
            .await?;
        let [value, state] = self.read_pair(&store, ret)?;
        if state != 0 {
            wasmtime::bail!(
                "the Ruby runtime glue raised (Ruby tag {state}): an error in lambda-wasm's runtime.rb, not in the handler"
            );
        }
        let ret = self.rstring_ptr.call_async(&mut store, value).await?;
        let [ptr, len] = self.read_pair(&store, ret)?;
        let mut frame = vec![0; len as u32 as usize];
        self.memory.read(&store, ptr as u32 as usize, &mut frame)?;
        self.free_rstring.call_async(&mut store, ret).await?;
        self.drop_value.call_async(&mut store, value).await?;
        Ok(frame)
    }

    async fn alloc(
        &self,
        store: &mut wasmtime::StoreContextMut<'_, impl Send>,
        align: i32,
        size: usize,
    ) -> wasmtime::Result<i32> {
        let size = i32::try_from(size)?;
        self.realloc
            .call_async(&mut *store, (0, 0, align, size))
            .await
    }

    /// Two little-endian i32s at `ptr`: a canonical-ABI return area.
    fn read_pair(&self, store: &impl wasmtime::AsContext, ptr: i32) -> wasmtime::Result<[i32; 2]> {
        let mut bytes = [0u8; 8];
        self.memory.read(store, ptr as u32 as usize, &mut bytes)?;
        let word = |i: usize| i32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        Ok([word(0), word(4)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_only_backslash_and_quote() {
        let mut source = Vec::new();
        quote_into(&mut source, b"a'b\\c\0\"#{x}\n");
        assert_eq!(source, b"'a\\'b\\\\c\0\"#{x}\n'");
    }
}
