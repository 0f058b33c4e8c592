//! Orchestration: decode the payload into a [`Request`] (a DMS event, the scheduled health
//! check or a manual request; [`crate::event`]), observe the task, decide (pure), store the
//! record, act, and report a typed [`Outcome`].
//!
//! Nothing that arrives from EventBridge turns into an error: an unknown, foreign or malformed
//! event is logged once and ignored, so a bad event never becomes a retry loop. Only a manual
//! request can be refused (`InvalidInput`).

use aws_config::SdkConfig;
use chrono::Utc;
use dmslake::dms_events::{arn_resource_id, DmsEvent, DmsEventKind};
use dmslake::metrics::{self, Unit};
use dmslake::state::StateStore;
use serde::Serialize;
use serde_json::Value;

use crate::adapters;
use crate::config::WatcherConfig;
use crate::decide::{self, Action, Alert, DecisionInput, Observation, TaskSnapshot, Trigger};
use crate::dms::{self, TaskCommand};
use crate::event::Request;
use crate::state::{self, TaskRecord};
use crate::WatcherError;

/// Clients and configuration, built once per execution environment.
#[derive(Clone, Debug)]
pub struct Deps {
    pub dms: aws_sdk_databasemigration::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub config: WatcherConfig,
    pub store: StateStore,
}

impl Deps {
    /// Builds the clients from an explicit SDK configuration (tests point it at the emulator).
    pub fn with_config(sdk: &SdkConfig, config: WatcherConfig) -> Self {
        // The four clients the watcher calls, and no others.
        let s3 = dmslake::clients::s3_client(sdk);
        let store = StateStore::new(s3.clone(), config.state.clone());
        Self {
            dms: aws_sdk_databasemigration::Client::new(sdk),
            s3,
            sns: aws_sdk_sns::Client::new(sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(sdk),
            config,
            store,
        }
    }

    /// Reads the environment contract and the SDK configuration once.
    pub async fn from_env() -> Result<Self, dmslake::config::ConfigError> {
        let config = WatcherConfig::from_env()?;
        Ok(Self::with_config(
            &dmslake::clients::load_sdk_config().await,
            config,
        ))
    }
}

/// What one invocation did.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Logged once and ignored (foreign, unknown, malformed, unwatched or informational).
    Ignored { reason: String },
    /// One report per task looked at.
    Handled { tasks: Vec<TaskReport> },
    /// The answer to `{"action": "status"}`.
    Status { tasks: Vec<TaskStatus> },
}

impl Outcome {
    /// The reports of a `Handled` outcome (empty otherwise).
    pub fn reports(&self) -> &[TaskReport] {
        match self {
            Self::Handled { tasks } => tasks,
            _ => &[],
        }
    }
}

/// What was done for one task.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TaskReport {
    pub task_arn: String,
    /// Live DMS status when it was described.
    pub status: Option<String>,
    /// The observation repeated one already handled (duplicate delivery).
    pub duplicate: bool,
    pub done: Vec<Done>,
    /// Steps that failed (logged too); the rest still ran.
    pub errors: Vec<String>,
}

impl TaskReport {
    fn new(task_arn: &str) -> Self {
        Self {
            task_arn: task_arn.to_string(),
            ..Self::default()
        }
    }

    pub fn alerts(&self) -> usize {
        self.done
            .iter()
            .filter(|d| matches!(d, Done::Alerted { .. }))
            .count()
    }

    pub fn resumes(&self) -> usize {
        self.done
            .iter()
            .filter(|d| matches!(d, Done::Resumed { .. }))
            .count()
    }

    pub fn baselines(&self) -> usize {
        self.done
            .iter()
            .filter(|d| matches!(d, Done::BaselineRequested { .. }))
            .count()
    }
}

/// One completed step.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "done", rename_all = "snake_case")]
pub enum Done {
    Recorded {
        from: Option<String>,
        to: String,
        cause: String,
    },
    Alerted {
        subject: String,
        message_id: String,
    },
    Resumed {
        attempt: u32,
        status: String,
    },
    BaselineRequested {
        load_id: String,
        tables: Vec<String>,
    },
    Commanded {
        command: String,
        status: String,
    },
}

/// A task's live state and recorded history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStatus {
    pub task_arn: String,
    pub live: Option<TaskSnapshot>,
    pub record: TaskRecord,
}

