//! End to end: PostgreSQL → dms-local → S3 (emulator) → partition registrar → each round the
//! compactor Lambda (cargo-lambda's emulator) started by a scheduled event, its statements run
//! by the local Athena on Trino → current state, read through the local Athena, equal to the
//! source, row for row (see `dmslake_tests::pipeline`).
//!
//! The rounds' CDC files land in one day's partition (`YYYYMMDD`), so from the second round on
//! each run's MERGE has the same text as the one before: each must still be a new query that
//! reads the files that arrived since.
//!
//! The randomized test takes its seed from `DMSLAKE_E2E_SEED` (else the clock) and prints it;
//! rerun a failure with that variable set. The perturbation tests damage one file and assert
//! that the comparison notices it, so the main test cannot pass by comparing nothing.

use dms_local::{DataFormat, MigrationType};
use dms_task_watcher::config::{Policy, WatcherConfig};
use dms_task_watcher::handler::{self, Done};
use dmslake::state::StateLocation;
use dmslake_tests::pipeline::{self, Options, Perturbation, TableReport};

fn options(name: &str, seed: u64, rounds: usize, transactions: usize) -> Options {
    let schema = dmslake_tests::unique_name(name, '_').replace('-', "_");
    Options {
        work_dir: std::env::temp_dir().join(&schema),
        schema,
        seed,
        initial_rows: 15,
        rounds,
        transactions_per_round: transactions,
        perturb: None,
        compare_each_round: true,
        local_stack: false,
        add_column: None,
        cdc_max_rows: Some(25),
        format: DataFormat::Csv,
        dms_task: false,
        migration_type: MigrationType::FullLoadAndCdc,
        curated_partitioning: None,
        tables: None,
        load_max_bytes: 64 * 1024,
    }
}

