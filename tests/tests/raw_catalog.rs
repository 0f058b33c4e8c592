//! The raw catalog as a user queries it: every row of every accepted DMS file exactly once,
//! through the local Athena on Trino, whatever the layout; no column lost when registrars
//! evolve one table at once; partition keys that never repeat a column; a table dropped
//! under a warm registrar; and the awkward inputs (odd keys, empty prefixes, EventBridge
//! through SQS, objects deleted before they were read).
//!
//! Needs the stack (`make stack-up`: moto, Trino, athena-local).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dmslake::clients::Clients;
use dmslake::config::{Config, DatePartitionSequence};
use dmslake::layout::{classify, DataKind};
use dmslake_tests::athena::{self, Athena};
use dmslake_tests::{clients, new_bucket, sdk_config, unique_name};
use partition_registrar::backfill;
use partition_registrar::event::BackfillRequest;
use partition_registrar::handler::{self, Deps, Output, Settings};
use serde_json::{json, Value};

// ---------------------------------------------------------------- harness

/// One test's corner of the lake: a bucket (data and state), a Glue database, a workgroup.
struct Lake {
    clients: Clients,
    athena: Athena,
    bucket: String,
    config: Config,
}

impl Lake {
    async fn new(sequence: DatePartitionSequence) -> Self {
        let client = dmslake_tests::athena_local().await;
        let clients = clients().await;
        let bucket = new_bucket(&clients, "rawcat").await;
        let mut config = Config::from_lookup(&|_| None).expect("default config");
        config.layout.bucket_folder = "dms".into();
        config.layout.date_partition_enabled = true;
        config.layout.date_partition_sequence = sequence;
        config.raw_database = unique_name("rawcat", '_');
        let workgroup = unique_name("wg", '-');
        athena::create_workgroup(&client, &workgroup, &format!("s3://{bucket}/results/"))
            .await
            .expect("create workgroup");
        Self {
            clients,
            athena: Athena::new(client, &workgroup),
            bucket,
            config,
        }
    }

    /// A fresh execution environment (cold cache).
    async fn deps(&self) -> Deps {
        let sdk = sdk_config().await;
        Deps::new(
            self.clients.s3.clone(),
            aws_sdk_glue::Client::new(&sdk),
            self.config.clone(),
            Settings {
                manifest_root: Some(Settings::manifest_root_for(&self.bucket, "dmslake-state/")),
                ..Settings::default()
            },
        )
    }

    async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        dmslake_tests::put_object(&self.clients.s3, &self.bucket, key, body).await;
    }

    /// Registers `keys` as one S3 notification; the report, or the handler's error.
    async fn register(&self, deps: &Deps, keys: &[&str]) -> Result<Value, String> {
        handler::handle(deps, s3_event(&self.bucket, keys), None)
            .await
            .map(|out| serde_json::to_value(out).expect("report"))
            .map_err(|e| dmslake::error::chain(&e))
    }

    async fn glue_table(&self, table: &str) -> Option<aws_sdk_glue::types::Table> {
        match self
            .clients
            .glue
            .get_table()
            .database_name(&self.config.raw_database)
            .name(table)
            .send()
            .await
        {
            Ok(out) => out.table().cloned(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_entity_not_found_exception()) =>
            {
                None
            }
            Err(e) => panic!("GetTable {table}: {e:?}"),
        }
    }

    async fn columns(&self, table: &str) -> Vec<String> {
        let t = self.glue_table(table).await.expect("table exists");
        t.storage_descriptor()
            .map(|sd| sd.columns().iter().map(|c| c.name().to_string()).collect())
            .unwrap_or_default()
    }

    /// Runs `sql` on the local Athena; the data rows (no header), or the failure reason.
    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        self.athena
            .query(sql, &self.config.raw_database, Duration::from_secs(300))
            .await
            .map(|result| result.rows)
            .map_err(|e| format!("{e:#}"))
    }

    /// Rows per file path of `table`, as Athena reads it.
    async fn rows_per_file(&self, table: &str) -> BTreeMap<String, u64> {
        let rows = self
            .query(&format!(
                "SELECT \"$path\", count(*) FROM \"{table}\" GROUP BY 1"
            ))
            .await
            .unwrap_or_else(|e| panic!("reading {table}: {e}"));
        rows.into_iter()
            .map(|r| {
                let path = r[0].clone().expect("path");
                let n = r[1].as_deref().and_then(|n| n.parse().ok()).expect("count");
                (path, n)
            })
            .collect()
    }
}

