//! `dmslake`: the operator CLI. Output on stdout (JSON where it is data), errors on stderr
//! with a non-zero exit status.

mod backfill;
mod explain_key;
mod schema_cmd;
mod sql_cmd;
mod status;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "dmslake", version, about = "Operate a dmslake CDC data lake")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify an S3 object key as DMS full-load data, CDC data or not data (JSON).
    ExplainKey(explain_key::Args),
    /// Print the Glue columns of a Parquet file (local path or s3://bucket/key) as JSON.
    Schema(schema_cmd::Args),
    /// Register every DMS file under s3://bucket/prefix in the Glue catalog.
    Backfill(backfill::Args),
    /// Print the SQL a compaction run would execute.
    Sql(sql_cmd::Args),
    /// Print each watched DMS task's state, transitions, progress and restarts.
    Status(status::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    dmslake::logging::init("dmslake");
    let result = match cli.command {
        Command::ExplainKey(args) => explain_key::run(args).await,
        Command::Schema(args) => schema_cmd::run(args).await,
        Command::Backfill(args) => backfill::run(args).await,
        Command::Sql(args) => sql_cmd::run(args).await,
        Command::Status(args) => status::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The error and its causes as one sentence (never a Debug dump).
            let err: &(dyn std::error::Error + 'static) = err.as_ref();
            eprintln!("dmslake: {}", dmslake::error::chain(err));
            std::process::ExitCode::FAILURE
        }
    }
}
