//! The four payload shapes the registrar accepts, told apart by their content:
//!
//! - an S3 event notification delivered directly (`Records[].eventSource == "aws:s3"`);
//! - the same notification inside SQS messages (`Records[].eventSource == "aws:sqs"`, the
//!   notification JSON in `body`; S3's `s3:TestEvent` message is acknowledged and skipped);
//! - an EventBridge `Object Created` event from S3 (`source == "aws.s3"`);
//! - a manual backfill request `{"action": "backfill", "bucket": ..., "prefix": ...}`.
//!
//! Object keys in S3 notifications are URL-encoded ("Event message structure", Amazon S3
//! user guide); every key is decoded with [`dmslake::layout::decode_event_key`].

use aws_lambda_events::event::sqs::SqsEvent;
use dmslake::layout::decode_event_key;
use serde_json::Value;

/// One object an event says was created (key decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
}

/// One SQS message: its objects, or why it cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqsItem {
    pub message_id: String,
    pub objects: Result<Vec<ObjectRef>, EventError>,
}

/// A manual backfill request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct BackfillRequest {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    /// Resume after this key (the `resume_after` of a previous run).
    #[serde(default)]
    pub start_after: Option<String>,
}

/// What one invocation asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// S3 notification records delivered directly (non-`ObjectCreated` records dropped with a log).
    Direct(Vec<ObjectRef>),
    Sqs(Vec<SqsItem>),
    EventBridge(ObjectRef),
    Backfill(BackfillRequest),
}

/// A payload (or SQS message) the registrar cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed event: {0}")]
pub struct EventError(pub String);

fn malformed(msg: impl Into<String>) -> EventError {
    EventError(msg.into())
}

/// Tells the payload shape apart and extracts the objects.
pub fn parse(payload: &Value) -> Result<Invocation, EventError> {
    if payload.get("action").is_some() {
        return parse_backfill(payload);
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let source = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            .unwrap_or("aws:s3");
        return match source {
            "aws:sqs" => parse_sqs(payload),
            "aws:s3" => s3_records(payload).map(Invocation::Direct),
            other => Err(malformed(format!(
                "Records from {other:?}; expected aws:s3 or aws:sqs"
            ))),
        };
    }
    if payload.get("source").and_then(Value::as_str) == Some("aws.s3") {
        return parse_eventbridge(payload).map(Invocation::EventBridge);
    }
    Err(malformed(
        "neither an S3 notification, an SQS batch, an EventBridge S3 event nor a backfill request",
    ))
}

fn parse_backfill(payload: &Value) -> Result<Invocation, EventError> {
    match payload.get("action").and_then(Value::as_str) {
        Some("backfill") => {}
        other => {
            return Err(malformed(format!(
                "unknown action {other:?}; the registrar accepts \"backfill\""
            )))
        }
    }
    let req: BackfillRequest = serde_json::from_value(payload.clone())
        .map_err(|e| malformed(format!("backfill request: {e}")))?;
    if req.bucket.is_empty() {
        return Err(malformed("backfill request: empty bucket"));
    }
    Ok(Invocation::Backfill(req))
}

/// Objects of an S3 notification document (`{"Records": [...]}`). Read field by field rather
/// than through `aws_lambda_events::s3::S3Event`, which rejects records lacking
/// `userIdentity`/`requestParameters` (emulators omit them); only the fields used are required.
fn s3_records(doc: &Value) -> Result<Vec<ObjectRef>, EventError> {
    let records = doc
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("S3 notification without Records"))?;
    let mut out = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !name.starts_with("ObjectCreated:") && !name.starts_with("s3:ObjectCreated:") {
            tracing::info!(event_name = %name, "skipping S3 record that is not ObjectCreated");
            continue;
        }
        let bucket = record
            .pointer("/s3/bucket/name")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| malformed(format!("S3 record {i} without s3.bucket.name")))?;
        let raw = record
            .pointer("/s3/object/key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| malformed(format!("S3 record {i} without s3.object.key")))?;
        let key = decode_event_key(raw).map_err(|e| malformed(e.to_string()))?;
        out.push(ObjectRef {
            bucket: bucket.to_string(),
            key,
        });
    }
    Ok(out)
}

fn parse_sqs(payload: &Value) -> Result<Invocation, EventError> {
    let event: SqsEvent = serde_json::from_value(payload.clone())
        .map_err(|e| malformed(format!("SQS batch: {e}")))?;
    let mut items = Vec::with_capacity(event.records.len());
    for (i, msg) in event.records.into_iter().enumerate() {
        let Some(message_id) = msg.message_id.filter(|m| !m.is_empty()) else {
            // Without an id the message cannot be reported individually: the whole batch fails.
            return Err(malformed(format!("SQS record {i} has no messageId")));
        };
        let objects = sqs_body(msg.body.as_deref().unwrap_or(""));
        items.push(SqsItem {
            message_id,
            objects,
        });
    }
    Ok(Invocation::Sqs(items))
}

/// Objects of one SQS message body (an S3 notification, or S3's test event).
fn sqs_body(body: &str) -> Result<Vec<ObjectRef>, EventError> {
    let doc: Value =
        serde_json::from_str(body).map_err(|e| malformed(format!("SQS body is not JSON: {e}")))?;
    if doc.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        tracing::info!("acknowledging S3 test event");
        return Ok(Vec::new());
    }
    if doc.get("Records").and_then(Value::as_array).is_none() {
        return Err(malformed("SQS body is not an S3 notification (no Records)"));
    }
    s3_records(&doc)
}

