//! `dms-local`: plays AWS DMS's part on a development machine. It takes a full load of the
//! selected PostgreSQL tables (unless the task is CDC only), then follows a logical replication
//! slot read with the `test_decoding` plugin (as DMS reads PostgreSQL), and writes
//! DMS S3 target files (CSV or Parquet) to a bucket with the keys DMS would use, announcing
//! each file the way S3 would (an `ObjectCreated` notification on a queue) and the task's
//! start and stop the way DMS does (EventBridge `DMS Replication Task State Change`).
//!
//! Drive it with [`DmsLocal`]: [`DmsLocal::connect`], [`DmsLocal::start`],
//! [`DmsLocal::full_load`], then [`DmsLocal::poll_once`] / [`DmsLocal::flush`] in a loop, and
//! [`DmsLocal::stop`].

pub mod aws;
pub mod capture;
pub mod format;
pub mod parquet;
pub mod test_decoding;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dmslake::config::{DmsColumns, LayoutConfig};
use tokio_postgres::{Client, NoTls};

use crate::capture::{Capture, Column, LoadSnapshot, TableInfo};
use crate::format::{dms_text, Op, Row, RowLayout};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("PostgreSQL: {context}: {source}")]
    Pg {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    #[error(transparent)]
    Decode(#[from] test_decoding::DecodeError),
    #[error("{table}: {source}")]
    Format {
        table: String,
        #[source]
        source: format::FormatError,
    },
    #[error("{table}: {source}")]
    Parquet {
        table: String,
        #[source]
        source: parquet::ParquetFormatError,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The endpoint's `DataFormat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataFormat {
    #[default]
    Csv,
    Parquet,
}

impl DataFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }
}

impl std::str::FromStr for DataFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "parquet" => Ok(Self::Parquet),
            _ => Err(Error::Invalid(format!(
                "data format {s:?}: expected csv or parquet"
            ))),
        }
    }
}

/// The task's `MigrationType` (the API's values). A CDC-only task writes no full load: its
/// changes start when the slot is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MigrationType {
    #[default]
    FullLoadAndCdc,
    Cdc,
}

impl std::str::FromStr for MigrationType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "full-load-and-cdc" => Ok(Self::FullLoadAndCdc),
            "cdc" => Ok(Self::Cdc),
            _ => Err(Error::Invalid(format!(
                "migration type {s:?}: expected full-load-and-cdc or cdc"
            ))),
        }
    }
}

fn pg(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let context = context.into();
    move |source| Error::Pg { context, source }
}

/// Quotes an SQL identifier (`"` doubled).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` → (schema, table); the schema is required.
pub fn parse_table(spec: &str) -> Result<(String, String), Error> {
    match spec.trim().split_once('.') {
        Some((s, t)) if !s.is_empty() && !t.is_empty() => Ok((s.to_string(), t.to_string())),
        _ => Err(Error::Invalid(format!(
            "table {spec:?}: expected schema.table"
        ))),
    }
}

/// A slot name PostgreSQL accepts: 1-63 lower-case letters, digits or underscores.
pub fn validate_slot(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "slot name {name:?}: expected 1-63 lower-case letters, digits or underscores"
        )))
    }
}

/// What the run replicates and how the files look (the DMS task and S3 endpoint settings).
#[derive(Clone, Debug)]
pub struct Settings {
    pub tables: Vec<(String, String)>,
    /// `full-load-and-cdc`, or `cdc` (no full load; [`DmsLocal::full_load`] refuses to run).
    pub migration_type: MigrationType,
    pub slot: String,
    pub bucket: String,
    pub layout: LayoutConfig,
    pub rows: RowLayout,
    /// `DataFormat`: CSV (header-less) or Parquet. Parquet files follow a column added while
    /// replicating; CSV output stops with an error naming it.
    pub format: DataFormat,
    /// Names of the timestamp, change-sequence and before-image columns (Parquet files name
    /// their columns; the change-sequence name also goes into the task's table mappings).
    pub columns: DmsColumns,
    /// `CdcMaxBatchInterval`.
    pub cdc_interval: Duration,
    /// Rows per table that force a CDC file before the interval (stands in for `CdcMinFileSize`).
    pub cdc_max_rows: usize,
    /// Bytes after which a full-load file is closed (`MaxFileSize`).
    pub load_max_bytes: usize,
    pub notify_sqs: Option<String>,
    pub events_bus: Option<String>,
    pub task_arn: Option<String>,
    /// Create a replication task in the emulator when no `task_arn` is given.
    pub create_task: bool,
    pub region: String,
}

