//! Per-table state documents: the merge watermark and the merge lock.

use dmslake::sql::{CompactionTable, PartitionRange};
use serde::{Deserialize, Serialize};

use crate::reload::LoadFile;

/// The raw partitions already merged: the next merge reads from `partition` (inclusive; the
/// order-key guard makes re-reading it a no-op).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// Values of the last merged partition, in partition-key order; `None` for an
    /// unpartitioned raw table.
    pub partition: Option<Vec<String>>,
    /// The newest change file merged of an unpartitioned raw table (`s3://bucket/key`, as
    /// Athena's `"$path"` shows it): the next merge reads the change files from it
    /// (inclusive) on, and no full-load file. `None` for a partitioned table, before a first
    /// change file was merged, and in documents written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_file: Option<String>,
    pub query_id: String,
    pub merged_at: String,
    /// The curated table's source columns (names as stored) as of the last successful merge
    /// or column addition; `None` in documents written before columns were tracked, which
    /// leaves the curated columns unknown (nothing is added).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// The newest commit timestamp merged (the raw timestamp column, as DMS wrote it); the
    /// table's lag is now minus this. `None` until a merge could read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_commit: Option<String>,
    /// The full-load files (key, ETag, write time) the curated table reflects; `None` in
    /// documents written before full loads were recorded. A listed file not among them means
    /// the table was reloaded (see [`crate::reload`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_load: Option<Vec<LoadFile>>,
    /// New full-load files the last run saw and did not rebuild from yet: the next run
    /// rebuilds when it lists exactly these again (the reload's full load stopped writing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_load: Option<Vec<LoadFile>>,
    /// Set once a reload was applied: the earliest write time of its files
    /// (`yyyy-MM-dd HH:mm:ss.ffffff`). Later merges leave out changes committed before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_after: Option<String>,
    /// When the last reload was applied (RFC 3339), for `dmslake status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilt_at: Option<String>,
    /// A merge (or rebuild) a run started and left running when its time ran out. The next
    /// run waits for that query instead of starting the same work again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
}

/// A MERGE still running in Athena after the run that started it ended. Athena goes on with a
/// query whatever happens to its caller, so the next run adopts it: once it has succeeded, that
/// run writes `next` (what the starting run would have written); if it failed, the run plans
/// the merge anew. Without this, a merge longer than the function's time would be started
/// again by every run and the watermark would never move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub query_id: String,
    /// When the query was started (RFC 3339).
    pub started_at: String,
    /// The raw partitions the query reads (the newest-commit query after it reads them too).
    pub range: PartitionRange,
    /// The full-load files a rebuild is made from; `None` for a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuild_files: Option<Vec<String>>,
    /// The watermark to write once the query has succeeded.
    pub next: Box<Watermark>,
}

impl Watermark {
    /// The document recording `flight` while keeping what `previous` says (a table never merged
    /// yet keeps only the columns the run has already given the curated table).
    pub fn with_in_flight(previous: Option<&Watermark>, flight: InFlight) -> Watermark {
        let mut doc = previous.cloned().unwrap_or_else(|| Watermark {
            columns: flight.next.columns.clone(),
            ..Watermark::default()
        });
        doc.in_flight = Some(flight);
        doc
    }
}

/// The outcome of a table's last run and its last error, for `dmslake status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeStatus {
    /// When the last run finished with this table (RFC 3339).
    pub checked_at: String,
    /// `merged`, `rebuilt`, `reload_pending`, `maintained`, `nothing_new`, `skipped`, `failed`
    /// or `timed_out`.
    pub outcome: String,
    /// The most recent error, kept after later successes (its time tells how old it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

/// A commit timestamp as DMS writes it (`2026-11-24 10:15:00.123456`, UTC; CSV and Parquet
/// `TimestampColumnName` values alike) or RFC 3339.
pub fn parse_commit_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// Seconds from the newest commit merged to `now` (never negative: a clock ahead of the
/// source's counts as no lag).
pub fn lag_seconds(newest_commit: &str, now: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    parse_commit_time(newest_commit).map(|t| (now - t).num_seconds().max(0))
}

pub fn status_doc(table: &str) -> String {
    format!("{STATUS_FOLDER}{table}.json")
}

/// Folder of the per-table run status documents (under the state prefix).
pub const STATUS_FOLDER: &str = "merge-status/";
/// Folder of the watermark documents (under the state prefix).
pub const WATERMARK_FOLDER: &str = "watermarks/";

/// A lock on one table's merge; stale after `expires_at` (epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub owner: String,
    pub expires_at: i64,
}

/// What a merge does about columns the raw table gained since the watermark was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnPlan {
    /// First merge: `CREATE TABLE` makes every column, nothing to add.
    NewTable,
    /// The watermark predates column tracking: the curated columns are unknown, nothing is
    /// added.
    Unknown,
    /// The `ALTER TABLE ... ADD COLUMNS` statements to run (possibly none), with the column
    /// each one adds.
    Add(Vec<(String, String)>),
}

/// The column plan for `table` given the stored watermark (pure).
pub fn column_plan(table: &CompactionTable, watermark: Option<&Watermark>) -> ColumnPlan {
    let Some(wm) = watermark else {
        return ColumnPlan::NewTable;
    };
    let Some(existing) = &wm.columns else {
        return ColumnPlan::Unknown;
    };
    ColumnPlan::Add(table.added_columns(existing))
}

