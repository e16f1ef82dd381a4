"Where the model looked: the class activation map of a probe, checked against the sum it is, in both runtimes and the command line"
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pytest
from servers import ROOT, SAMPLE
from webclassifier.files import sha256_file
from webclassifier.images import read_image
from webclassifier.answers import NO_HEATMAP
from webclassifier.twin import TwinPredictor

PHOTOS = sorted(SAMPLE.glob('*/*.jpg'))[::3] + sorted((ROOT/'webclassifier'/'examples').glob('*.jpg'))
CLI = Path(sys.executable).parent/'webclassifier'
NO_TORCH = "import sys; loaded = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'fastai', 'torchvision'}); assert not loaded, loaded"

@pytest.fixture(scope='module')
def model(tmp_path_factory) -> Path:
    "A copy of the shipped model (a linear probe) with a twin made now, by this code"
    from webclassifier.twin import export_twin
    d = tmp_path_factory.mktemp('shipped')
    for name in ['export.pkl', 'model_card.json']: shutil.copy(ROOT/name, d/name)
    export_twin(d/'export.pkl')
    return d/'export.pkl'

@pytest.fixture(scope='module')
def finetuned(tmp_path_factory) -> Path:
    "A tiny model fine-tuned with fastai's head (no map to draw), and its twin"
    from webclassifier.pipeline import train_and_export
    out = tmp_path_factory.mktemp('finetuned')/'export.pkl'
    train_and_export(SAMPLE, out, recipe='finetune', epochs=1, size=64, pretrained=False, bs=8, cv=0, log=lambda s: None, progress=False)
    return out

@pytest.fixture(scope='module')
def fastai_side(model):
    from webclassifier.predict import Predictor
    return Predictor.load(model)

@pytest.fixture(scope='module')
def images(): return [read_image(p) for p in PHOTOS]

def scaled(cam:np.ndarray) -> np.ndarray:
    "A map minus its minimum, over its new maximum"
    cam = cam - cam.min()
    return cam / cam.max()

def test_map_is_the_class_weights_times_the_feature_map(fastai_side, images):
    "The heat map is sum_k W[c,k] A_k for the predicted class c, computed here by hand in float64 from the body's output"
    import torch
    with torch.inference_mode(): fmap = fastai_side.model[0](fastai_side.batch(images)).double().numpy()
    linear = fastai_side.model[1][-1]
    w, b = linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy()
    pooled = fmap.mean((2, 3))
    logits = pooled / np.linalg.norm(pooled, axis=1, keepdims=True) @ w.T + b  # the probe: pool, normalise, one layer
    top = logits.argmax(1)
    cams = np.einsum('nk,nkhw->nhw', w[top], fmap)
    # the logit is the map's mean over the pooled features' length, plus the bias: the map is what the answer adds up
    np.testing.assert_allclose(cams.mean((1, 2)) / np.linalg.norm(pooled, axis=1), logits[np.arange(len(top)), top] - b[top], rtol=1e-9)
    results = fastai_side.predict_images(images, explain=True)
    probs = np.exp(logits - logits.max(1, keepdims=True)); probs /= probs.sum(1, keepdims=True)
    assert [r['label'] for r in results] == [fastai_side.vocab[c] for c in top]
    assert max(abs(p - probs[i, fastai_side.vocab.index(l)]) for i, r in enumerate(results) for l, p in r['top']) < 1e-5
    got = np.array([r['heatmap'] for r in results])
    assert got.shape == (len(images), 8, 8)  # 256 px, 32 px per place
    np.testing.assert_allclose(got, np.stack([scaled(c) for c in cams]), atol=2e-4)  # 4 decimals, float32

def test_twin_maps_equal_fastai(model, fastai_side, images):
    "The twin's `cam` output gives the maps fastai gives: within 1e-3 (measured: 1e-4, the rounding to 4 decimals)"
    twin = TwinPredictor.load(model)
    assert twin.why_no_heatmap is None and fastai_side.why_no_heatmap is None
    ours, theirs = twin.predict_images(images, explain=True), fastai_side.predict_images(images, explain=True)
    assert [r['label'] for r in ours] == [r['label'] for r in theirs]
    ours, theirs = np.array([r['heatmap'] for r in ours]), np.array([r['heatmap'] for r in theirs])
    assert np.abs(ours - theirs).max() <= 1e-3, np.abs(ours - theirs).max()
    peaks = ours.reshape(len(images), -1).argmax(1)
    assert (theirs.reshape(len(images), -1)[np.arange(len(images)), peaks] >= 1 - 1e-3).all()  # the same peak

