//! Configuration shared by every dmslake binary, read once from `DMSLAKE_*` variables.
//!
//! The layout variables mirror the DMS S3 target endpoint settings of the same names
//! (`BucketFolder`, `DatePartitionEnabled`, `DatePartitionSequence`, `DatePartitionDelimiter`,
//! `CdcPath`; see CHAP_Target.S3.md in the AWS DMS user guide) and default to DMS's defaults.

use std::fmt;

/// A configuration value that cannot be used: names the variable, the value and what is allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}={value:?} is not valid: expected {allowed}")]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
    pub allowed: String,
}

impl ConfigError {
    pub fn new(variable: &str, value: &str, allowed: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            value: value.into(),
            allowed: allowed.into(),
        }
    }
}

/// `DatePartitionSequence`: which date parts name the CDC folders, in folder order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DatePartitionSequence {
    #[default]
    Yyyymmdd,
    Yyyymmddhh,
    Yyyymm,
    Mmyyyydd,
    Ddmmyyyy,
}

impl DatePartitionSequence {
    pub const ALLOWED: &'static str = "YYYYMMDD, YYYYMMDDHH, YYYYMM, MMYYYYDD, DDMMYYYY";

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "YYYYMMDD" => Some(Self::Yyyymmdd),
            "YYYYMMDDHH" => Some(Self::Yyyymmddhh),
            "YYYYMM" => Some(Self::Yyyymm),
            "MMYYYYDD" => Some(Self::Mmyyyydd),
            "DDMMYYYY" => Some(Self::Ddmmyyyy),
            _ => None,
        }
    }

    /// The date parts in the order DMS writes them into the key.
    pub fn parts(self) -> &'static [DatePart] {
        use DatePart::*;
        match self {
            Self::Yyyymmdd => &[Year, Month, Day],
            Self::Yyyymmddhh => &[Year, Month, Day, Hour],
            Self::Yyyymm => &[Year, Month],
            Self::Mmyyyydd => &[Month, Year, Day],
            Self::Ddmmyyyy => &[Day, Month, Year],
        }
    }
}

impl fmt::Display for DatePartitionSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yyyymmdd => "YYYYMMDD",
            Self::Yyyymmddhh => "YYYYMMDDHH",
            Self::Yyyymm => "YYYYMM",
            Self::Mmyyyydd => "MMYYYYDD",
            Self::Ddmmyyyy => "DDMMYYYY",
        })
    }
}

/// One component of a date partition folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatePart {
    Year,
    Month,
    Day,
    Hour,
}

impl DatePart {
    /// The Glue partition key that holds this part.
    pub fn column(self) -> &'static str {
        match self {
            DatePart::Year => "year",
            DatePart::Month => "month",
            DatePart::Day => "day",
            DatePart::Hour => "hour",
        }
    }

    /// Number of digits DMS writes for this part.
    pub fn width(self) -> usize {
        match self {
            DatePart::Year => 4,
            _ => 2,
        }
    }
}

/// `DatePartitionDelimiter`: what separates the date parts in the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DatePartitionDelimiter {
    #[default]
    Slash,
    Underscore,
    Dash,
    None,
}

impl DatePartitionDelimiter {
    pub const ALLOWED: &'static str = "SLASH, UNDERSCORE, DASH, NONE";

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "SLASH" => Some(Self::Slash),
            "UNDERSCORE" => Some(Self::Underscore),
            "DASH" => Some(Self::Dash),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }

    /// The separator written between date parts.
    pub fn separator(self) -> &'static str {
        match self {
            Self::Slash => "/",
            Self::Underscore => "_",
            Self::Dash => "-",
            Self::None => "",
        }
    }
}

impl fmt::Display for DatePartitionDelimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Slash => "SLASH",
            Self::Underscore => "UNDERSCORE",
            Self::Dash => "DASH",
            Self::None => "NONE",
        })
    }
}

/// The DMS S3 target endpoint settings that decide where DMS writes each file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LayoutConfig {
    /// `BucketFolder` without leading or trailing slashes; empty when DMS writes at the root.
    pub bucket_folder: String,
    pub date_partition_enabled: bool,
    pub date_partition_sequence: DatePartitionSequence,
    pub date_partition_delimiter: DatePartitionDelimiter,
    /// `CdcPath` without leading or trailing slashes; `None` when unset.
    pub cdc_path: Option<String>,
}

/// Names of the columns DMS adds to every row (S3 target settings `TimestampColumnName`,
/// a transformation rule adding `$AR_H_CHANGE_SEQ`, and `BeforeImageSettings.ColumnPrefix`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmsColumns {
    /// `DMSLAKE_TIMESTAMP_COLUMN`: the endpoint's `TimestampColumnName` (default `dms_commit_ts`).
    pub timestamp: String,
    /// `DMSLAKE_CHANGE_SEQUENCE_COLUMN`: the column a transformation rule fills with
    /// `$AR_H_CHANGE_SEQ` (default `dms_change_seq`).
    pub change_sequence: String,
    /// `DMSLAKE_BEFORE_IMAGE_PREFIX`: `BeforeImageSettings.ColumnPrefix` (DMS default `BI_`).
    pub before_image_prefix: String,
}

