//! `dms-local` writes the bytes DMS wrote: rows rebuilt from typed values are compared with the
//! real northwind-postgres files (Aurora PostgreSQL → DMS → S3, BucketFolder `cdc`).

use chrono::{DateTime, NaiveDateTime, Utc};
use dms_local::format::{
    self, cdc_key, dms_text, load_key, push_field, push_row, split_line, ChangeSequence, Op, Row,
    RowLayout, ValueKind,
};
use dmslake::config::LayoutConfig;
use dmslake::layout::{classify, Classification, DataKind};
use dmslake_tests::{files_under, samples_dir};

fn northwind(rel: &str) -> String {
    let path = samples_dir()
        .join("northwind-postgres/cdc/public")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ts(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .and_utc()
}

/// order_details: order_id smallint, product_id smallint, unit_price real, quantity smallint,
/// discount real; primary key (order_id, product_id).
const ORDER_DETAILS: [ValueKind; 5] = [
    ValueKind::Text,
    ValueKind::Text,
    ValueKind::Real4,
    ValueKind::Text,
    ValueKind::Real4,
];

fn order_detail_values(values: [Option<&str>; 5]) -> Vec<Option<String>> {
    ORDER_DETAILS
        .iter()
        .zip(values)
        .map(|(k, v)| dms_text(*k, v).expect("valid value"))
        .collect()
}

#[test]
fn order_details_cdc_file_with_before_images_is_rebuilt_byte_for_byte() {
    // (op, commit, values as PostgreSQL prints them, counter, old key when the key changed)
    type Change<'a> = (Op, &'a str, [Option<&'a str>; 5], u64, Option<[&'a str; 2]>);
    let changes: &[Change] = &[
        (
            Op::Insert,
            "2024-07-05 20:09:37.835497",
            [Some("30010"), Some("1"), Some("11"), Some("12"), Some("0")],
            65,
            None,
        ),
        (
            Op::Update,
            "2024-07-05 20:09:37.835497",
            [Some("30010"), Some("1"), Some("11"), Some("1"), Some("0")],
            69,
            None,
        ),
        (
            Op::Update,
            "2024-07-05 20:09:37.835497",
            [Some("30010"), Some("77"), Some("11"), Some("1"), Some("0")],
            73,
            Some(["30010", "1"]),
        ),
        (
            Op::Insert,
            "2024-07-05 20:10:13.100473",
            [Some("30014"), Some("1"), Some("11"), Some("12"), Some("0")],
            97,
            None,
        ),
        (
            Op::Insert,
            "2024-07-05 20:10:20.398019",
            [Some("30014"), Some("2"), Some("11"), Some("12"), Some("0")],
            109,
            None,
        ),
        (
            Op::Update,
            "2024-07-05 20:10:20.398019",
            [Some("30014"), Some("66"), Some("11"), Some("12"), Some("0")],
            113,
            Some(["30014", "1"]),
        ),
        (
            Op::Insert,
            "2024-07-05 20:10:20.398019",
            [Some("30014"), Some("3"), Some("11"), Some("12"), Some("0")],
            117,
            None,
        ),
        (
            Op::Update,
            "2024-07-05 20:10:27.289246",
            [Some("30014"), Some("77"), Some("11"), Some("12"), Some("0")],
            129,
            Some(["30014", "2"]),
        ),
    ];
    let mut out = String::new();
    for (op, commit, values, counter, old_key) in changes {
        let commit = ts(commit);
        let row = Row {
            op: *op,
            timestamp: commit,
            values: order_detail_values(*values),
            change_sequence: Some(ChangeSequence {
                commit,
                counter: *counter,
            }),
            before_image: old_key.map(|k| k.iter().map(|v| Some(v.to_string())).collect()),
        };
        push_row(&mut out, &row, RowLayout::default(), 2);
    }
    assert_eq!(out, northwind("order_details/20240705-201037838.csv"));
}

#[test]
fn key_only_delete_and_shared_commit_times_match_the_earlier_cdc_file() {
    let layout = RowLayout {
        before_image_keys: false,
        ..RowLayout::default()
    };
    let rows = [
        (
            Op::Update,
            "2024-06-12 10:35:47.678122",
            [Some("30002"), Some("66"), Some("11"), Some("1"), Some("0")],
            409,
        ),
        // A delete under REPLICA IDENTITY DEFAULT: only the key is known.
        (
            Op::Delete,
            "2024-06-12 10:35:53.495770",
            [Some("30002"), Some("66"), None, None, None],
            421,
        ),
    ];
    let mut out = String::new();
    for (op, commit, values, counter) in rows {
        let commit = ts(commit);
        let row = Row {
            op,
            timestamp: commit,
            values: order_detail_values(values),
            change_sequence: Some(ChangeSequence { commit, counter }),
            before_image: None,
        };
        push_row(&mut out, &row, layout, 2);
    }
    assert_eq!(out, northwind("order_details/20240612-103647680.csv"));
}

