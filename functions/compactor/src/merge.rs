//! Apply: one table's merge (or maintenance) through Athena. Plan what the raw table holds
//! against the watermark (range, reload, columns), run the statements, and move the watermark
//! only once the MERGE succeeded (here, or adopted from an earlier run whose time ran out).

use std::time::Instant;

use dmslake::athena::{request_token, QueryOutcome};
use dmslake::sql::{CompactionTable, PartitionRange};
use dmslake::state::Versioned;

use crate::change_files;
use crate::deps::Deps;
use crate::error::{Stop, TableError};
use crate::preview;
use crate::reload::{self, LoadCheck, LoadFile};
use crate::report::TableReport;
use crate::watermark::{recorded_columns, watermark_doc, InFlight, Watermark};

/// What a finished (or abandoned) query means for the table: the query id and scanned bytes
/// to go on with, or the report to stop with (pure).
pub fn outcome_report(table: &str, outcome: QueryOutcome) -> Result<(String, i64), TableReport> {
    match outcome {
        QueryOutcome::Succeeded {
            query_id,
            scanned_bytes,
        } => Ok((query_id, scanned_bytes)),
        QueryOutcome::Failed {
            query_id,
            state,
            reason,
        } => Err(TableReport::Failed {
            table: table.to_string(),
            reason: format!("query {query_id} {state}: {reason}"),
        }),
        QueryOutcome::TimedOut { query_id, .. } => Err(TableReport::TimedOut {
            table: table.to_string(),
            query_id,
        }),
    }
}

/// The `ClientRequestToken` of one statement in one run: the run's lock owner (unique to the
/// run and the table, [`lock_owner`]) and the statement text. Athena answers a start whose
/// token it has seen with the execution it already created, and creates no query (API
/// reference, StartQueryExecution, `ClientRequestToken`). So within a run a retried start (the
/// SDK retrying after a lost response) is not executed twice, while the next run starts its
/// statements anew even when their text is unchanged: the same MERGE over the same partition
/// range must read the files that arrived since, and a statement that failed must run again.
pub fn statement_token(owner: &str, sql: &str) -> String {
    request_token(&[owner, sql])
}

/// Runs one statement: its query id and scanned bytes, or why the table stops.
async fn execute(
    deps: &Deps,
    table: &CompactionTable,
    owner: &str,
    sql: &str,
    deadline: Instant,
) -> Result<(String, i64), Stop> {
    let outcome = run_statement(deps, owner, sql, deadline).await?;
    outcome_report(table.table(), outcome).map_err(Stop::Report)
}

/// Runs one of this run's statements in the curated database, under its request token
/// ([`statement_token`]), until `deadline`.
async fn run_statement(
    deps: &Deps,
    owner: &str,
    sql: &str,
    deadline: Instant,
) -> Result<QueryOutcome, Stop> {
    let token = statement_token(owner, sql);
    let db = &deps.config.common.curated_database;
    Ok(deps.runner.run(sql, Some(db), &token, deadline).await?)
}