/// Handles one invocation payload: decodes it ([`Request::decode`]), then [`dispatch`]es it.
pub async fn handle(deps: &Deps, payload: Value) -> Result<Outcome, WatcherError> {
    dispatch(deps, Request::decode(payload)?).await
}

/// Handles one decoded request.
pub async fn dispatch(deps: &Deps, request: Request) -> Result<Outcome, WatcherError> {
    match request {
        Request::Dms(event) => on_event(deps, *event).await,
        Request::HealthCheck { scheduled } => {
            tracing::info!(
                scheduled = scheduled.map(|t| t.to_rfc3339()),
                "health check"
            );
            health_check(deps).await
        }
        Request::Status { task } => status(deps, task.as_deref()).await,
        Request::Command { command, task } => manual(deps, command, &task).await,
        Request::Ignored(err) => {
            let reason = dmslake::error::chain(&err);
            tracing::warn!(error = %reason, "event ignored");
            Ok(Outcome::Ignored { reason })
        }
    }
}

fn ignored(reason: String, event: &DmsEvent) -> Outcome {
    tracing::info!(resource = %event.resource_arn, event_id = event.event_id.as_deref(), event_type = event.event_type.as_deref(), "{reason}");
    Outcome::Ignored { reason }
}

async fn on_event(deps: &Deps, event: DmsEvent) -> Result<Outcome, WatcherError> {
    let arn = event.resource_arn.clone();
    let trigger = match &event.kind {
        DmsEventKind::Started => Trigger::Started,
        DmsEventKind::Stopped => Trigger::Stopped,
        DmsEventKind::Failed => Trigger::Failed,
        DmsEventKind::InstanceLowStorage | DmsEventKind::InstanceFailure => {
            let outcome = instance_alert(deps, &event).await;
            // An alert that could not be published is retried rather than lost.
            if let Some(lost) = outcome
                .reports()
                .iter()
                .find(|r| r.done.is_empty() && !r.errors.is_empty())
            {
                return Err(WatcherError::NothingDone {
                    resource: lost.task_arn.clone(),
                    errors: lost.errors.join("; "),
                });
            }
            return Ok(outcome);
        }
        DmsEventKind::Informational { event_type }
        | DmsEventKind::InstanceInformational { event_type } => {
            return Ok(ignored(
                format!("informational DMS event {event_type}: nothing to do"),
                &event,
            ))
        }
    };
    if !deps.config.watches(&arn) {
        return Ok(ignored(format!("{arn} is not a watched task"), &event));
    }
    let snapshot = describe_or_log(deps, &arn).await;
    let mut obs = Observation::new(trigger, "event");
    obs.envelope_id = Some(event.envelope_id.clone());
    obs.stop_reason = event.facts.stop_reason.clone();
    obs.last_error = event.facts.last_error.clone();
    obs.detail = event.detail_message.clone();
    obs.resource_link = event.resource_link.clone();
    if trigger != Trigger::Started {
        obs.tables_in_error = dms::tables_in_error(&deps.dms, &arn).await;
    }
    // A record that cannot be stored fails the invocation: nothing was done yet, and Lambda's
    // asynchronous retries (then the on-failure destination) take the event again.
    let report = process(deps, &arn, Some(obs), snapshot.as_ref(), None).await?;
    Ok(Outcome::Handled {
        tasks: vec![report],
    })
}

async fn describe_or_log(deps: &Deps, arn: &str) -> Option<TaskSnapshot> {
    match dms::describe(&deps.dms, arn).await {
        Ok(snap) => snap,
        Err(err) => {
            tracing::warn!(task = arn, error = %err, "cannot describe the task; deciding from the event alone");
            None
        }
    }
}

