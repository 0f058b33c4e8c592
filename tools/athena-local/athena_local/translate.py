"""Athena SQL → Trino SQL, statement by statement.

Athena engine version 3 runs queries (SELECT, INSERT, MERGE, UPDATE, DELETE) on Trino, so DML
runs unchanged. Its DDL is Hive's, which Trino does not speak; the local Athena translates the
forms below and refuses everything else with a reason (the query ends FAILED, as Athena's
would for a statement it cannot run). Nothing is reported as run that did not run on Trino.

| Athena statement | Trino statement(s) run |
|---|---|
| `SELECT`, `WITH`, `VALUES`, `INSERT INTO`, `MERGE INTO`, `UPDATE`, `DELETE FROM`, `EXPLAIN`, `SHOW TABLES`, `SHOW COLUMNS`, `DESCRIBE` | unchanged (backtick identifiers become double-quoted) |
| `CREATE TABLE [IF NOT EXISTS] t (c type, ...) [PARTITIONED BY (f, ...)] LOCATION 's3://...' TBLPROPERTIES ('table_type'='ICEBERG'[, 'format'='parquet'\\|'orc'\\|'avro'][, 'write_compression'=...][, 'vacuum_...'=...])` | `CREATE TABLE [IF NOT EXISTS] t (c type', ...) WITH (format = ..., location = ..., partitioning = ARRAY[...], extra_properties = MAP(...))` |
| `PARTITIONED BY` fields `col`, `year(col)`, `month(col)`, `day(col)`, `hour(col)`, `bucket(n, col)`, `truncate(n, col)` | `partitioning` entries `'col'`, `'year(col)'`, ..., `'bucket(col, n)'`, `'truncate(col, n)'` (argument order swapped) |
| `ALTER TABLE t ADD COLUMNS (a type, b type)` | one `ALTER TABLE t ADD COLUMN a type'` per column; checked first (no column may exist) and undone (`DROP COLUMN`) if a later one fails, so the statement succeeds or fails as a whole |
| `OPTIMIZE t REWRITE DATA USING BIN_PACK [WHERE p]` | `ALTER TABLE t EXECUTE optimize [WHERE p]` |
| `VACUUM t` | `ALTER TABLE t EXECUTE expire_snapshots(retention_threshold => R)` then `ALTER TABLE t EXECUTE remove_orphan_files(retention_threshold => R)`; R is the table's `vacuum_max_snapshot_age_seconds` (kept in its properties), default 432000 s (5 days) as in Athena |
| `CREATE DATABASE\\|SCHEMA [IF NOT EXISTS] d` / `DROP DATABASE\\|SCHEMA [IF EXISTS] d [CASCADE]` | `CREATE SCHEMA` / `DROP SCHEMA` |
| `DROP TABLE [IF EXISTS] t` | unchanged (backticks become double quotes) |
| `SHOW DATABASES\\|SCHEMAS` | `SHOW SCHEMAS` |
| anything else (`CREATE EXTERNAL TABLE`, CTAS, `ALTER TABLE ... ADD PARTITION`, `MSCK REPAIR TABLE`, ...) | not run: FAILED, "not supported by the local Athena" |

Athena DDL types are translated inside DDL: `string` → `varchar`, `int` → `integer`, `float` →
`real`, `binary` → `varbinary`, `timestamp` → `timestamp(6)`, `char(n)`/`varchar(n)` →
`varchar`, `array<T>` → `array(T)`, `map<K,V>` → `map(K,V)`, `struct<a:T>` → `row(a T)`;
`tinyint`, `smallint`, `bigint`, `double`, `boolean`, `date`, `decimal(p,s)` stay.

Sources: Athena user guide, "Creating Iceberg tables" (querying-iceberg-creating-tables.md),
"Evolve Iceberg table schema" (querying-iceberg-alter-table-add-columns.md), "OPTIMIZE"
(optimize-statement.md), "VACUUM" (vacuum-statement.md) and the Iceberg table properties
(querying-iceberg-creating-tables.md#querying-iceberg-table-properties); Trino Iceberg
connector, https://trino.io/docs/current/connector/iceberg.html (table properties,
partitioning, ALTER TABLE EXECUTE optimize / expire_snapshots / remove_orphan_files).
"""

