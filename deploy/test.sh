#!/usr/bin/env bash
# make test: a Kafka broker and PostgreSQL of the tests' own (ports apart from `make up`'s),
# then the unit, integration and end-to-end suites. Under CI=true a missing service fails.
export MINGDENG_RUN_DIR="${MINGDENG_RUN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.run/test}"
export KAFKA_PORT="${TEST_KAFKA_PORT:-19092}" KAFKA_CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-19093}"
export PG_PORT="${TEST_PG_PORT:-15433}" PG_DATABASE=mingdeng_test PG_FSYNC=off
export GATEWAY_PORT="${GATEWAY_PORT:-18000}" SCORING_PORT="${SCORING_PORT:-18101}" NOTIFY_PORT="${NOTIFY_PORT:-18102}" OUTREACH_PORT="${OUTREACH_PORT:-18103}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$DEPLOY_DIR/bootstrap.sh"
# the browser tests of the dashboard drive Debian's chromium, with CJK fonts for readable
# screenshots (tests/e2e/test_dashboard_browser.py), and poppler-utils to read the documents
# they print (tests/e2e/test_demo.py); for tests only
browser_packages=()
command -v chromium >/dev/null || browser_packages+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || browser_packages+=(fonts-noto-cjk)
command -v pdftotext >/dev/null || browser_packages+=(poppler-utils)  # the printed documents' text
if [ ${#browser_packages[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  say "installing ${browser_packages[*]} for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_packages[@]}" >/dev/null
fi
export PATH="$HOME/.local/bin:$PATH"
if [ "${CI:-}" = true ]; then trap '"$DEPLOY_DIR/down.sh"' EXIT; fi
"$DEPLOY_DIR/postgres/start.sh"
"$DEPLOY_DIR/kafka/start.sh"
"$DEPLOY_DIR/env.sh" >/dev/null
set -a; source "$RUN_DIR/mingdeng.env"; set +a
export MINGDENG_TEST_RUN_DIR="$RUN_DIR"
cd "$ROOT_DIR"
uv run --frozen mingdeng topics
# arguments name what to run (`deploy/test.sh tests/unit -x`); by default everything: the unit
# and integration tests (on the shared test database: one at a time), the end-to-end tests two
# at a time (each has its own database, topics and ports, and mostly waits for its services:
# 50 of them took 10.6 minutes so on 2 cores, about 14 one at a time) beside scoring's crash
# trials (topics of their own, no database; they mostly wait out kills and sessions: 9 minutes
# of the 25 the suite took one phase after the other), and the fault trials last and alone
# (they stop and start this broker and database)
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  exec uv run --frozen pytest --durations=30 "$@"
fi
trials=(tests/integration/scoring/test_scaleout.py tests/integration/scoring/test_crash_trials.py)
failed=0
uv run --frozen pytest --durations=20 tests/unit tests/integration "${trials[@]/#/--ignore=}" "$@" \
  || failed=1
uv run --frozen pytest --durations=10 -p no:cacheprovider "${trials[@]}" "$@" \
  > "$RUN_DIR/logs/crash-trials.log" 2>&1 &
trials_pid=$!
uv run --frozen pytest --durations=20 -n 2 --dist loadfile tests/e2e "$@" || failed=1
echo "--- scoring's crash trials, run beside the end-to-end tests"
if wait "$trials_pid"; then
  tail -n 15 "$RUN_DIR/logs/crash-trials.log"
else
  failed=1
  cat "$RUN_DIR/logs/crash-trials.log"
fi
uv run --frozen pytest --durations=10 tests/faults "$@" || failed=1
exit $failed
