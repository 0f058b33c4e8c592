//! Table schemas from the data itself: Parquet footers mapped to Glue/Athena column types,
//! and column names normalised the way Glue and Athena require.
//!
//! Everything here is pure: it takes an already decoded footer ([`ParquetMetaData`], see
//! [`crate::parquet_footer`]) or plain names and returns plain values.
//!
//! # Type mapping (Parquet physical type + logical/converted annotation → Glue/Athena type)
//!
//! | Parquet | Glue |
//! |---|---|
//! | `BOOLEAN` | `boolean` |
//! | `INT32` (no annotation, `INT(32,true)`) | `int` |
//! | `INT32` `INT(8,true)` / `INT(16,true)` | `tinyint` / `smallint` |
//! | `INT64` (no annotation, `INT(64,true)`) | `bigint` |
//! | unsigned `INT(8/16/32,false)` | widened: `smallint` / `int` / `bigint` |
//! | unsigned `INT(64,false)` | `decimal(20,0)`: Athena has no unsigned 64-bit type and `bigint` would overflow above 2^63 (whether Athena's reader converts such an `INT64` column is unverified; DMS does not write unsigned types from PostgreSQL) |
//! | `DECIMAL(p,s)` on `INT32`, `INT64`, `FIXED_LEN_BYTE_ARRAY`, `BYTE_ARRAY`, p ≤ 38 | `decimal(p,s)` |
//! | `FLOAT` / `DOUBLE` | `float` / `double` |
//! | `INT32` `DATE` | `date` |
//! | `INT64` `TIMESTAMP(MILLIS/MICROS, either UTC flag)` | `timestamp` |
//! | `INT64` `TIMESTAMP(NANOS)` | `timestamp` (Athena keeps at most millisecond precision for Iceberg; the raw table reads what its engine supports) |
//! | `INT96` (legacy Impala/Hive timestamps) | `timestamp` |
//! | `INT32` `TIME(MILLIS)` / `INT64` `TIME(MICROS/NANOS)` | `int` / `bigint`: Athena has no time-of-day type, and its Parquet reader does not turn an integer column into `string`, so the value is kept as the count of units since midnight |
//! | `BYTE_ARRAY` `STRING`/`UTF8`, `ENUM`, `JSON` | `string` |
//! | `BYTE_ARRAY`/`FIXED_LEN_BYTE_ARRAY` `UUID` | `string` on `BYTE_ARRAY` (DMS writes UUIDs as text); `binary` on the 16-byte fixed form |
//! | `BYTE_ARRAY` (no annotation), `BSON` | `binary` |
//! | `FIXED_LEN_BYTE_ARRAY` (no annotation) | `binary` |
//! | groups (structs), `LIST`, `MAP`, repeated fields, `INTERVAL`, `FLOAT16`, `VARIANT`, geospatial | error naming the column and its type |
//!
//! DMS writes PostgreSQL types to Parquet as listed in CHAP_Target.S3.md ("Parquet data types")
//! of the AWS DMS user guide; the Athena side follows "Data types in Amazon Athena".

use std::collections::HashMap;
use std::fmt::Write as _;

use parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::file::metadata::ParquetMetaData;
use parquet::schema::types::Type;

use crate::catalog::Column;
use crate::config::{DmsColumns, OP_COLUMN};
use crate::glue_type::GlueType;

/// What a column is to dmslake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// DMS's `Op` column (`I`, `U`, `D`).
    Op,
    /// The endpoint's `TimestampColumnName` column.
    Timestamp,
    /// The `$AR_H_CHANGE_SEQ` column added by a transformation rule.
    ChangeSequence,
    /// A `BeforeImageSettings` column (old value of a key column).
    BeforeImage,
    /// A source column.
    Data,
}

/// A column of one data file: the catalog [`Column`] it becomes (normalised name, Glue type),
/// the name the file gives it, and what it is to dmslake.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileColumn {
    #[serde(flatten)]
    pub column: Column,
    /// Name in the file.
    pub source_name: String,
    pub role: ColumnRole,
}