#[test]
fn full_load_rows_have_op_i_transfer_time_and_an_empty_change_sequence() {
    let layout = RowLayout {
        before_image_keys: false,
        ..RowLayout::default()
    };
    let expected = northwind("order_details/LOAD00000001.csv");
    let mut out = String::new();
    for line in expected.lines().take(30) {
        let f: Vec<&str> = line.split(',').collect();
        // Rebuild from what PostgreSQL prints for the real values (shortest float text).
        let price: f32 = f[4].parse().expect("price");
        let discount: f32 = f[6].parse().expect("discount");
        let (price, discount) = (price.to_string(), discount.to_string());
        let row = Row {
            op: Op::Insert,
            timestamp: ts(f[1]),
            values: order_detail_values([
                Some(f[2]),
                Some(f[3]),
                Some(&price),
                Some(f[5]),
                Some(&discount),
            ]),
            change_sequence: None,
            before_image: None,
        };
        push_row(&mut out, &row, layout, 2);
    }
    let first30: String = expected
        .lines()
        .take(30)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(out, first30);
}

#[test]
fn text_rows_quote_commas_and_keep_backslash_sequences_like_dms() {
    let layout = RowLayout {
        change_sequence: true,
        before_image_keys: false,
        timestamp_column: true,
        time_as_text: true,
    };
    let customers = northwind("customers/LOAD00000001.csv");
    let hanar = customers
        .lines()
        .find(|l| l.contains("HANAR"))
        .expect("HANAR row");
    let values = [
        "HANAR",
        "Hanari Carnes",
        "Mario Pontes",
        "Accounting Manager",
        "Rua do Paço, 67",
        "Rio de Janeiro",
        "RJ",
        "05454-876",
        "Brazil",
        "(21) 555-0091",
        "(21) 555-8765",
    ];
    let row = Row {
        op: Op::Insert,
        timestamp: ts("2024-06-12 10:28:15.867565"),
        values: values.iter().map(|v| Some(v.to_string())).collect(),
        change_sequence: None,
        before_image: None,
    };
    let mut out = String::new();
    push_row(&mut out, &row, layout, 1);
    assert_eq!(out, format!("{hanar}\n"));

    // employees: the address holds a literal backslash-n (northwind's data), written as is.
    let employees = northwind("employees/LOAD00000001.csv");
    let davolio = employees.lines().next().expect("first employee");
    let notes = "Education includes a BA in psychology from Colorado State University in 1970.  She also completed The Art of the Cold Call.  Nancy is a member of Toastmasters International.";
    let values: Vec<Option<&str>> = vec![
        Some("1"),
        Some("Davolio"),
        Some("Nancy"),
        Some("Sales Representative"),
        Some("Ms."),
        Some("1948-12-08"),
        Some("1992-05-01"),
        Some("507 - 20th Ave. E.\\nApt. 2A"),
        Some("Seattle"),
        Some("WA"),
        Some("98122"),
        Some("USA"),
        Some("(206) 555-9857"),
        Some("5467"),
        Some(""),
        Some(notes),
        Some("2"),
        Some("http://accweb/emmployees/davolio.bmp"),
    ];
    let row = Row {
        op: Op::Insert,
        timestamp: ts("2024-06-12 10:28:16.741253"),
        values: values.iter().map(|v| v.map(str::to_string)).collect(),
        change_sequence: None,
        before_image: None,
    };
    let mut out = String::new();
    push_row(&mut out, &row, layout, 1);
    assert_eq!(out, format!("{davolio}\n"));
}

#[test]
fn every_northwind_line_is_requoted_identically() {
    let root = samples_dir().join("northwind-postgres/cdc");
    let files = files_under(&root);
    assert!(files.len() >= 17, "northwind samples missing");
    let mut lines = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read sample");
        for line in text.lines() {
            let mut out = String::new();
            for (i, field) in split_line(line).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_field(&mut out, Some(field));
            }
            assert_eq!(out, line, "{}", path.display());
            lines += 1;
        }
    }
    assert!(lines > 400);
}

#[test]
fn generated_keys_classify_as_the_files_they_are() {
    let commit = ts("2024-07-05 20:09:37.835497");
    let written = ts("2024-07-05 20:10:37.838000");
    let mut layout = LayoutConfig {
        bucket_folder: "cdc".into(),
        ..LayoutConfig::default()
    };
    let sample = cdc_key(&layout, "public", "order_details", commit, written, "csv");
    assert_eq!(sample, "cdc/public/order_details/20240705-201037838.csv");
    assert!(samples_dir()
        .join("northwind-postgres")
        .join(&sample)
        .is_file());
    for partitioned in [false, true] {
        layout.date_partition_enabled = partitioned;
        for (key, kind) in [
            (
                load_key(&layout, "public", "order_details", 10, "csv"),
                DataKind::FullLoad,
            ),
            (
                cdc_key(&layout, "public", "order_details", commit, written, "csv"),
                DataKind::Cdc,
            ),
        ] {
            let Classification::Data(obj) = classify(&key, &layout) else {
                panic!("{key} not classified as DMS data");
            };
            assert_eq!(
                (obj.kind, obj.schema.as_str(), obj.table.as_str()),
                (kind, "public", "order_details"),
                "{key}"
            );
            assert_eq!(obj.key, key);
            if partitioned && kind == DataKind::Cdc {
                assert_eq!(obj.folder_prefix, "cdc/public/order_details/2024/07/05/");
            } else {
                assert_eq!(obj.folder_prefix, "cdc/public/order_details/");
            }
        }
    }
    assert_eq!(format::load_file_name(10, "csv"), "LOAD0000000A.csv");
}
