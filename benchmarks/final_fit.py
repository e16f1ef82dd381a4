"""How the shipped probe's final model should be fitted, chosen by cross-validation and by photos from elsewhere, never by one split.

    .venv/bin/python benchmarks/final_fit.py [C,C,...] [ARCH]    # ARCH: another backbone's features (efficientnet_lite1, efficientnet_lite2)

Every variant is the shipped recipe before its outside class (`Recipe.outside_class`, which it predates: the probes here
learn no outside photos) and before `Recipe.imagenet_prior` (the probes here start from zero) (EfficientNet-Lite0 at 256 px, its pooled features from the feature cache, a logistic
regression on each photo and its mirror image, "not sure" by the nearest class mean with one threshold halfway between the
in-class and the outside photos' out-of-fold similarities, keep 0.99) and differs in:
- `fit`: the final probe fitted on the card's 80 % split (as shipped until now) or on every photo;
- `mirror`: the photo's features alone, or averaged with its mirror image's (test-time mirror averaging);
- `C`: the probe's inverse L2 penalty.
Cross-validation: 5 folds of near-copy groups of the card's data (`shipped.card_data`), as `cross_validate` makes them, each
fold's model fitted on the other four folds (so `fit` does not change it); the "not sure" figures are `cv_report`'s
cross-fitted ones. Elsewhere: the 448 photos of ../shared/data/bears-elsewhere (another scrape, never trained on), scored
by the final model with the threshold calibrated on the cross-validation. Out-of-class: the 200 images of
`benchmarks/ood_set.py` (those the threshold is set halfway to: the cross-fitted figure is the independent one).
Output: benchmarks/out/final_fit.txt (final_fit_ARCH.txt for another backbone than the card's, at the card's size)"""
import sys, time
from pathlib import Path
import numpy as np, torch
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).parent))
from shipped import ROOT, shipped_card, card_data
from webclassifier.data import image_dataloaders, readable_images
from webclassifier.train import make_learner, probe_head, fit_probe, feature_key, N_FEATURES
from webclassifier.features import cached_features
from webclassifier.cv import MAX_K, near_copy_groups, group_folds, cv_report, class_thresholds
from webclassifier.unsure import class_means, nearest_similarities

ELSEWHERE = ROOT.parent/'shared'/'data'/'bears-elsewhere'

def probe_setting() -> tuple:
    "What probe_variants.py and augmented_views.py start from: the card, its data and loaders, its vocabulary, the photos and elsewhere's, their labels, the 5 folds"
    card = shipped_card(); data = card_data(card)
    dls = image_dataloaders(data, size=card['size'], stats=([0.5]*3, [0.5]*3), bs=card['bs'], seed=card['seed'], log=lambda s: None)
    vocab = list(dls.vocab)
    files, elsewhere = readable_images(data, log=lambda s: None), readable_images(ELSEWHERE, log=lambda s: None)
    labels, far = torch.tensor([vocab.index(f.parent.name) for f in files]), np.array([f.parent.name for f in elsewhere])
    folds = np.array(group_folds([f.parent.name for f in files], near_copy_groups(files), 5, card['seed']))
    return card, data, dls, vocab, files, elsewhere, labels, far, folds

def views(feats:torch.Tensor, mirror:bool) -> torch.Tensor:
    "Each photo's features: the photo's own, or the mean of its and its mirror image's (`cached_features` holds both)"
    return feats.mean(1) if mirror else feats[:, 0]

def fitted(feats:torch.Tensor, labels:torch.Tensor, n_classes:int, C:float):
    "The probe fitted on the photos and their mirror images, as `fit_probe_head` does"
    return fit_probe(feats.flatten(0, 1), labels.repeat_interleave(2), n_classes, C)

def scored(model, bank_feats, bank_labels, feats, mirror, vocab):
    "Probabilities, top-5 similarities to the bank and similarity to the nearest class mean, of `feats` under `model`"
    w, b = model
    x = views(feats, mirror)
    probs = F.softmax(x @ w.T + b, dim=1)
    bank = F.normalize(views(bank_feats, mirror), dim=1)
    x = F.normalize(x, dim=1)
    means = class_means(bank, [vocab[i] for i in bank_labels], vocab)
    return probs, nearest_similarities(x, bank, MAX_K).numpy(), nearest_similarities(x, means, 1)[:, 0].numpy()

