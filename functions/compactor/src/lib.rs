//! Compactor: merges each raw DMS change table into its current-state Iceberg table with one
//! Athena `MERGE` per run, and maintains those tables (`OPTIMIZE ... REWRITE DATA USING
//! BIN_PACK`, `VACUUM`) on their own schedule.
//!
//! A run, per table: read the raw table from Glue ([`preview::load_spec`], its spec derived
//! from the catalog's table definition in [`spec`]), check it into SQL
//! ([`dmslake::sql`]; a table without a configured primary key is reported and skipped), take
//! the table's lock (an S3 document written with `If-None-Match`, expiring after
//! `DMSLAKE_LOCK_TTL_SECONDS`, and released with a conditional delete on the version this run
//! wrote, so a run that outlived its lock never removes the lock another run took over),
//! `CREATE TABLE IF NOT EXISTS` when the catalog lacks the curated table, `ALTER TABLE ... ADD COLUMNS` for each column of the raw table
//! the curated table lacks (its columns read from the Glue catalog, else from the watermark:
//! [`preview::column_additions`]; columns are never dropped or retyped), then `MERGE` the raw
//! partitions from the watermark partition (inclusive) to the newest registered one (an
//! unpartitioned raw table: its change files from the last one merged, inclusive, to the
//! newest listed, [`change_files`]). The watermark moves
//! only after the MERGE succeeded; a failed query leaves it, so the next run reads the same
//! range again, and the order-key guard makes that re-read a no-op. A MERGE still running when
//! the run's time runs out is recorded in the watermark ([`watermark::InFlight`]) and adopted by
//! the next run, which waits for it instead of starting it again ([`merge`]).
//!
//! DMS settings for a correct current state (CHAP_Target.S3.md, CHAP_Tasks.CustomizingTasks):
//! - a transformation rule `add-column` with expression `$AR_H_CHANGE_SEQ` named like
//!   `DMSLAKE_CHANGE_SEQUENCE_COLUMN`: the only order DMS guarantees for several changes of one
//!   row in one commit. Without it the order is commit timestamp then file path, which is not
//!   guaranteed inside one timestamp;
//! - `TimestampColumnName` (named like `DMSLAKE_TIMESTAMP_COLUMN`);
//! - `IncludeOpForFullLoad=true` for CSV, so full-load and CDC files have the same columns;
//! - `BeforeImageSettings` with the key columns (prefix `DMSLAKE_BEFORE_IMAGE_PREFIX`), so a
//!   primary-key update removes the old key; without it the old key stays;
//! - not `CdcInsertsOnly` / `CdcInsertsAndUpdates` (deletes would be lost).
//!
//! A table reload (a full load newer than the one the watermark records, [`reload`]; its
//! files listed by [`load_files`]) is applied once two runs in a row list the same new files,
//! by one `MERGE` that rebuilds the current state from the new full load and the changes
//! committed from the reload's start ([`dmslake::sql::CompactionTable::rebuild_sql`]); the
//! watermark then records the new full load, and later merges leave out changes committed
//! before the reload.
//!
//! Deletes are treated as key-only rows (PostgreSQL's default replica identity).

pub mod change_files;
pub mod config;
pub mod deps;
pub mod error;
pub mod handler;
pub mod load_files;
pub mod lock;
pub mod merge;
pub mod preview;
pub mod reload;
pub mod report;
pub mod request;
pub mod spec;
pub mod status;
pub mod watermark;
