//! The partition registrar against the local emulator, through the real SDK: burst economy,
//! idempotence under duplicate and reordered delivery, SQS partial batch failures, schema
//! evolution, backfill, bad input.

use std::collections::BTreeMap;
use std::sync::Arc;

use dmslake::clients::Clients;
use dmslake::config::{Config, DatePartitionSequence};
use dmslake::glue::GlueCallCounter;
use dmslake_tests::{clients, new_bucket, samples_dir, sdk_config, unique_name};
use partition_registrar::backfill;
use partition_registrar::event::BackfillRequest;
use partition_registrar::handler::{self, Deps, Output, Settings};
use serde_json::{json, Value};

// ---------------------------------------------------------------- harness

struct Lake {
    clients: Clients,
    calls: GlueCallCounter,
    bucket: String,
    config: Config,
    settings: Settings,
}

impl Lake {
    async fn new(date_partitioned: bool) -> Self {
        let clients = clients().await;
        let bucket = new_bucket(&clients, "reg").await;
        let mut config = Config::from_lookup(&|_| None).expect("default config");
        config.layout.bucket_folder = "dms".into();
        config.layout.date_partition_enabled = date_partitioned;
        config.layout.date_partition_sequence = DatePartitionSequence::Yyyymmdd;
        config.raw_database = unique_name("raw", '_');
        Self {
            clients,
            calls: GlueCallCounter::default(),
            settings: Settings {
                manifest_root: Some(Settings::manifest_root_for(&bucket, "dmslake-state/")),
                ..Settings::default()
            },
            bucket,
            config,
        }
    }

    /// A fresh execution environment (cold cache) writing to `database`.
    async fn deps_for(&self, database: &str) -> Deps {
        let sdk = sdk_config().await;
        let mut config = self.config.clone();
        config.raw_database = database.to_string();
        Deps::new(
            self.clients.s3.clone(),
            self.calls.client(&sdk),
            config,
            self.settings.clone(),
        )
    }

    async fn deps(&self) -> Deps {
        self.deps_for(&self.config.raw_database).await
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        dmslake_tests::put_object(&self.clients.s3, &self.bucket, key, body).await;
    }

    fn s3_event(&self, keys: &[String]) -> Value {
        s3_event(&self.bucket, keys)
    }
}

/// An S3 notification as moto sends it: keys URL-encoded, `/` included.
fn s3_event(bucket: &str, keys: &[String]) -> Value {
    json!({"Records": keys.iter().map(|k| json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:DMS"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
          "bucket": {"name": bucket, "ownerIdentity": {"principalId": "X"}, "arn": format!("arn:aws:s3:::{bucket}")},
          "object": {"key": k.replace('/', "%2F").replace(' ', "+"), "size": 1, "eTag": "e", "sequencer": "0"}}
    })).collect::<Vec<_>>()})
}

