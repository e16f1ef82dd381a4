#!/usr/bin/env bash
# Install what the app needs (tools/install.sh: the train extra), then serve the app on the shipped export.pkl: `webclassifier app`
# (Voila at http://127.0.0.1:8866/, kernels of closed pages given back, a visitor limit, one preheated kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
exec .venv/bin/webclassifier app --model export.pkl "$@"
