//! Pure planning of the raw Glue catalog: table names, table definitions, partitions.
//!
//! Conventions (the compactor, the CLI and the README rely on them):
//! - Table name: `<schema>_<table>`, each part normalised by [`crate::schema::normalise_name`] (lower case, every
//!   character outside `[a-z0-9_]` becomes `_`). Two different source tables that map to one
//!   name are refused ([`CatalogError::NameCollision`]), never merged.
//! - Table parameters: `dmslake.source_schema`, `dmslake.source_table` (exact names from the
//!   key), `dmslake.format` and `classification` (`csv` | `parquet`), `dmslake.schema_order`
//!   (order key of the oldest file known to carry the current columns, see [`order_key`];
//!   a newer file lacking a column is a removal, an older one is simply older),
//!   `EXTERNAL=TRUE`, and for CSV with a header row `skip.header.line.count=1`.
//! - SerDe: Parquet uses `ParquetHiveSerDe` with `MapredParquetInputFormat` /
//!   `MapredParquetOutputFormat`; CSV uses `OpenCSVSerde` (`separatorChar` `,`, `quoteChar` `"`,
//!   `escapeChar` [`CSV_ESCAPE`]) with `TextInputFormat` / `HiveIgnoreKeyTextOutputFormat` (the
//!   input format reads `.gz` files transparently). Glue: "Defining tables in the AWS Glue Data
//!   Catalog"; Athena: "CSV SerDe (OpenCSVSerDe)" and "Parquet SerDe".
//! - Partitions (date partitioning on): string keys `year`, `month`, `day`, `hour` (those in
//!   `DatePartitionSequence`) in that order, `_dmslake_`-prefixed when the table has a column
//!   of that name ([`partition_keys_for`]); location = the folder holding the file. A
//!   full-load file outside a date folder goes to the all-zero partition, read through
//!   manifests naming exactly its files ([`partition_for`]).
//!
//! Schema evolution ([`evolve`]): CSV columns are matched by position, Parquet columns by name.
//! Columns a newer file adds are appended; a type change, a removed or a renamed column is a
//! [`SchemaConflict`] and is never applied.

use std::collections::BTreeMap;

use crate::config::LayoutConfig;
pub use crate::glue_type::GlueType;
use crate::layout::{self, DataKind, DmsObject, FileFormat};

/// Most entries AWS accepts in one `BatchCreatePartition` / `BatchUpdatePartition` call
/// (aws-glue-api-catalog-partitions.md).
pub const MAX_PARTITION_BATCH: usize = 100;

pub const PARAM_SOURCE_SCHEMA: &str = "dmslake.source_schema";
pub const PARAM_SOURCE_TABLE: &str = "dmslake.source_table";
pub const PARAM_FORMAT: &str = "dmslake.format";
pub const PARAM_SCHEMA_ORDER: &str = "dmslake.schema_order";
pub const PARAM_CLASSIFICATION: &str = "classification";
pub const PARAM_SKIP_HEADER: &str = "skip.header.line.count";

pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const PARQUET_INPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
pub const CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";

/// `OpenCSVSerde`'s `escapeChar` for DMS CSV: NUL. DMS quotes a field and doubles the quotes
/// inside it, and escapes nothing else, so a backslash is data (`O\'Brien`, `tab\tin`, JSON
/// text). With the SerDe's default escape `\` Athena drops each backslash and takes the next
/// character literally (Athena user guide, "Open CSV SerDe": `escapeChar` defaults to `\`). A
/// NUL cannot occur in PostgreSQL text, so nothing is escaped.
pub const CSV_ESCAPE: &str = "\u{0}";
pub const TEXT_INPUT_FORMAT: &str = "org.apache.hadoop.mapred.TextInputFormat";
pub const TEXT_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

/// Why the catalog cannot take a file.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error(
        "Glue table {table:?} already belongs to source table {existing:?}; {incoming:?} maps to the same name (rename one source table or exclude it)"
    )]
    NameCollision {
        table: String,
        existing: String,
        incoming: String,
    },
    #[error("source name cannot name a Glue table: {0}")]
    BadName(String),
    #[error(
        "source table {source_table:?} would be the Glue table <schema>_<table> of {length} characters; Glue and Athena allow at most 255 (rename the table with a DMS transformation rule or exclude it)"
    )]
    NameTooLong { source_table: String, length: usize },
    #[error(
        "{key}: a full-load file outside a date folder is read through a manifest, and no manifest location is configured (set DMSLAKE_STATE_BUCKET)"
    )]
    NoManifestLocation { key: String },
    #[error(
        "{key}: a CDC file outside a date folder while date partitioning is on (check DMSLAKE_DATE_PARTITION_* against the endpoint settings)"
    )]
    MissingDatePartition { key: String },
    #[error("{key}: date folder has no value for partition key {part}")]
    IncompletePartition { key: String, part: &'static str },
    #[error("Glue table {table:?} is {existing}, but {key} is {incoming}")]
    FormatMismatch {
        table: String,
        key: String,
        existing: &'static str,
        incoming: &'static str,
    },
    #[error(transparent)]
    Schema(#[from] Box<SchemaConflict>),
}

/// A column as the catalog stores it: normalised name and Glue type. The one column type of
/// dmslake: the registrar writes it, the compactor plans SQL from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: GlueType,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: GlueType) -> Self {
        Self {
            name: name.into(),
            ty,
        }
    }
}

