#!/usr/bin/env bash
# Installs, starts, stops or reports Trino, the SQL engine the local Athena (tools/athena-local)
# executes queries on. Athena engine version 3 is built on Trino.
#   scripts/trino.sh install   # once: trino-server-core + the Iceberg and Hive plugins from Maven Central
#   scripts/trino.sh start     # on 127.0.0.1:$TRINO_PORT, catalogs on the local AWS emulator (moto)
#   scripts/trino.sh stop | status
# Idempotent: `install` skips what is in place, `start` does nothing when Trino already answers.
#
# Install: pinned version, SHA-1 checked against the values below (those Maven Central publishes
# beside each file), into $DMSLAKE_CACHE (default ~/.cache/dmslake), outside the clone so a
# fresh clone reuses it. About 800 MB to download. Trino 476 needs a JDK 24 or newer: the first
# one found under /usr/lib/jvm (or $TRINO_JAVA_HOME) is used.
#
# Settings (environment): TRINO_PORT (default 8085), MOTO_PORT (default 5055, the emulator both
# catalogs use), TRINO_HEAP (JVM -Xmx, default 2G; a query may use half of it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
VERSION=476
MAVEN=https://repo.maven.apache.org/maven2/io/trino
# file (under $MAVEN) and its SHA-1 as Maven Central publishes it (<file>.sha1).
CORE=trino-server-core/$VERSION/trino-server-core-$VERSION.tar.gz
CORE_SHA1=6bae2db438f8e6a2a8d9c8b566bb5e5b05870138
ICEBERG=trino-iceberg/$VERSION/trino-iceberg-$VERSION.zip
ICEBERG_SHA1=6a9841be7b21c71110a1efc3a98e5dd833b20a8e
HIVE=trino-hive/$VERSION/trino-hive-$VERSION.zip
HIVE_SHA1=7b2a4b6468ebf92b47cf096d43c4133eea88ae20

CACHE=${DMSLAKE_CACHE:-$HOME/.cache/dmslake}
HOME_DIR=$CACHE/trino-server-$VERSION
PORT=${TRINO_PORT:-8085}
MOTO=${MOTO_PORT:-5055}
HEAP=${TRINO_HEAP:-2G}
STATE=$PWD/.local/trino-$PORT
PIDFILE=$STATE/pid
LOG=$STATE/server.log
URL=http://127.0.0.1:$PORT

