//! Turns decoded `test_decoding` messages into DMS rows per table. Pure: no database, no S3.
//!
//! Exactness between full load and CDC: the slot is created first
//! (`pg_create_logical_replication_slot` returns once it has a consistent point: every
//! transaction committing after that point is decoded, none before). The full load then reads
//! in one REPEATABLE READ snapshot taken afterwards, and records that snapshot
//! (`pg_current_snapshot()`). A transaction committed before the consistent point is visible in
//! the snapshot and never decoded; one decoded from the slot is either visible in the snapshot
//! (already in the full load: skipped here) or not (applied). So every committed change lands
//! exactly once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::format::{dms_text, ChangeSequence, FormatError, Op, Row, SequenceCounter, ValueKind};
use crate::test_decoding::{Message, NamedValues, RowChange};

/// A source column: name and how DMS writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ValueKind,
    /// The type as `format_type` prints it (`numeric(12,2)`, `timestamp with time zone`).
    pub pg_type: String,
}

impl Column {
    /// A column of PostgreSQL type `pg_type` (its [`ValueKind`] follows from the type).
    pub fn new(name: impl Into<String>, pg_type: impl Into<String>) -> Self {
        let pg_type = pg_type.into();
        Self {
            name: name.into(),
            kind: ValueKind::from_pg_type(&pg_type),
            pg_type,
        }
    }
}

/// A selected source table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub schema: String,
    pub table: String,
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the primary key, in key order.
    pub key: Vec<usize>,
}

impl TableInfo {
    /// The DMS text of column `index` taken from `named` (NULL when absent).
    fn value(&self, index: usize, named: &NamedValues) -> Result<Option<String>, FormatError> {
        let c = &self.columns[index];
        let v = named
            .iter()
            .find(|(n, _)| *n == c.name)
            .and_then(|(_, v)| v.as_deref());
        dms_text(c.kind, v)
    }

    fn values(&self, named: &NamedValues) -> Result<Vec<Option<String>>, FormatError> {
        (0..self.columns.len())
            .map(|i| self.value(i, named))
            .collect()
    }

    fn key_values(&self, named: &NamedValues) -> Result<Vec<Option<String>>, FormatError> {
        self.key.iter().map(|&i| self.value(i, named)).collect()
    }
}

/// `pg_current_snapshot()` of the full load: `xmin:xmax:xip,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadSnapshot {
    pub xmin: u64,
    pub xmax: u64,
    pub in_progress: Vec<u64>,
}

impl LoadSnapshot {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().splitn(3, ':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let in_progress = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?,
        };
        Some(Self {
            xmin,
            xmax,
            in_progress,
        })
    }

    /// Whether the committed transaction `xid` (32-bit, as `test_decoding` prints it) is visible in the
    /// snapshot, i.e. its changes are already in the full load.
    pub fn sees(&self, xid: u64) -> bool {
        // Widen the 32-bit xid to the 64-bit xid nearest the snapshot's xmax (modular
        // distance, as PostgreSQL compares xids).
        let distance = (self.xmax as u32).wrapping_sub(xid as u32) as i32;
        let full = (self.xmax as i64 - i64::from(distance)).max(0) as u64;
        full < self.xmin || (full < self.xmax && !self.in_progress.contains(&full))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{table}: {source}")]
    Format {
        table: String,
        #[source]
        source: FormatError,
    },
    #[error("change for {table} outside a transaction (the slot must be read with include-xids)")]
    NoTransaction { table: String },
    /// A column added while replicating (ALTER TABLE ... ADD COLUMN) when the output cannot
    /// follow it (CSV: see [`Capture::follow_new_columns`]); dropping it would lose its values.
    #[error(
        "change for {table} carries column {column:?}, unknown when its columns were read \
         (added while replicating?): CSV output cannot follow a new column (Parquet can); \
         start a new full load"
    )]
    UnknownColumn { table: String, column: String },
    /// A new column whose type neither the catalog nor the plugin gave.
    #[error("change for {table} carries new column {column:?} without its type")]
    UntypedColumn { table: String, column: String },
    /// An UPDATE whose unchanged TOASTed values were not resolved before capture (see
    /// [`RowChange::unchanged_toast`]): writing them as NULL would lose them.
    #[error(
        "update of {table} leaves {columns:?} unchanged and PostgreSQL did not log their values \
         (look them up in the source, or set REPLICA IDENTITY FULL)"
    )]
    UnresolvedToast { table: String, columns: Vec<String> },
    /// An UPDATE or DELETE without the old key (REPLICA IDENTITY NOTHING).
    #[error(
        "{action:?} on {table} carries no row (REPLICA IDENTITY NOTHING?): \
         set REPLICA IDENTITY DEFAULT (with a primary key) or FULL"
    )]
    NoTupleData { table: String, action: Op },
}

