//! Metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout: no API call, no extra
//! client, and CloudWatch extracts them from the function's log group.
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{json, Map, Value};

/// CloudWatch namespace of every dmslake metric (the template's dashboard and alarms use it).
pub const NAMESPACE: &str = "dmslake";

// Every metric name dmslake emits, one constant each, used at the emit sites; the template's
// alarms and dashboard read these names (tests/tests/metrics_contract.rs holds the two
// together).

/// Registrar: partitions registered (dimension `Table`).
pub const PARTITIONS_REGISTERED: &str = "PartitionsRegistered";
/// Registrar: records that failed (retried, then dead-lettered).
pub const REGISTRATION_ERRORS: &str = "RegistrationErrors";
/// Registrar: incompatible schema changes refused (dimension `Table`).
pub const SCHEMA_CHANGE_REJECTED: &str = "SchemaChangeRejected";
/// Watcher: alerts published (dimension `Task`).
pub const TASK_ALERTS: &str = "TaskAlerts";
/// Watcher: automatic resumes (dimension `Task`).
pub const TASK_AUTO_RESUMED: &str = "TaskAutoResumed";
/// Watcher: compactor baselines requested (dimension `Task`).
pub const BASELINE_REQUESTED: &str = "BaselineRequested";
/// Watcher: recorded task state changes (dimensions `Task`, `State`).
pub const TASK_STATE_TRANSITION: &str = "TaskStateTransition";
/// Watcher: a watched task failed or stopped unexpectedly (dimension `Task`).
pub const TASK_FAILED: &str = "TaskFailed";
/// Compactor: bytes a MERGE scanned (dimension `Table`).
pub const MERGE_SCANNED_BYTES: &str = "MergeScannedBytes";
/// Compactor: seconds from the newest commit merged into a curated table to now, every run
/// (dimension `Table`).
pub const MERGE_LAG_SECONDS: &str = "MergeLagSeconds";
/// Compactor: tables a run could not merge (failed, skipped or timed out; dimension `Table`).
pub const MERGE_FAILURES: &str = "MergeFailures";
/// Compactor: table reloads applied, each by one rebuild of the curated table (dimension
/// `Table`).
pub const TABLE_RELOADS: &str = "TableReloads";

/// Every name above.
pub const ALL: &[&str] = &[
    PARTITIONS_REGISTERED,
    REGISTRATION_ERRORS,
    SCHEMA_CHANGE_REJECTED,
    TASK_ALERTS,
    TASK_AUTO_RESUMED,
    BASELINE_REQUESTED,
    TASK_STATE_TRANSITION,
    TASK_FAILED,
    MERGE_SCANNED_BYTES,
    MERGE_LAG_SECONDS,
    MERGE_FAILURES,
    TABLE_RELOADS,
];

/// Units dmslake reports in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Builds one EMF document for a single metric value with the given dimensions.
pub fn emf_line(
    name: &str,
    value: f64,
    unit: Unit,
    dimensions: &[(&str, &str)],
    now_ms: i64,
) -> Value {
    let mut doc = Map::new();
    let dim_names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dim_names],
                "Metrics": [{"Name": name, "Unit": unit.as_str()}],
            }],
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    doc.insert(name.to_string(), json!(value));
    Value::Object(doc)
}

/// Metric documents kept by [`capture`] (tests), `None` until capturing starts.
static CAPTURED: std::sync::Mutex<Option<Vec<Value>>> = std::sync::Mutex::new(None);

/// From now on every metric this process emits is also kept, for [`captured`] (tests).
pub fn capture() {
    if let Ok(mut kept) = CAPTURED.lock() {
        kept.get_or_insert_with(Vec::new);
    }
}

/// The EMF documents of metric `name` emitted since [`capture`] (oldest first).
pub fn captured(name: &str) -> Vec<Value> {
    CAPTURED
        .lock()
        .ok()
        .and_then(|kept| kept.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|doc| doc.get(name).is_some())
        .collect()
}

/// Emits one metric value: inside Lambda a single EMF JSON line on stdout (CloudWatch turns it
/// into a metric); elsewhere (the CLI, tests) a debug log line, so stdout stays the command's.
/// `name` is one of the constants above.
pub fn emit(name: &str, value: f64, unit: Unit, dimensions: &[(&str, &str)]) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let line = emf_line(name, value, unit, dimensions, now_ms);
    if let Ok(mut kept) = CAPTURED.lock() {
        if let Some(kept) = kept.as_mut() {
            kept.push(line.clone());
        }
    }
    if crate::logging::in_lambda() {
        println!("{line}");
    } else {
        tracing::debug!(metric = name, value, emf = %line, "metric");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_names_metric_dimensions_and_value() {
        let doc = emf_line(
            "PartitionsRegistered",
            3.0,
            Unit::Count,
            &[("Table", "public_orders")],
            42,
        );
        assert_eq!(doc["PartitionsRegistered"], json!(3.0));
        assert_eq!(doc["Table"], json!("public_orders"));
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], json!("dmslake"));
        assert_eq!(cw["Dimensions"], json!([["Table"]]));
        assert_eq!(cw["Metrics"][0]["Unit"], json!("Count"));
        assert_eq!(doc["_aws"]["Timestamp"], json!(42));
    }
}
