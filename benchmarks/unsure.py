"""How well the shipped model's "not sure" check works: in-class photos kept, out-of-class photos flagged.

    .venv/bin/python benchmarks/unsure.py

In-class: the validation photos of the shipped model's own split of the data its card names (`shipped.card_data`: rebuilt
from ../shared if missing, its fingerprint checked; split by the card's seed), less any near-duplicate of a training photo.
When the card was calibrated on a single split, its threshold was set on exactly these photos, so the script also
estimates the keep rate on photos not used for calibration: leave-one-out, and calibrating on one half to measure the
other. When it was calibrated by cross-validation (`--cv`), the cross-fitted estimate is the card's own
(`cross_validation.unsure`); these photos are then new to the shipped model, though fold models scored them in the calibration.
Out-of-class: benchmarks/ood_set.py (scikit-image / scikit-learn sample photos, crops of them, faces, synthetic images):
the same 200 images as the card's `unsure.outside` (`data/ood`), so its count of them flagged must be the card's.
Baseline: a top-softmax-probability threshold set to keep the same share of in-class photos.
"""
import sys, time
from pathlib import Path
import numpy as np, torch
sys.path.insert(0, str(Path(__file__).parent))
from ood_set import ood_images
from shipped import ROOT, shipped_card, card_data, output_file
from webclassifier.images import read_image
from webclassifier.predict import Predictor
from webclassifier.answers import threshold_for
from webclassifier.data import image_dataloaders
from webclassifier.unsure import features_and_logits, calibration_items, keep_threshold

def scores_and_probs(p:Predictor, images:list, bs:int=32):
    "Nearest-neighbour scores, the threshold each must clear (its predicted class's) and top softmax probabilities of PIL `images`"
    s, t, q = [], [], []
    for i in range(0, len(images), bs):
        with torch.inference_mode(): feats, logits = features_and_logits(p.model, p.batch(images[i:i+bs]))
        s.append(p.detector.scores(feats).numpy()); q.append(logits.softmax(1).max(1).values.numpy())
        t.append(np.broadcast_to(threshold_for(p.detector.threshold, logits.argmax(1).numpy()), len(feats)))
    return np.concatenate(s), np.concatenate(t), np.concatenate(q)

def single_split_estimates(s_in:np.ndarray, keep:float):
    "For a threshold calibrated on these very photos: the share kept when each is left out, and across halves"
    loo = np.mean([s_in[i] >= keep_threshold(np.delete(s_in, i), keep) for i in range(len(s_in))])
    print(f'  kept when each photo is left out of the calibration and then tested (leave-one-out): {loo:.1%}')
    rng = np.random.default_rng(0); idx = rng.permutation(len(s_in)); a, b = idx[:len(idx)//2], idx[len(idx)//2:]
    cross = [(s_in[y] >= keep_threshold(s_in[x], keep)).mean() for x, y in [(a, b), (b, a)]]
    print(f'  kept when calibrated on one half and measured on the other: {np.mean(cross):.1%} ({cross[0]:.1%}, {cross[1]:.1%})')

def cost(p:Predictor, size:int):
    "Milliseconds per photo: a forward pass, one with the features and the check, and the score alone"
    x = torch.randn(1, 3, size, size)
    def sure_args(x):
        feats, logits = features_and_logits(p.model, x); return feats, logits.argmax(1)
    with torch.inference_mode():
        for _ in range(3): p.model(x); p.detector.is_sure(*sure_args(x))
        t0 = time.perf_counter(); [p.model(x) for _ in range(30)]; fwd = (time.perf_counter() - t0)/30
        t0 = time.perf_counter(); [p.detector.is_sure(*sure_args(x)) for _ in range(30)]; both = (time.perf_counter() - t0)/30
        feats = sure_args(x)
        t0 = time.perf_counter(); [p.detector.is_sure(*feats) for _ in range(300)]; score = (time.perf_counter() - t0)/300
    print(f'cost per photo ({size} px): forward {fwd*1000:.1f} ms; forward with features and the check {both*1000:.1f} ms; the score alone {score*1000:.3f} ms')

def main():
    card = shipped_card()
    p, calib = Predictor.load(ROOT/'export.pkl'), card['unsure']
    data = card_data(card)
    dls = image_dataloaders(data, size=card['size'], bs=card['bs'], seed=card['seed'], log=lambda s: None)
    cal, n_near = calibration_items(list(dls.train_ds.items), list(dls.valid_ds.items))
    s_in, t_in, q_in = scores_and_probs(p, [read_image(f) for f in cal])
    ood = ood_images()
    kinds = np.array([k for k in ood for _ in ood[k]])
    s_out, t_out, q_out = scores_and_probs(p, [im for k in ood for im in ood[k].values()])
    print(f'shipped model {card["tag"]}, data {card["data"]} (data_sha256 {card["data_sha256"][:12]} checked)')
    print(f'method: {calib["method"]}; threshold {calib["threshold"]}, calibrated to keep {calib["target_keep"]:.0%}')
    print(f'in-class: {len(cal)} photos of its validation split that are not near-duplicates of training photos ({n_near} near-duplicates left out)'
          + (' (fitted on every photo, the shipped model trained on these too: photos new to it are benchmarks/out/elsewhere.txt\'s)' if card.get('refit') else ''))
    print(f'  kept with the shipped threshold: {(s_in >= t_in).mean():.1%}')
    if card.get('cv'):
        u = card['cross_validation']['unsure']
        print(f'  (calibrated on {calib["n_calibration"]} out-of-fold similarities: the cross-fitted estimate is the card\'s, kept {u["kept"]:.1%}, flagged {u["flagged"]:.1%} of {u["n_outside"]})')
    else: single_split_estimates(s_in, calib['target_keep'])
    flagged = s_out < t_out
    print(f'out-of-class: {len(s_out)} images; flagged "not sure": {flagged.mean():.1%}' +
          (' (the images the threshold was set halfway to: not an independent estimate)' if card.get('between') else ''))
    for k in ood: print(f'  {k:10} {int(flagged[kinds == k].sum()):3d}/{int((kinds == k).sum()):3d} flagged')
    names = [n for k in ood for n in ood[k]]
    print('  missed: ' + (', '.join(n for n, f in zip(names, flagged) if not f) or 'none'))
    t = float(np.quantile(q_in, 1 - (s_in >= t_in).mean(), method='lower'))
    print(f'baseline, top softmax probability >= {t:.3f} (keeping at least as many in-class photos: {(q_in >= t).mean():.1%}): flags {(q_out < t).mean():.1%} of out-of-class images' + (' (the probe learnt these images as its outside class: no fair test of the baseline)' if card.get('outside_learnt') else ''))
    cost(p, card['size'])
    outside = calib.get('outside')
    if outside: assert (int(flagged.sum()), len(flagged)) == (outside['flagged'], outside['n']), f"the card says {outside['flagged']} of {outside['n']} flagged"

if __name__ == '__main__':
    with output_file('unsure.txt'): main()
