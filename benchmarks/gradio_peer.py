"""The Gradio peer of `webclassifier app`: the same ONNX twin behind a `gradio.Interface` (image in, class probabilities out).

    benchmarks/.venv-gradio/bin/python benchmarks/gradio_peer.py PORT      (venv: sh benchmarks/gradio_env.sh)
"""
import os, sys
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # nothing leaves 127.0.0.1
import gradio as gr
from webclassifier.twin import load_predictor

predictor = load_predictor('export.pkl', 'onnx')  # export.onnx beside export.pkl, run from the repository's root
def classify(img): return {label: float(p) for label, p in predictor.predict_images([img])[0]['top']}
demo = gr.Interface(classify, gr.Image(type='pil'), gr.Label(), analytics_enabled=False, flagging_mode='never')
demo.queue(default_concurrency_limit=2).launch(server_name='127.0.0.1', server_port=int(sys.argv[1]), share=False, show_error=True)
