//! The durable per-task record: state history, restart attempts, baseline requests.
//!
//! Kept as one JSON document per watched task in S3 through [`dmslake::state::StateStore`].
//! Why S3 and not the function's memory: a Lambda execution environment is recycled at will
//! and several may run at once, so a restart counter in memory would reset on a cold start and
//! the restart bound would not hold. S3 conditional writes (`If-Match` on the ETag read)
//! make read-modify-write safe between concurrent invocations without another service
//! (no table to provision), and the same documents serve `dmslake status` as the history.

use chrono::{DateTime, Utc};
use dmslake::state::{Backoff, StateError, StateStore, Versioned};
use serde::{Deserialize, Serialize};

/// Transitions kept per task (oldest dropped first).
pub const MAX_TRANSITIONS: usize = 50;
/// EventBridge envelope ids remembered to drop duplicate deliveries.
pub const MAX_SEEN_EVENTS: usize = 32;

/// One observed change of a task's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub from: Option<String>,
    pub to: String,
    /// `event`, `health_check`, `manual` or `watcher` (an automatic resume).
    pub cause: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The last failure seen, for the status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub at: DateTime<Utc>,
    pub state: String,
    pub stop_reason: Option<String>,
    pub last_error: Option<String>,
    /// Tables in error; `None` when table statistics were not available.
    pub tables_in_error: Option<Vec<String>>,
}

/// Everything dmslake remembers about one watched task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub task_arn: String,
    pub last_state: Option<String>,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    /// Times of the automatic restarts still inside the restart window.
    #[serde(default)]
    pub restarts: Vec<DateTime<Utc>>,
    /// Set when the restart bound was reached; cleared by an operator's resume or reload.
    #[serde(default)]
    pub restarts_exhausted: bool,
    #[serde(default)]
    pub last_failure: Option<FailureRecord>,
    /// The full load the compactor baseline was requested for (its start time).
    #[serde(default)]
    pub baseline_load_id: Option<String>,
    #[serde(default)]
    pub baseline_requested_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub full_load_progress: Option<i32>,
    /// When an operator asked dmslake to stop the task (a stop without reason that follows
    /// is then an operator stop).
    #[serde(default)]
    pub stop_requested_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub seen_events: Vec<String>,
    /// When the "no new files" alert was sent for the current quiet period.
    #[serde(default)]
    pub stale_alerted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Since when DMS has not known this task (deleted, or a wrong ARN configured); the
    /// alert is sent when this is set, and it is cleared when the task is seen again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_since: Option<DateTime<Utc>>,
}

impl TaskRecord {
    pub fn new(task_arn: &str) -> Self {
        Self {
            task_arn: task_arn.to_string(),
            ..Self::default()
        }
    }

    /// Appends a transition and makes `to` the current state.
    pub fn push_transition(
        &mut self,
        at: DateTime<Utc>,
        to: &str,
        cause: &str,
        detail: Option<String>,
    ) -> Transition {
        let t = Transition {
            at,
            from: self.last_state.clone(),
            to: to.to_string(),
            cause: cause.to_string(),
            detail,
        };
        self.transitions.push(t.clone());
        if self.transitions.len() > MAX_TRANSITIONS {
            let excess = self.transitions.len() - MAX_TRANSITIONS;
            self.transitions.drain(..excess);
        }
        self.last_state = Some(to.to_string());
        t
    }

    /// Remembers an envelope id; false when it was already seen (a duplicate delivery).
    pub fn remember_event(&mut self, envelope_id: &str) -> bool {
        if envelope_id.is_empty() {
            return true;
        }
        if self.seen_events.iter().any(|e| e == envelope_id) {
            return false;
        }
        self.seen_events.push(envelope_id.to_string());
        if self.seen_events.len() > MAX_SEEN_EVENTS {
            let excess = self.seen_events.len() - MAX_SEEN_EVENTS;
            self.seen_events.drain(..excess);
        }
        true
    }

    /// When the task last became `running` (for the freshness check).
    pub fn running_since(&self) -> Option<DateTime<Utc>> {
        self.transitions
            .iter()
            .rev()
            .find(|t| t.to == "running")
            .map(|t| t.at)
    }
}

/// The state document name of a task: `watcher/tasks/<ARN with ':' and '/' as '_'>.json`.
pub fn record_name(task_arn: &str) -> String {
    let safe: String = task_arn
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{RECORD_FOLDER}{safe}.json")
}

/// Folder (under the state prefix) holding every task record.
pub const RECORD_FOLDER: &str = "watcher/tasks/";

/// Reads a task's record (a fresh one when none exists yet) with its version tag.
pub async fn load(
    store: &StateStore,
    task_arn: &str,
) -> Result<(TaskRecord, Option<String>), StateError> {
    match store.get::<TaskRecord>(&record_name(task_arn)).await? {
        Some(Versioned { value, etag }) => Ok((value, Some(etag))),
        None => Ok((TaskRecord::new(task_arn), None)),
    }
}

/// Read-modify-write with optimistic concurrency: `change` runs on the current record and
/// returns its result; a concurrent writer makes the whole step run again after a jittered
/// backoff ([`Backoff::CONFLICTS`]). When the record still cannot be stored the error says so
/// and nothing was changed: the caller fails the invocation so Lambda retries it.
pub async fn update<R>(
    store: &StateStore,
    task_arn: &str,
    change: impl FnMut(&mut TaskRecord) -> R,
) -> Result<(TaskRecord, R), StateError> {
    store
        .update(
            &record_name(task_arn),
            Backoff::CONFLICTS,
            || TaskRecord::new(task_arn),
            change,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_safe_keys() {
        assert_eq!(
            record_name("arn:aws:dms:us-east-1:123456789012:task:ABC"),
            "watcher/tasks/arn_aws_dms_us-east-1_123456789012_task_ABC.json"
        );
    }

    #[test]
    fn history_and_seen_events_are_bounded() {
        let mut r = TaskRecord::new("t");
        let now = Utc::now();
        for i in 0..(MAX_TRANSITIONS + 5) {
            r.push_transition(
                now,
                if i % 2 == 0 { "running" } else { "stopped" },
                "event",
                None,
            );
        }
        assert_eq!(r.transitions.len(), MAX_TRANSITIONS);
        for i in 0..(MAX_SEEN_EVENTS + 3) {
            assert!(r.remember_event(&format!("e{i}")));
        }
        assert!(!r.remember_event(&format!("e{}", MAX_SEEN_EVENTS + 2)));
        assert_eq!(r.seen_events.len(), MAX_SEEN_EVENTS);
    }
}
