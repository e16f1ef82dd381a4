"The shipped export.pkl: it loads, matches its model card, scores on its own validation split what the card says, and the app's fast path agrees with learn.predict"
import json
from pathlib import Path
import numpy as np, torch
from PIL import Image
from servers import ROOT, SAMPLE
from test_cleaned_set import needs_shared, rebuild_cleaned
from webclassifier.data import image_dataloaders
from webclassifier.pipeline import dataset_fingerprint
from webclassifier.predict import Predictor, evaluate_folder, predict_named
from webclassifier.files import sha256_file
import fastai

CARD = json.loads((ROOT/'model_card.json').read_text())
predictor = Predictor.load(ROOT/'export.pkl')

def test_card_matches_pickle():
    assert CARD['sha256'] == sha256_file(ROOT/'export.pkl')
    assert CARD['fastai'] == fastai.__version__ and CARD['classes'] == predictor.vocab == ['black', 'grizzly', 'teddy']
    assert CARD['metrics']['accuracy'] >= 0.97
    threshold = predictor.detector.threshold  # calibrated on the cross-validation's out-of-fold similarities
    assert CARD['unsure']['threshold'] == ([round(t, 4) for t in threshold] if isinstance(threshold, list) else round(threshold, 4))
    cv = CARD['cross_validation']
    assert cv['k_folds'] == 5 and cv['n'] == CARD['unsure']['n_calibration'] and cv['accuracy'] >= 0.97

@needs_shared
def test_card_metrics_recomputed_on_its_validation_split(tmp_path):
    "The card's data set rebuilt from ../shared (its fingerprint the card's), split by the card's seed, size and bs: the model scores there what the card says"
    data = tmp_path/Path(CARD['data']).name
    rebuild_cleaned(data)
    assert dataset_fingerprint(data) == CARD['data_sha256']
    valid = tmp_path/'valid'
    for fn in image_dataloaders(data, size=CARD['size'], bs=CARD['bs'], seed=CARD['seed'], log=lambda s: None).valid_ds.items:
        (valid/fn.parent.name).mkdir(parents=True, exist_ok=True); fn.rename(valid/fn.parent.name/fn.name)
    res = evaluate_folder(predictor, valid)  # what `webclassifier evaluate` runs: the app's path, photo by photo
    assert (res['accuracy'], res['n']) == (CARD['metrics']['accuracy'], CARD['metrics']['n_valid'])
    assert res['classes'] == CARD['metrics']['classes'] and res['skipped'] == []

def test_fast_path_equals_learn_predict():
    files = sorted(p for p in SAMPLE.glob('*/*') if p.suffix != '.csv')
    results = predict_named(predictor, [(f.name, f.read_bytes()) for f in files])
    diffs = []
    for f, r in zip(files, results):
        _, _, probs = predictor.learn.predict(f)
        diffs.append(float((torch.tensor([dict(r['top'])[l] for l in predictor.vocab]) - probs).abs().max()))
    assert max(diffs) <= 1e-4, max(diffs)
    # and it is right on the sample (photos of the training set, downsized)
    assert sum(r['label'] == f.parent.name for f, r in zip(files, results)) >= 26

def test_examples_and_not_sure():
    ex = ROOT/'webclassifier'/'examples'
    res = {r['file']: r for r in predict_named(predictor, [(p.name, p.read_bytes()) for p in sorted(ex.glob('*.jpg'))])}
    for label in ['black', 'grizzly', 'teddy']: assert res[f'{label}.jpg']['label'] == label and res[f'{label}.jpg']['sure']
    assert not res['cat.jpg']['sure']
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8))
    assert predictor.predict_images([noise])[0]['sure'] is False
