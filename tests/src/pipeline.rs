//! The whole pipeline on one machine, as the end-to-end test, the demo and the benchmark run it:
//!
//! PostgreSQL (`scripts/postgres.sh`) → `dms-local` (full load unless CDC only, then CDC from a
//! `test_decoding` slot, flushed into DMS CSV or Parquet files in an emulator bucket) → the bucket's own `s3:ObjectCreated:*`
//! notifications to an SQS queue (moto delivers them) → the partition registrar's handler
//! given those messages as its SQS trigger would (Glue catalog in the emulator) → each round,
//! the compactor Lambda under cargo-lambda's emulator, started by the merge schedule's event
//! ([`Pipeline::compact`]): lock, `CREATE TABLE` / `ALTER TABLE` / `MERGE` through the local
//! Athena (`athena-local`, executed on Trino over the emulator's Glue and S3), watermark →
//! every current-state table read back through the local Athena's API and compared with the
//! source table, row for row ([`Pipeline::current_state`]).
//!
//! The workload is random but reproducible: [`XorShift`] with a printed seed drives which
//! transactions run; the model in [`Workload`] only tracks which keys exist so that updates and
//! deletes hit real rows.
//!
//! # Comparing values (current state vs. source)
//! With CSV files every raw column is a string, so the curated columns are strings too (the
//! compactor's mapping for CSV) unless `DMSLAKE_COLUMN_TYPES` types them; with Parquet files
//! they are typed (DMS's Parquet types). Every value is read back as the engine's text of it
//! (`CAST(... AS varchar)`; binary as lower-case hex). Both sides are
//! compared as text after [`normalise`]:
//! - `real` / `double precision`: parsed as `f32` / `f64` on both sides and printed back
//!   (DMS writes `+1.50000006e-01`, PostgreSQL `0.15`);
//! - `boolean`: `t`/`true` and `f`/`false` (DMS writes `true`/`false`);
//! - `timestamp with time zone`: PostgreSQL's text in a UTC session ends in `+00`, which DMS
//!   drops; the suffix is removed;
//! - an empty string is NULL: in a DMS CSV file both are an empty field, and the compactor's
//!   SQL reads an empty field as NULL (`NULLIF(col, '')`);
//! - `bytea`: PostgreSQL prints `\x` and hex digits, DMS the hex digits only; the `\x` is
//!   removed;
//! - `money`: PostgreSQL prints `$1,234.50`, a Parquet decimal(38,4) `1234.5000`: both become
//!   the plain number without trailing zeros;
//! - `time`, `timestamp`: printed with six fractional digits. A `time` is PostgreSQL's text
//!   in both formats (the task's rule writes `time` columns as strings, as the stack's does);
//!   without that rule a Parquet `time` is DMS's `TIME32` (milliseconds since midnight, an
//!   `int` in Athena), turned back into a time, and a workload for it writes milliseconds only
//!   ([`Workload::time_micros`]);
//! - every other type: PostgreSQL's output function (what `psql` shows: `char(n)` padded,
//!   `inet` without `/32`; not the `::text` cast, which differs for those two), byte for byte,
//!   as `dms-local` writes it from both the full load and change capture.
//!
//! Rows are matched by their primary-key values (as normalised text), so the row order of
//! either side does not matter; a missing, extra or different row is a difference, and so is a
//! source column the current state lacks (or the reverse).
//!
//! The workload includes primary-key updates: `dms-local` writes the old key into the
//! before-image columns, from which the compactor's MERGE deletes the old row.
//!
//! # Perturbations
//! [`Perturbation`] rewrites one file of a round after `dms-local` wrote it and before the
//! registrar and the merge read it (drop one change, duplicate one, swap the order of two changes of one key): the
//! tests use it to show that the comparison notices one lost, duplicated or reordered change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use compactor::config::CompactorConfig;
use compactor::watermark::watermark_doc;
use dms_local::format::RowLayout;
use dms_local::{AwsClients, DataFormat, DmsLocal, MigrationType, WrittenFile};
use dmslake::config::Config;
use dmslake::state::{StateLocation, StateStore};
use serde_json::{json, Value};
use tokio_postgres::{Client, NoTls};

/// Default connection string of `scripts/postgres.sh`'s cluster (`DMSLAKE_PG` overrides it),
/// on port `PGPORT` (as the script), else 55432.
pub fn default_pg() -> String {
    let port = std::env::var("PGPORT").unwrap_or_else(|_| "55432".into());
    format!("host=127.0.0.1 port={port} user=postgres dbname=postgres")
}

/// The PostgreSQL connection string: `DMSLAKE_PG`, else [`default_pg`].
pub fn pg_conninfo() -> String {
    std::env::var("DMSLAKE_PG").unwrap_or_else(|_| default_pg())
}

// ---------------------------------------------------------------------------------------------
// Random numbers

/// xorshift64*: small, fast and reproducible from its seed (not for anything secret).
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }
}

/// A seed from `DMSLAKE_E2E_SEED` when set, else from the clock.
pub fn seed_from_env() -> u64 {
    if let Some(seed) = std::env::var("DMSLAKE_E2E_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return seed;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// Source tables

/// How values of a column are generated and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    BigInt,
    SmallInt,
    Numeric,
    Real,
    Double,
    Bool,
    Text,
    Varchar,
    Char,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Jsonb,
    Inet,
    Bytea,
    TextArray,
    Money,
}

impl Kind {
    fn sql_type(self) -> &'static str {
        match self {
            Kind::Int => "integer",
            Kind::BigInt => "bigint",
            Kind::SmallInt => "smallint",
            Kind::Numeric => "numeric(12,2)",
            Kind::Real => "real",
            Kind::Double => "double precision",
            Kind::Bool => "boolean",
            Kind::Text => "text",
            Kind::Varchar => "varchar(40)",
            Kind::Char => "char(6)",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::Timestamp => "timestamp",
            Kind::TimestampTz => "timestamptz",
            Kind::Interval => "interval",
            Kind::Uuid => "uuid",
            Kind::Jsonb => "jsonb",
            Kind::Inet => "inet",
            Kind::Bytea => "bytea",
            Kind::TextArray => "text[]",
            Kind::Money => "money",
        }
    }

    /// A random SQL literal of this kind, or `NULL` now and then.
    fn literal(self, rng: &mut XorShift, time_micros: bool) -> String {
        if rng.chance(8) {
            return "NULL".into();
        }
        let words = [
            "alpha",
            "beta",
            "O'Brien",
            "comma, inside",
            "\"quoted\"",
            "naïve",
            "x",
            "",
            "tab\tin",
        ];
        let word = |rng: &mut XorShift| rng.pick(&words).map(|w| w.to_string()).unwrap_or_default();
        match self {
            Kind::Int => format!("{}", rng.below(2_000_000) as i64 - 1_000_000),
            Kind::BigInt => format!("{}", rng.next_u64() as i64 / 4),
            Kind::SmallInt => format!("{}", rng.below(60_000) as i64 - 30_000),
            Kind::Numeric => format!("{}.{:02}", rng.below(1_000_000), rng.below(100)),
            Kind::Real => format!("{}.{}", rng.below(10_000), rng.below(1000)),
            Kind::Double => format!(
                "{}.{}e{}",
                rng.below(1000),
                rng.below(1_000_000),
                rng.below(20) as i64 - 10
            ),
            Kind::Bool => if rng.chance(50) { "true" } else { "false" }.into(),
            Kind::Text => quote_literal(&format!("{} {}", word(rng), rng.below(1000))),
            Kind::Varchar | Kind::Char => {
                quote_literal(&word(rng).chars().take(6).collect::<String>())
            }
            Kind::Date => format!("DATE '{}'", random_date(rng)),
            Kind::Time => format!("TIME '{}'", random_time(rng, time_micros)),
            Kind::Timestamp => {
                format!(
                    "TIMESTAMP '{} {}'",
                    random_date(rng),
                    random_time(rng, true)
                )
            }
            Kind::TimestampTz => format!(
                "TIMESTAMPTZ '{} {}+0{}'",
                random_date(rng),
                random_time(rng, true),
                rng.below(9)
            ),
            Kind::Interval => format!("INTERVAL '{} days {} hours'", rng.below(40), rng.below(24)),
            Kind::Uuid => format!(
                "'{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}'::uuid",
                rng.next_u64() as u32,
                rng.below(0x10000),
                rng.below(0x1000),
                rng.below(0x1000),
                rng.next_u64() & 0xffff_ffff_ffff
            ),
            Kind::Jsonb => format!(
                "{}::jsonb",
                quote_literal(
                    &json!({"n": rng.below(100), "tag": word(rng), "ok": rng.chance(50)})
                        .to_string()
                )
            ),
            Kind::Inet => format!(
                "'10.{}.{}.{}'::inet",
                rng.below(256),
                rng.below(256),
                rng.below(256)
            ),
            Kind::Bytea => format!("'\\x{:08x}'::bytea", rng.next_u64() as u32),
            Kind::TextArray => format!(
                "ARRAY[{}, {}]::text[]",
                quote_literal(&word(rng)),
                quote_literal(&word(rng))
            ),
            Kind::Money => format!("{}.{:02}::money", rng.below(100_000), rng.below(100)),
        }
    }
}

/// `20yy-mm-dd`.
fn random_date(rng: &mut XorShift) -> String {
    format!(
        "20{:02}-{:02}-{:02}",
        rng.below(30),
        1 + rng.below(12),
        1 + rng.below(28)
    )
}

/// `hh:mm:ss.ffffff` (microseconds), or `hh:mm:ss.fff` when `!micros`.
fn random_time(rng: &mut XorShift, micros: bool) -> String {
    let (h, m, s) = (rng.below(24), rng.below(60), rng.below(60));
    if micros {
        format!("{h:02}:{m:02}:{s:02}.{:06}", rng.below(1_000_000))
    } else {
        format!("{h:02}:{m:02}:{s:02}.{:03}", rng.below(1_000))
    }
}

