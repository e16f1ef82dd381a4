#!/usr/bin/env bash
# Install webclassifier into ./.venv (created if missing). Safe to rerun.
#   bash tools/install.sh        what the app and training need: the `train` extra (fastai, torch, Voila, ONNX Runtime)
#   bash tools/install.sh dev    and the tools the tests use: nbdev, pytest, playwright, papermill, JupyterLab, axe-core,
#                                and Ray Serve (the `scale` extra: the model as a service, docs/scaling.md)
#   bash tools/install.sh scale  only the ONNX twin's app and Ray Serve, no torch: a machine of the model service
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-train}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extra]"
if [ "$extra" = dev ]; then  # axe-core for the browser tests' accessibility check (package.json, package-lock.json)
  if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent
  else echo 'install.sh: no npm, so no axe-core: tests/test_app_phone.py will fail' >&2; fi
fi
