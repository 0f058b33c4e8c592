#!/usr/bin/env bash
# Starts, stops or reports the local Athena (tools/athena-local): Athena's API on
# 127.0.0.1:$ATHENA_LOCAL_PORT (default 5056), executing on Trino (scripts/trino.sh, port
# $TRINO_PORT) and writing results to the local S3 (moto, port $MOTO_PORT).
# Idempotent: `start` does nothing when it already answers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PORT=${ATHENA_LOCAL_PORT:-5056}
TRINO=${TRINO_PORT:-8085}
MOTO=${MOTO_PORT:-5055}
STATE=.local/athena-local-$PORT
PIDFILE=$STATE/pid
LOG=$STATE/server.log
URL=http://127.0.0.1:$PORT

answers() { curl -sf "$URL/" 2>/dev/null | grep -q athena-local; }

case "${1:-}" in
  start)
    if answers; then exit 0; fi
    scripts/dev-env.sh
    mkdir -p "$STATE"
    PYTHONPATH=tools/athena-local nohup .venv/bin/python -m athena_local --port "$PORT" \
      --trino "http://127.0.0.1:$TRINO" --s3-endpoint "http://127.0.0.1:$MOTO" \
      --state-dir "$STATE" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    wait_until answers 20 "$PIDFILE" "$LOG" "athena-local on $URL"
    echo "athena-local on $URL (Trino on port $TRINO; log: $LOG)" >&2
    ;;
  stop) stop_pidfile "$PIDFILE" ;;
  status)
    if answers; then echo "running on $URL"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
