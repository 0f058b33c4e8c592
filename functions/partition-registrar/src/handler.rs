//! Event handling: decode the payload, plan the catalog changes (pure, [`dmslake::catalog`]),
//! apply them through the Glue adapter, and report per record.
//!
//! Economy: the objects of one invocation are grouped per Glue table; a table is read at
//! most once, created at most once, and its new partitions go out in `BatchCreatePartition`
//! calls of at most 100. A per-execution-environment cache ([`Known`]) remembers tables,
//! registered partitions and processed keys, so a warm function makes no Glue call for a
//! partition it has already registered or seen.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use dmslake::catalog::{
    self, CatalogError, Column, Evolution, PartitionDef, SchemaConflict, TableDef,
};
use dmslake::config::{Config, ConfigError};
use dmslake::glue::{self, GlueError};
use dmslake::layout::{self, Classification, DmsObject, FileFormat};
use dmslake::metrics::{self, Unit};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{Mutex, Semaphore};

use crate::backfill::{self, BackfillReport};
use crate::columns::{self, ColumnsError, CsvManifest};
use crate::event::{self, EventError, Invocation, ObjectRef};

/// Registrar-only settings (`DMSLAKE_CSV_COLUMNS_URI`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `s3://bucket/key` of the JSON column manifest for CSV tables without a header row.
    pub csv_columns_uri: Option<String>,
}

impl Settings {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let csv_columns_uri = match get("DMSLAKE_CSV_COLUMNS_URI").map(|v| v.trim().to_string()) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) => {
                let ok = dmslake::s3::parse_url(&v).is_ok_and(|(_, key)| !key.is_empty());
                if !ok {
                    return Err(ConfigError::new(
                        "DMSLAKE_CSV_COLUMNS_URI",
                        &v,
                        "an s3://bucket/key URL of a JSON column manifest",
                    ));
                }
                Some(v)
            }
        };
        Ok(Self { csv_columns_uri })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

/// What this execution environment already knows about the catalog.
#[derive(Debug, Default)]
pub struct Known {
    database_ready: bool,
    tables: HashMap<String, TableDef>,
    partitions: HashSet<(String, Vec<String>)>,
    /// `bucket/key` of data files fully registered (or skipped) already.
    files: HashSet<String>,
    csv_manifest: Option<CsvManifest>,
}

/// Schema reads (S3 GETs) in flight at once within one invocation.
const SCHEMA_READS_IN_FLIGHT: usize = 16;

/// Upper bound on remembered keys (a long-lived warm environment must not grow forever).
const MAX_KNOWN_FILES: usize = 200_000;

/// Everything the handler borrows: built once per execution environment in `main.rs`.
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub config: Config,
    pub settings: Settings,
    known: Mutex<Known>,
}

impl Deps {
    pub fn new(
        s3: aws_sdk_s3::Client,
        glue: aws_sdk_glue::Client,
        config: Config,
        settings: Settings,
    ) -> Self {
        Self {
            s3,
            glue,
            config,
            settings,
            known: Mutex::new(Known::default()),
        }
    }

    /// Configuration and clients from the environment (the Lambda's cold start, the CLI).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let settings = Settings::from_env()?;
        let sdk = dmslake::clients::load_sdk_config().await;
        Ok(Self::new(
            dmslake::clients::s3_client(&sdk),
            aws_sdk_glue::Client::new(&sdk),
            config,
            settings,
        ))
    }

    /// Forgets everything cached (a cold start, for tests and benchmarks).
    pub async fn forget(&self) {
        *self.known.lock().await = Known::default();
    }
}

/// Why one record (object or SQS message) was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("s3://{bucket}/{key}: {source}")]
    Catalog {
        bucket: String,
        key: String,
        source: Box<CatalogError>,
    },
    #[error("s3://{bucket}/{key}: {source}")]
    Columns {
        bucket: String,
        key: String,
        source: Box<ColumnsError>,
    },
    #[error("s3://{bucket}/{key}: {source}")]
    Glue {
        bucket: String,
        key: String,
        source: Box<GlueError>,
    },
    #[error("s3://{bucket}/{key}: Glue refused partition {values:?}: {message}")]
    Partition {
        bucket: String,
        key: String,
        values: Vec<String>,
        message: String,
    },
}

