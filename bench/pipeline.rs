//! The local pipeline as a program: `demo` (what `make demo` shows) and `bench` (throughput and
//! latency of capture → catalog → current state). Both drive `dmslake_tests::pipeline`.
//!
//! ```text
//! cargo run -p dmslake-tests --example pipeline -- demo
//! cargo run -p dmslake-tests --example pipeline -- bench [--changes N] [--format csv|parquet]
//! cargo run -p dmslake-tests --example pipeline -- merge-cost [--sizes 10000,100000,1000000] [--batch 1000]
//! ```
//! `merge-cost` prints, per MERGE of a fixed batch of changes into a current-state table of
//! each size, the bytes the engine read from the curated table and from the raw table (Trino's
//! statistics of the query the compactor's MERGE ran as, `TRINO_PORT`).
//! Needs the local stack (`make stack-up`: the emulator, Trino and the local Athena; the demo
//! also starts the Lambda emulator) and PostgreSQL (`scripts/postgres.sh start`, which the
//! program also runs). `DMSLAKE_E2E_SEED`
//! chooses the workload; `DMSLAKE_DEMO_FORMAT` (`parquet`, the default, or `csv`) the files the
//! demo's DMS writes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use dms_local::{DataFormat, MigrationType};
use dmslake_tests::pipeline::{self, Options, Perturbation, Pipeline, TableReport};

fn usage() -> ExitCode {
    eprintln!("usage: pipeline demo | pipeline bench [--changes N] [--format csv|parquet] | pipeline merge-cost [--sizes N,N,...] [--batch N]");
    ExitCode::from(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo().await,
        Some("bench") => {
            let changes = args
                .iter()
                .position(|a| a == "--changes")
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(2_000);
            let format = match args.iter().position(|a| a == "--format") {
                Some(i) => match args.get(i + 1).map(|f| f.parse::<DataFormat>()) {
                    Some(Ok(f)) => f,
                    _ => return usage(),
                },
                None => DataFormat::Csv,
            };
            bench(changes, format).await.map(|()| true)
        }
        Some("merge-cost") => {
            let sizes: Vec<usize> = match args.iter().position(|a| a == "--sizes") {
                Some(i) => match args.get(i + 1).map(|v| {
                    v.split(',')
                        .map(|n| n.trim().parse::<usize>())
                        .collect::<Result<Vec<_>, _>>()
                }) {
                    Some(Ok(sizes)) if !sizes.is_empty() => sizes,
                    _ => return usage(),
                },
                None => vec![10_000, 100_000, 1_000_000],
            };
            let batch = args
                .iter()
                .position(|a| a == "--batch")
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000);
            merge_cost(&sizes, batch).await.map(|()| true)
        }
        _ => return usage(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:?}");
            ExitCode::FAILURE
        }
    }
}

/// One progress line with the time since start.
struct Progress(Instant);

impl Progress {
    fn line(&self, text: &str) {
        println!("[{:6.1}s] {text}", self.0.elapsed().as_secs_f64());
    }
}

fn summary(reports: &[TableReport]) {
    println!();
    println!(
        "{:<24} {:>6} {:>11} {:>14} {:>12}  equal to source",
        "table", "files", "partitions", "current rows", "source rows"
    );
    for r in reports {
        println!(
            "{:<24} {:>6} {:>11} {:>14} {:>12}  {}",
            r.source,
            r.files_written,
            r.partitions_registered,
            r.current_rows,
            r.source_rows,
            if r.equal() { "yes" } else { "NO" }
        );
        for d in &r.differences {
            println!("    {d}");
        }
    }
}

