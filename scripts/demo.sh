#!/usr/bin/env bash
# The local demo, from a fresh clone: sets up the tools and the local stack (moto, the local
# Athena on Trino, PostgreSQL, the Lambda emulator), creates a sample database, replicates it
# with dms-local through the partition registrar and, each round, the compactor Lambda started
# by a scheduled event (its MERGE executed by the local Athena on Trino), reads every
# current-state table back through the local Athena, prints per table what was written,
# registered and merged and whether the current state equals the source, and ends with
# `tables equal to source: K/N` (exit status 1 unless K = N). The stack keeps running.
#   DMSLAKE_E2E_SEED=n  another workload;
#   DMSLAKE_DEMO_FAULT=drop|duplicate|swap  damage one file on purpose (the demo then fails);
#   DMSLAKE_DEMO_FORMAT=parquet|csv  the files dms-local writes (default parquet);
#   DMSLAKE_DEMO_ADD_COLUMN=true|false  add a column mid-stream (default: on with Parquet).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*"; }

step "tools: Python environment (.venv)"
scripts/dev-env.sh
step "local AWS: moto server, the local Athena on Trino, dmslake's local resources"
scripts/moto.sh start
scripts/trino.sh start
scripts/athena-local.sh start
.venv/bin/python scripts/local_resources.py >/dev/null
step "PostgreSQL 17, logical decoding with test_decoding as DMS uses it (127.0.0.1:${PGPORT:-55432})"
scripts/postgres.sh start
step "building the pipeline driver (the first build compiles the workspace)"
cargo build --quiet --locked -p dmslake-tests --example pipeline

# The registrar reads the column list of the header-less CSV files from the manifest the demo
# uploads (DMSLAKE_CSV_COLUMNS_URI in scripts/local.env); the compactor runs only here.
step "Lambda emulator (cargo lambda watch; the first start compiles the functions)"
scripts/lambda-local.sh start

step "pipeline: PostgreSQL -> dms-local -> S3 -> partition-registrar -> compactor Lambda -> Athena (Trino)"
set +e
# The functions' CloudWatch metric lines (EMF JSON on stdout) are left out of the display.
cargo run --quiet --locked -p dmslake-tests --example pipeline -- demo | grep --line-buffered -v '"CloudWatchMetrics"'
status=${PIPESTATUS[0]}
set -e
exit "$status"
