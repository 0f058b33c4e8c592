//! `dms-local` against a real PostgreSQL (scripts/postgres.sh) and the local AWS emulator:
//! full load, a workload, and the files, notifications and task events it produces.

use std::process::Command;
use std::time::Duration;

use dms_local::format::{split_line, RowLayout};
use dms_local::{AwsClients, DmsLocal, Settings};
use dmslake::config::{DatePartitionSequence, LayoutConfig};
use dmslake::layout::{classify, decode_event_key, Classification, DataKind};
use dmslake_tests::{clients, new_bucket, repo_dir, sdk_config, unique_name};
use tokio_postgres::NoTls;

/// `scripts/postgres.sh`'s cluster: port `PGPORT`, else 55432.
fn pg(db: &str) -> String {
    let port = std::env::var("PGPORT").unwrap_or_else(|_| "55432".into());
    format!("host=127.0.0.1 port={port} user=postgres dbname={db}")
}

fn start_postgres() {
    let status = Command::new(repo_dir().join("scripts/postgres.sh"))
        .arg("start")
        .status()
        .expect("run scripts/postgres.sh");
    assert!(status.success(), "scripts/postgres.sh start failed");
}

/// Drops the test's slot and database even when an assertion fails (a leaked slot holds WAL).
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let slot = format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name = '{}'",
            self.0
        );
        let db = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0);
        let _ = Command::new(repo_dir().join("scripts/postgres.sh"))
            .args(["psql", "-q", "-o", "/dev/null", "-c", &slot, "-c", &db])
            .status();
    }
}

async fn connect(db: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg(db), NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {db}: {e}"));
    tokio::spawn(conn);
    client
}

/// What a test starts from: a database of its own with `schema` applied (dropped, with the
/// slot named after it, when the fixture is dropped), a bucket and the clients.
struct Fixture {
    db: String,
    src: tokio_postgres::Client,
    clients: dmslake::clients::Clients,
    bucket: String,
    aws: AwsClients,
    _cleanup: Cleanup,
}

