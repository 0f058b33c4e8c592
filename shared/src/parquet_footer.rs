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
    /// Not a Parquet file, or a corrupt footer (the message says which).
    #[error("{location}: {error}")]
    Schema {
        location: String,
        error: SchemaError,
    },
    #[error("s3://{bucket}/{key}: GetObject failed: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
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
    let schema_err = |error| FooterError::Schema {
        location: location.clone(),
        error,
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
    let io_err = |error| FooterError::Io {
        path: shown.clone(),
        error,
    };
    let schema_err = |error| FooterError::Schema {
        location: shown.clone(),
        error,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    /// A Parquet file with this schema and no rows, written by the parquet crate.
    fn empty_file(message: &str) -> Vec<u8> {
        let schema = Arc::new(parse_message_type(message).expect("schema"));
        let props = Arc::new(WriterProperties::builder().build());
        let mut buf = Vec::new();
        let writer = SerializedFileWriter::new(&mut buf, schema, props).expect("writer");
        writer.close().expect("close");
        buf
    }

    #[test]
    fn footer_length_reads_the_little_endian_length_before_the_magic() {
        assert_eq!(
            footer_length(&[0x10, 0x02, 0, 0, b'P', b'A', b'R', b'1']),
            Ok(0x210)
        );
        // Only the last 8 bytes count.
        assert_eq!(footer_length(b"junkjunk\x05\0\0\0PAR1"), Ok(5));
    }

    #[test]
    fn a_tail_without_the_magic_or_too_short_is_not_parquet() {
        let cases: &[&[u8]] = &[
            b"",
            b"PAR1",
            b"\x05\0\0\0PAR2",
            b"a,b,c\n1,2,3\n",
            b"\x05\0\0\0PARE",
        ];
        for tail in cases {
            let err = footer_length(tail).expect_err("not parquet");
            assert!(
                matches!(err, SchemaError::NotParquet(_)),
                "{tail:?}: {err:?}"
            );
        }
    }

    #[test]
    fn a_whole_small_file_decodes_in_one_step() {
        let file = empty_file("message m { required int64 id; optional binary name (UTF8); }");
        let FooterStep::Complete(meta) =
            footer_from_suffix(&file, Some(file.len() as u64)).expect("footer")
        else {
            panic!("expected the whole footer");
        };
        let names: Vec<_> = meta
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        assert_eq!(names, ["id", "name"]);
    }

    #[test]
    fn a_short_suffix_asks_for_exactly_the_footer_and_tail() {
        let file = empty_file("message m { required int64 id; }");
        let len = footer_length(&file).expect("length");
        match footer_from_suffix(&file[file.len() - 8..], Some(file.len() as u64)) {
            Ok(FooterStep::NeedSuffix(n)) => assert_eq!(n, len as u64 + 8),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn corrupt_or_truncated_footers_are_errors_not_panics() {
        let file = empty_file("message m { required int64 id; optional double x; }");
        let size = file.len() as u64;
        let len = footer_length(&file).expect("length");
        // Footer bytes overwritten with garbage.
        let mut garbled = file.clone();
        let end = garbled.len() - 8;
        for b in &mut garbled[end - len..end] {
            *b = 0xff;
        }
        let err = footer_from_suffix(&garbled, Some(size)).expect_err("garbled");
        assert!(matches!(err, SchemaError::CorruptFooter(_)), "{err:?}");
        // A length that points before the start of the file.
        let mut too_long = file.clone();
        let n = too_long.len();
        too_long[n - 8..n - 4].copy_from_slice(&(size as u32).to_le_bytes());
        let err = footer_from_suffix(&too_long, Some(size)).expect_err("too long");
        assert!(matches!(err, SchemaError::CorruptFooter(_)), "{err:?}");
        // A zero length.
        let mut zero = file.clone();
        zero[n - 8..n - 4].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            footer_from_suffix(&zero, Some(size)),
            Err(SchemaError::CorruptFooter(_))
        ));
        // Every truncation of the footer bytes decodes to an error, never a panic.
        let footer = &file[file.len() - 8 - len..file.len() - 8];
        for cut in 0..footer.len() {
            assert!(decode_footer(&footer[..cut]).is_err(), "cut at {cut}");
        }
        // Truncated files: the tail is gone, so the magic is missing.
        for cut in [0, 3, 7, file.len() / 2, file.len() - 1] {
            let err = footer_from_suffix(&file[..cut], Some(cut as u64)).expect_err("truncated");
            assert!(
                matches!(err, SchemaError::NotParquet(_)),
                "cut {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn content_range_gives_the_object_size() {
        assert_eq!(size_from_content_range("bytes 100-199/200"), Some(200));
        assert_eq!(size_from_content_range("bytes 0-7/*"), None);
        assert_eq!(size_from_content_range("garbage"), None);
    }

    #[test]
    fn a_local_file_is_read_from_its_end_only() {
        let dir = std::env::temp_dir().join(format!("dmslake-footer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f.parquet");
        let file = empty_file("message m { required int32 a; }");
        std::fs::write(&path, &file).expect("write");
        let read = read_footer_file(&path).expect("footer");
        assert_eq!(read.requests, 2);
        assert_eq!(read.object_size, Some(file.len() as u64));
        assert_eq!(
            read.bytes_fetched,
            8 + footer_length(&file).expect("len") as u64 + 8
        );
        std::fs::write(&path, b"id,name\n1,x\n").expect("write");
        let err = read_footer_file(&path).expect_err("csv");
        assert!(matches!(
            err,
            FooterError::Schema {
                error: SchemaError::NotParquet(_),
                ..
            }
        ));
        let err = read_footer_file(&dir.join("missing.parquet")).expect_err("missing");
        assert!(matches!(err, FooterError::Io { .. }), "{err:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
