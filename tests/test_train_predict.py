"Training on the tiny sample, export, loading in a fresh process, and `webclassifier predict`"
import json, os, subprocess, sys
from pathlib import Path
import pytest
from servers import SAMPLE

CLI = str(Path(sys.executable).parent/'webclassifier')

def run(*args, env=None, timeout=600):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})

@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    "A model trained by the CLI for 1 epoch at 64 px on the 27 sample photos, from scratch"
    out = tmp_path_factory.mktemp('model')
    res = run('train', SAMPLE, '--arch', 'efficientnet_lite0', '--epochs', 1, '--size', 64, '--recipe', 'finetune', '--no-pretrained', '--bs', 8, '--cv', 0,
              '--out', out/'export.pkl', '--report', out/'report')
    assert res.returncode == 0, res.stderr
    return out

def test_export_has_card_and_report(tiny_model):
    from webclassifier.files import sha256_file
    card = json.loads((tiny_model/'model_card.json').read_text())
    assert card['sha256'] == sha256_file(tiny_model/'export.pkl')
    assert card['classes'] == ['black', 'grizzly', 'teddy'] and card['arch'] == 'efficientnet_lite0' and card['size'] == 64
    assert card['fastai'] == '2.8.12' and card['unsure']['n_train'] > 0
    # the card's accuracy, computed again: the exported model, loaded here, on the validation photos of the card's seed
    from webclassifier.data import image_dataloaders
    from webclassifier.images import read_image
    from webclassifier.predict import Predictor
    valid = image_dataloaders(SAMPLE, size=64, bs=8, seed=card['seed'], log=lambda s: None).valid_ds.items
    answers = Predictor.load(tiny_model/'export.pkl').predict_images([read_image(f) for f in valid])
    right = [a['label'] == Path(f).parent.name for f, a in zip(valid, answers)]
    assert card['metrics']['n_valid'] == len(valid) and abs(card['metrics']['accuracy'] - sum(right) / len(right)) < 1e-3
    assert sorted(p.name for p in (tiny_model/'report').iterdir()) == [
        'class_metrics.csv', 'confusion_matrix.csv', 'confusion_matrix.png', 'history.csv', 'most_confused.csv', 'top_losses.png', 'training_curves.png']

def test_training_curves(tiny_model):
    "--report has the epochs fastai's CSVLogger recorded, and their curves as a PNG"
    import csv
    from PIL import Image
    rows = list(csv.DictReader(open(tiny_model/'report'/'history.csv')))
    assert [r['epoch'] for r in rows] == ['1'] and float(rows[0]['train_loss']) > 0
    card = json.loads((tiny_model/'model_card.json').read_text())  # the last epoch's accuracy, as the training logged it, is the card's
    assert abs(float(rows[-1]['accuracy']) - card['metrics']['accuracy']) < 1e-3
    with Image.open(tiny_model/'report'/'training_curves.png') as im: assert im.format == 'PNG' and im.width > 400

def test_evaluate_reports_unknown_classes_and_broken_files(tiny_model, tmp_path):
    "`evaluate` scores a labelled folder, and says what it left out instead of failing"
    import shutil
    data = tmp_path/'elsewhere'
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns('*.csv'))
    (data/'panda').mkdir(); shutil.copy(SAMPLE/'teddy'/'00000016.jpg', data/'panda'/'p.jpg')
    (data/'black'/'broken.jpg').write_bytes(b'\xff\xd8 half a jpeg')
    res = run('evaluate', data, '--model', tiny_model/'export.pkl', '--json', '--report', tmp_path/'report')
    assert res.returncode == 0, res.stderr
    scores = json.loads(res.stdout)
    assert scores['n'] == 27 and sum(map(sum, scores['confusion'])) == 27
    assert scores['accuracy'] == round(sum(scores['confusion'][i][i] for i in range(3)) / 27, 4) == round(scores['correct'] / 27, 4)
    assert [c['label'] for c in scores['classes']] == ['black', 'grizzly', 'teddy']
    assert f'{data}/panda: 1 image(s) left out: not a class of this model (black, grizzly, teddy)' in res.stderr
    assert f'{data}/black/broken.jpg: ' in res.stderr
    assert sorted(p.name for p in (tmp_path/'report').iterdir()) == ['class_metrics.csv', 'confusion_matrix.csv', 'confusion_matrix.png', 'predictions.csv']
    text = run('evaluate', data, '--model', tiny_model/'export.pkl')
    assert text.returncode == 0 and f'accuracy {scores["accuracy"]:.1%} ({scores["correct"]}/27)' in text.stdout, text.stdout
    missing = run('evaluate', tmp_path/'nowhere', '--model', tiny_model/'export.pkl')
    assert missing.returncode == 1 and missing.stderr.strip().splitlines()[-1] == f'evaluate: {tmp_path/"nowhere"}: no such folder'

