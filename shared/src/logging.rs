//! Logs as Lambda users expect them, and errors printed as sentences.
//!
//! Inside Lambda every line is one JSON object shaped like Powertools for AWS Lambda's
//! structured logs: `timestamp` (RFC 3339, which Lambda's JSON log format reads),
//! `level`, `message`, `service`, `function_name`, `function_memory_size`,
//! `function_request_id`, `xray_trace_id` and `cold_start` at the top level, then the event's
//! own fields as JSON values (numbers, booleans, strings; lists and objects passed with
//! [`json`]). The request and trace ids come from the `Lambda runtime invoke` span that
//! `lambda_runtime` opens around each invocation (its `tracing` feature).
//!
//! The level follows Lambda's advanced logging controls the way `lambda_runtime`'s own
//! subscriber does: `AWS_LAMBDA_LOG_LEVEL` (set by Lambda from the function's
//! `ApplicationLogLevel`) wins, else `RUST_LOG`, else `INFO`; `RUST_LOG` directives for single
//! crates still apply. Lambda drops JSON lines above the configured level itself
//! (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>).
//!
//! On a terminal (the CLI, tests) lines are compact human-readable text on stderr.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Name of the span `lambda_runtime` opens around each invocation.
pub const INVOKE_SPAN: &str = "Lambda runtime invoke";

/// True when running inside the Lambda execution environment (or its local emulator).
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Installs the global subscriber once per process (later calls are no-ops): Powertools-shaped
/// JSON on stdout inside Lambda, compact text on stderr elsewhere. `service` names the
/// function (`POWERTOOLS_SERVICE_NAME` overrides it, as in Powertools).
pub fn init(service: &str) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let filter = filter(
        env("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        env("RUST_LOG").as_deref(),
    );
    // An already-installed subscriber (tests, repeated init) is fine.
    let _ = if in_lambda() {
        let service = env("POWERTOOLS_SERVICE_NAME").unwrap_or_else(|| service.to_string());
        tracing_subscriber::registry()
            .with(PowertoolsLayer::new(service, std::io::stdout).with_filter(filter))
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(std::io::stderr)
                    .with_target(false)
                    .with_filter(filter),
            )
            .try_init()
    };
}

/// The level filter: `AWS_LAMBDA_LOG_LEVEL` (TRACE, DEBUG, INFO, WARN, ERROR or FATAL, any
/// case; FATAL keeps errors only) takes precedence over the global level of `rust_log`;
/// `INFO` when neither gives one. Per-crate `RUST_LOG` directives are kept.
pub fn filter(aws_lambda_log_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let lambda_level = match aws_lambda_log_level.map(|l| l.trim().to_ascii_uppercase()) {
        Some(l) if l == "FATAL" => Some(LevelFilter::ERROR),
        Some(l) => l.parse::<LevelFilter>().ok(),
        None => None,
    };
    let directives: Vec<&str> = rust_log
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    // A bare level (`info`) is global; anything naming a target, span or field is not.
    let is_global = |d: &&str| !(d.contains('=') || d.contains('[') || d.contains(':'));
    let (global, level) = match lambda_level {
        Some(level) => (false, Some(level)),
        None if directives.iter().any(is_global) => (true, None),
        None => (false, Some(LevelFilter::INFO)),
    };
    let kept: Vec<&str> = directives
        .into_iter()
        .filter(|d| global || !is_global(d))
        .collect();
    let filter = EnvFilter::builder().parse_lossy(kept.join(","));
    match level {
        Some(level) => filter.add_directive(level.into()),
        None => filter,
    }
}

/// A field value logged as JSON (a list or an object rather than its `Debug` text):
/// `tracing::info!(tables = %logging::json(&tables), "...")`.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> JsonField {
    JsonField(
        serde_json::to_string(value)
            .unwrap_or_else(|e| format!("{{\"unserializable\":{:?}}}", e.to_string())),
    )
}

/// See [`json`]: its `Display` is the JSON text, which the Lambda formatter embeds as JSON.
pub struct JsonField(String);

impl fmt::Display for JsonField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for JsonField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An error a function met before it could serve (its configuration, at cold start),
/// printed as its sentence chain rather than as a `Debug` dump.
pub struct StartupError(String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for StartupError {}

/// Logs a cold-start failure as one error line and returns it for `main` to return, so the
/// function stops with a message naming what to fix:
/// `let config = Config::from_env().map_err(dmslake::logging::startup_error)?;`
pub fn startup_error<E: StdError + 'static>(err: E) -> Box<dyn StdError + Send + Sync> {
    let text = format!(
        "the function cannot start: {}; fix the function's configuration (its DMSLAKE_* environment)",
        crate::error::chain(&err)
    );
    tracing::error!(error_kind = "configuration", "{text}");
    Box::new(StartupError(text))
}

// ---------------------------------------------------------------------------------------
// The Powertools-shaped JSON layer.

/// The fields a span carries, kept in its extensions.
#[derive(Default)]
struct SpanFields {
    fields: Map<String, Value>,
    /// For the invoke span: was its request this process's first?
    cold_start: Option<bool>,
}

/// Writes each event as one Powertools-shaped JSON line to `writer`.
pub struct PowertoolsLayer<W> {
    service: String,
    function_name: Option<String>,
    memory_size: Option<u64>,
    writer: W,
    /// The request id of this process's first invocation: that one is the cold start.
    first_request: OnceLock<String>,
}