struct OpenTxn {
    skip: bool,
    changes: Vec<(RowChange, u64)>,
}

/// Collects changes of committed transactions into per-table row batches.
pub struct Capture {
    tables: HashMap<(String, String), TableInfo>,
    /// Columns read from the catalog for tables whose changes carry a column unknown so far
    /// (see [`Capture::set_catalog_columns`]).
    catalog: HashMap<(String, String), Vec<Column>>,
    snapshot: Option<LoadSnapshot>,
    counter: SequenceCounter,
    open: Option<OpenTxn>,
    /// Rows per table, in commit order.
    pub pending: HashMap<(String, String), Vec<Row>>,
    /// Append a column that appears while replicating to its table (its earlier rows have no
    /// value for it: NULL), as DMS does for an `ADD COLUMN` (CHAP_Target.S3.md lists Add
    /// Column among the DDL an S3 target supports). Only sound for self-describing files
    /// (Parquet): header-less CSV rows would shift. Off: such a change is an error.
    pub follow_new_columns: bool,
}

impl Capture {
    pub fn new(tables: Vec<TableInfo>, snapshot: Option<LoadSnapshot>) -> Self {
        Self {
            tables: tables
                .into_iter()
                .map(|t| ((t.schema.clone(), t.table.clone()), t))
                .collect(),
            catalog: HashMap::new(),
            snapshot,
            counter: SequenceCounter::default(),
            open: None,
            pending: HashMap::new(),
            follow_new_columns: false,
        }
    }

    pub fn set_snapshot(&mut self, snapshot: Option<LoadSnapshot>) {
        self.snapshot = snapshot;
    }

    pub fn table(&self, schema: &str, table: &str) -> Option<&TableInfo> {
        self.tables.get(&(schema.to_string(), table.to_string()))
    }

    /// Number of rows waiting to be written.
    pub fn pending_rows(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }

    /// Columns of `change` that its (selected) table did not have when its columns were read:
    /// the caller reads the table's columns from the catalog ([`Self::set_catalog_columns`])
    /// before applying it, as `test_decoding` prints types without their modifier (`numeric`
    /// for `numeric(12,2)`).
    pub fn unknown_columns(&self, change: &RowChange) -> Vec<String> {
        let key = (change.schema.clone(), change.table.clone());
        let Some(info) = self.tables.get(&key) else {
            return Vec::new();
        };
        change
            .columns
            .iter()
            .chain(&change.identity)
            .map(|(name, _)| name)
            .chain(&change.unchanged_toast)
            .filter(|name| !info.columns.iter().any(|c| &c.name == *name))
            .cloned()
            .collect()
    }

    /// The table's columns as the catalog has them now: the type of a column added while
    /// replicating is taken from here first.
    pub fn set_catalog_columns(&mut self, schema: &str, table: &str, columns: Vec<Column>) {
        self.catalog
            .insert((schema.to_string(), table.to_string()), columns);
    }

