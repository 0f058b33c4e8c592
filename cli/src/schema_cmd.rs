//! `dmslake schema PATH_OR_S3_URL`: the Glue columns of a Parquet file, read from its footer
//! only (a local file, or an S3 object through ranged GETs), printed as JSON
//! `[{"name": ..., "type": ..., "role": ...}]`.
//!
//! DMS column names come from `DMSLAKE_TIMESTAMP_COLUMN`, `DMSLAKE_CHANGE_SEQUENCE_COLUMN` and
//! `DMSLAKE_BEFORE_IMAGE_PREFIX`, as for the functions; S3 is reached through the standard
//! AWS environment (`AWS_ENDPOINT_URL` included).

use std::path::Path;

use anyhow::{bail, Context};
use dmslake::clients::Clients;
use dmslake::config::DmsColumns;
use dmslake::parquet_footer::{read_footer, read_footer_file, FooterRead};
use dmslake::schema::{glue_columns, ColumnRole};

#[derive(clap::Args)]
pub struct Args {
    /// A local Parquet file, or s3://bucket/key.
    #[arg(value_name = "PATH_OR_S3_URL")]
    pub target: String,
}

/// Where the file is.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Local(&'a Path),
    S3 { bucket: &'a str, key: &'a str },
}

fn parse_target(target: &str) -> anyhow::Result<Target<'_>> {
    if let Some(rest) = target.strip_prefix("s3://") {
        let Some((bucket, key)) = rest.split_once('/') else {
            bail!("{target}: expected s3://bucket/key");
        };
        if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
            bail!("{target}: expected s3://bucket/key naming one object");
        }
        return Ok(Target::S3 { bucket, key });
    }
    if let Some((scheme, _)) = target.split_once("://") {
        bail!("{target}: unsupported URL scheme {scheme:?}; give a local path or s3://bucket/key");
    }
    if target.is_empty() {
        bail!("no file given");
    }
    Ok(Target::Local(Path::new(target)))
}

#[derive(serde::Serialize)]
struct ColumnOut<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    glue_type: String,
    role: ColumnRole,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dms = DmsColumns::from_lookup(&|name| std::env::var(name).ok())?;
    let read: FooterRead = match parse_target(&args.target)? {
        Target::Local(path) => read_footer_file(path)?,
        Target::S3 { bucket, key } => {
            let clients = Clients::from_env().await;
            read_footer(&clients.s3, bucket, key).await?
        }
    };
    let columns = glue_columns(&read.metadata, &dms).with_context(|| args.target.clone())?;
    let out: Vec<ColumnOut<'_>> = columns
        .iter()
        .map(|c| ColumnOut {
            name: &c.column.name,
            glue_type: c.column.ty.to_string(),
            role: c.role,
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_local_paths_or_s3_objects() {
        assert_eq!(
            parse_target("s3://b/dms/public/t/LOAD00000001.parquet").ok(),
            Some(Target::S3 {
                bucket: "b",
                key: "dms/public/t/LOAD00000001.parquet"
            })
        );
        assert_eq!(
            parse_target("data/x.parquet").ok(),
            Some(Target::Local(Path::new("data/x.parquet")))
        );
        for bad in [
            "s3://",
            "s3://bucket",
            "s3://bucket/",
            "s3:///key",
            "s3://b/dir/",
            "https://h/x",
            "",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
