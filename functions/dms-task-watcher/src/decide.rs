//! The pure core: an observation of a task (an event or a health check), its recorded state
//! and the policy decide the actions. No I/O, no SDK types.

use chrono::{DateTime, Utc};
use dmslake::dms_events::{arn_region, arn_resource_id, StopKind, StopReason};
use serde::Serialize;

use crate::config::Policy;
use crate::state::{FailureRecord, TaskRecord, Transition};

/// Full-load statistics (DescribeReplicationTasks `ReplicationTaskStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LoadStats {
    pub full_load_progress_percent: i32,
    pub tables_loaded: i32,
    pub tables_loading: i32,
    pub tables_queued: i32,
    pub tables_errored: i32,
    pub fresh_start: Option<DateTime<Utc>>,
    pub full_load_start: Option<DateTime<Utc>>,
    pub full_load_finish: Option<DateTime<Utc>>,
}

/// What DescribeReplicationTasks (or DescribeReplications) says about a task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TaskSnapshot {
    pub arn: String,
    pub identifier: String,
    /// DMS status: `running`, `stopped`, `failed`, `starting`, `creating`, `ready`...
    pub status: String,
    /// `full-load`, `cdc` or `full-load-and-cdc`.
    pub migration_type: Option<String>,
    pub stop_reason: Option<StopReason>,
    pub last_failure_message: Option<String>,
    pub stats: Option<LoadStats>,
    /// `schema.table` names selected by the table mappings; empty = every table.
    pub tables: Vec<String>,
}

/// What happened to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Started,
    Stopped,
    Failed,
}

/// An event, or a health check's finding treated exactly as that event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub trigger: Trigger,
    /// `event` or `health_check`.
    pub cause: &'static str,
    /// Envelope id of an event (duplicates are dropped); `None` for a health check.
    pub envelope_id: Option<String>,
    pub stop_reason: Option<StopReason>,
    pub last_error: Option<String>,
    /// Tables in error; `None` when table statistics could not be read.
    pub tables_in_error: Option<Vec<String>>,
    pub detail: Option<String>,
    /// The console link sent with the event, if any.
    pub resource_link: Option<String>,
}

impl Observation {
    pub fn new(trigger: Trigger, cause: &'static str) -> Self {
        Self {
            trigger,
            cause,
            envelope_id: None,
            stop_reason: None,
            last_error: None,
            tables_in_error: None,
            detail: None,
            resource_link: None,
        }
    }
}

/// What the freshness check found under the data bucket: the answer to "was any data file
/// written since `now - stale_after`?".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "files")]
pub enum Activity {
    /// A data file was written at `at`, at or after the cutoff: the task is writing.
    Recent { at: DateTime<Utc> },
    /// No data file was written since the cutoff. `newest`: the newest data file's time, when
    /// known. `listed_since`: files older than this were not listed (a bounded listing), so
    /// with `newest: None` there is none since that time; `None`: everything was listed.
    Quiet {
        newest: Option<DateTime<Utc>>,
        listed_since: Option<DateTime<Utc>>,
    },
}

/// Everything a decision looks at besides the record and the policy.
#[derive(Clone, Debug, Default)]
pub struct DecisionInput<'a> {
    pub observation: Option<Observation>,
    pub snapshot: Option<&'a TaskSnapshot>,
    /// The freshness check's finding; `None` = not checked.
    pub files: Option<Activity>,
    pub now: DateTime<Utc>,
}

/// What the automatic restart policy decided for a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "restart")]
pub enum RestartDecision {
    /// `DMSLAKE_AUTO_RESUME` is off.
    Disabled,
    /// Resume with `resume-processing`: attempt `attempt` of `limit` within the window.
    Resume {
        attempt: u32,
        limit: u32,
        window_minutes: i64,
    },
    /// The bound is reached: no more automatic restarts.
    Exhausted {
        restarts: u32,
        limit: u32,
        window_minutes: i64,
    },
}

/// Why a baseline is requested (the `reason` of the `Compaction Requested` detail).
pub const BASELINE_REASON: &str = "full_load_finished";

/// An alert for the SNS topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub subject: String,
    pub message: String,
}

/// One thing to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// A state transition to log and count (structured log + metric).
    Record {
        transition: Transition,
    },
    Alert {
        alert: Alert,
    },
    /// Restart the task with `resume-processing`.
    Resume {
        attempt: u32,
    },
    /// Put `Compaction Requested` on EventBridge for these tables (empty = all).
    RequestBaseline {
        load_id: String,
        tables: Vec<String>,
    },
}

