//! lambda-wasm: a Lambda `bootstrap` that runs handlers compiled to
//! wasm32-wasip1, each in its own wasmtime sandbox. See docs/abi.md for the
//! guest contract.
//!
//! How an event flows: [`bootstrap`] (the [`runtime_api`] loop) or [`local`]/[`serve`]
//! (test mode) hand an [`invocation::Invocation`] to a [`function::Function`],
//! which runs it in an [`environment::Environment`] (reactor guests) or a
//! fresh [`command`] instance, built from a [`store::InstanceTemplate`] with
//! its [`sandbox`], [`abi`] imports and [`limits`]; the guest's output is
//! checked by [`response`] and failures are shaped by [`fault`] and [`errors`].

pub mod abi;
pub mod bootstrap;
pub mod cli;
pub mod command;
pub mod engine;
pub mod environment;
pub mod errors;
pub mod fault;
pub mod function;
pub mod guest_kind;
pub mod handler_name;
pub mod invocation;
pub mod limits;
pub mod local;
pub mod logs;
pub mod package;
pub mod python;
pub mod response;
pub mod runtime_api;
pub mod sandbox;
pub mod serve;
pub mod settings;
pub mod store;