/// `'text'` with quotes doubled (standard_conforming_strings is on).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"name"` with quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(Clone, Debug)]
pub struct ColumnDef {
    pub name: String,
    pub kind: Kind,
}

#[derive(Clone, Debug)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Names of the primary-key columns (integer kinds).
    pub key: Vec<String>,
}

impl TableDef {
    fn new(name: &str, key: &[&str], columns: &[(&str, Kind)]) -> Self {
        Self {
            name: name.into(),
            columns: columns
                .iter()
                .map(|(n, k)| ColumnDef {
                    name: (*n).into(),
                    kind: *k,
                })
                .collect(),
            key: key.iter().map(|k| (*k).to_string()).collect(),
        }
    }

    fn non_key(&self) -> Vec<&ColumnDef> {
        self.columns
            .iter()
            .filter(|c| !self.key.contains(&c.name))
            .collect()
    }

    fn kind_of(&self, column: &str) -> Option<Kind> {
        self.columns
            .iter()
            .find(|c| c.name == column)
            .map(|c| c.kind)
    }
}

/// The sample database: three tables covering the PostgreSQL types DMS supports as text.
pub fn sample_tables() -> Vec<TableDef> {
    use Kind::*;
    vec![
        TableDef::new(
            "customers",
            &["id"],
            &[
                ("id", Int),
                ("name", Text),
                ("email", Varchar),
                ("balance", Numeric),
                ("active", Bool),
                ("score", Real),
                ("ratio", Double),
                ("born", Date),
                ("updated_at", TimestampTz),
                ("created", Timestamp),
                ("meta", Jsonb),
                ("uid", Uuid),
                ("tags", TextArray),
            ],
        ),
        TableDef::new(
            "orders",
            &["id"],
            &[
                ("id", BigInt),
                ("customer_id", Int),
                ("status", Varchar),
                ("total", Money),
                ("qty", SmallInt),
                ("ship_window", Interval),
                ("ship_time", Time),
                ("client_ip", Inet),
            ],
        ),
        TableDef::new(
            "order_lines",
            &["order_id", "line_no"],
            &[
                ("order_id", BigInt),
                ("line_no", Int),
                ("sku", Char),
                ("price", Numeric),
                ("payload", Bytea),
                ("note", Text),
            ],
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Workload

/// Counts of what the workload did (for the demo's summary and the test's messages).
#[derive(Clone, Debug, Default)]
pub struct WorkloadStats {
    pub transactions: usize,
    pub inserts: usize,
    pub updates: usize,
    pub deletes: usize,
    pub reinserts: usize,
    pub key_updates: usize,
    pub multi_change_transactions: usize,
}

impl WorkloadStats {
    pub fn changes(&self) -> usize {
        self.inserts + self.updates + self.deletes + self.reinserts + self.key_updates
    }
}

/// Which keys exist (and which were deleted) per table: enough to aim updates and deletes.
pub struct Workload {
    pub schema: String,
    pub tables: Vec<TableDef>,
    pub rng: XorShift,
    live: Vec<BTreeSet<Vec<i64>>>,
    deleted: Vec<BTreeSet<Vec<i64>>>,
    next_key: i64,
    /// Include primary-key updates (the compactor handles them with before-image columns).
    pub key_updates: bool,
    /// `time` values with microseconds (else milliseconds: what DMS keeps in Parquet).
    pub time_micros: bool,
    pub stats: WorkloadStats,
}

impl Workload {
    pub fn new(schema: &str, tables: Vec<TableDef>, seed: u64) -> Self {
        let n = tables.len();
        Self {
            schema: schema.into(),
            tables,
            rng: XorShift::new(seed),
            live: vec![BTreeSet::new(); n],
            deleted: vec![BTreeSet::new(); n],
            next_key: 1,
            key_updates: true,
            time_micros: true,
            stats: WorkloadStats::default(),
        }
    }

    fn qualified(&self, t: usize) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&self.tables[t].name)
        )
    }

    /// `CREATE SCHEMA` + `CREATE TABLE`s (old schema of the same name dropped).
    pub fn ddl(&self) -> String {
        let mut sql = format!(
            "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};",
            s = quote_ident(&self.schema)
        );
        for (i, t) in self.tables.iter().enumerate() {
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.name), c.kind.sql_type()))
                .collect();
            let key: Vec<String> = t.key.iter().map(|k| quote_ident(k)).collect();
            sql.push_str(&format!(
                " CREATE TABLE {} ({}, PRIMARY KEY ({}));",
                self.qualified(i),
                cols.join(", "),
                key.join(", ")
            ));
        }
        sql
    }

    fn fresh_key(&mut self, t: usize) -> Vec<i64> {
        let k = self.next_key;
        self.next_key += 1;
        match self.tables[t].key.len() {
            1 => vec![k],
            _ => vec![k / 3 + 1, (k % 7) + (k % 3) * 10],
        }
    }

    fn key_where(&self, t: usize, key: &[i64]) -> String {
        self.tables[t]
            .key
            .iter()
            .zip(key)
            .map(|(c, v)| format!("{} = {v}", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn insert_sql(&mut self, t: usize, key: &[i64]) -> String {
        let table = self.tables[t].clone();
        let mut names = Vec::new();
        let mut values = Vec::new();
        for c in &table.columns {
            names.push(quote_ident(&c.name));
            match table.key.iter().position(|k| *k == c.name) {
                Some(i) => values.push(key[i].to_string()),
                None => values.push(c.kind.literal(&mut self.rng, self.time_micros)),
            }
        }
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.qualified(t),
            names.join(", "),
            values.join(", ")
        )
    }

    fn update_sql(&mut self, t: usize, key: &[i64]) -> String {
        let table = self.tables[t].clone();
        let cols = table.non_key();
        let mut sets = Vec::new();
        for c in &cols {
            if sets.is_empty() || self.rng.chance(40) {
                sets.push(format!(
                    "{} = {}",
                    quote_ident(&c.name),
                    c.kind.literal(&mut self.rng, self.time_micros)
                ));
            }
        }
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.qualified(t),
            sets.join(", "),
            self.key_where(t, key)
        )
    }

    fn random_live(&mut self, t: usize) -> Option<Vec<i64>> {
        let n = self.live[t].len() as u64;
        if n == 0 {
            return None;
        }
        let i = self.rng.below(n) as usize;
        self.live[t].iter().nth(i).cloned()
    }

    fn random_deleted(&mut self, t: usize) -> Option<Vec<i64>> {
        let n = self.deleted[t].len() as u64;
        if n == 0 {
            return None;
        }
        let i = self.rng.below(n) as usize;
        self.deleted[t].iter().nth(i).cloned()
    }

    /// Statements of one random transaction (the model updated as if it commits).
    pub fn transaction(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let ops = 1 + self.rng.below(4);
        for _ in 0..ops {
            let t = self.rng.below(self.tables.len() as u64) as usize;
            let choice = self.rng.below(100);
            match choice {
                0..=29 => {
                    let key = self.fresh_key(t);
                    out.push(self.insert_sql(t, &key));
                    self.live[t].insert(key);
                    self.stats.inserts += 1;
                }
                30..=59 => {
                    if let Some(key) = self.random_live(t) {
                        out.push(self.update_sql(t, &key));
                        self.stats.updates += 1;
                    }
                }
                60..=71 => {
                    if let Some(key) = self.random_live(t) {
                        out.push(format!(
                            "DELETE FROM {} WHERE {}",
                            self.qualified(t),
                            self.key_where(t, &key)
                        ));
                        self.live[t].remove(&key);
                        self.deleted[t].insert(key);
                        self.stats.deletes += 1;
                    }
                }
                72..=81 => {
                    if let Some(key) = self.random_deleted(t) {
                        out.push(self.insert_sql(t, &key));
                        self.deleted[t].remove(&key);
                        self.live[t].insert(key);
                        self.stats.reinserts += 1;
                    }
                }
                82..=91 => {
                    // Several changes to one key in one transaction.
                    let key = match self.random_live(t) {
                        Some(k) if self.rng.chance(50) => k,
                        _ => {
                            let k = self.fresh_key(t);
                            out.push(self.insert_sql(t, &k));
                            self.live[t].insert(k.clone());
                            self.stats.inserts += 1;
                            k
                        }
                    };
                    for _ in 0..1 + self.rng.below(3) {
                        out.push(self.update_sql(t, &key));
                        self.stats.updates += 1;
                    }
                    if self.rng.chance(30) {
                        out.push(format!(
                            "DELETE FROM {} WHERE {}",
                            self.qualified(t),
                            self.key_where(t, &key)
                        ));
                        self.live[t].remove(&key);
                        self.deleted[t].insert(key.clone());
                        self.stats.deletes += 1;
                        if self.rng.chance(50) {
                            out.push(self.insert_sql(t, &key));
                            self.deleted[t].remove(&key);
                            self.live[t].insert(key);
                            self.stats.reinserts += 1;
                        }
                    }
                    self.stats.multi_change_transactions += 1;
                }
                _ => {
                    // Primary-key update of a single-column key to a fresh key.
                    if !self.key_updates || self.tables[t].key.len() != 1 {
                        continue;
                    }
                    if let Some(old) = self.random_live(t) {
                        let new = self.fresh_key(t);
                        let k = quote_ident(&self.tables[t].key[0]);
                        out.push(format!(
                            "UPDATE {} SET {k} = {} WHERE {k} = {}",
                            self.qualified(t),
                            new[0],
                            old[0]
                        ));
                        self.live[t].remove(&old);
                        self.deleted[t].insert(old);
                        self.live[t].insert(new);
                        self.stats.key_updates += 1;
                    }
                }
            }
        }
        if !out.is_empty() {
            self.stats.transactions += 1;
        }
        out
    }

    /// One statement inserting `rows` fresh rows into table `t` at once (generated by
    /// PostgreSQL, for large tables); single-column integer keys only.
    pub fn bulk_insert_sql(&mut self, t: usize, rows: usize) -> Result<String> {
        let table = self.tables[t].clone();
        if table.key.len() != 1 {
            bail!("{}: bulk rows need a single-column key", table.name);
        }
        let first = self.next_key;
        let last = first + rows as i64 - 1;
        self.next_key = last + 1;
        for k in first..=last {
            self.live[t].insert(vec![k]);
        }
        let values: Vec<String> = table
            .columns
            .iter()
            .map(|c| {
                if c.name == table.key[0] {
                    return "g".to_string();
                }
                match c.kind {
                    Kind::Int | Kind::BigInt => "(g % 100000)".into(),
                    Kind::SmallInt => "(g % 1000)::smallint".into(),
                    Kind::Numeric => "(g % 100000) / 100.0".into(),
                    Kind::Real | Kind::Double => "(g % 1000) / 8.0".into(),
                    Kind::Bool => "(g % 2 = 0)".into(),
                    Kind::Money => "((g % 100000) / 100.0)::numeric::money".into(),
                    Kind::Interval => "make_interval(days => (g % 30)::int)".into(),
                    Kind::Time => "TIME '00:00' + make_interval(secs => (g % 86400)::int)".into(),
                    Kind::Inet => "('10.0.' || (g % 256) || '.' || (g / 256 % 256))::inet".into(),
                    Kind::Date => "DATE '2020-01-01' + (g % 2000)::int".into(),
                    Kind::Timestamp | Kind::TimestampTz => {
                        "TIMESTAMP '2020-01-01' + make_interval(secs => (g % 100000000)::int)"
                            .into()
                    }
                    _ => "'row ' || g".into(),
                }
            })
            .collect();
        Ok(format!(
            "INSERT INTO {} ({}) SELECT {} FROM generate_series({first}::bigint, {last}::bigint) AS g",
            self.qualified(t),
            table
                .columns
                .iter()
                .map(|c| quote_ident(&c.name))
                .collect::<Vec<_>>()
                .join(", "),
            values.join(", ")
        ))
    }

    /// Inserts `rows` fresh rows per table (the data present before replication starts).
    pub fn initial_rows(&mut self, rows: usize) -> Vec<String> {
        let mut out = Vec::new();
        for t in 0..self.tables.len() {
            for _ in 0..rows {
                let key = self.fresh_key(t);
                out.push(self.insert_sql(t, &key));
                self.live[t].insert(key);
            }
        }
        out
    }
}