/// The catalog columns of a file's columns, in file order.
pub fn catalog_columns(columns: Vec<FileColumn>) -> Vec<Column> {
    columns.into_iter().map(|c| c.column).collect()
}

/// Why a schema cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("not a Parquet file: {0}")]
    NotParquet(String),
    #[error("corrupt Parquet footer: {0}")]
    CorruptFooter(String),
    /// A column whose Parquet type has no Glue/Athena equivalent dmslake can read.
    #[error("column {column:?}: Parquet type {parquet_type} is not supported ({reason})")]
    UnsupportedType {
        column: String,
        parquet_type: String,
        reason: String,
    },
    /// A name that cannot become a Glue/Athena name.
    #[error("name {name:?} cannot be used as a Glue/Athena name: {reason}")]
    InvalidName { name: String, reason: String },
    /// Two source columns that normalise to the same Glue name.
    #[error("columns {first:?} and {second:?} both normalise to {normalised:?}; rename one at the source or with a DMS transformation rule")]
    NameCollision {
        first: String,
        second: String,
        normalised: String,
    },
    /// A file without any column.
    #[error("the file declares no columns")]
    NoColumns,
}

/// Longest Glue/Athena database, table or column name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Normalises a source name into a Glue/Athena name: lower case ASCII letters, digits and `_`.
///
/// Athena's "Name databases, tables, and columns" page (tables-databases-columns-names.md)
/// requires lower-case names of 1 to 255 bytes and supports no special characters other than
/// the underscore. Every other character (`-`, space, `$`, `.`, non-ASCII letters) becomes `_`.
/// A name that is empty, longer than 255 bytes, or has no letter or digit left (it would carry
/// nothing of the source name) is an error.
pub fn normalise_name(name: &str) -> Result<String, SchemaError> {
    let invalid = |reason: &str| SchemaError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    let out = map_name_chars(name);
    if out.len() > MAX_NAME_LEN {
        return Err(invalid(&format!(
            "it is {} characters long; Athena allows at most {MAX_NAME_LEN}",
            out.len()
        )));
    }
    if !out.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid("it has no letter or digit"));
    }
    Ok(out)
}

/// The character rule of [`normalise_name`] without its checks: ASCII letters in lower case,
/// digits and `_` kept, every other character replaced by `_`. The one place the rule lives.
pub(crate) fn map_name_chars(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '_' => c,
            _ => '_',
        })
        .collect()
}

/// The role DMS gives a column with this source name.
///
/// `Op` is DMS's fixed name (case-sensitive); the timestamp and change-sequence columns are
/// matched case-insensitively against the configured names; before-image columns by the
/// configured `BeforeImageSettings.ColumnPrefix`, which DMS writes verbatim.
pub fn column_role(source_name: &str, dms: &DmsColumns) -> ColumnRole {
    if source_name == OP_COLUMN {
        ColumnRole::Op
    } else if source_name.eq_ignore_ascii_case(&dms.timestamp) {
        ColumnRole::Timestamp
    } else if source_name.eq_ignore_ascii_case(&dms.change_sequence) {
        ColumnRole::ChangeSequence
    } else if !dms.before_image_prefix.is_empty()
        && source_name.len() > dms.before_image_prefix.len()
        && source_name.starts_with(&dms.before_image_prefix)
    {
        ColumnRole::BeforeImage
    } else {
        ColumnRole::Data
    }
}

/// Builds Glue columns from `(source name, Glue type)` pairs in file order: normalises every
/// name, assigns roles, and refuses two columns that end up with one name.
pub fn named_columns<'a>(
    columns: impl IntoIterator<Item = (&'a str, GlueType)>,
    dms: &DmsColumns,
) -> Result<Vec<FileColumn>, SchemaError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for (source_name, glue_type) in columns {
        let name = normalise_name(source_name)?;
        if let Some(first) = seen.get(&name) {
            return Err(SchemaError::NameCollision {
                first: first.clone(),
                second: source_name.to_string(),
                normalised: name,
            });
        }
        seen.insert(name.clone(), source_name.to_string());
        out.push(FileColumn {
            column: Column::new(name, glue_type),
            source_name: source_name.to_string(),
            role: column_role(source_name, dms),
        });
    }
    if out.is_empty() {
        return Err(SchemaError::NoColumns);
    }
    Ok(out)
}

