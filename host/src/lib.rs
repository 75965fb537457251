//! lambda-wasm: a Lambda `bootstrap` that runs handlers compiled to
//! wasm32-wasip1 (or written in an interpreted language), each in its own
//! wasmtime sandbox. See docs/abi.md for the guest contract.
//!
//! How an event flows, and how the modules depend on each other (arrows
//! point one way, down this list):
//!
//! 1. Front ends: [`bootstrap`] (the [`runtime_api`] loop), [`local`]
//!    (`invoke`), [`serve`] (the Invoke API), [`package`].
//! 2. [`function::Function`]: a loaded function and its init report.
//! 3. [`guest`]: the guest kinds behind one trait (reactor, command,
//!    interpreter; Python is an interpreted language).
//! 4. Wasm plumbing: [`store`] (linker, instances), [`abi`] (the
//!    `lambda_wasm` imports), [`sandbox`] (WASI), [`limits`] (memory cap,
//!    deadlines), [`engine`] (compiling and loading modules: a `.cwasm`
//!    only if compiled from the `.wasm` beside it, test mode's cache), [`fault`]
//!    (traps to Lambda errors).
//!    [`outbound`]: guests' HTTP(S) through the host, under the deployer's
//!    allow-list, signed with credentials only the host holds (it uses no
//!    other module of this crate).
//! 5. Basic types: [`invocation`], [`settings`], [`handler_name`],
//!    [`response`], [`errors`], [`logs`].

pub mod abi;
pub mod bootstrap;
pub mod engine;
pub mod errors;
pub mod fault;
pub mod function;
pub mod guest;
pub mod handler_name;
pub mod invocation;
pub mod limits;
pub mod local;
pub mod logs;
pub mod outbound;
pub mod package;
pub mod response;
pub mod runtime_api;
pub mod sandbox;
pub mod serve;
pub mod settings;
pub mod store;

// The build script's name resolution for the link order (host/build.rs),
// tested here: a build script has no test target of its own.
#[cfg(test)]
#[path = "../build/link_order.rs"]
mod build_link_order;