impl<W> PowertoolsLayer<W> {
    pub fn new(service: impl Into<String>, writer: W) -> Self {
        Self {
            service: service.into(),
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
            memory_size: std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .ok()
                .and_then(|m| m.parse().ok()),
            writer,
            first_request: OnceLock::new(),
        }
    }

    /// Names the function explicitly (instead of from `AWS_LAMBDA_FUNCTION_NAME` and
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub fn with_function(mut self, name: Option<String>, memory_size: Option<u64>) -> Self {
        self.function_name = name;
        self.memory_size = memory_size;
        self
    }
}

/// Turns recorded fields into JSON values.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_string(), value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(
            field,
            serde_json::Number::from_f64(value)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(value.to_string())),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn StdError + 'static)) {
        self.put(field, Value::String(crate::error::chain(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        // A list or an object given as JSON text ([`json`]) is embedded as JSON.
        let embedded = match text.as_bytes().first() {
            Some(b'[') | Some(b'{') => serde_json::from_str::<Value>(&text).ok(),
            _ => None,
        };
        self.put(field, embedded.unwrap_or(Value::String(text)));
    }
}

impl<S, W> Layer<S> for PowertoolsLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        attrs.record(&mut JsonVisitor(&mut fields.fields));
        if attrs.metadata().name() == INVOKE_SPAN {
            let request = fields
                .fields
                .get("requestId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let first = self.first_request.get_or_init(|| request.clone());
            fields.cold_start = Some(*first == request);
        }
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(&mut fields.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut own = Map::new();
        event.record(&mut JsonVisitor(&mut own));
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert(
            "level".into(),
            Value::String(level_name(*event.metadata().level())),
        );
        let message = match own.remove("message") {
            Some(Value::String(m)) => Value::String(m),
            Some(other) => Value::String(other.to_string()),
            None => Value::String(String::new()),
        };
        line.insert("message".into(), message);
        line.insert("service".into(), Value::String(self.service.clone()));
        if let Some(name) = &self.function_name {
            line.insert("function_name".into(), Value::String(name.clone()));
        }
        if let Some(memory) = self.memory_size {
            line.insert("function_memory_size".into(), Value::from(memory));
        }
        // Span fields, outermost first (inner spans override); the invoke span's ids become
        // the Powertools keys.
        let mut from_spans: BTreeMap<String, Value> = BTreeMap::new();
        let mut cold_start = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let ext = span.extensions();
                let Some(fields) = ext.get::<SpanFields>() else {
                    continue;
                };
                if span.name() == INVOKE_SPAN {
                    cold_start = fields.cold_start;
                    for (from, to) in [
                        ("requestId", "function_request_id"),
                        ("xrayTraceId", "xray_trace_id"),
                        ("tenantId", "tenant_id"),
                    ] {
                        if let Some(v) = fields.fields.get(from) {
                            line.insert(to.into(), v.clone());
                        }
                    }
                } else {
                    for (k, v) in &fields.fields {
                        from_spans.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        // Outside an invocation (the init phase) the process is starting cold.
        let cold = cold_start.unwrap_or(self.first_request.get().is_none());
        line.insert("cold_start".into(), Value::Bool(cold));
        for (k, v) in from_spans.into_iter().chain(own) {
            if !line.contains_key(&k) {
                line.insert(k, v);
            }
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let mut writer = self.writer.make_writer();
        let _ = writer.write_all(text.as_bytes());
    }
}

fn level_name(level: Level) -> String {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("DMSLAKE_RESTART_LIMIT=\"x\" is not valid")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the watcher configuration")]
    struct Outer(#[source] Inner);

    #[test]
    fn error_chain_reads_as_one_sentence_without_repeats() {
        assert_eq!(
            crate::error::chain(&Outer(Inner)),
            "reading the watcher configuration: DMSLAKE_RESTART_LIMIT=\"x\" is not valid"
        );
        #[derive(Debug, thiserror::Error)]
        #[error("outer: {0}")]
        struct Inline(#[source] Inner);
        assert_eq!(
            crate::error::chain(&Inline(Inner)),
            "outer: DMSLAKE_RESTART_LIMIT=\"x\" is not valid"
        );
        let startup = startup_error(Outer(Inner));
        assert_eq!(format!("{startup:?}"), startup.to_string());
        assert!(startup.to_string().starts_with(
            "the function cannot start: reading the watcher configuration: DMSLAKE_RESTART_LIMIT"
        ));
    }

    #[test]
    fn aws_lambda_log_level_wins_over_rust_log_and_fatal_means_errors() {
        let cases: &[(Option<&str>, Option<&str>, LevelFilter)] = &[
            (None, None, LevelFilter::INFO),
            (Some("DEBUG"), None, LevelFilter::DEBUG),
            (Some("warn"), Some("trace"), LevelFilter::WARN),
            (Some("FATAL"), None, LevelFilter::ERROR),
            (None, Some("debug"), LevelFilter::DEBUG),
            (Some("nonsense"), None, LevelFilter::INFO),
        ];
        for (aws, rust, want) in cases {
            assert_eq!(
                filter(*aws, *rust).max_level_hint(),
                Some(*want),
                "{aws:?} {rust:?}"
            );
        }
        // A crate's own directive stays; the global level is Lambda's.
        let f = filter(Some("ERROR"), Some("info,aws_smithy_runtime=debug"));
        let text = f.to_string();
        assert!(text.contains("aws_smithy_runtime=debug"), "{text}");
        assert!(text.contains("error"), "{text}");
        assert!(!text.contains("info"), "{text}");
    }
}