/// The raw Glue table name of a source table: `<schema>_<table>`, both parts normalised.
/// Longer than Glue's and Athena's 255 characters is refused (tables-databases-columns-names.md;
/// Glue API `TableInput.Name`).
pub fn table_name(schema: &str, table: &str) -> Result<String, CatalogError> {
    let part = |name: &str| {
        crate::schema::normalise_name(name).map_err(|e| CatalogError::BadName(e.to_string()))
    };
    let name = format!("{}_{}", part(schema)?, part(table)?);
    if name.len() > crate::schema::MAX_NAME_LEN {
        return Err(CatalogError::NameTooLong {
            source_table: source_label(schema, table),
            length: name.len(),
        });
    }
    Ok(name)
}

/// `schema.table` as DMS names it, for messages.
pub fn source_label(schema: &str, table: &str) -> String {
    format!("{schema}.{table}")
}

/// A sortable key giving the order DMS wrote files of one table in: full-load files first
/// (`LOADnnnnnnnn`, fixed-width upper-case hex, so text order is numeric order), then CDC
/// files by date folder (canonical year/month/day/hour) and time-stamped file name.
pub fn order_key(obj: &DmsObject) -> String {
    let rank = match obj.kind {
        DataKind::FullLoad => '0',
        DataKind::Cdc => '1',
    };
    let date: Vec<&str> = obj.partition.iter().map(|(_, v)| v.as_str()).collect();
    format!("{rank}/{}/{}", date.join("/"), obj.file_name)
}

fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Csv => "csv",
        FileFormat::Parquet => "parquet",
    }
}

/// Parses a `dmslake.format` parameter.
pub fn parse_format(value: &str) -> Option<FileFormat> {
    match value {
        "csv" => Some(FileFormat::Csv),
        "parquet" => Some(FileFormat::Parquet),
        _ => None,
    }
}

/// A SerDe and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerdeDef {
    pub library: &'static str,
    pub parameters: BTreeMap<String, String>,
}

/// The storage of a raw table or partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageDef {
    pub location: String,
    pub columns: Vec<Column>,
    pub input_format: &'static str,
    pub output_format: &'static str,
    pub serde: SerdeDef,
}

/// Everything Glue needs to create or update one raw table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    pub source_schema: String,
    pub source_table: String,
    pub format: FileFormat,
    /// CSV files carry a header row (`AddColumnName=true`).
    pub csv_header: bool,
    pub columns: Vec<Column>,
    /// Partition keys (all `string`), canonical order; empty when unpartitioned.
    pub partition_keys: Vec<String>,
    /// `s3://bucket/<table_prefix>`.
    pub location: String,
    /// [`order_key`] of the oldest file known to carry the current columns.
    pub schema_order: String,
}

impl TableDef {
    /// The definition of a new table for `obj`, with the columns read from that file.
    pub fn for_object(
        bucket: &str,
        obj: &DmsObject,
        layout: &LayoutConfig,
        columns: Vec<Column>,
        csv_header: bool,
    ) -> Result<Self, CatalogError> {
        let partition_keys = partition_keys_for(layout, &columns);
        Ok(Self {
            name: table_name(&obj.schema, &obj.table)?,
            source_schema: obj.schema.clone(),
            source_table: obj.table.clone(),
            format: obj.format,
            csv_header: obj.format == FileFormat::Csv && csv_header,
            columns,
            partition_keys,
            location: s3_url(bucket, &obj.table_prefix),
            schema_order: order_key(obj),
        })
    }

    /// Table parameters (see the module documentation).
    pub fn parameters(&self) -> BTreeMap<String, String> {
        let format = format_name(self.format).to_string();
        let mut p = BTreeMap::from([
            ("EXTERNAL".to_string(), "TRUE".to_string()),
            (PARAM_SOURCE_SCHEMA.to_string(), self.source_schema.clone()),
            (PARAM_SOURCE_TABLE.to_string(), self.source_table.clone()),
            (PARAM_FORMAT.to_string(), format.clone()),
            (PARAM_CLASSIFICATION.to_string(), format),
            (PARAM_SCHEMA_ORDER.to_string(), self.schema_order.clone()),
        ]);
        if self.csv_header {
            p.insert(PARAM_SKIP_HEADER.to_string(), "1".to_string());
        }
        p
    }

    /// The SerDe for the table's file format.
    pub fn serde(&self) -> SerdeDef {
        match self.format {
            FileFormat::Parquet => SerdeDef {
                library: PARQUET_SERDE,
                parameters: BTreeMap::from([("serialization.format".to_string(), "1".to_string())]),
            },
            FileFormat::Csv => {
                let mut parameters = BTreeMap::from([
                    ("separatorChar".to_string(), ",".to_string()),
                    ("quoteChar".to_string(), "\"".to_string()),
                    ("escapeChar".to_string(), CSV_ESCAPE.to_string()),
                ]);
                if self.csv_header {
                    parameters.insert(PARAM_SKIP_HEADER.to_string(), "1".to_string());
                }
                SerdeDef {
                    library: CSV_SERDE,
                    parameters,
                }
            }
        }
    }

