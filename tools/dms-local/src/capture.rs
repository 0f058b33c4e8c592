//! Turns decoded wal2json messages into DMS rows per table. Pure: no database, no S3.
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
use crate::wal2json::{Message, NamedValues, RowChange};

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

    /// Whether the committed transaction `xid` (32-bit, as wal2json prints it) is visible in the
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
    #[error(
        "change for {table} outside a transaction (wal2json must include transaction boundaries)"
    )]
    NoTransaction { table: String },
    /// A column added while replicating (ALTER TABLE ... ADD COLUMN) when the output cannot
    /// follow it (CSV: see [`Capture::follow_new_columns`]); dropping it would lose its values.
    #[error(
        "change for {table} carries column {column:?}, unknown when its columns were read \
         (added while replicating?): CSV output cannot follow a new column (Parquet can); \
         start a new full load"
    )]
    UnknownColumn { table: String, column: String },
    /// A new column whose type wal2json did not print (the slot is read without
    /// `include-types`).
    #[error("change for {table} carries new column {column:?} without its type")]
    UntypedColumn { table: String, column: String },
}

struct OpenTxn {
    skip: bool,
    changes: Vec<(RowChange, u64)>,
}

/// Collects changes of committed transactions into per-table row batches.
pub struct Capture {
    tables: HashMap<(String, String), TableInfo>,
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