/// Runs `statements` in one transaction.
pub async fn run_transaction(pg: &mut Client, statements: &[String]) -> Result<()> {
    let txn = pg.transaction().await.context("BEGIN")?;
    for s in statements {
        txn.batch_execute(s)
            .await
            .with_context(|| format!("executing {s}"))?;
    }
    txn.commit().await.context("COMMIT")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Perturbations (test hook)

/// A deliberate fault injected into one CDC file of a round, to show the check notices it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perturbation {
    /// Remove one change (the last change of a key in the file).
    DropOne,
    /// Deliver one change again after the later changes of its key (the copy gets a later
    /// change sequence, as a redelivery would).
    DuplicateOne,
    /// Exchange the order of two changes of one key (their change sequences swapped).
    SwapTwo,
}

/// Splits one CSV line into fields; an empty field is `None` (DMS writes NULL and an empty
/// string alike).
fn split_csv(line: &str) -> Vec<Option<String>> {
    dms_local::format::split_line(line)
        .into_iter()
        .map(|f| if f.is_empty() { None } else { Some(f) })
        .collect()
}

fn join_csv(fields: &[Option<String>]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        dms_local::format::push_field(&mut out, f.as_deref());
    }
    out
}

/// Applies `p` to the CSV `body` of one CDC file of `table` (row layout: op, timestamp, source
/// columns, change sequence, before-image keys). Returns the new body, or `None` when the file
/// has no suitable rows.
pub fn perturb(body: &str, table: &TableDef, p: Perturbation) -> Option<String> {
    let mut rows: Vec<Vec<Option<String>>> = body.lines().map(split_csv).collect();
    let key_idx: Vec<usize> = table
        .key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| c.name == *k))
        .map(|i| i + 2)
        .collect();
    let seq_idx = 2 + table.columns.len();
    let key_of = |r: &Vec<Option<String>>| -> Vec<Option<String>> {
        key_idx
            .iter()
            .map(|&i| r.get(i).cloned().flatten())
            .collect()
    };
    // Rows per key, in file (= commit) order.
    let mut by_key: BTreeMap<Vec<Option<String>>, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_key.entry(key_of(r)).or_default().push(i);
    }
    let op = |r: &Vec<Option<String>>| r.first().cloned().flatten().unwrap_or_default();
    match p {
        Perturbation::DropOne => {
            // The last change of a key, when it is an insert or a delete (the key's presence
            // then differs for sure).
            let victim = by_key
                .values()
                .filter_map(|v| v.last().copied())
                .find(|&i| matches!(op(&rows[i]).as_str(), "I" | "D"))?;
            rows.remove(victim);
        }
        Perturbation::DuplicateOne => {
            // An insert or update of a key that is deleted later in the file, redelivered after
            // the delete.
            let (src, last) = by_key.values().find_map(|v| {
                let del = v.iter().rposition(|&i| op(&rows[i]) == "D")?;
                let src = v[..del].iter().rev().find(|&&i| op(&rows[i]) != "D")?;
                Some((*src, *v.last()?))
            })?;
            let mut copy = rows[src].clone();
            let max_seq = rows
                .iter()
                .filter_map(|r| r.get(seq_idx).cloned().flatten())
                .max()?;
            copy[seq_idx] = Some(bump_sequence(&max_seq)?);
            copy[1] = rows[last][1].clone();
            rows.push(copy);
        }
        Perturbation::SwapTwo => {
            // Two consecutive changes of one key whose content differs.
            // The last two changes of a key, so that nothing later hides the swap.
            let (a, b) = by_key.values().find_map(|v| {
                let (&a, &b) = (v.get(v.len().checked_sub(2)?)?, v.last()?);
                let (ra, rb) = (&rows[a], &rows[b]);
                let differs = op(ra) != op(rb) || ra.get(2..seq_idx) != rb.get(2..seq_idx);
                differs.then_some((a, b))
            })?;
            let (sa, sb) = (rows[a][seq_idx].clone(), rows[b][seq_idx].clone());
            rows[a][seq_idx] = sb;
            rows[b][seq_idx] = sa;
        }
    }
    let mut out = String::new();
    for r in &rows {
        out.push_str(&join_csv(r));
        out.push('\n');
    }
    Some(out)
}

/// The change sequence one step after `seq` (same width).
fn bump_sequence(seq: &str) -> Option<String> {
    let width = seq.len();
    let (head, tail) = seq.split_at(width.saturating_sub(19));
    let n: u64 = tail.parse().ok()?;
    Some(format!("{head}{:019}", n + 4))
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/// Options of one pipeline run.
#[derive(Clone, Debug)]
pub struct Options {
    /// PostgreSQL schema of the sample tables (unique per run).
    pub schema: String,
    pub seed: u64,
    /// Rows per table before replication starts.
    pub initial_rows: usize,
    /// Merge rounds after the full load.
    pub rounds: usize,
    /// Random transactions per round.
    pub transactions_per_round: usize,
    /// Where the Lambda emulator's environment, events and log go (created; kept by the demo).
    pub work_dir: PathBuf,
    /// A fault to inject into one file of the given round (1-based).
    pub perturb: Option<(usize, Perturbation)>,
    /// Compare every table after every round (else only after the last).
    pub compare_each_round: bool,
    /// Use the local stack's names from `scripts/local.env` (data bucket, Glue databases, state
    /// bucket, date partitioning) instead of unique ones, after removing what an earlier run
    /// with the same schema left there (files, raw tables, watermarks). For the demo, so the
    /// Lambda functions under the emulator see the same catalog.
    pub local_stack: bool,
    /// `ALTER TABLE customers ADD COLUMN loyalty_points integer` before the workload of this
    /// round (1-based); later inserts and updates fill the column.
    pub add_column: Option<usize>,
    /// Cut a table's CDC file at this many rows (several files per table and round, a key's
    /// changes spread over them); `None`: one file per table and round.
    pub cdc_max_rows: Option<usize>,
    /// The DMS endpoint's `DataFormat` that `dms-local` writes.
    pub format: DataFormat,
    /// `DMSLAKE_CURATED_PARTITIONING` of the compactor (e.g. `<schema>.customers=day(created)`).
    pub curated_partitioning: Option<String>,
    /// The sample tables replicated, by name; all of them when `None`.
    pub tables: Option<Vec<String>>,
    /// Size at which `dms-local` starts a new full-load file (DMS's `MaxFileSize`).
    pub load_max_bytes: usize,
    /// `dms-local` creates, starts and stops a replication task in the emulator (identifier
    /// `dms-local-<slot with dashes>`) and puts its state-change events on the default bus
    /// (kept in `dms.events` for invoking the watcher).
    pub dms_task: bool,
    /// The task's migration type: with `Cdc` there is no full load (no LOAD files); the
    /// changes start when the slot is created, so the source should start empty
    /// (`initial_rows: 0`) for the current state to equal it.
    pub migration_type: MigrationType,
}

/// What the compactor reported for one table in one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableMerge {
    /// Curated (= raw) table name.
    pub table: String,
    /// `merged`, `skipped`, `failed`, `timed_out`, `nothing_new`, ...
    pub status: String,
    pub query_id: String,
    pub scanned_bytes: i64,
    /// The raw partitions the MERGE read (`{"from": [...], "to": [...]}`).
    pub range: Value,
    /// The reason of a table not merged.
    pub reason: String,
}

/// One compactor invocation: its per-table outcome and how long the invocation took.
#[derive(Clone, Debug, Default)]
pub struct CompactorRun {
    pub tables: Vec<TableMerge>,
    pub elapsed: Duration,
}

