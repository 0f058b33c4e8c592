//! Event handling: decode the request ([`crate::request`]), then merge (or maintain) each
//! table in turn ([`crate::merge`]) under its lock ([`crate::lock`]), record each outcome, and
//! report ([`crate::report`]); the invocation fails when a table could not be done.

use std::time::Instant;

use dmslake::sql::CompactionTable;
use serde_json::Value;

use crate::error::{failed, Stop};
use crate::merge::{maintain, merge};
use crate::preview;
use crate::spec;
use crate::watermark::{lag_seconds, status_doc, watermark_doc, MergeStatus, Watermark};

pub use crate::deps::Deps;
pub use crate::lock::{acquire_lock, lock_owner, release_lock, HeldLock};
pub use crate::report::{Report, TableReport};
pub use crate::request::{parse_request, Action, Request, RequestError};

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Every table was tried; some could not be merged or maintained. The invocation fails so
    /// the function's error alarm fires.
    #[error("{} of {} tables not done: {}", .0.failures().len(), .0.tables.len(), failure_list(.0))]
    TablesFailed(Report),
    #[error("the report could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}

fn failure_list(report: &Report) -> String {
    report
        .failures()
        .iter()
        .map(|t| {
            format!(
                "{} {} ({})",
                t.table(),
                t.outcome(),
                t.error().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<HandleError> for lambda_runtime::Diagnostic {
    fn from(err: HandleError) -> Self {
        let error_type = match &err {
            HandleError::Request(_) => "InvalidInput",
            HandleError::TablesFailed(_) => "TablesFailed",
            HandleError::Serialize(_) => "Internal",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: dmslake::error::chain(&err),
        }
    }
}

/// Runs the request over the named tables (or every raw table).
pub async fn run(deps: &Deps, request: &Request, deadline: Instant) -> Report {
    let mut tables = Vec::new();
    let names: Vec<String> = if request.tables.is_empty() {
        match dmslake::glue::list_tables(&deps.glue, &deps.config.common.raw_database).await {
            Ok(n) => n,
            Err(e) => {
                return Report {
                    action: request.action,
                    tables: vec![failed("*", &e.into())],
                }
            }
        }
    } else {
        let mut names = Vec::new();
        for source in &request.tables {
            match spec::raw_table_name(source) {
                Ok(name) => names.push(name),
                Err(e) => tables.push(failed(source, &e.into())),
            }
        }
        names
    };
    for name in names {
        let report = one_table(deps, request.action, &name, deadline).await;
        tracing::info!(table = name, report = %dmslake::logging::json(&report), "table done");
        record_outcome(deps, &report).await;
        tables.push(report);
    }
    Report {
        action: request.action,
        tables,
    }
}

/// After each table: `MergeFailures` for a table not done, `MergeLagSeconds` from its
/// watermark (so a stuck table's lag keeps growing), and its status document for
/// `dmslake status`. Best effort: a failure here is logged, never the run's.
async fn record_outcome(deps: &Deps, report: &TableReport) {
    use dmslake::metrics::{self, Unit};
    let table = report.table();
    let error = report.error();
    if error.is_some() {
        metrics::emit(
            metrics::MERGE_FAILURES,
            1.0,
            Unit::Count,
            &[("Table", table)],
        );
    }
    if table == "*" {
        return;
    }
    let now = chrono::Utc::now();
    match deps.state.get::<Watermark>(&watermark_doc(table)).await {
        Ok(wm) => {
            let newest = wm.and_then(|w| w.value.newest_commit);
            if let Some(lag) = newest.as_deref().and_then(|n| lag_seconds(n, now)) {
                metrics::emit(
                    metrics::MERGE_LAG_SECONDS,
                    lag as f64,
                    Unit::Seconds,
                    &[("Table", table)],
                );
            }
        }
        Err(e) => tracing::warn!(table, error = %e, "watermark unreadable; no lag reported"),
    }
    let doc = status_doc(table);
    let previous = match deps.state.get::<MergeStatus>(&doc).await {
        Ok(found) => found.map(|v| v.value).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(table, error = %e, "status document unreadable; rewritten");
            MergeStatus::default()
        }
    };
    let at = now.to_rfc3339();
    let status = MergeStatus {
        checked_at: at.clone(),
        outcome: report.outcome().to_string(),
        last_error_at: if error.is_some() {
            Some(at)
        } else {
            previous.last_error_at
        },
        last_error: error.or(previous.last_error),
    };
    if let Err(e) = deps.state.put(&doc, &status).await {
        tracing::warn!(table, error = %e, "status document not written");
    }
}

async fn one_table(deps: &Deps, action: Action, name: &str, deadline: Instant) -> TableReport {
    let def = match preview::load_def(&deps.glue, &deps.config, name).await {
        Ok(d) => d,
        Err(e) => return failed(name, &e.into()),
    };
    let table = match CompactionTable::plan(&spec::table_spec(&deps.config, &def)) {
        Ok(t) => t,
        Err(e) => {
            return TableReport::Skipped {
                table: name.to_string(),
                reason: e.to_string(),
            }
        }
    };
    let lock = match acquire_lock(
        &deps.state,
        name,
        &lock_owner(name),
        deps.config.lock_ttl_seconds,
    )
    .await
    {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return TableReport::Skipped {
                table: name.to_string(),
                reason: "another run holds the merge lock".into(),
            }
        }
        Err(e) => return failed(name, &e.into()),
    };
    let result = match action {
        Action::Merge => merge(deps, &table, &def.location, &lock.owner, deadline).await,
        Action::Maintain => maintain(deps, &table, &lock.owner, deadline).await,
    };
    match release_lock(&deps.state, &lock).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(
                table = name,
                "lock expired and was taken over; left in place"
            )
        }
        Err(e) => tracing::warn!(table = name, error = %e, "lock not released; it expires"),
    }
    match result {
        Ok(report) | Err(Stop::Report(report)) => report,
        Err(Stop::Error(e)) => failed(name, &e),
    }
}

/// Lambda entry: decode, run every table until the invocation's deadline minus a margin, then
/// fail the invocation when a table could not be done ([`HandleError::TablesFailed`]).
pub async fn handle(deps: &Deps, payload: Value, deadline: Instant) -> Result<Value, HandleError> {
    let request = parse_request(&payload)?;
    let report = run(deps, &request, deadline).await;
    if !report.failures().is_empty() {
        let err = HandleError::TablesFailed(report);
        tracing::error!(error = %err, "compactor run failed");
        return Err(err);
    }
    Ok(serde_json::to_value(report)?)
}
