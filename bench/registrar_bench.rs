//! Partition registrar benchmark against the local emulator (moto server): handler time per
//! 1 000 records and Glue calls per 1 000 files, for a cold and a warm execution environment.
//!
//! Run: `scripts/moto.sh start && cargo run -p dmslake-tests --example registrar_bench`
//! (`BENCH_FILES` sets the number of files, default 1000; `BENCH_BATCH` the records per
//! invocation, default 10 as with an SQS trigger). Every file is the real DMS Parquet sample.
//! Times include the emulator's latency on this machine: compare runs, not absolute values.

use std::time::Instant;

use dmslake::config::Config;
use dmslake::glue::GlueCallCounter;
use dmslake_tests::{clients, new_bucket, samples_dir, sdk_config, unique_name};
use partition_registrar::handler::{self, Deps, Output, Settings};
use serde_json::{json, Value};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn s3_event(bucket: &str, keys: &[String]) -> Value {
    json!({"Records": keys.iter().map(|k| json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": {"key": k.replace('/', "%2F")}}
    })).collect::<Vec<_>>()})
}

struct Figures {
    label: &'static str,
    records: usize,
    seconds: f64,
    calls: std::collections::BTreeMap<String, usize>,
}

impl Figures {
    fn print(&self) {
        let per_k = 1000.0 / self.records as f64;
        let total: usize = self.calls.values().sum();
        println!(
            "{:<44} {:>8.2} s/1000 records {:>8.1} Glue calls/1000 files   {:?}",
            self.label,
            self.seconds * per_k,
            total as f64 * per_k,
            self.calls
        );
    }
}

async fn pass(
    label: &'static str,
    deps: &Deps,
    counter: &GlueCallCounter,
    bucket: &str,
    keys: &[String],
    batch: usize,
) -> anyhow::Result<Figures> {
    counter.reset();
    let started = Instant::now();
    for chunk in keys.chunks(batch) {
        match handler::handle(deps, s3_event(bucket, chunk), None).await {
            Ok(Output::Registered(r)) if r.failures.is_empty() => {}
            other => anyhow::bail!("{label}: unexpected outcome {other:?}"),
        }
    }
    Ok(Figures {
        label,
        records: keys.len(),
        seconds: started.elapsed().as_secs_f64(),
        calls: counter.snapshot(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let files = env_usize("BENCH_FILES", 1000).max(10);
    let batch = env_usize("BENCH_BATCH", 10).max(1);
    let tables = 10;
    let clients = clients().await;
    let bucket = new_bucket(&clients, "regbench").await;
    let body = std::fs::read(
        samples_dir().join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet"),
    )?;
    let key = |t: usize, i: usize, n: usize| {
        let day = i / tables;
        format!(
            "dms/public/t{t:02}/2026/{:02}/{:02}/2026{:02}{:02}-10{n:02}00000.parquet",
            1 + day / 28,
            1 + day % 28,
            1 + day / 28,
            1 + day % 28
        )
    };
    let mut first = Vec::with_capacity(files);
    let mut second = Vec::with_capacity(files);
    for i in 0..files {
        first.push(key(i % tables, i, 0));
        second.push(key(i % tables, i, 1));
    }
    eprintln!("uploading {} objects to s3://{bucket}/ ...", 2 * files);
    for k in first.iter().chain(&second) {
        clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key(k)
            .body(body.clone().into())
            .send()
            .await?;
    }

    let sdk = sdk_config().await;
    let counter = GlueCallCounter::default();
    let mut config = Config::from_lookup(&|_| None)?;
    config.layout.bucket_folder = "dms".into();
    config.layout.date_partition_enabled = true;
    config.raw_database = unique_name("bench", '_');
    let make = || {
        Deps::new(
            dmslake::clients::s3_client(&sdk),
            counter.client(&sdk),
            config.clone(),
            Settings {
                manifest_root: Some(Settings::manifest_root_for(&bucket, "dmslake-state/")),
                ..Settings::default()
            },
        )
    };

    println!(
        "{files} files per pass, {tables} tables, {files} partitions (one per file), {batch} records per invocation"
    );
    let warm_env = make();
    let results = [
        pass(
            "cold: new environment, empty catalog",
            &warm_env,
            &counter,
            &bucket,
            &first,
            batch,
        )
        .await?,
        pass(
            "warm: new files in known partitions",
            &warm_env,
            &counter,
            &bucket,
            &second,
            batch,
        )
        .await?,
        pass(
            "warm: duplicate deliveries",
            &warm_env,
            &counter,
            &bucket,
            &first,
            batch,
        )
        .await?,
        pass(
            "cold: new environment, catalog present",
            &make(),
            &counter,
            &bucket,
            &second,
            batch,
        )
        .await?,
        pass(
            "cold: one invocation of all files",
            &make(),
            &counter,
            &bucket,
            &first,
            files,
        )
        .await?,
    ];
    for r in &results {
        r.print();
    }
    Ok(())
}
