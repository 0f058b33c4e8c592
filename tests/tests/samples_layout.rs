//! Every real DMS output file in the samples tree is classified as DMS would have meant it.
//!
//! Each sample sits at its object key below its sample folder (see the samples README):
//! northwind-postgres was written with BucketFolder `cdc`, the others with `dms`.

use dmslake::config::LayoutConfig;
use dmslake::layout::{classify, Classification, Compression, DataKind, DmsObject, FileFormat};
use dmslake_tests::{files_under, samples_dir};
use std::path::Path;

/// Sample folders and the BucketFolder their keys were written under.
const SAMPLE_FOLDERS: &[(&str, &str)] = &[
    ("northwind-postgres", "cdc"),
    ("mysql-customers", "dms"),
    ("oracle-hr-with-header", "dms"),
    ("parquet-go-dms", "dms"),
    ("user-guide", "dms"),
];

/// Extensions of files in the samples tree that are documentation or events, not DMS output.
const NOT_DMS_OUTPUT: &[&str] = &["md", "sql", "json"];

fn layout(bucket_folder: &str) -> LayoutConfig {
    LayoutConfig {
        bucket_folder: bucket_folder.into(),
        ..LayoutConfig::default()
    }
}

/// The object key of a sample file: its path below its sample folder.
fn sample_key(path: &Path) -> (String, &'static str) {
    let root = samples_dir();
    let rel = path
        .strip_prefix(&root)
        .unwrap_or_else(|_| panic!("{} is outside {}", path.display(), root.display()));
    let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
    let sample = parts.next().expect("sample folder");
    let (_, folder) = SAMPLE_FOLDERS
        .iter()
        .find(|(name, _)| *name == sample)
        .unwrap_or_else(|| {
            panic!("sample folder {sample:?} has no BucketFolder in SAMPLE_FOLDERS")
        });
    (parts.collect::<Vec<_>>().join("/"), folder)
}

fn classify_sample(rel: &str) -> DmsObject {
    let path = samples_dir().join(rel);
    assert!(path.is_file(), "missing sample {}", path.display());
    let (key, folder) = sample_key(&path);
    match classify(&key, &layout(folder)) {
        Classification::Data(object) => object,
        Classification::Ignored { reason } => panic!("{rel} ignored: {reason}"),
    }
}

fn assert_sample(
    rel: &str,
    kind: DataKind,
    schema: &str,
    table: &str,
    format: FileFormat,
    compression: Compression,
) {
    let o = classify_sample(rel);
    assert_eq!(
        (
            o.kind,
            o.schema.as_str(),
            o.table.as_str(),
            o.format,
            o.compression
        ),
        (kind, schema, table, format, compression),
        "{rel}"
    );
    assert!(o.partition.is_empty(), "{rel}: {:?}", o.partition);
    assert_eq!(o.folder_prefix, o.table_prefix, "{rel}");
}

use Compression::None as Plain;
use DataKind::{Cdc, FullLoad};
use FileFormat::{Csv, Parquet};

macro_rules! sample_tests {
    ($($name:ident: $rel:literal => $kind:expr, $schema:literal, $table:literal, $format:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert_sample($rel, $kind, $schema, $table, $format, Plain);
            }
        )*
    };
}

