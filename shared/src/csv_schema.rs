//! CSV table columns: from a header row (`AddColumnName=true`) or a declared column manifest.
//!
//! DMS's CSV output carries no types, and Glue reads CSV tables with `OpenCSVSerde`, which
//! returns every column as a string whatever the declaration; so every CSV column is a Glue
//! `string` (the curated layer casts). Columns are matched **by position**, which is why the
//! checks here care about order and about `Op`:
//!
//! - With `AddColumnName=true` each file starts with a header row (CHAP_Target.S3.md,
//!   "AddColumnName"). Full-load files carry an `Op` column only when
//!   `IncludeOpForFullLoad=true`, CDC files always do; a LOAD header without `Op` and a CDC
//!   header with it describe differently shaped rows that one table cannot read
//!   ([`check_same_layout`]).
//! - Without a header, the columns come from a declared manifest, a JSON object mapping
//!   `"schema.table"` to its column names in file order ([`ColumnManifest`]).
//!
//! Names are normalised and roles assigned exactly as for Parquet ([`crate::schema`]).

use std::collections::BTreeMap;

use crate::config::DmsColumns;
use crate::glue_type::GlueType;
use crate::schema::{named_columns, ColumnRole, FileColumn, SchemaError};

/// The Glue type of every CSV column.
pub const CSV_COLUMN_TYPE: GlueType = GlueType::String;

/// Why CSV columns cannot be determined.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvSchemaError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("the header row is empty")]
    EmptyHeader,
    #[error("the header row has an unterminated quoted field")]
    UnterminatedQuote,
    #[error("the record cannot be read as CSV: {0}")]
    Unreadable(String),
    #[error(
        "column manifest is not valid JSON of the form {{\"schema.table\": [\"column\", ...]}}: {0}"
    )]
    ManifestJson(String),
    #[error("column manifest entry {table:?}: {reason}")]
    ManifestEntry { table: String, reason: String },
    /// One file has DMS's `Op` column and the other not: rows do not line up by position.
    #[error(
        "{with_op} has an Op column and {without_op} has none, so their rows do not line up by position; set IncludeOpForFullLoad=true on the endpoint (or keep full-load and CDC files in separate tables)"
    )]
    OpOnlyInOne { with_op: String, without_op: String },
    /// Two files whose headers differ otherwise.
    #[error(
        "{first} and {second} have different columns at position {position}: {first_name:?} vs {second_name:?}"
    )]
    LayoutMismatch {
        first: String,
        second: String,
        position: usize,
        first_name: String,
        second_name: String,
    },
    /// A record with more fields than there are declared columns (data would be dropped).
    #[error("a record has {fields} fields but only {columns} columns are declared")]
    TooManyFields { fields: usize, columns: usize },
    /// The first declared column is `Op`, but the record's first field is not `I`, `U` or `D`.
    #[error(
        "the first column is declared as Op but the record starts with {value:?}; full-load files written without IncludeOpForFullLoad=true have no Op column"
    )]
    NotAnOp { value: String },
}

/// Splits one CSV record into fields with the `csv` crate (RFC 4180: `,` separated, `"`
/// quoted, `""` an escaped quote; a quoted field may hold line breaks). A trailing line break
/// is ignored.
pub fn split_record(record: &str) -> Result<Vec<String>, CsvSchemaError> {
    let record = record.strip_suffix('\n').unwrap_or(record);
    let record = record.strip_suffix('\r').unwrap_or(record);
    if record.is_empty() {
        return Ok(vec![String::new()]);
    }
    // The reader accepts a quote left open up to the end of its input; a sentinel record after
    // a line break tells: an open quote swallows it, a closed one leaves it unread.
    let input = format!("{record}\n#");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input.as_bytes());
    let mut fields = csv::StringRecord::new();
    reader
        .read_record(&mut fields)
        .map_err(|e| CsvSchemaError::Unreadable(e.to_string()))?;
    let consumed = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
    if consumed >= input.len() {
        return Err(CsvSchemaError::UnterminatedQuote);
    }
    Ok(fields.iter().map(str::to_string).collect())
}

