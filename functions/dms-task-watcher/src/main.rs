//! Lambda entry point: logging, configuration and clients once; then the handler.
#![recursion_limit = "256"]

use dms_task_watcher::handler::{self, Deps};
use dms_task_watcher::WatcherError;
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;

fn diagnostic(err: WatcherError) -> Diagnostic {
    Diagnostic {
        error_type: err.error_type().to_string(),
        error_message: dmslake::logging::error_chain(&err),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    dmslake::logging::init(env!("CARGO_PKG_NAME"));
    let deps = Deps::from_env()
        .await
        .map_err(dmslake::logging::startup_error)?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = handler::handle(deps, event.payload)
            .await
            .map_err(diagnostic)?;
        // A task whose record could not be stored had nothing done: fail the invocation so
        // Lambda's asynchronous retries (and then the on-failure destination) take it again
        // instead of losing the event.
        if let Some(lost) = outcome
            .reports()
            .iter()
            .find(|r| r.done.is_empty() && !r.errors.is_empty())
        {
            return Err(Diagnostic {
                error_type: "Retryable".into(),
                error_message: format!("{}: {}", lost.task_arn, lost.errors.join("; ")),
            });
        }
        serde_json::to_value(outcome).map_err(|e| Diagnostic {
            error_type: "Internal".into(),
            error_message: e.to_string(),
        })
    }))
    .await
}
