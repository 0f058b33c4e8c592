//! Athena SQL generation: validated, quoted identifiers; DDL, MERGE and maintenance statements.
//!
//! Pure code: a [`TableSpec`] (the raw Glue table as the catalog describes it, plus the
//! primary key and curated settings from configuration) is checked once into a
//! [`CompactionTable`], which renders:
//! - [`CompactionTable::create_table_sql`]: the curated Iceberg table (Hive-style DDL, backtick
//!   identifiers, as Athena requires for DDL);
//! - [`CompactionTable::add_columns_sql`]: the columns the raw table gained since the curated
//!   table was last merged (Iceberg schema evolution, additions only);
//! - [`CompactionTable::merge_sql`]: one `MERGE INTO` that reduces the change rows read from the
//!   raw table's partitions in a [`PartitionRange`] to the last change per key and applies it;
//! - [`CompactionTable::rebuild_sql`]: after a table reload, one `MERGE INTO` that makes the
//!   current state the new full load plus the changes after it;
//! - [`CompactionTable::optimize_sql`] / [`CompactionTable::vacuum_sql`]: Iceberg maintenance.
//!
//! Every identifier is validated (`[a-z0-9_]`, the form Glue stores) *and* quoted; every literal
//! is single-quoted with quotes doubled. Nothing from data, keys or configuration reaches the
//! text unchecked.
//!
//! Ordering of changes (see DMS-FACTS, CHAP_Target.S3.md and CHAP_Tasks.CustomizingTasks
//! .TableMapping.SelectionTransformation.Expressions.md for `$AR_H_CHANGE_SEQ`):
//! - with a change-sequence column (a transformation rule adding `$AR_H_CHANGE_SEQ`), the
//!   order key is that 35-digit number left-padded to 38 characters and compared as a string
//!   (it does not fit a bigint); full-load rows carry no sequence and get all zeros, so they
//!   order before every change of the same key;
//! - without it, the order key is `0` (full-load file) or `1` (CDC file) followed by the commit
//!   timestamp string, with the file path as tie-break. DMS does not order several changes of
//!   one row inside one commit timestamp in that case: configure the sequence column.
//!
//! The curated table stores the applied order key in [`SEQ_COLUMN`]; the MERGE only applies a
//! change whose key is greater, so replaying a range leaves the table unchanged.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::catalog::{Column, GlueType};
use crate::config::DmsColumns;
use crate::layout::FileFormat;

/// Column of the curated table holding the order key of the change last applied to the row.
pub const SEQ_COLUMN: &str = "_dmslake_seq";
const OP_ALIAS: &str = "_dmslake_op";
const RANK_ALIAS: &str = "_dmslake_rank";
const FILE_ALIAS: &str = "_dmslake_file";
const ROW_ALIAS: &str = "_dmslake_rn";
const TS_ALIAS: &str = "_dmslake_ts";
/// Marks the rows of a rebuild that come from the new full load.
const LOAD_ALIAS: &str = "_dmslake_load";
/// Athena's pseudo-column with the S3 path of the file a row came from.
const PATH_COLUMN: &str = "$path";
/// The file paths of full-load rows, as a Trino regular expression over `"$path"`: the last
/// path segment is `LOAD` + a hexadecimal counter, optionally after a parallel-load segment
/// index (`SEGMENT2_LOAD0000000A.csv`), as [`crate::layout`] classifies DMS's file names
/// (CHAP_Target.S3.md; "Parallel load" in CHAP_Tasks.CustomizingTasks.TableMapping
/// .SelectionTransformation.Tablesettings.md).
pub const FULL_LOAD_PATH_PATTERN: &str = "/(SEGMENT[0-9]+_)?LOAD[0-9A-F]+[.][^/]*$";
/// Width the change sequence is padded to (decimal(38,0) digits).
const SEQ_WIDTH: u32 = 38;
/// Athena's limit on a query string (bytes).
pub const MAX_QUERY_BYTES: usize = 262_144;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SqlError {
    #[error("{what} {name:?} is not a valid identifier: {reason}")]
    InvalidIdentifier {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("table {table}: no primary key configured (set DMSLAKE_PRIMARY_KEYS); not merged")]
    NoPrimaryKey { table: String },
    #[error("table {table}: primary-key column {column:?} is not a column of the raw table")]
    UnknownKeyColumn { table: String, column: String },
    #[error("table {table}: no column orders the changes: configure the change-sequence column ($AR_H_CHANGE_SEQ) or the timestamp column (TimestampColumnName)")]
    NoOrderColumn { table: String },
    #[error("table {table}: the raw table has no source columns")]
    NoDataColumns { table: String },
    #[error("{value:?} is not an s3://bucket/prefix location")]
    InvalidLocation { value: String },
    #[error("table {table}: partition spec {spec:?} is not `column` or `year|month|day|hour(column)` over a curated column")]
    InvalidPartitioning { table: String, spec: String },
    #[error("table {table}: partition bound {values:?} does not match the partition keys {keys:?} (digits only)")]
    InvalidPartitionValue {
        table: String,
        keys: Vec<String>,
        values: Vec<String>,
    },
    #[error(
        "table {table}: generated statement is {bytes} bytes, over Athena's {MAX_QUERY_BYTES}"
    )]
    TooLong { table: String, bytes: usize },
    #[error("table {table}: a reload cannot be applied without the timestamp column (TimestampColumnName), which tells the changes before the reload from those after it")]
    ReloadWithoutTimestamp { table: String },
    #[error("table {table}: a reload names no full-load file")]
    ReloadWithoutFiles { table: String },
    #[error("table {table}: reload time {value:?} is not `yyyy-MM-dd HH:mm:ss[.ffffff]`")]
    InvalidReloadTime { table: String, value: String },
}

/// A validated identifier: 1-255 characters of `[a-z0-9_]` (the names Glue stores), always
/// rendered quoted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    pub fn new(what: &'static str, name: &str) -> Result<Self, SqlError> {
        let err = |reason| SqlError::InvalidIdentifier {
            what,
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(err("empty"));
        }
        if name.len() > 255 {
            return Err(err("longer than 255 characters"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(err("only lower-case letters, digits and '_' are allowed"));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Double-quoted, for DML (Trino syntax).
    pub fn quoted(&self) -> String {
        quote_dml(&self.0)
    }

    /// Backtick-quoted, for DDL (Hive syntax, which Athena uses for `CREATE TABLE`).
    pub fn ddl(&self) -> String {
        format!("`{}`", self.0.replace('`', "``"))
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn quote_dml(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal: single quotes doubled.
pub fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Names of DMS's own columns as the raw table has them (normalised).
#[derive(Clone, Debug, PartialEq, Eq)]
struct DmsNames {
    op: String,
    timestamp: String,
    change_sequence: String,
    before_image_prefix: String,
}

impl DmsNames {
    /// From the configured names, normalised like the raw table's column names.
    fn of(columns: &DmsColumns) -> Self {
        Self {
            op: normalise(crate::config::OP_COLUMN),
            timestamp: normalise(&columns.timestamp),
            change_sequence: normalise(&columns.change_sequence),
            before_image_prefix: normalise(&columns.before_image_prefix),
        }
    }
}

/// The Glue normalisation of a name: lower case, anything outside `[a-z0-9_]` becomes `_`.
///
/// The same character rule as [`crate::schema::normalise_name`], without its length and
/// emptiness checks (for configured names that are already known to be usable).
pub fn normalise(name: &str) -> String {
    crate::schema::map_name_chars(name)
}

/// Everything needed to compact one table: the raw table as the catalog describes it
/// ([`crate::catalog::TableDef`]) and the curated settings from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub raw_database: String,
    /// Raw (and curated) table name, `<schema>_<table>`.
    pub table: String,
    pub format: FileFormat,
    /// Raw columns in table order (DMS columns included), without partition keys.
    pub columns: Vec<Column>,
    /// Raw partition keys in canonical order (`year`, `month`, `day`, `hour`).
    pub partition_keys: Vec<String>,
    /// The configured names of DMS's columns (normalised here as the raw table has them).
    pub dms: DmsColumns,
    /// Primary-key columns (normalised names); empty means "not configured".
    pub primary_key: Vec<String>,
    pub curated_database: String,
    /// `s3://bucket/prefix/`: the curated table lives at `<prefix><table>/`.
    pub curated_location: String,
    /// Iceberg partition spec entries: `column` or `year|month|day|hour(column)`.
    pub partitioning: Vec<String>,
    /// Curated type per column, overriding the raw column's type.
    pub type_overrides: BTreeMap<String, GlueType>,
}

/// A source column as the curated table holds it: a checked name and the Iceberg type
/// ([`GlueType::iceberg`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CuratedColumn {
    pub name: Ident,
    pub ty: GlueType,
}

/// An Iceberg partition field of the curated table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionField {
    pub transform: Option<&'static str>,
    pub column: Ident,
}

/// A checked [`TableSpec`], ready to render statements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionTable {
    raw_database: Ident,
    table: Ident,
    format: FileFormat,
    curated_database: Ident,
    location: String,
    columns: Vec<CuratedColumn>,
    key: Vec<Ident>,
    /// Before-image column per key column, when the raw table has all of them.
    before_key: Option<Vec<Ident>>,
    op: Option<Ident>,
    timestamp: Option<Ident>,
    change_sequence: Option<Ident>,
    partition_keys: Vec<Ident>,
    partitioning: Vec<PartitionField>,
}

/// Which raw partitions a merge reads: partition values (in partition-key order), both bounds
/// inclusive; `None` leaves that side open.
///
/// An unpartitioned raw table (DMS's `DatePartitionEnabled=false`) reads a window of change
/// files instead, by their `"$path"` (`s3://bucket/key`), both bounds inclusive: DMS names a
/// change file by its write time (`yyyymmdd-hhmmssSSS`, CHAP_Target.S3.md), so the files after
/// the last one merged sort after it. Without `from_file` (a first merge) the window also reads
/// every full-load file; with it, none.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionRange {
    pub from: Option<Vec<String>>,
    pub to: Option<Vec<String>>,
    /// The change file last merged (read again; the order-key guard makes that a no-op).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_file: Option<String>,
    /// The newest change file listed before the merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_file: Option<String>,
}