/// An S3 notification as moto sends it: keys URL-encoded, `/` included.
fn s3_event(bucket: &str, keys: &[&str]) -> Value {
    json!({"Records": keys.iter().map(|k| json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
          "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
          "object": {"key": k.replace('/', "%2F"), "size": 1, "eTag": "e", "sequencer": "0"}}
    })).collect::<Vec<_>>()})
}

fn sqs_event(bodies: &[(&str, String)]) -> Value {
    json!({"Records": bodies.iter().map(|(id, body)| json!({
        "messageId": id, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
        "md5OfBody": "m", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>()})
}

/// A CSV file with a header row (`AddColumnName=true`): `rows` rows of `columns`.
fn csv(columns: &[&str], rows: usize, tag: &str) -> (Vec<u8>, u64) {
    let mut out = columns.join(",");
    out.push('\n');
    for r in 0..rows {
        let values: Vec<String> = columns
            .iter()
            .map(|c| match *c {
                "Op" => "I".to_string(),
                "dms_commit_ts" => "2026-11-24 10:00:00.000000".to_string(),
                _ => format!("{tag}-{c}-{r}"),
            })
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    (out.into_bytes(), rows as u64)
}

/// A Parquet file of `rows` rows: `int64` columns hold the row number, the others text.
fn parquet(columns: &[(&str, &str)], rows: usize) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let fields: String = columns
        .iter()
        .map(|(n, t)| match *t {
            "int64" => format!("OPTIONAL INT64 {n};"),
            _ => format!("OPTIONAL BYTE_ARRAY {n} (UTF8);"),
        })
        .collect();
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(&format!("message schema {{ {fields} }}"))
            .expect("schema"),
    );
    let mut w = SerializedFileWriter::new(
        Vec::new(),
        schema,
        Arc::new(WriterProperties::builder().build()),
    )
    .expect("writer");
    let mut rg = w.next_row_group().expect("row group");
    let defs = vec![1i16; rows];
    for (name, t) in columns {
        let mut col = rg.next_column().expect("column").expect("more columns");
        match *t {
            "int64" => {
                let values: Vec<i64> = (0..rows as i64).collect();
                col.typed::<Int64Type>()
                    .write_batch(&values, Some(&defs), None)
                    .expect("write");
            }
            _ => {
                let values: Vec<ByteArray> = (0..rows)
                    .map(|r| {
                        ByteArray::from(
                            if *name == "Op" {
                                "I".to_string()
                            } else {
                                format!("{name}-{r}")
                            }
                            .into_bytes(),
                        )
                    })
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)
                    .expect("write");
            }
        }
        col.close().expect("close column");
    }
    rg.close().expect("close row group");
    w.into_inner().expect("finish")
}

// ---------------------------------------------------------------- rows exactly once

const V1: &[&str] = &["Op", "dms_commit_ts", "id", "name"];

/// Puts `files` (key, columns, rows) and registers them; returns the rows each accepted file
/// holds, by `s3://` path.
async fn put_and_register(
    lake: &Lake,
    files: &[(&str, &[&str], usize)],
) -> (BTreeMap<String, u64>, Value) {
    let mut expected = BTreeMap::new();
    for (key, columns, rows) in files {
        let (body, n) = csv(columns, *rows, key);
        lake.put(key, body).await;
        expected.insert(format!("s3://{}/{key}", lake.bucket), n);
    }
    let keys: Vec<&str> = files.iter().map(|(k, _, _)| *k).collect();
    let deps = lake.deps().await;
    let report = match lake.register(&deps, &keys).await {
        Ok(r) => r,
        Err(e) => json!({"error": e}),
    };
    (expected, report)
}

#[tokio::test]
async fn full_load_files_in_the_table_folder_are_read_once_and_refused_files_not_at_all() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let refused: &[&str] = &["Op", "dms_commit_ts", "id", "title"];
    let files: &[(&str, &[&str], usize)] = &[
        ("dms/public/t/LOAD00000001.csv", V1, 5),
        ("dms/public/t/LOAD00000002.csv", V1, 4),
        // parallel load of a partitioned source: a folder per source partition
        ("dms/public/t/p2026/LOAD00000001.csv", V1, 3),
        ("dms/public/t/2026/11/24/20261124-101500123.csv", V1, 2),
        ("dms/public/t/2026/11/25/20261125-080000000.csv", V1, 6),
    ];
    let (mut expected, report) = put_and_register(&lake, files).await;
    assert!(report.get("error").is_none(), "{report}");
    // A later full-load file renaming a column is refused; a stray file is not DMS data.
    let (body, _) = csv(refused, 7, "refused");
    lake.put("dms/public/t/LOAD00000003.csv", body).await;
    let (body, _) = csv(V1, 9, "stray");
    lake.put("dms/public/t/notes.csv", body).await;
    let deps = lake.deps().await;
    let err = lake
        .register(
            &deps,
            &["dms/public/t/LOAD00000003.csv", "dms/public/t/notes.csv"],
        )
        .await
        .expect_err("the renamed column is refused");
    assert!(err.contains("title"), "{err}");

    let got = lake.rows_per_file("public_t").await;
    assert_eq!(got, expected, "every accepted file once, nothing else");
    let total: u64 = expected.values().sum();
    let count = lake
        .query("SELECT count(*) FROM \"public_t\"")
        .await
        .unwrap();
    assert_eq!(count[0][0].as_deref(), Some(total.to_string().as_str()));
    eprintln!("table folder layout: {total} rows in the files, {total} read");

    // A file registered later into the known full-load partition is read too (warm).
    let (body, n) = csv(V1, 8, "late");
    lake.put("dms/public/t/LOAD00000004.csv", body).await;
    lake.register(&deps, &["dms/public/t/LOAD00000004.csv"])
        .await
        .expect("registered");
    expected.insert(
        format!("s3://{}/dms/public/t/LOAD00000004.csv", lake.bucket),
        n,
    );
    assert_eq!(lake.rows_per_file("public_t").await, expected);
}

