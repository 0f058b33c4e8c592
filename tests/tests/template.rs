//! template.yaml passes the offline validation (`scripts/validate-template.sh`: sam validate
//! --lint, cfn-lint, translation + cfn-lint of the CloudFormation result, IAM check), and the
//! validation notices the mistakes each step is there for.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn repo() -> PathBuf {
    dmslake_tests::repo_dir()
}

fn template_text() -> String {
    std::fs::read_to_string(repo().join("template.yaml")).expect("read template.yaml")
}

fn validate(template: &Path) -> Output {
    dmslake_tests::ensure_dev_env();
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
fn wildcard_glued_to_a_bucket_name_fails_the_iam_check() {
    // `${LakeBucket.Arn}*` would also grant every bucket whose name starts the same.
    let path = mutated(
        "glued-wildcard",
        "                Resource: !Sub \"${LakeBucket.Arn}/dmslake-state/*\"\n",
        "                Resource: !Sub \"${LakeBucket.Arn}*\"\n",
    );
    assert_rejected(&path, "wildcard inside a name in '${LakeBucket.Arn}*'");
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
    dmslake_tests::ensure_dev_env();
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

// ---- the translated template wires what the functions expect ----

/// template.yaml translated to plain CloudFormation (Globals merged into each function).
fn translated() -> &'static Value {
    dmslake_tests::translated_template()
}

fn resource(logical_id: &str) -> &'static Value {
    let r = &translated()["Resources"][logical_id];
    assert!(
        r.is_object(),
        "no resource {logical_id} in the translated template"
    );
    r
}

fn props(logical_id: &str) -> &'static Value {
    &resource(logical_id)["Properties"]
}

const FUNCTIONS: [&str; 3] = [
    "PartitionRegistrarFunction",
    "DmsTaskWatcherFunction",
    "CompactorFunction",
];

const COMMON_ENV: [&str; 12] = [
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
];

#[test]
fn every_function_is_arm64_al2023_with_json_logs_and_the_common_environment() {
    for f in FUNCTIONS {
        let p = props(f);
        assert_eq!(p["Runtime"], json!("provided.al2023"), "{f}");
        assert_eq!(p["Architectures"], json!(["arm64"]), "{f}");
        assert_eq!(p["Handler"], json!("bootstrap"), "{f}");
        assert_eq!(p["LoggingConfig"]["LogFormat"], json!("JSON"), "{f}");
        let vars = p["Environment"]["Variables"]
            .as_object()
            .unwrap_or_else(|| panic!("{f} has no environment"));
        for var in COMMON_ENV {
            assert!(vars.contains_key(var), "{f} lacks {var}");
        }
        assert_eq!(vars["DMSLAKE_STATE_PREFIX"], json!("dmslake-state/"));
    }
}

#[test]
fn each_function_gets_its_own_settings() {
    let env = |f: &str| props(f)["Environment"]["Variables"].clone();
    let registrar = env("PartitionRegistrarFunction");
    assert!(registrar.get("DMSLAKE_CSV_COLUMNS_URI").is_some());
    let compactor = env("CompactorFunction");
    for var in [
        "DMSLAKE_ATHENA_WORKGROUP",
        "DMSLAKE_CURATED_LOCATION",
        "DMSLAKE_PRIMARY_KEYS",
        "DMSLAKE_DATA_BUCKET",
    ] {
        assert!(compactor.get(var).is_some(), "compactor lacks {var}");
    }
    let watcher = env("DmsTaskWatcherFunction");
    for var in [
        "DMSLAKE_WATCHED_TASKS",
        "DMSLAKE_ALERT_TOPIC_ARN",
        "DMSLAKE_AUTO_RESUME",
        "DMSLAKE_RESTART_LIMIT",
        "DMSLAKE_RESTART_WINDOW_MINUTES",
        "DMSLAKE_STALE_AFTER_MINUTES",
        "DMSLAKE_EVENT_BUS",
        "DMSLAKE_DATA_BUCKET",
    ] {
        assert!(watcher.get(var).is_some(), "watcher lacks {var}");
    }
    assert_eq!(
        props("CompactorFunction")["ReservedConcurrentExecutions"],
        json!(1),
        "merges must not run concurrently"
    );
}

