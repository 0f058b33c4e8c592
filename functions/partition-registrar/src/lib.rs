//! The partition registrar: keeps the raw Glue catalog in step with the files AWS DMS
//! writes to S3. Handler logic lives here; wiring in `main.rs`.

pub mod backfill;
pub mod columns;
pub mod event;
pub mod handler;
