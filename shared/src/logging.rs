//! Structured logging: JSON lines inside Lambda (CloudWatch adds the timestamps),
//! compact human-readable lines on a terminal. `RUST_LOG` overrides the default `info`.

use tracing_subscriber::EnvFilter;

/// True when running inside the Lambda execution environment (or its local emulator).
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Installs the global tracing subscriber. Safe to call more than once (later calls are no-ops).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let result = if in_lambda() {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(false)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .compact()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init()
    };
    // An already-installed subscriber (tests, repeated init) is fine.
    let _ = result;
}
