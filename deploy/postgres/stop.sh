#!/usr/bin/env bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
data="$RUN_DIR/postgres/data"
[ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || exit 0
as_db_user() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if as_db_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "stopping PostgreSQL"
  as_db_user "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  say "PostgreSQL stopped"
else
  say "PostgreSQL was not running"
fi
