"""Run dmslake's generated Athena SQL on DuckDB over local DMS files.

Usage: merge_duckdb.py SPEC.json  (or the spec on stdin). The spec:
{
  "database": "/path/state.duckdb",        # DuckDB file; reuse it to merge in several runs
  "raw": {"database": "raw", "table": "public_t", "format": "csv" | "parquet",
          "columns": ["op", "ts", ...],       # CSV column names in file order (parquet: by name)
          "partition_keys": ["year", "month", "day"],
          "files": [{"path": "/local/file.csv", "s3_path": "s3://b/k.csv",
                     "partition": ["2024", "06", "12"]}]},
  "statements": ["CREATE TABLE ...", "MERGE INTO ..."],   # Athena SQL, run in order
  "query": "SELECT ..."                                  # optional, DuckDB SQL; rows printed
}
Output: {"rows": [[...], ...], "columns": [...], "executed": [duckdb sql, ...]} on stdout.

The raw table is rebuilt from "files" on every run as a DuckDB table with every column, the
partition keys, and Athena's "$path" pseudo-column (the file's s3_path).

Rewrites from Athena to DuckDB (everything else is sqlglot's athena -> duckdb transpile):
- Iceberg DDL: the LOCATION, PARTITIONED BY and TBLPROPERTIES properties are dropped (DuckDB
  has no Iceberg writer); column names and types are kept. A table that exists is kept, as
  `IF NOT EXISTS` says.
- OPTIMIZE / VACUUM (sqlglot parses them as opaque commands) become no-ops: they do not change
  the table's content.
- Parquet TIME columns are read as milliseconds since midnight (the registrar declares them
  `int`, which is what Athena reads), and the session runs in UTC (Parquet timestamps adjusted
  to UTC are stored into `timestamp` columns as Athena does).
- Athena's `ALTER TABLE t ADD COLUMNS (c1 type1, ...)` becomes one DuckDB
  `ALTER TABLE t ADD COLUMN c type` per column (sqlglot parses the Athena form but writes it
  back unchanged, which DuckDB does not accept).
"""

import json
import sys

import duckdb
import sqlglot
from sqlglot import exp


def add_columns(tree):
    """DuckDB statements for an Athena `ALTER TABLE ... ADD COLUMNS (...)`, or None if `tree`
    is another ALTER."""
    actions = tree.args.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], exp.Schema):
        return None
    defs = actions[0].expressions
    if not defs or not all(isinstance(d, exp.ColumnDef) for d in defs):
        return None
    table = tree.this.sql(dialect="duckdb")
    return [f"ALTER TABLE {table} ADD COLUMN {d.sql(dialect='duckdb')}" for d in defs]


def to_duckdb(sql):
    """The DuckDB statements for one Athena statement (none for a no-op)."""
    trees = sqlglot.parse(sql, read="athena")
    if len(trees) != 1 or trees[0] is None:
        raise SystemExit(f"expected one statement, got {len(trees)}: {sql[:200]}")
    tree = trees[0]
    if isinstance(tree, exp.Command):
        if tree.name.upper() in ("OPTIMIZE", "VACUUM"):
            return []
        raise SystemExit(f"unsupported command {tree.name}")
    if isinstance(tree, exp.Alter):
        added = add_columns(tree)
        if added is None:
            raise SystemExit(f"unsupported ALTER: {sql[:200]}")
        return added
    if isinstance(tree, exp.Create):
        props = tree.args.get("properties")
        if props is not None:
            props.pop()
    return [tree.sql(dialect="duckdb")]


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def literal(value):
    return "'" + value.replace("'", "''") + "'"


def time_as_millis(con, source):
    """` REPLACE (...)` turning Parquet TIME columns into milliseconds since midnight.

    The registrar declares a Parquet TIME column `int` (Athena has no time-of-day type and
    reads the stored integer), while DuckDB decodes it as TIME: give the merge what Athena
    gives it."""
    columns = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    replaced = []
    for name, duck_type, *_ in columns:
        if duck_type.startswith("TIME") and not duck_type.startswith("TIMESTAMP"):
            c = quote(name)
            replaced.append(
                f"CAST(extract('hour' FROM {c}) * 3600000 + extract('minute' FROM {c}) * 60000"
                f" + extract('millisecond' FROM {c}) AS INTEGER) AS {c}"
            )
    return f" REPLACE ({', '.join(replaced)})" if replaced else ""


def load_raw(con, raw):
    db, table = quote(raw["database"]), quote(raw["table"])
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {db}")
    con.execute(f"DROP TABLE IF EXISTS {db}.{table}")
    keys = raw.get("partition_keys", [])
    selects = []
    for f in raw["files"]:
        extra = [f"{literal(v)} AS {quote(k)}" for k, v in zip(keys, f.get("partition", []))]
        extra.append(f"{literal(f['s3_path'])} AS \"$path\"")
        if raw["format"] == "csv":
            cols = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in raw["columns"]) + "}"
            source = (
                f"read_csv({literal(f['path'])}, header=false, columns={cols}, "
                "quote='\"', escape='\"', delim=',', auto_detect=false, null_padding=true)"
            )
            selects.append(f"SELECT *, {', '.join(extra)} FROM {source}")
        else:
            source = f"read_parquet({literal(f['path'])})"
            selects.append(f"SELECT *{time_as_millis(con, source)}, {', '.join(extra)} FROM {source}")
    if not selects:
        # No files: an empty table with the declared columns.
        cols = [f"{quote(c)} VARCHAR" for c in raw["columns"] + keys + ["$path"]]
        con.execute(f"CREATE TABLE {db}.{table} ({', '.join(cols)})")
        return
    union = " UNION ALL BY NAME ".join(selects)
    con.execute(f"CREATE TABLE {db}.{table} AS {union}")


def main():
    spec = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    con = duckdb.connect(spec["database"])
    # Timestamps adjusted to UTC (Parquet) are read as TIMESTAMPTZ and stored in TIMESTAMP
    # columns: convert in UTC, as Athena does, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    load_raw(con, spec["raw"])
    executed = []
    for sql in spec["statements"]:
        if isinstance(sqlglot.parse_one(sql, read="athena"), exp.Create):
            schema = sqlglot.parse_one(sql, read="athena").find(exp.Table).args.get("db")
            if schema is not None:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema.name)}")
        for translated in to_duckdb(sql):
            executed.append(translated)
            con.execute(translated)
    out = {"rows": [], "columns": [], "executed": executed}
    if spec.get("query"):
        cur = con.execute(spec["query"])
        out["columns"] = [d[0] for d in cur.description]
        out["rows"] = [[None if v is None else str(v) for v in row] for row in cur.fetchall()]
    con.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
