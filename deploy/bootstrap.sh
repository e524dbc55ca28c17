#!/usr/bin/env bash
# Install the tools the project needs on a fresh Debian machine, then the Python environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them or run as root"
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v uv >/dev/null; then
  say "installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi
export PATH="$HOME/.local/bin:$PATH"
cd "$ROOT_DIR" && uv sync --frozen --quiet
