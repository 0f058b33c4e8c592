#!/usr/bin/env bash
# Prints scripts/local.env (the functions' environment on the local stack) with the local
# endpoints on this stack's ports: AWS_ENDPOINT_URL on MOTO_PORT (default 5055) and
# AWS_ENDPOINT_URL_ATHENA on ATHENA_LOCAL_PORT (default: the port local.env names). With the
# defaults the output is local.env itself.
set -euo pipefail
cd "$(dirname "$0")/.."
awk -v moto="${MOTO_PORT:-}" -v athena="${ATHENA_LOCAL_PORT:-}" '
  function port(line, p) { sub(/:[0-9]+$/, ":" p, line); return line }
  /^AWS_ENDPOINT_URL=/ && moto != "" { print port($0, moto); next }
  /^AWS_ENDPOINT_URL_ATHENA=/ && athena != "" { print port($0, athena); next }
  { print }
' scripts/local.env
