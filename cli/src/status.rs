//! `dmslake status`: each watched DMS task's live state (DescribeReplicationTasks), its last
//! recorded transitions, full-load progress, last failure and restart count (the watcher's
//! history documents in the state bucket); then each curated table's watermark, last merge,
//! lag and last error (the compactor's documents). Text by default, JSON
//! (`{"tasks": [...], "tables": [...]}`) with `--json`.

use anyhow::Context;
use compactor::status::TableStatus;
use dms_task_watcher::dms;
use dms_task_watcher::handler::TaskStatus;
use dms_task_watcher::state::{self, RECORD_FOLDER};
use dmslake::clients::Clients;
use dmslake::state::{StateLocation, StateStore};

#[derive(clap::Args)]
pub struct Args {
    /// Task or replication-config ARN (repeatable). Default: DMSLAKE_WATCHED_TASKS, else
    /// every task with a history document in the state bucket.
    #[arg(long = "task")]
    tasks: Vec<String>,
    /// State bucket. Default: DMSLAKE_STATE_BUCKET.
    #[arg(long)]
    state_bucket: Option<String>,
    /// State prefix. Default: DMSLAKE_STATE_PREFIX, else `dmslake-state/`.
    #[arg(long)]
    state_prefix: Option<String>,
    /// How many recent transitions to show per task in the table.
    #[arg(long, default_value_t = 5)]
    transitions: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let bucket = args
        .state_bucket
        .or_else(|| env("DMSLAKE_STATE_BUCKET"))
        .context("no state bucket: pass --state-bucket or set DMSLAKE_STATE_BUCKET")?;
    let prefix = args
        .state_prefix
        .or_else(|| env("DMSLAKE_STATE_PREFIX"))
        .unwrap_or_else(|| "dmslake-state/".to_string());
    let clients = Clients::from_env().await;
    let store = StateStore::new(clients.s3.clone(), StateLocation::new(&bucket, &prefix));

    let mut arns = args.tasks;
    if arns.is_empty() {
        if let Some(list) = env("DMSLAKE_WATCHED_TASKS") {
            arns = list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
        }
    }
    if arns.is_empty() {
        arns = recorded_tasks(&clients.s3, &store).await?;
    }

    let mut statuses = Vec::new();
    for arn in arns {
        let (record, _) = state::load(&store, &arn)
            .await
            .with_context(|| format!("reading the history of {arn}"))?;
        let live = match dms::describe(&clients.dms, &arn).await {
            Ok(live) => live,
            Err(err) => {
                tracing::warn!(task = %arn, error = %err, "live state unavailable");
                None
            }
        };
        statuses.push(TaskStatus {
            task_arn: arn,
            live,
            record,
        });
    }
    let tables = compactor::status::table_statuses(&store, chrono::Utc::now())
        .await
        .context("reading the curated tables' watermarks and run status")?;
    if args.json {
        let out = serde_json::json!({"tasks": statuses, "tables": tables});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render(&statuses, args.transitions));
        print!("{}", render_tables(&tables));
    }
    Ok(())
}

/// Seconds as the largest fitting units: `3h 05m`, `4m 10s`, `12s`.
fn duration_text(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m"),
    }
}

