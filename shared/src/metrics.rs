//! Metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout: no API call, no extra
//! client, and CloudWatch extracts them from the function's log group.
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{json, Map, Value};

/// CloudWatch namespace of every dmslake metric (the template's dashboard and alarms use it).
pub const NAMESPACE: &str = "dmslake";

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

/// Emits one metric value: inside Lambda a single EMF JSON line on stdout (CloudWatch turns it
/// into a metric); elsewhere (the CLI, tests) a debug log line, so stdout stays the command's.
pub fn emit(name: &str, value: f64, unit: Unit, dimensions: &[(&str, &str)]) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let line = emf_line(name, value, unit, dimensions, now_ms);
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
