//! `dmslake explain-key KEY`: how the layout settings classify one S3 object key.
//!
//! Prints one JSON object: `kind` (`full_load`, `cdc` or `ignored`), `schema`, `table`,
//! `partition` (date-partition values by key name), `format`, `compression` and `reason`,
//! with `null` where a field does not apply. The layout comes from the `DMSLAKE_*` variables
//! (the DMS S3 endpoint settings), exactly as the functions read them. Format and compression
//! are the snake_case serde names of the layout types (`csv`, `parquet`, `none`, `gzip`).

use anyhow::Context;
use dmslake::config::{Config, DatePart, LayoutConfig};
use dmslake::layout::{
    classify, decode_event_key, Classification, Compression, DataKind, FileFormat,
};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

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
pub fn explain(args: &Args, layout: &LayoutConfig) -> anyhow::Result<String> {
    let raw = strip_s3_url(&args.key)?;
    let key = if args.url_encoded {
        decode_event_key(raw)?
    } else {
        raw.to_string()
    };
    let explanation = serde_json::to_string(&describe(&classify(&key, layout)))?;
    Ok(explanation)
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

/// The printed object; fields in the documented order.
#[derive(Debug, Serialize)]
struct Explanation<'a> {
    kind: &'static str,
    schema: Option<&'a str>,
    table: Option<&'a str>,
    partition: Option<Partition<'a>>,
    format: Option<FileFormat>,
    compression: Option<Compression>,
    reason: Option<&'a str>,
}

/// Date-partition values as a JSON object in canonical order (year, month, day, hour).
#[derive(Debug)]
struct Partition<'a>(&'a [(DatePart, String)]);

impl Serialize for Partition<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (part, value) in self.0 {
            map.serialize_entry(part.column(), value)?;
        }
        map.end()
    }
}

fn describe(classification: &Classification) -> Explanation<'_> {
    match classification {
        Classification::Data(o) => Explanation {
            kind: match o.kind {
                DataKind::FullLoad => "full_load",
                DataKind::Cdc => "cdc",
            },
            schema: Some(&o.schema),
            table: Some(&o.table),
            partition: Some(Partition(&o.partition)),
            format: Some(o.format),
            compression: Some(o.compression),
            reason: None,
        },
        Classification::Ignored { reason } => Explanation {
            kind: "ignored",
            schema: None,
            table: None,
            partition: None,
            format: None,
            compression: None,
            reason: Some(reason),
        },
    }
}