/// The SDK clients the run uses.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub dms: aws_sdk_databasemigration::Client,
}

impl AwsClients {
    pub fn with_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            s3: dmslake::clients::s3_client(config),
            sqs: aws_sdk_sqs::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            dms: aws_sdk_databasemigration::Client::new(config),
        }
    }
}

/// A file written to S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub key: String,
    pub rows: usize,
    pub size: usize,
}

/// One replication run.
pub struct DmsLocal {
    pg: Client,
    aws: AwsClients,
    settings: Settings,
    capture: Capture,
    tables: Vec<TableInfo>,
    task_arn: Option<String>,
    last_flush: Instant,
    last_cdc_name: HashMap<(String, String), DateTime<Utc>>,
    /// Every file written so far, in order.
    pub written: Vec<WrittenFile>,
    /// Every task event put on the bus, as EventBridge delivers it to a target.
    pub events: Vec<serde_json::Value>,
}

const FETCH_ROWS: usize = 5_000;

impl DmsLocal {
    /// Connects (the session runs in UTC, so timestamptz text is UTC) and reads the tables.
    pub async fn connect(
        conninfo: &str,
        settings: Settings,
        aws: AwsClients,
    ) -> Result<Self, Error> {
        validate_slot(&settings.slot)?;
        if settings.tables.is_empty() {
            return Err(Error::Invalid("no tables selected".into()));
        }
        let (client, connection) = tokio_postgres::connect(conninfo, NoTls)
            .await
            .map_err(pg("connect"))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::error!(%error, "PostgreSQL connection closed");
            }
        });
        client
            .batch_execute("SET TimeZone = 'UTC'; SET extra_float_digits = 1")
            .await
            .map_err(pg("session settings"))?;
        let mut tables = Vec::new();
        for (schema, table) in &settings.tables {
            tables.push(table_info(&client, schema, table).await?);
        }
        Ok(Self {
            pg: client,
            aws,
            capture: {
                let mut capture = Capture::new(tables.clone(), None);
                capture.follow_new_columns = settings.format == DataFormat::Parquet;
                capture
            },
            tables,
            task_arn: settings.task_arn.clone(),
            settings,
            last_flush: Instant::now(),
            last_cdc_name: HashMap::new(),
            written: Vec::new(),
            events: Vec::new(),
        })
    }

    pub fn task_arn(&self) -> Option<&str> {
        self.task_arn.as_deref()
    }

    /// Creates the slot (when missing), starts the emulator's task and announces the start.
    /// Returns whether the slot was created now (a fresh start needs a full load).
    pub async fn start(&mut self) -> Result<bool, Error> {
        let exists = self
            .pg
            .query_opt(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.settings.slot],
            )
            .await
            .map_err(pg("look up slot"))?
            .is_some();
        if !exists {
            let row = self
                .pg
                .query_one(
                    "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'test_decoding')",
                    &[&self.settings.slot],
                )
                .await
                .map_err(pg(format!("create slot {}", self.settings.slot)))?;
            let lsn: String = row.get(0);
            tracing::info!(slot = %self.settings.slot, consistent_point = %lsn, "slot created");
        }
        if self.task_arn.is_none() && self.settings.create_task {
            let mappings = aws::table_mappings(
                &self.settings.tables,
                &self.settings.columns.change_sequence,
                self.settings.rows.time_as_text,
            );
            let id = format!("dms-local-{}", self.settings.slot.replace('_', "-"));
            self.task_arn = Some(
                aws::create_task(
                    &self.aws.dms,
                    &id,
                    &mappings.to_string(),
                    self.settings.migration_type,
                )
                .await?,
            );
        }
        if let Some(arn) = &self.task_arn {
            aws::start_task(&self.aws.dms, arn).await?;
        }
        self.announce(aws::TaskEvent::Started).await?;
        self.last_flush = Instant::now();
        Ok(!exists)
    }

    async fn announce(&mut self, event: aws::TaskEvent) -> Result<(), Error> {
        let (Some(bus), Some(arn)) = (&self.settings.events_bus, &self.task_arn) else {
            return Ok(());
        };
        let task_id = arn.rsplit(':').next().unwrap_or(arn);
        let detail = event.detail(&self.settings.region, task_id);
        aws::put_task_event(&self.aws.events, bus, arn, &detail).await?;
        tracing::info!(task = %arn, event = ?event, "task event sent");
        self.events
            .push(aws::task_event_envelope(arn, &detail, Utc::now()));
        Ok(())
    }

    /// Full load of every selected table in one REPEATABLE READ snapshot taken after the slot
    /// exists (see [`capture`] for why nothing is lost or duplicated).
    pub async fn full_load(&mut self) -> Result<Vec<WrittenFile>, Error> {
        if self.settings.migration_type == MigrationType::Cdc {
            return Err(Error::Invalid(
                "the task's migration type is cdc: it has no full load".into(),
            ));
        }
        let txn = snapshot_transaction(&mut self.pg, "begin full load").await?;
        let snap: String = txn
            .query_one("SELECT pg_current_snapshot()::text", &[])
            .await
            .map_err(pg("snapshot"))?
            .get(0);
        let snapshot = LoadSnapshot::parse(&snap)
            .ok_or_else(|| Error::Invalid(format!("unexpected snapshot text {snap:?}")))?;
        let mut files = Vec::new();
        for info in &self.tables {
            files.extend(load_table(&self.aws, &self.settings, &txn, info, 1, None).await?);
        }
        txn.commit().await.map_err(pg("end full load"))?;
        self.written.extend(files.iter().cloned());
        tracing::info!(snapshot = %snap, files = files.len(), "full load done");
        self.capture.set_snapshot(Some(snapshot));
        Ok(files)
    }

    /// Reloads one table mid-stream, as DMS does for `ReloadTables` (or a task restarted with
    /// `reload-target`): a new full load of `schema.table` from a fresh snapshot, written as
    /// `LOAD` files numbered from `first_counter` (1 overwrites the earlier full load's first
    /// files; the next free number keeps them), every row stamped with the reload's start (as
    /// `UseTaskStartTimeForFullLoadTimestamp=true` does). Change capture goes on untouched: a
    /// change committed before the reload started is in its snapshot and also comes through CDC
    /// with an earlier commit time, as it would from DMS.
    pub async fn reload_table(
        &mut self,
        schema: &str,
        table: &str,
        first_counter: u32,
    ) -> Result<Vec<WrittenFile>, Error> {
        let info = self
            .tables
            .iter()
            .find(|t| t.schema == schema && t.table == table)
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("{schema}.{table} is not a replicated table")))?;
        let started = Utc::now();
        let txn = snapshot_transaction(&mut self.pg, "begin reload").await?;
        let files = load_table(
            &self.aws,
            &self.settings,
            &txn,
            &info,
            first_counter,
            Some(started),
        )
        .await?;
        txn.commit().await.map_err(pg("end reload"))?;
        self.written.extend(files.iter().cloned());
        tracing::info!(table = %format!("{schema}.{table}"), files = files.len(), "table reloaded");
        Ok(files)
    }

    /// Reads what the slot holds now (up to `limit` changes, whole transactions); returns the
    /// number of rows captured. Consumed changes are kept in memory until [`Self::flush`].
    pub async fn poll_once(&mut self, limit: i32) -> Result<usize, Error> {
        let options: Vec<String> = test_decoding::OPTIONS
            .iter()
            .map(|(k, v)| format!("'{k}', '{v}'"))
            .collect();
        let sql = format!(
            "SELECT data FROM pg_logical_slot_get_changes($1, NULL, $2, {})",
            options.join(", ")
        );
        let rows = self
            .pg
            .query(&sql, &[&self.settings.slot, &limit])
            .await
            .map_err(pg(format!("read slot {}", self.settings.slot)))?;
        let mut added = 0;
        for r in rows {
            let data: String = r.try_get(0).map_err(pg("slot data"))?;
            let mut message = test_decoding::decode(&data)?;
            if let test_decoding::Message::Change(change) = &mut message {
                self.prepare(change).await?;
            }
            added += self.capture.apply(message)?;
        }
        Ok(added)
    }

    /// What a change needs from the source before capture: the catalog's column types when it
    /// names a column unknown so far (the plugin prints types without modifier), and the
    /// values of unchanged TOASTed columns PostgreSQL did not log.
    async fn prepare(&mut self, change: &mut test_decoding::RowChange) -> Result<(), Error> {
        if self.capture.table(&change.schema, &change.table).is_none() {
            return Ok(());
        }
        if !self.capture.unknown_columns(change).is_empty() {
            let now = table_info(&self.pg, &change.schema, &change.table).await?;
            self.capture
                .set_catalog_columns(&change.schema, &change.table, now.columns);
        }
        if !change.unchanged_toast.is_empty() {
            self.look_up_unchanged(change).await?;
        }
        Ok(())
    }

    /// DMS reads a LOB the WAL does not carry from the source table by primary key (its LOB
    /// lookup, which is why LOB columns need a primary key: CHAP_Source.PostgreSQL.md,
    /// limitations). Done here the same way: the row as it is now, the value as the output
    /// function prints it; a row deleted since leaves the value NULL, with a warning.
    async fn look_up_unchanged(
        &mut self,
        change: &mut test_decoding::RowChange,
    ) -> Result<(), Error> {
        let table = format!("{}.{}", change.schema, change.table);
        let Some(info) = self.capture.table(&change.schema, &change.table) else {
            return Ok(());
        };
        let key: Vec<(String, String)> = info
            .key
            .iter()
            .map(|&i| info.columns[i].name.clone())
            .map(|name| {
                let value = change
                    .columns
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, v)| v.clone());
                value.map(|v| (name, v))
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "update of {table} leaves {:?} unchanged and its key is incomplete: \
                     cannot look the values up",
                    change.unchanged_toast
                ))
            })?;
        if key.is_empty() {
            return Err(Error::Invalid(format!(
                "update of {table} leaves {:?} unchanged and the table has no primary key: \
                 cannot look the values up (set REPLICA IDENTITY FULL)",
                change.unchanged_toast
            )));
        }
        let select: Vec<String> = change
            .unchanged_toast
            .iter()
            .map(|c| format!("format('%s', {})", quote_ident(c)))
            .collect();
        let filter: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, (name, _))| format!("format('%s', {}) = ${}", quote_ident(name), i + 1))
            .collect();
        let sql = format!(
            "SELECT {} FROM {}.{} WHERE {}",
            select.join(", "),
            quote_ident(&change.schema),
            quote_ident(&change.table),
            filter.join(" AND ")
        );
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = key
            .iter()
            .map(|(_, v)| v as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let row = self
            .pg
            .query_opt(&sql, &params)
            .await
            .map_err(pg(format!("look up unchanged values of {table}")))?;
        for (i, column) in std::mem::take(&mut change.unchanged_toast)
            .into_iter()
            .enumerate()
        {
            let value = match &row {
                Some(r) => r
                    .try_get::<_, Option<String>>(i)
                    .map_err(pg("looked-up value"))?,
                None => {
                    tracing::warn!(%table, %column, "row deleted since: unchanged value written as NULL");
                    None
                }
            };
            change.columns.push((column, value));
        }
        Ok(())
    }

    /// Writes CDC files when `CdcMaxBatchInterval` has passed or a table's batch is large, or
    /// always when `force`. One file per table and date folder.
    pub async fn flush(&mut self, force: bool) -> Result<Vec<WrittenFile>, Error> {
        let due = force
            || self.last_flush.elapsed() >= self.settings.cdc_interval
            || self
                .capture
                .pending
                .values()
                .any(|rows| rows.len() >= self.settings.cdc_max_rows);
        if !due {
            return Ok(Vec::new());
        }
        self.last_flush = Instant::now();
        let mut files = Vec::new();
        let mut pending: Vec<_> = std::mem::take(&mut self.capture.pending)
            .into_iter()
            .collect();
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        for ((schema, table), rows) in pending {
            if rows.is_empty() {
                continue;
            }
            let Some(info) = self.capture.table(&schema, &table).cloned() else {
                continue;
            };
            // Group by date folder (commit date), keeping commit order inside each file.
            let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
            for row in rows {
                let folder = if self.settings.layout.date_partition_enabled {
                    format::date_folder(&self.settings.layout, row.timestamp)
                } else {
                    String::new()
                };
                match groups.iter_mut().find(|(f, _)| *f == folder) {
                    Some((_, g)) => g.push(row),
                    None => groups.push((folder, vec![row])),
                }
            }
            for (_, group) in groups {
                let mut written = Utc::now();
                let name_key = (schema.clone(), table.clone());
                if let Some(last) = self.last_cdc_name.get(&name_key) {
                    let next = *last + chrono::Duration::milliseconds(1);
                    if written < next {
                        written = next;
                    }
                }
                self.last_cdc_name.insert(name_key, written);
                let commit = group[0].timestamp;
                let key = format::cdc_key(
                    &self.settings.layout,
                    &schema,
                    &table,
                    commit,
                    written,
                    self.settings.format.extension(),
                );
                let body = encode(&self.settings, &info, &group)?;
                files.push(self.write(key, body, group.len()).await?);
            }
        }
        Ok(files)
    }

    async fn write(
        &mut self,
        key: String,
        body: Vec<u8>,
        rows: usize,
    ) -> Result<WrittenFile, Error> {
        let file = write_file(&self.aws, &self.settings, key, body, rows).await?;
        self.written.push(file.clone());
        Ok(file)
    }

    /// Reads the slot until it is empty, writes what is pending, stops the task and announces
    /// it. With `drop_slot`, the slot is removed (the next start is a fresh start).
    pub async fn stop(&mut self, drop_slot: bool) -> Result<Vec<WrittenFile>, Error> {
        while self.poll_once(10_000).await? > 0 {}
        let files = self.flush(true).await?;
        if drop_slot {
            self.pg
                .execute(
                    "SELECT pg_drop_replication_slot($1)",
                    &[&self.settings.slot],
                )
                .await
                .map_err(pg(format!("drop slot {}", self.settings.slot)))?;
        }
        if let Some(arn) = &self.task_arn {
            aws::stop_task(&self.aws.dms, arn).await?;
        }
        self.announce(aws::TaskEvent::Stopped).await?;
        Ok(files)
    }
}