impl CompactionTable {
    pub fn plan(spec: &TableSpec) -> Result<Self, SqlError> {
        let table_name = spec.table.clone();
        let table = Ident::new("table", &spec.table)?;
        let raw_database = Ident::new("raw database", &spec.raw_database)?;
        let curated_database = Ident::new("curated database", &spec.curated_database)?;
        let location = table_location(&spec.curated_location, &spec.table)?;
        let mut names = Vec::with_capacity(spec.columns.len());
        for c in &spec.columns {
            names.push(Ident::new("column", &c.name)?);
        }
        let has = |n: &str| !n.is_empty() && spec.columns.iter().any(|c| c.name == n);
        let pick = |n: &str| -> Result<Option<Ident>, SqlError> {
            if has(n) {
                Ident::new("column", n).map(Some)
            } else {
                Ok(None)
            }
        };
        let dms = DmsNames::of(&spec.dms);
        let op = pick(&dms.op)?;
        let timestamp = pick(&dms.timestamp)?;
        let change_sequence = pick(&dms.change_sequence)?;
        let prefix = dms.before_image_prefix.as_str();
        // A before-image column is `<prefix><key>` for a primary-key column `<key>` of the
        // raw table, and nothing else. DMS's `add-before-image-columns` transformation names
        // them `<column-prefix><column><column-suffix>` (prefix `BI_` by default) and its
        // default `column-filter` is `pk-only`; a PostgreSQL source supplies before-image
        // values for primary-key columns only (CHAP_Tasks.CustomizingTasks.TableMapping
        // .SelectionTransformation.Transformations.md; "Before image" in CHAP_Target.Kinesis.md).
        // So an ordinary column that merely starts with the prefix (`bi_id` beside a key
        // `order_id`) stays a source column.
        let key_columns: Vec<&str> = spec
            .primary_key
            .iter()
            .map(String::as_str)
            .filter(|k| has(k))
            .collect();
        let is_before_image = |n: &str| {
            !prefix.is_empty()
                && n.len() > prefix.len()
                && n.starts_with(prefix)
                && key_columns.contains(&&n[prefix.len()..])
        };
        let mut columns = Vec::new();
        for (c, ident) in spec.columns.iter().zip(&names) {
            let n = c.name.as_str();
            if n == dms.op || n == dms.timestamp || n == dms.change_sequence || is_before_image(n) {
                continue;
            }
            if n.starts_with("_dmslake_") {
                return Err(SqlError::InvalidIdentifier {
                    what: "column",
                    name: n.to_string(),
                    reason: "the prefix _dmslake_ is reserved for dmslake's own columns",
                });
            }
            let ty = match (spec.type_overrides.get(n), spec.format) {
                (Some(t), _) => *t,
                (None, FileFormat::Csv) => GlueType::String,
                (None, FileFormat::Parquet) => c.ty,
            };
            columns.push(CuratedColumn {
                name: ident.clone(),
                ty: ty.iceberg(),
            });
        }
        if columns.is_empty() {
            return Err(SqlError::NoDataColumns { table: table_name });
        }
        if spec.primary_key.is_empty() {
            return Err(SqlError::NoPrimaryKey { table: table_name });
        }
        let mut key = Vec::new();
        for k in &spec.primary_key {
            match columns.iter().find(|c| c.name.as_str() == k) {
                Some(c) => key.push(c.name.clone()),
                None => {
                    return Err(SqlError::UnknownKeyColumn {
                        table: table_name,
                        column: k.clone(),
                    })
                }
            }
        }
        let before: Vec<String> = key.iter().map(|k| format!("{prefix}{k}")).collect();
        let before_key = if !prefix.is_empty() && before.iter().all(|b| has(b)) {
            Some(
                before
                    .iter()
                    .map(|b| Ident::new("column", b))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        if timestamp.is_none() && change_sequence.is_none() {
            return Err(SqlError::NoOrderColumn { table: table_name });
        }
        let partition_keys = spec
            .partition_keys
            .iter()
            .map(|p| Ident::new("partition key", p))
            .collect::<Result<Vec<_>, _>>()?;
        let partitioning = spec
            .partitioning
            .iter()
            .map(|p| parse_partition_field(&table_name, p, &columns))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            raw_database,
            table,
            format: spec.format,
            curated_database,
            location,
            columns,
            key,
            before_key,
            op,
            timestamp,
            change_sequence,
            partition_keys,
            partitioning,
        })
    }

    pub fn table(&self) -> &str {
        self.table.as_str()
    }

    pub fn columns(&self) -> &[CuratedColumn] {
        &self.columns
    }

