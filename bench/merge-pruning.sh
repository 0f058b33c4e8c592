#!/usr/bin/env bash
# Merge-pruning benchmark (figures, not a test): bytes a MERGE on the key reads from a
# current-state table, for batches whose keys are spread over the table or clustered among its
# newest rows. Runs on the local Athena (Trino); see bench/merge_pruning.py for its options.
#   bench/merge-pruning.sh [--rows N] [--files N] [--batch N]
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory stack-up
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
exec .venv/bin/python bench/merge_pruning.py --endpoint-url "http://127.0.0.1:${ATHENA_LOCAL_PORT:-5056}" "$@"
