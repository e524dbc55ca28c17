# Shared by the deploy scripts: where things live and how to wait for them.
# MINGDENG_RUN_DIR holds one environment's data, logs and pid files (default .run/dev).
set -euo pipefail
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"
RUN_DIR="${MINGDENG_RUN_DIR:-$ROOT_DIR/.run/dev}"
CACHE_DIR="${MINGDENG_CACHE_DIR:-$HOME/.cache/mingdeng}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
PG_PORT="${PG_PORT:-15432}"
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

# wait_started SECONDS ALIVE READY: poll READY (a command) every half second while ALIVE (a
# command: the process started is still there) holds. 0 when ready; 2 at once when ALIVE
# fails (the process is gone: no point waiting out the limit); 1 at the limit.
wait_started() {
  local limit=$1 alive=$2 ready=$3
  local deadline=$((SECONDS + limit))
  until $ready >/dev/null 2>&1; do
    $alive >/dev/null 2>&1 || return 2
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

# restart_delay LAST_DELAY RAN_S HEALTHY: seconds before a supervisor starts its service again.
# A run that answered its health check and lasted HEALTHY_RUN_S (10 s), or lasted LONG_RUN_S
# (60 s), was in service: its crash is met by a restart after 1 s. A run that ended sooner is a
# crash loop (a bug at start, a dependency missing): the pause doubles, up to 30 s.
HEALTHY_RUN_S="${HEALTHY_RUN_S:-10}" LONG_RUN_S="${LONG_RUN_S:-60}"
restart_delay() {
  local last=$1 ran=$2 healthy=$3
  if { [ "$healthy" = 1 ] && [ "$ran" -ge "$HEALTHY_RUN_S" ]; } || [ "$ran" -ge "$LONG_RUN_S" ]; then
    echo 1
  else
    local doubled=$((last * 2))
    echo $((doubled < 1 ? 1 : doubled > 30 ? 30 : doubled))
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Pid files hold "PID STARTTIME" (STARTTIME from /proc/PID/stat), so that a pid the kernel
# gave to another process since is not taken for ours.
proc_fields() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null; }  # state … after "(comm) "
proc_start() { local f; f=$(proc_fields "$1") || return 1; set -- $f; echo "${20}"; }
write_pidfile() { echo "$2 $(proc_start "$2")" > "$1"; }
pid_of() { local pid _; [ -f "$1" ] && read -r pid _ < "$1" && echo "$pid"; }

# pid_alive FILE: the process of FILE runs; a zombie (ended, not reaped) or a recycled pid does not.
pid_alive() {
  local pid start fields
  [ -f "$1" ] && read -r pid start < "$1" && [ -n "$pid" ] || return 1
  fields=$(proc_fields "$pid") && [ -n "$fields" ] || return 1
  set -- $fields
  case $1 in Z|X|x) return 1;; esac
  [ -z "$start" ] || [ "$start" = "${20}" ]
}

# stop_pidfile FILE NAME: TERM, wait up to 30 s, then KILL; says what it did.
stop_pidfile() {
  local file=$1 name=$2
  if pid_alive "$file"; then
    local pid; pid=$(pid_of "$file")
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do pid_alive "$file" || break; sleep 0.5; done
    if pid_alive "$file"; then say "$name did not stop in 30 s; killing"; kill -KILL "$pid" || true; fi
    say "$name stopped"
  elif [ -f "$file" ]; then
    say "$name was not running"
  fi
  rm -f "$file"
}
