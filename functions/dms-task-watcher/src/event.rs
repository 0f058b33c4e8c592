//! Decode: the payloads the watcher accepts, told apart at the edge and read with types into
//! one [`Request`] the handler matches on:
//!
//! - a DMS event on EventBridge (`source: aws.dms`): the crate's `EventBridgeEvent` around a
//!   typed [`dmslake::dms_events::DmsDetail`], classified by [`dmslake::dms_events::parse_event`];
//! - the scheduled health check: the event a schedule rule sends, `source` `aws.events`,
//!   `detail-type` `Scheduled Event`, an empty `detail` (the shape of
//!   `events/watcher-health-check.json`), read as the crate's `EventBridgeEvent`;
//! - a manual request `{"action": "status" | "start" | "stop" | "resume" | "reload" |
//!   "health_check", "task": "<ARN or task id>"}` ([`ManualRequest`]).
//!
//! Nothing that arrives from EventBridge becomes an error: a foreign, unknown or malformed event
//! is [`Request::Ignored`], so a bad event never turns into a retry loop. Only a manual request
//! that cannot be read is refused (an `InvalidInput` error).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use dmslake::dms_events::{parse_event, DmsEvent, DmsEventError};
use serde::Deserialize;
use serde_json::Value;

use crate::dms::TaskCommand;
use crate::WatcherError;

/// `source` and `detail-type` of an EventBridge scheduled rule's event.
pub const SCHEDULE_SOURCE: &str = "aws.events";
pub const SCHEDULE_DETAIL_TYPE: &str = "Scheduled Event";

/// A manual request, as an operator (or the CLI) sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ManualRequest {
    /// Runs the health check now.
    HealthCheck {},
    /// Live state and recorded history of one task, or of every watched task.
    Status {
        #[serde(default)]
        task: Option<String>,
    },
    Start {
        task: String,
    },
    Stop {
        task: String,
    },
    Resume {
        task: String,
    },
    Reload {
        task: String,
    },
}

/// What one invocation asks for.
#[derive(Debug)]
pub enum Request {
    /// A DMS task, replication or instance event.
    Dms(Box<DmsEvent>),
    /// The scheduled health check (with the schedule's time), or a manual one (`None`).
    HealthCheck { scheduled: Option<DateTime<Utc>> },
    /// A manual status request.
    Status { task: Option<String> },
    /// A manual command on a watched task (`task`: its ARN or the id at the end of it).
    Command { command: TaskCommand, task: String },
    /// Not for the watcher (foreign, unknown or malformed): logged once and ignored.
    Ignored(DmsEventError),
}

impl From<ManualRequest> for Request {
    fn from(req: ManualRequest) -> Self {
        let command = |command, task| Self::Command { command, task };
        match req {
            ManualRequest::HealthCheck {} => Self::HealthCheck { scheduled: None },
            ManualRequest::Status { task } => Self::Status { task },
            ManualRequest::Start { task } => command(TaskCommand::Start, task),
            ManualRequest::Stop { task } => command(TaskCommand::Stop, task),
            ManualRequest::Resume { task } => command(TaskCommand::Resume, task),
            ManualRequest::Reload { task } => command(TaskCommand::Reload, task),
        }
    }
}

impl Request {
    /// Tells the payload shape apart and decodes it with its type. `Err` only for a manual
    /// request that cannot be read.
    pub fn decode(payload: Value) -> Result<Self, WatcherError> {
        if payload.get("action").is_some() {
            return ManualRequest::deserialize(payload)
                .map(Self::from)
                .map_err(|source| WatcherError::UnreadableRequest { source });
        }
        let text = |field: &str| payload.get(field).and_then(Value::as_str);
        if text("source") == Some(SCHEDULE_SOURCE)
            && text("detail-type") == Some(SCHEDULE_DETAIL_TYPE)
        {
            return Ok(match EventBridgeEvent::<Value>::deserialize(&payload) {
                Ok(event) => Self::HealthCheck {
                    scheduled: event.time,
                },
                Err(source) => Self::Ignored(DmsEventError::Malformed {
                    envelope_id: text("id").unwrap_or("?").to_string(),
                    reason: "a scheduled event without the EventBridge envelope's fields".into(),
                    source: Some(source),
                }),
            });
        }
        Ok(match parse_event(&payload) {
            Ok(event) => Self::Dms(Box::new(event)),
            Err(err) => Self::Ignored(err),
        })
    }
}

