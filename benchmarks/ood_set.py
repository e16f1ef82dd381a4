"An out-of-class photo set made offline: scikit-image and scikit-learn sample photos, crops of them, faces, and synthetic images"
import numpy as np
from PIL import Image

def sample_photos():
    "The colour and grey sample photos that scikit-image and scikit-learn ship, by name"
    from skimage import data
    names = ['astronaut', 'camera', 'coffee', 'chelsea', 'rocket', 'hubble_deep_field', 'immunohistochemistry', 'retina',
             'page', 'text', 'coins', 'moon', 'grass', 'gravel', 'brick', 'cell', 'colorwheel', 'logo', 'horse', 'clock', 'motorcycle_left']
    photos = {}
    for n in names:
        f = getattr(data, n, None)
        if f is None: continue
        a = f()
        if a.dtype == bool: a = a.astype(np.uint8)*255
        photos[n] = Image.fromarray(a[..., :3] if a.ndim == 3 else a).convert('RGB')
    from sklearn.datasets import load_sample_images
    for n, a in zip(['china', 'flower'], load_sample_images().images): photos[n] = Image.fromarray(a)
    return photos

def crops(photos:dict, per_photo:int=4, seed:int=0):
    "Random crops (a third to two thirds of each side) of each photo"
    rng, out = np.random.default_rng(seed), {}
    for n, im in photos.items():
        w, h = im.size
        for i in range(per_photo):
            cw, ch = int(w*rng.uniform(.33, .67)), int(h*rng.uniform(.33, .67))
            x, y = int(rng.integers(0, w-cw)), int(rng.integers(0, h-ch))
            out[f'{n}-crop{i}'] = im.crop((x, y, x+cw, y+ch))
    return out

def faces(n:int=30):
    "Faces from scikit-image's LFW subset (25 px, grey), upscaled"
    from skimage import data
    return {f'face{i}': Image.fromarray((a*255).astype(np.uint8)).convert('RGB').resize((160, 160)) for i, a in enumerate(data.lfw_subset()[:n])}

def synthetic(n:int=10, seed:int=0):
    "Noise, solid colours, gradients, stripes and checkerboards"
    rng, out = np.random.default_rng(seed), {}
    for i in range(n):
        out[f'uniform-noise{i}'] = Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8))
        out[f'gauss-noise{i}'] = Image.fromarray(np.clip(rng.normal(128, 40, (224, 224, 3)), 0, 255).astype(np.uint8))
        out[f'solid{i}'] = Image.new('RGB', (224, 224), tuple(int(c) for c in rng.integers(0, 256, 3)))
        g = np.linspace(0, 1, 224)[None, :, None] * rng.integers(0, 256, 3)[None, None, :]
        out[f'gradient{i}'] = Image.fromarray(np.broadcast_to(g, (224, 224, 3)).astype(np.uint8))
        period = int(rng.integers(4, 40))
        stripes = ((np.arange(224) // period) % 2)[None, :].repeat(224, 0)
        out[f'stripes{i}'] = Image.fromarray((stripes*255).astype(np.uint8)).convert('RGB').rotate(float(rng.uniform(0, 180)))
        checker = ((np.arange(224)[:, None]//period + np.arange(224)[None, :]//period) % 2)
        out[f'checker{i}'] = Image.fromarray((checker*255).astype(np.uint8)).convert('RGB')
    return out

def ood_images():
    "All of them: {kind: {name: PIL image}}"
    photos = sample_photos()
    return dict(photos=photos, crops=crops(photos), faces=faces(), synthetic=synthetic())

if __name__ == '__main__':  # python benchmarks/ood_set.py DIR: write them as DIR/<kind>-<name>.png (for `webclassifier train --outside DIR`)
    import sys
    from pathlib import Path
    out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
    for kind, images in ood_images().items():
        for name, im in images.items(): im.save(out/f'{kind}-{name}.png')
    print(f'{sum(len(v) for v in ood_images().values())} images in {out}')