#[test]
fn registrar_reads_the_queue_with_partial_batch_responses_and_a_dead_letter_queue() {
    let mapping = props("PartitionRegistrarFunctionDmsObjects");
    assert_eq!(
        mapping["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        mapping["EventSourceArn"],
        json!({"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]})
    );
    let queue = props("ObjectEventsQueue");
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["ObjectEventsDeadLetterQueue", "Arn"]})
    );
    let timeout = props("PartitionRegistrarFunction")["Timeout"]
        .as_i64()
        .expect("registrar timeout");
    let visibility = queue["VisibilityTimeout"].as_i64().expect("visibility");
    assert!(
        visibility >= 6 * timeout,
        "visibility timeout {visibility} < 6 x function timeout {timeout}"
    );
}

#[test]
fn stack_bucket_notifies_the_queue_under_the_bucket_folder_without_a_cycle() {
    let bucket = resource("DataBucket");
    let queue_cfg = &bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0];
    assert_eq!(
        queue_cfg["Queue"],
        json!({"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]})
    );
    let filter = serde_json::to_string(&queue_cfg["Filter"]).expect("filter");
    assert!(filter.contains("${BucketFolder}/"), "{filter}");
    assert_eq!(bucket["DependsOn"], json!("ObjectEventsQueuePolicy"));
    // The queue policy names the bucket by its name, never by GetAtt (that would be a cycle).
    let policy = serde_json::to_string(props("ObjectEventsQueuePolicy")).expect("policy");
    assert!(
        policy.contains("arn:${AWS::Partition}:s3:::${DataBucketName}"),
        "{policy}"
    );
    assert!(!policy.contains("DataBucket\""), "{policy}");
}

#[test]
fn watcher_hears_every_dms_state_change_and_polls_health() {
    let pattern = &props("DmsTaskWatcherFunctionDmsStateChanges")["EventPattern"];
    assert_eq!(pattern["source"], json!(["aws.dms"]));
    let types = pattern["detail-type"].as_array().expect("detail-type list");
    for t in [
        "DMS Replication Task State Change",
        "DMS Replication State Change",
    ] {
        assert!(types.contains(&json!(t)), "watcher rule misses {t}");
    }
    let health = &props("DmsTaskWatcherFunctionHealthCheck")["Targets"][0]["Input"];
    assert_eq!(health, &json!(r#"{"action":"health_check"}"#));
}

#[test]
fn compactor_runs_on_merge_and_maintain_schedules_and_on_compaction_requests() {
    let input = |id: &str| props(id)["Targets"][0]["Input"].clone();
    assert_eq!(
        input("CompactorFunctionMerge"),
        json!(r#"{"action":"merge"}"#)
    );
    assert_eq!(
        input("CompactorFunctionMaintain"),
        json!(r#"{"action":"maintain"}"#)
    );
    let pattern = &props("CompactorFunctionCompactionRequested")["EventPattern"];
    assert_eq!(pattern["source"], json!(["dmslake"]));
    assert_eq!(pattern["detail-type"], json!(["Compaction Requested"]));
}

/// The task's table mapping as DMS receives it: the `Fn::Sub` text with the parameters'
/// defaults substituted, parsed as JSON.
fn default_table_mappings() -> Value {
    let text = props("ReplicationTask")["TableMappings"]["Fn::Sub"]
        .as_str()
        .expect("TableMappings is one Fn::Sub text");
    let default = |name: &str| {
        translated()["Parameters"][name]["Default"]
            .as_str()
            .unwrap_or_else(|| panic!("parameter {name} has a text default"))
            .to_string()
    };
    let text = text
        .replace("${TableSelectionRules}", &default("TableSelectionRules"))
        .replace(
            "${ChangeSequenceColumnName}",
            &default("ChangeSequenceColumnName"),
        );
    assert!(!text.contains("${"), "an unsubstituted variable: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("mapping is not JSON ({e}): {text}"))
}

#[test]
fn the_task_writes_time_columns_as_text_which_athena_can_read() {
    let mappings = default_table_mappings();
    let rules = mappings["rules"].as_array().expect("rules");
    let rule = rules
        .iter()
        .find(|r| r["rule-action"] == json!("change-data-type"))
        .expect("a change-data-type rule");
    assert_eq!(rule["rule-target"], json!("column"));
    assert_eq!(
        rule["object-locator"],
        json!({"schema-name": "%", "table-name": "%", "column-name": "%", "data-type": "time"})
    );
    assert_eq!(rule["data-type"]["type"], json!("string"));
    // "HH:MM:SS.ffffff": PostgreSQL keeps a time to the microsecond.
    assert!(rule["data-type"]["length"].as_u64() >= Some(15), "{rule}");
    let mut ids: Vec<&str> = rules.iter().filter_map(|r| r["rule-id"].as_str()).collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "rule ids must be unique: {rules:?}");
    assert!(rules
        .iter()
        .any(|r| r["rule-type"] == json!("selection") && r["rule-action"] == json!("include")));
}

#[test]
fn dms_target_endpoint_writes_what_the_functions_read() {
    let s3 = &props("TargetEndpoint")["S3Settings"];
    assert_eq!(s3["DataFormat"], json!("parquet"));
    assert_eq!(s3["IncludeOpForFullLoad"], json!(true));
    assert_eq!(
        s3["TimestampColumnName"],
        json!({"Ref": "TimestampColumnName"})
    );
    assert_eq!(
        s3["DatePartitionEnabled"],
        json!({"Ref": "DatePartitionEnabled"})
    );
    let mappings =
        serde_json::to_string(&props("ReplicationTask")["TableMappings"]).expect("mappings");
    assert!(mappings.contains("$AR_H_CHANGE_SEQ"), "{mappings}");
    assert!(
        mappings.contains("${ChangeSequenceColumnName}"),
        "{mappings}"
    );
    assert_eq!(
        props("ReplicationTask")["MigrationType"],
        json!({"Ref": "MigrationType"})
    );
    let migration = &translated()["Parameters"]["MigrationType"];
    assert_eq!(migration["Default"], json!("full-load-and-cdc"));
    assert_eq!(
        migration["AllowedValues"],
        json!(["full-load-and-cdc", "cdc"])
    );
    assert_eq!(props("SourceEndpoint")["SslMode"], json!("require"));
    for id in [
        "DataBucket",
        "TargetEndpoint",
        "SourceEndpoint",
        "ReplicationTask",
        "ReplicationInstance",
    ] {
        assert_eq!(
            resource(id)["Condition"],
            json!("CreateDms"),
            "{id} must exist only with DeployDms=true"
        );
    }
}

/// DeploySourceDatabase: RDS for PostgreSQL 17, private and encrypted, logical replication on,
/// master password kept by Secrets Manager and handed to the DMS source endpoint; the
/// replication instance pinned to a DMS version documented for a PostgreSQL 17 source.
#[test]
fn source_database_is_a_private_encrypted_postgresql_17_feeding_the_source_endpoint() {
    let db = props("SourceDatabase");
    assert_eq!(db["Engine"], json!("postgres"));
    assert_eq!(
        db["EngineVersion"],
        json!({"Ref": "SourceDatabaseEngineVersion"})
    );
    assert_eq!(
        translated()["Parameters"]["SourceDatabaseEngineVersion"]["Default"],
        json!("17")
    );
    assert_eq!(db["PubliclyAccessible"], json!(false));
    assert_eq!(db["StorageEncrypted"], json!(true));
    assert_eq!(db["ManageMasterUserPassword"], json!(true));
    assert!(
        db.get("MasterUserPassword").is_none(),
        "no password in the template"
    );
    assert_eq!(
        db["DBParameterGroupName"],
        json!({"Ref": "SourceDatabaseParameterGroup"})
    );
    let group = props("SourceDatabaseParameterGroup");
    assert_eq!(group["Family"], json!("postgres17"));
    assert_eq!(group["Parameters"]["rds.logical_replication"], json!("1"));
    let endpoint = serde_json::to_string(props("SourceEndpoint")).expect("endpoint");
    for wired in [
        r#"["SourceDatabase","Endpoint.Address"]"#,
        "SourceDatabase.MasterUserSecret.SecretArn}:SecretString:password",
        "SecretsManagerSecretId",
    ] {
        assert!(endpoint.contains(wired), "{wired} not in {endpoint}");
    }
    for id in [
        "SourceDatabase",
        "SourceDatabaseParameterGroup",
        "SourceDatabaseSubnetGroup",
    ] {
        assert_eq!(
            resource(id)["Condition"],
            json!("CreateSourceDatabase"),
            "{id} must exist only with DeploySourceDatabase=true"
        );
    }
    assert_eq!(
        translated()["Parameters"]["DeploySourceDatabase"]["Default"],
        json!("false")
    );
    assert_eq!(
        props("ReplicationInstance")["EngineVersion"],
        json!("3.6.1")
    );
    assert_eq!(
        props("ReplicationInstance")["AutoMinorVersionUpgrade"],
        json!(false)
    );
}

#[test]
fn every_alarm_notifies_the_alert_topic() {
    let resources = translated()["Resources"].as_object().expect("resources");
    let alarms: Vec<_> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == json!("AWS::CloudWatch::Alarm"))
        .collect();
    assert!(
        alarms.len() >= 6,
        "expected DLQ, 3 function, task and lag alarms"
    );
    for (id, alarm) in alarms {
        assert_eq!(
            alarm["Properties"]["AlarmActions"],
            json!([{"Ref": "AlertTopic"}]),
            "{id}"
        );
    }
}

#[test]
fn dashboard_body_is_json_with_the_five_panels() {
    let body = props("Dashboard")["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("dashboard body is a Sub string");
    // Stand in for CloudFormation's substitution: every ${...} becomes a number, which is
    // valid wherever the template puts one (inside strings or as the threshold).
    let mut substituted = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        substituted.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        substituted.push('1');
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    let dashboard: Value = serde_json::from_str(&substituted).expect("dashboard body is JSON");
    let titles: Vec<String> = dashboard["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .map(|w| {
            w["properties"]["title"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
        })
        .collect();
    for wanted in [
        "registrations",
        "merge lag",
        "errors",
        "dead-letter",
        "task state",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "no dashboard panel for {wanted}: {titles:?}"
        );
    }
}

#[test]
fn alert_topic_is_encrypted_with_a_stack_key_that_cloudwatch_alarms_and_the_watcher_may_use() {
    assert_eq!(
        props("AlertTopic")["KmsMasterKeyId"],
        json!({"Ref": "AlertTopicKey"})
    );
    let key = props("AlertTopicKey");
    assert_eq!(key["EnableKeyRotation"], json!(true));
    let statements = key["KeyPolicy"]["Statement"]
        .as_array()
        .expect("key policy statements");
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"] == json!("cloudwatch.amazonaws.com"))
        .expect("CloudWatch alarms may use the key");
    for action in ["kms:Decrypt", "kms:GenerateDataKey"] {
        assert!(
            cloudwatch["Action"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(action))),
            "{cloudwatch}"
        );
    }
    let watcher = props("WatcherRole")["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("watcher statements");
    assert!(
        watcher.iter().any(
            |s| s["Resource"] == json!({"Fn::GetAtt": ["AlertTopicKey", "Arn"]})
                && s["Action"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!("kms:GenerateDataKey")))
        ),
        "the watcher may encrypt its alerts: {watcher:?}"
    );
}

#[test]
fn a_wildcard_action_in_the_alert_key_policy_fails_the_iam_check() {
    let path = mutated(
        "kms-wildcard",
        "              - kms:DescribeKey\n",
        "              - kms:*\n",
    );
    assert_rejected(&path, "'kms:*' is not one specific action");
}

/// The Deny-over-plain-HTTP statement of a bucket policy, on the bucket and its objects.
fn assert_tls_only(policy_id: &str, bucket_id: &str) {
    let p = props(policy_id);
    assert_eq!(p["Bucket"], json!({"Ref": bucket_id}), "{policy_id}");
    let statements = p["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    let deny = statements
        .iter()
        .find(|s| s["Effect"] == json!("Deny"))
        .unwrap_or_else(|| panic!("{policy_id} has no Deny"));
    assert_eq!(deny["Principal"], json!("*"));
    assert_eq!(deny["Action"], json!("s3:*"));
    assert_eq!(
        deny["Condition"],
        json!({"Bool": {"aws:SecureTransport": "false"}})
    );
    let resources = deny["Resource"].as_array().expect("resources");
    assert!(resources.contains(&json!({"Fn::GetAtt": [bucket_id, "Arn"]})));
    assert!(resources.contains(&json!({"Fn::Sub": format!("${{{bucket_id}.Arn}}/*")})));
}

#[test]
fn both_buckets_refuse_requests_not_made_over_tls() {
    assert_tls_only("LakeBucketPolicy", "LakeBucket");
    assert_tls_only("DataBucketPolicy", "DataBucket");
    assert_eq!(
        resource("DataBucketPolicy")["Condition"],
        json!("CreateDms")
    );
}

#[test]
fn lake_bucket_holding_the_state_documents_is_versioned_and_expires_old_versions() {
    let lake = props("LakeBucket");
    assert_eq!(lake["VersioningConfiguration"]["Status"], json!("Enabled"));
    let rules = lake["LifecycleConfiguration"]["Rules"]
        .as_array()
        .expect("lifecycle rules");
    assert!(
        rules
            .iter()
            .any(|r| r["NoncurrentVersionExpiration"]["NoncurrentDays"].is_number()),
        "{rules:?}"
    );
}

#[test]
fn the_watcher_and_the_compactor_are_traced_with_the_permissions_it_needs() {
    for (function, role) in [
        ("DmsTaskWatcherFunction", "WatcherRole"),
        ("CompactorFunction", "CompactorRole"),
    ] {
        assert_eq!(
            props(function)["TracingConfig"]["Mode"],
            json!("Active"),
            "{function}"
        );
        let statements = props(role)["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        assert!(
            statements.iter().any(|s| s["Action"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("xray:PutTraceSegments")))),
            "{role} cannot send traces"
        );
    }
}

#[test]
fn every_document_an_output_points_to_exists_with_the_section_it_names() {
    let outputs = translated()["Outputs"].as_object().expect("outputs");
    let mut checked = 0;
    for (id, output) in outputs {
        let Some(description) = output["Description"].as_str() else {
            continue;
        };
        for word in description.split(|c: char| c.is_whitespace() || "()\"',".contains(c)) {
            let word = word.trim_end_matches(['.', ':', ';']);
            if !word.ends_with(".md") {
                continue;
            }
            checked += 1;
            let path = repo().join(word);
            let doc = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("output {id} points to {word}: {e}"));
            // A quoted section name after the file must be a heading of it.
            if let Some(section) = description.split('"').nth(1) {
                assert!(
                    doc.lines()
                        .any(|l| l.starts_with('#') && l.contains(section)),
                    "output {id}: {word} has no section {section:?}"
                );
            }
        }
    }
    assert!(checked > 0, "no output points to a document");
}
