//! The S3 side of reload detection: listing a raw table's full-load files with their ETags and
//! write times (what [`crate::reload::check`] compares).

use dmslake::config::LayoutConfig;
use dmslake::s3::{call_error, S3Error};

use crate::reload::{is_full_load, LoadFile};

/// Every full-load file directly in the folders `prefixes` (each ending in `/`) of `bucket`:
/// only keys starting `LOAD` or `SEGMENT` are listed (two `LIST` requests per folder, CDC files
/// are not), and of those only what [`is_full_load`] accepts; sorted by key.
pub async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefixes: &[String],
    layout: &LayoutConfig,
) -> Result<Vec<LoadFile>, S3Error> {
    let mut out = Vec::new();
    for folder in prefixes {
        for name in ["LOAD", "SEGMENT"] {
            let prefix = format!("{folder}{name}");
            let mut token: Option<String> = None;
            loop {
                let page = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&prefix)
                    .delimiter("/")
                    // Keys come URL-encoded, as the registrar lists them (dmslake::s3::list_page).
                    .encoding_type(aws_sdk_s3::types::EncodingType::Url)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|err| call_error("ListObjectsV2", bucket, &prefix, err))?;
                let encoded = page.encoding_type() == Some(&aws_sdk_s3::types::EncodingType::Url);
                for o in page.contents() {
                    let Some(raw) = o.key() else { continue };
                    let key = dmslake::s3::decoded_key(raw, encoded, bucket, &prefix)?;
                    if !is_full_load(&key, layout) {
                        continue;
                    }
                    out.push(LoadFile {
                        key,
                        etag: o.e_tag().unwrap_or_default().to_string(),
                        modified: o
                            .last_modified()
                            .and_then(|t| {
                                t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok()
                            })
                            .unwrap_or_default(),
                    });
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out.dedup_by(|a, b| a.key == b.key);
    Ok(out)
}

/// Deletes the objects at `urls` (`s3://bucket/key`); one that is already gone counts as
/// deleted (S3 `DeleteObject` succeeds on a missing key).
pub async fn delete(s3: &aws_sdk_s3::Client, urls: &[String]) -> Result<(), S3Error> {
    for url in urls {
        let (bucket, key) = dmslake::s3::parse_url(url)?;
        s3.delete_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|err| call_error("DeleteObject", &bucket, &key, err))?;
    }
    Ok(())
}
