//! DMS's S3 target Parquet format (`DataFormat=parquet`): the same rows as the CSV files, one
//! typed column per field.
//!
//! Types follow the chain DMS documents: PostgreSQL type → DMS type (CHAP_Source.PostgreSQL.md,
//! "Source data types for PostgreSQL") → Parquet type (CHAP_Target.S3.md, "Target data types
//! for S3 Parquet"), checked against a real DMS Parquet file from PostgreSQL
//! (`dms-samples/parquet-go-dms`): `smallint` is `INT32 (INT_16)`, `integer` `INT32`, `bigint`
//! `INT64`, `numeric(p,s)` and `money` (`NUMERIC(38,4)`) `FIXED_LEN_BYTE_ARRAY` decimals sized
//! for their precision, `real` `FLOAT`, `double precision` `DOUBLE`, `bytea` plain binary,
//! timestamps `INT64` timestamps adjusted to UTC, `boolean` `BOOLEAN`, and every DMS string type
//! (text, varchar, uuid, json, arrays, intervals, inet, ...) `BYTE_ARRAY (UTF8)`. Not in the
//! sample, from the documentation: `date` is `DATE` (`INT32` days), `time` is `TIME32`
//! (`INT32` milliseconds: DMS keeps millisecond precision for it), a `numeric` without
//! precision is `NUMERIC(28,6)`, a precision above 38 a string, and timestamps are in
//! microseconds (`ParquetTimestampInMillisecond` defaults to false), with PostgreSQL's
//! `infinity` / `-infinity` written as DMS truncates them (`9999-12-31 23:59:59`,
//! `4713-01-01 00:00:00 BC`).
//!
//! The `Op` column and the timestamp column are required strings (the sample's
//! `DMS_TIMESTAMP` is `REQUIRED`); the source, change-sequence and before-image columns are
//! optional. Files are uncompressed (`CompressionType` NONE; DMS's `GZIP` is not modelled).

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use dmslake::config::{DmsColumns, OP_COLUMN};
use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType,
    FloatType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::capture::TableInfo;
use crate::format::{format_timestamp, Row, RowLayout};

/// The Parquet type DMS writes for one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParquetKind {
    String,
    Binary,
    Boolean,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    Decimal { precision: u8, scale: u8 },
    Date,
    TimeMillis,
    TimestampMicros,
}

/// DMS's `NUMERIC(28,6)` for a PostgreSQL `numeric` without precision (CHAP_Source.PostgreSQL.md).
const UNBOUNDED_NUMERIC: ParquetKind = ParquetKind::Decimal {
    precision: 28,
    scale: 6,
};

impl ParquetKind {
    /// From a PostgreSQL type name as `format_type` prints it (`test_decoding` prints it without
    /// the modifier: `numeric` there reads as DMS's unbounded NUMERIC).
    pub fn from_pg_type(type_name: &str) -> Self {
        let t = type_name.trim().to_ascii_lowercase();
        if t.ends_with("[]") {
            return Self::String;
        }
        match t.as_str() {
            "smallint" | "int2" | "smallserial" => return Self::Int16,
            "integer" | "int" | "int4" | "serial" => return Self::Int32,
            "bigint" | "int8" | "bigserial" => return Self::Int64,
            "real" | "float4" => return Self::Float,
            "double precision" | "float8" => return Self::Double,
            "boolean" | "bool" => return Self::Boolean,
            "bytea" => return Self::Binary,
            "date" => return Self::Date,
            "money" => {
                return Self::Decimal {
                    precision: 38,
                    scale: 4,
                }
            }
            "numeric" | "decimal" => return UNBOUNDED_NUMERIC,
            _ => {}
        }
        if let Some(args) = t
            .strip_prefix("numeric(")
            .or_else(|| t.strip_prefix("decimal("))
            .and_then(|r| r.strip_suffix(')'))
        {
            let mut parts = args.split(',').map(|p| p.trim().parse::<u8>());
            return match (parts.next(), parts.next()) {
                (Some(Ok(p)), scale) if (1..=38).contains(&p) => {
                    let s = match scale {
                        Some(Ok(s)) if s <= p => s,
                        None => 0,
                        _ => return Self::String,
                    };
                    Self::Decimal {
                        precision: p,
                        scale: s,
                    }
                }
                _ => Self::String,
            };
        }
        if t.starts_with("timestamp") {
            return Self::TimestampMicros;
        }
        if t.starts_with("time") {
            return Self::TimeMillis;
        }
        Self::String
    }

