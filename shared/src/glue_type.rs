//! The column types dmslake writes to and reads from the Glue catalog: one enum, spelled the
//! Hive DDL way Glue stores it (`bigint`, `decimal(15,2)`), with the Trino spelling Athena's
//! DML needs (`CAST(... AS integer)`).
//!
//! Athena's type names: "Data types in Amazon Athena" (data-types.md); Iceberg tables have no
//! `tinyint`/`smallint` ("Supported data types for Iceberg tables in Athena"), so
//! [`GlueType::iceberg`] widens them to `int`. A type outside this list is refused with an
//! error naming it, never guessed.

use std::fmt;

/// Largest decimal precision Athena supports (`decimal(38, s)`).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// A Glue / Athena column type dmslake reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlueType {
    Boolean,
    Tinyint,
    Smallint,
    Int,
    Bigint,
    Float,
    Double,
    Decimal { precision: u8, scale: u8 },
    String,
    Date,
    Timestamp,
    Binary,
}

/// A type name dmslake cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a column type dmslake supports: {reason}")]
pub struct GlueTypeError {
    pub text: String,
    pub reason: String,
}

impl GlueType {
    /// `decimal(precision, scale)`: precision 1 to 38, scale 0 to the precision.
    pub fn decimal(precision: i64, scale: i64) -> Result<Self, String> {
        let max = i64::from(MAX_DECIMAL_PRECISION);
        if !(1..=max).contains(&precision) {
            return Err(format!(
                "decimal precision {precision} is outside Athena's 1..={max}"
            ));
        }
        if !(0..=precision).contains(&scale) {
            return Err(format!(
                "decimal scale {scale} is outside 0..={precision} (the precision)"
            ));
        }
        // Both checked to fit 0..=38 above.
        Ok(Self::Decimal {
            precision: u8::try_from(precision).unwrap_or(MAX_DECIMAL_PRECISION),
            scale: u8::try_from(scale).unwrap_or(0),
        })
    }

    /// Parses a Hive DDL type name in any case. Besides the names [`fmt::Display`] writes it
    /// accepts the synonyms Athena's DDL does (`integer`, `real`, `char`, `varchar`, with or
    /// without a length: Iceberg stores both as `string`).
    pub fn parse(text: &str) -> Result<Self, GlueTypeError> {
        let err = |reason: String| GlueTypeError {
            text: text.to_string(),
            reason,
        };
        let t = text.trim().to_ascii_lowercase();
        let t = t.as_str();
        Ok(match t {
            "boolean" => Self::Boolean,
            "tinyint" => Self::Tinyint,
            "smallint" => Self::Smallint,
            "int" | "integer" => Self::Int,
            "bigint" => Self::Bigint,
            "float" | "real" => Self::Float,
            "double" => Self::Double,
            "string" | "varchar" | "char" => Self::String,
            "date" => Self::Date,
            "timestamp" => Self::Timestamp,
            "binary" => Self::Binary,
            _ if (t.starts_with("varchar(") || t.starts_with("char(")) && t.ends_with(')') => {
                Self::String
            }
            _ if t.starts_with("decimal(") && t.ends_with(')') => {
                let inner = &t["decimal(".len()..t.len() - 1];
                let (p, s) = inner
                    .split_once(',')
                    .ok_or_else(|| err("expected decimal(precision,scale)".into()))?;
                let number = |v: &str| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|e| err(format!("{v:?} is not a number: {e}")))
                };
                Self::decimal(number(p)?, number(s)?).map_err(err)?
            }
            _ => {
                return Err(err(
                    "expected boolean, tinyint, smallint, int, bigint, float, double, \
                     decimal(p,s), string, date, timestamp or binary"
                        .into(),
                ))
            }
        })
    }

    /// The type an Athena Iceberg table stores for this type: `tinyint` and `smallint` widen
    /// to `int`; every other type is kept.
    pub fn iceberg(self) -> Self {
        match self {
            Self::Tinyint | Self::Smallint => Self::Int,
            other => other,
        }
    }

    /// The type name in Athena DML (Trino), for `CAST`.
    pub fn dml(self) -> std::string::String {
        match self {
            Self::Boolean => "boolean".into(),
            Self::Tinyint => "tinyint".into(),
            Self::Smallint => "smallint".into(),
            Self::Int => "integer".into(),
            Self::Bigint => "bigint".into(),
            Self::Float => "real".into(),
            Self::Double => "double".into(),
            Self::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            Self::String => "varchar".into(),
            Self::Date => "date".into(),
            Self::Timestamp => "timestamp".into(),
            Self::Binary => "varbinary".into(),
        }
    }
}

/// The Hive DDL spelling Glue stores (`int`, `decimal(15,2)`, `string`).
impl fmt::Display for GlueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::Tinyint => f.write_str("tinyint"),
            Self::Smallint => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::Bigint => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Self::String => f.write_str("string"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Binary => f.write_str("binary"),
        }
    }
}

impl std::str::FromStr for GlueType {
    type Err = GlueTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for GlueType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GlueType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::string::String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_what_it_writes() {
        let all = [
            GlueType::Boolean,
            GlueType::Tinyint,
            GlueType::Smallint,
            GlueType::Int,
            GlueType::Bigint,
            GlueType::Float,
            GlueType::Double,
            GlueType::Decimal {
                precision: 15,
                scale: 2,
            },
            GlueType::String,
            GlueType::Date,
            GlueType::Timestamp,
            GlueType::Binary,
        ];
        for t in all {
            assert_eq!(GlueType::parse(&t.to_string()), Ok(t), "{t}");
        }
    }

    #[test]
    fn synonyms_and_spellings_parse_to_one_type() {
        let cases: &[(&str, GlueType)] = &[
            ("INT", GlueType::Int),
            ("integer", GlueType::Int),
            ("real", GlueType::Float),
            ("varchar", GlueType::String),
            ("varchar(20)", GlueType::String),
            ("char(3)", GlueType::String),
            (
                " Decimal( 12 , 2 ) ",
                GlueType::Decimal {
                    precision: 12,
                    scale: 2,
                },
            ),
            (
                "decimal(38,38)",
                GlueType::Decimal {
                    precision: 38,
                    scale: 38,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(GlueType::parse(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn types_dmslake_cannot_hold_are_refused_naming_them() {
        for bad in [
            "decimal(0,0)",
            "decimal(39,2)",
            "decimal(5,6)",
            "decimal(x,1)",
            "decimal(5)",
            "struct<a:int>",
            "array<string>",
            "map<string,int>",
            "",
        ] {
            let err = GlueType::parse(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn iceberg_widens_the_small_integers_only() {
        assert_eq!(GlueType::Tinyint.iceberg(), GlueType::Int);
        assert_eq!(GlueType::Smallint.iceberg(), GlueType::Int);
        assert_eq!(GlueType::Bigint.iceberg(), GlueType::Bigint);
        assert_eq!(GlueType::String.iceberg(), GlueType::String);
    }

    #[test]
    fn dml_spellings_are_trinos() {
        assert_eq!(GlueType::Int.dml(), "integer");
        assert_eq!(GlueType::Float.dml(), "real");
        assert_eq!(GlueType::String.dml(), "varchar");
        assert_eq!(GlueType::Binary.dml(), "varbinary");
        assert_eq!(
            GlueType::Decimal {
                precision: 9,
                scale: 2
            }
            .dml(),
            "decimal(9,2)"
        );
    }
}