/// Invokes `function` under cargo-lambda's emulator with `payload` (written to `dir/file`);
/// returns what the function answered.
fn invoke_lambda(
    function: &str,
    payload: &serde_json::Value,
    dir: &std::path::Path,
    file: &str,
) -> Result<String> {
    let event = dir.join(file);
    std::fs::write(&event, payload.to_string())
        .with_context(|| format!("writing {}", event.display()))?;
    let out = std::process::Command::new(dmslake_tests::repo_dir().join("scripts/lambda-local.sh"))
        .arg("invoke")
        .arg(function)
        .arg(&event)
        .output()
        .context("running scripts/lambda-local.sh")?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        bail!(
            "scripts/lambda-local.sh invoke {function} {}: {}{}",
            event.display(),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// The dms-task-watcher under the emulator, given the `index`-th task event dms-local put on
/// the bus, as EventBridge's rule would deliver it; one progress line with what it did.
fn watch_event(p: &Pipeline, index: usize, dir: &std::path::Path, progress: &Progress) {
    let Some(event) = p.dms.events.get(index) else {
        return;
    };
    let id = event["detail"]["eventId"].as_str().unwrap_or("?");
    let file = format!("dms-event-{index}.json");
    match invoke_lambda("dms-task-watcher", event, dir, &file) {
        Ok(out) => {
            let done = serde_json::from_str::<serde_json::Value>(&out)
                .ok()
                .and_then(|v| v["tasks"].get(0).map(|t| t["done"].to_string()))
                .unwrap_or(out);
            progress.line(&format!("dms-task-watcher Lambda, DMS event {id}: {done}"));
        }
        Err(e) => progress.line(&format!("dms-task-watcher Lambda invoke failed: {e:#}")),
    }
}

/// One progress line with what the round's compactor Lambda run did.
fn compactor_line(p: &Pipeline, round: &str, progress: &Progress) {
    if let Some(run) = p.compactor_runs.last() {
        progress.line(&format!(
            "{round}: compactor Lambda (cargo-lambda emulator, scheduled event) in {:.1} s: {}",
            run.elapsed.as_secs_f64(),
            run.describe()
        ));
    }
}

/// `DMSLAKE_DEMO_FAULT=drop|duplicate|swap` damages one file of round 2, to show a failing
/// comparison.
fn fault_from_env() -> Result<Option<(usize, Perturbation)>> {
    Ok(match std::env::var("DMSLAKE_DEMO_FAULT").ok().as_deref() {
        None | Some("") => None,
        Some("drop") => Some((2, Perturbation::DropOne)),
        Some("duplicate") => Some((2, Perturbation::DuplicateOne)),
        Some("swap") => Some((2, Perturbation::SwapTwo)),
        Some(other) => bail!("DMSLAKE_DEMO_FAULT={other}: expected drop, duplicate or swap"),
    })
}

/// `DMSLAKE_DEMO_FORMAT`: the DMS endpoint's `DataFormat` (Parquet by default, as the
/// template's endpoint).
fn format_from_env() -> Result<DataFormat> {
    match std::env::var("DMSLAKE_DEMO_FORMAT") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|e| anyhow::anyhow!("DMSLAKE_DEMO_FORMAT: {e}")),
        _ => Ok(DataFormat::Parquet),
    }
}

/// A column is added mid-stream (before round 3) unless `DMSLAKE_DEMO_ADD_COLUMN=false`.
/// With CSV files it is off unless asked for: header-less CSV rows cannot carry a new column,
/// and `dms-local` stops with an error naming it.
fn add_column_from_env(format: DataFormat) -> Result<Option<usize>> {
    let add = match std::env::var("DMSLAKE_DEMO_ADD_COLUMN") {
        Ok(v) if !v.trim().is_empty() => {
            dmslake::config::parse_bool("DMSLAKE_DEMO_ADD_COLUMN", &v)?
        }
        _ => format == DataFormat::Parquet,
    };
    Ok(add.then_some(3))
}

