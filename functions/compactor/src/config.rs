//! The compactor's configuration: the common `DMSLAKE_*` settings plus its own
//! (`DMSLAKE_ATHENA_WORKGROUP`, `DMSLAKE_CURATED_LOCATION`, `DMSLAKE_PRIMARY_KEYS`,
//! `DMSLAKE_CURATED_PARTITIONING`, `DMSLAKE_COLUMN_TYPES`, `DMSLAKE_STATE_BUCKET`,
//! `DMSLAKE_STATE_PREFIX`, `DMSLAKE_LOCK_TTL_SECONDS`).

use std::collections::BTreeMap;

use dmslake::catalog::GlueType;
use dmslake::config::{Config, ConfigError};

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
        let common = Config::from_lookup(get)?;
        let workgroup = get("DMSLAKE_ATHENA_WORKGROUP").unwrap_or_else(|| "primary".into());
        let curated_location = get("DMSLAKE_CURATED_LOCATION").unwrap_or_default();
        if !curated_location.starts_with("s3://") {
            return Err(ConfigError::new(
                "DMSLAKE_CURATED_LOCATION",
                &curated_location,
                "an s3://bucket/prefix/ URL",
            ));
        }
        let primary_keys = parse_table_lists(
            "DMSLAKE_PRIMARY_KEYS",
            &get("DMSLAKE_PRIMARY_KEYS").unwrap_or_default(),
        )?;
        let partitioning = parse_table_lists(
            "DMSLAKE_CURATED_PARTITIONING",
            &get("DMSLAKE_CURATED_PARTITIONING").unwrap_or_default(),
        )?;
        let column_types = parse_column_types(
            "DMSLAKE_COLUMN_TYPES",
            &get("DMSLAKE_COLUMN_TYPES").unwrap_or_default(),
        )?;
        let state_bucket = get("DMSLAKE_STATE_BUCKET").unwrap_or_default();
        if state_bucket.is_empty() {
            return Err(ConfigError::new(
                "DMSLAKE_STATE_BUCKET",
                "",
                "a bucket name",
            ));
        }
        let state_prefix = get("DMSLAKE_STATE_PREFIX").unwrap_or_else(|| "dmslake-state/".into());
        let lock_ttl_seconds = match get("DMSLAKE_LOCK_TTL_SECONDS") {
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new("DMSLAKE_LOCK_TTL_SECONDS", &v, "a number of seconds")
            })?,
            None => 1800,
        };
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
        Self::from_lookup(&|n| std::env::var(n).ok())
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
