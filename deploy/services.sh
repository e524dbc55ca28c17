#!/usr/bin/env bash
# services.sh start|stop|status [name…]: the services (all four by default), each under a
# supervisor (deploy/supervise.sh) that starts it again whenever it ends. Pid files:
# $RUN_DIR/NAME.pid (the supervisor), $RUN_DIR/NAME.child.pid (the service); logs in logs/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -a; source "$RUN_DIR/mingdeng.env"; set +a
bin="$ROOT_DIR/.venv/bin"
# name, health URL; the order is the start order.
services=(
  "gateway http://127.0.0.1:$MINGDENG_GATEWAY_PORT/healthz"
  "scoring http://127.0.0.1:$MINGDENG_SCORING_WEB_PORT/healthz"
  "notify http://127.0.0.1:$MINGDENG_NOTIFY_HEALTH_PORT/healthz"
  "outreach http://127.0.0.1:$MINGDENG_OUTREACH_HEALTH_PORT/healthz"
)
run_command() { case $1 in gateway) echo serve;; *) echo run;; esac; }
has_prestart() { [ "$1" != scoring ]; }

# how many times the supervisor saw NAME end, so far
exits_in_log() { local n; n=$(grep -c "supervisor $1: exited" "$RUN_DIR/logs/$1.log" 2>/dev/null); echo "${n:-0}"; }
declare -A exits

wanted() { [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $1 "* ]]; }

start() {
  for entry in "${services[@]}"; do
    read -r name url <<<"$entry"
    wanted "$name" || continue
    pidfile="$RUN_DIR/$name.pid"
    if pid_alive "$pidfile"; then say "$name already running"; continue; fi
    stop_leftover "$name"
    if has_prestart "$name"; then
      "$bin/mingdeng-$name" prestart >> "$RUN_DIR/logs/$name.log" 2>&1 \
        || die "$name prestart failed (see $RUN_DIR/logs/$name.log)"
    fi
    exits["$name"]=$(exits_in_log "$name")
    SUPERVISE_HEALTH_URL="$url" nohup "$DEPLOY_DIR/supervise.sh" "$name" "$RUN_DIR/logs/$name.log" \
      "$bin/mingdeng-$name" "$(run_command "$name")" >/dev/null 2>&1 &
    write_pidfile "$pidfile" $!
  done
  for entry in "${services[@]}"; do
    read -r name url <<<"$entry"
    wanted "$name" || continue
    healthy() { curl -fsS "$url"; }
    # an exit before it answered is a failed start: said at once, not after the minute
    running() { pid_alive "$RUN_DIR/$name.pid" && [ "$(exits_in_log "$name")" = "${exits[$name]}" ]; }
    wait_started 60 running healthy || case $? in
      2) tail -n 15 "$RUN_DIR/logs/$name.log" >&2; die "$name exited during its start (the log's end is above)";;
      *) die "$name did not answer $url in 60 s (see $RUN_DIR/logs/$name.log)";;
    esac
    say "$name is up ($url), supervised"
  done
}

# A service whose supervisor is gone (killed) is stopped too: nothing started is left behind.
stop_leftover() {
  if pid_alive "$RUN_DIR/$1.child.pid"; then
    stop_pidfile "$RUN_DIR/$1.child.pid" "$1 (left without its supervisor)"
  fi
  rm -f "$RUN_DIR/$1.child.pid"
}

stop() {
  for (( i=${#services[@]}-1; i>=0; i-- )); do
    read -r name _ <<<"${services[$i]}"
    wanted "$name" || continue
    if [ -f "$RUN_DIR/$name.pid" ]; then
      stop_pidfile "$RUN_DIR/$name.pid" "$name"
    else
      say "$name was not running"
    fi
    stop_leftover "$name"
  done
}

status() {
  for entry in "${services[@]}"; do
    read -r name url <<<"$entry"
    wanted "$name" || continue
    if pid_alive "$RUN_DIR/$name.pid"; then
      child=$(pid_alive "$RUN_DIR/$name.child.pid" && pid_of "$RUN_DIR/$name.child.pid" || echo "restarting")
      echo "$name: supervised (supervisor $(pid_of "$RUN_DIR/$name.pid"), service $child)"
    else
      echo "$name: stopped"
    fi
  done
}

action="${1:?start, stop or status}"; shift
only=("$@")
"$action"