/// Low storage or failure of a replication instance that runs a watched task.
async fn instance_alert(deps: &Deps, event: &DmsEvent) -> Outcome {
    let instance = &event.resource_arn;
    let mut affected = Vec::new();
    for task in &deps.config.watched {
        if dms::instance_of(&deps.dms, task).await.as_deref() == Some(instance.as_str()) {
            affected.push(task.clone());
        }
    }
    if affected.is_empty() {
        return ignored(
            format!("replication instance {instance} runs no watched task"),
            event,
        );
    }
    let what = match event.kind {
        DmsEventKind::InstanceLowStorage => "is low on storage (more than 90% used)",
        _ => "has failed",
    };
    let name = arn_resource_id(instance);
    let alert = Alert {
        subject: format!("dmslake: DMS replication instance {name} {what}")
            .chars()
            .take(100)
            .collect(),
        message: [
            format!("DMS replication instance {name} {what}."),
            format!("Instance ARN: {instance}"),
            format!(
                "Event: {} {}",
                event.event_id.as_deref().unwrap_or("-"),
                event.detail_message.as_deref().unwrap_or("")
            ),
            format!("Watched tasks on it: {}", affected.join(", ")),
            format!(
                "Console: {}",
                event.resource_link.clone().unwrap_or_else(|| format!(
                    "https://console.aws.amazon.com/dms/v2/home?region={}#replicationInstances",
                    event.region.as_deref().unwrap_or("us-east-1")
                ))
            ),
            "Low storage: increase the instance's allocated storage or reduce swap (large transactions, LOB settings) before tasks stop.".to_string(),
        ]
        .join("\n"),
    };
    let mut report = TaskReport::new(instance);
    send_alert(deps, &alert, &mut report).await;
    Outcome::Handled {
        tasks: vec![report],
    }
}

async fn send_alert(deps: &Deps, alert: &Alert, report: &mut TaskReport) {
    match adapters::publish_alert(&deps.sns, &deps.config.alert_topic_arn, alert).await {
        Ok(message_id) => {
            tracing::warn!(task = %report.task_arn, subject = %alert.subject, message_id = %message_id, "alert published");
            metrics::emit(
                metrics::TASK_ALERTS,
                1.0,
                Unit::Count,
                &[("Task", arn_resource_id(&report.task_arn))],
            );
            report.done.push(Done::Alerted {
                subject: alert.subject.clone(),
                message_id,
            });
        }
        Err(err) => {
            tracing::error!(task = %report.task_arn, error = %err, subject = %alert.subject, "alert not published");
            report.errors.push(err.to_string());
        }
    }
}