/// The curated tables' part of the report.
pub fn render_tables(tables: &[TableStatus]) -> String {
    let mut out = String::from("curated tables:\n");
    if tables.is_empty() {
        out.push_str("  none merged yet\n");
        return out;
    }
    for t in tables {
        // A partitioned table's last merged partition; an unpartitioned one's last change file.
        let watermark = match (&t.watermark, &t.change_file) {
            (Some(p), _) => p.join("/"),
            (None, Some(file)) => file.clone(),
            (None, None) => "-".into(),
        };
        let lag = match (t.lag_seconds, &t.newest_commit) {
            (Some(lag), Some(newest)) => {
                format!("{} (newest commit merged {newest})", duration_text(lag))
            }
            _ => "unknown".into(),
        };
        out.push_str(&format!("  {}\n", t.table));
        out.push_str(&format!(
            "    watermark: {watermark}   last merge: {}   lag: {lag}\n",
            t.last_merge.as_deref().unwrap_or("never")
        ));
        if let Some(at) = &t.last_rebuild {
            out.push_str(&format!("    last rebuild (table reload applied): {at}\n"));
        }
        if let Some(query) = &t.running_query {
            out.push_str(&format!(
                "    merge still running: query {query} (the next run waits for it)\n"
            ));
        }
        match &t.last_run {
            Some(run) => {
                out.push_str(&format!(
                    "    last run: {} at {}\n",
                    run.outcome, run.checked_at
                ));
                out.push_str(&format!(
                    "    last error: {}\n",
                    match (&run.last_error, &run.last_error_at) {
                        (Some(e), Some(at)) => format!("{at} {e}"),
                        (Some(e), None) => e.clone(),
                        _ => "none".into(),
                    }
                ));
            }
            None => out.push_str("    last run: not recorded\n"),
        }
    }
    out
}

/// Task ARNs of every history document under the state prefix.
async fn recorded_tasks(
    s3: &aws_sdk_s3::Client,
    store: &StateStore,
) -> anyhow::Result<Vec<String>> {
    let location = store.location();
    let folder = location.key(RECORD_FOLDER);
    let mut arns = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&location.bucket)
        .prefix(&folder)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("listing s3://{}/{folder}", location.bucket))?;
        for obj in page.contents() {
            let Some(name) = obj.key().and_then(|k| k.strip_prefix(&location.prefix)) else {
                continue;
            };
            if let Some(Ok(doc)) = store
                .get::<state::TaskRecord>(name)
                .await
                .map(|d| d.map(|v| v.value.task_arn))
                .transpose()
            {
                arns.push(doc);
            }
        }
    }
    Ok(arns)
}

