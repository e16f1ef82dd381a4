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
    res = run('train', SAMPLE, '--arch', 'efficientnet_lite0', '--epochs', 1, '--size', 64, '--no-pretrained', '--bs', 8,
              '--out', out/'export.pkl', '--report', out/'report')
    assert res.returncode == 0, res.stderr
    return out

def test_export_has_card_and_report(tiny_model):
    from webclassifier.download import sha256_file
    card = json.loads((tiny_model/'model_card.json').read_text())
    assert card['sha256'] == sha256_file(tiny_model/'export.pkl')
    assert card['classes'] == ['black', 'grizzly', 'teddy'] and card['arch'] == 'efficientnet_lite0' and card['size'] == 64
    assert card['fastai'] == '2.8.12' and card['unsure']['n_train'] > 0 and 0 <= card['metrics']['accuracy'] <= 1
    assert sorted(p.name for p in (tiny_model/'report').iterdir()) == [
        'class_metrics.csv', 'confusion_matrix.csv', 'confusion_matrix.png', 'most_confused.csv', 'top_losses.png']

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
    assert abs(out[0]['probability'] - out[0]['top'][0][1]) < 1e-9
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
    res = run('train', SAMPLE, '--epochs', 1, '--size', 64, '--out', tmp_path/'export.pkl', env=env)
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("train: resnet18's ImageNet weights could not be downloaded") and '--arch efficientnet_lite0' in last and '--no-pretrained' in last, res.stderr
    assert 'Traceback' not in res.stderr and not (tmp_path/'export.pkl').exists()
