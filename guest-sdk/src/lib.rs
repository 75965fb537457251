//! Write AWS Lambda handlers as plain Rust functions and run them on the
//! `lambda-wasm` host, compiled to `wasm32-wasip1`.
//!
//! A handler is a function from an event and a [`Context`] to a `Result`;
//! one line of [`handler!`] exports it under guest ABI v1 (docs/abi.md):
//!
//! ```
//! use lambda_wasm_guest::{Context, Diagnostic, handler, info};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Order { item: String, quantity: u32 }
//!
//! #[derive(Serialize)]
//! struct Receipt { message: String }
//!
//! // Init once, outside the handler: runs at the first invocation and is
//! // kept for every warm one after it (the instance is reused).
//! static PRICES: std::sync::LazyLock<std::collections::HashMap<&str, u32>> =
//!     std::sync::LazyLock::new(|| [("coffee", 3)].into());
//!
//! fn handler(order: Order, ctx: &Context) -> Result<Receipt, Diagnostic> {
//!     let price = PRICES
//!         .get(order.item.as_str())
//!         .ok_or_else(|| Diagnostic::new("UnknownItem", order.item.clone()))?;
//!     info!("request {} costs {}", ctx.aws_request_id, price * order.quantity);
//!     Ok(Receipt { message: format!("{} x {}", order.quantity, order.item) })
//! }
//!
//! handler!(handler); // the Wasm export `handler`: `_HANDLER=orders.handler`
//! # let r = lambda_wasm_guest::testing::invoke(handler, br#"{"item":"coffee","quantity":2}"#, "");
//! # assert_eq!(r.json().unwrap()["message"], "2 x coffee");
//! ```
//!
//! Build with `cargo build --target wasm32-wasip1` and a `cdylib` crate
//! type (add `rlib` to unit-test the handler natively). What the SDK does
//! for you:
//!
//! - the event is deserialized with `serde_json` (failure:
//!   `Runtime.UnmarshalError`) and the `Ok` value serialized (failure:
//!   `Runtime.MarshalError`), see [`IntoResponse`];
//! - an `Err` becomes a function error through [`Diagnostic`]: any
//!   `std::error::Error` converts, its short type name is the `errorType`;
//! - the module exports `lambda_abi_version`, `lambda_alloc` and
//!   `_initialize` once, whatever the number of handlers ([`abi`]);
//! - [`info!`], [`warn!`], ... send leveled records to the host ([`log`]).
//!
//! A panic traps the instance (wasm32-wasip1 aborts on panic): the host
//! reports `Runtime.WasmTrap`, with the panic message on stderr, and starts a
//! fresh instance for the next event.

pub mod abi;
mod context;
mod error;
pub mod log;
mod response;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use context::{ClientApplication, ClientContext, CognitoIdentity, Context};
pub use error::Diagnostic;
pub use response::{IntoResponse, RawResponse};

/// Exports a handler function under guest ABI v1.
///
/// `handler!(name)` exports `fn name(event: E, ctx: &Context) ->
/// Result<R, Er>` as the Wasm function `name`, so `_HANDLER=module.name`
/// finds it; `handler!(path::to_fn as "export_name")` picks another export
/// name. Invoke it once per handler: a module may hold several.
///
/// `E` is any `serde::de::DeserializeOwned` type (`serde_json::Value` for
/// any JSON), `R` any [`IntoResponse`] (every `Serialize` type, or
/// [`RawResponse`]), and `Er` anything that converts into a [`Diagnostic`]
/// (every `std::error::Error`, or `Diagnostic` itself).
///
/// The generated export has no Rust name; off Wasm it exports nothing, and
/// tests call the function itself or go through [`testing::invoke`].
#[macro_export]
macro_rules! handler {
    (@export $handler:path, $name:expr) => {
        const _: () = {
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
                unsafe { $crate::abi::run_handler($handler, event_ptr, event_len, ctx_ptr, ctx_len) }
            }
        };
    };
    ($handler:ident) => {
        $crate::handler!(@export $handler, ::core::stringify!($handler));
    };
    ($handler:path as $name:literal) => {
        $crate::handler!(@export $handler, $name);
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
    handler!(self::greet as "greet_by_path");

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
