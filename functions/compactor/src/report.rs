//! Report: what a run did with each table, as the invocation returns it and the status
//! documents record it.

use dmslake::sql::PartitionRange;
use serde::Serialize;

use crate::request::Action;

/// The outcome for one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TableReport {
    Merged {
        table: String,
        query_id: String,
        scanned_bytes: i64,
        /// What the merge read (boxed: the largest variant otherwise).
        range: Box<PartitionRange>,
    },
    /// A full load newer than the watermark's was found, and the table rebuilt from it and
    /// the changes after it.
    Rebuilt {
        table: String,
        query_id: String,
        scanned_bytes: i64,
        /// The new full load's files.
        files: Vec<String>,
    },
    /// A new full load was found that may still be writing (the previous run did not list
    /// the same files): the table is left as it is until a run lists them unchanged.
    ReloadPending {
        table: String,
        /// The new full load's files listed so far.
        files: Vec<String>,
    },
    Maintained {
        table: String,
    },
    NothingNew {
        table: String,
    },
    Skipped {
        table: String,
        reason: String,
    },
    Failed {
        table: String,
        reason: String,
    },
    TimedOut {
        table: String,
        query_id: String,
    },
}

impl TableReport {
    pub fn table(&self) -> &str {
        match self {
            Self::Merged { table, .. }
            | Self::Rebuilt { table, .. }
            | Self::ReloadPending { table, .. }
            | Self::Maintained { table }
            | Self::NothingNew { table }
            | Self::Skipped { table, .. }
            | Self::Failed { table, .. }
            | Self::TimedOut { table, .. } => table,
        }
    }

    /// The outcome's name, as serialized.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Merged { .. } => "merged",
            Self::Rebuilt { .. } => "rebuilt",
            Self::ReloadPending { .. } => "reload_pending",
            Self::Maintained { .. } => "maintained",
            Self::NothingNew { .. } => "nothing_new",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
            Self::TimedOut { .. } => "timed_out",
        }
    }

    /// Why the table was not merged (or maintained), when it was not.
    pub fn error(&self) -> Option<String> {
        match self {
            Self::Skipped { reason, .. } | Self::Failed { reason, .. } => Some(reason.clone()),
            Self::TimedOut { query_id, .. } => Some(format!(
                "query {query_id} still running when the invocation's time ran out; the next run waits for it"
            )),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub action: Action,
    pub tables: Vec<TableReport>,
}

impl Report {
    /// The tables the run could not do (failed, skipped or timed out).
    pub fn failures(&self) -> Vec<&TableReport> {
        self.tables.iter().filter(|t| t.error().is_some()).collect()
    }
}
