//! The change files of an unpartitioned raw table that a merge has not read yet.
//!
//! With `DatePartitionEnabled=false` (DMS's default) every change file lies directly in the
//! table folder, named by its write time: `yyyymmdd-hhmmssSSS.csv|.parquet` (CHAP_Target.S3.md,
//! "Target folder and file names"). A later file therefore sorts after an earlier one, and S3
//! lists keys in that order with strong read-after-write consistency, so a listing that starts
//! after the last file merged (`ListObjectsV2` `StartAfter`) returns exactly the new files
//! (S3 API reference, ListObjectsV2: keys are listed in UTF-8 binary order, `StartAfter` is
//! exclusive; S3 user guide, "Amazon S3 data consistency model": a listing after a write
//! shows it).
//! Full-load files (`LOAD...`, `SEGMENTn_LOAD...`) sort after every digit-named key: the
//! listing stops at the first key that does not start with a digit.

use dmslake::config::LayoutConfig;
use dmslake::layout::{classify, DataKind};
use dmslake::s3::{call_error, S3Error};
use dmslake::sql::{CompactionTable, PartitionRange};

/// `range` with the window of change files a merge of the unpartitioned raw `table` at
/// `location` reads ([`PartitionRange::from_file`] to [`PartitionRange::to_file`]): from
/// `recorded` (the change file the watermark records as merged last) to the newest one listed
/// after it. A partitioned table, or one whose changes lie under `CdcPath` (outside the table
/// folder), keeps `range`.
pub async fn window(
    s3: &aws_sdk_s3::Client,
    layout: &LayoutConfig,
    table: &CompactionTable,
    location: &str,
    recorded: Option<&str>,
    range: PartitionRange,
) -> Result<PartitionRange, S3Error> {
    if !windowed(table, layout) {
        return Ok(range);
    }
    let (bucket, prefix) = dmslake::s3::parse_url(location)?;
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix
    } else {
        format!("{prefix}/")
    };
    let start = start_after(&bucket, &prefix, recorded);
    let listed = list_after(s3, &bucket, &prefix, &start, layout).await?;
    tracing::info!(
        table = table.table(),
        from = recorded,
        new_files = listed.len(),
        "change files listed after the last one merged"
    );
    Ok(PartitionRange {
        from_file: recorded.map(str::to_string),
        to_file: listed.last().map(|key| format!("s3://{bucket}/{key}")),
        ..range
    })
}

/// Whether a merge of `table` reads a window of change files: the table is unpartitioned and
/// its change files lie in its folder (no `CdcPath`).
pub fn windowed(table: &CompactionTable, layout: &LayoutConfig) -> bool {
    table.partition_keys().is_empty() && layout.cdc_path.is_none()
}

/// Where the listing of the table folder `prefix` (ending in `/`) in `bucket` starts: after the
/// key of `recorded` (`s3://bucket/key`, the last change file merged) when it lies directly in
/// that folder, else after the folder itself (every change file).
pub fn start_after(bucket: &str, prefix: &str, recorded: Option<&str>) -> String {
    recorded
        .and_then(|url| dmslake::s3::parse_url(url).ok())
        .filter(|(b, key)| b == bucket && in_folder(key, prefix))
        .map(|(_, key)| key)
        .unwrap_or_else(|| prefix.to_string())
}

fn in_folder(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// What one listed key is to the merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listed {
    /// A change file directly in the table folder.
    Change,
    /// Something else whose name starts with a digit (a stray object): skipped.
    Other,
    /// A key after the digit-named ones (full-load files and the like): the listing is done.
    Past,
}

/// Classifies `key` listed in the table folder `prefix` (pure).
pub fn listed(key: &str, prefix: &str, layout: &LayoutConfig) -> Listed {
    let Some(name) = key.strip_prefix(prefix) else {
        return Listed::Other;
    };
    if !name.starts_with(|c: char| c.is_ascii_digit()) {
        return Listed::Past;
    }
    let is_change = classify(key, layout)
        .data()
        .is_some_and(|o| o.kind == DataKind::Cdc && o.folder_prefix == prefix && !o.in_cdc_path());
    if is_change && in_folder(key, prefix) {
        Listed::Change
    } else {
        Listed::Other
    }
}

/// The keys of the change files directly in the folder `prefix` of `bucket` that sort after
/// `start_after`, in key (so write-time) order.
pub async fn list_after(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    start_after: &str,
    layout: &LayoutConfig,
) -> Result<Vec<String>, S3Error> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .start_after(start_after)
            // Keys come URL-encoded, as the registrar lists them (dmslake::s3::list_page).
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|err| call_error("ListObjectsV2", bucket, prefix, err))?;
        let encoded = page.encoding_type() == Some(&aws_sdk_s3::types::EncodingType::Url);
        for o in page.contents() {
            let Some(raw) = o.key() else { continue };
            let key = dmslake::s3::decoded_key(raw, encoded, bucket, prefix)?;
            match listed(&key, prefix, layout) {
                Listed::Change => out.push(key),
                Listed::Other => {}
                Listed::Past => return Ok(out),
            }
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_starts_after_the_recorded_file_of_the_same_folder_only() {
        let prefix = "dms/public/t/";
        #[rustfmt::skip]
        let cases: &[(Option<&str>, &str)] = &[
            (None, "dms/public/t/"),
            (Some("s3://lake/dms/public/t/20261124-101500123.csv"), "dms/public/t/20261124-101500123.csv"),
            (Some("s3://other/dms/public/t/20261124-101500123.csv"), "dms/public/t/"),
            (Some("s3://lake/dms/public/u/20261124-101500123.csv"), "dms/public/t/"),
            (Some("s3://lake/dms/public/t/sub/20261124-101500123.csv"), "dms/public/t/"),
            (Some("not a url"), "dms/public/t/"),
        ];
        for (recorded, want) in cases {
            assert_eq!(
                start_after("lake", prefix, *recorded),
                *want,
                "{recorded:?}"
            );
        }
    }

    #[test]
    fn only_change_files_count_and_the_full_load_ends_the_listing() {
        let layout = LayoutConfig {
            bucket_folder: "dms".into(),
            ..LayoutConfig::default()
        };
        let prefix = "dms/public/t/";
        #[rustfmt::skip]
        let cases: &[(&str, Listed)] = &[
            ("dms/public/t/20261124-101500123.csv", Listed::Change),
            ("dms/public/t/20261124-101500123.parquet", Listed::Change),
            ("dms/public/t/20261124-101500123.csv.gz", Listed::Change),
            ("dms/public/t/2026-notes.txt", Listed::Other),
            ("dms/public/t/LOAD00000001.csv", Listed::Past),
            ("dms/public/t/SEGMENT1_LOAD00000001.csv", Listed::Past),
            ("dms/public/u/20261124-101500123.csv", Listed::Other),
        ];
        for (key, want) in cases {
            assert_eq!(listed(key, prefix, &layout), *want, "{key}");
        }
    }
}