fn parse_eventbridge(payload: &Value) -> Result<ObjectRef, EventError> {
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    if detail_type != Some("Object Created") {
        return Err(malformed(format!(
            "EventBridge S3 event of type {detail_type:?}; expected \"Object Created\""
        )));
    }
    let detail = payload
        .get("detail")
        .ok_or_else(|| malformed("EventBridge event without detail"))?;
    let bucket = detail
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| malformed("EventBridge event without detail.bucket.name"))?;
    let raw = detail
        .pointer("/object/key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| malformed("EventBridge event without detail.object.key"))?;
    let key = decode_event_key(raw).map_err(|e| malformed(e.to_string()))?;
    Ok(ObjectRef {
        bucket: bucket.to_string(),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_doc(keys: &[&str]) -> Value {
        json!({"Records": keys.iter().map(|k| json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
            "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
              "bucket": {"name": "lake", "ownerIdentity": {"principalId": "X"}, "arn": "arn:aws:s3:::lake"},
              "object": {"key": k, "size": 10, "eTag": "e", "sequencer": "0"}}
        })).collect::<Vec<_>>()})
    }

    fn obj(key: &str) -> ObjectRef {
        ObjectRef {
            bucket: "lake".into(),
            key: key.into(),
        }
    }

    #[test]
    fn direct_s3_records_are_decoded() {
        let inv = parse(&s3_doc(&[
            "dms%2Fpublic%2Forders%2FLOAD00000001.csv",
            "dms/hr/my+table/LOAD00000001.csv",
        ]))
        .unwrap();
        assert_eq!(
            inv,
            Invocation::Direct(vec![
                obj("dms/public/orders/LOAD00000001.csv"),
                obj("dms/hr/my table/LOAD00000001.csv")
            ])
        );
    }

    #[test]
    fn sqs_messages_are_read_one_by_one_and_a_bad_one_is_isolated() {
        let good = s3_doc(&["dms/public/orders/LOAD00000001.csv"]).to_string();
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-24T10:00:00.000Z", "Bucket": "lake", "RequestId": "r", "HostId": "h"}).to_string();
        let payload = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": good},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": "not json"},
            {"messageId": "m3", "eventSource": "aws:sqs", "body": test_event},
            {"messageId": "m4", "eventSource": "aws:sqs", "body": "{\"hello\": 1}"},
        ]});
        let Invocation::Sqs(items) = parse(&payload).unwrap() else {
            panic!("not sqs")
        };
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[0].objects,
            Ok(vec![obj("dms/public/orders/LOAD00000001.csv")])
        );
        assert!(items[1].objects.is_err());
        assert_eq!(items[2].objects, Ok(vec![]));
        assert!(items[3].objects.is_err());
    }

    #[test]
    fn eventbridge_object_created_is_read_and_other_types_are_malformed() {
        let ev = json!({"version": "0", "id": "i", "detail-type": "Object Created", "source": "aws.s3",
            "account": "1", "time": "2026-11-24T10:00:00Z", "region": "us-east-1", "resources": ["arn:aws:s3:::lake"],
            "detail": {"version": "0", "bucket": {"name": "lake"}, "object": {"key": "dms/public/orders/LOAD00000001.parquet", "size": 5}}});
        assert_eq!(
            parse(&ev).unwrap(),
            Invocation::EventBridge(obj("dms/public/orders/LOAD00000001.parquet"))
        );
        let mut deleted = ev.clone();
        deleted["detail-type"] = json!("Object Deleted");
        assert!(parse(&deleted).is_err());
        let mut no_key = ev;
        no_key["detail"]["object"] = json!({});
        assert!(parse(&no_key).is_err());
    }

    #[test]
    fn backfill_requests_and_unknown_payloads() {
        let req = parse(&json!({"action": "backfill", "bucket": "lake", "prefix": "dms/", "start_after": "dms/a"})).unwrap();
        assert_eq!(
            req,
            Invocation::Backfill(BackfillRequest {
                bucket: "lake".into(),
                prefix: "dms/".into(),
                start_after: Some("dms/a".into())
            })
        );
        for bad in [
            json!({"action": "merge"}),
            json!({"action": "backfill"}),
            json!({"hello": "world"}),
            json!([1, 2]),
            json!({"Records": [{"eventSource": "aws:sns"}]}),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_created_s3_records_are_skipped() {
        let mut doc = s3_doc(&["dms/public/orders/LOAD00000001.csv"]);
        doc["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
        assert_eq!(parse(&doc).unwrap(), Invocation::Direct(vec![]));
    }

    #[test]
    fn every_sample_event_is_recognised() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("events dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            let ours = ["s3-", "sqs-", "eventbridge-s3-", "registrar-"]
                .iter()
                .any(|p| name.starts_with(p));
            if !ours || !name.ends_with(".json") {
                continue;
            }
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            let inv = parse(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = if name.starts_with("sqs-") {
                matches!(inv, Invocation::Sqs(_))
            } else if name.starts_with("eventbridge-") {
                matches!(inv, Invocation::EventBridge(_))
            } else if name.starts_with("registrar-") {
                matches!(inv, Invocation::Backfill(_))
            } else {
                matches!(inv, Invocation::Direct(ref v) if !v.is_empty())
            };
            assert!(want, "{name}: {inv:?}");
            seen += 1;
        }
        assert!(seen >= 4, "only {seen} sample events");
    }
}
