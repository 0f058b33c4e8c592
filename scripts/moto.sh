#!/usr/bin/env bash
# Starts, stops or reports the local AWS emulator (moto in server mode) on 127.0.0.1.
# Idempotent: `start` does nothing when it already answers. Port: MOTO_PORT (default 5055).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PORT=${MOTO_PORT:-5055}
STATE=.local
PIDFILE=$STATE/moto-$PORT.pid
LOG=$STATE/moto-$PORT.log
URL=http://127.0.0.1:$PORT

answers() { curl -sf -o /dev/null "$URL/moto-api/data.json"; }

case "${1:-}" in
  start)
    if answers; then exit 0; fi
    scripts/dev-env.sh
    mkdir -p "$STATE"
    # Region and dummy credentials for the emulator; nothing here reaches AWS.
    # scripts/moto_server.py is moto's server with DMS dates sent as the SDKs read them.
    AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
      nohup .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
    echo $! > "$PIDFILE"
    wait_until answers 20 "$PIDFILE" "$LOG" "moto server on $URL"
    echo "moto server on $URL (log: $LOG)" >&2
    ;;
  stop) stop_pidfile "$PIDFILE" ;;
  status)
    if answers; then echo "running on $URL"; else echo "not running"; exit 1; fi
    ;;
  reset)
    curl -sf -X POST "$URL/moto-api/reset" >/dev/null
    ;;
  *)
    echo "usage: $0 start|stop|status|reset" >&2
    exit 2
    ;;
esac
