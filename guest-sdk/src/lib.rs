//! Write AWS Lambda handlers as plain Rust functions and run them on the
//! `lambda-wasm` host, compiled to `wasm32-wasip1`.
//!
//! A handler is a function from an event and a [`Context`] to a `Result`;
//! one line of [`handler!`] exports it under guest ABI v1 (docs/abi.md):
//!
//! ```
//! use lambda_wasm_guest::{Context, Diagnostic, handler, log};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Order { item: String, quantity: u32 }
//!
//! #[derive(Serialize)]
//! struct Receipt { message: String }
//!
//! fn handler(order: Order, ctx: &Context) -> Result<Receipt, Diagnostic> {
//!     if order.quantity == 0 {
//!         return Err(Diagnostic::new("InvalidOrder", "quantity is 0"));
//!     }
//!     log::info!("request {} orders {}", ctx.aws_request_id, order.item);
//!     Ok(Receipt { message: format!("{} x {}", order.quantity, order.item) })
//! }
//!
//! handler!(handler); // the Wasm export `handler`: `_HANDLER=orders.handler`
//! # let r = lambda_wasm_guest::testing::invoke(handler, br#"{"item":"coffee","quantity":2}"#, "");
//! # assert_eq!(r.json().unwrap()["message"], "2 x coffee");
//! ```
//!
//! State made once per instance, before the first event (a client, a
//! parsed configuration), comes from an init function: `handler!(f, init)`
//! runs `init` in the module's init phase and passes what it returned to
//! every invocation of `f`. Its `Err` fails the init phase: the host reports
//! it as the function's init error.
//!
//! ```
//! use lambda_wasm_guest::{Context, Diagnostic, handler};
//! use std::collections::HashMap;
//!
//! struct Prices(HashMap<String, u32>);
//!
//! fn init() -> Result<Prices, std::num::ParseIntError> {
//!     Ok(Prices([("coffee".to_owned(), "3".parse()?)].into()))
//! }
//!
//! fn handler(item: String, _ctx: &Context, prices: &Prices) -> Result<u32, Diagnostic> {
//!     prices.0.get(&item).copied().ok_or_else(|| Diagnostic::new("UnknownItem", item))
//! }
//!
//! handler!(handler, init);
//! # let prices = init().unwrap();
//! # let r = lambda_wasm_guest::testing::invoke(|e, c| handler(e, c, &prices), br#""coffee""#, "");
//! # assert_eq!(r.json().unwrap(), 3);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip1` and a `cdylib` crate
//! type (add `rlib` to unit-test the handler natively with [`testing`]).
//! What the SDK does for you:
//!
//! - the event is deserialized with `serde_json` (failure:
//!   `Runtime.UnmarshalError`) and the `Ok` value serialized (failure:
//!   `Runtime.MarshalError`), see [`IntoResponse`];
//! - an `Err` becomes a function error through [`Diagnostic`]: any
//!   `std::error::Error`, `anyhow::Error`, `Box<dyn Error + Send + Sync>`,
//!   `String` or `&str` converts (with `?` too), its short type name is the
//!   `errorType`;
//! - the module exports `lambda_abi_version`, `lambda_abi_minor_version`,
//!   `lambda_alloc`, `lambda_event_buffer` and `_initialize` once, whatever
//!   the number of handlers ([`abi`]);
//! - [`log::info!`], [`log::warn!`], ... send leveled records to the host.
//!
//! A panic still ends the instance (wasm32-wasip1 aborts on panic), but
//! keeps its message: the SDK's panic hook reports it as the error
//! `Panic`, `panicked at src/lib.rs:10:5: <message>` (and prints it to
//! stderr) before the instance traps; the next event gets a fresh instance.
//!
//! The SDK builds for `wasm32-wasip1` only (and natively, for tests): the
//! host runs WASI preview 1 modules.

// wasm32-wasip2 modules are components, which the host does not load, and
// other wasm targets lack WASI: fail early with the fix rather than with a
// module the host refuses.
#[cfg(all(
    target_family = "wasm",
    not(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1"))
))]
compile_error!(
    "lambda-wasm-guest only supports the wasm32-wasip1 target: the lambda-wasm host runs \
     WASI preview 1 modules (not wasm32-wasip2 components). Build with `--target wasm32-wasip1`."
);

pub mod abi;
mod context;
mod error;
pub mod http;
pub mod log;
mod response;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use context::{ClientApplication, ClientContext, CognitoIdentity, Context};
pub use error::Diagnostic;
pub use response::{IntoResponse, RawResponse};

