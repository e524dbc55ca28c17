#!/usr/bin/env bash
# Start a PostgreSQL server of our own on 127.0.0.1:$PG_PORT (Debian's package, installed if
# absent) and create the database. Local trust authentication: for development and tests only.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(find_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  say "installing PostgreSQL (Debian package)"
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run as root or apt-get install postgresql"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin=$(find_bin)
fi
dir="$RUN_DIR/postgres"; data="$dir/data"
as_db_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir" && chmod o+x "$RUN_DIR"
if as_db_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "PostgreSQL already running on $PG_PORT"
else
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another process"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_db_user "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_db_user "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-on} -c max_connections=200" start >/dev/null
  ln -sf "$dir/postgres.log" "$RUN_DIR/logs/postgres.log"
fi
psql_() { "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
wait_until 30 PostgreSQL psql_ -d postgres -c "SELECT 1" || die "PostgreSQL does not answer"
for db in $PG_DATABASE; do
  [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] \
    || psql_ -d postgres -c "CREATE DATABASE \"$db\""
done
say "PostgreSQL is up (database $PG_DATABASE)"
