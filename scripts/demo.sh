#!/usr/bin/env bash
# The local demo, from a fresh clone: sets up the tools and the local stack (moto, PostgreSQL,
# the Lambda emulator), creates a sample database, replicates it with dms-local through the
# partition registrar and the compactor's MERGE (run on DuckDB), prints per table what was
# written, registered and merged and whether the current state equals the source, and ends with
# `tables equal to source: K/N` (exit status 1 unless K = N). The stack keeps running.
#   DMSLAKE_E2E_SEED=n  another workload;  DEMO_LAMBDA=false  skip the Lambda emulator step;
#   DMSLAKE_DEMO_FAULT=drop|duplicate|swap  damage one file on purpose (the demo then fails);
#   DMSLAKE_DEMO_FORMAT=parquet|csv  the files dms-local writes (default parquet);
#   DMSLAKE_DEMO_ADD_COLUMN=true|false  add a column mid-stream (default: on with Parquet).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*"; }

step "tools: Python environment (.venv)"
scripts/dev-env.sh
step "local AWS: moto server and dmslake's local resources"
scripts/moto.sh start
.venv/bin/python scripts/local_resources.py >/dev/null
step "PostgreSQL 17, logical decoding with test_decoding as DMS uses it (127.0.0.1:${PGPORT:-55432})"
scripts/postgres.sh start
step "building the pipeline driver (the first build compiles the workspace)"
cargo build --quiet --locked -p dmslake-tests --example pipeline

lambda_flag=()
if [[ ${DEMO_LAMBDA:-true} == true ]]; then
  # The registrar reads the column list of the header-less CSV files from the manifest the
  # demo uploads (DMSLAKE_CSV_COLUMNS_URI in scripts/local.env).
  step "Lambda emulator (cargo lambda watch; the first start compiles the functions)"
  if scripts/lambda-local.sh start; then
    lambda_flag=(--lambda)
  else
    echo "    Lambda emulator did not start: the demo runs the registrar in-process only" >&2
  fi
fi

step "pipeline: PostgreSQL -> dms-local -> S3 -> partition-registrar -> compactor MERGE on DuckDB"
set +e
# The functions' CloudWatch metric lines (EMF JSON on stdout) are left out of the display.
cargo run --quiet --locked -p dmslake-tests --example pipeline -- demo "${lambda_flag[@]}" | grep --line-buffered -v '"CloudWatchMetrics"'
status=${PIPESTATUS[0]}
set -e
exit "$status"