fn sqs_event(messages: &[(&str, String)]) -> Value {
    json!({"Records": messages.iter().map(|(id, body)| json!({
        "messageId": id, "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
        "md5OfBody": "m", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>()})
}

/// A one-row Parquet file with the given columns (`int32`, `int64` or `string`).
fn parquet(columns: &[(&str, &str)]) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let fields: String = columns
        .iter()
        .map(|(n, t)| match *t {
            "int32" => format!("OPTIONAL INT32 {n};"),
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
    for (_, t) in columns {
        let mut col = rg.next_column().expect("column").expect("more columns");
        match *t {
            "int32" => {
                col.typed::<Int32Type>()
                    .write_batch(&[7], Some(&[1]), None)
                    .expect("write");
            }
            "int64" => {
                col.typed::<Int64Type>()
                    .write_batch(&[7], Some(&[1]), None)
                    .expect("write");
            }
            _ => {
                col.typed::<ByteArrayType>()
                    .write_batch(&[ByteArray::from("x")], Some(&[1]), None)
                    .expect("write");
            }
        }
        col.close().expect("close column");
    }
    rg.close().expect("close row group");
    w.into_inner().expect("finish")
}

const ORDERS_V1: &[(&str, &str)] = &[
    ("Op", "string"),
    ("dms_commit_ts", "string"),
    ("id", "int32"),
    ("name", "string"),
];

fn cdc_key(table: &str, day: u32, n: u32) -> String {
    format!("dms/public/{table}/2026/11/{day:02}/202611{day:02}-10{n:02}00000.parquet")
}

/// The error as a person reads it: the whole chain of sources.
fn err_text(err: &handler::HandlerError) -> String {
    dmslake::error::chain(err)
}

async fn run(deps: &Deps, payload: Value) -> Result<Output, handler::HandlerError> {
    handler::handle(deps, payload, None).await
}

/// Everything a query engine would see of one database: per table the columns, partition
/// keys, parameters, location, SerDe, formats; per partition values, location and columns.
async fn snapshot(clients: &Clients, db: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let tables = match clients.glue.get_tables().database_name(db).send().await {
        Ok(t) => t,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_not_found_exception()) =>
        {
            return out
        }
        Err(e) => panic!("get tables: {e:?}"),
    };
    for t in tables.table_list() {
        let sd = t.storage_descriptor().expect("sd");
        let cols = |sd: &aws_sdk_glue::types::StorageDescriptor| {
            sd.columns()
                .iter()
                .map(|c| format!("{} {}", c.name(), c.r#type().unwrap_or("")))
                .collect::<Vec<_>>()
        };
        let mut parts: Vec<Value> = dmslake::glue::get_partitions(&clients.glue, db, t.name())
            .await
            .expect("partitions")
            .into_iter()
            .map(|p| {
                // Full-load manifests live under the database's own folder: compared
                // across databases without its name.
                json!([
                    p.partition.values,
                    p.partition
                        .location
                        .replace(&format!("/{db}/"), "/<database>/"),
                    p.partition.manifest,
                    p.columns
                        .iter()
                        .map(|c| format!("{} {}", c.name, c.ty))
                        .collect::<Vec<_>>()
                ])
            })
            .collect();
        parts.sort_by_key(|v| v.to_string());
        let params: BTreeMap<String, String> = t
            .parameters()
            .map(|p| p.clone().into_iter().collect())
            .unwrap_or_default();
        let serde = sd.serde_info().expect("serde");
        let serde_params: BTreeMap<String, String> = serde
            .parameters()
            .map(|p| p.clone().into_iter().collect())
            .unwrap_or_default();
        out.insert(
            t.name().to_string(),
            json!({
                "columns": cols(sd),
                "partition_keys": t.partition_keys().iter().map(|k| format!("{} {}", k.name(), k.r#type().unwrap_or(""))).collect::<Vec<_>>(),
                "parameters": params,
                "location": sd.location(),
                "input": sd.input_format(), "output": sd.output_format(),
                "serde": serde.serialization_library(), "serde_parameters": serde_params,
                "partitions": parts,
            }),
        );
    }
    out
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn burst_registers_each_table_and_partition_once_with_batched_glue_writes() {
    let lake = Lake::new(true).await;
    let tables = ["orders", "customers", "order_lines"];
    let mut keys = Vec::new();
    for t in tables {
        let load = format!("dms/public/{t}/LOAD00000001.parquet");
        lake.put(&load, parquet(ORDERS_V1)).await;
        keys.push(load);
        for day in 1..=6 {
            for n in 0..3 {
                let k = cdc_key(t, day, n);
                lake.put(&k, parquet(ORDERS_V1)).await;
                keys.push(k);
            }
        }
    }
    // 105 dates of one more table: more than one BatchCreatePartition call's worth.
    let mut big = Vec::new();
    for i in 0..105u32 {
        let k = format!(
            "dms/public/events/2026/{:02}/{:02}/2026{:02}{:02}-000000000.parquet",
            1 + i / 28,
            1 + i % 28,
            1 + i / 28,
            1 + i % 28
        );
        lake.put(&k, parquet(ORDERS_V1)).await;
        big.push(k);
    }
    keys.extend(big.iter().cloned());
    let deps = lake.deps().await;

    let out = run(&deps, lake.s3_event(&keys)).await.expect("registered");
    let Output::Registered(report) = out else {
        panic!("not a registration report")
    };
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    // 3 tables × (1 full-load partition + 6 days) + 105 days.
    assert_eq!(report.partitions_registered, 3 * 7 + 105);
    assert_eq!(report.tables_created, 4);
    assert_eq!(lake.calls.get("CreateTable"), 4);
    let max_batches = 3 * 7_usize.div_ceil(100) + 105_usize.div_ceil(100);
    assert!(
        lake.calls.get("BatchCreatePartition") <= max_batches,
        "{} BatchCreatePartition calls for {max_batches} allowed",
        lake.calls.get("BatchCreatePartition")
    );
    assert_eq!(lake.calls.get("UpdateTable"), 0);
    assert!(
        lake.calls.writes() <= max_batches + 4 + 1,
        "Glue writes: {:?}",
        lake.calls.snapshot()
    );

    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    assert_eq!(snap.len(), 4);
    assert_eq!(
        snap["public_events"]["partitions"]
            .as_array()
            .unwrap()
            .len(),
        105
    );
    let orders = &snap["public_orders"];
    assert_eq!(orders["partitions"].as_array().unwrap().len(), 7);
    assert_eq!(
        orders["partition_keys"],
        json!(["year string", "month string", "day string"])
    );
    assert_eq!(
        orders["location"],
        json!(format!("s3://{}/dms/public/orders/", lake.bucket))
    );
    assert_eq!(
        orders["parameters"]["dmslake.source_table"],
        json!("orders")
    );
    assert_eq!(orders["parameters"]["classification"], json!("parquet"));
    assert_eq!(
        orders["serde"],
        json!("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    let cols: Vec<String> = serde_json::from_value(orders["columns"].clone()).unwrap();
    assert_eq!(cols.len(), 4);
    assert!(cols[0].starts_with("op "), "{cols:?}");
    assert!(cols[1].starts_with("dms_commit_ts "), "{cols:?}");
    let parts = orders["partitions"].as_array().unwrap();
    // The full-load partition is read through manifests, not the table folder.
    assert!(parts.iter().any(|p| p[0] == json!(["0000", "00", "00"])
        && p[1]
            == json!(format!(
                "s3://{}/dmslake-state/full-load-manifests/<database>/public_orders/",
                lake.bucket
            ))
        && p[2] == json!(true)));
    assert!(parts.iter().any(|p| p[0] == json!(["2026", "11", "03"])
        && p[1]
            == json!(format!(
                "s3://{}/dms/public/orders/2026/11/03/",
                lake.bucket
            ))));

    // Warm: new files in known partitions cost one GetTable per table (a table dropped
    // meanwhile is noticed) and no write.
    lake.calls.reset();
    let mut more = Vec::new();
    for t in tables {
        let k = cdc_key(t, 2, 9);
        lake.put(&k, parquet(ORDERS_V1)).await;
        more.push(k);
    }
    run(&deps, lake.s3_event(&more)).await.expect("warm");
    assert_eq!(lake.calls.writes(), 0, "{:?}", lake.calls.snapshot());
    assert_eq!(
        lake.calls.get("GetTable"),
        tables.len(),
        "{:?}",
        lake.calls.snapshot()
    );
}

#[tokio::test]
async fn duplicate_and_reordered_deliveries_leave_the_catalog_of_one_in_order_delivery() {
    let lake = Lake::new(true).await;
    let mut keys = Vec::new();
    for t in ["orders", "customers"] {
        let load = format!("dms/public/{t}/LOAD00000001.parquet");
        lake.put(&load, parquet(ORDERS_V1)).await;
        keys.push(load);
        for day in 1..=4 {
            for n in 0..2 {
                let k = cdc_key(t, day, n);
                lake.put(&k, parquet(ORDERS_V1)).await;
                keys.push(k);
            }
        }
    }
    let in_order_db = unique_name("raw", '_');
    let deps = lake.deps_for(&in_order_db).await;
    for k in &keys {
        run(&deps, lake.s3_event(std::slice::from_ref(k)))
            .await
            .expect("in order");
    }

    // Reversed, interleaved, every key twice, across several cold environments.
    let messy_db = unique_name("raw", '_');
    let mut messy: Vec<String> = keys.iter().rev().cloned().collect();
    messy.extend(keys.iter().step_by(3).cloned());
    for chunk in messy.chunks(5) {
        let cold = lake.deps_for(&messy_db).await;
        let mut twice = chunk.to_vec();
        twice.extend(chunk.iter().cloned());
        run(&cold, lake.s3_event(&twice)).await.expect("messy");
    }
    let a = snapshot(&lake.clients, &in_order_db).await;
    let b = snapshot(&lake.clients, &messy_db).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
}

#[tokio::test]
async fn sqs_batch_with_one_poisoned_message_returns_only_that_message() {
    let lake = Lake::new(true).await;
    let good1 = cdc_key("orders", 1, 0);
    let good2 = cdc_key("orders", 2, 0);
    let corrupt = cdc_key("orders", 3, 0);
    lake.put(&good1, parquet(ORDERS_V1)).await;
    lake.put(&good2, parquet(ORDERS_V1)).await;
    lake.put(&corrupt, b"PAR1 this is not a parquet file PAR1".to_vec())
        .await;
    let test_event =
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": lake.bucket}).to_string();
    let payload = sqs_event(&[
        ("m-test", test_event),
        (
            "m-good1",
            lake.s3_event(std::slice::from_ref(&good1)).to_string(),
        ),
        ("m-garbage", "{\"not\": \"an s3 event\"}".to_string()),
        (
            "m-corrupt",
            lake.s3_event(std::slice::from_ref(&corrupt)).to_string(),
        ),
        (
            "m-good2",
            lake.s3_event(std::slice::from_ref(&good2)).to_string(),
        ),
    ]);
    let deps = lake.deps().await;
    let Output::Sqs(resp) = run(&deps, payload).await.expect("sqs") else {
        panic!("not an SQS response")
    };
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-garbage", "m-corrupt"]);
    let wire = serde_json::to_value(&resp).unwrap();
    assert_eq!(
        wire["batchItemFailures"][0]["itemIdentifier"],
        json!("m-garbage")
    );

    let parts = dmslake::glue::get_partitions(
        &lake.clients.glue,
        &lake.config.raw_database,
        "public_orders",
    )
    .await
    .unwrap();
    let mut values: Vec<Vec<String>> = parts.into_iter().map(|p| p.partition.values).collect();
    values.sort();
    assert_eq!(values, [["2026", "11", "01"], ["2026", "11", "02"]]);
}

#[tokio::test]
async fn added_column_updates_the_table_and_old_partitions_stay_listed() {
    let lake = Lake::new(true).await;
    let old = cdc_key("orders", 1, 0);
    let new = cdc_key("orders", 2, 0);
    lake.put(&old, parquet(ORDERS_V1)).await;
    let mut v2 = ORDERS_V1.to_vec();
    v2.push(("email", "string"));
    lake.put(&new, parquet(&v2)).await;
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(std::slice::from_ref(&old)))
        .await
        .expect("v1");
    run(&deps, lake.s3_event(std::slice::from_ref(&new)))
        .await
        .expect("v2");

    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    let t = &snap["public_orders"];
    let cols: Vec<String> = serde_json::from_value(t["columns"].clone()).unwrap();
    assert_eq!(cols.len(), 5);
    assert!(cols[4].starts_with("email "), "{cols:?}");
    assert_eq!(t["partitions"].as_array().unwrap().len(), 2);
    assert_eq!(lake.calls.get("UpdateTable"), 1);

    // An older file arriving late (fewer columns) is fine and changes nothing.
    let late = cdc_key("orders", 1, 5);
    lake.put(&late, parquet(ORDERS_V1)).await;
    run(&deps, lake.s3_event(&[late]))
        .await
        .expect("late older file");
    assert_eq!(
        snapshot(&lake.clients, &lake.config.raw_database).await,
        snap
    );
}

#[tokio::test]
async fn changed_type_is_a_named_error_and_the_table_is_unchanged() {
    let lake = Lake::new(true).await;
    let old = cdc_key("orders", 1, 0);
    let bad = cdc_key("orders", 2, 0);
    lake.put(&old, parquet(ORDERS_V1)).await;
    let changed: Vec<(&str, &str)> = ORDERS_V1
        .iter()
        .map(|(n, t)| if *n == "id" { (*n, "int64") } else { (*n, *t) })
        .collect();
    lake.put(&bad, parquet(&changed)).await;
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(std::slice::from_ref(&old)))
        .await
        .expect("v1");
    let before = snapshot(&lake.clients, &lake.config.raw_database).await;

    let err = run(&deps, lake.s3_event(std::slice::from_ref(&bad)))
        .await
        .expect_err("type change must fail");
    assert_eq!(err.error_type(), "SchemaChangeRejected");
    for part in ["public_orders", "\"id\"", "int", "bigint", &bad] {
        assert!(
            err_text(&err).contains(part),
            "{part} missing in: {}",
            err_text(&err)
        );
    }
    assert_eq!(
        snapshot(&lake.clients, &lake.config.raw_database).await,
        before
    );
    // And again from a cold environment: still refused, still unchanged.
    let cold = lake.deps().await;
    assert!(run(&cold, lake.s3_event(&[bad])).await.is_err());
    assert_eq!(
        snapshot(&lake.clients, &lake.config.raw_database).await,
        before
    );
}

#[tokio::test]
async fn backfill_of_hundreds_of_files_matches_event_by_event_registration() {
    let lake = Lake::new(true).await;
    let mut keys = Vec::new();
    for t in ["orders", "customers", "products"] {
        let load = format!("dms/public/{t}/LOAD00000001.parquet");
        lake.put(&load, parquet(ORDERS_V1)).await;
        keys.push(load);
        for day in 1..=20 {
            for n in 0..4 {
                let k = cdc_key(t, day, n);
                lake.put(&k, parquet(ORDERS_V1)).await;
                keys.push(k);
            }
        }
    }
    lake.put("dms/public/orders/notes.txt", b"not data".to_vec())
        .await;
    assert!(keys.len() >= 240);

    let events_db = unique_name("raw", '_');
    let deps = lake.deps_for(&events_db).await;
    for chunk in keys.chunks(10) {
        run(&deps, lake.s3_event(chunk)).await.expect("events");
    }

    // Backfill in pages of 40, interrupted after the first run and resumed from its key.
    let backfill_db = unique_name("raw", '_');
    let bf = lake.deps_for(&backfill_db).await;
    let req = BackfillRequest {
        bucket: lake.bucket.clone(),
        prefix: "dms/".into(),
        start_after: None,
    };

    let first = backfill::run(&bf, &req, None, 40).await.expect("backfill");
    assert!(first.complete);
    assert_eq!(first.counts.files, keys.len());
    assert_eq!(first.counts.skipped, 1);
    assert!(
        first.counts.failures.is_empty(),
        "{:?}",
        first.counts.failures
    );
    assert_eq!(first.keys_listed, keys.len() + 1);
    assert!(first.pages >= 7);

    // Resuming from the middle, from a cold environment, re-registers nothing new.
    let cold = lake.deps_for(&backfill_db).await;
    let mid = BackfillRequest {
        start_after: Some(keys[keys.len() / 2].clone()),
        ..req.clone()
    };
    let resumed = backfill::run(&cold, &mid, None, 40).await.expect("resume");
    assert!(resumed.complete);
    assert_eq!(resumed.counts.partitions_registered, 0);
    assert!(resumed.keys_listed < keys.len());

    assert_eq!(
        snapshot(&lake.clients, &events_db).await,
        snapshot(&lake.clients, &backfill_db).await
    );

    // A deadline already passed (a short timeout): every invocation still reads one page and
    // says where to resume, so invoking again with `resume_after` gets through the prefix.
    let short_db = unique_name("raw", '_');
    let short = lake.deps_for(&short_db).await;
    let mut next = req.clone();
    let (mut invocations, mut files, mut listed) = (0, 0, 0);
    loop {
        let r = backfill::run(&short, &next, Some(std::time::Instant::now()), 40)
            .await
            .expect("one page");
        invocations += 1;
        assert!(r.pages <= 1, "{r:?}");
        files += r.counts.files;
        listed += r.keys_listed;
        if r.complete {
            break;
        }
        assert!(r.resume_after.is_some() && r.resume_after != next.start_after);
        next.start_after = r.resume_after;
        assert!(invocations < 50, "no progress");
    }
    assert_eq!((files, listed), (keys.len(), keys.len() + 1));
    assert!(invocations >= 7);
    assert_eq!(
        snapshot(&lake.clients, &events_db).await,
        snapshot(&lake.clients, &short_db).await
    );

    // The Lambda shape: a backfill request as an invocation payload.
    let lambda_db = unique_name("raw", '_');
    let l = lake.deps_for(&lambda_db).await;
    let out = run(
        &l,
        json!({"action": "backfill", "bucket": lake.bucket, "prefix": "dms/public/orders/"}),
    )
    .await
    .expect("lambda backfill");
    let Output::Backfill(rep) = out else {
        panic!("not a backfill report")
    };
    assert!(rep.complete);
    assert_eq!(rep.counts.files, 81);
    assert_eq!(
        rep.resume_after.as_deref(),
        Some("dms/public/orders/notes.txt")
    );
}

#[tokio::test]
async fn bad_input_is_skipped_or_failed_never_dropped() {
    let lake = Lake::new(true).await;
    let deps = lake.deps().await;
    // Not DMS data: skipped, success.
    let out = run(
        &deps,
        lake.s3_event(&["dms/public/orders/_README.txt".to_string()]),
    )
    .await
    .expect("skip");
    let Output::Registered(r) = out else { panic!() };
    assert_eq!((r.skipped, r.files), (1, 0));
    // A malformed direct invocation is an error with a type.
    let err = run(&deps, json!({"hello": 1}))
        .await
        .expect_err("malformed");
    assert_eq!(err.error_type(), "InvalidEvent");
    // A file deleted before it was read (NoSuchKey) is acknowledged, counted, not retried.
    let out = run(&deps, lake.s3_event(&[cdc_key("orders", 1, 0)]))
        .await
        .expect("a missing file is acknowledged");
    let Output::Registered(r) = out else { panic!() };
    assert_eq!((r.missing, r.files, r.failures.len()), (1, 0, 0));
    // EventBridge with a corrupt file: error.
    let k = cdc_key("orders", 2, 0);
    lake.put(&k, b"garbage".to_vec()).await;
    let eb = json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "1", "time": "2026-11-24T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"version": "0", "bucket": {"name": lake.bucket}, "object": {"key": k, "size": 7}}});
    let err = run(&deps, eb).await.expect_err("corrupt file");
    assert_eq!(err.error_type(), "UnreadableFile");
    // Nothing was registered.
    assert!(snapshot(&lake.clients, &lake.config.raw_database)
        .await
        .is_empty());
}

#[tokio::test]
async fn real_dms_parquet_sample_creates_a_parquet_table() {
    let lake = Lake::new(false).await;
    let path = samples_dir().join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    let key = "dms/public/dms_test_table/LOAD00000001.parquet".to_string();
    lake.put(&key, std::fs::read(&path).expect("sample")).await;
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(std::slice::from_ref(&key)))
        .await
        .expect("registered");
    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    let t = &snap["public_dms_test_table"];
    assert_eq!(t["partition_keys"], json!([]));
    assert_eq!(
        t["location"],
        json!(format!("s3://{}/dms/public/dms_test_table/", lake.bucket))
    );
    assert_eq!(
        t["input"],
        json!("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
    );
    let cols: Vec<String> = serde_json::from_value(t["columns"].clone()).unwrap();
    assert!(
        cols.iter().any(|c| c.starts_with("dms_timestamp ")),
        "{cols:?}"
    );
    assert!(cols.len() > 10, "{cols:?}");
}

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(samples_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[tokio::test]
async fn csv_with_header_rows_gets_an_opencsv_table_that_skips_the_header() {
    let lake = Lake::new(false).await;
    let key = "dms/hr/employees/20190118-184518184.csv".to_string();
    lake.put(
        &key,
        sample("oracle-hr-with-header/dms/hr/employees/20190118-184518184.csv"),
    )
    .await;
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(std::slice::from_ref(&key)))
        .await
        .expect("registered");
    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    let t = &snap["hr_employees"];
    assert_eq!(
        t["serde"],
        json!("org.apache.hadoop.hive.serde2.OpenCSVSerde")
    );
    assert_eq!(t["serde_parameters"]["separatorChar"], json!(","));
    assert_eq!(t["serde_parameters"]["quoteChar"], json!("\""));
    assert_eq!(t["serde_parameters"]["escapeChar"], json!("\u{0}"));
    assert_eq!(t["parameters"]["skip.header.line.count"], json!("1"));
    assert_eq!(t["parameters"]["classification"], json!("csv"));
    assert_eq!(
        t["input"],
        json!("org.apache.hadoop.mapred.TextInputFormat")
    );
    assert_eq!(
        t["output"],
        json!("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
    );
    let cols: Vec<String> = serde_json::from_value(t["columns"].clone()).unwrap();
    assert_eq!(cols[0], "op string");
    assert_eq!(cols[1], "employee_id string");
    assert_eq!(cols.len(), 12);
    assert_eq!(t["partition_keys"], json!([]));

    // The full-load file of the same table has no Op column: by position it cannot share
    // the table (DMS IncludeOpForFullLoad=false), so it is refused, not mis-registered.
    let load = "dms/hr/employees/LOAD00000001.csv".to_string();
    lake.put(
        &load,
        sample("oracle-hr-with-header/dms/hr/employees/LOAD00000001.csv"),
    )
    .await;
    let err = run(&deps, lake.s3_event(&[load]))
        .await
        .expect_err("positional mismatch");
    assert_eq!(err.error_type(), "SchemaChangeRejected");
    assert!(err_text(&err).contains("\"op\""), "{}", err_text(&err));
    assert_eq!(
        snapshot(&lake.clients, &lake.config.raw_database).await,
        snap
    );
}

#[tokio::test]
async fn gzipped_csv_header_rows_are_read_from_the_start_of_the_stream() {
    let lake = Lake::new(false).await;
    // The real Oracle sample with a header row, gzipped as DMS writes `.csv.gz`.
    let plain = sample("oracle-hr-with-header/dms/hr/employees/20190118-184518184.csv");
    let key = "dms/hr/employees/20190118-184518184.csv.gz".to_string();
    lake.put(&key, dmslake_tests::gzip(&plain)).await;
    // A file whose compressed size is beyond the 64 KiB read: only its start is decoded.
    let mut big = String::from("Op,EVENT_ID,PAYLOAD\n");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..8000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.push_str(&format!("I,{i},{x:016x}{:016x}\n", x.rotate_left(23)));
    }
    let big = dmslake_tests::gzip(big.as_bytes());
    assert!(big.len() > 64 * 1024, "{} bytes", big.len());
    let big_key = "dms/hr/events/20190118-184518185.csv.gz".to_string();
    lake.put(&big_key, big).await;

    let deps = lake.deps().await;
    run(&deps, lake.s3_event(&[key, big_key]))
        .await
        .expect("registered without a manifest");
    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    let t = &snap["hr_employees"];
    let cols: Vec<String> = serde_json::from_value(t["columns"].clone()).unwrap();
    assert_eq!(cols.len(), 12, "{cols:?}");
    assert_eq!(cols[0], "op string");
    assert_eq!(cols[1], "employee_id string");
    assert_eq!(t["parameters"]["skip.header.line.count"], json!("1"));
    assert_eq!(t["parameters"]["classification"], json!("csv"));
    let cols: Vec<String> = serde_json::from_value(snap["hr_events"]["columns"].clone()).unwrap();
    assert_eq!(
        cols,
        ["op string", "event_id string", "payload string"],
        "{snap:?}"
    );

    // A corrupt `.csv.gz` is refused naming the object, not registered.
    let bad = "dms/hr/jobs/20190118-184518186.csv.gz".to_string();
    lake.put(&bad, plain).await;
    let err = run(&deps, lake.s3_event(std::slice::from_ref(&bad)))
        .await
        .expect_err("not gzip");
    assert!(err_text(&err).contains(&bad), "{}", err_text(&err));
    assert!(!snapshot(&lake.clients, &lake.config.raw_database)
        .await
        .contains_key("hr_jobs"));
}

#[tokio::test]
async fn headerless_csv_takes_its_columns_from_the_manifest_or_fails_naming_it() {
    let mut lake = Lake::new(false).await;
    lake.config.layout.bucket_folder = "cdc".into();
    let files = [
        "LOAD00000001.csv",
        "20240612-103127367.csv",
        "20240612-103647680.csv",
    ];
    let mut keys = Vec::new();
    for f in files {
        let key = format!("cdc/public/order_details/{f}");
        lake.put(
            &key,
            sample(&format!("northwind-postgres/cdc/public/order_details/{f}")),
        )
        .await;
        keys.push(key);
    }
    // Without a manifest: refused with a message naming the setting.
    let deps = lake.deps().await;
    let err = run(&deps, lake.s3_event(&keys[..1]))
        .await
        .expect_err("no columns known");
    assert_eq!(err.error_type(), "UnreadableFile");
    assert!(
        err_text(&err).contains("DMSLAKE_CSV_COLUMNS_URI"),
        "{}",
        err_text(&err)
    );

    let manifest = json!({"public.order_details": [
        "Op", "dms_commit_ts", "order_id", "product_id", "unit_price", "quantity", "discount",
        "dms_change_seq", "BI_order_id", "BI_product_id"]});
    lake.put("config/csv-columns.json", manifest.to_string().into_bytes())
        .await;
    lake.settings.csv_columns_uri = Some(format!("s3://{}/config/csv-columns.json", lake.bucket));
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(&keys)).await.expect("registered");
    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    let t = &snap["public_order_details"];
    let cols: Vec<String> = serde_json::from_value(t["columns"].clone()).unwrap();
    assert_eq!(cols.len(), 10);
    assert_eq!(cols[0], "op string");
    assert_eq!(cols[7], "dms_change_seq string");
    assert_eq!(cols[8], "bi_order_id string");
    assert!(t["parameters"].get("skip.header.line.count").is_none());
    assert_eq!(
        t["location"],
        json!(format!("s3://{}/cdc/public/order_details/", lake.bucket))
    );
}

#[tokio::test]
async fn csv_added_column_updates_the_table_and_every_partition() {
    let lake = Lake::new(true).await;
    let day1 = "dms/public/orders/2026/11/01/20261101-100000000.csv".to_string();
    let day2 = "dms/public/orders/2026/11/02/20261102-100000000.csv".to_string();
    let day3 = "dms/public/orders/2026/11/03/20261103-100000000.csv".to_string();
    lake.put(&day1, b"Op,id,name\nI,1,a\n".to_vec()).await;
    lake.put(&day2, b"Op,id,name\nI,2,b\n".to_vec()).await;
    lake.put(&day3, b"Op,id,name,email\nI,3,c,x@y\n".to_vec())
        .await;
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(&[day1.clone(), day2.clone()]))
        .await
        .expect("v1");
    lake.calls.reset();
    run(&deps, lake.s3_event(&[day3])).await.expect("v2");
    assert_eq!(lake.calls.get("UpdateTable"), 1);
    assert_eq!(lake.calls.get("BatchUpdatePartition"), 1);

    let snap = snapshot(&lake.clients, &lake.config.raw_database).await;
    let t = &snap["public_orders"];
    let want = json!(["op string", "id string", "name string", "email string"]);
    assert_eq!(t["columns"], want);
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for p in parts {
        assert_eq!(p[3], want, "partition {} keeps stale columns", p[0]);
    }
}

#[tokio::test]
async fn moto_s3_notifications_through_sqs_register_and_acknowledge_the_test_event() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let lake = Lake::new(true).await;
    let sdk = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(unique_name("reg", '-'))
        .send()
        .await
        .expect("queue");
    let url = queue.queue_url().expect("url").to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attrs")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("arn");
    let conf = aws_sdk_s3::types::NotificationConfiguration::builder()
        .queue_configurations(
            aws_sdk_s3::types::QueueConfiguration::builder()
                .queue_arn(arn)
                .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
                .build()
                .expect("queue configuration"),
        )
        .build();
    lake.clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(&lake.bucket)
        .notification_configuration(conf)
        .send()
        .await
        .expect("notification");
    let keys = [cdc_key("orders", 1, 0), cdc_key("orders", 2, 0)];
    for k in &keys {
        lake.put(k, parquet(ORDERS_V1)).await;
    }
    let mut messages = Vec::new();
    for _ in 0..10 {
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for m in got.messages() {
            messages.push((
                m.message_id().unwrap_or_default().to_string(),
                m.body().unwrap_or_default().to_string(),
            ));
        }
        if messages.len() >= 3 {
            break;
        }
    }
    assert!(messages.len() >= 2, "{messages:?}");
    let refs: Vec<(&str, String)> = messages
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();
    let deps = lake.deps().await;
    let Output::Sqs(resp) = run(&deps, sqs_event(&refs)).await.expect("sqs") else {
        panic!("not an SQS response")
    };
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let parts = dmslake::glue::get_partitions(
        &lake.clients.glue,
        &lake.config.raw_database,
        "public_orders",
    )
    .await
    .unwrap();
    assert_eq!(parts.len(), 2);
}

#[tokio::test]
async fn two_source_tables_with_one_glue_name_are_an_error_not_a_merge() {
    let lake = Lake::new(true).await;
    let first = cdc_key("orders", 1, 0);
    let clash = "dms/public/Orders/2026/11/02/20261102-100000000.parquet".to_string();
    lake.put(&first, parquet(ORDERS_V1)).await;
    let mut other = ORDERS_V1.to_vec();
    other.push(("extra", "string"));
    lake.put(&clash, parquet(&other)).await;
    let deps = lake.deps().await;
    run(&deps, lake.s3_event(std::slice::from_ref(&first)))
        .await
        .expect("first");
    let before = snapshot(&lake.clients, &lake.config.raw_database).await;
    let err = run(&deps, lake.s3_event(&[clash]))
        .await
        .expect_err("collision");
    assert_eq!(err.error_type(), "TableNameCollision");
    assert!(
        err_text(&err).contains("public.orders") && err_text(&err).contains("public.Orders"),
        "{}",
        err_text(&err)
    );
    assert_eq!(
        snapshot(&lake.clients, &lake.config.raw_database).await,
        before
    );
}

#[tokio::test]
async fn a_glue_failure_on_one_table_fails_only_that_tables_messages() {
    let lake = Lake::new(true).await;
    // A foreign table already holds the name public_orders: dmslake must not touch it.
    lake.clients
        .glue
        .create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(&lake.config.raw_database)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("database");
    lake.clients
        .glue
        .create_table()
        .database_name(&lake.config.raw_database)
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name("public_orders")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("foreign table");
    let orders = cdc_key("orders", 1, 0);
    let customers = cdc_key("customers", 1, 0);
    lake.put(&orders, parquet(ORDERS_V1)).await;
    lake.put(&customers, parquet(ORDERS_V1)).await;
    let deps = lake.deps().await;
    let payload = sqs_event(&[
        (
            "m-orders",
            lake.s3_event(std::slice::from_ref(&orders)).to_string(),
        ),
        (
            "m-customers",
            lake.s3_event(std::slice::from_ref(&customers)).to_string(),
        ),
    ]);
    let Output::Sqs(resp) = run(&deps, payload).await.expect("sqs") else {
        panic!("not an SQS response")
    };
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-orders"]);
    let db = &lake.config.raw_database;
    let customers = dmslake::glue::get_partitions(&lake.clients.glue, db, "public_customers")
        .await
        .unwrap();
    assert_eq!(customers.len(), 1);
    let foreign = lake
        .clients
        .glue
        .get_table()
        .database_name(db)
        .name("public_orders")
        .send()
        .await
        .unwrap();
    let table = foreign.table().unwrap();
    assert!(
        table.storage_descriptor().is_none(),
        "foreign table was modified"
    );
    assert!(table
        .parameters()
        .is_none_or(|p| !p.contains_key("dmslake.format")));
}
