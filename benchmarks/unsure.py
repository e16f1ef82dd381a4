"""How well the shipped model's "not sure" check works: in-class photos kept, out-of-class photos flagged.

    .venv/bin/python benchmarks/unsure.py [--write-card]   (--write-card: record the figures in model_card.json)

In-class: the validation photos of ../shared/data/bears (same seed-42 split as training) that are not near-duplicates
of a training photo. The shipped threshold was calibrated on exactly these, so the script also estimates the keep rate
on photos not used for calibration: leave-one-out, and calibrating on one half to measure the other (both ways round).
Out-of-class: benchmarks/ood_set.py (scikit-image / scikit-learn sample photos, crops of them, faces, synthetic images).
Baseline: a top-softmax-probability threshold set to keep the same share of in-class photos.
"""
import json, sys, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from ood_set import ood_images
from webclassifier.download import read_image
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


if __name__ == '__main__':
    p = Predictor.load(ROOT/'export.pkl')
    d, card = p.detector, p.detector.calibration
    data = ROOT.parent/'shared'/'data'/'bears'
    dls = image_dataloaders(data, size=224, stats=([0.5]*3, [0.5]*3), seed=42, report=lambda s: None)
    cal, n_near = calibration_items(list(dls.train_ds.items), list(dls.valid_ds.items))
    s_in, t_in, q_in = scores_and_probs(p, [read_image(f) for f in cal])
    ood = ood_images()
    kinds = [k for k in ood for _ in ood[k]]
    s_out, t_out, q_out = scores_and_probs(p, [im for k in ood for im in ood[k].values()])
    kinds = np.array(kinds)
    print(f'method: {card["method"]}; threshold {card["threshold"]}, calibrated to keep {card["target_keep"]:.0%}')
    print(f'in-class: {len(cal)} validation photos that are not near-duplicates of training photos ({n_near} near-duplicates left out)')
    keep, loo = card['target_keep'], np.nan
    if isinstance(d.threshold, list):  # calibrated on cross-validation's out-of-fold scores: benchmarks/cv.py estimates it for new photos
        print(f'  kept with the shipped thresholds: {(s_in >= t_in).mean():.1%} (photos of the shipped model\'s own validation split)')
    else:  # calibrated on exactly these photos: estimate it for others
        print(f'  kept with the shipped threshold: {(s_in >= t_in).mean():.1%} (the photos it was calibrated on)')
        loo = np.mean([s_in[i] >= keep_threshold(np.delete(s_in, i), keep) for i in range(len(s_in))])
        print(f'  kept when each photo is left out of the calibration and then tested (leave-one-out): {loo:.1%}')
        rng = np.random.default_rng(0); idx = rng.permutation(len(cal)); a, b = idx[:len(idx)//2], idx[len(idx)//2:]
        cross = [(s_in[y] >= keep_threshold(s_in[x], keep)).mean() for x, y in [(a, b), (b, a)]]
        print(f'  kept when calibrated on one half and measured on the other: {np.mean(cross):.1%} ({cross[0]:.1%}, {cross[1]:.1%})')
    flagged = s_out < t_out
    print(f'out-of-class: {len(s_out)} images; flagged "not sure": {flagged.mean():.1%}')
    for k in ood: print(f'  {k:10} {int(flagged[kinds == k].sum()):3d}/{int((kinds == k).sum()):3d} flagged')
    names = [n for k in ood for n in ood[k]]
    print('  missed: ' + ', '.join(n for n, f in zip(names, flagged) if not f))
    t = float(np.quantile(q_in, 1 - (s_in >= t_in).mean(), method='lower'))
    print(f'baseline, top softmax probability >= {t:.3f} (keeping at least as many in-class photos: {(q_in >= t).mean():.1%}): flags {(q_out < t).mean():.1%} of out-of-class images')
    x = torch.randn(1, 3, 224, 224)
    def sure_args(model, x):
        "The features of `x` and its predicted class, as `is_sure` takes them"
        feats, logits = features_and_logits(model, x); return feats, logits.argmax(1)
    with torch.inference_mode():
        for _ in range(3): p.model(x); d.is_sure(*sure_args(p.model, x))
        t0 = time.perf_counter(); [p.model(x) for _ in range(30)]; fwd = (time.perf_counter() - t0)/30
        t0 = time.perf_counter(); [d.is_sure(*sure_args(p.model, x)) for _ in range(30)]; both = (time.perf_counter() - t0)/30
        feats = sure_args(p.model, x)
        t0 = time.perf_counter(); [d.is_sure(*feats) for _ in range(300)]; score = (time.perf_counter() - t0)/300
    print(f'cost per photo: forward {fwd*1000:.1f} ms; forward with features and the check {both*1000:.1f} ms; the score alone {score*1000:.3f} ms')
    if '--write-card' in sys.argv:
        card_fn = ROOT/'model_card.json'
        full = json.loads(card_fn.read_text())
        full['unsure']['benchmark'] = dict(script='benchmarks/unsure.py', in_class_kept=round(float((s_in >= t_in).mean()), 4),
            in_class_kept_leave_one_out=None if np.isnan(loo) else round(float(loo), 4), out_of_class_flagged=round(float(flagged.mean()), 4),
            n_out_of_class=int(len(s_out)), out_of_class_set='scikit-image/scikit-learn sample photos, crops of them, LFW faces, synthetic images',
            softmax_baseline_flagged=round(float((q_out < t).mean()), 4), score_ms_per_photo=round(score*1000, 3))
        card_fn.write_text(json.dumps(full, indent=2) + '\n')
        print(f'wrote the figures to {card_fn.name}')