/// The decision: actions plus the record to store before acting on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub actions: Vec<Action>,
    pub record: TaskRecord,
    /// The observation was a duplicate delivery and was dropped.
    pub duplicate: bool,
    /// The observation is a failure (failed, or stopped unexpectedly): counted in the
    /// `TaskFailed` metric the template's alarm reads.
    pub failure: bool,
}

/// The AWS console page of a task.
pub fn console_link(arn: &str, identifier: &str) -> String {
    let region = arn_region(arn).unwrap_or("us-east-1");
    let name = if identifier.is_empty() {
        arn_resource_id(arn)
    } else {
        identifier
    };
    format!("https://console.aws.amazon.com/dms/v2/home?region={region}#taskDetails/{name}")
}

/// The full load this task last finished, identified by its start time, when the statistics
/// say it is complete: progress 100%, nothing loading or queued, and a finish date or at
/// least one table loaded. A CDC-only task never has one. (DMS sends no event for this: see
/// CHAP_Monitoring.md, task status and table state; `ReplicationTaskStats` in the API
/// reference.)
pub fn finished_full_load(snapshot: &TaskSnapshot) -> Option<String> {
    if snapshot.migration_type.as_deref() == Some("cdc") {
        return None;
    }
    let stats = snapshot.stats.as_ref()?;
    let complete = stats.full_load_progress_percent >= 100
        && stats.tables_loading == 0
        && stats.tables_queued == 0
        && (stats.full_load_finish.is_some() || stats.tables_loaded > 0);
    if !complete {
        return None;
    }
    Some(load_id(stats))
}

fn load_id(stats: &LoadStats) -> String {
    stats
        .full_load_start
        .or(stats.fresh_start)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| "unknown-start".to_string())
}

/// The trigger a health check treats as having arrived: the task's live state differs from
/// the last recorded one and is a state dmslake acts on.
pub fn drift(snapshot: &TaskSnapshot, record: &TaskRecord) -> Option<Trigger> {
    let recorded = record.last_state.as_deref();
    let trigger = match snapshot.status.as_str() {
        "failed" => Trigger::Failed,
        "stopped" => Trigger::Stopped,
        "running" => Trigger::Started,
        _ => return None,
    };
    (recorded != Some(snapshot.status.as_str())).then_some(trigger)
}

/// Table names selected by a task's table mappings (CHAP_Tasks.CustomizingTasks.TableMapping):
/// `include` selection rules naming one schema and one table. A `%` wildcard in any include
/// rule means "every table": the list is then empty.
pub fn tables_from_mappings(mappings: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(mappings) else {
        return Vec::new();
    };
    let Some(rules) = doc.get("rules").and_then(|r| r.as_array()) else {
        return Vec::new();
    };
    let mut tables = Vec::new();
    for rule in rules {
        if rule.get("rule-type").and_then(|v| v.as_str()) != Some("selection")
            || rule.get("rule-action").and_then(|v| v.as_str()) != Some("include")
        {
            continue;
        }
        let locator = rule.get("object-locator");
        let schema = locator
            .and_then(|l| l.get("schema-name"))
            .and_then(|v| v.as_str());
        let table = locator
            .and_then(|l| l.get("table-name"))
            .and_then(|v| v.as_str());
        match (schema, table) {
            (Some(s), Some(t)) if !s.contains('%') && !t.contains('%') => {
                let name = format!("{s}.{t}");
                if !tables.contains(&name) {
                    tables.push(name);
                }
            }
            _ => return Vec::new(),
        }
    }
    tables
}

/// Decides what to do about one task.
pub fn decide(input: &DecisionInput<'_>, record: &TaskRecord, policy: &Policy) -> Decision {
    let now = input.now;
    let mut rec = record.clone();
    let mut actions = Vec::new();
    rec.last_checked_at = Some(now);
    if input.snapshot.is_some() {
        rec.missing_since = None;
    }
    if let Some(stats) = input.snapshot.and_then(|s| s.stats.as_ref()) {
        rec.full_load_progress = Some(stats.full_load_progress_percent);
    }

    if let Some(obs) = &input.observation {
        if let Some(id) = &obs.envelope_id {
            if !rec.remember_event(id) {
                return Decision {
                    actions: Vec::new(),
                    record: record.clone(),
                    duplicate: true,
                    failure: false,
                };
            }
        }
        observe(obs, input.snapshot, &mut rec, policy, now, &mut actions);
    }

    // Full load + CDC: completion shows only in the statistics (checked after start events
    // and by the health check).
    if let Some(snap) = input.snapshot {
        if snap.status == "running" {
            if let Some(load) = finished_full_load(snap) {
                request_baseline(&mut rec, snap, load, now, &mut actions);
            }
        }
    }

    if let (Some(files), Some(snap)) = (&input.files, input.snapshot) {
        if let Some(alert) = freshness(snap, files, &mut rec, policy, now) {
            actions.push(Action::Alert { alert });
        }
    }

    let failure = rec.last_failure != record.last_failure;
    Decision {
        actions,
        record: rec,
        duplicate: false,
        failure,
    }
}