def rows(files, fold, probs, sims, to_mean, **extra):
    return [dict(file=str(f), fold=fold, probs=p.tolist(), similarities=s.tolist(), mean_similarity=float(m), **extra)
            for f, p, s, m in zip(files, probs, sims, to_mean)]

def main(Cs='1,3,10,30', arch=None):
    card = shipped_card()
    arch = arch or card['arch']
    data = card_data(card)
    dls = image_dataloaders(data, size=card['size'], stats=([0.5]*3, [0.5]*3), bs=card['bs'], seed=card['seed'], log=lambda s: None)
    vocab = list(dls.vocab)
    body = make_learner(dls, arch, head=probe_head(N_FEATURES[arch], len(vocab))).model[0]
    key = feature_key(arch, card['size'])
    files = readable_images(data, log=lambda s: None)
    labels = torch.tensor([vocab.index(f.parent.name) for f in files])
    others = readable_images(ROOT/'data'/'ood', log=lambda s: None)
    elsewhere = readable_images(ELSEWHERE, log=lambda s: None)
    start = time.time()
    feats, out_feats, far_feats = (cached_features(body, dls, items, key) for items in (files, others, elsewhere))
    print(f'features of {len(files)} + {len(others)} + {len(elsewhere)} photos in {time.time() - start:.0f} s (from the cache where there)')
    far_labels = np.array([f.parent.name for f in elsewhere])
    groups = near_copy_groups(files)
    folds = np.array(group_folds([f.parent.name for f in files], groups, 5, card['seed']))
    in_split = set(dls.train_ds.items)
    split = np.array([f in in_split for f in files])
    lines = [f'shipped recipe ({arch} at {card["size"]} px) on {card["data"]} ({len(files)} photos, data_sha256 {card["data_sha256"][:12]} checked), '
             f'{len(others)} out-of-class images (data/ood), elsewhere: {ELSEWHERE.resolve()} ({len(elsewhere)} photos)',
             'fit   mirror  C    | CV accuracy (wrong) | CV "not sure" kept / flagged | threshold | elsewhere accuracy | kept | accuracy when sure | ood flagged']
    print(lines[0]); print(lines[1])
    for C in map(float, Cs.split(',')):
        for mirror in (False, True):
            photos, outside = [None]*len(files), []
            for fold in range(5):
                train = folds != fold
                model = fitted(feats[train], labels[train], len(vocab), C)
                p, s, m = scored(model, feats[train], labels[train], feats[~train], mirror, vocab)
                for i, r in zip(np.nonzero(~train)[0], rows(np.array(files)[~train], fold, p, s, m)):
                    photos[i] = dict(r, file=Path(r['file']).relative_to(data).as_posix(), label=vocab[labels[i]], group=groups[i])
                outside += rows(others, fold, *scored(model, feats[train], labels[train], out_feats, mirror, vocab))
            cv = dict(vocab=vocab, k=5, photos=photos, outside=outside, folds=[])
            report = cv_report(cv, keep=card['keep'], k=1, per_class=False, means=True, between=True)
            threshold = class_thresholds(photos, vocab, card['keep'], 1, False, True, outside)[0]
            for fit in ('split', 'all'):
                train = torch.tensor(split) if fit == 'split' else torch.ones(len(files), dtype=torch.bool)
                model = fitted(feats[train], labels[train], len(vocab), C)
                p, _, m = scored(model, feats[train], labels[train], far_feats, mirror, vocab)
                _, _, m_out = scored(model, feats[train], labels[train], out_feats, mirror, vocab)
                right, sure = np.array(vocab)[p.argmax(1).numpy()] == far_labels, m >= threshold
                u = report['unsure']
                line = (f'{fit:5} {str(mirror):6} {C:<4g} | {report["accuracy"]:.2%} ({report["wrong"]}) | {u["kept"]:.1%} / {u["flagged"]:.1%} | '
                        f'{threshold:.4f} | {right.mean():.2%} ({(~right).sum()} wrong of {len(right)}) | {sure.mean():.1%} | '
                        f'{right[sure].mean():.2%} | {(m_out < threshold).mean():.1%}')
                lines.append(line); print(line, flush=True)
    out = ROOT/'benchmarks'/'out'/('final_fit.txt' if arch == card['arch'] else f'final_fit_{arch}.txt')
    out.write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main(*sys.argv[1:3])
