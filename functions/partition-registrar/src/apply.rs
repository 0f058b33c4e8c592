//! Apply: carry out a [`TablePlan`] through the Glue adapter ([`dmslake::glue`]).
//!
//! Each function returns what happened as values: counts for the report, and the Glue error
//! (shared by every file it concerns) for the files that cannot be registered.

use std::collections::HashMap;
use std::sync::Arc;

use dmslake::catalog::{self, PartitionDef, TableDef};
use dmslake::glue::{self, GlueError, Updated};
use dmslake::metrics::{self, Unit};
use dmslake::s3::S3Error;

use crate::plan::{PartitionPlan, TableWrite};
use crate::report::Report;

/// What writing a table did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Created, updated, or nothing to write.
    Done,
    /// Another writer got there first: `CreateTable` found the table already there, or
    /// `UpdateTable` found it changed since it was read (or gone). Read it again, plan again.
    Retry(&'static str),
}

/// Creates or updates the table as planned (and, for a CSV table whose columns changed, its
/// partitions' column lists).
pub async fn write_table(
    glue_client: &aws_sdk_glue::Client,
    database: &str,
    def: &TableDef,
    write: TableWrite,
    version_id: Option<&str>,
    report: &mut Report,
) -> Result<Written, GlueError> {
    match write {
        TableWrite::Nothing => Ok(Written::Done),
        TableWrite::Create => {
            if !glue::create_table(glue_client, database, def).await? {
                return Ok(Written::Retry("created concurrently"));
            }
            tracing::info!(table = %def.name, columns = def.columns.len(), format = ?def.format, "created raw table");
            report.tables_created += 1;
            Ok(Written::Done)
        }
        TableWrite::Update { partitions_follow } => {
            match glue::update_table(glue_client, database, def, version_id).await? {
                Updated::Done => {}
                Updated::Conflict => return Ok(Written::Retry("updated concurrently")),
                Updated::Missing => return Ok(Written::Retry("dropped concurrently")),
            }
            tracing::info!(table = %def.name, columns = def.columns.len(), schema_order = %def.schema_order, "updated raw table");
            report.tables_updated += 1;
            if partitions_follow {
                report.partitions_updated +=
                    update_partition_columns(glue_client, database, def).await?;
            }
            Ok(Written::Done)
        }
    }
}

/// Gives every partition whose column list differs from the table's the table's storage;
/// returns how many were updated.
async fn update_partition_columns(
    glue_client: &aws_sdk_glue::Client,
    database: &str,
    def: &TableDef,
) -> Result<usize, GlueError> {
    let stale: Vec<PartitionDef> = glue::get_partitions(glue_client, database, &def.name)
        .await?
        .into_iter()
        // Only partitions behind the table: a writer never shortens a partition's list.
        .filter(|p| p.columns.len() < def.columns.len())
        .map(|p| p.partition)
        .collect();
    let mut updated = 0;
    for batch in catalog::batches(&stale) {
        let outcome = glue::batch_update_partitions(glue_client, database, def, batch).await?;
        if let Some((values, message)) = outcome.failed.into_iter().next() {
            return Err(GlueError::Entry {
                operation: "BatchUpdatePartition",
                target: format!("{database}.{}", def.name),
                values,
                message,
            });
        }
        updated += outcome.written;
    }
    Ok(updated)
}

/// Writes the planned manifests (one small object per file; writing one again is harmless).
/// Returns, per file whose manifest could not be written, the error.
pub async fn write_manifests(
    s3: &aws_sdk_s3::Client,
    entries: &[(usize, catalog::ManifestEntry)],
) -> Vec<(usize, Arc<S3Error>)> {
    let mut failed = Vec::new();
    for (index, entry) in entries {
        let written = match dmslake::s3::parse_url(&entry.url) {
            Ok((bucket, key)) => {
                dmslake::s3::put_object_bytes(s3, &bucket, &key, entry.body.clone().into_bytes())
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            failed.push((*index, Arc::new(e)));
        }
    }
    failed
}

/// Creates the planned partitions (`BatchCreatePartition`, at most 100 per call). Returns
/// the partitions now known to exist and, per failed file, the error.
pub async fn create_partitions(
    glue_client: &aws_sdk_glue::Client,
    database: &str,
    def: &TableDef,
    plans: &[PartitionPlan],
    report: &mut Report,
) -> (Vec<Vec<String>>, Vec<(usize, Arc<GlueError>)>) {
    let target = format!("{database}.{}", def.name);
    let mut registered = Vec::new();
    let mut failed = Vec::new();
    let mut written = 0usize;
    for batch in catalog::batches(plans) {
        let parts: Vec<PartitionDef> = batch.iter().map(|p| p.partition.clone()).collect();
        match glue::batch_create_partitions(glue_client, database, def, &parts).await {
            Ok(outcome) => {
                written += outcome.written;
                report.partitions_registered += outcome.written;
                report.partitions_already_registered += outcome.already_existed;
                let refused: HashMap<Vec<String>, String> = outcome.failed.into_iter().collect();
                for plan in batch {
                    let values = &plan.partition.values;
                    match refused.get(values) {
                        Some(message) => {
                            let e = Arc::new(GlueError::Entry {
                                operation: "BatchCreatePartition",
                                target: target.clone(),
                                values: values.clone(),
                                message: message.clone(),
                            });
                            failed.extend(plan.files.iter().map(|i| (*i, e.clone())));
                        }
                        None => {
                            tracing::debug!(table = %def.name, partition = ?values, location = %plan.partition.location, "partition registered");
                            registered.push(values.clone());
                        }
                    }
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for plan in batch {
                    failed.extend(plan.files.iter().map(|i| (*i, e.clone())));
                }
            }
        }
    }
    if written > 0 {
        tracing::info!(table = %def.name, partitions = written, "registered partitions");
        metrics::emit(
            metrics::PARTITIONS_REGISTERED,
            written as f64,
            Unit::Count,
            &[("Table", &def.name)],
        );
    }
    (registered, failed)
}