pub(crate) async fn merge(
    deps: &Deps,
    table: &CompactionTable,
    location: &str,
    owner: &str,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    let name = table.table();
    // The watermark is read once per run: its partition starts the range, its column list
    // plans the ALTERs, its full-load files tell a reload, its version guards the write that
    // moves it.
    let mut wm = deps.state.get::<Watermark>(&watermark_doc(name)).await?;
    if let Some(old) = wm.as_mut() {
        if let Some(flight) = &old.value.in_flight {
            if let Adoption::Done(report) = adopt(deps, table, old, flight, deadline).await? {
                return Ok(report);
            }
            // The recorded query is over without a result: forget it now, so that no later
            // write copies it forward and no run waits for it again.
            old.value.in_flight = None;
            old.etag = deps
                .state
                .put_if(&watermark_doc(name), &old.value, Some(&old.etag))
                .await?;
        }
    }
    let from = wm.as_ref().and_then(|w| w.value.partition.clone());
    let (range, partitions) =
        preview::merge_partitions(&deps.glue, &deps.config, table, from).await?;
    let recorded = wm.as_ref().and_then(|w| w.value.change_file.as_deref());
    let range = change_files::window(
        deps.state.client(),
        &deps.config.common.layout,
        table,
        location,
        recorded,
        range,
    )
    .await
    .map_err(TableError::from)?;
    let loads = full_load_check(
        deps,
        name,
        location,
        &partitions,
        wm.as_ref().map(|w| &w.value),
    )
    .await?;
    let loads_same = loads.check == LoadCheck::Same;
    let reload = match loads.check {
        LoadCheck::Pending(new) => return wait_for_reload(deps, name, wm.as_ref(), new).await,
        LoadCheck::Reloaded(new) => {
            Some(
                reload::source(&loads.bucket, &new).ok_or_else(|| TableError::LoadTime {
                    files: new.into_iter().map(|f| f.key).collect(),
                })?,
            )
        }
        LoadCheck::FirstSeen => {
            tracing::info!(
                table = name,
                files = loads.listed.len(),
                "full-load files recorded in the watermark for the first time; the current state is taken to reflect them"
            );
            None
        }
        LoadCheck::Same => None,
    };
    if reload.is_none() && !table.partition_keys().is_empty() && range.to.is_none() {
        return Ok(TableReport::NothingNew {
            table: name.to_string(),
        });
    }
    // An unpartitioned table merged before, with no change file listed after the last one
    // merged and its full load unchanged: nothing to read.
    let merged_before = wm.as_ref().is_some_and(|w| !w.value.query_id.is_empty());
    let windowed = change_files::windowed(table, &deps.config.common.layout);
    if reload.is_none() && windowed && merged_before && loads_same && range.to_file.is_none() {
        return Ok(TableReport::NothingNew {
            table: name.to_string(),
        });
    }
    // The curated table as the catalog has it (Athena keeps an Iceberg table's schema in
    // Glue): created only when missing, so a run costs no DDL query once it exists.
    let curated = &deps.config.common.curated_database;
    let existing = dmslake::glue::column_names(&deps.glue, curated, name).await?;
    if existing.is_none() {
        execute(deps, table, owner, &table.create_table_sql(), deadline).await?;
    }
    let adds =
        preview::planned_additions(table, existing.as_deref(), wm.as_ref().map(|w| &w.value));
    add_columns(deps, table, owner, &mut wm, adds, deadline).await?;
    let reload_after = wm.as_ref().and_then(|w| w.value.reload_after.clone());
    let sql = match &reload {
        Some(source) => {
            tracing::warn!(
                table = name,
                files = %dmslake::logging::json(&source.files),
                written_after = source.written_after,
                "a full load newer than the watermark's: rebuilding the current state from it and the changes after it"
            );
            table.rebuild_sql(source)?
        }
        None => table.merge_sql_since(&range, reload_after.as_deref())?,
    };
    // A rebuild read every partition (every file): the next merge starts at the newest (or
    // where it was).
    let range = PartitionRange {
        to: range.to.or(range.from.clone()),
        to_file: range.to_file.or(range.from_file.clone()),
        ..range
    };
    let now = chrono::Utc::now().to_rfc3339();
    let previous = wm.as_ref().map(|w| &w.value);
    // What the watermark becomes once the query has succeeded.
    let next = Watermark {
        partition: range.to.clone(),
        change_file: range.to_file.clone(),
        query_id: String::new(),
        merged_at: now.clone(),
        columns: Some(recorded_columns(table, previous)),
        newest_commit: previous.and_then(|w| w.newest_commit.clone()),
        full_load: Some(loads.listed),
        pending_load: None,
        reload_after: match &reload {
            Some(source) => Some(source.written_after.clone()),
            None => reload_after,
        },
        rebuilt_at: match &reload {
            Some(_) => Some(now.clone()),
            None => previous.and_then(|w| w.rebuilt_at.clone()),
        },
        in_flight: None,
    };
    let flight = |query_id: String| InFlight {
        query_id,
        started_at: now.clone(),
        range: range.clone(),
        rebuild_files: reload.as_ref().map(|source| source.files.clone()),
        next: Box::new(next.clone()),
    };
    let outcome = run_statement(deps, owner, &sql, deadline).await?;
    if let QueryOutcome::TimedOut { query_id, .. } = &outcome {
        // Athena goes on with the query: the next run adopts it rather than starting it again.
        let doc = Watermark::with_in_flight(previous, flight(query_id.clone()));
        deps.state
            .put_if(
                &watermark_doc(name),
                &doc,
                wm.as_ref().map(|old| old.etag.as_str()),
            )
            .await?;
        tracing::warn!(
            table = name,
            query_id,
            "the merge is still running as the invocation's time runs out; the next run waits for it"
        );
    }
    let (query_id, scanned_bytes) = outcome_report(name, outcome).map_err(Stop::Report)?;
    let etag = wm.as_ref().map(|old| old.etag.clone());
    finish(deps, table, flight(query_id), scanned_bytes, etag, deadline).await
}

