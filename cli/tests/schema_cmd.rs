//! `dmslake schema` prints a Parquet file's Glue columns as JSON, from a local file or an S3
//! object (through `AWS_ENDPOINT_URL`), and fails with a message on stderr for bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sample() -> PathBuf {
    let dir = std::env::var("DMSLAKE_SAMPLES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dms")
        });
    let path = dir.join("parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet");
    assert!(
        path.is_file(),
        "fixture {} is missing: the repository's tests/fixtures/dms holds it",
        path.display()
    );
    path
}

fn endpoint() -> String {
    std::env::var("DMSLAKE_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        let port = std::env::var("MOTO_PORT").unwrap_or_else(|_| "5055".into());
        format!("http://127.0.0.1:{port}")
    })
}

fn dmslake(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmslake"));
    cmd.args(args)
        .env_remove("DMSLAKE_TIMESTAMP_COLUMN")
        .env_remove("DMSLAKE_CHANGE_SEQUENCE_COLUMN")
        .env_remove("DMSLAKE_BEFORE_IMAGE_PREFIX");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run dmslake")
}

fn expected_sample_columns() -> serde_json::Value {
    let cols = [
        ("dms_timestamp", "string", "timestamp"),
        ("id", "bigint", "data"),
        ("my_int", "int", "data"),
        ("my_smallint", "smallint", "data"),
        ("my_numeric", "decimal(15,2)", "data"),
        ("my_real", "float", "data"),
        ("my_double", "double", "data"),
        ("my_money", "decimal(38,4)", "data"),
        ("my_varchar", "string", "data"),
        ("my_text", "string", "data"),
        ("my_bytea", "binary", "data"),
        ("my_timestamp", "timestamp", "data"),
        ("my_uuid", "string", "data"),
        ("my_json", "string", "data"),
        ("my_jsonb", "string", "data"),
        ("my_bool", "boolean", "data"),
    ];
    serde_json::Value::Array(
        cols.iter()
            .map(|(n, t, r)| serde_json::json!({"name": n, "type": t, "role": r}))
            .collect(),
    )
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn local_dms_sample_prints_every_column_with_type_and_role() {
    let path = sample();
    let out = dmslake(
        &["schema", path.to_str().expect("utf-8 path")],
        &[("DMSLAKE_TIMESTAMP_COLUMN", "DMS_TIMESTAMP")],
    );
    assert_eq!(stdout_json(&out), expected_sample_columns());
}

#[tokio::test]
async fn s3_object_is_read_through_the_configured_endpoint() {
    let creds =
        aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "dmslake-cli-tests");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .load()
        .await;
    let s3 = dmslake::clients::s3_client(&config);
    let bucket = format!(
        "cli-schema-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the local AWS emulator is not reachable at {} ({e:?}); start it with `scripts/moto.sh start`",
                endpoint()
            )
        });
    let key = "dms/public/dms_test_table/LOAD00000001.parquet";
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(std::fs::read(sample()).expect("sample").into())
        .send()
        .await
        .expect("put");
    let url = format!("s3://{bucket}/{key}");
    let ep = endpoint();
    // The emulator's endpoint and dummy credentials, as a user would export them.
    let env = [
        ("AWS_ENDPOINT_URL", ep.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("DMSLAKE_TIMESTAMP_COLUMN", "DMS_TIMESTAMP"),
    ];
    // The CLI is a separate process: blocking here is fine.
    let out = dmslake(&["schema", &url], &env);
    assert_eq!(stdout_json(&out), expected_sample_columns());

    let missing = format!("s3://{bucket}/dms/public/dms_test_table/LOAD00000002.parquet");
    let out = dmslake(&["schema", &missing], &env);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LOAD00000002.parquet"), "{stderr}");
    assert!(out.stdout.is_empty());

    // A bucket that does not exist: one short sentence naming the object and S3's answer,
    // not the SDK's debug dump of the request and response.
    let out = dmslake(&["schema", "s3://no-such-bucket-dmslake/x.parquet"], &env);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("s3://no-such-bucket-dmslake/x.parquet") && stderr.contains("NoSuchBucket"),
        "{stderr}"
    );
    for dump in ["SdkBody", "Response {", "headers", "Box<dyn"] {
        assert!(!stderr.contains(dump), "{dump} in {stderr}");
    }
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.len() < 300, "{} bytes: {stderr}", stderr.len());
}

#[test]
fn bad_input_fails_with_a_message_on_stderr_and_no_output() {
    let csv = sample()
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .expect("samples root")
        .join("northwind-postgres/cdc/public/order_details/LOAD00000001.csv");
    let csv = csv.to_str().expect("utf-8 path").to_string();
    let cases: &[(&str, &str)] = &[
        ("/nonexistent/dir/file.parquet", "file.parquet"),
        (&csv, "not a Parquet file"),
        ("s3://bucket-only", "expected s3://bucket/key"),
        ("s3://bucket/folder/", "expected s3://bucket/key"),
        ("https://example.com/x.parquet", "unsupported URL scheme"),
    ];
    for (arg, message) in cases {
        let out = dmslake(&["schema", arg], &[]);
        assert!(!out.status.success(), "{arg}");
        assert!(out.stdout.is_empty(), "{arg}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{arg}: {stderr}");
    }
    let out = dmslake(&["schema"], &[]);
    assert!(!out.status.success(), "missing argument");
}
