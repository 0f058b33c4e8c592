//! Registration of a list of objects: classify the keys, read each file's columns, then per
//! Glue table read the table once, [`plan`](crate::plan) (pure), [`apply`](crate::apply), and
//! return one outcome per object ([`Registration`]).
//!
//! Economy: objects are grouped per Glue table; a table is read once per invocation (again
//! only when another writer changed, created or dropped it meanwhile), created at most once,
//! and its new partitions go out in `BatchCreatePartition` calls of at most 100. The warm
//! cache ([`crate::deps::Known`]) remembers registered partitions and processed keys, so a
//! warm function makes no Glue write for a partition it has already registered and no call
//! at all for a file it has already seen. The one read per invocation is what notices a
//! table dropped in Glue.
//!
//! Concurrency: a table update carries the Glue `VersionId` the plan was made from; when
//! another writer got there first the table is read again, planned again and written again
//! (bounded, with jittered waits), so no writer overwrites another's columns and a record is
//! acknowledged only once its columns are in the table.

use std::collections::BTreeMap;
use std::sync::Arc;

use dmslake::catalog::{self, CatalogError, SchemaConflict, TableDef};
use dmslake::glue::{self, GlueError};
use dmslake::layout::{self, Classification, DmsObject, FileFormat};
use dmslake::metrics::{self, Unit};
use dmslake::state::{jitter_unit, Backoff};
use tokio::sync::Semaphore;

use crate::apply::{self, Written};
use crate::columns::{self, ColumnsError, CsvManifest};
use crate::deps::{Deps, Known};
use crate::event::ObjectRef;
use crate::plan::{self, FileToAdd, TablePlan};
use crate::report::{Failure, RecordError, Registration, Report};

/// Schema reads (S3 GETs) in flight at once within one invocation.
const SCHEMA_READS_IN_FLIGHT: usize = 16;

/// A data file whose columns are still to be read.
struct ToRead {
    index: usize,
    table: String,
    bucket: String,
    obj: DmsObject,
    manifest: Option<CsvManifest>,
}

/// Per-object failures, gathered from every stage.
type Refusals = Vec<(usize, RecordError)>;

/// Registers `objects`: one outcome per object (in order) and the counts.
pub async fn register(deps: &Deps, objects: &[ObjectRef]) -> Registration {
    let mut known = deps.known.lock().await;
    let mut report = Report::default();
    let mut refusals: Refusals = Vec::new();

    let reads = classify(deps, &mut known, objects, &mut report, &mut refusals).await;
    let groups = read_columns(deps, objects, reads, &mut report, &mut refusals).await;
    if !groups.is_empty() && !known.database_ready {
        match glue::ensure_database(&deps.glue, &deps.config.raw_database).await {
            Ok(created) => {
                if created {
                    tracing::info!(database = %deps.config.raw_database, "created raw database");
                }
                known.database_ready = true;
            }
            Err(e) => {
                let e = Arc::new(e);
                for f in groups.into_values().flatten() {
                    refusals.push((f.index, glue_failure(&f, &e)));
                }
                return finish(&mut known, objects, refusals, report);
            }
        }
    }
    for (table, files) in groups {
        register_table(deps, &mut known, &table, files, &mut report, &mut refusals).await;
    }
    finish(&mut known, objects, refusals, report)
}

/// Keys to DMS objects (pure but for the cache and the manifest read): already seen keys
/// and keys that are not DMS data are counted and dropped.
async fn classify(
    deps: &Deps,
    known: &mut Known,
    objects: &[ObjectRef],
    report: &mut Report,
    refusals: &mut Refusals,
) -> Vec<ToRead> {
    let mut reads = Vec::new();
    for (index, o) in objects.iter().enumerate() {
        if known.knows_file(&o.bucket, &o.key) {
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
                refusals.push((
                    index,
                    RecordError::Catalog {
                        bucket: o.bucket.clone(),
                        key: o.key.clone(),
                        source: Box::new(source),
                    },
                ));
                continue;
            }
        };
        let manifest = match obj.format {
            FileFormat::Csv => match csv_manifest(deps, known).await {
                Ok(m) => m,
                Err(source) => {
                    refusals.push((
                        index,
                        RecordError::Columns {
                            bucket: o.bucket.clone(),
                            key: o.key.clone(),
                            source: Box::new(source),
                        },
                    ));
                    continue;
                }
            },
            FileFormat::Parquet => None,
        };
        reads.push(ToRead {
            index,
            table,
            bucket: o.bucket.clone(),
            obj,
            manifest,
        });
    }
    reads
}

/// The column manifest, loaded once per execution environment (none when not configured).
async fn csv_manifest(deps: &Deps, known: &mut Known) -> Result<Option<CsvManifest>, ColumnsError> {
    let Some(uri) = &deps.settings.csv_columns_uri else {
        return Ok(None);
    };
    if known.csv_manifest.is_none() {
        known.csv_manifest = Some(columns::load_manifest(&deps.s3, uri).await?);
    }
    Ok(known.csv_manifest.clone())
}

