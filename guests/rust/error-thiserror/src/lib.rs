//! `error-thiserror`: a handler's own error type, derived with `thiserror`
//! (as aws-lambda-rust-runtime's `basic-error-thiserror-support` example).
//!
//! The handler returns `Result<Order, OrderError>`; the SDK turns an `Err`
//! into the function error: errorType `OrderError` (the type's name),
//! errorMessage the variant's `#[error]` text, and one `caused by: ...`
//! stackTrace line per `#[source]` below it. `?` on a `ParseIntError`
//! works through `#[from]`/`#[source]` as in any Rust code.
//!
//! | event | result |
//! |---|---|
//! | `{"item": "coffee", "quantity": 2}` | `{"item":"coffee","quantity":2,"total":6}` |
//! | `{"item": "coffee", "quantity": 0}` | `OrderError`: `quantity must be at least 1, got 0` |
//! | `{"item": "soup", "quantity": 1}` | `OrderError`: `unknown item "soup"` |
//! | `{"item": "cake", "quantity": 1}` | `OrderError`: `the price of cake is not a number`, stackTrace `caused by: invalid digit found in string` |
//!
//! Build and run (from the repository root):
//!
//! ```sh
//! cargo build --profile guest --target wasm32-wasip1 -p error-thiserror
//! echo '{"item": "soup", "quantity": 1}' | lambda-wasm invoke error_thiserror.handler --task-root target/wasm32-wasip1/guest --event -
//! ```

use lambda_wasm_guest::{Context, handler};
use serde::{Deserialize, Serialize};

/// The price list, as text (as from a file or a table): the cake's price
/// is broken on purpose.
const PRICES: [(&str, &str); 3] = [("coffee", "3"), ("tea", "2"), ("cake", "n/a")];

/// Everything that can be wrong with an order.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// Zero or fewer items.
    #[error("quantity must be at least 1, got {0}")]
    InvalidQuantity(i64),
    /// Not on the price list.
    #[error("unknown item {0:?}")]
    UnknownItem(String),
    /// On the price list, with a price that does not parse.
    #[error("the price of {item} is not a number")]
    BadPrice {
        /// The item whose price is broken.
        item: String,
        /// Why it does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
}

/// The event.
#[derive(Debug, Deserialize)]
pub struct OrderRequest {
    /// An item of the price list.
    pub item: String,
    /// How many, at least 1.
    pub quantity: i64,
}

/// The response.
#[derive(Debug, PartialEq, Serialize)]
pub struct Order {
    /// The item ordered.
    pub item: String,
    /// How many.
    pub quantity: i64,
    /// `quantity` times the item's price.
    pub total: i64,
}

/// Prices an order.
pub fn handler(request: OrderRequest, _ctx: &Context) -> Result<Order, OrderError> {
    if request.quantity < 1 {
        return Err(OrderError::InvalidQuantity(request.quantity));
    }
    let price = price_of(&request.item)?;
    Ok(Order {
        total: price * request.quantity,
        item: request.item,
        quantity: request.quantity,
    })
}

handler!(handler);

/// The item's price from [`PRICES`].
fn price_of(item: &str) -> Result<i64, OrderError> {
    let (_, text) = PRICES
        .iter()
        .find(|(name, _)| *name == item)
        .ok_or_else(|| OrderError::UnknownItem(item.to_owned()))?;
    text.parse().map_err(|source| OrderError::BadPrice {
        item: item.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_wasm_guest::Diagnostic;
    use lambda_wasm_guest::testing::invoke;

    fn error_of(event: &[u8]) -> Diagnostic {
        invoke(handler, event, "").error.expect("a function error")
    }

    #[test]
    fn prices_an_order() {
        let r = invoke(handler, br#"{"item": "coffee", "quantity": 2}"#, "");
        assert_eq!(
            r.response.as_deref(),
            Some(&br#"{"item":"coffee","quantity":2,"total":6}"#[..])
        );
    }

    #[test]
    fn each_variant_is_an_order_error_with_its_message() {
        assert_eq!(
            error_of(br#"{"item": "coffee", "quantity": 0}"#),
            Diagnostic::new("OrderError", "quantity must be at least 1, got 0")
        );
        assert_eq!(
            error_of(br#"{"item": "soup", "quantity": 1}"#),
            Diagnostic::new("OrderError", "unknown item \"soup\"")
        );
    }

    #[test]
    fn the_source_becomes_a_stack_frame() {
        assert_eq!(
            error_of(br#"{"item": "cake", "quantity": 1}"#),
            Diagnostic::new("OrderError", "the price of cake is not a number")
                .with_stack_frame("caused by: invalid digit found in string")
        );
    }
}