/// Bookkeeping after a merge or rebuild query succeeded (in this run, or in an earlier one
/// whose time ran out): the newest commit merged, the watermark moved (only now), metrics.
async fn finish(
    deps: &Deps,
    table: &CompactionTable,
    done: InFlight,
    scanned_bytes: i64,
    etag: Option<String>,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    let name = table.table();
    let InFlight {
        query_id,
        range,
        rebuild_files,
        next,
        ..
    } = done;
    // The newest change merged: everything the MERGE read is at least as old.
    let newest = newest_commit(deps, table, &range, &query_id, deadline)
        .await
        .or(next.newest_commit.clone());
    let next = Watermark {
        query_id: query_id.clone(),
        newest_commit: newest,
        in_flight: None,
        ..*next
    };
    deps.state
        .put_if(&watermark_doc(name), &next, etag.as_deref())
        .await?;
    dmslake::metrics::emit(
        dmslake::metrics::MERGE_SCANNED_BYTES,
        scanned_bytes as f64,
        dmslake::metrics::Unit::Bytes,
        &[("Table", name)],
    );
    if let Some(files) = rebuild_files {
        dmslake::metrics::emit(
            dmslake::metrics::TABLE_RELOADS,
            1.0,
            dmslake::metrics::Unit::Count,
            &[("Table", name)],
        );
        tracing::warn!(
            table = name,
            query_id,
            "reload applied; the watermark records the new full load"
        );
        return Ok(TableReport::Rebuilt {
            table: name.to_string(),
            query_id,
            scanned_bytes,
            files,
        });
    }
    Ok(TableReport::Merged {
        table: name.to_string(),
        query_id,
        scanned_bytes,
        range: Box::new(range),
    })
}

/// What became of the query an earlier run left running ([`InFlight`]).
enum Adoption {
    /// It succeeded and its bookkeeping is done; or it is still running.
    Done(TableReport),
    /// It failed or was cancelled: the merge is planned anew.
    Replan,
}

/// Waits (until `deadline`) for the query an earlier run left running. Nothing new is started
/// while it runs: two MERGEs of the same changes would only conflict at commit.
async fn adopt(
    deps: &Deps,
    table: &CompactionTable,
    wm: &Versioned<Watermark>,
    flight: &InFlight,
    deadline: Instant,
) -> Result<Adoption, Stop> {
    let name = table.table();
    tracing::info!(
        table = name,
        query_id = flight.query_id,
        started_at = flight.started_at,
        "waiting for the merge an earlier run left running"
    );
    let outcome = match deps.runner.wait(&flight.query_id, deadline).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_unknown_query() => {
            tracing::warn!(
                table = name,
                query_id = flight.query_id,
                error = %e,
                "Athena no longer knows the merge an earlier run left running; planning it again"
            );
            return Ok(Adoption::Replan);
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        QueryOutcome::Succeeded {
            query_id,
            scanned_bytes,
        } => {
            let done = InFlight {
                query_id,
                ..flight.clone()
            };
            let etag = Some(wm.etag.clone());
            finish(deps, table, done, scanned_bytes, etag, deadline)
                .await
                .map(Adoption::Done)
        }
        QueryOutcome::TimedOut { query_id, .. } => Ok(Adoption::Done(TableReport::TimedOut {
            table: name.to_string(),
            query_id,
        })),
        QueryOutcome::Failed {
            query_id,
            state,
            reason,
        } => {
            tracing::warn!(
                table = name,
                query_id,
                state,
                reason,
                "the merge an earlier run left running did not succeed; planning it again"
            );
            Ok(Adoption::Replan)
        }
    }
}

/// A new full load that may still be writing: the table is left as it is, and the watermark
/// (when there is one) records the files as pending, for the next run to compare.
async fn wait_for_reload(
    deps: &Deps,
    name: &str,
    wm: Option<&Versioned<Watermark>>,
    new: Vec<LoadFile>,
) -> Result<TableReport, Stop> {
    let files: Vec<String> = new.iter().map(|f| f.key.clone()).collect();
    tracing::warn!(
        table = name,
        files = %dmslake::logging::json(&files),
        "a full load newer than the watermark's is being written: the table waits until the next run lists the same files, then is rebuilt from them"
    );
    if let Some(old) = wm {
        let next = Watermark {
            pending_load: Some(new),
            ..old.value.clone()
        };
        deps.state
            .put_if(&watermark_doc(name), &next, Some(&old.etag))
            .await?;
    }
    Ok(TableReport::ReloadPending {
        table: name.to_string(),
        files,
    })
}