/// Reads the files' columns concurrently (footer and header GETs dominate the handler's
/// time) and groups the files per Glue table.
async fn read_columns(
    deps: &Deps,
    objects: &[ObjectRef],
    reads: Vec<ToRead>,
    report: &mut Report,
    refusals: &mut Refusals,
) -> BTreeMap<String, Vec<FileToAdd>> {
    let limit = Arc::new(Semaphore::new(SCHEMA_READS_IN_FLIGHT));
    let mut handles = Vec::with_capacity(reads.len());
    for read in reads {
        let (s3, dms, limit) = (deps.s3.clone(), deps.config.columns.clone(), limit.clone());
        let index = read.index;
        let handle = tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let columns =
                columns::file_columns(&s3, &read.bucket, &read.obj, &dms, read.manifest.as_ref())
                    .await;
            (read, columns)
        });
        handles.push((index, handle));
    }
    let mut groups: BTreeMap<String, Vec<FileToAdd>> = BTreeMap::new();
    for (index, handle) in handles {
        let o = &objects[index];
        match handle.await {
            Ok((read, Ok(found))) => groups.entry(read.table).or_default().push(FileToAdd {
                index,
                bucket: read.bucket,
                obj: read.obj,
                columns: found.columns,
                csv_header: found.header,
            }),
            Ok((read, Err(source))) if source.is_missing_object() => {
                // Deleted before it was read (a truncate, a reload, a cleanup): there is
                // nothing to register, and retrying cannot bring it back.
                tracing::warn!(bucket = %read.bucket, key = %read.obj.key, "object no longer exists (NoSuchKey): acknowledged, nothing registered");
                report.files = report.files.saturating_sub(1);
                report.missing += 1;
            }
            Ok((read, Err(source))) => refusals.push((
                index,
                RecordError::Columns {
                    bucket: read.bucket,
                    key: read.obj.key,
                    source: Box::new(source),
                },
            )),
            Err(source) => refusals.push((
                index,
                RecordError::SchemaRead {
                    bucket: o.bucket.clone(),
                    key: o.key.clone(),
                    source,
                },
            )),
        }
    }
    groups
}

fn glue_failure(f: &FileToAdd, e: &Arc<GlueError>) -> RecordError {
    RecordError::Glue {
        bucket: f.bucket.clone(),
        key: f.obj.key.clone(),
        source: e.clone(),
    }
}

/// One table's write when concurrent writers keep changing it first: 8 attempts, waits with
/// full jitter bounded by 200 ms doubling to 2 s, so writers that collided do not collide
/// again in step.
const TABLE_BACKOFF: Backoff = Backoff {
    attempts: 8,
    base: std::time::Duration::from_millis(200),
    cap: std::time::Duration::from_secs(2),
};

