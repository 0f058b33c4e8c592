//! DMS events as EventBridge delivers them (`source: aws.dms`), decoded with
//! `aws_lambda_events`' [`EventBridgeEvent`] and a typed [`DmsDetail`], then classified.
//!
//! Envelope and detail shape: "Working with Amazon EventBridge events and notifications in AWS
//! Database Migration Service" (AWS DMS user guide,
//! <https://docs.aws.amazon.com/dms/latest/userguide/CHAP_EventBridge.html>): `detail` holds
//! `type`, `category`, `eventType`, `eventId`, `resourceLink` and `detailMessage`, and the
//! resource ARN is in `resources`. The detail-types DMS sends: "AWS Database Migration Service
//! events" in the EventBridge events reference
//! (<https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-dms.html>). Event ids and
//! categories: CHAP_Events.md ("AWS DMS event categories and event messages"). Captured events
//! show that a task failure may arrive without `eventId`, carrying `Last Error ... Stop Reason
//! ... Error Level ...` only inside `detailMessage`; DMS Serverless sends `DMS Replication State
//! Change` with `type` `REPLICATION_CONFIG` and an `eventType` such as `REPLICATION_FAILED`, no
//! `eventId`.
//!
//! Pure: no I/O, no SDK types.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `source` of every DMS event.
pub const DMS_SOURCE: &str = "aws.dms";
/// `detail-type` of a replication task event (CHAP_EventBridge.md).
pub const TASK_DETAIL_TYPE: &str = "DMS Replication Task State Change";
/// `detail-type` of a DMS Serverless replication event.
pub const SERVERLESS_DETAIL_TYPE: &str = "DMS Replication State Change";
/// `detail-type` of a replication instance event. DMS sends instance events under several
/// detail-types sharing this prefix (`... State Change`, `... Storage State Change`,
/// `... Class State Change`, `... Multi-AZ State Change`, `... Patch State`,
/// `... Failover State`: EventBridge events reference, events-ref-dms.html); all are accepted.
pub const INSTANCE_DETAIL_TYPE: &str = "DMS Replication Instance State Change";
const INSTANCE_DETAIL_TYPE_PREFIX: &str = "DMS Replication Instance ";

/// Why an EventBridge payload is not a DMS event dmslake acts on. Every variant is an
/// expected outcome the watcher logs once and ignores.
#[derive(Debug, thiserror::Error)]
pub enum DmsEventError {
    #[error("not a DMS task, replication or instance event: source {event_source:?}, detail-type {detail_type:?}")]
    NotDms {
        event_source: String,
        detail_type: String,
    },
    #[error("DMS event {envelope_id}: malformed: {reason}")]
    Malformed {
        envelope_id: String,
        reason: String,
        /// The decoding error, when the envelope or its detail did not have the expected types.
        #[source]
        source: Option<serde_json::Error>,
    },
    #[error(
        "DMS event {envelope_id}: unknown event (id {event_id:?}, type {event_type:?}, category {category:?})"
    )]
    Unknown {
        envelope_id: String,
        event_id: Option<String>,
        event_type: Option<String>,
        category: Option<String>,
    },
}

/// A DMS event as EventBridge delivers it: the crate's envelope around DMS's typed detail.
pub type DmsEventBridgeEvent = EventBridgeEvent<DmsDetail>;

/// The `detail` object of a DMS event, exactly as sent (every field optional: captured events
/// omit `eventId` and `resourceLink`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DmsDetail {
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    pub category: Option<String>,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub resource_link: Option<String>,
    pub detail_message: Option<String>,
}

/// What kind of DMS resource an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A replication task (`arn:aws:dms:...:task:...`).
    Task,
    /// A DMS Serverless replication config (`arn:aws:dms:...:replication-config:...`).
    ReplicationConfig,
    /// A replication instance (`arn:aws:dms:...:rep:...`).
    ReplicationInstance,
}

