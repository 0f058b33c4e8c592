//! The columns of one DMS data file, from the file itself.
//!
//! - Parquet: the footer's schema (suffix ranged GETs, never the whole object), mapped by
//!   [`dmslake::schema::glue_columns`].
//! - CSV: the columns declared for the table in the column manifest at
//!   `DMSLAKE_CSV_COLUMNS_URI` when it has an entry for the table; otherwise the file's header
//!   row (DMS endpoint setting `AddColumnName=true`), read from the first 64 KiB. A file whose
//!   first line is not a header (a value starts with a digit, is empty or repeats) and whose
//!   table has no manifest entry is refused with a message saying what to declare.
//!
//! Column manifest (JSON object, keys are `schema.table` exactly as in the S3 key):
//! ```json
//! {
//!   "public.order_details": {
//!     "header": false,
//!     "columns": ["Op", "dms_commit_ts", "order_id", {"name": "unit_price", "type": "string"}]
//!   }
//! }
//! ```
//! A column is a name (type `string`) or `{"name", "type"}`; `header` (default `false`) says
//! whether the files start with a header row, which Athena then skips
//! (`skip.header.line.count`). DMS's own columns (`Op`, the timestamp, the change sequence,
//! before-images) are listed where DMS writes them. With `OpenCSVSerde`, `string` is the safe
//! type for every column (Athena "CSV SerDe (OpenCSVSerDe)"); cast in queries.

use std::collections::HashMap;
use std::sync::Arc;

use dmslake::catalog::Column;
use dmslake::config::DmsColumns;
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
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    #[error("CSV columns of {table}: {message}")]
    Csv { table: String, message: String },
    #[error("column manifest {uri}: {message}")]
    Manifest { uri: String, message: String },
}

/// One table's declared CSV columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredTable {
    pub header: bool,
    /// `(source name, Glue type)` in file order.
    pub columns: Vec<(String, String)>,
}

/// The column manifest for CSV tables, loaded once per execution environment.
pub type CsvManifest = Arc<HashMap<String, DeclaredTable>>;

/// A file's columns and whether it starts with a header row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileColumns {
    pub columns: Vec<Column>,
    pub header: bool,
}

/// Glue types a manifest may declare for a CSV column.
fn valid_csv_type(t: &str) -> bool {
    const SIMPLE: &[&str] = &[
        "string",
        "boolean",
        "tinyint",
        "smallint",
        "int",
        "bigint",
        "float",
        "double",
        "date",
        "timestamp",
    ];
    if SIMPLE.contains(&t) {
        return true;
    }
    let Some(inner) = t.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses a column manifest document.
pub fn parse_manifest(
    uri: &str,
    text: &str,
) -> Result<HashMap<String, DeclaredTable>, ColumnsError> {
    let bad = |message: String| ColumnsError::Manifest {
        uri: uri.to_string(),
        message,
    };
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let tables = doc
        .as_object()
        .ok_or_else(|| bad("expected an object keyed by \"schema.table\"".into()))?;
    let mut out = HashMap::new();
    for (name, entry) in tables {
        if name
            .split_once('.')
            .is_none_or(|(s, t)| s.is_empty() || t.is_empty())
        {
            return Err(bad(format!("key {name:?} is not \"schema.table\"")));
        }
        let header = match entry.get("header") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad(format!("{name}: \"header\" must be true or false")))?,
        };
        let list = entry
            .get("columns")
            .and_then(|c| c.as_array())
            .ok_or_else(|| bad(format!("{name}: \"columns\" must be a list")))?;
        let mut columns = Vec::with_capacity(list.len());
        for c in list {
            let (col, ty) = match c {
                serde_json::Value::String(s) => (s.clone(), "string".to_string()),
                serde_json::Value::Object(o) => {
                    let col = o
                        .get("name")
                        .and_then(|v| v.as_str())
                        .ok_or_else(|| bad(format!("{name}: a column without \"name\"")))?;
                    let ty = o
                        .get("type")
                        .and_then(|v| v.as_str())
                        .unwrap_or("string")
                        .to_ascii_lowercase();
                    (col.to_string(), ty)
                }
                other => {
                    return Err(bad(format!(
                        "{name}: column {other} is neither a name nor an object"
                    )))
                }
            };
            if !valid_csv_type(&ty) {
                return Err(bad(format!(
                    "{name}.{col}: type {ty:?} is not a Glue primitive type"
                )));
            }
            columns.push((col, ty));
        }
        if columns.is_empty() {
            return Err(bad(format!("{name}: no columns")));
        }
        out.insert(name.clone(), DeclaredTable { header, columns });
    }
    Ok(out)
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
    Ok(Arc::new(parse_manifest(uri, &text)?))
}