impl CompactorRun {
    /// Reads the compactor's report (`{"action": ..., "tables": [{"status": ..., ...}]}`).
    pub fn from_report(report: &Value, elapsed: Duration) -> Result<Self> {
        let tables = report
            .get("tables")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("the compactor answered without a table list: {report}"))?;
        let text = |t: &Value, k: &str| {
            t.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(Self {
            tables: tables
                .iter()
                .map(|t| TableMerge {
                    table: text(t, "table"),
                    status: text(t, "status"),
                    query_id: text(t, "query_id"),
                    scanned_bytes: t.get("scanned_bytes").and_then(Value::as_i64).unwrap_or(0),
                    range: t.get("range").cloned().unwrap_or(Value::Null),
                    reason: text(t, "reason"),
                })
                .collect(),
            elapsed,
        })
    }

    /// `table: status (query id, bytes scanned)` for each table.
    pub fn describe(&self) -> String {
        self.tables
            .iter()
            .map(|t| match t.status.as_str() {
                "merged" => format!(
                    "{} merged (query {}, {} bytes scanned)",
                    t.table, t.query_id, t.scanned_bytes
                ),
                other if t.reason.is_empty() => format!("{} {other}", t.table),
                other => format!("{} {other}: {}", t.table, t.reason),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What one table looks like after a round.
#[derive(Clone, Debug, Default)]
pub struct TableReport {
    pub source: String,
    pub files_written: usize,
    pub partitions_registered: usize,
    /// What the round's compactor run did to the table.
    pub merge: Option<TableMerge>,
    /// Rows of the current state, read through the local Athena (when compared).
    pub current_rows: usize,
    pub source_rows: usize,
    /// Differences found (empty when equal); at most a few are listed.
    pub differences: Vec<String>,
}

impl TableReport {
    pub fn equal(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Everything the run built: names to query and clean up.
pub struct Pipeline {
    pub opts: Options,
    pub bucket: String,
    pub raw_database: String,
    pub curated_database: String,
    pub slot: String,
    /// The Athena workgroup the compactor and the comparison query in.
    pub workgroup: String,
    pub workload: Workload,
    pub pg: Client,
    pub dms: DmsLocal,
    pub registrar: partition_registrar::handler::Deps,
    pub compactor: CompactorConfig,
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The queue the data bucket notifies (`s3:ObjectCreated:*`), read like the registrar's
    /// SQS trigger.
    pub queue_url: String,
    queue_arn: String,
    pub state: StateStore,
    files: BTreeMap<String, usize>,
    partitions: BTreeMap<String, usize>,
    /// The compactor Lambda under cargo-lambda's emulator.
    pub lambda: crate::lambda::LambdaEmulator,
    /// Queries through the local Athena (the comparison reads the current state with it).
    pub athena: crate::athena::Athena,
    /// Every compactor run so far, in order.
    pub compactor_runs: Vec<CompactorRun>,
    /// The file a perturbation damaged (`Options::perturb`).
    pub perturbed: Option<String>,
    /// Commit time of the last transaction of the current round (for the benchmark).
    pub last_commit: Option<Instant>,
}

/// `KEY=VALUE` lines of `scripts/local.env` (the functions' environment on the local stack).
pub fn local_env() -> Result<BTreeMap<String, String>> {
    let path = crate::repo_dir().join("scripts/local.env");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            // A single-quoted value is taken literally (dotenv syntax).
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect())
}

fn env_map(opts: &Options, bucket: &str, raw: &str, curated: &str) -> BTreeMap<String, String> {
    let keys: Vec<String> = sample_tables()
        .iter()
        .map(|t| format!("{}.{}={}", opts.schema, t.name, t.key.join(",")))
        .collect();
    [
        ("DMSLAKE_BUCKET_FOLDER", "dms".to_string()),
        ("DMSLAKE_DATE_PARTITION_ENABLED", "true".into()),
        ("DMSLAKE_DATE_PARTITION_SEQUENCE", "YYYYMMDD".into()),
        ("DMSLAKE_DATE_PARTITION_DELIMITER", "SLASH".into()),
        ("DMSLAKE_RAW_DATABASE", raw.into()),
        ("DMSLAKE_CURATED_DATABASE", curated.into()),
        (
            "DMSLAKE_CSV_COLUMNS_URI",
            format!("s3://{bucket}/dmslake/csv-columns.json"),
        ),
        (
            "DMSLAKE_CURATED_LOCATION",
            format!("s3://{bucket}/curated/"),
        ),
        ("DMSLAKE_PRIMARY_KEYS", keys.join(";")),
        // Typed curated columns from CSV's strings (Parquet files carry these types already).
        (
            "DMSLAKE_COLUMN_TYPES",
            [
                "customers.balance=decimal(12,2)",
                "customers.active=boolean",
                "customers.score=float",
                "customers.born=date",
                "customers.created=timestamp",
                "orders.qty=int",
            ]
            .iter()
            .map(|t| format!("{}.{t}", opts.schema))
            .collect::<Vec<_>>()
            .join(";"),
        ),
        ("DMSLAKE_STATE_BUCKET", bucket.into()),
        ("DMSLAKE_DATA_BUCKET", bucket.into()),
        (
            "DMSLAKE_CURATED_PARTITIONING",
            opts.curated_partitioning.clone().unwrap_or_default(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The registrar's CSV column manifest: DMS's columns where `dms-local` writes them.
fn csv_manifest(schema: &str, config: &Config) -> Value {
    let mut doc = serde_json::Map::new();
    for t in sample_tables() {
        let mut cols = vec![json!("Op"), json!(config.columns.timestamp)];
        cols.extend(t.columns.iter().map(|c| json!(c.name)));
        cols.push(json!(config.columns.change_sequence));
        cols.extend(
            t.key
                .iter()
                .map(|k| json!(format!("{}{k}", config.columns.before_image_prefix))),
        );
        doc.insert(format!("{schema}.{}", t.name), Value::Array(cols));
    }
    Value::Object(doc)
}

/// Starts `scripts/postgres.sh start` (idempotent) and connects.
pub async fn connect_pg() -> Result<Client> {
    let script = crate::repo_dir().join("scripts/postgres.sh");
    let status = std::process::Command::new(&script)
        .arg("start")
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("{} start failed ({status})", script.display());
    }
    let (client, conn) = tokio_postgres::connect(&pg_conninfo(), NoTls)
        .await
        .context("connecting to PostgreSQL (scripts/postgres.sh start)")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
        .batch_execute("SET TimeZone = 'UTC'")
        .await
        .context("SET TimeZone")?;
    Ok(client)
}

impl Pipeline {
    /// Creates the sample schema with its initial rows, the bucket, the column manifest, and
    /// starts `dms-local` (slot created; no full load yet).
    pub async fn setup(opts: Options) -> Result<Self> {
        std::fs::create_dir_all(&opts.work_dir)
            .with_context(|| format!("creating {}", opts.work_dir.display()))?;
        let sdk = crate::sdk_config().await;
        let clients = crate::clients().await;
        let (bucket, raw_database, curated_database, env) = if opts.local_stack {
            let local = local_env()?;
            let get = |k: &str| {
                local
                    .get(k)
                    .cloned()
                    .ok_or_else(|| anyhow!("scripts/local.env has no {k}"))
            };
            let (bucket, raw, curated) = (
                get("DMSLAKE_DATA_BUCKET")?,
                get("DMSLAKE_RAW_DATABASE")?,
                get("DMSLAKE_CURATED_DATABASE")?,
            );
            let mut env = env_map(&opts, &bucket, &raw, &curated);
            for k in [
                "DMSLAKE_BUCKET_FOLDER",
                "DMSLAKE_DATE_PARTITION_SEQUENCE",
                "DMSLAKE_DATE_PARTITION_DELIMITER",
                "DMSLAKE_STATE_BUCKET",
                "DMSLAKE_STATE_PREFIX",
                "DMSLAKE_CURATED_LOCATION",
                "DMSLAKE_PRIMARY_KEYS",
                "DMSLAKE_COLUMN_TYPES",
                "DMSLAKE_CURATED_PARTITIONING",
                "DMSLAKE_ATHENA_WORKGROUP",
            ] {
                if let Some(v) = local.get(k) {
                    env.insert(k.to_string(), v.clone());
                }
            }
            (bucket, raw, curated, env)
        } else {
            let bucket = crate::new_bucket(&clients, "e2e").await;
            let raw = crate::unique_name("e2e_raw", '_').replace('-', "_");
            let curated = crate::unique_name("e2e_cur", '_').replace('-', "_");
            let env = env_map(&opts, &bucket, &raw, &curated);
            (bucket, raw, curated, env)
        };
        let mut env = env;
        let workgroup = match env.get("DMSLAKE_ATHENA_WORKGROUP") {
            Some(w) => w.clone(),
            None => {
                let w = crate::unique_name("e2e", '-');
                env.insert("DMSLAKE_ATHENA_WORKGROUP".into(), w.clone());
                w
            }
        };
        let lookup = |k: &str| env.get(k).cloned();
        let config = Config::from_lookup(&lookup).map_err(|e| anyhow!("config: {e}"))?;
        let compactor =
            CompactorConfig::from_lookup(&lookup).map_err(|e| anyhow!("compactor config: {e}"))?;
        let settings = partition_registrar::handler::Settings::from_lookup(&lookup)
            .map_err(|e| anyhow!("registrar settings: {e}"))?;
        clients
            .s3
            .put_object()
            .bucket(&bucket)
            .key("dmslake/csv-columns.json")
            .body(
                csv_manifest(&opts.schema, &config)
                    .to_string()
                    .into_bytes()
                    .into(),
            )
            .send()
            .await
            .context("uploading the CSV column manifest")?;
        if opts.local_stack {
            reset_previous_run(&clients, &opts.schema, &bucket, &config, &compactor).await?;
        }
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (queue_url, queue_arn) = if opts.local_stack {
            // scripts/local_resources.py's registrar queue, notified by the data bucket.
            let url = sqs
                .get_queue_url()
                .queue_name("dmslake-local-registrar")
                .send()
                .await
                .context("the local registrar queue (scripts/local_resources.py)")?
                .queue_url()
                .unwrap_or_default()
                .to_string();
            // Leftovers of an earlier run are drained by receiving and deleting them: SQS
            // refuses a second PurgeQueue within 60 seconds.
            loop {
                let got = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .context("draining the registrar queue")?;
                let messages = got.messages();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    if let Some(handle) = m.receipt_handle() {
                        sqs.delete_message()
                            .queue_url(&url)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .context("draining the registrar queue")?;
                    }
                }
            }
            let arn = queue_arn(&sqs, &url).await?;
            (url, arn)
        } else {
            notified_queue(&sqs, &clients.s3, &bucket, &config.layout.bucket_folder).await?
        };
        let registrar = partition_registrar::handler::Deps::new(
            clients.s3.clone(),
            clients.glue.clone(),
            config.clone(),
            settings,
        );

        let mut pg = connect_pg().await?;
        let selected: Vec<TableDef> = sample_tables()
            .into_iter()
            .filter(|t| {
                opts.tables
                    .as_ref()
                    .is_none_or(|names| names.contains(&t.name))
            })
            .collect();
        if selected.is_empty() {
            bail!("no sample table is named {:?}", opts.tables);
        }
        let mut workload = Workload::new(&opts.schema, selected.clone(), opts.seed);
        pg.batch_execute(&workload.ddl())
            .await
            .context("creating the sample tables")?;
        let initial = workload.initial_rows(opts.initial_rows);
        run_transaction(&mut pg, &initial).await?;

        let slot = format!(
            "e2e_{}",
            opts.schema
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        )
        .to_ascii_lowercase();
        let slot: String = slot.chars().take(63).collect();
        // A slot left by an interrupted run of the same schema would replay its old changes.
        pg.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name = $1 AND NOT active",
            &[&slot],
        )
        .await
        .context("dropping a leftover replication slot")?;
        let tables = selected
            .iter()
            .map(|t| (opts.schema.clone(), t.name.clone()))
            .collect();
        let dms_settings = dms_local::Settings {
            tables,
            migration_type: opts.migration_type,
            slot: slot.clone(),
            bucket: bucket.clone(),
            layout: config.layout.clone(),
            rows: RowLayout::default(),
            format: opts.format,
            columns: config.columns.clone(),
            cdc_interval: Duration::from_secs(3600),
            cdc_max_rows: opts.cdc_max_rows.unwrap_or(usize::MAX),
            load_max_bytes: opts.load_max_bytes,
            notify_sqs: None,
            events_bus: opts.dms_task.then(|| "default".to_string()),
            task_arn: None,
            create_task: opts.dms_task,
            region: "us-east-1".into(),
        };
        let mut dms =
            DmsLocal::connect(&pg_conninfo(), dms_settings, AwsClients::with_config(&sdk))
                .await
                .map_err(|e| anyhow!("dms-local connect: {e}"))?;
        dms.start()
            .await
            .map_err(|e| anyhow!("dms-local start: {e}"))?;
        let state = StateStore::new(
            clients.s3.clone(),
            StateLocation::new(compactor.state_bucket.clone(), &compactor.state_prefix),
        );
        // The curated Glue database, as the template creates it (the compactor creates tables,
        // never databases); one that exists already is kept.
        let created = clients
            .glue
            .create_database()
            .database_input(
                aws_sdk_glue::types::DatabaseInput::builder()
                    .name(&curated_database)
                    .build()
                    .context("curated database input")?,
            )
            .send()
            .await;
        if let Err(e) = created {
            let e = e.into_service_error();
            if !e.is_already_exists_exception() {
                bail!("creating the Glue database {curated_database}: {e:?}");
            }
        }
        // The local Athena: the workgroup, its results in the state bucket as the template's.
        let athena_client = crate::athena_local().await;
        crate::athena::create_workgroup(
            &athena_client,
            &workgroup,
            &format!("s3://{}/athena-results/", compactor.state_bucket),
        )
        .await?;
        let athena = crate::athena::Athena::new(athena_client, &workgroup);
        let lambda = if opts.local_stack {
            // The stack's emulator (scripts/lambda-local.sh), whose environment is
            // scripts/local.env on this stack's ports.
            let port = std::env::var("LAMBDA_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(9009);
            crate::lambda::LambdaEmulator::existing(port, &opts.work_dir.join("lambda"))?
        } else {
            let mut lambda_env = env.clone();
            for (k, v) in [
                ("AWS_ENDPOINT_URL", crate::endpoint()),
                ("AWS_ENDPOINT_URL_ATHENA", crate::athena_local_endpoint()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_DEFAULT_REGION", "us-east-1".into()),
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                ("RUST_LOG", "info".into()),
            ] {
                lambda_env.insert(k.to_string(), v);
            }
            crate::lambda::LambdaEmulator::start(&lambda_env, &opts.work_dir.join("lambda"))?
        };
        Ok(Self {
            bucket,
            raw_database,
            curated_database,
            slot,
            workgroup,
            workload,
            pg,
            dms,
            registrar,
            compactor,
            s3: clients.s3.clone(),
            glue: clients.glue.clone(),
            sqs,
            queue_url,
            queue_arn,
            state,
            opts,
            files: BTreeMap::new(),
            partitions: BTreeMap::new(),
            lambda,
            athena,
            compactor_runs: Vec::new(),
            perturbed: None,
            last_commit: None,
        })
    }

    /// Source names `schema.table` in table order.
    pub fn sources(&self) -> Vec<String> {
        self.workload
            .tables
            .iter()
            .map(|t| format!("{}.{}", self.opts.schema, t.name))
            .collect()
    }

    /// Full load; changes committed between the slot's creation and the load's snapshot come
    /// through CDC (or the load) exactly once.
    pub async fn full_load(&mut self) -> Result<Vec<WrittenFile>> {
        for _ in 0..3 {
            let txn = self.workload.transaction();
            run_transaction(&mut self.pg, &txn).await?;
        }
        if self.opts.migration_type == MigrationType::Cdc {
            return Ok(Vec::new());
        }
        let files = self
            .dms
            .full_load()
            .await
            .map_err(|e| anyhow!("full load: {e}"))?;
        self.after_files(&files, None).await?;
        Ok(files)
    }

    /// Reloads the workload's table `table` mid-stream, as DMS `ReloadTables` does: dms-local
    /// writes a new full load of it numbered from `first_counter` (1 overwrites the first
    /// `LOAD` files, a higher number keeps the earlier ones), while change capture goes on.
    pub async fn reload(&mut self, table: usize, first_counter: u32) -> Result<Vec<WrittenFile>> {
        let name = self
            .workload
            .tables
            .get(table)
            .map(|t| t.name.clone())
            .ok_or_else(|| anyhow!("no workload table {table}"))?;
        let files = self
            .dms
            .reload_table(&self.opts.schema, &name, first_counter)
            .await
            .map_err(|e| anyhow!("reload of {name}: {e}"))?;
        self.after_files(&files, None).await?;
        Ok(files)
    }

    /// Adds a column to the first table mid-stream; the workload writes it from now on.
    pub async fn add_column(&mut self) -> Result<String> {
        let name = "loyalty_points";
        let table = self.workload.tables[0].name.clone();
        self.pg
            .batch_execute(&format!(
                "ALTER TABLE {}.{} ADD COLUMN {} integer",
                quote_ident(&self.opts.schema),
                quote_ident(&table),
                quote_ident(name)
            ))
            .await
            .context("adding a column")?;
        self.workload.tables[0].columns.push(ColumnDef {
            name: name.into(),
            kind: Kind::Int,
        });
        Ok(format!("{}.{table}.{name}", self.opts.schema))
    }

    /// Commits `transactions` random transactions.
    pub async fn run_workload(&mut self, transactions: usize) -> Result<()> {
        for _ in 0..transactions {
            let txn = self.workload.transaction();
            if txn.is_empty() {
                continue;
            }
            run_transaction(&mut self.pg, &txn).await?;
        }
        self.last_commit = Some(Instant::now());
        Ok(())
    }

    /// Reads the slot until empty and writes the CDC files (perturbing one when asked).
    pub async fn capture(&mut self, round: usize) -> Result<Vec<WrittenFile>> {
        let mut files = Vec::new();
        loop {
            let rows = self
                .dms
                .poll_once(50)
                .await
                .map_err(|e| anyhow!("dms-local poll: {e}"))?;
            // A chunk can add no rows (transactions the full load already holds): the slot is
            // drained only when it has nothing left.
            let last = rows == 0 && self.slot_is_empty().await?;
            files.extend(
                self.dms
                    .flush(last)
                    .await
                    .map_err(|e| anyhow!("dms-local flush: {e}"))?,
            );
            if last {
                break;
            }
        }
        let perturb = self
            .opts
            .perturb
            .filter(|(r, _)| *r == round)
            .map(|(_, p)| p);
        self.after_files(&files, perturb).await?;
        Ok(files)
    }

    async fn slot_is_empty(&self) -> Result<bool> {
        let row = self
            .pg
            .query_one(
                "SELECT count(*) FROM pg_logical_slot_peek_changes($1, NULL, 1)",
                &[&self.slot],
            )
            .await
            .with_context(|| format!("peeking slot {}", self.slot))?;
        Ok(row.get::<_, i64>(0) == 0)
    }

    /// Counts the files per table and applies a perturbation to the first file it fits.
    async fn after_files(
        &mut self,
        files: &[WrittenFile],
        fault: Option<Perturbation>,
    ) -> Result<()> {
        let mut pending = fault;
        for f in files {
            let Some(table) = self.table_of_key(&f.key) else {
                continue;
            };
            *self.files.entry(table.name.clone()).or_default() += 1;
            if let Some(p) = pending {
                let body = self.get_object(&f.key).await?;
                if let Some(new_body) = perturb(&body, &table, p) {
                    self.s3
                        .put_object()
                        .bucket(&self.bucket)
                        .key(&f.key)
                        .body(new_body.into_bytes().into())
                        .send()
                        .await
                        .with_context(|| format!("rewriting {}", f.key))?;
                    self.perturbed = Some(format!("{p:?} in s3://{}/{}", self.bucket, f.key));
                    pending = None;
                }
            }
        }
        if let Some(p) = pending {
            bail!("no file of this round fits the perturbation {p:?}: use another seed or round");
        }
        Ok(())
    }

    fn table_of_key(&self, key: &str) -> Option<TableDef> {
        let mut parts = key.split('/');
        parts.next()?; // bucket folder
        let schema = parts.next()?;
        let table = parts.next()?;
        if schema != self.opts.schema {
            return None;
        }
        self.workload
            .tables
            .iter()
            .find(|t| t.name == table)
            .cloned()
    }

    async fn get_object(&self, key: &str) -> Result<String> {
        let bytes = self.get_bytes(key).await?;
        String::from_utf8(bytes).with_context(|| format!("{key} is not UTF-8"))
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("GET {key}"))?;
        let bytes = out
            .body
            .collect()
            .await
            .with_context(|| format!("reading {key}"))?
            .into_bytes();
        Ok(bytes.to_vec())
    }

    /// The S3 `ObjectCreated` notification for `files` (one record per object, keys
    /// URL-encoded as S3 does).
    pub fn notification(&self, files: &[WrittenFile]) -> Value {
        let mut records = Vec::new();
        for f in files {
            let n = dms_local::aws::s3_notification(
                &self.bucket,
                &f.key,
                f.size,
                "etag",
                chrono::Utc::now(),
                "us-east-1",
            );
            if let Some(r) = n.get("Records").and_then(Value::as_array) {
                records.extend(r.iter().cloned());
            }
        }
        json!({ "Records": records })
    }

    /// Delivers the bucket's notifications for `files` to the registrar as its SQS trigger
    /// would: receives from the queue until every file's notification arrived (at most 20 s),
    /// hands the messages to the handler as one SQS batch, and deletes them when none failed.
    /// Returns the number of messages handled.
    pub async fn register(&mut self, files: &[WrittenFile]) -> Result<usize> {
        let mut waiting: BTreeSet<String> = files.iter().map(|f| f.key.clone()).collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut handled = 0;
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if waiting.is_empty() { 0 } else { 1 })
                .send()
                .await
                .context("receiving S3 notifications")?;
            let messages = out.messages();
            if messages.is_empty() {
                if waiting.is_empty() {
                    return Ok(handled);
                }
                if Instant::now() > deadline {
                    bail!("no S3 notification arrived within 20 s for {waiting:?}");
                }
                continue;
            }
            let mut records = Vec::new();
            for m in messages {
                let body = m.body().unwrap_or_default();
                for key in notified_keys(body) {
                    waiting.remove(&key);
                }
                records.push(json!({
                    "messageId": m.message_id().unwrap_or_default(),
                    "receiptHandle": m.receipt_handle().unwrap_or_default(),
                    "body": body,
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body().unwrap_or_default(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                }));
            }
            let out = partition_registrar::handler::handle(
                &self.registrar,
                json!({ "Records": records }),
                None,
            )
            .await
            .map_err(|e| {
                anyhow!(
                    "registrar: {}: {}",
                    e.error_type(),
                    dmslake::error::chain(&e)
                )
            })?;
            match out {
                partition_registrar::handler::Output::Sqs(resp) => {
                    if let Some(f) = resp.batch_item_failures.first() {
                        bail!(
                            "registrar returned {} of {} messages to the queue (first {:?})",
                            resp.batch_item_failures.len(),
                            records.len(),
                            f.item_identifier
                        );
                    }
                }
                other => bail!("registrar answered {other:?} to an SQS batch"),
            }
            for m in messages {
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("deleting a handled notification")?;
                }
            }
            handled += records.len();
        }
    }

    /// The registered partitions of a raw table: values and location.
    async fn partitions(&self, table: &str) -> Result<Vec<(Vec<String>, String)>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .glue
                .get_partitions()
                .database_name(&self.raw_database)
                .table_name(table)
                .set_next_token(token)
                .send()
                .await
                .with_context(|| format!("GetPartitions {table}"))?;
            for p in page.partitions() {
                let loc = p
                    .storage_descriptor()
                    .and_then(|sd| sd.location())
                    .unwrap_or_default()
                    .to_string();
                out.push((p.values().to_vec(), loc));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        out.sort();
        Ok(out)
    }

    /// One scheduled compactor run, as the cloud's schedule starts it: the merge rule's
    /// `Scheduled Event` to the compactor Lambda under cargo-lambda's emulator, which takes each
    /// table's lock, issues CREATE / ALTER / MERGE through the local Athena (executed on
    /// Trino) and moves each watermark after its MERGE succeeded. Returns the function's
    /// report; a table it did not merge is an error naming the reason.
    pub async fn compact(&mut self) -> Result<CompactorRun> {
        let payload = crate::lambda::schedule_event();
        let started = Instant::now();
        let run = match self.lambda.invoke_outcome("compactor", &payload)? {
            Ok(report) => CompactorRun::from_report(&report, started.elapsed())?,
            // The run went through every table and failed the invocation because one was not
            // merged: each table's outcome is in its run status document.
            Err(e) if e.error_type == "TablesFailed" => {
                let mut run = CompactorRun {
                    tables: Vec::new(),
                    elapsed: started.elapsed(),
                };
                for source in self.sources() {
                    let name = compactor::spec::raw_table_name(&source)?;
                    let status = self
                        .state
                        .get::<compactor::watermark::MergeStatus>(
                            &compactor::watermark::status_doc(&name),
                        )
                        .await
                        .map_err(|e| anyhow!("run status of {name}: {e}"))?
                        .map(|v| v.value)
                        .ok_or_else(|| anyhow!("{name} has no run status after: {}", e.message))?;
                    let watermark = self
                        .state
                        .get::<compactor::watermark::Watermark>(&watermark_doc(&name))
                        .await
                        .map_err(|e| anyhow!("watermark {name}: {e}"))?
                        .map(|v| v.value);
                    let merged = status.outcome == "merged";
                    run.tables.push(TableMerge {
                        table: name,
                        reason: if merged {
                            String::new()
                        } else {
                            status.last_error.clone().unwrap_or_default()
                        },
                        query_id: match (&watermark, merged) {
                            (Some(w), true) => w.query_id.clone(),
                            _ => String::new(),
                        },
                        status: status.outcome,
                        scanned_bytes: 0,
                        range: Value::Null,
                    });
                }
                run
            }
            Err(e) => bail!("the compactor failed: {} {}", e.error_type, e.message),
        };
        for source in self.sources() {
            let name = compactor::spec::raw_table_name(&source)?;
            let partitions = self.partitions(&name).await?;
            self.partitions.insert(name, partitions.len());
        }
        self.compactor_runs.push(run.clone());
        Ok(run)
    }

    /// [`Self::compact`], and an error unless every sample table was merged.
    pub async fn compact_all(&mut self) -> Result<CompactorRun> {
        let run = self.compact().await?;
        for source in self.sources() {
            let name = compactor::spec::raw_table_name(&source)?;
            match run.tables.iter().find(|t| t.table == name) {
                Some(t) if t.status == "merged" => {}
                Some(t) => bail!(
                    "the compactor did not merge {name}: {} {}",
                    t.status,
                    t.reason
                ),
                None => bail!(
                    "the compactor's run did not name {name}: {}",
                    run.describe()
                ),
            }
        }
        Ok(run)
    }

    /// The current state of `name` read through the local Athena, as a user would query it:
    /// its columns (without dmslake's own) and every row, each value as text (binary as
    /// lower-case hex digits, the rest cast to varchar by the engine).
    pub async fn current_state(
        &self,
        name: &str,
    ) -> Result<(Vec<String>, Vec<Vec<Option<String>>>)> {
        let table = format!(
            "{}.{}",
            quote_ident(&self.curated_database),
            quote_ident(name)
        );
        let timeout = Duration::from_secs(300);
        let shape = self
            .athena
            .query(
                &format!("SELECT * FROM {table} LIMIT 0"),
                &self.curated_database,
                timeout,
            )
            .await
            .with_context(|| format!("columns of {table}"))?;
        let columns: Vec<(String, String)> = shape
            .columns
            .into_iter()
            .filter(|(n, _)| !n.starts_with("_dmslake_"))
            .collect();
        if columns.is_empty() {
            bail!("{table} has no source columns");
        }
        let select: Vec<String> = columns
            .iter()
            .map(|(n, ty)| {
                let col = quote_ident(n);
                if ty.eq_ignore_ascii_case("varbinary") {
                    format!("lower(to_hex({col}))")
                } else {
                    format!("CAST({col} AS varchar)")
                }
            })
            .collect();
        let rows = self
            .athena
            .query(
                &format!("SELECT {} FROM {table}", select.join(", ")),
                &self.curated_database,
                timeout,
            )
            .await
            .with_context(|| format!("reading {table}"))?
            .rows;
        Ok((columns.into_iter().map(|(n, _)| n).collect(), rows))
    }

    /// Column names of the source table now (a column added since the start included).
    async fn source_columns(&self, table: &TableDef) -> Result<Vec<String>> {
        let name = format!(
            "{}.{}",
            quote_ident(&self.opts.schema),
            quote_ident(&table.name)
        );
        let rows = self
            .pg
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass \
                 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                &[&name],
            )
            .await
            .with_context(|| format!("columns of {name}"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Source rows of `table` as text (each type's output function), in the given column order.
    async fn source_rows(
        &self,
        table: &TableDef,
        columns: &[String],
    ) -> Result<Vec<Vec<Option<String>>>> {
        let select: Vec<String> = columns
            .iter()
            .map(|c| {
                let c = quote_ident(c);
                format!("CASE WHEN {c} IS NULL THEN NULL ELSE format('%s', {c}) END")
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM {}.{}",
            select.join(", "),
            quote_ident(&self.opts.schema),
            quote_ident(&table.name)
        );
        let rows = self
            .pg
            .query(&sql, &[])
            .await
            .with_context(|| format!("reading {}", table.name))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut vals = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                vals.push(r.try_get::<_, Option<String>>(i).context("source value")?);
            }
            out.push(vals);
        }
        Ok(out)
    }

    /// Registers `files`, runs the compactor once (every table) and, when `compare`, reads
    /// each current-state table through the local Athena and compares it with the source.
    pub async fn settle(
        &mut self,
        files: &[WrittenFile],
        compare: bool,
    ) -> Result<Vec<TableReport>> {
        self.register(files).await?;
        let run = self.compact_all().await?;
        let mut reports = Vec::new();
        for (i, source) in self.sources().into_iter().enumerate() {
            let table = self.workload.tables[i].clone();
            let name = compactor::spec::raw_table_name(&source)?;
            let merged = run.tables.iter().find(|t| t.table == name).cloned();
            let mut report = TableReport {
                source: source.clone(),
                files_written: self.files.get(&table.name).copied().unwrap_or(0),
                partitions_registered: self.partitions.get(&name).copied().unwrap_or(0),
                merge: merged,
                ..Default::default()
            };
            if compare {
                let (columns, current) = self.current_state(&name).await?;
                report.current_rows = current.len();
                let expected = self.source_rows(&table, &columns).await?;
                let source_columns = self.source_columns(&table).await?;
                for c in &source_columns {
                    if !columns.contains(c) {
                        report.differences.push(format!(
                            "column {c}: in the source but not in the current state"
                        ));
                    }
                }
                for c in &columns {
                    if !source_columns.contains(c) {
                        report.differences.push(format!(
                            "column {c}: in the current state but not in the source"
                        ));
                    }
                }
                report.source_rows = expected.len();
                report
                    .differences
                    .extend(compare_tables(&table, &columns, &expected, &current));
            }
            reports.push(report);
        }
        Ok(reports)
    }

    /// Stops replication (drains the slot, drops it) and leaves the source tables in place.
    pub async fn finish(&mut self) -> Result<()> {
        self.dms
            .stop(true)
            .await
            .map_err(|e| anyhow!("dms-local stop: {e}"))?;
        Ok(())
    }

    /// Drops the slot and the source schema (the bucket and Glue databases stay in the
    /// emulator, under unique names).
    pub async fn cleanup(mut self) -> Result<()> {
        self.dms
            .stop(true)
            .await
            .map_err(|e| anyhow!("dms-local stop: {e}"))?;
        self.pg
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_ident(&self.opts.schema)
            ))
            .await
            .context("dropping the sample schema")?;
        Ok(())
    }
}

/// The ARN of a queue.
async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String> {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("attributes of {url}"))?;
    attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| anyhow!("{url} has no QueueArn"))
}

/// A new queue that `bucket` notifies of every object created under `folder/`.
async fn notified_queue(
    sqs: &aws_sdk_sqs::Client,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    folder: &str,
) -> Result<(String, String)> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let name = format!("{bucket}-registrar");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let arn = queue_arn(sqs, &url).await?;
    let prefix = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value(format!("{folder}/"))
        .build();
    let queue = QueueConfiguration::builder()
        .queue_arn(&arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().filter_rules(prefix).build())
                .build(),
        )
        .build()
        .context("queue configuration")?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("notification configuration of {bucket}"))?;
    Ok((url, arn))
}

