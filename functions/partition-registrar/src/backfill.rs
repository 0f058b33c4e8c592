//! Backfill: page through DMS output already in a bucket and register all of it, for
//! deploying dmslake onto a bucket DMS has been writing to for months.
//!
//! Pages are listed in key order and registered one page at a time through the same path as
//! events ([`crate::handler::register`]), so the catalog ends up the same. After each page
//! the last key is the resume point: a Lambda invocation stops before its deadline and
//! returns it as `resume_after`; pass it back as `start_after` to continue.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::event::{BackfillRequest, ObjectRef};
use crate::handler::{self, Deps, HandlerError, Report};

/// Keys per listing page (S3's maximum).
pub const PAGE_SIZE: i32 = 1000;

/// Least time kept in hand before the deadline when starting a page.
const MIN_MARGIN: Duration = Duration::from_secs(10);

/// Outcome of a backfill run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BackfillReport {
    pub bucket: String,
    pub prefix: String,
    /// True when the whole prefix was listed and processed.
    pub complete: bool,
    /// Last key fully processed: pass it as `start_after` to resume (absent when nothing was).
    pub resume_after: Option<String>,
    pub pages: usize,
    pub keys_listed: usize,
    #[serde(flatten)]
    pub counts: Report,
}

/// Runs a backfill until the prefix is exhausted or `deadline` is near.
pub async fn run(
    deps: &Deps,
    req: &BackfillRequest,
    deadline: Option<Instant>,
    page_size: i32,
) -> Result<BackfillReport, HandlerError> {
    let mut out = BackfillReport {
        bucket: req.bucket.clone(),
        prefix: req.prefix.clone(),
        resume_after: req.start_after.clone(),
        ..BackfillReport::default()
    };
    let mut continuation: Option<String> = None;
    let mut slowest_page = Duration::ZERO;
    loop {
        // The first page is always read: a deadline nearer than the margin (a short timeout, an
        // emulator's) must still make progress, so that invoking again with `resume_after`
        // gets through the prefix.
        if let Some(deadline) = deadline.filter(|_| out.pages > 0) {
            let margin = MIN_MARGIN.max(slowest_page * 2);
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < margin {
                tracing::warn!(
                    resume_after = out.resume_after.as_deref(),
                    remaining_ms = remaining.as_millis() as u64,
                    pages = out.pages,
                    "stopping backfill before the deadline"
                );
                return Ok(out);
            }
        }
        let started = Instant::now();
        let start_after = if continuation.is_none() {
            req.start_after.as_deref()
        } else {
            None
        };
        let page = dmslake::s3::list_page(
            &deps.s3,
            &req.bucket,
            &req.prefix,
            start_after,
            continuation.as_deref(),
            page_size,
        )
        .await
        .map_err(|e| HandlerError {
            error_type: "S3Error".into(),
            message: format!("{e} (resume with start_after {:?})", out.resume_after),
        })?;
        let objects: Vec<ObjectRef> = page
            .keys
            .iter()
            .map(|k| ObjectRef {
                bucket: req.bucket.clone(),
                key: k.clone(),
            })
            .collect();
        let (_, counts) = handler::register(deps, &objects).await;
        out.pages += 1;
        out.keys_listed += page.keys.len();
        out.counts.add(counts);
        if let Some(last) = page.keys.last() {
            out.resume_after = Some(last.clone());
        }
        slowest_page = slowest_page.max(started.elapsed());
        tracing::info!(
            bucket = %req.bucket,
            prefix = %req.prefix,
            pages = out.pages,
            keys = out.keys_listed,
            files = out.counts.files,
            partitions_registered = out.counts.partitions_registered,
            failures = out.counts.failures.len(),
            resume_after = out.resume_after.as_deref(),
            "backfill progress"
        );
        match page.next {
            Some(token) => continuation = Some(token),
            None => {
                out.complete = true;
                return Ok(out);
            }
        }
    }
}
