//! Thin adapters for the alert topic (SNS), the baseline request (EventBridge) and the
//! freshness check (newest object under the data bucket's `BucketFolder`).

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decide::{Alert, BASELINE_REASON};
use crate::WatcherError;

/// `source` of dmslake's own events.
pub const DMSLAKE_SOURCE: &str = "dmslake";
/// `detail-type` of the baseline request the template routes to the compactor.
pub const COMPACTION_REQUESTED: &str = "Compaction Requested";

/// Detail of a `Compaction Requested` event (the environment contract).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CompactionRequested {
    pub reason: String,
    pub task_arn: String,
    /// `schema.table`; empty = every table.
    pub tables: Vec<String>,
}

/// Publishes an alert; returns the SNS message id.
pub async fn publish_alert(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    alert: &Alert,
) -> Result<String, WatcherError> {
    sns.publish()
        .topic_arn(topic_arn)
        .subject(&alert.subject)
        .message(&alert.message)
        .send()
        .await
        .map(|o| o.message_id().unwrap_or_default().to_string())
        .map_err(|e| WatcherError::Aws {
            service: "sns",
            operation: "Publish",
            resource: topic_arn.to_string(),
            message: format!("{}", aws_sdk_sns::error::DisplayErrorContext(e)),
        })
}

/// Puts the baseline request on the bus; an entry EventBridge refuses is an error.
pub async fn request_baseline(
    eventbridge: &aws_sdk_eventbridge::Client,
    bus: &str,
    task_arn: &str,
    tables: &[String],
) -> Result<(), WatcherError> {
    let fail = |message: String| WatcherError::Aws {
        service: "events",
        operation: "PutEvents",
        resource: bus.to_string(),
        message,
    };
    let detail = CompactionRequested {
        reason: BASELINE_REASON.to_string(),
        task_arn: task_arn.to_string(),
        tables: tables.to_vec(),
    };
    let detail = serde_json::to_string(&detail).map_err(|e| fail(e.to_string()))?;
    let out = eventbridge
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source(DMSLAKE_SOURCE)
                .detail_type(COMPACTION_REQUESTED)
                .resources(task_arn)
                .detail(detail)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "{}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            ))
        })?;
    if out.failed_entry_count() > 0 {
        let why = out
            .entries()
            .iter()
            .filter_map(|e| e.error_message())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(fail(format!("entry refused: {why}")));
    }
    Ok(())
}

/// Last-modified time of the newest object under `bucket/prefix`; `None` when empty.
/// Lists every key under the prefix (S3 has no "newest first" listing).
pub async fn newest_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Option<DateTime<Utc>>, WatcherError> {
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", prefix.trim_end_matches('/'))
    };
    let mut newest: Option<DateTime<Utc>> = None;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| WatcherError::Aws {
            service: "s3",
            operation: "ListObjectsV2",
            resource: format!("s3://{bucket}/{prefix}"),
            message: format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)),
        })?;
        for obj in page.contents() {
            let at = obj
                .last_modified()
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
            newest = newest.max(at);
        }
    }
    Ok(newest)
}
