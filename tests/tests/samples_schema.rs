//! The real DMS Parquet samples map to the Glue columns a user of that table expects, read
//! from their footers only; every `.parquet` file under the samples tree is exercised.

use std::path::{Path, PathBuf};

use dmslake::config::DmsColumns;
use dmslake::parquet_footer::read_footer_file;
use dmslake::schema::{glue_columns, ColumnRole, GlueColumn};

fn sample(rel: &str) -> PathBuf {
    dmslake_tests::samples_dir().join(rel)
}

fn columns_of(path: &Path, dms: &DmsColumns) -> Vec<GlueColumn> {
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
        .map(|c| (c.name, c.source_name, c.glue_type, c.role))
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
    assert_eq!(cols[0].name, "dms_timestamp");
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
                !c.name.is_empty()
                    && c.name
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