/// Maps a Parquet file's schema to Glue columns, in file order.
pub fn glue_columns(
    meta: &ParquetMetaData,
    dms: &DmsColumns,
) -> Result<Vec<FileColumn>, SchemaError> {
    let root = meta.file_metadata().schema_descr().root_schema();
    fields_to_columns(root.get_fields().iter().map(|f| f.as_ref()), dms)
}

/// Maps the top-level fields of a Parquet schema to Glue columns.
pub fn fields_to_columns<'a>(
    fields: impl IntoIterator<Item = &'a Type>,
    dms: &DmsColumns,
) -> Result<Vec<FileColumn>, SchemaError> {
    let mut typed = Vec::new();
    for field in fields {
        let glue_type = glue_type(field).map_err(|reason| SchemaError::UnsupportedType {
            column: field.name().to_string(),
            parquet_type: describe_type(field),
            reason,
        })?;
        typed.push((field.name(), glue_type));
    }
    named_columns(typed, dms)
}

/// A Parquet type as a reader would name it, e.g. `optional INT64 TIMESTAMP(MILLIS,true)`,
/// `optional group LIST`.
pub fn describe_type(field: &Type) -> String {
    let info = field.get_basic_info();
    let mut out = String::new();
    if info.has_repetition() {
        let _ = write!(out, "{} ", repetition_word(info.repetition()));
    }
    if field.is_group() {
        out.push_str("group");
    } else {
        let _ = write!(out, "{}", field.get_physical_type());
        if field.get_physical_type() == PhysicalType::FIXED_LEN_BYTE_ARRAY {
            if let Type::PrimitiveType { type_length, .. } = field {
                let _ = write!(out, "({type_length})");
            }
        }
    }
    match info.logical_type_ref() {
        Some(logical) => {
            let _ = write!(out, " {}", describe_logical(logical));
        }
        None if info.converted_type() != ConvertedType::NONE => {
            let _ = write!(out, " {}", info.converted_type());
            if info.converted_type() == ConvertedType::DECIMAL {
                let _ = write!(out, "({},{})", field.get_precision(), field.get_scale());
            }
        }
        None => {}
    }
    out
}

fn repetition_word(r: Repetition) -> &'static str {
    match r {
        Repetition::REQUIRED => "required",
        Repetition::OPTIONAL => "optional",
        Repetition::REPEATED => "repeated",
    }
}

fn unit_word(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::MILLIS => "MILLIS",
        TimeUnit::MICROS => "MICROS",
        TimeUnit::NANOS => "NANOS",
    }
}

fn describe_logical(logical: &LogicalType) -> String {
    match logical {
        LogicalType::Decimal { scale, precision } => format!("DECIMAL({precision},{scale})"),
        LogicalType::Timestamp {
            is_adjusted_to_u_t_c,
            unit,
        } => format!("TIMESTAMP({},{is_adjusted_to_u_t_c})", unit_word(unit)),
        LogicalType::Time {
            is_adjusted_to_u_t_c,
            unit,
        } => format!("TIME({},{is_adjusted_to_u_t_c})", unit_word(unit)),
        LogicalType::Integer {
            bit_width,
            is_signed,
        } => format!("INTEGER({bit_width},{is_signed})"),
        LogicalType::String => "STRING".into(),
        LogicalType::Map => "MAP".into(),
        LogicalType::List => "LIST".into(),
        LogicalType::Enum => "ENUM".into(),
        LogicalType::Date => "DATE".into(),
        LogicalType::Unknown => "UNKNOWN".into(),
        LogicalType::Json => "JSON".into(),
        LogicalType::Bson => "BSON".into(),
        LogicalType::Uuid => "UUID".into(),
        LogicalType::Float16 => "FLOAT16".into(),
        LogicalType::Variant { .. } => "VARIANT".into(),
        LogicalType::Geometry { .. } => "GEOMETRY".into(),
        LogicalType::Geography { .. } => "GEOGRAPHY".into(),
        LogicalType::_Unknown { field_id } => format!("logical type #{field_id}"),
    }
}

