"""Merge-pruning benchmark (figures, not a test): how much of a current-state table a MERGE on
its key reads, depending on where the batch's keys fall.

Through Athena's API (the local Athena on Trino by default; any workgroup of a real account with
`--endpoint-url ''`): an Iceberg table of ROWS rows written in FILES inserts (so FILES data files
with disjoint key ranges), then one MERGE of BATCH keys for each placement:

- spread:  keys drawn from the whole key range;
- recent:  keys drawn from the newest tenth of the key range (the recent rows of a serial key);
- narrow:  ten keys among the newest hundredth.

It prints Athena's DataScannedInBytes per MERGE. The engine's dynamic filter on the join key
skips the files whose min/max key statistics exclude every key of the batch.

    bench/merge-pruning.sh [--rows N] [--files N] [--batch N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid

import boto3


def run(athena, sql: str, workgroup: str, database: str | None) -> dict:
    """Runs one statement to its end; the finished QueryExecution, or exits naming the failure."""
    args = {"QueryString": sql, "WorkGroup": workgroup}
    if database:
        args["QueryExecutionContext"] = {"Database": database}
    qid = athena.start_query_execution(**args)["QueryExecutionId"]
    while True:
        q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        state = q["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.2)
    if state != "SUCCEEDED":
        sys.exit(f"{sql[:100]}...: {state}: {q['Status'].get('StateChangeReason', '')}")
    return q


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--endpoint-url", default="http://127.0.0.1:5056")
    p.add_argument("--workgroup", default="dmslake")
    p.add_argument("--location", default="s3://dmslake-local-lake/bench/merge-pruning/",
                   help="s3:// prefix for the benchmark's database (emptied by nobody: use a scratch prefix)")
    a = p.parse_args()
    if a.rows % (a.files * 1000) != 0:
        sys.exit("--rows must be a multiple of 1000 × --files")

    athena = boto3.client("athena", endpoint_url=a.endpoint_url or None)
    db = "dmslake_bench_" + uuid.uuid4().hex[:8]
    loc = a.location.rstrip("/") + f"/{db}/"
    run(athena, f"CREATE DATABASE {db} LOCATION '{loc}'", a.workgroup, None)
    try:
        run(athena, f"CREATE TABLE {db}.t (id bigint, v string, n bigint) LOCATION '{loc}t/' "
                    "TBLPROPERTIES ('table_type'='ICEBERG')", a.workgroup, db)
        per_file = a.rows // a.files
        for f in range(a.files):
            # sequence() returns at most 10 000 entries: thousands × units.
            run(athena,
                f"INSERT INTO t SELECT x, 'value-' || cast(x AS varchar) || '-padding', x * 7 "
                f"FROM UNNEST(sequence(0, {per_file // 1000 - 1})) AS a(th) "
                f"CROSS JOIN UNNEST(sequence(1, 1000)) AS b(u) "
                f"CROSS JOIN LATERAL (SELECT {f * per_file} + th * 1000 + u AS x)",
                a.workgroup, db)
        rng = random.Random(7)
        placements = [
            ("spread", rng.sample(range(1, a.rows + 1), a.batch)),
            ("recent", rng.sample(range(a.rows - a.rows // 10 + 1, a.rows + 1), a.batch)),
            ("narrow", rng.sample(range(a.rows - a.rows // 100 + 1, a.rows + 1), 10)),
        ]
        print(f"table: {a.rows} rows in {a.files} files; scanned bytes per MERGE")
        for name, keys in placements:
            run(athena, "DROP TABLE IF EXISTS batch", a.workgroup, db)
            run(athena, f"CREATE TABLE batch (id bigint, v string, n bigint) LOCATION '{loc}batch-{name}/' "
                        "TBLPROPERTIES ('table_type'='ICEBERG')", a.workgroup, db)
            # The keys are integers this script drew: nothing from outside reaches the text.
            run(athena, "INSERT INTO batch VALUES " + ", ".join(f"({k}, 'changed', {k})" for k in keys),
                a.workgroup, db)
            q = run(athena, "MERGE INTO t USING batch s ON t.id = s.id "
                            "WHEN MATCHED THEN UPDATE SET v = s.v, n = s.n", a.workgroup, db)
            scanned = q["Statistics"].get("DataScannedInBytes", 0)
            print(f"  {name:7} {len(keys):5} keys  {scanned:>12,} bytes  ({scanned / max(1, a.rows):.2f} bytes/row of the table)")
    finally:
        for t in ("batch", "t"):
            run(athena, f"DROP TABLE IF EXISTS {t}", a.workgroup, db)
        run(athena, f"DROP DATABASE IF EXISTS {db}", a.workgroup, None)


if __name__ == "__main__":
    main()