impl ResourceKind {
    /// Classifies a DMS ARN by its resource type segment.
    pub fn of_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(7, ':');
        let (Some("arn"), Some(_partition), Some("dms")) =
            (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let _region = parts.next()?;
        let _account = parts.next()?;
        let kind = parts.next()?;
        let id = parts.next()?;
        if id.is_empty() {
            return None;
        }
        match kind {
            "task" => Some(Self::Task),
            "replication-config" => Some(Self::ReplicationConfig),
            "rep" => Some(Self::ReplicationInstance),
            _ => None,
        }
    }
}

/// The resource id at the end of a DMS ARN (`...:task:ABC` → `ABC`), or the whole string.
pub fn arn_resource_id(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The region segment of an ARN, if it has one.
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// What happened, reduced to what dmslake reacts to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DmsEventKind {
    /// DMS-EVENT-0069 (task) or a serverless replication starting / running.
    Started,
    /// DMS-EVENT-0079 (task) or a serverless `REPLICATION_STOPPED`.
    Stopped,
    /// DMS-EVENT-0078 (task) or a serverless `REPLICATION_FAILED`.
    Failed,
    /// A task event dmslake records but does not act on (created, modified, deleted, table
    /// reload requested, reading paused / resumed, delete clean-up failed).
    Informational { event_type: String },
    /// DMS-EVENT-0007: the replication instance used more than 90% of its storage.
    InstanceLowStorage,
    /// DMS-EVENT-0031 / 0036 / 0037: the replication instance failed.
    InstanceFailure,
    /// Any other documented replication instance event (creation, maintenance, failover...).
    InstanceInformational { event_type: String },
}

/// The documented task event ids (CHAP_Events.md, "replication task source type").
fn task_event_kind(event_id: &str) -> Option<DmsEventKind> {
    let info = |t: &str| DmsEventKind::Informational {
        event_type: t.to_string(),
    };
    Some(match event_id {
        "DMS-EVENT-0069" => DmsEventKind::Started,
        "DMS-EVENT-0079" => DmsEventKind::Stopped,
        "DMS-EVENT-0078" => DmsEventKind::Failed,
        "DMS-EVENT-0081" => info("REPLICATION_TASK_TABLE_RELOAD_REQUESTED"),
        "DMS-EVENT-0091" => info("REPLICATION_TASK_READING_PAUSED_SWAP_LIMIT"),
        "DMS-EVENT-0092" => info("REPLICATION_TASK_READING_PAUSED_DISK_LIMIT"),
        "DMS-EVENT-0093" => info("REPLICATION_TASK_READING_RESUMED"),
        "DMS-EVENT-0082" => info("REPLICATION_TASK_DELETE_CLEANUP_FAILED"),
        "DMS-EVENT-0080" => info("REPLICATION_TASK_MODIFIED"),
        "DMS-EVENT-0073" => info("REPLICATION_TASK_DELETED"),
        "DMS-EVENT-0074" => info("REPLICATION_TASK_CREATED"),
        _ => return None,
    })
}

/// The documented replication instance event ids (CHAP_Events.md, "replication instance
/// source type").
fn instance_event_kind(event_id: &str) -> Option<DmsEventKind> {
    const INFORMATIONAL: &[&str] = &[
        "DMS-EVENT-0012",
        "DMS-EVENT-0014",
        "DMS-EVENT-0018",
        "DMS-EVENT-0017",
        "DMS-EVENT-0024",
        "DMS-EVENT-0025",
        "DMS-EVENT-0030",
        "DMS-EVENT-0029",
        "DMS-EVENT-0067",
        "DMS-EVENT-0005",
        "DMS-EVENT-0066",
        "DMS-EVENT-0003",
        "DMS-EVENT-0047",
        "DMS-EVENT-0026",
        "DMS-EVENT-0027",
        "DMS-EVENT-0068",
        "DMS-EVENT-0013",
        "DMS-EVENT-0049",
        "DMS-EVENT-0015",
        "DMS-EVENT-0050",
        "DMS-EVENT-0051",
        "DMS-EVENT-0034",
    ];
    match event_id {
        "DMS-EVENT-0007" => Some(DmsEventKind::InstanceLowStorage),
        "DMS-EVENT-0031" | "DMS-EVENT-0036" | "DMS-EVENT-0037" => {
            Some(DmsEventKind::InstanceFailure)
        }
        id if INFORMATIONAL.contains(&id) => Some(DmsEventKind::InstanceInformational {
            event_type: id.to_string(),
        }),
        _ => None,
    }
}

