//! Decoding of PostgreSQL's `test_decoding` output plugin, the plugin AWS DMS's PostgreSQL
//! source uses unless pglogical is installed (CHAP_Source.PostgreSQL.md, "Enabling change data
//! capture (CDC) using logical replication": "otherwise a test_decoding plugin is used").
//! Pure: one line of `pg_logical_slot_get_changes(...).data` in, a typed message out.
//!
//! The lines, as the plugin prints them with the [`OPTIONS`] below:
//! ```text
//! BEGIN 741
//! table public.items: INSERT: id[integer]:1 name[text]:'it''s' price[numeric]:12.50 note[text]:null
//! table public."Order Lines": UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 doc[text]:unchanged-toast-datum
//! table public.items: DELETE: id[integer]:2
//! table public.a, public.b: TRUNCATE: (no-flags)
//! COMMIT 741 (at 2024-06-12 10:30:27.362108+00)
//! ```
//! Identifiers are quoted (`"` doubled) when PostgreSQL's `quote_identifier` would. A value is
//! `null`, `unchanged-toast-datum` (a TOASTed value the UPDATE did not change, not in the WAL),
//! an unquoted literal for numbers and booleans, `B'...'` for bit strings, or `'...'` with `'`
//! doubled for everything else, all as the type's output function prints it. The type in
//! brackets is `format_type` without the modifier (`numeric`, not `numeric(12,2)`).
//! `old-key:` appears on an UPDATE only when PostgreSQL logged the old identity: the old key
//! when the key changed (REPLICA IDENTITY DEFAULT), the whole old row with REPLICA IDENTITY FULL.
//! A DELETE carries the old identity only (key columns, or every non-null column with FULL).

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::format::Op;

/// The plugin options this tool reads the slot with: transaction ids (to tell which
/// transactions the full load already holds), commit timestamps (DMS's timestamp column), and no
/// empty transactions (DDL-only commits).
pub const OPTIONS: &[(&str, &str)] = &[
    ("include-xids", "1"),
    ("include-timestamp", "1"),
    ("skip-empty-xacts", "1"),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("test_decoding line {line:?} is not understood at byte {at}: {expected}")]
    Syntax {
        line: String,
        at: usize,
        expected: &'static str,
    },
    #[error("test_decoding commit timestamp {0:?} is not `yyyy-mm-dd hh:mm:ss[.ffffff]+00` (is the session time zone UTC?)")]
    Timestamp(String),
}

/// A column value by name; `None` is SQL NULL. Text as the type's output function prints it.
pub type NamedValues = Vec<(String, Option<String>)>;

/// A decoded change of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowChange {
    pub action: Op,
    pub schema: String,
    pub table: String,
    /// New values (I, U); empty for D. A column in [`Self::unchanged_toast`] is absent.
    pub columns: NamedValues,
    /// The old identity: key columns (DELETE; UPDATE that changed the key), or every non-null
    /// column with REPLICA IDENTITY FULL. Empty when PostgreSQL logged none.
    pub identity: NamedValues,
    /// The type `test_decoding` printed for each column of `columns` and `identity`
    /// (`format_type` without modifier: `numeric`, `character varying`).
    pub types: Vec<(String, String)>,
    /// New-tuple columns printed as `unchanged-toast-datum` whose value the old identity does
    /// not hold: the value is unchanged but not in the WAL.
    pub unchanged_toast: Vec<String>,
    /// The plugin printed `(no-tuple-data)`: PostgreSQL logged no row (a DELETE under
    /// REPLICA IDENTITY NOTHING).
    pub no_tuple_data: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Begin {
        xid: u64,
    },
    Commit {
        xid: u64,
        commit: DateTime<Utc>,
    },
    Change(RowChange),
    /// TRUNCATE of these tables (`schema`, `table`). DMS does not capture it
    /// (CHAP_Source.PostgreSQL.md, limitations: "doesn't support change processing of
    /// TRUNCATE operations").
    Truncate(Vec<(String, String)>),
    /// Logical decoding messages (`pg_logical_emit_message`) and anything else DMS ignores.
    Ignored(String),
}

/// Parses `2024-06-12 10:30:27.362108+00` (a timestamptz printed in a UTC session).
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, DecodeError> {
    let naive = text
        .strip_suffix("+00")
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
        .ok_or_else(|| DecodeError::Timestamp(text.to_string()))?;
    Ok(naive.and_utc())
}

/// A column value as printed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Datum {
    Null,
    Text(String),
    UnchangedToast,
}

struct Field {
    name: String,
    type_name: String,
    value: Datum,
}

