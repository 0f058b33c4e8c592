//! Lambda entry point: logging, configuration and clients once; then the handler.
#![recursion_limit = "256"]

use dms_task_watcher::event::Request;
use dms_task_watcher::handler::{self, Deps};
use dms_task_watcher::WatcherError;
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;

fn diagnostic(err: WatcherError) -> Diagnostic {
    Diagnostic {
        error_type: err.error_type().to_string(),
        error_message: dmslake::error::chain(&err),
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
        // An error (a task record that could not be stored, so nothing was done) fails the
        // invocation: Lambda's asynchronous retries, then the on-failure destination, take
        // the event again instead of losing it.
        let request = Request::decode(event.payload).map_err(diagnostic)?;
        let outcome = handler::dispatch(deps, request).await.map_err(diagnostic)?;
        serde_json::to_value(outcome).map_err(|e| Diagnostic {
            error_type: "Internal".into(),
            error_message: e.to_string(),
        })
    }))
    .await
}
