//! The local pipeline as a program: `demo` (what `make demo` shows) and `bench` (throughput and
//! latency of capture → catalog → current state). Both drive `dmslake_tests::pipeline`.
//!
//! ```text
//! cargo run -p dmslake-tests --example pipeline -- demo [--lambda]
//! cargo run -p dmslake-tests --example pipeline -- bench [--changes N] [--format csv|parquet]
//! ```
//! Needs the local stack (`scripts/moto.sh start`, `scripts/local_resources.py`) and
//! PostgreSQL (`scripts/postgres.sh start`, which the program also runs). `DMSLAKE_E2E_SEED`
//! chooses the workload; `DMSLAKE_DEMO_FORMAT` (`parquet`, the default, or `csv`) the files the
//! demo's DMS writes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use dms_local::{DataFormat, MigrationType};
use dmslake_tests::pipeline::{self, Options, Perturbation, Pipeline, TableReport};

fn usage() -> ExitCode {
    eprintln!(
        "usage: pipeline demo [--lambda] | pipeline bench [--changes N] [--format csv|parquet]"
    );
    ExitCode::from(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(args.iter().any(|a| a == "--lambda")).await,
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

async fn demo(lambda: bool) -> Result<bool> {
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
        dms_task: lambda,
        migration_type: MigrationType::FullLoadAndCdc,
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
    if lambda {
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
    }
    p.settle(&files, false).await?;
    progress.line("full load registered (Glue) and merged (DuckDB)");
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
            "round {round}/{rounds}: {} changes committed, {} CDC files, {} partitions, merged",
            p.workload.stats.changes() - before,
            files.len(),
            reports
                .iter()
                .map(|r| r.partitions_registered)
                .sum::<usize>()
        ));
    }
    p.finish().await?;
    if lambda {
        watch_event(&p, 1, &work_dir, &progress);
    }
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
    let db = p.duckdb.display().to_string();
    let first = reports
        .first()
        .and_then(|r| compactor::spec::raw_table_name(&r.source).ok())
        .unwrap_or_default();
    println!(
        "\nThe stack keeps running.\nquery the current state:  .venv/bin/python -c \"import duckdb; c = duckdb.connect('{db}', read_only=True); c.sql('SELECT * FROM {}.{first} LIMIT 5').show()\"",
        p.curated_database
    );
    println!("query the source:         scripts/postgres.sh psql -c 'SELECT * FROM demo.customers LIMIT 5'");
    if lambda {
        println!("DMS task history:         make status   (what dms-task-watcher recorded)");
    }
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