# Prints the home of a JDK whose major version is 24 or more.
find_java() {
  local candidates=()
  [[ -n ${TRINO_JAVA_HOME:-} ]] && candidates+=("$TRINO_JAVA_HOME")
  candidates+=(/usr/lib/jvm/*)
  for home in "${candidates[@]}"; do
    [[ -x $home/bin/java ]] || continue
    local v
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= 24)); then
      echo "$home"
      return 0
    fi
  done
  echo "trino: Trino $VERSION needs a JDK 24 or newer; none found under /usr/lib/jvm. Install one (e.g. Temurin 25) or set TRINO_JAVA_HOME to its home." >&2
  return 1
}

# Downloads $1 (a path under $MAVEN) into $CACHE/downloads and checks its SHA-1 against $2.
download() {
  local path=$1 sha1=$2 file
  file=$CACHE/downloads/$(basename "$path")
  mkdir -p "$CACHE/downloads"
  if [[ -f $file ]] && echo "$sha1  $file" | sha1sum -c --quiet - >/dev/null 2>&1; then
    echo "$file"
    return 0
  fi
  echo "trino: downloading $MAVEN/$path" >&2
  curl -fL --retry 3 --retry-delay 5 -sS -o "$file.part" "$MAVEN/$path"
  if ! echo "$sha1  $file.part" | sha1sum -c --quiet - >/dev/null 2>&1; then
    rm -f "$file.part"
    echo "trino: $MAVEN/$path does not have the pinned SHA-1 $sha1; not installed" >&2
    return 1
  fi
  mv "$file.part" "$file"
  echo "$file"
}

install() {
  if [[ -f $HOME_DIR/.installed ]]; then return 0; fi
  mkdir -p "$CACHE"
  # One installer at a time (several clones may share the cache).
  exec 9>"$CACHE/.trino-install.lock"
  flock 9
  if [[ -f $HOME_DIR/.installed ]]; then return 0; fi
  local started=$SECONDS core iceberg hive tmp
  core=$(download "$CORE" "$CORE_SHA1")
  iceberg=$(download "$ICEBERG" "$ICEBERG_SHA1")
  hive=$(download "$HIVE" "$HIVE_SHA1")
  tmp=$(mktemp -d "$CACHE/.trino-unpack.XXXXXX")
  tar -xzf "$core" -C "$tmp"
  local root
  root=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
  for pair in "iceberg:$iceberg" "hive:$hive"; do
    local name=${pair%%:*} zip=${pair#*:} unpacked
    unpacked=$(mktemp -d "$tmp/zip.XXXXXX")
    python3 -m zipfile -e "$zip" "$unpacked"
    # The zip holds one folder (trino-<name>-<version>/) with the plugin's jars.
    local inner
    inner=$(find "$unpacked" -mindepth 1 -maxdepth 1 -type d | head -n1)
    rm -rf "$root/plugin/$name"
    mkdir -p "$root/plugin"
    mv "${inner:-$unpacked}" "$root/plugin/$name"
  done
  rm -rf "$HOME_DIR"
  mv "$root" "$HOME_DIR"
  rm -rf "$tmp"
  touch "$HOME_DIR/.installed"
  echo "trino: Trino $VERSION installed in $HOME_DIR ($((SECONDS - started)) s, $(du -sh "$HOME_DIR" | cut -f1))" >&2
  # The downloads are kept only until the install is in place.
  rm -f "$CACHE/downloads/$(basename "$CORE")" "$CACHE/downloads/$(basename "$ICEBERG")" "$CACHE/downloads/$(basename "$HIVE")"
}

# Answers 0 when the coordinator is up and has finished starting.
ready() { curl -sf "$URL/v1/info" 2>/dev/null | grep -q '"starting":false'; }
answers() { curl -sf -o /dev/null "$URL/v1/info" 2>/dev/null; }

write_config() {
  local etc=$STATE/etc heap_mb query_mb
  case $HEAP in
    *[gG]) heap_mb=$((${HEAP%[gG]} * 1024)) ;;
    *[mM]) heap_mb=${HEAP%[mM]} ;;
    *) echo "trino: TRINO_HEAP=$HEAP is not a size like 2G or 3072M" >&2; return 1 ;;
  esac
  if ((heap_mb < 1536)); then
    echo "trino: TRINO_HEAP=$HEAP is too small; Trino needs at least 1536M here (2G by default)" >&2
    return 1
  fi
  query_mb=$((heap_mb / 2))
  rm -rf "$etc" "$STATE/plugin"
  mkdir -p "$etc/catalog" "$STATE/data" "$STATE/plugin"
  # Only the two connectors the catalogs use: loading every bundled plugin slows the start.
  ln -s "$HOME_DIR/plugin/hive" "$STATE/plugin/hive"
  ln -s "$HOME_DIR/plugin/iceberg" "$STATE/plugin/iceberg"
  cat >"$etc/node.properties" <<EOF
node.environment=dmslake_local
node.id=dmslake-local-$PORT
node.data-dir=$STATE/data
node.internal-address=127.0.0.1
node.bind-ip=127.0.0.1
EOF
  cat >"$etc/config.properties" <<EOF
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$PORT
discovery.uri=$URL
plugin.dir=$STATE/plugin
catalog.config-dir=$etc/catalog
# Half the heap for one query; Trino keeps 30 % of the heap as headroom.
query.max-memory=${query_mb}MB
query.max-memory-per-node=${query_mb}MB
# Small machine: few threads, quick start.
task.concurrency=2
task.max-worker-threads=4
# No HTTP request log (it only grows).
http-server.log.enabled=false
EOF
  cat >"$etc/log.properties" <<EOF
io.trino=INFO
EOF
  # The emulator's endpoint, region and dummy keys, for Glue and S3 alike.
  local aws
  aws=$(
    cat <<EOF
hive.metastore.glue.region=us-east-1
hive.metastore.glue.endpoint-url=http://127.0.0.1:$MOTO
hive.metastore.glue.aws-access-key=testing
hive.metastore.glue.aws-secret-key=testing
hive.metastore.glue.default-warehouse-dir=s3://dmslake-local-lake/warehouse
fs.native-s3.enabled=true
s3.endpoint=http://127.0.0.1:$MOTO
s3.region=us-east-1
s3.path-style-access=true
s3.aws-access-key=testing
s3.aws-secret-key=testing
EOF
  )
  # Athena has one catalog, AwsDataCatalog, holding Iceberg and Hive tables alike. Here it is
  # the Iceberg catalog `awsdatacatalog`, which redirects non-Iceberg tables to the Hive
  # catalog `hive` over the same Glue databases (and the Hive catalog redirects Iceberg tables
  # back). https://trino.io/docs/current/connector/iceberg.html (table redirection)
  cat >"$etc/catalog/awsdatacatalog.properties" <<EOF
connector.name=iceberg
iceberg.catalog.type=glue
iceberg.hive-catalog-name=hive
iceberg.file-format=PARQUET
iceberg.compression-codec=ZSTD
# Athena's VACUUM uses the table's vacuum_max_snapshot_age_seconds (default 5 days); the
# local Athena maps VACUUM to expire_snapshots with that retention, so allow it.
iceberg.expire-snapshots.min-retention=0s
iceberg.remove-orphan-files.min-retention=0s
# Athena's Iceberg maintenance properties, kept in the table properties (CREATE TABLE ...
# TBLPROPERTIES) for VACUUM to read back.
iceberg.allowed-extra-properties=vacuum_max_snapshot_age_seconds,vacuum_min_snapshots_to_keep,vacuum_max_metadata_files_to_keep
$aws
EOF
  cat >"$etc/catalog/hive.properties" <<EOF
connector.name=hive
hive.metastore=glue
hive.iceberg-catalog-name=awsdatacatalog
# Athena reads every file under a table or partition location, subfolders included.
hive.recursive-directories=true
hive.non-managed-table-writes-enabled=true
$aws
EOF
  cat >"$etc/jvm.config" <<EOF
-server
-Xmx$HEAP
-XX:+UseG1GC
-XX:G1HeapRegionSize=32M
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-XX:+EnableDynamicAgentLoading
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-Dfile.encoding=UTF-8
-Duser.timezone=UTC
EOF
}

start() {
  if ready; then return 0; fi
  if answers; then
    wait_ready
    return
  fi
  install
  local java
  java=$(find_java)
  write_config
  echo "trino: starting Trino $VERSION on $URL (heap $HEAP, JDK $java; log: $LOG)" >&2
  local started=$SECONDS
  # Node properties are system properties (as Trino's launcher passes them); the rest is read
  # from config.properties.
  # shellcheck disable=SC2046
  (cd "$STATE/data" && exec nohup "$java/bin/java" $(grep -v '^#' "$STATE/etc/jvm.config") \
    $(sed 's/^/-D/' "$STATE/etc/node.properties") \
    -Dconfig="$STATE/etc/config.properties" \
    -Dlog.levels-file="$STATE/etc/log.properties" \
    -cp "$HOME_DIR/lib/*" io.trino.server.TrinoServer >"$LOG" 2>&1) &
  echo $! >"$PIDFILE"
  wait_ready
  echo "trino: ready on $URL after $((SECONDS - started)) s" >&2
}

# Trino answers /v1/info while it is still loading catalogs; it accepts queries once
# `starting` is false.
wait_ready() {
  wait_until ready 180 "$PIDFILE" "$LOG" "trino: Trino $VERSION on $URL"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_pidfile "$PIDFILE" ;;
  status)
    if ready; then echo "running on $URL"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
