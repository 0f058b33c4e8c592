//! The compactor's configuration: the common `DMSLAKE_*` settings plus its own
//! (`DMSLAKE_ATHENA_WORKGROUP`, `DMSLAKE_CURATED_LOCATION`, `DMSLAKE_PRIMARY_KEYS`,
//! `DMSLAKE_CURATED_PARTITIONING`, `DMSLAKE_COLUMN_TYPES`, `DMSLAKE_STATE_BUCKET`,
//! `DMSLAKE_STATE_PREFIX`, `DMSLAKE_LOCK_TTL_SECONDS`).

use std::collections::BTreeMap;

use dmslake::catalog::GlueType;
use dmslake::config::{Config, ConfigError, Env, DEFAULT_STATE_PREFIX};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactorConfig {
    pub common: Config,
    pub workgroup: String,
    pub curated_location: String,
    /// `schema.table` (exact source names) -> key columns (normalised).
    pub primary_keys: BTreeMap<String, Vec<String>>,
    /// `schema.table` -> Iceberg partition fields (`col` or `day(col)`); none by default.
    pub partitioning: BTreeMap<String, Vec<String>>,
    /// `schema.table` -> column (normalised) -> Glue type of its curated column, overriding the
    /// file's type (CSV columns are strings otherwise).
    pub column_types: BTreeMap<String, BTreeMap<String, GlueType>>,
    pub state_bucket: String,
    pub state_prefix: String,
    pub lock_ttl_seconds: i64,
}

/// Parses `public.orders=id;public.order_lines=order_id,line_no`.
pub fn parse_table_lists(
    variable: &str,
    value: &str,
) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let mut out = BTreeMap::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || {
            ConfigError::new(
                variable,
                value,
                "`schema.table=col[,col...]` entries separated by ';'",
            )
        };
        let (table, cols) = entry.split_once('=').ok_or_else(bad)?;
        let table = table.trim();
        if table
            .split_once('.')
            .is_none_or(|(s, t)| s.is_empty() || t.is_empty())
        {
            return Err(bad());
        }
        let cols: Vec<String> = cols
            .split(',')
            .map(|c| dmslake::sql::normalise(c.trim()))
            .filter(|c| !c.is_empty())
            .collect();
        if cols.is_empty() {
            return Err(bad());
        }
        out.insert(table.to_string(), cols);
    }
    Ok(out)
}

/// The Iceberg partition transforms a curated table may use, besides identity (a bare column):
/// the time transforms of Athena's `PARTITIONED BY` for Iceberg tables (Athena user guide,
/// "Create Iceberg tables", querying-iceberg-creating-tables.md).
const PARTITION_TRANSFORMS: &[&str] = &["year", "month", "day", "hour"];

/// Splits `a, day(b), c` at the commas outside parentheses.
fn split_top_level(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in list.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&list[start..]);
    out
}

/// One partition field, `column` or `transform(column)`, with the column normalised like the
/// raw table's column names and the transform in lower case: `Day(Created_At)` →
/// `day(created_at)`. `None` for anything else.
fn parse_partition_field(field: &str) -> Option<String> {
    let field = field.trim();
    let column = |c: &str| {
        let c = c.trim();
        let plain = !c.is_empty()
            && c.chars()
                .all(|ch| !matches!(ch, '(' | ')' | ',' | '`' | '"' | '\'') && !ch.is_whitespace());
        plain.then(|| dmslake::sql::normalise(c))
    };
    match field.split_once('(') {
        None => column(field),
        Some((transform, rest)) => {
            let transform = transform.trim().to_ascii_lowercase();
            let inner = rest.strip_suffix(')')?;
            if !PARTITION_TRANSFORMS.contains(&transform.as_str()) {
                return None;
            }
            Some(format!("{transform}({})", column(inner)?))
        }
    }
}

