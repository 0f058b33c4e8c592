//! Event handling: decode the request, then merge (or maintain) each table in turn.
//!
//! Accepted payloads: an EventBridge scheduled event (`detail-type` "Scheduled Event"; a rule
//! whose name contains `maintain` means maintenance), the watcher's `Compaction Requested`
//! event (source `dmslake`, `detail.tables`), or a bare `{"action": "merge"|"maintain",
//! "tables": [...]}` (schedule target input or manual invocation).

use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use dmslake::athena::{request_token, AthenaError, QueryOutcome, Runner};
use dmslake::glue::GlueError;
use dmslake::sql::{CompactionTable, PartitionRange, SqlError};
use dmslake::state::{StateError, StateStore, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::CompactorConfig;
use crate::preview::{self, PreviewError};
use crate::spec::{self, SourceError};
use crate::watermark::{lock_doc, recorded_columns, watermark_doc, Lock, Watermark};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Merge,
    Maintain,
}

/// What was asked: the action and the source tables (`schema.table`); empty means all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: Action,
    pub tables: Vec<String>,
}

/// A payload the compactor cannot read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("not a compactor request: {0}")]
    Shape(String),
    #[error("not a compactor request: {what} does not have the expected fields")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The `detail` of a schedule or `Compaction Requested` event, and a bare request.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct RequestFields {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    tables: Vec<String>,
}

fn action_of(v: Option<&str>) -> Result<Option<Action>, RequestError> {
    match v {
        None => Ok(None),
        Some("merge") => Ok(Some(Action::Merge)),
        Some("maintain") => Ok(Some(Action::Maintain)),
        Some(other) => Err(RequestError::Shape(format!(
            "action {other:?} (expected merge or maintain)"
        ))),
    }
}

fn typed<T: serde::de::DeserializeOwned>(what: &'static str, v: &Value) -> Result<T, RequestError> {
    serde_json::from_value(v.clone()).map_err(|source| RequestError::Json { what, source })
}

/// Decodes an invocation payload: an EventBridge event ([`EventBridgeEvent`]: a schedule,
/// whose rule name containing `maintain` means maintenance, or the watcher's `Compaction
/// Requested`), or a bare `{"action": ..., "tables": [...]}`.
pub fn parse_request(payload: &Value) -> Result<Request, RequestError> {
    if payload.get("detail-type").is_some() {
        let event: EventBridgeEvent<RequestFields> = typed("EventBridge event", payload)?;
        let detail = event.detail;
        return match event.detail_type.as_str() {
            "Compaction Requested" => Ok(Request {
                action: Action::Merge,
                tables: detail.tables,
            }),
            "Scheduled Event" => {
                let by_detail = action_of(detail.action.as_deref())?;
                let by_rule = event
                    .resources
                    .unwrap_or_default()
                    .iter()
                    .any(|arn| arn.to_ascii_lowercase().contains("maintain"));
                let action = by_detail.unwrap_or(if by_rule {
                    Action::Maintain
                } else {
                    Action::Merge
                });
                Ok(Request {
                    action,
                    tables: detail.tables,
                })
            }
            other => Err(RequestError::Shape(format!("detail-type {other:?}"))),
        };
    }
    if payload.get("action").is_none() {
        return Err(RequestError::Shape(
            "expected an EventBridge event or {\"action\": ...}".into(),
        ));
    }
    let fields: RequestFields = typed("request", payload)?;
    match action_of(fields.action.as_deref())? {
        Some(action) => Ok(Request {
            action,
            tables: fields.tables,
        }),
        None => Err(RequestError::Shape(
            "expected an EventBridge event or {\"action\": ...}".into(),
        )),
    }
}

/// Everything a run needs, built once in `main`.
pub struct Deps {
    pub config: CompactorConfig,
    pub glue: aws_sdk_glue::Client,
    pub runner: Runner,
    pub state: StateStore,
}

/// The outcome for one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TableReport {
    Merged {
        table: String,
        query_id: String,
        scanned_bytes: i64,
        range: PartitionRange,
    },
    Maintained {
        table: String,
    },
    NothingNew {
        table: String,
    },
    Skipped {
        table: String,
        reason: String,
    },
    Failed {
        table: String,
        reason: String,
    },
    TimedOut {
        table: String,
        query_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub action: Action,
    pub tables: Vec<TableReport>,
}

fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A merge lock this run holds: the version of the lock document it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLock {
    pub table: String,
    pub owner: String,
    pub etag: String,
}

/// A lock owner token unique to this run and table: the table, the start time in
/// nanoseconds and a per-process random value. The lock document's ETag is the MD5 of its
/// content, so a unique owner also makes each run's lock version unique.
pub fn lock_owner(table: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .to_string();
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_string();
    request_token(&[table, &nanos, &random])
}