    /// Names of the curated source columns, in table order (without [`SEQ_COLUMN`]).
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.0.clone()).collect()
    }

    pub fn partition_keys(&self) -> Vec<String> {
        self.partition_keys.iter().map(|k| k.0.clone()).collect()
    }

    /// True when the order within one commit timestamp is guaranteed (sequence column present).
    pub fn has_change_sequence(&self) -> bool {
        self.change_sequence.is_some()
    }

    /// True when primary-key updates remove the old key (before-image key columns present).
    pub fn handles_key_updates(&self) -> bool {
        self.before_key.is_some()
    }

    /// Curated table location `s3://bucket/prefix/<table>/`.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn curated_dml(&self) -> String {
        format!("{}.{}", self.curated_database.quoted(), self.table.quoted())
    }

    fn raw_dml(&self) -> String {
        format!("{}.{}", self.raw_database.quoted(), self.table.quoted())
    }

    /// `CREATE TABLE IF NOT EXISTS` of the curated Iceberg table.
    pub fn create_table_sql(&self) -> String {
        let mut cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name.ddl(), c.ty))
            .collect();
        cols.push(format!("`{SEQ_COLUMN}` string"));
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS {}.{} ({})",
            self.curated_database.ddl(),
            self.table.ddl(),
            cols.join(", ")
        );
        if !self.partitioning.is_empty() {
            let fields: Vec<String> = self
                .partitioning
                .iter()
                .map(|f| match f.transform {
                    Some(t) => format!("{t}({})", f.column.ddl()),
                    None => f.column.ddl(),
                })
                .collect();
            let _ = write!(sql, " PARTITIONED BY ({})", fields.join(", "));
        }
        let _ = write!(
            sql,
            " LOCATION {} TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd')",
            string_literal(&self.location)
        );
        sql
    }

    /// `ALTER TABLE ... ADD COLUMNS`, one statement per curated column (in column order) whose
    /// name is not in `existing` (the curated table's column names). Athena's
    /// Iceberg schema evolution adds a column as a metadata-only change; rows written before
    /// read it as NULL (Athena user guide, "Evolve Iceberg table schema",
    /// querying-iceberg-evolving-table-schema.md and querying-iceberg-alter-table-add-columns.md).
    ///
    /// Never destructive: a name in `existing` that is no longer a column yields nothing (the
    /// curated column stays), and a column whose type changed is not retyped.
    pub fn add_columns_sql(&self, existing: &[String]) -> Vec<String> {
        self.added_columns(existing)
            .into_iter()
            .map(|(_, sql)| sql)
            .collect()
    }

    /// [`Self::add_columns_sql`] with the name of the column each statement adds.
    pub fn added_columns(&self, existing: &[String]) -> Vec<(String, String)> {
        self.columns
            .iter()
            .filter(|c| !existing.iter().any(|e| e == c.name.as_str()))
            .map(|c| {
                let sql = format!(
                    "ALTER TABLE {}.{} ADD COLUMNS ({} {})",
                    self.curated_database.ddl(),
                    self.table.ddl(),
                    c.name.ddl(),
                    c.ty
                );
                (c.name.as_str().to_string(), sql)
            })
            .collect()
    }

    /// `OPTIMIZE ... REWRITE DATA USING BIN_PACK`: compacts the small files each MERGE leaves.
    pub fn optimize_sql(&self) -> String {
        format!(
            "OPTIMIZE {} REWRITE DATA USING BIN_PACK",
            self.curated_dml()
        )
    }

    /// `VACUUM`: expires old snapshots and removes orphan files.
    pub fn vacuum_sql(&self) -> String {
        format!("VACUUM {}", self.curated_dml())
    }

    /// The source value of one curated column, cast from the raw column.
    fn cast(&self, raw: &Ident, ty: GlueType) -> String {
        let value = match self.format {
            // CSV fields are strings and an empty field is NULL (DMS writes NULL as nothing).
            FileFormat::Csv => format!("NULLIF(\"r\".{}, '')", raw.quoted()),
            FileFormat::Parquet => format!("\"r\".{}", raw.quoted()),
        };
        format!("CAST({value} AS {})", ty.dml())
    }

    /// The order key of a raw row (see the module documentation).
    fn order_key(&self) -> String {
        match (&self.change_sequence, &self.timestamp) {
            (Some(seq), _) => format!(
                "lpad(COALESCE(NULLIF(trim(CAST(\"r\".{} AS varchar)), ''), '0'), {SEQ_WIDTH}, '0')",
                seq.quoted()
            ),
            (None, Some(ts)) => format!(
                "(CASE WHEN regexp_like(\"r\".{}, {}) THEN '0' ELSE '1' END || COALESCE(CAST(\"r\".{} AS varchar), ''))",
                quote_dml(PATH_COLUMN),
                string_literal(FULL_LOAD_PATH_PATTERN),
                ts.quoted()
            ),
            // `plan` refuses a table with neither column.
            (None, None) => "'0'".into(),
        }
    }

    fn op_expr(&self) -> String {
        match &self.op {
            Some(op) => format!(
                "(CASE WHEN upper(trim(\"r\".{})) = 'D' THEN 'D' ELSE 'U' END)",
                op.quoted()
            ),
            None => "'U'".into(),
        }
    }

    fn tie_break(&self) -> String {
        match &self.timestamp {
            Some(ts) => format!("COALESCE(CAST(\"r\".{} AS varchar), '')", ts.quoted()),
            None => "''".into(),
        }
    }

    /// Partition predicate on the raw table for `range` (lexicographic over the keys, written
    /// as plain comparisons so Athena prunes partitions).
    fn range_predicate(&self, range: &PartitionRange) -> Result<Option<String>, SqlError> {
        if self.partition_keys.is_empty() {
            return file_window(range);
        }
        let mut parts = Vec::new();
        if let Some(from) = &range.from {
            self.check_partition_values(from)?;
            parts.push(lexicographic(&self.partition_keys, from, ">"));
        }
        if let Some(to) = &range.to {
            self.check_partition_values(to)?;
            parts.push(lexicographic(&self.partition_keys, to, "<"));
        }
        Ok(if parts.is_empty() {
            None
        } else {
            Some(parts.join(" AND "))
        })
    }

    fn check_partition_values(&self, values: &[String]) -> Result<(), SqlError> {
        let ok = values.len() == self.partition_keys.len()
            && values
                .iter()
                .all(|v| !v.is_empty() && v.len() <= 4 && v.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(())
        } else {
            Err(SqlError::InvalidPartitionValue {
                table: self.table.0.clone(),
                keys: self.partition_keys(),
                values: values.to_vec(),
            })
        }
    }

    /// The newest commit timestamp among the raw changes of `range`'s newest partition (DMS
    /// writes each change under the date it was written, so the newest changes are there; for
    /// an unpartitioned table, the files of the merge's window, the whole table without one),
    /// as text: `SELECT max(...)`. `None` when the table has no timestamp column.
    pub fn newest_commit_sql(&self, range: &PartitionRange) -> Result<Option<String>, SqlError> {
        let Some(ts) = &self.timestamp else {
            return Ok(None);
        };
        let newest = PartitionRange {
            from: range.to.clone(),
            to: range.to.clone(),
            ..range.clone()
        };
        let where_range = self
            .range_predicate(&newest)?
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default();
        Ok(Some(format!(
            "SELECT max(CAST(\"r\".{} AS varchar)) AS \"newest_commit\" FROM {} AS \"r\"{where_range}",
            ts.quoted(),
            self.raw_dml()
        )))
    }

    /// The `MERGE INTO` applying the changes in `range` to the curated table.
    pub fn merge_sql(&self, range: &PartitionRange) -> Result<String, SqlError> {
        self.merge_sql_since(range, None)
    }

    /// [`Self::merge_sql`] leaving out the rows committed before `since` (`yyyy-MM-dd
    /// HH:mm:ss[.ffffff]`, compared with the timestamp column): after a reload was applied
    /// ([`Self::rebuild_sql`]), a change from before it that a later MERGE reads again (its
    /// range starts at the watermark partition, inclusive) must not bring back a row the
    /// reload removed.
    pub fn merge_sql_since(
        &self,
        range: &PartitionRange,
        since: Option<&str>,
    ) -> Result<String, SqlError> {
        let mut pred = self.range_predicate(range)?;
        if let Some(since) = since {
            let since = string_literal(&checked_timestamp(&self.table.0, since)?);
            let after = format!("{} >= {since}", self.tie_break());
            pred = Some(match pred {
                Some(p) => format!("{p} AND {after}"),
                None => after,
            });
        }
        let union = self.source_rows(pred.as_deref(), "");
        let reduced = self.reduced(&format!("({union})"));
        let seq = quote_dml(SEQ_COLUMN);
        let newer = format!("(\"t\".{seq} IS NULL OR \"s\".{seq} > \"t\".{seq})");
        self.merge_from(&reduced, Some(&newer))
    }

    /// The `MERGE INTO` that rebuilds the curated table after a table reload (DMS
    /// `ReloadTables`, or a task restarted with `reload-target`, CHAP_Tasks.ReloadTables.md):
    /// its current state becomes the new full load (the files of `reload`) plus the changes
    /// committed from the reload's start on, and every row of the table that is not in that
    /// result is deleted. One statement, so one Iceberg commit: a run that dies before it
    /// succeeds leaves the table as it was, and running it again gives the same table.
    ///
    /// - The reload's start is the earliest timestamp-column value of the new full-load rows
    ///   (DMS writes the transfer time there, or the task's start time with
    ///   `UseTaskStartTimeForFullLoadTimestamp`, CHAP_Target.S3.md), else `reload.written_after`.
    ///   A change committed before it is already in the full load and is left out; a change
    ///   from then on is applied over it (an update or insert DMS captured while the load read
    ///   the row carries the row's whole image, so applying it again is harmless).
    /// - Full-load rows are stored with the greatest order key among the left-out changes (when
    ///   it is greater than their own), so a later regular MERGE that reads those changes again
    ///   (its range starts at the watermark partition, inclusive) sees them as already applied.
    /// - Full-load files of earlier loads that are still in the table folder (a counter that
    ///   went on rather than starting again) are not read: only the paths listed in `reload`.
    pub fn rebuild_sql(&self, reload: &ReloadSource) -> Result<String, SqlError> {
        let Some(_) = &self.timestamp else {
            return Err(SqlError::ReloadWithoutTimestamp {
                table: self.table.0.clone(),
            });
        };
        if reload.files.is_empty() {
            return Err(SqlError::ReloadWithoutFiles {
                table: self.table.0.clone(),
            });
        }
        let written_after = checked_timestamp(&self.table.0, &reload.written_after)?;
        let mut paths = Vec::with_capacity(reload.files.len());
        for f in &reload.files {
            paths.push(string_literal(&checked_s3_url(f)?));
        }
        let q = |s: &str| quote_dml(s);
        let path = format!("\"r\".{}", q(PATH_COLUMN));
        let is_load = format!("{path} IN ({})", paths.join(", "));
        let filter = format!(
            "({is_load} OR NOT regexp_like({path}, {}))",
            string_literal(FULL_LOAD_PATH_PATTERN)
        );
        let union = self.source_rows(Some(&filter), &format!(", {is_load} AS {}", q(LOAD_ALIAS)));
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("\"u\".{}", c.name.quoted()))
            .collect();
        let (load, ts, seq) = (q(LOAD_ALIAS), q(TS_ALIAS), q(SEQ_COLUMN));
        let kept = format!(
            "SELECT {cols}, \"u\".{op}, \"u\".{rank}, CASE WHEN \"u\".{load} THEN greatest(\"u\".{seq}, \"f\".\"floor\") ELSE \"u\".{seq} END AS {seq}, \"u\".{ts}, \"u\".{file} \
             FROM \"u\" CROSS JOIN \"b\" CROSS JOIN \"f\" WHERE \"u\".{load} OR \"u\".{ts} >= \"b\".\"start\"",
            cols = cols.join(", "),
            op = q(OP_ALIAS),
            rank = q(RANK_ALIAS),
            file = q(FILE_ALIAS),
        );
        let keys_match: Vec<String> = self
            .key
            .iter()
            .map(|k| format!("\"n\".{0} = \"x\".{0}", k.quoted()))
            .collect();
        let gone: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                if self.key.contains(&c.name) {
                    format!("\"x\".{}", c.name.quoted())
                } else {
                    format!("CAST(NULL AS {}) AS {}", c.ty.dml(), c.name.quoted())
                }
            })
            .collect();
        let out_cols: Vec<String> = self.columns.iter().map(|c| c.name.quoted()).collect();
        let source = format!(
            "WITH \"u\" AS ({union}), \
             \"b\" AS (SELECT COALESCE(min(CASE WHEN {load} AND {ts} <> '' THEN {ts} END), {after}) AS \"start\" FROM \"u\"), \
             \"f\" AS (SELECT COALESCE(max(\"u\".{seq}), '') AS \"floor\" FROM \"u\" CROSS JOIN \"b\" WHERE NOT \"u\".{load} AND \"u\".{ts} < \"b\".\"start\"), \
             \"k\" AS ({kept}), \
             \"n\" AS ({reduced}) \
             SELECT {out}, {op}, {seq} FROM \"n\" \
             UNION ALL SELECT {gone}, 'D' AS {op}, '' AS {seq} FROM {target} AS \"x\" \
             WHERE NOT EXISTS (SELECT 1 FROM \"n\" WHERE {keys_match})",
            after = string_literal(&written_after),
            reduced = self.reduced("\"k\""),
            out = out_cols.join(", "),
            op = q(OP_ALIAS),
            gone = gone.join(", "),
            target = self.curated_dml(),
            keys_match = keys_match.join(" AND "),
        );
        self.merge_from(&source, None)
    }

    /// The `MERGE INTO` the curated table from `source` (rows of curated columns, op and order
    /// key, one per key): a `D` deletes the row, anything else updates or inserts it; `guard`,
    /// when given, must also hold for a matched row to change.
    fn merge_from(&self, source: &str, guard: Option<&str>) -> Result<String, SqlError> {
        let op = quote_dml(OP_ALIAS);
        let guard = guard.map(|g| format!(" AND {g}")).unwrap_or_default();
        let sql = format!(
            "MERGE INTO {target} AS \"t\" USING ({source}) AS \"s\" ON {on} \
             WHEN MATCHED AND \"s\".{op} = 'D'{guard} THEN DELETE \
             WHEN MATCHED AND \"s\".{op} <> 'D'{guard} THEN UPDATE SET {set} \
             WHEN NOT MATCHED AND \"s\".{op} <> 'D' THEN INSERT {insert}",
            target = self.curated_dml(),
            on = self.key_join("t", "s"),
            set = self.update_set(),
            insert = self.insert_values(),
        );
        self.checked_length(sql)
    }

    fn checked_length(&self, sql: String) -> Result<String, SqlError> {
        if sql.len() > MAX_QUERY_BYTES {
            return Err(SqlError::TooLong {
                table: self.table.0.clone(),
                bytes: sql.len(),
            });
        }
        Ok(sql)
    }

    /// `"a".k1 = "b".k1 AND ...` over the key columns.
    fn key_join(&self, a: &str, b: &str) -> String {
        let on: Vec<String> = self
            .key
            .iter()
            .map(|k| format!("\"{a}\".{0} = \"{b}\".{0}", k.quoted()))
            .collect();
        on.join(" AND ")
    }

    /// `col = "s".col, ...` for the non-key columns and the order key.
    fn update_set(&self) -> String {
        let set: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !self.key.contains(&c.name))
            .map(|c| format!("{0} = \"s\".{0}", c.name.quoted()))
            .chain(std::iter::once(format!(
                "{0} = \"s\".{0}",
                quote_dml(SEQ_COLUMN)
            )))
            .collect();
        set.join(", ")
    }

    /// `(cols, _dmslake_seq) VALUES ("s".cols, "s"._dmslake_seq)`.
    fn insert_values(&self) -> String {
        let mut insert_cols: Vec<String> = self.columns.iter().map(|c| c.name.quoted()).collect();
        insert_cols.push(quote_dml(SEQ_COLUMN));
        let values: Vec<String> = insert_cols.iter().map(|c| format!("\"s\".{c}")).collect();
        format!(
            "({}) VALUES ({})",
            insert_cols.join(", "),
            values.join(", ")
        )
    }

    /// The raw rows matching `pred` as changes (curated columns cast, op, rank 1, order key,
    /// timestamp, file), plus, for a primary-key update, a delete of the old key (rank 0);
    /// `extra` is appended to the common columns of both.
    fn source_rows(&self, pred: Option<&str>, extra: &str) -> String {
        let where_range = pred.map(|p| format!(" WHERE {p}"));
        let order = self.order_key();
        let tie = self.tie_break();
        let path = format!("\"r\".{}", quote_dml(PATH_COLUMN));
        let q = |s: &str| quote_dml(s);

        // Change rows.
        let mut select = Vec::new();
        for c in &self.columns {
            select.push(format!(
                "{} AS {}",
                self.cast(&c.name, c.ty),
                c.name.quoted()
            ));
        }
        let common = format!(
            "{order} AS {seq}, {tie} AS {ts}, {path} AS {file}{extra}",
            seq = q(SEQ_COLUMN),
            ts = q(TS_ALIAS),
            file = q(FILE_ALIAS)
        );
        let changes = format!(
            "SELECT {}, {} AS {}, 1 AS {}, {common} FROM {} AS \"r\"{}",
            select.join(", "),
            self.op_expr(),
            q(OP_ALIAS),
            q(RANK_ALIAS),
            self.raw_dml(),
            where_range.clone().unwrap_or_default()
        );

        // Old keys of primary-key updates, as deletes with the update's order key.
        let old_keys = self.before_key.as_ref().map(|before| {
            let mut sel = Vec::new();
            for c in &self.columns {
                let value = match self.key.iter().position(|k| *k == c.name) {
                    Some(i) => self.cast(&before[i], c.ty),
                    None => format!("CAST(NULL AS {})", c.ty.dml()),
                };
                sel.push(format!("{value} AS {}", c.name.quoted()));
            }
            let mut conds = Vec::new();
            if let Some(op) = &self.op {
                conds.push(format!("upper(trim(\"r\".{})) = 'U'", op.quoted()));
            }
            let mut differs = Vec::new();
            for (k, b) in self.key.iter().zip(before) {
                let ty = self
                    .columns
                    .iter()
                    .find(|c| c.name == *k)
                    .map(|c| c.ty)
                    .unwrap_or(GlueType::String);
                conds.push(format!("{} IS NOT NULL", self.cast(b, ty)));
                differs.push(format!(
                    "{} IS DISTINCT FROM {}",
                    self.cast(b, ty),
                    self.cast(k, ty)
                ));
            }
            conds.push(format!("({})", differs.join(" OR ")));
            if let Some(p) = pred {
                conds.insert(0, format!("({p})"));
            }
            format!(
                "SELECT {}, 'D' AS {}, 0 AS {}, {common} FROM {} AS \"r\" WHERE {}",
                sel.join(", "),
                q(OP_ALIAS),
                q(RANK_ALIAS),
                self.raw_dml(),
                conds.join(" AND ")
            )
        });

        match old_keys {
            Some(o) => format!("{changes} UNION ALL {o}"),
            None => changes,
        }
    }

    /// The rows of `relation` (columns as [`Self::source_rows`] makes them) reduced to the last
    /// change per key: curated columns, op, order key.
    fn reduced(&self, relation: &str) -> String {
        let q = |s: &str| quote_dml(s);
        let key_list: Vec<String> = self.key.iter().map(|k| k.quoted()).collect();
        let key_not_null: Vec<String> = self
            .key
            .iter()
            .map(|k| format!("\"c\".{} IS NOT NULL", k.quoted()))
            .collect();
        let out_cols: Vec<String> = self.columns.iter().map(|c| c.name.quoted()).collect();
        format!(
            "SELECT {cols}, {op}, {seq} FROM (SELECT \"c\".*, row_number() OVER (PARTITION BY {keys} ORDER BY {seq} DESC, {ts} DESC, {rank} DESC, {file} DESC) AS {rn} FROM {relation} AS \"c\" WHERE {notnull}) AS \"d\" WHERE {rn} = 1",
            cols = out_cols.join(", "),
            op = q(OP_ALIAS),
            seq = q(SEQ_COLUMN),
            ts = q(TS_ALIAS),
            keys = key_list.join(", "),
            rank = q(RANK_ALIAS),
            file = q(FILE_ALIAS),
            rn = q(ROW_ALIAS),
            notnull = key_not_null.join(" AND "),
        )
    }
}

