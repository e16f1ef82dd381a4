#!/usr/bin/env bash
# Install everything (tools/install.sh and Debian's chromium for the browser tests), then run every test:
# the notebooks (nbdev-test, skipping cells flagged slow) and the integration tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh dev
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/nbdev-test --n-workers 2
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=8 "$@"