/// Parses `public.orders=day(created_at);public.events=region,month(at)`: the Iceberg partition
/// fields of each curated table, each `column` or `year|month|day|hour(column)`. Whether the
/// column exists and has a date or timestamp type is checked against the table when it is
/// planned ([`dmslake::sql::CompactionTable::plan`]).
pub fn parse_partitioning(
    variable: &str,
    value: &str,
) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let mut out = BTreeMap::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |why: String| {
            ConfigError::new(
                variable,
                value,
                format!(
                    "`schema.table=field[,field...]` entries separated by ';', each field \
                     `column` or `{}(column)` ({why})",
                    PARTITION_TRANSFORMS.join("|")
                ),
            )
        };
        let (table, fields) = entry
            .split_once('=')
            .ok_or_else(|| bad(format!("{entry:?} has no '='")))?;
        let table = table.trim();
        if table
            .split_once('.')
            .is_none_or(|(s, t)| s.is_empty() || t.is_empty())
        {
            return Err(bad(format!("{table:?} is not schema.table")));
        }
        let mut parsed = Vec::new();
        for field in split_top_level(fields) {
            if field.trim().is_empty() {
                continue;
            }
            parsed.push(
                parse_partition_field(field)
                    .ok_or_else(|| bad(format!("{:?} is not such a field", field.trim())))?,
            );
        }
        if parsed.is_empty() {
            return Err(bad(format!("{table} has no field")));
        }
        out.insert(table.to_string(), parsed);
    }
    Ok(out)
}

/// Parses `public.orders.total=decimal(12,2);public.orders.qty=int`: the curated type of a
/// column, as a Glue (Hive DDL) type Iceberg can hold. Types are checked here, so a typo
/// stops the function at start rather than failing a merge.
pub fn parse_column_types(
    variable: &str,
    value: &str,
) -> Result<BTreeMap<String, BTreeMap<String, GlueType>>, ConfigError> {
    let mut out: BTreeMap<String, BTreeMap<String, GlueType>> = BTreeMap::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |why: &str| {
            ConfigError::new(
                variable,
                value,
                format!("`schema.table.column=type` entries separated by ';' ({why})"),
            )
        };
        let (target, ty) = entry.split_once('=').ok_or_else(|| bad("no '='"))?;
        let (table, column) = target
            .trim()
            .rsplit_once('.')
            .ok_or_else(|| bad("no column"))?;
        if table
            .split_once('.')
            .is_none_or(|(s, t)| s.is_empty() || t.is_empty())
        {
            return Err(bad("expected schema.table.column"));
        }
        let column = dmslake::sql::normalise(column.trim());
        if column.is_empty() {
            return Err(bad("empty column"));
        }
        let ty = GlueType::parse(ty).map_err(|e| {
            bad(&format!(
                "{e}; an Iceberg column can be int, bigint, float, double, decimal(p,s), \
                 boolean, string, date, timestamp or binary"
            ))
        })?;
        out.entry(table.to_string()).or_default().insert(column, ty);
    }
    Ok(out)
}