/// The files of a new full load, as [`CompactionTable::rebuild_sql`] reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadSource {
    /// `s3://bucket/key` of every file of the new full load.
    pub files: Vec<String>,
    /// `yyyy-MM-dd HH:mm:ss[.ffffff]`: the reload started no later than this (the earliest
    /// write time of its files); the reload's start when its rows carry no timestamp.
    pub written_after: String,
}

/// `value` when it is a `yyyy-MM-dd HH:mm:ss[.f...]` timestamp (digits and separators only).
fn checked_timestamp(table: &str, value: &str) -> Result<String, SqlError> {
    let ok = value.len() >= 19
        && value.len() <= 26
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            19 => b == b'.',
            _ => b.is_ascii_digit(),
        });
    if ok {
        Ok(value.to_string())
    } else {
        Err(SqlError::InvalidReloadTime {
            table: table.to_string(),
            value: value.to_string(),
        })
    }
}

/// `url` when it is an `s3://bucket/key` URL without control characters.
fn checked_s3_url(url: &str) -> Result<String, SqlError> {
    let ok = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        && !url.chars().any(char::is_control);
    if ok {
        Ok(url.to_string())
    } else {
        Err(SqlError::InvalidLocation {
            value: url.to_string(),
        })
    }
}

/// The predicate on `"$path"` reading an unpartitioned raw table's window of files
/// ([`PartitionRange::from_file`] to [`PartitionRange::to_file`], both inclusive); `None`
/// without bounds (the whole table). `"$path"` is the file's full path, `s3://bucket/key`
/// (Trino Hive connector documentation, "Metadata columns"). The connector skips a file whose
/// path fails a comparison on `"$path"` before reading it (measured on Trino 476: a
/// `"$path" >` predicate over 50 CSV files read 0.5 MB of 6.2 MB), so the merge reads the new
/// files only. Full-load files (`LOAD...`, `SEGMENTn_LOAD...`) sort after every digit-named
/// change file: the upper bound leaves them out, and a first merge (no lower bound) adds them
/// back explicitly.
fn file_window(range: &PartitionRange) -> Result<Option<String>, SqlError> {
    let path = format!("\"r\".{}", quote_dml(PATH_COLUMN));
    let literal = |url: &str| checked_s3_url(url).map(|u| string_literal(&u));
    let is_load = format!(
        "regexp_like({path}, {})",
        string_literal(FULL_LOAD_PATH_PATTERN)
    );
    let from = range.from_file.as_deref().map(literal).transpose()?;
    let to = range.to_file.as_deref().map(literal).transpose()?;
    Ok(match (from, to) {
        (None, None) => None,
        (Some(from), Some(to)) => Some(format!("{path} >= {from} AND {path} <= {to}")),
        (Some(from), None) => Some(format!("{path} >= {from} AND NOT {is_load}")),
        (None, Some(to)) => Some(format!("({path} <= {to} OR {is_load})")),
    })
}

