//! Compactor: merges each raw DMS change table into its current-state Iceberg table with one
//! Athena `MERGE` per run, and maintains those tables (OPTIMIZE, VACUUM).

pub mod catalog;
pub mod config;
pub mod handler;
pub mod preview;
pub mod watermark;
