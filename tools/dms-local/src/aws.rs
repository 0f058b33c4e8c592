//! What the cloud does around DMS: the S3 object, the S3 event notification, the DMS
//! EventBridge events and the replication task's state. Message bodies are built by pure
//! functions; the adapters take the concrete SDK clients.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::format::notification_key;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("s3://{bucket}/{key}: put failed: {message}")]
    Put {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("SQS {queue}: send failed: {message}")]
    Sqs { queue: String, message: String },
    #[error("EventBridge bus {bus}: put events failed: {message}")]
    Events { bus: String, message: String },
    #[error("DMS task {task}: {message}")]
    Task { task: String, message: String },
}

/// An S3 `ObjectCreated:Put` notification as S3 sends it to SQS (event version 2.1), for one
/// object; the key URL-encoded as S3 does.
pub fn s3_notification(
    bucket: &str,
    key: &str,
    size: usize,
    etag: &str,
    at: DateTime<Utc>,
    region: &str,
) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:DMS-LOCAL"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "DMSLOCAL", "x-amz-id-2": "DMSLOCAL"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "dms-local",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "DMSLOCAL"},
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": {
                "key": notification_key(key),
                "size": size,
                "eTag": etag.trim_matches('"'),
                "sequencer": format!("{:016X}", at.timestamp_micros()),
            }
        }
    }]})
}

/// A DMS task state change the functions react to (CHAP_EventBridge.md, CHAP_Events.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEvent {
    /// DMS-EVENT-0069.
    Started,
    /// DMS-EVENT-0079.
    Stopped,
}

impl TaskEvent {
    /// The `detail` of the `DMS Replication Task State Change` event.
    pub fn detail(self, region: &str, task_id: &str) -> Value {
        let (event_type, id, message) = match self {
            TaskEvent::Started => (
                "REPLICATION_TASK_STARTED",
                "DMS-EVENT-0069",
                "Replication task started, with flag = fresh start",
            ),
            TaskEvent::Stopped => (
                "REPLICATION_TASK_STOPPED",
                "DMS-EVENT-0079",
                "Replication task stopped",
            ),
        };
        json!({
            "type": "REPLICATION_TASK",
            "category": "StateChange",
            "eventType": event_type,
            "eventId": id,
            "resourceLink": format!("https://console.aws.amazon.com/dms/v2/home?region={region}#taskDetails/{task_id}"),
            "detailMessage": message,
        })
    }
}

pub const DMS_SOURCE: &str = "aws.dms";
pub const TASK_DETAIL_TYPE: &str = "DMS Replication Task State Change";

/// The whole event as EventBridge hands it to a rule's target (a Lambda function's payload):
/// envelope fields of an AWS service event around `detail` (CHAP_EventBridge.md shows one).
pub fn task_event_envelope(
    task_arn: &str,
    detail: &Value,
    time: chrono::DateTime<chrono::Utc>,
) -> Value {
    // arn:aws:dms:REGION:ACCOUNT:task:ID
    let mut parts = task_arn.split(':').skip(3);
    let region = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or_default();
    let nanos = time.timestamp_nanos_opt().unwrap_or_default() as u64;
    json!({
        "version": "0",
        "id": format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            nanos >> 32 & 0xffff_ffff,
            nanos >> 16 & 0xffff,
            nanos & 0xfff,
            nanos >> 12 & 0xfff,
            nanos & 0xffff_ffff_ffff
        ),
        "detail-type": TASK_DETAIL_TYPE,
        "source": DMS_SOURCE,
        "account": account,
        "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": region,
        "resources": [task_arn],
        "detail": detail,
    })
}

/// Writes one file; returns its ETag.
pub async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<String, AwsError> {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .map_err(|e| AwsError::Put {
            bucket: bucket.into(),
            key: key.into(),
            message: format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)),
        })?;
    Ok(out.e_tag().unwrap_or_default().to_string())
}

pub async fn send_notification(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    body: &Value,
) -> Result<(), AwsError> {
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body.to_string())
        .send()
        .await
        .map_err(|e| AwsError::Sqs {
            queue: queue_url.into(),
            message: format!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)),
        })?;
    Ok(())
}