impl CompactorConfig {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(get))
    }

    /// Reads the compactor's settings through the shared reader (trimmed; blank means unset).
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let common = Config::read(env)?;
        let workgroup = env.or("DMSLAKE_ATHENA_WORKGROUP", "primary");
        let curated_location =
            env.required("DMSLAKE_CURATED_LOCATION", "an s3://bucket/prefix/ URL")?;
        if !curated_location.starts_with("s3://") {
            return Err(ConfigError::new(
                "DMSLAKE_CURATED_LOCATION",
                &curated_location,
                "an s3://bucket/prefix/ URL",
            ));
        }
        let primary_keys =
            parse_table_lists("DMSLAKE_PRIMARY_KEYS", &env.or("DMSLAKE_PRIMARY_KEYS", ""))?;
        let partitioning = parse_partitioning(
            "DMSLAKE_CURATED_PARTITIONING",
            &env.or("DMSLAKE_CURATED_PARTITIONING", ""),
        )?;
        let column_types =
            parse_column_types("DMSLAKE_COLUMN_TYPES", &env.or("DMSLAKE_COLUMN_TYPES", ""))?;
        let state_bucket = env.required("DMSLAKE_STATE_BUCKET", "a bucket name")?;
        let state_prefix = env.or("DMSLAKE_STATE_PREFIX", DEFAULT_STATE_PREFIX);
        let lock_ttl_seconds = env
            .parse("DMSLAKE_LOCK_TTL_SECONDS", "a number of seconds")?
            .unwrap_or(1800);
        Ok(Self {
            common,
            workgroup,
            curated_location,
            primary_keys,
            partitioning,
            column_types,
            state_bucket,
            state_prefix,
            lock_ttl_seconds,
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
    fn column_types_parse_per_table_and_refuse_what_iceberg_cannot_hold() {
        let types = parse_column_types(
            "V",
            "public.orders.Total = DECIMAL(12,2); public.orders.qty=int;sales.items.born=date;",
        )
        .expect("valid");
        assert_eq!(types["public.orders"]["total"].to_string(), "decimal(12,2)");
        assert_eq!(types["public.orders"]["qty"].to_string(), "int");
        assert_eq!(types["sales.items"]["born"].to_string(), "date");
        for bad in [
            "public.orders.total",
            "orders.total=int",
            "public.orders.total=money",
            "public.orders.=int",
            "public.orders.x=array<int>",
        ] {
            let err = parse_column_types("DMSLAKE_COLUMN_TYPES", bad)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("DMSLAKE_COLUMN_TYPES"), "{err}");
        }
    }

    #[test]
    fn partitioning_keeps_the_transform_and_normalises_the_column() {
        /// A value and the fields it gives per table.
        type Case<'a> = (&'a str, &'a [(&'a str, &'a [&'a str])]);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("public.orders=day(created_at)", &[("public.orders", &["day(created_at)"])]),
            (" public.orders = Day( Created_At ) ; ", &[("public.orders", &["day(created_at)"])]),
            ("public.orders=region,month(at);sales.items=hour(ts)",
             &[("public.orders", &["region", "month(at)"]), ("sales.items", &["hour(ts)"])]),
            ("public.orders=YEAR(born), id", &[("public.orders", &["year(born)", "id"])]),
            ("public.orders=Order-Date", &[("public.orders", &["order_date"])]),
            ("", &[]),
        ];
        for (value, want) in cases {
            let got = parse_partitioning("V", value).expect(value);
            let want: BTreeMap<String, Vec<String>> = want
                .iter()
                .map(|(t, f)| (t.to_string(), f.iter().map(|s| s.to_string()).collect()))
                .collect();
            assert_eq!(got, want, "{value}");
        }
        for bad in [
            "public.orders",
            "orders=day(at)",
            "public.orders=",
            "public.orders=week(at)",
            "public.orders=bucket(4, id)",
            "public.orders=day(at",
            "public.orders=day()",
            "public.orders=day(a b)",
            "public.orders=day(at) OR (1",
            "public.orders=day(`at`)",
        ] {
            let err = parse_partitioning("DMSLAKE_CURATED_PARTITIONING", bad)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("DMSLAKE_CURATED_PARTITIONING"), "{err}");
        }
    }

    #[test]
    fn a_configured_partitioning_reaches_the_create_table() {
        let config = CompactorConfig::from_lookup(&|n| {
            match n {
                "DMSLAKE_CURATED_LOCATION" => Some("s3://lake/curated/"),
                "DMSLAKE_STATE_BUCKET" => Some("lake"),
                "DMSLAKE_PRIMARY_KEYS" => Some("public.orders=id"),
                "DMSLAKE_CURATED_PARTITIONING" => Some("public.orders=day(created_at)"),
                _ => None,
            }
            .map(str::to_string)
        })
        .expect("config");
        let spec = dmslake::sql::TableSpec {
            raw_database: "raw".into(),
            table: "public_orders".into(),
            format: dmslake::layout::FileFormat::Parquet,
            columns: [
                ("op", "string"),
                ("dms_commit_ts", "string"),
                ("id", "bigint"),
                ("created_at", "timestamp"),
            ]
            .iter()
            .map(|(n, t)| dmslake::catalog::Column {
                name: n.to_string(),
                ty: t.parse().expect("a Glue type"),
            })
            .collect(),
            partition_keys: vec![],
            dms: config.common.columns.clone(),
            primary_key: config.primary_keys["public.orders"].clone(),
            curated_database: "cur".into(),
            curated_location: config.curated_location.clone(),
            partitioning: config.partitioning["public.orders"].clone(),
            type_overrides: BTreeMap::new(),
        };
        let sql = dmslake::sql::CompactionTable::plan(&spec)
            .expect("plan")
            .create_table_sql();
        assert!(
            sql.contains(" PARTITIONED BY (day(`created_at`)) "),
            "{sql}"
        );
    }

    #[test]
    fn primary_keys_parse_and_normalise_columns() {
        let keys = parse_table_lists(
            "V",
            "public.orders=id; public.order_lines=Order_ID, line_no;",
        )
        .expect("valid");
        assert_eq!(keys["public.orders"], ["id"]);
        assert_eq!(keys["public.order_lines"], ["order_id", "line_no"]);
        for bad in ["orders=id", "public.orders", "public.orders=", ".x=id"] {
            assert!(parse_table_lists("V", bad).is_err(), "{bad}");
        }
    }
}