/// Decide under the stored record (conditional write first, so a restart attempt is counted
/// durably before it is made), then act. `Err` when the record could not be stored: then
/// nothing was done.
async fn process(
    deps: &Deps,
    arn: &str,
    observation: Option<Observation>,
    snapshot: Option<&TaskSnapshot>,
    files: Option<decide::Activity>,
) -> Result<TaskReport, WatcherError> {
    let mut report = TaskReport::new(arn);
    report.status = snapshot.map(|s| s.status.clone());
    let input = DecisionInput {
        observation,
        snapshot,
        files,
        now: Utc::now(),
    };
    let policy = deps.config.policy.clone();
    let decided = state::update(&deps.store, arn, |rec| {
        let d = decide::decide(&input, rec, &policy);
        *rec = d.record;
        (d.actions, d.duplicate, d.failure)
    })
    .await;
    let (actions, duplicate, failure) = match decided {
        Ok((_, result)) => result,
        Err(source) => {
            tracing::error!(task = arn, error = %source, "task record not stored; nothing done");
            return Err(WatcherError::NotStored {
                task: arn.to_string(),
                source,
            });
        }
    };
    if duplicate {
        tracing::info!(task = arn, "duplicate event delivery ignored");
        report.duplicate = true;
        return Ok(report);
    }
    if failure {
        metrics::emit(
            metrics::TASK_FAILED,
            1.0,
            Unit::Count,
            &[("Task", arn_resource_id(arn))],
        );
    }
    for action in actions {
        match action {
            Action::Record { transition } => {
                record_transition(
                    arn,
                    &transition.from,
                    &transition.to,
                    &transition.cause,
                    transition.detail.as_deref(),
                );
                report.done.push(Done::Recorded {
                    from: transition.from,
                    to: transition.to,
                    cause: transition.cause,
                });
            }
            Action::Alert { alert } => send_alert(deps, &alert, &mut report).await,
            Action::Resume { attempt } => match dms::run(&deps.dms, arn, TaskCommand::Resume).await
            {
                Ok(status) => {
                    tracing::warn!(task = arn, attempt, status = %status, "task resumed with resume-processing");
                    metrics::emit(
                        metrics::TASK_AUTO_RESUMED,
                        1.0,
                        Unit::Count,
                        &[("Task", arn_resource_id(arn))],
                    );
                    report.done.push(Done::Resumed { attempt, status });
                }
                Err(err) => {
                    tracing::error!(task = arn, attempt, error = %err, "resume failed");
                    report.errors.push(err.to_string());
                }
            },
            Action::RequestBaseline { load_id, tables } => {
                match adapters::request_baseline(
                    &deps.eventbridge,
                    &deps.config.event_bus,
                    arn,
                    &tables,
                )
                .await
                {
                    Ok(()) => {
                        tracing::info!(task = arn, load_id = %load_id, tables = %dmslake::logging::json(&tables), "compactor baseline requested");
                        metrics::emit(
                            metrics::BASELINE_REQUESTED,
                            1.0,
                            Unit::Count,
                            &[("Task", arn_resource_id(arn))],
                        );
                        report
                            .done
                            .push(Done::BaselineRequested { load_id, tables });
                    }
                    Err(err) => {
                        tracing::error!(task = arn, load_id = %load_id, error = %err, "baseline request failed; the next check retries it");
                        report.errors.push(err.to_string());
                        let undo = state::update(&deps.store, arn, |rec| {
                            if rec.baseline_load_id.as_deref() == Some(load_id.as_str()) {
                                rec.baseline_load_id = None;
                            }
                        })
                        .await;
                        if let Err(e) = undo {
                            report.errors.push(e.to_string());
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

fn record_transition(
    arn: &str,
    from: &Option<String>,
    to: &str,
    cause: &str,
    detail: Option<&str>,
) {
    tracing::info!(
        task = arn,
        from = from.as_deref(),
        to,
        cause,
        detail,
        "task state transition"
    );
    metrics::emit(
        metrics::TASK_STATE_TRANSITION,
        1.0,
        Unit::Count,
        &[("Task", arn_resource_id(arn)), ("State", to)],
    );
}

/// The scheduled health check: every watched task is described and treated as if the
/// event matching its live state had arrived when the record says otherwise; running tasks
/// are also checked for a finished full load and for new files. A task DMS no longer has is
/// alerted once and the others are still checked. A task whose record could not be stored
/// fails the invocation, after every other task was checked.
pub async fn health_check(deps: &Deps) -> Result<Outcome, WatcherError> {
    let mut reports = Vec::new();
    let mut not_stored = None;
    // Every watched task writes to the same data bucket: its freshness is listed once per
    // check, when the first running task needs it.
    let mut freshness = None;
    for arn in &deps.config.watched {
        match check_task(deps, arn, &mut freshness).await {
            Ok(report) => reports.push(report),
            Err(err) => {
                tracing::error!(task = %arn, error = %err, "health check of this task not recorded");
                not_stored.get_or_insert(err);
            }
        }
    }
    match not_stored {
        Some(err) => Err(err),
        None => Ok(Outcome::Handled { tasks: reports }),
    }
}

/// A watched task DMS does not know (deleted, or a wrong ARN in the configuration): recorded,
/// and alerted once until it is seen again.
async fn missing_task(deps: &Deps, arn: &str) -> Result<TaskReport, WatcherError> {
    let now = Utc::now();
    tracing::error!(task = arn, "watched task not found in DMS");
    let mut report = TaskReport::new(arn);
    report.errors.push(format!("{arn}: not found in DMS"));
    let (_, alert) = state::update(&deps.store, arn, |rec| decide::missing(rec, now))
        .await
        .map_err(|source| WatcherError::NotStored {
            task: arn.to_string(),
            source,
        })?;
    if let Some(alert) = alert {
        send_alert(deps, &alert, &mut report).await;
    }
    Ok(report)
}

/// The data bucket's activity since `now - stale_after`; `None` when the listing failed
/// (logged: the check is then skipped, not failed).
async fn freshness(deps: &Deps, bucket: &str) -> Option<decide::Activity> {
    let cutoff = Utc::now() - deps.config.policy.stale_after;
    match adapters::activity_since(&deps.s3, bucket, &deps.config.layout, cutoff).await {
        Ok(scan) => {
            tracing::info!(
                bucket = %bucket,
                activity = %dmslake::logging::json(&scan.activity),
                keys_examined = scan.keys_examined,
                list_calls = scan.list_calls,
                bounded = scan.bounded,
                "freshness check"
            );
            Some(scan.activity)
        }
        Err(err) => {
            tracing::warn!(bucket = %bucket, error = %err, "freshness check skipped");
            None
        }
    }
}

async fn check_task(
    deps: &Deps,
    arn: &str,
    freshness_of_bucket: &mut Option<Option<decide::Activity>>,
) -> Result<TaskReport, WatcherError> {
    let snapshot = match dms::describe(&deps.dms, arn).await {
        Ok(Some(s)) => s,
        Ok(None) => return missing_task(deps, arn).await,
        Err(err) => {
            tracing::error!(task = arn, error = %err, "health check cannot describe the task");
            let mut r = TaskReport::new(arn);
            r.errors.push(err.to_string());
            return Ok(r);
        }
    };
    let record = match state::load(&deps.store, arn).await {
        Ok((r, _)) => r,
        Err(err) => {
            tracing::error!(task = arn, error = %err, "health check cannot read the task record");
            let mut r = TaskReport::new(arn);
            r.errors.push(err.to_string());
            return Ok(r);
        }
    };
    let observation = match decide::drift(&snapshot, &record) {
        Some(trigger) => {
            tracing::warn!(task = arn, status = %snapshot.status, recorded = record.last_state.as_deref(), "live state differs from the last event seen");
            let mut obs = Observation::new(trigger, "health_check");
            if trigger != Trigger::Started {
                obs.tables_in_error = dms::tables_in_error(&deps.dms, arn).await;
            }
            Some(obs)
        }
        None => None,
    };
    let files = match (&deps.config.data_bucket, snapshot.status.as_str()) {
        (Some(bucket), "running") => match freshness_of_bucket {
            Some(known) => known.clone(),
            None => freshness_of_bucket
                .insert(freshness(deps, bucket).await)
                .clone(),
        },
        _ => None,
    };
    process(deps, arn, observation, Some(&snapshot), files).await
}

/// Resolves a manual request's `task` (an ARN or the id at its end) to a watched ARN.
fn resolve_task(config: &WatcherConfig, task: &str) -> Result<String, WatcherError> {
    config
        .watched
        .iter()
        .find(|w| w.as_str() == task || arn_resource_id(w) == task)
        .cloned()
        .ok_or_else(|| {
            WatcherError::InvalidRequest(format!(
                "task {task:?} is not watched (DMSLAKE_WATCHED_TASKS: {})",
                config.watched.join(", ")
            ))
        })
}

/// Runs an operator's command on a watched task and records it.
async fn manual(deps: &Deps, command: TaskCommand, task: &str) -> Result<Outcome, WatcherError> {
    let arn = resolve_task(&deps.config, task)?;
    let status = dms::run(&deps.dms, &arn, command).await?;
    let (to, detail) = match command {
        TaskCommand::Stop => ("stopping", "stop requested by an operator"),
        TaskCommand::Start => ("starting", "start-replication requested by an operator"),
        TaskCommand::Resume => ("starting", "resume-processing requested by an operator"),
        TaskCommand::Reload => ("starting", "reload-target requested by an operator"),
    };
    let now = Utc::now();
    let (_, transition) = state::update(&deps.store, &arn, |rec| {
        match command {
            TaskCommand::Stop => rec.stop_requested_at = Some(now),
            // An operator's resume or reload is the decision the exhausted policy asked for.
            TaskCommand::Resume | TaskCommand::Reload => {
                rec.restarts.clear();
                rec.restarts_exhausted = false;
            }
            TaskCommand::Start => {}
        }
        rec.push_transition(now, to, "manual", Some(detail.to_string()))
    })
    .await?;
    record_transition(&arn, &transition.from, to, "manual", Some(detail));
    let mut report = TaskReport::new(&arn);
    report.status = Some(status.clone());
    report.done.push(Done::Commanded {
        command: command.action().to_string(),
        status,
    });
    report.done.push(Done::Recorded {
        from: transition.from,
        to: to.to_string(),
        cause: "manual".to_string(),
    });
    Ok(Outcome::Handled {
        tasks: vec![report],
    })
}

async fn status(deps: &Deps, task: Option<&str>) -> Result<Outcome, WatcherError> {
    let arns = match task {
        Some(t) => vec![resolve_task(&deps.config, t)?],
        None => deps.config.watched.clone(),
    };
    let mut tasks = Vec::new();
    for arn in arns {
        let live = describe_or_log(deps, &arn).await;
        let (record, _) = state::load(&deps.store, &arn).await?;
        tasks.push(TaskStatus {
            task_arn: arn,
            live,
            record,
        });
    }
    Ok(Outcome::Status { tasks })
}
