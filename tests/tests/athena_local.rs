//! The local Athena (tools/athena-local) through the Rust SDK: Athena's API executing on
//! Trino over the local Glue and S3. Token semantics, states and reasons, cancellation,
//! result paging and metadata, the results object, each DDL translation run for real, the
//! raw tables the registrar writes read through the Hive redirection, the compactor's own
//! statements, and boto3 reaching it.
//!
//! Needs the stack (`make stack-up`: moto, Trino, athena-local); fails, naming what to start,
//! when the local Athena is not reachable.

use std::time::{Duration, Instant};

use aws_sdk_athena::error::ProvideErrorMetadata;
use aws_sdk_athena::types::{
    QueryExecution, QueryExecutionContext, QueryExecutionState, ResultConfiguration,
};
use dmslake::clients::Clients;
use dmslake_tests::{athena_local, clients, new_bucket, samples_dir, sdk_config, unique_name};
use serde_json::{json, Value};

/// One test's corner of the lake: a bucket, a Glue database and a workgroup whose results go
/// to `s3://<bucket>/results/`.
struct Lake {
    clients: Clients,
    athena: aws_sdk_athena::Client,
    bucket: String,
    database: String,
    workgroup: String,
}

/// Creates the Glue database `name`.
async fn create_database(clients: &Clients, name: &str) {
    clients
        .glue
        .create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(name)
                .build()
                .expect("database input"),
        )
        .send()
        .await
        .expect("create database");
}

impl Lake {
    /// A curated database of its own and the compactor's configuration over this lake (raw
    /// database, workgroup, state in the bucket), with `extra` variables.
    async fn compactor_config(
        &self,
        extra: &[(&'static str, String)],
    ) -> (String, compactor::config::CompactorConfig) {
        let curated = unique_name("curated", '_');
        create_database(&self.clients, &curated).await;
        let mut vars = vec![
            ("DMSLAKE_RAW_DATABASE", self.database.clone()),
            ("DMSLAKE_CURATED_DATABASE", curated.clone()),
            ("DMSLAKE_ATHENA_WORKGROUP", self.workgroup.clone()),
            (
                "DMSLAKE_CURATED_LOCATION",
                format!("s3://{}/curated/", self.bucket),
            ),
            ("DMSLAKE_STATE_BUCKET", self.bucket.clone()),
        ];
        vars.extend(extra.iter().cloned());
        let cfg = compactor::config::CompactorConfig::from_lookup(&|k| {
            vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        })
        .expect("compactor config");
        (curated, cfg)
    }

    async fn new() -> Self {
        let athena = athena_local().await;
        let clients = clients().await;
        let bucket = new_bucket(&clients, "athena").await;
        let database = unique_name("athena", '_');
        create_database(&clients, &database).await;
        let workgroup = unique_name("wg", '-');
        dmslake_tests::athena::create_workgroup(
            &athena,
            &workgroup,
            &format!("s3://{bucket}/results/"),
        )
        .await
        .expect("create workgroup");
        Self {
            clients,
            athena,
            bucket,
            database,
            workgroup,
        }
    }

    async fn start_with(&self, sql: &str, token: Option<&str>) -> Result<String, String> {
        let mut req = self
            .athena
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&self.database)
                    .build(),
            );
        if let Some(t) = token {
            req = req.client_request_token(t);
        }
        match req.send().await {
            Ok(out) => Ok(out.query_execution_id().expect("query id").to_string()),
            Err(err) => {
                let err = err.into_service_error();
                Err(format!(
                    "{}: {}",
                    err.code().unwrap_or("?"),
                    err.message().unwrap_or("")
                ))
            }
        }
    }

    async fn start(&self, sql: &str) -> String {
        self.start_with(sql, None)
            .await
            .unwrap_or_else(|e| panic!("start {sql}: {e}"))
    }

    async fn execution(&self, id: &str) -> QueryExecution {
        self.athena
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .expect("GetQueryExecution")
            .query_execution()
            .expect("execution")
            .clone()
    }

    /// Polls until the query ends; returns it with every state seen on the way.
    async fn wait(&self, id: &str) -> (QueryExecution, Vec<String>) {
        let give_up = Instant::now() + Duration::from_secs(300);
        let mut seen: Vec<String> = Vec::new();
        loop {
            let q = self.execution(id).await;
            let state = state(&q);
            if seen.last() != Some(&state) {
                seen.push(state.clone());
            }
            if !matches!(state.as_str(), "QUEUED" | "RUNNING") {
                return (q, seen);
            }
            assert!(Instant::now() < give_up, "query {id} never finished");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `sql` to its end.
    async fn run(&self, sql: &str) -> QueryExecution {
        let id = self.start(sql).await;
        self.wait(&id).await.0
    }

    /// Runs `sql`, which must succeed.
    async fn ok(&self, sql: &str) -> QueryExecution {
        let q = self.run(sql).await;
        assert_eq!(state(&q), "SUCCEEDED", "{sql}: {:?}", reason(&q));
        q
    }

    /// Every row of a finished query (header row included for SELECTs), `None` for NULL.
    async fn rows(&self, id: &str) -> Vec<Vec<Option<String>>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .athena
                .get_query_results()
                .query_execution_id(id)
                .set_next_token(token.clone())
                .send()
                .await
                .expect("GetQueryResults");
            for row in page.result_set().map(|r| r.rows()).unwrap_or_default() {
                out.push(
                    row.data()
                        .iter()
                        .map(|d| d.var_char_value().map(str::to_string))
                        .collect(),
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return out;
            }
        }
    }

    /// The data rows of a SELECT that must succeed (the header row checked and dropped).
    async fn select(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let q = self.ok(sql).await;
        let mut rows = self.rows(q.query_execution_id().expect("id")).await;
        assert!(!rows.is_empty(), "{sql}: no header row");
        rows.remove(0);
        rows
    }

    async fn count(&self, sql: &str) -> i64 {
        let rows = self.select(sql).await;
        rows[0][0]
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{sql}: {rows:?}"))
    }

    /// How many times Trino ran exactly `sql` (its own query list).
    async fn trino_runs(&self, sql: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM system.runtime.queries WHERE query = {}",
            dmslake::sql::string_literal(sql)
        ))
        .await
    }
}