def cli(*args, **kwargs): return subprocess.run([CLI, 'predict', *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs)

@pytest.mark.parametrize('runtime', ['fastai', 'onnx'])
def test_cli_explain_json(model, fastai_side, runtime, tmp_path):
    "`webclassifier predict --json --explain`: a map per answer, 8 rows of 8 numbers in [0, 1], the predictor's own"
    (tmp_path/'notes.jpg').write_text('not a photo')
    res = cli(*PHOTOS[:2], tmp_path/'notes.jpg', '--model', model, '--json', '--explain', '--runtime', runtime)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert 'heatmap' not in out[2] and 'error' in out[2]
    predictor = fastai_side if runtime == 'fastai' else TwinPredictor.load(model)
    for r, im in zip(out[:2], PHOTOS):
        m = np.array(r['heatmap'])
        assert m.shape == (8, 8) and m.min() == 0 and m.max() == 1 and ((0 <= m) & (m <= 1)).all()
        mine = predictor.predict_images([read_image(im)], explain=True)[0]
        assert r['label'] == mine['label'] and np.abs(m - np.array(mine['heatmap'])).max() <= 1e-4

def test_cli_explain_says_why_not_in_one_line(model, finetuned):
    res = cli(PHOTOS[0], '--model', model, '--explain')
    assert res.returncode != 0 and res.stderr == "predict: --explain adds each photo's heat map to the JSON: add --json\n", res.stderr
    for runtime in ['fastai', 'onnx']:  # fastai's head: its twin says so
        res = cli(PHOTOS[0], '--model', finetuned, '--json', '--explain', '--runtime', runtime)
        # the last line of stderr: fastai's loading warns first
        assert res.returncode != 0 and res.stderr.splitlines()[-1] == f'predict: {NO_HEATMAP}' and not res.stdout, res.stderr

def test_onnx_maps_and_overlay_import_no_torch(model):
    "The lean runtime's map and overlay: `predict --runtime onnx --explain` and `heatmap_overlay` in a fresh process, no torch"
    code = (f"import io, contextlib, json; from webclassifier.cli import main; from webclassifier.answers import heatmap_overlay; "
            f"from webclassifier.twin import TwinPredictor; from webclassifier.images import read_image\n"
            f"with contextlib.redirect_stdout(io.StringIO()) as out: main(['predict', {str(PHOTOS[0])!r}, '--model', {str(model)!r}, "
            f"'--runtime', 'onnx', '--json', '--explain'])\n"
            f"steps = TwinPredictor.load({str(model)!r}).steps\n"
            f"assert heatmap_overlay(read_image({str(PHOTOS[0])!r}), json.loads(out.getvalue())[0]['heatmap'], steps).size == (256, 256)\n"
            + NO_TORCH)
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr

def old_twin(model:Path, dest:Path) -> Path:
    "A copy of `model`'s twin as twins were before maps: no `cam` output, the metadata's outputs three (the card vouching for it)"
    import onnx
    dest.mkdir()
    for name in ['export.pkl', 'model_card.json']: shutil.copy(model.with_name(name), dest/name)
    proto = onnx.load(model.with_suffix('.onnx'))
    assert proto.graph.output[-1].name == 'cam'
    proto.graph.output.pop()
    meta = json.loads(proto.metadata_props[0].value)
    meta['outputs'] = ['logits', 'features', 'similarity']
    proto.metadata_props[0].value = json.dumps(meta)
    onnx.save(proto, dest/'export.onnx')
    card = json.loads((dest/'model_card.json').read_text())
    card['twin'].update(sha256=sha256_file(dest/'export.onnx'), bytes=(dest/'export.onnx').stat().st_size)
    (dest/'model_card.json').write_text(json.dumps(card))
    return dest/'export.pkl'

def test_old_twin_loads_and_answers_without_a_map(model, finetuned, images, tmp_path):
    old, new = TwinPredictor.load(old_twin(model, tmp_path/'old')), TwinPredictor.load(model)
    assert [o.name for o in old.session.get_outputs()] == ['logits', 'features', 'similarity']
    assert old.predict_images(images) == new.predict_images(images)  # the same answers, none with a map
    why = f'no heat map from export.onnx: it was made before twins drew them (remake it with: webclassifier export-onnx --model {tmp_path/"old"/"export.pkl"})'
    assert old.why_no_heatmap == why
    with pytest.raises(ValueError, match='made before twins drew them'): old.predict_images(images, explain=True)
    res = cli(PHOTOS[0], '--model', tmp_path/'old'/'export.pkl', '--json', '--explain', '--runtime', 'onnx')
    assert res.returncode != 0 and res.stderr == f'predict: {why}\n', res.stderr
    assert TwinPredictor.load(finetuned).why_no_heatmap == NO_HEATMAP  # a twin of fastai's head: no map to remake
