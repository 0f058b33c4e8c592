//! Where AWS DMS writes its S3 target files, and what an object key says about them.
//!
//! Pure code: classify a key as full-load data, CDC data, or not DMS data (with a reason).
//! Rules from the AWS DMS user guide, CHAP_Target.S3.md ("Using Amazon S3 as a target").
//!
//! Keys recognised as data (`[F/]` is the `BucketFolder`, one or more levels, or nothing):
//!
//! ```text
//! [F/]schema/table/LOAD00000001.csv            full load; hexadecimal counter, .csv.gz with GZIP
//! [F/]schema/table/SEGMENT2_LOAD0000000A.csv   parallel load without segment names
//! [F/]schema/table/<partition>/LOAD00000001.csv parallel load of a partitioned source
//! [F/]schema/table/20240612-103647680.csv      CDC, named by time
//! [F/]schema/table/<date>/20240612-103647680.csv   CDC with DatePartitionEnabled
//! [F/]schema/table/[<date>/]LOAD00000001.csv   full load with DatePartitionEnabled
//! [F/]<CdcPath>/schema/table/20240612-103647680.csv CDC under CdcPath
//! ```
//!
//! `<date>` follows `DatePartitionSequence` and `DatePartitionDelimiter` (`2024/06/12`,
//! `2024-06-12-07`, `202406`, `12062024`, ...). Everything else is not data, with a reason:
//! folder markers, `CDC_TXN-*` transaction files (PreserveTransactions), other extensions,
//! keys outside `BucketFolder`, empty/`.`/`..` segments, control characters, impossible dates.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::config::{DatePart, DatePartitionDelimiter, DatePartitionSequence, LayoutConfig};

/// Full-load (`LOADnnnnnnnn`) or change-data-capture (timestamp-named) file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    FullLoad,
    Cdc,
}

/// File format DMS wrote (`DataFormat` endpoint setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Parquet,
}

/// Compression DMS applied (`CompressionType` endpoint setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
}

/// A DMS data file, as its key describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmsObject {
    /// The decoded object key.
    pub key: String,
    pub kind: DataKind,
    /// The `BucketFolder` part of the key (empty when none).
    pub bucket_folder: String,
    /// Source schema and table, exactly as they appear in the key.
    pub schema: String,
    pub table: String,
    /// Date-partition values in canonical order (year, month, day, hour), empty when the
    /// file is not in a date folder.
    pub partition: Vec<(DatePart, String)>,
    pub format: FileFormat,
    pub compression: Compression,
    /// Last key segment.
    pub file_name: String,
    /// Key prefix (ending in `/`) of the folder that holds the file: a partition's location
    /// (the date folder, a parallel-load partition folder, or the table folder).
    pub folder_prefix: String,
    /// Key prefix (ending in `/`) of the table: `[BucketFolder/]schema/table/`. A CDC file
    /// under `CdcPath` has the same table prefix, though it lies elsewhere (see
    /// [`DmsObject::in_cdc_path`]).
    pub table_prefix: String,
}

/// What a key is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Classification {
    Data(DmsObject),
    /// Not DMS table data; the reason says why (for the log line).
    Ignored {
        reason: String,
    },
}

/// A key that cannot even be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("object key {key:?} is not valid URL encoding: {reason}")]
    BadEncoding { key: String, reason: String },
}

/// Decodes a key as S3 event notifications deliver it (`+` for space, `%XX` escapes, UTF-8).
///
/// Strict: a `%` not followed by two hexadecimal digits, or bytes that are not UTF-8, are an
/// error rather than passed through, so a mangled key is never mistaken for another one.
pub fn decode_event_key(raw: &str) -> Result<String, LayoutError> {
    let bad = |reason: String| LayoutError::BadEncoding {
        key: raw.to_string(),
        reason,
    };
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(bad(format!(
                    "'%' at byte {i} is not followed by two hexadecimal digits"
                )));
            }
        }
    }
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| bad(format!("decoded bytes are not UTF-8 ({e})")))
}

/// Classifies a decoded object key under the given layout. Never panics; anything that is not
/// a DMS table data file is `Ignored` with a reason naming the key.
pub fn classify(key: &str, layout: &LayoutConfig) -> Classification {
    match parse_data_key(key, layout) {
        Ok(object) => Classification::Data(object),
        Err(why) => Classification::Ignored {
            reason: format!("{key:?}: {why}"),
        },
    }
}

impl Classification {
    /// The data file, if this key is one.
    pub fn data(&self) -> Option<&DmsObject> {
        match self {
            Classification::Data(object) => Some(object),
            Classification::Ignored { .. } => None,
        }
    }
}

impl DmsObject {
    /// Whether the file lies under `CdcPath` rather than under its table folder.
    pub fn in_cdc_path(&self) -> bool {
        !self.key.starts_with(&self.table_prefix)
    }

    /// The date-partition value of one part, if the file is in a date folder.
    pub fn partition_value(&self, part: DatePart) -> Option<&str> {
        self.partition
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, v)| v.as_str())
    }

    /// The values of the raw table's partition keys ([`partition_columns`]) for this file.
    ///
    /// Empty without date partitioning. With it, the date folder's values; for a full-load
    /// file outside any date folder, zeros of each part's width (`0000`, `00`, ...): the
    /// "full-load partition", which no real date can produce (years start at 1970 here).
    pub fn partition_values(&self, layout: &LayoutConfig) -> Vec<String> {
        partition_columns(layout)
            .into_iter()
            .map(|part| match self.partition_value(part) {
                Some(value) => value.to_string(),
                None => "0".repeat(part.width()),
            })
            .collect()
    }
}

/// The Glue partition keys of a raw table under `layout`, in canonical order (year, month,
/// day, hour): the parts of `DatePartitionSequence` when date partitioning is on, else none.
pub fn partition_columns(layout: &LayoutConfig) -> Vec<DatePart> {
    if !layout.date_partition_enabled {
        return Vec::new();
    }
    let mut parts = layout.date_partition_sequence.parts().to_vec();
    parts.sort();
    parts
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }
}

/// What the last key segment says about a file.
#[derive(Debug, PartialEq, Eq)]
struct FileName {
    kind: DataKind,
    format: FileFormat,
    compression: Compression,
}