/// The object keys an S3 notification body names (decoded: S3 URL-encodes keys, `+` for a
/// space, and moto also encodes `/`).
pub fn notified_keys(body: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    doc.get("Records")
        .and_then(Value::as_array)
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r.pointer("/s3/object/key").and_then(Value::as_str))
                .map(url_decode)
                .collect()
        })
        .unwrap_or_default()
}

fn url_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes what an earlier run with `schema` left on the local stack: its files, its raw Glue
/// tables and its watermark documents.
async fn reset_previous_run(
    clients: &dmslake::clients::Clients,
    schema: &str,
    bucket: &str,
    config: &Config,
    compactor: &CompactorConfig,
) -> Result<()> {
    let _ = clients.s3.create_bucket().bucket(bucket).send().await;
    let folder = &config.layout.bucket_folder;
    let prefix = if folder.is_empty() {
        format!("{schema}/")
    } else {
        format!("{folder}/{schema}/")
    };
    let mut token = None;
    loop {
        let page = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .set_continuation_token(token)
            .send()
            .await
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                clients
                    .s3
                    .delete_object()
                    .bucket(bucket)
                    .key(k)
                    .send()
                    .await
                    .with_context(|| format!("deleting {k}"))?;
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let state = StateStore::new(
        clients.s3.clone(),
        StateLocation::new(compactor.state_bucket.clone(), &compactor.state_prefix),
    );
    for t in sample_tables() {
        let name = compactor::spec::raw_table_name(&format!("{schema}.{}", t.name))?;
        let _ = clients
            .glue
            .delete_table()
            .database_name(&config.raw_database)
            .name(&name)
            .send()
            .await;
        let _ = state.delete(&watermark_doc(&name)).await;
    }
    Ok(())
}

/// One value in the comparable form described in the module documentation.
pub fn normalise(kind: Kind, value: Option<&str>) -> Option<String> {
    let v = value?;
    if v.is_empty() {
        return None;
    }
    Some(match kind {
        Kind::Real => match v.trim().parse::<f32>() {
            Ok(f) => format!("{f:?}"),
            Err(_) => v.to_string(),
        },
        Kind::Double => match v.trim().parse::<f64>() {
            Ok(f) => format!("{f:?}"),
            Err(_) => v.to_string(),
        },
        Kind::Bool => match v {
            "t" | "true" => "true".into(),
            "f" | "false" => "false".into(),
            _ => v.to_string(),
        },
        Kind::TimestampTz | Kind::Timestamp => {
            let v = v.strip_suffix("+00").unwrap_or(v);
            match chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f") {
                // Rounded to the millisecond: Athena keeps timestamps to the millisecond (the
                // MERGE's casts and the raw table's Parquet reader round the microseconds).
                Ok(t) => {
                    chrono::DurationRound::duration_round(t, chrono::TimeDelta::milliseconds(1))
                        .unwrap_or(t)
                        .format("%Y-%m-%d %H:%M:%S%.3f")
                        .to_string()
                }
                Err(_) => v.to_string(),
            }
        }
        Kind::Time => {
            let time = match v.parse::<u32>() {
                // Milliseconds since midnight (DMS's Parquet TIME32).
                Ok(ms) => chrono::NaiveTime::from_num_seconds_from_midnight_opt(
                    ms / 1000,
                    (ms % 1000) * 1_000_000,
                ),
                Err(_) => chrono::NaiveTime::parse_from_str(v, "%H:%M:%S%.f").ok(),
            };
            match time {
                Some(t) => t.format("%H:%M:%S%.6f").to_string(),
                None => v.to_string(),
            }
        }
        Kind::Money => {
            let (sign, digits) = match v.strip_prefix('-') {
                Some(rest) => ("-", rest),
                None => ("", v),
            };
            let plain: String = digits.chars().filter(|c| *c != '$' && *c != ',').collect();
            let plain = if plain.contains('.') {
                plain
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            } else {
                plain
            };
            format!("{sign}{plain}")
        }
        Kind::Bytea => v.strip_prefix("\\x").unwrap_or(v).to_string(),
        _ => v.to_string(),
    })
}

