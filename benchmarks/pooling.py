"""Issue 30's two missed targets, tried with the probe's pooling and its bias: does another way of pooling the body's
output, or a probe without biases, get more photos from elsewhere right, or more composites' maps onto the bear?

    .venv/bin/python benchmarks/pooling.py     -> benchmarks/out/pooling.txt (about 3 minutes)

The shipped recipe's body (EfficientNet-Lite0 at 256 px, 8 x 8 places of 1,280 channels) on each photo of the card's data
and its mirror image, and on the 448 photos of ../shared/data/bears-elsewhere; each place's features pooled by their mean
(the shipped probe), their maximum, a generalised mean (GeM, p = 2, 3, 4), or the mean's and the maximum's L2-normalised
features side by side, then L2-normalised and fitted by `fit_probe` as `fit_probe_head` does (C = 3 and 10), with a bias
per class or none. Judged as probe_variants.py does (5-fold cross-validation by near-copy groups; elsewhere, never trained
on) and by the pointing game of benchmarks/heatmaps.py on the 1,000 composites of its seeds 0-9: the map of the answer
(the probe's weights for the class it answers times the body's output; with GeM or the maximum a map of the same form,
not an exact decomposition of the answer)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent/'tests'))
import numpy as np, torch, torch.nn.functional as F
from final_fit import probe_setting
from heatmaps import composite_set, ELSEWHERE
from ood_set import ood_images
from shipped import output_file
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

def fit_unbiased(x:torch.Tensor, y:torch.Tensor, n_classes:int, C:float, max_iter:int=100) -> tuple:
    "`fit_probe` without biases: multinomial logistic regression through the origin, by L-BFGS"
    w = torch.zeros(n_classes, x.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1, max_iter=max_iter, line_search_fn='strong_wolfe')
    def loss():
        opt.zero_grad()
        value = F.cross_entropy(x @ w.T, y, reduction='sum') + (w**2).sum() / (2*C)
        value.backward()
        return value
    with torch.enable_grad(): opt.step(loss)
    return w.detach(), torch.zeros(n_classes)

def peak_tiles(maps:torch.Tensor) -> np.ndarray:
    "The 2 x 2 tile (reading order) of each map's highest place (the composites are square: the centre crop keeps the tiles' border in the middle)"
    h, w = maps.shape[1:]
    rows, cols = np.unravel_index(maps.flatten(1).argmax(1).numpy(), (h, w))
    return (rows >= h / 2) * 2 + (cols >= w / 2)

def main():
    card, data, dls, vocab, files, elsewhere, labels, far, folds = probe_setting()
    print(card['line'])
    body = make_learner(dls, card['arch'], head=probe_head(N_FEATURES[card['arch']], len(vocab))).model[0].eval()
    train, far_maps = body_outputs(body, dls, files), body_outputs(body, dls, elsewhere)
    bear_files = sorted(p for p in ELSEWHERE.glob('*/*') if p.suffix.lower() in {'.jpg', '.jpeg', '.png', '.webp'})
    ood = ood_images()
    others = [im for kind in ('photos', 'crops', 'faces') for im in ood[kind].values()]
    games = [composite_set(bear_files, others, seed)[:2] for seed in range(10)]
    games = [(body_outputs(body, dls, images, mirror=False), truth) for images, truth in games]
    print(f'{len(files)} photos of {card["data"]} (and mirrors), {len(elsewhere)} from elsewhere, {sum(len(t) for _, t in games)} composites')
    print('pooling            bias  C   | CV wrong | elsewhere            | pointing game: seed 0, seeds 0-9 pooled')
    for name, pool in POOLS.items():
        feats, far_feats = F.normalize(pool(train), dim=-1), F.normalize(pool(far_maps[:, 0]), dim=-1)
        for bias in (True, False):
            for C in (3, 10):
                fit = lambda idx: (fit_probe if bias else fit_unbiased)(feats[idx].flatten(0, 1), labels[idx].repeat_interleave(2), len(vocab), C)
                wrong = 0
                for fold in range(5):
                    t = torch.tensor(folds != fold); w, b = fit(t)
                    wrong += int(((feats[~t][:, 0] @ w.T + b).argmax(1) != labels[~t]).sum())
                w, b = fit(torch.ones(len(files), dtype=torch.bool))
                right = np.array(vocab)[(far_feats @ w.T + b).argmax(1).numpy()] == far
                game = ''
                if w.shape[1] == train.shape[2]:  # a map of the form weights x body output
                    hits = [peak_tiles(torch.einsum('nk,nkhw->nhw', w[(F.normalize(pool(m), dim=-1) @ w.T + b).argmax(1)], m)) == truth
                            for m, truth in games]
                    game = f'{hits[0].mean():.0%}, {np.concatenate(hits).mean():.1%}'
                print(f'{name:18} {"yes" if bias else "no ":4}  {C:<3g} | {wrong} of {len(files):<3} | {right.mean():.2%} ({(~right).sum()} wrong) | {game}', flush=True)

if __name__ == '__main__':
    with output_file('pooling.txt'): main()
