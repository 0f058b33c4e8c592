//! What `dmslake status` shows per curated table: the watermark (last merged partition), the
//! last merge, the lag (now minus the newest commit merged), when a table reload was last
//! applied, and the last run's outcome with the last error. Read from the watermark and
//! status documents in the state bucket.

use chrono::{DateTime, Utc};
use dmslake::state::{StateError, StateStore};
use serde::Serialize;

use crate::watermark::{
    lag_seconds, status_doc, watermark_doc, MergeStatus, Watermark, STATUS_FOLDER, WATERMARK_FOLDER,
};

/// One curated table's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableStatus {
    pub table: String,
    /// The last merged raw partition (`None`: never merged, or an unpartitioned table).
    pub watermark: Option<Vec<String>>,
    /// The newest change file merged (`s3://...`), for an unpartitioned raw table.
    pub change_file: Option<String>,
    /// When the watermark last moved (RFC 3339).
    pub last_merge: Option<String>,
    pub newest_commit: Option<String>,
    pub lag_seconds: Option<i64>,
    /// When a table reload was last applied (RFC 3339; `None`: never).
    pub last_rebuild: Option<String>,
    /// A merge query a run left running, which the next run adopts (its id).
    pub running_query: Option<String>,
    pub last_run: Option<MergeStatus>,
}

/// The table names of the documents in `folder` (`watermarks/public_orders.json` →
/// `public_orders`).
fn tables_in(names: &[String], folder: &str) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(folder)?.strip_suffix(".json"))
        .filter(|t| !t.is_empty() && !t.contains('/'))
        .map(str::to_string)
        .collect()
}

/// Every table with a watermark or a status document, by name.
pub async fn table_statuses(
    store: &StateStore,
    now: DateTime<Utc>,
) -> Result<Vec<TableStatus>, StateError> {
    let mut tables = tables_in(&store.list(WATERMARK_FOLDER).await?, WATERMARK_FOLDER);
    tables.extend(tables_in(&store.list(STATUS_FOLDER).await?, STATUS_FOLDER));
    tables.sort();
    tables.dedup();
    let mut out = Vec::new();
    for table in tables {
        let wm = store
            .get::<Watermark>(&watermark_doc(&table))
            .await?
            .map(|v| v.value);
        let last_run = store
            .get::<MergeStatus>(&status_doc(&table))
            .await?
            .map(|v| v.value);
        let newest_commit = wm.as_ref().and_then(|w| w.newest_commit.clone());
        out.push(TableStatus {
            lag_seconds: newest_commit.as_deref().and_then(|n| lag_seconds(n, now)),
            watermark: wm.as_ref().and_then(|w| w.partition.clone()),
            change_file: wm.as_ref().and_then(|w| w.change_file.clone()),
            last_rebuild: wm.as_ref().and_then(|w| w.rebuilt_at.clone()),
            running_query: wm
                .as_ref()
                .and_then(|w| w.in_flight.as_ref())
                .map(|f| f.query_id.clone()),
            // A document that only records a running first merge has no merge time yet.
            last_merge: wm.map(|w| w.merged_at).filter(|at| !at.is_empty()),
            newest_commit,
            last_run,
            table,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_come_from_document_names_in_their_folder() {
        let names: Vec<String> = [
            "watermarks/public_orders.json",
            "watermarks/public_lines.json",
            "watermarks/nested/x.json",
            "watermarks/.json",
            "locks/public_orders.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            tables_in(&names, WATERMARK_FOLDER),
            vec!["public_orders".to_string(), "public_lines".to_string()]
        );
    }
}
