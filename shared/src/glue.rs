//! Thin Glue adapter: databases, tables and partitions; expected outcomes are values.
//!
//! Converts the pure [`crate::catalog`] definitions into SDK inputs and back. Limits and
//! error codes from the Glue API reference (aws-glue-api-catalog-partitions.md,
//! aws-glue-api-catalog-tables.md).

use std::collections::HashMap;

use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types as gt;
use aws_sdk_glue::Client;

use crate::catalog::{
    self, Column, GlueType, PartitionDef, StorageDef, TableDef, MAX_PARTITION_BATCH,
    PARAM_SCHEMA_ORDER, PARAM_SKIP_HEADER, PARAM_SOURCE_SCHEMA, PARAM_SOURCE_TABLE,
};
use crate::layout::FileFormat;

/// A Glue call that failed (after the SDK's own retries).
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    #[error("Glue {operation} on {target} failed")]
    Call {
        operation: &'static str,
        target: String,
        /// Glue's error code (`ThrottlingException`, `AccessDeniedException`, ...), if any.
        code: Option<String>,
        #[source]
        source: Box<aws_sdk_glue::Error>,
    },
    /// A batch entry Glue refused (the call itself succeeded).
    #[error("Glue {operation} on {target} refused partition {values:?}: {message}")]
    Entry {
        operation: &'static str,
        target: String,
        values: Vec<String>,
        message: String,
    },
    #[error("Glue {operation} on {target}: cannot build the request")]
    Build {
        operation: &'static str,
        target: String,
        #[source]
        source: aws_sdk_glue::error::BuildError,
    },
    #[error("Glue table {target} is not a table dmslake can read: {message}")]
    Unreadable { target: String, message: String },
    /// Other writers changed the table first every time (optimistic locking): the records
    /// are retried later.
    #[error("Glue table {target} kept changing under concurrent writers; gave up after {attempts} attempts (the records are retried)")]
    Contended { target: String, attempts: u32 },
    #[error(
        "Glue {operation} on {target}: {count} entries exceed the limit of {MAX_PARTITION_BATCH}"
    )]
    BatchTooLarge {
        operation: &'static str,
        target: String,
        count: usize,
    },
}

fn call_error<E, R>(
    operation: &'static str,
    target: &str,
    err: aws_sdk_glue::error::SdkError<E, R>,
) -> GlueError
where
    aws_sdk_glue::Error: From<aws_sdk_glue::error::SdkError<E, R>>,
{
    let source = aws_sdk_glue::Error::from(err);
    GlueError::Call {
        operation,
        target: target.to_string(),
        code: source.code().map(str::to_string),
        source: Box::new(source),
    }
}

impl GlueError {
    /// Glue's error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

fn build_error(
    operation: &'static str,
    target: &str,
    source: aws_sdk_glue::error::BuildError,
) -> GlueError {
    GlueError::Build {
        operation,
        target: target.to_string(),
        source,
    }
}

/// Creates the database unless it exists; returns whether it was created.
pub async fn ensure_database(client: &Client, name: &str) -> Result<bool, GlueError> {
    match client.get_database().name(name).send().await {
        Ok(_) => return Ok(false),
        Err(err) => {
            let missing = err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception());
            if !missing {
                return Err(call_error("GetDatabase", name, err));
            }
        }
    }
    let input = gt::DatabaseInput::builder()
        .name(name)
        .description("dmslake raw tables: AWS DMS output files as written")
        .build()
        .map_err(|e| build_error("CreateDatabase", name, e))?;
    match client.create_database().database_input(input).send().await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(call_error("CreateDatabase", name, err)),
    }
}

fn glue_columns(
    columns: &[Column],
    target: &str,
    op: &'static str,
) -> Result<Vec<gt::Column>, GlueError> {
    columns
        .iter()
        .map(|c| {
            gt::Column::builder()
                .name(&c.name)
                .r#type(c.ty.to_string())
                .build()
                .map_err(|e| build_error(op, target, e))
        })
        .collect()
}

