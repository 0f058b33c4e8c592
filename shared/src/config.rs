//! Configuration shared by every dmslake binary, read once from `DMSLAKE_*` variables through
//! one reader, [`Env`], so every variable is trimmed, defaulted and reported the same way.
//!
//! The layout variables mirror the DMS S3 target endpoint settings of the same names
//! (`BucketFolder`, `DatePartitionEnabled`, `DatePartitionSequence`, `DatePartitionDelimiter`,
//! `CdcPath`; see CHAP_Target.S3.md in the AWS DMS user guide) and default to DMS's defaults.

use std::fmt;
use std::str::FromStr;

/// A configuration value that cannot be used: names the variable, the value and what is
/// allowed. An empty `value` means the variable is not set (or blank).
#[derive(Debug, PartialEq, Eq)]
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

    /// A required variable that is not set, or set to blanks only.
    pub fn missing(variable: &str, allowed: impl Into<String>) -> Self {
        Self::new(variable, "", allowed)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{} is not set: expected {}", self.variable, self.allowed)
        } else {
            write!(
                f,
                "{}={:?} is not valid: expected {}",
                self.variable, self.value, self.allowed
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads a variable from the process environment (what [`Env::process`] looks up).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The one reader of `DMSLAKE_*` variables, over any lookup (the process environment in
/// production, [`lookup`] in tests). Every method reads a value the same way:
///
/// - surrounding blanks are trimmed;
/// - a variable that is unset, empty or blank counts as unset: its default applies, and a
///   required one is reported as not set;
/// - a value that cannot be used is a [`ConfigError`] naming the variable, the value and what
///   is allowed.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { get }
    }

    /// The process environment.
    pub fn process() -> Env<'static> {
        Env { get: &process_env }
    }

    /// The trimmed value; `None` when unset or blank.
    pub fn optional(&self, variable: &str) -> Option<String> {
        (self.get)(variable)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The trimmed value, or `default` when unset or blank.
    pub fn or(&self, variable: &str, default: &str) -> String {
        self.optional(variable)
            .unwrap_or_else(|| default.to_string())
    }

    /// The trimmed value; an error saying what is `allowed` when unset or blank.
    pub fn required(&self, variable: &str, allowed: &str) -> Result<String, ConfigError> {
        self.optional(variable)
            .ok_or_else(|| ConfigError::missing(variable, allowed))
    }

    /// A boolean ([`parse_bool`]'s words, any case); `default` when unset or blank.
    pub fn bool(&self, variable: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(variable) {
            Some(v) => parse_bool(variable, &v),
            None => Ok(default),
        }
    }

    /// A comma-separated list: every item trimmed, empty items dropped; empty when unset.
    pub fn list(&self, variable: &str) -> Vec<String> {
        self.optional(variable)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value read with `read` (`None` from it: not valid, reported with `allowed`);
    /// `Ok(None)` when unset or blank.
    pub fn parse_with<T>(
        &self,
        variable: &str,
        allowed: impl Into<String>,
        read: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.optional(variable) {
            None => Ok(None),
            Some(v) => match read(&v) {
                Some(parsed) => Ok(Some(parsed)),
                None => Err(ConfigError::new(variable, &v, allowed)),
            },
        }
    }

    /// The value parsed with [`FromStr`] (numbers, ...); `Ok(None)` when unset or blank.
    pub fn parse<T: FromStr>(
        &self,
        variable: &str,
        allowed: impl Into<String>,
    ) -> Result<Option<T>, ConfigError> {
        self.parse_with(variable, allowed, |v| v.parse().ok())
    }
}

/// Where dmslake keeps its state documents under `DMSLAKE_STATE_BUCKET` unless
/// `DMSLAKE_STATE_PREFIX` says otherwise (`/` for the bucket's root).
pub const DEFAULT_STATE_PREFIX: &str = "dmslake-state/";

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
        Self::read(&Env::new(get))
    }

    fn read(env: &Env) -> Result<Self, ConfigError> {
        let column = |variable: &str, default: &str| -> Result<String, ConfigError> {
            let name =
                env.parse_with(variable, "1-128 ASCII letters, digits, '_' or '$'", |v| {
                    let ok = v.len() <= 128
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
                    ok.then(|| v.to_string())
                })?;
            Ok(name.unwrap_or_else(|| default.to_string()))
        };
        Ok(Self {
            timestamp: column("DMSLAKE_TIMESTAMP_COLUMN", DEFAULT_TIMESTAMP_COLUMN)?,
            change_sequence: column(
                "DMSLAKE_CHANGE_SEQUENCE_COLUMN",
                DEFAULT_CHANGE_SEQUENCE_COLUMN,
            )?,
            before_image_prefix: column(
                "DMSLAKE_BEFORE_IMAGE_PREFIX",
                DEFAULT_BEFORE_IMAGE_PREFIX,
            )?,
        })
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

/// A folder path (`BucketFolder`, `CdcPath`) without leading or trailing slashes; `None` when
/// unset or only slashes; an error for a `..` segment.
fn folder(env: &Env, variable: &str) -> Result<Option<String>, ConfigError> {
    env.parse_with(variable, "a folder path without '..' segments", |v| {
        let path = v.trim_matches('/');
        (!path.split('/').any(|seg| seg == "..")).then(|| path.to_string())
    })
    .map(|path| path.filter(|p| !p.is_empty()))
}

/// The words every `DMSLAKE_*` boolean accepts (any case, surrounding blanks ignored).
pub const BOOL_ALLOWED: &str = "true or false (also yes/no, 1/0; empty means the default)";

/// Parses a `DMSLAKE_*` boolean: `true`/`yes`/`1` or `false`/`no`/`0`/empty, in any case.
/// [`Env::bool`] parses every binary's booleans here, so they all accept the same words.
pub fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(ConfigError::new(variable, value, BOOL_ALLOWED)),
    }
}

