//! Parquet footers read with ranged GETs (last 8 bytes, then the footer), never the whole object.
//!
//! A Parquet file ends with its metadata (Thrift compact encoding), a 4-byte little-endian
//! metadata length and the magic `PAR1` (apache/parquet-format, "File Format"). Reading the
//! schema therefore needs only the end of the object:
//!
//! 1. a suffix GET of the last `initial_suffix` bytes (at least 8; by default 64 KiB, which
//!    holds the whole footer of most DMS files, so one request is usually enough);
//! 2. if the footer is longer than that suffix, one more suffix GET of exactly footer + 8
//!    bytes.
//!
//! The pure half ([`footer_length`], [`decode_footer`], [`footer_from_suffix`]) does no I/O;
//! [`read_footer`] (S3) and [`read_footer_file`] (local file) are the thin adapters.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use aws_sdk_s3::error::DisplayErrorContext;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::schema::SchemaError;

/// Length of the fixed tail: 4-byte metadata length + `PAR1`.
pub const TAIL_LEN: usize = 8;
/// The magic bytes at both ends of a plain Parquet file.
pub const MAGIC: &[u8; 4] = b"PAR1";
/// The magic of a file whose footer is encrypted.
pub const ENCRYPTED_MAGIC: &[u8; 4] = b"PARE";
/// Default size of the first suffix GET.
pub const DEFAULT_INITIAL_SUFFIX: u64 = 64 * 1024;

/// Why a footer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FooterError {
    #[error("{location}: {source}")]
    Schema {
        location: String,
        #[source]
        source: SchemaError,
    },
    #[error("s3://{bucket}/{key}: GetObject failed: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A footer and what it cost to read it.
#[derive(Debug)]
pub struct FooterRead {
    pub metadata: ParquetMetaData,
    /// Size of the whole object, when known (from `Content-Range` or the file length).
    pub object_size: Option<u64>,
    /// Body bytes received, over all requests.
    pub bytes_fetched: u64,
    /// Number of GET requests (or reads, for a local file).
    pub requests: u32,
}

/// What the end of an object tells us.
#[derive(Debug)]
pub enum FooterStep {
    /// The suffix held the whole footer.
    Complete(Box<ParquetMetaData>),
    /// The footer is longer: fetch this many bytes from the end of the object.
    NeedSuffix(u64),
}

/// Reads the metadata length from the last 8 bytes of a file (the last 8 bytes of `tail` are
/// used), checking the `PAR1` magic.
pub fn footer_length(tail: &[u8]) -> Result<usize, SchemaError> {
    let Some(start) = tail.len().checked_sub(TAIL_LEN) else {
        return Err(SchemaError::NotParquet(format!(
            "only {} bytes; a Parquet file ends with an 8-byte tail",
            tail.len()
        )));
    };
    let tail = &tail[start..];
    let magic = &tail[4..8];
    if magic == ENCRYPTED_MAGIC {
        return Err(SchemaError::NotParquet(
            "the footer is encrypted ('PARE' magic); encrypted Parquet is not supported".into(),
        ));
    }
    if magic != MAGIC {
        return Err(SchemaError::NotParquet(format!(
            "the file does not end with the 'PAR1' magic (last bytes {magic:02x?})"
        )));
    }
    let len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    usize::try_from(len).map_err(|_| SchemaError::CorruptFooter(format!("length {len}")))
}

/// Decodes the Thrift-encoded metadata (the footer without its 8-byte tail).
pub fn decode_footer(bytes: &[u8]) -> Result<ParquetMetaData, SchemaError> {
    ParquetMetaDataReader::decode_metadata(bytes)
        .map_err(|e| SchemaError::CorruptFooter(e.to_string()))
}

/// Interprets the last `suffix.len()` bytes of an object of `object_size` bytes (when known):
/// either the footer is complete, or the caller must fetch a longer suffix.
pub fn footer_from_suffix(
    suffix: &[u8],
    object_size: Option<u64>,
) -> Result<FooterStep, SchemaError> {
    let len = footer_length(suffix)?;
    let needed = len as u64 + TAIL_LEN as u64;
    if let Some(size) = object_size {
        // The file also starts with the 4-byte magic.
        if needed + MAGIC.len() as u64 > size {
            return Err(SchemaError::CorruptFooter(format!(
                "footer length {len} does not fit in a {size}-byte file"
            )));
        }
    }
    if len == 0 {
        return Err(SchemaError::CorruptFooter("footer length is 0".into()));
    }
    if needed > suffix.len() as u64 {
        return Ok(FooterStep::NeedSuffix(needed));
    }
    let end = suffix.len() - TAIL_LEN;
    let meta = decode_footer(&suffix[end - len..end])?;
    Ok(FooterStep::Complete(Box::new(meta)))
}