/// The first `count` records of a file's first bytes, as their text (without the line break
/// that ends them), each with whether a line break ends it (a record that runs to the end of
/// a partial read may be cut short). Quoted line breaks stay inside their record.
pub fn leading_records(text: &str, count: usize) -> Vec<(&str, bool)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::ByteRecord::new();
    let mut out = Vec::new();
    let mut start = 0usize;
    while out.len() < count {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        let end = usize::try_from(reader.position().byte())
            .unwrap_or(usize::MAX)
            .min(text.len());
        let Some(raw) = text.get(start..end) else {
            break;
        };
        let raw = raw.trim_start_matches(['\r', '\n']);
        let record = raw.trim_end_matches(['\r', '\n']);
        // A quote still open at the end of the text leaves the record unfinished, whatever
        // characters the text ends with.
        let closed = !matches!(split_record(record), Err(CsvSchemaError::UnterminatedQuote));
        let terminated = closed && (end < text.len() || raw.ends_with('\n'));
        out.push((record, terminated));
        start = end;
    }
    out
}

/// Columns of a CSV file from its header row (`AddColumnName=true`): every column a `string`,
/// names normalised, DMS roles assigned. A UTF-8 byte-order mark is ignored.
pub fn parse_header_row(
    first_line: &str,
    dms: &DmsColumns,
) -> Result<Vec<FileColumn>, CsvSchemaError> {
    let line = first_line.strip_prefix('\u{feff}').unwrap_or(first_line);
    if line.trim().is_empty() {
        return Err(CsvSchemaError::EmptyHeader);
    }
    let names = split_record(line)?;
    Ok(string_columns(names.iter().map(String::as_str), dms)?)
}

fn string_columns<'a>(
    names: impl IntoIterator<Item = &'a str>,
    dms: &DmsColumns,
) -> Result<Vec<FileColumn>, SchemaError> {
    named_columns(names.into_iter().map(|n| (n, CSV_COLUMN_TYPE)), dms)
}

/// Checks that two files of one table (e.g. a full-load and a CDC file, each labelled for the
/// error message) have the same columns in the same order, and names the `Op` problem
/// specifically when only one of them has it.
pub fn check_same_layout(
    first_label: &str,
    first: &[FileColumn],
    second_label: &str,
    second: &[FileColumn],
) -> Result<(), CsvSchemaError> {
    let has_op = |cols: &[FileColumn]| cols.iter().any(|c| c.role == ColumnRole::Op);
    match (has_op(first), has_op(second)) {
        (true, false) => {
            return Err(CsvSchemaError::OpOnlyInOne {
                with_op: first_label.to_string(),
                without_op: second_label.to_string(),
            });
        }
        (false, true) => {
            return Err(CsvSchemaError::OpOnlyInOne {
                with_op: second_label.to_string(),
                without_op: first_label.to_string(),
            });
        }
        _ => {}
    }
    let len = first.len().max(second.len());
    for position in 0..len {
        let a = first.get(position).map(|c| c.column.name.as_str());
        let b = second.get(position).map(|c| c.column.name.as_str());
        if a != b {
            return Err(CsvSchemaError::LayoutMismatch {
                first: first_label.to_string(),
                second: second_label.to_string(),
                position: position + 1,
                first_name: a.unwrap_or("(none)").to_string(),
                second_name: b.unwrap_or("(none)").to_string(),
            });
        }
    }
    Ok(())
}

/// Checks one data record against declared columns: it must not have more fields than
/// columns (`OpenCSVSerde` fills missing trailing columns with null, so fewer is fine: DMS
/// leaves before-image columns off rows that have none), and when the first column is `Op`
/// its value must be `I`, `U` or `D`, which catches full-load files written without `Op`.
pub fn check_record(columns: &[FileColumn], record: &str) -> Result<(), CsvSchemaError> {
    let fields = split_record(record)?;
    if fields.len() > columns.len() {
        return Err(CsvSchemaError::TooManyFields {
            fields: fields.len(),
            columns: columns.len(),
        });
    }
    if columns.first().map(|c| c.role) == Some(ColumnRole::Op) {
        let value = fields.first().map(String::as_str).unwrap_or("");
        if !matches!(value, "I" | "U" | "D") {
            return Err(CsvSchemaError::NotAnOp {
                value: value.to_string(),
            });
        }
    }
    Ok(())
}