/// The human-readable report.
pub fn render(statuses: &[TaskStatus], transitions: usize) -> String {
    let mut out = String::new();
    if statuses.is_empty() {
        out.push_str("no watched tasks\n");
        return out;
    }
    for s in statuses {
        let r = &s.record;
        let live = s
            .live
            .as_ref()
            .map(|l| l.status.as_str())
            .unwrap_or("unknown");
        let name = s
            .live
            .as_ref()
            .map(|l| l.identifier.as_str())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| dmslake::dms_events::arn_resource_id(&s.task_arn));
        let progress = s
            .live
            .as_ref()
            .and_then(|l| l.stats.as_ref())
            .map(|st| st.full_load_progress_percent)
            .or(r.full_load_progress)
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!("{name}  ({})\n", s.task_arn));
        out.push_str(&format!(
            "  state: {live} (recorded: {})   full load: {progress}   restarts in window: {}{}\n",
            r.last_state.as_deref().unwrap_or("-"),
            r.restarts.len(),
            if r.restarts_exhausted {
                " (limit reached: auto-restart stopped)"
            } else {
                ""
            },
        ));
        if let Some(b) = &r.baseline_requested_at {
            out.push_str(&format!(
                "  baseline requested: {} (load {})\n",
                b.to_rfc3339(),
                r.baseline_load_id.as_deref().unwrap_or("-")
            ));
        }
        match &r.last_failure {
            Some(f) => out.push_str(&format!(
                "  last failure: {} {} reason {} error {}\n",
                f.at.to_rfc3339(),
                f.state,
                f.stop_reason.as_deref().unwrap_or("-"),
                f.last_error.as_deref().unwrap_or("-"),
            )),
            None => out.push_str("  last failure: none\n"),
        }
        let recent: Vec<_> = r.transitions.iter().rev().take(transitions).collect();
        if !recent.is_empty() {
            out.push_str("  last transitions:\n");
            for t in recent {
                out.push_str(&format!(
                    "    {}  {} -> {}  ({}){}\n",
                    t.at.to_rfc3339(),
                    t.from.as_deref().unwrap_or("-"),
                    t.to,
                    t.cause,
                    t.detail
                        .as_deref()
                        .map(|d| format!(" {d}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dms_task_watcher::state::{FailureRecord, TaskRecord};

    #[test]
    fn render_tables_shows_watermark_last_merge_lag_and_last_error() {
        let tables = [
            TableStatus {
                table: "public_orders".into(),
                watermark: Some(vec!["2026".into(), "11".into(), "24".into()]),
                change_file: None,
                last_merge: Some("2026-11-24T11:00:00+00:00".into()),
                newest_commit: Some("2026-11-24 10:59:30.000000".into()),
                lag_seconds: Some(3 * 3600 + 5 * 60),
                last_rebuild: Some("2026-11-24T09:00:00+00:00".into()),
                running_query: Some("q2".into()),
                last_run: Some(compactor::watermark::MergeStatus {
                    checked_at: "2026-11-24T14:05:00+00:00".into(),
                    outcome: "failed".into(),
                    last_error: Some("query q1 FAILED: ICEBERG_COMMIT_ERROR".into()),
                    last_error_at: Some("2026-11-24T14:05:00+00:00".into()),
                }),
            },
            TableStatus {
                table: "public_lines".into(),
                ..TableStatus::default()
            },
            TableStatus {
                table: "public_flat".into(),
                change_file: Some("s3://b/dms/public/flat/20261124-101500123.csv".into()),
                ..TableStatus::default()
            },
        ];
        let text = render_tables(&tables);
        for needle in [
            "public_orders",
            "watermark: 2026/11/24",
            "last merge: 2026-11-24T11:00:00+00:00",
            "lag: 3h 05m (newest commit merged 2026-11-24 10:59:30.000000)",
            "last rebuild (table reload applied): 2026-11-24T09:00:00+00:00",
            "merge still running: query q2 (the next run waits for it)",
            "last run: failed at 2026-11-24T14:05:00+00:00",
            "last error: 2026-11-24T14:05:00+00:00 query q1 FAILED: ICEBERG_COMMIT_ERROR",
            "public_lines",
            "watermark: -   last merge: never   lag: unknown",
            "watermark: s3://b/dms/public/flat/20261124-101500123.csv   last merge: never",
            "last run: not recorded",
        ] {
            assert!(text.contains(needle), "{needle} in\n{text}");
        }
        assert_eq!(
            text.matches("last rebuild").count(),
            1,
            "only a table that was rebuilt shows one:\n{text}"
        );
        assert_eq!(text.matches("still running").count(), 1, "{text}");
        assert_eq!(duration_text(12), "12s");
        assert_eq!(duration_text(250), "4m 10s");
    }

    #[test]
    fn render_shows_state_progress_failure_restarts_and_recent_transitions() {
        let now = serde_json::from_str("\"2026-11-20T00:00:00Z\"").expect("timestamp");
        let mut record = TaskRecord::new("arn:aws:dms:us-east-1:123456789012:task:ABC");
        record.push_transition(now, "running", "event", None);
        record.push_transition(now, "failed", "event", Some("RECOVERABLE_ERROR".into()));
        record.push_transition(now, "resuming", "watcher", None);
        record.restarts = vec![now, now];
        record.restarts_exhausted = true;
        record.full_load_progress = Some(100);
        record.last_failure = Some(FailureRecord {
            at: now,
            state: "failed".into(),
            stop_reason: Some("RECOVERABLE_ERROR".into()),
            last_error: Some("ODBC general error.".into()),
            tables_in_error: None,
        });
        let text = render(
            &[TaskStatus {
                task_arn: record.task_arn.clone(),
                live: None,
                record,
            }],
            2,
        );
        for needle in [
            "ABC",
            "state: unknown (recorded: resuming)",
            "full load: 100%",
            "restarts in window: 2 (limit reached",
            "ODBC general error.",
            "failed -> resuming",
        ] {
            assert!(text.contains(needle), "{needle} in\n{text}");
        }
        assert!(
            !text.contains("- -> running"),
            "only the last 2 transitions:\n{text}"
        );
    }
}