/// The raw table's full-load files as listed now, the bucket they are in, and what they mean
/// against the watermark's record ([`reload::check`]).
struct LoadsNow {
    bucket: String,
    listed: Vec<LoadFile>,
    check: LoadCheck,
}

/// Lists the full-load files of the raw table `name` at `location` (its folder, and the date
/// folders of the partitions a merge reads: [`reload::load_folders`]) and checks them against
/// the watermark. A first merge reads the full load with the changes: it records what it
/// finds. Recorded files gone from the table folder (a truncate) lose their manifests
/// ([`remove_manifests`]), so the raw table reads without them.
async fn full_load_check(
    deps: &Deps,
    name: &str,
    location: &str,
    partitions: &[Vec<String>],
    wm: Option<&Watermark>,
) -> Result<LoadsNow, TableError> {
    let (bucket, prefix) = dmslake::s3::parse_url(location)?;
    let layout = &deps.config.common.layout;
    let folders = reload::load_folders(&prefix, partitions, layout);
    let listed = crate::load_files::list(deps.state.client(), &bucket, &folders, layout).await?;
    let gone = reload::removed(wm.and_then(|w| w.full_load.as_deref()), &listed, &prefix);
    if !gone.is_empty() {
        remove_manifests(deps, name, &bucket, &gone).await?;
    }
    let check = match wm {
        None => LoadCheck::Same,
        Some(w) => reload::check(w.full_load.as_deref(), w.pending_load.as_deref(), &listed),
    };
    Ok(LoadsNow {
        bucket,
        listed,
        check,
    })
}

/// Full-load files DMS removed from the table folder (a truncate removes the table's files and
/// folders, CHAP_Target.S3.md, limitations) are still named by the manifests of the raw
/// table's full-load partition, and reading a manifest that names a missing file fails the
/// query (`HIVE_FILE_NOT_FOUND`). Their manifests are deleted so the raw table reads what
/// is left; the curated table keeps its rows.
async fn remove_manifests(
    deps: &Deps,
    name: &str,
    bucket: &str,
    gone: &[LoadFile],
) -> Result<(), TableError> {
    let raw = &deps.config.common.raw_database;
    let partitions = dmslake::glue::get_partitions(&deps.glue, raw, name).await?;
    let Some(folder) = partitions
        .iter()
        .find(|p| p.partition.manifest)
        .map(|p| p.partition.location.clone())
    else {
        return Ok(());
    };
    let urls = reload::manifests_of(bucket, gone, &folder, &deps.config.common.layout);
    let files: Vec<&str> = gone.iter().map(|f| f.key.as_str()).collect();
    tracing::warn!(
        table = name,
        files = %dmslake::logging::json(&files),
        "full-load files recorded in the watermark are gone from the table folder (a truncate, or deleted by hand): their manifests are removed and the raw table reads without them; the curated table keeps its rows"
    );
    crate::load_files::delete(deps.state.client(), &urls).await?;
    Ok(())
}

