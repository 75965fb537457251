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
//! The module imports the `js` extension's JavaScript interop ([`interop`]),
//! which carries the glue's outbound requests (outbound.rb).

use wasmtime::{AsContextMut, Caller, Instance, InstancePre, Linker, Memory, Store, TypedFunc};

use super::interop;
use crate::engine::source;
use crate::guest::interpreter::RunFuture;
use crate::guest::interpreter::bridge::{self, InterpreterState};
use crate::guest::interpreter::snapshot::{self, Resume};
use crate::store::GuestState;

/// The glue, evaluated once per environment: the runtime, then Net::HTTP
/// through the host (outbound.rb).
const RUNTIME_RB: &str = concat!(include_str!("runtime.rb"), include_str!("outbound.rb"));
/// The file name the glue's frames carry: under /var/runtime/lib, where AWS's
/// Ruby runtime cuts its own frames from a stack trace (as the glue does).
const RUNTIME_FILE: &str = "/var/runtime/lib/lambda_wasm_runtime.rb";
/// What describes the exception the glue raised, for the host's error.
const DESCRIBE_ERROR: &str = "($!.full_message(highlight: false) rescue $!.inspect).to_s";
/// `ruby`'s arguments, as the npm package's `RubyVM#initialize` passes them
/// (each NUL-terminated: the guest reads them as C strings).
const RUBY_ARGS: [&str; 3] = ["ruby.wasm\0", "-EUTF-8\0", "-e_=0\0"];

/// Adds Ruby's imports beyond WASI: the JavaScript interop ([`interop`])
/// and the handle table of Ruby values the host holds. A handle is the
/// guest's own pointer (`resource_new` and `resource_get` are the
/// identity): the host holds one value at a time and gives it back at once.
pub fn add_to_linker(linker: &mut Linker<GuestState<InterpreterState>>) -> wasmtime::Result<()> {
    interop::add_to_linker(linker)?;
    let identity = |_: Caller<'_, GuestState<InterpreterState>>, value: i32| value;
    linker.func_wrap("canonical_abi", "resource_new_rb-abi-value", identity)?;
    linker.func_wrap("canonical_abi", "resource_get_rb-abi-value", identity)?;
    Ok(())
}

/// [`Language::run`](crate::guest::interpreter::Language) for Ruby: from
/// `resume`'s snapshot when given, else from scratch.
pub fn run<'a>(
    pre: &'a InstancePre<GuestState<InterpreterState>>,
    store: &'a mut Store<GuestState<InterpreterState>>,
    resume: Option<&'a Resume>,
) -> RunFuture<'a> {
    Box::pin(serve(pre, store, resume))
}

/// Starts Ruby (restoring the snapshot, whose memory already holds an
/// initialised VM with the glue, or initialising it and evaluating the
/// glue), loads the handler and carries the glue's frames until the host
/// has no more events.
async fn serve(
    pre: &InstancePre<GuestState<InterpreterState>>,
    store: &mut Store<GuestState<InterpreterState>>,
    resume: Option<&Resume>,
) -> wasmtime::Result<i32> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let mut vm = RubyVm::new(&instance, &mut *store)?;
    let mut frame = match resume {
        Some(resume) => {
            let code = resume.restore(&mut *store, &instance)?;
            vm.eval(&mut *store, code.as_bytes()).await?
        }
        None => {
            vm.initialize(&mut *store).await?;
            let boot = load_runtime_source() + START;
            vm.eval(&mut *store, boot.as_bytes()).await?
        }
    };
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

/// [`Preinit::turn`](crate::guest::interpreter::snapshot::Preinit) for
/// Ruby: evaluates `code` (after `ruby-init` when `fresh`); 0 when it
/// returned the `N` frame, or a `V` frame, which is kept as `host.call`
/// keeps it for the other interpreters.
///
/// Why a snapshot taken after this is sound although ruby.wasm is built
/// with Asyncify (for setjmp/longjmp and the GC's stack scan): checked on
/// `ruby+stdlib.wasm` 2.10.1 by exporting its globals and comparing them
/// between a fresh instance and one after `ruby-init` and the glue, it has
/// three mutable globals: the shadow stack pointer (back at its initial
/// value, as every export returns with its frame popped), the Asyncify
/// state (0, normal, once an export returned: checked below on every
/// snapshot) and the Asyncify data pointer (which may hold the last
/// unwind's buffer, but is only read while unwinding or rewinding, after
/// `asyncify_start_*` set it again).
pub fn turn<'a>(
    store: &'a mut Store<GuestState<InterpreterState>>,
    instance: &'a Instance,
    code: &'a str,
    fresh: bool,
) -> RunFuture<'a> {
    Box::pin(async move {
        let mut vm = RubyVm::new(instance, &mut *store)?;
        if fresh {
            vm.initialize(&mut *store).await?;
        }
        let frame = vm.eval(&mut *store, code.as_bytes()).await?;
        let asyncify_state = instance
            .get_typed_func::<(), i32>(&mut *store, "asyncify_get_state")?
            .call_async(&mut *store, ())
            .await?;
        if asyncify_state != 0 {
            wasmtime::bail!(
                "Ruby is mid-unwind (Asyncify state {asyncify_state}) between two calls: its memory cannot be snapshotted"
            );
        }
        if let Some(reads) = frame.strip_prefix(b"V") {
            store.data_mut().kind.keep_import_reads(reads);
            return Ok(0);
        }
        Ok(i32::from(frame != b"N"))
    })
}

