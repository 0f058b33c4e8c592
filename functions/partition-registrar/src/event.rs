//! Decode: the four payload shapes the registrar accepts, told apart by their content and
//! read with `aws_lambda_events`' types:
//!
//! - an S3 event notification delivered directly ([`S3Event`], `Records[].eventSource ==
//!   "aws:s3"`);
//! - the same notification inside SQS messages ([`SqsEvent`], the notification JSON in
//!   `body`; S3's `s3:TestEvent` message is acknowledged and skipped), or the EventBridge
//!   event below when an EventBridge rule targets the queue;
//! - an EventBridge `Object Created` event from S3 ([`EventBridgeEvent`], `source ==
//!   "aws.s3"`; its `detail` has no type in the crate, so [`ObjectCreatedDetail`] reads it);
//! - a manual backfill request `{"action": "backfill", "bucket": ..., "prefix": ...}`.
//!
//! Object keys in S3 notifications are URL-encoded ("Event message structure", Amazon S3
//! user guide: event-notification-content-structure.md); every key is decoded with
//! [`dmslake::layout::decode_event_key`]. The crate's `url_decoded_key` is not filled in by
//! S3 or by emulators, so it is not used.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_lambda_events::event::sqs::SqsEvent;
use dmslake::layout::{decode_event_key, LayoutError};
use serde::Deserialize;
use serde_json::Value;

/// One object an event says was created (key decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
}

/// One SQS message: its objects, or why it cannot be read.
#[derive(Debug, PartialEq)]
pub struct SqsItem {
    pub message_id: String,
    pub objects: Result<Vec<ObjectRef>, EventError>,
}

/// A manual backfill request.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct BackfillRequest {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    /// Resume after this key (the `resume_after` of a previous run).
    #[serde(default)]
    pub start_after: Option<String>,
}

/// What one invocation asks for.
#[derive(Debug, PartialEq)]
pub enum Invocation {
    /// S3 notification records delivered directly (non-`ObjectCreated` records dropped with a log).
    Direct(Vec<ObjectRef>),
    Sqs(Vec<SqsItem>),
    EventBridge(ObjectRef),
    Backfill(BackfillRequest),
}

/// The `detail` of S3's EventBridge `Object Created` event (only the fields used).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct ObjectCreatedDetail {
    pub bucket: NamedBucket,
    pub object: KeyedObject,
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct NamedBucket {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct KeyedObject {
    pub key: String,
}

/// A payload (or SQS message) the registrar cannot read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("malformed event: {0}")]
    Shape(String),
    #[error("malformed event: {what} does not have the expected fields")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("malformed event: S3 record {index}: the object key cannot be decoded")]
    Key {
        index: usize,
        #[source]
        source: LayoutError,
    },
}

/// Two errors are equal when they say the same thing (for tests over decoded invocations).
impl PartialEq for EventError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

fn malformed(msg: impl Into<String>) -> EventError {
    EventError::Shape(msg.into())
}

fn typed<T: serde::de::DeserializeOwned>(what: &'static str, v: Value) -> Result<T, EventError> {
    serde_json::from_value(v).map_err(|source| EventError::Json { what, source })
}

/// Tells the payload shape apart and decodes it with its type.
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
            "aws:s3" => s3_records(payload.clone()).map(Invocation::Direct),
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
    let req: BackfillRequest = typed("backfill request", payload.clone())?;
    if req.bucket.is_empty() {
        return Err(malformed("backfill request: empty bucket"));
    }
    Ok(Invocation::Backfill(req))
}

/// S3 always sends `userIdentity` and `requestParameters`; emulators (moto) leave them out,
/// and [`S3EventRecord`] requires them. Neither is used: an absent one reads as empty.
fn fill_unused_fields(doc: &mut Value) {
    if let Some(records) = doc.get_mut("Records").and_then(Value::as_array_mut) {
        for record in records.iter_mut().filter_map(Value::as_object_mut) {
            for field in ["userIdentity", "requestParameters"] {
                record
                    .entry(field)
                    .or_insert_with(|| Value::Object(Default::default()));
            }
        }
    }
}

/// Objects of an S3 notification document (`{"Records": [...]}`).
fn s3_records(mut doc: Value) -> Result<Vec<ObjectRef>, EventError> {
    fill_unused_fields(&mut doc);
    let event: S3Event = typed("S3 notification", doc)?;
    let mut out = Vec::new();
    for (index, record) in event.records.into_iter().enumerate() {
        if let Some(object) = created_object(index, record)? {
            out.push(object);
        }
    }
    Ok(out)
}

/// The object of an `ObjectCreated:*` record; `None` (logged) for any other event.
fn created_object(index: usize, record: S3EventRecord) -> Result<Option<ObjectRef>, EventError> {
    let name = record.event_name.as_deref().unwrap_or("");
    if !name.starts_with("ObjectCreated:") && !name.starts_with("s3:ObjectCreated:") {
        tracing::info!(event_name = %name, "skipping S3 record that is not ObjectCreated");
        return Ok(None);
    }
    let bucket = record
        .s3
        .bucket
        .name
        .filter(|b| !b.is_empty())
        .ok_or_else(|| malformed(format!("S3 record {index} without s3.bucket.name")))?;
    let raw = record
        .s3
        .object
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| malformed(format!("S3 record {index} without s3.object.key")))?;
    let key = decode_event_key(&raw).map_err(|source| EventError::Key { index, source })?;
    Ok(Some(ObjectRef { bucket, key }))
}