#[tokio::test]
async fn full_load_files_inside_date_folders_are_read_once() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let files: &[(&str, &[&str], usize)] = &[
        ("dms/public/t/2026/11/24/LOAD00000001.csv", V1, 5),
        ("dms/public/t/2026/11/24/LOAD00000002.csv", V1, 3),
        ("dms/public/t/2026/11/24/20261124-101500123.csv", V1, 2),
        ("dms/public/t/2026/11/25/20261125-080000000.csv", V1, 4),
    ];
    let (expected, report) = put_and_register(&lake, files).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(lake.rows_per_file("public_t").await, expected);
    let total: u64 = expected.values().sum();
    eprintln!("date folder layout: {total} rows in the files, {total} read");
    // No full-load partition: every partition is a date.
    let parts = lake
        .query("SELECT DISTINCT year FROM \"public_t\" ORDER BY 1")
        .await
        .unwrap();
    assert_eq!(parts[..], [vec![Some("2026".to_string())]]);
}

#[tokio::test]
async fn the_merge_full_load_pattern_agrees_with_the_layout_on_trino() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let keys = [
        "dms/public/t/LOAD00000001.csv",
        "dms/public/t/LOAD0000000A.csv.gz",
        "dms/public/t/SEGMENT2_LOAD00000009.parquet",
        "dms/public/t/p1/SEGMENT10_LOAD00000001.csv",
        "dms/public/t/2026/11/24/LOAD00000001.parquet",
        "dms/public/t/2026/11/24/20261124-101500123.csv",
        "dms/public/t/20261124-101500123.parquet",
    ];
    let values: Vec<String> = keys.iter().map(|k| format!("('s3://b/{k}')")).collect();
    let sql = format!(
        "SELECT p, regexp_like(p, {}) FROM (VALUES {}) AS t(p)",
        dmslake::sql::string_literal(dmslake::sql::FULL_LOAD_PATH_PATTERN),
        values.join(", ")
    );
    let rows = lake.query(&sql).await.expect("runs on Trino");
    let got: BTreeMap<String, bool> = rows[..]
        .iter()
        .map(|r| (r[0].clone().expect("path"), r[1].as_deref() == Some("true")))
        .collect();
    let mut layout = lake.config.layout.clone();
    layout.date_partition_enabled = false;
    for key in keys {
        let dated = classify(key, &lake.config.layout);
        let obj = dated
            .data()
            .or(classify(key, &layout).data())
            .cloned()
            .unwrap_or_else(|| panic!("{key} is DMS data"));
        assert_eq!(
            got[&format!("s3://b/{key}")],
            obj.kind == DataKind::FullLoad,
            "{key}"
        );
    }
}

