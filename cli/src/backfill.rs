//! `dmslake backfill s3://bucket/prefix [--start-after KEY]`: register every DMS file already
//! under a prefix in the raw Glue catalog (same rules as the partition registrar's events).
//! Progress goes to stderr; the final report (counts, failures, `resume_after`) is JSON on
//! stdout. Exits non-zero when any file failed.

use anyhow::Context;
use partition_registrar::backfill::{self, PAGE_SIZE};
use partition_registrar::event::BackfillRequest;
use partition_registrar::handler::Deps;

#[derive(clap::Args)]
pub struct Args {
    /// Where DMS wrote: s3://bucket/prefix (the prefix may be empty).
    pub url: String,
    /// Resume after this key (the `resume_after` of an earlier run).
    #[arg(long)]
    pub start_after: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (bucket, prefix) = dmslake::s3::parse_url(&args.url)?;
    let deps = Deps::from_env()
        .await
        .context("reading the DMSLAKE_* configuration")?;
    let req = BackfillRequest {
        bucket,
        prefix,
        start_after: args.start_after,
    };
    let report = backfill::run(&deps, &req, None, PAGE_SIZE)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.error_type, e.message))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.counts.failures.is_empty() {
        anyhow::bail!(
            "{} files were not registered (see failures above)",
            report.counts.failures.len()
        );
    }
    Ok(())
}