/// Task events without `eventId` (captured failures carry only `eventType`).
fn task_event_type_kind(event_type: &str) -> Option<DmsEventKind> {
    match event_type {
        "REPLICATION_TASK_STARTED" => Some(DmsEventKind::Started),
        "REPLICATION_TASK_STOPPED" => Some(DmsEventKind::Stopped),
        "REPLICATION_TASK_FAILED" => Some(DmsEventKind::Failed),
        "REPLICATION_TASK_CREATED" | "REPLICATION_TASK_DELETED" | "REPLICATION_TASK_MODIFIED" => {
            Some(DmsEventKind::Informational {
                event_type: event_type.to_string(),
            })
        }
        _ => None,
    }
}

/// DMS Serverless replication events carry only `eventType` (`REPLICATION_<STATE>`).
fn serverless_event_kind(event_type: &str) -> Option<DmsEventKind> {
    let state = event_type.strip_prefix("REPLICATION_")?;
    Some(match state {
        "FAILED" => DmsEventKind::Failed,
        "STOPPED" => DmsEventKind::Stopped,
        "STARTED" | "RUNNING" => DmsEventKind::Started,
        s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
            DmsEventKind::Informational {
                event_type: event_type.to_string(),
            }
        }
        _ => return None,
    })
}

/// A DMS `StopReason` (DescribeReplicationTasks `ReplicationTask.StopReason`, written
/// `"Stop Reason NORMAL"`; the same words appear in a failure's `detailMessage`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StopReason {
    Normal,
    RecoverableError,
    FatalError,
    FullLoadOnlyFinished,
    StoppedAfterFullLoad,
    StoppedAfterCachedEvents,
    ExpressLicenseLimitsReached,
    StoppedAfterDdlApply,
    StoppedDueToLowMemory,
    StoppedDueToLowDisk,
    StoppedAtServerTime,
    StoppedAtCommitTime,
    ReconfigurationRestart,
    RecycleTask,
    /// A value this version does not know: kept verbatim, treated as unexpected.
    #[serde(untagged)]
    Other(String),
}

/// How dmslake treats a stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// Someone asked for it (console, API, a configured stop point): record, no alert.
    Requested,
    /// A full-load-only task finished its load: request the baseline.
    FullLoadOnlyFinished,
    /// An error or a resource limit stopped the task: alert (and maybe resume).
    Unexpected,
}