fn parse_sqs(payload: &Value) -> Result<Invocation, EventError> {
    let event: SqsEvent = typed("SQS batch", payload.clone())?;
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

/// Objects of one SQS message body: an S3 notification, S3's test event, or an S3 event
/// that an EventBridge rule sent to the queue (the whole event is the body: "Amazon SQS as a
/// target", EventBridge user guide; S3 events on EventBridge: ev-events.md).
fn sqs_body(body: &str) -> Result<Vec<ObjectRef>, EventError> {
    let doc: Value = serde_json::from_str(body).map_err(|source| EventError::Json {
        what: "SQS body (not JSON)",
        source,
    })?;
    if doc.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        tracing::info!("acknowledging S3 test event");
        return Ok(Vec::new());
    }
    if doc.get("source").and_then(Value::as_str) == Some("aws.s3") {
        let detail_type = doc.get("detail-type").and_then(Value::as_str).unwrap_or("");
        if detail_type != "Object Created" {
            tracing::info!(detail_type = %detail_type, "skipping EventBridge S3 event that is not Object Created");
            return Ok(Vec::new());
        }
        return parse_eventbridge(&doc).map(|o| vec![o]);
    }
    if doc.get("Records").and_then(Value::as_array).is_none() {
        return Err(malformed("SQS body is not an S3 notification (no Records)"));
    }
    s3_records(doc)
}

fn parse_eventbridge(payload: &Value) -> Result<ObjectRef, EventError> {
    let detail_type = payload.get("detail-type").and_then(Value::as_str);
    if detail_type != Some("Object Created") {
        return Err(malformed(format!(
            "EventBridge S3 event of type {detail_type:?}; expected \"Object Created\""
        )));
    }
    let event: EventBridgeEvent<ObjectCreatedDetail> =
        typed("EventBridge Object Created event", payload.clone())?;
    let ObjectCreatedDetail { bucket, object } = event.detail;
    if bucket.name.is_empty() {
        return Err(malformed("EventBridge event without detail.bucket.name"));
    }
    if object.key.is_empty() {
        return Err(malformed("EventBridge event without detail.object.key"));
    }
    let key =
        decode_event_key(&object.key).map_err(|source| EventError::Key { index: 0, source })?;
    Ok(ObjectRef {
        bucket: bucket.name,
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
    fn eventbridge_s3_events_delivered_through_sqs_are_read() {
        let event = json!({"version": "0", "id": "i", "detail-type": "Object Created", "source": "aws.s3",
            "account": "1", "time": "2026-11-24T10:00:00Z", "region": "us-east-1", "resources": ["arn:aws:s3:::lake"],
            "detail": {"version": "0", "bucket": {"name": "lake"}, "object": {"key": "dms/public/orders/LOAD00000001.parquet", "size": 5}}});
        let mut deleted = event.clone();
        deleted["detail-type"] = json!("Object Deleted");
        let payload = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": event.to_string()},
            {"messageId": "m2", "eventSource": "aws:sqs", "body": deleted.to_string()},
        ]});
        let Invocation::Sqs(items) = parse(&payload).unwrap() else {
            panic!("not sqs")
        };
        assert_eq!(
            items[0].objects,
            Ok(vec![obj("dms/public/orders/LOAD00000001.parquet")])
        );
        assert_eq!(items[1].objects, Ok(vec![]), "other types are acknowledged");
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
    fn moto_notifications_decode_without_the_fields_it_leaves_out() {
        // moto sends no userIdentity / requestParameters and encodes '/' as %2F.
        let body = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "awsRegion": "us-east-1", "eventTime": "2026-11-24T10:00:00.000Z",
            "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0",
            "configurationId": "c", "bucket": {"name": "lake", "arn": "arn:aws:s3:::lake"},
            "object": {"key": "dms%2Fpublic%2Forders%2FLOAD00000001.parquet", "size": 3, "eTag": "e"}}}]});
        let payload = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs", "body": body.to_string()},
        ]});
        let Invocation::Sqs(items) = parse(&payload).unwrap() else {
            panic!("not sqs")
        };
        assert_eq!(
            items[0].objects,
            Ok(vec![obj("dms/public/orders/LOAD00000001.parquet")])
        );
    }

    #[test]
    fn a_key_that_is_not_url_encoding_fails_its_message_naming_the_key() {
        let payload = json!({"Records": [
            {"messageId": "m1", "eventSource": "aws:sqs",
             "body": s3_doc(&["dms/public/orders/100%.csv"]).to_string()},
        ]});
        let Invocation::Sqs(items) = parse(&payload).unwrap() else {
            panic!("not sqs")
        };
        let err = items[0].objects.as_ref().expect_err("bad key");
        let text = dmslake::error::chain(err);
        assert!(text.contains("100%.csv"), "{text}");
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
