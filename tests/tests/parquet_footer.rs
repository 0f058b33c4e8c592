//! Parquet footers are read from S3 with suffix ranged GETs only: the real DMS sample and a
//! generated multi-megabyte file map to their Glue columns while a small fraction of each
//! object is fetched.

use std::path::{Path, PathBuf};

use dmslake::config::DmsColumns;
use dmslake::parquet_footer::{
    footer_length, read_footer, read_footer_with, FooterError, DEFAULT_INITIAL_SUFFIX,
};
use dmslake::schema::{glue_columns, ColumnRole, SchemaError};

async fn put(clients: &dmslake::clients::Clients, bucket: &str, key: &str, body: Vec<u8>) {
    dmslake_tests::put_object(&clients.s3, bucket, key, body).await;
}

fn dms_sample() -> Vec<u8> {
    let path = dmslake_tests::samples_dir()
        .join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A ~6 MB uncompressed Parquet file written by DuckDB (an independent writer using logical
/// type annotations), with DMS's `Op` and timestamp columns in front.
fn generated_large_file(dir: &Path) -> Vec<u8> {
    let path: PathBuf = dir.join("large.parquet");
    let script = format!(
        r#"
import duckdb
duckdb.sql("""
COPY (
  SELECT 'I' AS "Op",
         strftime(TIMESTAMP '2026-11-24 00:00:00' + INTERVAL (i) SECOND, '%Y-%m-%d %H:%M:%S.%f') AS dms_commit_ts,
         i::BIGINT AS id, (i * 7919 % 1000003)::INTEGER AS "Qty", (i % 100)::SMALLINT AS small,
         (i % 100)::TINYINT AS tiny, (i * 1.25)::DECIMAL(18,3) AS amount, random() AS score,
         random()::FLOAT AS ratio, md5(i::VARCHAR) AS "Customer Name", (i % 2 = 0) AS flag,
         DATE '2024-01-01' + (i % 365)::INTEGER AS day,
         TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) SECOND AS ts, md5(i::VARCHAR)::BLOB AS raw
  FROM range(40000) t(i)
) TO '{}' (FORMAT parquet, COMPRESSION uncompressed)
""")
"#,
        path.display()
    );
    let python = dmslake_tests::repo_dir().join(".venv/bin/python");
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&path).expect("generated file")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(dmslake_tests::unique_name(name, '-'));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn dms_sample_footer_is_read_with_two_suffix_gets_and_maps_every_column() {
    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "footer-sample").await;
    let key = "dms/public/dms_test_table/LOAD00000001.parquet";
    let body = dms_sample();
    let size = body.len() as u64;
    let footer = footer_length(&body).expect("sample footer length") as u64;
    put(&clients, &bucket, key, body).await;

    // Strict path: the 8-byte tail, then exactly the footer and tail.
    let read = read_footer_with(&clients.s3, &bucket, key, 8)
        .await
        .expect("footer");
    assert_eq!(read.requests, 2);
    assert_eq!(read.bytes_fetched, 8 + footer + 8);
    assert_eq!(read.object_size, Some(size));
    assert!(
        read.bytes_fetched < size / 2,
        "{} of {size}",
        read.bytes_fetched
    );

    let dms = DmsColumns {
        timestamp: "DMS_TIMESTAMP".into(),
        ..DmsColumns::default()
    };
    let cols = glue_columns(&read.metadata, &dms).expect("columns");
    let typed: Vec<(String, String)> = cols
        .iter()
        .map(|c| (c.column.name.clone(), c.column.ty.to_string()))
        .collect();
    let got: Vec<(&str, &str)> = typed
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(got, dmslake_tests::DMS_TEST_TABLE_PARQUET_COLUMNS);
    assert_eq!(cols[0].role, ColumnRole::Timestamp);

    // Default path: one suffix GET larger than this small object returns all of it.
    let read = read_footer(&clients.s3, &bucket, key)
        .await
        .expect("footer");
    assert_eq!(read.requests, 1);
    assert_eq!(read.bytes_fetched, size);
    assert_eq!(
        glue_columns(&read.metadata, &dms).expect("columns"),
        cols,
        "both paths decode the same footer"
    );
}

#[tokio::test]
async fn large_file_footer_is_read_without_fetching_the_data() {
    let dir = temp_dir("footer-large");
    let body = generated_large_file(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let size = body.len() as u64;
    assert!(size > 4_000_000, "generated file is only {size} bytes");
    let footer = footer_length(&body).expect("footer length") as u64;

    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "footer-large").await;
    let key = "dms/sales/orders/20261124-101500123.parquet";
    put(&clients, &bucket, key, body).await;

    let read = read_footer(&clients.s3, &bucket, key)
        .await
        .expect("footer");
    assert_eq!(read.requests, 1, "a 64 KiB suffix holds this footer");
    assert_eq!(read.bytes_fetched, DEFAULT_INITIAL_SUFFIX);
    assert_eq!(read.object_size, Some(size));

    let strict = read_footer_with(&clients.s3, &bucket, key, 8)
        .await
        .expect("footer");
    assert_eq!(strict.requests, 2);
    assert_eq!(strict.bytes_fetched, 8 + footer + 8);
    assert!(
        strict.bytes_fetched * 100 < size,
        "{} of {size}",
        strict.bytes_fetched
    );

    let cols = glue_columns(&read.metadata, &DmsColumns::default()).expect("columns");
    let typed: Vec<(String, String, ColumnRole)> = cols
        .iter()
        .map(|c| (c.column.name.clone(), c.column.ty.to_string(), c.role))
        .collect();
    let got: Vec<(&str, &str, ColumnRole)> = typed
        .iter()
        .map(|(n, t, r)| (n.as_str(), t.as_str(), *r))
        .collect();
    use ColumnRole::{Data, Op, Timestamp};
    assert_eq!(
        got,
        [
            ("op", "string", Op),
            ("dms_commit_ts", "string", Timestamp),
            ("id", "bigint", Data),
            ("qty", "int", Data),
            ("small", "smallint", Data),
            ("tiny", "tinyint", Data),
            ("amount", "decimal(18,3)", Data),
            ("score", "double", Data),
            ("ratio", "float", Data),
            ("customer_name", "string", Data),
            ("flag", "boolean", Data),
            ("day", "date", Data),
            ("ts", "timestamp", Data),
            ("raw", "binary", Data),
        ]
    );
    assert_eq!(read.metadata.file_metadata().num_rows(), 40_000);
}

#[tokio::test]
async fn objects_that_are_not_parquet_or_missing_are_errors() {
    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "footer-bad").await;
    let csv = dmslake_tests::samples_dir()
        .join("northwind-postgres/cdc/public/order_details/LOAD00000001.csv");
    put(
        &clients,
        &bucket,
        "dms/public/order_details/LOAD00000001.csv",
        std::fs::read(csv).expect("csv sample"),
    )
    .await;
    // A Parquet file cut short: its tail (length + magic) is gone.
    let mut truncated = dms_sample();
    truncated.truncate(truncated.len() - 3);
    put(
        &clients,
        &bucket,
        "dms/public/t/LOAD00000001.parquet",
        truncated,
    )
    .await;
    // A Parquet file whose footer was overwritten.
    let mut garbled = dms_sample();
    let n = garbled.len();
    for b in &mut garbled[n - 200..n - 8] {
        *b = 0xee;
    }
    put(
        &clients,
        &bucket,
        "dms/public/t/LOAD00000002.parquet",
        garbled,
    )
    .await;

    put(&clients, &bucket, "dms/public/t/empty.parquet", Vec::new()).await;

    for (key, want_corrupt) in [
        ("dms/public/t/empty.parquet", false),
        ("dms/public/order_details/LOAD00000001.csv", false),
        ("dms/public/t/LOAD00000001.parquet", false),
        ("dms/public/t/LOAD00000002.parquet", true),
    ] {
        for initial in [8, DEFAULT_INITIAL_SUFFIX] {
            let err = read_footer_with(&clients.s3, &bucket, key, initial)
                .await
                .expect_err(key);
            match (&err, want_corrupt) {
                (
                    FooterError::Schema {
                        error: SchemaError::NotParquet(_),
                        ..
                    },
                    false,
                )
                | (
                    FooterError::Schema {
                        error: SchemaError::CorruptFooter(_),
                        ..
                    },
                    true,
                ) => {}
                _ => panic!("{key} ({initial}): unexpected {err:?}"),
            }
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    let err = read_footer(&clients.s3, &bucket, "dms/public/t/missing.parquet")
        .await
        .expect_err("missing");
    assert!(matches!(err, FooterError::S3 { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.parquet"), "{err}");
}