/// Splits one CSV line into fields (RFC 4180 quotes, `,` separator).
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// The header row at the start of `bytes`, if the first line is one: every value non-empty,
/// starting with a letter, `_` or `$`, and no value repeated.
pub fn header_row(bytes: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let line = text.lines().next()?.trim_end_matches('\r');
    let fields = split_csv_line(line);
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

fn to_columns(pairs: Vec<(String, String)>, dms: &DmsColumns) -> Result<Vec<Column>, SchemaError> {
    Ok(
        schema::named_columns(pairs.iter().map(|(n, t)| (n.as_str(), t.clone())), dms)?
            .into_iter()
            .map(|c| Column::new(c.name, c.glue_type))
            .collect(),
    )
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
            let columns = schema::glue_columns(&footer.metadata, dms)?
                .into_iter()
                .map(|c| Column::new(c.name, c.glue_type))
                .collect();
            Ok(FileColumns {
                columns,
                header: false,
            })
        }
        FileFormat::Csv => {
            let table = format!("{}.{}", obj.schema, obj.table);
            if let Some(declared) = manifest.and_then(|m| m.get(&table)) {
                // The file must exist and be readable even when its columns are declared.
                if dmslake::s3::head_size(s3, bucket, &obj.key)
                    .await?
                    .is_none()
                {
                    return Err(ColumnsError::Csv {
                        table,
                        message: format!("s3://{bucket}/{}: no such object", obj.key),
                    });
                }
                return Ok(FileColumns {
                    columns: to_columns(declared.columns.clone(), dms)?,
                    header: declared.header,
                });
            }
            if obj.compression == Compression::Gzip {
                return Err(ColumnsError::Csv {
                    table,
                    message: "a gzip-compressed CSV's header row is not read; declare the table's columns in the DMSLAKE_CSV_COLUMNS_URI manifest".into(),
                });
            }
            let head = dmslake::s3::get_head_bytes(s3, bucket, &obj.key, HEADER_BYTES).await?;
            let names = header_row(&head).ok_or_else(|| ColumnsError::Csv {
                table: table.clone(),
                message: format!(
                    "s3://{bucket}/{} has no header row (AddColumnName=false) and the DMSLAKE_CSV_COLUMNS_URI manifest declares no columns for {table}",
                    obj.key
                ),
            })?;
            let pairs = names
                .into_iter()
                .map(|n| (n, "string".to_string()))
                .collect();
            Ok(FileColumns {
                columns: to_columns(pairs, dms)?,
                header: true,
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
    fn csv_lines_split_with_quotes() {
        assert_eq!(
            split_csv_line("a,\"b,c\",\"d\"\"e\",,f"),
            ["a", "b,c", "d\"e", "", "f"]
        );
    }

    #[test]
    fn manifests_are_validated() {
        let ok = r#"{"public.order_details": {"header": false, "columns": ["Op", "dms_commit_ts", {"name": "order_id", "type": "INT"}, {"name": "p", "type": "decimal(10,2)"}]}}"#;
        let m = parse_manifest("s3://b/m.json", ok).unwrap();
        let t = &m["public.order_details"];
        assert!(!t.header);
        assert_eq!(t.columns[2], ("order_id".to_string(), "int".to_string()));
        assert_eq!(t.columns[3].1, "decimal(10,2)");
        for bad in [
            "[]",
            r#"{"orders": {"columns": ["a"]}}"#,
            r#"{"public.orders": {"columns": []}}"#,
            r#"{"public.orders": {"columns": [{"name": "a", "type": "varchar(10); drop"}]}}"#,
            r#"{"public.orders": {"columns": ["a"], "header": "yes"}}"#,
            r#"{"public.orders": {}}"#,
        ] {
            let err = parse_manifest("s3://b/m.json", bad).unwrap_err();
            assert!(err.to_string().contains("s3://b/m.json"), "{err}");
        }
    }

    #[test]
    fn the_sample_declared_columns_parse() {
        // The northwind sample's Athena DDL declares order_details as strings; the same list
        // as a manifest entry is accepted.
        let doc = r#"{"public.order_details": {"columns": ["Op", "dms_commit_ts", "order_id", "product_id", "unit_price", "quantity", "discount"]}}"#;
        let m = parse_manifest("s3://b/m.json", doc).unwrap();
        let cols = to_columns(
            m["public.order_details"].columns.clone(),
            &DmsColumns::default(),
        )
        .unwrap();
        assert_eq!(cols[0], Column::new("op", "string"));
        assert_eq!(cols.len(), 7);
    }
}