// ---------------------------------------------------------------- concurrency

/// `writers` registrars (each its own execution environment) register at once the files of
/// one table, one date partition each; file `i` adds column `c<i>` (and carries the earlier
/// ones, as DMS's files do). Returns the columns missing from the table afterwards.
async fn one_concurrent_trial(lake: &Lake, table: &str, writers: usize) -> Vec<String> {
    let base = [
        ("Op", "string"),
        ("dms_commit_ts", "string"),
        ("id", "int64"),
    ];
    let names: Vec<String> = (1..=writers).map(|i| format!("c{i}")).collect();
    let mut keys = Vec::new();
    for i in 1..=writers {
        let mut cols: Vec<(&str, &str)> = base.to_vec();
        cols.extend(names[..i].iter().map(|n| (n.as_str(), "string")));
        let key = format!(
            "dms/public/{table}/2026/11/{:02}/202611{:02}-100000000.parquet",
            i, i
        );
        lake.put(&key, parquet(&cols, 1)).await;
        keys.push(key);
    }
    let mut envs = Vec::new();
    for _ in 0..writers {
        envs.push(Arc::new(lake.deps().await));
    }
    let bucket = lake.bucket.clone();
    let mut tasks = Vec::new();
    for (deps, key) in envs.into_iter().zip(keys) {
        let bucket = bucket.clone();
        tasks.push(tokio::spawn(async move {
            handler::handle(&deps, s3_event(&bucket, &[&key]), None)
                .await
                .map(|_| ())
                .map_err(|e| dmslake::error::chain(&e))
        }));
    }
    for t in tasks {
        // A record acknowledged (Ok) must have its columns in the table.
        t.await
            .expect("task")
            .expect("every registration acknowledged");
    }
    let have = lake.columns(&format!("public_{table}")).await;
    names.into_iter().filter(|n| !have.contains(n)).collect()
}

#[tokio::test]
async fn concurrent_registrars_lose_no_column() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let mut trials = 0;
    let mut lost = Vec::new();
    for (writers, runs) in [(8, 6), (2, 12)] {
        for run in 0..runs {
            let table = format!("w{writers}_{run}");
            let missing = one_concurrent_trial(&lake, &table, writers).await;
            trials += 1;
            if !missing.is_empty() {
                lost.push((table, missing));
            }
        }
    }
    let columns_lost: usize = lost.iter().map(|(_, m)| m.len()).sum();
    eprintln!("concurrent evolution: {trials} trials (6 with 8 writers, 12 with 2), {columns_lost} columns lost");
    assert!(lost.is_empty(), "columns lost: {lost:?}");
}

