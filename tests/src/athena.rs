//! Queries through the local Athena (`athena-local`, Athena's API executed on Trino), as a user
//! or a report would run them: `StartQueryExecution` in a workgroup, wait, then
//! `GetQueryResults` page by page.
//!
//! The endpoint is [`crate::athena_local_endpoint`].

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_athena::types::{ResultConfiguration, WorkGroupConfiguration};
use dmslake::athena::{request_token, Backoff, QueryOutcome, Runner};

/// Creates `name` with its query results under `output` (`s3://bucket/prefix/`), as the
/// template's workgroup; a workgroup that exists already is kept.
pub async fn create_workgroup(
    client: &aws_sdk_athena::Client,
    name: &str,
    output: &str,
) -> Result<()> {
    let out = client
        .create_work_group()
        .name(name)
        .configuration(
            WorkGroupConfiguration::builder()
                .result_configuration(
                    ResultConfiguration::builder()
                        .output_location(output)
                        .build(),
                )
                .enforce_work_group_configuration(true)
                .build(),
        )
        .send()
        .await;
    match out {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = e.into_service_error();
            if e.to_string().contains("already") || format!("{e:?}").contains("already exists") {
                Ok(())
            } else {
                Err(anyhow!(
                    "CreateWorkGroup {name} on the local Athena at {}: {e:?}",
                    crate::athena_local_endpoint()
                ))
            }
        }
    }
}

/// What a finished SELECT returned.
#[derive(Clone, Debug, Default)]
pub struct QueryResult {
    pub query_id: String,
    /// Column names and Athena types, in select order.
    pub columns: Vec<(String, String)>,
    /// Every row, each value as Athena's text of it (`None` for NULL).
    pub rows: Vec<Vec<Option<String>>>,
    pub scanned_bytes: i64,
}

/// Runs queries in one workgroup.
pub struct Athena {
    pub runner: Runner,
}

impl Athena {
    pub fn new(client: aws_sdk_athena::Client, workgroup: &str) -> Self {
        let mut runner = Runner::new(client, workgroup);
        runner.backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        Self { runner }
    }

    /// Runs `sql` (default database `database`), waits up to `timeout` and reads every result
    /// row. A failed query is an error with Athena's reason.
    pub async fn query(&self, sql: &str, database: &str, timeout: Duration) -> Result<QueryResult> {
        // One attempt of this statement: a token of its own (a repeated SELECT must run again).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            .to_string();
        let token = request_token(&[&nanos, &crate::unique_name("q", '-'), sql]);
        let outcome = self
            .runner
            .run(sql, Some(database), &token, Instant::now() + timeout)
            .await
            .with_context(|| format!("local Athena at {}", crate::athena_local_endpoint()))?;
        let (query_id, scanned_bytes) = match outcome {
            QueryOutcome::Succeeded {
                query_id,
                scanned_bytes,
            } => (query_id, scanned_bytes),
            QueryOutcome::Failed {
                query_id,
                state,
                reason,
            } => bail!("query {query_id} {state}: {reason}\n  {sql}"),
            QueryOutcome::TimedOut { query_id, state } => {
                bail!("query {query_id} still {state} after {timeout:?}\n  {sql}")
            }
        };
        let mut result = QueryResult {
            query_id: query_id.clone(),
            scanned_bytes,
            ..Default::default()
        };
        let mut token: Option<String> = None;
        let mut first_page = true;
        loop {
            let page = self
                .runner
                .client
                .get_query_results()
                .query_execution_id(&query_id)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| anyhow!("GetQueryResults {query_id}: {:?}", e.into_service_error()))?;
            let Some(set) = page.result_set() else {
                break;
            };
            if first_page {
                result.columns = set
                    .result_set_metadata()
                    .map(|m| {
                        m.column_info()
                            .iter()
                            .map(|c| (c.name().to_string(), c.r#type().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            let mut rows = set.rows().iter().map(|r| {
                r.data()
                    .iter()
                    .map(|d| d.var_char_value().map(str::to_string))
                    .collect::<Vec<_>>()
            });
            if first_page {
                // Athena's first page of a SELECT starts with the column names as a row.
                let header = rows.next();
                let names: Vec<Option<String>> = result
                    .columns
                    .iter()
                    .map(|(n, _)| Some(n.clone()))
                    .collect();
                if let Some(h) = header {
                    if h != names {
                        bail!("query {query_id}: the first row {h:?} is not the header {names:?}");
                    }
                }
            }
            result.rows.extend(rows);
            first_page = false;
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(result)
    }
}