/// Exports a handler function under guest ABI v1.
///
/// - `handler!(f)` exports `fn f(event: E, ctx: &Context) -> Result<R, Er>`
///   as the Wasm function `f`, so `_HANDLER=module.f` finds it.
/// - `handler!(f, init)` also runs `fn init() -> Result<S, Ei>` once per
///   instance, in the init phase (`_initialize`, before the first event),
///   and passes its state to `fn f(event: E, ctx: &Context, state: &S)`.
///   An `Err` from `init` is the function's init error (docs/abi.md,
///   "Errors set before a trap"). `S` must be `Send + Sync + 'static`.
/// - `handler!(path::to_fn as "export_name")` (or `..., init`) picks
///   another export name.
///
/// Invoke it once per handler: a module may hold several. Each
/// `handler!(f, init)` keeps its own state, and every init function of the
/// module runs in the init phase (in no promised order), whichever handler
/// `_HANDLER` names, as module-level code does in Python.
///
/// `E` is any `serde::de::DeserializeOwned` type (`serde_json::Value` for
/// any JSON), `R` any [`IntoResponse`] (every `Serialize` type, or
/// [`RawResponse`]), and `Er`, `Ei` anything that converts into a
/// [`Diagnostic`] (every `std::error::Error`, `anyhow::Error`, ...).
///
/// The generated export has no Rust name; off Wasm it exports nothing (and
/// `init` is not run), and tests call the function itself or go through
/// [`testing::invoke`].
#[macro_export]
macro_rules! handler {
    (@export $name:expr, $run:expr) => {
        #[doc(hidden)]
        #[allow(dead_code)]
        #[cfg_attr(target_arch = "wasm32", unsafe(export_name = $name))]
        extern "C" fn __lambda_wasm_export(
            event_ptr: *mut u8,
            event_len: usize,
            ctx_ptr: *mut u8,
            ctx_len: usize,
        ) -> i32 {
            // SAFETY: the host calls this with the buffer it filled
            // from `lambda_alloc`, as guest ABI v1 prescribes.
            unsafe { $run(event_ptr, event_len, ctx_ptr, ctx_len) }
        }
    };
    (@stateless $handler:path, $name:expr) => {
        const _: () = {
            $crate::handler!(@export $name, |event_ptr, event_len, ctx_ptr, ctx_len| {
                $crate::abi::run_handler($handler, event_ptr, event_len, ctx_ptr, ctx_len)
            });
        };
    };
    (@stateful $handler:path, $init:path, $name:expr) => {
        const _: () = {
            #[allow(dead_code)]
            static STATE: $crate::abi::StateSlot = $crate::abi::StateSlot::new();

            // wasm-ld turns each `.init_array` entry into a constructor; the
            // SDK's `_initialize` runs the constructors, then the init hooks
            // they registered.
            #[cfg(target_arch = "wasm32")]
            #[used]
            #[unsafe(link_section = ".init_array")]
            static REGISTER_INIT: extern "C" fn() = {
                extern "C" fn register() {
                    $crate::abi::register_init(|| STATE.init($init));
                }
                register
            };

            $crate::handler!(@export $name, |event_ptr, event_len, ctx_ptr, ctx_len| {
                $crate::abi::run_handler_with_state(
                    $handler, $init, &STATE, event_ptr, event_len, ctx_ptr, ctx_len,
                )
            });
        };
    };
    ($handler:ident) => {
        $crate::handler!(@stateless $handler, ::core::stringify!($handler));
    };
    ($handler:ident, $init:path) => {
        $crate::handler!(@stateful $handler, $init, ::core::stringify!($handler));
    };
    ($handler:path as $name:literal) => {
        $crate::handler!(@stateless $handler, $name);
    };
    ($handler:path as $name:literal, $init:path) => {
        $crate::handler!(@stateful $handler, $init, $name);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize)]
    struct Event {
        name: String,
    }

    #[derive(Serialize)]
    struct Reply {
        greeting: String,
        request_id: String,
    }

    #[derive(Debug)]
    struct NoName;

    impl std::fmt::Display for NoName {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("name is empty")
        }
    }

    impl std::error::Error for NoName {}

    fn greet(event: Event, ctx: &Context) -> Result<Reply, NoName> {
        if event.name.is_empty() {
            return Err(NoName);
        }
        Ok(Reply {
            greeting: format!("hi {}", event.name),
            request_id: ctx.aws_request_id.clone(),
        })
    }

    handler!(greet);
    handler!(greet as "greet_again");
    handler!(by_path::shout as "shout");

    /// A handler named by a path, for `handler!(path as "name")`.
    mod by_path {
        use crate::{Context, Diagnostic};

        pub(super) fn shout(text: String, _ctx: &Context) -> Result<String, Diagnostic> {
            Ok(text.to_uppercase())
        }
    }

    /// Shared state of `greet_with_state`, made by `make_prefix`.
    struct Prefix(String);

    fn make_prefix() -> Result<Prefix, &'static str> {
        Ok(Prefix("hello".to_owned()))
    }

    fn greet_with_state(event: Event, _ctx: &Context, prefix: &Prefix) -> Result<String, NoName> {
        Ok(format!("{} {}", prefix.0, event.name))
    }

    handler!(greet_with_state, make_prefix);
    handler!(greet_with_state as "greet_with_state_again", make_prefix);

    #[test]
    fn stateful_handlers_get_the_init_state() {
        let prefix = make_prefix().unwrap();
        let r = testing::invoke(
            |e, c| greet_with_state(e, c, &prefix),
            br#"{"name":"Ann"}"#,
            "",
        );
        assert_eq!(r.json().unwrap(), "hello Ann");
    }

    #[test]
    fn handlers_by_path_work() {
        let r = testing::invoke(by_path::shout, br#""hi""#, "");
        assert_eq!(r.json().unwrap(), "HI");
    }

    #[test]
    fn success_sets_the_serialized_response() {
        let r = testing::invoke(greet, br#"{"name":"Ann"}"#, "aws_request_id=r-1\n");
        assert_eq!(r.status, 0);
        assert_eq!(
            r.response.as_deref(),
            Some(&br#"{"greeting":"hi Ann","request_id":"r-1"}"#[..])
        );
        assert_eq!(r.error, None);
    }

    #[test]
    fn err_sets_the_error_and_returns_non_zero() {
        let r = testing::invoke(greet, br#"{"name":""}"#, "");
        assert_eq!(r.status, 1);
        assert_eq!(r.response, None);
        assert_eq!(r.error, Some(Diagnostic::new("NoName", "name is empty")));
    }

    #[test]
    fn undeserializable_event_is_an_unmarshal_error() {
        let r = testing::invoke(greet, br#"{"nom":"Ann"}"#, "");
        assert_eq!(r.status, 1);
        let e = r.error.unwrap();
        assert_eq!(e.error_type, "Runtime.UnmarshalError");
        assert_eq!(
            e.error_message,
            "Unable to unmarshal input: missing field `name` at line 1 column 13"
        );
        let r = testing::invoke(greet, b"", "");
        assert_eq!(r.error.unwrap().error_type, "Runtime.UnmarshalError");
    }

    #[test]
    fn unserializable_result_is_a_marshal_error() {
        fn bad(_: serde_json::Value, _: &Context) -> Result<f64, Diagnostic> {
            Ok(f64::NAN)
        }
        // serde_json writes NaN as null; a map with non-string keys fails.
        fn worse(
            _: serde_json::Value,
            _: &Context,
        ) -> Result<std::collections::BTreeMap<(u8, u8), u8>, Diagnostic> {
            Ok([((1, 2), 3)].into())
        }
        assert_eq!(
            testing::invoke(bad, b"null", "").response.as_deref(),
            Some(&b"null"[..])
        );
        let r = testing::invoke(worse, b"null", "");
        assert_eq!(r.status, 1);
        assert_eq!(r.error.unwrap().error_type, "Runtime.MarshalError");
    }

    #[test]
    fn raw_response_and_unset() {
        fn raw(_: serde_json::Value, _: &Context) -> Result<RawResponse, Diagnostic> {
            Ok(RawResponse::new(b"not json".to_vec()))
        }
        fn unset(_: serde_json::Value, _: &Context) -> Result<RawResponse, Diagnostic> {
            abi::set_raw_response(b"42");
            Ok(RawResponse::unset())
        }
        fn unit(_: serde_json::Value, _: &Context) -> Result<(), Diagnostic> {
            Ok(())
        }
        assert_eq!(
            testing::invoke(raw, b"{}", "").response.as_deref(),
            Some(&b"not json"[..])
        );
        assert_eq!(
            testing::invoke(unset, b"{}", "").response.as_deref(),
            Some(&b"42"[..])
        );
        assert_eq!(
            testing::invoke(unit, b"{}", "").response.as_deref(),
            Some(&b"null"[..])
        );
    }

    #[test]
    fn abi_exports_behave() {
        assert_eq!(abi::lambda_abi_version(), 1);
        assert_eq!(
            abi::lambda_abi_minor_version(),
            3,
            "asks for the binary context"
        );
        let p = abi::lambda_alloc(0);
        assert!(!p.is_null());
        // SAFETY: from lambda_alloc with the same sizes.
        unsafe { abi::free_invocation_buffer(p, 0) };
        let p = abi::lambda_alloc(1 << 20);
        assert!(!p.is_null());
        unsafe { abi::free_invocation_buffer(p, 1 << 20) };
        assert!(abi::lambda_alloc(usize::MAX).is_null());
    }

    #[test]
    fn error_chain_reaches_the_stack_trace() {
        fn failing(_: serde_json::Value, _: &Context) -> Result<(), std::io::Error> {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, NoName))
        }
        let e = testing::invoke(failing, b"{}", "").error.unwrap();
        assert_eq!(e.error_type, "Error");
        assert_eq!(e.error_message, "name is empty");
        // io::Error's source is the inner error's own source (none here).
        assert!(e.stack_trace.is_empty());
    }
}
