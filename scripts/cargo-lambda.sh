#!/usr/bin/env bash
# Installs cargo-lambda (PyPI package, brings its own zig for cross-linking) into .venv when it
# is missing or another version, then prints the directory to put first on PATH.
# Usage: PATH="$(scripts/cargo-lambda.sh):$PATH" cargo lambda build ...
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.9.2
scripts/dev-env.sh >&2
# Cargo runs subcommands as `cargo-lambda lambda ARGS`.
have=$(.venv/bin/cargo-lambda lambda --version 2>/dev/null || true)
if [[ $have != *" $VERSION"* ]]; then
  echo "cargo-lambda: installing cargo-lambda==$VERSION into .venv (once)" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check "cargo-lambda==$VERSION" >&2
fi
echo "$PWD/.venv/bin"
