"""Stages a partition-registrar sample event for the local stack: the sample's bucket becomes
the local data bucket (scripts/local.env), and every object key the event names is uploaded
there with DMS-shaped content (a small Parquet file for `.parquet`, a CSV with a header row
for `.csv` / `.csv.gz`), so the function has real files to read. Prints the staged event's path.

Usage: stage_event.py events/<sample>.json"""

import gzip
import json
import os
import pathlib
import sys
import tempfile
import urllib.parse

import boto3
import duckdb

# The local stack's environment and endpoint, read as scripts/local_resources.py reads them.
from local_resources import load_env, moto_endpoint

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE_BUCKET = "dms-target-bucket"


def keys_in(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "key" and isinstance(v, str):
                out.append(v)
            elif k == "body" and isinstance(v, str):
                try:
                    keys_in(json.loads(v), out)
                except ValueError:
                    pass
            else:
                keys_in(v, out)
    elif isinstance(value, list):
        for v in value:
            keys_in(v, out)


def parquet_bytes(env):
    # The columns DMS writes for a Parquet target with the template's settings.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.parquet")
        duckdb.sql(
            f"""COPY (SELECT 'I' AS "Op", '2026-11-24 10:15:00.123456' AS "{env.get('DMSLAKE_TIMESTAMP_COLUMN', 'dms_commit_ts')}",
                       CAST(i AS INTEGER) AS id, 'customer ' || i AS name, CAST(i * 1.5 AS DECIMAL(12,2)) AS amount
                FROM range(1, 4) t(i)) TO '{path}' (FORMAT parquet)"""
        )
        return pathlib.Path(path).read_bytes()


def csv_bytes(env):
    rows = [f"Op,{env.get('DMSLAKE_TIMESTAMP_COLUMN', 'dms_commit_ts')},id,name", "I,2026-11-24 10:15:00.123456,1,first"]
    return ("\n".join(rows) + "\n").encode()


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    env = load_env()
    source = pathlib.Path(sys.argv[1])
    bucket = env["DMSLAKE_DATA_BUCKET"]
    text = source.read_text().replace(SAMPLE_BUCKET, bucket)
    event = json.loads(text)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint(env),
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    keys = []
    keys_in(event, keys)
    for raw in keys:
        key = urllib.parse.unquote_plus(raw)
        if key.endswith(".parquet"):
            body = parquet_bytes(env)
        elif key.endswith(".csv.gz"):
            body = gzip.compress(csv_bytes(env))
        else:
            body = csv_bytes(env)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    staged = ROOT / ".local" / "events" / source.name
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_text(text)
    print(staged)


if __name__ == "__main__":
    main()
