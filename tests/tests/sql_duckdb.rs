//! The generated MERGE run on a real engine (DuckDB, via `tests/py/merge_duckdb.py`, which
//! transpiles the Athena SQL with sqlglot) over real and generated DMS CSV files. The expected
//! state is an independent sequential replay of the same change rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use dmslake::catalog::{Column, GlueType};
use dmslake::config::DmsColumns;
use dmslake::layout::FileFormat;
use dmslake::sql::{CompactionTable, PartitionRange, TableSpec};
use serde_json::{json, Value};

const COLUMNS: &[&str] = &[
    "op",
    "dms_commit_ts",
    "order_id",
    "product_id",
    "unit_price",
    "quantity",
    "discount",
    "dms_change_seq",
    "before_order_id",
    "before_product_id",
];

fn spec(overrides: &[(&str, &str)]) -> TableSpec {
    TableSpec {
        raw_database: "raw".into(),
        table: "public_order_details".into(),
        format: FileFormat::Csv,
        columns: COLUMNS
            .iter()
            .map(|c| Column::new(c.to_string(), GlueType::String))
            .collect(),
        partition_keys: vec!["year".into(), "month".into(), "day".into()],
        dms: DmsColumns {
            timestamp: "dms_commit_ts".into(),
            change_sequence: "dms_change_seq".into(),
            before_image_prefix: "before_".into(),
        },
        primary_key: vec!["order_id".into(), "product_id".into()],
        curated_database: "cur".into(),
        curated_location: "s3://lake/curated/".into(),
        partitioning: vec![],
        type_overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), GlueType::parse(v).expect("a test type")))
            .collect(),
    }
}

fn python() -> PathBuf {
    dmslake_tests::repo_dir().join(".venv/bin/python")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(dmslake_tests::unique_name(name, '-'));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A raw file: local path and the partition it is registered under.
#[derive(Clone)]
struct RawFile {
    path: PathBuf,
    partition: Vec<String>,
}

/// Runs statements on the DuckDB database `db` over `files`; returns the curated rows.
fn run_duckdb(db: &Path, files: &[RawFile], statements: &[String]) -> Vec<Vec<Option<String>>> {
    let spec = json!({
        "database": db,
        "raw": {
            "database": "raw", "table": "public_order_details", "format": "csv",
            "columns": COLUMNS, "partition_keys": ["year", "month", "day"],
            "files": files.iter().map(|f| json!({
                "path": f.path,
                "s3_path": format!("s3://data/dms/public/order_details/{}", f.path.file_name().and_then(|n| n.to_str()).unwrap_or_default()),
                "partition": f.partition,
            })).collect::<Vec<_>>(),
        },
        "statements": statements,
        "query": "SELECT order_id, product_id, unit_price, quantity, discount FROM cur.public_order_details ORDER BY 1, 2",
    });
    run_spec(db, &spec)
}

/// Runs `tests/py/merge_duckdb.py` on `spec`; returns the query's rows as strings.
fn run_spec(db: &Path, spec: &Value) -> Vec<Vec<Option<String>>> {
    let spec_path = db.with_extension("json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");
    let out = Command::new(python())
        .arg(dmslake_tests::repo_dir().join("tests/py/merge_duckdb.py"))
        .arg(&spec_path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "merge_duckdb.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json output");
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .collect()
}

type Key = (String, String);
type State = BTreeMap<Key, Vec<Option<String>>>;

fn field(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.is_empty()).cloned()
}

/// Sequential replay: full-load rows in file order, then changes by change sequence.
fn replay(files: &[RawFile]) -> State {
    let mut load = Vec::new();
    let mut cdc = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f.path).expect("read");
        let is_load = f
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("LOAD"));
        for line in text.lines().filter(|l| !l.is_empty()) {
            let cells: Vec<String> = line.split(',').map(str::to_string).collect();
            if is_load {
                load.push(cells);
            } else {
                cdc.push(cells);
            }
        }
    }
    cdc.sort_by(|a, b| {
        let seq = |r: &Vec<String>| format!("{:0>38}", r.get(7).cloned().unwrap_or_default());
        seq(a).cmp(&seq(b))
    });
    let mut state = State::new();
    for row in load.into_iter().chain(cdc) {
        let key = (row[2].clone(), row[3].clone());
        if row[0] == "D" {
            state.remove(&key);
            continue;
        }
        if let (Some(bo), Some(bp)) = (field(row.get(8)), field(row.get(9))) {
            if (bo.clone(), bp.clone()) != key {
                state.remove(&(bo, bp));
            }
        }
        state.insert(key, (4..7).map(|i| field(row.get(i))).collect());
    }
    state
}