/// `rows` of `info` in the endpoint's format: CSV lines, or one Parquet file whose columns are
/// the table's columns now (rows from before a column was added hold NULL in it).
fn encode(settings: &Settings, info: &TableInfo, rows: &[Row]) -> Result<Vec<u8>, Error> {
    match settings.format {
        DataFormat::Csv => {
            let mut body = String::new();
            for row in rows {
                format::push_row(&mut body, row, settings.rows, info.key.len());
            }
            Ok(body.into_bytes())
        }
        DataFormat::Parquet => {
            let columns = parquet::file_columns(info, &settings.columns, settings.rows);
            parquet::write_file(&columns, rows).map_err(|source| Error::Parquet {
                table: format!("{}.{}", info.schema, info.table),
                source,
            })
        }
    }
}

/// Puts one file and, when configured, sends its S3 notification.
async fn write_file(
    aws: &AwsClients,
    settings: &Settings,
    key: String,
    body: Vec<u8>,
    rows: usize,
) -> Result<WrittenFile, Error> {
    let size = body.len();
    let etag = aws::put_object(&aws.s3, &settings.bucket, &key, body).await?;
    if let Some(queue) = &settings.notify_sqs {
        let n = aws::s3_notification(
            &settings.bucket,
            &key,
            size,
            &etag,
            Utc::now(),
            &settings.region,
        );
        aws::send_notification(&aws.sqs, queue, &n).await?;
    }
    tracing::info!(key = %key, rows, size, "file written");
    Ok(WrittenFile { key, rows, size })
}