from __future__ import annotations

import dataclasses
import re

ATHENA_DEFAULT_VACUUM_AGE_SECONDS = 432000  # 5 days (Athena: vacuum_max_snapshot_age_seconds)


class Unsupported(Exception):
    """The statement cannot be run by the local Athena; the message says why."""


# ---------------------------------------------------------------- tokens


@dataclasses.dataclass
class Tok:
    kind: str  # word, qident, str, num, punct
    text: str  # the source text (for qident: the name without quotes)
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def is_punct(self, ch: str) -> bool:
        return self.kind == "punct" and self.text == ch


_WS = re.compile(r"\s+")


def tokenize(sql: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i = _WS.match(sql, i).end()
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise Unsupported("unterminated /* comment")
            i = j + 2
        elif c in "'\"`":
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    raise Unsupported(f"unterminated {c} quote starting at offset {i}")
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        buf.append(c)
                        j += 2
                        continue
                    break
                buf.append(sql[j])
                j += 1
            kind = "str" if c == "'" else "qident"
            toks.append(Tok(kind, sql[i : j + 1] if kind == "str" else "".join(buf), i, j + 1))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            toks.append(Tok("word", sql[i:j], i, j))
            i = j
        elif c.isdigit():
            j = i
            while j < n and (sql[j].isdigit() or sql[j] == "."):
                j += 1
            toks.append(Tok("num", sql[i:j], i, j))
            i = j
        else:
            toks.append(Tok("punct", c, i, i + 1))
            i += 1
    return toks


def string_value(tok: Tok) -> str:
    """The value of a '...' literal."""
    return tok.text[1:-1].replace("''", "'")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def requote(sql: str) -> str:
    """`sql` with Hive's backtick identifiers written as Trino's double-quoted ones."""
    out = []
    last = 0
    for t in tokenize(sql):
        if t.kind == "qident" and sql[t.start] == "`":
            out.append(sql[last : t.start])
            out.append(quote_ident(t.text))
            last = t.end
    out.append(sql[last:])
    return "".join(out)


class Cursor:
    def __init__(self, sql: str):
        self.sql = sql
        self.toks = tokenize(sql)
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at_end(self) -> bool:
        return self.i >= len(self.toks)

    def next(self, what: str) -> Tok:
        t = self.peek()
        if t is None:
            raise Unsupported(f"statement ends where {what} was expected")
        self.i += 1
        return t

    def accept_word(self, *words: str) -> bool:
        t = self.peek()
        if t is not None and t.is_word(*words):
            self.i += 1
            return True
        return False

    def expect_word(self, word: str) -> None:
        t = self.next(word)
        if not t.is_word(word):
            raise Unsupported(f"expected {word} at offset {t.start}, found {t.text!r}")

    def accept_punct(self, ch: str) -> bool:
        t = self.peek()
        if t is not None and t.is_punct(ch):
            self.i += 1
            return True
        return False

    def expect_punct(self, ch: str) -> None:
        t = self.next(repr(ch))
        if not t.is_punct(ch):
            raise Unsupported(f"expected {ch!r} at offset {t.start}, found {t.text!r}")

    def ident(self, what: str) -> str:
        t = self.next(what)
        if t.kind not in ("word", "qident"):
            raise Unsupported(f"expected {what} at offset {t.start}, found {t.text!r}")
        return t.text

    def qualified_name(self, what: str = "a table name") -> str:
        parts = [self.ident(what)]
        while self.accept_punct("."):
            parts.append(self.ident(what))
        if len(parts) > 3:
            raise Unsupported(f"{'.'.join(parts)} has more than three parts")
        return ".".join(quote_ident(p.lower()) for p in parts)

    def string(self, what: str) -> str:
        t = self.next(what)
        if t.kind != "str":
            raise Unsupported(f"expected {what} (a '...' string) at offset {t.start}, found {t.text!r}")
        return string_value(t)

    def rest(self) -> str:
        t = self.peek()
        return "" if t is None else self.sql[t.start :]

    def expect_end(self) -> None:
        t = self.peek()
        if t is not None:
            raise Unsupported(f"unexpected {t.text!r} at offset {t.start}")


# ---------------------------------------------------------------- types

_SIMPLE_TYPES = {
    "string": "varchar",
    "varchar": "varchar",
    "char": "varchar",
    "int": "integer",
    "integer": "integer",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "bigint": "bigint",
    "float": "real",
    "real": "real",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp(6)",
    "binary": "varbinary",
    "varbinary": "varbinary",
    "decimal": "decimal",
}


def parse_type(cur: Cursor) -> str:
    """One Athena (Hive) DDL type at the cursor, as a Trino type."""
    t = cur.next("a column type")
    if t.kind != "word":
        raise Unsupported(f"expected a column type at offset {t.start}, found {t.text!r}")
    name = t.text.lower()
    if name == "array":
        cur.expect_punct("<")
        inner = parse_type(cur)
        cur.expect_punct(">")
        return f"array({inner})"
    if name == "map":
        cur.expect_punct("<")
        k = parse_type(cur)
        cur.expect_punct(",")
        v = parse_type(cur)
        cur.expect_punct(">")
        return f"map({k}, {v})"
    if name == "struct":
        cur.expect_punct("<")
        fields = []
        while True:
            fname = cur.ident("a struct field name")
            cur.expect_punct(":")
            fields.append(f"{quote_ident(fname.lower())} {parse_type(cur)}")
            if cur.accept_punct(">"):
                break
            cur.expect_punct(",")
        return f"row({', '.join(fields)})"
    if name not in _SIMPLE_TYPES:
        raise Unsupported(f"column type {t.text!r} is not an Athena DDL type the local Athena knows")
    args = []
    if cur.accept_punct("("):
        while True:
            a = cur.next("a type argument")
            if a.kind != "num":
                raise Unsupported(f"type {t.text}: expected a number at offset {a.start}")
            args.append(a.text)
            if cur.accept_punct(")"):
                break
            cur.expect_punct(",")
    if name == "decimal":
        return f"decimal({', '.join(args)})" if args else "decimal(10, 0)"
    # Iceberg has no bounded character types; Athena stores them as string too.
    return _SIMPLE_TYPES[name]


def parse_column(cur: Cursor) -> tuple[str, str]:
    name = cur.ident("a column name").lower()
    ty = parse_type(cur)
    if cur.accept_word("COMMENT"):
        cur.string("a column comment")
    return name, ty


def parse_column_list(cur: Cursor) -> list[tuple[str, str]]:
    cur.expect_punct("(")
    cols = [parse_column(cur)]
    while cur.accept_punct(","):
        cols.append(parse_column(cur))
    cur.expect_punct(")")
    return cols


# ---------------------------------------------------------------- plans


@dataclasses.dataclass
class Plan:
    """What to run on Trino for one Athena statement.

    kind: `query` (returns rows with a header, like SELECT), `dml` (INSERT/MERGE/...), `ddl`,
    `utility` (SHOW/DESCRIBE: rows without a header), `add_columns` (ALTER TABLE ADD COLUMNS,
    run column by column) or `vacuum` (retention read from the table first).
    """

    kind: str
    statements: list[str]
    statement_type: str  # Athena's StatementType: DDL, DML or UTILITY
    table: str | None = None
    columns: list[tuple[str, str]] = dataclasses.field(default_factory=list)


_PASS_DML = {"SELECT": "query", "WITH": "query", "VALUES": "query", "TABLE": "query",
             "INSERT": "dml", "MERGE": "dml", "UPDATE": "dml", "DELETE": "dml", "EXPLAIN": "utility"}


def translate(sql: str) -> Plan:
    """The Trino statements for one Athena statement, or `Unsupported` with the reason."""
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise Unsupported("the query string is empty")
    cur = Cursor(text)
    if cur.at_end():
        raise Unsupported("the query string has no statement")
    if any(t.is_punct(";") for t in cur.toks):
        raise Unsupported("only one statement per query is allowed")
    first = cur.peek()
    head = first.text.upper() if first.kind == "word" else first.text
    if first.is_punct("("):
        return Plan("query", [requote(text)], "DML")
    if head in _PASS_DML:
        kind = _PASS_DML[head]
        return Plan(kind, [requote(text)], "UTILITY" if kind == "utility" else "DML")
    if head in ("DESCRIBE", "DESC"):
        return Plan("utility", [requote(text)], "UTILITY")
    if head == "SHOW":
        second = cur.peek(1)
        if second is not None and second.is_word("DATABASES", "SCHEMAS"):
            cur.i = 2
            tail = cur.rest()
            return Plan("utility", [f"SHOW SCHEMAS {requote(tail)}".rstrip()], "UTILITY")
        if second is not None and second.is_word("TABLES", "COLUMNS", "CREATE", "FUNCTIONS"):
            return Plan("utility", [requote(text)], "UTILITY")
        raise Unsupported(f"{text[:60]!r}: this SHOW statement is not supported by the local Athena")
    if head == "CREATE":
        return _create(cur)
    if head == "DROP":
        return _drop(cur)
    if head == "ALTER":
        return _alter(cur)
    if head == "OPTIMIZE":
        return _optimize(cur)
    if head == "VACUUM":
        cur.next("VACUUM")
        table = cur.qualified_name()
        cur.expect_end()
        return Plan("vacuum", [], "DDL", table=table)
    raise Unsupported(f"statements starting with {first.text!r} are not supported by the local Athena")


def _create(cur: Cursor) -> Plan:
    cur.next("CREATE")
    if cur.accept_word("DATABASE", "SCHEMA"):
        exists = " IF NOT EXISTS" if _if_not_exists(cur) else ""
        name = cur.qualified_name("a database name")
        if cur.accept_word("COMMENT"):
            cur.string("a database comment")
        if cur.accept_word("LOCATION"):
            loc = cur.string("a location")
            cur.expect_end()
            return Plan("ddl", [f"CREATE SCHEMA{exists} {name} WITH (location = {quote_string(loc)})"], "DDL")
        cur.expect_end()
        return Plan("ddl", [f"CREATE SCHEMA{exists} {name}"], "DDL")
    if cur.accept_word("EXTERNAL"):
        raise Unsupported(
            "CREATE EXTERNAL TABLE (a Hive table) is not supported by the local Athena; "
            "only Iceberg tables (TBLPROPERTIES ('table_type'='ICEBERG')) are created")
    if cur.accept_word("VIEW", "OR"):
        raise Unsupported("CREATE VIEW is not supported by the local Athena")
    cur.expect_word("TABLE")
    exists = _if_not_exists(cur)
    table = cur.qualified_name()
    t = cur.peek()
    if t is None or not t.is_punct("("):
        raise Unsupported("CREATE TABLE AS SELECT (CTAS) is not supported by the local Athena")
    cols = parse_column_list(cur)
    partitioning: list[str] = []
    location = None
    props: dict[str, str] = {}
    while not cur.at_end():
        if cur.accept_word("COMMENT"):
            cur.string("a table comment")
        elif cur.accept_word("PARTITIONED"):
            cur.expect_word("BY")
            partitioning = _partition_fields(cur, [c for c, _ in cols])
        elif cur.accept_word("LOCATION"):
            location = cur.string("the table location")
        elif cur.accept_word("TBLPROPERTIES"):
            props = _properties(cur)
        else:
            t = cur.peek()
            raise Unsupported(f"CREATE TABLE: {t.text!r} at offset {t.start} is not supported by the local Athena")
    if props.get("table_type", "").upper() != "ICEBERG":
        raise Unsupported(
            "CREATE TABLE without TBLPROPERTIES ('table_type'='ICEBERG') creates a Hive table, "
            "which the local Athena does not support")
    if location is None:
        raise Unsupported("CREATE TABLE of an Iceberg table needs a LOCATION 's3://...'")
    with_ = [f"location = {quote_string(location)}"]
    fmt = props.pop("format", "parquet").lower()
    if fmt not in ("parquet", "orc", "avro"):
        raise Unsupported(f"Iceberg format {fmt!r} is not one of parquet, orc, avro")
    with_.insert(0, f"format = {quote_string(fmt.upper())}")
    if partitioning:
        with_.append("partitioning = ARRAY[" + ", ".join(quote_string(p) for p in partitioning) + "]")
    extra = _iceberg_properties(props, fmt)
    if extra:
        keys = ", ".join(quote_string(k) for k in extra)
        values = ", ".join(quote_string(v) for v in extra.values())
        with_.append(f"extra_properties = MAP(ARRAY[{keys}], ARRAY[{values}])")
    columns = ", ".join(f"{quote_ident(c)} {ty}" for c, ty in cols)
    sql = f"CREATE TABLE{' IF NOT EXISTS' if exists else ''} {table} ({columns}) WITH ({', '.join(with_)})"
    return Plan("ddl", [sql], "DDL")


# Athena's Iceberg maintenance properties (Athena user guide, Iceberg table properties). Trino
# reserves Iceberg's own history.expire.* keys, so they are kept under Athena's names in the
# table's properties (extra_properties), where VACUUM reads them back.
_ATHENA_ICEBERG_PROPERTIES = (
    "vacuum_max_snapshot_age_seconds",
    "vacuum_min_snapshots_to_keep",
    "vacuum_max_metadata_files_to_keep",
)


def _iceberg_properties(props: dict[str, str], fmt: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in props.items():
        if key == "table_type":
            continue
        if key == "write_compression":
            # Trino keeps the codec out of a table's properties (it is a catalog or session
            # setting, iceberg.compression-codec, ZSTD here): only that codec is accepted.
            if value.lower() != "zstd":
                raise Unsupported(
                    f"write_compression {value!r}: the local Athena writes Iceberg data with ZSTD only")
        elif key in _ATHENA_ICEBERG_PROPERTIES:
            if not value.isdigit():
                raise Unsupported(f"table property {key} must be a whole number, not {value!r}")
            out[key] = value
        else:
            raise Unsupported(f"table property {key!r} is not supported by the local Athena")
    return out


def _if_not_exists(cur: Cursor) -> bool:
    if cur.accept_word("IF"):
        cur.expect_word("NOT")
        cur.expect_word("EXISTS")
        return True
    return False


def _properties(cur: Cursor) -> dict[str, str]:
    props: dict[str, str] = {}
    cur.expect_punct("(")
    while True:
        key = cur.string("a property name").lower()
        cur.expect_punct("=")
        props[key] = cur.string(f"the value of {key}")
        if cur.accept_punct(")"):
            return props
        cur.expect_punct(",")


_TRANSFORMS = ("year", "month", "day", "hour")


def _partition_fields(cur: Cursor, columns: list[str]) -> list[str]:
    def column() -> str:
        c = cur.ident("a partition column").lower()
        if c not in columns:
            raise Unsupported(f"partition column {c!r} is not a column of the table")
        return c

    fields = []
    cur.expect_punct("(")
    while True:
        t = cur.peek()
        nxt = cur.peek(1)
        if t is not None and t.kind == "word" and nxt is not None and nxt.is_punct("("):
            fn = t.text.lower()
            cur.i += 2
            if fn in _TRANSFORMS:
                fields.append(f"{fn}({column()})")
            elif fn in ("bucket", "truncate"):
                n = cur.next("a number")
                if n.kind != "num" or not n.text.isdigit():
                    raise Unsupported(f"{fn}: expected a whole number at offset {n.start}")
                cur.expect_punct(",")
                # Athena writes bucket(n, col); Trino's partitioning property bucket(col, n).
                fields.append(f"{fn}({column()}, {n.text})")
            else:
                raise Unsupported(f"partition transform {t.text!r} is not an Iceberg transform Athena supports")
            cur.expect_punct(")")
        else:
            c = cur.peek(1)
            if c is not None and c.kind == "word":
                raise Unsupported(
                    "PARTITIONED BY with column definitions (a Hive table) is not supported; "
                    "Iceberg partitions by columns of the table")
            fields.append(column())
        if cur.accept_punct(")"):
            return fields
        cur.expect_punct(",")


def _drop(cur: Cursor) -> Plan:
    cur.next("DROP")
    if cur.accept_word("DATABASE", "SCHEMA"):
        exists = " IF EXISTS" if _if_exists(cur) else ""
        name = cur.qualified_name("a database name")
        mode = ""
        if cur.accept_word("CASCADE"):
            mode = " CASCADE"
        elif cur.accept_word("RESTRICT"):
            mode = " RESTRICT"
        cur.expect_end()
        return Plan("ddl", [f"DROP SCHEMA{exists} {name}{mode}"], "DDL")
    if cur.accept_word("TABLE"):
        exists = " IF EXISTS" if _if_exists(cur) else ""
        name = cur.qualified_name()
        cur.expect_end()
        return Plan("ddl", [f"DROP TABLE{exists} {name}"], "DDL")
    raise Unsupported("only DROP TABLE and DROP DATABASE are supported by the local Athena")


def _if_exists(cur: Cursor) -> bool:
    if cur.accept_word("IF"):
        cur.expect_word("EXISTS")
        return True
    return False


def _alter(cur: Cursor) -> Plan:
    cur.next("ALTER")
    cur.expect_word("TABLE")
    table = cur.qualified_name()
    if cur.accept_word("ADD"):
        if cur.accept_word("COLUMNS"):
            cols = parse_column_list(cur)
            cur.expect_end()
            names = [c for c, _ in cols]
            dup = sorted({c for c in names if names.count(c) > 1})
            if dup:
                raise Unsupported(f"ALTER TABLE ADD COLUMNS names {', '.join(dup)} more than once")
            stmts = [f"ALTER TABLE {table} ADD COLUMN {quote_ident(c)} {ty}" for c, ty in cols]
            return Plan("add_columns", stmts, "DDL", table=table, columns=cols)
        raise Unsupported("ALTER TABLE ADD PARTITION (a Hive table) is not supported by the local Athena")
    raise Unsupported("of ALTER TABLE, only ADD COLUMNS is supported by the local Athena")


def _optimize(cur: Cursor) -> Plan:
    cur.next("OPTIMIZE")
    table = cur.qualified_name()
    for word in ("REWRITE", "DATA", "USING", "BIN_PACK"):
        cur.expect_word(word)
    where = ""
    if cur.accept_word("WHERE"):
        where = " WHERE " + requote(cur.rest())
    elif not cur.at_end():
        cur.expect_end()
    return Plan("ddl", [f"ALTER TABLE {table} EXECUTE optimize{where}"], "DDL", table=table)


def vacuum_statements(table: str, retention_seconds: int) -> list[str]:
    """Trino's two procedures for Athena's VACUUM with a retention in seconds."""
    r = quote_string(f"{retention_seconds}s")
    return [
        f"ALTER TABLE {table} EXECUTE expire_snapshots(retention_threshold => {r})",
        f"ALTER TABLE {table} EXECUTE remove_orphan_files(retention_threshold => {r})",
    ]


def properties_table(table: str) -> str:
    """The `$properties` metadata table of `table` (a quoted, possibly qualified name)."""
    parts = table.rsplit(".", 1)
    last = parts[-1]
    assert last.startswith('"') and last.endswith('"')
    props = quote_ident(last[1:-1].replace('""', '"') + "$properties")
    return props if len(parts) == 1 else f"{parts[0]}.{props}"