// ---------------------------------------------------------------- partition keys

#[tokio::test]
async fn a_table_with_year_month_day_hour_columns_gets_keys_athena_reads() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmddhh).await;
    let cols = [
        ("Op", "string"),
        ("dms_commit_ts", "string"),
        ("id", "int64"),
        ("year", "int64"),
        ("month", "int64"),
        ("day", "int64"),
        ("hour", "int64"),
    ];
    let load = "dms/public/events/LOAD00000001.parquet";
    let cdc = "dms/public/events/2026/11/24/07/20261124-071500123.parquet";
    lake.put(load, parquet(&cols, 3)).await;
    lake.put(cdc, parquet(&cols, 2)).await;
    let deps = lake.deps().await;
    lake.register(&deps, &[load, cdc])
        .await
        .expect("registered");
    let t = lake.glue_table("public_events").await.expect("table");
    let keys: Vec<&str> = t.partition_keys().iter().map(|k| k.name()).collect();
    assert_eq!(
        keys,
        [
            "_dmslake_year",
            "_dmslake_month",
            "_dmslake_day",
            "_dmslake_hour"
        ]
    );
    let rows = lake
        .query(
            "SELECT \"_dmslake_year\", \"_dmslake_hour\", count(*), sum(year) \
             FROM \"public_events\" GROUP BY 1, 2 ORDER BY 1",
        )
        .await
        .expect("Athena reads the table");
    assert_eq!(
        rows[..],
        [
            vec![
                Some("0000".into()),
                Some("00".into()),
                Some("3".into()),
                Some("3".into())
            ],
            vec![
                Some("2026".into()),
                Some("07".into()),
                Some("2".into()),
                Some("1".into())
            ],
        ]
    );

    // A table without such columns keeps the plain keys, and a later file adding one of
    // them is refused rather than breaking the table.
    let plain = [
        ("Op", "string"),
        ("dms_commit_ts", "string"),
        ("id", "int64"),
    ];
    let first = "dms/public/plain/2026/11/24/07/20261124-071500123.parquet";
    lake.put(first, parquet(&plain, 1)).await;
    lake.register(&deps, &[first]).await.expect("registered");
    let t = lake.glue_table("public_plain").await.expect("table");
    let keys: Vec<&str> = t.partition_keys().iter().map(|k| k.name()).collect();
    assert_eq!(keys, ["year", "month", "day", "hour"]);
    let mut more = plain.to_vec();
    more.push(("day", "int64"));
    let second = "dms/public/plain/2026/11/24/08/20261124-081500123.parquet";
    lake.put(second, parquet(&more, 1)).await;
    let err = lake
        .register(&deps, &[second])
        .await
        .expect_err("a column named like a key is refused");
    assert!(
        err.contains("\"day\"") && err.contains("PartitionKey"),
        "{err}"
    );
    let count = lake
        .query("SELECT count(*) FROM \"public_plain\"")
        .await
        .expect("the table still reads");
    assert_eq!(count[0][0].as_deref(), Some("1"));
}

// ---------------------------------------------------------------- a dropped table

#[tokio::test]
async fn a_warm_registrar_recreates_a_dropped_table() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let deps = lake.deps().await;
    let first = "dms/public/t/2026/11/24/20261124-101500123.csv";
    let (body, _) = csv(V1, 2, "a");
    lake.put(first, body).await;
    lake.register(&deps, &[first]).await.expect("registered");
    lake.clients
        .glue
        .delete_table()
        .database_name(&lake.config.raw_database)
        .name("public_t")
        .send()
        .await
        .expect("drop the table");

    // A later file in the partition the warm function registered before.
    let second = "dms/public/t/2026/11/24/20261124-111500123.csv";
    let (body, _) = csv(V1, 3, "b");
    lake.put(second, body).await;
    let report = lake.register(&deps, &[second]).await.expect("registered");
    assert_eq!(report["tables_created"], json!(1), "{report}");
    assert_eq!(report["partitions_registered"], json!(1), "{report}");
    let count = lake
        .query("SELECT count(*) FROM \"public_t\"")
        .await
        .unwrap();
    assert_eq!(
        count[0][0].as_deref(),
        Some("5"),
        "both files of the partition"
    );
}

