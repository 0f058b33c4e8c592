//! Decode: the payloads the compactor accepts, read into one [`Request`].
//!
//! Accepted payloads: an EventBridge scheduled event (`detail-type` "Scheduled Event"; a rule
//! whose name contains `maintain` means maintenance), the watcher's `Compaction Requested`
//! event (source `dmslake`, `detail.tables`), or a bare `{"action": "merge"|"maintain",
//! "tables": [...]}` (schedule target input or manual invocation).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Merge,
    Maintain,
}

/// What was asked: the action and the source tables (`schema.table`); empty means all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: Action,
    pub tables: Vec<String>,
}

/// A payload the compactor cannot read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("not a compactor request: {0}")]
    Shape(String),
    #[error("not a compactor request: {what} does not have the expected fields")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The `detail` of a schedule or `Compaction Requested` event, and a bare request.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct RequestFields {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    tables: Vec<String>,
}

fn action_of(v: Option<&str>) -> Result<Option<Action>, RequestError> {
    match v {
        None => Ok(None),
        Some("merge") => Ok(Some(Action::Merge)),
        Some("maintain") => Ok(Some(Action::Maintain)),
        Some(other) => Err(RequestError::Shape(format!(
            "action {other:?} (expected merge or maintain)"
        ))),
    }
}

fn typed<T: serde::de::DeserializeOwned>(what: &'static str, v: &Value) -> Result<T, RequestError> {
    serde_json::from_value(v.clone()).map_err(|source| RequestError::Json { what, source })
}

/// Decodes an invocation payload: an EventBridge event ([`EventBridgeEvent`]: a schedule,
/// whose rule name containing `maintain` means maintenance, or the watcher's `Compaction
/// Requested`), or a bare `{"action": ..., "tables": [...]}`.
pub fn parse_request(payload: &Value) -> Result<Request, RequestError> {
    if payload.get("detail-type").is_some() {
        let event: EventBridgeEvent<RequestFields> = typed("EventBridge event", payload)?;
        let detail = event.detail;
        return match event.detail_type.as_str() {
            "Compaction Requested" => Ok(Request {
                action: Action::Merge,
                tables: detail.tables,
            }),
            "Scheduled Event" => {
                let by_detail = action_of(detail.action.as_deref())?;
                let by_rule = event
                    .resources
                    .unwrap_or_default()
                    .iter()
                    .any(|arn| arn.to_ascii_lowercase().contains("maintain"));
                let action = by_detail.unwrap_or(if by_rule {
                    Action::Maintain
                } else {
                    Action::Merge
                });
                Ok(Request {
                    action,
                    tables: detail.tables,
                })
            }
            other => Err(RequestError::Shape(format!("detail-type {other:?}"))),
        };
    }
    if payload.get("action").is_none() {
        return Err(RequestError::Shape(
            "expected an EventBridge event or {\"action\": ...}".into(),
        ));
    }
    let fields: RequestFields = typed("request", payload)?;
    match action_of(fields.action.as_deref())? {
        Some(action) => Ok(Request {
            action,
            tables: fields.tables,
        }),
        None => Err(RequestError::Shape(
            "expected an EventBridge event or {\"action\": ...}".into(),
        )),
    }
}
