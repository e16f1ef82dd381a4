#!/usr/bin/env bash
# Install what the app needs (tools/install.sh: the train extra), then serve the app on the shipped export.pkl: `webclassifier app`
# (http://127.0.0.1:8866/: every page and the JSON API POST /api/predict on one model, served by Solara; --server voila: a kernel per page).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
exec .venv/bin/webclassifier app --model export.pkl "$@"