fn parse_data_key(key: &str, layout: &LayoutConfig) -> Result<DmsObject, String> {
    let segments = checked_segments(key)?;
    let folder: Vec<&str> = split_folder(&layout.bucket_folder);
    let rest = strip_folder(&segments, &folder).ok_or_else(|| {
        format!(
            "outside BucketFolder {:?} (expected {}<schema>/<table>/<file>)",
            layout.bucket_folder,
            prefix_of(&folder)
        )
    })?;
    let (file_name, dirs) = rest
        .split_last()
        .ok_or_else(|| "no file name after BucketFolder".to_string())?;
    let file = parse_file_name(file_name)?;

    // CdcPath (CHAP_Target.S3.md, "Endpoint settings" and "Capturing data changes (CDC)
    // including transaction order"): a folder under BucketFolder. With PreserveTransactions
    // it holds CDC_TXN-* files only (refused by `parse_file_name`). Per-table CDC files found
    // under it keep their <schema>/<table> folders; full-load files never go there, so a LOAD
    // key whose first folder happens to equal CdcPath is read as an ordinary schema folder.
    let cdc = split_folder(layout.cdc_path.as_deref().unwrap_or(""));
    let dirs = match strip_folder(dirs, &cdc) {
        Some(inner) if !cdc.is_empty() && file.kind == DataKind::Cdc && inner.len() >= 2 => inner,
        _ => dirs,
    };
    let [schema, table, extra @ ..] = dirs else {
        return Err(format!(
            "no <schema>/<table> folders before {file_name:?} (expected {}<schema>/<table>/{file_name})",
            prefix_of(&folder)
        ));
    };

    let (partition, leftover) = if layout.date_partition_enabled {
        match parse_date_folder(
            extra,
            layout.date_partition_sequence,
            layout.date_partition_delimiter,
        )? {
            Some((values, used)) => (values, &extra[used..]),
            None => (Vec::new(), extra),
        }
    } else {
        (Vec::new(), extra)
    };

    match (file.kind, leftover) {
        // Date partitioning puts every CDC file in a commit-date folder
        // (CHAP_Target.S3.md, "Using date-based folder partitioning").
        (DataKind::Cdc, []) if layout.date_partition_enabled && partition.is_empty() => {
            return Err(format!(
                "CDC file outside a date folder while DatePartitionEnabled (expected \
                 <schema>/<table>/{}/{file_name})",
                date_pattern(
                    layout.date_partition_sequence,
                    layout.date_partition_delimiter
                )
            ));
        }
        (_, []) => {}
        // Parallel full load of a partitioned source adds one folder per source partition
        // (CHAP_Target.S3.md, "Parallel load of partitioned sources").
        (DataKind::FullLoad, [_source_partition]) => {}
        (_, unexpected) => {
            let dates = if layout.date_partition_enabled {
                format!(
                    "a date folder {}",
                    date_pattern(
                        layout.date_partition_sequence,
                        layout.date_partition_delimiter
                    )
                )
            } else {
                "no folders (DatePartitionEnabled is off)".to_string()
            };
            let expected = match file.kind {
                DataKind::Cdc => dates,
                DataKind::FullLoad => {
                    format!("{dates}, then at most one parallel-load partition folder")
                }
            };
            return Err(format!(
                "unexpected folders {:?} after table {table:?}: expected {expected}",
                unexpected.join("/")
            ));
        }
    }

    let table_prefix = format!("{}{schema}/{table}/", prefix_of(&folder));
    let folder_prefix = match key.rfind('/') {
        Some(end) => key[..=end].to_string(),
        None => String::new(),
    };
    Ok(DmsObject {
        key: key.to_string(),
        kind: file.kind,
        bucket_folder: layout.bucket_folder.clone(),
        schema: schema.to_string(),
        table: table.to_string(),
        partition,
        format: file.format,
        compression: file.compression,
        file_name: file_name.to_string(),
        folder_prefix,
        table_prefix,
    })
}

/// Splits a key into segments, refusing what no DMS key contains.
fn checked_segments(key: &str) -> Result<Vec<&str>, String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    if key.chars().any(char::is_control) {
        return Err("key contains control characters".into());
    }
    if key.ends_with('/') {
        return Err("folder marker (key ends with '/'), not a file".into());
    }
    let segments: Vec<&str> = key.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err("empty path segment ('//' or leading '/')".into());
    }
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err("relative path segment ('.' or '..')".into());
    }
    Ok(segments)
}

fn split_folder(folder: &str) -> Vec<&str> {
    folder.split('/').filter(|s| !s.is_empty()).collect()
}

fn strip_folder<'a, 'k>(segments: &'a [&'k str], folder: &[&str]) -> Option<&'a [&'k str]> {
    if segments.len() < folder.len() || segments[..folder.len()] != *folder {
        return None;
    }
    Some(&segments[folder.len()..])
}

fn prefix_of(folder: &[&str]) -> String {
    folder.iter().map(|s| format!("{s}/")).collect()
}

/// Recognises DMS's data file names (CHAP_Target.S3.md): full-load files `LOAD` + a hexadecimal
/// counter (`LOAD00000001` ... `LOAD0000000A`), optionally prefixed by a parallel-load segment
/// index (`SEGMENT1_LOAD00000001`); CDC files named by timestamp (`20141029-1134010000`).
/// Extensions: `.csv`, `.csv.gz` (CompressionType GZIP), `.parquet` (Parquet compresses its
/// column chunks internally, so a Parquet file's name carries no compression suffix).
fn parse_file_name(name: &str) -> Result<FileName, String> {
    if name.starts_with("CDC_TXN-") {
        return Err(
            "PreserveTransactions transaction file: not supported (CDC_TXN-* files mix all \
             tables in transaction order)"
                .into(),
        );
    }
    let (stem, format, compression) = if let Some(stem) = name.strip_suffix(".csv.gz") {
        (stem, FileFormat::Csv, Compression::Gzip)
    } else if let Some(stem) = name.strip_suffix(".csv") {
        (stem, FileFormat::Csv, Compression::None)
    } else if let Some(stem) = name.strip_suffix(".parquet") {
        (stem, FileFormat::Parquet, Compression::None)
    } else {
        return Err(format!(
            "{name:?} is not a DMS data file (expected .csv, .csv.gz or .parquet)"
        ));
    };
    let kind = if is_load_stem(stem) {
        DataKind::FullLoad
    } else if is_cdc_stem(stem) {
        DataKind::Cdc
    } else {
        return Err(format!(
            "{name:?} is not a DMS data file name (expected LOADnnnnnnnn with a hexadecimal \
             counter, or a CDC timestamp like 20240612-103647680)"
        ));
    };
    Ok(FileName {
        kind,
        format,
        compression,
    })
}