/// A cursor over one line.
struct Cursor<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.line[self.at..]
    }

    fn error(&self, expected: &'static str) -> DecodeError {
        DecodeError::Syntax {
            line: self.line.to_string(),
            at: self.at,
            expected,
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.rest().starts_with(literal) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, literal: &str, expected: &'static str) -> Result<(), DecodeError> {
        if self.eat(literal) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// A text between `quote`s with the quote doubled inside (`'it''s'`, `"Na""me"`).
    fn quoted(&mut self, quote: char) -> Result<String, DecodeError> {
        self.expect(&quote.to_string(), "an opening quote")?;
        let mut out = String::new();
        loop {
            let rest = self.rest();
            let Some(i) = rest.find(quote) else {
                return Err(self.error("a closing quote"));
            };
            out.push_str(&rest[..i]);
            self.at += i + 1;
            if self.rest().starts_with(quote) {
                out.push(quote);
                self.at += 1;
            } else {
                return Ok(out);
            }
        }
    }

    /// An identifier as `quote_identifier` prints it: bare (`[a-z0-9_]`), or double-quoted.
    fn identifier(&mut self) -> Result<String, DecodeError> {
        if self.rest().starts_with('"') {
            return self.quoted('"');
        }
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("an identifier"));
        }
        self.at += len;
        Ok(rest[..len].to_string())
    }

    /// `schema.table`.
    fn qualified_name(&mut self) -> Result<(String, String), DecodeError> {
        let schema = self.identifier()?;
        self.expect(".", "`.` between schema and table")?;
        Ok((schema, self.identifier()?))
    }

    /// A value up to the next space (or the end): `null`, numbers, `true`/`false`.
    fn bare_token(&mut self) -> Result<&'a str, DecodeError> {
        let rest = self.rest();
        let len = rest.find(' ').unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("a value"));
        }
        self.at += len;
        Ok(&rest[..len])
    }

    fn value(&mut self) -> Result<Datum, DecodeError> {
        let rest = self.rest();
        if rest.starts_with('\'') {
            return Ok(Datum::Text(self.quoted('\'')?));
        }
        if rest.starts_with("B'") {
            self.at += 1;
            return Ok(Datum::Text(self.quoted('\'')?));
        }
        Ok(match self.bare_token()? {
            "null" => Datum::Null,
            "unchanged-toast-datum" => Datum::UnchangedToast,
            literal => Datum::Text(literal.to_string()),
        })
    }

    /// ` name[type]:value` repeated, up to the end or ` new-tuple:`.
    fn tuple(&mut self) -> Result<Vec<Field>, DecodeError> {
        let mut fields = Vec::new();
        while self.rest().starts_with(' ') && !self.rest().starts_with(" new-tuple:") {
            self.at += 1;
            let name = self.identifier()?;
            self.expect("[", "`[` before the column's type")?;
            // Array types end in `[]`: the type ends at the first `]:`.
            let Some(end) = self.rest().find("]:") else {
                return Err(self.error("`]:` after the column's type"));
            };
            let type_name = self.rest()[..end].to_string();
            self.at += end + 2;
            let value = self.value()?;
            fields.push(Field {
                name,
                type_name,
                value,
            });
        }
        Ok(fields)
    }

    /// ` (no-tuple-data)`, or a tuple.
    fn tuple_or_none(&mut self) -> Result<Option<Vec<Field>>, DecodeError> {
        if self.eat(" (no-tuple-data)") {
            return Ok(None);
        }
        self.tuple().map(Some)
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(self.error("the end of the line"))
        }
    }
}

fn xid(cursor: &mut Cursor<'_>) -> Result<u64, DecodeError> {
    cursor.expect(" ", "a transaction id (include-xids)")?;
    let token = cursor.bare_token()?;
    token
        .parse()
        .map_err(|_| cursor.error("a transaction id (include-xids)"))
}

