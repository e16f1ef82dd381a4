"""Where the shipped model looked: the pointing game on composites, and the heat map's extra time per photo, both runtimes.

    .venv/bin/python benchmarks/heatmaps.py        -> benchmarks/out/heatmaps.txt, heatmaps.png

The pointing game: 100 composites, each a 2 x 2 grid of 224 px square tiles (each image's centre square, resized): one
bear photo from ../shared/data/bears-elsewhere (photos from other scrapes, never trained on; drawn at random from its
three class folders) and three images of none of the classes from benchmarks/ood_set.py (its photos, their crops and its
faces: not its synthetic noise and stripes), the bear's tile at a random place. A hit: the highest place of the
answer's map (the predicted class's, what the app and `predict --explain` show), taken back to the composite through
the centre crop the model saw (`seen_box`), falls in the bear's tile. Chance: 25 %.
The shipped probe learnt all of ood_set.py's images as its outside class (the recipe's `outside_class`), so it is not
scored on them: ood_set.py's sources are split in two halves (its photos, each with its crops, and its faces, by
turns), and the composites of each half are scored by the shipped recipe fitted again with the other half (and the
synthetic images) as its outside photos, which on all of them gives the shipped probe (checked). The same composites
are scored by the recipe before the outside class (`outside_class=False`), in this run. Seed 0 of each half, and seeds
0-9 of both (2,000 composites) pooled, with a 95 % Wilson interval. Across kinds, a harder test of what the outside class learns:
the composites of faces scored with photos and crops learnt, and those of photos and crops with faces learnt. Also: the bear's own class's map (the pointing game
as Zhang et al. 2016 define it), and the answer's map apart for the answers the app is sure of and those it says "not
sure" of. The runtimes' maps are compared on the shipped model (seed 0, composites of all the images).

The map's extra time per photo: each of the bear photos answered alone (`predict_images([photo])`, decoded beforehand),
with and without its map, alternately, the best of 5 of each; the median over photos of the difference. fastai: the
same `Predictor` with `explain=True` and `False`. onnx: the twin with its `cam` output (`explain=True`) against the same
twin as made before maps, without that output (what serving cost before): the whole added cost, in the graph and after.
On this shared 2-core machine a photo's time moves by more than the map costs, so the map's own work is also timed
alone (fastai: the weighted sum over the body's output, to numpy, `heatmap_rows`; onnx: `heatmap_rows` after the graph).
The overlay the app draws (`heatmap_overlay`) is timed on its own too.
"""
import shutil, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np, torch
from PIL import Image, ImageOps
from scipy.stats import binomtest
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent/'tests'))  # old_twin: a twin as made before maps, as the tests make it
from ood_set import ood_images
from shipped import ROOT, shipped_card, card_data, link_folder
from test_heatmaps import old_twin
from webclassifier.answers import heatmap_overlay, heatmap_rows, seen_box
from webclassifier.images import read_image
from webclassifier.predict import Predictor, probe_weights
from webclassifier.train import Recipe, train_classifier
from webclassifier.twin import TwinPredictor, export_twin

ELSEWHERE = ROOT.parent/'shared'/'data'/'bears-elsewhere'
TILE, N, SEED, REPEATS = 224, 100, 0, 5

def square(img:Image.Image) -> Image.Image:
    "`img`'s centre square, TILE pixels a side"
    return ImageOps.fit(img.convert('RGB'), (TILE, TILE), Image.Resampling.BILINEAR)