async fn fixture(schema: &str) -> Fixture {
    start_postgres();
    let db = unique_name("dmsl", '_');
    let admin = connect("postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    let cleanup = Cleanup(db.clone());
    let src = connect(&db).await;
    src.batch_execute(schema).await.expect("schema");
    let clients = clients().await;
    let bucket = new_bucket(&clients, "dmslocal").await;
    let aws = AwsClients::with_config(&sdk_config().await);
    Fixture {
        db,
        src,
        clients,
        bucket,
        aws,
        _cleanup: cleanup,
    }
}

/// The emulator's description of a replication task.
async fn described_task(
    clients: &dmslake::clients::Clients,
    task_arn: &str,
) -> aws_sdk_databasemigration::types::ReplicationTask {
    let described = clients
        .dms
        .describe_replication_tasks()
        .filters(
            aws_sdk_databasemigration::types::Filter::builder()
                .name("replication-task-arn")
                .values(task_arn)
                .build()
                .expect("filter"),
        )
        .send()
        .await
        .expect("describe the task");
    described
        .replication_tasks()
        .first()
        .cloned()
        .expect("the task is described")
}

async fn body(clients: &dmslake::clients::Clients, bucket: &str, key: &str) -> String {
    let obj = clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get");
    String::from_utf8(obj.body.collect().await.expect("body").to_vec()).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_load_then_cdc_writes_dms_files_exactly_once_in_commit_order() {
    let Fixture {
        db,
        src,
        clients,
        bucket,
        aws,
        _cleanup,
    } = fixture(
        "SET TimeZone = 'UTC';
         CREATE TABLE items (id integer PRIMARY KEY, name varchar(40), price real,
           weight double precision, qty numeric(10,2), active boolean, created timestamp,
           updated timestamptz, day date, tags text[], doc jsonb, uid uuid, raw bytea);
         CREATE TABLE lines (order_id integer, line_no smallint, note text,
           PRIMARY KEY (order_id, line_no));
         INSERT INTO items VALUES
           (1, 'Rua do Paço, 67', 9.8, 0.1, 12.50, true, '2024-06-12 10:30:27.5',
            '2024-06-12 12:30:27.123456+02', '2024-06-12', '{a,b}', '{\"k\": 1}',
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x0102'),
           (2, 'two', NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (3, 'three', 1, 2, 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
         INSERT INTO lines VALUES (1, 1, 'first'), (1, 2, 'second');",
    )
    .await;
    let queue_name = unique_name("dmslocal-files", '-');
    let queue = aws
        .sqs
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .expect("queue");
    let queue_url = queue.queue_url().expect("url").to_string();
    let bus = unique_name("dmslocal-bus", '-');
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let events_queue = aws
        .sqs
        .create_queue()
        .queue_name(unique_name("dmslocal-events", '-'))
        .send()
        .await
        .expect("events queue");
    let events_url = events_queue.queue_url().expect("url").to_string();
    let events_arn = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&events_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("arn");
    clients
        .eventbridge
        .put_rule()
        .name("dms-task-events")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["aws.dms"]}"#)
        .send()
        .await
        .expect("rule");
    clients
        .eventbridge
        .put_targets()
        .rule("dms-task-events")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(&events_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");

    let layout = LayoutConfig {
        bucket_folder: "cdc".into(),
        date_partition_enabled: true,
        date_partition_sequence: DatePartitionSequence::Yyyymmdd,
        ..LayoutConfig::default()
    };
    let settings = Settings {
        tables: vec![
            ("public".into(), "items".into()),
            ("public".into(), "lines".into()),
        ],
        migration_type: dms_local::MigrationType::FullLoadAndCdc,
        slot: db.clone(),
        bucket: bucket.clone(),
        layout: layout.clone(),
        rows: RowLayout::default(),
        cdc_interval: Duration::from_secs(3600),
        cdc_max_rows: 100_000,
        load_max_bytes: 1 << 30,
        notify_sqs: Some(queue_url.clone()),
        events_bus: Some(bus.clone()),
        task_arn: None,
        create_task: true,
        format: dms_local::DataFormat::Csv,
        columns: dmslake::config::DmsColumns::default(),
        region: "us-east-1".into(),
    };
    let mut run = DmsLocal::connect(&pg(&db), settings, aws.clone())
        .await
        .expect("connect");
    assert!(
        run.start().await.expect("start"),
        "a new slot means a fresh start"
    );
    let task_arn = run.task_arn().expect("task created").to_string();

    // Committed after the slot's consistent point but before the load snapshot: it must be
    // in the full load and not again in CDC.
    src.batch_execute("INSERT INTO items (id, name) VALUES (100, 'between')")
        .await
        .expect("between");
    let load = run.full_load().await.expect("full load");
    assert_eq!(
        load.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        vec![
            "cdc/public/items/LOAD00000001.csv",
            "cdc/public/lines/LOAD00000001.csv"
        ]
    );
    assert_eq!(load[0].rows, 4);

    src.batch_execute(
        "INSERT INTO items (id, name, price) VALUES (200, 'new', 11);
         UPDATE items SET name = 'one' WHERE id = 1;
         DELETE FROM items WHERE id = 2;
         BEGIN;
           INSERT INTO items (id, name) VALUES (300, 'x');
           UPDATE items SET name = 'y' WHERE id = 300;
           UPDATE items SET name = 'z' WHERE id = 300;
           INSERT INTO lines VALUES (300, 1, 'l');
         COMMIT;
         UPDATE items SET id = 400 WHERE id = 3;
         UPDATE lines SET note = 'changed' WHERE order_id = 1 AND line_no = 2;",
    )
    .await
    .expect("workload");
    let mut captured = 0;
    for _ in 0..20 {
        captured += run.poll_once(1000).await.expect("poll");
        if captured >= 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(captured, 9, "every change of the workload, and only those");
    assert!(
        run.flush(false).await.expect("not due").is_empty(),
        "the interval has not passed"
    );
    let cdc = run.flush(true).await.expect("flush");
    assert_eq!(cdc.len(), 2, "{cdc:?}");
    run.stop(true).await.expect("stop");

    // Full load content and DMS value conventions.
    let items_load = body(&clients, &bucket, "cdc/public/items/LOAD00000001.csv").await;
    let first = items_load.lines().next().expect("row");
    let f = split_line(first);
    assert_eq!(f[0], "I");
    assert_eq!(f[1].len(), 26, "yyyy-MM-dd HH:mm:ss.ffffff: {first}");
    assert_eq!(
        &f[2..15],
        &[
            "1",
            "Rua do Paço, 67",
            "+9.80000019e+00",
            "+1.0000000000000001e-01",
            "12.50",
            "true",
            "2024-06-12 10:30:27.5",
            "2024-06-12 10:30:27.123456",
            "2024-06-12",
            "{a,b}",
            "{\"k\": 1}",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "0102"
        ]
    );
    assert!(first.contains(",\"Rua do Paço, 67\","), "{first}");
    assert_eq!(
        &f[15..],
        &["", ""],
        "empty change sequence and before-image in LOAD rows"
    );
    let second = split_line(items_load.lines().nth(1).expect("row 2"));
    assert_eq!(&second[2..8], &["2", "two", "", "", "", "false"]);
    assert!(items_load.lines().any(|l| l.contains(",100,between,")));

    // CDC: keys, classification, ops in commit order, sequences, key-only deletes, BI columns.
    let items_cdc = cdc
        .iter()
        .find(|f| f.key.contains("/items/"))
        .expect("items file");
    let Classification::Data(obj) = classify(&items_cdc.key, &layout) else {
        panic!("{} not DMS data", items_cdc.key)
    };
    assert_eq!(
        (obj.kind, obj.schema.as_str(), obj.table.as_str()),
        (DataKind::Cdc, "public", "items")
    );
    assert_eq!(
        obj.partition.len(),
        3,
        "date folder by commit date: {}",
        items_cdc.key
    );
    let name_ok = obj.file_name.len() == "20240612-103127367.csv".len()
        && obj.file_name.as_bytes()[8] == b'-'
        && obj.file_name.ends_with(".csv");
    assert!(name_ok, "{}", obj.file_name);
    let text = body(&clients, &bucket, &items_cdc.key).await;
    let rows: Vec<Vec<String>> = text.lines().map(split_line).collect();
    let ops: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("I", "200"),
            ("U", "1"),
            ("D", "2"),
            ("I", "300"),
            ("U", "300"),
            ("U", "300"),
            ("U", "400")
        ]
    );
    assert!(
        !text.contains(",between,"),
        "the between-transaction was in the full load"
    );
    let width = 2 + 13 + 1 + 1;
    assert!(rows.iter().all(|r| r.len() == width), "{text}");
    let seqs: Vec<&str> = rows.iter().map(|r| r[15].as_str()).collect();
    assert!(
        seqs.iter()
            .all(|s| s.len() == 35 && s.bytes().all(|b| b.is_ascii_digit())),
        "{seqs:?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {seqs:?}"
    );
    let delete = &rows[2];
    assert!(
        delete[3..15].iter().all(String::is_empty),
        "key-only delete: {delete:?}"
    );
    assert_eq!(delete[16], "2", "old key of the delete");
    assert_eq!(rows[0][16], "", "no before-image for an insert");
    assert_eq!(
        rows[1][16], "",
        "the key did not change: PostgreSQL logs no old key"
    );
    assert_eq!(
        (rows[6][2].as_str(), rows[6][16].as_str()),
        ("400", "3"),
        "primary-key update"
    );
    assert_eq!(
        rows[3][1], rows[5][1],
        "one transaction, one commit timestamp"
    );
    assert_eq!(rows[0][4], "+1.10000000e+01");

    let lines_cdc = cdc
        .iter()
        .find(|f| f.key.contains("/lines/"))
        .expect("lines file");
    let lines_text = body(&clients, &bucket, &lines_cdc.key).await;
    let lrows: Vec<Vec<String>> = lines_text.lines().map(split_line).collect();
    assert_eq!(lrows.len(), 2);
    assert_eq!(lrows[0][..5], ["I", lrows[0][1].as_str(), "300", "1", "l"]);
    assert_eq!(lrows[1][4], "changed");
    assert_eq!(
        lrows[1][6..],
        ["", ""],
        "two before-image key columns, empty"
    );

    // One S3 notification per file, keys as S3 encodes them.
    let mut notified = Vec::new();
    for _ in 0..5 {
        let got = aws
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for m in got.messages() {
            let v: serde_json::Value = serde_json::from_str(m.body().unwrap_or("")).expect("json");
            let rec = &v["Records"][0];
            assert_eq!(rec["s3"]["bucket"]["name"], bucket.as_str());
            let key = decode_event_key(rec["s3"]["object"]["key"].as_str().expect("key"))
                .expect("decode");
            notified.push(key);
        }
    }
    notified.sort();
    let mut expected: Vec<String> = run.written.iter().map(|f| f.key.clone()).collect();
    expected.sort();
    assert_eq!(notified, expected);

    // Task events: started then stopped; the emulator's task is stopped.
    let mut ids = Vec::new();
    for _ in 0..5 {
        let got = aws
            .sqs
            .receive_message()
            .queue_url(&events_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for m in got.messages() {
            let v: serde_json::Value = serde_json::from_str(m.body().unwrap_or("")).expect("json");
            assert_eq!(v["detail-type"], "DMS Replication Task State Change");
            assert_eq!(v["resources"][0], task_arn.as_str());
            ids.push(v["detail"]["eventId"].as_str().unwrap_or("").to_string());
        }
        if ids.len() >= 2 {
            break;
        }
    }
    assert_eq!(ids, vec!["DMS-EVENT-0069", "DMS-EVENT-0079"]);
    let status = described_task(&clients, &task_arn).await.status;
    assert_eq!(status.as_deref(), Some("stopped"));
}

/// One table, slot named after the database, files only (no task, events or notifications).
fn files_only(db: &str, table: &str, bucket: &str) -> Settings {
    Settings {
        tables: vec![("public".into(), table.into())],
        migration_type: dms_local::MigrationType::FullLoadAndCdc,
        slot: db.to_string(),
        bucket: bucket.to_string(),
        layout: LayoutConfig {
            bucket_folder: "cdc".into(),
            ..LayoutConfig::default()
        },
        rows: RowLayout::default(),
        cdc_interval: Duration::from_secs(3600),
        cdc_max_rows: 100_000,
        load_max_bytes: 1 << 30,
        notify_sqs: None,
        events_bus: None,
        task_arn: None,
        create_task: false,
        format: dms_local::DataFormat::Csv,
        columns: dmslake::config::DmsColumns::default(),
        region: "us-east-1".into(),
    }
}

/// The same values written once by the full load and once by change capture give
/// byte-identical CSV fields, for the types whose `::text` cast and output function differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_load_and_cdc_write_identical_text_for_every_type() {
    let values = "'ab', '10.0.0.1', '10.1.0.0/16', 12.500, '2024-06-12 12:30:27.5+02', true, \
         '\\x00ff', '{1,2}', '{x,yz}', '{\"b\": 1, \"a\": [1, 2]}', '{\"b\":1,  \"a\":2}', \
         0.1, 1.5, ' padded  ', '2024-06-12 10:30:27', '2024-06-12', \
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'";
    let insert = |id: u32| format!("INSERT INTO types VALUES ({id}, {values})");
    let Fixture {
        db,
        src,
        clients,
        bucket,
        aws,
        _cleanup,
    } = fixture(&format!(
        "CREATE TABLE types (id integer PRIMARY KEY, c char(5), ip inet, net cidr,
           n numeric(10,3), tz timestamptz, b boolean, raw bytea, ints integer[],
           chars char(3)[], jb jsonb, js json, r real, d double precision, t text,
           ts timestamp, day date, uid uuid);
         {};",
        insert(1)
    ))
    .await;
    let settings = files_only(&db, "types", &bucket);
    let mut run = DmsLocal::connect(&pg(&db), settings, aws)
        .await
        .expect("connect");
    run.start().await.expect("start");
    let load = run.full_load().await.expect("full load");
    src.batch_execute(&insert(2)).await.expect("cdc insert");
    let mut captured = 0;
    for _ in 0..20 {
        captured += run.poll_once(1000).await.expect("poll");
        if captured >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(captured, 1);
    let cdc = run.flush(true).await.expect("flush");
    run.stop(true).await.expect("stop");

    let load_row = split_line(&body(&clients, &bucket, &load[0].key).await);
    let cdc_text = body(&clients, &bucket, &cdc[0].key).await;
    let cdc_row = split_line(cdc_text.lines().next().expect("cdc row"));
    assert_eq!((load_row[2].as_str(), cdc_row[2].as_str()), ("1", "2"));
    assert_eq!(
        load_row[3..20],
        cdc_row[3..20],
        "load {load_row:?}\ncdc  {cdc_row:?}"
    );
    // The output function's forms, as DMS writes them.
    assert_eq!(
        load_row[3..7],
        ["ab   ", "10.0.0.1", "10.1.0.0/16", "12.500"]
    );
    assert_eq!(load_row[9], "00ff", "bytea: hex digits without `\\x`");
    assert_eq!(load_row[11], "{\"x  \",\"yz \"}");
}

/// A column added with ALTER TABLE while replicating is not dropped silently: polling fails
/// and names the table and the column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_added_while_replicating_fails_the_poll_naming_table_and_column() {
    let Fixture {
        db,
        src,
        bucket,
        aws,
        _cleanup,
        ..
    } = fixture("CREATE TABLE grow (id integer PRIMARY KEY, name text)").await;
    let mut run = DmsLocal::connect(&pg(&db), files_only(&db, "grow", &bucket), aws)
        .await
        .expect("connect");
    run.start().await.expect("start");
    run.full_load().await.expect("full load");
    src.batch_execute(
        "ALTER TABLE grow ADD COLUMN extra text;
         INSERT INTO grow VALUES (1, 'one', 'new column');",
    )
    .await
    .expect("alter and insert");
    let mut outcome = Ok(0);
    for _ in 0..20 {
        outcome = run.poll_once(1000).await;
        if !matches!(outcome, Ok(0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error = outcome.expect_err("the added column must fail the poll");
    let text = error.to_string();
    assert!(
        text.contains("public.grow") && text.contains("\"extra\""),
        "{text}"
    );
    run.stop(true).await.expect("stop");
}

/// Polls until `rows` rows are captured (or 20 tries), returning how many were.
async fn capture_rows(run: &mut DmsLocal, rows: usize) -> usize {
    let mut captured = 0;
    for _ in 0..20 {
        captured += run.poll_once(1000).await.expect("poll");
        if captured >= rows {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    captured
}

/// A TOASTed value an UPDATE leaves unchanged is not in the WAL (`test_decoding` prints
/// `unchanged-toast-datum`): it is written whole all the same, read from the source by key
/// under REPLICA IDENTITY DEFAULT and from the logged old row under FULL, where every update
/// also carries its before-image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_toast_values_are_written_whole_under_default_and_full_identity() {
    // 9 600 hexadecimal characters compress badly: stored out of line (TOAST).
    let Fixture {
        db,
        src,
        clients,
        bucket,
        aws,
        _cleanup,
    } = fixture(
        "CREATE TABLE docs (id integer PRIMARY KEY, v text, body text);
         CREATE TABLE docs_full (id integer PRIMARY KEY, v text, body text);
         ALTER TABLE docs_full REPLICA IDENTITY FULL;
         CREATE FUNCTION big() RETURNS text LANGUAGE sql AS
           $$ SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g $$;",
    )
    .await;
    let mut settings = files_only(&db, "docs", &bucket);
    settings.tables.push(("public".into(), "docs_full".into()));
    let mut run = DmsLocal::connect(&pg(&db), settings, aws)
        .await
        .expect("connect");
    run.start().await.expect("start");
    run.full_load().await.expect("full load");
    src.batch_execute(
        "INSERT INTO docs VALUES (1, 'a', big());
         INSERT INTO docs_full VALUES (1, 'a', big());
         UPDATE docs SET v = 'b' WHERE id = 1;
         UPDATE docs_full SET v = 'b' WHERE id = 1;",
    )
    .await
    .expect("workload");
    assert_eq!(capture_rows(&mut run, 4).await, 4);
    let cdc = run.flush(true).await.expect("flush");
    run.stop(true).await.expect("stop");
    let big: String = src
        .query_one("SELECT big()", &[])
        .await
        .expect("big")
        .get(0);
    assert_eq!(big.len(), 9600);
    for table in ["docs", "docs_full"] {
        let file = cdc
            .iter()
            .find(|f| f.key.contains(&format!("/{table}/")))
            .unwrap_or_else(|| panic!("no file for {table}: {cdc:?}"));
        let text = body(&clients, &bucket, &file.key).await;
        let rows: Vec<Vec<String>> = text.lines().map(split_line).collect();
        assert_eq!(rows.len(), 2, "{table}");
        assert_eq!(
            rows[1][..5],
            ["U", rows[1][1].as_str(), "1", "b", big.as_str()]
        );
        let before_image = if table == "docs" { "" } else { "1" };
        assert_eq!(
            rows[1][6], before_image,
            "{table}: before-image of the update"
        );
    }
}

/// A CDC-only task (MigrationType `cdc`) writes no LOAD file: rows present before the start
/// are not written, changes committed after the slot was created are, and the emulator's task
/// says `cdc`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdc_only_task_writes_no_load_files_and_captures_from_its_start() {
    let Fixture {
        db,
        src,
        clients,
        bucket,
        aws,
        _cleanup,
    } = fixture(
        "CREATE TABLE t (id integer PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'before the task');",
    )
    .await;
    let mut settings = files_only(&db, "t", &bucket);
    settings.migration_type = dms_local::MigrationType::Cdc;
    settings.create_task = true;
    let mut run = DmsLocal::connect(&pg(&db), settings, aws)
        .await
        .expect("connect");
    assert!(run.start().await.expect("start"), "a fresh slot");
    let refused = run
        .full_load()
        .await
        .expect_err("a CDC-only task has no full load");
    assert!(refused.to_string().contains("cdc"), "{refused}");
    src.batch_execute(
        "INSERT INTO t VALUES (2, 'after');
         UPDATE t SET v = 'changed' WHERE id = 1;
         DELETE FROM t WHERE id = 2;",
    )
    .await
    .expect("workload");
    assert_eq!(capture_rows(&mut run, 3).await, 3);
    let files = run.stop(true).await.expect("stop");
    let keys: Vec<&str> = run.written.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(!keys[0].contains("LOAD"), "{keys:?}");
    assert_eq!(files.len(), 1);
    let text = body(&clients, &bucket, &files[0].key).await;
    let ops: Vec<(String, String)> = text
        .lines()
        .map(split_line)
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        ops,
        [("I", "2"), ("U", "1"), ("D", "2")].map(|(o, k)| (o.to_string(), k.to_string()))
    );
    let task_arn = run.task_arn().expect("task").to_string();
    let task = described_task(&clients, &task_arn).await;
    assert_eq!(
        task.migration_type.as_ref().map(|m| m.as_str()),
        Some("cdc")
    );
}

/// Parquet output follows a column added while replicating, with the type the catalog gives it:
/// `test_decoding` prints `numeric`, the file (and so the raw table) gets `decimal(5,1)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_follows_an_added_column_with_its_catalog_type() {
    use dmslake::parquet_footer::{footer_from_suffix, FooterStep};
    let Fixture {
        db,
        src,
        clients,
        bucket,
        aws,
        _cleanup,
    } = fixture("CREATE TABLE grow (id integer PRIMARY KEY, name text)").await;
    let mut settings = files_only(&db, "grow", &bucket);
    settings.format = dms_local::DataFormat::Parquet;
    let mut run = DmsLocal::connect(&pg(&db), settings, aws)
        .await
        .expect("connect");
    run.start().await.expect("start");
    run.full_load().await.expect("full load");
    src.batch_execute(
        "INSERT INTO grow VALUES (1, 'before');
         ALTER TABLE grow ADD COLUMN amount numeric(5,1);
         INSERT INTO grow VALUES (2, 'after', 12.5);",
    )
    .await
    .expect("alter and insert");
    assert_eq!(capture_rows(&mut run, 2).await, 2);
    let cdc = run.flush(true).await.expect("flush");
    run.stop(true).await.expect("stop");
    assert_eq!(cdc.len(), 1, "{cdc:?}");
    let bytes = clients
        .s3
        .get_object()
        .bucket(&bucket)
        .key(&cdc[0].key)
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .to_vec();
    let meta = match footer_from_suffix(&bytes, Some(bytes.len() as u64)).expect("footer") {
        FooterStep::Complete(meta) => meta,
        FooterStep::NeedSuffix(n) => panic!("whole file given, footer needs {n} bytes"),
    };
    let columns = dmslake::schema::glue_columns(&meta, &dmslake::config::DmsColumns::default())
        .expect("glue columns");
    let amount = columns
        .iter()
        .find(|c| c.column.name == "amount")
        .map(|c| c.column.ty.to_string());
    assert_eq!(amount.as_deref(), Some("decimal(5,1)"), "{columns:?}");
    assert_eq!(meta.file_metadata().num_rows(), 2);
}