/// A Glue database name: lower-case letters, digits and underscores, at most 255 characters.
fn database(env: &Env, variable: &str, default: &str) -> Result<String, ConfigError> {
    let name = env.parse_with(
        variable,
        "a Glue database name of 1-255 lower-case letters, digits or underscores",
        |v| {
            let ok = v.len() <= 255
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            ok.then(|| v.to_string())
        },
    )?;
    Ok(name.unwrap_or_else(|| default.to_string()))
}

impl LayoutConfig {
    /// Reads the layout from any variable source (the process environment in production).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(get))
    }

    /// Reads the layout through `env`.
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket_folder: folder(env, "DMSLAKE_BUCKET_FOLDER")?.unwrap_or_default(),
            date_partition_enabled: env.bool("DMSLAKE_DATE_PARTITION_ENABLED", false)?,
            date_partition_sequence: env
                .parse_with(
                    "DMSLAKE_DATE_PARTITION_SEQUENCE",
                    DatePartitionSequence::ALLOWED,
                    DatePartitionSequence::parse,
                )?
                .unwrap_or_default(),
            date_partition_delimiter: env
                .parse_with(
                    "DMSLAKE_DATE_PARTITION_DELIMITER",
                    DatePartitionDelimiter::ALLOWED,
                    DatePartitionDelimiter::parse,
                )?
                .unwrap_or_default(),
            cdc_path: folder(env, "DMSLAKE_CDC_PATH")?,
        })
    }

    /// Reads the layout from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Env::process())
    }
}