fn as_rows(state: &State) -> Vec<Vec<Option<String>>> {
    let mut rows: Vec<Vec<Option<String>>> = state
        .iter()
        .map(|((o, p), rest)| {
            let mut r = vec![Some(o.clone()), Some(p.clone())];
            r.extend(rest.iter().cloned());
            r
        })
        .collect();
    rows.sort();
    rows
}

fn northwind_files() -> Vec<RawFile> {
    let dir = dmslake_tests::samples_dir().join("northwind-postgres/cdc/public/order_details");
    let mut files: Vec<RawFile> = dmslake_tests::files_under(&dir)
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            // DatePartitionEnabled layout: CDC files by commit date, the full load in zeros.
            let partition = if name.starts_with("LOAD") {
                vec!["0000".into(), "00".into(), "00".into()]
            } else {
                vec![name[0..4].into(), name[4..6].into(), name[6..8].into()]
            };
            RawFile { path, partition }
        })
        .collect();
    files.sort_by(|a, b| a.partition.cmp(&b.partition).then(a.path.cmp(&b.path)));
    assert!(files.len() >= 7, "order_details samples missing");
    files
}

#[test]
fn northwind_order_details_merge_equals_the_sequential_replay() {
    let files = northwind_files();
    let table = CompactionTable::plan(&spec(&[])).expect("plan");
    let dir = scratch("nw");
    let db = dir.join("lake.duckdb");
    let expected = as_rows(&replay(&files));

    // Run 1: the full load alone; run 2: everything from the full-load partition on.
    let first = run_duckdb(
        &db,
        &files[..1],
        &[
            table.create_table_sql(),
            table.merge_sql(&PartitionRange::default()).expect("merge"),
        ],
    );
    assert_eq!(first, as_rows(&replay(&files[..1])));
    let range = PartitionRange {
        from: Some(files[0].partition.clone()),
        to: files.last().map(|f| f.partition.clone()),
        ..Default::default()
    };
    let merge = table.merge_sql(&range).expect("merge");
    let merged = run_duckdb(&db, &files, &[table.create_table_sql(), merge.clone()]);
    assert_eq!(merged, expected);

    // The sample's cases, checked by name.
    let has = |o: &str, p: &str| {
        merged
            .iter()
            .any(|r| r[0].as_deref() == Some(o) && r[1].as_deref() == Some(p))
    };
    assert!(!has("20000", "77"), "insert, updates, then key-only delete");
    assert!(!has("30005", "1"), "delete after updates in one file");
    assert!(has("30010", "77"), "primary-key update: new key present");
    assert!(
        !has("30010", "1"),
        "primary-key update with before image: old key gone"
    );
    assert!(!has("30014", "2"), "old key of a later key update gone");
    assert!(has("10248", "11"), "full-load row kept");

    // Replaying the same range changes nothing.
    let again = run_duckdb(&db, &files, &[merge]);
    assert_eq!(again, expected);
}

#[test]
fn csv_columns_cast_to_configured_types() {
    let files = northwind_files();
    let table = CompactionTable::plan(&spec(&[
        ("order_id", "int"),
        ("product_id", "smallint"),
        ("quantity", "bigint"),
        ("unit_price", "double"),
        ("discount", "decimal(4,2)"),
    ]))
    .expect("plan");
    let ddl = table.create_table_sql();
    assert!(ddl.contains("`unit_price` double"), "{ddl}");
    let dir = scratch("nwtyped");
    let rows = run_duckdb(
        &dir.join("lake.duckdb"),
        &files,
        &[
            ddl,
            table.merge_sql(&PartitionRange::default()).expect("merge"),
        ],
    );
    let row = rows
        .iter()
        .find(|r| r[0].as_deref() == Some("10248") && r[1].as_deref() == Some("11"))
        .expect("10248/11");
    assert_eq!(row[2].as_deref(), Some("14.0"));
    assert_eq!(row[3].as_deref(), Some("12"));
    assert_eq!(row[4].as_deref(), Some("0.00"));
    assert_eq!(rows.len(), replay(&files).len());
}

