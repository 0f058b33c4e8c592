//! The compactor's view of a raw table, derived in pure code from the catalog's
//! [`TableDef`] (read by the one Glue adapter, [`dmslake::glue`]) and the configuration.

use dmslake::catalog::{CatalogError, TableDef};
use dmslake::sql::TableSpec;

use crate::config::CompactorConfig;

/// A source table name that does not name a raw table.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{source_table:?} does not name a raw table: expected SCHEMA.TABLE")]
    NotQualified { source_table: String },
    #[error("{source_table:?} does not name a raw table")]
    BadName {
        source_table: String,
        #[source]
        source: CatalogError,
    },
}

/// The raw Glue table name of a source table (`schema.table`), by the registrar's own rule
/// ([`dmslake::catalog::table_name`]).
pub fn raw_table_name(source: &str) -> Result<String, SourceError> {
    let (schema, table) = source
        .split_once('.')
        .ok_or_else(|| SourceError::NotQualified {
            source_table: source.to_string(),
        })?;
    dmslake::catalog::table_name(schema, table).map_err(|e| SourceError::BadName {
        source_table: source.to_string(),
        source: e,
    })
}

/// The spec of one raw table: its definition plus the merge keys, curated partitioning and
/// column types configured for its source table.
pub fn table_spec(cfg: &CompactorConfig, def: &TableDef) -> TableSpec {
    let source = dmslake::catalog::source_label(&def.source_schema, &def.source_table);
    TableSpec {
        raw_database: cfg.common.raw_database.clone(),
        table: def.name.clone(),
        format: def.format,
        columns: def.columns.clone(),
        partition_keys: def.partition_keys.clone(),
        dms: cfg.common.columns.clone(),
        primary_key: cfg.primary_keys.get(&source).cloned().unwrap_or_default(),
        curated_database: cfg.common.curated_database.clone(),
        curated_location: cfg.curated_location.clone(),
        partitioning: cfg.partitioning.get(&source).cloned().unwrap_or_default(),
        type_overrides: cfg.column_types.get(&source).cloned().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::catalog::{Column, GlueType};
    use dmslake::config::lookup;
    use dmslake::layout::FileFormat;

    #[test]
    fn raw_table_names_follow_the_registrar_rule() {
        for (schema, table) in [("public", "orders"), ("Sales-EU", "Order Lines")] {
            let registrar = dmslake::catalog::table_name(schema, table).expect("representable");
            let compactor = raw_table_name(&format!("{schema}.{table}")).expect("representable");
            assert_eq!(compactor, registrar);
        }
        assert_eq!(
            raw_table_name("Sales-EU.Order Lines").ok().as_deref(),
            Some("sales_eu_order_lines")
        );
    }

    #[test]
    fn a_source_that_is_not_schema_dot_table_is_an_error_naming_it() {
        for bad in ["orders", "public.", ".orders", "public.---"] {
            let err = dmslake::error::chain(&raw_table_name(bad).expect_err(bad));
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn the_spec_takes_the_tables_shape_and_its_source_tables_settings() {
        let cfg = CompactorConfig::from_lookup(&lookup(&[
            ("DMSLAKE_STATE_BUCKET", "state"),
            ("DMSLAKE_CURATED_LOCATION", "s3://lake/curated/"),
            ("DMSLAKE_PRIMARY_KEYS", "Sales.Orders=id;public.other=x"),
            ("DMSLAKE_CURATED_PARTITIONING", "Sales.Orders=created"),
            ("DMSLAKE_COLUMN_TYPES", "Sales.Orders.total=decimal(12,2)"),
        ]))
        .expect("config");
        let def = TableDef {
            name: "sales_orders".into(),
            source_schema: "Sales".into(),
            source_table: "Orders".into(),
            format: FileFormat::Csv,
            csv_header: true,
            columns: vec![
                Column::new("op", GlueType::String),
                Column::new("id", GlueType::String),
            ],
            partition_keys: vec!["year".into(), "month".into(), "day".into()],
            location: "s3://lake/dms/Sales/Orders/".into(),
            schema_order: "0//LOAD00000001.csv".into(),
        };
        let spec = table_spec(&cfg, &def);
        assert_eq!(spec.table, "sales_orders");
        assert_eq!(spec.raw_database, "dmslake_raw");
        assert_eq!(spec.curated_database, "dmslake_curated");
        assert_eq!(spec.format, FileFormat::Csv);
        assert_eq!(spec.columns, def.columns);
        assert_eq!(spec.partition_keys, def.partition_keys);
        assert_eq!(spec.primary_key, ["id"]);
        assert_eq!(spec.partitioning, ["created"]);
        assert_eq!(
            spec.type_overrides["total"],
            GlueType::Decimal {
                precision: 12,
                scale: 2
            }
        );
        let mut unconfigured = def.clone();
        unconfigured.source_table = "orders".into();
        let spec = table_spec(&cfg, &unconfigured);
        assert!(spec.primary_key.is_empty(), "source names match exactly");
    }
}
