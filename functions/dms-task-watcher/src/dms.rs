//! Thin DMS adapter: describe a task (or a serverless replication), read its tables in error,
//! start / stop / resume / reload it. SDK types stay in this module.

use aws_sdk_databasemigration::error::ProvideErrorMetadata;
use aws_sdk_databasemigration::types::{
    Filter, Replication, ReplicationTask, StartReplicationTaskTypeValue,
};
use aws_sdk_databasemigration::Client;
use chrono::{DateTime, Utc};
use dmslake::dms_events::{ResourceKind, StopReason};

use crate::decide::{tables_from_mappings, LoadStats, TaskSnapshot};
use crate::WatcherError;

fn dms_error(
    op: &'static str,
    arn: &str,
    err: impl ProvideErrorMetadata + std::error::Error + 'static,
) -> WatcherError {
    let message = dmslake::aws_error::service_message(&err);
    WatcherError::Aws {
        service: "dms",
        operation: op,
        resource: arn.to_string(),
        message,
    }
}

fn filter(name: &str, arn: &str) -> Result<Filter, WatcherError> {
    Filter::builder()
        .name(name)
        .values(arn)
        .build()
        .map_err(|e| WatcherError::InvalidRequest(format!("DMS filter {name}={arn}: {e}")))
}

fn to_utc(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// [`LoadStats`] from a task's `ReplicationTaskStats` or a serverless replication's
/// `ReplicationStats`: two SDK types with the same accessors.
macro_rules! load_stats {
    ($s:expr) => {
        LoadStats {
            full_load_progress_percent: $s.full_load_progress_percent(),
            tables_loaded: $s.tables_loaded(),
            tables_loading: $s.tables_loading(),
            tables_queued: $s.tables_queued(),
            tables_errored: $s.tables_errored(),
            fresh_start: to_utc($s.fresh_start_date()),
            full_load_start: to_utc($s.full_load_start_date()),
            full_load_finish: to_utc($s.full_load_finish_date()),
        }
    };
}

fn task_status(task: Option<&ReplicationTask>) -> String {
    task.and_then(|t| t.status())
        .unwrap_or_default()
        .to_string()
}

fn replication_status(rep: Option<&Replication>) -> String {
    rep.and_then(|r| r.status()).unwrap_or_default().to_string()
}

/// Describes one task or serverless replication; `Ok(None)` when DMS does not know it.
pub async fn describe(dms: &Client, arn: &str) -> Result<Option<TaskSnapshot>, WatcherError> {
    match ResourceKind::of_arn(arn) {
        Some(ResourceKind::ReplicationConfig) => describe_replication(dms, arn).await,
        _ => describe_task(dms, arn).await,
    }
}

async fn describe_task(dms: &Client, arn: &str) -> Result<Option<TaskSnapshot>, WatcherError> {
    let out = match dms
        .describe_replication_tasks()
        .filters(filter("replication-task-arn", arn)?)
        .send()
        .await
    {
        Ok(out) => out,
        Err(err) => {
            let service = err.into_service_error();
            if service.is_resource_not_found_fault() {
                return Ok(None);
            }
            return Err(dms_error("DescribeReplicationTasks", arn, service));
        }
    };
    let Some(task) = out
        .replication_tasks()
        .iter()
        .find(|t| t.replication_task_arn() == Some(arn))
    else {
        return Ok(None);
    };
    let stats = task.replication_task_stats().map(|s| load_stats!(s));
    Ok(Some(TaskSnapshot {
        arn: arn.to_string(),
        identifier: task
            .replication_task_identifier()
            .unwrap_or_default()
            .to_string(),
        status: task.status().unwrap_or_default().to_string(),
        migration_type: task.migration_type().map(|m| m.as_str().to_string()),
        stop_reason: task.stop_reason().and_then(StopReason::parse),
        last_failure_message: task
            .last_failure_message()
            .filter(|m| !m.trim().is_empty())
            .map(str::to_string),
        stats,
        tables: task
            .table_mappings()
            .map(tables_from_mappings)
            .unwrap_or_default(),
    }))
}

async fn describe_replication(
    dms: &Client,
    arn: &str,
) -> Result<Option<TaskSnapshot>, WatcherError> {
    let out = dms
        .describe_replications()
        .filters(filter("replication-config-arn", arn)?)
        .send()
        .await
        .map_err(|e| dms_error("DescribeReplications", arn, e.into_service_error()))?;
    let Some(rep) = out
        .replications()
        .iter()
        .find(|r| r.replication_config_arn() == Some(arn))
    else {
        return Ok(None);
    };
    let stats = rep.replication_stats().map(|s| load_stats!(s));
    // Serverless statuses are words like "running", "failed", "stopped".
    Ok(Some(TaskSnapshot {
        arn: arn.to_string(),
        identifier: rep
            .replication_config_identifier()
            .unwrap_or_default()
            .to_string(),
        status: rep.status().unwrap_or_default().to_ascii_lowercase(),
        migration_type: rep.replication_type().map(|m| m.as_str().to_string()),
        stop_reason: rep.stop_reason().and_then(StopReason::parse),
        last_failure_message: (!rep.failure_messages().is_empty())
            .then(|| rep.failure_messages().join("; ")),
        stats,
        tables: Vec::new(),
    }))
}

/// Tables in error (`TableState` "Table error"), or `None` when DMS does not answer
/// DescribeTableStatistics (it is optional information: the alert says so instead).
pub async fn tables_in_error(dms: &Client, arn: &str) -> Option<Vec<String>> {
    if ResourceKind::of_arn(arn) != Some(ResourceKind::Task) {
        return None;
    }
    let mut tables = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = match dms
            .describe_table_statistics()
            .replication_task_arn(arn)
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => {
                tracing::warn!(task = arn, error = %dms_error("DescribeTableStatistics", arn, err.into_service_error()), "table statistics unavailable");
                return None;
            }
        };
        for t in out.table_statistics() {
            let errored = t
                .table_state()
                .is_some_and(|s| s.to_ascii_lowercase().contains("error"));
            if errored {
                tables.push(format!(
                    "{}.{}",
                    t.schema_name().unwrap_or_default(),
                    t.table_name().unwrap_or_default()
                ));
            }
        }
        marker = out.marker().map(str::to_string).filter(|m| !m.is_empty());
        if marker.is_none() {
            return Some(tables);
        }
    }
}

