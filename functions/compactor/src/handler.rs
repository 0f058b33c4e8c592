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
use dmslake::s3::S3Error;
use dmslake::sql::{CompactionTable, PartitionRange, SqlError};
use dmslake::state::{StateError, StateStore, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::CompactorConfig;
use crate::preview::{self, PreviewError};
use crate::reload::{self, LoadCheck, LoadFile};
use crate::spec::{self, SourceError};
use crate::watermark::{
    lag_seconds, lock_doc, recorded_columns, status_doc, watermark_doc, InFlight, Lock,
    MergeStatus, Watermark,
};

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
    /// A full load newer than the watermark's was found, and the table rebuilt from it and
    /// the changes after it.
    Rebuilt {
        table: String,
        query_id: String,
        scanned_bytes: i64,
        /// The new full load's files.
        files: Vec<String>,
    },
    /// A new full load was found that may still be writing (the previous run did not list
    /// the same files): the table is left as it is until a run lists them unchanged.
    ReloadPending {
        table: String,
        /// The new full load's files listed so far.
        files: Vec<String>,
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

impl TableReport {
    pub fn table(&self) -> &str {
        match self {
            Self::Merged { table, .. }
            | Self::Rebuilt { table, .. }
            | Self::ReloadPending { table, .. }
            | Self::Maintained { table }
            | Self::NothingNew { table }
            | Self::Skipped { table, .. }
            | Self::Failed { table, .. }
            | Self::TimedOut { table, .. } => table,
        }
    }

    /// The outcome's name, as serialized.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Merged { .. } => "merged",
            Self::Rebuilt { .. } => "rebuilt",
            Self::ReloadPending { .. } => "reload_pending",
            Self::Maintained { .. } => "maintained",
            Self::NothingNew { .. } => "nothing_new",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
            Self::TimedOut { .. } => "timed_out",
        }
    }

    /// Why the table was not merged (or maintained), when it was not.
    pub fn error(&self) -> Option<String> {
        match self {
            Self::Skipped { reason, .. } | Self::Failed { reason, .. } => Some(reason.clone()),
            Self::TimedOut { query_id, .. } => Some(format!(
                "query {query_id} still running when the invocation's time ran out; the next run waits for it"
            )),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub action: Action,
    pub tables: Vec<TableReport>,
}

impl Report {
    /// The tables the run could not do (failed, skipped or timed out).
    pub fn failures(&self) -> Vec<&TableReport> {
        self.tables.iter().filter(|t| t.error().is_some()).collect()
    }
}

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
            error_message: dmslake::logging::error_chain(&err),
        }
    }
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
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("new full-load files {files:?} have no readable write time; the table is not rebuilt (check the objects in S3)")]
    LoadTime { files: Vec<String> },
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