/// Small deterministic generator (xorshift) so a failing seed can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes a random DMS history (full load, then CDC files over three days) for `seed`.
fn random_history(seed: u64, dir: &Path) -> Vec<RawFile> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut live: BTreeSet<(u32, u32)> = BTreeSet::new();
    let mut files = Vec::new();
    let mut load = String::new();
    for o in 1..=3 {
        for p in 1..=2 {
            live.insert((o, p));
            load.push_str(&format!(
                "I,2024-06-01 00:00:00.{o}{p}0000,{o},{p},+1.00000000e+00,{o}{p},+0.00000000e+00,\n"
            ));
        }
    }
    let path = dir.join("LOAD00000001.csv");
    std::fs::write(&path, load).expect("write load");
    files.push(RawFile {
        path,
        partition: vec!["0000".into(), "00".into(), "00".into()],
    });
    let mut counter = 100u64;
    let mut second = 0u32;
    for day in 2..=4u32 {
        for file_no in 0..2u32 {
            let mut text = String::new();
            for _ in 0..(4 + rng.below(10)) {
                // Often several changes share one commit timestamp.
                if rng.below(3) == 0 {
                    second += 1;
                }
                counter += 4 + rng.below(8);
                let ts = format!(
                    "2024-06-0{day} 10:{:02}:{:02}.000000",
                    second / 60,
                    second % 60
                );
                let seq = format!("202406{day:02}10000000{counter:019}");
                let key = (1 + rng.below(4) as u32, 1 + rng.below(3) as u32);
                let q = rng.below(100);
                let row = if !live.contains(&key) {
                    if rng.below(6) == 0 {
                        // A delete of a key never seen: key only.
                        format!("D,{ts},{},{},,,,{seq},,", key.0, key.1)
                    } else {
                        live.insert(key);
                        format!(
                            "I,{ts},{},{},+2.00000000e+00,{q},+0.00000000e+00,{seq},,",
                            key.0, key.1
                        )
                    }
                } else {
                    match rng.below(4) {
                        0 => {
                            live.remove(&key);
                            format!("D,{ts},{},{},,,,{seq},,", key.0, key.1)
                        }
                        1 => {
                            // Primary-key update to a free key, old key in the before image.
                            let new = (key.0, 10 + rng.below(3) as u32);
                            if live.contains(&new) {
                                format!(
                                    "U,{ts},{},{},+3.00000000e+00,{q},+0.00000000e+00,{seq},,",
                                    key.0, key.1
                                )
                            } else {
                                live.remove(&key);
                                live.insert(new);
                                format!(
                                    "U,{ts},{},{},+4.00000000e+00,{q},+0.00000000e+00,{seq},{},{}",
                                    new.0, new.1, key.0, key.1
                                )
                            }
                        }
                        _ => format!(
                            "U,{ts},{},{},+5.00000000e+00,{q},+0.00000000e+00,{seq},,",
                            key.0, key.1
                        ),
                    }
                };
                text.push_str(&row);
                text.push('\n');
            }
            // DMS writes a file's rows without regard to order: shuffle them.
            let mut lines: Vec<&str> = text.lines().collect();
            for i in (1..lines.len()).rev() {
                lines.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let path = dir.join(format!("202406{day:02}-10000{file_no}000.csv"));
            std::fs::write(&path, lines.join("\n") + "\n").expect("write cdc");
            files.push(RawFile {
                path,
                partition: vec!["2024".into(), "06".into(), format!("{day:02}")],
            });
        }
    }
    files
}

#[test]
fn randomized_histories_merge_to_the_source_state_in_batches_and_replays_are_no_ops() {
    let table = CompactionTable::plan(&spec(&[])).expect("plan");
    for seed in 1..=6u64 {
        let dir = scratch(&format!("rand{seed}"));
        let files = random_history(seed, &dir);
        let db = dir.join("lake.duckdb");
        // Batches as a schedule would see them: files arrive over time, each run reads from
        // the watermark partition (inclusive) to the newest partition it knows.
        let mut watermark: Option<Vec<String>> = None;
        for upto in [1usize, 3, 4, files.len()] {
            let seen = &files[..upto];
            let range = PartitionRange {
                from: watermark.clone(),
                to: seen.last().map(|f| f.partition.clone()),
                ..Default::default()
            };
            let sql = table.merge_sql(&range).expect("merge");
            let rows = run_duckdb(&db, seen, &[table.create_table_sql(), sql.clone()]);
            assert_eq!(rows, as_rows(&replay(seen)), "seed {seed}, {upto} files");
            let replayed = run_duckdb(&db, seen, &[sql]);
            assert_eq!(replayed, rows, "seed {seed}: replay changed the table");
            watermark = range.to;
        }
    }
}

