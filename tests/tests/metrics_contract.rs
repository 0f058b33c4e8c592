//! Every metric template.yaml reads from dmslake's namespace (alarms and dashboard) is emitted
//! by the code: the name is one of the constants in `shared/src/metrics.rs`, and a
//! `metrics::emit` call outside the tests passes that constant. An alarm on a name nothing
//! emits can never fire; this test fails instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

fn repo() -> std::path::PathBuf {
    dmslake_tests::repo_dir()
}

/// The metric a CloudWatch Metrics Insights query reads and its namespace:
/// `SELECT FUNC(Metric) FROM namespace` or `... FROM SCHEMA(namespace, dims...) ...`
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html>).
/// `None` for an expression that is not such a query (metric math).
fn insights_metric(expression: &str) -> Option<(String, String)> {
    let unquote = |s: &str| s.trim().trim_matches('"').trim_matches('\'').to_string();
    let upper = expression.to_ascii_uppercase();
    let select = upper.find("SELECT ")?;
    let from = upper.find(" FROM ")?;
    let call = &expression[select + 7..from];
    let open = call.find('(')?;
    let close = call.rfind(')')?;
    let metric = unquote(&call[open + 1..close]);
    let source = expression[from + 6..].trim_start();
    let namespace = if source.to_ascii_uppercase().starts_with("SCHEMA(") {
        let args = &source[7..source.find(')')?];
        unquote(args.split(',').next()?)
    } else {
        unquote(source.split_whitespace().next()?)
    };
    Some((namespace, metric))
}

/// Replaces every `${...}` of a `Fn::Sub` string by `1` (valid wherever the template puts one).
fn substitute(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| e + start)
            .expect("closed ${");
        out.push('1');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// (namespace, metric) pairs a dashboard reads: metric arrays `[ns, name, dims...]` (with
