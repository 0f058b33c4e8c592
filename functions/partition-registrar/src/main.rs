//! Lambda entry point: logging, configuration and clients once; then the handler.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use partition_registrar::handler::{self, Deps};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    dmslake::logging::init(env!("CARGO_PKG_NAME"));
    let deps = Deps::from_env()
        .await
        .map_err(dmslake::logging::startup_error)?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = deadline_instant(event.context.deadline);
        // Boxed: the handler's future is deep enough to exceed the compiler's layout depth.
        Box::pin(handler::handle(deps, event.payload, Some(deadline))).await
    }))
    .await
}

/// Converts the invocation deadline (milliseconds since the epoch) to an [`std::time::Instant`].
fn deadline_instant(deadline_ms: u64) -> std::time::Instant {
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    std::time::Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