sample_tests! {
    mysql_customers_cdc_file_is_cdc_csv:
        "mysql-customers/dms/classicmodels/customers/20240809-192717787.csv" => Cdc, "classicmodels", "customers", Csv;
    mysql_customers_load_file_is_full_load_csv:
        "mysql-customers/dms/classicmodels/customers/LOAD00000001.csv" => FullLoad, "classicmodels", "customers", Csv;
    northwind_categories_load_is_full_load_csv:
        "northwind-postgres/cdc/public/categories/LOAD00000001.csv" => FullLoad, "public", "categories", Csv;
    northwind_customers_load_is_full_load_csv:
        "northwind-postgres/cdc/public/customers/LOAD00000001.csv" => FullLoad, "public", "customers", Csv;
    northwind_employee_territories_load_is_full_load_csv:
        "northwind-postgres/cdc/public/employee_territories/LOAD00000001.csv" => FullLoad, "public", "employee_territories", Csv;
    northwind_employees_load_is_full_load_csv:
        "northwind-postgres/cdc/public/employees/LOAD00000001.csv" => FullLoad, "public", "employees", Csv;
    northwind_order_details_cdc_103127367_is_cdc_csv:
        "northwind-postgres/cdc/public/order_details/20240612-103127367.csv" => Cdc, "public", "order_details", Csv;
    northwind_order_details_cdc_103540301_is_cdc_csv:
        "northwind-postgres/cdc/public/order_details/20240612-103540301.csv" => Cdc, "public", "order_details", Csv;
    northwind_order_details_cdc_103647680_is_cdc_csv:
        "northwind-postgres/cdc/public/order_details/20240612-103647680.csv" => Cdc, "public", "order_details", Csv;
    northwind_order_details_cdc_144409328_is_cdc_csv:
        "northwind-postgres/cdc/public/order_details/20240612-144409328.csv" => Cdc, "public", "order_details", Csv;
    northwind_order_details_cdc_152517848_is_cdc_csv:
        "northwind-postgres/cdc/public/order_details/20240612-152517848.csv" => Cdc, "public", "order_details", Csv;
    northwind_order_details_cdc_201037838_is_cdc_csv:
        "northwind-postgres/cdc/public/order_details/20240705-201037838.csv" => Cdc, "public", "order_details", Csv;
    northwind_order_details_load_is_full_load_csv:
        "northwind-postgres/cdc/public/order_details/LOAD00000001.csv" => FullLoad, "public", "order_details", Csv;
    northwind_products_load_is_full_load_csv:
        "northwind-postgres/cdc/public/products/LOAD00000001.csv" => FullLoad, "public", "products", Csv;
    northwind_region_load_is_full_load_csv:
        "northwind-postgres/cdc/public/region/LOAD00000001.csv" => FullLoad, "public", "region", Csv;
    northwind_shippers_load_is_full_load_csv:
        "northwind-postgres/cdc/public/shippers/LOAD00000001.csv" => FullLoad, "public", "shippers", Csv;
    northwind_suppliers_load_is_full_load_csv:
        "northwind-postgres/cdc/public/suppliers/LOAD00000001.csv" => FullLoad, "public", "suppliers", Csv;
    northwind_territories_load_is_full_load_csv:
        "northwind-postgres/cdc/public/territories/LOAD00000001.csv" => FullLoad, "public", "territories", Csv;
    northwind_us_states_load_is_full_load_csv:
        "northwind-postgres/cdc/public/us_states/LOAD00000001.csv" => FullLoad, "public", "us_states", Csv;
    oracle_hr_employees_cdc_file_is_cdc_csv:
        "oracle-hr-with-header/dms/hr/employees/20190118-184518184.csv" => Cdc, "hr", "employees", Csv;
    oracle_hr_employees_load_file_is_full_load_csv:
        "oracle-hr-with-header/dms/hr/employees/LOAD00000001.csv" => FullLoad, "hr", "employees", Csv;
    parquet_go_dms_test_table_load_is_full_load_parquet:
        "parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet" => FullLoad, "public", "dms_test_table", Parquet;
    user_guide_employee_cdc_file_is_cdc_csv:
        "user-guide/dms/hr/employee/20141029-1134010000.csv" => Cdc, "hr", "employee", Csv;
}

#[test]
fn every_dms_file_in_the_samples_tree_is_classified_as_data_of_its_folder() {
    let root = samples_dir();
    let mut checked = 0;
    for path in files_under(&root) {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let top = path
            .strip_prefix(&root)
            .ok()
            .and_then(|rel| rel.iter().next())
            .and_then(|s| s.to_str())
            .unwrap_or("");
        if NOT_DMS_OUTPUT.contains(&ext) || top == "events" {
            continue;
        }
        let (key, folder) = sample_key(&path);
        let o = match classify(&key, &layout(folder)) {
            Classification::Data(o) => o,
            Classification::Ignored { reason } => {
                panic!("{}: DMS sample file ignored: {reason}", path.display())
            }
        };
        // The key's own folders name the schema and table; the file name gives kind and format.
        let dirs: Vec<&str> = key.split('/').collect();
        assert_eq!(dirs[0], folder, "{key}");
        assert_eq!(
            (dirs[1], dirs[2]),
            (o.schema.as_str(), o.table.as_str()),
            "{key}"
        );
        let want_kind = if o.file_name.starts_with("LOAD") {
            FullLoad
        } else {
            Cdc
        };
        assert_eq!(o.kind, want_kind, "{key}");
        let want_format = if ext == "parquet" { Parquet } else { Csv };
        assert_eq!(o.format, want_format, "{key}");
        checked += 1;
    }
    assert!(
        checked >= 23,
        "only {checked} sample data files found under {}",
        root.display()
    );
}

#[test]
fn sample_keys_under_the_wrong_bucket_folder_are_not_data() {
    let o = classify(
        "cdc/public/order_details/20240612-103647680.csv",
        &layout("dms"),
    );
    match o {
        Classification::Ignored { reason } => assert!(reason.contains("BucketFolder"), "{reason}"),
        Classification::Data(o) => panic!("classified under the wrong BucketFolder: {o:?}"),
    }
}
