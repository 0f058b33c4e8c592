//! `dmslake explain-key` run as a process: one JSON object on stdout, errors on stderr with a
//! non-zero exit status.

use serde_json::{json, Value};
use std::process::{Command, Output};

/// Runs `dmslake explain-key` with exactly the given `DMSLAKE_*` variables.
fn explain_key(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmslake"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("DMSLAKE_")) {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied()).arg("explain-key").args(args);
    cmd.output().expect("run the dmslake binary")
}

fn explained(env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = explain_key(env, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "one JSON object: {stdout}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{stdout}: {e}"))
}

fn failure(env: &[(&str, &str)], args: &[&str]) -> String {
    let out = explain_key(env, args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const DMS: &[(&str, &str)] = &[("DMSLAKE_BUCKET_FOLDER", "dms")];

#[test]
fn full_load_key_is_explained_with_nulls_where_not_applicable() {
    let v = explained(DMS, &["dms/public/orders/LOAD0000000A.csv.gz"]);
    assert_eq!(
        v,
        json!({
            "kind": "full_load",
            "schema": "public",
            "table": "orders",
            "partition": {},
            "format": "csv",
            "compression": "gzip",
            "reason": null,
        })
    );
}

#[test]
fn dated_cdc_key_gives_partition_values_by_key_name() {
    let env = [
        ("DMSLAKE_BUCKET_FOLDER", "lake/dms"),
        ("DMSLAKE_DATE_PARTITION_ENABLED", "true"),
        ("DMSLAKE_DATE_PARTITION_SEQUENCE", "DDMMYYYY"),
        ("DMSLAKE_DATE_PARTITION_DELIMITER", "DASH"),
    ];
    let v = explained(
        &env,
        &["lake/dms/hr/employee/12-06-2024/20240612-103647680.parquet"],
    );
    assert_eq!(v["kind"], "cdc");
    assert_eq!(
        (v["schema"].as_str(), v["table"].as_str()),
        (Some("hr"), Some("employee"))
    );
    assert_eq!(
        v["partition"],
        json!({"year": "2024", "month": "06", "day": "12"})
    );
    assert_eq!(
        (v["format"].as_str(), v["compression"].as_str()),
        (Some("parquet"), Some("none"))
    );
    assert_eq!(v["reason"], Value::Null);
}

#[test]
fn s3_url_is_explained_like_its_key() {
    let from_url = explained(
        DMS,
        &["s3://my-bucket/dms/public/orders/20240612-103647680.csv"],
    );
    let from_key = explained(DMS, &["dms/public/orders/20240612-103647680.csv"]);
    assert_eq!(from_url, from_key);
    assert_eq!(from_url["kind"], "cdc");
}

#[test]
fn url_encoded_key_is_decoded_as_s3_events_deliver_it() {
    let v = explained(
        DMS,
        &[
            "--url-encoded",
            "s3://b/dms/Sales+Dept/Ord%C3%A9r%3D1/LOAD00000001.csv",
        ],
    );
    assert_eq!(v["schema"], "Sales Dept");
    assert_eq!(v["table"], "Ordér=1");
    // Without the flag the same text is a literal key: '%' and '+' are kept.
    let v = explained(DMS, &["dms/Sales+Dept/Ord%C3%A9r/LOAD00000001.csv"]);
    assert_eq!(v["schema"], "Sales+Dept");
    assert_eq!(v["table"], "Ord%C3%A9r");
}

#[test]
fn keys_that_are_not_dms_data_are_ignored_with_a_reason_and_exit_zero() {
    let cases: &[(&str, &str)] = &[
        ("dms/public/orders/", "folder marker"),
        (
            "dms/cdc/CDC_TXN-20201117153046033.csv",
            "PreserveTransactions transaction file: not supported",
        ),
        ("other/public/orders/LOAD00000001.csv", "BucketFolder"),
        ("dms/public/orders/../LOAD00000001.csv", ".."),
        ("dms/public/orders/notes.txt", "not a DMS data file"),
    ];
    for (key, why) in cases {
        let v = explained(DMS, &[key]);
        assert_eq!(v["kind"], "ignored", "{key}");
        let reason = v["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(why), "{key}: {reason}");
        for field in ["schema", "table", "partition", "format", "compression"] {
            assert_eq!(v[field], Value::Null, "{key}: {field}");
        }
    }
}

#[test]
fn bad_layout_variable_fails_naming_the_variable_and_allowed_values() {
    let stderr = failure(
        &[("DMSLAKE_DATE_PARTITION_SEQUENCE", "YYYY")],
        &["dms/public/orders/LOAD00000001.csv"],
    );
    assert!(
        stderr.contains("DMSLAKE_DATE_PARTITION_SEQUENCE"),
        "{stderr}"
    );
    assert!(stderr.contains("YYYYMMDDHH"), "{stderr}");
    let stderr = failure(
        &[("DMSLAKE_DATE_PARTITION_DELIMITER", "COMMA")],
        &["dms/public/orders/LOAD00000001.csv"],
    );
    assert!(
        stderr.contains("DMSLAKE_DATE_PARTITION_DELIMITER"),
        "{stderr}"
    );
    assert!(stderr.contains("SLASH, UNDERSCORE, DASH, NONE"), "{stderr}");
}

#[test]
fn bad_url_encoding_fails_on_stderr() {
    for key in [
        "dms/public/orders%zz/LOAD00000001.csv",
        "dms/public/%C3%28/LOAD00000001.csv",
    ] {
        let stderr = failure(DMS, &["--url-encoded", key]);
        assert!(stderr.contains("URL encoding"), "{key}: {stderr}");
    }
}

#[test]
fn s3_url_without_a_key_fails() {
    let stderr = failure(DMS, &["s3://bucket-only"]);
    assert!(stderr.contains("s3://bucket/key"), "{stderr}");
}
