//! `dms-local`: AWS DMS's part on a development machine (see the library documentation).

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use dms_local::format::RowLayout;
use dms_local::{parse_table, AwsClients, DataFormat, DmsLocal, MigrationType, Settings};

/// Full load + CDC from a local PostgreSQL into DMS S3 target files in a (local) bucket.
#[derive(Parser, Debug)]
#[command(name = "dms-local", version)]
struct Args {
    /// libpq connection string of the source [default: host=127.0.0.1 port=$PGPORT (else
    /// 55432) user=postgres dbname=postgres].
    #[arg(long)]
    source: Option<String>,
    /// Tables to replicate: `schema.table,schema.table`.
    #[arg(long, value_delimiter = ',', required = true)]
    tables: Vec<String>,
    /// Target bucket.
    #[arg(long)]
    bucket: String,
    /// Logical replication slot (created when missing; its existence means "resume").
    #[arg(long, default_value = "dms_local")]
    slot: String,
    /// CdcMaxBatchInterval in seconds.
    #[arg(long, default_value_t = 60)]
    cdc_interval: u64,
    /// Rows per table that force a CDC file early.
    #[arg(long, default_value_t = 100_000)]
    cdc_max_rows: usize,
    /// SQS queue URL receiving an S3 ObjectCreated notification per file.
    #[arg(long)]
    notify_sqs: Option<String>,
    /// EventBridge bus receiving the DMS task state change events.
    #[arg(long)]
    events_bus: Option<String>,
    /// Replication task to start and stop in the emulator (one is created when omitted).
    #[arg(long)]
    task_arn: Option<String>,
    /// Run the full load, flush the CDC captured so far, stop (for scripts and tests).
    #[arg(long)]
    once: bool,
    /// The task's MigrationType: `full-load-and-cdc`, or `cdc` (no full load: only the
    /// changes committed after the slot was created).
    #[arg(long, default_value = "full-load-and-cdc")]
    migration_type: MigrationType,
    /// Drop the slot when stopping.
    #[arg(long)]
    drop_slot: bool,
    /// Omit the before-image key columns.
    #[arg(long)]
    no_before_image: bool,
    /// Write `time` columns in DMS's own Parquet type (`TIME32`) instead of as text (the
    /// stack's task changes them to strings with a table-mapping rule).
    #[arg(long)]
    time_as_time: bool,
    /// The endpoint's DataFormat: `csv` or `parquet` (Parquet follows added columns).
    #[arg(long, default_value = "csv")]
    format: DataFormat,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dmslake::logging::init("dms-local");
    let args = Args::parse();
    let config = dmslake::config::Config::from_env().context("DMSLAKE_* settings")?;
    let tables = args
        .tables
        .iter()
        .map(|t| parse_table(t))
        .collect::<Result<Vec<_>, _>>()?;
    let sdk = dmslake::clients::load_sdk_config().await;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let source = args.source.unwrap_or_else(|| {
        let port = std::env::var("PGPORT").unwrap_or_else(|_| "55432".into());
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres")
    });
    let settings = Settings {
        tables,
        migration_type: args.migration_type,
        slot: args.slot,
        bucket: args.bucket,
        layout: config.layout,
        rows: RowLayout {
            before_image_keys: !args.no_before_image,
            time_as_text: !args.time_as_time,
            ..RowLayout::default()
        },
        cdc_interval: Duration::from_secs(args.cdc_interval),
        cdc_max_rows: args.cdc_max_rows,
        load_max_bytes: 1024 * 1024 * 1024,
        notify_sqs: args.notify_sqs,
        events_bus: args.events_bus,
        create_task: args.task_arn.is_none(),
        task_arn: args.task_arn,
        format: args.format,
        columns: config.columns,
        region,
    };
    let mut run = DmsLocal::connect(&source, settings, AwsClients::with_config(&sdk))
        .await
        .context("connect")?;
    let fresh = run.start().await.context("start")?;
    if fresh && args.migration_type == MigrationType::FullLoadAndCdc {
        run.full_load().await.context("full load")?;
    }
    if args.once {
        run.stop(args.drop_slot).await.context("stop")?;
        return Ok(());
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                run.poll_once(10_000).await.context("poll")?;
                run.flush(false).await.context("flush")?;
            }
            _ = tokio::signal::ctrl_c() => {
                run.stop(args.drop_slot).await.context("stop")?;
                return Ok(());
            }
        }
    }
}
