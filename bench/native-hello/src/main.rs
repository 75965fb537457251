//! The end-to-end benchmark's anchor: the hello guest's handler
//! (`guests/rust/hello`, the same crate, compiled natively) served by AWS's
//! `lambda_runtime`, as a native `provided.al2023` function would be.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_wasm_guest::Context;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        hello::handler(event.payload, &Context::default()).map_err(Error::from)
    }))
    .await
}