def test_runs_log_across_two_trainings(tiny_model, tmp_path):
    "Each `train` adds a row to runs.csv beside its model; `runs` lists them"
    out = tmp_path/'models'
    for epochs in (1, 2):
        res = run('train', SAMPLE, '--arch', 'efficientnet_lite0', '--epochs', epochs, '--size', 64, '--recipe', 'finetune', '--no-pretrained', '--bs', 8, '--cv', 0, '--out', out/'export.pkl')
        assert res.returncode == 0, res.stderr
    listing = run('runs', '--model-dir', out)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 3 and lines[0].split()[:5] == ['time', 'recipe', 'arch', 'size', 'epochs']
    assert [l.split()[1:5:3] for l in lines[1:]] == [['finetune', '1'], ['finetune', '2']]
    card = json.loads((out/'model_card.json').read_text())
    assert lines[2].endswith(f"export.pkl {card['sha256'][:12]}")

def test_load_in_fresh_process(tiny_model):
    "As Voila's kernel does: a new Python that imports nothing of ours before load_learner"
    code = (f"from fastai.learner import load_learner; l = load_learner({str(tiny_model/'export.pkl')!r}); "
            f"print(l.predict({str(SAMPLE/'grizzly'/'00000014.jpg')!r})[0]); print(type(l.unsure).__module__)")
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, cwd='/')
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-2] in ('black', 'grizzly', 'teddy') and res.stdout.split()[-1] == 'webclassifier.unsure'

def test_predict_json(tiny_model, tmp_path):
    good = SAMPLE/'teddy'/'00000016.jpg'
    corrupt = tmp_path/'corrupt.jpg'; corrupt.write_bytes(good.read_bytes()[:3000])
    text = tmp_path/'notes.jpg'; text.write_text('shopping list: honey, salmon')
    res = run('predict', good, corrupt, text, tmp_path/'missing.jpg', '--model', tiny_model/'export.pkl', '--json', '--top-k', 2)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)  # stdout holds the JSON and nothing else
    assert [o['file'] for o in out] == [str(good), str(corrupt), str(text), str(tmp_path/'missing.jpg')]
    assert out[0]['label'] in ('black', 'grizzly', 'teddy') and len(out[0]['top']) == 2 and isinstance(out[0]['sure'], bool)
    from webclassifier.images import read_image
    from webclassifier.predict import Predictor  # the same answer, computed in this process: label, probability, the top 2
    here = Predictor.load(tiny_model/'export.pkl').predict_images([read_image(good)])[0]
    assert out[0]['label'] == here['label'] and abs(out[0]['probability'] - here['probability']) < 1e-5
    assert [c for c, _ in out[0]['top']] == [c for c, _ in here['top'][:2]]
    assert out[1]['error'].startswith(f'{corrupt}: not an image (')
    assert out[2]['error'] == f'{text}: not an image (unrecognised format)'
    assert out[3]['error'] == f'{tmp_path/"missing.jpg"}: No such file or directory'

def test_predict_fails_when_nothing_predicted(tiny_model, tmp_path):
    text = tmp_path/'a.jpg'; text.write_text('no photo')
    res = run('predict', text, '--model', tiny_model/'export.pkl', '--json')
    assert res.returncode != 0 and json.loads(res.stdout)[0]['error'].startswith(f'{text}: not an image')

def test_resnet18_without_weights_says_what_to_do(tmp_path):
    "Offline, resnet18's weights can't be downloaded: one clear line naming the two ways out, no traceback"
    env = dict(TORCH_HOME=str(tmp_path/'torch'), HTTPS_PROXY='http://127.0.0.1:9', HTTP_PROXY='http://127.0.0.1:9', https_proxy='http://127.0.0.1:9')
    res = run('train', SAMPLE, '--arch', 'resnet18', '--epochs', 1, '--size', 64, '--out', tmp_path/'export.pkl', env=env)
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("train: resnet18's ImageNet weights could not be downloaded") and '--arch efficientnet_lite0' in last and '--no-pretrained' in last, res.stderr
    assert 'Traceback' not in res.stderr and not (tmp_path/'export.pkl').exists()