    /// Applies one message; returns the number of rows it added (at commit).
    pub fn apply(&mut self, message: Message) -> Result<usize, CaptureError> {
        match message {
            Message::Begin { xid } => {
                let skip = self.snapshot.as_ref().is_some_and(|s| s.sees(xid));
                self.counter.advance();
                self.open = Some(OpenTxn {
                    skip,
                    changes: Vec::new(),
                });
                Ok(0)
            }
            Message::Change(change) => {
                let key = (change.schema.clone(), change.table.clone());
                let follow = self.follow_new_columns;
                let Some(info) = self.tables.get(&key) else {
                    return Ok(0);
                };
                let table = format!("{}.{}", change.schema, change.table);
                // DMS ignores UPDATE and DELETE on tables without a primary key
                // (CHAP_Source.PostgreSQL.md, limitations).
                if info.key.is_empty() && change.action != Op::Insert {
                    tracing::warn!(%table, "update/delete on a table without a primary key: not captured");
                    return Ok(0);
                }
                if change.no_tuple_data {
                    return Err(CaptureError::NoTupleData {
                        table,
                        action: change.action,
                    });
                }
                if !change.unchanged_toast.is_empty() {
                    return Err(CaptureError::UnresolvedToast {
                        table,
                        columns: change.unchanged_toast.clone(),
                    });
                }
                for column in self.unknown_columns(&change) {
                    if !follow {
                        tracing::error!(%table, %column, "column unknown when replication started");
                        return Err(CaptureError::UnknownColumn { table, column });
                    }
                    let from_catalog = self
                        .catalog
                        .get(&key)
                        .and_then(|cols| cols.iter().find(|c| c.name == column))
                        .map(|c| c.pg_type.clone());
                    let printed = change
                        .types
                        .iter()
                        .find(|(n, _)| *n == column)
                        .map(|(_, t)| t.clone());
                    let Some(pg_type) = from_catalog.or(printed) else {
                        return Err(CaptureError::UntypedColumn { table, column });
                    };
                    tracing::info!(%table, %column, %pg_type, "column added to the source table: followed");
                    if let Some(info) = self.tables.get_mut(&key) {
                        info.columns.push(Column::new(column, pg_type));
                    }
                }
                let Some(open) = self.open.as_mut() else {
                    return Err(CaptureError::NoTransaction { table });
                };
                let n = self.counter.advance();
                open.changes.push((change, n));
                Ok(0)
            }
            Message::Commit { commit, .. } => {
                self.counter.advance();
                let Some(open) = self.open.take() else {
                    return Ok(0);
                };
                if open.skip {
                    return Ok(0);
                }
                let mut added = 0;
                for (change, counter) in open.changes {
                    let key = (change.schema.clone(), change.table.clone());
                    let Some(info) = self.tables.get(&key) else {
                        continue;
                    };
                    let row = to_row(info, &change, commit, counter).map_err(|source| {
                        CaptureError::Format {
                            table: format!("{}.{}", info.schema, info.table),
                            source,
                        }
                    })?;
                    self.pending.entry(key).or_default().push(row);
                    added += 1;
                }
                Ok(added)
            }
            Message::Truncate(tables) => {
                for (schema, table) in tables {
                    if self.table(&schema, &table).is_some() {
                        tracing::warn!(table = %format!("{schema}.{table}"), "TRUNCATE is not captured (as DMS does not)");
                    }
                }
                Ok(0)
            }
            Message::Ignored(_) => Ok(0),
        }
    }
}