/// Columns (in table order, with DMS's view of their type) and primary key of a table.
async fn table_info(client: &Client, schema: &str, table: &str) -> Result<TableInfo, Error> {
    let name = format!("{}.{}", quote_ident(schema), quote_ident(table));
    let cols = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a WHERE a.attrelid = $1::text::regclass \
             AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&name],
        )
        .await
        .map_err(pg(format!("columns of {schema}.{table}")))?;
    let columns: Vec<Column> = cols
        .iter()
        .map(|r| Column::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let keys = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY k.ord",
            &[&name],
        )
        .await
        .map_err(pg(format!("primary key of {schema}.{table}")))?;
    let key = keys
        .iter()
        .filter_map(|r| {
            let k: String = r.get(0);
            columns.iter().position(|c| c.name == k)
        })
        .collect();
    Ok(TableInfo {
        schema: schema.to_string(),
        table: table.to_string(),
        columns,
        key,
    })
}

/// Writes the full load of one table read inside `txn` as `LOAD` files numbered from
/// `first_counter`; rows stamped with `stamp`, or with their transfer time when `None`.
async fn load_table(
    aws: &AwsClients,
    settings: &Settings,
    txn: &tokio_postgres::Transaction<'_>,
    info: &TableInfo,
    first_counter: u32,
    stamp: Option<chrono::DateTime<Utc>>,
) -> Result<Vec<WrittenFile>, Error> {
    let mut files = Vec::new();
    // The type's output function, as test_decoding prints CDC values: `col::text` differs
    // for a few types (`char(n)` loses its padding, `inet` gains `/32`, `boolean`
    // reads `true`). `format('%s', NULL)` is '', hence the CASE keeping NULL.
    let select: Vec<String> = info
        .columns
        .iter()
        .map(|c| {
            let col = quote_ident(&c.name);
            format!("CASE WHEN {col} IS NULL THEN NULL ELSE format('%s', {col}) END")
        })
        .collect();
    let cursor = format!(
        "DECLARE dms_local_load NO SCROLL CURSOR FOR SELECT {} FROM {}.{}",
        select.join(", "),
        quote_ident(&info.schema),
        quote_ident(&info.table)
    );
    txn.batch_execute(&cursor)
        .await
        .map_err(pg(format!("read {}.{}", info.schema, info.table)))?;
    let mut counter = first_counter;
    let mut rows = Vec::new();
    let mut approx_bytes = 0;
    loop {
        let fetched = txn
            .query(&format!("FETCH {FETCH_ROWS} FROM dms_local_load"), &[])
            .await
            .map_err(pg(format!("fetch {}.{}", info.schema, info.table)))?;
        let done = fetched.len() < FETCH_ROWS;
        for r in fetched {
            let mut values = Vec::with_capacity(info.columns.len());
            for (i, c) in info.columns.iter().enumerate() {
                let text: Option<String> = r.try_get(i).map_err(pg("column value"))?;
                values.push(
                    dms_text(c.kind, text.as_deref()).map_err(|source| Error::Format {
                        table: format!("{}.{}", info.schema, info.table),
                        source,
                    })?,
                );
            }
            approx_bytes += values.iter().flatten().map(|v| v.len() + 1).sum::<usize>();
            // Transfer time per row (UseTaskStartTimeForFullLoadTimestamp=false), or the given
            // start (=true).
            rows.push(Row {
                op: Op::Insert,
                timestamp: stamp.unwrap_or_else(Utc::now),
                values,
                change_sequence: None,
                before_image: None,
            });
            if approx_bytes >= settings.load_max_bytes {
                files.push(write_load(aws, settings, info, counter, &rows).await?);
                counter += 1;
                rows.clear();
                approx_bytes = 0;
            }
        }
        if done {
            break;
        }
    }
    txn.batch_execute("CLOSE dms_local_load")
        .await
        .map_err(pg("close cursor"))?;
    if !rows.is_empty() {
        files.push(write_load(aws, settings, info, counter, &rows).await?);
    }
    Ok(files)
}

