//! Athena query runner: start in a workgroup, poll with backoff, respect the deadline.
//!
//! `StartQueryExecution` carries the caller's `ClientRequestToken`: Athena answers a start whose
//! token it has seen with the execution it already created and runs nothing (API reference:
//! StartQueryExecution). The token must therefore name one attempt of one statement (the
//! compactor: its run's lock owner plus the statement), never the statement alone: a
//! statement text that repeats in a later run would otherwise return the earlier run's
//! execution, finished or failed, without running. Polling stops at the caller's deadline (the Lambda's
//! remaining time minus a margin): the query keeps running in Athena, the outcome is
//! [`QueryOutcome::TimedOut`], and the caller must leave its watermark untouched.

use std::time::{Duration, Instant};

use aws_sdk_athena::error::ProvideErrorMetadata;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};

#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    #[error("athena {operation} failed: {message}")]
    Api {
        operation: &'static str,
        /// The service's error code (`InvalidRequestException`, ...), when it sent one.
        code: Option<String>,
        message: String,
    },
    #[error("athena {operation}: response without {field}")]
    Incomplete {
        operation: &'static str,
        field: &'static str,
    },
}

/// What a query came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryOutcome {
    Succeeded {
        query_id: String,
        scanned_bytes: i64,
    },
    /// FAILED or CANCELLED, with Athena's state-change reason.
    Failed {
        query_id: String,
        state: String,
        reason: String,
    },
    /// Still QUEUED/RUNNING when the deadline came; the query was left running.
    TimedOut { query_id: String, state: String },
}

/// One poll's verdict (pure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Wait,
    Succeeded,
    Failed { state: String, reason: String },
}

/// Evaluates a `GetQueryExecution` status: state name and state-change reason.
pub fn evaluate(state: &str, reason: Option<&str>) -> Step {
    match state {
        "SUCCEEDED" => Step::Succeeded,
        "FAILED" | "CANCELLED" => Step::Failed {
            state: state.to_string(),
            reason: reason
                .filter(|r| !r.is_empty())
                .unwrap_or("no reason given")
                .to_string(),
        },
        // QUEUED, RUNNING, and any state added later: keep waiting until the deadline.
        _ => Step::Wait,
    }
}

/// Poll intervals: `initial`, multiplied by 2 up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before poll number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// A `ClientRequestToken` (Athena: 32-128 characters) hashed from `parts`: the same parts give
/// the same token, so a retried start is deduplicated by Athena. The parts must identify the
/// attempt (e.g. a run id and the statement), not only the statement.
pub fn request_token(parts: &[&str]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3 ^ 0x2000);
        }
    }
    format!("dmslake-{a:016x}{b:016x}")
}

fn api_error(
    operation: &'static str,
    err: impl ProvideErrorMetadata + std::error::Error + 'static,
) -> AthenaError {
    let message = crate::aws_error::service_message(&err);
    AthenaError::Api {
        operation,
        code: err.code().map(str::to_string),
        message,
    }
}

impl AthenaError {
    /// Athena does not know the query id: `GetQueryExecution` answers `InvalidRequestException`
    /// for an id it never issued, or whose history it no longer keeps (45 days; "Viewing
    /// recent queries", Athena user guide).
    pub fn is_unknown_query(&self) -> bool {
        matches!(self, Self::Api { operation: "GetQueryExecution", code: Some(code), .. }
            if code == "InvalidRequestException")
    }
}

/// Runs one statement in `workgroup` and waits for it until `deadline`.
pub struct Runner {
    pub client: aws_sdk_athena::Client,
    pub workgroup: String,
    pub backoff: Backoff,
}

impl Runner {
    pub fn new(client: aws_sdk_athena::Client, workgroup: impl Into<String>) -> Self {
        Self {
            client,
            workgroup: workgroup.into(),
            backoff: Backoff::default(),
        }
    }

    /// Starts the query (idempotently, with `token`) and returns its id.
    pub async fn start(
        &self,
        sql: &str,
        database: Option<&str>,
        token: &str,
    ) -> Result<String, AthenaError> {
        let mut req = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.workgroup)
            .client_request_token(token);
        if let Some(db) = database {
            req =
                req.query_execution_context(QueryExecutionContext::builder().database(db).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error("StartQueryExecution", e.into_service_error()))?;
        out.query_execution_id()
            .map(str::to_string)
            .ok_or(AthenaError::Incomplete {
                operation: "StartQueryExecution",
                field: "QueryExecutionId",
            })
    }