#[test]
fn parquet_full_load_with_every_type_lands_unchanged() {
    let file = dmslake_tests::samples_dir()
        .join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    let cols = dmslake_tests::DMS_TEST_TABLE_PARQUET_COLUMNS;
    let spec = TableSpec {
        raw_database: "raw".into(),
        table: "public_dms_test_table".into(),
        format: FileFormat::Parquet,
        columns: cols
            .iter()
            .map(|(n, t)| Column::new(n.to_string(), GlueType::parse(t).expect("a test type")))
            .collect(),
        partition_keys: vec![],
        dms: DmsColumns {
            timestamp: "dms_timestamp".into(),
            change_sequence: "dms_change_seq".into(),
            before_image_prefix: "bi_".into(),
        },
        primary_key: vec!["id".into()],
        curated_database: "cur".into(),
        curated_location: "s3://lake/curated/".into(),
        partitioning: vec![],
        type_overrides: BTreeMap::new(),
    };
    let table = CompactionTable::plan(&spec).expect("plan");
    assert!(!table.has_change_sequence());
    let ddl = table.create_table_sql();
    assert!(ddl.contains("`my_smallint` int"), "{ddl}");
    let merge = table.merge_sql(&PartitionRange::default()).expect("merge");
    let data = "id, my_int, my_smallint, my_numeric, my_real, my_double, my_money, my_varchar, \
                my_text, my_bytea, my_timestamp, my_uuid, my_json, my_jsonb, my_bool";
    let query = format!(
        "SELECT (SELECT count(*) FROM cur.public_dms_test_table), \
                (SELECT count(*) FROM (SELECT {data} FROM cur.public_dms_test_table \
                 EXCEPT SELECT {data} FROM read_parquet('{}'))), \
                (SELECT typeof(my_smallint) FROM cur.public_dms_test_table LIMIT 1)",
        file.display()
    );
    let dir = scratch("pq");
    let db = dir.join("lake.duckdb");
    let run = |statements: Vec<String>| {
        run_spec(
            &db,
            &json!({
                "database": db,
                "raw": {"database": "raw", "table": "public_dms_test_table", "format": "parquet",
                        "columns": cols.iter().map(|c| c.0).collect::<Vec<_>>(),
                        "partition_keys": [],
                        "files": [{"path": file, "s3_path": "s3://data/dms/public/dms_test_table/LOAD00000001.parquet", "partition": []}]},
                "statements": statements,
                "query": query,
            }),
        )
    };
    let first = run(vec![ddl, merge.clone()]);
    let want = vec![vec![
        Some("10".to_string()),
        Some("0".to_string()),
        Some("INTEGER".to_string()),
    ]];
    assert_eq!(first, want);
    assert_eq!(run(vec![merge]), want, "replay changed the table");
}

/// A raw CSV table `public_evolving` (primary key `id`) with `columns` in file order.
fn evolving_spec(columns: &[&str]) -> TableSpec {
    TableSpec {
        table: "public_evolving".into(),
        columns: columns
            .iter()
            .map(|c| Column::new(c.to_string(), GlueType::String))
            .collect(),
        primary_key: vec!["id".into()],
        ..spec(&[("b", "int")])
    }
}

