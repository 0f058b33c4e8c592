#!/usr/bin/env bash
# Merge-cost benchmark (figures, not a test): for each size, a current-state table of that many
# rows (full load, first merge), then one fixed-size batch of changes merged by the compactor
# Lambda on the local Athena (Trino); prints per MERGE the bytes the engine read from the curated
# table and from the raw table, and Athena's DataScannedInBytes.
#   bench/merge-cost.sh [SIZES] [BATCH]   (default 10000,100000,1000000 and 1000 changes)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-10000,100000,1000000}
BATCH=${2:-1000}
make --no-print-directory stack-up
scripts/postgres.sh start
cargo run --quiet --locked -p dmslake-tests --example pipeline -- merge-cost --sizes "$SIZES" --batch "$BATCH" | grep --line-buffered -v '"CloudWatchMetrics"'
exit "${PIPESTATUS[0]}"
