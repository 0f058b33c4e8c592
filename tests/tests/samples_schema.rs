//! The real DMS Parquet samples map to the Glue columns a user of that table expects, read
//! from their footers only; every `.parquet` file under the samples tree is exercised. The CSV
//! samples' columns come from their header rows or a declared manifest, with the right shape.

use std::path::{Path, PathBuf};

use dmslake::config::DmsColumns;
use dmslake::csv_schema::{
    check_record, check_same_layout, parse_header_row, split_record, ColumnManifest, CsvSchemaError,
};
use dmslake::parquet_footer::read_footer_file;
use dmslake::schema::{glue_columns, ColumnRole, FileColumn};

fn sample(rel: &str) -> PathBuf {
    dmslake_tests::samples_dir().join(rel)
}

fn columns_of(path: &Path, dms: &DmsColumns) -> Vec<FileColumn> {
    let read = read_footer_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    glue_columns(&read.metadata, dms).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn dms_postgres_full_load_parquet_maps_every_column_to_its_athena_type() {
    // The endpoint of this sample named its timestamp column DMS_TIMESTAMP.
    let dms = DmsColumns {
        timestamp: "DMS_TIMESTAMP".into(),
        ..DmsColumns::default()
    };
    let path = sample("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    let got: Vec<(String, String, String, ColumnRole)> = columns_of(&path, &dms)
        .into_iter()
        .map(|c| {
            (
                c.column.name,
                c.source_name,
                c.column.ty.to_string(),
                c.role,
            )
        })
        .collect();
    use ColumnRole::{Data, Timestamp};
    let want: Vec<(&str, &str, &str, ColumnRole)> = vec![
        ("dms_timestamp", "DMS_TIMESTAMP", "string", Timestamp),
        ("id", "id", "bigint", Data),
        ("my_int", "my_int", "int", Data),
        ("my_smallint", "my_smallint", "smallint", Data),
        ("my_numeric", "my_numeric", "decimal(15,2)", Data),
        ("my_real", "my_real", "float", Data),
        ("my_double", "my_double", "double", Data),
        ("my_money", "my_money", "decimal(38,4)", Data),
        ("my_varchar", "my_varchar", "string", Data),
        ("my_text", "my_text", "string", Data),
        ("my_bytea", "my_bytea", "binary", Data),
        ("my_timestamp", "my_timestamp", "timestamp", Data),
        ("my_uuid", "my_uuid", "string", Data),
        ("my_json", "my_json", "string", Data),
        ("my_jsonb", "my_jsonb", "string", Data),
        ("my_bool", "my_bool", "boolean", Data),
    ];
    let want: Vec<(String, String, String, ColumnRole)> = want
        .into_iter()
        .map(|(n, s, t, r)| (n.into(), s.into(), t.into(), r))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn dms_parquet_footer_is_read_without_the_data_pages() {
    let path = sample("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    let read = read_footer_file(&path).expect("footer");
    let size = std::fs::metadata(&path).expect("size").len();
    assert_eq!(read.object_size, Some(size));
    assert_eq!(read.requests, 2, "the tail, then the footer");
    assert!(
        read.bytes_fetched < size,
        "{} of {size} bytes read",
        read.bytes_fetched
    );
    let meta = read.metadata.file_metadata();
    assert_eq!(meta.num_rows(), 10);
    assert_eq!(meta.created_by(), Some("AWS"));
}

#[test]
fn with_default_dms_column_names_the_sample_timestamp_is_a_data_column() {
    let path = sample("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    let cols = columns_of(&path, &DmsColumns::default());
    assert_eq!(cols[0].column.name, "dms_timestamp");
    assert_eq!(cols[0].role, ColumnRole::Data);
    assert!(cols.iter().all(|c| c.role == ColumnRole::Data));
}

#[test]
fn every_parquet_sample_maps_to_glue_columns_from_its_footer() {
    let files: Vec<PathBuf> = dmslake_tests::files_under(&dmslake_tests::samples_dir())
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        })
        .collect();
    assert!(!files.is_empty(), "no Parquet samples found");
    for path in files {
        let read = read_footer_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let size = std::fs::metadata(&path).expect("size").len();
        assert!(read.bytes_fetched < size, "{}", path.display());
        let cols = glue_columns(&read.metadata, &DmsColumns::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            cols.len(),
            read.metadata
                .file_metadata()
                .schema_descr()
                .root_schema()
                .get_fields()
                .len(),
            "{}",
            path.display()
        );
        for c in &cols {
            assert!(
                !c.column.name.is_empty()
                    && c.column
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}: {c:?}",
                path.display()
            );
        }
    }
}

#[test]
fn csv_and_other_samples_are_not_parquet() {
    let csv = sample("northwind-postgres/cdc/public/order_details/LOAD00000001.csv");
    let err = read_footer_file(&csv).expect_err("csv is not parquet");
    assert!(err.to_string().contains("not a Parquet file"), "{err}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// CSV records of a file; a quoted field may span lines.
fn records(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(line);
        match split_record(&pending) {
            Err(CsvSchemaError::UnterminatedQuote) => continue,
            _ => out.push(std::mem::take(&mut pending)),
        }
    }
    assert!(pending.is_empty(), "unterminated record at the end");
    out
}

#[test]
fn oracle_header_sample_load_without_op_and_cdc_with_op_are_reported_as_misaligned() {
    let dir = "oracle-hr-with-header/dms/hr/employees";
    let dms = DmsColumns::default();
    let header = |name: &str| {
        let text = read(&sample(&format!("{dir}/{name}")));
        let first = text.lines().next().expect("header row").to_string();
        parse_header_row(&first, &dms).expect("header")
    };
    let load = header("LOAD00000001.csv");
    let cdc = header("20190118-184518184.csv");
    let data = [
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
        "department_id",
    ];
    assert_eq!(
        load.iter()
            .map(|c| c.column.name.as_str())
            .collect::<Vec<_>>(),
        data
    );
    assert_eq!(cdc[0].column.name, "op");
    assert_eq!(cdc[0].role, ColumnRole::Op);
    assert_eq!(
        cdc[1..]
            .iter()
            .map(|c| c.column.name.as_str())
            .collect::<Vec<_>>(),
        data
    );
    assert!(cdc
        .iter()
        .chain(&load)
        .all(|c| c.column.ty.to_string() == "string"));
    let err = check_same_layout("LOAD00000001.csv", &load, "20190118-184518184.csv", &cdc)
        .expect_err("LOAD without Op and CDC with Op");
    assert!(
        matches!(err, CsvSchemaError::OpOnlyInOne { ref with_op, .. } if with_op == "20190118-184518184.csv"),
        "{err}"
    );
    // Every data row of each file fits its own header.
    for (name, cols) in [
        ("LOAD00000001.csv", &load),
        ("20190118-184518184.csv", &cdc),
    ] {
        let text = read(&sample(&format!("{dir}/{name}")));
        for record in records(&text).iter().skip(1) {
            let fields = split_record(record).expect("record");
            assert_eq!(fields.len(), cols.len(), "{name}: {record}");
            check_record(cols, record).unwrap_or_else(|e| panic!("{name}: {record}: {e}"));
        }
    }
}

/// The column names of the `CREATE EXTERNAL TABLE` declaration that came with the northwind
/// sample (`name TYPE,` lines between the parentheses).
fn declared_columns(sql: &str) -> Vec<String> {
    let body = sql
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once("\n)"))
        .map(|(body, _)| body)
        .expect("column list");
    body.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn northwind_order_details_rows_fit_the_declared_columns_load_and_cdc_alike() {
    let sql = read(&sample("northwind-postgres/athena/order_details.sql"));
    let declared = declared_columns(&sql);
    assert_eq!(declared.len(), 10, "{declared:?}");
    // The declaration calls DMS's Op column `cdc_operation`; a manifest lists it as `Op`.
    let mut manifest_columns = declared.clone();
    manifest_columns[0] = "Op".into();
    let manifest = ColumnManifest::parse(
        &serde_json::json!({ "public.order_details": manifest_columns }).to_string(),
    )
    .expect("manifest");
    let dms = DmsColumns {
        timestamp: "transaction_commit_timestamp".into(),
        change_sequence: "transaction_sequence_number".into(),
        before_image_prefix: "before_".into(),
    };
    let cols = manifest
        .columns_for("public", "order_details", &dms)
        .expect("valid")
        .expect("declared");
    use ColumnRole::*;
    assert_eq!(
        cols.iter().map(|c| c.role).collect::<Vec<_>>(),
        [
            Op,
            Timestamp,
            Data,
            Data,
            Data,
            Data,
            Data,
            ChangeSequence,
            BeforeImage,
            BeforeImage
        ]
    );

    let dir = sample("northwind-postgres/cdc/public/order_details");
    let mut load_widths = Vec::new();
    let mut cdc_widths = Vec::new();
    for path in dmslake_tests::files_under(&dir) {
        let is_load = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("LOAD"));
        for record in records(&read(&path)) {
            check_record(&cols, &record)
                .unwrap_or_else(|e| panic!("{}: {record}: {e}", path.display()));
            let width = split_record(&record).expect("record").len();
            if is_load {
                load_widths.push(width);
            } else {
                cdc_widths.push(width);
            }
        }
    }
    // Full-load rows stop before the before-image columns (empty change sequence); CDC rows
    // carry the before-image keys only when DMS wrote them.
    load_widths.dedup();
    assert_eq!(load_widths, [8]);
    cdc_widths.sort_unstable();
    cdc_widths.dedup();
    assert_eq!(cdc_widths, [8, 10]);
}

#[test]
fn mysql_sample_full_load_without_op_is_refused_by_a_manifest_that_declares_op() {
    let dir = "mysql-customers/dms/classicmodels/customers";
    let mut names = vec!["Op".to_string()];
    names.extend((1..=13).map(|i| format!("c{i}")));
    let manifest =
        ColumnManifest::parse(&serde_json::json!({ "classicmodels.customers": names }).to_string())
            .expect("manifest");
    let cols = manifest
        .columns_for("classicmodels", "customers", &DmsColumns::default())
        .expect("valid")
        .expect("declared");
    for record in records(&read(&sample(&format!("{dir}/20240809-192717787.csv")))) {
        check_record(&cols, &record).unwrap_or_else(|e| panic!("cdc {record}: {e}"));
    }
    let load = records(&read(&sample(&format!("{dir}/LOAD00000001.csv"))));
    let first = load.first().expect("a row");
    assert!(
        matches!(check_record(&cols, first), Err(CsvSchemaError::NotAnOp { ref value }) if value == "103"),
        "{first}"
    );
}

#[test]
fn every_csv_sample_is_not_mistaken_for_parquet() {
    for path in dmslake_tests::files_under(&dmslake_tests::samples_dir()) {
        if path.extension().is_some_and(|e| e == "csv") {
            assert!(
                read_footer_file(&path).is_err(),
                "{} read as Parquet",
                path.display()
            );
        }
    }
}

/// Random corruptions of the real DMS footer (rows, column chunks, statistics) decode or fail
/// with an error: never a panic or an abort, which would take a Lambda down with it.
#[test]
fn random_corruptions_of_the_dms_footer_are_errors_never_crashes() {
    use dmslake::parquet_footer::{decode_footer, footer_length, TAIL_LEN};
    let path = sample("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    let file = std::fs::read(&path).expect("sample");
    let len = footer_length(&file).expect("length");
    let end = file.len() - TAIL_LEN;
    let footer = &file[end - len..end];
    decode_footer(footer).expect("intact footer");
    // xorshift64: deterministic, so a failure reproduces.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failures = 0;
    for _ in 0..20_000 {
        let mut bytes = footer.to_vec();
        for _ in 0..=(next() % 4) {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = next() as u8;
        }
        let cut = if next() % 8 == 0 {
            (next() % bytes.len() as u64) as usize
        } else {
            bytes.len()
        };
        if let Err(e) = decode_footer(&bytes[..cut]) {
            // Refused by the bounds check or by the decoder's own errors, not by a caught
            // panic: release builds abort on panics, so catching them is only a safety net.
            assert!(
                !e.to_string().contains("malformed values"),
                "a corruption reached a decoder panic: {e}"
            );
            failures += 1;
        }
    }
    assert!(failures > 0, "no corruption was detected at all");
}