/// A watched task DMS does not know: recorded as missing, with the alert to send the first
/// time (`None` while the same absence was already alerted).
pub fn missing(rec: &mut TaskRecord, now: DateTime<Utc>) -> Option<Alert> {
    rec.last_checked_at = Some(now);
    if rec.missing_since.is_some() {
        return None;
    }
    rec.missing_since = Some(now);
    let arn = rec.task_arn.as_str();
    let name = arn_resource_id(arn);
    Some(Alert {
        subject: format!("dmslake: watched DMS task {name} not found")
            .chars()
            .take(100)
            .collect(),
        message: [
            format!("DMS has no task {arn}: it was deleted, or DMSLAKE_WATCHED_TASKS (the stack's WatchedTaskArns) names a wrong ARN."),
            format!("Last recorded state: {}", rec.last_state.as_deref().unwrap_or("none")),
            "Recreate the task, or remove its ARN from WatchedTaskArns and update the stack. The other watched tasks are still checked; this alert is not repeated until the task is seen again.".to_string(),
        ]
        .join("\n"),
    })
}

fn request_baseline(
    rec: &mut TaskRecord,
    snap: &TaskSnapshot,
    load: String,
    now: DateTime<Utc>,
    actions: &mut Vec<Action>,
) {
    if rec.baseline_load_id.as_deref() == Some(load.as_str()) {
        return;
    }
    rec.baseline_load_id = Some(load.clone());
    rec.baseline_requested_at = Some(now);
    actions.push(Action::RequestBaseline {
        load_id: load,
        tables: snap.tables.clone(),
    });
}