pub const DEFAULT_TIMESTAMP_COLUMN: &str = "dms_commit_ts";
pub const DEFAULT_CHANGE_SEQUENCE_COLUMN: &str = "dms_change_seq";
pub const DEFAULT_BEFORE_IMAGE_PREFIX: &str = "BI_";
/// DMS's operation column (`I`, `U`, `D`); its name is fixed.
pub const OP_COLUMN: &str = "Op";

impl Default for DmsColumns {
    fn default() -> Self {
        Self {
            timestamp: DEFAULT_TIMESTAMP_COLUMN.into(),
            change_sequence: DEFAULT_CHANGE_SEQUENCE_COLUMN.into(),
            before_image_prefix: DEFAULT_BEFORE_IMAGE_PREFIX.into(),
        }
    }
}

impl DmsColumns {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut cols = Self::default();
        for (var, slot) in [
            ("DMSLAKE_TIMESTAMP_COLUMN", &mut cols.timestamp),
            ("DMSLAKE_CHANGE_SEQUENCE_COLUMN", &mut cols.change_sequence),
            ("DMSLAKE_BEFORE_IMAGE_PREFIX", &mut cols.before_image_prefix),
        ] {
            if let Some(v) = get(var) {
                let v = v.trim().to_string();
                let ok = !v.is_empty()
                    && v.len() <= 128
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
                if !ok {
                    return Err(ConfigError::new(
                        var,
                        &v,
                        "1-128 ASCII letters, digits, '_' or '$'",
                    ));
                }
                *slot = v;
            }
        }
        Ok(cols)
    }
}

/// Everything the binaries share: where DMS writes and which Glue databases dmslake maintains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub layout: LayoutConfig,
    pub columns: DmsColumns,
    /// Glue database of the raw change tables (`DMSLAKE_RAW_DATABASE`).
    pub raw_database: String,
    /// Glue database of the current-state Iceberg tables (`DMSLAKE_CURATED_DATABASE`).
    pub curated_database: String,
}

pub const DEFAULT_RAW_DATABASE: &str = "dmslake_raw";
pub const DEFAULT_CURATED_DATABASE: &str = "dmslake_curated";

/// A variable lookup over fixed `(name, value)` pairs, for building any configuration from
/// given values instead of the process environment (`from_lookup(&lookup(&[...]))`).
pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn trim_slashes(value: &str) -> String {
    value.trim().trim_matches('/').to_string()
}

/// The words every `DMSLAKE_*` boolean accepts (any case, surrounding blanks ignored).
pub const BOOL_ALLOWED: &str = "true or false (also yes/no, 1/0; empty means false)";

/// Parses a `DMSLAKE_*` boolean: `true`/`yes`/`1` or `false`/`no`/`0`/empty, in any case.
/// Every binary parses its booleans here, so they all accept the same words.
pub fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(ConfigError::new(variable, value, BOOL_ALLOWED)),
    }
}

/// A Glue database name: lower-case letters, digits and underscores, at most 255 characters.
fn parse_database(variable: &str, value: &str) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(value.to_string())
    } else {
        Err(ConfigError::new(
            variable,
            value,
            "a Glue database name of 1-255 lower-case letters, digits or underscores",
        ))
    }
}

impl LayoutConfig {
    /// Reads the layout from any variable source (the process environment in production).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bucket_folder = get("DMSLAKE_BUCKET_FOLDER")
            .map(|v| trim_slashes(&v))
            .unwrap_or_default();
        if bucket_folder.split('/').any(|seg| seg == "..") {
            return Err(ConfigError::new(
                "DMSLAKE_BUCKET_FOLDER",
                &bucket_folder,
                "a folder path without '..' segments",
            ));
        }
        let date_partition_enabled = match get("DMSLAKE_DATE_PARTITION_ENABLED") {
            Some(v) => parse_bool("DMSLAKE_DATE_PARTITION_ENABLED", &v)?,
            None => false,
        };
        let date_partition_sequence = match get("DMSLAKE_DATE_PARTITION_SEQUENCE") {
            Some(v) => DatePartitionSequence::parse(&v).ok_or_else(|| {
                ConfigError::new(
                    "DMSLAKE_DATE_PARTITION_SEQUENCE",
                    &v,
                    DatePartitionSequence::ALLOWED,
                )
            })?,
            None => DatePartitionSequence::default(),
        };
        let date_partition_delimiter = match get("DMSLAKE_DATE_PARTITION_DELIMITER") {
            Some(v) => DatePartitionDelimiter::parse(&v).ok_or_else(|| {
                ConfigError::new(
                    "DMSLAKE_DATE_PARTITION_DELIMITER",
                    &v,
                    DatePartitionDelimiter::ALLOWED,
                )
            })?,
            None => DatePartitionDelimiter::default(),
        };
        let cdc_path = get("DMSLAKE_CDC_PATH")
            .map(|v| trim_slashes(&v))
            .filter(|v| !v.is_empty());
        if let Some(path) = &cdc_path {
            if path.split('/').any(|seg| seg == "..") {
                return Err(ConfigError::new(
                    "DMSLAKE_CDC_PATH",
                    path,
                    "a folder path without '..' segments",
                ));
            }
        }
        Ok(Self {
            bucket_folder,
            date_partition_enabled,
            date_partition_sequence,
            date_partition_delimiter,
            cdc_path,
        })
    }

    /// Reads the layout from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

