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
//!   what to declare. Gzip-compressed CSV is not decompressed here: such tables must be in
//!   the manifest, and their files are taken as header-less.

use std::sync::Arc;

use dmslake::catalog::Column;
use dmslake::config::DmsColumns;
use dmslake::csv_schema::{self, ColumnManifest};
use dmslake::layout::{Compression, DmsObject, FileFormat};
use dmslake::s3::S3Error;
use dmslake::schema::{self, GlueColumn, SchemaError};

/// Bytes read from the start of a CSV file to find its header row.
const HEADER_BYTES: u64 = 64 * 1024;

/// Why a file's columns cannot be known.
#[derive(Debug, thiserror::Error)]
pub enum ColumnsError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Footer(#[from] dmslake::parquet_footer::FooterError),
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    #[error("CSV columns of {table}: {message}")]
    Csv { table: String, message: String },
    #[error("column manifest {uri}: {message}")]
    Manifest { uri: String, message: String },
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
    let text = String::from_utf8(bytes).map_err(|e| ColumnsError::Manifest {
        uri: uri.to_string(),
        message: format!("not UTF-8: {e}"),
    })?;
    ColumnManifest::parse(&text)
        .map(Arc::new)
        .map_err(|e| ColumnsError::Manifest {
            uri: uri.to_string(),
            message: e.to_string(),
        })
}

/// The header row at the start of `bytes`, if the first line is one: every value non-empty,
/// starting with a letter, `_` or `$`, and no value repeated.
pub fn header_row(bytes: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let line = text.lines().next()?.trim_end_matches('\r');
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

fn plain(columns: Vec<GlueColumn>) -> Vec<Column> {
    columns
        .into_iter()
        .map(|c| Column::new(c.name, c.glue_type))
        .collect()
}

/// The first record after the header (or the first line when there is none).
fn first_record(bytes: &[u8], header: bool) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    if header {
        lines.next();
    }
    // The last line of a partial read may be cut short: only a complete line is checked.
    let line = lines.next()?;
    let complete = text.contains(&format!("{line}\n")) || (bytes.len() as u64) < HEADER_BYTES;
    complete.then(|| line.trim_end_matches('\r').to_string())
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
            let columns = plain(schema::glue_columns(&footer.metadata, dms)?);
            Ok(FileColumns {
                columns,
                header: false,
            })
        }
        FileFormat::Csv => {
            let table = format!("{}.{}", obj.schema, obj.table);
            let csv_err = |message: String| ColumnsError::Csv {
                table: table.clone(),
                message,
            };
            let declared = match manifest {
                Some(m) => m
                    .columns_for(&obj.schema, &obj.table, dms)
                    .map_err(|e| csv_err(e.to_string()))?,
                None => None,
            };
            let gzip = obj.compression == Compression::Gzip;
            if gzip {
                let Some(columns) = declared else {
                    return Err(csv_err("a gzip-compressed CSV's header row is not read; declare the table's columns in the DMSLAKE_CSV_COLUMNS_URI manifest".into()));
                };
                if dmslake::s3::head_size(s3, bucket, &obj.key)
                    .await?
                    .is_none()
                {
                    return Err(csv_err(format!(
                        "s3://{bucket}/{}: no such object",
                        obj.key
                    )));
                }
                return Ok(FileColumns {
                    columns: plain(columns),
                    header: false,
                });
            }
            let head = dmslake::s3::get_head_bytes(s3, bucket, &obj.key, HEADER_BYTES).await?;
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
                        return Err(csv_err(format!(
                            "s3://{bucket}/{} has no header row (AddColumnName=false) and the DMSLAKE_CSV_COLUMNS_URI manifest declares no columns for {table}",
                            obj.key
                        )));
                    };
                    let line = names.join(",");
                    let columns = csv_schema::parse_header_row(&line, dms)
                        .map_err(|e| csv_err(e.to_string()))?;
                    (columns, true)
                }
            };
            if let Some(record) = first_record(&head, header) {
                csv_schema::check_record(&columns, &record)
                    .map_err(|e| csv_err(format!("s3://{bucket}/{}: {e}", obj.key)))?;
            }
            Ok(FileColumns {
                columns: plain(columns),
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
        let samples =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/dms-samples");
        let with_header =
            samples.join("oracle-hr-with-header/dms/hr/employees/20190118-184518184.csv");
        if let Ok(bytes) = std::fs::read(&with_header) {
            let h = header_row(&bytes).expect("header");
            assert_eq!(h[0], "Op");
            assert_eq!(h[1], "EMPLOYEE_ID");
        }
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
        assert_eq!(first_record(b"Op,id\nI,1\n", true).as_deref(), Some("I,1"));
        assert_eq!(first_record(b"I,1\r\nI,2\n", false).as_deref(), Some("I,1"));
        assert_eq!(first_record(b"Op,id\n", true), None);
    }
}