impl RecordError {
    /// The `errorType` reported to Lambda (and in backfill reports).
    pub fn error_type(&self) -> &'static str {
        match self {
            RecordError::Event(_) => "InvalidEvent",
            RecordError::Catalog { source, .. } => match **source {
                CatalogError::Schema(_) => "SchemaChangeRejected",
                CatalogError::NameCollision { .. } => "TableNameCollision",
                _ => "InvalidObject",
            },
            RecordError::Columns { .. } => "UnreadableFile",
            RecordError::Glue { .. } | RecordError::Partition { .. } => "GlueError",
        }
    }
}

/// A handler failure returned to Lambda (so the trigger retries, then dead-letters).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub error_type: String,
    pub message: String,
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type,
            error_message: e.message,
        }
    }
}

/// A record that failed, for reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub key: String,
    pub error_type: String,
    pub message: String,
}

/// Counts of one registration run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub files: usize,
    pub skipped: usize,
    pub already_known: usize,
    pub tables_created: usize,
    pub tables_updated: usize,
    pub partitions_registered: usize,
    pub partitions_already_registered: usize,
    pub partitions_updated: usize,
    pub failures: Vec<Failure>,
}

impl Report {
    pub fn add(&mut self, other: Report) {
        self.files += other.files;
        self.skipped += other.skipped;
        self.already_known += other.already_known;
        self.tables_created += other.tables_created;
        self.tables_updated += other.tables_updated;
        self.partitions_registered += other.partitions_registered;
        self.partitions_already_registered += other.partitions_already_registered;
        self.partitions_updated += other.partitions_updated;
        self.failures.extend(other.failures);
    }
}

/// What one invocation returns.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Output {
    /// SQS: the messages to return to the queue.
    Sqs(SqsBatchResponse),
    Registered(Report),
    Backfill(BackfillReport),
}

/// Handles one invocation payload. `deadline` is when the runtime stops this invocation
/// (a backfill returns its resume key before it).
pub async fn handle(
    deps: &Deps,
    payload: Value,
    deadline: Option<Instant>,
) -> Result<Output, HandlerError> {
    let invocation = event::parse(&payload).map_err(|e| {
        tracing::error!(error = %e, "malformed invocation");
        metrics::emit(metrics::REGISTRATION_ERRORS, 1.0, Unit::Count, &[]);
        HandlerError {
            error_type: "InvalidEvent".into(),
            message: e.to_string(),
        }
    })?;
    match invocation {
        Invocation::Direct(objects) => direct(deps, &objects).await.map(Output::Registered),
        Invocation::EventBridge(object) => direct(deps, &[object]).await.map(Output::Registered),
        Invocation::Sqs(items) => Ok(Output::Sqs(sqs(deps, items).await)),
        Invocation::Backfill(req) => backfill::run(deps, &req, deadline, backfill::PAGE_SIZE)
            .await
            .map(Output::Backfill),
    }
}

async fn direct(deps: &Deps, objects: &[ObjectRef]) -> Result<Report, HandlerError> {
    let (results, report) = register(deps, objects).await;
    if let Some(first) = results.iter().find_map(|r| r.as_ref().err()) {
        let failed = results.iter().filter(|r| r.is_err()).count();
        return Err(HandlerError {
            error_type: first.error_type().into(),
            message: format!(
                "{failed} of {} objects not registered; first: {first}",
                results.len()
            ),
        });
    }
    Ok(report)
}

