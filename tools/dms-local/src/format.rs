//! DMS's S3 target CSV format: pure functions from typed source values to the bytes DMS writes.
//!
//! Conventions (CHAP_Target.S3.md, and the real files in `dms-samples/northwind-postgres`):
//! no header; `Op` first (`I` in full-load rows with `IncludeOpForFullLoad`); the
//! `TimestampColumnName` column as `yyyy-MM-dd HH:mm:ss.ffffff`; the source columns in table
//! order; then the `$AR_H_CHANGE_SEQ` column (empty in full-load rows) and the before-image key
//! columns (empty unless PostgreSQL logged an old key). An empty field is NULL; a field is
//! quoted (RFC 4180, quotes doubled) only when it holds a comma, a quote or a line break.

use chrono::{DateTime, Utc};
use dmslake::config::LayoutConfig;

/// How DMS types a PostgreSQL column, as far as the CSV text is concerned
/// (CHAP_Source.PostgreSQL.md, "Source data types for PostgreSQL").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `real` → DMS REAL4: written as the float widened to double, `%+.8e`.
    Real4,
    /// `double precision` → DMS REAL8.
    Real8,
    /// `boolean` → DMS `CHAR(5) false or true`.
    Boolean,
    /// `timestamp with time zone` → DMS DATETIME: the zone is dropped (value in UTC).
    TimestampTz,
    /// `bytea` → DMS BLOB: hex digits without PostgreSQL's `\x` prefix (the output function's
    /// `\x...`, in the full load as in `test_decoding`'s CDC values).
    Bytea,
    /// Everything else is written as PostgreSQL's text output.
    Text,
}

impl ValueKind {
    /// Maps a PostgreSQL type name (as `format_type` or `test_decoding` print it) to its kind.
    pub fn from_pg_type(type_name: &str) -> Self {
        let t = type_name.trim().to_ascii_lowercase();
        match t.as_str() {
            "real" | "float4" => Self::Real4,
            "double precision" | "float8" => Self::Real8,
            "boolean" | "bool" => Self::Boolean,
            _ if t.starts_with("timestamp") && t.ends_with("with time zone") => Self::TimestampTz,
            "timestamptz" => Self::TimestampTz,
            "bytea" => Self::Bytea,
            _ => Self::Text,
        }
    }
}

/// A value that cannot be written in DMS's format (a float that does not parse, for instance).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("value {value:?} is not a valid {kind:?} as PostgreSQL prints it")]
    BadValue { kind: ValueKind, value: String },
}

/// Formats a `%+.Ne` number the way DMS (a C runtime) prints it: sign always, at least two
/// exponent digits (`+1.10000000e+01`, `+1.50000006e-01`).
fn c_exponent(value: f64, digits: usize) -> String {
    let rust = format!("{value:+.digits$e}");
    // Rust prints `+1.10000000e1`; C prints `+1.10000000e+01`.
    match rust.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, num) = match exp.strip_prefix('-') {
                Some(n) => ('-', n),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{num:0>2}")
        }
        None => rust,
    }
}

/// A PostgreSQL `real` as DMS writes it: `+9.80000019e+00` for 9.8 (the float widened).
pub fn format_real4(value: f32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    c_exponent(f64::from(value), 8)
}

/// A PostgreSQL `double precision` as DMS writes it. No sample shows a REAL8 column; this
/// assumes the REAL4 convention with the 17 significant digits a double needs.
pub fn format_real8(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    c_exponent(value, 16)
}

/// One source value as DMS writes it into a CSV field, before quoting. `None` is NULL.
pub fn dms_text(kind: ValueKind, pg_text: Option<&str>) -> Result<Option<String>, FormatError> {
    let Some(text) = pg_text else {
        return Ok(None);
    };
    let bad = || FormatError::BadValue {
        kind,
        value: text.to_string(),
    };
    Ok(Some(match kind {
        ValueKind::Real4 => match text {
            "NaN" | "Infinity" | "-Infinity" => text.to_string(),
            _ => format_real4(text.parse::<f32>().map_err(|_| bad())?),
        },
        ValueKind::Real8 => match text {
            "NaN" | "Infinity" | "-Infinity" => text.to_string(),
            _ => format_real8(text.parse::<f64>().map_err(|_| bad())?),
        },
        ValueKind::Boolean => match text {
            "t" | "true" => "true".into(),
            "f" | "false" => "false".into(),
            _ => return Err(bad()),
        },
        ValueKind::TimestampTz => strip_utc_offset(text).ok_or_else(bad)?.to_string(),
        ValueKind::Bytea => text.strip_prefix("\\x").unwrap_or(text).to_string(),
        ValueKind::Text => text.to_string(),
    }))
}