// ---------------------------------------------------------------- awkward inputs

async fn backfill(lake: &Lake, prefix: &str) -> backfill::BackfillReport {
    let deps = lake.deps().await;
    let req = BackfillRequest {
        bucket: lake.bucket.clone(),
        prefix: prefix.into(),
        start_after: None,
    };
    backfill::run(&deps, &req, None, backfill::PAGE_SIZE)
        .await
        .unwrap_or_else(|e| panic!("backfill {prefix}: {}", dmslake::error::chain(&e)))
}

#[tokio::test]
async fn a_backfill_lists_keys_xml_cannot_carry() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let (body, _) = csv(V1, 2, "a");
    lake.put(
        "dms/public/t/2026/11/24/20261124-101500123.csv",
        body.clone(),
    )
    .await;
    lake.put("dms/public/t/\u{1}odd.csv", body).await;
    let report = backfill(&lake, "dms/").await;
    assert!(report.complete, "{report:?}");
    assert_eq!(report.keys_listed, 2);
    assert_eq!(report.counts.files, 1);
    assert_eq!(report.counts.skipped, 1, "the odd key is not DMS data");
    assert!(report.counts.failures.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_backfill_of_a_prefix_without_dms_files_says_so() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    lake.put("exports/readme.txt", "not DMS").await;
    let report = backfill(&lake, "exports/").await;
    assert!(report.complete);
    assert!(report.no_dms_files, "{report:?}");
    let note = report.note.clone().expect("a note");
    assert!(
        note.contains("no DMS data file") && note.contains("exports/"),
        "{note}"
    );
    let empty = backfill(&lake, "nothing-here/").await;
    assert!(empty.no_dms_files);

    let (body, _) = csv(V1, 1, "a");
    lake.put("dms/public/t/2026/11/24/20261124-101500123.csv", body)
        .await;
    let report = backfill(&lake, "dms/").await;
    assert!(!report.no_dms_files && report.note.is_none(), "{report:?}");
}

#[tokio::test]
async fn eventbridge_events_through_sqs_register_and_deleted_objects_are_acknowledged() {
    let lake = Lake::new(DatePartitionSequence::Yyyymmdd).await;
    let key = "dms/public/t/2026/11/24/20261124-101500123.csv";
    let (body, _) = csv(V1, 2, "a");
    lake.put(key, body).await;
    let eventbridge = json!({"version": "0", "id": "e1", "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2026-11-24T10:15:02Z",
        "region": "us-east-1", "resources": [format!("arn:aws:s3:::{}", lake.bucket)],
        "detail": {"version": "0", "bucket": {"name": lake.bucket},
            "object": {"key": key, "size": 10, "etag": "e", "sequencer": "1"},
            "request-id": "r", "requester": "123456789012", "reason": "PutObject"}});
    let gone = s3_event(
        &lake.bucket,
        &["dms/public/t/2026/11/24/20261124-111500123.csv"],
    );
    let deps = lake.deps().await;
    let out = handler::handle(
        &deps,
        sqs_event(&[("m1", eventbridge.to_string()), ("m2", gone.to_string())]),
        None,
    )
    .await
    .expect("handled");
    let Output::Sqs(response) = out else {
        panic!("not an SQS response")
    };
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let count = lake
        .query("SELECT count(*) FROM \"public_t\"")
        .await
        .unwrap();
    assert_eq!(count[0][0].as_deref(), Some("2"));
}