async fn sqs(deps: &Deps, items: Vec<event::SqsItem>) -> SqsBatchResponse {
    // Flatten every readable message's objects into one registration batch.
    let mut objects = Vec::new();
    let mut owner = Vec::new();
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        match &item.objects {
            Ok(objs) => {
                for o in objs {
                    objects.push(o.clone());
                    owner.push(i);
                }
            }
            Err(e) => {
                tracing::error!(message_id = %item.message_id, error = %e, "malformed SQS message");
                metrics::emit(metrics::REGISTRATION_ERRORS, 1.0, Unit::Count, &[]);
                failed.insert(i);
            }
        }
    }
    let (results, _) = register(deps, &objects).await;
    for (r, i) in results.iter().zip(owner) {
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

/// One data file on its way into the catalog.
struct Pending {
    index: usize,
    bucket: String,
    obj: DmsObject,
    order: String,
    columns: Vec<Column>,
    csv_header: bool,
}

/// Registers `objects`; one result per object (in order) and the counts.
pub async fn register(
    deps: &Deps,
    objects: &[ObjectRef],
) -> (Vec<Result<(), RecordError>>, Report) {
    let mut known = deps.known.lock().await;
    let mut results: Vec<Result<(), RecordError>> = objects.iter().map(|_| Ok(())).collect();
    let mut report = Report::default();
    let mut groups: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    let mut reads = Vec::new();

    for (index, o) in objects.iter().enumerate() {
        let file_id = format!("{}/{}", o.bucket, o.key);
        if known.files.contains(&file_id) {
            report.already_known += 1;
            continue;
        }
        let obj = match layout::classify(&o.key, &deps.config.layout) {
            Classification::Data(obj) => obj,
            Classification::Ignored { reason } => {
                tracing::info!(bucket = %o.bucket, key = %o.key, reason = %reason, "skipping: not DMS table data");
                report.skipped += 1;
                continue;
            }
        };
        report.files += 1;
        let table = match catalog::table_name(&obj.schema, &obj.table) {
            Ok(t) => t,
            Err(source) => {
                results[index] = Err(RecordError::Catalog {
                    bucket: o.bucket.clone(),
                    key: o.key.clone(),
                    source: Box::new(source),
                });
                continue;
            }
        };
        let manifest = match obj.format {
            FileFormat::Csv => match csv_manifest(deps, &mut known).await {
                Ok(m) => m,
                Err(source) => {
                    results[index] = Err(RecordError::Columns {
                        bucket: o.bucket.clone(),
                        key: o.key.clone(),
                        source: Box::new(source),
                    });
                    continue;
                }
            },
            FileFormat::Parquet => None,
        };
        reads.push((index, table, obj, o.bucket.clone(), manifest));
    }

    // Read the files' schemas concurrently (footer / header GETs dominate the handler's time).
    let limit = Arc::new(Semaphore::new(SCHEMA_READS_IN_FLIGHT));
    let mut handles = Vec::with_capacity(reads.len());
    for (index, table, obj, bucket, manifest) in reads {
        let (s3, dms, limit) = (deps.s3.clone(), deps.config.columns.clone(), limit.clone());
        let handle = tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let read = columns::file_columns(&s3, &bucket, &obj, &dms, manifest.as_ref()).await;
            (table, obj, bucket, read)
        });
        handles.push((index, handle));
    }
    for (index, handle) in handles {
        let (table, obj, bucket, read) = match handle.await {
            Ok(done) => done,
            Err(e) => {
                let o = &objects[index];
                results[index] = Err(RecordError::Columns {
                    bucket: o.bucket.clone(),
                    key: o.key.clone(),
                    source: Box::new(ColumnsError::Csv {
                        table: String::new(),
                        message: format!("schema read did not finish: {e}"),
                    }),
                });
                continue;
            }
        };
        match read {
            Ok(fc) => groups.entry(table).or_default().push(Pending {
                index,
                bucket,
                order: catalog::order_key(&obj),
                obj,
                columns: fc.columns,
                csv_header: fc.header,
            }),
            Err(source) => {
                results[index] = Err(RecordError::Columns {
                    bucket,
                    key: obj.key.clone(),
                    source: Box::new(source),
                })
            }
        }
    }

    if !groups.is_empty() && !known.database_ready {
        match glue::ensure_database(&deps.glue, &deps.config.raw_database).await {
            Ok(created) => {
                if created {
                    tracing::info!(database = %deps.config.raw_database, "created raw database");
                }
                known.database_ready = true;
            }
            Err(e) => {
                let msg = e.to_string();
                for pending in groups.values().flatten() {
                    results[pending.index] = Err(RecordError::Glue {
                        bucket: pending.bucket.clone(),
                        key: pending.obj.key.clone(),
                        source: Box::new(GlueError::Call {
                            operation: "GetDatabase/CreateDatabase",
                            target: deps.config.raw_database.clone(),
                            code: None,
                            message: msg.clone(),
                        }),
                    });
                }
                groups.clear();
            }
        }
    }

    for (table, mut files) in groups {
        files.sort_by(|a, b| a.order.cmp(&b.order).then(a.obj.key.cmp(&b.obj.key)));
        register_table(deps, &mut known, &table, files, &mut results, &mut report).await;
    }

    for (r, o) in results.iter().zip(objects) {
        match r {
            Ok(()) => {
                if known.files.len() >= MAX_KNOWN_FILES {
                    known.files.clear();
                }
                known.files.insert(format!("{}/{}", o.bucket, o.key));
            }
            Err(e) => {
                tracing::error!(bucket = %o.bucket, key = %o.key, error_type = e.error_type(), error = %e, "not registered");
                report.failures.push(Failure {
                    key: o.key.clone(),
                    error_type: e.error_type().into(),
                    message: e.to_string(),
                });
            }
        }
    }
    if !report.failures.is_empty() {
        metrics::emit(
            metrics::REGISTRATION_ERRORS,
            report.failures.len() as f64,
            Unit::Count,
            &[],
        );
    }
    (results, report)
}

