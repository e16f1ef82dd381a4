"The shipped model's ONNX twin: the same answers as the fastai runtime, no torch in its kernels, and a lean install that serves it"
import json, subprocess, sys
from pathlib import Path
import pytest
from servers import ARTIFACTS, ROOT, SAMPLE, Server, kernels, upload, wait_until
from webclassifier.files import sha256_file
from webclassifier.twin import TwinPredictor, check_twin

PHOTOS = sorted(p for p in SAMPLE.glob('*/*') if p.suffix != '.csv') + sorted((ROOT/'webclassifier'/'examples').glob('*.jpg'))
NO_TORCH = "import sys; loaded = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'fastai', 'torchvision'}); assert not loaded, loaded"

def answers(results): return [(r['file'], r.get('label'), r.get('sure'), r.get('error')) for r in results]

def test_card_vouches_for_the_shipped_twin():
    card = check_twin(ROOT/'export.onnx')
    assert card['twin']['sha256'] == sha256_file(ROOT/'export.onnx') and card['twin']['pickle_sha256'] == sha256_file(ROOT/'export.pkl')

def test_same_answers_as_fastai():
    "Every sample photo and example: the same label and 'sure', probabilities within 1e-4"
    from webclassifier.predict import Predictor
    from webclassifier.answers import predict_named
    named = [(p.name, p.read_bytes()) for p in PHOTOS]
    ours, theirs = predict_named(TwinPredictor.load(ROOT/'export.pkl'), named), predict_named(Predictor.load(ROOT/'export.pkl'), named)
    assert answers(ours) == answers(theirs)
    assert not any(r['sure'] for r in ours if r['file'] == 'cat.jpg')
    diff = max(abs(p - dict(t['top'])[l]) for o, t in zip(ours, theirs) for l, p in o['top'])
    assert diff <= 1e-4, diff

def test_onnx_runtime_imports_no_torch(tmp_path):
    "`predict --runtime onnx` and the app's widget on the twin, each in a fresh process: neither torch nor fastai is imported"
    predict = (f"from webclassifier.cli import main; main(['predict', {str(PHOTOS[0])!r}, '--model', {str(ROOT/'export.pkl')!r}, "
               f"'--runtime', 'onnx', '--json']); " + NO_TORCH)
    res = subprocess.run([sys.executable, '-c', predict], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]['label'] == PHOTOS[0].parent.name
    app = (f"from webclassifier.app import ClassifierApp, classifier_app; from webclassifier.twin import load_predictor; "
           f"w = classifier_app({str(ROOT/'export.pkl')!r}, flags={str(tmp_path/'flags')!r}, runtime='onnx'); "
           f"a = ClassifierApp(load_predictor({str(ROOT/'export.pkl')!r}, 'onnx')); a.pick('teddy.jpg'); "
           f"assert 'teddy' in a.results.children[0].children[1].value; " + NO_TORCH)
    res = subprocess.run([sys.executable, '-c', app], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr

def test_stale_twin_refused_before_serving(tmp_path):
    "A twin the card does not vouch for stops `webclassifier app --runtime onnx` with one line, before anyone visits"
    for name in ['export.pkl', 'export.onnx', 'model_card.json']: (tmp_path/name).write_bytes((ROOT/name).read_bytes())
    with open(tmp_path/'export.pkl', 'ab') as f: f.write(b'retrained')
    res = subprocess.run([Path(sys.executable).parent/'webclassifier', 'app', '--model', tmp_path/'export.pkl', '--runtime', 'onnx', '--port', '1'],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and res.stderr.strip() == f'app: {tmp_path/"export.onnx"}: stale twin: export.pkl has changed since the twin was made ' \
                                                       f'(make it with: webclassifier export-onnx --model {tmp_path/"export.pkl"})', res.stderr

@pytest.fixture(scope='module')
def lean(tmp_path_factory):
    "A fresh virtual environment with `pip install webclassifier[serve]` from this repository: no torch, no fastai"
    venv = tmp_path_factory.mktemp('lean')/'venv'
    subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
    res = subprocess.run([venv/'bin'/'python', '-m', 'pip', 'install', '-q', f'{ROOT}[serve]'], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return venv/'bin'

def test_lean_install_has_no_torch(lean):
    res = subprocess.run([lean/'python', '-c', 'import onnxruntime, voila, webclassifier.app; import torch'], capture_output=True, text=True)
    assert "No module named 'torch'" in res.stderr, res.stderr
    res = subprocess.run([lean/'webclassifier', 'predict', PHOTOS[0], '--model', ROOT/'export.pkl'], capture_output=True, text=True)
    assert res.returncode != 0 and 'the fastai runtime needs torch and fastai' in res.stderr and 'Traceback' not in res.stderr, res.stderr

def test_lean_predict_equals_fastai(lean):
    from webclassifier.predict import Predictor
    from webclassifier.answers import predict_named
    res = subprocess.run([lean/'webclassifier', 'predict', *PHOTOS, '--model', ROOT/'export.pkl', '--runtime', 'onnx', '--json'],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    theirs = predict_named(Predictor.load(ROOT/'export.pkl'), [(str(p), p) for p in PHOTOS])
    assert answers(json.loads(res.stdout)) == answers(theirs)

def test_lean_app_answers_in_the_browser(lean, browser, tmp_path):
    "`webclassifier app --runtime onnx` from the lean install: Chromium uploads a photo and gets its answer"
    server = Server([lean/'webclassifier', 'app', '--model', ROOT/'export.pkl', '--runtime', 'onnx', '--port', '{port}'], cwd=tmp_path,
                    log=ARTIFACTS/'lean-app.log')
    try:
        page = browser.new_page()
        page.goto(server.url, timeout=120_000); page.wait_for_selector('.wc-upload', timeout=120_000)
        photo = SAMPLE/'grizzly'/'00000014.jpg'
        assert 'grizzly' in upload(page, photo, photo.name).locator('.wc-label').inner_text()
        assert 'trained' in page.locator('.wc-model').inner_text()  # the card vouches for the twin: the page names its model
        assert kernels(server) == []  # one process: Solara's virtual kernels, on one model
        page.close()
    finally: server.stop()
