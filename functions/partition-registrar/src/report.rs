//! Report: what became of each record, typed, and the counts of a run.

use std::sync::Arc;

use dmslake::catalog::CatalogError;
use dmslake::glue::GlueError;
use serde::Serialize;

use crate::columns::ColumnsError;
use crate::event::EventError;

/// Why one record (object or SQS message) was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("s3://{bucket}/{key}")]
    Catalog {
        bucket: String,
        key: String,
        #[source]
        source: Box<CatalogError>,
    },
    #[error("s3://{bucket}/{key}")]
    Columns {
        bucket: String,
        key: String,
        #[source]
        source: Box<ColumnsError>,
    },
    /// A Glue call for the file's table failed (one failure is shared by every file it held).
    #[error("s3://{bucket}/{key}")]
    Glue {
        bucket: String,
        key: String,
        #[source]
        source: Arc<GlueError>,
    },
    /// The manifest that makes the file readable could not be written.
    #[error("s3://{bucket}/{key}: writing its full-load manifest failed")]
    Manifest {
        bucket: String,
        key: String,
        #[source]
        source: Arc<dmslake::s3::S3Error>,
    },
    /// The task reading the file's schema ended without an answer (it panicked or was
    /// cancelled).
    #[error("s3://{bucket}/{key}: reading the file's schema did not finish")]
    SchemaRead {
        bucket: String,
        key: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl RecordError {
    /// The `errorType` reported to Lambda (and in backfill reports).
    pub fn error_type(&self) -> &'static str {
        match self {
            RecordError::Event(_) => "InvalidEvent",
            RecordError::Catalog { source, .. } => match **source {
                CatalogError::Schema(_) => "SchemaChangeRejected",
                CatalogError::NameCollision { .. } => "TableNameCollision",
                _ => "InvalidObject",
            },
            RecordError::Columns { .. } => "UnreadableFile",
            RecordError::Glue { .. } => "GlueError",
            RecordError::Manifest { .. } => "S3Error",
            RecordError::SchemaRead { .. } => "Internal",
        }
    }

    /// True when trying again later may succeed (a service or transport failure); false when
    /// the input itself is wrong and only a change to it (or to the settings) helps.
    pub fn retryable(&self) -> bool {
        match self {
            RecordError::Glue { .. }
            | RecordError::SchemaRead { .. }
            | RecordError::Manifest { .. } => true,
            RecordError::Columns { source, .. } => source.retryable(),
            RecordError::Event(_) | RecordError::Catalog { .. } => false,
        }
    }
}

/// A record that failed, for reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub key: String,
    pub error_type: String,
    pub message: String,
}

/// Counts of one registration run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub files: usize,
    pub skipped: usize,
    /// Files deleted before they could be read (`NoSuchKey`): acknowledged, nothing to register.
    pub missing: usize,
    pub already_known: usize,
    pub tables_created: usize,
    pub tables_updated: usize,
    pub partitions_registered: usize,
    pub partitions_already_registered: usize,
    pub partitions_updated: usize,
    pub failures: Vec<Failure>,
}

impl Report {
    pub fn add(&mut self, other: Report) {
        self.files += other.files;
        self.skipped += other.skipped;
        self.missing += other.missing;
        self.already_known += other.already_known;
        self.tables_created += other.tables_created;
        self.tables_updated += other.tables_updated;
        self.partitions_registered += other.partitions_registered;
        self.partitions_already_registered += other.partitions_already_registered;
        self.partitions_updated += other.partitions_updated;
        self.failures.extend(other.failures);
    }
}

/// The outcome of registering a list of objects: one result per object, in order, and the
/// counts.
#[derive(Debug, Default)]
pub struct Registration {
    pub outcomes: Vec<Result<(), RecordError>>,
    pub report: Report,
}