/// Total object size from a `Content-Range` header (`bytes 100-199/200`).
pub fn size_from_content_range(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/')?.1.trim().parse().ok()
}

/// Reads an S3 object's Parquet footer with suffix ranged GETs, never the whole object
/// (unless the object is smaller than the first suffix).
pub async fn read_footer(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<FooterRead, FooterError> {
    read_footer_with(s3, bucket, key, DEFAULT_INITIAL_SUFFIX).await
}

/// [`read_footer`] with an explicit first suffix size (at least 8 bytes; 8 gives the strict
/// two-request path: tail, then footer).
pub async fn read_footer_with(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    initial_suffix: u64,
) -> Result<FooterRead, FooterError> {
    let location = format!("s3://{bucket}/{key}");
    let schema_err = |source| FooterError::Schema {
        location: location.clone(),
        source,
    };
    let first = initial_suffix.max(TAIL_LEN as u64);
    let (suffix, object_size) = get_suffix(s3, bucket, key, first).await?;
    let mut bytes_fetched = suffix.len() as u64;
    let mut requests = 1;
    let step = footer_from_suffix(&suffix, object_size).map_err(schema_err)?;
    let metadata = match step {
        FooterStep::Complete(meta) => *meta,
        FooterStep::NeedSuffix(needed) => {
            let (suffix, _) = get_suffix(s3, bucket, key, needed).await?;
            bytes_fetched += suffix.len() as u64;
            requests += 1;
            match footer_from_suffix(&suffix, object_size).map_err(schema_err)? {
                FooterStep::Complete(meta) => *meta,
                FooterStep::NeedSuffix(_) => {
                    return Err(schema_err(SchemaError::CorruptFooter(
                        "the object changed between requests or is shorter than its footer".into(),
                    )));
                }
            }
        }
    };
    tracing::debug!(bucket, key, bytes_fetched, requests, "read parquet footer");
    Ok(FooterRead {
        metadata,
        object_size,
        bytes_fetched,
        requests,
    })
}

/// One suffix GET (`Range: bytes=-N`): the bytes and the object size from `Content-Range`.
async fn get_suffix(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    len: u64,
) -> Result<(Vec<u8>, Option<u64>), FooterError> {
    let s3_err = |message: String| FooterError::S3 {
        bucket: bucket.to_string(),
        key: key.to_string(),
        message,
    };
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(format!("bytes=-{len}"))
        .send()
        .await
        .map_err(|e| s3_err(DisplayErrorContext(&e).to_string()))?;
    let range_size = out.content_range().and_then(size_from_content_range);
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| s3_err(format!("reading the body: {e}")))?
        .into_bytes();
    // Without `Content-Range` the server ignored the range and sent the whole object: its
    // length is the object size, and only the suffix we asked for is kept.
    let size = range_size.unwrap_or(body.len() as u64);
    let keep = body
        .len()
        .saturating_sub(usize::try_from(len).unwrap_or(usize::MAX));
    Ok((body[keep..].to_vec(), Some(size)))
}

/// Reads a local file's Parquet footer: the last 8 bytes, then the footer.
pub fn read_footer_file(path: &Path) -> Result<FooterRead, FooterError> {
    let shown = path.display().to_string();
    let io_err = |source| FooterError::Io {
        path: shown.clone(),
        source,
    };
    let schema_err = |source| FooterError::Schema {
        location: shown.clone(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let mut read_suffix = |n: u64| -> Result<Vec<u8>, FooterError> {
        let n = n.min(size);
        file.seek(SeekFrom::End(-(n as i64))).map_err(io_err)?;
        let mut buf = vec![0; n as usize];
        file.read_exact(&mut buf).map_err(io_err)?;
        Ok(buf)
    };
    let tail = read_suffix(TAIL_LEN as u64)?;
    let mut bytes_fetched = tail.len() as u64;
    let mut requests = 1;
    let step = footer_from_suffix(&tail, Some(size)).map_err(schema_err)?;
    let metadata = match step {
        FooterStep::Complete(meta) => *meta,
        FooterStep::NeedSuffix(needed) => {
            let suffix = read_suffix(needed)?;
            bytes_fetched += suffix.len() as u64;
            requests += 1;
            match footer_from_suffix(&suffix, Some(size)).map_err(schema_err)? {
                FooterStep::Complete(meta) => *meta,
                FooterStep::NeedSuffix(_) => {
                    return Err(schema_err(SchemaError::CorruptFooter(
                        "the file is shorter than its footer".into(),
                    )));
                }
            }
        }
    };
    Ok(FooterRead {
        metadata,
        object_size: Some(size),
        bytes_fetched,
        requests,
    })
}