fn state(q: &QueryExecution) -> String {
    q.status()
        .and_then(|s| s.state())
        .map(QueryExecutionState::as_str)
        .unwrap_or("?")
        .to_string()
}

fn reason(q: &QueryExecution) -> String {
    q.status()
        .and_then(|s| s.state_change_reason())
        .unwrap_or("")
        .to_string()
}

fn scanned(q: &QueryExecution) -> i64 {
    q.statistics()
        .and_then(|s| s.data_scanned_in_bytes())
        .unwrap_or(-1)
}

// ---------------------------------------------------------------- API behaviour

#[tokio::test]
async fn same_token_and_parameters_return_the_same_query_and_trino_runs_it_once() {
    let lake = Lake::new().await;
    let sql = format!("SELECT '{}' AS marker", unique_name("token", '-'));
    let token = format!("athena-local-test-token-{}", unique_name("same", '-'));
    let first = lake
        .start_with(&sql, Some(&token))
        .await
        .expect("first start");
    let again = lake.start_with(&sql, Some(&token)).await.expect("retry");
    assert_eq!(first, again);
    let (q, _) = lake.wait(&first).await;
    assert_eq!(state(&q), "SUCCEEDED", "{}", reason(&q));
    // A retry after the query finished still returns it and starts nothing.
    let later = lake
        .start_with(&sql, Some(&token))
        .await
        .expect("late retry");
    assert_eq!(later, first);
    assert_eq!(lake.trino_runs(&sql).await, 1);
}

#[tokio::test]
async fn same_token_with_another_statement_is_refused() {
    let lake = Lake::new().await;
    let token = format!("athena-local-test-token-{}", unique_name("other", '-'));
    let id = lake
        .start_with("SELECT 1", Some(&token))
        .await
        .expect("start");
    let err = lake
        .start_with("SELECT 2", Some(&token))
        .await
        .expect_err("another statement under the same token");
    assert!(err.starts_with("InvalidRequestException"), "{err}");
    assert!(err.contains("Idempotent parameters do not match"), "{err}");
    // The first query is untouched.
    assert_eq!(state(&lake.wait(&id).await.0), "SUCCEEDED");
}

#[tokio::test]
async fn without_a_token_every_start_is_a_new_query() {
    let lake = Lake::new().await;
    let sql = format!("SELECT '{}' AS marker", unique_name("notoken", '-'));
    let a = lake.start(&sql).await;
    let b = lake.start(&sql).await;
    assert_ne!(a, b);
    lake.wait(&a).await;
    lake.wait(&b).await;
    assert_eq!(lake.trino_runs(&sql).await, 2);
}

