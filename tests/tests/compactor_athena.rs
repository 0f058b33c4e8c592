//! The compactor against moto: events drive the handler; the runner's success and timeout
//! paths and what the watermark does on each. Moto's Athena state transitions are global to
//! the server, so every test here takes one lock and resets them afterwards.

use std::time::{Duration, Instant};

use aws_sdk_glue::types::{Column, DatabaseInput, PartitionInput, StorageDescriptor, TableInput};
use compactor::config::CompactorConfig;
use compactor::handler::{handle, parse_request, Action, Deps, HandleError};
use compactor::watermark::{watermark_doc, Watermark};
use dmslake::athena::{Backoff, Runner};
use dmslake::state::{StateLocation, StateStore};
use serde_json::{json, Value};
use tokio::sync::Mutex;

static MOTO_TRANSITIONS: Mutex<()> = Mutex::const_new(());

/// POSTs `body` to moto's own API at `path` (`/moto-api/...`).
fn post_moto_api(path: &str, body: &Value) {
    let url = format!("{}{path}", dmslake_tests::endpoint());
    let status = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &body.to_string(),
            &url,
        ])
        .status()
        .expect("curl");
    assert!(status.success(), "POST {url} failed");
}

async fn set_transition(progression: Value) {
    post_moto_api(
        "/moto-api/state-manager/set-transition",
        &json!({"model_name": "athena::execution", "transition": progression}),
    );
}

fn event(name: &str) -> Value {
    let path = dmslake_tests::repo_dir().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("json")
}

#[test]
fn every_compactor_event_file_parses_to_its_request() {
    let cases = [
        ("compactor-schedule.json", Action::Merge, vec![]),
        ("compactor-maintain.json", Action::Maintain, vec![]),
        (
            "compactor-baseline-request.json",
            Action::Merge,
            vec!["public.order_details".to_string()],
        ),
    ];
    for (file, action, tables) in cases {
        let req = parse_request(&event(file)).expect(file);
        assert_eq!(req.action, action, "{file}");
        assert_eq!(req.tables, tables, "{file}");
    }
    let bare =
        parse_request(&json!({"action": "merge", "tables": ["public.orders"]})).expect("bare");
    assert_eq!(bare.tables, ["public.orders"]);
    assert!(parse_request(&json!({"action": "drop"})).is_err());
    assert!(parse_request(&json!({"hello": 1})).is_err());
}

struct Fixture {
    deps: Deps,
    state: StateStore,
}

/// A keyed fixture with Athena queries finishing at once; the guard keeps other tests from
/// changing moto's query progression meanwhile.
async fn immediate_fixture() -> (tokio::sync::MutexGuard<'static, ()>, Fixture) {
    let guard = MOTO_TRANSITIONS.lock().await;
    set_transition(json!({"progression": "immediate"})).await;
    (guard, fixture(true).await)
}

async fn fixture(with_key: bool) -> Fixture {
    let sdk = dmslake_tests::sdk_config_with_attempts(1).await;
    let clients = dmslake::clients::Clients::with_config(&sdk);
    let bucket = dmslake_tests::new_bucket(&dmslake_tests::clients().await, "compactor").await;
    let raw_db = dmslake_tests::unique_name("raw", '_');
    let cur_db = dmslake_tests::unique_name("cur", '_');
    let workgroup = dmslake_tests::unique_name("wg", '-');
    clients
        .glue
        .create_database()
        .database_input(DatabaseInput::builder().name(&raw_db).build().expect("db"))
        .send()
        .await
        .expect("create db");
    let col = |n: &str| {
        Column::builder()
            .name(n)
            .r#type("string")
            .build()
            .expect("col")
    };
    let cols = [
        "op",
        "dms_commit_ts",
        "order_id",
        "product_id",
        "quantity",
        "dms_change_seq",
        "bi_order_id",
        "bi_product_id",
    ];
    clients
        .glue
        .create_table()
        .database_name(&raw_db)
        .table_input(
            TableInput::builder()
                .name("public_order_details")
                .storage_descriptor(
                    StorageDescriptor::builder()
                        .set_columns(Some(cols.iter().map(|c| col(c)).collect()))
                        .location(format!("s3://{bucket}/dms/public/order_details/"))
                        .build(),
                )
                .set_partition_keys(Some(vec![col("year"), col("month"), col("day")]))
                .parameters("dmslake.source_schema", "public")
                .parameters("dmslake.source_table", "order_details")
                .parameters("dmslake.format", "csv")
                .parameters("classification", "csv")
                .build()
                .expect("table"),
        )
        .send()
        .await
        .expect("create table");
    for values in [
        ["0000", "00", "00"],
        ["2024", "06", "12"],
        ["2024", "07", "05"],
    ] {
        clients
            .glue
            .create_partition()
            .database_name(&raw_db)
            .table_name("public_order_details")
            .partition_input(
                PartitionInput::builder()
                    .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                    .build(),
            )
            .send()
            .await
            .expect("partition");
    }
    clients
        .athena
        .create_work_group()
        .name(&workgroup)
        .send()
        .await
        .expect("workgroup");
    let keys = if with_key {
        "public.order_details=order_id,product_id"
    } else {
        ""
    };
    let env = [
        ("DMSLAKE_RAW_DATABASE", raw_db.as_str()),
        ("DMSLAKE_CURATED_DATABASE", cur_db.as_str()),
        ("DMSLAKE_ATHENA_WORKGROUP", workgroup.as_str()),
        ("DMSLAKE_CURATED_LOCATION", "s3://lake-curated/iceberg/"),
        ("DMSLAKE_PRIMARY_KEYS", keys),
        ("DMSLAKE_STATE_BUCKET", bucket.as_str()),
    ];
    let config = CompactorConfig::from_lookup(&|n| {
        env.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    })
    .expect("config");
    let state = StateStore::new(
        clients.s3.clone(),
        StateLocation::new(&bucket, "dmslake-state"),
    );
    let mut runner = Runner::new(clients.athena.clone(), &workgroup);
    runner.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    Fixture {
        deps: Deps {
            config,
            glue: clients.glue.clone(),
            runner,
            state: state.clone(),
        },
        state,
    }
}

