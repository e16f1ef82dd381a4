#!/usr/bin/env bash
# Install everything (tools/install.sh, Debian's chromium for the browser tests and haproxy for the scaling tests), then run every test:
# the notebooks (nbdev-test, skipping cells flagged slow) and the integration tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh dev
missing=""  # Debian's chromium for the browser tests, haproxy for the scaling tests (tests/test_scale.py)
[ -x /usr/bin/chromium ] || missing="chromium"
command -v haproxy >/dev/null || missing="$missing haproxy"
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
.venv/bin/nbdev-test --n-workers 2
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=8 "$@"
