//! Why a table's run stopped: an error (reported as `Failed` with its chain) or a query's
//! own report (failed or timed out).

use dmslake::athena::AthenaError;
use dmslake::glue::GlueError;
use dmslake::s3::S3Error;
use dmslake::sql::SqlError;
use dmslake::state::StateError;

use crate::preview::PreviewError;
use crate::report::TableReport;
use crate::spec::SourceError;

/// Why a table's run stopped with an error (reported as `Failed`, with the whole chain).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Preview(#[from] PreviewError),
    #[error(transparent)]
    Glue(#[from] GlueError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Athena(#[from] AthenaError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("new full-load files {files:?} have no readable write time; the table is not rebuilt (check the objects in S3)")]
    LoadTime { files: Vec<String> },
}

/// Why a table's run stops early: a query that failed or timed out (its report), or an error.
#[derive(Debug)]
pub(crate) enum Stop {
    Report(TableReport),
    Error(TableError),
}

impl<E: Into<TableError>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Error(e.into())
    }
}

pub(crate) fn failed(table: &str, e: &TableError) -> TableReport {
    TableReport::Failed {
        table: table.to_string(),
        reason: dmslake::error::chain(e),
    }
}
