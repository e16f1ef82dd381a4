#!/usr/bin/env bash
# Install webclassifier and everything it needs into ./.venv (created if missing). Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
# axe-core for the browser tests' accessibility check (package.json, package-lock.json)
if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; else echo 'install.sh: no npm, so no axe-core: tests/test_app_phone.py will fail' >&2; fi