/// Writes `rows` as the full-load file numbered `counter` of `info`'s table.
async fn write_load(
    aws: &AwsClients,
    settings: &Settings,
    info: &TableInfo,
    counter: u32,
    rows: &[Row],
) -> Result<WrittenFile, Error> {
    let key = format::load_key(
        &settings.layout,
        &info.schema,
        &info.table,
        counter,
        settings.format.extension(),
    );
    let body = encode(settings, info, rows)?;
    write_file(aws, settings, key, body, rows.len()).await
}

/// A read-only `REPEATABLE READ` transaction: one snapshot for every table a load reads, as
/// DMS's full load reads a consistent view.
async fn snapshot_transaction<'a>(
    client: &'a mut tokio_postgres::Client,
    what: &'static str,
) -> Result<tokio_postgres::Transaction<'a>, Error> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_names_validated() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            parse_table("public.order_details").expect("ok"),
            ("public".into(), "order_details".into())
        );
        assert!(parse_table("orders").is_err());
        assert!(validate_slot("dms_local_1").is_ok());
        assert!(validate_slot("bad'; drop").is_err());
    }

    #[test]
    fn migration_types_are_spelled_as_the_api_spells_them() {
        assert_eq!(
            "full-load-and-cdc".parse::<MigrationType>().ok(),
            Some(MigrationType::FullLoadAndCdc)
        );
        assert_eq!(
            "CDC".parse::<MigrationType>().ok(),
            Some(MigrationType::Cdc)
        );
        let error = "full-load"
            .parse::<MigrationType>()
            .expect_err("full-load-only tasks are not played");
        assert!(
            error.to_string().contains("full-load-and-cdc or cdc"),
            "{error}"
        );
    }
}