/// Takes the table's lock for `owner`; `Ok(None)` when another run holds a live one.
pub async fn acquire_lock(
    state: &StateStore,
    table: &str,
    owner: &str,
    ttl: i64,
) -> Result<Option<HeldLock>, StateError> {
    let doc = lock_doc(table);
    let lock = Lock {
        owner: owner.to_string(),
        expires_at: now_epoch() + ttl,
    };
    let held = |etag: String| HeldLock {
        table: table.to_string(),
        owner: owner.to_string(),
        etag,
    };
    match state.put_if(&doc, &lock, None).await {
        Ok(etag) => Ok(Some(held(etag))),
        Err(StateError::Conflict { .. }) => {
            let Some(current) = state.get::<Lock>(&doc).await? else {
                return Ok(state.put_if(&doc, &lock, None).await.ok().map(held));
            };
            if current.value.expires_at > now_epoch() {
                return Ok(None);
            }
            // Expired: take it over, unless someone else does first.
            Ok(state
                .put_if(&doc, &lock, Some(&current.etag))
                .await
                .ok()
                .map(held))
        }
        Err(e) => Err(e),
    }
}

/// Releases a lock only if it is still the one this run wrote: after it expired and another
/// run took it over, the other run's lock stays. `Ok(false)` when it was no longer ours.
pub async fn release_lock(state: &StateStore, lock: &HeldLock) -> Result<bool, StateError> {
    state.delete_if(&lock_doc(&lock.table), &lock.etag).await
}

/// Why a table's run stopped with an error (reported as `Failed`, with the whole chain).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Preview(#[from] PreviewError),
    #[error(transparent)]
    Glue(#[from] GlueError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Athena(#[from] AthenaError),
    #[error(transparent)]
    Sql(#[from] SqlError),
}

/// Why a table's run stops early: a query that failed or timed out (its report), or an error.
#[derive(Debug)]
enum Stop {
    Report(TableReport),
    Error(TableError),
}

impl<E: Into<TableError>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Error(e.into())
    }
}

fn failed(table: &str, e: &TableError) -> TableReport {
    TableReport::Failed {
        table: table.to_string(),
        reason: dmslake::error::chain(e),
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
        tracing::info!(table = name, report = ?report, "table done");
        tables.push(report);
    }
    Report {
        action: request.action,
        tables,
    }
}

