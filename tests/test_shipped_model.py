"The shipped export.pkl: it loads, matches its model card, is the probe fitted on every photo of its data, its card's figures are its cross-validation's, and the app's fast path agrees with learn.predict"
import json, subprocess, sys
from pathlib import Path
import numpy as np, torch
from PIL import Image
from servers import ROOT, SAMPLE
from test_cleaned_set import needs_shared, rebuild_cleaned
from webclassifier.cv import cv_accuracy, predicted
from webclassifier.train import Recipe, class_metrics, confusion_counts, train_classifier
from webclassifier.pipeline import dataset_fingerprint
from webclassifier.predict import Predictor, predict_named
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

def test_card_figures_are_the_out_of_fold_predictions():
    "Fitted on every photo of its data, the shipped probe is judged by the cross-validation: its card's figures are those of the out-of-fold predictions kept in export.cv.json"
    assert CARD['refit'] and CARD['metrics']['on'] == '5-fold out-of-fold' and CARD['split'] == dict(valid=[])  # no photo held out
    folds = json.loads((ROOT/'export.cv.json').read_text())
    assert (folds['data'], folds['vocab'], folds['k']) == (CARD['data'], CARD['classes'], 5)
    right = cv_accuracy(folds)
    assert (right['accuracy'], right['n'], right['wrong']) == (CARD['metrics']['accuracy'], CARD['metrics']['n_valid'], CARD['cross_validation']['wrong'])
    cm = confusion_counts([p['label'] for p in folds['photos']], predicted(folds['photos'], folds['vocab']), folds['vocab'])
    assert class_metrics(cm, folds['vocab']) == CARD['metrics']['classes']
    assert CARD['unsure']['n_train'] == CARD['cross_validation']['n'] == len(folds['photos'])  # the class means: of every photo

@needs_shared
def test_fitted_on_every_photo_of_its_data(tmp_path):
    "The card's data set rebuilt from ../shared (its fingerprint the card's): the shipped probe is the logistic regression on every one of its photos, with its 200 outside photos as a class it dropped, started from ImageNet's three classes"
    data = tmp_path/Path(CARD['data']).name
    rebuild_cleaned(data)
    assert dataset_fingerprint(data) == CARD['data_sha256']
    recipe = Recipe.from_card(CARD)
    assert recipe.outside_class and CARD['outside_learnt'] == 200
    outside = tmp_path/'ood'  # the card's outside folder, data/ood, is made by benchmarks/ood_set.py
    subprocess.run([sys.executable, ROOT/'benchmarks'/'ood_set.py', outside], check=True, capture_output=True)
    again = train_classifier(data, valid=[], outside=outside, log=lambda s: None, progress=False, **recipe.training)  # features from the cache, else computed
    assert len(again.dls.train_ds) == CARD['unsure']['n_train'] and again.train_info['outside_learnt'] == 200
    assert recipe.imagenet_prior and again.train_info['started_from'] == CARD['started_from'] == ['American black bear', 'brown bear', 'teddy']
    shipped, fitted = predictor.learn.model[1][-1], again.model[1][-1]
    torch.testing.assert_close((fitted.weight, fitted.bias), (shipped.weight.float(), shipped.bias.float()), atol=2e-3, rtol=1e-3)

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
