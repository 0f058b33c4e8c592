#!/usr/bin/env bash
# Runs the three functions under cargo-lambda's Lambda runtime emulator against the local AWS
# emulator, and invokes them by hand with a sample event.
#   scripts/lambda-local.sh start            # `cargo lambda watch` on 127.0.0.1:$LAMBDA_PORT
#   scripts/lambda-local.sh invoke NAME FILE # e.g. dms-task-watcher events/dms-task-failed.json
#   scripts/lambda-local.sh stop
# Idempotent: `start` does nothing when the emulator already answers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PORT=${LAMBDA_PORT:-9009}
STATE=.local
PIDFILE=$STATE/lambda-$PORT.pid
LOG=$STATE/lambda-$PORT.log
export PATH="$(scripts/cargo-lambda.sh):$PATH"

answers() { (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; }

case "${1:-}" in
  start)
    if answers; then exit 0; fi
    mkdir -p "$STATE"
    # The functions' environment is scripts/local.env, pointed at the emulator on $MOTO_PORT
    # and the local Athena on $ATHENA_LOCAL_PORT.
    env_file=$STATE/lambda-$PORT.env
    sed -e "s|^AWS_ENDPOINT_URL=.*|AWS_ENDPOINT_URL=http://127.0.0.1:${MOTO_PORT:-5055}|" \
      -e "s|^AWS_ENDPOINT_URL_ATHENA=.*|AWS_ENDPOINT_URL_ATHENA=http://127.0.0.1:${ATHENA_LOCAL_PORT:-5056}|" \
      scripts/local.env >"$env_file"
    # The log lives outside the crates so watching for changes does not trigger rebuilds.
    # --timeout: the invocation deadline the functions see, the compactor's Timeout in
    # template.yaml (the longest of the three).
    nohup cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" \
      --env-file "$env_file" --timeout 900 >"$LOG" 2>&1 &
    echo $! > "$PIDFILE"
    wait_until answers 30 "$PIDFILE" "$LOG" "Lambda emulator on 127.0.0.1:$PORT"
    echo "Lambda emulator on 127.0.0.1:$PORT (log: $LOG)" >&2
    ;;
  invoke)
    name=${2:?function name}; file=${3:?event file}
    "$0" start
    cargo lambda invoke "$name" --invoke-address 127.0.0.1 --invoke-port "$PORT" --data-file "$file"
    echo
    ;;
  stop)
    if [[ -f $PIDFILE ]]; then
      kill -- "-$(ps -o pgid= "$(cat "$PIDFILE")" | tr -d ' ')" 2>/dev/null || kill "$(cat "$PIDFILE")" 2>/dev/null || true
      rm -f "$PIDFILE"
    fi
    ;;
  *)
    echo "usage: $0 start|invoke NAME FILE|stop" >&2
    exit 2
    ;;
esac
