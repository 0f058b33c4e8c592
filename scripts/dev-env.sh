#!/usr/bin/env bash
# Creates the project-local Python environment (.venv) with the tools the tests and the local
# stack use (moto server, cfn-lint, SAM CLI and translator, sqlglot, DuckDB). Idempotent: does
# nothing when .venv already matches scripts/requirements-dev.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=scripts/requirements-dev.txt
STAMP=.venv/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ -x .venv/bin/python && -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
echo "dev-env: installing Python tools into .venv (once)" >&2
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