/// What loads the glue: its source evaluated under its runtime file name,
/// answering `N`.
pub fn load_runtime_source() -> String {
    format!(
        "eval({}, TOPLEVEL_BINDING, {}, 1)\n'N'\n",
        quoted(RUNTIME_RB),
        quoted(RUNTIME_FILE)
    )
}

/// What loads the handler (once: in a restored handler snapshot it is
/// loaded already); the `N` or `I` frame.
pub const START: &str = "LambdaWasm.start\n";

/// What loads the handler while a snapshot is taken, recording the
/// variables it reads: `I` on failure, without the error's log lines, which
/// the function's own init writes.
pub const LOAD_HANDLER_QUIETLY: &str = "LambdaWasm.record_reads\nbegin\n  LambdaWasm.load_handler\n  'N'\nrescue Exception\n  'I'\nend\n";

/// What stops recording and answers the `V` frame of the variables read.
pub const REPORT_READS: &str = "LambdaWasm.report_reads\n";

/// Code that makes `ENV` these variables and re-seeds `Random`: a restored
/// VM holds the snapshot's environment (and C library's `environ`) and
/// seed. The variables travel as a JSON literal.
pub fn set_environment_source(variables: &[(String, String)]) -> String {
    let variables: serde_json::Map<String, serde_json::Value> = variables
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    let json = serde_json::Value::Object(variables).to_string();
    format!("LambdaWasm.restore(JSON.parse({}))\n", quoted(&json))
}

/// The glue's identity for snapshot keys: a hash of what loads it.
pub fn glue_identity() -> String {
    source::hex(&snapshot::key(&[
        RUNTIME_RB.as_bytes(),
        RUNTIME_FILE.as_bytes(),
        RUBY_ARGS.concat().as_bytes(),
    ]))
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

/// `text` as a single-quoted Ruby literal ([`quote_into`]).
fn quoted(text: &str) -> String {
    let mut literal = Vec::with_capacity(text.len() + 2);
    quote_into(&mut literal, text.as_bytes());
    String::from_utf8(literal).expect("escaping with ASCII keeps UTF-8")
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
        let [value, state] = self.eval_protected(&mut store, source).await?;
        if state != 0 {
            let [error, state] = self
                .eval_protected(&mut store, DESCRIBE_ERROR.as_bytes())
                .await?;
            let error = match state {
                0 => {
                    String::from_utf8_lossy(&self.string_of(&mut store, error).await?).into_owned()
                }
                _ => format!("Ruby tag {state}"),
            };
            wasmtime::bail!(
                "the Ruby runtime glue raised: an error in lambda-wasm's runtime.rb, not in the handler: {error}"
            );
        }
        self.string_of(&mut store, value).await
    }

    /// Evaluates `source` at the top level; its value and Ruby's tag (0 when
    /// nothing was raised).
    async fn eval_protected(
        &mut self,
        store: &mut wasmtime::StoreContextMut<'_, impl Send>,
        source: &[u8],
    ) -> wasmtime::Result<[i32; 2]> {
        let len = i32::try_from(source.len()).map_err(|_| {
            wasmtime::format_err!("a {} byte source is too large for Ruby", source.len())
        })?;
        if len > self.buffer.1 {
            let (old, old_len) = self.buffer;
            let ptr = self
                .realloc
                .call_async(&mut *store, (old, old_len, 1, len))
                .await?;
            self.buffer = (ptr, len);
        }
        self.memory
            .write(&mut *store, self.buffer.0 as usize, source)?;
        let ret = self
            .eval
            .call_async(&mut *store, (self.buffer.0, len))
            .await?;
        self.read_pair(&*store, ret)
    }

    /// The bytes of the String `value`, which is then dropped.
    async fn string_of(
        &mut self,
        store: &mut wasmtime::StoreContextMut<'_, impl Send>,
        value: i32,
    ) -> wasmtime::Result<Vec<u8>> {
        let ret = self.rstring_ptr.call_async(&mut *store, value).await?;
        let [ptr, len] = self.read_pair(&*store, ret)?;
        let mut bytes = vec![0; len as u32 as usize];
        self.memory.read(&*store, ptr as u32 as usize, &mut bytes)?;
        self.free_rstring.call_async(&mut *store, ret).await?;
        self.drop_value.call_async(&mut *store, value).await?;
        Ok(bytes)
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