impl StopReason {
    /// Parses `"Stop Reason NORMAL"` or `"NORMAL"`; `None` for an empty value.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let v = v.strip_prefix("Stop Reason").unwrap_or(v).trim();
        if v.is_empty() {
            return None;
        }
        Some(match v {
            "NORMAL" => Self::Normal,
            "RECOVERABLE_ERROR" => Self::RecoverableError,
            "FATAL_ERROR" => Self::FatalError,
            "FULL_LOAD_ONLY_FINISHED" => Self::FullLoadOnlyFinished,
            "STOPPED_AFTER_FULL_LOAD" => Self::StoppedAfterFullLoad,
            "STOPPED_AFTER_CACHED_EVENTS" => Self::StoppedAfterCachedEvents,
            "EXPRESS_LICENSE_LIMITS_REACHED" => Self::ExpressLicenseLimitsReached,
            "STOPPED_AFTER_DDL_APPLY" => Self::StoppedAfterDdlApply,
            "STOPPED_DUE_TO_LOW_MEMORY" => Self::StoppedDueToLowMemory,
            "STOPPED_DUE_TO_LOW_DISK" => Self::StoppedDueToLowDisk,
            "STOPPED_AT_SERVER_TIME" => Self::StoppedAtServerTime,
            "STOPPED_AT_COMMIT_TIME" => Self::StoppedAtCommitTime,
            "RECONFIGURATION_RESTART" => Self::ReconfigurationRestart,
            "RECYCLE_TASK" => Self::RecycleTask,
            other => Self::Other(other.to_string()),
        })
    }

    /// The DMS spelling (`FULL_LOAD_ONLY_FINISHED`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Normal => "NORMAL",
            Self::RecoverableError => "RECOVERABLE_ERROR",
            Self::FatalError => "FATAL_ERROR",
            Self::FullLoadOnlyFinished => "FULL_LOAD_ONLY_FINISHED",
            Self::StoppedAfterFullLoad => "STOPPED_AFTER_FULL_LOAD",
            Self::StoppedAfterCachedEvents => "STOPPED_AFTER_CACHED_EVENTS",
            Self::ExpressLicenseLimitsReached => "EXPRESS_LICENSE_LIMITS_REACHED",
            Self::StoppedAfterDdlApply => "STOPPED_AFTER_DDL_APPLY",
            Self::StoppedDueToLowMemory => "STOPPED_DUE_TO_LOW_MEMORY",
            Self::StoppedDueToLowDisk => "STOPPED_DUE_TO_LOW_DISK",
            Self::StoppedAtServerTime => "STOPPED_AT_SERVER_TIME",
            Self::StoppedAtCommitTime => "STOPPED_AT_COMMIT_TIME",
            Self::ReconfigurationRestart => "RECONFIGURATION_RESTART",
            Self::RecycleTask => "RECYCLE_TASK",
            Self::Other(s) => s,
        }
    }

    /// Stops an operator or the task settings asked for are [`StopKind::Requested`]
    /// (`NORMAL`, the `STOPPED_AFTER_*` / `STOPPED_AT_*` stop points, `RECYCLE_TASK`);
    /// errors, resource limits and unknown values are [`StopKind::Unexpected`].
    pub fn kind(&self) -> StopKind {
        match self {
            Self::FullLoadOnlyFinished => StopKind::FullLoadOnlyFinished,
            Self::Normal
            | Self::StoppedAfterFullLoad
            | Self::StoppedAfterCachedEvents
            | Self::StoppedAfterDdlApply
            | Self::StoppedAtServerTime
            | Self::StoppedAtCommitTime
            | Self::ReconfigurationRestart
            | Self::RecycleTask => StopKind::Requested,
            Self::RecoverableError
            | Self::FatalError
            | Self::ExpressLicenseLimitsReached
            | Self::StoppedDueToLowMemory
            | Self::StoppedDueToLowDisk
            | Self::Other(_) => StopKind::Unexpected,
        }
    }
}

/// What a `detailMessage` says beyond its prose: the last error and the stop reason, as in
/// `Last Error  ODBC general error. Stop Reason RECOVERABLE_ERROR Error Level RECOVERABLE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFacts {
    pub last_error: Option<String>,
    pub stop_reason: Option<StopReason>,
    pub error_level: Option<String>,
}

/// Extracts the labelled parts of a `detailMessage`; prose without labels gives nothing.
pub fn parse_detail_message(message: &str) -> MessageFacts {
    const LABELS: [&str; 3] = ["Last Error", "Stop Reason", "Error Level"];
    let mut found: Vec<(usize, &str)> = LABELS
        .iter()
        .filter_map(|l| message.find(l).map(|at| (at, *l)))
        .collect();
    found.sort();
    let mut facts = MessageFacts::default();
    for (i, (at, label)) in found.iter().enumerate() {
        let start = at + label.len();
        let end = found
            .get(i + 1)
            .map(|(next, _)| *next)
            .unwrap_or(message.len());
        let value = message.get(start..end).unwrap_or("").trim();
        if value.is_empty() {
            continue;
        }
        match *label {
            "Last Error" => facts.last_error = Some(value.to_string()),
            "Stop Reason" => {
                let word = value.split_whitespace().next().unwrap_or("");
                facts.stop_reason = StopReason::parse(word);
            }
            _ => facts.error_level = value.split_whitespace().next().map(str::to_string),
        }
    }
    facts
}