pub async fn put_task_event(
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    task_arn: &str,
    detail: &Value,
) -> Result<(), AwsError> {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(DMS_SOURCE)
        .detail_type(TASK_DETAIL_TYPE)
        .resources(task_arn)
        .detail(detail.to_string())
        .build();
    let out = events
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| AwsError::Events {
            bus: bus.into(),
            message: format!("{}", aws_sdk_eventbridge::error::DisplayErrorContext(e)),
        })?;
    if out.failed_entry_count() > 0 {
        return Err(AwsError::Events {
            bus: bus.into(),
            message: format!("{:?}", out.entries()),
        });
    }
    Ok(())
}

/// Creates a replication task in the emulator for this run (moto accepts any endpoint and
/// instance ARNs); returns its ARN.
pub async fn create_task(
    dms: &aws_sdk_databasemigration::Client,
    identifier: &str,
    table_mappings: &str,
    migration_type: crate::MigrationType,
) -> Result<String, AwsError> {
    use aws_sdk_databasemigration::types::MigrationTypeValue;
    let err = |message: String| AwsError::Task {
        task: identifier.into(),
        message,
    };
    let result = dms
        .create_replication_task()
        .replication_task_identifier(identifier)
        .source_endpoint_arn("arn:aws:dms:us-east-1:123456789012:endpoint:DMSLOCALSOURCE")
        .target_endpoint_arn("arn:aws:dms:us-east-1:123456789012:endpoint:DMSLOCALTARGET")
        .replication_instance_arn("arn:aws:dms:us-east-1:123456789012:rep:DMSLOCAL")
        .migration_type(match migration_type {
            crate::MigrationType::FullLoadAndCdc => MigrationTypeValue::FullLoadAndCdc,
            crate::MigrationType::Cdc => MigrationTypeValue::Cdc,
        })
        .table_mappings(table_mappings)
        .send()
        .await;
    match result {
        Ok(out) => out
            .replication_task()
            .and_then(|t| t.replication_task_arn())
            .map(str::to_string)
            .ok_or_else(|| err("create returned no ARN".into())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_fault()) =>
        {
            // An earlier run created it: reuse it (an expected outcome, not an error).
            find_task(dms, identifier).await
        }
        Err(e) => Err(err(format!(
            "{}",
            aws_sdk_databasemigration::error::DisplayErrorContext(e)
        ))),
    }
}

/// The ARN of the task with this identifier.
async fn find_task(
    dms: &aws_sdk_databasemigration::Client,
    identifier: &str,
) -> Result<String, AwsError> {
    let filter = aws_sdk_databasemigration::types::Filter::builder()
        .name("replication-task-id")
        .values(identifier)
        .build()
        .map_err(|e| AwsError::Task {
            task: identifier.into(),
            message: e.to_string(),
        })?;
    let out = dms
        .describe_replication_tasks()
        .filters(filter)
        .send()
        .await
        .map_err(|e| AwsError::Task {
            task: identifier.into(),
            message: format!(
                "describe: {}",
                aws_sdk_databasemigration::error::DisplayErrorContext(e)
            ),
        })?;
    out.replication_tasks()
        .first()
        .and_then(|t| t.replication_task_arn())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Task {
            task: identifier.into(),
            message: "exists but is not listed".into(),
        })
}

/// The outcome of a start/stop call on a task: an error names the task and the verb.
fn task_call<O, E, R>(
    task_arn: &str,
    verb: &str,
    result: Result<O, aws_sdk_databasemigration::error::SdkError<E, R>>,
) -> Result<(), AwsError>
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(AwsError::Task {
            task: task_arn.into(),
            message: format!(
                "{verb}: {}",
                aws_sdk_databasemigration::error::DisplayErrorContext(e)
            ),
        }),
    }
}

pub async fn start_task(
    dms: &aws_sdk_databasemigration::Client,
    task_arn: &str,
) -> Result<(), AwsError> {
    use aws_sdk_databasemigration::types::StartReplicationTaskTypeValue;
    let result = dms
        .start_replication_task()
        .replication_task_arn(task_arn)
        .start_replication_task_type(StartReplicationTaskTypeValue::StartReplication)
        .send()
        .await;
    task_call(task_arn, "start", result)
}