/// Differences between the source rows and the current state (both in `columns` order), keyed
/// by primary key; at most 10 listed, then a count.
pub fn compare_tables(
    table: &TableDef,
    columns: &[String],
    source: &[Vec<Option<String>>],
    current: &[Vec<Option<String>>],
) -> Vec<String> {
    let kinds: Vec<Kind> = columns
        .iter()
        .map(|c| table.kind_of(c).unwrap_or(Kind::Text))
        .collect();
    let key_idx: Vec<usize> = table
        .key
        .iter()
        .filter_map(|k| columns.iter().position(|c| c == k))
        .collect();
    let index = |rows: &[Vec<Option<String>>], side: &str, diffs: &mut Vec<String>| {
        let mut map = BTreeMap::new();
        for r in rows {
            let norm: Vec<Option<String>> = r
                .iter()
                .zip(&kinds)
                .map(|(v, k)| normalise(*k, v.as_deref()))
                .collect();
            let key: Vec<Option<String>> = key_idx
                .iter()
                .map(|&i| norm.get(i).cloned().flatten())
                .collect();
            if map.insert(key.clone(), norm).is_some() {
                diffs.push(format!("{side}: key {key:?} appears more than once"));
            }
        }
        map
    };
    let mut diffs = Vec::new();
    let expected = index(source, "source", &mut diffs);
    let actual = index(current, "current state", &mut diffs);
    for (k, row) in &expected {
        match actual.get(k) {
            None => diffs.push(format!("key {k:?}: missing from the current state")),
            Some(a) if a != row => {
                let cols: Vec<String> = columns
                    .iter()
                    .zip(row.iter().zip(a))
                    .filter(|(_, (s, c))| s != c)
                    .map(|(n, (s, c))| format!("{n}: source {s:?}, current {c:?}"))
                    .collect();
                diffs.push(format!("key {k:?}: {}", cols.join("; ")));
            }
            Some(_) => {}
        }
    }
    for k in actual.keys() {
        if !expected.contains_key(k) {
            diffs.push(format!(
                "key {k:?}: in the current state but not in the source"
            ));
        }
    }
    if diffs.len() > 10 {
        let more = diffs.len() - 10;
        diffs.truncate(10);
        diffs.push(format!("... and {more} more"));
    }
    diffs
}