/// Reads, plans and applies one table's files, again from a fresh read when another writer
/// changed the table first (Glue `VersionId`), the table appeared meanwhile, or it vanished.
///
/// The table is read once per invocation even when the warm cache knows it: a table dropped
/// in Glue is then noticed (its cache forgotten, the table and partitions created again), so
/// a file is never counted as registered into a table that no longer exists.
async fn register_table(
    deps: &Deps,
    known: &mut Known,
    table: &str,
    files: Vec<FileToAdd>,
    report: &mut Report,
    refusals: &mut Refusals,
) {
    let db = &deps.config.raw_database;
    let fail_all = |files: &[FileToAdd], e: GlueError, refusals: &mut Refusals| {
        let e = Arc::new(e);
        refusals.extend(files.iter().map(|f| (f.index, glue_failure(f, &e))));
    };
    let manifests = deps.settings.manifest_folder(db, table);
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > TABLE_BACKOFF.attempts {
            let e = GlueError::Contended {
                target: format!("{db}.{table}"),
                attempts: TABLE_BACKOFF.attempts,
            };
            return fail_all(&files, e, refusals);
        }
        if attempt > 1 {
            tokio::time::sleep(TABLE_BACKOFF.delay(attempt - 1, jitter_unit())).await;
        }
        let read = match glue::get_table_versioned(&deps.glue, db, table).await {
            Ok(read) => read,
            Err(e) => {
                known.forget_table(table);
                return fail_all(&files, e, refusals);
            }
        };
        let created = read.as_ref().and_then(|r| r.created);
        // A table this function created has no known creation time until it is read back.
        let cached = known.created.get(table).copied().flatten();
        let recreated = matches!((cached, created), (Some(a), Some(b)) if a != b);
        if known.tables.contains_key(table) && (read.is_none() || recreated) {
            // Gone, or dropped and created again by another writer: what the cache says
            // about its partitions is no longer true.
            tracing::warn!(table = %table, exists = read.is_some(), "the table was dropped in Glue since it was cached: forgetting what was cached");
            known.forget_table(table);
        }
        let (current, version) = match read {
            Some(r) => (Some(r.def), r.version_id),
            None => (None, None),
        };
        let plan = plan_for(
            deps,
            known,
            table,
            current.as_ref(),
            manifests.as_deref(),
            &files,
        );
        let written = match &plan.def {
            Some(def) => {
                apply::write_table(&deps.glue, db, def, plan.write, version.as_deref(), report)
                    .await
            }
            None => Ok(Written::Done),
        };
        match written {
            Ok(Written::Done) => {}
            Ok(Written::Retry(why)) => {
                tracing::info!(table = %table, attempt, reason = why, "table changed concurrently; reading it again");
                known.forget_table(table);
                continue;
            }
            Err(e) => {
                known.forget_table(table);
                refuse(&plan, &files, refusals);
                let accepted: Vec<FileToAdd> = files
                    .iter()
                    .filter(|f| plan.accepted.contains(&f.index))
                    .cloned()
                    .collect();
                return fail_all(&accepted, e, refusals);
            }
        }
        let Some(def) = plan.def.clone().filter(|_| !plan.accepted.is_empty()) else {
            refuse(&plan, &files, refusals);
            known.forget_table(table);
            return;
        };
        let manifest_failures = apply::write_manifests(&deps.s3, &plan.manifests).await;
        let (registered, failed) =
            apply::create_partitions(&deps.glue, db, &def, &plan.partitions, report).await;
        if failed.iter().any(|(_, e)| glue::is_missing_entity(e)) {
            tracing::warn!(table = %table, "the table was dropped while its partitions were registered; creating it again");
            known.forget_table(table);
            continue;
        }
        refuse(&plan, &files, refusals);
        for (index, e) in manifest_failures {
            if let Some(f) = files.iter().find(|f| f.index == index) {
                refusals.push((
                    index,
                    RecordError::Manifest {
                        bucket: f.bucket.clone(),
                        key: f.obj.key.clone(),
                        source: e,
                    },
                ));
            }
        }
        for values in registered {
            known.partitions.insert((def.name.clone(), values));
        }
        for (index, e) in failed {
            if let Some(f) = files.iter().find(|f| f.index == index) {
                refusals.push((index, glue_failure(f, &e)));
            }
        }
        known.tables.insert(table.to_string(), def);
        known.created.insert(table.to_string(), created.or(cached));
        return;
    }
}

fn plan_for(
    deps: &Deps,
    known: &Known,
    table: &str,
    current: Option<&TableDef>,
    manifests: Option<&str>,
    files: &[FileToAdd],
) -> TablePlan {
    let registered = |values: &[String]| known.knows_partition(table, values);
    let plan = plan::plan_table(
        current,
        files.to_vec(),
        &deps.config.layout,
        manifests,
        &registered,
    );
    if let Some(def) = &plan.def {
        if !plan.added.is_empty() {
            tracing::info!(table = %def.name, added = ?plan.added.iter().map(|c| &c.name).collect::<Vec<_>>(), "schema evolution: appending columns");
        }
    }
    plan
}

/// Turns the plan's refused files into record errors (alerting on schema conflicts).
fn refuse(plan: &TablePlan, files: &[FileToAdd], refusals: &mut Refusals) {
    for (index, source) in &plan.refused {
        if let CatalogError::Schema(conflict) = source {
            alert_schema_conflict(conflict);
        }
        if let Some(f) = files.iter().find(|f| f.index == *index) {
            refusals.push((
                *index,
                RecordError::Catalog {
                    bucket: f.bucket.clone(),
                    key: f.obj.key.clone(),
                    source: Box::new(source.clone()),
                },
            ));
        }
    }
}

fn alert_schema_conflict(c: &SchemaConflict) {
    tracing::error!(
        alert = metrics::SCHEMA_CHANGE_REJECTED,
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

/// One outcome per object; successful keys are remembered, failures logged and counted.
fn finish(
    known: &mut Known,
    objects: &[ObjectRef],
    refusals: Refusals,
    mut report: Report,
) -> Registration {
    let mut outcomes: Vec<Result<(), RecordError>> = objects.iter().map(|_| Ok(())).collect();
    for (index, e) in refusals {
        // The first reason a record failed is the one reported.
        if let Some(slot @ Ok(())) = outcomes.get_mut(index) {
            *slot = Err(e);
        }
    }
    for (r, o) in outcomes.iter().zip(objects) {
        match r {
            Ok(()) => known.remember_file(&o.bucket, &o.key),
            Err(e) => {
                let message = dmslake::error::chain(e);
                tracing::error!(bucket = %o.bucket, key = %o.key, error_type = e.error_type(), retryable = e.retryable(), error = %message, "not registered");
                report.failures.push(Failure {
                    key: o.key.clone(),
                    error_type: e.error_type().into(),
                    message,
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
    Registration { outcomes, report }
}