/// CloudWatch's `"."` meaning "as the line above") and Metrics Insights expressions.
fn dashboard_metrics(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for widget in body["widgets"].as_array().into_iter().flatten() {
        let mut previous: (String, String) = Default::default();
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(items) = line.as_array() else {
                continue;
            };
            match items.first() {
                Some(Value::String(ns)) => {
                    let name = items.get(1).and_then(Value::as_str).unwrap_or(".");
                    let ns = if ns == "." {
                        previous.0.clone()
                    } else {
                        ns.clone()
                    };
                    let name = if name == "." {
                        previous.1.clone()
                    } else {
                        name.to_string()
                    };
                    previous = (ns.clone(), name.clone());
                    out.push((ns, name));
                }
                Some(Value::Object(o)) => {
                    if let Some(found) = o
                        .get("expression")
                        .and_then(Value::as_str)
                        .and_then(insights_metric)
                    {
                        out.push(found);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Every (where, metric) the template reads from the `dmslake` namespace.
fn template_metrics(template: &Value) -> Vec<(String, String)> {
    let mut read = Vec::new();
    let resources = template["Resources"].as_object().expect("resources");
    for (id, r) in resources {
        let p = &r["Properties"];
        match r["Type"].as_str() {
            Some("AWS::CloudWatch::Alarm") => {
                if p["Namespace"] == dmslake::metrics::NAMESPACE {
                    read.push((id.clone(), p["MetricName"].as_str().unwrap_or("").into()));
                }
                for m in p["Metrics"].as_array().into_iter().flatten() {
                    let stat = &m["MetricStat"]["Metric"];
                    if stat["Namespace"] == dmslake::metrics::NAMESPACE {
                        read.push((id.clone(), stat["MetricName"].as_str().unwrap_or("").into()));
                    }
                    if let Some((ns, name)) = m["Expression"].as_str().and_then(insights_metric) {
                        if ns == dmslake::metrics::NAMESPACE {
                            read.push((id.clone(), name));
                        }
                    }
                }
            }
            Some("AWS::CloudWatch::Dashboard") => {
                let body = p["DashboardBody"]["Fn::Sub"]
                    .as_str()
                    .or_else(|| p["DashboardBody"].as_str())
                    .expect("dashboard body");
                let body: Value =
                    serde_json::from_str(&substitute(body)).expect("dashboard body is JSON");
                for (ns, name) in dashboard_metrics(&body) {
                    if ns == dmslake::metrics::NAMESPACE {
                        read.push((id.clone(), name));
                    }
                }
            }
            _ => {}
        }
    }
    read
}

/// `pub const IDENT: &str = "Name";` of shared/src/metrics.rs (the namespace aside).
fn metric_constants() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join("shared/src/metrics.rs")).expect("metrics.rs");
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("pub const ")?;
            let (ident, rest) = rest.split_once(": &str = \"")?;
            let value = rest.strip_suffix("\";")?;
            Some((ident.to_string(), value.to_string()))
        })
        .filter(|(ident, _)| ident != "NAMESPACE")
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first argument of every `metrics::emit(` call in the non-test code of the functions
/// and the library, with the file it is in.
fn emit_arguments() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["functions", "shared/src"] {
        rust_files(&repo().join(dir), &mut files);
    }
    let mut out = Vec::new();
    for file in files {
        if file.ends_with("shared/src/metrics.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        // Unit tests sit in a `#[cfg(test)]` module at the end of a file.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (at, _) in code.match_indices("metrics::emit(") {
            let args = &code[at + "metrics::emit(".len()..];
            let first = args.split(',').next().unwrap_or("").trim().to_string();
            out.push((file.display().to_string(), first));
        }
    }
    out
}

#[test]
fn metrics_insights_queries_name_their_metric_and_namespace() {
    let cases = [
        (
            "SELECT SUM(TaskFailed) FROM dmslake",
            Some(("dmslake", "TaskFailed")),
        ),
        (
            "SELECT MAX(MergeLagSeconds) FROM SCHEMA(dmslake, \"Table\") GROUP BY \"Table\"",
            Some(("dmslake", "MergeLagSeconds")),
        ),
        (
            "SELECT AVG(\"CPUUtilization\") FROM \"AWS/EC2\" WHERE x = 'y'",
            Some(("AWS/EC2", "CPUUtilization")),
        ),
        ("SUM(METRICS())", None),
    ];
    for (expression, want) in cases {
        let got = insights_metric(expression);
        assert_eq!(
            got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            want,
            "{expression}"
        );
    }
}

#[test]
fn every_metric_the_template_reads_from_dmslake_is_emitted_by_the_code() {
    let read = template_metrics(dmslake_tests::translated_template());
    let names: BTreeSet<&str> = read.iter().map(|(_, n)| n.as_str()).collect();
    // The reader found the alarms and panels it is there for.
    for expected in [
        "TaskFailed",
        "MergeLagSeconds",
        "MergeFailures",
        "PartitionsRegistered",
    ] {
        assert!(names.contains(expected), "{expected} not found in {read:?}");
    }

    let constants = metric_constants();
    let known: BTreeSet<&str> = dmslake::metrics::ALL.iter().copied().collect();
    assert_eq!(
        constants
            .values()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        known,
        "metrics::ALL lists exactly the name constants"
    );

    let mut emitted = BTreeSet::new();
    for (file, arg) in emit_arguments() {
        assert!(
            !arg.starts_with('"'),
            "{file}: metrics::emit({arg}, ...) names its metric with a literal; use a constant of shared/src/metrics.rs"
        );
        let ident = arg.rsplit("::").next().unwrap_or(&arg);
        let value = constants.get(ident).unwrap_or_else(|| {
            panic!("{file}: metrics::emit({arg}, ...) is not a metrics constant")
        });
        emitted.insert(value.clone());
    }
    let missing: Vec<_> = read
        .iter()
        .filter(|(_, name)| !emitted.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "template.yaml reads metrics nothing emits (resource, metric): {missing:?}; emitted: {emitted:?}"
    );
}
