//! The handler: decode the payload ([`crate::event`]), register the objects it names
//! ([`crate::register`]: plan pure, apply through Glue) or run a backfill, and answer with a
//! typed [`Output`]: for SQS the messages to retry, otherwise the counts.

use std::collections::BTreeSet;
use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use dmslake::metrics::{self, Unit};
use serde::Serialize;
use serde_json::Value;

use crate::backfill::{self, BackfillError, BackfillReport};
use crate::event::{self, EventError, Invocation, ObjectRef, SqsItem};
use crate::register::register;
use crate::report::{RecordError, Report};

pub use crate::deps::{Deps, Settings};

/// What one invocation returns.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Output {
    /// SQS: the messages to return to the queue.
    Sqs(SqsBatchResponse),
    Registered(Report),
    Backfill(BackfillReport),
}

/// A failed invocation (the trigger retries it, then dead-letters it).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    /// Objects of a direct (S3 or EventBridge) invocation that were not registered.
    #[error("{failed} of {total} objects not registered; first")]
    Records {
        failed: usize,
        total: usize,
        #[source]
        first: RecordError,
    },
    #[error(transparent)]
    Backfill(#[from] BackfillError),
}

impl HandlerError {
    /// The `errorType` reported to Lambda: what kind of input or failure it was.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Event(_) => "InvalidEvent",
            Self::Records { first, .. } => first.error_type(),
            Self::Backfill(_) => "S3Error",
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().into(),
            error_message: dmslake::error::chain(&e),
        }
    }
}

/// Handles one invocation payload. `deadline` is when the runtime stops this invocation
/// (a backfill returns its resume key before it).
pub async fn handle(
    deps: &Deps,
    payload: Value,
    deadline: Option<Instant>,
) -> Result<Output, HandlerError> {
    let invocation = event::parse(&payload).inspect_err(|e| {
        tracing::error!(error = %dmslake::error::chain(e), "malformed invocation");
        metrics::emit(metrics::REGISTRATION_ERRORS, 1.0, Unit::Count, &[]);
    })?;
    match invocation {
        Invocation::Direct(objects) => direct(deps, objects).await.map(Output::Registered),
        Invocation::EventBridge(object) => direct(deps, vec![object]).await.map(Output::Registered),
        Invocation::Sqs(items) => Ok(Output::Sqs(sqs(deps, items).await)),
        Invocation::Backfill(req) => backfill::run(deps, &req, deadline, backfill::PAGE_SIZE)
            .await
            .map(Output::Backfill)
            .map_err(HandlerError::from),
    }
}

async fn direct(deps: &Deps, objects: Vec<ObjectRef>) -> Result<Report, HandlerError> {
    let registration = register(deps, &objects).await;
    let total = registration.outcomes.len();
    let failed = registration.outcomes.iter().filter(|r| r.is_err()).count();
    match registration.outcomes.into_iter().find_map(Result::err) {
        Some(first) => Err(HandlerError::Records {
            failed,
            total,
            first,
        }),
        None => Ok(registration.report),
    }
}

/// Registers every readable message's objects in one batch; a message fails when it cannot
/// be read or any of its objects fails.
async fn sqs(deps: &Deps, items: Vec<SqsItem>) -> SqsBatchResponse {
    let mut objects = Vec::new();
    let mut owner = Vec::new();
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        match &item.objects {
            Ok(objs) => {
                objects.extend(objs.iter().cloned());
                owner.extend(std::iter::repeat_n(i, objs.len()));
            }
            Err(e) => {
                tracing::error!(message_id = %item.message_id, error = %dmslake::error::chain(e), "malformed SQS message");
                metrics::emit(metrics::REGISTRATION_ERRORS, 1.0, Unit::Count, &[]);
                failed.insert(i);
            }
        }
    }
    let registration = register(deps, &objects).await;
    for (r, i) in registration.outcomes.iter().zip(owner) {
        if r.is_err() {
            failed.insert(i);
        }
    }
    let mut response = SqsBatchResponse::default();
    for i in failed {
        let mut f = BatchItemFailure::default();
        f.item_identifier = items[i].message_id.clone();
        response.batch_item_failures.push(f);
    }
    response
}
