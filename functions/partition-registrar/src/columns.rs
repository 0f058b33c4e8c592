//! The columns of one DMS data file, from the file itself.
//!
//! Parquet: the footer's schema. CSV: the header row when DMS writes one
//! (`AddColumnName=true`), else the columns declared for the table in the manifest at
//! `DMSLAKE_CSV_COLUMNS_URI`.

use std::sync::Arc;

use dmslake::catalog::Column;
use dmslake::config::DmsColumns;
use dmslake::layout::DmsObject;
use dmslake::s3::S3Error;

/// Why a file's columns cannot be known.
#[derive(Debug, thiserror::Error)]
pub enum ColumnsError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("unreadable Parquet file: {0}")]
    Parquet(String),
    #[error("CSV columns: {0}")]
    Csv(String),
    #[error("column manifest {uri}: {message}")]
    Manifest { uri: String, message: String },
}

/// The column manifest for CSV tables, loaded once per execution environment.
pub type CsvManifest = Arc<()>;

/// A file's columns and whether it starts with a header row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileColumns {
    pub columns: Vec<Column>,
    pub header: bool,
}

pub async fn load_manifest(
    s3: &aws_sdk_s3::Client,
    uri: &str,
) -> Result<CsvManifest, ColumnsError> {
    let _ = s3;
    Err(ColumnsError::Manifest {
        uri: uri.into(),
        message: "not available".into(),
    })
}

pub async fn file_columns(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    obj: &DmsObject,
    dms: &DmsColumns,
    manifest: Option<&CsvManifest>,
) -> Result<FileColumns, ColumnsError> {
    let _ = (s3, bucket, obj, dms, manifest);
    Err(ColumnsError::Parquet("not available".into()))
}