/// One change as a DMS row: deletes carry only the key; the before-image holds the old key
/// when PostgreSQL logged one.
pub fn to_row(
    info: &TableInfo,
    change: &RowChange,
    commit: DateTime<Utc>,
    counter: u64,
) -> Result<Row, FormatError> {
    let values = match change.action {
        Op::Delete => {
            let mut v = vec![None; info.columns.len()];
            let keys = info.key_values(&change.identity)?;
            for (slot, value) in info.key.iter().zip(keys) {
                v[*slot] = value;
            }
            v
        }
        _ => info.values(&change.columns)?,
    };
    // PostgreSQL logs the old key of an update only when the key changed (REPLICA IDENTITY
    // DEFAULT), and the northwind samples fill the before-image columns exactly then. With
    // REPLICA IDENTITY FULL the old row is always logged: its key is the before-image.
    let old_key = if change.identity.is_empty() || info.key.is_empty() {
        None
    } else {
        Some(info.key_values(&change.identity)?)
    };
    let before_image = match (change.action, old_key) {
        (Op::Update, Some(old)) => {
            let full_identity = change.identity.len() > info.key.len();
            if full_identity || old != info.key_values(&change.columns)? {
                Some(old)
            } else {
                None
            }
        }
        (_, old) => old,
    };
    Ok(Row {
        op: change.action,
        timestamp: commit,
        values,
        change_sequence: Some(ChangeSequence { commit, counter }),
        before_image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_decoding::decode;

    const BEGIN_20: &str = "BEGIN 20";
    const COMMIT_20: &str = "COMMIT 20 (at 2024-06-12 10:30:27.362108+00)";

    fn table() -> TableInfo {
        TableInfo {
            schema: "public".into(),
            table: "t".into(),
            columns: vec![Column::new("id", "text"), Column::new("price", "real")],
            key: vec![0],
        }
    }

    fn apply_all(cap: &mut Capture, lines: &[&str]) {
        for line in lines {
            cap.apply(decode(line).expect("decode")).expect(line);
        }
    }

    #[test]
    fn a_column_unknown_at_start_is_an_error_naming_table_and_column() {
        let mut cap = Capture::new(vec![table()], None);
        apply_all(
            &mut cap,
            &[
                BEGIN_20,
                "table public.t: INSERT: id[text]:'1' price[real]:1",
            ],
        );
        let added = "table public.t: INSERT: id[text]:'2' price[real]:1 note[text]:'x'";
        match cap.apply(decode(added).expect("decode")) {
            Err(CaptureError::UnknownColumn { table, column }) => {
                assert_eq!((table.as_str(), column.as_str()), ("public.t", "note"));
            }
            other => panic!("expected UnknownColumn, got {other:?}"),
        }
        let other_table = "table public.other: INSERT: note[text]:'x'";
        assert_eq!(
            cap.apply(decode(other_table).expect("decode"))
                .expect("not selected"),
            0
        );
    }

    #[test]
    fn a_new_column_is_followed_with_its_type_from_the_catalog_first() {
        let mut cap = Capture::new(vec![table()], None);
        cap.follow_new_columns = true;
        let with_points =
            "table public.t: INSERT: id[text]:'2' price[real]:1 points[integer]:7 amount[numeric]:1.5";
        let change = match decode(with_points).expect("decode") {
            Message::Change(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(cap.unknown_columns(&change), vec!["points", "amount"]);
        // The catalog knows `amount`'s precision; `points` only from the plugin's type.
        cap.set_catalog_columns("public", "t", vec![Column::new("amount", "numeric(5,1)")]);
        apply_all(
            &mut cap,
            &[
                BEGIN_20,
                "table public.t: INSERT: id[text]:'1' price[real]:1",
                with_points,
                COMMIT_20,
            ],
        );
        let info = cap.table("public", "t").expect("table");
        let added: Vec<(&str, &str)> = info.columns[2..]
            .iter()
            .map(|c| (c.name.as_str(), c.pg_type.as_str()))
            .collect();
        assert_eq!(
            added,
            vec![("points", "integer"), ("amount", "numeric(5,1)")]
        );
        let rows = &cap.pending[&("public".to_string(), "t".to_string())];
        assert_eq!(rows[0].values[2], None, "changed before the column existed");
        assert_eq!(rows[1].values[2].as_deref(), Some("7"));
        assert_eq!(rows[1].values[3].as_deref(), Some("1.5"));
    }

    #[test]
    fn changes_that_would_lose_values_are_errors() {
        let mut cap = Capture::new(vec![table()], None);
        apply_all(&mut cap, &[BEGIN_20]);
        let toast = "table public.t: UPDATE: id[text]:'1' price[real]:unchanged-toast-datum";
        match cap.apply(decode(toast).expect("decode")) {
            Err(e @ CaptureError::UnresolvedToast { .. }) => {
                assert!(e.to_string().contains("[\"price\"]"), "{e}")
            }
            other => panic!("expected UnresolvedToast, got {other:?}"),
        }
        let nothing = "table public.t: DELETE: (no-tuple-data)";
        assert!(matches!(
            cap.apply(decode(nothing).expect("decode")),
            Err(CaptureError::NoTupleData { .. })
        ));
        // TRUNCATE is not captured, as DMS does not.
        let truncate = "table public.t: TRUNCATE: (no-flags)";
        assert_eq!(cap.apply(decode(truncate).expect("decode")).ok(), Some(0));
        apply_all(&mut cap, &[COMMIT_20]);
        assert_eq!(cap.pending_rows(), 0);
    }

    #[test]
    fn snapshot_visibility_follows_xmin_xmax_and_in_progress() {
        let s = LoadSnapshot::parse("100:105:101,103").expect("snapshot");
        assert!(s.sees(99));
        assert!(s.sees(102));
        assert!(!s.sees(101));
        assert!(!s.sees(105));
        assert!(!s.sees(200));
        let empty = LoadSnapshot::parse("7:7:").expect("empty list");
        assert!(empty.sees(6) && !empty.sees(7));
        assert!(LoadSnapshot::parse("x:1:").is_none());
        let wrapped = LoadSnapshot::parse("4294967300:4294967310:").expect("epoch 1");
        assert!(wrapped.sees(5) && !wrapped.sees(20));
    }

    #[test]
    fn transactions_seen_by_the_load_snapshot_are_skipped_and_others_numbered() {
        let mut cap = Capture::new(vec![table()], LoadSnapshot::parse("10:12:"));
        apply_all(
            &mut cap,
            &[
                "BEGIN 11",
                "table public.t: INSERT: id[text]:'1' price[real]:11",
                "COMMIT 11 (at 2024-06-12 10:30:27.362108+00)",
                "BEGIN 12",
                "table public.t: UPDATE: old-key: id[text]:'1' new-tuple: id[text]:'2' price[real]:11",
                "table public.other: INSERT: id[integer]:1",
                "table public.t: UPDATE: id[text]:'2' price[real]:12",
                "table public.t: DELETE: id[text]:'2'",
                "COMMIT 12 (at 2024-06-12 10:30:28.254028+00)",
            ],
        );
        let rows = &cap.pending[&("public".to_string(), "t".to_string())];
        assert_eq!(rows.len(), 3, "xid 11 was in the full load");
        assert_eq!(rows[1].before_image, None, "key unchanged: no old key");
        let rows = [rows[0].clone(), rows[2].clone()];
        assert_eq!(rows[0].op, Op::Update);
        assert_eq!(
            rows[0].values,
            vec![Some("2".into()), Some("+1.10000000e+01".into())]
        );
        assert_eq!(rows[0].before_image, Some(vec![Some("1".into())]));
        assert_eq!(rows[1].op, Op::Delete);
        assert_eq!(rows[1].values, vec![Some("2".into()), None]);
        let seqs: Vec<String> = rows
            .iter()
            .map(|r| r.change_sequence.expect("seq").to_string())
            .collect();
        // B(1) I(5) C(9) | B(13) U(17) U(21) D(25) C(29): the other table is not in the task.
        assert_eq!(
            seqs,
            vec![
                "20240612103028250000000000000000017",
                "20240612103028250000000000000000025"
            ]
        );
    }

    #[test]
    fn replica_identity_full_gives_every_update_a_before_image() {
        let mut cap = Capture::new(vec![table()], None);
        apply_all(
            &mut cap,
            &[
                BEGIN_20,
                "table public.t: UPDATE: old-key: id[text]:'1' price[real]:1 new-tuple: id[text]:'1' price[real]:2",
                "table public.t: DELETE: id[text]:'1' price[real]:2",
                COMMIT_20,
            ],
        );
        let rows = &cap.pending[&("public".to_string(), "t".to_string())];
        assert_eq!(rows[0].before_image, Some(vec![Some("1".into())]));
        assert_eq!(
            rows[1].values,
            vec![Some("1".into()), None],
            "a delete is key-only even when the whole old row was logged"
        );
    }
}
