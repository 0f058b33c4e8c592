//! Generated statements parsed by sqlglot's Athena dialect (`tests/py/sql_check.py`): one
//! statement each, every identifier quoted; hostile names never add a statement.

use std::collections::BTreeMap;
use std::process::Command;

use dmslake::catalog::{Column, GlueType};
use dmslake::config::DmsColumns;
use dmslake::layout::FileFormat;
use dmslake::sql::{normalise, CompactionTable, PartitionRange, TableSpec};
use serde_json::Value;

fn check(statements: &[String]) -> Vec<Value> {
    let mut child = Command::new(dmslake_tests::repo_dir().join(".venv/bin/python"))
        .arg(dmslake_tests::repo_dir().join("tests/py/sql_check.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn python");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(serde_json::to_string(statements).expect("json").as_bytes())
            .expect("write");
    }
    let out = child.wait_with_output().expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("json")
}

fn dms() -> DmsColumns {
    DmsColumns {
        timestamp: "dms_commit_ts".into(),
        change_sequence: "dms_change_seq".into(),
        before_image_prefix: "bi_".into(),
    }
}

fn parquet_all_types() -> TableSpec {
    let cols = [
        ("op", "string"),
        ("dms_commit_ts", "string"),
        ("id", "bigint"),
        ("small", "smallint"),
        ("tiny", "tinyint"),
        ("n", "int"),
        ("price", "decimal(15,2)"),
        ("money", "decimal(38,4)"),
        ("r", "float"),
        ("d", "double"),
        ("flag", "boolean"),
        ("code", "char(3)"),
        ("label", "varchar(40)"),
        ("body", "string"),
        ("born", "date"),
        ("at", "timestamp"),
        ("blob", "binary"),
        ("dms_change_seq", "string"),
        ("bi_id", "bigint"),
    ];
    TableSpec {
        raw_database: "dmslake_raw".into(),
        table: "public_all_types".into(),
        format: FileFormat::Parquet,
        columns: cols
            .iter()
            .map(|(n, t)| Column::new(n.to_string(), GlueType::parse(t).expect("a test type")))
            .collect(),
        partition_keys: vec!["year".into(), "month".into(), "day".into(), "hour".into()],
        dms: dms(),
        primary_key: vec!["id".into()],
        curated_database: "dmslake_curated".into(),
        curated_location: "s3://lake-bucket/curated/".into(),
        partitioning: vec!["day(at)".into(), "code".into()],
        type_overrides: BTreeMap::new(),
    }
}

fn csv_with_overrides() -> TableSpec {
    let mut spec = parquet_all_types();
    spec.format = FileFormat::Csv;
    spec.table = "public_all_types_csv".into();
    for c in &mut spec.columns {
        c.ty = GlueType::String;
    }
    spec.type_overrides = [
        ("id", "bigint"),
        ("n", "int"),
        ("price", "decimal(15,2)"),
        ("d", "double"),
        ("flag", "boolean"),
        ("born", "date"),
        ("at", "timestamp"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), GlueType::parse(v).expect("a test type")))
    .collect();
    spec.partitioning = vec![];
    spec
}

fn statements(t: &CompactionTable) -> Vec<String> {
    vec![
        t.create_table_sql(),
        t.merge_sql(&PartitionRange {
            from: Some(vec!["2024".into(), "06".into(), "12".into(), "10".into()]),
            to: Some(vec!["2024".into(), "07".into(), "05".into(), "20".into()]),
            ..Default::default()
        })
        .expect("merge"),
        t.merge_sql(&PartitionRange::default()).expect("merge"),
        t.optimize_sql(),
        t.vacuum_sql(),
    ]
}

#[test]
fn ddl_and_merge_for_every_type_mapping_parse_as_single_quoted_athena_statements() {
    for spec in [parquet_all_types(), csv_with_overrides()] {
        let t = CompactionTable::plan(&spec).expect("plan");
        let sqls = statements(&t);
        let results = check(&sqls);
        let kinds = ["Create", "Merge", "Merge", "Command", "Command"];
        for ((sql, r), kind) in sqls.iter().zip(&results).zip(kinds) {
            assert!(r["error"].is_null(), "{sql}\n{r}");
            assert_eq!(r["statements"], 1, "{sql}");
            assert_eq!(r["kind"], kind, "{sql}");
            assert_eq!(r["unquoted"], serde_json::json!([]), "{sql}");
        }
        assert_eq!(results[3]["command"], "OPTIMIZE");
        assert_eq!(results[4]["command"], "VACUUM");
        let ddl = &sqls[0];
        for piece in [
            "`small` int",
            "`tiny` int",
            "`code` string",
            "`_dmslake_seq` string",
            "TBLPROPERTIES ('table_type'='ICEBERG'",
        ] {
            if spec.format == FileFormat::Parquet {
                assert!(ddl.contains(piece), "{piece}: {ddl}");
            }
        }
        assert!(!ddl.contains("`bi_id`"), "before image is not curated");
    }
}