/// The annotation of a primitive column, from its logical type or, in files written before
/// logical types existed (DMS writes these), from its converted type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Annotation {
    None,
    Int { bits: u8, signed: bool },
    Decimal { precision: i32, scale: i32 },
    Date,
    Timestamp,
    Time { unit: TimeUnitKind },
    Text,
    Uuid,
    Bson,
    Unsupported,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeUnitKind {
    Millis,
    MicrosOrNanos,
}

fn annotation(field: &Type) -> Annotation {
    let info = field.get_basic_info();
    if let Some(logical) = info.logical_type_ref() {
        return match logical {
            LogicalType::Integer {
                bit_width,
                is_signed,
            } => match u8::try_from(*bit_width) {
                Ok(bits @ (8 | 16 | 32 | 64)) => Annotation::Int {
                    bits,
                    signed: *is_signed,
                },
                _ => Annotation::Unsupported,
            },
            LogicalType::Decimal { scale, precision } => Annotation::Decimal {
                precision: *precision,
                scale: *scale,
            },
            LogicalType::Date => Annotation::Date,
            LogicalType::Timestamp { .. } => Annotation::Timestamp,
            LogicalType::Time { unit, .. } => Annotation::Time {
                unit: match unit {
                    TimeUnit::MILLIS => TimeUnitKind::Millis,
                    _ => TimeUnitKind::MicrosOrNanos,
                },
            },
            LogicalType::String | LogicalType::Enum | LogicalType::Json => Annotation::Text,
            LogicalType::Uuid => Annotation::Uuid,
            LogicalType::Bson => Annotation::Bson,
            _ => Annotation::Unsupported,
        };
    }
    use ConvertedType as C;
    match info.converted_type() {
        C::NONE => Annotation::None,
        C::UTF8 | C::ENUM | C::JSON => Annotation::Text,
        C::BSON => Annotation::Bson,
        C::DECIMAL => Annotation::Decimal {
            precision: field.get_precision(),
            scale: field.get_scale(),
        },
        C::DATE => Annotation::Date,
        C::TIME_MILLIS => Annotation::Time {
            unit: TimeUnitKind::Millis,
        },
        C::TIME_MICROS => Annotation::Time {
            unit: TimeUnitKind::MicrosOrNanos,
        },
        C::TIMESTAMP_MILLIS | C::TIMESTAMP_MICROS => Annotation::Timestamp,
        C::INT_8 => Annotation::Int {
            bits: 8,
            signed: true,
        },
        C::INT_16 => Annotation::Int {
            bits: 16,
            signed: true,
        },
        C::INT_32 => Annotation::Int {
            bits: 32,
            signed: true,
        },
        C::INT_64 => Annotation::Int {
            bits: 64,
            signed: true,
        },
        C::UINT_8 => Annotation::Int {
            bits: 8,
            signed: false,
        },
        C::UINT_16 => Annotation::Int {
            bits: 16,
            signed: false,
        },
        C::UINT_32 => Annotation::Int {
            bits: 32,
            signed: false,
        },
        C::UINT_64 => Annotation::Int {
            bits: 64,
            signed: false,
        },
        C::MAP | C::MAP_KEY_VALUE | C::LIST | C::INTERVAL => Annotation::Unsupported,
    }
}