def composites(bears:list, others:list, rng) -> list:
    "(composite, bear's tile index 0-3 in reading order) for each of `bears`, three of `others` in the other tiles"
    out = []
    for bear in bears:
        where, picks = int(rng.integers(4)), rng.choice(len(others), 3, replace=False)
        tiles = [square(others[i]) for i in picks]
        tiles.insert(where, square(bear))
        grid = Image.new('RGB', (2 * TILE, 2 * TILE))
        for i, t in enumerate(tiles): grid.paste(t, (i % 2 * TILE, i // 2 * TILE))
        out.append((grid, where))
    return out

def peak_tile(heatmap:list, size:tuple, steps:dict) -> int:
    "The tile (0-3, reading order) of a 2 x 2 composite of `size` in which the map's highest place lies"
    cells = np.asarray(heatmap)
    row, col = np.unravel_index(cells.argmax(), cells.shape)
    left, top, right, bottom = seen_box(size, steps)
    x = left + (col + .5) / cells.shape[1] * (right - left)
    y = top + (row + .5) / cells.shape[0] * (bottom - top)
    return int(y >= size[1] / 2) * 2 + int(x >= size[0] / 2)

def twin_with_maps(scratch:Path) -> tuple:
    "The shipped twin if it draws maps, else a twin of the shipped pickle made now in `scratch`; and which it is"
    shipped = TwinPredictor.load(ROOT/'export.pkl')
    if shipped.why_no_heatmap is None: return ROOT/'export.pkl', 'the shipped twin export.onnx'
    for name in ['export.pkl', 'model_card.json']: shutil.copy(ROOT/name, scratch/name)
    export_twin(scratch/'export.pkl')
    return scratch/'export.pkl', f'a twin of export.pkl made by this code (the shipped export.onnx: {shipped.why_no_heatmap})'

def bear_class_maps(p:Predictor, images:list, classes:list) -> np.ndarray:
    "Each image's class activation map for its class in `classes` (indices): the probe's weights times the body's output"
    import torch
    with torch.inference_mode():
        fmap = torch.cat([p.model[0](p.batch(images[i:i+16])) for i in range(0, len(images), 16)])
        return torch.einsum('nk,nkhw->nhw', p.weights[torch.tensor(classes)], fmap).numpy()

def composite_sources() -> tuple:
    "The composites' bear photos (bears-elsewhere's files), and their other tiles: ood_set.py's photos, crops and faces, by `kind-name`"
    bear_files = sorted(p for p in ELSEWHERE.glob('*/*') if p.suffix.lower() in {'.jpg', '.jpeg', '.png', '.webp'})
    ood = ood_images()
    return bear_files, {f'{kind}-{name}': im for kind in ('photos', 'crops', 'faces') for name, im in ood[kind].items()}

def halves(fillers:dict) -> list:
    "`fillers` split in two halves of their sources: a photo with its crops, by the photo's place in name order; faces by number"
    photos = sorted(k.removeprefix('photos-') for k in fillers if k.startswith('photos-'))
    def half(key):
        kind, name = key.split('-', 1)
        return int(name.removeprefix('face')) % 2 if kind == 'faces' else photos.index(name.split('-crop')[0]) % 2
    return [{k: v for k, v in fillers.items() if half(k) == h} for h in (0, 1)]

def refitted(data:Path, outside:list=None) -> Predictor:
    "The shipped predictor with its probe fitted again by the shipped recipe on `data`, with `outside` (data/ood's files) as its outside photos, or without an outside class"
    with tempfile.TemporaryDirectory() as tmp:  # as a folder, as the card names its outside photos (read in that order)
        folder = link_folder(outside, Path(tmp))/'ood' if outside else None
        learn = train_classifier(data, valid=[], outside=folder, log=lambda s: None, progress=False, **Recipe(outside_class=bool(outside)).training)
    p = Predictor.load(ROOT/'export.pkl')
    with torch.no_grad():
        p.model[1][-1].weight.copy_(learn.model[1][-1].weight); p.model[1][-1].bias.copy_(learn.model[1][-1].bias)
    p.weights = probe_weights(p.model)
    return p

def composite_set(bear_files:list, others:list, seed:int) -> tuple:
    "The `N` composites of `seed`, the bear's tile in each, and its bear photo's file"
    rng = np.random.default_rng(seed)
    files = [bear_files[i] for i in rng.choice(len(bear_files), N, replace=False)]
    grids = composites([read_image(f) for f in files], others, rng)
    return [g for g, _ in grids], np.array([w for _, w in grids]), files

def answer_hits(p, images:list, truth:np.ndarray, files:list) -> tuple:
    "`p`'s answers with maps; whether each map's peak is in the bear's tile, and whether each answer is the bear's class"
    res = [r for i in range(0, len(images), 16) for r in p.predict_images(images[i:i+16], explain=True)]
    hits = np.array([peak_tile(r['heatmap'], im.size, p.steps) for r, im in zip(res, images)]) == truth
    return res, hits, np.array([r['label'] == f.parent.name for r, f in zip(res, files)])

def own_class_hits(p:Predictor, images:list, truth:np.ndarray, files:list) -> np.ndarray:
    "Whether the peak of the map of each bear's own class is in its tile"
    maps = bear_class_maps(p, images, [p.vocab.index(f.parent.name) for f in files])
    return np.array([peak_tile(m, im.size, p.steps) for m, im in zip(maps, images)]) == truth

def map_work_ms(p:Predictor, photos:list) -> tuple:
    "Median over `photos` of the map's own work, best of REPEATS: fastai's (weighted sum, to numpy, scaling), and the scaling alone"
    import torch
    fastai_ms, rows_ms = [], []
    with torch.inference_mode():
        for im in photos:
            x = p.batch([im])
            fmap = p.model[0](x)
            top = p.model[1](fmap).argmax(1)
            cam = torch.einsum('nk,nkhw->nhw', p.weights[top], fmap).numpy()[0]
            fastai_ms.append(best_ms(lambda: heatmap_rows(torch.einsum('nk,nkhw->nhw', p.weights[top], fmap).numpy()[0])))
            rows_ms.append(best_ms(lambda: heatmap_rows(cam)))
    return statistics.median(fastai_ms), statistics.median(rows_ms)

def best_ms(f, repeats:int=REPEATS) -> float:
    "The fastest of `repeats` calls of `f`, in milliseconds"
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); f(); times.append(time.perf_counter() - start)
    return min(times) * 1000

def extra_ms(with_map, without_map, photos:list) -> tuple:
    "Per photo: the best time of `with_map([photo])` and of `without_map([photo])`, interleaved; medians of both and of the difference"
    pairs = []
    for im in photos:
        with_map([im]), without_map([im])  # warm
        a, b = [], []
        for _ in range(REPEATS):
            a.append(best_ms(lambda: with_map([im]), 1)); b.append(best_ms(lambda: without_map([im]), 1))
        pairs.append((min(a), min(b)))
    return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
            statistics.median(a - b for a, b in pairs))