    fn physical(self) -> PhysicalType {
        match self {
            Self::String | Self::Binary => PhysicalType::BYTE_ARRAY,
            Self::Boolean => PhysicalType::BOOLEAN,
            Self::Int16 | Self::Int32 | Self::Date | Self::TimeMillis => PhysicalType::INT32,
            Self::Int64 | Self::TimestampMicros => PhysicalType::INT64,
            Self::Float => PhysicalType::FLOAT,
            Self::Double => PhysicalType::DOUBLE,
            Self::Decimal { .. } => PhysicalType::FIXED_LEN_BYTE_ARRAY,
        }
    }

    fn logical(self) -> Option<LogicalType> {
        match self {
            Self::String => Some(LogicalType::String),
            Self::Int16 => Some(LogicalType::Integer {
                bit_width: 16,
                is_signed: true,
            }),
            Self::Decimal { precision, scale } => Some(LogicalType::Decimal {
                scale: i32::from(scale),
                precision: i32::from(precision),
            }),
            Self::Date => Some(LogicalType::Date),
            Self::TimeMillis => Some(LogicalType::Time {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MILLIS,
            }),
            Self::TimestampMicros => Some(LogicalType::Timestamp {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MICROS,
            }),
            _ => None,
        }
    }
}

/// Bytes of a decimal of `precision` digits as a fixed-length two's complement integer
/// (the smallest length that holds 10^precision - 1 with its sign, as the sample has:
/// 7 bytes for precision 15, 16 for 38).
pub fn decimal_length(precision: u8) -> usize {
    let bits = (f64::from(precision) * std::f64::consts::LOG2_10).ceil() as usize + 1;
    bits.div_ceil(8)
}

/// A value that the column's Parquet type cannot hold, or a writer failure.
#[derive(Debug, thiserror::Error)]
pub enum ParquetFormatError {
    #[error("column {column:?}: value {value:?} is not a valid {kind:?}")]
    BadValue {
        column: String,
        kind: ParquetKind,
        value: String,
    },
    #[error("writing Parquet: {0}")]
    Writer(#[from] parquet::errors::ParquetError),
}

/// One column of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileColumn {
    pub name: String,
    pub kind: ParquetKind,
    pub required: bool,
    source: Field,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Op,
    Timestamp,
    Source(usize),
    ChangeSequence,
    BeforeImage(usize),
}

/// The columns of a file for `info` in DMS's order: `Op`, the timestamp column, the source
/// columns, the change-sequence column and the before-image key columns (as in the CSV files).
pub fn file_columns(info: &TableInfo, names: &DmsColumns, layout: RowLayout) -> Vec<FileColumn> {
    let mut out = vec![FileColumn {
        name: OP_COLUMN.into(),
        kind: ParquetKind::String,
        required: true,
        source: Field::Op,
    }];
    if layout.timestamp_column {
        out.push(FileColumn {
            name: names.timestamp.clone(),
            kind: ParquetKind::String,
            required: true,
            source: Field::Timestamp,
        });
    }
    // A `change-data-type` rule's new type holds for the before-image columns too: they are
    // the same source columns.
    let kind = |pg_type: &str| match ParquetKind::from_pg_type(pg_type) {
        ParquetKind::TimeMillis if layout.time_as_text => ParquetKind::String,
        kind => kind,
    };
    for (i, c) in info.columns.iter().enumerate() {
        out.push(FileColumn {
            name: c.name.clone(),
            kind: kind(&c.pg_type),
            required: false,
            source: Field::Source(i),
        });
    }
    if layout.change_sequence {
        out.push(FileColumn {
            name: names.change_sequence.clone(),
            kind: ParquetKind::String,
            required: false,
            source: Field::ChangeSequence,
        });
    }
    if layout.before_image_keys {
        for (k, &i) in info.key.iter().enumerate() {
            let c = &info.columns[i];
            out.push(FileColumn {
                name: format!("{}{}", names.before_image_prefix, c.name),
                kind: kind(&c.pg_type),
                required: false,
                source: Field::BeforeImage(k),
            });
        }
    }
    out
}