/// Runs the whole pipeline: setup, full load, `rounds` rounds of workload → capture →
/// register → merge, comparing after each round when asked (always after the last).
/// `progress` is called with one line per step.
pub async fn run(
    opts: Options,
    progress: &mut dyn FnMut(&str),
) -> Result<(Pipeline, Vec<TableReport>)> {
    progress(&format!(
        "seed {} (DMSLAKE_E2E_SEED={} reproduces this run)",
        opts.seed, opts.seed
    ));
    let mut p = Pipeline::setup(opts).await?;
    match drive(&mut p, progress).await {
        Ok(reports) => Ok((p, reports)),
        Err(e) => {
            // Do not leave a replication slot behind (it would hold WAL and a slot).
            if let Err(c) = p.cleanup().await {
                return Err(e.context(format!("cleanup failed too: {c:#}")));
            }
            Err(e)
        }
    }
}

async fn drive(p: &mut Pipeline, progress: &mut dyn FnMut(&str)) -> Result<Vec<TableReport>> {
    progress(&format!(
        "source: {} tables in schema {}, {} rows each; replication slot {}",
        p.workload.tables.len(),
        p.opts.schema,
        p.opts.initial_rows,
        p.slot
    ));
    let mut reports = Vec::new();
    if p.opts.migration_type == MigrationType::Cdc {
        // The transactions committed before the load go to CDC: the slot exists.
        p.full_load().await?;
        progress("CDC only: no full load");
    } else {
        let files = p.full_load().await?;
        progress(&format!("full load: {} files written", files.len()));
        reports = p.settle(&files, p.opts.compare_each_round).await?;
        progress("full load registered and merged");
    }
    for round in 1..=p.opts.rounds {
        if p.opts.add_column == Some(round) {
            let column = p.add_column().await?;
            progress(&format!("round {round}: column {column} added"));
        }
        p.run_workload(p.opts.transactions_per_round).await?;
        let files = p.capture(round).await?;
        let last = round == p.opts.rounds;
        reports = p.settle(&files, last || p.opts.compare_each_round).await?;
        let equal = reports.iter().filter(|r| r.equal()).count();
        progress(&format!(
            "round {round}/{}: {} changes so far, {} files this round, merged; tables equal: {equal}/{}",
            p.opts.rounds,
            p.workload.stats.changes(),
            files.len(),
            reports.len()
        ));
        if !last && p.opts.compare_each_round && equal < reports.len() {
            break;
        }
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableDef {
        TableDef::new("t", &["id"], &[("id", Kind::Int), ("name", Kind::Text)])
    }

    /// Rows of a CDC file: op, timestamp, id, name, change sequence, before-image id.
    const FILE: &str = "\
I,2026-11-24 10:00:00.000000,1,a,20261124100000000000000000000000001,
U,2026-11-24 10:00:00.000000,1,b,20261124100000000000000000000000005,1
U,2026-11-24 10:00:00.000000,2,\"x, y\",20261124100000000000000000000000009,2
D,2026-11-24 10:00:00.000000,1,,20261124100000000000000000000000013,1
";

    #[test]
    fn notified_keys_are_decoded_like_s3_and_moto_encode_them() {
        let body = r#"{"Records":[{"s3":{"object":{"key":"dms%2Fpublic%2Fa+b%2F20261124-1.csv"}}},
            {"s3":{"object":{"key":"dms/x/%C3%A9%zz%"}}}]}"#;
        assert_eq!(
            notified_keys(body),
            vec!["dms/public/a b/20261124-1.csv", "dms/x/é%zz%"]
        );
        assert!(notified_keys(r#"{"Event":"s3:TestEvent"}"#).is_empty());
        assert!(notified_keys("not json").is_empty());
    }

    #[test]
    fn xorshift_is_reproducible_from_its_seed() {
        let mut a = XorShift::new(42);
        let mut b = XorShift::new(42);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(XorShift::new(43).next_u64(), xs[0]);
        assert_eq!(XorShift::new(0).next_u64(), XorShift::new(1).next_u64());
    }

    #[test]
    fn csv_lines_split_with_quotes_and_empty_fields() {
        assert_eq!(
            split_csv(r#"U,"x, ""y""",,"""#),
            vec![Some("U".into()), Some("x, \"y\"".into()), None, None]
        );
    }

    #[test]
    fn normalisation_meets_dms_and_postgres_forms() {
        let cases = [
            (Kind::Real, Some("0.15"), Some("+1.50000006e-01")),
            (Kind::Double, Some("1e-05"), Some("+1.0000000000000001e-05")),
            (Kind::Bool, Some("t"), Some("true")),
            (
                Kind::TimestampTz,
                Some("2024-06-12 10:30:27.362+00"),
                Some("2024-06-12 10:30:27.362"),
            ),
            (Kind::Bytea, Some("\\x0a0b"), Some("0a0b")),
            (Kind::Text, Some(""), None),
            // Parquet forms, as the engine prints them.
            (Kind::Money, Some("$1,234.50"), Some("1234.5000")),
            (Kind::Money, Some("-$0.10"), Some("-0.1000")),
            (Kind::Money, Some("$7.00"), Some("7.0000")),
            (Kind::Time, Some("13:45:12.123"), Some("49512123")),
            (Kind::Time, Some("00:00:00"), Some("0")),
            (
                Kind::Timestamp,
                Some("2021-10-31 15:34:12.458"),
                Some("2021-10-31 15:34:12.458000"),
            ),
            // Microseconds rounded to the millisecond, as Athena keeps them.
            (
                Kind::Timestamp,
                Some("2004-12-26 00:43:33.866948"),
                Some("2004-12-26 00:43:33.867"),
            ),
        ];
        for (kind, pg, dms) in cases {
            assert_eq!(
                normalise(kind, pg),
                normalise(kind, dms),
                "{kind:?} {pg:?} {dms:?}"
            );
        }
        for (kind, a, b) in [
            (Kind::Real, "0.15", "0.16"),
            (Kind::Text, "a", "a "),
            (Kind::Numeric, "1.10", "1.1"),
            (Kind::Bool, "t", "false"),
            (Kind::Char, "ab    ", "ab"),
            (Kind::Inet, "10.0.0.1/32", "10.0.0.1"),
            (Kind::Money, "$1,234.50", "1234.05"),
            (Kind::Money, "-$1.00", "1.0000"),
            (Kind::Time, "13:45:12.123", "49512124"),
            (
                Kind::Timestamp,
                "2021-10-31 15:34:12.458",
                "2021-10-31 15:34:12.459",
            ),
        ] {
            assert_ne!(
                normalise(kind, Some(a)),
                normalise(kind, Some(b)),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn comparison_reports_missing_extra_and_changed_rows() {
        let t = table();
        let cols = vec!["id".to_string(), "name".to_string()];
        let row =
            |id: &str, name: Option<&str>| vec![Some(id.to_string()), name.map(str::to_string)];
        let source = vec![row("1", Some("a")), row("2", Some("b")), row("3", None)];
        assert!(compare_tables(&t, &cols, &source, &source).is_empty());
        let current = vec![row("2", Some("B")), row("3", Some("")), row("4", Some("d"))];
        let diffs = compare_tables(&t, &cols, &source, &current);
        assert_eq!(diffs.len(), 3, "{diffs:?}");
        assert!(diffs[0].contains("\"1\"") && diffs[0].contains("missing"));
        assert!(diffs[1].contains("name: source Some(\"b\"), current Some(\"B\")"));
        assert!(diffs[2].contains("\"4\"") && diffs[2].contains("not in the source"));
        let dup = vec![
            row("1", Some("a")),
            row("1", Some("a")),
            row("2", Some("b")),
            row("3", None),
        ];
        assert!(!compare_tables(&t, &cols, &source, &dup).is_empty());
    }

    #[test]
    fn perturbations_change_exactly_what_they_say() {
        let t = table();
        let rows = |body: &str| body.lines().map(split_csv).collect::<Vec<_>>();
        let dropped = perturb(FILE, &t, Perturbation::DropOne).expect("drop");
        let d = rows(&dropped);
        assert_eq!(d.len(), 3);
        assert!(!dropped.contains(",0000000000000000013,"), "{dropped}");
        assert!(dropped.contains("\"x, y\""));

        let dup = perturb(FILE, &t, Perturbation::DuplicateOne).expect("duplicate");
        let d = rows(&dup);
        assert_eq!(d.len(), 5);
        let last = d.last().expect("row");
        assert_eq!(last[2].as_deref(), Some("1"));
        assert_eq!(last[3].as_deref(), Some("b"));
        assert_eq!(
            last[4].as_deref(),
            Some("20261124100000000000000000000000017")
        );

        let swapped = perturb(FILE, &t, Perturbation::SwapTwo).expect("swap");
        let d = rows(&swapped);
        assert_eq!(
            d[1][4].as_deref(),
            Some("20261124100000000000000000000000013")
        );
        assert_eq!(
            d[3][4].as_deref(),
            Some("20261124100000000000000000000000005")
        );

        let single = "I,2026-11-24 10:00:00.000000,7,a,20261124100000000000000000000000001,\n";
        assert!(perturb(single, &t, Perturbation::SwapTwo).is_none());
        assert!(perturb(single, &t, Perturbation::DuplicateOne).is_none());
    }

    #[test]
    fn workload_is_reproducible_and_covers_every_kind_of_change() {
        let make = || {
            let mut w = Workload::new("s", sample_tables(), 7);
            let mut sql = w.initial_rows(5);
            for _ in 0..300 {
                sql.extend(w.transaction());
            }
            (sql, w.stats)
        };
        let (a, stats) = make();
        let (b, _) = make();
        assert_eq!(a, b);
        assert!(stats.deletes > 0 && stats.reinserts > 0 && stats.key_updates > 0);
        assert!(stats.multi_change_transactions > 0 && stats.updates > 0);
    }
}