/// The scheduled merge of every table (`{"action": "merge"}`), 20 s to run.
async fn merge_all(fx: &Fixture) -> Value {
    handle(
        &fx.deps,
        json!({"action": "merge"}),
        Instant::now() + Duration::from_secs(20),
    )
    .await
    .expect("handle")
}

/// The report of a run that failed because some table could not be done (the invocation
/// fails so the function's error alarm fires; every table was still tried).
fn failed_run(result: Result<Value, HandleError>) -> Value {
    match result {
        Err(HandleError::TablesFailed(report)) => serde_json::to_value(report).expect("report"),
        other => panic!("expected a failed run, got {other:?}"),
    }
}

/// How many queries the fixture's workgroup has seen.
async fn executions(fx: &Fixture) -> usize {
    fx.deps
        .runner
        .client
        .list_query_executions()
        .work_group(&fx.deps.runner.workgroup)
        .send()
        .await
        .expect("ListQueryExecutions")
        .query_execution_ids()
        .len()
}

async fn watermark(state: &StateStore) -> Option<Watermark> {
    state
        .get::<Watermark>(&watermark_doc("public_order_details"))
        .await
        .expect("get watermark")
        .map(|v| v.value)
}

#[tokio::test]
async fn runner_paths_move_the_watermark_only_after_success() {
    let _guard = MOTO_TRANSITIONS.lock().await;

    // Success after a few polls (QUEUED -> RUNNING -> SUCCEEDED).
    set_transition(json!({"progression": "manual", "times": 2})).await;
    let fx = fixture(true).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = handle(&fx.deps, event("compactor-baseline-request.json"), deadline)
        .await
        .expect("handle");
    let report = &out["tables"][0];
    assert_eq!(report["status"], "merged", "{out}");
    assert_eq!(report["range"]["to"], json!(["2024", "07", "05"]));
    assert_eq!(report["range"]["from"], Value::Null);
    let wm = watermark(&fx.state).await.expect("watermark written");
    assert_eq!(
        wm.partition,
        Some(vec!["2024".into(), "07".into(), "05".into()])
    );

    // The next merge (as `dmslake sql merge` prints it) reads from the watermark partition on.
    let next = preview(&fx, compactor::preview::Statement::Merge)
        .await
        .expect("preview");
    assert!(next.starts_with("MERGE INTO \"cur_"), "{next}");
    assert!(
        next.contains(
            "(\"r\".\"year\" > '2024') OR (\"r\".\"year\" = '2024' AND \"r\".\"month\" > '07')"
        ),
        "{next}"
    );
    assert!(
        !next.contains("'0000'"),
        "full-load partition no longer read: {next}"
    );
    // Both statements were started in the configured workgroup.
    assert_eq!(
        executions(&fx).await,
        3,
        "DDL + MERGE + the newest commit's SELECT"
    );

    // Stuck RUNNING until the deadline: reported as timed out; the watermark does not move,
    // it records the running query for the next run.
    // (The curated table is in the catalog now, as Athena's CREATE TABLE would have put it: no
    // DDL runs, the MERGE is the query that stays running.)
    put_curated_table(&fx, &["order_id", "product_id", "quantity", "_dmslake_seq"]).await;
    set_transition(json!({"progression": "manual", "times": 100000})).await;
    let before = watermark(&fx.state).await.expect("watermark");
    let merge_table = || {
        handle(
            &fx.deps,
            json!({"action": "merge", "tables": ["public.order_details"]}),
            Instant::now() + Duration::from_millis(700),
        )
    };
    let out = failed_run(merge_table().await);
    assert_eq!(out["tables"][0]["status"], "timed_out", "{out}");
    let running = out["tables"][0]["query_id"]
        .as_str()
        .expect("query id")
        .to_string();
    let during = watermark(&fx.state).await.expect("watermark");
    let flight = during
        .in_flight
        .clone()
        .expect("the running query is recorded");
    assert_eq!(flight.query_id, running);
    assert_eq!(
        Watermark {
            in_flight: None,
            ..during
        },
        before,
        "nothing else moves"
    );
    let started = executions(&fx).await;

    // A run while it still runs waits for it and starts nothing.
    let out = failed_run(merge_table().await);
    assert_eq!(out["tables"][0]["status"], "timed_out", "{out}");
    assert_eq!(out["tables"][0]["query_id"], running.as_str(), "{out}");
    assert_eq!(executions(&fx).await, started, "no query started");

    // Once it has succeeded, the next run adopts it: the watermark moves with its id, and only
    // the newest-commit query is started.
    set_transition(json!({"progression": "immediate"})).await;
    let out = handle(
        &fx.deps,
        json!({"action": "merge", "tables": ["public.order_details"]}),
        Instant::now() + Duration::from_secs(20),
    )
    .await
    .expect("handle");
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    assert_eq!(out["tables"][0]["query_id"], running.as_str(), "{out}");
    let after = watermark(&fx.state).await.expect("watermark");
    assert_eq!(after.query_id, running);
    assert_eq!(after.in_flight, None);
    assert_eq!(after.partition, flight.next.partition);
    assert_eq!(
        executions(&fx).await,
        started + 1,
        "the newest commit's SELECT only"
    );

    // A table without a configured key is reported, never merged; no watermark.
    set_transition(json!({"progression": "immediate"})).await;
    let nokey = fixture(false).await;
    let out = failed_run(handle(&nokey.deps, event("compactor-schedule.json"), deadline).await);
    assert_eq!(out["tables"][0]["status"], "skipped", "{out}");
    assert!(out["tables"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("DMSLAKE_PRIMARY_KEYS"));
    assert_eq!(watermark(&nokey.state).await, None);

    // Maintenance runs OPTIMIZE and VACUUM.
    let out = handle(&fx.deps, event("compactor-maintain.json"), deadline)
        .await
        .expect("handle");
    assert_eq!(out["tables"][0]["status"], "maintained", "{out}");
}

#[tokio::test]
async fn a_running_merge_athena_no_longer_knows_is_planned_again() {
    let (_guard, fx) = immediate_fixture().await;
    // A run recorded a running merge whose id Athena does not know (its history is kept 45
    // days): the next run plans and runs the merge itself.
    let flight = compactor::watermark::InFlight {
        query_id: "00000000-0000-0000-0000-000000000000".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        range: Default::default(),
        rebuild_files: None,
        next: Box::new(Watermark {
            partition: Some(vec!["2999".into(), "01".into(), "01".into()]),
            ..Default::default()
        }),
    };
    fx.state
        .put_if(
            &watermark_doc("public_order_details"),
            &Watermark::with_in_flight(None, flight),
            None,
        )
        .await
        .expect("watermark");
    let out = handle(
        &fx.deps,
        json!({"action": "merge"}),
        Instant::now() + Duration::from_secs(20),
    )
    .await
    .expect("handle");
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    assert_ne!(
        out["tables"][0]["query_id"], "00000000-0000-0000-0000-000000000000",
        "{out}"
    );
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(wm.in_flight, None);
    assert_eq!(
        wm.partition,
        Some(vec!["2024".into(), "07".into(), "05".into()]),
        "the merge's own range, not the unknown query's"
    );
}

#[tokio::test]
async fn a_live_lock_skips_the_table_and_leaves_the_watermark() {
    let (_guard, fx) = immediate_fixture().await;
    fx.state
        .put_if(
            "locks/public_order_details.json",
            &compactor::watermark::Lock {
                owner: "other".into(),
                expires_at: chrono::Utc::now().timestamp() + 600,
            },
            None,
        )
        .await
        .expect("lock");
    let out = failed_run(
        handle(
            &fx.deps,
            json!({"action": "merge"}),
            Instant::now() + Duration::from_secs(20),
        )
        .await,
    );
    assert!(
        matches!(out["tables"][0]["status"].as_str(), Some("skipped")),
        "{out}"
    );
    assert_eq!(watermark(&fx.state).await, None);
}

#[tokio::test]
async fn an_expired_lock_is_taken_over_and_the_merge_runs() {
    let (_guard, fx) = immediate_fixture().await;
    fx.state
        .put_if(
            "locks/public_order_details.json",
            &compactor::watermark::Lock {
                owner: "crashed-run".into(),
                expires_at: chrono::Utc::now().timestamp() - 1,
            },
            None,
        )
        .await
        .expect("lock");
    let out = merge_all(&fx).await;
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    assert!(watermark(&fx.state).await.is_some());
    let lock = fx
        .state
        .get::<compactor::watermark::Lock>("locks/public_order_details.json")
        .await
        .expect("get");
    assert!(lock.is_none(), "lock released after the run");
}

/// The query strings started in the fixture's workgroup, in the order they were started
/// (moto lists executions in insertion order).
async fn executed_queries(fx: &Fixture) -> Vec<String> {
    let runner = &fx.deps.runner;
    let ids = runner
        .client
        .list_query_executions()
        .work_group(&runner.workgroup)
        .send()
        .await
        .expect("list")
        .query_execution_ids()
        .to_vec();
    let mut out = Vec::new();
    for id in ids {
        let exec = runner
            .client
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .expect("get execution");
        out.push(
            exec.query_execution()
                .and_then(|e| e.query())
                .unwrap_or_default()
                .to_string(),
        );
    }
    out
}

/// What `dmslake sql <statement> public.order_details` prints for the fixture.
async fn preview(
    fx: &Fixture,
    statement: compactor::preview::Statement,
) -> Result<String, compactor::preview::PreviewError> {
    compactor::preview::statement(
        &fx.deps.glue,
        &fx.state,
        &fx.deps.config,
        "public.order_details",
        statement,
    )
    .await
}

/// What `dmslake sql add-columns public.order_details` prints for the fixture.
async fn preview_add_columns(fx: &Fixture) -> Result<String, compactor::preview::PreviewError> {
    preview(fx, compactor::preview::Statement::AddColumns).await
}

/// Appends a string column to the raw table, as the registrar does for a column the source
/// gained.
async fn add_raw_column(fx: &Fixture, name: &str) {
    let raw_db = &fx.deps.config.common.raw_database;
    let current = fx
        .deps
        .glue
        .get_table()
        .database_name(raw_db)
        .name("public_order_details")
        .send()
        .await
        .expect("get table");
    let current = current.table().expect("table");
    let sd = current.storage_descriptor().expect("storage descriptor");
    let mut columns = sd.columns().to_vec();
    columns.push(
        Column::builder()
            .name(name)
            .r#type("string")
            .build()
            .expect("col"),
    );
    fx.deps
        .glue
        .update_table()
        .database_name(raw_db)
        .table_input(
            TableInput::builder()
                .name(current.name())
                .storage_descriptor(
                    StorageDescriptor::builder()
                        .set_columns(Some(columns))
                        .set_location(sd.location().map(str::to_string))
                        .build(),
                )
                .set_partition_keys(Some(current.partition_keys().to_vec()))
                .set_parameters(current.parameters().cloned())
                .build()
                .expect("table input"),
        )
        .send()
        .await
        .expect("update table");
}

/// Puts the curated table in the catalog with `columns`, as Athena keeps an Iceberg table's
/// schema in its Glue entry.
async fn put_curated_table(fx: &Fixture, columns: &[&str]) {
    let glue = &fx.deps.glue;
    let db = &fx.deps.config.common.curated_database;
    let _ = glue
        .create_database()
        .database_input(DatabaseInput::builder().name(db).build().expect("db"))
        .send()
        .await;
    let _ = glue
        .delete_table()
        .database_name(db)
        .name("public_order_details")
        .send()
        .await;
    let cols = columns
        .iter()
        .map(|c| {
            Column::builder()
                .name(*c)
                .r#type("string")
                .build()
                .expect("col")
        })
        .collect();
    glue.create_table()
        .database_name(db)
        .table_input(
            TableInput::builder()
                .name("public_order_details")
                .storage_descriptor(StorageDescriptor::builder().set_columns(Some(cols)).build())
                .parameters("table_type", "ICEBERG")
                .build()
                .expect("table"),
        )
        .send()
        .await
        .expect("create curated table");
}

#[tokio::test]
async fn the_catalogs_curated_columns_decide_which_columns_are_added() {
    let (_guard, fx) = immediate_fixture().await;
    add_raw_column(&fx, "discount").await;
    // An earlier run's ALTER outlived it: the catalog has `discount`, its watermark does not.
    put_curated_table(
        &fx,
        &[
            "order_id",
            "product_id",
            "quantity",
            "discount",
            "_dmslake_seq",
        ],
    )
    .await;
    fx.state
        .put_if(
            &watermark_doc("public_order_details"),
            &Watermark {
                partition: Some(vec!["0000".into(), "00".into(), "00".into()]),
                query_id: "earlier".into(),
                merged_at: "2024-06-12T00:00:00Z".into(),
                columns: Some(vec![
                    "order_id".into(),
                    "product_id".into(),
                    "quantity".into(),
                ]),
                ..Default::default()
            },
            None,
        )
        .await
        .expect("watermark");
    let preview = || preview_add_columns(&fx);
    assert_eq!(preview().await.expect("preview"), "", "the catalog has it");
    let out = merge_all(&fx).await;
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    let queries = executed_queries(&fx).await;
    assert!(
        queries.iter().all(|q| !q.starts_with("ALTER")),
        "{queries:?}"
    );

    // The other way round: the watermark lists `discount`, the catalog does not have it.
    put_curated_table(&fx, &["order_id", "product_id", "quantity", "_dmslake_seq"]).await;
    let cur_db = &fx.deps.config.common.curated_database;
    assert_eq!(
        preview().await.expect("preview"),
        format!("ALTER TABLE `{cur_db}`.`public_order_details` ADD COLUMNS (`discount` string)")
    );
}

#[tokio::test]
async fn a_column_the_raw_table_gains_is_added_once_before_the_next_merge() {
    let (_guard, fx) = immediate_fixture().await;
    let request = json!({"action": "merge", "tables": ["public.order_details"]});
    let deadline = || Instant::now() + Duration::from_secs(20);

    let out = handle(&fx.deps, request.clone(), deadline())
        .await
        .expect("handle");
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    let wm = watermark(&fx.state).await.expect("watermark");
    let first_columns = ["order_id", "product_id", "quantity"].map(String::from);
    assert_eq!(wm.columns.as_deref(), Some(&first_columns[..]));
    let first_run = executed_queries(&fx).await;
    assert!(
        first_run.iter().all(|q| !q.starts_with("ALTER")),
        "{first_run:?}"
    );

    // The registrar appends a column the source gained to the raw table.
    add_raw_column(&fx, "discount").await;

    // `dmslake sql add-columns` shows the statement the run will issue.
    let preview = || preview_add_columns(&fx);
    let cur_db = &fx.deps.config.common.curated_database;
    let alter =
        format!("ALTER TABLE `{cur_db}`.`public_order_details` ADD COLUMNS (`discount` string)");
    assert_eq!(preview().await.expect("preview"), alter);

    let out = handle(&fx.deps, request.clone(), deadline())
        .await
        .expect("handle");
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    let second_run: Vec<String> = executed_queries(&fx).await[first_run.len()..].to_vec();
    let alters: Vec<&String> = second_run
        .iter()
        .filter(|q| q.starts_with("ALTER"))
        .collect();
    assert_eq!(alters, [&alter], "{second_run:?}");
    let position = |prefix: &str| second_run.iter().position(|q| q.starts_with(prefix));
    let merge_at = position("MERGE INTO").expect("merge ran");
    assert!(position("ALTER").expect("alter ran") < merge_at);
    assert!(position("CREATE TABLE").expect("create ran") < merge_at);
    assert!(second_run[merge_at].contains("\"discount\""));
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(
        wm.columns,
        Some(vec![
            "order_id".into(),
            "product_id".into(),
            "quantity".into(),
            "discount".into()
        ])
    );

    // Nothing left to add: the next run issues no ALTER.
    assert_eq!(preview().await.expect("preview"), "");
    let before = executed_queries(&fx).await.len();
    let out = handle(&fx.deps, request, deadline()).await.expect("handle");
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    let third_run = executed_queries(&fx).await[before..].to_vec();
    assert!(
        third_run.iter().all(|q| !q.starts_with("ALTER")),
        "{third_run:?}"
    );
}

#[tokio::test]
async fn a_watermark_without_columns_adds_nothing_and_then_records_them() {
    let (_guard, fx) = immediate_fixture().await;
    // A document written before columns were tracked.
    fx.state
        .put_if(
            &watermark_doc("public_order_details"),
            &json!({"partition": ["2024", "06", "12"], "query_id": "old", "merged_at": "2024-06-12T00:00:00Z"}),
            None,
        )
        .await
        .expect("old watermark");
    let out = merge_all(&fx).await;
    assert_eq!(out["tables"][0]["status"], "merged", "{out}");
    let queries = executed_queries(&fx).await;
    assert!(
        queries.iter().all(|q| !q.starts_with("ALTER")),
        "{queries:?}"
    );
    assert_eq!(
        queries.len(),
        3,
        "CREATE + MERGE + the newest commit's SELECT: {queries:?}"
    );
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(
        wm.columns,
        Some(vec![
            "order_id".into(),
            "product_id".into(),
            "quantity".into()
        ])
    );
}

/// Queues the result of the next `count` queries started in moto's Athena (a header row, then
/// one row with `value`, the way Athena answers a one-column `SELECT`): moto hands queued
/// results out as queries start, in order.
async fn queue_query_results(value: &str, count: usize) {
    let row = |v: &str| json!({"Data": [{"VarCharValue": v}]});
    let result = json!({"rows": [row("newest_commit"), row(value)]});
    post_moto_api(
        "/moto-api/static/athena/query-results",
        &json!({"results": vec![result; count]}),
    );
}

/// A second raw table, a copy of the fixture's under another name, with no merge key.
async fn add_table_without_key(fx: &Fixture, name: &str) {
    let raw_db = &fx.deps.config.common.raw_database;
    let current = fx
        .deps
        .glue
        .get_table()
        .database_name(raw_db)
        .name("public_order_details")
        .send()
        .await
        .expect("get table");
    let current = current.table().expect("table");
    fx.deps
        .glue
        .create_table()
        .database_name(raw_db)
        .table_input(
            TableInput::builder()
                .name(name)
                .set_storage_descriptor(current.storage_descriptor().cloned())
                .set_partition_keys(Some(current.partition_keys().to_vec()))
                .parameters("dmslake.source_schema", "public")
                .parameters("dmslake.source_table", name.trim_start_matches("public_"))
                .parameters("dmslake.format", "csv")
                .parameters("classification", "csv")
                .build()
                .expect("table"),
        )
        .send()
        .await
        .expect("create table");
}

#[tokio::test]
async fn a_run_with_a_table_not_done_merges_the_others_then_fails_and_reports_lag_and_errors() {
    dmslake::metrics::capture();
    let (_guard, fx) = immediate_fixture().await;
    add_table_without_key(&fx, "public_aaa_unkeyed").await;
    // The newest change the merge reads was committed long ago: the table lags. The keyed
    // table's run starts three queries (CREATE, MERGE, the newest commit's SELECT).
    queue_query_results("2020-01-01 00:00:00.000001", 3).await;

    let result = handle(
        &fx.deps,
        json!({"action": "merge"}),
        Instant::now() + Duration::from_secs(20),
    )
    .await;
    let err = result
        .as_ref()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("1 of 2 tables not done: public_aaa_unkeyed skipped"),
        "{err}"
    );
    let out = failed_run(result);
    let status = |table: &str| {
        out["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|r| r["table"] == table))
            .map(|r| r["status"].clone())
    };
    // The unkeyed table sorts first; the other was still merged after it.
    assert_eq!(out["tables"][0]["table"], "public_aaa_unkeyed", "{out}");
    assert_eq!(status("public_aaa_unkeyed"), Some(json!("skipped")));
    assert_eq!(status("public_order_details"), Some(json!("merged")));
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(
        wm.newest_commit.as_deref(),
        Some("2020-01-01 00:00:00.000001")
    );

    // MergeFailures for the table not done; MergeLagSeconds for the merged one.
    let failures = dmslake::metrics::captured(dmslake::metrics::MERGE_FAILURES);
    assert!(
        failures.iter().any(|d| d["Table"] == "public_aaa_unkeyed"),
        "{failures:?}"
    );
    let lags = dmslake::metrics::captured(dmslake::metrics::MERGE_LAG_SECONDS);
    assert!(
        lags.iter().any(|d| d["Table"] == "public_order_details"
            && d["MergeLagSeconds"].as_f64().unwrap_or(0.0) > 150_000_000.0),
        "{lags:?}"
    );

    // What `dmslake status` shows per table.
    let tables = compactor::status::table_statuses(&fx.state, chrono::Utc::now())
        .await
        .expect("statuses");
    let merged = tables
        .iter()
        .find(|t| t.table == "public_order_details")
        .expect("merged table");
    assert_eq!(
        merged.watermark,
        Some(vec!["2024".into(), "07".into(), "05".into()])
    );
    assert!(merged.last_merge.is_some());
    assert!(merged.lag_seconds.unwrap_or(0) > 150_000_000, "{merged:?}");
    assert_eq!(
        merged.last_run.as_ref().map(|r| r.outcome.as_str()),
        Some("merged")
    );
    let unkeyed = tables
        .iter()
        .find(|t| t.table == "public_aaa_unkeyed")
        .expect("unkeyed table");
    assert_eq!(unkeyed.watermark, None);
    let last = unkeyed.last_run.as_ref().expect("last run");
    assert_eq!(last.outcome, "skipped");
    assert!(
        last.last_error
            .as_deref()
            .is_some_and(|e| e.contains("DMSLAKE_PRIMARY_KEYS")),
        "{last:?}"
    );
}

/// A reload seen through the handler: a full-load file rewritten after the first merge (the
/// counter starting again) makes the next run wait (`reload_pending`, no MERGE, the watermark
/// records the pending file), and the run after that rebuild the table from exactly that file
/// (`rebuilt`), count it in `TableReloads`, record it in the watermark and show it in
/// `dmslake status`; later merges leave out changes committed before the reload.
#[tokio::test]
async fn a_reload_is_waited_for_then_rebuilt_counted_and_shown_in_status() {
    dmslake::metrics::capture();
    let (_guard, fx) = immediate_fixture().await;
    let bucket = fx.state.location().bucket.clone();
    let key = "dms/public/order_details/LOAD00000001.csv";
    let s3 = fx.state.client();
    let csv = |rows: &str| format!("op,dms_commit_ts,order_id\n{rows}").into_bytes();
    dmslake_tests::put_object(s3, &bucket, key, csv("I,2024-06-12 10:00:00,1\n")).await;
    let status = |out: &Value| out["tables"][0]["status"].clone();

    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "merged", "{out}");
    let wm = watermark(&fx.state).await.expect("watermark");
    let recorded = wm.full_load.clone().unwrap_or_default();
    assert_eq!(recorded.len(), 1, "{wm:?}");
    assert_eq!(recorded[0].key, key);

    // The reload rewrites LOAD00000001 (another ETag).
    dmslake_tests::put_object(s3, &bucket, key, csv("I,2024-07-06 09:00:00,2\n")).await;
    let queries_before = executed_queries(&fx).await.len();
    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "reload_pending", "{out}");
    assert_eq!(out["tables"][0]["files"], json!([key]), "{out}");
    assert_eq!(
        executed_queries(&fx).await.len(),
        queries_before,
        "a pending reload runs no query"
    );
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(wm.pending_load.as_ref().map(Vec::len), Some(1), "{wm:?}");
    assert_eq!(wm.full_load, Some(recorded), "the record is unchanged");
    assert!(dmslake::metrics::captured(dmslake::metrics::TABLE_RELOADS).is_empty());

    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "rebuilt", "{out}");
    let url = format!("s3://{bucket}/{key}");
    assert_eq!(out["tables"][0]["files"], json!([url]), "{out}");
    let rebuild = executed_queries(&fx)
        .await
        .into_iter()
        .find(|q| q.starts_with("MERGE INTO") && q.contains("\"_dmslake_load\""))
        .expect("the rebuild MERGE");
    assert!(
        rebuild.contains(&format!("\"r\".\"$path\" IN ('{url}')")),
        "{rebuild}"
    );
    let reloads = dmslake::metrics::captured(dmslake::metrics::TABLE_RELOADS);
    assert!(
        reloads
            .iter()
            .any(|d| d["Table"] == "public_order_details" && d["TableReloads"] == 1.0),
        "{reloads:?}"
    );
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(wm.pending_load, None);
    assert!(wm.rebuilt_at.is_some(), "{wm:?}");
    let since = wm.reload_after.clone().expect("reload_after");
    let recorded = wm.full_load.clone().unwrap_or_default();
    assert_eq!(recorded.len(), 1);
    assert_ne!(recorded[0].etag, "", "{recorded:?}");

    let tables = compactor::status::table_statuses(&fx.state, chrono::Utc::now())
        .await
        .expect("statuses");
    let t = tables
        .iter()
        .find(|t| t.table == "public_order_details")
        .expect("table status");
    assert_eq!(t.last_rebuild, wm.rebuilt_at);
    assert_eq!(
        t.last_run.as_ref().map(|r| r.outcome.as_str()),
        Some("rebuilt")
    );

    // Nothing new since: a plain merge, leaving out changes from before the reload.
    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "merged", "{out}");
    let merges: Vec<String> = executed_queries(&fx)
        .await
        .into_iter()
        .filter(|q| q.starts_with("MERGE INTO") && !q.contains("\"_dmslake_load\""))
        .collect();
    assert!(
        merges.iter().any(|q| q.contains(&format!(">= '{since}'"))),
        "{merges:?}"
    );
}