impl Config {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(get))
    }

    /// Reads the shared settings through `env`.
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            layout: LayoutConfig::read(env)?,
            columns: DmsColumns::read(env)?,
            raw_database: database(env, "DMSLAKE_RAW_DATABASE", DEFAULT_RAW_DATABASE)?,
            curated_database: database(env, "DMSLAKE_CURATED_DATABASE", DEFAULT_CURATED_DATABASE)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Env::process())
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
            ("DMSLAKE_CURATED_DATABASE", "cur db", "lower-case"),
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

    #[test]
    fn blank_values_mean_unset_so_every_shared_setting_keeps_its_default() {
        let variables = [
            "DMSLAKE_BUCKET_FOLDER",
            "DMSLAKE_DATE_PARTITION_ENABLED",
            "DMSLAKE_DATE_PARTITION_SEQUENCE",
            "DMSLAKE_DATE_PARTITION_DELIMITER",
            "DMSLAKE_CDC_PATH",
            "DMSLAKE_TIMESTAMP_COLUMN",
            "DMSLAKE_CHANGE_SEQUENCE_COLUMN",
            "DMSLAKE_BEFORE_IMAGE_PREFIX",
            "DMSLAKE_RAW_DATABASE",
            "DMSLAKE_CURATED_DATABASE",
        ];
        let defaults = Config::from_lookup(&lookup(&[])).expect("defaults");
        for blank in ["", "  ", "\t"] {
            let pairs: Vec<(&str, &str)> = variables.iter().map(|v| (*v, blank)).collect();
            let cfg = Config::from_lookup(&lookup(&pairs)).expect("blank is unset");
            assert_eq!(cfg, defaults, "{blank:?}");
        }
        // Values are trimmed before they are checked.
        let cfg = Config::from_lookup(&lookup(&[
            ("DMSLAKE_RAW_DATABASE", " raw_db\n"),
            ("DMSLAKE_TIMESTAMP_COLUMN", " ts "),
            ("DMSLAKE_DATE_PARTITION_SEQUENCE", " yyyymmddhh "),
        ]))
        .expect("trimmed");
        assert_eq!(cfg.raw_database, "raw_db");
        assert_eq!(cfg.columns.timestamp, "ts");
        assert_eq!(
            cfg.layout.date_partition_sequence,
            DatePartitionSequence::Yyyymmddhh
        );
    }

    #[test]
    fn the_reader_trims_defaults_and_names_the_variable_the_same_way_for_every_kind() {
        let get = lookup(&[
            ("SET", "  value "),
            ("BLANK", " \t "),
            ("LIST", " a, b ,,c , "),
            ("COMMAS", " , ,"),
            ("NUMBER", " 42 "),
            ("WORD", "forty"),
            ("YES", " Yes "),
            ("MAYBE", "maybe"),
        ]);
        let env = Env::new(&get);
        // optional / or / required
        let optional: &[(&str, Option<&str>)] =
            &[("SET", Some("value")), ("BLANK", None), ("UNSET", None)];
        for (var, want) in optional {
            assert_eq!(env.optional(var).as_deref(), *want, "{var}");
            assert_eq!(env.or(var, "dflt"), want.unwrap_or("dflt"), "{var}");
            match (env.required(var, "something"), want) {
                (Ok(v), Some(w)) => assert_eq!(v, *w),
                (Err(e), None) => {
                    assert_eq!(e.variable, *var);
                    assert_eq!(
                        e.to_string(),
                        format!("{var} is not set: expected something")
                    );
                }
                (got, want) => panic!("{var}: got {got:?}, want {want:?}"),
            }
        }
        // list
        let lists: &[(&str, &[&str])] = &[
            ("LIST", &["a", "b", "c"]),
            ("COMMAS", &[]),
            ("BLANK", &[]),
            ("UNSET", &[]),
            ("SET", &["value"]),
        ];
        for (var, want) in lists {
            assert_eq!(env.list(var), *want, "{var}");
        }
        // bool
        let bools: &[(&str, bool, Option<bool>)] = &[
            ("YES", false, Some(true)),
            ("BLANK", true, Some(true)),
            ("UNSET", false, Some(false)),
            ("MAYBE", false, None),
        ];
        for (var, default, want) in bools {
            match (env.bool(var, *default), want) {
                (Ok(v), Some(w)) => assert_eq!(v, *w, "{var}"),
                (Err(e), None) => {
                    assert_eq!(e.variable, *var);
                    assert_eq!(e.value, "maybe");
                }
                (got, want) => panic!("{var}: got {got:?}, want {want:?}"),
            }
        }
        // parse
        let numbers: &[(&str, Result<Option<i64>, &str>)] = &[
            ("NUMBER", Ok(Some(42))),
            ("BLANK", Ok(None)),
            ("UNSET", Ok(None)),
            (
                "WORD",
                Err("WORD=\"forty\" is not valid: expected an integer"),
            ),
        ];
        for (var, want) in numbers {
            let got = env
                .parse::<i64>(var, "an integer")
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{var}");
        }
        let even = env.parse_with("NUMBER", "an odd number", |v| {
            v.parse::<i64>().ok().filter(|n| n % 2 == 1)
        });
        assert_eq!(
            even.map_err(|e| (e.variable, e.value)),
            Err(("NUMBER".to_string(), "42".to_string()))
        );
    }
}