pub async fn stop_task(
    dms: &aws_sdk_databasemigration::Client,
    task_arn: &str,
) -> Result<(), AwsError> {
    let result = dms
        .stop_replication_task()
        .replication_task_arn(task_arn)
        .send()
        .await;
    task_call(task_arn, "stop", result)
}

/// The `table-mappings` JSON selecting the tables, adding the change-sequence column and, with
/// `time_as_text`, changing every `time` column to a string (the rules template.yaml gives the
/// stack's task), as a DMS task for this layout would be configured.
pub fn table_mappings(
    tables: &[(String, String)],
    change_sequence_column: &str,
    time_as_text: bool,
) -> Value {
    let mut rules = Vec::new();
    for (i, (schema, table)) in tables.iter().enumerate() {
        rules.push(json!({
            "rule-type": "selection", "rule-id": (i + 1).to_string(), "rule-name": format!("select-{}", i + 1),
            "object-locator": {"schema-name": schema, "table-name": table},
            "rule-action": "include"
        }));
    }
    rules.push(json!({
        "rule-type": "transformation", "rule-id": "1000", "rule-name": "change-sequence",
        "rule-target": "column", "rule-action": "add-column",
        "object-locator": {"schema-name": "%", "table-name": "%"},
        "value": change_sequence_column, "expression": "$AR_H_CHANGE_SEQ",
        "data-type": {"type": "string", "length": 50}
    }));
    if time_as_text {
        // CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Transformations.md:
        // a column-name of "%" with a `data-type` in the object locator selects by type.
        rules.push(json!({
            "rule-type": "transformation", "rule-id": "1001", "rule-name": "time-as-text",
            "rule-target": "column", "rule-action": "change-data-type",
            "object-locator": {"schema-name": "%", "table-name": "%", "column-name": "%", "data-type": "time"},
            "data-type": {"type": "string", "length": 15}
        }));
    }
    json!({ "rules": rules })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_has_the_s3_shape_with_an_encoded_key() {
        let at = DateTime::parse_from_rfc3339("2024-06-12T10:31:27.367Z")
            .expect("time")
            .with_timezone(&Utc);
        let n = s3_notification(
            "b",
            "cdc/public/my table/LOAD00000001.csv",
            12,
            "\"abc\"",
            at,
            "us-east-1",
        );
        let r = &n["Records"][0];
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["s3"]["bucket"]["name"], "b");
        assert_eq!(
            r["s3"]["object"]["key"],
            "cdc/public/my+table/LOAD00000001.csv"
        );
        assert_eq!(r["s3"]["object"]["size"], 12);
        assert_eq!(r["s3"]["object"]["eTag"], "abc");
        assert_eq!(r["eventTime"], "2024-06-12T10:31:27.367Z");
    }

    #[test]
    fn task_event_details_match_the_documented_events() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/dms/events/awsdocs_dms_eventbridge_replication_task_started.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("fixture {path}: {e}"));
        let sample: Value = serde_json::from_str(&text).expect("json");
        let ours = TaskEvent::Started.detail("us-east-1", "taskName");
        assert_eq!(ours, sample["detail"]);
        let arn = sample["resources"][0].as_str().expect("task ARN");
        let time = chrono::DateTime::parse_from_rfc3339(sample["time"].as_str().expect("time"))
            .expect("time")
            .with_timezone(&chrono::Utc);
        let envelope = task_event_envelope(arn, &ours, time);
        for field in [
            "version",
            "detail-type",
            "source",
            "time",
            "region",
            "resources",
        ] {
            assert_eq!(envelope[field], sample[field], "{field}");
        }
        // The documented sample's `account` has 13 digits, its ARN's 12: ours is the ARN's.
        assert_eq!(envelope["account"], "012345678901");
        let stopped = TaskEvent::Stopped.detail("us-east-1", "t");
        assert_eq!(stopped["eventId"], "DMS-EVENT-0079");
        assert_eq!(stopped["eventType"], "REPLICATION_TASK_STOPPED");
    }
}