/// One DMS event, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmsEvent {
    /// The EventBridge envelope `id` (duplicate deliveries share it).
    pub envelope_id: String,
    pub time: Option<DateTime<Utc>>,
    pub region: Option<String>,
    pub resource: ResourceKind,
    pub resource_arn: String,
    pub kind: DmsEventKind,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub category: Option<String>,
    pub resource_link: Option<String>,
    pub detail_message: Option<String>,
    /// Stop reason and last error when the `detailMessage` carries them.
    pub facts: MessageFacts,
}

/// The resource kind a DMS `source` / `detail-type` pair is about; `None` for any other event.
pub fn resource_kind_of(source: &str, detail_type: &str) -> Option<ResourceKind> {
    match (source, detail_type) {
        (DMS_SOURCE, TASK_DETAIL_TYPE) => Some(ResourceKind::Task),
        (DMS_SOURCE, SERVERLESS_DETAIL_TYPE) => Some(ResourceKind::ReplicationConfig),
        (DMS_SOURCE, t) if t.starts_with(INSTANCE_DETAIL_TYPE_PREFIX) => {
            Some(ResourceKind::ReplicationInstance)
        }
        _ => None,
    }
}

/// Decodes an EventBridge payload as a [`DmsEventBridgeEvent`] and classifies it into a
/// [`DmsEvent`]. Anything else (another source or detail-type, a detail that is not an object,
/// no DMS ARN in `resources`, an undocumented event id) is an error value the caller logs and
/// ignores.
pub fn parse_event(payload: &Value) -> Result<DmsEvent, DmsEventError> {
    // The envelope's `source` and `detail-type` say whether this is a DMS event at all, so a
    // foreign event is told apart from a malformed DMS one before the detail is decoded.
    let text = |field: &str| payload.get(field).and_then(Value::as_str).unwrap_or("");
    let Some(expected_kind) = resource_kind_of(text("source"), text("detail-type")) else {
        return Err(DmsEventError::NotDms {
            event_source: text("source").to_string(),
            detail_type: text("detail-type").to_string(),
        });
    };
    let envelope_id = payload.get("id").and_then(Value::as_str).unwrap_or("?");
    if !payload.get("detail").is_some_and(Value::is_object) {
        return Err(DmsEventError::Malformed {
            envelope_id: envelope_id.to_string(),
            reason: "detail is not a JSON object".into(),
            source: None,
        });
    }
    let event =
        DmsEventBridgeEvent::deserialize(payload).map_err(|e| DmsEventError::Malformed {
            envelope_id: envelope_id.to_string(),
            reason: "the envelope or its detail does not have the documented fields".into(),
            source: Some(e),
        })?;
    classify(expected_kind, event)
}

