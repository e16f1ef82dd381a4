#!/usr/bin/env bash
# Install everything (tools/install.sh), then serve the app on the shipped export.pkl with Voila.
# Voila reads voila.json from this folder: 127.0.0.1:8866, 100 MB websocket messages, one preheated kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
echo "webclassifier: starting the app at http://127.0.0.1:8866/ (Ctrl-C stops it)"
exec .venv/bin/voila classifier_app.ipynb "$@"