/// The Glue/Athena type of one top-level Parquet field; `Err` says why there is none.
pub fn glue_type(field: &Type) -> Result<GlueType, String> {
    if field.is_group() {
        return Err("nested groups, lists and maps are not supported; flatten them at the source or with a DMS transformation rule".into());
    }
    if field.get_basic_info().has_repetition()
        && field.get_basic_info().repetition() == Repetition::REPEATED
    {
        return Err("repeated (array) fields are not supported".into());
    }
    use Annotation as A;
    use PhysicalType as P;
    let physical = field.get_physical_type();
    let ann = annotation(field);
    let mapped = match (physical, ann) {
        (P::BOOLEAN, A::None) => GlueType::Boolean,
        (P::INT32, A::None) => GlueType::Int,
        (P::INT64, A::None) => GlueType::Bigint,
        (P::INT32 | P::INT64, A::Int { bits, signed }) => match (bits, signed, physical) {
            (8, true, P::INT32) => GlueType::Tinyint,
            (16, true, P::INT32) => GlueType::Smallint,
            (32, true, P::INT32) => GlueType::Int,
            (64, true, P::INT64) => GlueType::Bigint,
            // Unsigned values need the next wider signed type to keep every value.
            (8, false, P::INT32) => GlueType::Smallint,
            (16, false, P::INT32) => GlueType::Int,
            (32, false, P::INT32) => GlueType::Bigint,
            (64, false, P::INT64) => GlueType::Decimal {
                precision: 20,
                scale: 0,
            },
            _ => {
                return Err(format!(
                    "an integer of {bits} bits cannot be stored as {physical}"
                ))
            }
        },
        (
            P::INT32 | P::INT64 | P::FIXED_LEN_BYTE_ARRAY | P::BYTE_ARRAY,
            A::Decimal { precision, scale },
        ) => GlueType::decimal(i64::from(precision), i64::from(scale))?,
        (P::FLOAT, A::None) => GlueType::Float,
        (P::DOUBLE, A::None) => GlueType::Double,
        (P::INT32, A::Date) => GlueType::Date,
        (P::INT64, A::Timestamp) => GlueType::Timestamp,
        (P::INT96, A::None) => GlueType::Timestamp,
        (
            P::INT32,
            A::Time {
                unit: TimeUnitKind::Millis,
            },
        ) => GlueType::Int,
        (
            P::INT64,
            A::Time {
                unit: TimeUnitKind::MicrosOrNanos,
            },
        ) => GlueType::Bigint,
        (P::BYTE_ARRAY, A::Text | A::Uuid) => GlueType::String,
        (P::BYTE_ARRAY | P::FIXED_LEN_BYTE_ARRAY, A::None) => GlueType::Binary,
        (P::FIXED_LEN_BYTE_ARRAY, A::Uuid) => GlueType::Binary,
        (P::BYTE_ARRAY, A::Bson) => GlueType::Binary,
        (_, A::Unsupported) => {
            return Err("Athena has no equivalent type".into());
        }
        _ => {
            return Err(format!(
                "this annotation is not valid on {physical} or has no Athena equivalent"
            ))
        }
    };
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use crate::parquet_footer::{footer_from_suffix, FooterStep};

    fn dms() -> DmsColumns {
        DmsColumns::default()
    }

    /// A row-less Parquet file with this message type, written by the parquet crate's
    /// low-level writer, and its footer decoded back: the mapping sees what a reader sees.
    fn written_and_read_back(message: &str) -> ParquetMetaData {
        let schema =
            Arc::new(parse_message_type(message).unwrap_or_else(|e| panic!("{message}: {e}")));
        let props = Arc::new(WriterProperties::builder().build());
        let mut buf = Vec::new();
        let writer = SerializedFileWriter::new(&mut buf, schema, props).expect("writer");
        writer.close().expect("close");
        match footer_from_suffix(&buf, Some(buf.len() as u64)).expect("footer") {
            FooterStep::Complete(meta) => *meta,
            FooterStep::NeedSuffix(n) => panic!("whole file given, footer needs {n} bytes"),
        }
    }

    /// Maps the single field of `message m { <field> }` through a written file.
    fn map_field(field: &str) -> Result<String, SchemaError> {
        let meta = written_and_read_back(&format!("message m {{ {field} }}"));
        glue_columns(&meta, &dms()).map(|mut cols| cols.remove(0).column.ty.to_string())
    }

    #[test]
    fn every_supported_parquet_type_maps_to_its_athena_type() {
        let cases: &[(&str, &str)] = &[
            ("optional boolean c;", "boolean"),
            ("optional int32 c;", "int"),
            ("optional int64 c;", "bigint"),
            ("optional int32 c (INTEGER(8,true));", "tinyint"),
            ("optional int32 c (INTEGER(16,true));", "smallint"),
            ("optional int32 c (INTEGER(32,true));", "int"),
            ("optional int64 c (INTEGER(64,true));", "bigint"),
            ("optional int32 c (INT_8);", "tinyint"),
            ("optional int32 c (INT_16);", "smallint"),
            ("optional int32 c (INT_32);", "int"),
            ("optional int64 c (INT_64);", "bigint"),
            ("optional int32 c (INTEGER(8,false));", "smallint"),
            ("optional int32 c (INTEGER(16,false));", "int"),
            ("optional int32 c (INTEGER(32,false));", "bigint"),
            ("optional int64 c (INTEGER(64,false));", "decimal(20,0)"),
            ("optional int32 c (UINT_8);", "smallint"),
            ("optional int64 c (UINT_64);", "decimal(20,0)"),
            ("optional int32 c (DECIMAL(9,2));", "decimal(9,2)"),
            ("optional int64 c (DECIMAL(18,0));", "decimal(18,0)"),
            (
                "optional fixed_len_byte_array(7) c (DECIMAL(15,2));",
                "decimal(15,2)",
            ),
            (
                "optional fixed_len_byte_array(16) c (DECIMAL(38,4));",
                "decimal(38,4)",
            ),
            ("optional binary c (DECIMAL(20,5));", "decimal(20,5)"),
            ("optional float c;", "float"),
            ("optional double c;", "double"),
            ("optional int32 c (DATE);", "date"),
            ("optional int64 c (TIMESTAMP(MILLIS,true));", "timestamp"),
            ("optional int64 c (TIMESTAMP(MILLIS,false));", "timestamp"),
            ("optional int64 c (TIMESTAMP(MICROS,true));", "timestamp"),
            ("optional int64 c (TIMESTAMP(MICROS,false));", "timestamp"),
            ("optional int64 c (TIMESTAMP(NANOS,true));", "timestamp"),
            ("optional int64 c (TIMESTAMP_MILLIS);", "timestamp"),
            ("optional int64 c (TIMESTAMP_MICROS);", "timestamp"),
            ("optional int96 c;", "timestamp"),
            ("optional int32 c (TIME(MILLIS,true));", "int"),
            ("optional int64 c (TIME(MICROS,false));", "bigint"),
            ("optional int64 c (TIME(NANOS,false));", "bigint"),
            ("optional int32 c (TIME_MILLIS);", "int"),
            ("optional binary c (STRING);", "string"),
            ("optional binary c (UTF8);", "string"),
            ("optional binary c (ENUM);", "string"),
            ("optional binary c (JSON);", "string"),
            ("required binary c (UTF8);", "string"),
            ("optional binary c;", "binary"),
            ("optional binary c (BSON);", "binary"),
            ("optional fixed_len_byte_array(5) c;", "binary"),
            ("optional fixed_len_byte_array(16) c (UUID);", "binary"),
        ];
        for (field, want) in cases {
            let got = map_field(field).unwrap_or_else(|e| panic!("{field}: {e}"));
            assert_eq!(got, *want, "{field}");
        }
    }

    #[test]
    fn unsupported_types_are_errors_naming_the_column_and_its_type() {
        let cases: &[(&str, &str)] = &[
            (
                "optional group c (LIST) { repeated group list { optional int32 element; } }",
                "group LIST",
            ),
            (
                "optional group c (MAP) { repeated group key_value { required binary key (UTF8); optional int32 value; } }",
                "group MAP",
            ),
            ("optional group c { optional int32 a; }", "optional group"),
            ("repeated int32 c;", "repeated INT32"),
            ("optional fixed_len_byte_array(17) c (DECIMAL(39,2));", "DECIMAL(39,2)"),
            ("optional binary c (DECIMAL(40,0));", "DECIMAL(40,0)"),
            ("optional fixed_len_byte_array(12) c (INTERVAL);", "INTERVAL"),
            ("optional fixed_len_byte_array(2) c (FLOAT16);", "FLOAT16"),
        ];
        for (field, type_part) in cases {
            let err = map_field(field).expect_err(field);
            let SchemaError::UnsupportedType {
                column,
                parquet_type,
                ..
            } = &err
            else {
                panic!("{field}: unexpected {err:?}");
            };
            assert_eq!(column, "c", "{field}");
            assert!(parquet_type.contains(type_part), "{field}: {parquet_type}");
            let msg = err.to_string();
            assert!(msg.contains("\"c\"") && msg.contains(type_part), "{msg}");
        }
    }

    #[test]
    fn names_are_lower_cased_and_special_characters_become_underscores() {
        let cases: &[(&str, &str)] = &[
            ("Op", "op"),
            ("DMS_TIMESTAMP", "dms_timestamp"),
            ("order-id", "order_id"),
            ("unit price", "unit_price"),
            ("$AR_H_CHANGE_SEQ", "_ar_h_change_seq"),
            ("Straße", "stra_e"),
            ("a.b", "a_b"),
            ("9lives", "9lives"),
            ("_id", "_id"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_name(input).as_deref(), Ok(*want), "{input}");
        }
        assert_eq!(normalise_name(&"x".repeat(255)).map(|s| s.len()), Ok(255));
    }

    #[test]
    fn unrepresentable_names_are_errors() {
        for input in ["", "$", "---", "é", &"x".repeat(256)] {
            let err = normalise_name(input).expect_err(input);
            assert!(
                matches!(err, SchemaError::InvalidName { .. }),
                "{input}: {err:?}"
            );
        }
    }

    #[test]
    fn two_columns_normalising_to_one_name_are_an_error_naming_both() {
        let meta = written_and_read_back(
            "message m { optional int32 Order_Id; optional int32 order-id; }",
        );
        let err = glue_columns(&meta, &dms()).expect_err("collision");
        assert_eq!(
            err,
            SchemaError::NameCollision {
                first: "Order_Id".into(),
                second: "order-id".into(),
                normalised: "order_id".into()
            }
        );
    }

    #[test]
    fn dms_columns_get_their_roles() {
        let dms = DmsColumns {
            timestamp: "DMS_TIMESTAMP".into(),
            change_sequence: "transaction_sequence_number".into(),
            before_image_prefix: "BI_".into(),
        };
        let cases: &[(&str, ColumnRole)] = &[
            ("Op", ColumnRole::Op),
            ("op", ColumnRole::Data),
            ("DMS_TIMESTAMP", ColumnRole::Timestamp),
            ("dms_timestamp", ColumnRole::Timestamp),
            ("TRANSACTION_SEQUENCE_NUMBER", ColumnRole::ChangeSequence),
            ("BI_order_id", ColumnRole::BeforeImage),
            ("BI_", ColumnRole::Data),
            ("bi_order_id", ColumnRole::Data),
            ("order_id", ColumnRole::Data),
        ];
        for (name, want) in cases {
            assert_eq!(column_role(name, &dms), *want, "{name}");
        }
    }

    #[test]
    fn columns_keep_file_order_and_source_names() {
        let cols = named_columns([("Op", GlueType::String), ("ID", GlueType::Bigint)], &dms())
            .expect("columns");
        assert_eq!(
            cols,
            vec![
                FileColumn {
                    column: Column::new("op", GlueType::String),
                    source_name: "Op".into(),
                    role: ColumnRole::Op
                },
                FileColumn {
                    column: Column::new("id", GlueType::Bigint),
                    source_name: "ID".into(),
                    role: ColumnRole::Data
                },
            ]
        );
        assert_eq!(
            named_columns(std::iter::empty(), &dms()),
            Err(SchemaError::NoColumns)
        );
    }
}