def test_class_means_check_answers_alike_in_both_runtimes(tmp_path):
    "--class-means: the \"not sure\" check compares with one mean per class, the card says so, and the ONNX twin answers as fastai does"
    from webclassifier.answers import predict_named
    from webclassifier.predict import Predictor
    from webclassifier.twin import TwinPredictor
    res = run('train', SAMPLE, '--arch', 'efficientnet_lite0', '--epochs', 1, '--size', 64, '--bs', 8,  # ImageNet weights: a model
              '--class-means', '--cv', 0, '--out', tmp_path/'export.pkl')                                             # from scratch has no features yet
    assert res.returncode == 0, res.stderr
    card = json.loads((tmp_path/'model_card.json').read_text())
    assert card['class_means'] is True and 'nearest class mean' in card['unsure']['method']
    fastai_side = Predictor.load(tmp_path/'export.pkl')
    assert tuple(fastai_side.detector.train_feats.shape)[0] == 3 and fastai_side.detector.k == 1
    named = [(p.name, p.read_bytes()) for p in sorted(SAMPLE.glob('*/*.jpg'))]
    twin = TwinPredictor.load(tmp_path/'export.pkl')
    ours, theirs = predict_named(twin, named), predict_named(fastai_side, named)
    assert [r['label'] for r in ours] == [r['label'] for r in theirs]
    import io, numpy as np
    from PIL import Image
    from webclassifier.answers import SIMILARITY_SLACK
    sims = twin.session.run(None, {'image': twin.batch([Image.open(io.BytesIO(b)) for _, b in named])})[2]
    clear = np.abs(sims - twin.threshold) > SIMILARITY_SLACK  # a calibration photo sits on the threshold itself: either answer is right there
    assert clear.sum() >= len(named) - 2, sims
    assert [r['sure'] for r, c in zip(ours, clear) if c] == [r['sure'] for r, c in zip(theirs, clear) if c]
    assert any(r['sure'] for r in ours) and fastai_side.detector.threshold < 0.999  # real scores, not all alike

def test_probe_export_loads_and_predicts_with_fastai(tmp_path):
    "The default recipe, the linear probe: `load_learner` + `learn.predict` in a fresh process, the same answer as the app's Predictor, features from the cache"
    cache = tmp_path/'cache'
    res = run('train', SAMPLE, '--arch', 'efficientnet_lite0', '--size', 64, '--bs', 8, '--cv', 0, '--out', tmp_path/'export.pkl', env=dict(WEBCLASSIFIER_CACHE=str(cache)))
    assert res.returncode == 0, res.stderr
    card = json.loads((tmp_path/'model_card.json').read_text())
    assert (card['recipe'], card['epochs']) == ('probe', 0) and card['twin']['sha256']
    assert 'features: 22 of 22 photos computed' in res.stderr, res.stderr  # the training photos; then the validation ones
    assert len(list((cache/'features'/'efficientnet_lite0-64px').glob('*.npy'))) == 27  # every photo once: training, validation
    photo = SAMPLE/'teddy'/'00000016.jpg'
    code = (f"from fastai.learner import load_learner; l = load_learner({str(tmp_path/'export.pkl')!r}); "
            f"label, idx, probs = l.predict({str(photo)!r}); print(label, float(probs[idx]))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=dict(os.environ, WEBCLASSIFIER_CACHE=str(cache)))
    assert out.returncode == 0, out.stderr
    label, probability = out.stdout.strip().splitlines()[-1].split()
    from webclassifier.predict import Predictor
    from webclassifier.images import read_image
    ours = Predictor.load(tmp_path/'export.pkl').predict_images([read_image(photo)])[0]
    assert label == ours['label'] == 'teddy'
    assert abs(float(probability) - ours['probability']) < 1e-4
    again = run('train', SAMPLE, '--arch', 'efficientnet_lite0', '--size', 64, '--bs', 8, '--cv', 0, '--out', tmp_path/'again'/'export.pkl', env=dict(WEBCLASSIFIER_CACHE=str(cache)))
    assert 'features: 0 of 22 photos computed' in again.stderr, again.stderr  # the second training computes nothing new
