//! Harness shared by the integration tests: the local AWS emulator (moto in server mode)
//! reached through the real SDK over HTTP, unique resource names per test, and the paths of
//! the real DMS sample files.
//!
//! `make test` starts the emulator (`scripts/moto.sh start`); a test run without it fails
//! with a message saying so rather than skipping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use dmslake::clients::Clients;

/// Endpoint of the local emulator: `DMSLAKE_TEST_AWS_ENDPOINT`, else moto's port from
/// `MOTO_PORT` (default 5055) on 127.0.0.1.
pub fn endpoint() -> String {
    if let Ok(url) = std::env::var("DMSLAKE_TEST_AWS_ENDPOINT") {
        return url;
    }
    let port = std::env::var("MOTO_PORT").unwrap_or_else(|_| "5055".into());
    format!("http://127.0.0.1:{port}")
}

/// SDK configuration for the emulator: fixed region and dummy credentials, no retries of
/// our own beyond the SDK's standard ones.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_with_attempts(3).await
}

/// Like [`sdk_config`] but with a chosen number of attempts (1 for tests that expect the
/// emulator to answer 500 and must not wait for retries).
pub async fn sdk_config_with_attempts(max_attempts: u32) -> SdkConfig {
    let creds =
        aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "dmslake-tests");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(max_attempts))
        .load()
        .await
}

/// Every dmslake client pointed at the emulator; panics with a clear message when the
/// emulator is not running.
pub async fn clients() -> Clients {
    let config = sdk_config().await;
    let clients = Clients::with_config(&config);
    if let Err(err) = clients.s3.list_buckets().send().await {
        panic!(
            "the local AWS emulator is not reachable at {} ({err:?}); start it with `scripts/moto.sh start` \
             or run the tests through `make test`",
            endpoint()
        );
    }
    clients
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test process and call, valid as an S3 bucket, Glue database or
/// SNS/SQS name: lower case letters, digits and dashes (`sep` `_` for Glue).
pub fn unique_name(prefix: &str, sep: char) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{sep}{}{sep}{n}{sep}{:x}",
        std::process::id(),
        nanos
    )
}

/// A fresh bucket for one test.
pub async fn new_bucket(clients: &Clients, prefix: &str) -> String {
    let name = unique_name(prefix, '-');
    clients
        .s3
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
    name
}

/// Writes one object (panics naming the key if the emulator refuses it).
pub async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: impl Into<Vec<u8>>,
) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {e:?}"));
}

/// Glue columns (name, type) of the DMS Parquet sample with every PostgreSQL type,
/// `parquet-go-dms/dms/public/dms_test_table/LOAD00000001.parquet`, in file order.
pub const DMS_TEST_TABLE_PARQUET_COLUMNS: &[(&str, &str)] = &[
    ("dms_timestamp", "string"),
    ("id", "bigint"),
    ("my_int", "int"),
    ("my_smallint", "smallint"),
    ("my_numeric", "decimal(15,2)"),
    ("my_real", "float"),
    ("my_double", "double"),
    ("my_money", "decimal(38,4)"),
    ("my_varchar", "string"),
    ("my_text", "string"),
    ("my_bytea", "binary"),
    ("my_timestamp", "timestamp"),
    ("my_uuid", "string"),
    ("my_json", "string"),
    ("my_jsonb", "string"),
    ("my_bool", "boolean"),
];

/// Root of the real DMS output samples vendored in the repository (`tests/fixtures/dms`, see its
/// README), or `DMSLAKE_SAMPLES_DIR`. Panics, naming the folder, when it is missing: a test
/// whose fixture is absent fails rather than passing without its data.
pub fn samples_dir() -> PathBuf {
    let dir = match std::env::var("DMSLAKE_SAMPLES_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/dms"),
    };
    assert!(
        dir.is_dir(),
        "DMS sample folder {} is missing (tests/fixtures/dms in the repository)",
        dir.display()
    );
    dir
}

/// Root of the repository (for `events/` and scripts).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
pub mod athena;
pub mod lambda;
pub mod pipeline;

/// `bytes` compressed by the system's `gzip` (as DMS `CompressionType=GZIP` writes files).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let out = child.wait_with_output().expect("gzip output");
    assert!(out.status.success());
    out.stdout
}

/// Endpoint of the local Athena (tools/athena-local, on Trino): `DMSLAKE_TEST_ATHENA_ENDPOINT`,
/// else `ATHENA_LOCAL_PORT` (default 5056) on 127.0.0.1.
pub fn athena_local_endpoint() -> String {
    if let Ok(url) = std::env::var("DMSLAKE_TEST_ATHENA_ENDPOINT") {
        return url;
    }
    let port = std::env::var("ATHENA_LOCAL_PORT").unwrap_or_else(|_| "5056".into());
    format!("http://127.0.0.1:{port}")
}

/// An Athena client of the local Athena; panics with a clear message when it is not running.
pub async fn athena_local() -> aws_sdk_athena::Client {
    let config = sdk_config_with_attempts(1).await;
    let athena_config = aws_sdk_athena::config::Builder::from(&config)
        .endpoint_url(athena_local_endpoint())
        .build();
    let client = aws_sdk_athena::Client::from_conf(athena_config);
    if let Err(err) = client.list_work_groups().send().await {
        panic!(
            "the local Athena is not reachable at {} ({err:?}); start the stack with `make stack-up` \
             (scripts/trino.sh start, scripts/athena-local.sh start) or run the tests through `make test`",
            athena_local_endpoint()
        );
    }
    client
}

/// Runs `scripts/dev-env.sh` (the pinned Python tools in `.venv`) once per test binary.
pub fn ensure_dev_env() {
    static DEV_ENV: std::sync::Once = std::sync::Once::new();
    DEV_ENV.call_once(|| {
        let status = std::process::Command::new(repo_dir().join("scripts/dev-env.sh"))
            .status()
            .expect("run scripts/dev-env.sh");
        assert!(status.success(), "scripts/dev-env.sh failed");
    });
}

/// template.yaml translated to plain CloudFormation JSON (SAM's transform, Globals merged into
/// each function): the same translation `make validate` lints. Translated once per test binary.
pub fn translated_template() -> &'static serde_json::Value {
    static TRANSLATED: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    TRANSLATED.get_or_init(|| {
        ensure_dev_env();
        let dir = std::env::temp_dir().join(unique_name("dmslake-cfn", '-'));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let out = dir.join("translated.json");
        let output = std::process::Command::new(repo_dir().join(".venv/bin/python"))
            .arg(repo_dir().join("tests/py/sam_translate.py"))
            .arg(repo_dir().join("template.yaml"))
            .arg(&out)
            .output()
            .expect("run sam_translate.py");
        assert!(
            output.status.success(),
            "translation failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json = std::fs::read_to_string(&out).expect("read translated template");
        let _ = std::fs::remove_dir_all(&dir);
        serde_json::from_str(&json).expect("translated template is JSON")
    })
}