fn observe(
    obs: &Observation,
    snap: Option<&TaskSnapshot>,
    rec: &mut TaskRecord,
    policy: &Policy,
    now: DateTime<Utc>,
    actions: &mut Vec<Action>,
) {
    let stop_reason = obs
        .stop_reason
        .clone()
        .or_else(|| snap.and_then(|s| s.stop_reason.clone()));
    let last_error = obs
        .last_error
        .clone()
        .or_else(|| snap.and_then(|s| s.last_failure_message.clone()))
        .filter(|e| !e.trim().is_empty());
    match obs.trigger {
        Trigger::Started => {
            rec.stop_requested_at = None;
            rec.stale_alerted_at = None;
            let t = rec.push_transition(now, "running", obs.cause, obs.detail.clone());
            actions.push(Action::Record { transition: t });
        }
        Trigger::Stopped => {
            let kind = match &stop_reason {
                Some(reason) => reason.kind(),
                // No reason given: an operator stop when dmslake was asked to stop it, or
                // when nothing reports an error; otherwise an unexplained stop.
                None if rec.stop_requested_at.is_some() => StopKind::Requested,
                None if last_error.is_none() && obs.cause == "event" => StopKind::Requested,
                None => StopKind::Unexpected,
            };
            let detail = stop_reason.as_ref().map(|r| r.as_str().to_string());
            match kind {
                StopKind::Requested => {
                    rec.stop_requested_at = None;
                    let t = rec.push_transition(now, "stopped", obs.cause, detail);
                    actions.push(Action::Record { transition: t });
                }
                StopKind::FullLoadOnlyFinished => {
                    let t = rec.push_transition(now, "stopped", obs.cause, detail);
                    actions.push(Action::Record { transition: t });
                    let load = snap
                        .and_then(|s| s.stats.as_ref())
                        .map(load_id)
                        .filter(|id| id != "unknown-start")
                        .unwrap_or_else(|| {
                            obs.envelope_id.clone().unwrap_or_else(|| now.to_rfc3339())
                        });
                    let fallback = TaskSnapshot::default();
                    request_baseline(rec, snap.unwrap_or(&fallback), load, now, actions);
                }
                StopKind::Unexpected => failure(
                    obs,
                    snap,
                    "stopped",
                    stop_reason,
                    last_error,
                    rec,
                    policy,
                    now,
                    actions,
                ),
            }
        }
        Trigger::Failed => failure(
            obs,
            snap,
            "failed",
            stop_reason,
            last_error,
            rec,
            policy,
            now,
            actions,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn failure(
    obs: &Observation,
    snap: Option<&TaskSnapshot>,
    state: &str,
    stop_reason: Option<StopReason>,
    last_error: Option<String>,
    rec: &mut TaskRecord,
    policy: &Policy,
    now: DateTime<Utc>,
    actions: &mut Vec<Action>,
) {
    let detail = stop_reason.as_ref().map(|r| r.as_str().to_string());
    let t = rec.push_transition(now, state, obs.cause, detail);
    actions.push(Action::Record { transition: t });

    let window_start = now - policy.restart_window;
    rec.restarts.retain(|at| *at > window_start);
    let window_minutes = policy.restart_window.num_minutes();
    let done = u32::try_from(rec.restarts.len()).unwrap_or(u32::MAX);
    let restart = if !policy.auto_resume {
        RestartDecision::Disabled
    } else if done < policy.restart_limit {
        rec.restarts.push(now);
        rec.restarts_exhausted = false;
        RestartDecision::Resume {
            attempt: done + 1,
            limit: policy.restart_limit,
            window_minutes,
        }
    } else {
        rec.restarts_exhausted = true;
        RestartDecision::Exhausted {
            restarts: done,
            limit: policy.restart_limit,
            window_minutes,
        }
    };
    rec.last_failure = Some(FailureRecord {
        at: now,
        state: state.to_string(),
        stop_reason: stop_reason.as_ref().map(|r| r.as_str().to_string()),
        last_error: last_error.clone(),
        tables_in_error: obs.tables_in_error.clone(),
    });
    let arn = rec.task_arn.clone();
    let identifier = snap.map(|s| s.identifier.as_str()).unwrap_or("");
    let link = obs
        .resource_link
        .clone()
        .unwrap_or_else(|| console_link(&arn, identifier));
    let alert = failure_alert(&FailureFacts {
        task_arn: &arn,
        identifier,
        state,
        stop_reason: stop_reason.as_ref(),
        last_error: last_error.as_deref(),
        tables_in_error: obs.tables_in_error.as_deref(),
        console_link: &link,
        restart: &restart,
        cause: obs.cause,
    });
    actions.push(Action::Alert { alert });
    if let RestartDecision::Resume { attempt, .. } = restart {
        rec.push_transition(
            now,
            "resuming",
            "watcher",
            Some(format!("resume-processing, attempt {attempt}")),
        );
        actions.push(Action::Resume { attempt });
    }
}

/// The facts a failure alert states.
pub struct FailureFacts<'a> {
    pub task_arn: &'a str,
    pub identifier: &'a str,
    pub state: &'a str,
    pub stop_reason: Option<&'a StopReason>,
    pub last_error: Option<&'a str>,
    pub tables_in_error: Option<&'a [String]>,
    pub console_link: &'a str,
    pub restart: &'a RestartDecision,
    pub cause: &'a str,
}

/// The alert text: what failed, why, where to look, and what dmslake did about it.
pub fn failure_alert(f: &FailureFacts<'_>) -> Alert {
    let name = if f.identifier.is_empty() {
        arn_resource_id(f.task_arn)
    } else {
        f.identifier
    };
    let headline = match f.restart {
        RestartDecision::Exhausted { .. } => "auto-restart stopped",
        _ => f.state,
    };
    // SNS subjects: ASCII, at most 100 characters.
    let subject: String = format!("dmslake: DMS task {name} {} ({headline})", f.state)
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .take(100)
        .collect();
    let tables = match f.tables_in_error {
        Some([]) => "none reported".to_string(),
        Some(t) => t.join(", "),
        None => "unavailable (DescribeTableStatistics did not answer)".to_string(),
    };
    let restart = match f.restart {
        RestartDecision::Disabled => {
            "Automatic restart: disabled (DMSLAKE_AUTO_RESUME=false).".to_string()
        }
        RestartDecision::Resume { attempt, limit, window_minutes } => format!(
            "Automatic restart: resuming with resume-processing (attempt {attempt} of {limit} within {window_minutes} minutes)."
        ),
        RestartDecision::Exhausted { restarts, limit, window_minutes } => format!(
            "Automatic restart STOPPED: {restarts} restarts within {window_minutes} minutes reached the limit of {limit}; \
             dmslake will not restart this task again. resume-processing is not recovering it: read the last error. \
             If the recovery checkpoint is invalid (for example after a source database switchover or failover), \
             reload the target (invoke the watcher with {{\"action\": \"reload\", \"task\": \"{}\"}}) and expect a new \
             full load and baseline; otherwise fix the cause and resume ({{\"action\": \"resume\", ...}}).",
            f.task_arn
        ),
    };
    let message = [
        format!("DMS replication task {name} is {}.", f.state),
        format!("Task ARN: {}", f.task_arn),
        format!("State: {}", f.state),
        format!(
            "Stop reason: {}",
            f.stop_reason
                .map(StopReason::as_str)
                .unwrap_or("not reported")
        ),
        format!("Last error: {}", f.last_error.unwrap_or("not reported")),
        format!("Tables in error: {tables}"),
        format!("Console: {}", f.console_link),
        format!("Detected by: {}", f.cause),
        restart,
    ]
    .join("\n");
    Alert { subject, message }
}

/// The "no new files" check for a running task: alerts once per quiet period.
fn freshness(
    snap: &TaskSnapshot,
    files: &Activity,
    rec: &mut TaskRecord,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<Alert> {
    if snap.status != "running" {
        return None;
    }
    let (newest, listed_since) = match files {
        Activity::Recent { .. } => {
            rec.stale_alerted_at = None;
            return None;
        }
        Activity::Quiet {
            newest,
            listed_since,
        } => (*newest, *listed_since),
    };
    // Quiet since the newest file, or at least since the listing's bound when the newest is
    // older than that; never since before the task (re)started running.
    let quiet_from = newest.or(listed_since);
    let last_activity = match (quiet_from, rec.running_since()) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b)?,
    };
    if now - last_activity <= policy.stale_after {
        rec.stale_alerted_at = None;
        return None;
    }
    if rec.stale_alerted_at.is_some_and(|at| at >= last_activity) {
        return None;
    }
    rec.stale_alerted_at = Some(now);
    let minutes = (now - last_activity).num_minutes();
    let at_least = if newest.is_none() && listed_since.is_some() {
        "at least "
    } else {
        ""
    };
    let name = if snap.identifier.is_empty() {
        arn_resource_id(&snap.arn)
    } else {
        &snap.identifier
    };
    let newest_text = match (newest, listed_since) {
        (Some(t), _) => t.to_rfc3339(),
        (None, Some(since)) => format!(
            "none written since {} (older files are not listed)",
            since.to_rfc3339()
        ),
        (None, None) => "none".to_string(),
    };
    Some(Alert {
        subject: format!("dmslake: DMS task {name} running but writing no files")
            .chars()
            .take(100)
            .collect(),
        message: [
            format!("DMS replication task {name} is running but has written no new file for {at_least}{minutes} minutes (limit {}).", policy.stale_after.num_minutes()),
            format!("Task ARN: {}", snap.arn),
            format!("Newest file: {newest_text}"),
            format!("Console: {}", console_link(&snap.arn, &snap.identifier)),
            "Check the source's replication slot / log position and the task's CDCLatencySource and CDCIncomingChanges metrics.".to_string(),
        ]
        .join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:dms:us-east-1:123456789012:task:T1";

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
            + chrono::Duration::minutes(min)
    }

    fn policy(auto: bool) -> Policy {
        Policy {
            auto_resume: auto,
            restart_limit: 2,
            ..Policy::default()
        }
    }

    fn snap(status: &str) -> TaskSnapshot {
        TaskSnapshot {
            arn: ARN.into(),
            identifier: "orders-cdc".into(),
            status: status.into(),
            migration_type: Some("full-load-and-cdc".into()),
            ..TaskSnapshot::default()
        }
    }

    fn failed_event(id: &str) -> Observation {
        Observation {
            envelope_id: Some(id.into()),
            stop_reason: Some(StopReason::RecoverableError),
            last_error: Some("ODBC general error.".into()),
            tables_in_error: Some(vec!["public.orders".into()]),
            ..Observation::new(Trigger::Failed, "event")
        }
    }

    fn run(
        obs: Option<Observation>,
        s: Option<&TaskSnapshot>,
        rec: &TaskRecord,
        p: &Policy,
        now: DateTime<Utc>,
    ) -> Decision {
        decide(
            &DecisionInput {
                observation: obs,
                snapshot: s,
                files: None,
                now,
            },
            rec,
            p,
        )
    }

    fn kinds(d: &Decision) -> Vec<&'static str> {
        d.actions
            .iter()
            .map(|a| match a {
                Action::Record { .. } => "record",
                Action::Alert { .. } => "alert",
                Action::Resume { .. } => "resume",
                Action::RequestBaseline { .. } => "baseline",
            })
            .collect()
    }

    #[test]
    fn k_failures_in_the_window_resume_k_times_then_stop_with_an_operator_alert() {
        let p = policy(true);
        let mut rec = TaskRecord::new(ARN);
        let mut resumes = 0;
        for i in 0..4 {
            let d = run(Some(failed_event(&format!("e{i}"))), None, &rec, &p, t(i));
            resumes += kinds(&d).iter().filter(|k| **k == "resume").count();
            rec = d.record.clone();
            if i >= 2 {
                assert_eq!(kinds(&d), ["record", "alert"], "failure {i}");
                let Action::Alert { alert } = &d.actions[1] else {
                    panic!("alert")
                };
                assert!(
                    alert.subject.contains("auto-restart stopped"),
                    "{}",
                    alert.subject
                );
                assert!(alert.message.contains("reload"), "{}", alert.message);
            }
        }
        assert_eq!(resumes, 2);
        assert!(rec.restarts_exhausted);
        // Outside the window the budget is available again.
        let d = run(Some(failed_event("late")), None, &rec, &p, t(200));
        assert_eq!(kinds(&d), ["record", "alert", "resume"]);
    }

    #[test]
    fn failure_alert_names_task_state_reason_error_tables_and_console() {
        let d = run(
            Some(failed_event("e")),
            Some(&snap("failed")),
            &TaskRecord::new(ARN),
            &policy(false),
            t(0),
        );
        let Action::Alert { alert } = &d.actions[1] else {
            panic!("alert")
        };
        for needle in [
            ARN,
            "failed",
            "RECOVERABLE_ERROR",
            "ODBC general error.",
            "public.orders",
            "taskDetails/orders-cdc",
            "disabled",
        ] {
            assert!(
                alert.message.contains(needle),
                "{needle} in {}",
                alert.message
            );
        }
        assert_eq!(
            d.record.last_failure.as_ref().map(|f| f.state.as_str()),
            Some("failed")
        );
    }

    #[test]
    fn a_missing_task_is_alerted_once_until_it_is_seen_again() {
        let mut rec = TaskRecord::new("arn:aws:dms:us-east-1:123456789012:task:GONE");
        rec.last_state = Some("running".into());
        let alert = missing(&mut rec, t(0)).expect("first check alerts");
        assert!(
            alert.subject.contains("GONE not found"),
            "{}",
            alert.subject
        );
        assert!(
            alert.message.contains("WatchedTaskArns"),
            "{}",
            alert.message
        );
        assert!(alert.message.contains("Last recorded state: running"));
        assert_eq!(missing(&mut rec, t(5)), None, "not repeated");
        assert_eq!(rec.missing_since, Some(t(0)));
        // Seen again: the absence ends, a later one alerts again.
        let d = run(None, Some(&snap("running")), &rec, &policy(false), t(10));
        assert_eq!(d.record.missing_since, None);
        let mut rec = d.record;
        assert!(missing(&mut rec, t(15)).is_some());
    }

    #[test]
    fn failures_and_unexpected_stops_are_flagged_for_the_task_failed_metric() {
        let rec = TaskRecord::new(ARN);
        let failed = run(Some(failed_event("f")), None, &rec, &policy(false), t(0));
        assert!(failed.failure);
        let started = run(
            Some(Observation::new(Trigger::Started, "event")),
            None,
            &rec,
            &policy(false),
            t(0),
        );
        assert!(!started.failure);
        let again = run(
            Some(failed_event("f")),
            None,
            &failed.record,
            &policy(false),
            t(1),
        );
        assert!(
            again.duplicate && !again.failure,
            "a duplicate is not counted twice"
        );
    }

    #[test]
    fn duplicate_deliveries_are_dropped() {
        let p = policy(true);
        let d1 = run(
            Some(failed_event("same")),
            None,
            &TaskRecord::new(ARN),
            &p,
            t(0),
        );
        let d2 = run(Some(failed_event("same")), None, &d1.record, &p, t(1));
        assert!(d2.duplicate);
        assert!(d2.actions.is_empty());
    }

    #[test]
    fn stops_are_classified_by_reason_and_request() {
        let p = policy(true);
        let stop = |reason: Option<StopReason>, cause: &'static str| Observation {
            stop_reason: reason,
            ..Observation::new(Trigger::Stopped, cause)
        };
        let rec = TaskRecord::new(ARN);
        let cases: Vec<(Observation, Vec<&str>)> = vec![
            (stop(Some(StopReason::Normal), "event"), vec!["record"]),
            (stop(None, "event"), vec!["record"]),
            (
                stop(None, "health_check"),
                vec!["record", "alert", "resume"],
            ),
            (
                stop(Some(StopReason::StoppedDueToLowDisk), "event"),
                vec!["record", "alert", "resume"],
            ),
            (
                stop(Some(StopReason::FullLoadOnlyFinished), "event"),
                vec!["record", "baseline"],
            ),
        ];
        for (obs, expected) in cases {
            let d = run(Some(obs.clone()), None, &rec, &p, t(0));
            assert_eq!(kinds(&d), expected, "{obs:?}");
        }
        let mut asked = TaskRecord::new(ARN);
        asked.stop_requested_at = Some(t(0));
        let d = run(Some(stop(None, "health_check")), None, &asked, &p, t(1));
        assert_eq!(kinds(&d), ["record"]);
    }

    #[test]
    fn full_load_finish_requests_the_baseline_once_per_load() {
        let mut s = snap("running");
        s.tables = vec!["public.orders".into()];
        s.stats = Some(LoadStats {
            full_load_progress_percent: 60,
            tables_loading: 1,
            tables_loaded: 1,
            full_load_start: Some(t(0)),
            ..LoadStats::default()
        });
        let p = policy(false);
        let d = run(None, Some(&s), &TaskRecord::new(ARN), &p, t(5));
        assert!(d.actions.is_empty());
        assert_eq!(d.record.full_load_progress, Some(60));

        s.stats = Some(LoadStats {
            full_load_progress_percent: 100,
            tables_loaded: 2,
            full_load_start: Some(t(0)),
            full_load_finish: Some(t(9)),
            ..LoadStats::default()
        });
        let d1 = run(None, Some(&s), &d.record, &p, t(10));
        assert_eq!(
            d1.actions,
            vec![Action::RequestBaseline {
                load_id: t(0).to_rfc3339(),
                tables: vec!["public.orders".into()]
            }]
        );
        let d2 = run(None, Some(&s), &d1.record, &p, t(15));
        assert!(d2.actions.is_empty(), "{:?}", d2.actions);
        // A reload is a new load (new start time): a new baseline.
        if let Some(stats) = s.stats.as_mut() {
            stats.full_load_start = Some(t(60));
        }
        let d3 = run(None, Some(&s), &d2.record, &p, t(70));
        assert_eq!(kinds(&d3), ["baseline"]);
        // CDC-only tasks never have a full load.
        s.migration_type = Some("cdc".into());
        assert_eq!(finished_full_load(&s), None);
    }

    #[test]
    fn drift_turns_a_state_mismatch_into_its_event() {
        let mut rec = TaskRecord::new(ARN);
        assert_eq!(drift(&snap("failed"), &rec), Some(Trigger::Failed));
        assert_eq!(drift(&snap("starting"), &rec), None);
        rec.last_state = Some("failed".into());
        assert_eq!(drift(&snap("failed"), &rec), None);
        assert_eq!(drift(&snap("running"), &rec), Some(Trigger::Started));
        rec.last_state = Some("running".into());
        assert_eq!(drift(&snap("stopped"), &rec), Some(Trigger::Stopped));
    }

    fn quiet(newest: Option<DateTime<Utc>>) -> Activity {
        Activity::Quiet {
            newest,
            listed_since: None,
        }
    }

    fn alert_of(d: &Decision) -> &Alert {
        d.actions
            .iter()
            .find_map(|a| match a {
                Action::Alert { alert } => Some(alert),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no alert in {:?}", d.actions))
    }

    #[test]
    fn a_quiet_running_task_is_flagged_once_per_quiet_period() {
        let p = policy(false);
        let s = snap("running");
        let mut rec = TaskRecord::new(ARN);
        rec.push_transition(t(0), "running", "event", None);
        let input = |files, now| DecisionInput {
            observation: None,
            snapshot: Some(&s),
            files: Some(files),
            now,
        };
        let d = decide(&input(quiet(Some(t(10))), t(35)), &rec, &p);
        assert!(d.actions.is_empty());
        let d = decide(&input(quiet(Some(t(10))), t(45)), &d.record, &p);
        assert_eq!(kinds(&d), ["alert"]);
        let alert = alert_of(&d);
        assert!(
            alert.message.contains("for 35 minutes (limit 30)"),
            "{}",
            alert.message
        );
        assert!(
            alert
                .message
                .contains("Newest file: 2026-11-20T00:10:00+00:00"),
            "{}",
            alert.message
        );
        let d = decide(&input(quiet(Some(t(10))), t(50)), &d.record, &p);
        assert!(d.actions.is_empty(), "alerted once");
        let d = decide(&input(Activity::Recent { at: t(60) }, t(65)), &d.record, &p);
        assert!(d.actions.is_empty());
        assert_eq!(d.record.stale_alerted_at, None);
        // A new quiet period alerts again.
        let d = decide(&input(quiet(Some(t(60))), t(95)), &d.record, &p);
        assert_eq!(kinds(&d), ["alert"]);
    }

    #[test]
    fn a_bounded_listing_that_found_nothing_alerts_with_its_bound_and_once() {
        let p = policy(false);
        let s = snap("running");
        let mut rec = TaskRecord::new(ARN);
        rec.push_transition(t(-3000), "running", "event", None);
        let input = |now| DecisionInput {
            observation: None,
            snapshot: Some(&s),
            files: Some(Activity::Quiet {
                newest: None,
                listed_since: Some(now - chrono::Duration::minutes(30 + 1440)),
            }),
            now,
        };
        let d = decide(&input(t(0)), &rec, &p);
        let alert = alert_of(&d);
        assert!(
            alert.message.contains("for at least 1470 minutes"),
            "{}",
            alert.message
        );
        assert!(
            alert
                .message
                .contains("Newest file: none written since 2026-11-18T23:30:00+00:00"),
            "{}",
            alert.message
        );
        // The bound moves with each check; the quiet period is the same: no second alert.
        let d = decide(&input(t(10)), &d.record, &p);
        assert!(d.actions.is_empty(), "{:?}", d.actions);
    }

    #[test]
    fn a_task_that_started_running_recently_is_not_stale_whatever_the_files() {
        let p = policy(false);
        let s = snap("running");
        let mut rec = TaskRecord::new(ARN);
        rec.push_transition(t(100), "running", "event", None);
        for files in [
            quiet(None),
            quiet(Some(t(-5000))),
            Activity::Quiet {
                newest: None,
                listed_since: Some(t(-1000)),
            },
        ] {
            let d = decide(
                &DecisionInput {
                    observation: None,
                    snapshot: Some(&s),
                    files: Some(files.clone()),
                    now: t(120),
                },
                &rec,
                &p,
            );
            assert!(d.actions.is_empty(), "{files:?}: {:?}", d.actions);
        }
        // Without any record of running and no file at all, nothing is known: no alert.
        let d = decide(
            &DecisionInput {
                observation: None,
                snapshot: Some(&s),
                files: Some(quiet(None)),
                now: t(120),
            },
            &TaskRecord::new(ARN),
            &p,
        );
        assert!(d.actions.is_empty());
        // A stopped task is never stale.
        let stopped = snap("stopped");
        let d = decide(
            &DecisionInput {
                observation: None,
                snapshot: Some(&stopped),
                files: Some(quiet(Some(t(-5000)))),
                now: t(120),
            },
            &rec,
            &p,
        );
        assert!(d.actions.is_empty());
    }

    #[test]
    fn table_mappings_give_named_tables_or_all() {
        let named = r#"{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"1","object-locator":{"schema-name":"public","table-name":"orders"},"rule-action":"include"},
            {"rule-type":"selection","rule-id":"2","rule-name":"2","object-locator":{"schema-name":"public","table-name":"order_lines"},"rule-action":"include"},
            {"rule-type":"selection","rule-id":"3","rule-name":"3","object-locator":{"schema-name":"public","table-name":"audit"},"rule-action":"exclude"},
            {"rule-type":"transformation","rule-id":"4","rule-name":"4","rule-target":"column","object-locator":{"schema-name":"%","table-name":"%"},"rule-action":"add-column"}]}"#;
        assert_eq!(
            tables_from_mappings(named),
            vec!["public.orders", "public.order_lines"]
        );
        let wildcard = r#"{"rules":[{"rule-type":"selection","object-locator":{"schema-name":"public","table-name":"%"},"rule-action":"include"}]}"#;
        assert!(tables_from_mappings(wildcard).is_empty());
        assert!(tables_from_mappings("not json").is_empty());
    }
}
