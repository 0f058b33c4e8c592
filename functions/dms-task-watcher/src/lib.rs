//! `dms-task-watcher`: reacts to DMS task events and a scheduled health check.
//!
//! [`event`] decodes a payload into one typed [`event::Request`]; [`decide`] is the pure core
//! (observation + recorded state + policy → actions); [`dms`] and [`adapters`] make the AWS
//! calls; [`state`] keeps each task's durable record; [`handler`] orchestrates and returns a
//! typed [`handler::Outcome`].

pub mod adapters;
pub mod config;
pub mod decide;
pub mod dms;
pub mod event;
pub mod handler;
pub mod state;

/// What can go wrong while handling one invocation.
#[derive(Debug, thiserror::Error)]
pub enum WatcherError {
    #[error("{service} {operation} on {resource}: {message}")]
    Aws {
        service: &'static str,
        operation: &'static str,
        resource: String,
        message: String,
    },
    #[error(transparent)]
    State(#[from] dmslake::state::StateError),
    /// The task's record could not be stored, so nothing was done: retry the invocation.
    #[error("task {task}: record not stored, nothing was done (the invocation is retried)")]
    NotStored {
        task: String,
        #[source]
        source: dmslake::state::StateError,
    },
    /// Every step for an event failed (an instance alert not published): retry the invocation.
    #[error("{resource}: nothing done ({errors}); the invocation is retried")]
    NothingDone { resource: String, errors: String },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A manual request whose JSON does not have the documented shape.
    #[error(
        "manual request not understood (expected {{\"action\": \"status\" | \"start\" | \"stop\" | \"resume\" | \"reload\" | \"health_check\", \"task\": \"<task ARN or id>\"}})"
    )]
    UnreadableRequest {
        #[source]
        source: serde_json::Error,
    },
}

impl WatcherError {
    /// `InvalidInput` for a bad manual request (do not retry), `Retryable` otherwise.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::UnreadableRequest { .. } => "InvalidInput",
            _ => "Retryable",
        }
    }
}