/// The demo on the stack's services: the functions under the stack's Lambda emulator
/// (`scripts/lambda-local.sh`, `LAMBDA_PORT`), the local Athena on Trino.
async fn demo() -> Result<bool> {
    let progress = Progress(Instant::now());
    let repo = std::fs::canonicalize(dmslake_tests::repo_dir()).context("repository path")?;
    let work_dir = repo.join(".local/demo");
    let _ = std::fs::remove_dir_all(&work_dir);
    let seed = std::env::var("DMSLAKE_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_124);
    let perturb = fault_from_env()?;
    let mut format = format_from_env()?;
    if perturb.is_some() && format == DataFormat::Parquet {
        // A fault is injected by rewriting a CSV file's lines.
        if std::env::var("DMSLAKE_DEMO_FORMAT").is_ok_and(|v| !v.is_empty()) {
            bail!("DMSLAKE_DEMO_FAULT damages CSV files: use it with DMSLAKE_DEMO_FORMAT=csv");
        }
        format = DataFormat::Csv;
    }
    let opts = Options {
        schema: "demo".into(),
        seed,
        initial_rows: 25,
        rounds: 4,
        transactions_per_round: 50,
        work_dir: work_dir.clone(),
        perturb,
        compare_each_round: false,
        local_stack: true,
        add_column: add_column_from_env(format)?,
        cdc_max_rows: Some(40),
        format,
        dms_task: true,
        migration_type: MigrationType::FullLoadAndCdc,
        // scripts/local.env's DMSLAKE_CURATED_PARTITIONING, as the Lambda reads it.
        curated_partitioning: None,
        tables: None,
        load_max_bytes: 64 * 1024,
    };
    progress.line(&format!(
        "workload seed {seed} (set DMSLAKE_E2E_SEED to change it); DMS files as {} (DMSLAKE_DEMO_FORMAT)",
        format.extension()
    ));
    let mut p = Pipeline::setup(opts).await?;
    let version: String =
        p.pg.query_one("SHOW server_version", &[])
            .await
            .context("PostgreSQL server version")?
            .get(0);
    progress.line(&format!(
        "PostgreSQL {version}: schema demo with {} tables ({}), {} rows each; replication slot {} (test_decoding, as DMS reads it)",
        p.workload.tables.len(),
        p.workload
            .tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        p.opts.initial_rows,
        p.slot
    ));
    let files = p.full_load().await?;
    progress.line(&format!(
        "full load: {} DMS files written to s3://{}/",
        files.len(),
        p.bucket
    ));
    watch_event(&p, 0, &work_dir, &progress);
    match invoke_lambda(
        "partition-registrar",
        &p.notification(&files),
        &work_dir,
        "s3-event-load.json",
    ) {
        Ok(out) => progress.line(&format!(
            "partition-registrar Lambda (cargo-lambda emulator) registered the full load: {out}"
        )),
        Err(e) => progress.line(&format!("partition-registrar Lambda invoke failed: {e:#}")),
    }
    p.settle(&files, false).await?;
    compactor_line(&p, "full load", &progress);
    let rounds = p.opts.rounds;
    let mut reports = Vec::new();
    for round in 1..=rounds {
        if p.opts.add_column == Some(round) {
            let column = p.add_column().await?;
            progress.line(&format!("round {round}: column {column} added mid-stream"));
        }
        let before = p.workload.stats.changes();
        p.run_workload(p.opts.transactions_per_round).await?;
        let files = p.capture(round).await?;
        let last = round == rounds;
        reports = p.settle(&files, last).await?;
        progress.line(&format!(
            "round {round}/{rounds}: {} changes committed, {} CDC files, {} partitions registered",
            p.workload.stats.changes() - before,
            files.len(),
            reports
                .iter()
                .map(|r| r.partitions_registered)
                .sum::<usize>()
        ));
        compactor_line(&p, &format!("round {round}"), &progress);
    }
    progress.line("current state read through the local Athena and compared with PostgreSQL");
    p.finish().await?;
    watch_event(&p, 1, &work_dir, &progress);
    let stats = p.workload.stats.clone();
    summary(&reports);
    println!(
        "\nworkload: {} transactions, {} inserts, {} updates, {} deletes, {} re-inserts of deleted keys, {} primary-key updates, {} transactions changing one row several times",
        stats.transactions, stats.inserts, stats.updates, stats.deletes, stats.reinserts, stats.key_updates, stats.multi_change_transactions
    );
    if let Some(f) = &p.perturbed {
        println!("fault injected on purpose (DMSLAKE_DEMO_FAULT): {f}");
    }
    let equal = reports.iter().filter(|r| r.equal()).count();
    let first = reports
        .first()
        .and_then(|r| compactor::spec::raw_table_name(&r.source).ok())
        .unwrap_or_default();
    println!(
        "\nThe stack keeps running.\nquery the current state:  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \\\n  aws athena start-query-execution --endpoint-url {} --work-group {} \\\n  --query-string 'SELECT * FROM {}.{first} LIMIT 5'   (then get-query-results --query-execution-id ...; README: The local Athena)",
        dmslake_tests::athena_local_endpoint(),
        p.workgroup,
        p.curated_database
    );
    println!("query the source:         scripts/postgres.sh psql -c 'SELECT * FROM demo.customers LIMIT 5'");
    println!("DMS task history:         make status   (what dms-task-watcher recorded)");
    println!(
        "raw catalog:              Glue database {} on the emulator at {}",
        p.raw_database,
        dmslake_tests::endpoint()
    );
    println!("stop the stack:           make stack-down && scripts/postgres.sh stop");
    println!("tables equal to source: {equal}/{}", reports.len());
    Ok(equal == reports.len())
}

async fn bench(changes: usize, format: DataFormat) -> Result<()> {
    let progress = Progress(Instant::now());
    let schema = dmslake_tests::unique_name("bench", '_');
    let opts = Options {
        work_dir: std::env::temp_dir().join(&schema),
        schema,
        seed: pipeline::seed_from_env(),
        initial_rows: 50,
        rounds: 0,
        transactions_per_round: 0,
        perturb: None,
        compare_each_round: false,
        local_stack: false,
        add_column: None,
        cdc_max_rows: None,
        format,
        dms_task: false,
        migration_type: MigrationType::FullLoadAndCdc,
        curated_partitioning: None,
        tables: None,
        load_max_bytes: 64 * 1024,
    };
    let work_dir: PathBuf = opts.work_dir.clone();
    let mut p = Pipeline::setup(opts).await?;
    let files = p.full_load().await?;
    p.settle(&files, false).await?;
    progress.line(&format!("full load done; committing {changes} changes"));

    let start = Instant::now();
    let base = p.workload.stats.changes();
    let base_tx = p.workload.stats.transactions;
    while p.workload.stats.changes() - base < changes {
        p.run_workload(1).await?;
    }
    let committed = p.workload.stats.changes() - base;
    let transactions = p.workload.stats.transactions - base_tx;
    let commit_secs = start.elapsed().as_secs_f64();
    let last_commit = Instant::now();

    let files = p.capture(1).await?;
    let capture_secs = last_commit.elapsed().as_secs_f64();
    let rows: usize = files.iter().map(|f| f.rows).sum();
    p.register(&files).await?;
    let registered_secs = last_commit.elapsed().as_secs_f64();
    let reports = p.settle(&[], true).await?;
    let current_secs = last_commit.elapsed().as_secs_f64();
    let equal = reports.iter().filter(|r| r.equal()).count();
    p.cleanup().await?;
    let _ = std::fs::remove_dir_all(work_dir);

    println!("workload: {committed} changes in {transactions} transactions, committed in {commit_secs:.2} s; files as {}", format.extension());
    println!("captured rows: {rows} in {} files", files.len());
    println!(
        "changes per second captured: {:.0}",
        rows as f64 / capture_secs.max(1e-9)
    );
    println!("seconds from commit to registered partition: {registered_secs:.2}");
    println!("seconds from commit to current state: {current_secs:.2}");
    println!("tables equal to source: {equal}/{}", reports.len());
    Ok(())
}

/// Bytes a size string of Trino's statistics stands for (`4197B`, `1.50kB`, `2.31MB`, ...).
fn data_size(text: &str) -> f64 {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor = match unit {
        "B" | "" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024f64.powi(4),
        "PB" => 1024f64.powi(5),
        _ => f64::NAN,
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

fn trino_get(path: &str) -> Result<serde_json::Value> {
    let port = std::env::var("TRINO_PORT").unwrap_or_else(|_| "8085".into());
    let out = std::process::Command::new("curl")
        .args(["-sf", "-H", "X-Trino-User: dmslake-bench"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .context("running curl")?;
    if !out.status.success() {
        bail!("GET {path} on Trino (TRINO_PORT={port}) failed");
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("Trino's answer to {path}"))
}

/// A stage or fragment id, a number or a string in Trino's JSON.
fn json_id(v: &serde_json::Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Bytes the newest finished `MERGE INTO <curated table>` read, per side: (curated, raw).
/// Trino names each table a query reads with the plan fragment that scans it; the scan
/// operators of that fragment's stage carry the bytes read from storage.
fn merge_bytes(curated_db: &str, table: &str) -> Result<(f64, f64)> {
    let prefix = format!("MERGE INTO \"{curated_db}\".\"{table}\"");
    let queries = trino_get("/v1/query")?;
    let newest = queries
        .as_array()
        .into_iter()
        .flatten()
        .filter(|q| {
            q["state"] == "FINISHED" && q["query"].as_str().is_some_and(|t| t.starts_with(&prefix))
        })
        .max_by_key(|q| {
            q["queryStats"]["createTime"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .ok_or_else(|| anyhow::anyhow!("Trino lists no finished {prefix}"))?;
    let id = newest["queryId"].as_str().unwrap_or_default();
    let info = trino_get(&format!("/v1/query/{id}"))?;
    let mut per_stage: std::collections::BTreeMap<String, f64> = Default::default();
    for op in info["queryStats"]["operatorSummaries"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if op["operatorType"]
            .as_str()
            .is_some_and(|t| t.contains("Scan"))
        {
            let bytes = data_size(op["physicalInputDataSize"].as_str().unwrap_or("0B"));
            *per_stage.entry(json_id(&op["stageId"])).or_default() += bytes;
        }
    }
    let (mut curated, mut raw) = (0.0, 0.0);
    for input in info["inputs"].as_array().into_iter().flatten() {
        let stage = json_id(&input["fragmentId"]);
        let bytes = per_stage.remove(&stage).unwrap_or(0.0);
        if input["schema"] == curated_db {
            curated += bytes;
        } else {
            raw += bytes;
        }
    }
    Ok((curated, raw))
}

/// For each size: a fresh `orders` table of that many rows (full load, first merge), then a
/// batch of `batch` random changes, captured, registered and merged by the compactor Lambda;
/// one line per measured MERGE.
async fn merge_cost(sizes: &[usize], batch: usize) -> Result<()> {
    println!(
        "{:>10} {:>7} {:>16} {:>16} {:>16} {:>9}  raw partitions read",
        "rows", "changes", "curated bytes", "raw bytes", "Athena scanned", "seconds"
    );
    for &size in sizes {
        let progress = Progress(Instant::now());
        let schema = dmslake_tests::unique_name("mcost", '_');
        let opts = Options {
            work_dir: std::env::temp_dir().join(&schema),
            schema,
            seed: 20_261_129,
            initial_rows: 0,
            rounds: 0,
            transactions_per_round: 0,
            perturb: None,
            compare_each_round: false,
            local_stack: false,
            add_column: None,
            cdc_max_rows: None,
            format: DataFormat::Parquet,
            dms_task: false,
            migration_type: MigrationType::FullLoadAndCdc,
            curated_partitioning: None,
            tables: Some(vec!["orders".into()]),
            load_max_bytes: 256 * 1024 * 1024,
        };
        let work_dir = opts.work_dir.clone();
        let mut p = Pipeline::setup(opts).await?;
        let insert = p.workload.bulk_insert_sql(0, size)?;
        p.pg.batch_execute(&insert).await.context("bulk rows")?;
        let files = p.full_load().await?;
        p.settle(&files, false).await?;
        progress.line(&format!("{size} rows loaded and merged"));
        // Two batches: the first MERGE after the full load still reads from the full-load
        // partition (the watermark partition is read again, inclusive); the second is the
        // steady state, from the day's partition on.
        for round in 1..=2 {
            let base = p.workload.stats.changes();
            while p.workload.stats.changes() - base < batch {
                p.run_workload(1).await?;
            }
            let changes = p.workload.stats.changes() - base;
            let files = p.capture(round).await?;
            p.register(&files).await?;
            let run = p.compact_all().await?;
            let table = run
                .tables
                .first()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("the compactor reported no table"))?;
            let (curated, raw) = merge_bytes(&p.curated_database, &table.table)?;
            let from = table.range["from"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_else(|| "start".into());
            println!(
                "{size:>10} {changes:>7} {curated:>16.0} {raw:>16.0} {:>16} {:>9.1}  from {from}",
                table.scanned_bytes,
                run.elapsed.as_secs_f64()
            );
        }
        p.cleanup().await?;
        let _ = std::fs::remove_dir_all(work_dir);
    }
    Ok(())
}
