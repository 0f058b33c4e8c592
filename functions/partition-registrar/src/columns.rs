//! The columns of one DMS data file, from the file itself.
//!
//! - Parquet: the footer's schema (suffix ranged GETs, never the whole object), mapped by
//!   [`dmslake::schema::glue_columns`].
//! - CSV: the columns declared for the table in the column manifest at
//!   `DMSLAKE_CSV_COLUMNS_URI` ([`ColumnManifest`]: `{"schema.table": ["Op", "col", ...]}`,
//!   every column a `string`) when it lists the table; otherwise the file's header row (DMS
//!   endpoint setting `AddColumnName=true`). Both read the first 64 KiB of the file: a first
//!   line that equals the declared names is a header (Athena then skips it,
//!   `skip.header.line.count`), and the first data record is checked against the columns
//!   ([`csv_schema::check_record`]: not more fields than columns; `I`/`U`/`D` under `Op`).
//!   A file whose first line is not a header (a value starts with a digit, is empty or
//!   repeats) and whose table the manifest does not list is refused with a message saying
//!   what to declare. A gzip-compressed CSV (`.csv.gz`, DMS `CompressionType=GZIP`) is read
//!   the same way from the decompressed start of the stream that its first 64 KiB hold.

use std::sync::Arc;

use dmslake::catalog::Column;
use dmslake::config::DmsColumns;
use dmslake::csv_schema::{self, ColumnManifest, CsvSchemaError};
use dmslake::layout::{Compression, DmsObject, FileFormat};
use dmslake::s3::S3Error;
use dmslake::schema::{self, SchemaError};

/// Bytes read from the start of a CSV file to find its header row.
const HEADER_BYTES: u64 = 64 * 1024;

/// Why a file's columns cannot be known.
#[derive(Debug, thiserror::Error)]
pub enum ColumnsError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Footer(#[from] dmslake::parquet_footer::FooterError),
    #[error("schema")]
    Schema(#[from] SchemaError),
    #[error("CSV columns of {table}")]
    Csv {
        table: String,
        #[source]
        source: CsvSchemaError,
    },
    #[error(
        "CSV columns of {table}: {location} has no header row (AddColumnName=false) and the DMSLAKE_CSV_COLUMNS_URI manifest declares no columns for {table}"
    )]
    NoHeader { table: String, location: String },
    #[error("CSV columns of {table}: {location} is not a readable gzip stream")]
    Gzip {
        table: String,
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("column manifest {uri} is not UTF-8")]
    ManifestText {
        uri: String,
        #[source]
        source: std::string::FromUtf8Error,
    },
    #[error("column manifest {uri}")]
    Manifest {
        uri: String,
        #[source]
        source: CsvSchemaError,
    },
}

impl ColumnsError {
    /// The file does not exist: deleted after its event was sent (a table truncated, a
    /// reload), so there is nothing to register.
    pub fn is_missing_object(&self) -> bool {
        match self {
            Self::S3(e) | Self::Footer(dmslake::parquet_footer::FooterError::S3(e)) => {
                e.is_missing_object()
            }
            _ => false,
        }
    }

    /// True for a failed read (trying again may work); false when the file or the manifest
    /// is wrong.
    pub fn retryable(&self) -> bool {
        match self {
            Self::S3(_) => true,
            Self::Footer(e) => e.retryable(),
            _ => false,
        }
    }
}

/// The column manifest for CSV tables, loaded once per execution environment.
pub type CsvManifest = Arc<ColumnManifest>;

/// A file's columns and whether it starts with a header row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileColumns {
    pub columns: Vec<Column>,
    pub header: bool,
}

/// Loads the manifest at `uri` (`s3://bucket/key`).
pub async fn load_manifest(
    s3: &aws_sdk_s3::Client,
    uri: &str,
) -> Result<CsvManifest, ColumnsError> {
    let (bucket, key) = dmslake::s3::parse_url(uri)?;
    let bytes = dmslake::s3::get_object_bytes(s3, &bucket, &key).await?;
    let text = String::from_utf8(bytes).map_err(|source| ColumnsError::ManifestText {
        uri: uri.to_string(),
        source,
    })?;
    ColumnManifest::parse(&text)
        .map(Arc::new)
        .map_err(|source| ColumnsError::Manifest {
            uri: uri.to_string(),
            source,
        })
}