fn is_upper_hex(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

fn is_load_stem(stem: &str) -> bool {
    let counter = match stem.split_once('_') {
        Some((segment, rest)) => {
            let index = segment.strip_prefix("SEGMENT").unwrap_or("");
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest.strip_prefix("LOAD")
        }
        None => stem.strip_prefix("LOAD"),
    };
    counter.is_some_and(is_upper_hex)
}

/// `YYYYMMDD-HHMMSS` followed by fractional-second digits (samples: 20240612-103647680,
/// 20141029-1134010000); date and time are checked.
fn is_cdc_stem(stem: &str) -> bool {
    let Some((date, time)) = stem.split_once('-') else {
        return false;
    };
    if date.len() != 8 || !(6..=12).contains(&time.len()) {
        return false;
    }
    if !date.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit()) {
        return false;
    }
    let num = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
    let (year, month, day) = (num(&date[..4]), num(&date[4..6]), num(&date[6..8]));
    valid_date(year, Some(month), Some(day))
        && num(&time[..2]) < 24
        && num(&time[2..4]) < 60
        && num(&time[4..6]) < 60
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Years from 1970 (all-zero values are reserved for the full-load partition), real months
/// and days.
fn valid_date(year: u32, month: Option<u32>, day: Option<u32>) -> bool {
    if !(1970..=9999).contains(&year) {
        return false;
    }
    match (month, day) {
        (Some(m), _) if !(1..=12).contains(&m) => false,
        (Some(m), Some(d)) => (1..=days_in_month(year, m)).contains(&d),
        _ => true,
    }
}

fn date_pattern(sequence: DatePartitionSequence, delimiter: DatePartitionDelimiter) -> String {
    sequence
        .parts()
        .iter()
        .map(|p| match p {
            DatePart::Year => "YYYY",
            DatePart::Month => "MM",
            DatePart::Day => "DD",
            DatePart::Hour => "HH",
        })
        .collect::<Vec<_>>()
        .join(delimiter.separator())
}

/// The date folder DMS writes for a commit at `at` (CHAP_Target.S3.md, "Using date-based
/// folder partitioning": `DatePartitionSequence` orders the parts, `DatePartitionDelimiter`
/// separates them): `2024/06/12`, `2024-06-12-07`, `202406`, `12062024`, ... The inverse of
/// the date-folder reading in [`classify`].
pub fn date_folder(
    sequence: DatePartitionSequence,
    delimiter: DatePartitionDelimiter,
    at: DateTime<Utc>,
) -> String {
    sequence
        .parts()
        .iter()
        .map(|part| match part {
            DatePart::Year => format!("{:04}", at.year()),
            DatePart::Month => format!("{:02}", at.month()),
            DatePart::Day => format!("{:02}", at.day()),
            DatePart::Hour => format!("{:02}", at.hour()),
        })
        .collect::<Vec<_>>()
        .join(delimiter.separator())
}

/// The leading part of a CDC file name DMS writes at `at` (`20240612-103647`, then fractional
/// seconds and the extension): CDC files are named by time (CHAP_Target.S3.md).
pub fn cdc_name_prefix(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d-%H%M%S").to_string()
}

/// How far before the requested time a bounded listing starts. Date folders follow the
/// *commit* date of the changes, optionally shifted by `DatePartitionTimezone` (at most 12 h
/// behind UTC), and a file is written some time after its changes were committed; CDC file
/// names are taken as UTC write times. One day covers the time zone plus up to 12 h between a
/// commit and its file.
pub fn listing_slack() -> chrono::Duration {
    chrono::Duration::days(1)
}

/// Where a listing of one table (`table_prefix` = `[BucketFolder/]schema/table/`, see
/// [`DmsObject::table_prefix`]) can start (S3 `ListObjectsV2` `StartAfter`, exclusive) so that
/// it still returns every file written at or after `written_since`: the keys it skips are
/// older. `None` when the layout's key order does not follow time and the table must be
/// listed whole:
///
/// - date partitioning with a year-first sequence (`YYYYMMDD`, `YYYYMMDDHH`, `YYYYMM`), any
///   delimiter: parts have fixed widths, so date folders sort as their dates. Start after
///   `<table_prefix><date folder of written_since - slack>`: that text is a strict prefix of
///   every key in that folder, so the folder itself is listed, and every later one.
/// - no date partitioning and no `CdcPath`: CDC files lie in the table folder named
///   `YYYYMMDD-HHMMSS...`; start after `<table_prefix><name prefix of written_since - slack>`.
/// - `MMYYYYDD` / `DDMMYYYY` (key order is not date order) and `CdcPath` (CDC files lie
///   outside the table folder): `None`.
///
/// Full-load files directly in the table folder (`LOAD...`, `SEGMENTn_LOAD...`) sort after
/// every digit-named folder or file, so they are always listed: a running full load shows as
/// activity. Their number is bounded by the table's size, not by the length of the CDC
/// history. (A parallel-load partition folder whose name sorts before the start is skipped.)
pub fn listing_start_after(
    layout: &LayoutConfig,
    table_prefix: &str,
    written_since: DateTime<Utc>,
) -> Option<String> {
    if layout.cdc_path.is_some() {
        return None;
    }
    let from = written_since - listing_slack();
    if !layout.date_partition_enabled {
        return Some(format!("{table_prefix}{}", cdc_name_prefix(from)));
    }
    let sequence = layout.date_partition_sequence;
    if sequence.parts().first() != Some(&DatePart::Year) {
        return None;
    }
    Some(format!(
        "{table_prefix}{}",
        date_folder(sequence, layout.date_partition_delimiter, from)
    ))
}

type DateValues = Vec<(DatePart, String)>;

/// Reads the commit-date folder at the start of `extra`.
///
/// `Ok(None)`: the folders do not have the shape of a date folder (digits of the right widths
/// joined by the delimiter); `Err`: they do, but the values are not a date; otherwise the
/// values in canonical order (year, month, day, hour) and the number of segments used.
fn parse_date_folder(
    extra: &[&str],
    sequence: DatePartitionSequence,
    delimiter: DatePartitionDelimiter,
) -> Result<Option<(DateValues, usize)>, String> {
    let parts = sequence.parts();
    let (raw, used): (Vec<&str>, usize) = match delimiter {
        DatePartitionDelimiter::Slash => {
            if extra.len() < parts.len() {
                return Ok(None);
            }
            (extra[..parts.len()].to_vec(), parts.len())
        }
        DatePartitionDelimiter::None => {
            let Some(first) = extra.first() else {
                return Ok(None);
            };
            let widths: usize = parts.iter().map(|p| p.width()).sum();
            if first.len() != widths || !first.is_ascii() {
                return Ok(None);
            }
            let mut pieces = Vec::with_capacity(parts.len());
            let mut at = 0;
            for p in parts {
                pieces.push(&first[at..at + p.width()]);
                at += p.width();
            }
            (pieces, 1)
        }
        other => {
            let Some(first) = extra.first() else {
                return Ok(None);
            };
            (first.split(other.separator()).collect(), 1)
        }
    };
    let shaped = raw.len() == parts.len()
        && raw
            .iter()
            .zip(parts)
            .all(|(v, p)| v.len() == p.width() && v.bytes().all(|b| b.is_ascii_digit()));
    if !shaped {
        return Ok(None);
    }
    let mut values: DateValues = parts
        .iter()
        .zip(&raw)
        .map(|(p, v)| (*p, v.to_string()))
        .collect();
    values.sort_by_key(|(p, _)| *p);
    let get = |part: DatePart| {
        values
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, v)| v.parse::<u32>().unwrap_or(u32::MAX))
    };
    let year = get(DatePart::Year).unwrap_or(0);
    let date_ok = valid_date(year, get(DatePart::Month), get(DatePart::Day))
        && get(DatePart::Hour).is_none_or(|h| h < 24);
    if !date_ok {
        return Err(format!(
            "invalid date folder {:?} (expected a real date as {})",
            extra[..used].join("/"),
            date_pattern(sequence, delimiter)
        ));
    }
    Ok(Some((values, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(folder: &str) -> LayoutConfig {
        LayoutConfig {
            bucket_folder: folder.into(),
            ..LayoutConfig::default()
        }
    }

    fn dated(
        folder: &str,
        sequence: DatePartitionSequence,
        delimiter: DatePartitionDelimiter,
    ) -> LayoutConfig {
        LayoutConfig {
            bucket_folder: folder.into(),
            date_partition_enabled: true,
            date_partition_sequence: sequence,
            date_partition_delimiter: delimiter,
            cdc_path: None,
        }
    }

    fn data(key: &str, layout: &LayoutConfig) -> DmsObject {
        match classify(key, layout) {
            Classification::Data(object) => object,
            Classification::Ignored { reason } => panic!("{key} ignored: {reason}"),
        }
    }

    fn ignored(key: &str, layout: &LayoutConfig) -> String {
        match classify(key, layout) {
            Classification::Data(object) => panic!("{key} classified as data: {object:?}"),
            Classification::Ignored { reason } => reason,
        }
    }

    #[test]
    fn full_load_and_cdc_files_under_every_bucket_folder_depth() {
        use Compression::*;
        use DataKind::*;
        use FileFormat::*;
        // (BucketFolder, key, kind, schema, table, format, compression, table prefix)
        type Case<'a> = (
            &'a str,
            &'a str,
            DataKind,
            &'a str,
            &'a str,
            FileFormat,
            Compression,
            &'a str,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("", "public/orders/LOAD00000001.csv", FullLoad, "public", "orders", Csv, None, "public/orders/"),
            ("", "public/orders/LOAD0000000A.csv", FullLoad, "public", "orders", Csv, None, "public/orders/"),
            ("", "public/orders/LOAD00000010.csv.gz", FullLoad, "public", "orders", Csv, Gzip, "public/orders/"),
            ("dms", "dms/public/orders/LOAD00000001.parquet", FullLoad, "public", "orders", Parquet, None, "dms/public/orders/"),
            ("dms", "dms/public/orders/20240612-103647680.csv", Cdc, "public", "orders", Csv, None, "dms/public/orders/"),
            ("dms", "dms/hr/employee/20141029-1134010000.csv", Cdc, "hr", "employee", Csv, None, "dms/hr/employee/"),
            ("dms", "dms/public/orders/20240612-103647680.csv.gz", Cdc, "public", "orders", Csv, Gzip, "dms/public/orders/"),
            ("dms", "dms/public/orders/20240612-103647680.parquet", Cdc, "public", "orders", Parquet, None, "dms/public/orders/"),
            ("lake/raw/dms", "lake/raw/dms/Sales Dept/Ordres é/LOAD00000001.csv", FullLoad, "Sales Dept", "Ordres é", Csv, None, "lake/raw/dms/Sales Dept/Ordres é/"),
            ("dms", "dms/public/orders/SEGMENT2_LOAD00000009.csv", FullLoad, "public", "orders", Csv, None, "dms/public/orders/"),
        ];
        for (folder, key, kind, schema, table, format, compression, table_prefix) in cases {
            let obj = data(key, &layout(folder));
            assert_eq!(obj.kind, *kind, "{key}");
            assert_eq!(obj.schema, *schema, "{key}");
            assert_eq!(obj.table, *table, "{key}");
            assert_eq!(obj.format, *format, "{key}");
            assert_eq!(obj.compression, *compression, "{key}");
            assert_eq!(obj.table_prefix, *table_prefix, "{key}");
            assert_eq!(obj.folder_prefix, *table_prefix, "{key}");
            assert_eq!(obj.bucket_folder, *folder, "{key}");
            assert!(obj.partition.is_empty(), "{key}");
            assert_eq!(format!("{}{}", obj.folder_prefix, obj.file_name), *key);
        }
    }

    #[test]
    fn parallel_full_load_partition_folder_belongs_to_the_table() {
        let obj = data(
            "dms/public/sales/custom_segment1/LOAD00000002.csv",
            &layout("dms"),
        );
        assert_eq!(
            (obj.schema.as_str(), obj.table.as_str()),
            ("public", "sales")
        );
        assert_eq!(obj.table_prefix, "dms/public/sales/");
        assert_eq!(obj.folder_prefix, "dms/public/sales/custom_segment1/");
        assert_eq!(obj.kind, DataKind::FullLoad);
    }

    #[test]
    fn date_folders_of_every_sequence_and_delimiter_give_canonical_partition_values() {
        use DatePartitionDelimiter as D;
        use DatePartitionSequence as S;
        let ymdh = [
            ("year", "2024"),
            ("month", "06"),
            ("day", "12"),
            ("hour", "07"),
        ];
        #[rustfmt::skip]
        let cases: &[(S, D, &str, usize)] = &[
            (S::Yyyymmdd, D::Slash, "2024/06/12", 3),
            (S::Yyyymmdd, D::Underscore, "2024_06_12", 3),
            (S::Yyyymmdd, D::Dash, "2024-06-12", 3),
            (S::Yyyymmdd, D::None, "20240612", 3),
            (S::Yyyymmddhh, D::Slash, "2024/06/12/07", 4),
            (S::Yyyymmddhh, D::Underscore, "2024_06_12_07", 4),
            (S::Yyyymmddhh, D::Dash, "2024-06-12-07", 4),
            (S::Yyyymmddhh, D::None, "2024061207", 4),
            (S::Yyyymm, D::Slash, "2024/06", 2),
            (S::Yyyymm, D::Underscore, "2024_06", 2),
            (S::Yyyymm, D::Dash, "2024-06", 2),
            (S::Yyyymm, D::None, "202406", 2),
            (S::Mmyyyydd, D::Slash, "06/2024/12", 3),
            (S::Mmyyyydd, D::Underscore, "06_2024_12", 3),
            (S::Mmyyyydd, D::Dash, "06-2024-12", 3),
            (S::Mmyyyydd, D::None, "06202412", 3),
            (S::Ddmmyyyy, D::Slash, "12/06/2024", 3),
            (S::Ddmmyyyy, D::Underscore, "12_06_2024", 3),
            (S::Ddmmyyyy, D::Dash, "12-06-2024", 3),
            (S::Ddmmyyyy, D::None, "12062024", 3),
        ];
        for (seq, delim, date, n) in cases {
            let cfg = dated("dms", *seq, *delim);
            for file in ["20240612-071500123.csv", "LOAD00000001.csv"] {
                let key = format!("dms/public/orders/{date}/{file}");
                let obj = data(&key, &cfg);
                let got: Vec<(&str, &str)> = obj
                    .partition
                    .iter()
                    .map(|(p, v)| (p.column(), v.as_str()))
                    .collect();
                let want: Vec<(&str, &str)> = match seq {
                    S::Yyyymm => ymdh[..2].to_vec(),
                    _ => ymdh[..*n].to_vec(),
                };
                assert_eq!(got, want, "{key}");
                assert_eq!(obj.folder_prefix, format!("dms/public/orders/{date}/"));
                assert_eq!(obj.table_prefix, "dms/public/orders/");
            }
        }
    }

    #[test]
    fn undated_load_file_under_date_partitioning_has_no_partition_values() {
        let cfg = dated(
            "dms",
            DatePartitionSequence::Yyyymmdd,
            DatePartitionDelimiter::Slash,
        );
        let obj = data("dms/public/orders/LOAD00000001.csv", &cfg);
        assert_eq!(obj.kind, DataKind::FullLoad);
        assert!(obj.partition.is_empty());
        assert_eq!(obj.folder_prefix, "dms/public/orders/");
    }

    #[test]
    fn invalid_date_folders_are_not_data() {
        use DatePartitionDelimiter as D;
        use DatePartitionSequence as S;
        #[rustfmt::skip]
        let cases: &[(S, D, &str)] = &[
            (S::Yyyymmdd, D::Slash, "2024/13/01/20240612-103647680.csv"),
            (S::Yyyymmdd, D::Slash, "2023/02/29/20240612-103647680.csv"),
            (S::Yyyymmdd, D::Slash, "0000/00/00/20240612-103647680.csv"),
            (S::Yyyymmdd, D::None, "20240631/LOAD00000001.csv"),
            (S::Yyyymmddhh, D::Dash, "2024-06-12-24/20240612-103647680.csv"),
            (S::Ddmmyyyy, D::Underscore, "32_01_2024/20240612-103647680.csv"),
            (S::Yyyymm, D::Slash, "2024/00/LOAD00000001.csv"),
        ];
        for (seq, delim, rest) in cases {
            let key = format!("dms/public/orders/{rest}");
            let reason = ignored(&key, &dated("dms", *seq, *delim));
            assert!(reason.contains("invalid date folder"), "{key}: {reason}");
        }
    }

    #[test]
    fn cdc_file_outside_its_date_folder_is_not_data() {
        let cfg = dated(
            "dms",
            DatePartitionSequence::Yyyymmdd,
            DatePartitionDelimiter::Slash,
        );
        let reason = ignored("dms/public/orders/20240612-103647680.csv", &cfg);
        assert!(reason.contains("date folder"), "{reason}");
        let reason = ignored("dms/public/orders/2024/06/20240612-103647680.csv", &cfg);
        assert!(reason.contains("YYYY/MM/DD"), "{reason}");
    }

    #[test]
    fn cdc_path_holds_per_table_cdc_files_and_transaction_files_are_refused() {
        let cfg = LayoutConfig {
            bucket_folder: "dms".into(),
            cdc_path: Some("changes/txn".into()),
            ..LayoutConfig::default()
        };
        let obj = data("dms/changes/txn/public/orders/20240612-103647680.csv", &cfg);
        assert_eq!(
            (obj.schema.as_str(), obj.table.as_str()),
            ("public", "orders")
        );
        assert_eq!(obj.kind, DataKind::Cdc);
        assert_eq!(obj.folder_prefix, "dms/changes/txn/public/orders/");
        let obj = data("dms/public/orders/20240612-103647680.csv", &cfg);
        assert_eq!(obj.table_prefix, "dms/public/orders/");
        let reason = ignored("dms/changes/txn/CDC_TXN-20201117153046033.csv", &cfg);
        assert!(
            reason.contains("PreserveTransactions transaction file: not supported"),
            "{reason}"
        );
        // Full-load files never go under CdcPath: this one is not data.
        ignored("dms/changes/txn/public/orders/LOAD00000001.csv", &cfg);
    }

    #[test]
    fn keys_that_are_not_dms_data_are_ignored_with_a_reason() {
        let cfg = layout("dms");
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "empty key"),
            ("dms/public/orders/", "folder marker"),
            ("dms/", "folder marker"),
            ("dms/public/orders/../LOAD00000001.csv", "relative"),
            ("dms/public/./orders/LOAD00000001.csv", "relative"),
            ("dms//orders/LOAD00000001.csv", "empty path segment"),
            ("/dms/public/orders/LOAD00000001.csv", "empty path segment"),
            ("dms/public/ord\u{7}ers/LOAD00000001.csv", "control"),
            ("other/public/orders/LOAD00000001.csv", "outside BucketFolder"),
            ("dmsx/public/orders/LOAD00000001.csv", "outside BucketFolder"),
            ("dms/orders/LOAD00000001.csv", "no <schema>/<table>"),
            ("dms/LOAD00000001.csv", "no <schema>/<table>"),
            ("dms/public/orders/LOAD00000001.json", "not a DMS data file"),
            ("dms/public/orders/load00000001.csv", "not a DMS data file name"),
            ("dms/public/orders/LOAD0000000g.csv", "not a DMS data file name"),
            ("dms/public/orders/LOAD.csv", "not a DMS data file name"),
            ("dms/public/orders/LOAD00000001.parquet.gz", "not a DMS data file"),
            ("dms/public/orders/20241301-103647680.csv", "not a DMS data file name"),
            ("dms/public/orders/20240612-253647680.csv", "not a DMS data file name"),
            ("dms/public/orders/notes.csv", "not a DMS data file name"),
            ("dms/CDC_TXN-20201117153046033.csv", "PreserveTransactions transaction file"),
            ("dms/public/orders/x/y/LOAD00000001.csv", "unexpected folders"),
            ("dms/public/orders/2024/06/12/20240612-103647680.csv", "DatePartitionEnabled is off"),
        ];
        for (key, why) in cases {
            let reason = ignored(key, &cfg);
            assert!(reason.contains(why), "{key}: {reason}");
        }
    }

    #[test]
    fn event_keys_are_decoded_as_s3_delivers_them() {
        let cases: &[(&str, &str)] = &[
            (
                "dms/public/orders/LOAD00000001.csv",
                "dms/public/orders/LOAD00000001.csv",
            ),
            ("dms/Sales+Dept/orders/x", "dms/Sales Dept/orders/x"),
            ("dms/a%2Bb/t%3D1/x", "dms/a+b/t=1/x"),
            ("dms/caf%C3%A9/x", "dms/café/x"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_event_key(raw).as_deref(), Ok(*want), "{raw}");
        }
        for bad in ["dms/%", "dms/%4", "dms/%zz/x", "dms/%C3%28/x", "dms/%FF"] {
            assert!(
                matches!(decode_event_key(bad), Err(LayoutError::BadEncoding { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn misplaced_date_folders_are_not_data() {
        let cases: &[(DatePartitionSequence, DatePartitionDelimiter, &str, &str)] = &[
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/2024/13/01/20240612-103647680.csv",
                "invalid date",
            ),
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/2024/02/30/20240612-103647680.csv",
                "invalid date",
            ),
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::None,
                "dms/public/orders/20230229/20240612-103647680.csv",
                "invalid date",
            ),
            (
                DatePartitionSequence::Yyyymmddhh,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/2024/06/12/24/20240612-103647680.csv",
                "invalid date",
            ),
            (
                DatePartitionSequence::Ddmmyyyy,
                DatePartitionDelimiter::Dash,
                "dms/public/orders/00-06-2024/20240612-103647680.csv",
                "invalid date",
            ),
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/0000/00/00/20240612-103647680.csv",
                "invalid date",
            ),
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/20240612-103647680.csv",
                "outside a date folder",
            ),
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Dash,
                "dms/public/orders/2024/06/12/20240612-103647680.csv",
                "unexpected folders",
            ),
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/2024/06/12/x/20240612-103647680.csv",
                "unexpected folders",
            ),
            (
                DatePartitionSequence::Yyyymm,
                DatePartitionDelimiter::Slash,
                "dms/public/orders/2024/06/12/20240612-103647680.csv",
                "unexpected folders",
            ),
        ];
        for (seq, delim, key, why) in cases {
            let reason = ignored(key, &dated("dms", *seq, *delim));
            assert!(reason.contains(why), "{key}: {reason}");
        }
    }

    #[test]
    fn date_folders_without_date_partitioning_are_not_data() {
        let reason = ignored(
            "dms/public/orders/2024/06/12/20240612-103647680.csv",
            &layout("dms"),
        );
        assert!(reason.contains("DatePartitionEnabled is off"), "{reason}");
    }

    #[test]
    fn cdc_files_under_cdc_path_keep_the_table_prefix_and_a_schema_named_like_cdc_path_stays_a_schema(
    ) {
        let cfg = LayoutConfig {
            bucket_folder: "dms".into(),
            cdc_path: Some("changes".into()),
            ..LayoutConfig::default()
        };
        let o = data("dms/changes/public/orders/20240612-103647680.csv", &cfg);
        assert_eq!(
            (o.kind, o.schema.as_str(), o.table.as_str()),
            (DataKind::Cdc, "public", "orders")
        );
        assert_eq!(o.table_prefix, "dms/public/orders/");
        assert_eq!(o.folder_prefix, "dms/changes/public/orders/");
        assert!(o.in_cdc_path());
        // Outside CdcPath a CDC file is still in its table folder.
        let o = data("dms/public/orders/20240612-103647680.csv", &cfg);
        assert!(!o.in_cdc_path());
        // A schema named like CdcPath is still a schema for full-load files.
        let o = data("dms/changes/orders/LOAD00000001.csv", &cfg);
        assert_eq!((o.schema.as_str(), o.table.as_str()), ("changes", "orders"));
        for key in [
            "dms/changes/CDC_TXN-20201117153046033.csv",
            "dms/public/orders/CDC_TXN-20201117153046033.csv",
        ] {
            let reason = ignored(key, &cfg);
            assert!(
                reason.contains("PreserveTransactions transaction file: not supported"),
                "{reason}"
            );
        }
    }

    #[test]
    fn unusual_file_names_and_folders_are_not_data() {
        let cfg = layout("dms");
        let cases: &[(&str, &str)] = &[
            ("", "empty key"),
            ("dms/", "folder marker"),
            ("dms/public/orders/", "folder marker"),
            (
                "other/public/orders/LOAD00000001.csv",
                "outside BucketFolder",
            ),
            (
                "dmsx/public/orders/LOAD00000001.csv",
                "outside BucketFolder",
            ),
            ("dms/orders/LOAD00000001.csv", "no <schema>/<table>"),
            ("dms/LOAD00000001.csv", "no <schema>/<table>"),
            ("dms", "no file name"),
            ("dms/public/orders/../x/LOAD00000001.csv", "'..'"),
            ("dms/public/./orders/LOAD00000001.csv", "'.'"),
            ("dms//orders/LOAD00000001.csv", "empty path segment"),
            ("/dms/public/orders/LOAD00000001.csv", "empty path segment"),
            ("dms/public/orders\n/LOAD00000001.csv", "control characters"),
            ("dms/public/orders/LOAD00000001.json", "not a DMS data file"),
            (
                "dms/public/orders/LOAD00000001.csv.tmp",
                "not a DMS data file",
            ),
            (
                "dms/public/orders/LOAD0000000g.csv",
                "not a DMS data file name",
            ),
            ("dms/public/orders/LOAD.csv", "not a DMS data file name"),
            (
                "dms/public/orders/load00000001.csv",
                "not a DMS data file name",
            ),
            (
                "dms/public/orders/SEGMENTx_LOAD00000001.csv",
                "not a DMS data file name",
            ),
            (
                "dms/public/orders/20241329-103647680.csv",
                "not a DMS data file name",
            ),
            (
                "dms/public/orders/20240612-253647680.csv",
                "not a DMS data file name",
            ),
            (
                "dms/public/orders/2024-06-12.csv",
                "not a DMS data file name",
            ),
            (
                "dms/public/orders/part-0000.parquet",
                "not a DMS data file name",
            ),
            (
                "dms/public/orders/x/y/LOAD00000001.csv",
                "unexpected folders",
            ),
            (
                "dms/public/orders/x/20240612-103647680.csv",
                "unexpected folders",
            ),
        ];
        for (key, why) in cases {
            let reason = ignored(key, &cfg);
            assert!(reason.contains(why), "{key:?}: {reason}");
        }
    }

    #[test]
    fn decoded_event_key_classifies_like_the_plain_key() {
        let key = decode_event_key("dms/public/Ord%C3%A9r+Lines/20240612-103647680.csv")
            .expect("valid encoding");
        let o = data(&key, &layout("dms"));
        assert_eq!(o.table, "Ordér Lines");
    }

    #[test]
    fn partition_values_follow_canonical_keys_and_undated_loads_get_the_zero_partition() {
        use DatePartitionDelimiter as D;
        use DatePartitionSequence as S;
        let plain = layout("dms");
        assert!(partition_columns(&plain).is_empty());
        let obj = data("dms/public/orders/20240612-103647680.csv", &plain);
        assert!(obj.partition_values(&plain).is_empty());

        let cfg = dated("dms", S::Ddmmyyyy, D::Dash);
        assert_eq!(
            partition_columns(&cfg),
            vec![DatePart::Year, DatePart::Month, DatePart::Day]
        );
        let obj = data("dms/public/orders/12-06-2024/20240612-103647680.csv", &cfg);
        assert_eq!(obj.partition_values(&cfg), ["2024", "06", "12"]);
        let obj = data("dms/public/orders/LOAD00000001.csv", &cfg);
        assert_eq!(obj.partition_values(&cfg), ["0000", "00", "00"]);

        let cfg = dated("dms", S::Yyyymmddhh, D::None);
        assert_eq!(partition_columns(&cfg).len(), 4);
        let obj = data("dms/public/orders/p1/LOAD0000000B.parquet", &cfg);
        assert_eq!(obj.partition_values(&cfg), ["0000", "00", "00", "00"]);
        let obj = data("dms/public/orders/2024061207/LOAD0000000B.parquet", &cfg);
        assert_eq!(obj.partition_values(&cfg), ["2024", "06", "12", "07"]);
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    const SEQUENCES: [DatePartitionSequence; 5] = [
        DatePartitionSequence::Yyyymmdd,
        DatePartitionSequence::Yyyymmddhh,
        DatePartitionSequence::Yyyymm,
        DatePartitionSequence::Mmyyyydd,
        DatePartitionSequence::Ddmmyyyy,
    ];
    const DELIMITERS: [DatePartitionDelimiter; 4] = [
        DatePartitionDelimiter::Slash,
        DatePartitionDelimiter::Underscore,
        DatePartitionDelimiter::Dash,
        DatePartitionDelimiter::None,
    ];

    #[test]
    fn date_folders_are_written_for_every_sequence_and_delimiter() {
        use DatePartitionDelimiter as D;
        use DatePartitionSequence as S;
        let at = utc("2024-06-02T07:05:09Z");
        #[rustfmt::skip]
        let cases: &[(S, D, &str)] = &[
            (S::Yyyymmdd, D::Slash, "2024/06/02"),
            (S::Yyyymmdd, D::Underscore, "2024_06_02"),
            (S::Yyyymmdd, D::Dash, "2024-06-02"),
            (S::Yyyymmdd, D::None, "20240602"),
            (S::Yyyymmddhh, D::Slash, "2024/06/02/07"),
            (S::Yyyymmddhh, D::Underscore, "2024_06_02_07"),
            (S::Yyyymmddhh, D::Dash, "2024-06-02-07"),
            (S::Yyyymmddhh, D::None, "2024060207"),
            (S::Yyyymm, D::Slash, "2024/06"),
            (S::Yyyymm, D::Underscore, "2024_06"),
            (S::Yyyymm, D::Dash, "2024-06"),
            (S::Yyyymm, D::None, "202406"),
            (S::Mmyyyydd, D::Slash, "06/2024/02"),
            (S::Mmyyyydd, D::Underscore, "06_2024_02"),
            (S::Mmyyyydd, D::Dash, "06-2024-02"),
            (S::Mmyyyydd, D::None, "06202402"),
            (S::Ddmmyyyy, D::Slash, "02/06/2024"),
            (S::Ddmmyyyy, D::Underscore, "02_06_2024"),
            (S::Ddmmyyyy, D::Dash, "02-06-2024"),
            (S::Ddmmyyyy, D::None, "02062024"),
        ];
        assert_eq!(cases.len(), SEQUENCES.len() * DELIMITERS.len());
        for (seq, delim, want) in cases {
            assert_eq!(date_folder(*seq, *delim, at), *want, "{seq} {delim}");
        }
        assert_eq!(cdc_name_prefix(at), "20240602-070509");
    }

    #[test]
    fn a_key_built_from_a_date_folder_classifies_as_that_date() {
        let dates = [
            "2024-06-02T07:05:09Z",
            "2024-02-29T23:59:59Z",
            "2023-12-31T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-11-24T19:58:28.123Z",
        ];
        for seq in SEQUENCES {
            for delim in DELIMITERS {
                let cfg = dated("lake/dms", seq, delim);
                for text in dates {
                    let at = utc(text);
                    let folder = date_folder(seq, delim, at);
                    let name = format!("{}680.csv", cdc_name_prefix(at));
                    let key = format!("lake/dms/public/orders/{folder}/{name}");
                    let o = data(&key, &cfg);
                    assert_eq!(o.kind, DataKind::Cdc, "{key}");
                    let want: Vec<(DatePart, String)> = partition_columns(&cfg)
                        .into_iter()
                        .map(|part| {
                            let v = match part {
                                DatePart::Year => format!("{:04}", at.year()),
                                DatePart::Month => format!("{:02}", at.month()),
                                DatePart::Day => format!("{:02}", at.day()),
                                DatePart::Hour => format!("{:02}", at.hour()),
                            };
                            (part, v)
                        })
                        .collect();
                    assert_eq!(o.partition, want, "{key}");
                    assert_eq!(o.folder_prefix, format!("lake/dms/public/orders/{folder}/"));
                }
            }
        }
    }

    #[test]
    fn listing_starts_one_slack_before_the_time_where_key_order_follows_time() {
        use DatePartitionDelimiter as D;
        use DatePartitionSequence as S;
        let since = utc("2024-06-02T07:05:09Z");
        let table = "dms/public/orders/";
        let plain = layout("dms");
        let cdc_path = LayoutConfig {
            cdc_path: Some("changes".into()),
            ..layout("dms")
        };
        let cdc_path_dated = LayoutConfig {
            cdc_path: Some("changes".into()),
            ..dated("dms", S::Yyyymmdd, D::Slash)
        };
        #[rustfmt::skip]
        let cases: Vec<(LayoutConfig, Option<&str>)> = vec![
            (plain, Some("dms/public/orders/20240601-070509")),
            (dated("dms", S::Yyyymmdd, D::Slash), Some("dms/public/orders/2024/06/01")),
            (dated("dms", S::Yyyymmdd, D::None), Some("dms/public/orders/20240601")),
            (dated("dms", S::Yyyymmddhh, D::Dash), Some("dms/public/orders/2024-06-01-07")),
            (dated("dms", S::Yyyymmddhh, D::Slash), Some("dms/public/orders/2024/06/01/07")),
            (dated("dms", S::Yyyymm, D::Underscore), Some("dms/public/orders/2024_06")),
            (dated("dms", S::Yyyymm, D::None), Some("dms/public/orders/202406")),
            (dated("dms", S::Mmyyyydd, D::Slash), None),
            (dated("dms", S::Ddmmyyyy, D::Dash), None),
            (cdc_path, None),
            (cdc_path_dated, None),
        ];
        for (cfg, want) in cases {
            assert_eq!(
                listing_start_after(&cfg, table, since).as_deref(),
                want,
                "{cfg:?}"
            );
        }
    }

    /// The bound is sound: every file of a time at or after `since - slack` sorts after the
    /// start (so it is listed), and full-load files in the table folder too; files from date
    /// folders before that time's folder sort before it (so they are skipped).
    #[test]
    fn a_bounded_listing_skips_only_older_files() {
        let since = utc("2024-03-01T00:30:00Z");
        let from = since - listing_slack();
        let table = "dms/public/orders/";
        let mut layouts = vec![layout("dms")];
        for seq in [
            DatePartitionSequence::Yyyymmdd,
            DatePartitionSequence::Yyyymmddhh,
            DatePartitionSequence::Yyyymm,
        ] {
            for delim in DELIMITERS {
                layouts.push(dated("dms", seq, delim));
            }
        }
        for cfg in layouts {
            let start = listing_start_after(&cfg, table, since).expect("bounded layout");
            let (mut listed, mut skipped) = (0, 0);
            // Every 7 minutes over 80 days around `since`.
            for step in -(80 * 24 * 60 / 7)..(2 * 24 * 60 / 7) {
                let at = since + chrono::Duration::minutes(7 * step);
                let name = format!("{}680.parquet", cdc_name_prefix(at));
                let key = if cfg.date_partition_enabled {
                    let folder = date_folder(
                        cfg.date_partition_sequence,
                        cfg.date_partition_delimiter,
                        at,
                    );
                    format!("{table}{folder}/{name}")
                } else {
                    format!("{table}{name}")
                };
                assert!(classify(&key, &cfg).data().is_some(), "{key}");
                if at >= from {
                    assert!(
                        key > start,
                        "{key} written at {at} must be listed after {start}"
                    );
                    listed += 1;
                } else if key < start {
                    skipped += 1;
                } else {
                    // Listed though older than the bound: only the rest of the bound's own
                    // date folder may be.
                    let folder = date_folder(
                        cfg.date_partition_sequence,
                        cfg.date_partition_delimiter,
                        from,
                    );
                    assert!(
                        key.starts_with(&format!("{table}{folder}")),
                        "{key} vs {start}"
                    );
                }
            }
            assert!(
                listed > 0 && skipped > listed,
                "{cfg:?}: {listed} listed, {skipped} skipped"
            );
            for load in [
                "LOAD00000001.csv",
                "SEGMENT1_LOAD0000000A.csv",
                "p1/LOAD00000002.csv",
            ] {
                assert!(format!("{table}{load}") > start, "{load} must be listed");
            }
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn any_layout() -> impl Strategy<Value = LayoutConfig> {
            use DatePartitionDelimiter as D;
            use DatePartitionSequence as S;
            (
                prop_oneof![Just(""), Just("dms"), Just("a/b")],
                any::<bool>(),
                prop_oneof![
                    Just(S::Yyyymmdd),
                    Just(S::Yyyymmddhh),
                    Just(S::Yyyymm),
                    Just(S::Mmyyyydd),
                    Just(S::Ddmmyyyy)
                ],
                prop_oneof![
                    Just(D::Slash),
                    Just(D::Underscore),
                    Just(D::Dash),
                    Just(D::None)
                ],
                prop_oneof![Just(None), Just(Some("cdc".to_string()))],
            )
                .prop_map(|(folder, enabled, seq, delim, cdc)| LayoutConfig {
                    bucket_folder: folder.to_string(),
                    date_partition_enabled: enabled,
                    date_partition_sequence: seq,
                    date_partition_delimiter: delim,
                    cdc_path: cdc,
                })
        }

        /// Keys built from DMS-like pieces, so the data paths are exercised too.
        fn dms_like_key() -> impl Strategy<Value = String> {
            let seg = prop_oneof![
                Just("dms".to_string()),
                Just("cdc".to_string()),
                Just("public".to_string()),
                Just("2024".to_string()),
                Just("06".to_string()),
                Just("12".to_string()),
                Just("2024-06-12".to_string()),
                Just("20240612".to_string()),
                Just("..".to_string()),
                Just("".to_string()),
                Just("LOAD00000001.csv".to_string()),
                Just("20240612-103647680.csv.gz".to_string()),
                Just("CDC_TXN-1.csv".to_string()),
                "\\PC{0,6}",
            ];
            prop::collection::vec(seg, 0..8).prop_map(|v| v.join("/"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn arbitrary_keys_never_panic_and_data_is_consistent(
                key in prop_oneof![any::<String>(), dms_like_key()],
                cfg in any_layout(),
            ) {
                match classify(&key, &cfg) {
                    Classification::Data(obj) => {
                        prop_assert_eq!(&obj.key, &key);
                        prop_assert!(!obj.schema.is_empty() && !obj.table.is_empty());
                        prop_assert!(obj.table_prefix.ends_with('/'));
                        prop_assert!(obj.folder_prefix.ends_with('/'));
                        prop_assert!(key.starts_with(&obj.folder_prefix));
                        prop_assert_eq!(format!("{}{}", obj.folder_prefix, obj.file_name), key.clone());
                        prop_assert!(!key.split('/').any(|s| s.is_empty() || s == "." || s == ".."));
                        let parts: Vec<DatePart> = obj.partition.iter().map(|(p, _)| *p).collect();
                        let mut sorted = parts.clone();
                        sorted.sort();
                        prop_assert_eq!(parts, sorted);
                    }
                    Classification::Ignored { reason } => prop_assert!(!reason.is_empty()),
                }
            }

            #[test]
            fn key_shaped_strings_never_panic_and_decode_consistently(
                key in "(dms/|a/b/|cdc/)?([a-zA-Z0-9_ .%+-]{0,6}/){0,7}(LOAD[0-9A-Fa-f]{1,9}|SEGMENT[0-9]_LOAD0000000[0-9A-F]|20[0-9]{6}-[0-9]{6,10}|CDC_TXN-[0-9]{4}|x)(\\.csv|\\.csv\\.gz|\\.parquet|\\.gz|)",
                cfg in any_layout(),
            ) {
                for candidate in [Some(key.clone()), decode_event_key(&key).ok()].into_iter().flatten() {
                    if let Classification::Data(obj) = classify(&candidate, &cfg) {
                        let tail = format!("{}/{}/", obj.schema, obj.table);
                        prop_assert!(obj.table_prefix.ends_with(&tail));
                        prop_assert!(!obj.file_name.starts_with("CDC_TXN-"));
                        prop_assert_eq!(
                            obj.partition_values(&cfg).len(),
                            partition_columns(&cfg).len()
                        );
                        prop_assert!(obj.partition.is_empty() || cfg.date_partition_enabled);
                        prop_assert!(
                            obj.partition.is_empty()
                                || obj.partition.len() == cfg.date_partition_sequence.parts().len()
                        );
                    }
                }
            }

            #[test]
            fn arbitrary_encoded_keys_never_panic(raw in any::<String>()) {
                let _ = decode_event_key(&raw);
            }
        }
    }
}