impl TaskCommand {
    /// The `action` word of the manual request that runs this command.
    pub fn action(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Resume => "resume",
            Self::Reload => "reload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::dms_events::DmsEventKind;
    use serde_json::json;

    const TASK: &str = "arn:aws:dms:us-east-1:123456789012:task:T1";

    fn decode(payload: Value) -> Request {
        Request::decode(payload.clone()).unwrap_or_else(|e| panic!("{payload}: {e}"))
    }

    #[test]
    fn manual_requests_decode_to_their_request() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"action": "health_check"}), "health check"),
            (
                json!({"action": "health_check", "task": TASK}),
                "health check",
            ),
            (json!({"action": "status"}), "status of all"),
            (json!({"action": "status", "task": "T1"}), "status of T1"),
            (json!({"action": "start", "task": TASK}), "start"),
            (json!({"action": "stop", "task": TASK}), "stop"),
            (json!({"action": "resume", "task": "T1"}), "resume"),
            (json!({"action": "reload", "task": TASK}), "reload"),
        ];
        for (payload, want) in cases {
            let got = match decode(payload.clone()) {
                Request::HealthCheck { scheduled: None } => "health check".to_string(),
                Request::Status { task: None } => "status of all".to_string(),
                Request::Status { task: Some(t) } => format!("status of {t}"),
                Request::Command { command, task } => {
                    assert!(task == TASK || task == "T1", "{payload}");
                    command.action().to_string()
                }
                other => panic!("{payload}: {other:?}"),
            };
            assert_eq!(got, want, "{payload}");
        }
    }

    #[test]
    fn unreadable_manual_requests_are_invalid_input_naming_the_problem() {
        let cases = [
            (
                json!({"action": "explode", "task": TASK}),
                "unknown variant `explode`",
            ),
            (json!({"action": "start"}), "missing field `task`"),
            (json!({"action": 7}), "integer `7`"),
            (json!({"action": "stop", "task": 7}), "expected a string"),
        ];
        for (payload, says) in cases {
            let err = Request::decode(payload.clone()).expect_err("refused");
            assert_eq!(err.error_type(), "InvalidInput", "{payload}");
            let cause = std::error::Error::source(&err).map(ToString::to_string);
            assert!(
                cause.as_deref().is_some_and(|c| c.contains(says)),
                "{payload}: {cause:?}"
            );
        }
    }

    #[test]
    fn eventbridge_payloads_decode_to_dms_events_schedules_or_ignored() {
        let schedule = json!({
            "version": "0", "id": "s-1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-21T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}
        });
        match decode(schedule.clone()) {
            Request::HealthCheck {
                scheduled: Some(at),
            } => {
                assert_eq!(at.to_rfc3339(), "2026-11-21T12:00:00+00:00")
            }
            other => panic!("{other:?}"),
        }
        let mut bad_schedule = schedule;
        bad_schedule["time"] = json!("noon");
        assert!(matches!(
            decode(bad_schedule),
            Request::Ignored(DmsEventError::Malformed { .. })
        ));

        let failed = json!({
            "version": "0", "id": "e-1", "detail-type": "DMS Replication Task State Change",
            "source": "aws.dms", "time": "2026-11-20T23:40:45Z", "region": "us-east-1",
            "resources": [TASK],
            "detail": {"eventType": "REPLICATION_TASK_FAILED", "type": "REPLICATION_TASK",
                       "category": "Failure"}
        });
        match decode(failed.clone()) {
            Request::Dms(event) => {
                assert_eq!(event.kind, DmsEventKind::Failed);
                assert_eq!(event.resource_arn, TASK);
                assert_eq!(event.envelope_id, "e-1");
            }
            other => panic!("{other:?}"),
        }
        let mut unknown = failed.clone();
        unknown["detail"]["eventId"] = json!("DMS-EVENT-9999");
        let mut malformed = failed;
        malformed["detail"] = json!("Last Error everything");
        for (payload, what) in [
            (unknown, "unknown"),
            (malformed, "malformed"),
            (json!({"hello": "world"}), "not a DMS"),
            (
                json!({"source": "aws.s3", "detail-type": "Object Created"}),
                "not a DMS",
            ),
        ] {
            match decode(payload.clone()) {
                Request::Ignored(err) => assert!(err.to_string().contains(what), "{err}"),
                other => panic!("{payload}: {other:?}"),
            }
        }
    }
}
