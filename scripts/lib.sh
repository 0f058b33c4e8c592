# Helpers the service scripts share; sourced (`. scripts/lib.sh`), never run.
# shellcheck shell=bash

# wait_until CHECK SECONDS PIDFILE LOG WHAT
# Polls CHECK (a function or command) until it succeeds. Fails, naming WHAT and showing the
# last lines of LOG, when SECONDS pass or the process whose id PIDFILE holds has exited.
wait_until() {
  local check=$1 seconds=$2 pidfile=$3 log=$4 what=$5
  local deadline=$((SECONDS + seconds))
  while ((SECONDS <= deadline)); do
    if "$check"; then return 0; fi
    if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "$what exited while starting; last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  echo "$what did not answer within $seconds s; see $log" >&2
  return 1
}

# stop_pidfile PIDFILE
# Stops the process whose id PIDFILE holds, waits up to 30 s for it to exit, removes PIDFILE.
stop_pidfile() {
  local pidfile=$1 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  rm -f "$pidfile"
}
