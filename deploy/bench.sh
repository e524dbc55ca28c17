#!/usr/bin/env bash
# make bench: the benchmarks against the tests' broker and database; results in bench/results/.
# `deploy/bench.sh city` (make bench-city): the city-sized bench alone.
export MINGDENG_RUN_DIR="${MINGDENG_RUN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.run/test}"
export KAFKA_PORT="${TEST_KAFKA_PORT:-19092}" KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19093}"
export PG_PORT="${TEST_PG_PORT:-15433}" PG_DATABASE=mingdeng_test PG_FSYNC=off
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$DEPLOY_DIR/bootstrap.sh"
"$DEPLOY_DIR/postgres/start.sh"
"$DEPLOY_DIR/kafka/start.sh"
"$DEPLOY_DIR/env.sh" >/dev/null
set -a; source "$RUN_DIR/mingdeng.env"; set +a
cd "$ROOT_DIR"
export PATH="$HOME/.local/bin:$PATH"
if ! command -v wrk >/dev/null; then  # the HTTP load generator of bench/api_bench.py
  [ "$(id -u)" = 0 ] || die "wrk is missing: install the Debian package wrk, or run as root"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ "${1:-}" = city ]; then  # make bench-city: the city-sized bench alone (issue 26)
  exec uv run --frozen python bench/city_bench.py ${CITY_ARGS:-}
fi
uv run --frozen python bench/scoring_bench.py
uv run --frozen python bench/outreach_bench.py
uv run --frozen python bench/api_bench.py
uv run --frozen python bench/crash_trials.py "${CRASH_TRIALS:-100}"
uv run --frozen python bench/scaleout_trials.py "${SCALEOUT_TRIALS:-100}" 2  # partitioned workers (issue 26)
uv run --frozen python bench/scaleout_bench.py --workers 1 && uv run --frozen python bench/scaleout_bench.py --workers 2
uv run --frozen python bench/failover_bench.py 20  # kill -9 of one of two partitioned workers
uv run --frozen python bench/pipeline_bench.py  # every consumer on one burst, every service running
uv run --frozen python bench/notify_bench.py
uv run --frozen python bench/outage_trials.py
uv run --frozen python bench/restart_trials.py
# the city: 200 agencies, 30,000 members, >= 3,000,000 events; 1-2 h on a 2-core machine
uv run --frozen python bench/city_bench.py ${CITY_ARGS:-}
