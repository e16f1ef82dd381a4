"""Issue 30's 95 % on photos from elsewhere, tried with augmented views: the shipped probe (EfficientNet-Lite0 features at
256 px, C = 3) fitted on each training photo's features and, besides, those of altered copies of it (grey, zoomed out onto
a blurred copy of itself, a random 50-80 % crop, posterised "cartoon", colour jitter; seeded), judged like
probe_variants.py: 5-fold cross-validation by near-copy groups (the folds' validation photos unaltered) and the 448 photos
of ../shared/data/bears-elsewhere (never trained on).

    .venv/bin/python benchmarks/augmented_views.py     # -> benchmarks/out/augmented_views.txt (about 10 minutes)"""
import sys, random
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import numpy as np, torch, torch.nn.functional as F
from PIL import Image, ImageOps, ImageFilter, ImageEnhance
from final_fit import *
from webclassifier.features import pooled_features
lines = []
def say(line): print(line, flush=True); lines.append(line)
card, data, dls, vocab, files, elsewhere, labels, far, folds = probe_setting()
say(card['line'])
arch = 'efficientnet_lite0'
learn = make_learner(dls, arch, head=probe_head(N_FEATURES[arch], len(vocab))); body = learn.model[0].eval()
key = feature_key(arch, card['size'])
F0, E0 = [cached_features(body, dls, items, key) for items in (files, elsewhere)]
rng = random.Random(0)
def open_rgb(f): return ImageOps.exif_transpose(Image.open(f)).convert('RGB')
def gray(im): return ImageOps.grayscale(im).convert('RGB')
def zoomout(im):
    s = rng.uniform(0.45, 0.7); w, h = im.size; small = im.resize((max(1, int(w*s)), max(1, int(h*s))))
    canvas = im.filter(ImageFilter.GaussianBlur(30)); canvas = ImageEnhance.Brightness(canvas).enhance(rng.uniform(0.6, 1.4))
    canvas.paste(small, (rng.randint(0, w - small.size[0]), rng.randint(0, h - small.size[1]))); return canvas
def crop(im):
    w, h = im.size; s = rng.uniform(0.5, 0.8); cw, ch = int(w*s), int(h*s); x, y = rng.randint(0, w-cw), rng.randint(0, h-ch)
    return im.crop((x, y, x+cw, y+ch))
def cartoon(im): return ImageOps.posterize(im.filter(ImageFilter.SMOOTH_MORE).filter(ImageFilter.SMOOTH_MORE), 3)
def jitter(im):
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.3, 1.6)); im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.6, 1.4))
    return ImageEnhance.Brightness(im).enhance(rng.uniform(0.6, 1.5))
def feats_of_view(fn):
    ims = [fn(open_rgb(f)) for f in files]
    out = []
    with torch.inference_mode():
        for xb, in dls.test_dl(ims, bs=4, num_workers=0): out.append(pooled_features(body, xb.as_subclass(torch.Tensor)))
    return torch.cat(out)
V = {fn.__name__: feats_of_view(fn) for fn in (gray, zoomout, crop, cartoon, jitter)}
def run(name, extra, C=3):
    def fit(idx):
        xs = [F0[idx]] + [V[v][idx] for v in extra]
        x = torch.cat(xs, 1)
        return fit_probe(x.flatten(0, 1), labels[idx].repeat_interleave(x.shape[1]), 3, C)
    wrong = 0
    for fold in range(5):
        t = torch.tensor(folds != fold); w, b = fit(t)
        wrong += int(((F0[~t][:, 0] @ w.T + b).argmax(1) != labels[~t]).sum())
    w, b = fit(torch.ones(len(files), dtype=bool))
    p = (E0[:, 0] @ w.T + b).argmax(1).numpy(); acc = (np.array(vocab)[p] == far).mean()
    say(f'{name:34} C={C:<3g} | CV wrong {wrong} of {len(files)} | elsewhere {acc:.2%} ({int(round((1-acc)*len(far)))} wrong of {len(far)})')
run('none', [])
for v in V: run(v, [v])
run('gray+zoomout', ['gray', 'zoomout']); run('all', list(V)); run('all', list(V), C=1); run('gray+jitter+cartoon', ['gray', 'jitter', 'cartoon'])
run('crop+zoomout', ['crop', 'zoomout'])
(Path(__file__).parent/'out'/'augmented_views.txt').write_text('\n'.join(lines) + '\n')
