#!/bin/sh
# The Gradio peer's own venv (benchmarks/.venv-gradio): gradio and webclassifier[serve] (ONNX Runtime, no torch),
# so that gradio's dependencies never touch the project's .venv.  Run from anywhere:  sh benchmarks/gradio_env.sh
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/benchmarks/.venv-gradio"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e "$ROOT[serve]" gradio gradio_client
"$VENV/bin/python" -c "import gradio, gradio_client, onnxruntime, webclassifier.twin; print('gradio', gradio.__version__, '| gradio_client', gradio_client.__version__, '| onnxruntime', onnxruntime.__version__)"