/// The newest commit timestamp among the changes a merge of `range` read (best effort: `None`,
/// logged, when the query fails; the watermark then keeps the previous value).
async fn newest_commit(
    deps: &Deps,
    table: &CompactionTable,
    range: &PartitionRange,
    merge_query_id: &str,
    deadline: Instant,
) -> Option<String> {
    let name = table.table();
    let sql = match table.newest_commit_sql(range) {
        Ok(Some(sql)) => sql,
        Ok(None) => {
            tracing::info!(table = name, "no timestamp column: the lag is not measured");
            return None;
        }
        Err(e) => {
            tracing::warn!(table = name, error = %e, "newest commit not queried");
            return None;
        }
    };
    // Unique to this merge: a later run's identical text is a new query.
    let token = request_token(&[name, &sql, merge_query_id]);
    let db = &deps.config.common.curated_database;
    let found = match deps.runner.run(&sql, Some(db), &token, deadline).await {
        Ok(QueryOutcome::Succeeded { query_id, .. }) => deps.runner.first_value(&query_id).await,
        Ok(other) => {
            tracing::warn!(table = name, outcome = ?other, "newest commit query did not succeed");
            return None;
        }
        Err(e) => Err(e),
    };
    match found {
        Ok(value) => {
            tracing::info!(
                table = name,
                newest_commit = value.as_deref(),
                "newest commit merged"
            );
            value.filter(|v| !v.trim().is_empty())
        }
        Err(e) => {
            tracing::warn!(table = name, error = %e, "newest commit not read");
            None
        }
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
        Action::Merge => merge(deps, &table, &def.location, &owner, deadline).await,
        Action::Maintain => maintain(deps, &table, &owner, deadline).await,
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

/// The `ClientRequestToken` of one statement in one run: the run's lock owner (unique to the
/// run and the table, [`lock_owner`]) and the statement text. Athena answers a start whose
/// token it has seen with the execution it already created, and creates no query (API
/// reference, StartQueryExecution, `ClientRequestToken`). So within a run a retried start (the
/// SDK retrying after a lost response) is not executed twice, while the next run starts its
/// statements anew even when their text is unchanged: the same MERGE over the same partition
/// range must read the files that arrived since, and a statement that failed must run again.
pub fn statement_token(owner: &str, sql: &str) -> String {
    request_token(&[owner, sql])
}

/// Runs one statement: its query id and scanned bytes, or why the table stops.
async fn execute(
    deps: &Deps,
    table: &CompactionTable,
    owner: &str,
    sql: &str,
    deadline: Instant,
) -> Result<(String, i64), Stop> {
    let token = statement_token(owner, sql);
    let db = &deps.config.common.curated_database;
    let outcome = deps.runner.run(sql, Some(db), &token, deadline).await?;
    outcome_report(table.table(), outcome).map_err(Stop::Report)
}

async fn merge(
    deps: &Deps,
    table: &CompactionTable,
    location: &str,
    owner: &str,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    let name = table.table();
    // The watermark is read once per run: its partition starts the range, its column list
    // plans the ALTERs, its full-load files tell a reload, its version guards the write that
    // moves it.
    let mut wm = deps.state.get::<Watermark>(&watermark_doc(name)).await?;
    if let Some(old) = &wm {
        if let Some(flight) = &old.value.in_flight {
            if let Adoption::Done(report) = adopt(deps, table, old, flight, deadline).await? {
                return Ok(report);
            }
        }
    }
    let from = wm.as_ref().and_then(|w| w.value.partition.clone());
    let (range, partitions) =
        preview::merge_partitions(&deps.glue, &deps.config, table, from).await?;
    let loads = full_load_check(
        deps,
        name,
        location,
        &partitions,
        wm.as_ref().map(|w| &w.value),
    )
    .await?;
    let reload = match loads.check {
        LoadCheck::Pending(new) => return wait_for_reload(deps, name, wm.as_ref(), new).await,
        LoadCheck::Reloaded(new) => {
            Some(
                reload::source(&loads.bucket, &new).ok_or_else(|| TableError::LoadTime {
                    files: new.into_iter().map(|f| f.key).collect(),
                })?,
            )
        }
        LoadCheck::FirstSeen => {
            tracing::info!(
                table = name,
                files = loads.listed.len(),
                "full-load files recorded in the watermark for the first time; the current state is taken to reflect them"
            );
            None
        }
        LoadCheck::Same => None,
    };
    if reload.is_none() && !table.partition_keys().is_empty() && range.to.is_none() {
        return Ok(TableReport::NothingNew {
            table: name.to_string(),
        });
    }
    // The curated table as the catalog has it (Athena keeps an Iceberg table's schema in
    // Glue): created only when missing, so a run costs no DDL query once it exists.
    let curated = &deps.config.common.curated_database;
    let existing = dmslake::glue::column_names(&deps.glue, curated, name).await?;
    if existing.is_none() {
        execute(deps, table, owner, &table.create_table_sql(), deadline).await?;
    }
    let adds =
        preview::planned_additions(table, existing.as_deref(), wm.as_ref().map(|w| &w.value));
    add_columns(deps, table, owner, &mut wm, adds, deadline).await?;
    let reload_after = wm.as_ref().and_then(|w| w.value.reload_after.clone());
    let sql = match &reload {
        Some(source) => {
            tracing::warn!(
                table = name,
                files = %dmslake::logging::json(&source.files),
                written_after = source.written_after,
                "a full load newer than the watermark's: rebuilding the current state from it and the changes after it"
            );
            table.rebuild_sql(source)?
        }
        None => table.merge_sql_since(&range, reload_after.as_deref())?,
    };
    // A rebuild read every partition: the next merge starts at the newest (or where it was).
    let range = PartitionRange {
        to: range.to.or(range.from.clone()),
        ..range
    };
    let now = chrono::Utc::now().to_rfc3339();
    let previous = wm.as_ref().map(|w| &w.value);
    // What the watermark becomes once the query has succeeded.
    let next = Watermark {
        partition: range.to.clone(),
        query_id: String::new(),
        merged_at: now.clone(),
        columns: Some(recorded_columns(table, previous)),
        newest_commit: previous.and_then(|w| w.newest_commit.clone()),
        full_load: Some(loads.listed),
        pending_load: None,
        reload_after: match &reload {
            Some(source) => Some(source.written_after.clone()),
            None => reload_after,
        },
        rebuilt_at: match &reload {
            Some(_) => Some(now.clone()),
            None => previous.and_then(|w| w.rebuilt_at.clone()),
        },
        in_flight: None,
    };
    let flight = |query_id: String| InFlight {
        query_id,
        started_at: now.clone(),
        range: range.clone(),
        rebuild_files: reload.as_ref().map(|source| source.files.clone()),
        next: Box::new(next.clone()),
    };
    let token = statement_token(owner, &sql);
    let db = &deps.config.common.curated_database;
    let outcome = deps.runner.run(&sql, Some(db), &token, deadline).await?;
    if let QueryOutcome::TimedOut { query_id, .. } = &outcome {
        // Athena goes on with the query: the next run adopts it rather than starting it again.
        let doc = Watermark::with_in_flight(previous, flight(query_id.clone()));
        deps.state
            .put_if(
                &watermark_doc(name),
                &doc,
                wm.as_ref().map(|old| old.etag.as_str()),
            )
            .await?;
        tracing::warn!(
            table = name,
            query_id,
            "the merge is still running as the invocation's time runs out; the next run waits for it"
        );
    }
    let (query_id, scanned_bytes) = outcome_report(name, outcome).map_err(Stop::Report)?;
    let etag = wm.as_ref().map(|old| old.etag.clone());
    finish(deps, table, flight(query_id), scanned_bytes, etag, deadline).await
}

/// Bookkeeping after a merge or rebuild query succeeded (in this run, or in an earlier one
/// whose time ran out): the newest commit merged, the watermark moved (only now), metrics.
async fn finish(
    deps: &Deps,
    table: &CompactionTable,
    done: InFlight,
    scanned_bytes: i64,
    etag: Option<String>,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    let name = table.table();
    let InFlight {
        query_id,
        range,
        rebuild_files,
        next,
        ..
    } = done;
    // The newest change merged: everything the MERGE read is at least as old.
    let newest = newest_commit(deps, table, &range, &query_id, deadline)
        .await
        .or(next.newest_commit.clone());
    let next = Watermark {
        query_id: query_id.clone(),
        newest_commit: newest,
        in_flight: None,
        ..*next
    };
    deps.state
        .put_if(&watermark_doc(name), &next, etag.as_deref())
        .await?;
    dmslake::metrics::emit(
        dmslake::metrics::MERGE_SCANNED_BYTES,
        scanned_bytes as f64,
        dmslake::metrics::Unit::Bytes,
        &[("Table", name)],
    );
    if let Some(files) = rebuild_files {
        dmslake::metrics::emit(
            dmslake::metrics::TABLE_RELOADS,
            1.0,
            dmslake::metrics::Unit::Count,
            &[("Table", name)],
        );
        tracing::warn!(
            table = name,
            query_id,
            "reload applied; the watermark records the new full load"
        );
        return Ok(TableReport::Rebuilt {
            table: name.to_string(),
            query_id,
            scanned_bytes,
            files,
        });
    }
    Ok(TableReport::Merged {
        table: name.to_string(),
        query_id,
        scanned_bytes,
        range,
    })
}

/// What became of the query an earlier run left running ([`InFlight`]).
enum Adoption {
    /// It succeeded and its bookkeeping is done; or it is still running.
    Done(TableReport),
    /// It failed or was cancelled: the merge is planned anew.
    Replan,
}

/// Waits (until `deadline`) for the query an earlier run left running. Nothing new is started
/// while it runs: two MERGEs of the same changes would only conflict at commit.
async fn adopt(
    deps: &Deps,
    table: &CompactionTable,
    wm: &Versioned<Watermark>,
    flight: &InFlight,
    deadline: Instant,
) -> Result<Adoption, Stop> {
    let name = table.table();
    tracing::info!(
        table = name,
        query_id = flight.query_id,
        started_at = flight.started_at,
        "waiting for the merge an earlier run left running"
    );
    let outcome = match deps.runner.wait(&flight.query_id, deadline).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_unknown_query() => {
            tracing::warn!(
                table = name,
                query_id = flight.query_id,
                error = %e,
                "Athena no longer knows the merge an earlier run left running; planning it again"
            );
            return Ok(Adoption::Replan);
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        QueryOutcome::Succeeded {
            query_id,
            scanned_bytes,
        } => {
            let done = InFlight {
                query_id,
                ..flight.clone()
            };
            let etag = Some(wm.etag.clone());
            finish(deps, table, done, scanned_bytes, etag, deadline)
                .await
                .map(Adoption::Done)
        }
        QueryOutcome::TimedOut { query_id, .. } => Ok(Adoption::Done(TableReport::TimedOut {
            table: name.to_string(),
            query_id,
        })),
        QueryOutcome::Failed {
            query_id,
            state,
            reason,
        } => {
            tracing::warn!(
                table = name,
                query_id,
                state,
                reason,
                "the merge an earlier run left running did not succeed; planning it again"
            );
            Ok(Adoption::Replan)
        }
    }
}

/// A new full load that may still be writing: the table is left as it is, and the watermark
/// (when there is one) records the files as pending, for the next run to compare.
async fn wait_for_reload(
    deps: &Deps,
    name: &str,
    wm: Option<&Versioned<Watermark>>,
    new: Vec<LoadFile>,
) -> Result<TableReport, Stop> {
    let files: Vec<String> = new.iter().map(|f| f.key.clone()).collect();
    tracing::warn!(
        table = name,
        files = %dmslake::logging::json(&files),
        "a full load newer than the watermark's is being written: the table waits until the next run lists the same files, then is rebuilt from them"
    );
    if let Some(old) = wm {
        let next = Watermark {
            pending_load: Some(new),
            ..old.value.clone()
        };
        deps.state
            .put_if(&watermark_doc(name), &next, Some(&old.etag))
            .await?;
    }
    Ok(TableReport::ReloadPending {
        table: name.to_string(),
        files,
    })
}

/// The raw table's full-load files as listed now, the bucket they are in, and what they mean
/// against the watermark's record ([`reload::check`]).
struct LoadsNow {
    bucket: String,
    listed: Vec<LoadFile>,
    check: LoadCheck,
}

/// Lists the full-load files of the raw table `name` at `location` (its folder, and the date
/// folders of the partitions a merge reads: [`reload::load_folders`]) and checks them against
/// the watermark. A first merge reads the full load with the changes: it records what it
/// finds. Recorded files gone from the table folder (a truncate) lose their manifests
/// ([`remove_manifests`]), so the raw table reads without them.
async fn full_load_check(
    deps: &Deps,
    name: &str,
    location: &str,
    partitions: &[Vec<String>],
    wm: Option<&Watermark>,
) -> Result<LoadsNow, TableError> {
    let (bucket, prefix) = dmslake::s3::parse_url(location)?;
    let layout = &deps.config.common.layout;
    let folders = reload::load_folders(&prefix, partitions, layout);
    let listed = crate::load_files::list(deps.state.client(), &bucket, &folders, layout).await?;
    let gone = reload::removed(wm.and_then(|w| w.full_load.as_deref()), &listed, &prefix);
    if !gone.is_empty() {
        remove_manifests(deps, name, &bucket, &gone).await?;
    }
    let check = match wm {
        None => LoadCheck::Same,
        Some(w) => reload::check(w.full_load.as_deref(), w.pending_load.as_deref(), &listed),
    };
    Ok(LoadsNow {
        bucket,
        listed,
        check,
    })
}

/// Full-load files DMS removed from the table folder (a truncate removes the table's files and
/// folders, CHAP_Target.S3.md, limitations) are still named by the manifests of the raw
/// table's full-load partition, and reading a manifest that names a missing file fails the
/// query (`HIVE_FILE_NOT_FOUND`). Their manifests are deleted so the raw table reads what
/// is left; the curated table keeps its rows.
async fn remove_manifests(
    deps: &Deps,
    name: &str,
    bucket: &str,
    gone: &[LoadFile],
) -> Result<(), TableError> {
    let raw = &deps.config.common.raw_database;
    let partitions = dmslake::glue::get_partitions(&deps.glue, raw, name).await?;
    let Some(folder) = partitions
        .iter()
        .find(|p| p.partition.manifest)
        .map(|p| p.partition.location.clone())
    else {
        return Ok(());
    };
    let urls = reload::manifests_of(bucket, gone, &folder, &deps.config.common.layout);
    let files: Vec<&str> = gone.iter().map(|f| f.key.as_str()).collect();
    tracing::warn!(
        table = name,
        files = %dmslake::logging::json(&files),
        "full-load files recorded in the watermark are gone from the table folder (a truncate, or deleted by hand): their manifests are removed and the raw table reads without them; the curated table keeps its rows"
    );
    crate::load_files::delete(deps.state.client(), &urls).await?;
    Ok(())
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
    owner: &str,
    wm: &mut Option<Versioned<Watermark>>,
    adds: Vec<(String, String)>,
    deadline: Instant,
) -> Result<(), Stop> {
    let name = table.table();
    let mut added = Vec::new();
    let mut stop = Ok(());
    for (column, sql) in adds {
        match execute(deps, table, owner, &sql, deadline).await {
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
    owner: &str,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    for sql in [table.optimize_sql(), table.vacuum_sql()] {
        execute(deps, table, owner, &sql, deadline).await?;
    }
    Ok(TableReport::Maintained {
        table: table.table().to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_tokens_repeat_within_a_run_and_differ_between_runs() {
        let merge = "MERGE INTO \"cur\".\"public_t\" AS \"t\" USING (SELECT 1) AS \"s\" ON true";
        let create = "CREATE TABLE IF NOT EXISTS `cur`.`public_t` (`id` int)";
        let (run1, run2) = (lock_owner("public_t"), lock_owner("public_t"));
        assert_ne!(run1, run2, "each run owns its lock under its own name");
        // A retried start within the run: same token, Athena returns the same execution.
        assert_eq!(statement_token(&run1, merge), statement_token(&run1, merge));
        // The next run's identical MERGE text (same partition range): a new query.
        assert_ne!(statement_token(&run1, merge), statement_token(&run2, merge));
        // Another statement of the same run.
        assert_ne!(
            statement_token(&run1, merge),
            statement_token(&run1, create)
        );
        // Another table in the same run has another owner.
        assert_ne!(lock_owner("public_u"), run1);
        let token = statement_token(&run1, merge);
        assert!((32..=128).contains(&token.len()), "{token}");
    }

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
