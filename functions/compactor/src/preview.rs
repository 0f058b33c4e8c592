//! What a run reads before it writes, and the statements it would execute for one table
//! without executing them (for `dmslake sql`): the raw table from Glue (through the one Glue
//! adapter, [`dmslake::glue`]), the range from the watermark and the registered partitions (for an
//! unpartitioned raw table, the change files listed after the watermark's:
//! [`crate::change_files`]).

use dmslake::catalog::TableDef;
use dmslake::glue::{self, GlueError};
use dmslake::sql::{CompactionTable, PartitionRange, SqlError, TableSpec};
use dmslake::state::{StateError, StateStore};

use crate::config::CompactorConfig;
use crate::spec::{self, SourceError};
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
    Source(#[from] SourceError),
    #[error("raw table {database}.{table} does not exist")]
    NotFound { database: String, table: String },
    #[error(transparent)]
    Glue(#[from] GlueError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    S3(#[from] dmslake::s3::S3Error),
}

/// The definition of raw table `name`, read from Glue.
pub async fn load_def(
    glue_client: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    name: &str,
) -> Result<TableDef, PreviewError> {
    let db = &cfg.common.raw_database;
    glue::get_table(glue_client, db, name)
        .await?
        .ok_or_else(|| PreviewError::NotFound {
            database: db.clone(),
            table: name.to_string(),
        })
}

/// The spec of raw table `name`: read from Glue, derived from its definition
/// ([`spec::table_spec`]).
pub async fn load_spec(
    glue_client: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    name: &str,
) -> Result<TableSpec, PreviewError> {
    Ok(spec::table_spec(
        cfg,
        &load_def(glue_client, cfg, name).await?,
    ))
}

/// The merge range a run would use now: from `from` (the watermark's partition) to the
/// newest registered partition.
pub async fn merge_range(
    glue_client: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &CompactionTable,
    from: Option<Vec<String>>,
) -> Result<PartitionRange, GlueError> {
    Ok(merge_partitions(glue_client, cfg, table, from).await?.0)
}

/// [`merge_range`], with the values of every registered partition in it.
pub async fn merge_partitions(
    glue_client: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &CompactionTable,
    from: Option<Vec<String>>,
) -> Result<(PartitionRange, Vec<Vec<String>>), GlueError> {
    if table.partition_keys().is_empty() {
        return Ok((PartitionRange::default(), Vec::new()));
    }
    let db = &cfg.common.raw_database;
    let parts = glue::partition_values(glue_client, db, table.table(), from.as_deref()).await?;
    let range = PartitionRange {
        from,
        to: newest_partition(&parts),
        ..Default::default()
    };
    Ok((range, parts))
}

/// The `ALTER TABLE ... ADD COLUMNS` a run issues before its MERGE, with the column each adds.
/// Planned against the curated table's columns in the Glue catalog when the catalog has the
/// table (Athena keeps an Iceberg table's schema there, so an `ALTER` that outlived an earlier
/// run counts as done), else against the watermark's list ([`column_plan`]); none for a first
/// merge or a watermark that predates column tracking.
pub async fn column_additions(
    glue_client: &aws_sdk_glue::Client,
    cfg: &CompactorConfig,
    table: &CompactionTable,
    wm: Option<&Watermark>,
) -> Result<Vec<(String, String)>, GlueError> {
    let curated = &cfg.common.curated_database;
    let existing = glue::column_names(glue_client, curated, table.table()).await?;
    Ok(planned_additions(table, existing.as_deref(), wm))
}

/// [`column_additions`] once the catalog was read: `existing` is the curated table's columns
/// in the catalog, `None` when the catalog has no such table (pure).
pub fn planned_additions(
    table: &CompactionTable,
    existing: Option<&[String]>,
    wm: Option<&Watermark>,
) -> Vec<(String, String)> {
    if let Some(existing) = existing {
        return table.added_columns(existing);
    }
    match column_plan(table, wm) {
        ColumnPlan::Add(adds) => adds,
        ColumnPlan::NewTable => Vec::new(),
        ColumnPlan::Unknown => {
            tracing::info!(
                table = table.table(),
                "neither the catalog nor the watermark lists the curated columns: no column added"
            );
            Vec::new()
        }
    }
}

/// Renders `statement` for the source table `source` (`schema.table`).
pub async fn statement(
    glue_client: &aws_sdk_glue::Client,
    state: &StateStore,
    cfg: &CompactorConfig,
    source: &str,
    statement: Statement,
) -> Result<String, PreviewError> {
    let name = spec::raw_table_name(source)?;
    // The raw table is read once: its spec plans the statements, its location the window.
    let def = load_def(glue_client, cfg, &name).await?;
    let table = CompactionTable::plan(&spec::table_spec(cfg, &def))?;
    let watermark = || async {
        state
            .get::<Watermark>(&watermark_doc(&name))
            .await
            .map(|w| w.map(|w| w.value))
    };
    Ok(match statement {
        Statement::Create => table.create_table_sql(),
        Statement::Optimize => table.optimize_sql(),
        Statement::Vacuum => table.vacuum_sql(),
        Statement::AddColumns => {
            let wm = watermark().await?;
            column_additions(glue_client, cfg, &table, wm.as_ref())
                .await?
                .into_iter()
                .map(|(_, sql)| sql)
                .collect::<Vec<_>>()
                .join("\n")
        }
        Statement::Merge => {
            let wm = watermark().await?;
            let from = wm.as_ref().and_then(|w| w.partition.clone());
            let range = merge_range(glue_client, cfg, &table, from).await?;
            let recorded = wm.as_ref().and_then(|w| w.change_file.as_deref());
            let range = crate::change_files::window(
                state.client(),
                &cfg.common.layout,
                &table,
                &def.location,
                recorded,
                range,
            )
            .await?;
            let since = wm.and_then(|w| w.reload_after);
            table.merge_sql_since(&range, since.as_deref())?
        }
    })
}