    /// Storage of the table itself, or of a partition at `location`.
    pub fn storage(&self, location: &str) -> StorageDef {
        let (input_format, output_format) = match self.format {
            FileFormat::Parquet => (PARQUET_INPUT_FORMAT, PARQUET_OUTPUT_FORMAT),
            FileFormat::Csv => (TEXT_INPUT_FORMAT, TEXT_OUTPUT_FORMAT),
        };
        StorageDef {
            location: location.to_string(),
            columns: self.columns.clone(),
            input_format,
            output_format,
            serde: self.serde(),
        }
    }

    /// Storage of one partition: the table's, at the partition's location, read through
    /// manifests when the partition is one ([`PartitionDef::manifest`]).
    pub fn partition_storage(&self, p: &PartitionDef) -> StorageDef {
        let mut sd = self.storage(&p.location);
        if p.manifest {
            sd.input_format = SYMLINK_INPUT_FORMAT;
        }
        sd
    }

    /// Refuses `obj` when the table belongs to another source table or another format.
    pub fn check_owner(&self, obj: &DmsObject) -> Result<(), CatalogError> {
        if self.source_schema != obj.schema || self.source_table != obj.table {
            return Err(CatalogError::NameCollision {
                table: self.name.clone(),
                existing: source_label(&self.source_schema, &self.source_table),
                incoming: source_label(&obj.schema, &obj.table),
            });
        }
        if self.format != obj.format {
            return Err(CatalogError::FormatMismatch {
                table: self.name.clone(),
                key: obj.key.clone(),
                existing: format_name(self.format),
                incoming: format_name(obj.format),
            });
        }
        Ok(())
    }
}

/// `s3://bucket/prefix`.
pub fn s3_url(bucket: &str, prefix: &str) -> String {
    format!("s3://{bucket}/{prefix}")
}

/// The default partition keys under this layout (canonical order): `year`, `month`, `day`,
/// `hour` (those in `DatePartitionSequence`).
pub fn partition_keys(layout: &LayoutConfig) -> Vec<String> {
    layout::partition_columns(layout)
        .iter()
        .map(|p| p.column().to_string())
        .collect()
}

/// Prefix of the partition keys of a table whose columns include a default key name
/// (`_dmslake_year`, ...). dmslake reserves it: the compactor refuses source columns that
/// start with it.
pub const RESERVED_KEY_PREFIX: &str = "_dmslake_";

/// The partition keys of a new table with `columns`: the defaults ([`partition_keys`]),
/// unless one of them is also a column. Athena engine 3 (Trino's Hive connector) cannot read
/// a table whose partition key repeats a column name (`HIVE_INVALID_METADATA: ... Table
/// descriptor contains duplicate columns`), and Glue `CreateTable` does not check it, so such
/// a table gets every key with [`RESERVED_KEY_PREFIX`] instead. An existing table keeps the
/// keys it was created with.
pub fn partition_keys_for(layout: &LayoutConfig, columns: &[Column]) -> Vec<String> {
    let defaults = partition_keys(layout);
    if defaults
        .iter()
        .any(|k| columns.iter().any(|c| c.name == *k))
    {
        defaults
            .iter()
            .map(|k| format!("{RESERVED_KEY_PREFIX}{k}"))
            .collect()
    } else {
        defaults
    }
}

/// One partition of a raw table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionDef {
    /// Values in partition-key order.
    pub values: Vec<String>,
    /// `s3://bucket/<folder>/`: the data folder, or for [`PartitionDef::manifest`] the folder
    /// of manifests naming the partition's files.
    pub location: String,
    /// Read through manifests (`SymlinkTextInputFormat`) rather than by listing a folder.
    pub manifest: bool,
}

/// Hive's input format that reads the files named in the manifest files at a location, one
/// `s3://` URL per line, with the table's SerDe. Athena reads it (the Amazon S3 user guide's
/// "Querying Amazon S3 Inventory with Amazon Athena", storage-inventory-athena-query.md, pairs
/// it with `OpenCSVSerde` and `ParquetHiveSerDe`), and so does Trino's Hive connector, per
/// partition: the other partitions keep their plain input format.
pub const SYMLINK_INPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat";

/// The folder of a table's full-load manifests under `root` (`s3://bucket/prefix/`).
pub fn manifest_folder(root: &str, table: &str) -> String {
    format!("{}/{table}/", root.trim_end_matches('/'))
}

/// One manifest object: where it goes and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// `s3://bucket/key` of the manifest object.
    pub url: String,
    /// One line: the data file's `s3://` URL.
    pub body: String,
}

/// The manifest naming `obj` in the full-load partition read from `folder`: its name is the
/// file's path below the table folder with `%` and `/` escaped (`part1%2FLOAD00000001.csv`),
/// so files of parallel-load folders never share one, and writing it again is harmless.
pub fn manifest_entry(bucket: &str, obj: &DmsObject, folder: &str) -> ManifestEntry {
    let relative = obj
        .key
        .strip_prefix(&obj.table_prefix)
        .unwrap_or(&obj.file_name);
    let name = relative.replace('%', "%25").replace('/', "%2F");
    ManifestEntry {
        url: format!("{folder}{name}"),
        body: format!("{}\n", s3_url(bucket, &obj.key)),
    }
}