/// The header row at the start of `bytes`, if the first line is one: every value non-empty,
/// starting with a letter, `_` or `$`, and no value repeated.
pub fn header_row(bytes: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (line, _) = csv_schema::leading_records(text, 1).into_iter().next()?;
    let fields = csv_schema::split_record(line).ok()?;
    let looks_like_names = fields.iter().all(|f| {
        f.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
    });
    let mut unique = fields.clone();
    unique.sort();
    unique.dedup();
    (looks_like_names && unique.len() == fields.len()).then_some(fields)
}

/// The first record after the header (or the first record when there is none; a quoted
/// line break stays inside its record). `whole`: the bytes are the file's entire content (else
/// the last record may be cut short, and is not checked).
fn first_record(bytes: &[u8], header: bool, whole: bool) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let skip = usize::from(header);
    let (record, followed) = csv_schema::leading_records(&text, skip + 1)
        .into_iter()
        .nth(skip)?;
    (followed || whole).then(|| record.to_string())
}

/// The start of a gzip file's content, decoded from its first bytes `compressed`: at most
/// [`HEADER_BYTES`] bytes, and whether they are the file's entire content. `whole_object`:
/// `compressed` is the entire object (a shorter read than asked for), so a stream that stops
/// early is corrupt rather than cut by the read. Multi-member files (RFC 1952 allows several
/// members one after another) are read across members.
pub fn gunzip_head(
    compressed: &[u8],
    whole_object: bool,
) -> Result<(Vec<u8>, bool), std::io::Error> {
    use std::io::Read;
    let limit = usize::try_from(HEADER_BYTES).unwrap_or(usize::MAX);
    let mut decoder = flate2::read::MultiGzDecoder::new(compressed);
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return Ok((out, true)),
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                if out.len() >= limit {
                    out.truncate(limit);
                    return Ok((out, false));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // The read stopped inside the stream: what was decoded so far is the file's start.
            Err(_) if !whole_object && !out.is_empty() => return Ok((out, false)),
            Err(e) => return Err(e),
        }
    }
}

