"""Issue 30's pointing game, tried with other maps of the same answer: does a map that weighs the body's output
differently, or a smoothed one, point at the bear more often than the class activation map the app shows?

    .venv/bin/python benchmarks/map_variants.py     -> benchmarks/out/map_variants.txt (about 2 minutes)

The shipped recipe without its outside class (`heatmaps.refitted`: the shipped probe has learnt the composites' other
tiles; this is the probe that was shipped, 662894787496, fitted again) on the 1,000 composites heatmaps.py made before
it (all of ood_set.py's photos, crops and faces; seeds 0-9; seed 0 is the issue's), each answered
as the app answers it (the probe on the mean-pooled, L2-normalised body output). Every map here is of that answer `a`, a
weighting of the body's output F (channels x 8 x 8) by channel, with z the normalised pooled features and p the
probabilities:
- cam: the probe's weights for a, w_a (shipped: the answer's logit is the map's mean over |pooled F|, plus a bias);
- grad-cam of p_a: w_a - sum_j p_j w_j (the gradient of the answer's probability through the linear layer);
- minus the others' mean: w_a - the mean of the other classes' weights; minus the runner-up: w_a - w_second;
- grad-cam through the L2 norm: w_a - (w_a . z) z (the logit's gradient with the normalisation's Jacobian), and the same
  for p_a;
- the cam smoothed over neighbouring places: a 3 x 3 or 5 x 5 Gaussian (edges replicated).
A hit: the map's highest place falls in the bear's tile (`peak_tile`)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent/'tests'))  # heatmaps.py's import of test_heatmaps
import numpy as np, torch, torch.nn.functional as F
from heatmaps import composite_sources, composite_set, peak_tile, refitted
from shipped import ROOT, card_data, output_file, shipped_card
from webclassifier.predict import Predictor

def gaussian(maps:torch.Tensor, size:int, sigma:float) -> torch.Tensor:
    "`maps` (n, h, w) smoothed by a `size` x `size` Gaussian of `sigma` places, edges replicated"
    x = torch.arange(size) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2)); g = g / g.sum()
    kernel = (g[:, None] * g[None])[None, None]
    return F.conv2d(F.pad(maps[:, None], (size // 2,) * 4, mode='replicate'), kernel)[:, 0]

def maps_of(fmap:torch.Tensor, W:torch.Tensor, b:torch.Tensor) -> dict:
    "Each variant's maps (n, h, w) of the answer for the body's outputs `fmap`, with the probe's weights `W` and biases `b`"
    z = F.normalize(fmap.mean((2, 3)), dim=1)
    logits = z @ W.T + b; p = logits.softmax(1); top2 = logits.topk(2, 1).indices
    wa = W[top2[:, 0]]
    along = lambda g: g - (g * z).sum(1, keepdim=True) * z  # the component along z removed
    weights = {'cam (shipped)': wa, 'grad-cam of p_a': wa - p @ W, 'minus the others\' mean': wa - (W.sum(0) - wa) / (len(W) - 1),
               'minus the runner-up': wa - W[top2[:, 1]], 'grad-cam through the L2 norm': along(wa),
               'grad-cam of p_a through the L2 norm': along(wa - p @ W)}
    out = {k: torch.einsum('nk,nkhw->nhw', w, fmap) for k, w in weights.items()}
    for size, sigmas in ((3, (0.5, 1.0)), (5, (1.0, 2.0))):
        for s in sigmas: out[f'cam, {size} x {size} Gaussian, sigma {s:g}'] = gaussian(out['cam (shipped)'], size, s)
    return out

def main():
    print(shipped_card()['line'] + '; scored here: its recipe fitted again without the outside class (the probe shipped before it)')
    # the probe without the outside class (the shipped recipe before it, fitted again): the shipped one learnt these tiles
    p = refitted(card_data(shipped_card()))
    W, b = p.weights.detach(), p.model[1][-1].bias.detach()
    bear_files, fillers = composite_sources()
    others = list(fillers.values())  # photos, crops, faces: as heatmaps.py made the composites before the outside class
    hits = {}
    for seed in range(10):
        images, truth, _ = composite_set(bear_files, others, seed)
        with torch.inference_mode():
            fmap = torch.cat([p.model[0](p.batch(images[i:i + 16])) for i in range(0, len(images), 16)])
            for name, maps in maps_of(fmap, W, b).items():
                hit = np.array([peak_tile(m, im.size, p.steps) for m, im in zip(maps.numpy(), images)]) == truth
                hits.setdefault(name, []).append(hit)
    print(f'the pointing game on the 1,000 composites of benchmarks/heatmaps.py (seeds 0-9), each map of the answer')
    print(f'{"map":40} | seed 0 | seeds 0-9 pooled | seeds 1-9')
    for name, h in hits.items():
        print(f'{name:40} | {h[0].mean():6.0%} | {np.concatenate(h).mean():16.1%} | {", ".join(f"{x.mean():.0%}" for x in h[1:])}')

if __name__ == '__main__':
    with output_file('map_variants.txt'): main()
