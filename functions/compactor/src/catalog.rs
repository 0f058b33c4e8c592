//! Reads the raw tables from the Glue catalog into [`TableSpec`]s.

use dmslake::sql::{DmsColumnNames, RawColumn, RawFormat, TableSpec};

use crate::config::CompactorConfig;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("glue {operation} {table}: {message}")]
    Glue {
        operation: &'static str,
        table: String,
        message: String,
    },
    #[error("raw table {database}.{table} does not exist")]
    NotFound { database: String, table: String },
    #[error("{source_table:?} does not name a raw table: {reason}")]
    BadSource {
        source_table: String,
        reason: String,
    },
}

fn glue_err(operation: &'static str, table: &str, err: impl std::fmt::Debug) -> CatalogError {
    CatalogError::Glue {
        operation,
        table: table.to_string(),
        message: format!("{err:?}"),
    }
}

/// The raw Glue table name of a source table (`schema.table`), by the registrar's own rule
/// ([`dmslake::catalog::table_name`]).
pub fn raw_table_name(source: &str) -> Result<String, CatalogError> {
    let bad = |reason: String| CatalogError::BadSource {
        source_table: source.to_string(),
        reason,
    };
    let (schema, table) = source
        .split_once('.')
        .ok_or_else(|| bad("expected SCHEMA.TABLE".into()))?;
    dmslake::catalog::table_name(schema, table).map_err(|e| bad(e.to_string()))
}

/// Builds the spec of one raw table from `GetTable`.
pub fn spec_from_table(cfg: &CompactorConfig, table: &aws_sdk_glue::types::Table) -> TableSpec {
    let params = table.parameters();
    let get = |k: &str| params.and_then(|p| p.get(k)).cloned();
    let source = match (get("dmslake.source_schema"), get("dmslake.source_table")) {
        (Some(s), Some(t)) => format!("{s}.{t}"),
        _ => String::new(),
    };
    let format = match get("dmslake.format").or(get("classification")).as_deref() {
        Some("parquet") => RawFormat::Parquet,
        _ => RawFormat::Csv,
    };
    let columns = table
        .storage_descriptor()
        .map(|sd| sd.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| RawColumn {
            name: c.name().to_string(),
            glue_type: c.r#type().unwrap_or("string").to_string(),
        })
        .collect();
    TableSpec {
        raw_database: cfg.common.raw_database.clone(),
        table: table.name().to_string(),
        format,
        columns,
        partition_keys: table
            .partition_keys()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
        dms: DmsColumnNames::from_config(&cfg.common.columns),
        primary_key: cfg.primary_keys.get(&source).cloned().unwrap_or_default(),
        curated_database: cfg.common.curated_database.clone(),
        curated_location: cfg.curated_location.clone(),
        partitioning: cfg.partitioning.get(&source).cloned().unwrap_or_default(),
        type_overrides: cfg.column_types.get(&source).cloned().unwrap_or_default(),
    }
}

pub async fn get_spec(
    glue: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &str,
) -> Result<TableSpec, CatalogError> {
    let db = &cfg.common.raw_database;
    match glue.get_table().database_name(db).name(table).send().await {
        Ok(out) => match out.table() {
            Some(t) => Ok(spec_from_table(cfg, t)),
            None => Err(CatalogError::NotFound {
                database: db.clone(),
                table: table.into(),
            }),
        },
        Err(err) => {
            let service = err.into_service_error();
            if service.is_entity_not_found_exception() {
                Err(CatalogError::NotFound {
                    database: db.clone(),
                    table: table.into(),
                })
            } else {
                Err(glue_err("GetTable", table, service))
            }
        }
    }
}

/// The column names (lower case, as Glue stores them) of the curated table `table` as the
/// catalog has it, or `None` when the catalog has no such table. Athena keeps an Iceberg
/// table's current schema in its Glue entry, so this is the truth an `ALTER TABLE ... ADD
/// COLUMNS` must be planned against: a column an earlier run added (even one whose query
/// outlived that run) is listed here.
pub async fn curated_columns(
    glue: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &str,
) -> Result<Option<Vec<String>>, CatalogError> {
    let db = &cfg.common.curated_database;
    match glue.get_table().database_name(db).name(table).send().await {
        Ok(out) => Ok(out.table().map(|t| {
            t.storage_descriptor()
                .map(|sd| {
                    sd.columns()
                        .iter()
                        .map(|c| c.name().to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default()
        })),
        Err(err) => {
            let service = err.into_service_error();
            if service.is_entity_not_found_exception() {
                Ok(None)
            } else {
                Err(glue_err("GetTable", table, service))
            }
        }
    }
}

/// Every table name in the raw database.
pub async fn list_tables(
    glue: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
) -> Result<Vec<String>, CatalogError> {
    let db = &cfg.common.raw_database;
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let out = glue
            .get_tables()
            .database_name(db)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| glue_err("GetTables", db, e.into_service_error()))?;
        names.extend(out.table_list().iter().map(|t| t.name().to_string()));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    names.sort();
    Ok(names)
}

/// Partition values of every raw partition at or after `from`.
pub async fn partitions_from(
    glue: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &str,
    from: Option<&[String]>,
) -> Result<Vec<Vec<String>>, CatalogError> {
    let mut out_values = Vec::new();
    let mut token = None;
    loop {
        let out = glue
            .get_partitions()
            .database_name(&cfg.common.raw_database)
            .table_name(table)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| glue_err("GetPartitions", table, e.into_service_error()))?;
        for p in out.partitions() {
            let values = p.values().to_vec();
            if from.is_none_or(|f| values.as_slice() >= f) {
                out_values.push(values);
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out_values.sort();
    Ok(out_values)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let err = raw_table_name(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
