#!/usr/bin/env bash
# stop.sh [--delete]: stop this run folder's PostgreSQL; --delete also removes its files when
# they live outside the run folder (/var/lib/mingdeng/…, see common.sh).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bin=$(find_bin)
dir=$(pg_dir); data="$dir/data"
if [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] && as_db_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "stopping PostgreSQL"
  as_db_user "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  say "PostgreSQL stopped"
else
  say "PostgreSQL was not running"
fi
if [ "${1:-}" = --delete ] && [ -L "$pg_link" ]; then
  target=$(readlink "$pg_link")
  case $target in "$PG_STATE_ROOT"/*) say "deleting $target"; rm -rf "$target" ;; esac
  rm -f "$pg_link"
fi
