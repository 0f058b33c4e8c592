//! `dmslake sql merge|create|optimize|vacuum SCHEMA.TABLE`: prints the statement a compactor
//! run would execute, reading the raw table from the Glue catalog (`DMSLAKE_*` configuration).

use anyhow::Context;
use compactor::catalog;
use compactor::config::CompactorConfig;
use compactor::watermark::{watermark_doc, Watermark};
use dmslake::sql::{CompactionTable, PartitionRange};
use dmslake::state::{StateLocation, StateStore};

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum Statement {
    Merge,
    Create,
    Optimize,
    Vacuum,
}

#[derive(clap::Args)]
pub struct Args {
    /// Which statement.
    statement: Statement,
    /// Source table as DMS names it: SCHEMA.TABLE.
    table: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = CompactorConfig::from_env().context("reading DMSLAKE_* configuration")?;
    let clients = dmslake::clients::Clients::from_env().await;
    let name = catalog::raw_table_name(&args.table);
    let spec = catalog::get_spec(&clients.glue, &cfg, &name)
        .await
        .with_context(|| format!("reading raw table {name}"))?;
    let table = CompactionTable::plan(&spec).with_context(|| format!("planning {name}"))?;
    let sql = match args.statement {
        Statement::Create => table.create_table_sql(),
        Statement::Optimize => table.optimize_sql(),
        Statement::Vacuum => table.vacuum_sql(),
        Statement::Merge => {
            let state = StateStore::new(
                clients.s3.clone(),
                StateLocation::new(&cfg.state_bucket, &cfg.state_prefix),
            );
            let from = state
                .get::<Watermark>(&watermark_doc(&name))
                .await
                .context("reading the watermark")?
                .and_then(|w| w.value.partition);
            let range = if table.partition_keys().is_empty() {
                PartitionRange::default()
            } else {
                let parts = catalog::partitions_from(&clients.glue, &cfg, &name, from.as_deref())
                    .await
                    .context("listing partitions")?;
                PartitionRange {
                    from,
                    to: compactor::watermark::newest_partition(&parts),
                }
            };
            table.merge_sql(&range)?
        }
    };
    println!("{sql}");
    Ok(())
}