def by_sureness(res:list, hits:np.ndarray) -> str:
    "The answer's map's hits among the answers the app is sure of, and among the others"
    sure = np.array([r['sure'] for r in res])
    return (f'sure of {sure.sum()}: {hits[sure].mean():.0%} ({hits[sure].sum()}/{sure.sum()}); "not sure" of {(~sure).sum()}: '
            f'{hits[~sure].mean():.0%} ({hits[~sure].sum()}/{(~sure).sum()})')

def pointing_game(say, p:Predictor, data:Path, ood:list, bear_files:list, splits:list) -> dict:
    "For each (name, fillers) of `splits`: seeds 0-9 of composites of `fillers`, scored by the recipe before the outside class and by the shipped recipe fitted with the images of data/ood (`ood`) not among `fillers`; each recipe's runs"
    pooled = {'before (no outside class)': [], 'now (outside class)': []}
    for split, fillers in splits:
        learnt = [f for f in ood if f.stem not in fillers]
        recipes = {'before (no outside class)': refitted(data), 'now (outside class)': refitted(data, learnt)}
        for seed in range(10):
            images, truth, files = composite_set(bear_files, list(fillers.values()), seed)
            for name, q in recipes.items():
                res, hits, right = answer_hits(q, images, truth, files)
                pooled[name].append((res, hits, right, own_class_hits(q, images, truth, files)))
                if seed == 0:
                    say(f'  {split}, seed 0, {name:25}: the answer\'s map peaks in the bear\'s tile in {hits.mean():.0%} ({hits.sum()}/{N}): '
                        f'{hits[right].mean():.0%} of the {right.sum()} answered with the bear\'s class, {hits[~right].sum()}/{(~right).sum()} of the others')
        say(f'  {split} ({len(fillers)} images, {len(learnt)} learnt), seeds 0-9, the answer\'s map: ' +
            '; '.join(f'{name} ' + ', '.join(f'{h.mean():.0%}' for _, h, _, _ in runs[-10:]) for name, runs in pooled.items()))
    return pooled

def paired_line(what:str, pooled:dict) -> str:
    "Before against now on the same composites: how many only one of them hits, and the exact sign test of that split"
    before, now = (np.concatenate([h for _, h, _, _ in runs]) for runs in pooled.values())
    gained, lost = int((now & ~before).sum()), int((before & ~now).sum())
    return (f'  {what}, paired (the same composites): hit now and missed before {gained}, the other way {lost}; '
            f'sign test p = {binomtest(gained, gained + lost).pvalue:.1e} (the intervals above count composites as independent: '
            f'they are not, the same bear photos recur across seeds and splits)')

def pooled_line(what:str, runs:list, vocab:list) -> str:
    "The pooled figures of `runs` (answers, hits, right answers, the bear class's own hits of each composite set)"
    res, hits = [r for rs, *_ in runs for r in rs], np.concatenate([h for _, h, _, _ in runs])
    right, own = np.concatenate([r for *_, r, _ in runs]), np.concatenate([o for *_, o in runs])
    low, high = binomtest(int(hits.sum()), len(hits)).proportion_ci(method='wilson')  # 95 %
    said = [r['label'] for r, ok in zip(res, right) if not ok]
    return (f'  {what} ({len(hits)} composites): the answer\'s map {hits.mean():.1%} (95% interval {low:.1%}-{high:.1%}); '
            f'answered with the bear\'s class {right.mean():.1%}; the bear class\'s own map {own.mean():.1%}; {by_sureness(res, hits)}; '
            f'the {len(said)} other answers: {", ".join(f"{said.count(c)} {c}" for c in vocab)}')

