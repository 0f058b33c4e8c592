//! Every registrar sample in `events/` drives the partition-registrar handler against the local
//! emulator: the objects its keys name are uploaded (the real DMS Parquet sample for `.parquet`
//! keys, real northwind rows gzipped for `.csv.gz` keys), the sample's bucket is replaced by a
//! fresh one, and the catalog it leaves behind is read back from Glue.

use dmslake::config::Config;
use partition_registrar::handler::{self, Deps, Output, Settings};
use serde_json::Value;

const SAMPLE_BUCKET: &str = "dms-target-bucket";
const REGISTRAR_EVENTS: &[&str] = &[
    "s3-object-created-dms-parquet.json",
    "s3-object-created-dms-csv-gz.json",
    "eventbridge-s3-object-created.json",
    "sqs-s3-object-created.json",
    "sqs-s3-test-event.json",
    "sqs-eventbridge-s3-object-created.json",
    "registrar-backfill.json",
];

fn layout_config(database: &str) -> Config {
    let env = [
        ("DMSLAKE_BUCKET_FOLDER", "dms"),
        ("DMSLAKE_DATE_PARTITION_ENABLED", "true"),
        ("DMSLAKE_RAW_DATABASE", database),
    ];
    Config::from_lookup(&|name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("config")
}

/// Every object key a sample names (SQS bodies are JSON inside a string).
fn keys_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("key", Value::String(s)) => out.push(s.clone()),
                    ("body", Value::String(s)) => {
                        if let Ok(inner) = serde_json::from_str::<Value>(s) {
                            keys_in(&inner, out);
                        }
                    }
                    _ => keys_in(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys_in(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_registrar_sample_event_registers_what_it_names() {
    let clients = dmslake_tests::clients().await;
    let bucket = dmslake_tests::new_bucket(&clients, "events").await;
    let database = dmslake_tests::unique_name("events", '_').replace('-', "_");
    let samples = dmslake_tests::samples_dir();
    let parquet = std::fs::read(
        samples.join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet"),
    )
    .expect("parquet sample");
    let csv = std::fs::read(
        samples.join("northwind-postgres/cdc/public/order_details/20240705-201037838.csv"),
    )
    .expect("csv sample");

    // Column manifest for the headerless CSV table (declared as in the user's Athena DDL).
    let manifest = serde_json::json!({"public.order_details": [
        "Op", "dms_commit_ts", "order_id", "product_id", "unit_price", "quantity", "discount",
        "dms_change_seq", "BI_order_id", "BI_product_id"]});
    dmslake_tests::put_object(
        &clients.s3,
        &bucket,
        "config/columns.json",
        manifest.to_string(),
    )
    .await;

    let repo = dmslake_tests::repo_dir();
    let mut events = Vec::new();
    for name in REGISTRAR_EVENTS {
        let text = std::fs::read_to_string(repo.join("events").join(name)).expect("event");
        let text = text.replace(SAMPLE_BUCKET, &bucket);
        let value: Value = serde_json::from_str(&text).expect("json");
        let mut keys = Vec::new();
        keys_in(&value, &mut keys);
        for raw in keys {
            let key = dmslake::layout::decode_event_key(&raw).expect("decodable sample key");
            let body = if key.ends_with(".parquet") {
                parquet.clone()
            } else if key.ends_with(".csv.gz") {
                dmslake_tests::gzip(&csv)
            } else {
                csv.clone()
            };
            dmslake_tests::put_object(&clients.s3, &bucket, &key, body).await;
        }
        events.push((name, value));
    }

    let settings = Settings {
        csv_columns_uri: Some(format!("s3://{bucket}/config/columns.json")),
        manifest_root: Some(Settings::manifest_root_for(&bucket, "dmslake-state/")),
    };
    let deps = Deps::new(
        clients.s3.clone(),
        clients.glue.clone(),
        layout_config(&database),
        settings,
    );
    for (name, value) in events {
        let output = handler::handle(&deps, value, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: handler failed: {e}"));
        match output {
            Output::Sqs(batch) => {
                assert!(
                    batch.batch_item_failures.is_empty(),
                    "{name}: {:?}",
                    batch.batch_item_failures
                )
            }
            Output::Registered(report) => {
                assert!(
                    report.files + report.already_known >= 1,
                    "{name}: {report:?}"
                );
                assert!(report.failures.is_empty(), "{name}: {report:?}");
            }
            Output::Backfill(report) => {
                assert!(report.complete, "{name}: {report:?}");
                assert!(report.counts.failures.is_empty(), "{name}: {report:?}");
            }
        }
    }

    let tables = clients
        .glue
        .get_tables()
        .database_name(&database)
        .send()
        .await
        .expect("tables");
    let mut names: Vec<_> = tables
        .table_list()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["public_order_details", "public_orders"]);
    let orders = clients
        .glue
        .get_partitions()
        .database_name(&database)
        .table_name("public_orders")
        .send()
        .await
        .expect("partitions");
    let mut values: Vec<Vec<String>> = orders
        .partitions()
        .iter()
        .map(|p| p.values().to_vec())
        .collect();
    values.sort();
    assert_eq!(values, [vec!["0000", "00", "00"], vec!["2026", "11", "24"]]);
}