/// The partition `obj` belongs to, or `None` when the table is unpartitioned. A CDC file
/// outside a date folder, or a date folder missing a part, is an error (the layout settings
/// do not match what DMS wrote).
///
/// A full-load file outside a date folder belongs to the all-zero partition. Its files lie
/// in the table folder, which also holds every date folder, and Athena reads everything
/// under a location, subfolders included ("Table location in Amazon S3",
/// tables-location-format.md); so that partition is read through manifests in
/// `manifests` (the table's [`manifest_folder`]) naming exactly its files, one per file
/// ([`manifest_entry`]): each row is read once, and a file refused or not DMS data that lies
/// in the table folder is not read at all.
pub fn partition_for(
    bucket: &str,
    obj: &DmsObject,
    layout: &LayoutConfig,
    manifests: Option<&str>,
) -> Result<Option<PartitionDef>, CatalogError> {
    let parts = layout::partition_columns(layout);
    if parts.is_empty() {
        return Ok(None);
    }
    if obj.partition.is_empty() {
        // A full-load file outside any date folder: its partition is read through manifests.
        if obj.kind == DataKind::Cdc {
            return Err(CatalogError::MissingDatePartition {
                key: obj.key.clone(),
            });
        }
        let folder = manifests.ok_or_else(|| CatalogError::NoManifestLocation {
            key: obj.key.clone(),
        })?;
        return Ok(Some(PartitionDef {
            values: obj.partition_values(layout),
            location: folder.to_string(),
            manifest: true,
        }));
    }
    if let Some(part) = parts.iter().find(|p| obj.partition_value(**p).is_none()) {
        return Err(CatalogError::IncompletePartition {
            key: obj.key.clone(),
            part: part.column(),
        });
    }
    Ok(Some(PartitionDef {
        values: obj.partition_values(layout),
        location: s3_url(bucket, &obj.folder_prefix),
        manifest: false,
    }))
}

/// Splits `items` into calls of at most [`MAX_PARTITION_BATCH`] entries.
pub fn batches<T>(items: &[T]) -> std::slice::Chunks<'_, T> {
    items.chunks(MAX_PARTITION_BATCH)
}

/// What kind of incompatible change a file makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    TypeChanged,
    Removed,
    Renamed,
    /// A new column with the name of one of the table's partition keys.
    PartitionKey,
}

/// An incompatible schema change: never applied; the records fail with this error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "incompatible schema change in Glue table {table:?}, column {column:?} ({kind:?}): table has {old_type}, {key} has {new_type}; the table was left unchanged (evolve it by hand or reload the table)"
)]
pub struct SchemaConflict {
    pub table: String,
    pub key: String,
    pub column: String,
    pub kind: ConflictKind,
    /// Type in the table (`absent` when the table lacks the column).
    pub old_type: String,
    /// Type in the file (`absent` when the file lacks the column, or `name` for a rename).
    pub new_type: String,
}

/// What a compatible file asks of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evolution {
    /// The table already reads the file (same columns, or an older file with fewer).
    Unchanged,
    /// Append these columns (in file order).
    Append(Vec<Column>),
    /// Same columns, from a file older than the table's `schema_order`: only the order moves
    /// back (so the result does not depend on delivery order).
    Earlier,
}

const ABSENT: &str = "absent";

/// Compares a file's columns with the table's. `file_order` / `table.schema_order` tell an
/// older file (fewer columns is expected) from a newer one (fewer columns is a removal). A
/// new column named like one of the table's partition keys is refused (Athena cannot read a
/// table whose partition key repeats a column).
pub fn evolve(
    table: &TableDef,
    key: &str,
    file_order: &str,
    file_columns: &[Column],
) -> Result<Evolution, Box<SchemaConflict>> {
    let evolution = evolve_columns(table, key, file_order, file_columns)?;
    if let Evolution::Append(added) = &evolution {
        if let Some(c) = added
            .iter()
            .find(|c| table.partition_keys.contains(&c.name))
        {
            return Err(Box::new(SchemaConflict {
                table: table.name.clone(),
                key: key.to_string(),
                column: c.name.clone(),
                kind: ConflictKind::PartitionKey,
                old_type: "partition key string".into(),
                new_type: c.ty.to_string(),
            }));
        }
    }
    Ok(evolution)
}

