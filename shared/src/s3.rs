//! Thin S3 adapter: listing DMS output page by page, object heads, small and ranged reads.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::Client;

/// An S3 call that failed (after the SDK's own retries).
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 {operation} s3://{bucket}/{key} failed")]
    Call {
        operation: &'static str,
        bucket: String,
        key: String,
        code: Option<String>,
        #[source]
        source: Box<aws_sdk_s3::Error>,
    },
    /// The response started but its body could not be read to the end.
    #[error("S3 {operation} s3://{bucket}/{key}: reading the body failed")]
    Body {
        operation: &'static str,
        bucket: String,
        key: String,
        #[source]
        source: aws_sdk_s3::primitives::ByteStreamError,
    },
    #[error("{0:?} is not an s3://bucket/prefix URL")]
    BadUrl(String),
    /// A key in a URL-encoded listing that does not decode.
    #[error("S3 ListObjectsV2 s3://{bucket}/{prefix}: a listed key does not decode")]
    BadListedKey {
        bucket: String,
        prefix: String,
        #[source]
        source: crate::layout::LayoutError,
    },
}

impl S3Error {
    /// The object does not exist (`NoSuchKey`, or a HEAD's `NotFound`): it was deleted after
    /// its event was sent, or never existed.
    pub fn is_missing_object(&self) -> bool {
        matches!(self, Self::Call { code: Some(code), .. } if code == "NoSuchKey" || code == "NotFound")
    }
}

/// An S3 call that failed, its SDK error kept as the source.
pub fn call_error<E, R>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    err: aws_sdk_s3::error::SdkError<E, R>,
) -> S3Error
where
    aws_sdk_s3::Error: From<aws_sdk_s3::error::SdkError<E, R>>,
{
    let source = aws_sdk_s3::Error::from(err);
    S3Error::Call {
        operation,
        bucket: bucket.to_string(),
        key: key.to_string(),
        code: source.code().map(str::to_string),
        source: Box::new(source),
    }
}

/// Splits `s3://bucket/prefix` into bucket and prefix (the prefix may be empty).
pub fn parse_url(url: &str) -> Result<(String, String), S3Error> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| S3Error::BadUrl(url.to_string()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(S3Error::BadUrl(url.to_string()));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// One page of a listing, in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub keys: Vec<String>,
    /// Token for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Lists one page (at most `max_keys`, S3 caps it at 1 000) of keys under `prefix`, after
/// `start_after` (first page) or from `continuation` (later pages).
///
/// The listing asks for `EncodingType=url`: keys may hold characters XML 1.0 cannot carry
/// (`\x01`), and S3 then returns every key URL-encoded, which is decoded here
/// (API_ListObjectsV2: "Encoding type used by Amazon S3 to encode object keys in the
/// response"). A page whose keys all decode is returned whole, odd keys included: deciding
/// what they are is the caller's job.
pub async fn list_page(
    client: &Client,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    continuation: Option<&str>,
    max_keys: i32,
) -> Result<ListPage, S3Error> {
    let out = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(max_keys)
        .set_start_after(start_after.map(str::to_string))
        .set_continuation_token(continuation.map(str::to_string))
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .map_err(|err| call_error("ListObjectsV2", bucket, prefix, err))?;
    let encoded = out.encoding_type() == Some(&aws_sdk_s3::types::EncodingType::Url);
    let keys = out
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .map(|k| decoded_key(k, encoded, bucket, prefix))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if out.is_truncated().unwrap_or(false) {
        out.next_continuation_token().map(str::to_string)
    } else {
        None
    };
    Ok(ListPage { keys, next })
}

/// A key from a listing made with `EncodingType=url` (`%XX` escapes; S3 encodes a space as
/// `+` there, as in event notifications).
pub fn listed_key(raw: &str) -> Result<String, crate::layout::LayoutError> {
    crate::layout::decode_event_key(raw)
}

/// A key as a listing of `bucket`/`prefix` returned it: decoded when the response says its keys
/// are URL-encoded ([`listed_key`]), else as is.
pub fn decoded_key(
    raw: &str,
    encoded: bool,
    bucket: &str,
    prefix: &str,
) -> Result<String, S3Error> {
    if !encoded {
        return Ok(raw.to_string());
    }
    listed_key(raw).map_err(|source| S3Error::BadListedKey {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        source,
    })
}

/// Writes a small object.
pub async fn put_object_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .map(|_| ())
        .map_err(|err| call_error("PutObject", bucket, key, err))
}

/// Size of an object; `None` when it does not exist.
pub async fn head_size(client: &Client, bucket: &str, key: &str) -> Result<Option<i64>, S3Error> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(out.content_length().unwrap_or(0))),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(err) => Err(call_error("HeadObject", bucket, key, err)),
    }
}

/// The first `len` bytes of an object (fewer when it is shorter).
pub async fn get_head_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    len: u64,
) -> Result<Vec<u8>, S3Error> {
    let range = format!("bytes=0-{}", len.saturating_sub(1));
    get_bytes(client, bucket, key, Some(range)).await
}

/// A whole (small) object.
pub async fn get_object_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, S3Error> {
    get_bytes(client, bucket, key, None).await
}

async fn get_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    range: Option<String>,
) -> Result<Vec<u8>, S3Error> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range)
        .send()
        .await
        .map_err(|err| call_error("GetObject", bucket, key, err))?;
    let data = out.body.collect().await.map_err(|source| S3Error::Body {
        operation: "GetObject",
        bucket: bucket.to_string(),
        key: key.to_string(),
        source,
    })?;
    Ok(data.into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_split_into_bucket_and_prefix() {
        let ok = [
            ("s3://b/dms/public/", ("b", "dms/public/")),
            ("s3://b", ("b", "")),
            ("s3://b/", ("b", "")),
        ];
        for (url, (b, p)) in ok {
            assert_eq!(
                parse_url(url).unwrap(),
                (b.to_string(), p.to_string()),
                "{url}"
            );
        }
        for bad in ["b/x", "s3:///x", "https://b/x"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_encoded_listed_keys_decode_control_characters_and_spaces() {
        assert_eq!(
            listed_key("dms/public/t/%01odd.csv").unwrap(),
            "dms/public/t/\u{1}odd.csv"
        );
        assert_eq!(
            listed_key("dms/Sales+Dept/t/LOAD00000001.csv").unwrap(),
            "dms/Sales Dept/t/LOAD00000001.csv"
        );
        assert!(listed_key("dms/%zz").is_err());
    }
}