/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ... OR (k1 = v1 AND ... AND kn = vn)` for `>`;
/// likewise for `<`. Both bounds are inclusive.
fn lexicographic(keys: &[Ident], values: &[String], cmp: &str) -> String {
    let mut alternatives = Vec::new();
    for i in 0..keys.len() {
        let mut conj: Vec<String> = (0..i)
            .map(|j| {
                format!(
                    "\"r\".{} = {}",
                    keys[j].quoted(),
                    string_literal(&values[j])
                )
            })
            .collect();
        conj.push(format!(
            "\"r\".{} {cmp} {}",
            keys[i].quoted(),
            string_literal(&values[i])
        ));
        alternatives.push(format!("({})", conj.join(" AND ")));
    }
    let all_eq: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| format!("\"r\".{} = {}", k.quoted(), string_literal(v)))
        .collect();
    alternatives.push(format!("({})", all_eq.join(" AND ")));
    format!("({})", alternatives.join(" OR "))
}

fn parse_partition_field(
    table: &str,
    spec: &str,
    columns: &[CuratedColumn],
) -> Result<PartitionField, SqlError> {
    let bad = || SqlError::InvalidPartitioning {
        table: table.to_string(),
        spec: spec.to_string(),
    };
    let s = spec.trim();
    let (transform, column) = match s.split_once('(') {
        Some((t, rest)) => {
            let col = rest.strip_suffix(')').ok_or_else(bad)?;
            let t = match t.trim() {
                "year" => "year",
                "month" => "month",
                "day" => "day",
                "hour" => "hour",
                _ => return Err(bad()),
            };
            (Some(t), col.trim())
        }
        None => (None, s),
    };
    let column = columns
        .iter()
        .find(|c| c.name.as_str() == column)
        .ok_or_else(bad)?;
    if transform.is_some() && !matches!(column.ty, GlueType::Date | GlueType::Timestamp) {
        return Err(bad());
    }
    Ok(PartitionField {
        transform,
        column: column.name.clone(),
    })
}

/// `s3://bucket/prefix/` + `table/`, after checking the prefix is an S3 URL.
fn table_location(prefix: &str, table: &str) -> Result<String, SqlError> {
    let bad = || SqlError::InvalidLocation {
        value: prefix.to_string(),
    };
    let rest = prefix.strip_prefix("s3://").ok_or_else(bad)?;
    let bucket = rest.split('/').next().unwrap_or_default();
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let path_ok = rest
        .chars()
        .all(|c| !c.is_control() && c != '\'' && c != '\\');
    if !bucket_ok || !path_ok || rest.split('/').any(|seg| seg == "..") {
        return Err(bad());
    }
    let base = prefix.trim_end_matches('/');
    Ok(format!("{base}/{table}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_follows_the_same_rule_as_normalise_name() {
        for (name, want) in [
            ("Order_ID", "order_id"),
            ("ar_h_change_seq", "ar_h_change_seq"),
            ("BI_", "bi_"),
            ("my-col name$", "my_col_name_"),
            ("Größe", "gr__e"),
            ("x.y", "x_y"),
        ] {
            assert_eq!(normalise(name), want, "{name}");
            assert_eq!(
                crate::schema::normalise_name(name).as_deref(),
                Ok(want),
                "{name}"
            );
        }
    }

    fn spec(format: FileFormat, cols: &[(&str, &str)], key: &[&str]) -> TableSpec {
        TableSpec {
            raw_database: "raw".into(),
            table: "public_t".into(),
            format,
            columns: cols
                .iter()
                .map(|(n, t)| Column::new(*n, GlueType::parse(t).expect("a test type")))
                .collect(),
            partition_keys: vec!["year".into(), "month".into(), "day".into()],
            dms: DmsColumns {
                timestamp: "ts".into(),
                change_sequence: "seq".into(),
                before_image_prefix: "before_".into(),
            },
            primary_key: key.iter().map(|s| s.to_string()).collect(),
            curated_database: "cur".into(),
            curated_location: "s3://lake/curated/".into(),
            partitioning: vec![],
            type_overrides: BTreeMap::new(),
        }
    }

    const CSV_COLS: &[(&str, &str)] = &[
        ("op", "string"),
        ("ts", "string"),
        ("id", "string"),
        ("name", "string"),
        ("seq", "string"),
        ("before_id", "string"),
    ];

    #[test]
    fn identifiers_outside_the_glue_alphabet_are_refused() {
        for bad in [
            "",
            "A",
            "a b",
            "a\"b",
            "a`b",
            "a;b",
            "a'b",
            "é",
            "a-b",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(Ident::new("column", bad).is_err(), "{bad:?}");
        }
        for good in ["a", "order_id", "_x", "9lives", &"x".repeat(255)] {
            assert_eq!(Ident::new("column", good).expect(good).as_str(), good);
        }
    }

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(string_literal("a'b"), "'a''b'");
        assert_eq!(string_literal("''"), "''''''");
    }

    #[test]
    fn type_mapping_widens_and_refuses_unknown_types() {
        let cases: &[(&str, Option<&str>)] = &[
            ("tinyint", Some("int")),
            ("smallint", Some("int")),
            ("int", Some("int")),
            ("bigint", Some("bigint")),
            ("float", Some("float")),
            ("double", Some("double")),
            ("decimal(15,2)", Some("decimal(15,2)")),
            ("decimal(38, 4)", Some("decimal(38,4)")),
            ("decimal(39,1)", None),
            ("decimal(5,6)", None),
            ("boolean", Some("boolean")),
            ("char(3)", Some("string")),
            ("varchar(20)", Some("string")),
            ("string", Some("string")),
            ("date", Some("date")),
            ("timestamp", Some("timestamp")),
            ("binary", Some("binary")),
            ("array<int>", None),
            ("map<string,string>", None),
            ("time", None),
        ];
        for (glue, want) in cases {
            assert_eq!(
                GlueType::parse(glue)
                    .ok()
                    .map(|t| t.iceberg().to_string())
                    .as_deref(),
                *want,
                "{glue}"
            );
        }
    }

    #[test]
    fn dms_columns_are_not_curated_and_before_images_are_found() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        let names: Vec<&str> = t.columns().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name"]);
        assert!(t.handles_key_updates());
        assert!(t.has_change_sequence());
        assert_eq!(t.location(), "s3://lake/curated/public_t/");
    }

    #[test]
    fn only_the_prefix_paired_with_a_key_column_is_a_before_image() {
        let cols: &[(&str, &str)] = &[
            ("op", "string"),
            ("ts", "string"),
            ("order_id", "string"),
            ("id", "string"),
            ("before_id", "string"),
            ("before_code", "string"),
            ("seq", "string"),
            ("before_order_id", "string"),
        ];
        let t = CompactionTable::plan(&spec(FileFormat::Csv, cols, &["order_id"])).expect("plan");
        let names: Vec<&str> = t.columns().iter().map(|c| c.name.as_str()).collect();
        // `before_id` pairs with a column but not with a key column: an ordinary column.
        assert_eq!(names, ["order_id", "id", "before_id", "before_code"]);
        assert!(t.handles_key_updates());
        let sql = t.merge_sql(&PartitionRange::default()).expect("merge");
        assert!(sql.contains("\"before_order_id\""), "{sql}");
        // Without the key's before-image, key updates are not handled and nothing is dropped.
        let plain: Vec<(&str, &str)> = cols
            .iter()
            .copied()
            .filter(|(n, _)| *n != "before_order_id")
            .collect();
        let t = CompactionTable::plan(&spec(FileFormat::Csv, &plain, &["order_id"])).expect("plan");
        assert!(!t.handles_key_updates());
        assert_eq!(t.columns().len(), 4);
    }

    #[test]
    fn a_table_without_key_or_order_column_is_refused() {
        let err = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &[])).unwrap_err();
        assert!(matches!(err, SqlError::NoPrimaryKey { .. }), "{err}");
        let err = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["nope"])).unwrap_err();
        assert!(matches!(err, SqlError::UnknownKeyColumn { .. }), "{err}");
        let err = CompactionTable::plan(&spec(FileFormat::Csv, &[("id", "string")], &["id"]))
            .unwrap_err();
        assert!(matches!(err, SqlError::NoOrderColumn { .. }), "{err}");
        // A type without an Iceberg mapping cannot even become a raw column: reading the
        // table refuses it (`GlueType::parse`, used by the Glue adapter).
        let err = GlueType::parse("array<string>").unwrap_err();
        assert!(err.to_string().contains("array<string>"), "{err}");
    }

    #[test]
    fn merge_reads_only_the_partition_range() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        let range = PartitionRange {
            from: Some(vec!["2024".into(), "06".into(), "12".into()]),
            to: Some(vec!["2024".into(), "07".into(), "05".into()]),
            ..Default::default()
        };
        let sql = t.merge_sql(&range).expect("merge");
        assert!(
            sql.contains(
                "(\"r\".\"year\" > '2024') OR (\"r\".\"year\" = '2024' AND \"r\".\"month\" > '06')"
            ),
            "{sql}"
        );
        assert!(sql.contains("\"r\".\"day\" < '05'"), "{sql}");
        let bad = PartitionRange {
            from: Some(vec!["2024' OR '1'='1".into(), "06".into(), "12".into()]),
            to: None,
            ..Default::default()
        };
        assert!(matches!(
            t.merge_sql(&bad),
            Err(SqlError::InvalidPartitionValue { .. })
        ));
        let short = PartitionRange {
            from: Some(vec!["2024".into()]),
            to: None,
            ..Default::default()
        };
        assert!(t.merge_sql(&short).is_err());
    }

    #[test]
    fn the_newest_commit_is_read_from_the_newest_partition_only() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        let range = PartitionRange {
            from: Some(vec!["2024".into(), "06".into(), "12".into()]),
            to: Some(vec!["2024".into(), "07".into(), "05".into()]),
            ..Default::default()
        };
        let sql = t
            .newest_commit_sql(&range)
            .expect("sql")
            .expect("a timestamp column");
        assert!(
            sql.starts_with("SELECT max(CAST(\"r\".\"ts\" AS varchar)) AS \"newest_commit\" FROM \"raw\".\"public_t\" AS \"r\" WHERE "),
            "{sql}"
        );
        assert!(sql.contains("\"r\".\"day\" = '05'"), "{sql}");
        assert!(!sql.contains("'06'") && !sql.contains("'12'"), "{sql}");
        let mut unpartitioned = spec(FileFormat::Csv, CSV_COLS, &["id"]);
        unpartitioned.partition_keys.clear();
        let t = CompactionTable::plan(&unpartitioned).expect("plan");
        let sql = t
            .newest_commit_sql(&PartitionRange::default())
            .expect("sql")
            .expect("a timestamp column");
        assert!(!sql.contains("WHERE"), "{sql}");
    }

    fn unpartitioned() -> CompactionTable {
        let mut spec = spec(FileFormat::Csv, CSV_COLS, &["id"]);
        spec.partition_keys.clear();
        CompactionTable::plan(&spec).expect("plan")
    }

    fn window(from: Option<&str>, to: Option<&str>) -> PartitionRange {
        PartitionRange {
            from_file: from.map(str::to_string),
            to_file: to.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn an_unpartitioned_merge_reads_its_window_of_files_by_path() {
        let t = unpartitioned();
        let a = "s3://lake/dms/public/t/20261124-101500123.csv";
        let b = "s3://lake/dms/public/t/20261124-103000456.csv";
        let path = "\"r\".\"$path\"";
        let load = format!("regexp_like({path}, '{FULL_LOAD_PATH_PATTERN}')");
        // A later merge: the last file merged (again) up to the newest listed, no full load.
        let sql = t.merge_sql(&window(Some(a), Some(b))).expect("merge");
        let later = format!("WHERE {path} >= '{a}' AND {path} <= '{b}'");
        assert!(sql.contains(&later), "{sql}");
        assert!(!sql.contains("regexp_like"), "{sql}");
        // The first merge: every full-load file and the changes up to the newest listed.
        let sql = t.merge_sql(&window(None, Some(b))).expect("merge");
        let first = format!("WHERE ({path} <= '{b}' OR {load})");
        assert!(sql.contains(&first), "{sql}");
        // Only a lower bound: never the full load again.
        let sql = t.merge_sql(&window(Some(a), None)).expect("merge");
        assert!(
            sql.contains(&format!("WHERE {path} >= '{a}' AND NOT {load}")),
            "{sql}"
        );
        // No window: the whole table, as before.
        let sql = t.merge_sql(&PartitionRange::default()).expect("merge");
        assert!(!sql.contains(&format!("{path} >=")) && !sql.contains(&format!("{path} <=")));
        // The window applies to the old keys of key updates too, and next to a reload's guard.
        let sql = t
            .merge_sql_since(&window(Some(a), Some(b)), Some("2026-11-24 10:00:00"))
            .expect("merge");
        assert!(
            sql.contains(&format!("{path} >= '{a}' AND {path} <= '{b}' AND ")),
            "{sql}"
        );
        // A path's quote is doubled, never closes the literal.
        let quoted = "s3://lake/dms/public/t/2026'1124.csv";
        let sql = t.merge_sql(&window(Some(quoted), Some(b))).expect("merge");
        assert!(
            sql.contains("'s3://lake/dms/public/t/2026''1124.csv'"),
            "{sql}"
        );
    }

    #[test]
    fn a_hostile_file_bound_is_refused() {
        let t = unpartitioned();
        let good = "s3://lake/dms/public/t/20261124-101500123.csv";
        for bad in [
            "' OR 1=1 --",
            "20261124-101500123.csv",
            "s3://lake",
            "s3:///key",
            "s3://lake/dms/t/a.csv\n' OR true",
        ] {
            for range in [window(Some(bad), Some(good)), window(Some(good), Some(bad))] {
                assert!(
                    matches!(t.merge_sql(&range), Err(SqlError::InvalidLocation { .. })),
                    "{bad:?}"
                );
                assert!(t.newest_commit_sql(&range).is_err(), "{bad:?}");
            }
        }
    }

    #[test]
    fn an_unpartitioned_newest_commit_reads_the_merge_window() {
        let t = unpartitioned();
        let a = "s3://lake/dms/public/t/20261124-101500123.csv";
        let b = "s3://lake/dms/public/t/20261124-103000456.csv";
        let sql = t
            .newest_commit_sql(&window(Some(a), Some(b)))
            .expect("sql")
            .expect("a timestamp column");
        assert!(
            sql.ends_with(&format!(
                "AS \"r\" WHERE \"r\".\"$path\" >= '{a}' AND \"r\".\"$path\" <= '{b}'"
            )),
            "{sql}"
        );
    }

    #[test]
    fn partitioning_accepts_identity_and_time_transforms_only() {
        let mut s = spec(
            FileFormat::Parquet,
            &[("ts", "string"), ("id", "int"), ("at", "timestamp")],
            &["id"],
        );
        s.partitioning = vec!["day(at)".into(), "id".into()];
        let t = CompactionTable::plan(&s).expect("plan");
        assert!(t
            .create_table_sql()
            .contains("PARTITIONED BY (day(`at`), `id`)"));
        for bad in ["day(id)", "bucket(4, id)", "nope", "day(at", "at) OR (1"] {
            s.partitioning = vec![bad.into()];
            assert!(
                matches!(
                    CompactionTable::plan(&s),
                    Err(SqlError::InvalidPartitioning { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn add_columns_names_only_the_curated_columns_missing_from_the_existing_list() {
        let cols: &[(&str, &str)] = &[
            ("op", "string"),
            ("ts", "string"),
            ("id", "int"),
            ("a", "string"),
            ("price", "decimal(15,2)"),
            ("at", "timestamp"),
            ("seq", "string"),
            ("before_id", "int"),
        ];
        let t = CompactionTable::plan(&spec(FileFormat::Parquet, cols, &["id"])).expect("plan");
        let alter = |c: &str| format!("ALTER TABLE `cur`.`public_t` ADD COLUMNS ({c})");
        #[rustfmt::skip]
        let cases: &[(&[&str], Vec<String>)] = &[
            (&["id", "a", "price", "at"], vec![]),
            (&["id", "a"], vec![alter("`price` decimal(15,2)"), alter("`at` timestamp")]),
            // Order follows the curated table, not the existing list.
            (&["at", "id"], vec![alter("`a` string"), alter("`price` decimal(15,2)")]),
            // A column the raw table lost is kept: nothing is dropped.
            (&["id", "a", "price", "at", "gone"], vec![]),
            (&["id", "a", "gone"], vec![alter("`price` decimal(15,2)"), alter("`at` timestamp")]),
            // DMS columns and the order-key column are never curated columns.
            (&["id", "a", "price", "at", "op", "ts", "seq", "before_id", SEQ_COLUMN], vec![]),
            // Names are compared as stored (normalised): another spelling is another column.
            (&["ID", "a", "price", "at"], vec![alter("`id` int")]),
            (&[], vec![alter("`id` int"), alter("`a` string"), alter("`price` decimal(15,2)"), alter("`at` timestamp")]),
        ];
        for (existing, want) in cases {
            let existing: Vec<String> = existing.iter().map(|s| s.to_string()).collect();
            assert_eq!(&t.add_columns_sql(&existing), want, "{existing:?}");
        }
    }

    #[test]
    fn added_csv_columns_take_the_override_type_or_string() {
        let mut s = spec(FileFormat::Csv, CSV_COLS, &["id"]);
        s.columns
            .push(Column::new("qty", GlueType::parse("string").expect("type")));
        s.columns.push(Column::new(
            "note",
            GlueType::parse("string").expect("type"),
        ));
        s.type_overrides
            .insert("qty".into(), GlueType::parse("bigint").expect("type"));
        let t = CompactionTable::plan(&s).expect("plan");
        assert_eq!(
            t.add_columns_sql(&["id".into(), "name".into()]),
            [
                "ALTER TABLE `cur`.`public_t` ADD COLUMNS (`qty` bigint)",
                "ALTER TABLE `cur`.`public_t` ADD COLUMNS (`note` string)",
            ]
        );
    }

    #[test]
    fn locations_must_be_s3_urls_without_quotes() {
        assert_eq!(
            table_location("s3://b-1/x/y", "t").expect("ok"),
            "s3://b-1/x/y/t/"
        );
        for bad in ["b/x", "s3://B/x", "s3://bb/x'y", "s3://bb/../x", "s3://b/x"] {
            assert!(table_location(bad, "t").is_err(), "{bad}");
        }
    }

    fn reload(files: &[&str]) -> ReloadSource {
        ReloadSource {
            files: files.iter().map(|f| f.to_string()).collect(),
            written_after: "2026-11-29 03:00:00.000000".into(),
        }
    }

    #[test]
    fn rebuild_reads_the_new_load_files_and_the_changes_of_every_partition() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        let sql = t
            .rebuild_sql(&reload(&[
                "s3://dms/public/t/LOAD00000001.csv",
                "s3://dms/public/t/LOAD00000002.csv",
            ]))
            .expect("rebuild");
        let load = "\"r\".\"$path\" IN ('s3://dms/public/t/LOAD00000001.csv', 's3://dms/public/t/LOAD00000002.csv')";
        #[rustfmt::skip]
        let wanted: &[(&str, String)] = &[
            ("only the listed full-load files, and every file that is not a full load",
             format!("WHERE ({load} OR NOT regexp_like(\"r\".\"$path\", '{FULL_LOAD_PATH_PATTERN}'))")),
            ("load rows marked", format!("{load} AS \"_dmslake_load\"")),
            ("the reload starts at its rows' earliest timestamp, else when its files were written",
             "COALESCE(min(CASE WHEN \"_dmslake_load\" AND \"_dmslake_ts\" <> '' THEN \"_dmslake_ts\" END), '2026-11-29 03:00:00.000000') AS \"start\"".into()),
            ("changes before the reload are left out",
             "WHERE \"u\".\"_dmslake_load\" OR \"u\".\"_dmslake_ts\" >= \"b\".\"start\"".into()),
            ("load rows take the order key of the last change they contain",
             "CASE WHEN \"u\".\"_dmslake_load\" THEN greatest(\"u\".\"_dmslake_seq\", \"f\".\"floor\") ELSE \"u\".\"_dmslake_seq\" END".into()),
            ("the floor is the greatest order key before the reload",
             "SELECT COALESCE(max(\"u\".\"_dmslake_seq\"), '') AS \"floor\" FROM \"u\" CROSS JOIN \"b\" WHERE NOT \"u\".\"_dmslake_load\" AND \"u\".\"_dmslake_ts\" < \"b\".\"start\"".into()),
            ("rows not in the result are deleted",
             "UNION ALL SELECT \"x\".\"id\", CAST(NULL AS varchar) AS \"name\", 'D' AS \"_dmslake_op\", '' AS \"_dmslake_seq\" FROM \"cur\".\"public_t\" AS \"x\" WHERE NOT EXISTS (SELECT 1 FROM \"n\" WHERE \"n\".\"id\" = \"x\".\"id\")".into()),
            ("matched rows are replaced whatever their order key",
             "WHEN MATCHED AND \"s\".\"_dmslake_op\" = 'D' THEN DELETE WHEN MATCHED AND \"s\".\"_dmslake_op\" <> 'D' THEN UPDATE SET \"name\" = \"s\".\"name\", \"_dmslake_seq\" = \"s\".\"_dmslake_seq\" WHEN NOT MATCHED AND \"s\".\"_dmslake_op\" <> 'D' THEN INSERT".into()),
        ];
        for (what, text) in wanted {
            assert!(sql.contains(text.as_str()), "{what}: {text}\nnot in\n{sql}");
        }
        assert!(
            !sql.contains("\"r\".\"year\" >"),
            "no partition range: {sql}"
        );
        assert!(
            sql.starts_with(
                "MERGE INTO \"cur\".\"public_t\" AS \"t\" USING (WITH \"u\" AS (SELECT "
            ),
            "{sql}"
        );
    }

    #[test]
    fn a_merge_after_a_reload_leaves_out_the_changes_before_it() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        let range = PartitionRange {
            from: Some(vec!["2024".into(), "06".into(), "12".into()]),
            to: None,
            ..Default::default()
        };
        assert_eq!(t.merge_sql_since(&range, None), t.merge_sql(&range));
        let sql = t
            .merge_sql_since(&range, Some("2024-06-12 10:00:00.5"))
            .expect("merge");
        let since = "COALESCE(CAST(\"r\".\"ts\" AS varchar), '') >= '2024-06-12 10:00:00.5'";
        // In the changes and in the old keys of key updates.
        assert_eq!(sql.matches(since).count(), 2, "{sql}");
        assert!(matches!(
            t.merge_sql_since(&range, Some("yesterday")),
            Err(SqlError::InvalidReloadTime { .. })
        ));
    }

    #[test]
    fn rebuild_refuses_what_it_cannot_apply_safely() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        let mut no_ts = spec(FileFormat::Csv, CSV_COLS, &["id"]);
        no_ts.dms.timestamp = "absent".into();
        let no_ts = CompactionTable::plan(&no_ts).expect("plan");
        let ok = reload(&["s3://dms/public/t/LOAD00000001.csv"]);
        let at = |written_after: &str| ReloadSource {
            written_after: written_after.into(),
            ..ok.clone()
        };
        #[rustfmt::skip]
        let cases: Vec<(&CompactionTable, ReloadSource, &str)> = vec![
            (&no_ts, ok.clone(), "ReloadWithoutTimestamp"),
            (&t, reload(&[]), "ReloadWithoutFiles"),
            (&t, at("2026-11-29T03:00:00"), "InvalidReloadTime"),
            (&t, at("2026-11-29 03:00:00' OR '1'='1"), "InvalidReloadTime"),
            (&t, at(""), "InvalidReloadTime"),
            (&t, reload(&["/public/t/LOAD00000001.csv"]), "InvalidLocation"),
            (&t, reload(&["s3://dms/x\n"]), "InvalidLocation"),
            (&t, reload(&["s3://dms/"]), "InvalidLocation"),
        ];
        for (table, source, want) in cases {
            let got = table.rebuild_sql(&source);
            assert!(format!("{got:?}").contains(want), "{source:?}: {got:?}");
        }
        assert!(t.rebuild_sql(&at("2026-11-29 03:00:00")).is_ok());
        // A quote in a key is data, not SQL.
        let quoted = t
            .rebuild_sql(&reload(&["s3://dms/public/t'x/LOAD00000001.csv"]))
            .expect("rebuild");
        assert!(
            quoted.contains("'s3://dms/public/t''x/LOAD00000001.csv'"),
            "{quoted}"
        );
    }

    #[test]
    fn rebuild_of_a_table_with_key_updates_also_deletes_old_keys_after_the_reload_only() {
        let t = CompactionTable::plan(&spec(FileFormat::Csv, CSV_COLS, &["id"])).expect("plan");
        assert!(t.handles_key_updates());
        let sql = t
            .rebuild_sql(&reload(&["s3://dms/public/t/LOAD00000001.csv"]))
            .expect("rebuild");
        // The old-key rows pass through the same reload boundary as the changes.
        let old_keys = sql.split(" UNION ALL ").nth(1).expect("old keys branch");
        assert!(
            old_keys.contains("'D' AS \"_dmslake_op\", 0 AS \"_dmslake_rank\""),
            "{old_keys}"
        );
        assert!(old_keys.contains("AS \"_dmslake_load\""), "{old_keys}");
        assert!(old_keys.contains("\"r\".\"$path\" IN ("), "{old_keys}");
    }
}