/// The operations an operator (or the restart policy) runs on a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskCommand {
    /// `start-replication`.
    Start,
    /// `resume-processing`.
    Resume,
    /// `reload-target`: a new full load.
    Reload,
    Stop,
}

impl TaskCommand {
    fn start_type(self) -> Option<(StartReplicationTaskTypeValue, &'static str)> {
        match self {
            Self::Start => Some((
                StartReplicationTaskTypeValue::StartReplication,
                "start-replication",
            )),
            Self::Resume => Some((
                StartReplicationTaskTypeValue::ResumeProcessing,
                "resume-processing",
            )),
            Self::Reload => Some((StartReplicationTaskTypeValue::ReloadTarget, "reload-target")),
            Self::Stop => None,
        }
    }
}

/// Runs a command; returns the status DMS reports afterwards.
pub async fn run(dms: &Client, arn: &str, command: TaskCommand) -> Result<String, WatcherError> {
    let serverless = ResourceKind::of_arn(arn) == Some(ResourceKind::ReplicationConfig);
    match (command.start_type(), serverless) {
        (Some((kind, _)), false) => dms
            .start_replication_task()
            .replication_task_arn(arn)
            .start_replication_task_type(kind)
            .send()
            .await
            .map(|o| task_status(o.replication_task()))
            .map_err(|e| dms_error("StartReplicationTask", arn, e.into_service_error())),
        (Some((_, kind)), true) => dms
            .start_replication()
            .replication_config_arn(arn)
            .start_replication_type(kind)
            .send()
            .await
            .map(|o| replication_status(o.replication()))
            .map_err(|e| dms_error("StartReplication", arn, e.into_service_error())),
        (None, false) => dms
            .stop_replication_task()
            .replication_task_arn(arn)
            .send()
            .await
            .map(|o| task_status(o.replication_task()))
            .map_err(|e| dms_error("StopReplicationTask", arn, e.into_service_error())),
        (None, true) => dms
            .stop_replication()
            .replication_config_arn(arn)
            .send()
            .await
            .map(|o| replication_status(o.replication()))
            .map_err(|e| dms_error("StopReplication", arn, e.into_service_error())),
    }
}

/// The replication instance a task runs on (for instance alerts).
pub async fn instance_of(dms: &Client, arn: &str) -> Option<String> {
    if ResourceKind::of_arn(arn) != Some(ResourceKind::Task) {
        return None;
    }
    let out = dms
        .describe_replication_tasks()
        .filters(filter("replication-task-arn", arn).ok()?)
        .send()
        .await
        .ok()?;
    out.replication_tasks()
        .iter()
        .find(|t| t.replication_task_arn() == Some(arn))
        .and_then(|t| t.replication_instance_arn())
        .map(str::to_string)
}