fn storage_descriptor(
    sd: &StorageDef,
    target: &str,
    op: &'static str,
) -> Result<gt::StorageDescriptor, GlueError> {
    let serde = gt::SerDeInfo::builder()
        .serialization_library(sd.serde.library)
        .set_parameters(Some(sd.serde.parameters.clone().into_iter().collect()))
        .build();
    Ok(gt::StorageDescriptor::builder()
        .set_columns(Some(glue_columns(&sd.columns, target, op)?))
        .location(&sd.location)
        .input_format(sd.input_format)
        .output_format(sd.output_format)
        .serde_info(serde)
        .build())
}

fn table_input(def: &TableDef, op: &'static str) -> Result<gt::TableInput, GlueError> {
    let keys: Vec<Column> = def
        .partition_keys
        .iter()
        .map(|k| Column::new(k.clone(), GlueType::String))
        .collect();
    gt::TableInput::builder()
        .name(&def.name)
        .description(format!(
            "AWS DMS output of {} (dmslake raw table)",
            catalog::source_label(&def.source_schema, &def.source_table)
        ))
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(def.parameters().into_iter().collect()))
        .set_partition_keys(Some(glue_columns(&keys, &def.name, op)?))
        .storage_descriptor(storage_descriptor(
            &def.storage(&def.location),
            &def.name,
            op,
        )?)
        .build()
        .map_err(|e| build_error(op, &def.name, e))
}

/// The columns of a storage descriptor, each type read into a [`GlueType`] (a type dmslake
/// does not write makes the table unreadable rather than guessed).
fn catalog_columns(
    sd: Option<&gt::StorageDescriptor>,
    target: &str,
) -> Result<Vec<Column>, GlueError> {
    let Some(sd) = sd else {
        return Ok(Vec::new());
    };
    sd.columns()
        .iter()
        .map(|c| {
            let text = c.r#type().unwrap_or("string");
            let ty = GlueType::parse(text).map_err(|e| GlueError::Unreadable {
                target: target.to_string(),
                message: format!("column {:?}: {e}", c.name()),
            })?;
            Ok(Column::new(c.name(), ty))
        })
        .collect()
}

/// Reads a table from Glue; `None` when it (or its database) does not exist.
async fn read_table(
    client: &Client,
    database: &str,
    name: &str,
) -> Result<Option<gt::Table>, GlueError> {
    let target = format!("{database}.{name}");
    match client
        .get_table()
        .database_name(database)
        .name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.table().cloned()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_entity_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(call_error("GetTable", &target, err)),
    }
}

/// The column names (lower case, as Glue stores them) of any table, e.g. a curated Iceberg
/// table whose schema Athena keeps in its Glue entry; `None` when there is no such table.
pub async fn column_names(
    client: &Client,
    database: &str,
    name: &str,
) -> Result<Option<Vec<String>>, GlueError> {
    Ok(read_table(client, database, name).await?.map(|t| {
        t.storage_descriptor()
            .map(|sd| {
                sd.columns()
                    .iter()
                    .map(|c| c.name().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default()
    }))
}

/// Every table name in `database`, sorted (all pages of `GetTables`).
pub async fn list_tables(client: &Client, database: &str) -> Result<Vec<String>, GlueError> {
    let mut pages = client
        .get_tables()
        .database_name(database)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| call_error("GetTables", database, err))?;
        names.extend(page.table_list().iter().map(|t| t.name().to_string()));
    }
    names.sort();
    Ok(names)
}

/// Every partition of a table as Glue returns it (all pages of `GetPartitions`; the SDK's
/// paginator stops at an absent or empty `NextToken`).
async fn all_partitions(
    client: &Client,
    database: &str,
    table: &str,
) -> Result<Vec<gt::Partition>, GlueError> {
    let mut pages = client
        .get_partitions()
        .database_name(database)
        .table_name(table)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|err| call_error("GetPartitions", &format!("{database}.{table}"), err))?;
        out.extend(page.partitions.unwrap_or_default());
    }
    Ok(out)
}

