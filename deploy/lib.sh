# Shared by the deploy scripts: where things live and how to wait for them.
# MINGDENG_RUN_DIR holds one environment's data, logs and pid files (default .run/dev).
set -euo pipefail
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"
RUN_DIR="${MINGDENG_RUN_DIR:-$ROOT_DIR/.run/dev}"
CACHE_DIR="${MINGDENG_CACHE_DIR:-$HOME/.cache/mingdeng}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${PG_PORT:-55432}"
PG_DATABASE="${PG_DATABASE:-mingdeng}"
mkdir -p "$RUN_DIR/logs"

say() { printf '\033[1m[mingdeng]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every half second.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pidfile FILE NAME: TERM, wait up to 30 s, then KILL.
stop_pidfile() {
  local file=$1 name=$2
  if pid_alive "$file"; then
    local pid; pid=$(cat "$file")
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s; killing"; kill -KILL "$pid" || true; fi
  fi
  rm -f "$file"
}
