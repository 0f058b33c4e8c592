//! Lambda entry point: logging, configuration and clients once; then the handler.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    dmslake::logging::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        compactor::handler::handle(event.payload).await
    }))
    .await
}