/// `2024-06-12 10:30:27.362108+00` → `2024-06-12 10:30:27.362108` (the session runs in UTC).
fn strip_utc_offset(text: &str) -> Option<&str> {
    match text {
        "infinity" | "-infinity" => Some(text),
        _ => text.strip_suffix("+00"),
    }
}

/// Appends one CSV field, quoting only when needed (RFC 4180).
pub fn push_field(out: &mut String, value: Option<&str>) {
    let Some(v) = value else { return };
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// Splits one CSV line as [`push_field`] writes it (the inverse, for checks and tests);
/// embedded line breaks are not handled. An empty field comes back as `""`.
pub fn split_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.len() - 1;
        match (c, quoted) {
            ('"', false) => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields[field].push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(String::new()),
            (c, _) => fields[field].push(c),
        }
    }
    fields
}

/// Which optional columns the endpoint and task settings add to every row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLayout {
    /// `TimestampColumnName` set.
    pub timestamp_column: bool,
    /// A transformation rule adds `$AR_H_CHANGE_SEQ`.
    pub change_sequence: bool,
    /// A transformation rule adds before-image columns for the primary key.
    pub before_image_keys: bool,
    /// A transformation rule changes every `time` column to a string (the stack's task's
    /// `dmslake-time-as-text`, template.yaml): Parquet files hold PostgreSQL's text of the time
    /// (`HH:MM:SS[.ffffff]`) instead of DMS's `TIME32`, which Athena's engine cannot read.
    /// CSV files hold that text either way.
    pub time_as_text: bool,
}

impl Default for RowLayout {
    fn default() -> Self {
        Self {
            timestamp_column: true,
            change_sequence: true,
            before_image_keys: true,
            time_as_text: true,
        }
    }
}

/// The operation column's letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    pub fn letter(self) -> char {
        match self {
            Op::Insert => 'I',
            Op::Update => 'U',
            Op::Delete => 'D',
        }
    }
}

/// One output row: already converted values, in table order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub op: Op,
    /// Commit time (CDC) or transfer time (full load).
    pub timestamp: DateTime<Utc>,
    /// One entry per source column; `None` is NULL (and every non-key column of a delete).
    pub values: Vec<Option<String>>,
    /// `None` for full-load rows.
    pub change_sequence: Option<ChangeSequence>,
    /// Old key values (one per primary-key column) when PostgreSQL logged them.
    pub before_image: Option<Vec<Option<String>>>,
}

/// `yyyy-MM-dd HH:mm:ss.ffffff` (TimestampColumnName, CHAP_Target.S3.md).
pub fn format_timestamp(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Appends one CSV line (with its `\n`) for `row`; `key_columns` is the number of
/// before-image columns.
pub fn push_row(out: &mut String, row: &Row, layout: RowLayout, key_columns: usize) {
    out.push(row.op.letter());
    if layout.timestamp_column {
        out.push(',');
        out.push_str(&format_timestamp(row.timestamp));
    }
    for v in &row.values {
        out.push(',');
        push_field(out, v.as_deref());
    }
    if layout.change_sequence {
        out.push(',');
        if let Some(seq) = row.change_sequence {
            out.push_str(&seq.to_string());
        }
    }
    if layout.before_image_keys {
        for i in 0..key_columns {
            out.push(',');
            let v = row
                .before_image
                .as_ref()
                .and_then(|bi| bi.get(i))
                .and_then(|v| v.as_deref());
            push_field(out, v);
        }
    }
    out.push('\n');
}

/// `$AR_H_CHANGE_SEQ`: 16 digits from the commit time (`yyyyMMddHHmmss` + hundredths) and a
/// 19-digit counter. In the northwind samples the counter grows by 4 per stream event
/// (transaction begin, each change, commit) and is 1 modulo 4; this keeps that shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeSequence {
    pub commit: DateTime<Utc>,
    pub counter: u64,
}

impl std::fmt::Display for ChangeSequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hundredths = self.commit.timestamp_subsec_micros() / 10_000;
        write!(
            f,
            "{}{:02}{:019}",
            self.commit.format("%Y%m%d%H%M%S"),
            hundredths,
            self.counter
        )
    }
}

/// Hands out the counter part of the change sequence: one step of 4 per stream event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceCounter {
    next: u64,
}

impl Default for SequenceCounter {
    fn default() -> Self {
        Self { next: 1 }
    }
}

impl SequenceCounter {
    /// Consumes one stream event and returns its counter value.
    pub fn advance(&mut self) -> u64 {
        let v = self.next;
        self.next += 4;
        v
    }
}