fn evolve_columns(
    table: &TableDef,
    key: &str,
    file_order: &str,
    file_columns: &[Column],
) -> Result<Evolution, Box<SchemaConflict>> {
    let conflict = |column: &str, kind, old_type: &str, new_type: &str| {
        Box::new(SchemaConflict {
            table: table.name.clone(),
            key: key.to_string(),
            column: column.to_string(),
            kind,
            old_type: old_type.to_string(),
            new_type: new_type.to_string(),
        })
    };
    let newer = file_order >= table.schema_order.as_str();
    match table.format {
        FileFormat::Csv => {
            // Columns by position: the table must be a prefix of the file, or (older file)
            // the file a prefix of the table.
            for (old, new) in table.columns.iter().zip(file_columns) {
                if old.name != new.name {
                    return Err(conflict(
                        &old.name,
                        ConflictKind::Renamed,
                        &old.ty.to_string(),
                        &format!("{} {}", new.name, new.ty),
                    ));
                }
                if old.ty != new.ty {
                    return Err(conflict(
                        &old.name,
                        ConflictKind::TypeChanged,
                        &old.ty.to_string(),
                        &new.ty.to_string(),
                    ));
                }
            }
            if file_columns.len() > table.columns.len() {
                let added = file_columns[table.columns.len()..].to_vec();
                if let Some(dup) = added
                    .iter()
                    .find(|c| table.columns.iter().any(|t| t.name == c.name))
                {
                    return Err(conflict(
                        &dup.name,
                        ConflictKind::Renamed,
                        ABSENT,
                        &dup.ty.to_string(),
                    ));
                }
                return Ok(Evolution::Append(added));
            }
            if file_columns.len() < table.columns.len() && newer {
                let gone = &table.columns[file_columns.len()];
                return Err(conflict(
                    &gone.name,
                    ConflictKind::Removed,
                    &gone.ty.to_string(),
                    ABSENT,
                ));
            }
            if file_columns.len() == table.columns.len() && !newer {
                return Ok(Evolution::Earlier);
            }
            Ok(Evolution::Unchanged)
        }
        FileFormat::Parquet => {
            for new in file_columns {
                if let Some(old) = table.columns.iter().find(|c| c.name == new.name) {
                    if old.ty != new.ty {
                        return Err(conflict(
                            &old.name,
                            ConflictKind::TypeChanged,
                            &old.ty.to_string(),
                            &new.ty.to_string(),
                        ));
                    }
                }
            }
            let missing: Vec<&Column> = table
                .columns
                .iter()
                .filter(|c| !file_columns.iter().any(|f| f.name == c.name))
                .collect();
            let added: Vec<Column> = file_columns
                .iter()
                .filter(|c| !table.columns.iter().any(|t| t.name == c.name))
                .cloned()
                .collect();
            if let (Some(gone), Some(new)) = (missing.first(), added.first()) {
                return Err(conflict(
                    &gone.name,
                    ConflictKind::Renamed,
                    &gone.ty.to_string(),
                    &format!("{} {}", new.name, new.ty),
                ));
            }
            if let (Some(gone), true) = (missing.first(), newer) {
                return Err(conflict(
                    &gone.name,
                    ConflictKind::Removed,
                    &gone.ty.to_string(),
                    ABSENT,
                ));
            }
            if !added.is_empty() {
                Ok(Evolution::Append(added))
            } else if missing.is_empty() && !newer {
                Ok(Evolution::Earlier)
            } else {
                Ok(Evolution::Unchanged)
            }
        }
    }
}

