//! template.yaml passes the offline validation (`scripts/validate-template.sh`: sam validate
//! --lint, cfn-lint, translation + cfn-lint of the CloudFormation result, IAM check), and the
//! validation notices the mistakes each step is there for.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

static DEV_ENV: Once = Once::new();

/// Makes sure `.venv` has the template tools (idempotent; a no-op when it is up to date).
fn ensure_dev_env() {
    DEV_ENV.call_once(|| {
        let status = Command::new(repo().join("scripts/dev-env.sh"))
            .status()
            .expect("run scripts/dev-env.sh");
        assert!(status.success(), "scripts/dev-env.sh failed");
    });
}

fn repo() -> PathBuf {
    dmslake_tests::repo_dir()
}

fn template_text() -> String {
    std::fs::read_to_string(repo().join("template.yaml")).expect("read template.yaml")
}

fn validate(template: &Path) -> Output {
    ensure_dev_env();
    Command::new(repo().join("scripts/validate-template.sh"))
        .arg(template)
        .output()
        .expect("run scripts/validate-template.sh")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes a copy of template.yaml with `from` replaced by `to` (which must occur) and returns
/// its path (in a fresh temporary directory).
fn mutated(name: &str, from: &str, to: &str) -> PathBuf {
    let original = template_text();
    assert!(
        original.contains(from),
        "template.yaml no longer contains {from:?}: update this test"
    );
    let dir = std::env::temp_dir().join(dmslake_tests::unique_name("dmslake-template", '-'));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, original.replacen(from, to, 1)).expect("write mutated template");
    path
}

