#!/usr/bin/env bash
# Pipeline benchmark (figures, not a test): commits N changes to PostgreSQL, then prints the
# changes per second captured by dms-local, and the seconds from the last commit to the
# registered partition and to the current state (the compactor Lambda's MERGE on the local
# Athena), on the local stack.
#   bench/pipeline.sh [N] [csv|parquet]   (default 2000 csv; DMSLAKE_E2E_SEED fixes the workload)
# Each step runs as soon as the previous one ends (the CDC batch is flushed at once rather than
# after CdcMaxBatchInterval), so the latencies are the pipeline's own work, not DMS's batching.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
FORMAT=${2:-csv}
make --no-print-directory stack-up
scripts/postgres.sh start
cargo run --quiet --locked -p dmslake-tests --example pipeline -- bench --changes "$N" --format "$FORMAT" | grep --line-buffered -v '"CloudWatchMetrics"'
exit "${PIPESTATUS[0]}"