impl FileColumn {
    fn parquet_type(&self) -> Result<Type, ParquetFormatError> {
        let repetition = if self.required {
            Repetition::REQUIRED
        } else {
            Repetition::OPTIONAL
        };
        let mut builder = Type::primitive_type_builder(&self.name, self.kind.physical())
            .with_repetition(repetition)
            .with_logical_type(self.kind.logical());
        if let ParquetKind::Decimal { precision, scale } = self.kind {
            builder = builder
                .with_length(decimal_length(precision) as i32)
                .with_precision(i32::from(precision))
                .with_scale(i32::from(scale));
        }
        Ok(builder.build()?)
    }

    /// The DMS text of this column in `row` (`None` is NULL; a row written before a column was
    /// added has no value for it).
    fn text(&self, row: &Row) -> Option<String> {
        match self.source {
            Field::Op => Some(row.op.letter().to_string()),
            Field::Timestamp => Some(format_timestamp(row.timestamp)),
            Field::Source(i) => row.values.get(i).cloned().flatten(),
            Field::ChangeSequence => row.change_sequence.map(|s| s.to_string()),
            Field::BeforeImage(k) => row
                .before_image
                .as_ref()
                .and_then(|b| b.get(k).cloned().flatten()),
        }
    }

    fn bad(&self, value: &str) -> ParquetFormatError {
        ParquetFormatError::BadValue {
            column: self.name.clone(),
            kind: self.kind,
            value: value.to_string(),
        }
    }
}