/// Makes the fixture's raw table unpartitioned (DMS's `DatePartitionEnabled=false`): no
/// partition keys, its files directly in the table folder `public/order_details/`.
async fn make_unpartitioned(fx: &Fixture) -> String {
    let raw_db = &fx.deps.config.common.raw_database;
    let current = fx
        .deps
        .glue
        .get_table()
        .database_name(raw_db)
        .name("public_order_details")
        .send()
        .await
        .expect("get table");
    let current = current.table().expect("table");
    let bucket = fx.state.location().bucket.clone();
    let location = format!("s3://{bucket}/public/order_details/");
    let sd = current
        .storage_descriptor()
        .cloned()
        .expect("storage descriptor");
    let sd = StorageDescriptor::builder()
        .set_columns(Some(sd.columns().to_vec()))
        .location(&location)
        .build();
    fx.deps
        .glue
        .update_table()
        .database_name(raw_db)
        .table_input(
            TableInput::builder()
                .name("public_order_details")
                .storage_descriptor(sd)
                .set_partition_keys(Some(vec![]))
                .parameters("dmslake.source_schema", "public")
                .parameters("dmslake.source_table", "order_details")
                .parameters("dmslake.format", "csv")
                .parameters("classification", "csv")
                .build()
                .expect("table"),
        )
        .send()
        .await
        .expect("update table");
    bucket
}

