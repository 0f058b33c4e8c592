//! Decoding of wal2json `format-version 2` messages (one JSON object per row of
//! `pg_logical_slot_get_changes`). Pure: text in, typed messages out.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

/// The wal2json options this tool reads the slot with. Numbers arrive as unquoted JSON
/// numbers holding PostgreSQL's text; they are kept as raw text (`12.50` stays `12.50`).
pub const OPTIONS: &[(&str, &str)] = &[
    ("format-version", "2"),
    ("include-xids", "1"),
    ("include-timestamp", "1"),
    ("include-types", "1"),
];

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("wal2json message {message:?} is not valid: {source}")]
    Json {
        message: String,
        source: serde_json::Error,
    },
    #[error("wal2json timestamp {0:?} is not `yyyy-mm-dd hh:mm:ss[.ffffff]+00` (is the session time zone UTC?)")]
    Timestamp(String),
}

#[derive(Deserialize)]
struct RawColumn {
    name: String,
    /// The column's type (`include-types`), as `format_type` prints it.
    #[serde(default, rename = "type")]
    type_name: Option<String>,
    #[serde(default)]
    value: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
struct RawMessage {
    action: String,
    #[serde(default)]
    xid: Option<u64>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    identity: Vec<RawColumn>,
}

/// A column value by name; `None` is SQL NULL. Text as PostgreSQL prints it.
pub type NamedValues = Vec<(String, Option<String>)>;

/// A decoded change of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowChange {
    pub action: crate::format::Op,
    pub schema: String,
    pub table: String,
    /// New values (I, U); empty for D.
    pub columns: NamedValues,
    /// Old key (D always; U only when the key changed, or with REPLICA IDENTITY FULL).
    pub identity: NamedValues,
    /// Type of each column named in `columns` or `identity` (`include-types`), in that order.
    pub types: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Begin {
        xid: u64,
        commit: DateTime<Utc>,
    },
    Commit {
        commit: DateTime<Utc>,
    },
    Change(RowChange),
    /// Truncate, logical messages: not captured by DMS for PostgreSQL
    /// (CHAP_Source.PostgreSQL.md, "AWS DMS doesn't support change processing of TRUNCATE").
    Ignored(String),
}

/// A value's text: strings unquoted, numbers exactly as printed, booleans as `true`/`false`.
fn value_text(v: Option<Box<serde_json::value::RawValue>>) -> Option<String> {
    let raw = v?;
    let text = raw.get().trim();
    if text == "null" {
        return None;
    }
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text).ok();
    }
    Some(text.to_string())
}

fn named(cols: Vec<RawColumn>) -> NamedValues {
    cols.into_iter()
        .map(|c| (c.name, value_text(c.value)))
        .collect()
}

/// Parses `2024-06-12 10:30:27.362108+00` (a timestamptz printed in a UTC session).
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, DecodeError> {
    let naive = text
        .strip_suffix("+00")
        .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok())
        .ok_or_else(|| DecodeError::Timestamp(text.to_string()))?;
    Ok(naive.and_utc())
}

/// Decodes one message.
pub fn decode(message: &str) -> Result<Message, DecodeError> {
    let raw: RawMessage = serde_json::from_str(message).map_err(|source| DecodeError::Json {
        message: message.to_string(),
        source,
    })?;
    let ts = |raw: &RawMessage| match &raw.timestamp {
        Some(t) => parse_utc(t),
        None => Err(DecodeError::Timestamp(String::new())),
    };
    let op = match raw.action.as_str() {
        "B" => {
            return Ok(Message::Begin {
                xid: raw.xid.unwrap_or(0),
                commit: ts(&raw)?,
            })
        }
        "C" => return Ok(Message::Commit { commit: ts(&raw)? }),
        "I" => crate::format::Op::Insert,
        "U" => crate::format::Op::Update,
        "D" => crate::format::Op::Delete,
        other => return Ok(Message::Ignored(other.to_string())),
    };
    let types = raw
        .columns
        .iter()
        .chain(&raw.identity)
        .filter_map(|c| Some((c.name.clone(), c.type_name.clone()?)))
        .collect();
    Ok(Message::Change(RowChange {
        action: op,
        schema: raw.schema.unwrap_or_default(),
        table: raw.table.unwrap_or_default(),
        columns: named(raw.columns),
        identity: named(raw.identity),
        types,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Op;

    #[test]
    fn wal2json_v2_messages_decode() {
        let b = decode(r#"{"action":"B","xid":741,"timestamp":"2024-06-12 10:30:27.362108+00"}"#)
            .expect("begin");
        assert_eq!(
            b,
            Message::Begin {
                xid: 741,
                commit: parse_utc("2024-06-12 10:30:27.362108+00").expect("ts")
            }
        );
        let u = decode(
            r#"{"action":"U","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":"2"},{"name":"ok","type":"boolean","value":true},{"name":"n","type":"text","value":null},{"name":"q","type":"numeric(10,2)","value":12.50}],"identity":[{"name":"id","type":"integer","value":"1"}]}"#,
        )
        .expect("update");
        let Message::Change(c) = u else {
            panic!("not a change: {u:?}")
        };
        assert_eq!(c.action, Op::Update);
        assert_eq!(
            c.columns,
            vec![
                ("id".into(), Some("2".into())),
                ("ok".into(), Some("true".into())),
                ("n".into(), None),
                ("q".into(), Some("12.50".into()))
            ]
        );
        assert_eq!(c.identity, vec![("id".into(), Some("1".into()))]);
        assert_eq!(c.types[3], ("q".into(), "numeric(10,2)".into()));
        assert_eq!(c.types.len(), 5, "four new values and the old key");
        assert!(matches!(
            decode(r#"{"action":"T","schema":"public","table":"t"}"#),
            Ok(Message::Ignored(_))
        ));
        assert!(decode("{").is_err());
        assert!(parse_utc("2024-06-12 10:30:27+02").is_err());
        assert_eq!(
            parse_utc("2024-06-12 10:30:27+00")
                .expect("no fraction")
                .to_rfc3339(),
            "2024-06-12T10:30:27+00:00"
        );
    }
}