/// The values of every partition of a table at or after `from` (lexicographic over the
/// zero-padded values), sorted.
pub async fn partition_values(
    client: &Client,
    database: &str,
    table: &str,
    from: Option<&[String]>,
) -> Result<Vec<Vec<String>>, GlueError> {
    let mut out: Vec<Vec<String>> = all_partitions(client, database, table)
        .await?
        .into_iter()
        .map(|p| p.values.unwrap_or_default())
        .filter(|values| from.is_none_or(|f| values.as_slice() >= f))
        .collect();
    out.sort();
    Ok(out)
}

/// A raw table as read, with the Glue `VersionId` it was read at (the precondition of an
/// [`update_table`] that must not overwrite a concurrent change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedTable {
    pub def: TableDef,
    pub version_id: Option<String>,
    /// Glue `CreateTime` (seconds, nanoseconds): tells a table dropped and created again
    /// from the one read before.
    pub created: Option<(i64, u32)>,
}

/// Reads a raw table and the version it was read at; `None` when it does not exist.
pub async fn get_table_versioned(
    client: &Client,
    database: &str,
    name: &str,
) -> Result<Option<VersionedTable>, GlueError> {
    let target = format!("{database}.{name}");
    match read_table(client, database, name).await? {
        Some(table) => Ok(Some(VersionedTable {
            def: table_def_from_glue(&table, &target)?,
            version_id: table.version_id().map(str::to_string),
            created: table.create_time().map(|t| (t.secs(), t.subsec_nanos())),
        })),
        None => Ok(None),
    }
}

/// Reads a raw table back into its definition; `None` when it does not exist.
pub async fn get_table(
    client: &Client,
    database: &str,
    name: &str,
) -> Result<Option<TableDef>, GlueError> {
    let target = format!("{database}.{name}");
    match read_table(client, database, name).await? {
        Some(table) => table_def_from_glue(&table, &target).map(Some),
        None => Ok(None),
    }
}

fn table_def_from_glue(table: &gt::Table, target: &str) -> Result<TableDef, GlueError> {
    let empty = HashMap::new();
    let params = table.parameters().unwrap_or(&empty);
    let param = |k: &str| params.get(k).cloned().unwrap_or_default();
    let format = params
        .get(catalog::PARAM_FORMAT)
        .and_then(|f| catalog::parse_format(f))
        .ok_or_else(|| GlueError::Unreadable {
            target: target.to_string(),
            message: format!(
                "parameter {} is missing or not csv/parquet (a table not created by dmslake?)",
                catalog::PARAM_FORMAT
            ),
        })?;
    let sd = table.storage_descriptor();
    let columns = catalog_columns(sd, target)?;
    Ok(TableDef {
        name: table.name().to_string(),
        source_schema: param(PARAM_SOURCE_SCHEMA),
        source_table: param(PARAM_SOURCE_TABLE),
        format,
        csv_header: format == FileFormat::Csv
            && params.get(PARAM_SKIP_HEADER).is_some_and(|v| v == "1"),
        columns,
        partition_keys: table
            .partition_keys()
            .iter()
            .map(|k| k.name().to_string())
            .collect(),
        location: sd
            .and_then(|sd| sd.location())
            .unwrap_or_default()
            .to_string(),
        schema_order: param(PARAM_SCHEMA_ORDER),
    })
}

/// Creates a table; `false` when it already exists (someone else created it first).
pub async fn create_table(
    client: &Client,
    database: &str,
    def: &TableDef,
) -> Result<bool, GlueError> {
    let input = table_input(def, "CreateTable")?;
    match client
        .create_table()
        .database_name(database)
        .table_input(input)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(call_error(
            "CreateTable",
            &format!("{database}.{}", def.name),
            err,
        )),
    }
}

/// What a conditional [`update_table`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Updated {
    Done,
    /// The table changed since `version_id` was read (`ConcurrentModificationException`):
    /// read it again, plan again, retry.
    Conflict,
    /// The table no longer exists (`EntityNotFoundException`).
    Missing,
}

