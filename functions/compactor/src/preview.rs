//! The statements a run would execute for one table, without executing them (for
//! `dmslake sql`): the raw table from Glue, the range from the watermark and Glue partitions.

use dmslake::sql::{CompactionTable, PartitionRange, SqlError};
use dmslake::state::{StateError, StateStore};

use crate::catalog::{self, CatalogError};
use crate::config::CompactorConfig;
use crate::watermark::{column_plan, newest_partition, watermark_doc, ColumnPlan, Watermark};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statement {
    Create,
    /// The `ALTER TABLE ... ADD COLUMNS` a run issues before its MERGE, one per line; empty
    /// when there is none (first merge, no new column, or a watermark that predates column
    /// tracking).
    AddColumns,
    Merge,
    Optimize,
    Vacuum,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The merge range a run would use now: from the watermark partition to the newest one.
pub async fn merge_range(
    glue: &aws_sdk_glue::Client,
    state: &StateStore,
    cfg: &CompactorConfig,
    table: &CompactionTable,
) -> Result<PartitionRange, PreviewError> {
    let name = table.table();
    let from = state
        .get::<Watermark>(&watermark_doc(name))
        .await?
        .and_then(|w| w.value.partition);
    if table.partition_keys().is_empty() {
        return Ok(PartitionRange::default());
    }
    let parts = catalog::partitions_from(glue, cfg, name, from.as_deref()).await?;
    Ok(PartitionRange {
        from,
        to: newest_partition(&parts),
    })
}

/// The `ALTER TABLE ... ADD COLUMNS` a run issues before its MERGE, with the column each adds.
/// Planned against the curated table's columns in the Glue catalog when the catalog has the
/// table (Athena keeps an Iceberg table's schema there, so an `ALTER` that outlived an earlier
/// run counts as done), else against the watermark's list ([`column_plan`]); none for a first
/// merge or a watermark that predates column tracking.
pub async fn column_additions(
    glue: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &CompactionTable,
    wm: Option<&Watermark>,
) -> Result<Vec<(String, String)>, CatalogError> {
    if let Some(existing) = catalog::curated_columns(glue, cfg, table.table()).await? {
        return Ok(table.added_columns(&existing));
    }
    Ok(match column_plan(table, wm) {
        ColumnPlan::Add(adds) => adds,
        ColumnPlan::NewTable => Vec::new(),
        ColumnPlan::Unknown => {
            tracing::info!(
                table = table.table(),
                "neither the catalog nor the watermark lists the curated columns: no column added"
            );
            Vec::new()
        }
    })
}

/// Renders `statement` for the source table `source` (`schema.table`).
pub async fn statement(
    glue: &aws_sdk_glue::Client,
    state: &StateStore,
    cfg: &CompactorConfig,
    source: &str,
    statement: Statement,
) -> Result<String, PreviewError> {
    let name = catalog::raw_table_name(source)?;
    let spec = catalog::get_spec(glue, cfg, &name).await?;
    let table = CompactionTable::plan(&spec)?;
    Ok(match statement {
        Statement::Create => table.create_table_sql(),
        Statement::Optimize => table.optimize_sql(),
        Statement::Vacuum => table.vacuum_sql(),
        Statement::AddColumns => {
            let wm = state.get::<Watermark>(&watermark_doc(&name)).await?;
            column_additions(glue, cfg, &table, wm.as_ref().map(|w| &w.value))
                .await?
                .into_iter()
                .map(|(_, sql)| sql)
                .collect::<Vec<_>>()
                .join("\n")
        }
        Statement::Merge => {
            let range = merge_range(glue, state, cfg, &table).await?;
            table.merge_sql(&range)?
        }
    })
}