/// `LOAD00000001` … `LOAD0000000A` …: the full-load file name for a 1-based counter (hex).
pub fn load_file_name(counter: u32, extension: &str) -> String {
    format!("LOAD{counter:08X}.{extension}")
}

/// `20240612-103127367.csv`: the CDC file name for the time the file is written (UTC, ms).
pub fn cdc_file_name(written: DateTime<Utc>, extension: &str) -> String {
    format!(
        "{}{:03}.{extension}",
        dmslake::layout::cdc_name_prefix(written),
        written.timestamp_subsec_millis()
    )
}

/// `[BucketFolder/]schema/table/`.
pub fn table_prefix(layout: &LayoutConfig, schema: &str, table: &str) -> String {
    if layout.bucket_folder.is_empty() {
        format!("{schema}/{table}/")
    } else {
        format!("{}/{schema}/{table}/", layout.bucket_folder)
    }
}

/// The date folder (with its trailing `/`) for a commit time, per `DatePartitionSequence` and
/// `DatePartitionDelimiter`: the folder text the watcher's listing and the key classifier use.
pub fn date_folder(layout: &LayoutConfig, commit: DateTime<Utc>) -> String {
    format!(
        "{}/",
        dmslake::layout::date_folder(
            layout.date_partition_sequence,
            layout.date_partition_delimiter,
            commit
        )
    )
}

/// Object key of a full-load file (never in a date folder).
pub fn load_key(
    layout: &LayoutConfig,
    schema: &str,
    table: &str,
    counter: u32,
    ext: &str,
) -> String {
    format!(
        "{}{}",
        table_prefix(layout, schema, table),
        load_file_name(counter, ext)
    )
}

/// Object key of a CDC file: in the commit date's folder when date partitioning is on.
pub fn cdc_key(
    layout: &LayoutConfig,
    schema: &str,
    table: &str,
    commit: DateTime<Utc>,
    written: DateTime<Utc>,
    ext: &str,
) -> String {
    let folder = if layout.date_partition_enabled {
        date_folder(layout, commit)
    } else {
        String::new()
    };
    format!(
        "{}{folder}{}",
        table_prefix(layout, schema, table),
        cdc_file_name(written, ext)
    )
}

