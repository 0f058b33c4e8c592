#!/usr/bin/env bash
# The local demo: classify the real DMS sample files the way the functions will see them.
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES=${DMSLAKE_SAMPLES_DIR:-../shared/dms-samples}
cargo build --quiet --locked -p dmslake-cli
find "$SAMPLES" -type f \( -name '*.csv' -o -name '*.parquet' \) | sort | while read -r f; do
  echo "$f"
done
