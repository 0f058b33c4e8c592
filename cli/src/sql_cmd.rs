//! `dmslake sql merge|create|add-columns|optimize|vacuum SCHEMA.TABLE`: prints the statement a
//! compactor run would execute, reading the raw table from the Glue catalog (`DMSLAKE_*`
//! configuration). `add-columns` prints the ALTERs for the columns the raw table gained since
//! the last merge, one per line (nothing when there are none).

use anyhow::Context;
use compactor::config::CompactorConfig;
use compactor::preview::{self, Statement};
use dmslake::state::{StateLocation, StateStore};

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum Kind {
    Merge,
    Create,
    AddColumns,
    Optimize,
    Vacuum,
}

#[derive(clap::Args)]
pub struct Args {
    /// Which statement.
    statement: Kind,
    /// Source table as DMS names it: SCHEMA.TABLE.
    table: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = CompactorConfig::from_env().context("reading DMSLAKE_* configuration")?;
    let clients = dmslake::clients::Clients::from_env().await;
    let state = StateStore::new(
        clients.s3.clone(),
        StateLocation::new(&cfg.state_bucket, &cfg.state_prefix),
    );
    let kind = match args.statement {
        Kind::Merge => Statement::Merge,
        Kind::Create => Statement::Create,
        Kind::AddColumns => Statement::AddColumns,
        Kind::Optimize => Statement::Optimize,
        Kind::Vacuum => Statement::Vacuum,
    };
    let sql = preview::statement(&clients.glue, &state, &cfg, &args.table, kind)
        .await
        .with_context(|| format!("sql for {}", args.table))?;
    println!("{sql}");
    Ok(())
}
