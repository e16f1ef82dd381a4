"""How far the shipped model's features can go on photos from elsewhere: the backbone's own ImageNet classifier, never
trained on either scrape, against the shipped probe.

    .venv/bin/python benchmarks/imagenet_head.py     -> benchmarks/out/imagenet_head.txt (about 2 minutes)

The shipped probe is a linear layer on EfficientNet-Lite0's pooled features, fitted on the 414 photos of one scrape. The
same body came with a linear layer of its own: ImageNet's 1,000-class classifier, fitted on 1.28 million photos, among
them up to 1,300 each of "brown bear", "American black bear" and "teddy bear". Read as a three-class classifier (the
largest of those three logits), it needs no training on the bears at all. Both read the same features (checked: the
shipped body's weights are the ImageNet body's), so if ImageNet's classifier does no better than the probe on
../shared/data/bears-elsewhere, what holds the probe back is what those features see, not how it was fitted.

Printed for the shipped probe, ImageNet's three classes, and the mean of their log-probabilities: accuracy on the card's
data, on the 448 photos from elsewhere (the folders' labels), and on its two parts by benchmarks/elsewhere_kinds.csv
(photos that are what their folder names; drawings, figurines, costumes and the like), as elsewhere_review.py splits them;
and what ImageNet's classifier answers among all its 1,000 classes for the photos from elsewhere."""
import sys
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).parent))
from shipped import ROOT, shipped_card, card_data, output_file
from elsewhere_review import ELSEWHERE, NAMED, reviewed_kinds
from fastai.learner import load_learner
from webclassifier.backbones import efficientnet_lite0, efficientnet_body, IMAGENET_CLASSES
from webclassifier.data import readable_images

IMAGENET = {'black': 295, 'grizzly': 294, 'teddy': 850}  # "American black bear", "brown bear", "teddy, teddy bear"
CATEGORIES = IMAGENET_CLASSES  # ImageNet's class names (no download)

def logits(learn, fc, files:list) -> tuple:
    "The shipped probe's and ImageNet's classifier's logits for `files`, from one pass of the shipped body"
    probe, imagenet = [], []
    with torch.inference_mode():
        for xb, in learn.dls.test_dl(files, bs=16, num_workers=0):
            maps = learn.model[0](xb.as_subclass(torch.Tensor))
            probe.append(learn.model[1](maps)); imagenet.append(fc(maps.mean((2, 3))))
    return torch.cat(probe), torch.cat(imagenet)

def main():
    card = shipped_card()
    print(card['line'])
    learn = load_learner(ROOT/'export.pkl')
    learn.model.eval()
    vocab = list(learn.dls.vocab)
    net = efficientnet_lite0().eval()
    same = all(torch.equal(a, b) for a, b in zip(learn.model[0].state_dict().values(), efficientnet_body(net).state_dict().values()))
    assert same, 'the shipped body is not the ImageNet body'
    print("the shipped body's weights are EfficientNet-Lite0's ImageNet weights: the probe and ImageNet's classifier read the same features")
    columns = [IMAGENET[c] for c in vocab]
    data, elsewhere = readable_images(card_data(card), log=lambda s: None), readable_images(ELSEWHERE, log=lambda s: None)
    kinds = reviewed_kinds(elsewhere)
    named = np.array([kinds[f][0] == NAMED[f.parent.name] for f in elsewhere])
    print(f'{len(data)} photos of {card["data"]} (the probe was fitted on all of them: its cross-validated figure is in cv.txt); '
          f'{len(elsewhere)} from {ELSEWHERE.name}, {named.sum()} of them what their folder names ({Path(__file__).parent.name}/elsewhere_kinds.csv)')
    print(f'{"classifier":44} | card\'s data | elsewhere            | named by folder | the other {(~named).sum()}')
    results = {}
    for files in (data, elsewhere):  # elsewhere last: `imagenet` is its logits below
        probe, imagenet = logits(learn, net._fc, files)
        three = imagenet[:, columns]
        truth = torch.tensor([vocab.index(f.parent.name) for f in files])
        answers = {'shipped probe (fitted on the card\'s data)': probe,
                   'ImageNet\'s classifier, its three classes': three,
                   'mean of the two log-probabilities': F.log_softmax(probe, 1) + F.log_softmax(three, 1)}
        for name, out in answers.items(): results.setdefault(name, []).append((out.argmax(1) == truth).numpy())
    for name, (on_data, right) in results.items():
        print(f'{name:44} | {on_data.mean():.2%}     | {right.mean():.2%} ({(~right).sum()} wrong)    | '
              f'{right[named].mean():.2%} ({(~right[named]).sum()}) | {right[~named].mean():.2%} ({(~right[~named]).sum()})')
    both = ~results['shipped probe (fitted on the card\'s data)'][1] & ~results['ImageNet\'s classifier, its three classes'][1]
    print(f'wrong by both the probe and ImageNet\'s classifier: {both.sum()} photos from elsewhere, {(both & ~named).sum()} of them not what their folder names')
    top = imagenet.argmax(1)
    outside = ~np.isin(top.numpy(), columns)
    counts = np.bincount(top[outside].numpy(), minlength=1000)
    print(f'ImageNet\'s top answer among all 1,000 classes for the photos from elsewhere is none of the three for {outside.sum()} '
          f'({(outside & ~named).sum()} of them not what their folder names); its classes then: '
          + ', '.join(f'{CATEGORIES[i]} ×{counts[i]}' for i in np.argsort(-counts)[:6] if counts[i]))

if __name__ == '__main__':
    with output_file('imagenet_head.txt'): main()
