//! `dmslake explain-key KEY`: how the layout settings classify one S3 object key.
//!
//! Prints one JSON object: `kind` (`full_load`, `cdc` or `ignored`), `schema`, `table`,
//! `partition` (date-partition values by key name), `format`, `compression` and `reason`,
//! with `null` where a field does not apply. The layout comes from the `DMSLAKE_*` variables
//! (the DMS S3 endpoint settings), exactly as the functions read them. Enum values are the
//! snake_case serde names of the layout types (`full_load`, `csv`, `gzip`, ...).

use anyhow::Context;
use dmslake::config::{Config, LayoutConfig};
use dmslake::layout::{classify, decode_event_key, Classification};
use serde_json::{json, Map, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Object key (`schema/table/LOAD00000001.csv`) or `s3://bucket/key` URL.
    pub key: String,
    /// The key is URL-encoded as S3 event notifications deliver it (`+` for space, `%XX`).
    #[arg(long)]
    pub url_encoded: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    // Every DMSLAKE_* variable is checked, as the functions do at cold start.
    let config = Config::from_env().context("configuration")?;
    let explained = explain(&args, &config.layout)?;
    println!("{explained}");
    Ok(())
}

/// The JSON explanation of `args.key` under `layout`.
pub fn explain(args: &Args, layout: &LayoutConfig) -> anyhow::Result<Value> {
    let raw = strip_s3_url(&args.key)?;
    let key = if args.url_encoded {
        decode_event_key(raw)?
    } else {
        raw.to_string()
    };
    Ok(describe(&classify(&key, layout)))
}

/// `s3://bucket/key` → `key`; anything else is taken as a key.
fn strip_s3_url(arg: &str) -> anyhow::Result<&str> {
    let Some(rest) = arg.strip_prefix("s3://") else {
        return Ok(arg);
    };
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() => Ok(key),
        _ => anyhow::bail!("{arg:?}: expected s3://bucket/key"),
    }
}

fn describe(classification: &Classification) -> Value {
    match classification {
        Classification::Data(o) => {
            let partition: Map<String, Value> = o
                .partition
                .iter()
                .map(|(part, value)| (part.column().to_string(), Value::from(value.as_str())))
                .collect();
            json!({
                "kind": o.kind,
                "schema": o.schema,
                "table": o.table,
                "partition": partition,
                "format": o.format,
                "compression": o.compression,
                "reason": Value::Null,
            })
        }
        Classification::Ignored { reason } => json!({
            "kind": "ignored",
            "schema": Value::Null,
            "table": Value::Null,
            "partition": Value::Null,
            "format": Value::Null,
            "compression": Value::Null,
            "reason": reason,
        }),
    }
}
