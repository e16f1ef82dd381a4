"""What the model sees of a photo, tried for issue 30's 95 % elsewhere: the shipped view against the whole photo.

    .venv/bin/python benchmarks/model_view.py     -> benchmarks/out/model_view.txt (about 6 minutes)

The shipped recipe's `RandomResizedCrop(256)` shows the model, outside training, fastai's validation view: the photo
squashed to 296 px (256 + `val_xtra` 0.14 of it, rounded up to 40 px), then its centre 256 px, so 20 px (about 7 %) of
each edge is cut off.
Tried instead: the whole photo squashed (`val_xtra=0`), the whole photo letterboxed (`Resize(method='pad')`), and more
cropped (`val_xtra` 0.25, 0.4). Each view's EfficientNet-Lite0 features (the photo's and its mirror image's) feed the
shipped probe's fit (C = 3), judged by 5-fold cross-validation (near-copy groups, as final_fit.py) and on the 448
photos of ../shared/data/bears-elsewhere (never trained on), with and without test-time mirror averaging."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import torch
from fastai.vision.all import RandomResizedCrop, Resize, Normalize
from final_fit import probe_setting, fitted
from shipped import output_file
from webclassifier.backbones import efficientnet_lite0, efficientnet_body
from webclassifier.data import image_datablock
from webclassifier.features import pooled_features
from webclassifier.train import PROBE_C

VIEWS = {'centre crop, val_xtra 0.14 (shipped)': RandomResizedCrop(256, min_scale=0.5),
         'whole photo squashed (val_xtra 0)': RandomResizedCrop(256, min_scale=0.5, val_xtra=0),
         'whole photo letterboxed': Resize(256, method='pad', pad_mode='zeros'),
         'centre crop, val_xtra 0.25': RandomResizedCrop(256, min_scale=0.5, val_xtra=0.25),
         'centre crop, val_xtra 0.4': RandomResizedCrop(256, min_scale=0.5, val_xtra=0.4)}

def view_features(body, dls, items:list) -> torch.Tensor:
    "The L2-normalised pooled features of `items` and their mirror images (items, 2, channels), as `dls` shows them"
    with torch.no_grad():  # not inference_mode: its tensors could not go into the probe's fit (autograd)
        return torch.cat([pooled_features(body, xb.as_subclass(torch.Tensor)) for xb, in dls.test_dl(items, bs=8, num_workers=0)])

def main():
    card, data, dls, vocab, files, elsewhere, labels, far, folds = probe_setting()
    assert card['arch'] == 'efficientnet_lite0' and card['size'] == 256, 'VIEWS are written for the shipped Lite0 at 256 px'
    print(card['line'])
    far = torch.tensor([vocab.index(c) for c in far])
    body = efficientnet_body(efficientnet_lite0()).eval()
    print(f'{len(files)} photos of {card["data"]}, {len(elsewhere)} from elsewhere; the probe at C = {PROBE_C:g}')
    print(f'{"view":38} | CV wrong | elsewhere            | mirror-averaged')
    for name, view in VIEWS.items():
        # the card's DataBlock (image_datablock) with `view` as its item transform; normalised as the card's backbone wants
        dblock = image_datablock(card['size'], files=files).new(item_tfms=view, batch_tfms=Normalize.from_stats([0.5]*3, [0.5]*3))
        dls = dblock.dataloaders(data, bs=8, num_workers=0)
        train, away = view_features(body, dls, files), view_features(body, dls, elsewhere)
        wrong = 0
        for fold in range(5):
            t = torch.tensor(folds != fold)
            w, b = fitted(train[t], labels[t], len(vocab), PROBE_C)
            wrong += int(((train[~t][:, 0] @ w.T + b).argmax(1) != labels[~t]).sum())
        w, b = fitted(train, labels, len(vocab), PROBE_C)
        right, mirrored = ((away[:, 0] @ w.T + b).argmax(1) == far), ((away.mean(1) @ w.T + b).argmax(1) == far)
        print(f'{name:38} | {wrong} of {len(files)} | {right.float().mean():.2%} ({(~right).sum()} wrong) | '
              f'{mirrored.float().mean():.2%} ({(~mirrored).sum()} wrong)', flush=True)

if __name__ == '__main__':
    with output_file('model_view.txt'): main()
