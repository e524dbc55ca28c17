#!/usr/bin/env bash
# Start a PostgreSQL server of our own on 127.0.0.1:$PG_PORT (Debian's package, installed if
# absent) and create the database. Local trust authentication: for development and tests only.
# As root the files live outside the clone, under /var/lib/mingdeng/ (see common.sh).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bin=$(find_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  say "installing PostgreSQL (Debian package)"
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run as root or apt-get install postgresql"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin=$(find_bin)
fi
dir=$(pg_make_dir); data="$dir/data"
if as_db_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "PostgreSQL already running on $PG_PORT"
else
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another process"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_db_user "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT (files in $dir)"
  as_db_user "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-on} -c max_connections=200" start >/dev/null
  ln -sfn "$dir/postgres.log" "$RUN_DIR/logs/postgres.log"
fi
psql_() { "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
running() { as_db_user "$bin/pg_ctl" -D "$data" status; }
answers() { psql_ -d postgres -c "SELECT 1"; }
wait_started 30 running answers || case $? in
  2) die "PostgreSQL exited during its start (see $dir/postgres.log)";;
  *) die "PostgreSQL does not answer";;
esac
for db in $PG_DATABASE; do
  [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ] \
    || psql_ -d postgres -c "CREATE DATABASE \"$db\""
done
say "PostgreSQL is up (database $PG_DATABASE)"