def main():
    card, lines = shipped_card(), []
    def say(s=''): print(s, flush=True); lines.append(s)
    scratch = Path(tempfile.mkdtemp())
    model, which = twin_with_maps(scratch)
    fastai_p, twin = Predictor.load(ROOT/'export.pkl'), TwinPredictor.load(model)
    twin_before_maps = TwinPredictor.load(old_twin(model, scratch/'old'))
    say(card['line'])
    say(f'onnx runtime: {which}')

    bear_files, fillers = composite_sources()
    split = halves(fillers)
    data, ood = card_data(card), sorted((ROOT/'data'/'ood').iterdir())
    shipped_again = refitted(data, ood)
    assert torch.allclose(shipped_again.weights, fastai_p.weights, atol=1e-4), 'the recipe fitted again is not the shipped probe'
    say(f'\nThe pointing game: composites (2 x 2 tiles of {TILE} px), each a bear photo of {len(bear_files)} in {ELSEWHERE.name} '
        f'and three images of none of the classes (ood_set.py: photos, crops, faces) of one half of its sources '
        f'({len(split[0])} and {len(split[1])} images), scored by the shipped recipe fitted with the other half as its '
        f'outside photos (fitted with all of them: the shipped probe, checked); chance 25%')
    pooled = pointing_game(say, fastai_p, data, ood, bear_files, [(f'half {i}', h) for i, h in enumerate(split)])
    for name, runs in pooled.items(): say(pooled_line(f'both halves, seeds 0-9 pooled, {name}', runs, fastai_p.vocab))
    say(paired_line('both halves', pooled))
    by_half = {k: v for h in split for k, v in h.items()}  # in the halves' order, as the composites below were first made
    say('  Across kinds: the composites\' other tiles of one kind, the outside class learnt from the others (and the synthetic images)')
    kinds = [(kind, {k: v for k, v in by_half.items() if k.startswith('faces-') == (kind == 'faces')}) for kind in ('faces', 'photos and crops')]
    pooled = pointing_game(say, fastai_p, data, ood, bear_files, kinds)
    for name, runs in pooled.items(): say(pooled_line(f'both kinds, seeds 0-9 pooled, {name}', runs, fastai_p.vocab))
    say(paired_line('both kinds', pooled))
    images, truth, files = composite_set(bear_files, list(by_half.values()), SEED)
    answers = {name: answer_hits(p, images, truth, files) for name, p in [('fastai', fastai_p), ('onnx', twin)]}
    pairs = list(zip(answers['fastai'][0], answers['onnx'][0]))
    same = np.mean([np.argmax(a['heatmap']) == np.argmax(b['heatmap']) for a, b in pairs])
    diff = max(np.abs(np.array(a['heatmap']) - np.array(b['heatmap'])).max() for a, b in pairs)
    say(f'  the runtimes\' maps (the shipped model, seed 0 of composites of all of them): the same peak on {same:.0%}, largest difference {diff:.1e}')
    bears = [read_image(f) for f in files]

    say(f'\nThe map\'s extra time per photo ({N} bear photos answered alone, decoded beforehand; best of {REPEATS} each, '
        f'interleaved; medians over photos)')
    timings = [('fastai', lambda ims: fastai_p.predict_images(ims, explain=True), fastai_p.predict_images),
               ('onnx', lambda ims: twin.predict_images(ims, explain=True), twin_before_maps.predict_images)]
    for name, with_map, without_map in timings:
        a, b, d = extra_ms(with_map, without_map, bears)
        say(f'  {name:6}: {b:.2f} ms without the map, {a:.2f} ms with it: {d:+.2f} ms per photo')
    fastai_work, rows_work = map_work_ms(fastai_p, bears)
    say(f'  the map\'s own work, timed alone: fastai {fastai_work:.3f} ms (weighted sum, to numpy, heatmap_rows), '
        f'onnx {rows_work:.3f} ms after the graph (heatmap_rows)')
    overlay = statistics.median(best_ms(lambda: heatmap_overlay(im, r['heatmap'], twin.steps))
                                for im, r in zip(bears, twin.predict_images(bears[:16], explain=True)))
    say(f'  drawing it (heatmap_overlay, 256 x 256, median of 16 photos): {overlay:.2f} ms')

    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    for ax, im, r, t in zip(axes.flat, images, answers['onnx'][0], truth):
        ax.imshow(heatmap_overlay(im, r['heatmap'], twin.steps)); ax.set_axis_off()
        ax.set_title(f"{r['label']} {r['probability']:.0%}: {'hit' if peak_tile(r['heatmap'], im.size, twin.steps) == t else 'miss'}")
    fig.tight_layout()
    out = ROOT/'benchmarks'/'out'
    fig.savefig(out/'heatmaps.png', dpi=72)
    say('\n(the first 8 composites of all of them, which the shipped probe learnt, with their onnx maps: benchmarks/out/heatmaps.png)')
    (out/'heatmaps.txt').write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