/// Writes `rows` as one Parquet file (one row group) with `columns`.
pub fn write_file(columns: &[FileColumn], rows: &[Row]) -> Result<Vec<u8>, ParquetFormatError> {
    let fields = columns
        .iter()
        .map(|c| c.parquet_type().map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?,
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_created_by("dms-local".into())
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    for column in columns {
        let Some(mut out) = group.next_column()? else {
            break;
        };
        let texts: Vec<Option<String>> = rows.iter().map(|r| column.text(r)).collect();
        let defs: Vec<i16> = texts.iter().map(|t| i16::from(t.is_some())).collect();
        let defs = (!column.required).then_some(defs.as_slice());
        let present: Vec<&str> = texts.iter().flatten().map(String::as_str).collect();
        // Each present value converted by `f`; a value it refuses names its column.
        fn values<T>(
            column: &FileColumn,
            present: &[&str],
            f: impl Fn(&str) -> Option<T>,
        ) -> Result<Vec<T>, ParquetFormatError> {
            present
                .iter()
                .map(|t| f(t).ok_or_else(|| column.bad(t)))
                .collect()
        }
        let c = column;
        match column.kind {
            ParquetKind::String => {
                let v = values(c, &present, |t| Some(ByteArray::from(t)))?;
                out.typed::<ByteArrayType>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Binary => {
                let v = values(c, &present, |t| hex_bytes(t).map(ByteArray::from))?;
                out.typed::<ByteArrayType>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Boolean => {
                let v = values(c, &present, |t| match t {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                })?;
                out.typed::<BoolType>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Int16 | ParquetKind::Int32 => {
                let v = values(c, &present, |t| t.parse::<i32>().ok())?;
                out.typed::<Int32Type>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Int64 => {
                let v = values(c, &present, |t| t.parse::<i64>().ok())?;
                out.typed::<Int64Type>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Float => {
                let v = values(c, &present, |t| t.parse::<f32>().ok())?;
                out.typed::<FloatType>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Double => {
                let v = values(c, &present, |t| t.parse::<f64>().ok())?;
                out.typed::<DoubleType>().write_batch(&v, defs, None)?;
            }
            ParquetKind::Decimal { precision, scale } => {
                let len = decimal_length(precision);
                let v = values(c, &present, |t| {
                    let n = decimal_unscaled(t, precision, scale)?;
                    Some(FixedLenByteArray::from(
                        n.to_be_bytes()[16 - len..].to_vec(),
                    ))
                })?;
                out.typed::<FixedLenByteArrayType>()
                    .write_batch(&v, defs, None)?;
            }
            ParquetKind::Date => {
                let v = values(c, &present, days_since_epoch)?;
                out.typed::<Int32Type>().write_batch(&v, defs, None)?;
            }
            ParquetKind::TimeMillis => {
                let v = values(c, &present, millis_of_day)?;
                out.typed::<Int32Type>().write_batch(&v, defs, None)?;
            }
            ParquetKind::TimestampMicros => {
                let v = values(c, &present, micros_since_epoch)?;
                out.typed::<Int64Type>().write_batch(&v, defs, None)?;
            }
        }
        out.close()?;
    }
    group.close()?;
    Ok(writer.into_inner()?)
}

/// Hex digits (DMS's text of a `bytea`, without `\x`) to bytes.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// A decimal text (`-12.5`, `1e3` is refused; `money` as PostgreSQL prints it in the C locale,
/// `-$1,234.50`) as the unscaled integer at `scale`, rounded half away from zero; `None` when
/// it is not a number or does not fit `precision` digits.
pub fn decimal_unscaled(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let t = t.strip_prefix('$').unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != ',').collect();
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = usize::from(scale);
    let mut unscaled: i128 = 0;
    for b in int.bytes() {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    let kept: Vec<u8> = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(scale)
        .collect();
    for b in kept {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    if frac.as_bytes().get(scale).is_some_and(|b| *b >= b'5') {
        unscaled = unscaled.checked_add(1)?;
    }
    if unscaled >= 10i128.checked_pow(u32::from(precision))? {
        return None;
    }
    Some(if negative { -unscaled } else { unscaled })
}

fn days_since_epoch(text: &str) -> Option<i32> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

fn millis_of_day(text: &str) -> Option<i32> {
    if text == "24:00:00" {
        return Some(86_400_000);
    }
    let time = NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok()?;
    let millis = time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000;
    i32::try_from(millis).ok()
}

fn micros_since_epoch(text: &str) -> Option<i64> {
    let text = match text {
        "infinity" => "9999-12-31 23:59:59",
        "-infinity" => {
            // `4713-01-01 00:00:00 BC`: proleptic year -4712.
            let bc = NaiveDate::from_ymd_opt(-4712, 1, 1)?.and_hms_opt(0, 0, 0)?;
            return Some(bc.and_utc().timestamp_micros());
        }
        other => other,
    };
    let ts = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    Some(ts.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Column;
    use crate::format::{ChangeSequence, Op};
    use chrono::{TimeZone, Utc};

    #[rustfmt::skip]
    const PG_TYPES: &[(&str, ParquetKind)] = &[
        ("smallint", ParquetKind::Int16),
        ("integer", ParquetKind::Int32),
        ("bigint", ParquetKind::Int64),
        ("numeric(12,2)", ParquetKind::Decimal { precision: 12, scale: 2 }),
        ("numeric(10)", ParquetKind::Decimal { precision: 10, scale: 0 }),
        ("numeric", ParquetKind::Decimal { precision: 28, scale: 6 }),
        ("numeric(40,2)", ParquetKind::String),
        ("money", ParquetKind::Decimal { precision: 38, scale: 4 }),
        ("real", ParquetKind::Float),
        ("double precision", ParquetKind::Double),
        ("boolean", ParquetKind::Boolean),
        ("bytea", ParquetKind::Binary),
        ("date", ParquetKind::Date),
        ("time without time zone", ParquetKind::TimeMillis),
        ("time(3) without time zone", ParquetKind::TimeMillis),
        ("timestamp without time zone", ParquetKind::TimestampMicros),
        ("timestamp(3) with time zone", ParquetKind::TimestampMicros),
        ("text", ParquetKind::String),
        ("character varying(40)", ParquetKind::String),
        ("uuid", ParquetKind::String),
        ("jsonb", ParquetKind::String),
        ("interval", ParquetKind::String),
        ("integer[]", ParquetKind::String),
        ("inet", ParquetKind::String),
    ];

    #[test]
    fn postgres_types_map_to_the_parquet_types_dms_writes() {
        for (pg, kind) in PG_TYPES {
            assert_eq!(ParquetKind::from_pg_type(pg), *kind, "{pg}");
        }
    }

    #[test]
    fn the_time_as_text_rule_turns_time_columns_and_their_before_images_into_strings() {
        let info = TableInfo {
            schema: "public".into(),
            table: "shifts".into(),
            columns: vec![
                Column::new("starts", "time without time zone"),
                Column::new("day", "date"),
            ],
            key: vec![0],
        };
        let kinds = |time_as_text: bool| -> Vec<(String, ParquetKind)> {
            let layout = RowLayout {
                time_as_text,
                ..RowLayout::default()
            };
            file_columns(&info, &DmsColumns::default(), layout)
                .into_iter()
                .filter(|c| matches!(c.source, Field::Source(_) | Field::BeforeImage(_)))
                .map(|c| (c.name, c.kind))
                .collect()
        };
        let named = |pairs: &[(&str, ParquetKind)]| -> Vec<(String, ParquetKind)> {
            pairs.iter().map(|(n, k)| (n.to_string(), *k)).collect()
        };
        assert_eq!(
            kinds(true),
            named(&[
                ("starts", ParquetKind::String),
                ("day", ParquetKind::Date),
                ("BI_starts", ParquetKind::String),
            ])
        );
        assert_eq!(
            kinds(false),
            named(&[
                ("starts", ParquetKind::TimeMillis),
                ("day", ParquetKind::Date),
                ("BI_starts", ParquetKind::TimeMillis),
            ])
        );
    }

    #[test]
    fn decimal_lengths_match_the_dms_sample() {
        // dms-samples/parquet-go-dms: decimal(15,2) in 7 bytes, decimal(38,4) in 16.
        assert_eq!(decimal_length(15), 7);
        assert_eq!(decimal_length(38), 16);
        assert_eq!(decimal_length(12), 6);
        assert_eq!(decimal_length(1), 1);
    }

    #[test]
    fn decimal_texts_become_unscaled_integers() {
        assert_eq!(decimal_unscaled("123.45", 12, 2), Some(12345));
        assert_eq!(decimal_unscaled("-0.5", 12, 2), Some(-50));
        assert_eq!(decimal_unscaled("7", 12, 2), Some(700));
        assert_eq!(decimal_unscaled("$1,234.50", 38, 4), Some(12_345_000));
        assert_eq!(decimal_unscaled("-$0.01", 38, 4), Some(-100));
        assert_eq!(decimal_unscaled("0.6111111044", 28, 6), Some(611_111));
        assert_eq!(
            decimal_unscaled("0.0000005", 28, 6),
            Some(1),
            "half away from zero"
        );
        assert_eq!(decimal_unscaled("1000", 3, 0), None, "too many digits");
        assert_eq!(decimal_unscaled("1e3", 12, 2), None);
        assert_eq!(decimal_unscaled("NaN", 12, 2), None);
        assert_eq!(decimal_unscaled("", 12, 2), None);
    }

    #[test]
    fn dates_times_and_timestamps_become_their_units() {
        assert_eq!(days_since_epoch("1970-01-02"), Some(1));
        assert_eq!(days_since_epoch("1969-12-31"), Some(-1));
        assert_eq!(millis_of_day("01:00:00.123456"), Some(3_600_123));
        assert_eq!(millis_of_day("24:00:00"), Some(86_400_000));
        assert_eq!(micros_since_epoch("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(
            micros_since_epoch("infinity"),
            micros_since_epoch("9999-12-31 23:59:59")
        );
        let bc = micros_since_epoch("-infinity").expect("-infinity");
        assert_eq!(
            Utc.timestamp_micros(bc)
                .single()
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            Some("-4712-01-01 00:00:00".into())
        );
        assert_eq!(micros_since_epoch("2024-13-01 00:00:00"), None);
        assert_eq!(hex_bytes("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_bytes("0"), None);
        assert_eq!(hex_bytes("zz"), None);
    }

    fn table() -> TableInfo {
        TableInfo {
            schema: "public".into(),
            table: "t".into(),
            columns: vec![
                Column::new("id", "integer"),
                Column::new("price", "numeric(12,2)"),
            ],
            key: vec![0],
        }
    }

    #[test]
    fn file_columns_follow_dms_order_and_key_types() {
        let cols = file_columns(&table(), &DmsColumns::default(), RowLayout::default());
        let names: Vec<(&str, ParquetKind, bool)> = cols
            .iter()
            .map(|c| (c.name.as_str(), c.kind, c.required))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Op", ParquetKind::String, true),
                ("dms_commit_ts", ParquetKind::String, true),
                ("id", ParquetKind::Int32, false),
                (
                    "price",
                    ParquetKind::Decimal {
                        precision: 12,
                        scale: 2
                    },
                    false
                ),
                ("dms_change_seq", ParquetKind::String, false),
                ("BI_id", ParquetKind::Int32, false),
            ]
        );
    }

    #[test]
    fn a_bad_value_names_its_column() {
        let cols = file_columns(&table(), &DmsColumns::default(), RowLayout::default());
        let row = Row {
            op: Op::Insert,
            timestamp: Utc::now(),
            values: vec![Some("x1".into()), None],
            change_sequence: None,
            before_image: None,
        };
        match write_file(&cols, &[row]) {
            Err(ParquetFormatError::BadValue { column, .. }) => assert_eq!(column, "id"),
            other => panic!("expected a bad value, got {other:?}"),
        }
    }

    #[test]
    fn rows_written_before_a_column_existed_get_null() {
        let mut info = table();
        let commit = Utc
            .with_ymd_and_hms(2024, 6, 12, 10, 30, 27)
            .single()
            .expect("ts");
        let old = Row {
            op: Op::Update,
            timestamp: commit,
            values: vec![Some("1".into()), Some("2.50".into())],
            change_sequence: Some(ChangeSequence { commit, counter: 5 }),
            before_image: None,
        };
        info.columns.push(Column::new("note", "text"));
        let new = Row {
            values: vec![Some("1".into()), Some("3.00".into()), Some("hi".into())],
            ..old.clone()
        };
        let cols = file_columns(&info, &DmsColumns::default(), RowLayout::default());
        let bytes = write_file(&cols, &[old, new]).expect("written");
        let meta =
            match dmslake::parquet_footer::footer_from_suffix(&bytes, Some(bytes.len() as u64))
                .expect("footer")
            {
                dmslake::parquet_footer::FooterStep::Complete(m) => m,
                other => panic!("incomplete footer: {other:?}"),
            };
        assert_eq!(meta.file_metadata().num_rows(), 2);
        let note = meta.row_group(0).column(4);
        assert_eq!(note.column_path().string(), "note");
        assert_eq!(
            note.statistics().and_then(|s| s.null_count_opt()),
            Some(1),
            "the row from before the column existed is NULL"
        );
    }
}