/// An unpartitioned raw table: the first merge reads the full load and the change files up to
/// the newest listed and records that file in the watermark; a run with no new change file is
/// `nothing_new` and starts no query; the next merge reads from the recorded file to the newest
/// new one and no full-load file (the newest-commit query too); a merge left running carries
/// the window and the file to record, and its adoption records it.
#[tokio::test]
async fn an_unpartitioned_table_merges_only_the_change_files_after_the_watermark() {
    let (_guard, fx) = immediate_fixture().await;
    let bucket = make_unpartitioned(&fx).await;
    let s3 = fx.state.client();
    let folder = "public/order_details/";
    let url = |name: &str| format!("s3://{bucket}/{folder}{name}");
    let csv = |rows: &str| format!("op,dms_commit_ts,order_id\n{rows}").into_bytes();
    let put = |name: &'static str, rows: &'static str| {
        let (bucket, key) = (bucket.clone(), format!("{folder}{name}"));
        async move { dmslake_tests::put_object(s3, &bucket, &key, csv(rows)).await }
    };
    put("LOAD00000001.csv", "I,2026-11-24 10:00:00,1\n").await;
    put("20261124-101500123.csv", "U,2026-11-24 10:15:00,1\n").await;
    let (first, second) = (url("20261124-101500123.csv"), url("20261124-103000456.csv"));
    let status = |out: &Value| out["tables"][0]["status"].clone();
    let path = "\"r\".\"$path\"";

    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "merged", "{out}");
    assert_eq!(
        out["tables"][0]["range"]["to_file"],
        first.as_str(),
        "{out}"
    );
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(wm.change_file.as_deref(), Some(first.as_str()), "{wm:?}");
    assert_eq!(wm.partition, None);
    let queries = executed_queries(&fx).await;
    let merge = queries
        .iter()
        .find(|q| q.starts_with("MERGE INTO"))
        .expect("the MERGE");
    assert!(
        merge.contains(&format!(
            "WHERE ({path} <= '{first}' OR regexp_like({path}, "
        )),
        "the first merge reads the full load and the changes up to the newest: {merge}"
    );

    // No change file after the recorded one: nothing to read, no query.
    let started = queries.len();
    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "nothing_new", "{out}");
    assert_eq!(
        executed_queries(&fx).await.len(),
        started,
        "no query started"
    );
    assert_eq!(watermark(&fx.state).await, Some(wm.clone()));

    // A running query the table no longer has (Athena does not know it): the run forgets it
    // even when nothing is new, so no later run waits for it or shows it running.
    let etag = fx
        .state
        .get::<Watermark>(&watermark_doc("public_order_details"))
        .await
        .expect("get")
        .expect("watermark")
        .etag;
    let flight = compactor::watermark::InFlight {
        query_id: "00000000-0000-0000-0000-000000000001".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        range: Default::default(),
        rebuild_files: None,
        next: Box::new(wm.clone()),
    };
    fx.state
        .put_if(
            &watermark_doc("public_order_details"),
            &Watermark::with_in_flight(Some(&wm), flight),
            Some(&etag),
        )
        .await
        .expect("watermark with a running query");
    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "nothing_new", "{out}");
    assert_eq!(watermark(&fx.state).await, Some(wm));

    // A new change file (and a key in a subfolder, not a change file of this table): the
    // merge reads the recorded file (again) to the new one, and no full-load file. It stays
    // running past the run's time: the running query records the window and the file.
    put("20261124-103000456.csv", "D,2026-11-24 10:30:00,1\n").await;
    dmslake_tests::put_object(
        s3,
        &bucket,
        &format!("{folder}x/20261124-110000000.csv"),
        csv(""),
    )
    .await;
    let window = format!("{path} >= '{first}' AND {path} <= '{second}'");
    // `dmslake sql merge` prints what the run would read.
    let next = preview(&fx, compactor::preview::Statement::Merge)
        .await
        .expect("preview");
    assert!(next.contains(&format!("WHERE {window}")), "{next}");
    put_curated_table(&fx, &["order_id", "product_id", "quantity", "_dmslake_seq"]).await;
    set_transition(json!({"progression": "manual", "times": 100000})).await;
    let out = failed_run(
        handle(
            &fx.deps,
            json!({"action": "merge", "tables": ["public.order_details"]}),
            Instant::now() + Duration::from_millis(700),
        )
        .await,
    );
    assert_eq!(status(&out), "timed_out", "{out}");
    let flight = watermark(&fx.state)
        .await
        .and_then(|w| w.in_flight)
        .expect("the running merge is recorded");
    assert_eq!(flight.range.from_file.as_deref(), Some(first.as_str()));
    assert_eq!(flight.range.to_file.as_deref(), Some(second.as_str()));
    assert_eq!(flight.next.change_file.as_deref(), Some(second.as_str()));
    let merge = executed_queries(&fx)
        .await
        .into_iter()
        .rfind(|q| q.starts_with("MERGE INTO"))
        .expect("the second MERGE");
    assert!(merge.contains(&format!("WHERE {window}")), "{merge}");
    assert!(
        !merge.contains("regexp_like"),
        "no full-load file read: {merge}"
    );

    // Adopted once it has succeeded: the watermark records the newest file merged, and the
    // newest-commit query reads the same window.
    set_transition(json!({"progression": "immediate"})).await;
    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "merged", "{out}");
    let wm = watermark(&fx.state).await.expect("watermark");
    assert_eq!(wm.change_file.as_deref(), Some(second.as_str()), "{wm:?}");
    assert_eq!(wm.in_flight, None);
    let newest = executed_queries(&fx)
        .await
        .into_iter()
        .rfind(|q| q.starts_with("SELECT max("))
        .expect("the newest-commit query");
    assert!(newest.ends_with(&format!("WHERE {window}")), "{newest}");
    let out = merge_all(&fx).await;
    assert_eq!(status(&out), "nothing_new", "{out}");
}