async fn csv_manifest(deps: &Deps, known: &mut Known) -> Result<Option<CsvManifest>, ColumnsError> {
    let Some(uri) = &deps.settings.csv_columns_uri else {
        return Ok(None);
    };
    if known.csv_manifest.is_none() {
        known.csv_manifest = Some(columns::load_manifest(&deps.s3, uri).await?);
    }
    Ok(known.csv_manifest.clone())
}

fn fail(results: &mut [Result<(), RecordError>], p: &Pending, source: CatalogError) {
    results[p.index] = Err(RecordError::Catalog {
        bucket: p.bucket.clone(),
        key: p.obj.key.clone(),
        source: Box::new(source),
    });
}

fn fail_glue(results: &mut [Result<(), RecordError>], p: &Pending, e: &GlueError) {
    results[p.index] = Err(RecordError::Glue {
        bucket: p.bucket.clone(),
        key: p.obj.key.clone(),
        source: Box::new(clone_glue_error(e)),
    });
}

fn clone_glue_error(e: &GlueError) -> GlueError {
    match e {
        GlueError::Call {
            operation,
            target,
            code,
            message,
        } => GlueError::Call {
            operation,
            target: target.clone(),
            code: code.clone(),
            message: message.clone(),
        },
        other => GlueError::Call {
            operation: "Glue",
            target: String::new(),
            code: None,
            message: other.to_string(),
        },
    }
}

fn alert_schema_conflict(c: &SchemaConflict) {
    tracing::error!(
        alert = "SchemaChangeRejected",
        table = %c.table,
        column = %c.column,
        old_type = %c.old_type,
        new_type = %c.new_type,
        key = %c.key,
        "incompatible schema change rejected: {c}"
    );
    metrics::emit(
        metrics::SCHEMA_CHANGE_REJECTED,
        1.0,
        Unit::Count,
        &[("Table", &c.table)],
    );
}

/// Evolves `def` with every pending file in order; files that cannot join the table fail.
/// Returns whether the columns changed and the files accepted.
fn plan_table(
    def: &mut TableDef,
    files: Vec<Pending>,
    results: &mut [Result<(), RecordError>],
) -> (Plan, Vec<Pending>) {
    let mut plan = Plan::default();
    let mut accepted = Vec::with_capacity(files.len());
    for p in files {
        if let Err(e) = def.check_owner(&p.obj) {
            fail(results, &p, e);
            continue;
        }
        match catalog::evolve(def, &p.obj.key, &p.order, &p.columns) {
            Ok(evolution) => {
                match &evolution {
                    Evolution::Append(cols) => {
                        tracing::info!(table = %def.name, key = %p.obj.key, added = %dmslake::logging::json(&cols.iter().map(|c| &c.name).collect::<Vec<_>>()), "schema evolution: appending columns");
                        plan.columns_changed = true;
                    }
                    Evolution::Earlier => plan.order_changed = true,
                    Evolution::Unchanged => {}
                }
                def.apply(&evolution, &p.order);
                accepted.push(p);
            }
            Err(conflict) => {
                alert_schema_conflict(&conflict);
                fail(results, &p, CatalogError::Schema(conflict));
            }
        }
    }
    (plan, accepted)
}