/// A key as S3 event notifications carry it: URL-encoded, space as `+`, `/` kept.
pub fn notification_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(key, KEEP)
        .to_string()
        .replace(' ', "+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use dmslake::config::{DatePartitionDelimiter, DatePartitionSequence};

    #[test]
    fn reals_are_written_as_widened_floats_in_c_exponent_form() {
        let cases: &[(f32, &str)] = &[
            (11.0, "+1.10000000e+01"),
            (0.0, "+0.00000000e+00"),
            (9.8, "+9.80000019e+00"),
            (0.15, "+1.50000006e-01"),
            (0.05, "+5.00000007e-02"),
            (34.8, "+3.47999992e+01"),
            (-2.5, "-2.50000000e+00"),
            (1e20, "+1.00000002e+20"),
            (1e-120_f32, "+0.00000000e+00"),
        ];
        for (v, want) in cases {
            assert_eq!(format_real4(*v), *want, "{v}");
        }
        assert_eq!(format_real8(0.1), "+1.0000000000000001e-01");
        assert_eq!(format_real8(1e300), "+1.0000000000000001e+300");
    }

    #[test]
    fn values_follow_the_dms_type_mapping() {
        let cases: &[(ValueKind, Option<&str>, Option<&str>)] = &[
            (ValueKind::Real4, Some("14"), Some("+1.40000000e+01")),
            (ValueKind::Real4, None, None),
            (ValueKind::Boolean, Some("t"), Some("true")),
            (ValueKind::Boolean, Some("false"), Some("false")),
            (
                ValueKind::TimestampTz,
                Some("2024-06-12 10:30:27.362108+00"),
                Some("2024-06-12 10:30:27.362108"),
            ),
            (ValueKind::Text, Some("12.50"), Some("12.50")),
            (ValueKind::Bytea, Some("\\x00ff"), Some("00ff")),
            (ValueKind::Bytea, Some("00ff"), Some("00ff")),
            (ValueKind::Bytea, Some("\\x"), Some("")),
            (ValueKind::Text, Some(""), Some("")),
        ];
        for (kind, input, want) in cases {
            assert_eq!(
                dms_text(*kind, *input).expect("valid").as_deref(),
                *want,
                "{kind:?} {input:?}"
            );
        }
        assert!(dms_text(ValueKind::Real4, Some("abc")).is_err());
        assert!(dms_text(ValueKind::Boolean, Some("yes")).is_err());
        assert!(dms_text(ValueKind::TimestampTz, Some("2024-01-01 00:00:00+02")).is_err());
    }

    #[test]
    fn pg_type_names_map_to_kinds() {
        for (name, kind) in [
            ("real", ValueKind::Real4),
            ("double precision", ValueKind::Real8),
            ("boolean", ValueKind::Boolean),
            ("timestamp with time zone", ValueKind::TimestampTz),
            ("timestamp(3) with time zone", ValueKind::TimestampTz),
            ("timestamp without time zone", ValueKind::Text),
            ("numeric(10,2)", ValueKind::Text),
            ("character varying(40)", ValueKind::Text),
        ] {
            assert_eq!(ValueKind::from_pg_type(name), kind, "{name}");
        }
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, ""),
            (Some("Rua do Paço, 67"), "\"Rua do Paço, 67\""),
            (Some("say \"hi\""), "\"say \"\"hi\"\"\""),
            (Some("line\nbreak"), "\"line\nbreak\""),
            (
                Some("507 - 20th Ave. E.\\nApt. 2A"),
                "507 - 20th Ave. E.\\nApt. 2A",
            ),
            (Some("Chef Anton's"), "Chef Anton's"),
        ];
        for (v, want) in cases {
            let mut out = String::new();
            push_field(&mut out, *v);
            assert_eq!(out, *want);
        }
    }

    #[test]
    fn change_sequence_has_35_digits_from_commit_time_and_counter() {
        let commit = Utc
            .with_ymd_and_hms(2024, 6, 12, 10, 30, 27)
            .single()
            .expect("time")
            + chrono::Duration::microseconds(362_108);
        let seq = ChangeSequence {
            commit,
            counter: 121,
        };
        assert_eq!(seq.to_string(), "20240612103027360000000000000000121");
        assert_eq!(seq.to_string().len(), 35);
        let mut c = SequenceCounter::default();
        assert_eq!((c.advance(), c.advance(), c.advance()), (1, 5, 9));
    }

    #[test]
    fn file_names_count_in_hex_and_cdc_names_carry_milliseconds() {
        assert_eq!(load_file_name(1, "csv"), "LOAD00000001.csv");
        assert_eq!(load_file_name(10, "csv"), "LOAD0000000A.csv");
        assert_eq!(load_file_name(16, "parquet"), "LOAD00000010.parquet");
        let t = Utc
            .with_ymd_and_hms(2024, 6, 12, 10, 31, 27)
            .single()
            .expect("time")
            + chrono::Duration::microseconds(367_999);
        assert_eq!(cdc_file_name(t, "csv"), "20240612-103127367.csv");
    }

    #[test]
    fn keys_follow_bucket_folder_and_date_partition_settings() {
        let commit = Utc
            .with_ymd_and_hms(2024, 7, 5, 20, 9, 37)
            .single()
            .expect("time");
        let written = commit + chrono::Duration::seconds(60);
        let mut layout = LayoutConfig {
            bucket_folder: "cdc".into(),
            ..LayoutConfig::default()
        };
        assert_eq!(
            cdc_key(&layout, "public", "order_details", commit, written, "csv"),
            "cdc/public/order_details/20240705-201037000.csv"
        );
        assert_eq!(
            load_key(&layout, "public", "order_details", 1, "csv"),
            "cdc/public/order_details/LOAD00000001.csv"
        );
        layout.date_partition_enabled = true;
        let cases = [
            (
                DatePartitionSequence::Yyyymmdd,
                DatePartitionDelimiter::Slash,
                "2024/07/05/",
            ),
            (
                DatePartitionSequence::Yyyymmddhh,
                DatePartitionDelimiter::Dash,
                "2024-07-05-20/",
            ),
            (
                DatePartitionSequence::Ddmmyyyy,
                DatePartitionDelimiter::Underscore,
                "05_07_2024/",
            ),
            (
                DatePartitionSequence::Mmyyyydd,
                DatePartitionDelimiter::None,
                "07202405/",
            ),
        ];
        for (seq, delim, folder) in cases {
            layout.date_partition_sequence = seq;
            layout.date_partition_delimiter = delim;
            assert_eq!(
                cdc_key(&layout, "public", "t", commit, written, "csv"),
                format!("cdc/public/t/{folder}20240705-201037000.csv")
            );
        }
        layout.bucket_folder.clear();
        assert_eq!(
            load_key(&layout, "s", "t", 2, "csv"),
            "s/t/LOAD00000002.csv"
        );
    }

    #[test]
    fn notification_keys_are_url_encoded_like_s3() {
        assert_eq!(
            notification_key("cdc/public/my table/LOAD00000001.csv"),
            "cdc/public/my+table/LOAD00000001.csv"
        );
        assert_eq!(notification_key("a/Paço=1/x.csv"), "a/Pa%C3%A7o%3D1/x.csv");
    }
}
