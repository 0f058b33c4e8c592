//! Lambda entry point: logging, configuration and clients once; then the handler.
// The handler's future (Athena and Glue calls, paged listings) nests deeper than the default
// limit when its layout is computed.
#![recursion_limit = "256"]

use std::time::{Duration, Instant};

use compactor::config::CompactorConfig;
use compactor::handler::{handle, Deps};
use dmslake::athena::Runner;
use dmslake::state::{StateLocation, StateStore};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Time kept back from the invocation deadline to record the outcome.
const MARGIN: Duration = Duration::from_secs(15);

/// The longest a Lambda invocation can run (Lambda developer guide, "Configure Lambda function
/// timeout": at most 900 seconds).
const LONGEST_INVOCATION: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() -> Result<(), Error> {
    dmslake::logging::init(env!("CARGO_PKG_NAME"));
    let config = CompactorConfig::from_env().map_err(dmslake::logging::startup_error)?;
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
        let remaining = time_budget(
            event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .ok(),
        );
        let deadline = Instant::now() + remaining.saturating_sub(MARGIN);
        tracing::info!(
            remaining_ms = remaining.as_millis() as u64,
            "invocation; queries are waited for until {} s before the deadline",
            MARGIN.as_secs()
        );
        handle(deps, event.payload, deadline).await
    }))
    .await
}

/// The time this invocation may run: until its deadline, or, when the deadline has already
/// passed as the invocation arrives (`None`), Lambda's longest invocation. The cloud never
/// sends such a deadline; cargo-lambda's emulator sends a fixed 600000 ms after the epoch,
/// with which every query would be abandoned before it started.
fn time_budget(until_deadline: Option<Duration>) -> Duration {
    match until_deadline {
        Some(d) if !d.is_zero() => d.min(LONGEST_INVOCATION),
        _ => {
            tracing::warn!(
                "the invocation's deadline has already passed; running for up to {} s",
                LONGEST_INVOCATION.as_secs()
            );
            LONGEST_INVOCATION
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_already_passed_gives_the_longest_invocation() {
        let s = Duration::from_secs;
        assert_eq!(time_budget(Some(s(42))), s(42));
        assert_eq!(time_budget(Some(s(5000))), LONGEST_INVOCATION);
        assert_eq!(time_budget(None), LONGEST_INVOCATION);
        assert_eq!(time_budget(Some(Duration::ZERO)), LONGEST_INVOCATION);
    }
}
