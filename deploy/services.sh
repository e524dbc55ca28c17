#!/usr/bin/env bash
# services.sh start|stop [name…]: the services (all four by default) as background processes
# with pid and log files.
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

wanted() { [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $1 "* ]]; }

start() {
  for entry in "${services[@]}"; do
    read -r name url <<<"$entry"
    wanted "$name" || continue
    pidfile="$RUN_DIR/$name.pid"
    if pid_alive "$pidfile"; then say "$name already running"; continue; fi
    if has_prestart "$name"; then
      "$bin/mingdeng-$name" prestart >> "$RUN_DIR/logs/$name.log" 2>&1 \
        || die "$name prestart failed (see $RUN_DIR/logs/$name.log)"
    fi
    nohup "$bin/mingdeng-$name" "$(run_command "$name")" >> "$RUN_DIR/logs/$name.log" 2>&1 &
    echo $! > "$pidfile"
  done
  for entry in "${services[@]}"; do
    read -r name url <<<"$entry"
    wanted "$name" || continue
    healthy() { pid_alive "$RUN_DIR/$name.pid" && curl -fsS "$url"; }
    wait_until 60 "$name" healthy || die "$name did not answer $url (see $RUN_DIR/logs/$name.log)"
    say "$name is up ($url)"
  done
}

stop() {
  for (( i=${#services[@]}-1; i>=0; i-- )); do
    read -r name _ <<<"${services[$i]}"
    stop_pidfile "$RUN_DIR/$name.pid" "$name"
  done
}

action="${1:?start or stop}"; shift
only=("$@")
"$action"