#[tokio::test]
async fn states_progress_in_order_and_failures_carry_trinos_reason() {
    let lake = Lake::new().await;
    let id = lake
        .start("SELECT count(*) FROM UNNEST(sequence(1, 5000)) AS t(x)")
        .await;
    let (q, seen) = lake.wait(&id).await;
    assert_eq!(seen.last().map(String::as_str), Some("SUCCEEDED"));
    let order = ["QUEUED", "RUNNING", "SUCCEEDED"];
    let positions: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("known state"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let stats = q.statistics().expect("statistics");
    assert!(stats.engine_execution_time_in_millis().unwrap_or(0) > 0);
    assert!(q.status().and_then(|s| s.completion_date_time()).is_some());

    let bad = lake.run("SELECT 1 FROM").await;
    assert_eq!(state(&bad), "FAILED");
    assert!(
        reason(&bad).starts_with("SYNTAX_ERROR: "),
        "{}",
        reason(&bad)
    );
    let error = bad
        .status()
        .and_then(|s| s.athena_error())
        .expect("AthenaError");
    assert_eq!(error.error_category(), Some(2), "a user error");

    let missing = lake.run("SELECT * FROM no_such_table").await;
    assert_eq!(state(&missing), "FAILED");
    assert!(
        reason(&missing).starts_with("TABLE_NOT_FOUND: ")
            && reason(&missing).contains("no_such_table"),
        "{}",
        reason(&missing)
    );
    // A failed query has no results.
    let err = lake
        .athena
        .get_query_results()
        .query_execution_id(missing.query_execution_id().expect("id"))
        .send()
        .await
        .expect_err("results of a failed query");
    assert_eq!(
        err.into_service_error().code(),
        Some("InvalidRequestException")
    );
}

#[tokio::test]
async fn an_unknown_query_id_is_an_invalid_request() {
    let lake = Lake::new().await;
    let err = lake
        .athena
        .get_query_execution()
        .query_execution_id("00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .expect_err("unknown id");
    assert_eq!(
        err.into_service_error().code(),
        Some("InvalidRequestException")
    );
}

#[tokio::test]
async fn stop_query_execution_cancels_the_query_on_trino() {
    let lake = Lake::new().await;
    // Runs for hours unless cancelled.
    let sql = format!(
        "SELECT count(*) FROM UNNEST(sequence(1, 10000)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y) \
         CROSS JOIN UNNEST(sequence(1, 10000)) c(z) WHERE (x * y + z) % 7919 = {}",
        std::process::id() % 7919
    );
    let id = lake.start(&sql).await;
    let give_up = Instant::now() + Duration::from_secs(120);
    while state(&lake.execution(&id).await) != "RUNNING" {
        assert!(Instant::now() < give_up, "never RUNNING");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lake.athena
        .stop_query_execution()
        .query_execution_id(&id)
        .send()
        .await
        .expect("StopQueryExecution");
    let (q, _) = lake.wait(&id).await;
    assert_eq!(state(&q), "CANCELLED");
    // Trino's own record of the query: it is no longer running.
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = lake
            .select(&format!(
                "SELECT state FROM system.runtime.queries WHERE query = {}",
                dmslake::sql::string_literal(&sql)
            ))
            .await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        if rows[0][0].as_deref() == Some("FAILED") {
            break;
        }
        assert!(Instant::now() < give_up, "Trino still runs it: {rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn results_page_with_a_header_row_and_column_metadata() {
    let lake = Lake::new().await;
    let q = lake
        .ok(
            "SELECT x AS n, CAST(x AS varchar) AS s, CAST(x AS decimal(12,2)) AS d, \
             CASE WHEN x = 3 THEN NULL ELSE x > 2 END AS b \
             FROM UNNEST(sequence(1, 25)) AS t(x) ORDER BY x",
        )
        .await;
    let id = q.query_execution_id().expect("id");
    let page = lake
        .athena
        .get_query_results()
        .query_execution_id(id)
        .max_results(10)
        .send()
        .await
        .expect("first page");
    let set = page.result_set().expect("result set");
    let columns: Vec<(String, String, i32, i32)> = set
        .result_set_metadata()
        .expect("metadata")
        .column_info()
        .iter()
        .map(|c| {
            (
                c.name().to_string(),
                c.r#type().to_string(),
                c.precision(),
                c.scale(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        vec![
            ("n".into(), "bigint".into(), 19, 0),
            ("s".into(), "varchar".into(), 2147483647, 0),
            ("d".into(), "decimal".into(), 12, 2),
            ("b".into(), "boolean".into(), 0, 0),
        ]
    );
    assert_eq!(set.rows().len(), 10);
    assert!(page.next_token().is_some());
    let rows = lake.rows(id).await;
    assert_eq!(rows.len(), 26, "header + 25 rows");
    assert_eq!(
        rows[0],
        vec![
            Some("n".into()),
            Some("s".into()),
            Some("d".into()),
            Some("b".into())
        ]
    );
    assert_eq!(
        rows[3],
        vec![
            Some("3".into()),
            Some("3".into()),
            Some("3.00".into()),
            None
        ]
    );
    assert_eq!(rows[25][0].as_deref(), Some("25"));
    assert_eq!(rows[25][3].as_deref(), Some("true"));
    let err = lake
        .athena
        .get_query_results()
        .query_execution_id(id)
        .next_token("999.bogus")
        .send()
        .await
        .expect_err("a forged token");
    assert_eq!(
        err.into_service_error().code(),
        Some("InvalidRequestException")
    );
}

#[tokio::test]
async fn results_object_is_written_to_the_workgroup_output_location() {
    let lake = Lake::new().await;
    let q = lake
        .ok("SELECT 'a,b' AS v, 2 AS n UNION ALL SELECT NULL, 3")
        .await;
    let id = q.query_execution_id().expect("id");
    let location = q
        .result_configuration()
        .and_then(|r| r.output_location())
        .expect("output location");
    assert_eq!(location, format!("s3://{}/results/{id}.csv", lake.bucket));
    let body = lake
        .clients
        .s3
        .get_object()
        .bucket(&lake.bucket)
        .key(format!("results/{id}.csv"))
        .send()
        .await
        .expect("results object")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].sort();
    assert_eq!(lines, vec!["\"v\",\"n\"", "\"\",\"3\"", "\"a,b\",\"2\""]);

    // A request's own output location gives way to the workgroup's (enforced by default).
    let own = lake
        .athena
        .start_query_execution()
        .query_string("SELECT 1")
        .work_group(&lake.workgroup)
        .result_configuration(
            ResultConfiguration::builder()
                .output_location(format!("s3://{}/elsewhere/", lake.bucket))
                .build(),
        )
        .send()
        .await
        .expect("start");
    let (q, _) = lake.wait(own.query_execution_id().expect("id")).await;
    let location = q
        .result_configuration()
        .and_then(|r| r.output_location())
        .unwrap_or("");
    assert!(
        location.starts_with(&format!("s3://{}/results/", lake.bucket)),
        "{location}"
    );

    // The primary workgroup has no output location: a start without one is refused.
    let err = lake
        .athena
        .start_query_execution()
        .query_string("SELECT 1")
        .send()
        .await
        .expect_err("no output location");
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("InvalidRequestException"));
    assert!(
        err.message().unwrap_or("").contains("output location"),
        "{err:?}"
    );
}

#[tokio::test]
async fn workgroups_are_created_listed_and_described() {
    let lake = Lake::new().await;
    let got = lake
        .athena
        .get_work_group()
        .work_group(&lake.workgroup)
        .send()
        .await
        .expect("GetWorkGroup");
    let wg = got.work_group().expect("workgroup");
    assert_eq!(
        wg.configuration()
            .and_then(|c| c.result_configuration())
            .and_then(|r| r.output_location()),
        Some(format!("s3://{}/results/", lake.bucket).as_str())
    );
    let list = lake.athena.list_work_groups().send().await.expect("list");
    let names: Vec<&str> = list.work_groups().iter().filter_map(|w| w.name()).collect();
    assert!(
        names.contains(&lake.workgroup.as_str()) && names.contains(&"primary"),
        "{names:?}"
    );
    let err = lake
        .athena
        .create_work_group()
        .name(&lake.workgroup)
        .send()
        .await
        .expect_err("duplicate");
    assert_eq!(
        err.into_service_error().code(),
        Some("InvalidRequestException")
    );
    let err = lake
        .athena
        .get_work_group()
        .work_group("no-such-workgroup")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(
        err.into_service_error().code(),
        Some("InvalidRequestException")
    );
}

// ---------------------------------------------------------------- DDL translation

#[tokio::test]
async fn iceberg_ddl_is_translated_and_runs_on_trino() {
    let lake = Lake::new().await;
    let db = &lake.database;
    let location = format!("s3://{}/curated/orders/", lake.bucket);
    // CREATE TABLE ... PARTITIONED BY transforms ... TBLPROPERTIES ('table_type'='ICEBERG').
    lake.ok(&format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`orders` (`id` int, `note` string, `total` decimal(12,2), \
         `created` timestamp, `tags` array<string>) \
         PARTITIONED BY (day(`created`), bucket(4, `id`)) LOCATION '{location}' \
         TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd', \
         'vacuum_max_snapshot_age_seconds'='3600')"
    ))
    .await;
    // IF NOT EXISTS on an existing table: nothing happens, and it succeeds.
    lake.ok(&format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`orders` (`id` int) LOCATION '{location}' \
         TBLPROPERTIES ('table_type'='ICEBERG')"
    ))
    .await;
    let partitioning = lake
        .select(&format!(
            "SELECT count(*) FROM \"{db}\".\"orders$partitions\""
        ))
        .await;
    assert_eq!(partitioning[0][0].as_deref(), Some("0"));
    // Iceberg metadata is written where LOCATION says.
    let listed = lake
        .clients
        .s3
        .list_objects_v2()
        .bucket(&lake.bucket)
        .prefix("curated/orders/metadata/")
        .send()
        .await
        .expect("list");
    assert!(listed.key_count().unwrap_or(0) > 0);

    for day in 1..=3 {
        lake.ok(&format!(
            "INSERT INTO \"{db}\".\"orders\" VALUES ({day}, 'n{day}', {day}.50, TIMESTAMP '2026-11-0{day} 10:00:00', ARRAY['x'])"
        ))
        .await;
    }
    // ALTER TABLE ... ADD COLUMNS with two columns: both added, one statement's outcome.
    lake.ok(&format!(
        "ALTER TABLE `{db}`.`orders` ADD COLUMNS (`status` string, `qty` bigint)"
    ))
    .await;
    // A column that exists fails the whole statement, and nothing is added.
    let clash = lake
        .run(&format!(
            "ALTER TABLE `{db}`.`orders` ADD COLUMNS (`extra` int, `note` string)"
        ))
        .await;
    assert_eq!(state(&clash), "FAILED");
    assert!(reason(&clash).contains("note"), "{}", reason(&clash));
    // SHOW COLUMNS is a utility statement: rows without a header row, as in Athena.
    let show = lake
        .ok(&format!("SHOW COLUMNS FROM \"{db}\".\"orders\""))
        .await;
    let columns = lake.rows(show.query_execution_id().expect("id")).await;
    let names: Vec<String> = columns.iter().filter_map(|r| r[0].clone()).collect();
    assert_eq!(
        names,
        ["id", "note", "total", "created", "tags", "status", "qty"]
    );

    // MERGE (DML, unchanged).
    lake.ok(&format!(
        "MERGE INTO \"{db}\".\"orders\" t USING (VALUES (2, 'done', 5), (9, 'new', 1)) AS s(id, status, qty) \
         ON t.id = s.id WHEN MATCHED THEN UPDATE SET status = s.status, qty = s.qty \
         WHEN NOT MATCHED THEN INSERT (id, status, qty, created) VALUES (s.id, s.status, s.qty, TIMESTAMP '2026-11-09 00:00:00')"
    ))
    .await;
    let files_before = lake
        .count(&format!("SELECT count(*) FROM \"{db}\".\"orders$files\""))
        .await;
    // OPTIMIZE ... REWRITE DATA USING BIN_PACK, with and without WHERE.
    lake.ok(&format!(
        "OPTIMIZE \"{db}\".\"orders\" REWRITE DATA USING BIN_PACK WHERE \"created\" >= TIMESTAMP '2026-11-02 00:00:00'"
    ))
    .await;
    lake.ok(&format!(
        "OPTIMIZE \"{db}\".\"orders\" REWRITE DATA USING BIN_PACK"
    ))
    .await;
    let files_after = lake
        .count(&format!("SELECT count(*) FROM \"{db}\".\"orders$files\""))
        .await;
    assert!(
        files_after < files_before,
        "OPTIMIZE left {files_after} of {files_before} files"
    );
    let snapshots_before = lake
        .count(&format!(
            "SELECT count(*) FROM \"{db}\".\"orders$snapshots\""
        ))
        .await;
    // VACUUM: the snapshots are younger than the table's 3600 s, so all stay.
    lake.ok(&format!("VACUUM \"{db}\".\"orders\"")).await;
    let snapshots_after = lake
        .count(&format!(
            "SELECT count(*) FROM \"{db}\".\"orders$snapshots\""
        ))
        .await;
    assert_eq!(snapshots_after, snapshots_before);

    let rows = lake
        .select(&format!(
            "SELECT id, note, CAST(total AS varchar), status, qty FROM \"{db}\".\"orders\" ORDER BY id"
        ))
        .await;
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        vec![
            vec![s("1"), s("n1"), s("1.50"), None, None],
            vec![s("2"), s("n2"), s("2.50"), s("done"), s("5")],
            vec![s("3"), s("n3"), s("3.50"), None, None],
            vec![s("9"), None, None, s("new"), s("1")],
        ]
    );
    // DROP TABLE (backtick-quoted, as Athena's DDL writes it).
    lake.ok(&format!("DROP TABLE `{db}`.`orders`")).await;
    let gone = lake
        .run(&format!("SELECT * FROM \"{db}\".\"orders\""))
        .await;
    assert!(
        reason(&gone).starts_with("TABLE_NOT_FOUND"),
        "{}",
        reason(&gone)
    );
}

#[tokio::test]
async fn vacuum_expires_snapshots_older_than_the_tables_retention() {
    let lake = Lake::new().await;
    let db = &lake.database;
    lake.ok(&format!(
        "CREATE TABLE `{db}`.`v` (`id` int) LOCATION 's3://{}/curated/v/' \
         TBLPROPERTIES ('table_type'='ICEBERG', 'vacuum_max_snapshot_age_seconds'='1')",
        lake.bucket
    ))
    .await;
    for i in 0..3 {
        lake.ok(&format!("INSERT INTO \"{db}\".\"v\" VALUES ({i})"))
            .await;
    }
    let before = lake
        .count(&format!("SELECT count(*) FROM \"{db}\".\"v$snapshots\""))
        .await;
    assert!(before >= 3, "{before}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lake.ok(&format!("VACUUM `{db}`.`v`")).await;
    let after = lake
        .count(&format!("SELECT count(*) FROM \"{db}\".\"v$snapshots\""))
        .await;
    assert_eq!(
        after, 1,
        "only the current snapshot is kept ({before} before)"
    );
    assert_eq!(
        lake.count(&format!("SELECT count(*) FROM \"{db}\".\"v\""))
            .await,
        3
    );
}

#[tokio::test]
async fn statements_the_local_athena_cannot_translate_fail_with_a_reason() {
    let lake = Lake::new().await;
    let db = &lake.database;
    for (sql, expect) in [
        ("MSCK REPAIR TABLE t".to_string(), "not supported"),
        (
            format!("CREATE EXTERNAL TABLE `{db}`.`h` (`a` int) LOCATION 's3://{}/h/'", lake.bucket),
            "CREATE EXTERNAL TABLE",
        ),
        (
            format!("CREATE TABLE `{db}`.`h` (`a` int) LOCATION 's3://{}/h/'", lake.bucket),
            "table_type",
        ),
        (
            format!(
                "CREATE TABLE `{db}`.`h` (`a` int) LOCATION 's3://{}/h/' TBLPROPERTIES ('table_type'='ICEBERG', 'write_compression'='gzip')",
                lake.bucket
            ),
            "ZSTD",
        ),
        (format!("ALTER TABLE `{db}`.`h` ADD PARTITION (a='1')"), "ADD PARTITION"),
        ("SELECT 1; SELECT 2".to_string(), "one statement"),
    ] {
        let q = lake.run(&sql).await;
        assert_eq!(state(&q), "FAILED", "{sql}");
        assert!(reason(&q).contains(expect), "{sql}: {}", reason(&q));
        assert!(q.status().and_then(|s| s.athena_error()).is_some(), "{sql}");
    }
    // Nothing was created.
    let show = lake.ok(&format!("SHOW TABLES FROM \"{db}\"")).await;
    let tables = lake.rows(show.query_execution_id().expect("id")).await;
    assert!(tables.is_empty(), "{tables:?}");
}

// ---------------------------------------------------------------- raw tables (Hive redirection)

/// Registers `keys` (already in the bucket) with the partition registrar's own code.
async fn register(lake: &Lake, config: &dmslake::config::Config, keys: &[String]) {
    let sdk = sdk_config().await;
    let deps = partition_registrar::handler::Deps::new(
        lake.clients.s3.clone(),
        aws_sdk_glue::Client::new(&sdk),
        config.clone(),
        partition_registrar::handler::Settings {
            manifest_root: Some(partition_registrar::handler::Settings::manifest_root_for(
                &lake.bucket,
                "dmslake-state/",
            )),
            ..partition_registrar::handler::Settings::default()
        },
    );
    let event = json!({"Records": keys.iter().map(|k| json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
          "bucket": {"name": lake.bucket, "arn": format!("arn:aws:s3:::{}", lake.bucket)},
          "object": {"key": k.replace('/', "%2F"), "size": 1, "eTag": "e", "sequencer": "0"}}
    })).collect::<Vec<Value>>()});
    partition_registrar::handler::handle(&deps, event, None)
        .await
        .expect("registered");
}