/// Replaces a table's definition (columns, parameters); partitions are untouched. With
/// `version_id` (from [`get_table_versioned`]) Glue applies the update only if the table is
/// still at that version (API_UpdateTable `VersionId`; optimistic locking), so two writers
/// never overwrite each other's columns.
pub async fn update_table(
    client: &Client,
    database: &str,
    def: &TableDef,
    version_id: Option<&str>,
) -> Result<Updated, GlueError> {
    let input = table_input(def, "UpdateTable")?;
    match client
        .update_table()
        .database_name(database)
        .table_input(input)
        .set_version_id(version_id.map(str::to_string))
        .send()
        .await
    {
        Ok(_) => Ok(Updated::Done),
        Err(err) => match err.as_service_error() {
            Some(e) if e.is_concurrent_modification_exception() => Ok(Updated::Conflict),
            Some(e) if e.is_entity_not_found_exception() => Ok(Updated::Missing),
            _ => Err(call_error(
                "UpdateTable",
                &format!("{database}.{}", def.name),
                err,
            )),
        },
    }
}

/// Whether a failed call says its table (or database) does not exist.
pub fn is_missing_entity(e: &GlueError) -> bool {
    e.code() == Some("EntityNotFoundException")
}

/// Outcome of one batch call: entries that failed, with Glue's code and message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Newly written entries.
    pub written: usize,
    /// Entries that already existed (counted as success).
    pub already_existed: usize,
    pub failed: Vec<(Vec<String>, String)>,
}

fn partition_input(
    def: &TableDef,
    p: &PartitionDef,
    op: &'static str,
) -> Result<gt::PartitionInput, GlueError> {
    Ok(gt::PartitionInput::builder()
        .set_values(Some(p.values.clone()))
        .storage_descriptor(storage_descriptor(
            &def.partition_storage(p),
            &def.name,
            op,
        )?)
        .build())
}

/// A batch entry's error: its code, and `code: message` for reports.
fn describe(detail: Option<&gt::ErrorDetail>) -> (&str, String) {
    let code = detail.and_then(|d| d.error_code()).unwrap_or("");
    let message = detail.and_then(|d| d.error_message()).unwrap_or("");
    (code, format!("{code}: {message}"))
}

/// The `database.table` a batch call acts on, once its size is checked (at most
/// [`MAX_PARTITION_BATCH`] entries).
fn batch_target(
    operation: &'static str,
    database: &str,
    def: &TableDef,
    count: usize,
) -> Result<String, GlueError> {
    let target = format!("{database}.{}", def.name);
    if count > MAX_PARTITION_BATCH {
        return Err(GlueError::BatchTooLarge {
            operation,
            target,
            count,
        });
    }
    Ok(target)
}

/// Tallies a batch of `total` entries from the per-entry errors Glue returned (partition
/// values, error detail); with `existing_ok`, an `AlreadyExistsException` entry is success.
fn tally<'a>(
    total: usize,
    errors: impl IntoIterator<Item = (&'a [String], Option<&'a gt::ErrorDetail>)>,
    existing_ok: bool,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    for (values, detail) in errors {
        let (code, text) = describe(detail);
        if existing_ok && code == "AlreadyExistsException" {
            outcome.already_existed += 1;
        } else {
            outcome.failed.push((values.to_vec(), text));
        }
    }
    outcome.written = total.saturating_sub(outcome.already_existed + outcome.failed.len());
    outcome
}

/// One `BatchCreatePartition` call (≤ 100 entries). An `AlreadyExistsException` entry in the
/// response's `Errors` is success.
pub async fn batch_create_partitions(
    client: &Client,
    database: &str,
    def: &TableDef,
    partitions: &[PartitionDef],
) -> Result<BatchOutcome, GlueError> {
    const OP: &str = "BatchCreatePartition";
    let target = batch_target(OP, database, def, partitions.len())?;
    let inputs = partitions
        .iter()
        .map(|p| partition_input(def, p, OP))
        .collect::<Result<Vec<_>, _>>()?;
    let out = client
        .batch_create_partition()
        .database_name(database)
        .table_name(&def.name)
        .set_partition_input_list(Some(inputs))
        .send()
        .await
        .map_err(|err| call_error(OP, &target, err))?;
    let errors = out
        .errors()
        .iter()
        .map(|e| (e.partition_values(), e.error_detail()));
    Ok(tally(partitions.len(), errors, true))
}

