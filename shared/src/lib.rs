//! dmslake's library: everything the Lambda functions and the operator CLI share.
//!
//! The pure core (no I/O, no SDK types) is [`layout`], [`schema`], [`catalog`] and [`sql`];
//! the thin AWS adapters are [`s3`], [`glue`] and [`athena`]; [`clients`] builds the SDK
//! clients once, and [`config`] reads the `DMSLAKE_*` environment.

pub mod athena;
pub mod aws_error;
pub mod catalog;
pub mod clients;
pub mod config;
pub mod csv_schema;
pub mod dms_events;
pub mod glue;
pub mod layout;
pub mod logging;
pub mod metrics;
pub mod parquet_footer;
pub mod s3;
pub mod schema;
pub mod sql;
pub mod state;
