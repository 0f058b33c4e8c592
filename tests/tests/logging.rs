//! Inside Lambda every log line is one Powertools-shaped JSON object: the request id from
//! `lambda_runtime`'s invoke span, `cold_start` true only for the process's first request, and
//! the event's fields as JSON values.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dmslake::logging::{self, PowertoolsLayer};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// A writer keeping every line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("lines").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }
}

fn invoke_span(request_id: &str) -> tracing::Span {
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = request_id.to_string();
    ctx.xray_trace_id = Some("Root=1-6743a5b2-0123456789abcdef01234567".to_string());
    lambda_runtime::layers::trace::request_span(&ctx)
}

#[test]
fn lambda_log_lines_carry_the_powertools_keys_at_top_level_and_fields_as_json_values() {
    let out = Captured::default();
    let layer = PowertoolsLayer::new("dms-task-watcher", out.clone())
        .with_function(Some("dmslake-DmsTaskWatcherFunction".into()), Some(256));
    let subscriber = tracing_subscriber::registry()
        .with(layer.with_filter(logging::filter(Some("INFO"), Some("trace"))));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("configuration read");
        invoke_span("req-1").in_scope(|| {
            let from: Option<String> = Some("running".into());
            let tables = vec![
                "public.orders".to_string(),
                "public.order_lines".to_string(),
            ];
            tracing::warn!(
                task = "arn:aws:dms:us-east-1:123456789012:task:T1",
                from = from.as_deref(),
                attempt = 2u32,
                lag_seconds = 12.5,
                resumed = true,
                tables = %logging::json(&tables),
                "task state transition"
            );
            tracing::debug!("below AWS_LAMBDA_LOG_LEVEL: not written");
        });
        invoke_span("req-2").in_scope(|| tracing::error!("second invocation"));
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");

    let line = &lines[1];
    let ts = line["timestamp"].as_str().expect("timestamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "RFC 3339 timestamp: {ts}"
    );
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["message"], "task state transition");
    assert_eq!(line["service"], "dms-task-watcher");
    assert_eq!(line["function_name"], "dmslake-DmsTaskWatcherFunction");
    assert_eq!(line["function_memory_size"], 256);
    assert_eq!(line["function_request_id"], "req-1");
    assert_eq!(
        line["xray_trace_id"],
        "Root=1-6743a5b2-0123456789abcdef01234567"
    );
    assert_eq!(line["cold_start"], true);
    assert_eq!(line["from"], "running", "not Some(\"running\"): {line}");
    assert_eq!(line["attempt"], 2);
    assert_eq!(line["lag_seconds"], 12.5);
    assert_eq!(line["resumed"], true);
    assert_eq!(
        line["tables"],
        serde_json::json!(["public.orders", "public.order_lines"])
    );
    for nested in ["fields", "span", "spans", "requestId"] {
        assert!(line.get(nested).is_none(), "{nested} in {line}");
    }

    // Before the first invocation: the cold start's init phase, no request id.
    assert_eq!(lines[0]["cold_start"], true);
    assert!(
        lines[0].get("function_request_id").is_none(),
        "{}",
        lines[0]
    );
    // The second request of the process is warm.
    assert_eq!(lines[2]["function_request_id"], "req-2");
    assert_eq!(lines[2]["cold_start"], false);
    assert_eq!(lines[2]["level"], "ERROR");
}