/// One `BatchUpdatePartition` call (≤ 100 entries): each partition gets the table's current
/// storage (columns, SerDe) at its own location.
pub async fn batch_update_partitions(
    client: &Client,
    database: &str,
    def: &TableDef,
    partitions: &[PartitionDef],
) -> Result<BatchOutcome, GlueError> {
    const OP: &str = "BatchUpdatePartition";
    let target = batch_target(OP, database, def, partitions.len())?;
    let entries = partitions
        .iter()
        .map(|p| {
            gt::BatchUpdatePartitionRequestEntry::builder()
                .set_partition_value_list(Some(p.values.clone()))
                .partition_input(partition_input(def, p, OP)?)
                .build()
                .map_err(|e| build_error(OP, &target, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = client
        .batch_update_partition()
        .database_name(database)
        .table_name(&def.name)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|err| call_error(OP, &target, err))?;
    let errors = out
        .errors()
        .iter()
        .map(|e| (e.partition_value_list(), e.error_detail()));
    Ok(tally(partitions.len(), errors, false))
}

/// A registered partition as Glue holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredPartition {
    pub partition: PartitionDef,
    pub columns: Vec<Column>,
}

/// Every partition of a table (all pages of `GetPartitions`).
pub async fn get_partitions(
    client: &Client,
    database: &str,
    table: &str,
) -> Result<Vec<RegisteredPartition>, GlueError> {
    let target = format!("{database}.{table}");
    all_partitions(client, database, table)
        .await?
        .iter()
        .map(|p| {
            let sd = p.storage_descriptor();
            Ok(RegisteredPartition {
                partition: PartitionDef {
                    values: p.values().to_vec(),
                    location: sd
                        .and_then(|s| s.location())
                        .unwrap_or_default()
                        .to_string(),
                    manifest: sd.and_then(|s| s.input_format())
                        == Some(catalog::SYMLINK_INPUT_FORMAT),
                },
                columns: catalog_columns(sd, &target)?,
            })
        })
        .collect()
}

/// Counts Glue requests per operation (from the `X-Amz-Target: AWSGlue.<Operation>` header,
/// one per attempt), for the economy figures in logs, tests and the benchmark. Attach with
/// [`GlueCallCounter::client`].
#[derive(Clone, Debug, Default)]
pub struct GlueCallCounter(
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
);

impl GlueCallCounter {
    /// A Glue client that reports every request to this counter.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> Client {
        let conf = aws_sdk_glue::config::Builder::from(sdk)
            .interceptor(self.clone())
            .build();
        Client::from_conf(conf)
    }

    /// Calls of one operation (`BatchCreatePartition`, `CreateTable`, ...).
    pub fn get(&self, operation: &str) -> usize {
        self.snapshot().get(operation).copied().unwrap_or(0)
    }

    /// Calls that may change the catalog (every operation not starting with `Get`).
    pub fn writes(&self) -> usize {
        self.snapshot()
            .iter()
            .filter(|(op, _)| !op.starts_with("Get"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> usize {
        self.snapshot().values().sum()
    }

    pub fn snapshot(&self) -> std::collections::BTreeMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

impl aws_sdk_glue::config::Intercept for GlueCallCounter {
    fn name(&self) -> &'static str {
        "GlueCallCounter"
    }

    fn read_before_transmit(
        &self,
        ctx: &aws_sdk_glue::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_glue::config::RuntimeComponents,
        _cfg: &mut aws_sdk_glue::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let op = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_string();
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op).or_default() += 1;
        }
        Ok(())
    }
}
