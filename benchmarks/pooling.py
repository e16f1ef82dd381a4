"""Issue 30's two missed targets, tried with the probe's pooling and its bias: does another way of pooling the body's
output, or a probe without biases, get more photos from elsewhere right, or more composites' maps onto the bear?

    .venv/bin/python benchmarks/pooling.py     -> benchmarks/out/pooling.txt (about 3 minutes)

The shipped recipe's body (EfficientNet-Lite0 at 256 px, 8 x 8 places of 1,280 channels) on each photo of the card's data
and its mirror image, and on the 448 photos of ../shared/data/bears-elsewhere; each place's features pooled by their mean
(the shipped probe), their maximum, a generalised mean (GeM, p = 2, 3, 4), or the mean's and the maximum's L2-normalised
features side by side, then L2-normalised and fitted by `fit_probe` as `fit_probe_head` does (C = 3 and 10), with a bias
per class or none (`bias=False`). Judged as probe_variants.py does (5-fold cross-validation by near-copy groups; elsewhere, never trained
on) and by the pointing game of benchmarks/heatmaps.py on the 1,000 composites of its seeds 0-9: the map of the answer
(the probe's weights for the class it answers times the body's output; with GeM or the maximum a map of the same form,
not an exact decomposition of the answer)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent/'tests'))  # heatmaps.py's import of test_heatmaps
import numpy as np, torch, torch.nn.functional as F
from final_fit import probe_setting
from heatmaps import TILE, composite_sources, composite_set, peak_tile
from shipped import output_file
from webclassifier.predict import preprocessing
from webclassifier.train import make_learner, probe_head, fit_probe, N_FEATURES

POOLS = {'mean (shipped)': lambda x: x.mean((-2, -1)), 'maximum': lambda x: x.amax((-2, -1)),
         **{f'GeM p={p}': (lambda p: lambda x: x.clamp(min=0).pow(p).mean((-2, -1)).pow(1 / p))(p) for p in (2, 3, 4)},
         'mean and maximum': lambda x: torch.cat([F.normalize(x.mean((-2, -1)), dim=-1), F.normalize(x.amax((-2, -1)), dim=-1)], -1)}

def body_outputs(body, dls, items:list, mirror:bool=True) -> torch.Tensor:
    "The body's output (photos, [2 views,] channels, h, w) for `items` (files or PIL images), with their mirror images' if `mirror`"
    out = []
    with torch.inference_mode():
        for xb, in dls.test_dl(items, bs=16, num_workers=0):
            x = xb.as_subclass(torch.Tensor)
            out.append(torch.stack([body(x), body(x.flip(3)).flip(3)], 1) if mirror else body(x))
    return torch.cat(out)

def main():
    card, data, dls, vocab, files, elsewhere, labels, far, folds = probe_setting()
    print(card['line'])
    learn = make_learner(dls, card['arch'], head=probe_head(N_FEATURES[card['arch']], len(vocab)))
    body, steps = learn.model[0].eval(), preprocessing(learn)
    train, far_maps = body_outputs(body, dls, files), body_outputs(body, dls, elsewhere)
    bear_files, fillers = composite_sources()
    others = list(fillers.values())  # photos, crops, faces: as heatmaps.py made the composites before the outside class
    games = [composite_set(bear_files, others, seed)[:2] for seed in range(10)]
    games = [(body_outputs(body, dls, images, mirror=False), truth) for images, truth in games]
    print(f'{len(files)} photos of {card["data"]} (and mirrors), {len(elsewhere)} from elsewhere, {sum(len(t) for _, t in games)} composites')
    print('pooling            bias  C   | CV wrong | elsewhere            | pointing game: seed 0, seeds 0-9 pooled')
    for name, pool in POOLS.items():
        feats, far_feats = F.normalize(pool(train), dim=-1), F.normalize(pool(far_maps[:, 0]), dim=-1)
        for bias in (True, False):
            for C in (3, 10):
                fit = lambda idx: fit_probe(feats[idx].flatten(0, 1), labels[idx].repeat_interleave(2), len(vocab), C, bias=bias)
                wrong = 0
                for fold in range(5):
                    t = torch.tensor(folds != fold); w, b = fit(t)
                    wrong += int(((feats[~t][:, 0] @ w.T + b).argmax(1) != labels[~t]).sum())
                w, b = fit(torch.ones(len(files), dtype=torch.bool))
                right = np.array(vocab)[(far_feats @ w.T + b).argmax(1).numpy()] == far
                game = ''
                if w.shape[1] == train.shape[2]:  # a map of the form weights x body output
                    maps = [torch.einsum('nk,nkhw->nhw', w[(F.normalize(pool(m), dim=-1) @ w.T + b).argmax(1)], m) for m, _ in games]
                    hits = [np.array([peak_tile(c, (2 * TILE, 2 * TILE), steps) for c in m.numpy()]) == truth for m, (_, truth) in zip(maps, games)]
                    game = f'{hits[0].mean():.0%}, {np.concatenate(hits).mean():.1%}'
                print(f'{name:18} {"yes" if bias else "no ":4}  {C:<3g} | {wrong} of {len(files):<3} | {right.mean():.2%} ({(~right).sum()} wrong) | {game}', flush=True)

if __name__ == '__main__':
    with output_file('pooling.txt'): main()