/// Declared CSV columns per table: `{"public.order_details": ["Op", "order_id", ...], ...}`
/// (loaded by the registrar from `DMSLAKE_CSV_COLUMNS_URI`). Keys are `schema.table` as DMS
/// writes them in the object key; the first `.` separates schema from table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnManifest {
    tables: BTreeMap<String, Vec<String>>,
}

impl ColumnManifest {
    /// Parses and validates a manifest: every key is `schema.table`, every list is non-empty,
    /// and its names normalise without collisions.
    pub fn parse(json: &str) -> Result<Self, CsvSchemaError> {
        let tables: BTreeMap<String, Vec<String>> =
            serde_json::from_str(json).map_err(|e| CsvSchemaError::ManifestJson(e.to_string()))?;
        let mut lowered: BTreeMap<String, &str> = BTreeMap::new();
        for (key, columns) in &tables {
            let entry_err = |reason: String| CsvSchemaError::ManifestEntry {
                table: key.clone(),
                reason,
            };
            match key.split_once('.') {
                Some((schema, table)) if !schema.is_empty() && !table.is_empty() => {}
                _ => return Err(entry_err("the key must be \"schema.table\"".into())),
            }
            if let Some(other) = lowered.insert(key.to_lowercase(), key) {
                return Err(entry_err(format!(
                    "differs from entry {other:?} only by case"
                )));
            }
            if columns.is_empty() {
                return Err(entry_err("the column list is empty".into()));
            }
            string_columns(columns.iter().map(String::as_str), &DmsColumns::default())
                .map_err(|e| entry_err(e.to_string()))?;
        }
        Ok(Self { tables })
    }

