"""Photos from elsewhere, mimicked: cross-validation that holds out whole visual clusters, and which "not sure" score survives it.

    .venv/bin/python benchmarks/shift.py run NAME --folds clusters|groups [--k 5]   (the card's recipe on the card's data: seconds per fold for the probe)
    .venv/bin/python benchmarks/shift.py compare                                    (every saved run, and the shipped calibration)

A scrape made by somebody else holds kinds of photo the training scrape lacks (the reviewer of issue 12 measured new
teddies landing far from every training teddy). Near-copy groups (`--folds groups`, as `webclassifier train --cv`
uses) keep copies apart but still validate on photos of the kinds the model trained on. `--folds clusters` clusters
each class in the ImageNet backbone's features (before any fine-tuning; for the probe, the features it classifies) and
validates each fold on whole clusters, so each model meets kinds of photo it never saw: a harsher stand-in for a scrape
from elsewhere. The data is the set the shipped model's card names (`shipped.card_data`: rebuilt from ../shared if missing,
its fingerprint checked), the recipe the card's without its outside class (`outside_class=False`: each fold's model
scores the out-of-class set, which it must not have learnt; `shift.txt` is of the model before that class).

For every held-out photo and every photo of the out-of-class set (benchmarks/ood_set.py), each fold's model records
five "looks like the training photos" scores against that fold's training photos: cosine similarity to the nearest
one (`nearest`, what the app uses), the mean of the 5 nearest (`mean5`), cosine similarity to the predicted class's
mean feature (`centroid`) or to the nearest class mean (`nearest_centroid`: the app's check with the class means as its
bank), and the negative Mahalanobis distance to the predicted class's mean with one shrunk covariance (`mahalanobis`).
The features themselves go to data/shift/NAME-foldN.pt (not committed), for scores not thought of yet.
`compare` prints, for each score, the cross-fitted "not sure" check (each fold judged by a threshold calibrated on
the other folds), and pooled over the folds: AUROC, and the share flagged at a fixed share kept (with the classifier's
top probability as a baseline). Then it takes the shipped model's own cross-validation (export.cv.json, near-copy-group folds, made
by `webclassifier train --cv 5`), calibrates on it at each keep (without the outside photos), and judges the held-out
clusters and the out-of-class set: how such a threshold does on kinds of photo it never saw; and the card's own
threshold, judged the same way.
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
import torch.nn.functional as F
ROOT = Path(__file__).parent.parent
OUT = ROOT/'benchmarks'/'out'/'shift'
FEATS = ROOT/'data'/'shift'
sys.path.insert(0, str(Path(__file__).parent))
from shipped import shipped_card, card_data, output_file
SCORES = ('nearest', 'mean5', 'centroid', 'nearest_centroid', 'mahalanobis')

def backbone_features(files:list, arch:str, data:Path, size:int=224) -> torch.Tensor:
    "L2-normalised average-pooled features of the ImageNet backbone `arch` (not fine-tuned) for `files`"
    from webclassifier.data import image_dataloaders
    from webclassifier.train import make_learner, arch_function
    from fastai.vision.all import model_meta
    dls = image_dataloaders(data, size=size, stats=model_meta[arch_function(arch)]['stats'], bs=32, log=lambda s: None)
    body = make_learner(dls, arch).model[0].eval()
    with torch.inference_mode():
        return F.normalize(torch.cat([body(b[0]).mean((2, 3)) for b in dls.test_dl(files, bs=64)]), dim=1)

def kmeans(x:torch.Tensor, n:int, seed:int=42, restarts:int=10, steps:int=50) -> np.ndarray:
    "Cluster of each row of `x` by k-means (cosine, `n` clusters), the best of `restarts` starts"
    gen, best = torch.Generator().manual_seed(seed), None
    for _ in range(restarts):
        centres = x[torch.randperm(len(x), generator=gen)[:n]]
        for _ in range(steps):
            assign = (x @ centres.T).argmax(1)
            centres = torch.stack([F.normalize(x[assign == c].mean(0), dim=0) if (assign == c).any() else centres[c] for c in range(n)])
        fit = (x @ centres.T).max(1).values.sum().item()
        if best is None or fit > best[0]: best = (fit, assign.numpy())
    return best[1]

def cluster_groups(files:list, labels:list, arch:str, data:Path, per_class:int, size:int) -> list:
    "A group per visual cluster: each class split by `kmeans` into `per_class` clusters; near-copies join their first member's cluster"
    from webclassifier.cv import near_copy_groups
    feats, groups = backbone_features(files, arch, data, size), [None]*len(files)
    for n, c in enumerate(sorted(set(labels))):
        idx = [i for i, l in enumerate(labels) if l == c]
        for i, a in zip(idx, kmeans(feats[idx], per_class)): groups[i] = n*per_class + int(a)
    first = {}
    for i, g in enumerate(near_copy_groups(files)): groups[i] = groups[first.setdefault(g, i)]
    return groups

def fold_bank(learn) -> tuple:
    "Features of the fold's training photos, and the class index of each"
    from fastai.data.transforms import parent_label
    from webclassifier.unsure import image_features
    train, vocab = list(learn.dls.train_ds.items), list(learn.dls.vocab)
    return image_features(learn, train), torch.tensor([vocab.index(parent_label(f)) for f in train])

def fold_scores(learn, items:list, bank:torch.Tensor, ti:torch.Tensor) -> tuple:
    "Probabilities and features of `items`, and their five scores against the fold's training photos `bank` of classes `ti` (see the module's docstring)"
    from webclassifier.unsure import features_and_probs, class_means
    feats, probs = features_and_probs(learn, items)
    vocab = list(learn.dls.vocab)
    means = torch.stack([bank[ti == c].mean(0) for c in range(len(vocab))])  # unnormalised: the Mahalanobis distance needs them
    centred = bank - means[ti]
    cov = centred.T @ centred / len(bank)
    cov = 0.5*cov + 0.5*cov.trace()/cov.shape[0]*torch.eye(cov.shape[0])  # shrunk: 330 photos cannot fill a 512-dim covariance
    prec, pred = torch.linalg.inv(cov), probs.argmax(1)
    diff = feats - means[pred]
    sims = (feats @ bank.T).topk(5, dim=1).values
    to_means = feats @ class_means(bank, [vocab[i] for i in ti], vocab).T  # the app's bank with --class-means
    scores = dict(nearest=sims[:, 0], mean5=sims.mean(1), centroid=to_means.gather(1, pred[:, None])[:, 0], nearest_centroid=to_means.max(1).values,
                  mahalanobis=-((diff @ prec) * diff).sum(1))
    return probs, [{s: round(float(scores[s][i]), 6) for s in SCORES} for i in range(len(items))], feats

def run(name:str, folds:str, k:int, per_class:int):
    "Cross-validate the card's recipe on the card's data by `folds` (near-copy `groups` or visual `clusters`) and save every held-out row to OUT/NAME.json"
    from cv import write_ood, card_settings
    from webclassifier.cv import group_folds, near_copy_groups
    from webclassifier.data import readable_images
    from webclassifier.train import train_classifier
    card = shipped_card()
    # without the outside class: every fold's model scores the out-of-class set, which it must not have learnt
    data, recipe = card_data(card), card_settings(card) | dict(outside_class=False)
    OUT.mkdir(parents=True, exist_ok=True)
    files = readable_images(data, log=print)
    labels = [f.parent.name for f in files]
    groups = cluster_groups(files, labels, recipe['arch'], data, per_class, recipe['size']) if folds == 'clusters' else near_copy_groups(files)
    fold_of = group_folds(labels, groups, k, recipe.get('seed', 42))
    photos, outside, runs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        others = readable_images(write_ood(Path(tmp)), log=print)
        for fold in range(k):
            valid = [f for f, fo in zip(files, fold_of) if fo == fold]
            start = time.time()
            learn = train_classifier(data, valid=valid, log=lambda s: None, progress=False, **recipe)
            runs.append(dict(fold=fold, n_train=len(learn.dls.train_ds), n_valid=len(valid), seconds=round(time.time() - start, 1)))
            print(f'fold {fold + 1}/{k}: trained on {runs[-1]["n_train"]} photos in {runs[-1]["seconds"]} s', flush=True)
            bank, ti = fold_bank(learn)
            probs, scores, feats = fold_scores(learn, valid, bank, ti)
            ood_probs, ood_scores, ood_feats = fold_scores(learn, others, bank, ti)
            FEATS.mkdir(parents=True, exist_ok=True)
            torch.save(dict(valid=feats, valid_files=[str(f) for f in valid], bank=bank, bank_labels=ti, outside=ood_feats), FEATS/f'{name}-fold{fold}.pt')
            photos += [dict(file=f.relative_to(data).as_posix(), label=f.parent.name, group=groups[files.index(f)], fold=fold,
                            probs=p.numpy().round(6).tolist(), scores=s) for f, p, s in zip(valid, probs, scores)]
            outside += [dict(file=f.name, fold=fold, probs=p.numpy().round(6).tolist(), scores=s) for f, p, s in zip(others, ood_probs, ood_scores)]
    result = dict(name=name, data=card['data'], data_sha256=card['data_sha256'], shipped=card['tag'], folds=folds, k=k, per_class=per_class, recipe=recipe, vocab=list(learn.dls.vocab),
                  runs=runs, photos=photos, outside=outside)
    (OUT/f'{name}.json').write_text(json.dumps(result))
    print(f'saved {OUT/name}.json')

def accuracy(rows:list, vocab:list) -> tuple:
    "Share of `rows` named right, overall and per class"
    right = np.array([vocab[int(np.argmax(r['probs']))] == r['label'] for r in rows])
    labels = np.array([r['label'] for r in rows])
    return right.mean(), {c: round(float(right[labels == c].mean()), 3) for c in vocab}

def threshold(rows:list, score:str, keep:float) -> float:
    "The score that keeps the share `keep` of `rows`"
    from webclassifier.unsure import keep_threshold
    return keep_threshold(np.array([r['scores'][score] for r in rows]), keep)

def judged(rows:list, others:list, score:str, t:float) -> tuple:
    "Whether each in-class row is kept, with its label; whether each out-of-class row is flagged"
    return [(r['label'], r['scores'][score] >= t) for r in rows], [o['scores'][score] < t for o in others]

def summary(kept:list, flagged:list, vocab:list) -> str:
    "Kept overall and per class, and flagged"
    by = {c: f"{np.mean([s for l, s in kept if l == c]):.1%}" for c in vocab}
    return f"kept {np.mean([s for _, s in kept]):.2%} {by}, flagged {np.mean(flagged):.2%}"

def cross_fitted(cv:dict, score:str, keep:float) -> tuple:
    "Each fold judged by a threshold calibrated on the other folds' held-out photos"
    kept, flagged = [], []
    for fold in range(cv['k']):
        t = threshold([p for p in cv['photos'] if p['fold'] != fold], score, keep)
        k, f = judged([p for p in cv['photos'] if p['fold'] == fold], [o for o in cv['outside'] if o['fold'] == fold], score, t)
        kept += k; flagged += f
    return kept, flagged

def pooled(cv:dict, score:str) -> str:
    "AUROC of `score` (held-out photos against out-of-class images, all folds together), and the share flagged at 96-99 % kept"
    value = (lambda r: max(r['probs'])) if score == 'top probability' else (lambda r: r['scores'][score])
    a, o = np.array([value(r) for r in cv['photos']]), np.array([value(r) for r in cv['outside']])
    flagged = [f"kept {keep:.0%}: flagged {(o < np.quantile(a, 1 - keep)).mean():.1%}" for keep in (0.96, 0.97, 0.98, 0.99)]
    return f"AUROC {(a[:, None] > o[None, :]).mean():.4f}; " + '; '.join(flagged)

def compare():
    "A block per saved run: accuracy, and for each score the cross-fitted check; then calibrated as shipped, judged on held-out clusters"
    card = shipped_card()
    runs = {json.loads(fn.read_text())['folds']: json.loads(fn.read_text()) for fn in sorted(OUT.glob('*.json'))}
    print(f"shipped model {card['tag']}; data {card['data']} (data_sha256 {card['data_sha256'][:12]})")
    for folds, cv in runs.items():
        assert cv.get('data_sha256') == card['data_sha256'], f"{cv['name']}: not run on the data the card names: run it again"
        acc, by = accuracy(cv['photos'], cv['vocab'])
        print(f"\n{cv['name']}: {cv['recipe']} on {cv['data']}, {cv['k']} folds of {folds}"
              f"{' (' + str(cv['per_class']) + ' visual clusters per class)' if folds == 'clusters' else ''}, {len(cv['photos'])} photos, "
              f"{len(cv['outside']) // cv['k']} out-of-class; training {sum(r['seconds'] for r in cv['runs']):.1f} s")
        print(f"  accuracy {acc:.2%} ({sum(np.argmax(p['probs']) != cv['vocab'].index(p['label']) for p in cv['photos'])} wrong) {by}")
        for keep in (0.97, 0.98, 0.99):
            for score in SCORES:
                print(f"  cross-fitted, keep {keep}, {score:<16}: {summary(*cross_fitted(cv, score, keep), cv['vocab'])}")
        for score in SCORES + ('top probability',): print(f"  pooled, {score:<16}: {pooled(cv, score)}")
    shipped = ROOT/'export.cv.json'  # the shipped model's own cross-validation, by near-copy groups
    rows = json.loads(shipped.read_text())['photos'] if shipped.exists() else []
    if 'clusters' in runs and rows and 'mean_similarity' in rows[0]:
        c = runs['clusters']
        print(f"\ncalibrated on the shipped model's own cross-validation (the {len(rows)} out-of-fold rows of export.cv.json, near-copy-group folds) at each keep, "
              "not halfway to the outside photos; judged on the held-out clusters and the out-of-class set")
        for keep in (0.97, 0.98, 0.985, 0.99):
            for score, key in (('nearest', lambda r: r['similarities'][0]), ('nearest_centroid', lambda r: r['mean_similarity'])):
                t = threshold([dict(scores={score: key(r)}) for r in rows], score, keep)
                print(f"  keep {keep}, {score:<16} (threshold {t:.3f}): {summary(*judged(c['photos'], c['outside'], score, t), c['vocab'])}")
        if card['class_means'] and not isinstance(card['unsure']['threshold'], list):
            t = card['unsure']['threshold']
            print(f"the card's own threshold ({card['unsure']['method']}: {t}), nearest_centroid, judged on the held-out clusters: "
                  f"{summary(*judged(c['photos'], c['outside'], 'nearest_centroid', t), c['vocab'])}")

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    r = sub.add_parser('run')
    r.add_argument('name')
    r.add_argument('--folds', choices=('groups', 'clusters'), required=True)
    r.add_argument('--per-class', type=int, default=6, help='visual clusters per class (with --folds clusters)')
    r.add_argument('--k', type=int, default=5)
    sub.add_parser('compare')
    args = parser.parse_args()
    if args.command == 'run': run(args.name, args.folds, args.k, args.per_class)
    else:
        with output_file('shift.txt'): compare()