/// The curated columns to record after a merge: those the watermark listed (a column the raw
/// table lost stays in the curated table, so it stays listed), then the table's columns not
/// among them, in table order.
pub fn recorded_columns(table: &CompactionTable, watermark: Option<&Watermark>) -> Vec<String> {
    let mut out = watermark
        .and_then(|w| w.columns.clone())
        .unwrap_or_default();
    for c in table.column_names() {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

pub fn watermark_doc(table: &str) -> String {
    format!("{WATERMARK_FOLDER}{table}.json")
}

pub fn lock_doc(table: &str) -> String {
    format!("locks/{table}.json")
}

/// The largest partition (lexicographic over zero-padded values) among `partitions`.
pub fn newest_partition(partitions: &[Vec<String>]) -> Option<Vec<String>> {
    partitions.iter().max().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::catalog::{Column, GlueType};
    use dmslake::config::DmsColumns;
    use dmslake::layout::FileFormat;
    use dmslake::sql::TableSpec;

    fn table(cols: &[&str]) -> CompactionTable {
        let spec = TableSpec {
            raw_database: "raw".into(),
            table: "public_t".into(),
            format: FileFormat::Csv,
            columns: ["op", "ts"]
                .iter()
                .chain(cols)
                .map(|n| Column::new(*n, GlueType::String))
                .collect(),
            partition_keys: vec![],
            dms: DmsColumns {
                timestamp: "ts".into(),
                change_sequence: "seq".into(),
                before_image_prefix: "bi_".into(),
            },
            primary_key: vec!["id".into()],
            curated_database: "cur".into(),
            curated_location: "s3://lake/curated/".into(),
            partitioning: vec![],
            type_overrides: Default::default(),
        };
        CompactionTable::plan(&spec).expect("plan")
    }

    fn watermark(columns: Option<&[&str]>) -> Watermark {
        Watermark {
            partition: None,
            query_id: "q".into(),
            merged_at: "2024-06-12T00:00:00Z".into(),
            columns: columns.map(|c| c.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn lag_is_now_minus_the_newest_commit_in_dms_formats() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T11:15:00Z")
            .expect("now")
            .with_timezone(&chrono::Utc);
        #[rustfmt::skip]
        let cases: &[(&str, Option<i64>)] = &[
            ("2026-11-24 10:15:00.123456", Some(3599)),
            ("2026-11-24 10:15:00", Some(3600)),
            ("2026-11-24T11:14:00Z", Some(60)),
            ("2026-11-24 11:20:00", Some(0)),
            ("yesterday", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(lag_seconds(text, now), *want, "{text}");
        }
    }

    #[test]
    fn a_watermark_written_before_column_tracking_still_parses() {
        let old: Watermark = serde_json::from_str(
            r#"{"partition":["2024","06","12"],"query_id":"q1","merged_at":"2024-06-12T10:00:00Z"}"#,
        )
        .expect("old document");
        assert_eq!(old.columns, None);
        assert_eq!(old.partition.as_deref().map(<[String]>::len), Some(3));
        let new: Watermark = serde_json::from_str(
            r#"{"partition":null,"query_id":"q2","merged_at":"x","columns":["id","a"]}"#,
        )
        .expect("new document");
        assert_eq!(new.columns, Some(vec!["id".to_string(), "a".to_string()]));
        let round: Watermark =
            serde_json::from_str(&serde_json::to_string(&new).expect("json")).expect("parse");
        assert_eq!(round, new);
        assert_eq!(new.change_file, None);
        let file = "s3://lake/dms/public/t/20261124-101500123.csv";
        let unpartitioned = Watermark {
            change_file: Some(file.into()),
            ..new
        };
        let json = serde_json::to_string(&unpartitioned).expect("json");
        assert!(
            json.contains(&format!("\"change_file\":\"{file}\"")),
            "{json}"
        );
        let round: Watermark = serde_json::from_str(&json).expect("parse");
        assert_eq!(round, unpartitioned);
    }

    #[test]
    fn column_plan_adds_only_columns_the_watermark_does_not_list() {
        let t = table(&["id", "a", "b", "c"]);
        let alter = |c: &str| {
            (
                c.to_string(),
                format!("ALTER TABLE `cur`.`public_t` ADD COLUMNS (`{c}` string)"),
            )
        };
        #[rustfmt::skip]
        let cases: Vec<(Option<Watermark>, ColumnPlan)> = vec![
            (None, ColumnPlan::NewTable),
            (Some(watermark(None)), ColumnPlan::Unknown),
            (Some(watermark(Some(&["id", "a", "b", "c"]))), ColumnPlan::Add(vec![])),
            (Some(watermark(Some(&["id", "a"]))), ColumnPlan::Add(vec![alter("b"), alter("c")])),
            (Some(watermark(Some(&["id", "c"]))), ColumnPlan::Add(vec![alter("a"), alter("b")])),
            // A column the raw table dropped stays in the curated table: nothing to do.
            (Some(watermark(Some(&["id", "a", "b", "c", "old"]))), ColumnPlan::Add(vec![])),
        ];
        for (wm, want) in cases {
            assert_eq!(column_plan(&t, wm.as_ref()), want, "{wm:?}");
        }
    }

    #[test]
    fn recorded_columns_keep_dropped_ones_and_append_new_ones_in_table_order() {
        let t = table(&["id", "a", "b"]);
        /// The stored watermark: none, one without columns, or one listing these.
        type Stored<'a> = Option<Option<&'a [&'a str]>>;
        #[rustfmt::skip]
        let cases: &[(Stored, &[&str])] = &[
            (None, &["id", "a", "b"]),
            (Some(None), &["id", "a", "b"]),
            (Some(Some(&["id", "a", "b"])), &["id", "a", "b"]),
            (Some(Some(&["id", "old"])), &["id", "old", "a", "b"]),
            (Some(Some(&["b", "id"])), &["b", "id", "a"]),
        ];
        for (wm, want) in cases {
            let wm = wm.map(watermark);
            assert_eq!(recorded_columns(&t, wm.as_ref()), *want, "{wm:?}");
        }
    }
}