#[test]
fn add_columns_statements_parse_as_one_quoted_alter_each() {
    for spec in [parquet_all_types(), csv_with_overrides()] {
        let t = CompactionTable::plan(&spec).expect("plan");
        // Nothing recorded yet (every column added) and a list the table partly outgrew.
        let all = t.add_columns_sql(&[]);
        assert_eq!(all.len(), t.columns().len());
        let some = t.add_columns_sql(&["id".into(), "price".into(), "gone".into()]);
        assert_eq!(some.len(), t.columns().len() - 2);
        let sqls: Vec<String> = all.into_iter().chain(some).collect();
        for (sql, r) in sqls.iter().zip(check(&sqls)) {
            assert!(r["error"].is_null(), "{sql}\n{r}");
            assert_eq!(r["statements"], 1, "{sql}");
            assert_eq!(r["kind"], "Alter", "{sql}");
            assert_eq!(r["unquoted"], serde_json::json!([]), "{sql}");
        }
    }
}

/// Hostile names: quotes, semicolons, comments, backticks, unicode, control characters.
fn hostile_names(seed: u64) -> Vec<String> {
    let pieces = [
        "\"",
        "'",
        "`",
        ";",
        "--",
        "/*",
        "*/",
        " ",
        "\n",
        "\\",
        "DROP TABLE x",
        "é",
        "$path",
        ")",
        "(",
        "a",
        "_",
        "0",
        "Ü",
        "\u{0}",
        "UNION SELECT",
        ",",
    ];
    let mut s = seed | 1;
    let mut out = Vec::new();
    for _ in 0..60 {
        let mut name = String::new();
        for _ in 0..(1 + s % 6) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            name.push_str(pieces[(s % pieces.len() as u64) as usize]);
        }
        out.push(name);
    }
    out
}

#[test]
fn hostile_schema_table_and_column_names_never_yield_more_than_one_statement() {
    let mut sqls = Vec::new();
    let mut refused = 0;
    for (i, name) in hostile_names(0x5eed).into_iter().enumerate() {
        // Raw, un-normalised: refused. Normalised as the catalog names tables: accepted.
        let mut raw = csv_with_overrides();
        raw.table = name.clone();
        raw.columns[3].name = name.clone();
        raw.primary_key = vec![name.clone()];
        match CompactionTable::plan(&raw) {
            Ok(t) => {
                sqls.extend(statements(&t));
                sqls.extend(t.add_columns_sql(&[]));
            }
            Err(_) => refused += 1,
        }
        let mut norm = csv_with_overrides();
        norm.table = format!("{}_{}", normalise(&name), i);
        norm.columns[3].name = format!("c_{}", normalise(&name));
        norm.primary_key = vec![norm.columns[3].name.clone()];
        norm.type_overrides.clear();
        let t = CompactionTable::plan(&norm).expect("normalised names are valid");
        sqls.extend(statements(&t));
        // The recorded column list is only compared, never rendered: hostile entries in it
        // change which columns are added, not the text.
        let added = t.add_columns_sql(&[name.clone(), "id".into()]);
        let every = t.add_columns_sql(&[]);
        assert!(added.iter().all(|sql| every.contains(sql)), "{added:?}");
        assert_eq!(added.len(), every.len() - 1, "only `id` is left out");
        sqls.extend(added);
    }
    // A column name with a quote inside never reaches an ALTER: the table is refused.
    for quoted in ["a\"b", "a`b", "a'b"] {
        let mut spec = csv_with_overrides();
        spec.columns.push(Column::new(quoted, GlueType::String));
        assert!(CompactionTable::plan(&spec).is_err(), "{quoted}");
    }
    // Normalised, the same name is added, quoted.
    let mut spec = csv_with_overrides();
    spec.columns
        .push(Column::new(normalise("a\"b`c'd"), GlueType::String));
    let t = CompactionTable::plan(&spec).expect("plan");
    let existing: Vec<String> = csv_with_overrides()
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let added = t.add_columns_sql(&existing);
    assert_eq!(
        added,
        ["ALTER TABLE `dmslake_curated`.`public_all_types_csv` ADD COLUMNS (`a_b_c_d` string)"]
    );
    sqls.extend(added);
    assert!(refused > 30, "most raw hostile names must be refused");
    for (sql, r) in sqls.iter().zip(check(&sqls)) {
        assert!(r["error"].is_null(), "{sql}\n{r}");
        assert_eq!(r["statements"], 1, "{sql}");
        assert_eq!(r["unquoted"], serde_json::json!([]), "{sql}");
    }
}

#[test]
fn hostile_partition_values_and_locations_are_refused() {
    let t = CompactionTable::plan(&parquet_all_types()).expect("plan");
    for bad in ["2024'; DROP TABLE x; --", "20 4", "", "12345", "ab"] {
        let range = PartitionRange {
            from: Some(vec![bad.into(), "01".into(), "01".into(), "00".into()]),
            to: None,
            ..Default::default()
        };
        assert!(t.merge_sql(&range).is_err(), "{bad:?}");
    }
    for loc in ["s3://b/x'; DROP TABLE y; --", "https://b/x", "s3://b/\u{0}"] {
        let mut spec = parquet_all_types();
        spec.curated_location = loc.into();
        assert!(CompactionTable::plan(&spec).is_err(), "{loc:?}");
    }
}
