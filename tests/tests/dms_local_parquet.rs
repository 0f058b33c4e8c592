//! `dms-local`'s Parquet files have the types of a real DMS Parquet file from PostgreSQL
//! (`dms-samples/parquet-go-dms`, `created_by: AWS`): column for column the same physical
//! type, annotation, decimal length, precision and scale, and the same Glue types for the
//! registrar.

use dms_local::capture::{Column, TableInfo};
use dms_local::format::RowLayout;
use dms_local::parquet::{file_columns, write_file};
use dmslake::config::DmsColumns;
use dmslake::parquet_footer::{footer_from_suffix, FooterStep};
use dmslake::schema::glue_columns;
use dmslake_tests::samples_dir;
use parquet::file::metadata::ParquetMetaData;

/// The sample table's columns with the PostgreSQL types their values show.
const SAMPLE_TABLE: &[(&str, &str)] = &[
    ("id", "bigint"),
    ("my_int", "integer"),
    ("my_smallint", "smallint"),
    ("my_numeric", "numeric(15,2)"),
    ("my_real", "real"),
    ("my_double", "double precision"),
    ("my_money", "money"),
    ("my_varchar", "character varying"),
    ("my_text", "text"),
    ("my_bytea", "bytea"),
    ("my_timestamp", "timestamp without time zone"),
    ("my_uuid", "uuid"),
    ("my_json", "json"),
    ("my_jsonb", "jsonb"),
    ("my_bool", "boolean"),
];

fn footer(bytes: &[u8]) -> ParquetMetaData {
    match footer_from_suffix(bytes, Some(bytes.len() as u64)).expect("footer") {
        FooterStep::Complete(meta) => *meta,
        FooterStep::NeedSuffix(n) => panic!("whole file given, footer needs {n} bytes"),
    }
}

fn sample() -> ParquetMetaData {
    let path = samples_dir().join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    footer(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The sample's endpoint: `TimestampColumnName=DMS_TIMESTAMP`, a full load (no change
/// sequence, no before-image columns).
fn ours() -> ParquetMetaData {
    let info = TableInfo {
        schema: "public".into(),
        table: "dms_test_table".into(),
        columns: SAMPLE_TABLE
            .iter()
            .map(|(name, pg)| Column::new(*name, *pg))
            .collect(),
        key: vec![0],
    };
    let names = DmsColumns {
        timestamp: "DMS_TIMESTAMP".into(),
        ..DmsColumns::default()
    };
    let layout = RowLayout {
        timestamp_column: true,
        change_sequence: false,
        before_image_keys: false,
        time_as_text: true,
    };
    footer(&write_file(&file_columns(&info, &names, layout), &[]).expect("written"))
}

/// `name physical annotation length precision scale repetition` of every leaf column.
fn describe(meta: &ParquetMetaData) -> Vec<String> {
    let schema = meta.file_metadata().schema_descr();
    schema
        .columns()
        .iter()
        .map(|c| {
            let t = c.self_type();
            let info = t.get_basic_info();
            format!(
                "{} {} {} len={} p={} s={} {:?}",
                c.name(),
                c.physical_type(),
                c.converted_type(),
                c.type_length(),
                c.type_precision(),
                c.type_scale(),
                info.repetition()
            )
        })
        .collect()
}

#[test]
fn parquet_columns_have_the_types_of_a_real_dms_file() {
    let sample = describe(&sample());
    let ours = describe(&ours());
    // The sample's task had IncludeOpForFullLoad off: it has no `Op` column; ours leads with it.
    assert_eq!(ours[0], "Op BYTE_ARRAY UTF8 len=-1 p=-1 s=-1 REQUIRED");
    let ours = &ours[1..];
    assert_eq!(ours.len(), sample.len());
    for (o, s) in ours.iter().zip(&sample) {
        if s.starts_with("my_timestamp ") {
            // The sample's endpoint had ParquetTimestampInMillisecond on; its default (off,
            // CHAP_Target.S3.md) writes microseconds.
            assert_eq!(
                s,
                "my_timestamp INT64 TIMESTAMP_MILLIS len=-1 p=-1 s=-1 OPTIONAL"
            );
            assert_eq!(
                o,
                "my_timestamp INT64 TIMESTAMP_MICROS len=-1 p=-1 s=-1 OPTIONAL"
            );
            continue;
        }
        assert_eq!(o, s);
    }
}

#[test]
fn the_registrar_reads_the_same_glue_schema_from_both() {
    let names = DmsColumns {
        timestamp: "DMS_TIMESTAMP".into(),
        ..DmsColumns::default()
    };
    let types = |meta: &ParquetMetaData| -> Vec<(String, String)> {
        glue_columns(meta, &names)
            .expect("mapped")
            .into_iter()
            .map(|c| (c.column.name, c.column.ty.to_string()))
            .filter(|(n, _)| n != "op")
            .collect()
    };
    let sample = types(&sample());
    assert_eq!(types(&ours()), sample);
    assert!(sample.contains(&("my_money".into(), "decimal(38,4)".into())));
}
