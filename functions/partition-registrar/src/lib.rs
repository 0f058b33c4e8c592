//! The partition registrar: keeps the raw Glue catalog in step with the files AWS DMS
//! writes to S3.
//!
//! One invocation: [`event`] decodes the payload (typed S3, SQS and EventBridge events) →
//! [`register`] reads each file's columns ([`columns`]) and each table once, [`plan`]s the
//! catalog changes (pure) and [`apply`]s them through Glue → [`report`]: one typed outcome
//! per record. [`handler`] dispatches; [`backfill`] pages through a bucket through the same
//! registration path. Wiring (configuration, clients: [`deps`]) is in `main.rs`.

pub mod apply;
pub mod backfill;
pub mod columns;
pub mod deps;
pub mod event;
pub mod handler;
pub mod plan;
pub mod register;
pub mod report;