    /// Polls `query_id` with backoff until it ends or `deadline` passes.
    pub async fn wait(
        &self,
        query_id: &str,
        deadline: Instant,
    ) -> Result<QueryOutcome, AthenaError> {
        let mut attempt = 0u32;
        loop {
            let out = self
                .client
                .get_query_execution()
                .query_execution_id(query_id)
                .send()
                .await
                .map_err(|e| api_error("GetQueryExecution", e.into_service_error()))?;
            let exec = out.query_execution();
            let status = exec.and_then(|e| e.status());
            let state = status
                .and_then(|s| s.state())
                .map(QueryExecutionState::as_str)
                .unwrap_or("UNKNOWN")
                .to_string();
            let reason = status.and_then(|s| s.state_change_reason());
            match evaluate(&state, reason) {
                Step::Succeeded => {
                    let scanned_bytes = exec
                        .and_then(|e| e.statistics())
                        .and_then(|s| s.data_scanned_in_bytes())
                        .unwrap_or(0);
                    tracing::info!(query_id, scanned_bytes, "athena query succeeded");
                    return Ok(QueryOutcome::Succeeded {
                        query_id: query_id.to_string(),
                        scanned_bytes,
                    });
                }
                Step::Failed { state, reason } => {
                    tracing::warn!(query_id, state, reason, "athena query failed");
                    return Ok(QueryOutcome::Failed {
                        query_id: query_id.to_string(),
                        state,
                        reason,
                    });
                }
                Step::Wait => {}
            }
            let delay = self.backoff.delay(attempt);
            attempt += 1;
            let now = Instant::now();
            if now + delay >= deadline {
                tracing::warn!(query_id, state, "deadline reached; query left running");
                return Ok(QueryOutcome::TimedOut {
                    query_id: query_id.to_string(),
                    state,
                });
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// Starts and waits.
    pub async fn run(
        &self,
        sql: &str,
        database: Option<&str>,
        token: &str,
        deadline: Instant,
    ) -> Result<QueryOutcome, AthenaError> {
        let id = self.start(sql, database, token).await?;
        tracing::info!(
            query_id = id,
            workgroup = self.workgroup,
            "athena query started"
        );
        self.wait(&id, deadline).await
    }

    /// The first column of the first data row of a finished query (`GetQueryResults`: the
    /// first row of a `SELECT`'s result set is its header); `None` for no row or a NULL.
    pub async fn first_value(&self, query_id: &str) -> Result<Option<String>, AthenaError> {
        let out = self
            .client
            .get_query_results()
            .query_execution_id(query_id)
            .max_results(2)
            .send()
            .await
            .map_err(|e| api_error("GetQueryResults", e.into_service_error()))?;
        let rows = out.result_set().map(|r| r.rows()).unwrap_or_default();
        Ok(rows
            .get(1)
            .and_then(|row| row.data().first())
            .and_then(|datum| datum.var_char_value())
            .map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_steps_with_the_reason() {
        assert_eq!(evaluate("SUCCEEDED", None), Step::Succeeded);
        assert_eq!(evaluate("QUEUED", None), Step::Wait);
        assert_eq!(evaluate("RUNNING", Some("x")), Step::Wait);
        assert_eq!(
            evaluate("FAILED", Some("ICEBERG_COMMIT_ERROR: conflict")),
            Step::Failed {
                state: "FAILED".into(),
                reason: "ICEBERG_COMMIT_ERROR: conflict".into()
            }
        );
        assert_eq!(
            evaluate("CANCELLED", Some("")),
            Step::Failed {
                state: "CANCELLED".into(),
                reason: "no reason given".into()
            }
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let got: Vec<u128> = (0..6).map(|i| b.delay(i).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(500), Duration::from_secs(1));
    }

    #[test]
    fn request_tokens_are_stable_distinct_and_within_athena_limits() {
        let a = request_token(&["t", "select 1"]);
        assert_eq!(a, request_token(&["t", "select 1"]));
        assert_ne!(a, request_token(&["t", "select 2"]));
        assert_ne!(request_token(&["ab", "c"]), request_token(&["a", "bc"]));
        assert!((32..=128).contains(&a.len()), "{a}");
    }
}
