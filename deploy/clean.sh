#!/usr/bin/env bash
# clean.sh [RUN_DIR…]: stop and delete run folders: those given, or every one in .run/ (make
# clean). Database files kept outside the clone (postgres/common.sh) are deleted with them.
set -euo pipefail
deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runs=("$@")
[ $# -gt 0 ] || runs=("$deploy/../.run"/*/)
for run in "${runs[@]}"; do
  [ -d "$run" ] || continue
  MINGDENG_RUN_DIR="$run" "$deploy/down.sh"
  MINGDENG_RUN_DIR="$run" "$deploy/postgres/stop.sh" --delete
  rm -rf "$run"
done
[ $# -gt 0 ] || rm -rf "$deploy/../.run"
