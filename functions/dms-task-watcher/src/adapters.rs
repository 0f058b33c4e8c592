//! Thin adapters for the alert topic (SNS), the baseline request (EventBridge) and the
//! freshness check (any DMS data file written since a cutoff under the data bucket).

use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use dmslake::config::LayoutConfig;
use dmslake::layout::{classify, listing_slack, listing_start_after};
use serde::Serialize;

use crate::decide::{Activity, Alert, BASELINE_REASON};
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
            message: dmslake::aws_error::sdk_message(&e),
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
        .map_err(|e| fail(dmslake::aws_error::sdk_message(&e)))?;
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

/// The freshness check's answer with what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityScan {
    pub activity: Activity,
    /// Objects the listings returned (folders' common prefixes not counted).
    pub keys_examined: u64,
    /// `ListObjectsV2` calls made.
    pub list_calls: u64,
    /// Whether the layout let the listing skip old keys (see [`listing_start_after`]).
    pub bounded: bool,
}

/// Logged once per cold start: the layout forces full listings.
static UNBOUNDED_LOGGED: AtomicBool = AtomicBool::new(false);

/// Was any DMS data file written under `bucket` at or after `cutoff`?
///
/// S3 has no "newest first" listing, so instead of listing the whole lake this follows DMS's
/// key layout (CHAP_Target.S3.md): the schema and table folders under `BucketFolder` are
/// enumerated with `/`-delimited listings (common prefixes only), then each table is listed
/// from [`listing_start_after`] (its date folders, or its time-named CDC files, from one
/// slack before the cutoff), so the keys skipped are older ones. Listing stops at the first
/// data file written at or after the cutoff. Layouts whose key order does not follow time
/// (`MMYYYYDD`, `DDMMYYYY`, `CdcPath`) are listed whole, still stopping at the first recent
/// file. Only keys that [`classify`] as DMS data count (not folder markers, state documents or
/// `CDC_TXN-*` files).
pub async fn activity_since(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    layout: &LayoutConfig,
    cutoff: DateTime<Utc>,
) -> Result<ActivityScan, WatcherError> {
    let root = if layout.bucket_folder.is_empty() {
        String::new()
    } else {
        format!("{}/", layout.bucket_folder)
    };
    // The layout decides whether tables can be listed from a bound; any table prefix gives
    // the same answer.
    let bounded = listing_start_after(layout, &root, cutoff).is_some();
    let mut scan = Scan {
        s3,
        bucket,
        layout,
        cutoff,
        keys_examined: 0,
        list_calls: 0,
        newest: None,
    };
    if !bounded {
        if !UNBOUNDED_LOGGED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                bucket,
                prefix = %root,
                sequence = %layout.date_partition_sequence,
                cdc_path = layout.cdc_path.as_deref(),
                "freshness check lists every key under the bucket folder: this layout's key order does not follow time"
            );
        }
        let found = scan.list_files(&root, None).await?;
        return Ok(scan.finish(found, None, false));
    }
    let from = cutoff - listing_slack();
    for schema in scan.list_folders(&root).await? {
        for table in scan.list_folders(&schema).await? {
            let start = listing_start_after(layout, &table, cutoff);
            if let Some(at) = scan.list_files(&table, start).await? {
                return Ok(scan.finish(Some(at), Some(from), true));
            }
        }
    }
    Ok(scan.finish(None, Some(from), true))
}

/// One freshness check's listings and tallies.
struct Scan<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    layout: &'a LayoutConfig,
    cutoff: DateTime<Utc>,
    keys_examined: u64,
    list_calls: u64,
    /// Newest data file seen.
    newest: Option<DateTime<Utc>>,
}

impl Scan<'_> {
    fn fail<E, R>(&self, prefix: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> WatcherError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        WatcherError::Aws {
            service: "s3",
            operation: "ListObjectsV2",
            resource: format!("s3://{}/{prefix}", self.bucket),
            message: dmslake::aws_error::sdk_message(&e),
        }
    }

    /// The sub-folders (common prefixes, ending in `/`) directly under `prefix`.
    async fn list_folders(&mut self, prefix: &str) -> Result<Vec<String>, WatcherError> {
        let mut folders = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.list_calls += 1;
            let page = page.map_err(|e| self.fail(prefix, e))?;
            self.keys_examined += page.contents().len() as u64;
            folders.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .map(str::to_string),
            );
        }
        Ok(folders)
    }

    /// Lists every key under `prefix` (after `start_after`); returns the time of the first
    /// data file written at or after the cutoff, stopping there.
    async fn list_files(
        &mut self,
        prefix: &str,
        start_after: Option<String>,
    ) -> Result<Option<DateTime<Utc>>, WatcherError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix)
            .set_start_after(start_after)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            self.list_calls += 1;
            let page = page.map_err(|e| self.fail(prefix, e))?;
            for obj in page.contents() {
                self.keys_examined += 1;
                let Some(key) = obj.key() else { continue };
                if classify(key, self.layout).data().is_none() {
                    continue;
                }
                let Some(at) = obj
                    .last_modified()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                else {
                    continue;
                };
                if at >= self.cutoff {
                    tracing::debug!(key, at = %at, "recent data file");
                    return Ok(Some(at));
                }
                self.newest = self.newest.max(Some(at));
            }
        }
        Ok(None)
    }

    /// `from`: the listing's lower bound when bounded. A newest file older than the bound is
    /// not reported: an unlisted file between it and the bound may exist.
    fn finish(
        self,
        recent: Option<DateTime<Utc>>,
        from: Option<DateTime<Utc>>,
        bounded: bool,
    ) -> ActivityScan {
        let activity = match recent {
            Some(at) => Activity::Recent { at },
            None => Activity::Quiet {
                newest: self.newest.filter(|t| from.is_none_or(|f| *t >= f)),
                listed_since: from,
            },
        };
        ActivityScan {
            activity,
            keys_examined: self.keys_examined,
            list_calls: self.list_calls,
            bounded,
        }
    }
}