/// What planning a table's files changed.
#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    columns_changed: bool,
    order_changed: bool,
}

impl Plan {
    fn any(self) -> bool {
        self.columns_changed || self.order_changed
    }
}

async fn register_table(
    deps: &Deps,
    known: &mut Known,
    table: &str,
    files: Vec<Pending>,
    results: &mut [Result<(), RecordError>],
    report: &mut Report,
) {
    let db = &deps.config.raw_database;
    let current = match known.tables.get(table) {
        Some(def) => Some(def.clone()),
        None => match glue::get_table(&deps.glue, db, table).await {
            Ok(def) => def,
            Err(e) => {
                files.iter().for_each(|p| fail_glue(results, p, &e));
                return;
            }
        },
    };
    let (def, accepted) = match current {
        None => {
            let Some(first) = files.first() else { return };
            let mut def = match TableDef::for_object(
                &first.bucket,
                &first.obj,
                &deps.config.layout,
                first.columns.clone(),
                first.csv_header,
            ) {
                Ok(d) => d,
                Err(e) => {
                    fail(results, first, e);
                    return;
                }
            };
            let (_, accepted) = plan_table(&mut def, files, results);
            if accepted.is_empty() {
                return;
            }
            match glue::create_table(&deps.glue, db, &def).await {
                Ok(true) => {
                    tracing::info!(table = %def.name, columns = def.columns.len(), format = ?def.format, "created raw table");
                    report.tables_created += 1;
                    (def, accepted)
                }
                Ok(false) => {
                    // Created concurrently elsewhere: plan again against what Glue holds.
                    tracing::info!(table = %def.name, "table appeared concurrently; re-planning");
                    let existing = match glue::get_table(&deps.glue, db, table).await {
                        Ok(Some(existing)) => existing,
                        Ok(None) => {
                            let e = GlueError::Call {
                                operation: "CreateTable",
                                target: format!("{db}.{table}"),
                                code: Some("AlreadyExistsException".into()),
                                message: "the table exists but cannot be read back".into(),
                            };
                            accepted.iter().for_each(|p| fail_glue(results, p, &e));
                            return;
                        }
                        Err(e) => {
                            accepted.iter().for_each(|p| fail_glue(results, p, &e));
                            return;
                        }
                    };
                    match evolve_existing(deps, existing, accepted, results, report).await {
                        Some(x) => x,
                        None => return,
                    }
                }
                Err(e) => {
                    accepted.iter().for_each(|p| fail_glue(results, p, &e));
                    return;
                }
            }
        }
        Some(existing) => match evolve_existing(deps, existing, files, results, report).await {
            Some(x) => x,
            None => {
                known.tables.remove(table);
                return;
            }
        },
    };
    known.tables.insert(table.to_string(), def.clone());
    register_partitions(deps, known, &def, accepted, results, report).await;
}

/// Plans `files` against an existing table and applies an evolution (re-reading the table
/// first, so a concurrent change is not overwritten). `None` when nothing is left to do.
async fn evolve_existing(
    deps: &Deps,
    existing: TableDef,
    files: Vec<Pending>,
    results: &mut [Result<(), RecordError>],
    report: &mut Report,
) -> Option<(TableDef, Vec<Pending>)> {
    let db = &deps.config.raw_database;
    let mut def = existing;
    let (plan, accepted) = plan_table(&mut def, files, results);
    if accepted.is_empty() {
        return None;
    }
    if !plan.any() {
        return Some((def, accepted));
    }
    // Re-read and re-plan against the table Glue holds now.
    let fresh = match glue::get_table(&deps.glue, db, &def.name).await {
        Ok(Some(t)) => t,
        Ok(None) => def.clone(),
        Err(e) => {
            accepted.iter().for_each(|p| fail_glue(results, p, &e));
            return None;
        }
    };
    let mut def = fresh;
    let (plan, accepted) = plan_table(&mut def, accepted, results);
    if accepted.is_empty() {
        return None;
    }
    if plan.any() {
        if let Err(e) = glue::update_table(&deps.glue, db, &def).await {
            accepted.iter().for_each(|p| fail_glue(results, p, &e));
            return None;
        }
        tracing::info!(table = %def.name, columns = def.columns.len(), schema_order = %def.schema_order, "updated raw table");
        report.tables_updated += 1;
        if plan.columns_changed && def.format == FileFormat::Csv && !def.partition_keys.is_empty() {
            // CSV reads by position: partitions keep their own column list, so they must
            // follow the table or Athena fails with HIVE_PARTITION_SCHEMA_MISMATCH.
            if let Err(e) = update_partition_columns(deps, &def, report).await {
                accepted.iter().for_each(|p| fail_glue(results, p, &e));
                return None;
            }
        }
    }
    Some((def, accepted))
}