async fn one_table(deps: &Deps, action: Action, name: &str, deadline: Instant) -> TableReport {
    let spec = match preview::load_spec(&deps.glue, &deps.config, name).await {
        Ok(s) => s,
        Err(e) => return failed(name, &e.into()),
    };
    let table = match CompactionTable::plan(&spec) {
        Ok(t) => t,
        Err(e) => {
            return TableReport::Skipped {
                table: name.to_string(),
                reason: e.to_string(),
            }
        }
    };
    let owner = lock_owner(name);
    let lock = match acquire_lock(&deps.state, name, &owner, deps.config.lock_ttl_seconds).await {
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
        Action::Merge => merge(deps, &table, deadline).await,
        Action::Maintain => maintain(deps, &table, deadline).await,
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

/// What a finished (or abandoned) query means for the table: the query id and scanned bytes
/// to go on with, or the report to stop with (pure).
pub fn outcome_report(table: &str, outcome: QueryOutcome) -> Result<(String, i64), TableReport> {
    match outcome {
        QueryOutcome::Succeeded {
            query_id,
            scanned_bytes,
        } => Ok((query_id, scanned_bytes)),
        QueryOutcome::Failed {
            query_id,
            state,
            reason,
        } => Err(TableReport::Failed {
            table: table.to_string(),
            reason: format!("query {query_id} {state}: {reason}"),
        }),
        QueryOutcome::TimedOut { query_id, .. } => Err(TableReport::TimedOut {
            table: table.to_string(),
            query_id,
        }),
    }
}

/// Runs one statement: its query id and scanned bytes, or why the table stops.
async fn execute(
    deps: &Deps,
    table: &CompactionTable,
    sql: &str,
    deadline: Instant,
) -> Result<(String, i64), Stop> {
    let token = request_token(&[table.table(), sql]);
    let db = &deps.config.common.curated_database;
    let outcome = deps.runner.run(sql, Some(db), &token, deadline).await?;
    outcome_report(table.table(), outcome).map_err(Stop::Report)
}

async fn merge(
    deps: &Deps,
    table: &CompactionTable,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    let name = table.table();
    // The watermark is read once per run: its partition starts the range, its column list
    // plans the ALTERs, its version guards the write that moves it.
    let mut wm = deps.state.get::<Watermark>(&watermark_doc(name)).await?;
    let from = wm.as_ref().and_then(|w| w.value.partition.clone());
    let range = preview::merge_range(&deps.glue, &deps.config, table, from).await?;
    if !table.partition_keys().is_empty() && range.to.is_none() {
        return Ok(TableReport::NothingNew {
            table: name.to_string(),
        });
    }
    execute(deps, table, &table.create_table_sql(), deadline).await?;
    add_columns(deps, table, &mut wm, deadline).await?;
    let sql = table.merge_sql(&range)?;
    let (query_id, scanned_bytes) = execute(deps, table, &sql, deadline).await?;
    // Only now, after the query succeeded, does the watermark move.
    let next = Watermark {
        partition: range.to.clone(),
        query_id: query_id.clone(),
        merged_at: chrono::Utc::now().to_rfc3339(),
        columns: Some(recorded_columns(table, wm.as_ref().map(|w| &w.value))),
    };
    let etag = wm.as_ref().map(|old| old.etag.as_str());
    deps.state.put_if(&watermark_doc(name), &next, etag).await?;
    dmslake::metrics::emit(
        "MergeScannedBytes",
        scanned_bytes as f64,
        dmslake::metrics::Unit::Bytes,
        &[("Table", name)],
    );
    Ok(TableReport::Merged {
        table: name.to_string(),
        query_id,
        scanned_bytes,
        range,
    })
}

/// Adds the columns the raw table gained, before the MERGE names them. The curated table's
/// columns come from the Glue catalog when it has the table (Athena keeps an Iceberg table's
/// schema there, so an `ALTER` that outlived an earlier run is seen as done); otherwise from
/// the watermark (see [`preview::column_additions`]). Each added column is also recorded in
/// the watermark (its partition unchanged) before this returns, even when a later statement
/// fails, so a next run does not add it again: Athena refuses to add a column that exists.
/// `Err` when a statement failed or timed out; the table is then not merged.
async fn add_columns(
    deps: &Deps,
    table: &CompactionTable,
    wm: &mut Option<Versioned<Watermark>>,
    deadline: Instant,
) -> Result<(), Stop> {
    let name = table.table();
    let adds = preview::column_additions(
        &deps.glue,
        &deps.config,
        table,
        wm.as_ref().map(|w| &w.value),
    )
    .await?;
    let mut added = Vec::new();
    let mut stop = Ok(());
    for (column, sql) in adds {
        match execute(deps, table, &sql, deadline).await {
            Ok((query_id, _)) => {
                tracing::info!(
                    table = name,
                    column,
                    query_id,
                    "column added to the curated table"
                );
                added.push(column);
            }
            Err(e) => {
                stop = Err(e);
                break;
            }
        }
    }
    if let (false, Some(current)) = (added.is_empty(), wm.as_mut()) {
        let mut next = current.value.clone();
        let columns = next.columns.get_or_insert_with(Vec::new);
        for column in added {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        let etag = deps
            .state
            .put_if(&watermark_doc(name), &next, Some(&current.etag))
            .await?;
        *current = Versioned { value: next, etag };
    }
    stop
}

async fn maintain(
    deps: &Deps,
    table: &CompactionTable,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    for sql in [table.optimize_sql(), table.vacuum_sql()] {
        execute(deps, table, &sql, deadline).await?;
    }
    Ok(TableReport::Maintained {
        table: table.table().to_string(),
    })
}

/// A failed invocation: a payload that is not a request (invalid input, not retried with
/// success), or a report that cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("encoding the report")]
    Encode(#[source] serde_json::Error),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match e {
            HandlerError::Request(_) => "InvalidInput",
            HandlerError::Encode(_) => "Internal",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: dmslake::error::chain(&e),
        }
    }
}

/// Lambda entry: decode, run until the invocation's deadline minus a margin, report.
pub async fn handle(deps: &Deps, payload: Value, deadline: Instant) -> Result<Value, HandlerError> {
    let request = parse_request(&payload)?;
    let report = run(deps, &request, deadline).await;
    serde_json::to_value(report).map_err(HandlerError::Encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_and_timed_out_queries_stop_the_table_with_athenas_reason() {
        let failed = outcome_report(
            "public_t",
            QueryOutcome::Failed {
                query_id: "q1".into(),
                state: "FAILED".into(),
                reason: "ICEBERG_COMMIT_ERROR: conflict".into(),
            },
        );
        assert_eq!(
            failed,
            Err(TableReport::Failed {
                table: "public_t".into(),
                reason: "query q1 FAILED: ICEBERG_COMMIT_ERROR: conflict".into()
            })
        );
        let timed_out = outcome_report(
            "public_t",
            QueryOutcome::TimedOut {
                query_id: "q2".into(),
                state: "RUNNING".into(),
            },
        );
        assert!(matches!(timed_out, Err(TableReport::TimedOut { .. })));
        assert_eq!(
            outcome_report(
                "public_t",
                QueryOutcome::Succeeded {
                    query_id: "q3".into(),
                    scanned_bytes: 7
                }
            ),
            Ok(("q3".to_string(), 7))
        );
    }
}