    /// Applies one message; returns the number of rows it added (at commit).
    pub fn apply(&mut self, message: Message) -> Result<usize, CaptureError> {
        match message {
            Message::Begin { xid, .. } => {
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
                let Some(info) = self.tables.get_mut(&key) else {
                    return Ok(0);
                };
                // DMS ignores UPDATE and DELETE on tables without a primary key
                // (CHAP_Source.PostgreSQL.md, limitations).
                if info.key.is_empty() && change.action != Op::Insert {
                    tracing::warn!(table = %change.table, "update/delete on a table without a primary key: not captured");
                    return Ok(0);
                }
                let unknown: Vec<String> = change
                    .columns
                    .iter()
                    .chain(&change.identity)
                    .map(|(name, _)| name)
                    .filter(|name| !info.columns.iter().any(|c| &c.name == *name))
                    .cloned()
                    .collect();
                for column in unknown {
                    let table = format!("{}.{}", change.schema, change.table);
                    if !follow {
                        tracing::error!(%table, %column, "column unknown when replication started");
                        return Err(CaptureError::UnknownColumn { table, column });
                    }
                    let Some((_, pg_type)) = change.types.iter().find(|(n, _)| *n == column) else {
                        return Err(CaptureError::UntypedColumn { table, column });
                    };
                    tracing::info!(%table, %column, %pg_type, "column added to the source table: followed");
                    info.columns.push(Column::new(column, pg_type.clone()));
                }
                let Some(open) = self.open.as_mut() else {
                    return Err(CaptureError::NoTransaction {
                        table: format!("{}.{}", change.schema, change.table),
                    });
                };
                let n = self.counter.advance();
                open.changes.push((change, n));
                Ok(0)
            }
            Message::Commit { commit } => {
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
    // DEFAULT), and the northwind samples fill the before-image columns exactly then. wal2json
    // v2 repeats the new key as `identity` otherwise, so an identity equal to the new key
    // (and naming only key columns) counts as "no old key logged".
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
    use crate::wal2json::decode;

    fn table() -> TableInfo {
        TableInfo {
            schema: "public".into(),
            table: "t".into(),
            columns: vec![Column::new("id", "text"), Column::new("price", "real")],
            key: vec![0],
        }
    }

    #[test]
    fn a_column_unknown_at_start_is_an_error_naming_table_and_column() {
        let mut cap = Capture::new(vec![table()], None);
        let begin = r#"{"action":"B","xid":20,"timestamp":"2024-06-12 10:30:27.362108+00"}"#;
        cap.apply(decode(begin).expect("decode")).expect("begin");
        let known = r#"{"action":"I","schema":"public","table":"t","columns":[{"name":"id","value":"1"},{"name":"price","value":"1"}]}"#;
        cap.apply(decode(known).expect("decode"))
            .expect("known columns");
        let added = r#"{"action":"I","schema":"public","table":"t","columns":[{"name":"id","value":"2"},{"name":"price","value":"1"},{"name":"note","value":"x"}]}"#;
        match cap.apply(decode(added).expect("decode")) {
            Err(CaptureError::UnknownColumn { table, column }) => {
                assert_eq!((table.as_str(), column.as_str()), ("public.t", "note"));
            }
            other => panic!("expected UnknownColumn, got {other:?}"),
        }
        let other_table = r#"{"action":"I","schema":"public","table":"other","columns":[{"name":"note","value":"x"}]}"#;
        assert_eq!(
            cap.apply(decode(other_table).expect("decode"))
                .expect("not selected"),
            0
        );
    }

    #[test]
    fn a_new_column_is_followed_when_the_output_can_hold_it() {
        let mut cap = Capture::new(vec![table()], None);
        cap.follow_new_columns = true;
        let msgs = [
            r#"{"action":"B","xid":20,"timestamp":"2024-06-12 10:30:27.362108+00"}"#,
            r#"{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"text","value":"1"},{"name":"price","type":"real","value":1}]}"#,
            r#"{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"text","value":"2"},{"name":"price","type":"real","value":1},{"name":"points","type":"integer","value":7}]}"#,
            r#"{"action":"C","timestamp":"2024-06-12 10:30:27.362108+00"}"#,
        ];
        for m in msgs {
            cap.apply(decode(m).expect("decode")).expect("apply");
        }
        let info = cap.table("public", "t").expect("table");
        assert_eq!(
            info.columns
                .last()
                .map(|c| (c.name.as_str(), c.pg_type.as_str())),
            Some(("points", "integer"))
        );
        let rows = &cap.pending[&("public".to_string(), "t".to_string())];
        assert_eq!(rows[0].values[2], None, "changed before the column existed");
        assert_eq!(rows[1].values[2].as_deref(), Some("7"));
        let untyped = r#"{"action":"I","schema":"public","table":"t","columns":[{"name":"id","value":"3"},{"name":"memo","value":"x"}]}"#;
        cap.apply(decode(msgs[0]).expect("decode")).expect("begin");
        assert!(matches!(
            cap.apply(decode(untyped).expect("decode")),
            Err(CaptureError::UntypedColumn { .. })
        ));
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
        let msgs = [
            r#"{"action":"B","xid":11,"timestamp":"2024-06-12 10:30:27.362108+00"}"#,
            r#"{"action":"I","schema":"public","table":"t","columns":[{"name":"id","value":"1"},{"name":"price","value":"11"}]}"#,
            r#"{"action":"C","timestamp":"2024-06-12 10:30:27.362108+00"}"#,
            r#"{"action":"B","xid":12,"timestamp":"2024-06-12 10:30:28.254028+00"}"#,
            r#"{"action":"U","schema":"public","table":"t","columns":[{"name":"id","value":"2"},{"name":"price","value":"11"}],"identity":[{"name":"id","value":"1"}]}"#,
            r#"{"action":"I","schema":"public","table":"other","columns":[{"name":"id","value":"1"}]}"#,
            r#"{"action":"U","schema":"public","table":"t","columns":[{"name":"id","value":"2"},{"name":"price","value":"12"}],"identity":[{"name":"id","value":"2"}]}"#,
            r#"{"action":"D","schema":"public","table":"t","identity":[{"name":"id","value":"2"}]}"#,
            r#"{"action":"C","timestamp":"2024-06-12 10:30:28.254028+00"}"#,
        ];
        for m in msgs {
            cap.apply(decode(m).expect("decode")).expect("apply");
        }
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
}
