//! `shared-client`: a client made once per instance by an init function and
//! shared by every invocation, with `handler!(handler, init)` (as
//! aws-lambda-rust-runtime's `basic-shared-resource` example).
//!
//! [`init`] runs in the init phase, before the first event: it reads
//! `TABLE_NAME` and builds a [`Client`] for that table. Without
//! `TABLE_NAME` init fails with errorType `ConfigError`, errorMessage
//! `TABLE_NAME is not set`, which the host reports as the function's init
//! error. The event `{"id": "42"}` gives
//! `{"table": "orders", "id": "42", "served": 1}`; `served` counts the
//! invocations the client has served, so it grows while the instance stays
//! warm.
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p shared-client
//! echo '{"id": "42"}' | lambda-wasm invoke shared_client.handler --task-root target/wasm32-wasip1/guest --event - --env TABLE_NAME=orders
//! ```

use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use lambda_wasm_guest::{Context, handler};
use serde::{Deserialize, Serialize};

/// A stand-in for an SDK client (a DynamoDB client, say): expensive to
/// make, so made once, and used by every invocation through `&self`.
#[derive(Debug)]
pub struct Client {
    table: String,
    /// Shared state must be `Sync`: an atomic rather than a `Cell`.
    served: AtomicU64,
}

impl Client {
    /// A client for `table`.
    pub fn new(table: impl Into<String>) -> Self {
        Client {
            table: table.into(),
            served: AtomicU64::new(0),
        }
    }

    /// "Fetches" the item `id`: names it, and counts the call.
    pub fn get_item(&self, id: &str) -> Item {
        Item {
            table: self.table.clone(),
            id: id.to_owned(),
            served: self.served.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

/// The init error: the function is not configured.
#[derive(Debug, PartialEq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The event: which item to get.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// The item's key.
    pub id: String,
}

/// The response: the item, and how many invocations this client served.
#[derive(Debug, PartialEq, Serialize)]
pub struct Item {
    /// The table the client was made for.
    pub table: String,
    /// The requested key.
    pub id: String,
    /// 1 for the instance's first invocation, then 2, 3, ...
    pub served: u64,
}

/// Builds the shared client, once per instance, before the first event.
pub fn init() -> Result<Client, ConfigError> {
    match std::env::var("TABLE_NAME") {
        Ok(table) if !table.is_empty() => Ok(Client::new(table)),
        _ => Err(ConfigError("TABLE_NAME is not set".to_owned())),
    }
}

/// Gets the requested item with the shared client.
pub fn handler(request: Request, _ctx: &Context, client: &Client) -> Result<Item, Infallible> {
    Ok(client.get_item(&request.id))
}

handler!(handler, init);

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_wasm_guest::Diagnostic;
    use lambda_wasm_guest::testing::invoke;

    #[test]
    fn warm_invocations_share_the_client() {
        let client = Client::new("orders");
        let first = invoke(|e, c| handler(e, c, &client), br#"{"id": "42"}"#, "");
        assert_eq!(
            first.response.as_deref(),
            Some(&br#"{"table":"orders","id":"42","served":1}"#[..])
        );
        let second = invoke(|e, c| handler(e, c, &client), br#"{"id": "7"}"#, "");
        assert_eq!(second.json().unwrap()["served"], 2);
    }

    #[test]
    fn init_needs_a_table_name() {
        // The only test that touches the environment.
        // SAFETY: no other test reads or writes the environment.
        unsafe { std::env::remove_var("TABLE_NAME") };
        let error = Diagnostic::from(init().unwrap_err());
        assert_eq!(
            error,
            Diagnostic::new("ConfigError", "TABLE_NAME is not set")
        );
        unsafe { std::env::set_var("TABLE_NAME", "orders") };
        assert_eq!(init().unwrap().get_item("1").table, "orders");
    }
}