fn assert_rejected(path: &Path, expected: &str) {
    let output = validate(path);
    let log = text(&output);
    assert!(
        !output.status.success(),
        "validation accepted {}:\n{log}",
        path.display()
    );
    assert!(
        log.contains(expected),
        "validation of {} failed without mentioning {expected:?}:\n{log}",
        path.display()
    );
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn template_yaml_passes_offline_validation_and_iam_check() {
    let output = validate(&repo().join("template.yaml"));
    let log = text(&output);
    assert!(output.status.success(), "template.yaml rejected:\n{log}");
    assert!(
        log.contains("check_iam: ok"),
        "IAM check did not run:\n{log}"
    );
}

#[test]
fn unknown_runtime_on_a_sam_function_is_rejected() {
    // Only the translated AWS::Lambda::Function is checked against Lambda's runtimes (E3030).
    let path = mutated(
        "runtime",
        "Runtime: provided.al2023",
        "Runtime: provided.al2099",
    );
    assert_rejected(&path, "provided.al2099");
}

#[test]
fn linting_the_sam_template_alone_misses_a_bad_runtime_timeout_and_architecture() {
    // Why validate-template.sh translates first: sam validate --lint and cfn-lint on the SAM
    // template accept all three mistakes.
    ensure_dev_env();
    let venv = repo().join(".venv/bin");
    for (name, from, to) in [
        (
            "runtime-lint",
            "Runtime: provided.al2023",
            "Runtime: provided.al2099",
        ),
        ("timeout-lint", "    Timeout: 60\n", "    Timeout: 1200\n"),
        (
            "arch-lint",
            "Architectures: [arm64]",
            "Architectures: [arm65]",
        ),
    ] {
        let path = mutated(name, from, to);
        let cfn_lint = Command::new(venv.join("cfn-lint"))
            .arg(&path)
            .output()
            .expect("run cfn-lint");
        assert!(
            cfn_lint.status.success(),
            "cfn-lint now catches {name}: {}",
            text(&cfn_lint)
        );
        let sam = Command::new(venv.join("sam"))
            .args(["validate", "--lint", "--template-file"])
            .arg(&path)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "offline")
            .env("AWS_SECRET_ACCESS_KEY", "offline")
            .env("SAM_CLI_TELEMETRY", "0")
            .output()
            .expect("run sam validate");
        assert!(
            sam.status.success(),
            "sam validate --lint now catches {name}: {}",
            text(&sam)
        );
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn timeout_above_lambda_maximum_is_rejected() {
    let path = mutated("timeout", "    Timeout: 60\n", "    Timeout: 1200\n");
    assert_rejected(&path, "1200 is greater than the maximum of 900");
}

#[test]
fn unknown_architecture_is_rejected() {
    let path = mutated("arch", "Architectures: [arm64]", "Architectures: [arm65]");
    assert_rejected(&path, "'arm65' is not one of");
}

#[test]
fn wildcard_glue_action_fails_the_iam_check() {
    let path = mutated(
        "glue-wildcard",
        "                  - glue:BatchUpdatePartition\n",
        "                  - glue:*\n",
    );
    assert_rejected(&path, "action 'glue:*' is not one specific action");
}

#[test]
fn star_resource_on_an_s3_action_fails_the_iam_check() {
    let path = mutated(
        "s3-star",
        "                Action: [s3:GetObject, s3:PutObject, s3:DeleteObject]\n                Resource: !Sub \"${LakeBucket.Arn}/dmslake-state/*\"\n",
        "                Action: [s3:GetObject, s3:PutObject, s3:DeleteObject]\n                Resource: \"*\"\n",
    );
    assert_rejected(
        &path,
        "Resource \"*\" for actions AWS lets you scope: s3:DeleteObject",
    );
}

#[test]
fn hard_coded_bucket_arn_fails_the_iam_check() {
    let path = mutated(
        "hard-coded",
        "                Resource: !Sub \"${LakeBucket.Arn}/dmslake-state/*\"\n",
        "                Resource: \"arn:aws:s3:::some-bucket/*\"\n",
    );
    assert_rejected(&path, "hard-coded resource 'arn:aws:s3:::some-bucket/*'");
}

#[test]
fn template_sets_the_environment_contract_for_every_function() {
    // Every variable of the environment contract (shared/src/config.rs and the functions'
    // own settings) is set by the template.
    let template = template_text();
    for var in [
        "DMSLAKE_BUCKET_FOLDER",
        "DMSLAKE_DATE_PARTITION_ENABLED",
        "DMSLAKE_DATE_PARTITION_SEQUENCE",
        "DMSLAKE_DATE_PARTITION_DELIMITER",
        "DMSLAKE_CDC_PATH",
        "DMSLAKE_RAW_DATABASE",
        "DMSLAKE_CURATED_DATABASE",
        "DMSLAKE_TIMESTAMP_COLUMN",
        "DMSLAKE_CHANGE_SEQUENCE_COLUMN",
        "DMSLAKE_BEFORE_IMAGE_PREFIX",
        "DMSLAKE_STATE_BUCKET",
        "DMSLAKE_STATE_PREFIX",
        "DMSLAKE_CSV_COLUMNS_URI",
        "DMSLAKE_ATHENA_WORKGROUP",
        "DMSLAKE_CURATED_LOCATION",
        "DMSLAKE_PRIMARY_KEYS",
        "DMSLAKE_DATA_BUCKET",
        "DMSLAKE_WATCHED_TASKS",
        "DMSLAKE_ALERT_TOPIC_ARN",
        "DMSLAKE_AUTO_RESUME",
        "DMSLAKE_RESTART_LIMIT",
        "DMSLAKE_RESTART_WINDOW_MINUTES",
        "DMSLAKE_STALE_AFTER_MINUTES",
        "DMSLAKE_EVENT_BUS",
    ] {
        assert!(
            template.contains(&format!("{var}:")),
            "template.yaml does not set {var}"
        );
    }
    for binary in ["partition-registrar", "dms-task-watcher", "compactor"] {
        assert!(
            template.contains(&format!("Binary: {binary}\n")),
            "template.yaml does not build the {binary} binary"
        );
    }
}