/// Adds the columns the raw table gained, before the MERGE names them. The curated table's
/// columns come from the Glue catalog when it has the table (Athena keeps an Iceberg table's
/// schema there, so an `ALTER` that outlived an earlier run is seen as done); otherwise from
/// the watermark (see [`preview::column_additions`]). Each added column is also recorded in
/// the watermark (its partition unchanged) before this returns, even when a later statement
/// fails, so a next run does not add it again: Athena refuses to add a column that exists.
/// `Err` when a statement failed or timed out; the table is then not merged.
async fn add_columns(
    deps: &Deps,
    table: &CompactionTable,
    owner: &str,
    wm: &mut Option<Versioned<Watermark>>,
    adds: Vec<(String, String)>,
    deadline: Instant,
) -> Result<(), Stop> {
    let name = table.table();
    let mut added = Vec::new();
    let mut stop = Ok(());
    for (column, sql) in adds {
        match execute(deps, table, owner, &sql, deadline).await {
            Ok((query_id, _)) => {
                tracing::info!(
                    table = name,
                    column,
                    query_id,
                    "column added to the curated table"
                );
                added.push(column);
            }
            Err(e) => {
                stop = Err(e);
                break;
            }
        }
    }
    if let (false, Some(current)) = (added.is_empty(), wm.as_mut()) {
        let mut next = current.value.clone();
        let columns = next.columns.get_or_insert_with(Vec::new);
        for column in added {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        let etag = deps
            .state
            .put_if(&watermark_doc(name), &next, Some(&current.etag))
            .await?;
        *current = Versioned { value: next, etag };
    }
    stop
}

pub(crate) async fn maintain(
    deps: &Deps,
    table: &CompactionTable,
    owner: &str,
    deadline: Instant,
) -> Result<TableReport, Stop> {
    for sql in [table.optimize_sql(), table.vacuum_sql()] {
        execute(deps, table, owner, &sql, deadline).await?;
    }
    Ok(TableReport::Maintained {
        table: table.table().to_string(),
    })
}

/// The newest commit timestamp among the changes a merge of `range` read (best effort: `None`,
/// logged, when the query fails; the watermark then keeps the previous value).
async fn newest_commit(
    deps: &Deps,
    table: &CompactionTable,
    range: &PartitionRange,
    merge_query_id: &str,
    deadline: Instant,
) -> Option<String> {
    let name = table.table();
    let sql = match table.newest_commit_sql(range) {
        Ok(Some(sql)) => sql,
        Ok(None) => {
            tracing::info!(table = name, "no timestamp column: the lag is not measured");
            return None;
        }
        Err(e) => {
            tracing::warn!(table = name, error = %e, "newest commit not queried");
            return None;
        }
    };
    // Unique to this merge: a later run's identical text is a new query.
    let token = request_token(&[name, &sql, merge_query_id]);
    let db = &deps.config.common.curated_database;
    let found = match deps.runner.run(&sql, Some(db), &token, deadline).await {
        Ok(QueryOutcome::Succeeded { query_id, .. }) => deps.runner.first_value(&query_id).await,
        Ok(other) => {
            tracing::warn!(table = name, outcome = ?other, "newest commit query did not succeed");
            return None;
        }
        Err(e) => Err(e),
    };
    match found {
        Ok(value) => {
            tracing::info!(
                table = name,
                newest_commit = value.as_deref(),
                "newest commit merged"
            );
            value.filter(|v| !v.trim().is_empty())
        }
        Err(e) => {
            tracing::warn!(table = name, error = %e, "newest commit not read");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::lock_owner;

    #[test]
    fn statement_tokens_repeat_within_a_run_and_differ_between_runs() {
        let merge = "MERGE INTO \"cur\".\"public_t\" AS \"t\" USING (SELECT 1) AS \"s\" ON true";
        let create = "CREATE TABLE IF NOT EXISTS `cur`.`public_t` (`id` int)";
        let (run1, run2) = (lock_owner("public_t"), lock_owner("public_t"));
        assert_ne!(run1, run2, "each run owns its lock under its own name");
        // A retried start within the run: same token, Athena returns the same execution.
        assert_eq!(statement_token(&run1, merge), statement_token(&run1, merge));
        // The next run's identical MERGE text (same partition range): a new query.
        assert_ne!(statement_token(&run1, merge), statement_token(&run2, merge));
        // Another statement of the same run.
        assert_ne!(
            statement_token(&run1, merge),
            statement_token(&run1, create)
        );
        // Another table in the same run has another owner.
        assert_ne!(lock_owner("public_u"), run1);
        let token = statement_token(&run1, merge);
        assert!((32..=128).contains(&token.len()), "{token}");
    }

    #[test]
    fn failed_and_timed_out_queries_stop_the_table_with_athenas_reason() {
        let failed = outcome_report(
            "public_t",
            QueryOutcome::Failed {
                query_id: "q1".into(),
                state: "FAILED".into(),
                reason: "ICEBERG_COMMIT_ERROR: conflict".into(),
            },
        );
        assert_eq!(
            failed,
            Err(TableReport::Failed {
                table: "public_t".into(),
                reason: "query q1 FAILED: ICEBERG_COMMIT_ERROR: conflict".into()
            })
        );
        let timed_out = outcome_report(
            "public_t",
            QueryOutcome::TimedOut {
                query_id: "q2".into(),
                state: "RUNNING".into(),
            },
        );
        assert!(matches!(timed_out, Err(TableReport::TimedOut { .. })));
        assert_eq!(
            outcome_report(
                "public_t",
                QueryOutcome::Succeeded {
                    query_id: "q3".into(),
                    scanned_bytes: 7
                }
            ),
            Ok(("q3".to_string(), 7))
        );
    }
}