/// Classifies a decoded DMS event of `expected_kind` (from its `detail-type`).
fn classify(
    expected_kind: ResourceKind,
    event: DmsEventBridgeEvent,
) -> Result<DmsEvent, DmsEventError> {
    let envelope_id = event.id.unwrap_or_default();
    let resources = event.resources.unwrap_or_default();
    let detail = event.detail;
    let Some(resource_arn) = resources
        .iter()
        .find(|arn| ResourceKind::of_arn(arn) == Some(expected_kind))
        .cloned()
    else {
        return Err(DmsEventError::Malformed {
            reason: format!("no {expected_kind:?} ARN in resources {resources:?}"),
            envelope_id,
            source: None,
        });
    };
    let kind = match expected_kind {
        ResourceKind::Task => match (&detail.event_id, &detail.event_type) {
            (Some(id), _) => task_event_kind(id),
            (None, Some(t)) => task_event_type_kind(t),
            (None, None) => None,
        },
        ResourceKind::ReplicationInstance => {
            detail.event_id.as_deref().and_then(instance_event_kind)
        }
        ResourceKind::ReplicationConfig => {
            detail.event_type.as_deref().and_then(serverless_event_kind)
        }
    };
    let Some(kind) = kind else {
        return Err(DmsEventError::Unknown {
            envelope_id,
            event_id: detail.event_id,
            event_type: detail.event_type,
            category: detail.category,
        });
    };
    let facts = detail
        .detail_message
        .as_deref()
        .map(parse_detail_message)
        .unwrap_or_default();
    Ok(DmsEvent {
        envelope_id,
        time: event.time,
        region: event.region,
        resource: expected_kind,
        resource_arn,
        kind,
        event_id: detail.event_id,
        event_type: detail.event_type,
        category: detail.category,
        resource_link: detail.resource_link,
        detail_message: detail.detail_message,
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task_event(detail: Value) -> Value {
        json!({
            "version": "0", "id": "e-1", "detail-type": TASK_DETAIL_TYPE, "source": "aws.dms",
            "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:dms:us-east-1:123456789012:task:T1"], "detail": detail
        })
    }

    #[test]
    fn documented_task_event_ids_map_to_their_kind() {
        let cases = [
            ("DMS-EVENT-0069", DmsEventKind::Started),
            ("DMS-EVENT-0079", DmsEventKind::Stopped),
            ("DMS-EVENT-0078", DmsEventKind::Failed),
        ];
        for (id, kind) in cases {
            let ev = parse_event(&task_event(
                json!({"eventId": id, "type": "REPLICATION_TASK"}),
            ))
            .expect(id);
            assert_eq!(ev.kind, kind, "{id}");
        }
        for id in [
            "DMS-EVENT-0074",
            "DMS-EVENT-0081",
            "DMS-EVENT-0091",
            "DMS-EVENT-0093",
        ] {
            let ev = parse_event(&task_event(json!({"eventId": id}))).expect(id);
            assert!(
                matches!(ev.kind, DmsEventKind::Informational { .. }),
                "{id}"
            );
        }
    }

    #[test]
    fn failure_without_event_id_reads_stop_reason_and_error_from_the_message() {
        let ev = parse_event(&task_event(json!({
            "eventType": "REPLICATION_TASK_FAILED",
            "detailMessage": "Last Error  ODBC general error. Stop Reason RECOVERABLE_ERROR Error Level RECOVERABLE",
            "type": "REPLICATION_TASK", "category": "Failure"
        })))
        .expect("parses");
        assert_eq!(ev.kind, DmsEventKind::Failed);
        assert_eq!(ev.facts.last_error.as_deref(), Some("ODBC general error."));
        assert_eq!(ev.facts.stop_reason, Some(StopReason::RecoverableError));
        assert_eq!(ev.facts.error_level.as_deref(), Some("RECOVERABLE"));
        assert_eq!(
            ev.resource_arn,
            "arn:aws:dms:us-east-1:123456789012:task:T1"
        );
    }

    #[test]
    fn unknown_ids_other_sources_and_malformed_details_are_error_values() {
        let unknown = parse_event(&task_event(json!({"eventId": "DMS-EVENT-9999"})));
        assert!(
            matches!(unknown, Err(DmsEventError::Unknown { .. })),
            "{unknown:?}"
        );
        let no_id = parse_event(&task_event(json!({"category": "Mystery"})));
        assert!(
            matches!(no_id, Err(DmsEventError::Unknown { .. })),
            "{no_id:?}"
        );

        let mut other = task_event(json!({"eventId": "DMS-EVENT-0069"}));
        other["source"] = json!("aws.s3");
        assert!(matches!(
            parse_event(&other),
            Err(DmsEventError::NotDms { .. })
        ));

        for bad in [json!("text"), json!([1]), json!({"eventId": 7})] {
            let r = parse_event(&task_event(bad.clone()));
            assert!(
                matches!(r, Err(DmsEventError::Malformed { .. })),
                "{bad}: {r:?}"
            );
        }
        // The envelope is EventBridge's: a `time` that is not a timestamp, or no `detail`,
        // makes the event malformed, and the decoding error is kept as its source.
        let mut bad_time = task_event(json!({"eventId": "DMS-EVENT-0069"}));
        bad_time["time"] = json!("yesterday");
        let r = parse_event(&bad_time);
        assert!(
            matches!(
                &r,
                Err(DmsEventError::Malformed {
                    source: Some(_),
                    ..
                })
            ),
            "{r:?}"
        );
        let mut no_detail = task_event(json!({}));
        no_detail
            .as_object_mut()
            .map(|envelope| envelope.remove("detail"));
        assert!(matches!(
            parse_event(&no_detail),
            Err(DmsEventError::Malformed { source: None, .. })
        ));
        let mut no_arn = task_event(json!({"eventId": "DMS-EVENT-0069"}));
        no_arn["resources"] = json!(["arn:aws:s3:::bucket"]);
        assert!(matches!(
            parse_event(&no_arn),
            Err(DmsEventError::Malformed { .. })
        ));
    }

    #[test]
    fn serverless_and_instance_events_are_typed() {
        let ev = parse_event(&json!({
            "id": "s", "detail-type": SERVERLESS_DETAIL_TYPE, "source": "aws.dms",
            "resources": ["arn:aws:dms:ap-northeast-1:123456789012:replication-config:X"],
            "detail": {"type": "REPLICATION_CONFIG", "category": "StateChange", "eventType": "REPLICATION_FAILED"}
        }))
        .expect("serverless");
        assert_eq!(ev.resource, ResourceKind::ReplicationConfig);
        assert_eq!(ev.kind, DmsEventKind::Failed);

        let ev = parse_event(&json!({
            "id": "i", "detail-type": "DMS Replication Instance Storage State Change", "source": "aws.dms",
            "resources": ["arn:aws:dms:us-east-1:123456789012:rep:R1"],
            "detail": {"eventId": "DMS-EVENT-0007", "category": "LowStorage"}
        }))
        .expect("instance");
        assert_eq!(ev.kind, DmsEventKind::InstanceLowStorage);
    }

    #[test]
    fn stop_reasons_parse_with_or_without_prefix_and_classify() {
        let cases = [
            ("Stop Reason NORMAL", StopKind::Requested),
            ("FULL_LOAD_ONLY_FINISHED", StopKind::FullLoadOnlyFinished),
            (
                "Stop Reason STOPPED_AFTER_CACHED_EVENTS",
                StopKind::Requested,
            ),
            ("RECOVERABLE_ERROR", StopKind::Unexpected),
            ("Stop Reason STOPPED_DUE_TO_LOW_DISK", StopKind::Unexpected),
            ("SOMETHING_NEW", StopKind::Unexpected),
        ];
        for (text, kind) in cases {
            assert_eq!(StopReason::parse(text).expect(text).kind(), kind, "{text}");
        }
        assert_eq!(StopReason::parse("Stop Reason "), None);
        assert_eq!(
            StopReason::parse("Stop Reason FATAL_ERROR").map(|r| r.as_str().to_string()),
            Some("FATAL_ERROR".into())
        );
    }

    #[test]
    fn prose_messages_yield_no_facts_and_arns_classify() {
        assert_eq!(
            parse_detail_message("Replication task stopped"),
            MessageFacts::default()
        );
        assert_eq!(
            ResourceKind::of_arn("arn:aws:dms:us-east-1:1:task:A"),
            Some(ResourceKind::Task)
        );
        assert_eq!(
            ResourceKind::of_arn("arn:aws:dms:us-east-1:1:endpoint:A"),
            None
        );
        assert_eq!(ResourceKind::of_arn("arn:aws:dms:us-east-1:1:task:"), None);
        assert_eq!(arn_resource_id("arn:aws:dms:us-east-1:1:task:ABC"), "ABC");
        assert_eq!(
            arn_region("arn:aws:dms:eu-west-1:1:task:ABC"),
            Some("eu-west-1")
        );
    }
}
