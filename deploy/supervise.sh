#!/usr/bin/env bash
# supervise.sh NAME LOG COMMAND…: run COMMAND; whenever it ends, whatever its exit code, run it
# again after a pause that doubles from 1 s to 30 s (back to 1 s after a minute of running).
# TERM or INT stops the command (TERM, then KILL after 30 s) and this supervisor.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set +e
name=$1 log=$2; shift 2
child="" stopping=0 delay=1
childfile="$RUN_DIR/$name.child.pid"
on_stop() {
  stopping=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap on_stop TERM INT
note() { printf '%s supervisor %s: %s\n' "$(date -Is)" "$name" "$*" >> "$log"; }
while [ $stopping = 0 ]; do
  started=$SECONDS
  "$@" >> "$log" 2>&1 &
  child=$!
  write_pidfile "$childfile" "$child"
  note "started pid $child"
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
  [ $stopping = 1 ] && break
  [ $((SECONDS - started)) -ge 60 ] && delay=1
  note "exited with code $code; starting again in $delay s"
  sleep "$delay" & sleeper=$!
  wait "$sleeper"; kill "$sleeper" 2>/dev/null
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
note "stopped (last exit code ${code:-none})"