fn registrar_config(database: &str) -> dmslake::config::Config {
    let mut config = dmslake::config::Config::from_lookup(&|_| None).expect("default config");
    config.layout.bucket_folder = "dms".into();
    config.layout.date_partition_enabled = true;
    config.raw_database = database.to_string();
    config
}

async fn put_sample(lake: &Lake, rel: &str, key: &str) {
    let body = std::fs::read(samples_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    dmslake_tests::put_object(&lake.clients.s3, &lake.bucket, key, body).await;
}

#[tokio::test]
async fn raw_parquet_table_reads_through_hive_with_partitions_and_subfolders() {
    let lake = Lake::new().await;
    let config = registrar_config(&lake.database);
    let sample = "parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet";
    let load = "dms/public/dms_test_table/LOAD00000001.parquet".to_string();
    let cdc = "dms/public/dms_test_table/2026/11/24/20261124-101500123.parquet".to_string();
    put_sample(&lake, sample, &load).await;
    put_sample(&lake, sample, &cdc).await;
    register(&lake, &config, &[load, cdc]).await;

    let file = std::fs::File::open(samples_dir().join(sample)).expect("sample");
    let rows = parquet::file::reader::SerializedFileReader::new(file)
        .map(|r| {
            parquet::file::reader::FileReader::metadata(&r)
                .file_metadata()
                .num_rows()
        })
        .expect("sample footer");
    assert!(rows > 0);
    let table = format!("\"{}\".\"public_dms_test_table\"", lake.database);
    // Partition 0000/00/00 reads the LOAD file through its manifest (not the table folder,
    // whose date subfolders Athena would read too); partition 2026/11/24 the CDC file.
    let q = lake.ok(&format!("SELECT count(*) FROM {table}")).await;
    assert!(scanned(&q) > 0, "DataScannedInBytes {}", scanned(&q));
    let all = lake.rows(q.query_execution_id().expect("id")).await;
    assert_eq!(all[1][0].as_deref(), Some((2 * rows).to_string().as_str()));
    assert_eq!(
        lake.count(&format!(
            "SELECT count(*) FROM {table} WHERE year <> '0000'"
        ))
        .await,
        rows
    );
    assert_eq!(
        lake.count(&format!(
            "SELECT count(*) FROM {table} WHERE \"$path\" LIKE '%/LOAD%'"
        ))
        .await,
        rows
    );
    // Parquet types come through: the Iceberg-named catalog reads the Hive table.
    let typed = lake
        .select(&format!(
            "SELECT typeof(id), typeof(my_numeric), typeof(my_bool) FROM awsdatacatalog.{table} LIMIT 1"
        ))
        .await;
    assert_eq!(
        typed[0],
        vec![
            Some("bigint".into()),
            Some("decimal(15,2)".into()),
            Some("boolean".into())
        ]
    );
}

#[tokio::test]
async fn raw_csv_table_reads_through_hive_skipping_the_header_row() {
    let lake = Lake::new().await;
    let config = registrar_config(&lake.database);
    let sample = "oracle-hr-with-header/dms/hr/employees/20190118-184518184.csv";
    let text = String::from_utf8(std::fs::read(samples_dir().join(sample)).expect("sample"))
        .expect("utf-8");
    let data_rows = text.lines().filter(|l| !l.trim().is_empty()).count() as i64 - 1;
    let keys = vec![
        "dms/hr/employees/2026/11/24/20261124-101500123.csv".to_string(),
        "dms/hr/employees/2026/11/25/20261125-090000000.csv".to_string(),
    ];
    for k in &keys {
        put_sample(&lake, sample, k).await;
    }
    register(&lake, &config, &keys).await;
    let table = format!("\"{}\".\"hr_employees\"", lake.database);
    let q = lake.ok(&format!("SELECT count(*) FROM {table}")).await;
    assert!(scanned(&q) > 0);
    let all = lake.rows(q.query_execution_id().expect("id")).await;
    assert_eq!(
        all[1][0].as_deref(),
        Some((2 * data_rows).to_string().as_str())
    );
    assert_eq!(
        lake.count(&format!("SELECT count(*) FROM {table} WHERE day = '25'"))
            .await,
        data_rows
    );
    // The header row is not data; values are strings, cast when queried.
    assert_eq!(
        lake.count(&format!("SELECT count(*) FROM {table} WHERE op = 'Op'"))
            .await,
        0
    );
    let first = text.lines().nth(1).expect("a data row");
    let id = first.split(',').nth(1).expect("employee id");
    let rows = lake
        .select(&format!(
            "SELECT CAST(salary AS decimal(10,2)) FROM {table} WHERE employee_id = '{id}' AND day = '24'"
        ))
        .await;
    assert_eq!(
        rows.len(),
        text.lines()
            .skip(1)
            .filter(|l| l.split(',').nth(1) == Some(id))
            .count()
    );
}

// ---------------------------------------------------------------- the compactor's statements

#[tokio::test]
async fn compactor_statements_run_on_the_local_athena() {
    let lake = Lake::new().await;
    let config = registrar_config(&lake.database);
    let sample = "parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet";
    let load = "dms/public/dms_test_table/LOAD00000001.parquet".to_string();
    put_sample(&lake, sample, &load).await;
    register(&lake, &config, &[load]).await;

    let (curated, cfg) = lake
        .compactor_config(&[
            ("DMSLAKE_TIMESTAMP_COLUMN", "dms_timestamp".to_string()),
            (
                "DMSLAKE_PRIMARY_KEYS",
                "public.dms_test_table=id".to_string(),
            ),
        ])
        .await;
    let spec = compactor::preview::load_spec(&lake.clients.glue, &cfg, "public_dms_test_table")
        .await
        .expect("raw table spec");
    let full = dmslake::sql::CompactionTable::plan(&spec).expect("plan");
    // The curated table first without the last column, which ALTER then adds.
    let mut narrow_spec = spec.clone();
    let dropped = narrow_spec.columns.pop().expect("a column");
    let narrow = dmslake::sql::CompactionTable::plan(&narrow_spec).expect("plan");

    lake.ok(&narrow.create_table_sql()).await;
    let existing = dmslake::glue::column_names(
        &lake.clients.glue,
        &cfg.common.curated_database,
        full.table(),
    )
    .await
    .expect("glue")
    .expect("the curated table is in Glue");
    assert!(!existing.contains(&dropped.name), "{existing:?}");
    let alters = full.add_columns_sql(&existing);
    assert_eq!(alters.len(), 1, "{alters:?}");
    lake.ok(&alters[0]).await;
    let merge = full
        .merge_sql(&dmslake::sql::PartitionRange::default())
        .expect("merge");
    let q = lake.ok(&merge).await;
    assert!(scanned(&q) > 0);
    let table = format!("\"{curated}\".\"{}\"", full.table());
    let raw = format!("\"{}\".\"public_dms_test_table\"", lake.database);
    let keys = lake
        .count(&format!("SELECT count(DISTINCT id) FROM {raw}"))
        .await;
    assert_eq!(
        lake.count(&format!("SELECT count(*) FROM {table}")).await,
        keys
    );
    // Replaying the same range changes nothing.
    lake.ok(&merge).await;
    assert_eq!(
        lake.count(&format!("SELECT count(*) FROM {table}")).await,
        keys
    );
    lake.ok(&full.optimize_sql()).await;
    lake.ok(&full.vacuum_sql()).await;
    assert_eq!(
        lake.count(&format!(
            "SELECT count(*) FROM {table} WHERE \"{}\" IS NOT NULL",
            dropped.name
        ))
        .await,
        lake.count(&format!(
            "SELECT count(*) FROM {raw} WHERE \"{}\" IS NOT NULL",
            dropped.name
        ))
        .await
    );
}

/// A DMS CSV file (header row, `IncludeOpForFullLoad`) of `rows` (op, commit time, id, value).
fn dms_csv(rows: &[(&str, String, u32, String)]) -> Vec<u8> {
    let mut out = String::from("Op,dms_commit_ts,id,val\n");
    for (op, ts, id, val) in rows {
        out.push_str(&format!("{op},{ts},{id},{val}\n"));
    }
    out.into_bytes()
}

/// The compactor's handler merging an unpartitioned raw table (DMS's
/// `DatePartitionEnabled=false`: every file in the table folder) on the local Athena: the first
/// merge reads the full load and every change file; the second reads only the change file
/// merged last and the new one (pruned by `"$path"`), so it scans a fraction of the first; the
/// current state has every key's last change, once.
#[tokio::test]
async fn a_second_merge_of_an_unpartitioned_table_reads_only_the_new_files() {
    let lake = Lake::new().await;
    let mut config = registrar_config(&lake.database);
    config.layout.date_partition_enabled = false;
    let folder = "dms/public/items/";
    let ts = |minute: u32, second: u32| format!("2026-11-24 10:{minute:02}:{second:02}.000000");
    // The model of the current state: id -> value, or gone.
    let mut model: std::collections::BTreeMap<u32, Option<String>> = Default::default();
    let mut keys = Vec::new();
    let load: Vec<_> = (0..1000)
        .map(|id| ("I", ts(0, 0), id, format!("load{id}")))
        .collect();
    for (_, _, id, val) in &load {
        model.insert(*id, Some(val.clone()));
    }
    let key = format!("{folder}LOAD00000001.csv");
    dmslake_tests::put_object(&lake.clients.s3, &lake.bucket, &key, dms_csv(&load)).await;
    keys.push(key);
    // 20 change files, one a minute: each updates 200 keys (a key once per file).
    for file in 1..=20u32 {
        let rows: Vec<_> = (0..200)
            .map(|n| {
                let id = (file * 50 + n) % 1000;
                ("U", ts(file, n % 60), id, format!("f{file}k{id}"))
            })
            .collect();
        for (_, _, id, val) in &rows {
            model.insert(*id, Some(val.clone()));
        }
        let key = format!("{folder}20261124-10{file:02}00000.csv");
        dmslake_tests::put_object(&lake.clients.s3, &lake.bucket, &key, dms_csv(&rows)).await;
        keys.push(key);
    }
    register(&lake, &config, &keys).await;

    let (curated, cfg) = lake
        .compactor_config(&[
            ("DMSLAKE_BUCKET_FOLDER", "dms".to_string()),
            ("DMSLAKE_PRIMARY_KEYS", "public.items=id".to_string()),
        ])
        .await;
    let mut runner = dmslake::athena::Runner::new(lake.athena.clone(), &lake.workgroup);
    runner.backoff = dmslake::athena::Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
    };
    let state = dmslake::state::StateStore::new(
        lake.clients.s3.clone(),
        dmslake::state::StateLocation::new(&lake.bucket, "dmslake-state"),
    );
    let deps = compactor::handler::Deps {
        config: cfg,
        glue: lake.clients.glue.clone(),
        runner,
        state: state.clone(),
    };
    let merge = || {
        compactor::handler::handle(
            &deps,
            json!({"action": "merge", "tables": ["public.items"]}),
            Instant::now() + Duration::from_secs(240),
        )
    };
    let report = |out: &Value| out["tables"][0].clone();
    let table = format!("\"{curated}\".\"public_items\"");
    let check_state = |model: std::collections::BTreeMap<u32, Option<String>>| {
        let lake = &lake;
        let table = table.clone();
        async move {
            let rows = lake
                .select(&format!(
                    "SELECT CAST(id AS varchar), val FROM {table} ORDER BY CAST(id AS integer)"
                ))
                .await;
            let want: Vec<Vec<Option<String>>> = model
                .iter()
                .filter_map(|(id, val)| {
                    val.as_ref()
                        .map(|v| vec![Some(id.to_string()), Some(v.clone())])
                })
                .collect();
            assert_eq!(rows.len(), want.len(), "one row per live key");
            let differs = rows.iter().zip(&want).find(|(got, want)| got != want);
            assert_eq!(
                differs, None,
                "the current state differs from a key's last change"
            );
        }
    };

    let first = merge().await.expect("first merge");
    assert_eq!(report(&first)["status"], "merged", "{first}");
    let first_scanned = report(&first)["scanned_bytes"].as_i64().expect("scanned");
    check_state(model.clone()).await;

    // Nothing new: no query.
    let out = merge().await.expect("run");
    assert_eq!(report(&out)["status"], "nothing_new", "{out}");

    // One new change file: updates 10 keys, deletes 5, inserts one.
    let mut rows: Vec<_> = (0..10)
        .map(|id| ("U", ts(30, 0), id, format!("new{id}")))
        .collect();
    rows.extend((10..15).map(|id| ("D", ts(30, 1), id, String::new())));
    rows.push(("I", ts(30, 2), 5000, "inserted".to_string()));
    for (op, _, id, val) in &rows {
        model.insert(*id, (*op != "D").then(|| val.clone()));
    }
    let key = format!("{folder}20261124-103000000.csv");
    dmslake_tests::put_object(&lake.clients.s3, &lake.bucket, &key, dms_csv(&rows)).await;
    register(&lake, &config, std::slice::from_ref(&key)).await;

    let second = merge().await.expect("second merge");
    assert_eq!(report(&second)["status"], "merged", "{second}");
    let second_scanned = report(&second)["scanned_bytes"].as_i64().expect("scanned");
    eprintln!("DataScannedInBytes: first merge {first_scanned}, second merge {second_scanned}");
    assert!(
        second_scanned > 0 && second_scanned * 10 < first_scanned,
        "the second merge reads the last merged and the new file only: {second_scanned} of {first_scanned} bytes"
    );
    check_state(model).await;
    let wm = state
        .get::<compactor::watermark::Watermark>(&compactor::watermark::watermark_doc(
            "public_items",
        ))
        .await
        .expect("watermark")
        .expect("a watermark");
    assert_eq!(
        wm.value.change_file,
        Some(format!("s3://{}/{key}", lake.bucket))
    );
    assert_eq!(wm.value.newest_commit.as_deref(), Some(ts(30, 2).as_str()));
}

// ---------------------------------------------------------------- other clients

#[tokio::test]
async fn boto3_gets_results_from_the_local_athena() {
    let lake = Lake::new().await;
    let python = dmslake_tests::repo_dir().join(".venv/bin/python");
    let script = r#"
import sys, time, boto3
endpoint, workgroup = sys.argv[1], sys.argv[2]
athena = boto3.client("athena", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
qid = athena.start_query_execution(QueryString="SELECT 40 + 2 AS answer", WorkGroup=workgroup)["QueryExecutionId"]
while athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] in ("QUEUED", "RUNNING"):
    time.sleep(0.2)
rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
print(",".join(d.get("VarCharValue", "") for row in rows for d in row["Data"]))
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(dmslake_tests::athena_local_endpoint())
        .arg(&lake.workgroup)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make setup`)", python.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "answer,42");
}
