# Shared by postgres/start.sh and stop.sh: the binaries, the user the server runs as, and where
# this run folder's database files live.
#
# As root, the server runs as the `postgres` user, who may not be able to reach the run folder
# (a clone in root's home, mode 0700). Rather than open any of the user's folders, the files
# (data, server log, unix socket) then live in $PG_STATE_ROOT/<hash of the run folder>/, owned
# by postgres, and $RUN_DIR/postgres is a symlink to there; stop.sh and clean.sh follow it. Not
# as root, the server runs as the current user, in $RUN_DIR/postgres itself.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
PG_STATE_ROOT=/var/lib/mingdeng
pg_link="$RUN_DIR/postgres"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# From `/`: postgres may not be allowed to enter the current directory either.
as_db_user() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The folder of this run's PostgreSQL files, symlinks resolved (it may not exist).
pg_dir() { readlink -f "$pg_link" || echo "$pg_link"; }

# Create that folder, reachable by the user the server runs as; print it.
pg_make_dir() {
  if [ "$(id -u)" != 0 ]; then mkdir -p "$pg_link"; pg_dir; return; fi
  if [ -d "$pg_link" ] && [ ! -L "$pg_link" ] && [ -f "$pg_link/data/PG_VERSION" ]; then
    # a database made inside the run folder by an earlier version of this script: keep it there
    chown postgres: "$pg_link"; pg_dir; return
  fi
  local target
  if [ -L "$pg_link" ]; then
    target=$(readlink "$pg_link")  # kept when the clone moves, so its database moves with it
  else
    target="$PG_STATE_ROOT/$(cd "$RUN_DIR" && pwd -P | tr -d '\n' | sha256sum | cut -c1-16)"
    # Without the link, what is there belongs to a deleted run folder of the same path (or a
    # failed earlier attempt here): it is not this folder's database, so it goes.
    if [ -f "$target/data/PG_VERSION" ]; then
      as_db_user "$(find_bin)/pg_ctl" -D "$target/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$target" "$pg_link"
    ln -s "$target" "$pg_link"
  fi
  install -d -m 0755 "$PG_STATE_ROOT"
  install -d -m 0700 -o postgres -g postgres "$target"
  (cd "$RUN_DIR" && pwd -P) > "$target/run-dir"  # whose files these are, for a reader of /var/lib
  echo "$target"
}