fn describe(reports: &[TableReport]) -> String {
    reports
        .iter()
        .map(|r| {
            format!(
                "{}: {} files, {} partitions, {} current rows, {} source rows, last run {}, {}",
                r.source,
                r.files_written,
                r.partitions_registered,
                r.current_rows,
                r.source_rows,
                match &r.merge {
                    Some(m) => format!("{} {}", m.status, m.query_id),
                    None => "not merged".into(),
                },
                if r.equal() {
                    "equal".to_string()
                } else {
                    format!("DIFFERENT:\n    {}", r.differences.join("\n    "))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn run(opts: Options) -> (pipeline::Pipeline, Vec<TableReport>) {
    let dir = opts.work_dir.clone();
    let (p, reports) = pipeline::run(opts, &mut |line| eprintln!("{line}"))
        .await
        .unwrap_or_else(|e| panic!("pipeline failed: {e:?}"));
    let _ = std::fs::remove_dir_all(dir);
    (p, reports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_workload_current_state_equals_source_row_for_row() {
    let seed = pipeline::seed_from_env();
    eprintln!("DMSLAKE_E2E_SEED={seed}");
    let mut opts = options("e2e_rand", seed, 4, 100);
    // A partitioned current-state table (Iceberg `day` transform), the others unpartitioned.
    opts.curated_partitioning = Some(format!("{}.customers=day(created)", opts.schema));
    let (p, reports) = run(opts).await;
    let stats = p.workload.stats.clone();
    // Full load + 4 rounds: five scheduled runs, each merging every table with a new query,
    // though from the third run on a table's MERGE repeats the text of the run before (the
    // same day's partition, from the watermark to the newest).
    assert_eq!(p.compactor_runs.len(), 5);
    let mut repeated_text = 0;
    for source in p.sources() {
        let name = compactor::spec::raw_table_name(&source).expect("name");
        let merges: Vec<&pipeline::TableMerge> = p
            .compactor_runs
            .iter()
            .map(|run| {
                run.tables
                    .iter()
                    .find(|t| t.table == name)
                    .unwrap_or_else(|| panic!("{name} not in {}", run.describe()))
            })
            .collect();
        let ids: std::collections::BTreeSet<&str> =
            merges.iter().map(|m| m.query_id.as_str()).collect();
        assert_eq!(
            ids.len(),
            merges.len(),
            "{name}: a run reused a query: {merges:?}"
        );
        repeated_text += merges
            .windows(2)
            .filter(|w| w[0].range == w[1].range)
            .count();
    }
    assert!(
        repeated_text > 0,
        "no run repeated its MERGE text (did the day change?)"
    );
    // DMSLAKE_COLUMN_TYPES typed these curated columns from the CSV strings.
    let create = compactor::preview::statement(
        &p.glue,
        &p.state,
        &p.compactor,
        &p.sources()[0],
        compactor::preview::Statement::Create,
    )
    .await
    .expect("CREATE statement");
    p.cleanup().await.expect("cleanup");
    for typed in [
        "`balance` decimal(12,2)",
        "`born` date",
        "`created` timestamp",
        "`name` string",
        " PARTITIONED BY (day(`created`)) ",
    ] {
        assert!(create.contains(typed), "{typed} not in {create}");
    }
    let summary = describe(&reports);
    eprintln!("{summary}\n{stats:?}");
    assert_eq!(reports.len(), 3);
    assert!(
        reports.iter().all(TableReport::equal),
        "seed {seed}: current state differs from the source:\n{summary}"
    );
    // The workload really contained what the comparison is meant to cover.
    assert!(stats.deletes > 0 && stats.reinserts > 0, "{stats:?}");
    assert!(stats.multi_change_transactions > 0, "{stats:?}");
    assert!(stats.key_updates > 0, "{stats:?}");
    assert!(
        reports
            .iter()
            .all(|r| r.source_rows > 0 && r.files_written >= 2),
        "{summary}"
    );
}

/// Runs one round with `fault` injected and returns the reports (which must show a difference).
async fn with_fault(name: &str, fault: Perturbation) -> (Option<String>, Vec<TableReport>) {
    let mut opts = options(name, 20_261_124, 1, 80);
    opts.perturb = Some((1, fault));
    // One file per table: the damaged change is then the last word on its key in the round.
    opts.cdc_max_rows = None;
    let (p, reports) = run(opts).await;
    let perturbed = p.perturbed.clone();
    p.cleanup().await.expect("cleanup");
    eprintln!("perturbed: {perturbed:?}\n{}", describe(&reports));
    assert!(perturbed.is_some(), "no file was perturbed");
    (perturbed, reports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_detects_a_lost_change() {
    let (file, reports) = with_fault("e2e_lost", Perturbation::DropOne).await;
    assert!(
        reports.iter().any(|r| !r.equal()),
        "one change dropped from {file:?} went unnoticed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_detects_a_duplicated_change() {
    let (file, reports) = with_fault("e2e_dup", Perturbation::DuplicateOne).await;
    assert!(
        reports.iter().any(|r| !r.equal()),
        "one change duplicated in {file:?} went unnoticed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_detects_two_changes_applied_out_of_order() {
    let (file, reports) = with_fault("e2e_swap", Perturbation::SwapTwo).await;
    assert!(
        reports.iter().any(|r| !r.equal()),
        "two changes swapped in {file:?} went unnoticed"
    );
}

/// Parquet files (typed columns, as the template's endpoint writes them), with a column added
/// to a source table between two rounds: the new column reaches the raw table, the current
/// state and its values, and every table still equals the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_files_with_a_column_added_mid_stream_equal_the_source() {
    let seed = pipeline::seed_from_env();
    eprintln!("DMSLAKE_E2E_SEED={seed}");
    let mut opts = options("e2e_parquet", seed, 3, 80);
    opts.format = DataFormat::Parquet;
    opts.add_column = Some(2);
    let (p, reports) = run(opts).await;
    let customers = p.workload.tables[0].clone();
    // The raw table was created from the files' typed schema and gained the new column.
    let raw = compactor::spec::raw_table_name(&p.sources()[0]).expect("name");
    let table = p
        .glue
        .get_table()
        .database_name(&p.raw_database)
        .name(&raw)
        .send()
        .await
        .expect("raw table");
    let types: Vec<(String, String)> = table
        .table()
        .and_then(|t| t.storage_descriptor())
        .map(|sd| {
            sd.columns()
                .iter()
                .map(|c| {
                    (
                        c.name().to_string(),
                        c.r#type().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    p.cleanup().await.expect("cleanup");
    for expected in [
        ("balance", "decimal(12,2)"),
        ("score", "float"),
        ("born", "date"),
        ("updated_at", "timestamp"),
        ("loyalty_points", "int"),
    ] {
        assert!(
            types.contains(&(expected.0.into(), expected.1.into())),
            "raw column {expected:?} not in {types:?}"
        );
    }
    let summary = describe(&reports);
    eprintln!("{summary}");
    assert!(
        customers.columns.iter().any(|c| c.name == "loyalty_points"),
        "the column was not added"
    );
    assert!(
        reports.iter().all(TableReport::equal),
        "seed {seed}: current state differs from the source:\n{summary}"
    );
}

/// A MERGE that fails on the engine (a CSV value that does not cast to the configured type) is
/// reported failed and leaves the watermark; once the file is repaired the next scheduled run
/// starts the same statement again as a new query, it succeeds, and only then does the
/// watermark move. The current state then equals the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_merge_is_retried_by_the_next_run_and_only_then_moves_the_watermark() {
    let opts = options("e2e_retry", 20_261_129, 1, 60);
    let dir = opts.work_dir.clone();
    let mut p = pipeline::Pipeline::setup(opts).await.expect("setup");
    // The scenario returns its failure rather than panicking, so the slot is dropped either way.
    let outcome = failed_merge_then_retry(&mut p).await;
    p.cleanup().await.expect("cleanup");
    let _ = std::fs::remove_dir_all(dir);
    let (failed, retried, reports) = outcome.unwrap_or_else(|e| panic!("{e:?}"));
    eprintln!("failed: {failed:?}\nretried: {retried:?}");
    assert_eq!(failed.status, "failed");
    assert_eq!(retried.status, "merged");
    assert_ne!(failed.query_id, retried.query_id);
    let summary = describe(&reports);
    eprintln!("{summary}");
    assert!(reports.iter().all(TableReport::equal), "{summary}");
}

/// Full load, one round whose `orders` file carries a value that does not cast, a compactor
/// run (fails), the file repaired, a compactor run (merges), then every table compared.
/// Returns the failed and the retried MERGE of `orders` and the comparison.
async fn failed_merge_then_retry(
    p: &mut pipeline::Pipeline,
) -> anyhow::Result<(pipeline::TableMerge, pipeline::TableMerge, Vec<TableReport>)> {
    use anyhow::{ensure, Context};
    let files = p.full_load().await?;
    p.settle(&files, false).await.context("full load merged")?;
    p.run_workload(p.opts.transactions_per_round).await?;
    let files = p.capture(1).await?;
    // `orders.qty` is typed `int` (DMSLAKE_COLUMN_TYPES): one row gets a value that is not.
    let orders = p.workload.tables[1].clone();
    let qty = 2 + orders
        .columns
        .iter()
        .position(|c| c.name == "qty")
        .context("qty column")?;
    let mut damaged = None;
    for f in files.iter().filter(|f| f.key.contains("/orders/")) {
        let body = get(p, &f.key).await;
        let mut lines: Vec<Vec<String>> = body.lines().map(dms_local::format::split_line).collect();
        let Some(row) = lines.iter_mut().find(|r| {
            r.first().is_some_and(|op| op != "D") && r.get(qty).is_some_and(|v| !v.is_empty())
        }) else {
            continue;
        };
        row[qty] = "twelve".into();
        let mut text = String::new();
        for r in &lines {
            for (i, field) in r.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                dms_local::format::push_field(
                    &mut text,
                    (!field.is_empty()).then_some(field.as_str()),
                );
            }
            text.push('\n');
        }
        put(p, &f.key, text).await;
        damaged = Some((f.key.clone(), body));
        break;
    }
    let (key, original) = damaged.context("a CDC file of orders with a qty value")?;
    p.register(&files).await?;
    let name = compactor::spec::raw_table_name(&p.sources()[1])?;
    let doc = compactor::watermark::watermark_doc(&name);
    let watermark = |p: &pipeline::Pipeline| {
        let (state, doc) = (p.state.clone(), doc.clone());
        async move {
            state
                .get::<compactor::watermark::Watermark>(&doc)
                .await
                .map(|w| w.map(|w| w.value))
        }
    };
    let before = watermark(p).await?.context("watermark of the full load")?;
    let of_orders = |run: &pipeline::CompactorRun| {
        run.tables
            .iter()
            .find(|t| t.table == name)
            .cloned()
            .with_context(|| format!("{name} not in {}", run.describe()))
    };

    let failed = of_orders(&p.compact().await?)?;
    ensure!(failed.status == "failed", "not failed: {failed:?}");
    ensure!(!failed.reason.is_empty(), "no reason: {failed:?}");
    ensure!(
        watermark(p).await? == Some(before.clone()),
        "a failed MERGE moved the watermark"
    );

    // The file is repaired; the next scheduled run merges the same range again, as a new query.
    put(p, &key, original).await;
    let retried = of_orders(&p.compact().await?)?;
    ensure!(retried.status == "merged", "not merged: {retried:?}");
    ensure!(
        !failed.reason.contains(&retried.query_id),
        "the retry returned the failed execution: {failed:?} / {retried:?}"
    );
    let after = watermark(p).await?.context("watermark")?;
    ensure!(after != before, "the watermark did not move");
    ensure!(
        after.query_id == retried.query_id,
        "the watermark names {}, not the retried MERGE {}",
        after.query_id,
        retried.query_id
    );
    let reports = p.settle(&[], true).await.context("compare")?;
    Ok((failed, retried, reports))
}

async fn get(p: &pipeline::Pipeline, key: &str) -> String {
    let out =
        p.s3.get_object()
            .bucket(&p.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    let bytes = out.body.collect().await.expect("body").into_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8 CSV")
}

async fn put(p: &pipeline::Pipeline, key: &str, body: String) {
    dmslake_tests::put_object(&p.s3, &p.bucket, key, body.into_bytes()).await;
}

/// A CDC-only task (MigrationType `cdc`) writes no LOAD file. From its first CDC files the
/// registrar creates the raw tables, the compactor's first merge starts from no watermark, and
/// the current state equals the source (which starts empty, as nothing before the task is
/// replicated). The watcher records the running task, requests no baseline (there is no full
/// load to wait for) and finds the lake fresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdc_only_task_without_load_files_current_state_equals_source() {
    let seed = pipeline::seed_from_env();
    eprintln!("DMSLAKE_E2E_SEED={seed}");
    let mut opts = options("e2e_cdc", seed, 3, 80);
    opts.initial_rows = 0;
    opts.migration_type = MigrationType::Cdc;
    opts.format = DataFormat::Parquet;
    opts.dms_task = true;
    let (p, reports) = run(opts).await;
    let summary = describe(&reports);
    eprintln!("{summary}");
    let keys: Vec<String> = p.dms.written.iter().map(|f| f.key.clone()).collect();
    let task_arn = p.dms.task_arn().map(str::to_string);
    let started = p.dms.events.first().cloned();

    // The watcher, as the stack would run it for this task.
    let clients = dmslake_tests::clients().await;
    let topic = clients
        .sns
        .create_topic()
        .name(dmslake_tests::unique_name("e2e-cdc-alerts", '-'))
        .send()
        .await
        .expect("alert topic");
    let config = WatcherConfig {
        watched: task_arn.iter().cloned().collect(),
        alert_topic_arn: topic.topic_arn().unwrap_or_default().to_string(),
        policy: Policy::default(),
        event_bus: "default".into(),
        data_bucket: Some(p.bucket.clone()),
        layout: p.registrar.config.layout.clone(),
        state: StateLocation::new(&p.bucket, "dmslake-state-watcher/"),
    };
    let deps = handler::Deps::with_config(&dmslake_tests::sdk_config().await, config);
    let on_start = handler::handle(&deps, started.clone().unwrap_or_default()).await;
    let health = handler::handle(&deps, serde_json::json!({"action": "health_check"})).await;
    p.cleanup().await.expect("cleanup");

    assert!(
        !keys.is_empty() && keys.iter().all(|k| !k.contains("/LOAD")),
        "CDC files only: {keys:?}"
    );
    assert!(
        task_arn.is_some() && started.is_some(),
        "task created and started"
    );
    assert!(
        reports.iter().all(TableReport::equal),
        "seed {seed}: current state differs from the source:\n{summary}"
    );
    assert!(
        reports.iter().all(|r| r.source_rows > 0),
        "the workload wrote every table: {summary}"
    );
    let on_start = on_start.expect("start event handled");
    let recorded = on_start.reports().first().map(|r| r.done.clone());
    assert!(
        matches!(recorded.as_deref(), Some([Done::Recorded { to, .. }, ..]) if to == "running"),
        "{on_start:?}"
    );
    let health = health.expect("health check handled");
    assert!(
        health
            .reports()
            .iter()
            .all(|r| r.baselines() == 0 && r.alerts() == 0 && r.errors.is_empty()),
        "no full load, fresh files: {health:?}"
    );
    assert_eq!(health.reports().len(), 1, "{health:?}");
}

/// A table reload mid-stream, twice: after changes of `customers` were lost (a CDC file cut to
/// its first row, so its current state is wrong), dms-local reloads the table as DMS
/// `ReloadTables` does, first with the `LOAD` counter starting again (overwriting
/// `LOAD00000001`), later with it going on (the earlier file stays). Changes go on being
/// captured throughout. Each time, the compactor's next run notices the new full load and
/// reports the table `reload_pending` (it may still be writing), the run after that lists the
/// same files and reports it `rebuilt` (the other tables `merged` both times), and the
/// current state of every table equals the source: nothing lost, nothing doubled. The
/// watermark then records the full-load files it was rebuilt from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_reloaded_mid_stream_is_rebuilt_and_equals_the_source() {
    let opts = options("e2e_reload", 20_261_130, 1, 60);
    let dir = opts.work_dir.clone();
    let mut p = pipeline::Pipeline::setup(opts).await.expect("setup");
    let outcome = reload_scenario(&mut p).await;
    p.cleanup().await.expect("cleanup");
    let _ = std::fs::remove_dir_all(dir);
    let (runs, wrong, reports, recorded) = outcome.unwrap_or_else(|e| panic!("{e:?}"));
    let summary = describe(&reports);
    eprintln!("{summary}");
    assert!(
        !wrong.is_empty(),
        "the lost file left no difference to repair"
    );
    for (i, (waited, rebuilt)) in runs.iter().enumerate() {
        assert_reload_runs(waited, rebuilt, &format!("reload {}", i + 1));
    }
    assert!(reports.iter().all(TableReport::equal), "{summary}");
    assert_eq!(
        recorded,
        vec![
            "LOAD00000001.csv".to_string(),
            "LOAD00000002.csv".to_string()
        ],
        "the watermark records both full-load files"
    );
}

/// The full load, registered and merged: the index of the workload table `customers`, and
/// its table folder (where its full load lies).
async fn full_load_merged(p: &mut pipeline::Pipeline) -> anyhow::Result<(usize, String)> {
    use anyhow::Context;
    let files = p.full_load().await?;
    p.settle(&files, false).await.context("full load merged")?;
    let folder = files
        .iter()
        .find(|f| f.key.contains("/customers/LOAD"))
        .and_then(|f| f.key.rsplit_once('/'))
        .map(|(folder, _)| format!("{folder}/"))
        .context("a full-load file of customers")?;
    let index = p
        .workload
        .tables
        .iter()
        .position(|t| t.name == "customers")
        .context("customers table")?;
    Ok((index, folder))
}

/// dms-local reloads workload table `table` (its `LOAD` counter from `counter`) while changes
/// go on: the reload's files and those of capture round `round`, not registered yet.
async fn reload_while_changing(
    p: &mut pipeline::Pipeline,
    table: usize,
    counter: u32,
    round: usize,
) -> anyhow::Result<Vec<dms_local::WrittenFile>> {
    let mut files = p.reload(table, counter).await?;
    p.run_workload(p.opts.transactions_per_round).await?;
    files.extend(p.capture(round).await?);
    Ok(files)
}

/// Registers `files`, then two compactor runs: the first sees the new full load and waits (it
/// may still be writing), the next lists the same files and rebuilds.
async fn register_and_compact_twice(
    p: &mut pipeline::Pipeline,
    files: &[dms_local::WrittenFile],
) -> anyhow::Result<(pipeline::CompactorRun, pipeline::CompactorRun)> {
    p.register(files).await?;
    Ok((p.compact().await?, p.compact().await?))
}

/// `customers` waited in the first run and was rebuilt in the second; every other table was
/// merged in both.
fn assert_reload_runs(
    waited: &pipeline::CompactorRun,
    rebuilt: &pipeline::CompactorRun,
    what: &str,
) {
    for (run, customers) in [(waited, "reload_pending"), (rebuilt, "rebuilt")] {
        for t in &run.tables {
            let want = if t.table.ends_with("_customers") {
                customers
            } else {
                "merged"
            };
            assert_eq!(t.status, want, "{what}: {}", run.describe());
        }
    }
}

type ReloadOutcome = (
    Vec<(pipeline::CompactorRun, pipeline::CompactorRun)>,
    Vec<String>,
    Vec<TableReport>,
    Vec<String>,
);

/// Full load; then twice: a round whose first `customers` CDC file loses all but one change, a reload of
/// `customers` (counter 1, then 2), another round, two compactor runs. Returns the pairs of
/// runs that saw and applied a reload, the differences the first lost file caused, the final comparison and
/// the full-load file names the watermark of `customers` records.
async fn reload_scenario(p: &mut pipeline::Pipeline) -> anyhow::Result<ReloadOutcome> {
    use anyhow::Context;
    let (customers, _) = full_load_merged(p).await?;
    let name = compactor::spec::raw_table_name(&p.sources()[customers])?;
    let mut runs = Vec::new();
    let mut wrong = Vec::new();
    for (round, counter) in [(1, 1), (3, 2)] {
        p.run_workload(p.opts.transactions_per_round).await?;
        let files = p.capture(round).await?;
        // All but the file's first change are lost (the file stays readable).
        let lost = files
            .iter()
            .find(|f| f.key.contains("/customers/") && !f.key.contains("/LOAD") && f.rows > 1)
            .context("a CDC file of customers with several changes")?
            .key
            .clone();
        let body = get(p, &lost).await;
        let first = body.lines().next().unwrap_or_default().to_string();
        put(p, &lost, format!("{first}\n")).await;
        let reports = p
            .settle(&files, true)
            .await
            .context("merge without the lost file")?;
        if round == 1 {
            wrong = reports
                .iter()
                .filter(|r| r.source.ends_with(".customers"))
                .flat_map(|r| r.differences.clone())
                .collect();
        }
        let files = reload_while_changing(p, customers, counter, round + 1).await?;
        runs.push(register_and_compact_twice(p, &files).await?);
    }
    let reports = p.settle(&[], true).await.context("compare")?;
    let wm = p
        .state
        .get::<compactor::watermark::Watermark>(&compactor::watermark::watermark_doc(&name))
        .await?
        .context("watermark of customers")?;
    let recorded = wm
        .value
        .full_load
        .unwrap_or_default()
        .iter()
        .map(|f| f.key.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    Ok((runs, wrong, reports, recorded))
}

/// A reload whose full load DMS writes into a date folder (`customers/2026/11/29/LOAD...`,
/// which CHAP_Target.S3.md does not rule out with date partitioning on): the compactor lists
/// the date folders of the partitions it merges as well as the table folder, finds the new
/// full load there, waits one run, rebuilds the table, and every table equals the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_written_into_a_date_folder_is_found_and_applied() {
    let opts = options("e2e_reload_dated", 20_261_131, 1, 40);
    let dir = opts.work_dir.clone();
    let mut p = pipeline::Pipeline::setup(opts).await.expect("setup");
    let outcome = dated_reload_scenario(&mut p).await;
    p.cleanup().await.expect("cleanup");
    let _ = std::fs::remove_dir_all(dir);
    let (waited, rebuilt, moved, reports) = outcome.unwrap_or_else(|e| panic!("{e:?}"));
    let summary = describe(&reports);
    eprintln!("{summary}");
    assert!(!moved.is_empty(), "no reload file was moved");
    assert_reload_runs(&waited, &rebuilt, "dated reload");
    assert!(reports.iter().all(TableReport::equal), "{summary}");
}

type DatedReloadOutcome = (
    pipeline::CompactorRun,
    pipeline::CompactorRun,
    Vec<String>,
    Vec<TableReport>,
);

/// Full load; a round; a reload of `customers` (counter going on) whose files are moved into
/// the date folder of that round's `customers` changes; another round; two compactor runs;
/// the comparison. Returns the two runs, the moved keys and the comparison.
async fn dated_reload_scenario(p: &mut pipeline::Pipeline) -> anyhow::Result<DatedReloadOutcome> {
    use anyhow::Context;
    let (customers, _) = full_load_merged(p).await?;
    p.run_workload(p.opts.transactions_per_round).await?;
    let files = p.capture(1).await?;
    let date_folder = files
        .iter()
        .find(|f| f.key.contains("/customers/") && !f.key.contains("/LOAD"))
        .and_then(|f| f.key.rsplit_once('/'))
        .map(|(folder, _)| folder.to_string())
        .context("a CDC file of customers")?;
    p.settle(&files, false).await.context("round merged")?;
    let mut files = reload_while_changing(p, customers, 2, 2).await?;
    let mut moved = Vec::new();
    for f in files.iter_mut().filter(|f| f.key.contains("/LOAD")) {
        let name = f.key.rsplit('/').next().unwrap_or_default().to_string();
        let to = format!("{date_folder}/{name}");
        let body = get(p, &f.key).await;
        put(p, &to, body).await;
        p.s3.delete_object()
            .bucket(&p.bucket)
            .key(&f.key)
            .send()
            .await
            .with_context(|| format!("deleting {}", f.key))?;
        f.key = to.clone();
        moved.push(to);
    }
    let (waited, rebuilt) = register_and_compact_twice(p, &files).await?;
    let reports = p.settle(&[], true).await.context("compare")?;
    Ok((waited, rebuilt, moved, reports))
}

/// A truncate as DMS applies it to an S3 target, which "removes all files and corresponding
/// table folders" (CHAP_Target.S3.md, limitations): every object of `customers` is deleted
/// mid-stream. The next compactor run removes the manifests that named its full-load files
/// (so the raw table reads again) and merges every table; the current state of `customers`
/// keeps its rows, and the changes that follow are merged onto them (the source was not
/// emptied, so it still equals the source). A reload afterwards (counter going on, so the
/// removed `LOAD00000001` is not written again) is waited for and rebuilt, and every table
/// equals the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_table_keeps_its_current_state_and_a_later_reload_rebuilds_it() {
    let opts = options("e2e_truncate", 20_261_132, 1, 40);
    let dir = opts.work_dir.clone();
    let mut p = pipeline::Pipeline::setup(opts).await.expect("setup");
    let outcome = truncate_scenario(&mut p).await;
    p.cleanup().await.expect("cleanup");
    let _ = std::fs::remove_dir_all(dir);
    let t = outcome.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        t.removed > 1,
        "the table had files to remove: {}",
        t.removed
    );
    assert!(
        t.after_truncate.tables.iter().all(|t| t.status == "merged"),
        "{}",
        t.after_truncate.describe()
    );
    assert_eq!(
        t.rows_after, t.rows_before,
        "the current state keeps its rows"
    );
    let after = describe(&t.after_changes);
    assert!(t.after_changes.iter().all(TableReport::equal), "{after}");
    let customers = |run: &pipeline::CompactorRun| {
        run.tables
            .iter()
            .find(|t| t.table.ends_with("_customers"))
            .map(|t| t.status.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        customers(&t.waited),
        "reload_pending",
        "{}",
        t.waited.describe()
    );
    assert_eq!(customers(&t.rebuilt), "rebuilt", "{}", t.rebuilt.describe());
    let last = describe(&t.after_reload);
    eprintln!("{last}");
    assert!(t.after_reload.iter().all(TableReport::equal), "{last}");
}

struct TruncateOutcome {
    removed: usize,
    after_truncate: pipeline::CompactorRun,
    rows_before: usize,
    rows_after: usize,
    after_changes: Vec<TableReport>,
    waited: pipeline::CompactorRun,
    rebuilt: pipeline::CompactorRun,
    after_reload: Vec<TableReport>,
}

async fn truncate_scenario(p: &mut pipeline::Pipeline) -> anyhow::Result<TruncateOutcome> {
    use anyhow::Context;
    let (customers, folder) = full_load_merged(p).await?;
    let name = compactor::spec::raw_table_name(&p.sources()[customers])?;
    p.run_workload(p.opts.transactions_per_round).await?;
    let files = p.capture(1).await?;
    p.settle(&files, false).await.context("round 1 merged")?;
    let rows_before = p.current_state(&name).await?.1.len();
    // The truncate: every object of the table goes.
    let listed =
        p.s3.list_objects_v2()
            .bucket(&p.bucket)
            .prefix(&folder)
            .send()
            .await
            .context("listing the table folder")?;
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    for key in &keys {
        p.s3.delete_object()
            .bucket(&p.bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("deleting {key}"))?;
    }
    let after_truncate = p.compact().await?;
    let rows_after = p.current_state(&name).await?.1.len();
    p.run_workload(p.opts.transactions_per_round).await?;
    let files = p.capture(2).await?;
    let after_changes = p.settle(&files, true).await.context("round 2")?;
    let files = reload_while_changing(p, customers, 2, 3).await?;
    let (waited, rebuilt) = register_and_compact_twice(p, &files).await?;
    let after_reload = p.settle(&[], true).await.context("after the reload")?;
    Ok(TruncateOutcome {
        removed: keys.len(),
        after_truncate,
        rows_before,
        rows_after,
        after_changes,
        waited,
        rebuilt,
        after_reload,
    })
}
