#!/usr/bin/env bash
# Starts, stops or reports a private PostgreSQL 15 cluster for local development and tests:
# data directory .local/pg, 127.0.0.1:$PGPORT (default 55432), unix socket in .local/pg-run,
# wal_level=logical (for `dms-local`, which reads a wal2json slot).
# Idempotent: installs the server and wal2json from the OS packages only when missing,
# initialises the cluster once, and `start` does nothing when the server already answers;
# concurrent `start`s wait for each other (flock).
# Usage: scripts/postgres.sh start|stop|status|psql [psql args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PGPORT:-55432}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
STATE=$PWD/.local
DATA=$STATE/pg
RUN=$STATE/pg-run
LOG=$STATE/pg-$PORT.log

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }

apt_updated=false
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing $*; install it (as root: apt-get install -y $*)" >&2
    exit 1
  fi
  if [[ $apt_updated == false ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_packages() {
  if [[ ! -x $PG_BIN/postgres ]]; then
    apt_install postgresql-15
  fi
  if [[ ! -f $("$PG_BIN/pg_config" --pkglibdir)/wal2json.so ]]; then
    apt_install postgresql-15-wal2json
  fi
}

init_cluster() {
  if [[ -f $DATA/PG_VERSION ]]; then return; fi
  mkdir -p "$DATA" "$RUN"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$DATA" "$RUN"; fi
  chmod 700 "$DATA"
  as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$DATA/postgresql.conf" <<EOF
# dmslake local cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
timezone = 'UTC'
EOF
}

case "${1:-}" in
  start)
    if answers; then exit 0; fi
    # Tests start the server from several processes at once: one at a time from here on.
    mkdir -p "$STATE"
    exec 9>"$STATE/pg-start.lock"
    flock 9
    if answers; then exit 0; fi
    install_packages
    init_cluster
    mkdir -p "$RUN"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$RUN"; touch "$LOG"; chown postgres "$LOG"; fi
    # 9>&-: the server must not inherit (and hold forever) the start lock.
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $PORT" -w -t 60 start >/dev/null 9>&-
    echo "postgresql on 127.0.0.1:$PORT (data: $DATA, log: $LOG)" >&2
    ;;
  stop)
    if [[ -f $DATA/postmaster.pid ]]; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    ;;
  status)
    if answers; then echo "running on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi
    ;;
  psql)
    shift
    exec "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres "$@"
    ;;
  *)
    echo "usage: $0 start|stop|status|psql [args]" >&2
    exit 2
    ;;
esac
