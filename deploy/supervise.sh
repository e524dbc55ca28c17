#!/usr/bin/env bash
# supervise.sh NAME LOG COMMAND…: run COMMAND; whenever it ends, whatever its exit code, run it
# again: after 1 s if the run was in service (it answered SUPERVISE_HEALTH_URL, when set, and
# lasted 10 s; or it lasted a minute), else after a pause that doubles up to 30 s (a crash
# loop); see restart_delay in lib.sh.
# TERM or INT stops the command (TERM, then KILL after 30 s) and this supervisor.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set +e
name=$1 log=$2; shift 2
child="" watcher="" stopping=0 delay=0
childfile="$RUN_DIR/$name.child.pid"
healthyfile="$RUN_DIR/$name.healthy"
on_stop() {
  stopping=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap on_stop TERM INT
note() { printf '%s supervisor %s: %s\n' "$(date -Is)" "$name" "$*" >> "$log"; }
# marks the run healthy once the service answers its health URL
watch_health() {
  rm -f "$healthyfile"
  [ -n "${SUPERVISE_HEALTH_URL:-}" ] || return 0
  (
    trap - TERM INT
    until curl -fsS -m 2 "$SUPERVISE_HEALTH_URL" >/dev/null 2>&1; do sleep 0.5; done
    touch "$healthyfile"
  ) &
  watcher=$!
}
while [ $stopping = 0 ]; do
  started=$SECONDS
  "$@" >> "$log" 2>&1 &
  child=$!
  write_pidfile "$childfile" "$child"
  note "started pid $child"
  watch_health
  code=0
  # `wait` returns early when a trapped signal arrives: wait until the child has really ended
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"; code=$?
    if [ $stopping = 1 ] && kill -0 "$child" 2>/dev/null; then
      for _ in $(seq 60); do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$child" 2>/dev/null
    fi
  done
  rm -f "$childfile"
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null; watcher=""; fi
  healthy=0; [ -f "$healthyfile" ] && healthy=1
  rm -f "$healthyfile"
  [ $stopping = 1 ] && break
  ran=$((SECONDS - started))
  delay=$(restart_delay "$delay" "$ran" "$healthy")
  note "exited with code $code after $ran s ($([ $healthy = 1 ] && echo healthy || echo "not seen healthy")); starting again in $delay s"
  sleep "$delay" & sleeper=$!
  wait "$sleeper"; kill "$sleeper" 2>/dev/null
done
note "stopped (last exit code ${code:-none})"
