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

use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::schema::SchemaError;

/// Length of the fixed tail: 4-byte metadata length + `PAR1`.
pub const TAIL_LEN: usize = 8;
/// The magic bytes at both ends of a plain Parquet file.
pub const MAGIC: &[u8; 4] = b"PAR1";
/// The magic of a file whose footer is encrypted.
pub const ENCRYPTED_MAGIC: &[u8; 4] = b"PARE";
/// Largest footer dmslake reads (DMS footers are a few kilobytes; a larger length means a
/// corrupt tail or a file far outside what a Lambda should hold in memory).
pub const MAX_FOOTER_LEN: usize = 64 * 1024 * 1024;
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
///
/// The encoding is bounds-checked first ([`thrift_bounds`]), so a corrupt length is an error
/// rather than a huge allocation.
///
/// The decoder itself still has `unwrap`s on some malformed values (a boolean field written
/// with another type, statistics shorter than their column type); those panics are caught
/// here and become [`SchemaError::CorruptFooter`] wherever panics unwind (tests, the CLI).
/// With `panic = "abort"` they would end the process, which only a corrupt footer that passes
/// the bounds check can trigger.
pub fn decode_footer(bytes: &[u8]) -> Result<ParquetMetaData, SchemaError> {
    thrift_bounds::check(bytes).map_err(SchemaError::CorruptFooter)?;
    match std::panic::catch_unwind(|| ParquetMetaDataReader::decode_metadata(bytes)) {
        Ok(Ok(meta)) => Ok(meta),
        Ok(Err(e)) => Err(SchemaError::CorruptFooter(e.to_string())),
        Err(_) => Err(SchemaError::CorruptFooter(
            "the footer holds malformed values the decoder cannot read".into(),
        )),
    }
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
    if len > MAX_FOOTER_LEN {
        return Err(SchemaError::CorruptFooter(format!(
            "footer length {len} exceeds the {MAX_FOOTER_LEN}-byte limit"
        )));
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
        .await;
    let out = match out {
        Ok(out) => out,
        // S3 answers a suffix range on an empty object with 416 InvalidRange: an empty
        // object is simply not a Parquet file.
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(416) => {
            return Err(FooterError::Schema {
                location: format!("s3://{bucket}/{key}"),
                error: SchemaError::NotParquet("the object is empty".into()),
            });
        }
        Err(e) => return Err(s3_err(crate::aws_error::sdk_message(&e))),
    };
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

/// A bounds check of the Thrift compact encoding run before the real decoder.
///
/// The decoder trusts the element counts and byte lengths written in the footer and reserves
/// memory for them up front, so a single corrupt length (a few flipped bits) can ask for
/// gigabytes and abort the whole process instead of returning an error. This walk visits every
/// value without allocating and refuses any count or length larger than the bytes left, which
/// bounds what the decoder can reserve by the footer's own size. Encoding: apache/thrift
/// `doc/specs/thrift-compact-protocol.md`.
mod thrift_bounds {
    /// Deepest struct/list nesting accepted (Parquet metadata nests a handful of levels).
    const MAX_DEPTH: usize = 64;

    struct Cursor<'a> {
        buf: &'a [u8],
        pos: usize,
    }

    impl Cursor<'_> {
        fn remaining(&self) -> usize {
            self.buf.len() - self.pos
        }

        fn byte(&mut self) -> Result<u8, String> {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
            self.pos += 1;
            Ok(b)
        }

        fn skip(&mut self, n: u64) -> Result<(), String> {
            if n > self.remaining() as u64 {
                return Err(format!(
                    "a length of {n} at byte {} exceeds the {} bytes left",
                    self.pos,
                    self.remaining()
                ));
            }
            self.pos += n as usize;
            Ok(())
        }

        fn varint(&mut self) -> Result<u64, String> {
            let mut value = 0u64;
            for shift in (0..70).step_by(7) {
                let b = self.byte()?;
                value |= u64::from(b & 0x7f) << shift.min(63);
                if b & 0x80 == 0 {
                    return Ok(value);
                }
            }
            Err(format!("varint too long at byte {}", self.pos))
        }

        /// A count of items that each take at least one byte.
        fn count(&mut self, n: u64) -> Result<u64, String> {
            if n > self.remaining() as u64 {
                return Err(format!(
                    "a count of {n} at byte {} exceeds the {} bytes left",
                    self.pos,
                    self.remaining()
                ));
            }
            Ok(n)
        }

        fn value(&mut self, kind: u8, depth: usize, child: Ctx) -> Result<(), String> {
            if depth > MAX_DEPTH {
                return Err("nesting too deep".into());
            }
            match kind {
                // Booleans: the value sits in the field header; list elements take a byte.
                1 | 2 => Ok(()),
                3 => self.skip(1),
                4..=6 => self.varint().map(|_| ()),
                7 => self.skip(8),
                8 => {
                    let len = self.varint()?;
                    self.skip(len)
                }
                9 | 10 => {
                    let header = self.byte()?;
                    let elem = header & 0x0f;
                    let short = u64::from(header >> 4);
                    let n = if short == 15 { self.varint()? } else { short };
                    let n = self.count(n)?;
                    for _ in 0..n {
                        if elem == 1 || elem == 2 {
                            self.skip(1)?;
                        } else {
                            self.value(elem, depth + 1, child)?;
                        }
                    }
                    Ok(())
                }
                11 => {
                    let n = self.varint()?;
                    if n == 0 {
                        return Ok(());
                    }
                    let n = self.count(n)?;
                    let kinds = self.byte()?;
                    for _ in 0..n {
                        for k in [kinds >> 4, kinds & 0x0f] {
                            if k == 1 || k == 2 {
                                self.skip(1)?;
                            } else {
                                self.value(k, depth + 1, Ctx::Other)?;
                            }
                        }
                    }
                    Ok(())
                }
                12 => self.structure(depth + 1, child),
                other => Err(format!("unknown type {other} at byte {}", self.pos)),
            }
        }

        fn structure(&mut self, depth: usize, ctx: Ctx) -> Result<(), String> {
            let mut last_id: i64 = 0;
            loop {
                let header = self.byte()?;
                if header == 0 {
                    return Ok(());
                }
                let kind = header & 0x0f;
                // Field ids are i16, as the decoder reads them (a long-form id wraps).
                let id = match header >> 4 {
                    // Long form: the field id follows as a zigzag varint.
                    0 => i64::from(zigzag(self.varint()?) as i16),
                    delta => i64::from(
                        (last_id as i16)
                            .checked_add(i16::from(delta))
                            .ok_or("field id overflow")?,
                    ),
                };
                last_id = id;
                // The decoder reads a known field as its declared type whatever the wire
                // says, so a retyped field on the way to a boolean must be refused here.
                if let Some(expected) = ctx.container_kind(id) {
                    if kind != expected {
                        return Err(format!(
                            "field {id} must have type {expected} but has type {kind} (byte {})",
                            self.pos
                        ));
                    }
                }
                if ctx.bool_fields().contains(&id) && kind != 1 && kind != 2 {
                    return Err(format!(
                        "field {id} must be a boolean but has type {kind} (byte {})",
                        self.pos
                    ));
                }
                match (ctx, id, kind) {
                    // FileMetaData.schema: list<SchemaElement>.
                    (Ctx::FileMetaData, 2, 9) => {
                        let header = self.byte()?;
                        let short = u64::from(header >> 4);
                        let n = if short == 15 { self.varint()? } else { short };
                        let n = self.count(n)?;
                        if header & 0x0f != 12 {
                            return Err("the schema is not a list of elements".into());
                        }
                        for _ in 0..n {
                            self.structure(depth + 1, Ctx::SchemaElement { elements: n })?;
                        }
                    }
                    // SchemaElement.num_children: the decoder reserves that many fields.
                    (Ctx::SchemaElement { elements }, 5, 5) => {
                        let children = zigzag(self.varint()?);
                        if children < 0 || children as u64 > elements {
                            return Err(format!(
                                "a schema element claims {children} children among {elements} elements"
                            ));
                        }
                    }
                    _ => self.value(kind, depth, ctx.child(id))?,
                }
            }
        }
    }

    /// Which struct is being walked, where a field needs more than a bounds check: the path
    /// to every boolean field of the footer (apache/parquet-format `parquet.thrift`), because
    /// the decoder assumes such a field really is a boolean.
    #[derive(Clone, Copy)]
    enum Ctx {
        FileMetaData,
        SchemaElement { elements: u64 },
        LogicalType,
        TimeOrTimestampType,
        IntType,
        RowGroup,
        ColumnChunk,
        ColumnMetaData,
        Statistics,
        SortingColumn,
        Other,
    }

    impl Ctx {
        /// The struct a field (or a list field's elements) holds.
        fn child(self, id: i64) -> Ctx {
            match (self, id) {
                (Ctx::FileMetaData, 4) => Ctx::RowGroup,
                (Ctx::SchemaElement { .. }, 10) => Ctx::LogicalType,
                (Ctx::LogicalType, 7 | 8) => Ctx::TimeOrTimestampType,
                (Ctx::LogicalType, 10) => Ctx::IntType,
                (Ctx::RowGroup, 1) => Ctx::ColumnChunk,
                (Ctx::RowGroup, 4) => Ctx::SortingColumn,
                (Ctx::ColumnChunk, 3) => Ctx::ColumnMetaData,
                (Ctx::ColumnMetaData, 12) => Ctx::Statistics,
                _ => Ctx::Other,
            }
        }

        /// The wire type a field must have: fields leading to a tracked struct (9 list,
        /// 12 struct) and the other fields of the structs holding booleans.
        fn container_kind(self, id: i64) -> Option<u8> {
            match (self, id) {
                (Ctx::FileMetaData, 2 | 4) | (Ctx::RowGroup, 1 | 4) => Some(9),
                // Statistics: min, max, max_value, min_value (binary); null and distinct
                // counts (i64).
                (Ctx::Statistics, 1 | 2 | 5 | 6) => Some(8),
                (Ctx::Statistics, 3 | 4) => Some(6),
                (Ctx::SortingColumn, 1) => Some(5),
                (Ctx::IntType, 1) => Some(3),
                (Ctx::TimeOrTimestampType, 2) => Some(12),
                _ => match self.child(id) {
                    Ctx::Other => None,
                    _ => Some(12),
                },
            }
        }

        /// Field ids that are booleans in this struct.
        fn bool_fields(self) -> &'static [i64] {
            match self {
                Ctx::TimeOrTimestampType => &[1],
                Ctx::IntType => &[2],
                Ctx::Statistics => &[7, 8],
                Ctx::SortingColumn => &[2, 3],
                _ => &[],
            }
        }
    }

    fn zigzag(v: u64) -> i64 {
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }

    /// Checks that `buf` starts with one well-formed struct whose counts and lengths all fit.
    pub(super) fn check(buf: &[u8]) -> Result<(), String> {
        Cursor { buf, pos: 0 }.structure(0, Ctx::FileMetaData)
    }
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
        // A length beyond the limit, with the object size unknown.
        let mut huge = file.clone();
        huge[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = footer_from_suffix(&huge, None).expect_err("huge");
        assert!(err.to_string().contains("limit"), "{err}");
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

    /// Footers whose first list claims 2^31-1 elements (or a negative count): the decoder
    /// alone would try to reserve gigabytes for them and abort the process.
    #[test]
    fn a_corrupt_element_count_is_an_error_not_an_allocation() {
        let cases: [&[u8]; 4] = [
            &[0x15, 0x02, 0x19, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x07],
            &[0x15, 0x02, 0x19, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
            &[0x15, 0x02, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x07],
            &[0x15, 0x02, 0x1B, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x88],
        ];
        for footer in cases {
            assert!(
                matches!(decode_footer(footer), Err(SchemaError::CorruptFooter(_))),
                "{footer:02x?}"
            );
        }
    }

    /// Every single-byte corruption of a real footer decodes or fails cleanly.
    #[test]
    fn every_single_byte_corruption_of_a_footer_is_an_error_or_a_footer() {
        let file = empty_file(
            "message m { required binary Op (UTF8); optional int64 id; \
             optional fixed_len_byte_array(7) amount (DECIMAL(15, 2)); \
             optional int64 ts (TIMESTAMP(MILLIS, true)); }",
        );
        let len = footer_length(&file).expect("length");
        let end = file.len() - TAIL_LEN;
        let footer = &file[end - len..end];
        decode_footer(footer).expect("intact footer decodes");
        let mut corrupted = 0;
        for i in 0..footer.len() {
            for value in [0x00, 0x7f, 0x80, 0xff, footer[i] ^ 0x10] {
                let mut bytes = footer.to_vec();
                bytes[i] = value;
                if decode_footer(&bytes).is_err() {
                    corrupted += 1;
                }
            }
        }
        assert!(corrupted > 0);
    }

    /// A boolean field written with another type (here `TimestampType.isAdjustedToUTC` as
    /// an i32) would make the decoder panic; the check refuses it first.
    #[test]
    fn a_boolean_field_with_another_type_is_refused_before_decoding() {
        let file = empty_file("message m { optional int64 ts (TIMESTAMP(MILLIS, true)); }");
        let len = footer_length(&file).expect("length");
        let end = file.len() - TAIL_LEN;
        let footer = &file[end - len..end];
        thrift_bounds::check(footer).expect("intact footer passes");
        // TimestampType { 1: isAdjustedToUTC (bool true = 0x11) ... }: retype it as i32 (0x15)
        // followed by a one-byte varint.
        let mut found = 0;
        for i in 0..footer.len() {
            if footer[i] == 0x11 {
                let mut bytes = footer.to_vec();
                bytes[i] = 0x15;
                bytes.insert(i + 1, 0x02);
                if let Err(e) = thrift_bounds::check(&bytes) {
                    if e.contains("must be a boolean") {
                        found += 1;
                    }
                }
            }
        }
        assert!(found > 0, "no retyped boolean was refused");
    }
}