impl TableDef {
    /// Applies a compatible evolution from a file with order key `file_order`.
    /// `schema_order` becomes the order key of the oldest file known to carry the table's
    /// current column set.
    pub fn apply(&mut self, evolution: &Evolution, file_order: &str) {
        match evolution {
            Evolution::Append(cols) => {
                self.columns.extend(cols.iter().cloned());
                self.schema_order = file_order.to_string();
            }
            Evolution::Earlier => self.schema_order = file_order.to_string(),
            Evolution::Unchanged => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatePart, DatePartitionSequence, LayoutConfig};
    use crate::layout::Compression;

    fn obj(kind: DataKind, partition: &[(DatePart, &str)], file: &str) -> DmsObject {
        let folder = if partition.is_empty() {
            "dms/public/orders/".to_string()
        } else {
            let vals: Vec<&str> = partition.iter().map(|(_, v)| *v).collect();
            format!("dms/public/orders/{}/", vals.join("/"))
        };
        DmsObject {
            key: format!("{folder}{file}"),
            kind,
            bucket_folder: "dms".into(),
            schema: "public".into(),
            table: "orders".into(),
            partition: partition.iter().map(|(p, v)| (*p, v.to_string())).collect(),
            format: if file.contains(".parquet") {
                FileFormat::Parquet
            } else {
                FileFormat::Csv
            },
            compression: Compression::None,
            file_name: file.into(),
            folder_prefix: folder,
            table_prefix: "dms/public/orders/".into(),
        }
    }

    fn layout(enabled: bool, seq: DatePartitionSequence) -> LayoutConfig {
        LayoutConfig {
            bucket_folder: "dms".into(),
            date_partition_enabled: enabled,
            date_partition_sequence: seq,
            ..LayoutConfig::default()
        }
    }

    fn cols(spec: &[(&str, &str)]) -> Vec<Column> {
        spec.iter()
            .map(|(n, t)| Column::new(*n, GlueType::parse(t).expect("a test type")))
            .collect()
    }

    #[test]
    fn table_names_are_normalised_schema_underscore_table() {
        let cases = [
            ("public", "orders", "public_orders"),
            ("Sales", "Order Lines", "sales_order_lines"),
            ("hr", "EMPLOYEES$2024", "hr_employees_2024"),
            ("dbo", "naïve-table", "dbo_na_ve_table"),
        ];
        for (schema, table, want) in cases {
            assert_eq!(table_name(schema, table).unwrap(), want, "{schema}.{table}");
        }
        assert!(matches!(
            table_name("public", "$$"),
            Err(CatalogError::BadName(_))
        ));
    }

    #[test]
    fn two_source_tables_with_one_glue_name_are_a_collision() {
        let l = layout(false, DatePartitionSequence::Yyyymmdd);
        let a = obj(DataKind::FullLoad, &[], "LOAD00000001.csv");
        let def = TableDef::for_object("b", &a, &l, cols(&[("id", "string")]), false).unwrap();
        let mut other = a.clone();
        other.table = "Orders".into();
        let err = def.check_owner(&other).unwrap_err();
        assert!(err.to_string().contains("public.orders"), "{err}");
        assert!(err.to_string().contains("public.Orders"), "{err}");
        assert!(def.check_owner(&a).is_ok());
        let mut parquet = a.clone();
        parquet.format = FileFormat::Parquet;
        assert!(matches!(
            def.check_owner(&parquet),
            Err(CatalogError::FormatMismatch { .. })
        ));
    }

    #[test]
    fn order_keys_put_full_load_before_cdc_and_hex_counters_in_order() {
        let y = |d: &'static str| {
            vec![
                (DatePart::Year, "2026"),
                (DatePart::Month, "11"),
                (DatePart::Day, d),
            ]
        };
        let ordered = [
            obj(DataKind::FullLoad, &[], "LOAD00000009.parquet"),
            obj(DataKind::FullLoad, &[], "LOAD0000000A.parquet"),
            obj(DataKind::FullLoad, &[], "LOAD00000010.parquet"),
            obj(DataKind::Cdc, &y("09"), "20261109-235959000.parquet"),
            obj(DataKind::Cdc, &y("10"), "20261110-000001000.parquet"),
            obj(DataKind::Cdc, &y("10"), "20261110-000002000.parquet"),
        ];
        let keys: Vec<String> = ordered.iter().map(order_key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn partitions_follow_the_layout() {
        let ymd = [
            (DatePart::Year, "2026"),
            (DatePart::Month, "11"),
            (DatePart::Day, "24"),
        ];
        let cdc = obj(DataKind::Cdc, &ymd, "20261124-101010000.csv");
        let load = obj(DataKind::FullLoad, &[], "LOAD00000001.csv");
        let on = layout(true, DatePartitionSequence::Yyyymmdd);
        let hourly = layout(true, DatePartitionSequence::Yyyymmddhh);
        let off = layout(false, DatePartitionSequence::Yyyymmdd);

        assert_eq!(partition_keys(&on), ["year", "month", "day"]);
        assert_eq!(partition_keys(&hourly), ["year", "month", "day", "hour"]);
        assert!(partition_keys(&off).is_empty());
        assert_eq!(
            partition_keys(&layout(true, DatePartitionSequence::Ddmmyyyy)),
            ["year", "month", "day"]
        );

        let m = Some("s3://lake/m/public_orders/");
        let p = partition_for("bkt", &cdc, &on, m).unwrap().unwrap();
        assert_eq!(p.values, ["2026", "11", "24"]);
        assert_eq!(p.location, "s3://bkt/dms/public/orders/2026/11/24/");
        assert!(!p.manifest);

        let p = partition_for("bkt", &load, &hourly, m).unwrap().unwrap();
        assert_eq!(p.values, ["0000", "00", "00", "00"]);
        assert_eq!(p.location, "s3://lake/m/public_orders/");
        assert!(
            p.manifest,
            "the table folder holds the date folders: read by manifest"
        );
        assert!(matches!(
            partition_for("bkt", &load, &hourly, None),
            Err(CatalogError::NoManifestLocation { .. })
        ));
        // A full-load file inside a date folder is read with its date folder.
        let dated_load = obj(DataKind::FullLoad, &ymd, "LOAD00000001.csv");
        let p = partition_for("bkt", &dated_load, &on, None)
            .unwrap()
            .unwrap();
        assert_eq!(p.location, "s3://bkt/dms/public/orders/2026/11/24/");
        assert!(!p.manifest);

        assert_eq!(partition_for("bkt", &cdc, &off, m).unwrap(), None);
        assert_eq!(partition_for("bkt", &load, &off, None).unwrap(), None);
        let stray = obj(DataKind::Cdc, &[], "20261124-101010000.csv");
        assert!(matches!(
            partition_for("bkt", &stray, &on, m),
            Err(CatalogError::MissingDatePartition { .. })
        ));
        assert!(matches!(
            partition_for("bkt", &cdc, &hourly, m),
            Err(CatalogError::IncompletePartition { part: "hour", .. })
        ));
    }

    #[test]
    fn manifests_name_each_full_load_file_once_under_the_table_folder() {
        let load = obj(DataKind::FullLoad, &[], "LOAD0000000A.parquet");
        let e = manifest_entry(
            "bkt",
            &load,
            &manifest_folder("s3://lake/m/", "public_orders"),
        );
        assert_eq!(e.url, "s3://lake/m/public_orders/LOAD0000000A.parquet");
        assert_eq!(e.body, "s3://bkt/dms/public/orders/LOAD0000000A.parquet\n");
        // Parallel-load folders keep their files apart; '%' is escaped first.
        let mut part = load.clone();
        part.key = "dms/public/orders/p%1/LOAD0000000A.parquet".into();
        let e = manifest_entry("bkt", &part, "s3://lake/m/t/");
        assert_eq!(e.url, "s3://lake/m/t/p%251%2FLOAD0000000A.parquet");
        assert_eq!(manifest_folder("s3://lake/m", "t"), "s3://lake/m/t/");
    }

    #[test]
    fn partition_keys_avoid_the_table_columns() {
        let hourly = layout(true, DatePartitionSequence::Yyyymmddhh);
        let plain = cols(&[("op", "string"), ("id", "int")]);
        assert_eq!(
            partition_keys_for(&hourly, &plain),
            ["year", "month", "day", "hour"]
        );
        let dated = cols(&[("op", "string"), ("day", "date"), ("hour", "int")]);
        assert_eq!(
            partition_keys_for(&hourly, &dated),
            [
                "_dmslake_year",
                "_dmslake_month",
                "_dmslake_day",
                "_dmslake_hour"
            ]
        );
        let load = obj(DataKind::FullLoad, &[], "LOAD00000001.parquet");
        let def = TableDef::for_object("b", &load, &hourly, dated, false).unwrap();
        assert_eq!(def.partition_keys[0], "_dmslake_year");
        assert!(
            partition_keys_for(&layout(false, DatePartitionSequence::Yyyymmdd), &plain).is_empty()
        );
    }

    #[test]
    fn a_new_column_named_like_a_partition_key_is_refused() {
        let mut t = table(FileFormat::Parquet, &[("op", "string"), ("id", "int")], "3");
        t.partition_keys = vec!["year".into(), "month".into(), "day".into()];
        let file = cols(&[("op", "string"), ("id", "int"), ("year", "int")]);
        let err = evolve(&t, "k", "5", &file).unwrap_err();
        assert_eq!(err.kind, ConflictKind::PartitionKey);
        assert_eq!(err.column, "year");
        t.partition_keys = vec!["_dmslake_year".into()];
        assert!(matches!(
            evolve(&t, "k", "5", &file),
            Ok(Evolution::Append(_))
        ));
    }

    #[test]
    fn glue_table_names_longer_than_255_characters_are_refused() {
        let long = "t".repeat(250);
        assert_eq!(table_name("abcd", &long).unwrap().len(), 255);
        let err = table_name("abcde", &long).unwrap_err();
        assert!(
            matches!(err, CatalogError::NameTooLong { length: 256, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("at most 255"), "{err}");
    }

    #[test]
    fn table_definition_carries_parameters_serde_and_formats() {
        let on = layout(true, DatePartitionSequence::Yyyymmdd);
        let load = obj(DataKind::FullLoad, &[], "LOAD00000001.csv");
        let csv = TableDef::for_object("bkt", &load, &on, cols(&[("op", "string")]), true).unwrap();
        let p = csv.parameters();
        assert_eq!(p[PARAM_SOURCE_SCHEMA], "public");
        assert_eq!(p[PARAM_SOURCE_TABLE], "orders");
        assert_eq!(p[PARAM_FORMAT], "csv");
        assert_eq!(p[PARAM_CLASSIFICATION], "csv");
        assert_eq!(p[PARAM_SKIP_HEADER], "1");
        assert_eq!(p[PARAM_SCHEMA_ORDER], "0//LOAD00000001.csv");
        let sd = csv.storage(&csv.location);
        assert_eq!(sd.location, "s3://bkt/dms/public/orders/");
        assert_eq!(sd.serde.library, CSV_SERDE);
        assert_eq!(sd.serde.parameters["separatorChar"], ",");
        assert_eq!(sd.serde.parameters["quoteChar"], "\"");
        assert_eq!(sd.serde.parameters["escapeChar"], "\u{0}");
        assert_eq!(sd.input_format, TEXT_INPUT_FORMAT);
        assert_eq!(sd.output_format, TEXT_OUTPUT_FORMAT);
        assert_eq!(csv.partition_keys, ["year", "month", "day"]);

        let pq_obj = obj(DataKind::FullLoad, &[], "LOAD00000001.parquet");
        let pq = TableDef::for_object("bkt", &pq_obj, &on, vec![], true).unwrap();
        assert!(!pq.csv_header, "header flag is CSV only");
        assert!(!pq.parameters().contains_key(PARAM_SKIP_HEADER));
        assert_eq!(pq.parameters()[PARAM_CLASSIFICATION], "parquet");
        let sd = pq.storage("s3://x/");
        assert_eq!(sd.serde.library, PARQUET_SERDE);
        assert_eq!(sd.input_format, PARQUET_INPUT_FORMAT);
        assert_eq!(sd.output_format, PARQUET_OUTPUT_FORMAT);
    }

    #[test]
    fn batches_hold_at_most_one_hundred_entries() {
        for (n, want) in [
            (0, vec![]),
            (1, vec![1]),
            (100, vec![100]),
            (101, vec![100, 1]),
            (250, vec![100, 100, 50]),
        ] {
            let items: Vec<usize> = (0..n).collect();
            let sizes: Vec<usize> = batches(&items).map(|b| b.len()).collect();
            assert_eq!(sizes, want, "{n}");
        }
    }

    fn table(format: FileFormat, columns: &[(&str, &str)], order: &str) -> TableDef {
        TableDef {
            name: "public_orders".into(),
            source_schema: "public".into(),
            source_table: "orders".into(),
            format,
            csv_header: false,
            columns: cols(columns),
            partition_keys: vec![],
            location: "s3://b/t/".into(),
            schema_order: order.into(),
        }
    }

    #[test]
    fn schema_evolution_appends_new_columns_and_refuses_incompatible_changes() {
        use ConflictKind::*;
        type Case<'a> = (
            &'a [FileFormat],
            &'a [(&'a str, &'a str)],
            &'a str,
            Result<Vec<(&'a str, &'a str)>, (ConflictKind, &'a str, &'a str, &'a str)>,
        );
        const BOTH: &[FileFormat] = &[FileFormat::Parquet, FileFormat::Csv];
        let base: &[(&str, &str)] = &[("op", "string"), ("id", "int"), ("name", "string")];
        let with_email_inserted: &[(&str, &str)] = &[
            ("op", "string"),
            ("email", "string"),
            ("id", "int"),
            ("name", "string"),
        ];
        let cases: Vec<Case> = vec![
            // same columns: nothing to do (an older file only moves the order back)
            (BOTH, base, "5", Ok(vec![])),
            // newer file adds a column
            (
                BOTH,
                &[
                    ("op", "string"),
                    ("id", "int"),
                    ("name", "string"),
                    ("email", "string"),
                ],
                "5",
                Ok(vec![("email", "string")]),
            ),
            // Parquet matches by name: a new column in the middle is still an append
            (
                &[FileFormat::Parquet],
                with_email_inserted,
                "5",
                Ok(vec![("email", "string")]),
            ),
            // older file with fewer columns: the table already reads it
            (
                &[FileFormat::Parquet],
                &[("id", "int"), ("name", "string")],
                "1",
                Ok(vec![]),
            ),
            (
                &[FileFormat::Csv],
                &[("op", "string"), ("id", "int")],
                "1",
                Ok(vec![]),
            ),
            // type changed
            (
                BOTH,
                &[("op", "string"), ("id", "bigint"), ("name", "string")],
                "5",
                Err((TypeChanged, "id", "int", "bigint")),
            ),
            // removed in a newer file
            (
                BOTH,
                &[("op", "string"), ("id", "int")],
                "5",
                Err((Removed, "name", "string", "absent")),
            ),
            // renamed
            (
                BOTH,
                &[("op", "string"), ("id", "int"), ("full_name", "string")],
                "5",
                Err((Renamed, "name", "string", "full_name string")),
            ),
            // CSV positions: a column inserted before others is a rename at that position
            (
                &[FileFormat::Csv],
                with_email_inserted,
                "5",
                Err((Renamed, "id", "int", "email string")),
            ),
        ];
        let cases = cases.into_iter().flat_map(|(formats, file, order, want)| {
            formats
                .iter()
                .map(move |format| (*format, file, order, want.clone()))
        });
        for (i, (format, file, order, want)) in cases.enumerate() {
            let t = table(format, base, "3");
            let got = evolve(&t, "k", order, &cols(file));
            match want {
                Ok(added) if added.is_empty() => {
                    assert_eq!(got, Ok(Evolution::Unchanged), "case {i}")
                }
                Ok(added) => assert_eq!(got, Ok(Evolution::Append(cols(&added))), "case {i}"),
                Err((kind, column, old, new)) => {
                    let err = got.expect_err(&format!("case {i}"));
                    assert_eq!(
                        (
                            err.kind,
                            err.column.as_str(),
                            err.old_type.as_str(),
                            err.new_type.as_str()
                        ),
                        (kind, column, old, new),
                        "case {i}"
                    );
                    let msg = err.to_string();
                    assert!(
                        msg.contains("public_orders") && msg.contains(column),
                        "{msg}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_older_file_with_the_same_columns_moves_the_schema_order_back() {
        let base: &[(&str, &str)] = &[("op", "string"), ("id", "int")];
        for format in [FileFormat::Parquet, FileFormat::Csv] {
            let mut t = table(format, base, "3");
            let e = evolve(&t, "k", "1", &cols(base)).unwrap();
            assert_eq!(e, Evolution::Earlier, "{format:?}");
            t.apply(&e, "1");
            assert_eq!(t.schema_order, "1");
            assert_eq!(evolve(&t, "k", "2", &cols(base)), Ok(Evolution::Unchanged));
        }
    }

    #[test]
    fn applying_an_append_extends_columns_and_advances_the_schema_order() {
        let mut t = table(FileFormat::Parquet, &[("id", "int")], "3");
        t.apply(&Evolution::Append(cols(&[("email", "string")])), "5");
        assert_eq!(t.columns, cols(&[("id", "int"), ("email", "string")]));
        assert_eq!(t.schema_order, "5");
        t.apply(&Evolution::Unchanged, "9");
        assert_eq!(t.schema_order, "5");
    }
}
