#!/usr/bin/env bash
# Install the tools the project needs on a fresh Debian machine, then the Python environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
command -v node >/dev/null || missing+=(nodejs)  # package.json: front-end assets, contract checkers
command -v npm >/dev/null || missing+=(npm)
if ! command -v uv >/dev/null && [ ! -x "$HOME/.local/bin/uv" ]; then
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)  # uv is installed with pip
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them or run as root"
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null; then
  say "installing uv"
  # Debian's own python3 refuses pip installs (PEP 668, "externally managed"); a --user install
  # goes to ~/.local and leaves the system's packages alone, which is what the flag allows
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv 2>/dev/null \
    || python3 -m pip install --quiet uv \
    || die "could not install uv with pip; install uv (docs.astral.sh/uv) and run this again"
fi
cd "$ROOT_DIR" && uv sync --frozen --quiet
# package.json, exactly as package-lock.json pins it: ECharts and Swagger UI, which the gateway
# serves from node_modules (nothing from a CDN), and the contract checkers (@asyncapi/cli,
# spectral) the tests run. Install scripts are not run (swagger-ui-dist's only one reports to a
# third-party host; the checkers need none). Installed again only when the lock file changed.
# Without npm's registry the platform still starts (no charts, no /docs); under CI=true it stops.
lock_stamp=node_modules/.mingdeng-package-lock.sha256
if ! sha256sum --status -c "$lock_stamp" 2>/dev/null; then
  say "installing the front-end assets and contract checkers (npm ci)"
  if npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null; then
    sha256sum package-lock.json > "$lock_stamp"
  elif [ "${CI:-}" = true ]; then
    die "npm ci failed: the front-end assets and contract checkers are missing"
  else
    say "warning: npm ci failed; pages have no charts, /docs is blank, and the tests that run asyncapi and spectral are skipped"
  fi
fi
