//! Per-table state documents: the merge watermark and the merge lock.

use serde::{Deserialize, Serialize};

/// The raw partitions already merged: the next merge reads from `partition` (inclusive; the
/// order-key guard makes re-reading it a no-op).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// Values of the last merged partition, in partition-key order; `None` for an
    /// unpartitioned raw table.
    pub partition: Option<Vec<String>>,
    pub query_id: String,
    pub merged_at: String,
}

/// A lock on one table's merge; stale after `expires_at` (epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub owner: String,
    pub expires_at: i64,
}

pub fn watermark_doc(table: &str) -> String {
    format!("watermarks/{table}.json")
}

pub fn lock_doc(table: &str) -> String {
    format!("locks/{table}.json")
}

/// The largest partition (lexicographic over zero-padded values) among `partitions`.
pub fn newest_partition(partitions: &[Vec<String>]) -> Option<Vec<String>> {
    partitions.iter().max().cloned()
}