/// Reads the columns of one data file.
pub async fn file_columns(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    obj: &DmsObject,
    dms: &DmsColumns,
    manifest: Option<&CsvManifest>,
) -> Result<FileColumns, ColumnsError> {
    match obj.format {
        FileFormat::Parquet => {
            let footer = dmslake::parquet_footer::read_footer(s3, bucket, &obj.key).await?;
            let columns = schema::catalog_columns(schema::glue_columns(&footer.metadata, dms)?);
            Ok(FileColumns {
                columns,
                header: false,
            })
        }
        FileFormat::Csv => {
            let table = format!("{}.{}", obj.schema, obj.table);
            let location = format!("s3://{bucket}/{}", obj.key);
            let csv_err = |source: CsvSchemaError| ColumnsError::Csv {
                table: table.clone(),
                source,
            };
            let declared = match manifest {
                Some(m) => m
                    .columns_for(&obj.schema, &obj.table, dms)
                    .map_err(csv_err)?,
                None => None,
            };
            let head = dmslake::s3::get_head_bytes(s3, bucket, &obj.key, HEADER_BYTES).await?;
            let read_whole = (head.len() as u64) < HEADER_BYTES;
            let (head, whole) = if obj.compression == Compression::Gzip {
                gunzip_head(&head, read_whole).map_err(|source| ColumnsError::Gzip {
                    table: table.clone(),
                    location: location.clone(),
                    source,
                })?
            } else {
                (head, read_whole)
            };
            let header_names = header_row(&head);
            let (columns, header) = match declared {
                Some(columns) => {
                    let names: Vec<&str> = columns.iter().map(|c| c.source_name.as_str()).collect();
                    let header = header_names
                        .is_some_and(|h| h.iter().map(String::as_str).eq(names.iter().copied()));
                    (columns, header)
                }
                None => {
                    let Some(names) = header_names else {
                        return Err(ColumnsError::NoHeader { table, location });
                    };
                    let line = names.join(",");
                    let columns = csv_schema::parse_header_row(&line, dms).map_err(csv_err)?;
                    (columns, true)
                }
            };
            if let Some(record) = first_record(&head, header, whole) {
                csv_schema::check_record(&columns, &record).map_err(csv_err)?;
            }
            Ok(FileColumns {
                columns: schema::catalog_columns(columns),
                header,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_are_told_from_data_rows() {
        let with_header = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../tests/fixtures/dms/oracle-hr-with-header/dms/hr/employees/20190118-184518184.csv",
        );
        let bytes = std::fs::read(&with_header)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", with_header.display()));
        let h = header_row(&bytes).expect("header");
        assert_eq!(h[0], "Op");
        assert_eq!(h[1], "EMPLOYEE_ID");
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("Op,id,name\nI,1,x\n", Some(&["Op", "id", "name"])),
            (
                "\u{feff}id,\"full name\"\r\n1,x\r\n",
                Some(&["id", "full name"]),
            ),
            ("I,2024-06-12 10:36:47.680,10248,11\n", None),
            ("I,,x\n", None),
            ("a,b,a\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = header_row(text.as_bytes());
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn the_first_record_is_the_line_after_a_header_and_only_when_complete() {
        let cases: &[(&[u8], bool, bool, Option<&str>)] = &[
            (b"Op,id\nI,1\n", true, true, Some("I,1")),
            (b"I,1\r\nI,2\n", false, true, Some("I,1")),
            (b"Op,id\n", true, true, None),
            // the last line of the whole file needs no newline; of a partial read it is cut
            (b"Op,id\nI,1", true, true, Some("I,1")),
            (b"Op,id\nI,1", true, false, None),
            // a quoted line break does not end the record
            (
                b"Op,id,note\nI,1,\"a\nb\"\nI,2,x\n",
                true,
                false,
                Some("I,1,\"a\nb\""),
            ),
        ];
        for (bytes, header, whole, want) in cases {
            assert_eq!(
                first_record(bytes, *header, *whole).as_deref(),
                *want,
                "{bytes:?} header={header} whole={whole}"
            );
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Text that compresses poorly (a simple generator's hex digits), `rows` CSV lines.
    fn noisy_csv(rows: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut out = String::from("Op,ID,PAYLOAD\n");
        for i in 0..rows {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push_str(&format!("I,{i},{x:016x}{:016x}\n", x.rotate_left(29)));
        }
        out.into_bytes()
    }

    #[test]
    fn a_whole_small_gzip_file_decodes_entirely() {
        let text = b"Op,id\nI,1\n";
        assert_eq!(
            gunzip_head(&gzip(text), true).ok(),
            Some((text.to_vec(), true))
        );
    }

    #[test]
    fn several_gzip_members_decode_as_one_stream() {
        let mut two = gzip(b"Op,id\n");
        two.extend(gzip(b"I,1\n"));
        assert_eq!(
            gunzip_head(&two, true).ok(),
            Some((b"Op,id\nI,1\n".to_vec(), true))
        );
    }

    #[test]
    fn a_gzip_stream_cut_by_the_read_gives_the_start_of_the_file() {
        let text = noisy_csv(20_000);
        let compressed = gzip(&text);
        // A cut well inside the stream, before 64 KiB of content.
        let cut = &compressed[..20_000];
        let (head, whole) = gunzip_head(cut, false).expect("partial stream");
        assert!(!whole);
        assert!((head.len() as u64) < HEADER_BYTES, "stopped by the cut");
        assert!(
            !head.is_empty() && text.starts_with(&head),
            "a prefix of the file"
        );
        assert_eq!(
            header_row(&head),
            Some(vec!["Op".into(), "ID".into(), "PAYLOAD".into()])
        );
        // The same bytes as a whole object are a corrupt file.
        assert!(gunzip_head(cut, true).is_err());
    }

    #[test]
    fn decoding_stops_at_the_header_window() {
        let text = noisy_csv(20_000);
        let (head, whole) = gunzip_head(&gzip(&text), true).expect("stream");
        assert!(!whole);
        assert_eq!(head.len() as u64, HEADER_BYTES);
        assert!(text.starts_with(&head));
    }

    #[test]
    fn bytes_that_are_not_gzip_are_an_error() {
        for bytes in [&b"Op,id\nI,1\n"[..], b"", &[0x1f, 0x8b, 0xff, 0xff][..]] {
            for whole in [true, false] {
                assert!(gunzip_head(bytes, whole).is_err(), "{bytes:?} {whole}");
            }
        }
    }
}
