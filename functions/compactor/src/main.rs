//! Lambda entry point: logging, configuration and clients once; then the handler.

use std::time::{Duration, Instant};

use compactor::config::CompactorConfig;
use compactor::handler::{handle, Deps};
use dmslake::athena::Runner;
use dmslake::state::{StateLocation, StateStore};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Time kept back from the invocation deadline to record the outcome.
const MARGIN: Duration = Duration::from_secs(15);

#[tokio::main]
async fn main() -> Result<(), Error> {
    dmslake::logging::init();
    let config = CompactorConfig::from_env()?;
    // The three clients the compactor calls, and no others.
    let sdk = dmslake::clients::load_sdk_config().await;
    let deps = Deps {
        state: StateStore::new(
            dmslake::clients::s3_client(&sdk),
            StateLocation::new(&config.state_bucket, &config.state_prefix),
        ),
        runner: Runner::new(aws_sdk_athena::Client::new(&sdk), &config.workgroup),
        glue: aws_sdk_glue::Client::new(&sdk),
        config,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        let deadline = Instant::now() + remaining.saturating_sub(MARGIN);
        handle(deps, event.payload, deadline)
            .await
            .map_err(lambda_runtime::Diagnostic::from)
    }))
    .await
}