/// Decodes one line.
pub fn decode(line: &str) -> Result<Message, DecodeError> {
    let mut c = Cursor { line, at: 0 };
    if c.eat("BEGIN") {
        let xid = xid(&mut c)?;
        c.end()?;
        return Ok(Message::Begin { xid });
    }
    if c.eat("COMMIT") {
        let xid = xid(&mut c)?;
        c.expect(" (at ", "` (at <timestamp>)` (include-timestamp)")?;
        let Some(text) = c.rest().strip_suffix(')') else {
            return Err(c.error("`)` after the commit timestamp"));
        };
        return Ok(Message::Commit {
            xid,
            commit: parse_utc(text)?,
        });
    }
    if !c.eat("table ") {
        return Ok(Message::Ignored(line.to_string()));
    }
    let mut tables = vec![c.qualified_name()?];
    while c.eat(", ") {
        tables.push(c.qualified_name()?);
    }
    c.expect(": ", "`: ` after the table name")?;
    if c.eat("TRUNCATE:") {
        return Ok(Message::Truncate(tables));
    }
    let (schema, table) = tables.swap_remove(0);
    let action = if c.eat("INSERT:") {
        Op::Insert
    } else if c.eat("UPDATE:") {
        Op::Update
    } else if c.eat("DELETE:") {
        Op::Delete
    } else {
        return Err(c.error("INSERT, UPDATE, DELETE or TRUNCATE"));
    };
    let (old, new) = match action {
        Op::Delete => (c.tuple_or_none()?, Some(Vec::new())),
        Op::Update if c.eat(" old-key:") => {
            let old = c.tuple()?;
            c.expect(" new-tuple:", "` new-tuple:` after the old key")?;
            (Some(old), c.tuple_or_none()?)
        }
        _ => (Some(Vec::new()), c.tuple_or_none()?),
    };
    c.end()?;
    let no_tuple_data = old.is_none() || new.is_none();
    let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
    let types = new
        .iter()
        .chain(&old)
        .map(|f| (f.name.clone(), f.type_name.clone()))
        .collect();
    let identity: NamedValues = old
        .into_iter()
        .filter_map(|f| match f.value {
            Datum::Null => Some((f.name, None)),
            Datum::Text(t) => Some((f.name, Some(t))),
            // An old tuple holds the values themselves (PostgreSQL detoasts it when logging).
            Datum::UnchangedToast => None,
        })
        .collect();
    let mut columns = Vec::with_capacity(new.len());
    let mut unchanged_toast = Vec::new();
    for f in new {
        match f.value {
            Datum::Null => columns.push((f.name, None)),
            Datum::Text(t) => columns.push((f.name, Some(t))),
            // Unchanged: the old row (REPLICA IDENTITY FULL) holds the value.
            Datum::UnchangedToast => match identity.iter().find(|(n, _)| *n == f.name) {
                Some((_, v)) => columns.push((f.name, v.clone())),
                None => unchanged_toast.push(f.name),
            },
        }
    }
    Ok(Message::Change(RowChange {
        action,
        schema,
        table,
        columns,
        identity,
        types,
        unchanged_toast,
        no_tuple_data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(line: &str) -> RowChange {
        match decode(line) {
            Ok(Message::Change(c)) => c,
            other => panic!("{line}: not a change: {other:?}"),
        }
    }

    fn named(pairs: &[(&str, Option<&str>)]) -> NamedValues {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn transaction_boundaries_carry_xid_and_commit_time() {
        assert_eq!(decode("BEGIN 741"), Ok(Message::Begin { xid: 741 }));
        assert_eq!(
            decode("COMMIT 741 (at 2024-06-12 10:30:27.362108+00)"),
            Ok(Message::Commit {
                xid: 741,
                commit: parse_utc("2024-06-12 10:30:27.362108+00").expect("ts")
            })
        );
        for bad in [
            "BEGIN",
            "BEGIN x",
            "COMMIT 741",
            "COMMIT 741 (at 2024-06-12 10:30:27+02)",
            "COMMIT 741 (at 2024-06-12 10:30:27+00",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_utc("2024-06-12 10:30:27+00")
                .expect("no fraction")
                .to_rfc3339(),
            "2024-06-12T10:30:27+00:00"
        );
    }

    #[test]
    fn values_are_unquoted_typed_and_null_aware() {
        // (line, columns, types)
        type Case<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)], &'a [&'a str]);
        let cases: &[Case] = &[
            (
                "table public.t: INSERT: id[integer]:1 name[text]:'it''s' q[numeric]:12.50 ok[boolean]:true n[text]:null",
                &[
                    ("id", Some("1")),
                    ("name", Some("it's")),
                    ("q", Some("12.50")),
                    ("ok", Some("true")),
                    ("n", None),
                ],
                &["integer", "text", "numeric", "boolean", "text"],
            ),
            (
                "table public.t: INSERT: tags[text[]]:'{a,\"b c\"}' bits[bit]:B'101' raw[bytea]:'\\x00ff' f[double precision]:-Infinity",
                &[
                    ("tags", Some("{a,\"b c\"}")),
                    ("bits", Some("101")),
                    ("raw", Some("\\x00ff")),
                    ("f", Some("-Infinity")),
                ],
                &["text[]", "bit", "bytea", "double precision"],
            ),
            (
                // Spaces, colons, brackets and quotes inside a quoted value; empty string.
                "table public.t: INSERT: a[text]:' x[int]:1 '':' b[character varying]:'' c[timestamp with time zone]:'2024-06-12 10:30:27.5+00'",
                &[
                    ("a", Some(" x[int]:1 ':")),
                    ("b", Some("")),
                    ("c", Some("2024-06-12 10:30:27.5+00")),
                ],
                &["text", "character varying", "timestamp with time zone"],
            ),
            (
                "table public.t: INSERT: note[text]:'line one\nline two'",
                &[("note", Some("line one\nline two"))],
                &["text"],
            ),
        ];
        for (line, columns, types) in cases {
            let c = change(line);
            assert_eq!(c.action, Op::Insert, "{line}");
            assert_eq!(c.columns, named(columns), "{line}");
            assert!(c.identity.is_empty() && c.unchanged_toast.is_empty());
            let printed: Vec<&str> = c.types.iter().map(|(_, t)| t.as_str()).collect();
            assert_eq!(printed, *types, "{line}");
        }
    }

    #[test]
    fn quoted_identifiers_are_unquoted() {
        let c = change(
            "table \"My Schema\".\"Order \"\"Lines\"\"\": INSERT: \"Id\"[integer]:1 \"a b\"[text]:'x'",
        );
        assert_eq!(
            (c.schema.as_str(), c.table.as_str()),
            ("My Schema", "Order \"Lines\"")
        );
        assert_eq!(c.columns, named(&[("Id", Some("1")), ("a b", Some("x"))]));
    }

    #[test]
    fn updates_under_replica_identity_default_and_full() {
        // DEFAULT, key unchanged: no old key.
        let c = change("table public.t: UPDATE: id[integer]:1 v[text]:'b'");
        assert_eq!(c.action, Op::Update);
        assert!(c.identity.is_empty());
        assert_eq!(c.columns, named(&[("id", Some("1")), ("v", Some("b"))]));
        // DEFAULT, key changed: the old key only.
        let c = change(
            "table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 v[text]:'b'",
        );
        assert_eq!(c.identity, named(&[("id", Some("1"))]));
        assert_eq!(c.columns, named(&[("id", Some("2")), ("v", Some("b"))]));
        // FULL: the whole old row (NULLs left out by the plugin).
        let c = change(
            "table public.t: UPDATE: old-key: id[integer]:1 v[text]:'a' new-tuple: id[integer]:1 v[text]:'b' w[text]:null",
        );
        assert_eq!(c.identity, named(&[("id", Some("1")), ("v", Some("a"))]));
        assert_eq!(
            c.columns,
            named(&[("id", Some("1")), ("v", Some("b")), ("w", None)])
        );
        assert_eq!(c.types.len(), 5, "three new values and two old");
    }

    #[test]
    fn unchanged_toast_values_come_from_the_old_row_or_are_listed() {
        // DEFAULT: the value is not in the WAL.
        let c = change(
            "table public.t: UPDATE: id[integer]:1 big[text]:unchanged-toast-datum v[text]:'b'",
        );
        assert_eq!(c.columns, named(&[("id", Some("1")), ("v", Some("b"))]));
        assert_eq!(c.unchanged_toast, vec!["big".to_string()]);
        // FULL: the old row holds it.
        let c = change(
            "table public.t: UPDATE: old-key: id[integer]:1 big[text]:'long' new-tuple: id[integer]:1 big[text]:unchanged-toast-datum",
        );
        assert_eq!(
            c.columns,
            named(&[("id", Some("1")), ("big", Some("long"))])
        );
        assert!(c.unchanged_toast.is_empty());
    }

    #[test]
    fn deletes_carry_the_old_identity_only() {
        let c = change("table public.t: DELETE: a[integer]:2 b[smallint]:3");
        assert_eq!(c.action, Op::Delete);
        assert!(c.columns.is_empty());
        assert_eq!(c.identity, named(&[("a", Some("2")), ("b", Some("3"))]));
        assert!(!c.no_tuple_data);
        let c = change("table public.t: DELETE: (no-tuple-data)");
        assert!(c.no_tuple_data && c.identity.is_empty());
    }

    #[test]
    fn truncates_and_other_lines() {
        assert_eq!(
            decode("table public.a, \"S\".b: TRUNCATE: (no-flags)"),
            Ok(Message::Truncate(vec![
                ("public".into(), "a".into()),
                ("S".into(), "b".into())
            ]))
        );
        assert_eq!(
            decode("table public.a: TRUNCATE: restart_seqs cascade"),
            Ok(Message::Truncate(vec![("public".into(), "a".into())]))
        );
        assert!(matches!(
            decode("message: transactional: 1 prefix: p, sz: 1 content:x"),
            Ok(Message::Ignored(_))
        ));
    }

    #[test]
    fn malformed_changes_are_errors_naming_the_line() {
        for bad in [
            "table public: INSERT: id[integer]:1",
            "table public.t INSERT: id[integer]:1",
            "table public.t: MERGE: id[integer]:1",
            "table public.t: INSERT: id[integer:1",
            "table public.t: INSERT: id[integer]:'open",
            "table public.t: INSERT: Id[integer]:1",
            "table public.t: UPDATE: old-key: id[integer]:1 id[integer]:2",
            "table public.t: INSERT: id[integer]:",
        ] {
            match decode(bad) {
                Err(e @ DecodeError::Syntax { .. }) => {
                    assert!(e.to_string().contains(bad), "{e}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