#[test]
fn a_source_column_added_mid_stream_reaches_the_curated_table_and_old_rows_keep_null() {
    let before = ["op", "dms_commit_ts", "id", "a", "dms_change_seq"];
    // The registrar appends the new column to the raw table's columns.
    let after = ["op", "dms_commit_ts", "id", "a", "dms_change_seq", "b"];
    let dir = scratch("evolve");
    let write = |name: &str, partition: [&str; 3], body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("write raw file");
        RawFile {
            path,
            partition: partition.iter().map(|p| p.to_string()).collect(),
        }
    };
    let load = write(
        "LOAD00000001.csv",
        ["0000", "00", "00"],
        "I,2024-06-01 00:00:00.000000,1,x1,\n\
         I,2024-06-01 00:00:00.000000,2,x2,\n\
         I,2024-06-01 00:00:00.000000,3,x3,\n",
    );
    // Before ALTER TABLE ... ADD COLUMN b on the source: five fields.
    let cdc_old = write(
        "20240611-100000000.csv",
        ["2024", "06", "11"],
        "U,2024-06-11 10:00:00.000000,1,x1u,20240611100000000000000000000000001\n",
    );
    // After it: six fields, `b` last.
    let cdc_new = write(
        "20240612-100000000.csv",
        ["2024", "06", "12"],
        "U,2024-06-12 10:00:00.000000,2,x2u,20240612100000000000000000000000001,42\n\
         I,2024-06-12 10:00:01.000000,4,x4,20240612100000000000000000000000002,7\n",
    );
    let db = dir.join("lake.duckdb");
    let run = |columns: &[&str], files: &[&RawFile], statements: &[String], query: &str| {
        run_spec(
            &db,
            &json!({
                "database": db,
                "raw": {
                    "database": "raw", "table": "public_evolving", "format": "csv",
                    "columns": columns, "partition_keys": ["year", "month", "day"],
                    "files": files.iter().map(|f| json!({
                        "path": f.path,
                        "s3_path": format!("s3://data/dms/public/evolving/{}", f.path.file_name().and_then(|n| n.to_str()).unwrap_or_default()),
                        "partition": f.partition,
                    })).collect::<Vec<_>>(),
                },
                "statements": statements,
                "query": query,
            }),
        )
    };
    let row = |cells: &[Option<&str>]| -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_string)).collect()
    };

    // Run 1: the curated table is created with (id, a) and gets the full load.
    let first = CompactionTable::plan(&evolving_spec(&before)).expect("plan");
    assert_eq!(first.column_names(), ["id", "a"]);
    let rows = run(
        &before,
        &[&load],
        &[
            first.create_table_sql(),
            first.merge_sql(&PartitionRange::default()).expect("merge"),
        ],
        "SELECT id, a FROM cur.public_evolving ORDER BY id",
    );
    assert_eq!(
        rows,
        [
            row(&[Some("1"), Some("x1")]),
            row(&[Some("2"), Some("x2")]),
            row(&[Some("3"), Some("x3")]),
        ]
    );
    let recorded = first.column_names();

    // Run 2: the raw table has `b`; one ALTER adds it, then the MERGE fills it.
    let second = CompactionTable::plan(&evolving_spec(&after)).expect("plan");
    let alters = second.add_columns_sql(&recorded);
    assert_eq!(
        alters,
        ["ALTER TABLE `cur`.`public_evolving` ADD COLUMNS (`b` int)"]
    );
    let range = PartitionRange {
        from: Some(vec!["0000".into(), "00".into(), "00".into()]),
        to: Some(vec!["2024".into(), "06".into(), "12".into()]),
        ..Default::default()
    };
    let merge = second.merge_sql(&range).expect("merge");
    let mut statements = vec![second.create_table_sql()];
    statements.extend(alters);
    statements.push(merge.clone());
    let files = [&load, &cdc_old, &cdc_new];
    let query = "SELECT id, a, CAST(b AS VARCHAR), typeof(b) FROM cur.public_evolving ORDER BY id";
    let want = [
        // Updated before `b` existed: no value for it.
        row(&[Some("1"), Some("x1u"), None, Some("INTEGER")]),
        row(&[Some("2"), Some("x2u"), Some("42"), Some("INTEGER")]),
        // Not touched since the full load.
        row(&[Some("3"), Some("x3"), None, Some("INTEGER")]),
        row(&[Some("4"), Some("x4"), Some("7"), Some("INTEGER")]),
    ];
    assert_eq!(run(&after, &files, &statements, query), want);

    // Run 3: the watermark now lists `b`; nothing to add, and the same MERGE changes nothing.
    assert!(second.add_columns_sql(&second.column_names()).is_empty());
    let again = run(&after, &files, &[second.create_table_sql(), merge], query);
    assert_eq!(again, want);
}
