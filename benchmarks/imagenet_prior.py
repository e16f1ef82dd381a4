"""The probe started from, and pulled towards, its backbone's own ImageNet classifier (`Recipe.imagenet_prior`), against the
probe from zero: judged by 5-fold cross-validation of the card's data and by the 448 photos of ../shared/data/bears-elsewhere
(another scrape, never trained on), for issue 30's 95 % target.

    .venv/bin/python benchmarks/imagenet_prior.py     -> benchmarks/out/imagenet_prior.txt (about 10 minutes)

First, the length of each backbone's mean-pooled features (before the L2 normalisation the feature cache keeps), over
the card's photos at the card's size, and for EfficientNet-Lite0 over the photos from elsewhere and the outside photos
(`data/ood`): `FEATURE_LENGTH`, the scale at which `imagenet_classifier` reads the cache's features, is the first.
Then each variant is the shipped recipe (the card's, with its outside photos learnt as a class) run by the project's own
code: `cross_validate` (near-copy groups, the card's seed; each fold learns the other folds' share of the outside photos)
and the final probe fitted on every photo (`train_classifier(valid=[])`), scored on the photos from elsewhere from the
feature cache (`probe_predictions`). The prior's scale is varied around the measured length, and `C` (the penalty:
here the pull towards the prior) around the shipped 3. Last, the two at the defaults compared photo by photo (an exact
McNemar test)."""
import sys, time
from pathlib import Path
import numpy as np, torch
from scipy.stats import binom
sys.path.insert(0, str(Path(__file__).parent))
from shipped import ROOT, shipped_card, card_data, output_file
from cv import card_settings
from webclassifier.backbones import FEATURE_LENGTH, IMAGENET_CLASSES, imagenet_classifier, make_learner
from webclassifier.data import image_dataloaders, readable_images
from webclassifier.train import MIN_SHARE, train_classifier, probe_predictions
from webclassifier.cv import cross_validate, cv_accuracy

ELSEWHERE = ROOT.parent/'shared'/'data'/'bears-elsewhere'
OOD = ROOT/'data'/'ood'

def pooled(arch:str, size:int, data:Path, items:list) -> torch.Tensor:
    "Each photo's mean-pooled `arch` features (the validation view at `size`), before normalisation"
    dls = image_dataloaders(data, size=size, stats=([0.5]*3, [0.5]*3), bs=8, log=lambda s: None)
    body = make_learner(dls, arch).model[0].eval()
    with torch.inference_mode():
        return torch.cat([body(xb.as_subclass(torch.Tensor)).mean((2, 3)) for xb, in dls.test_dl(items, bs=8, num_workers=0)])

def top_share(arch:str, feats:torch.Tensor) -> str:
    "The ImageNet class `arch`'s classifier most often answers for `feats`, and the share of them it is"
    w, b = imagenet_classifier(arch)
    top = (torch.nn.functional.normalize(feats, dim=1) @ w.T + b).argmax(1)
    most = int(top.mode().values)
    return f'"{IMAGENET_CLASSES[most]}" for {(top == most).float().mean():.0%} of {len(top)}'

def scored(data:Path, settings:dict, elsewhere:list, far:np.ndarray) -> tuple:
    "Cross-validation errors and accuracy elsewhere of the recipe `settings`, and the classes the final probe started from"
    cv = cross_validate(data, 5, OOD, log=lambda s: None, **settings)
    learn = train_classifier(data, valid=[], outside=OOD, log=lambda s: None, progress=False, **settings)
    probs = probe_predictions(learn, elsewhere)[1]
    right = np.array(learn.dls.vocab)[probs.argmax(1).numpy()] == far
    return cv_accuracy(cv)['wrong'], right, learn.train_info.get('started_from')

def main():
    card = shipped_card()
    print(card['line'])
    data = card_data(card)
    files, elsewhere, ood = (readable_images(d, log=lambda s: None) for d in (data, ELSEWHERE, OOD))
    far = np.array([f.parent.name for f in elsewhere])
    print(f"{len(files)} photos of {card['data']}, {len(elsewhere)} from {ELSEWHERE.name}, {len(ood)} outside photos ({OOD.relative_to(ROOT)})")
    print('\nthe length of the mean-pooled features, before normalisation (mean ± sd) | FEATURE_LENGTH')
    kept = {}
    for arch in FEATURE_LENGTH:
        own = "the card's"
        sets = [(own, files)] + ([('elsewhere', elsewhere), ('outside', ood)] if arch == card['arch'] else [])
        for name, items in sets:
            feats = pooled(arch, card['size'], data, items)
            n = feats.norm(dim=1).numpy()
            print(f'{arch:18} {name:10} photos: {n.mean():5.2f} ± {n.std():4.2f} (of {len(n)}) | {FEATURE_LENGTH[arch] if name == own else ""}')
            if name == own: assert abs(n.mean() - FEATURE_LENGTH[arch]) < 0.06, f'FEATURE_LENGTH[{arch!r}] is not the length measured here'
            if arch == card['arch']: kept[name] = feats
    arch, own = card['arch'], kept["the card's"]
    labels = np.array([f.parent.name for f in files])
    print(f'\n{arch}\'s ImageNet classifier (scale {FEATURE_LENGTH[arch]}), its most frequent top answer for each class\'s photos '
          f'(a class starts from it over {MIN_SHARE:.0%}: `imagenet_start`): '
          + '; '.join(f'{c}: {top_share(arch, own[torch.from_numpy(labels == c)])}' for c in sorted(set(labels)))
          + f'; the outside photos: {top_share(arch, kept["outside"])}')
    base = card_settings(card) | dict(outside_class=True)
    measured = FEATURE_LENGTH[base['arch']]
    print(f'\nthe shipped recipe ({base["arch"]} at {base["size"]} px, outside photos learnt as a class), '
          'cross-validated on 5 folds and fitted on every photo:')
    print(f'{"variant":34} C    | CV wrong of {len(files)} | elsewhere              | started from')
    answers = {}
    for prior, scale in [(False, None)] + [(True, s) for s in (measured, 8., 10., 12., 14.)]:
        FEATURE_LENGTH[base['arch']] = scale or measured; imagenet_classifier.cache_clear()
        for C in (1., 3., 10.):
            start = time.time()
            wrong, right, started = scored(data, base | dict(C=C, imagenet_prior=prior), elsewhere, far)
            if scale in (None, measured): answers[(prior, C)] = right
            name = f'prior, scale {scale:g}' + (' (measured)' if scale == measured else '') if prior else 'from zero (the probe before)'
            print(f'{name:34} {C:<4g} | {wrong:12} | {right.mean():.2%} ({(~right).sum()} wrong) | '
                  f'{", ".join(started) if started else "-"} [{time.time() - start:.0f} s]', flush=True)
    FEATURE_LENGTH[base['arch']] = measured; imagenet_classifier.cache_clear()
    a, b = answers[(False, 3.)], answers[(True, 3.)]  # the defaults, from zero and from ImageNet's classes: paired
    fixed, broke = int((~a & b).sum()), int((a & ~b).sum())
    p = min(1., 2 * binom.cdf(min(fixed, broke), fixed + broke, 0.5)) if fixed + broke else 1.
    print(f'\nat the defaults (C 3, the measured scale), the same 448 photos: right from ImageNet\'s classes and wrong from zero '
          f'{fixed}, the other way {broke}; exact McNemar test p = {p:.2f} (a gain this size on one set of 448 photos is within chance)')

if __name__ == '__main__':
    with output_file('imagenet_prior.txt'): main()