impl Config {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let layout = LayoutConfig::from_lookup(get)?;
        let raw_database = match get("DMSLAKE_RAW_DATABASE") {
            Some(v) => parse_database("DMSLAKE_RAW_DATABASE", &v)?,
            None => DEFAULT_RAW_DATABASE.to_string(),
        };
        let curated_database = match get("DMSLAKE_CURATED_DATABASE") {
            Some(v) => parse_database("DMSLAKE_CURATED_DATABASE", &v)?,
            None => DEFAULT_CURATED_DATABASE.to_string(),
        };
        let columns = DmsColumns::from_lookup(get)?;
        Ok(Self {
            layout,
            columns,
            raw_database,
            curated_database,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dms_defaults() {
        let cfg = Config::from_lookup(&lookup(&[])).expect("defaults");
        assert_eq!(cfg.layout.bucket_folder, "");
        assert!(!cfg.layout.date_partition_enabled);
        assert_eq!(
            cfg.layout.date_partition_sequence,
            DatePartitionSequence::Yyyymmdd
        );
        assert_eq!(
            cfg.layout.date_partition_delimiter,
            DatePartitionDelimiter::Slash
        );
        assert_eq!(cfg.layout.cdc_path, None);
        assert_eq!(cfg.raw_database, DEFAULT_RAW_DATABASE);
        assert_eq!(cfg.curated_database, DEFAULT_CURATED_DATABASE);
    }

    #[test]
    fn every_setting_is_read_and_normalised() {
        let cfg = Config::from_lookup(&lookup(&[
            ("DMSLAKE_BUCKET_FOLDER", "/lake/dms/"),
            ("DMSLAKE_DATE_PARTITION_ENABLED", "TRUE"),
            ("DMSLAKE_DATE_PARTITION_SEQUENCE", "ddmmyyyy"),
            ("DMSLAKE_DATE_PARTITION_DELIMITER", "dash"),
            ("DMSLAKE_CDC_PATH", "changes/"),
            ("DMSLAKE_RAW_DATABASE", "raw_db"),
            ("DMSLAKE_CURATED_DATABASE", "cur_db"),
        ]))
        .expect("valid");
        assert_eq!(cfg.layout.bucket_folder, "lake/dms");
        assert!(cfg.layout.date_partition_enabled);
        assert_eq!(
            cfg.layout.date_partition_sequence,
            DatePartitionSequence::Ddmmyyyy
        );
        assert_eq!(
            cfg.layout.date_partition_delimiter,
            DatePartitionDelimiter::Dash
        );
        assert_eq!(cfg.layout.cdc_path.as_deref(), Some("changes"));
        assert_eq!(cfg.raw_database, "raw_db");
        assert_eq!(cfg.curated_database, "cur_db");
    }

    #[test]
    fn booleans_accept_the_same_words_in_any_case() {
        let cases: &[(&str, Option<bool>)] = &[
            ("true", Some(true)),
            (" TRUE ", Some(true)),
            ("Yes", Some(true)),
            ("1", Some(true)),
            ("false", Some(false)),
            ("No", Some(false)),
            ("0", Some(false)),
            ("", Some(false)),
            ("maybe", None),
            ("on", None),
            ("2", None),
        ];
        for (value, want) in cases {
            match (parse_bool("DMSLAKE_X", value), want) {
                (Ok(got), Some(want)) => assert_eq!(got, *want, "{value:?}"),
                (Err(err), None) => {
                    assert_eq!(err.variable, "DMSLAKE_X");
                    assert!(err.to_string().contains(BOOL_ALLOWED), "{err}");
                }
                (got, want) => panic!("{value:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn bad_values_name_the_variable_and_the_allowed_values() {
        let cases: &[(&str, &str, &str)] = &[
            ("DMSLAKE_DATE_PARTITION_SEQUENCE", "YYYY", "YYYYMMDDHH"),
            ("DMSLAKE_DATE_PARTITION_DELIMITER", "COMMA", "UNDERSCORE"),
            ("DMSLAKE_DATE_PARTITION_ENABLED", "maybe", "true or false"),
            ("DMSLAKE_RAW_DATABASE", "Raw-DB", "lower-case"),
            ("DMSLAKE_CURATED_DATABASE", "", "lower-case"),
            ("DMSLAKE_BUCKET_FOLDER", "a/../b", "'..'"),
        ];
        for (var, value, allowed) in cases {
            let err = Config::from_lookup(&lookup(&[(var, value)])).expect_err(var);
            let msg = err.to_string();
            assert!(msg.contains(var), "{msg}");
            assert!(msg.contains(allowed), "{msg}");
            assert_eq!(err.variable, *var);
        }
    }
}