async fn update_partition_columns(
    deps: &Deps,
    def: &TableDef,
    report: &mut Report,
) -> Result<(), GlueError> {
    let db = &deps.config.raw_database;
    let stale: Vec<PartitionDef> = glue::get_partitions(&deps.glue, db, &def.name)
        .await?
        .into_iter()
        .filter(|p| p.columns != def.columns)
        .map(|p| p.partition)
        .collect();
    for batch in catalog::batches(&stale) {
        let outcome = glue::batch_update_partitions(&deps.glue, db, def, batch).await?;
        if let Some((values, message)) = outcome.failed.first() {
            return Err(GlueError::Call {
                operation: "BatchUpdatePartition",
                target: format!("{db}.{} partition {values:?}", def.name),
                code: None,
                message: message.clone(),
            });
        }
        report.partitions_updated += outcome.written;
    }
    Ok(())
}

async fn register_partitions(
    deps: &Deps,
    known: &mut Known,
    def: &TableDef,
    files: Vec<Pending>,
    results: &mut [Result<(), RecordError>],
    report: &mut Report,
) {
    let db = &deps.config.raw_database;
    let mut wanted: BTreeMap<Vec<String>, (PartitionDef, Vec<Pending>)> = BTreeMap::new();
    for p in files {
        match catalog::partition_for(&p.bucket, &p.obj, &deps.config.layout) {
            Ok(Some(part)) => {
                if known
                    .partitions
                    .contains(&(def.name.clone(), part.values.clone()))
                {
                    continue;
                }
                wanted
                    .entry(part.values.clone())
                    .or_insert_with(|| (part, Vec::new()))
                    .1
                    .push(p);
            }
            Ok(None) => {}
            Err(e) => fail(results, &p, e),
        }
    }
    let parts: Vec<PartitionDef> = wanted.values().map(|(p, _)| p.clone()).collect();
    let mut registered = 0usize;
    for batch in catalog::batches(&parts) {
        match glue::batch_create_partitions(&deps.glue, db, def, batch).await {
            Ok(outcome) => {
                registered += outcome.written;
                report.partitions_registered += outcome.written;
                report.partitions_already_registered += outcome.already_existed;
                let failed: HashMap<&Vec<String>, &String> =
                    outcome.failed.iter().map(|(v, m)| (v, m)).collect();
                for part in batch {
                    if let Some(message) = failed.get(&part.values) {
                        for p in wanted
                            .get(&part.values)
                            .map(|(_, f)| f.as_slice())
                            .unwrap_or(&[])
                        {
                            results[p.index] = Err(RecordError::Partition {
                                bucket: p.bucket.clone(),
                                key: p.obj.key.clone(),
                                values: part.values.clone(),
                                message: (*message).clone(),
                            });
                        }
                    } else {
                        tracing::debug!(table = %def.name, partition = %dmslake::logging::json(&part.values), location = %part.location, "partition registered");
                        known
                            .partitions
                            .insert((def.name.clone(), part.values.clone()));
                    }
                }
            }
            Err(e) => {
                for part in batch {
                    for p in wanted
                        .get(&part.values)
                        .map(|(_, f)| f.as_slice())
                        .unwrap_or(&[])
                    {
                        fail_glue(results, p, &e);
                    }
                }
            }
        }
    }
    if registered > 0 {
        tracing::info!(table = %def.name, partitions = registered, "registered partitions");
        metrics::emit(
            metrics::PARTITIONS_REGISTERED,
            registered as f64,
            Unit::Count,
            &[("Table", &def.name)],
        );
    }
}