    /// The declared columns of `schema.table`, or `None` when the manifest does not list it.
    /// The key is matched exactly, else case-insensitively.
    pub fn columns_for(
        &self,
        schema: &str,
        table: &str,
        dms: &DmsColumns,
    ) -> Result<Option<Vec<FileColumn>>, CsvSchemaError> {
        let key = format!("{schema}.{table}");
        let names = match self.tables.get(&key) {
            Some(names) => names,
            None => match self
                .tables
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                Some((_, names)) => names,
                None => return Ok(None),
            },
        };
        Ok(Some(string_columns(names.iter().map(String::as_str), dms)?))
    }

    /// The `schema.table` keys the manifest declares.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORACLE_LOAD_HEADER: &str = "EMPLOYEE_ID,FIRST_NAME,LAST_NAME,EMAIL,PHONE_NUMBER,HIRE_DATE,JOB_ID,SALARY,COMMISSION_PCT,MANAGER_ID,DEPARTMENT_ID\r\n";
    const ORACLE_CDC_HEADER: &str = "Op,EMPLOYEE_ID,FIRST_NAME,LAST_NAME,EMAIL,PHONE_NUMBER,HIRE_DATE,JOB_ID,SALARY,COMMISSION_PCT,MANAGER_ID,DEPARTMENT_ID\n";

    fn dms() -> DmsColumns {
        DmsColumns {
            timestamp: "transaction_commit_timestamp".into(),
            change_sequence: "transaction_sequence_number".into(),
            before_image_prefix: "before_".into(),
        }
    }

    fn names(cols: &[FileColumn]) -> Vec<&str> {
        cols.iter().map(|c| c.column.name.as_str()).collect()
    }

    #[test]
    fn records_split_on_commas_outside_quotes() {
        let cases: &[(&str, &[&str])] = &[
            ("a,b,c", &["a", "b", "c"]),
            ("a,,c\r\n", &["a", "", "c"]),
            (
                "I,119,\"67, rue des Cinquante Otages\",x",
                &["I", "119", "67, rue des Cinquante Otages", "x"],
            ),
            ("\"say \"\"hi\"\"\",2", &["say \"hi\"", "2"]),
            ("", &[""]),
            ("a,", &["a", ""]),
        ];
        for (line, want) in cases {
            match split_record(line) {
                Ok(fields) => assert_eq!(fields, *want, "{line:?}"),
                Err(e) => panic!("{line:?}: {e}"),
            }
        }
        assert_eq!(
            split_record("a,\"b"),
            Err(CsvSchemaError::UnterminatedQuote)
        );
        assert_eq!(
            split_record("I,1,\"two\nlines\"\n"),
            Ok(vec!["I".into(), "1".into(), "two\nlines".into()])
        );
    }

    #[test]
    fn leading_records_keep_quoted_line_breaks_inside_their_record() {
        let text = "Op,id,note\nI,1,\"a\nb\"\nI,2,x";
        assert_eq!(
            leading_records(text, 3),
            [
                ("Op,id,note", true),
                ("I,1,\"a\nb\"", true),
                ("I,2,x", false)
            ]
        );
        assert_eq!(leading_records("", 2), []);
        assert_eq!(
            leading_records("a\r\n\r\nb\r\n", 2),
            [("a", true), ("b", true)]
        );
        assert_eq!(leading_records("a\nb", 2), [("a", true), ("b", false)]);
        // cut inside a quoted field that holds a line break
        assert_eq!(
            leading_records("Op,note\nI,\"a\n", 2),
            [("Op,note", true), ("I,\"a", false)]
        );
    }

    #[test]
    fn header_row_gives_string_columns_with_normalised_names_and_roles() {
        let cols = parse_header_row(ORACLE_CDC_HEADER, &dms()).expect("header");
        assert_eq!(
            names(&cols),
            [
                "op",
                "employee_id",
                "first_name",
                "last_name",
                "email",
                "phone_number",
                "hire_date",
                "job_id",
                "salary",
                "commission_pct",
                "manager_id",
                "department_id"
            ]
        );
        assert!(cols.iter().all(|c| c.column.ty == GlueType::String));
        assert_eq!(cols[0].role, ColumnRole::Op);
        assert_eq!(cols[0].source_name, "Op");
        assert!(cols[1..].iter().all(|c| c.role == ColumnRole::Data));

        let cols = parse_header_row(
            "\u{feff}Op,transaction_commit_timestamp,\"Order ID\",before_order_id,transaction_sequence_number",
            &dms(),
        )
        .expect("header");
        let got: Vec<_> = cols
            .iter()
            .map(|c| (c.column.name.as_str(), c.role))
            .collect();
        assert_eq!(
            got,
            [
                ("op", ColumnRole::Op),
                ("transaction_commit_timestamp", ColumnRole::Timestamp),
                ("order_id", ColumnRole::Data),
                ("before_order_id", ColumnRole::BeforeImage),
                ("transaction_sequence_number", ColumnRole::ChangeSequence),
            ]
        );
    }

    #[test]
    fn bad_header_rows_are_errors() {
        assert_eq!(
            parse_header_row("\r\n", &dms()),
            Err(CsvSchemaError::EmptyHeader)
        );
        assert!(matches!(
            parse_header_row("id,ID", &dms()),
            Err(CsvSchemaError::Schema(SchemaError::NameCollision { .. }))
        ));
        assert!(matches!(
            parse_header_row("id,,name", &dms()),
            Err(CsvSchemaError::Schema(SchemaError::InvalidName { .. }))
        ));
    }

    #[test]
    fn load_header_without_op_and_cdc_header_with_op_do_not_line_up() {
        let load = parse_header_row(ORACLE_LOAD_HEADER, &dms()).expect("load");
        let cdc = parse_header_row(ORACLE_CDC_HEADER, &dms()).expect("cdc");
        let err = check_same_layout("LOAD00000001.csv", &load, "20190118-184518184.csv", &cdc)
            .expect_err("mismatch");
        assert_eq!(
            err,
            CsvSchemaError::OpOnlyInOne {
                with_op: "20190118-184518184.csv".into(),
                without_op: "LOAD00000001.csv".into(),
            }
        );
        assert!(err.to_string().contains("IncludeOpForFullLoad"), "{err}");
        check_same_layout("a", &cdc, "b", &cdc).expect("same header lines up");
        let other = parse_header_row("Op,EMPLOYEE_ID,LAST_NAME", &dms()).expect("other");
        assert!(matches!(
            check_same_layout("a", &cdc, "b", &other),
            Err(CsvSchemaError::LayoutMismatch { position: 3, .. })
        ));
    }

    const MANIFEST: &str = r#"{
        "public.order_details": ["Op", "transaction_commit_timestamp", "order_id", "product_id",
            "unit_price", "quantity", "discount", "transaction_sequence_number",
            "before_order_id", "before_product_id"],
        "classicmodels.customers": ["customerNumber", "customerName"]
    }"#;

    #[test]
    fn manifest_gives_declared_columns_in_file_order() {
        let manifest = ColumnManifest::parse(MANIFEST).expect("manifest");
        let cols = manifest
            .columns_for("public", "order_details", &dms())
            .expect("valid")
            .expect("declared");
        assert_eq!(cols.len(), 10);
        assert_eq!(
            cols.iter().map(|c| c.role).collect::<Vec<_>>(),
            [
                ColumnRole::Op,
                ColumnRole::Timestamp,
                ColumnRole::Data,
                ColumnRole::Data,
                ColumnRole::Data,
                ColumnRole::Data,
                ColumnRole::Data,
                ColumnRole::ChangeSequence,
                ColumnRole::BeforeImage,
                ColumnRole::BeforeImage,
            ]
        );
        let cols = manifest
            .columns_for("ClassicModels", "Customers", &dms())
            .expect("valid")
            .expect("case-insensitive key");
        assert_eq!(names(&cols), ["customernumber", "customername"]);
        assert_eq!(manifest.columns_for("public", "orders", &dms()), Ok(None));
        assert_eq!(
            manifest.tables().collect::<Vec<_>>(),
            ["classicmodels.customers", "public.order_details"]
        );
    }

    #[test]
    fn invalid_manifests_are_errors_naming_the_entry() {
        let cases = [
            ("[]", None),
            ("{\"public.t\": \"a,b\"}", None),
            ("{\"orders\": [\"a\"]}", Some("orders")),
            ("{\".t\": [\"a\"]}", Some(".t")),
            ("{\"public.t\": []}", Some("public.t")),
            ("{\"public.t\": [\"Id\", \"id\"]}", Some("public.t")),
            ("{\"public.t\": [\"$$\"]}", Some("public.t")),
            (
                "{\"public.T\": [\"a\"], \"public.t\": [\"a\"]}",
                Some("public.t"),
            ),
        ];
        for (json, entry) in cases {
            match (ColumnManifest::parse(json), entry) {
                (Err(CsvSchemaError::ManifestJson(_)), None) => {}
                (Err(CsvSchemaError::ManifestEntry { table, .. }), Some(want)) => {
                    assert_eq!(table, want, "{json}")
                }
                (other, _) => panic!("{json}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn records_are_checked_against_declared_columns() {
        let manifest = ColumnManifest::parse(MANIFEST).expect("manifest");
        let cols = manifest
            .columns_for("public", "order_details", &dms())
            .expect("valid")
            .expect("declared");
        // Real rows: a full-load row (8 fields) and a CDC row with before-image keys (10).
        check_record(
            &cols,
            "I,2024-06-12 10:28:17.798779,10248,11,+1.40000000e+01,12,+0.00000000e+00,",
        )
        .expect("load row");
        check_record(&cols, "U,2024-07-05 20:10:37.83,10248,11,+1.40000000e+01,12,+0.00000000e+00,20240705201037830000000000000000001,10248,11").expect("cdc row");
        assert_eq!(
            check_record(&cols, "U,t,1,2,3,4,5,6,7,8,9"),
            Err(CsvSchemaError::TooManyFields {
                fields: 11,
                columns: 10
            })
        );
        // A MySQL full-load row written without Op, read with Op declared first.
        assert_eq!(
            check_record(&cols, "103,Atelier graphique,Schmitt"),
            Err(CsvSchemaError::NotAnOp {
                value: "103".into()
            })
        );
    }
}
