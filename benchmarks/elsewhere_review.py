"""What the shipped model gets wrong on photos from elsewhere, and what those photos are.

    .venv/bin/python benchmarks/elsewhere_review.py     -> benchmarks/out/elsewhere_review.txt, elsewhere_wrong.jpg

../shared/data/bears-elsewhere (448 photos of another scrape, never trained on) is labelled by the folder its search
filled, not by a person. benchmarks/elsewhere_kinds.csv is a review by eye of every one of its photos, made blind: the
reviewer saw them as numbered thumbnails in a shuffled order, without their folder or any model's answer, and said of
each whether it is a photograph of a real bear (`bear`), a photograph of a stuffed toy bear (`plush`), or something else
(`other`: drawings, cartoons, figurines, logos, mascot costumes, collages). Each row names its file and the first 16 hex
digits of its SHA-256, checked here. The review is one reader's judgement from thumbnails, so figures on its subsets
describe this data set; they are not the headline accuracy, which stays the folders'.

Printed: the shipped model's accuracy on every photo (the folders' labels, as benchmarks/evaluate_shipped.py measures);
the same on the photos that are what their folder names (a real bear in black/ or grizzly/, a stuffed toy in teddy/) and
on the rest; what "not sure" keeps and flags of each; how many near-copy groups (`near_copy_groups`: the same picture
resized or re-encoded) it holds; and each wrong answer with its kind, and whether it is a frame of the one clip that
`ONE_CLIP` names."""
import csv, hashlib, sys
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw, ImageOps
sys.path.insert(0, str(Path(__file__).parent))
from shipped import ROOT, shipped_card, output_file
from webclassifier.cv import near_copy_groups
from webclassifier.data import readable_images
from webclassifier.images import read_image
from webclassifier.predict import Predictor

ELSEWHERE = ROOT.parent/'shared'/'data'/'bears-elsewhere'
REVIEW = Path(__file__).parent/'elsewhere_kinds.csv'
NAMED = {'black': 'bear', 'grizzly': 'bear', 'teddy': 'plush'}  # the kind of photo each folder's name asks for
# frames of one video (two bears fighting on a wet road by a yellow sign), seen by eye among the wrong answers (not blind);
# grizzly/00000145.jpg, two of its frames side by side, is a collage (`other`) in the review
ONE_CLIP = {'grizzly/00000034.jpg', 'grizzly/00000063.jpg', 'grizzly/00000065.jpg', 'grizzly/00000066.jpg', 'grizzly/00000129.jpg'}

def reviewed_kinds(files:list) -> dict:
    "Each of `files`' (kind, note) from the review; every file must be in it, with the bytes it was reviewed with"
    rows = {r['file']: r for r in csv.DictReader(REVIEW.open())}
    kinds = {}
    for f in files:
        name = f.relative_to(ELSEWHERE).as_posix()
        if name not in rows: raise SystemExit(f'{REVIEW}: no row for {name}')
        if hashlib.sha256(f.read_bytes()).hexdigest()[:16] != rows[name]['sha256']: raise SystemExit(f'{name}: not the photo that was reviewed')
        kinds[f] = rows[name]['kind'], rows[name]['note']
    return kinds

def contact_sheet(rows:list, path:Path, side:int=160, columns:int=6):
    "Thumbnails of `rows` (file, caption) in a grid, each captioned, saved to `path`"
    sheet = Image.new('RGB', (columns * side, -(-len(rows) // columns) * (side + 28)), 'white')
    draw = ImageDraw.Draw(sheet)
    for i, (f, caption) in enumerate(rows):
        x, y = i % columns * side, i // columns * (side + 28)
        sheet.paste(ImageOps.contain(read_image(f).convert('RGB'), (side - 4, side - 4)), (x + 2, y + 28))
        for line, text in enumerate(caption.split('\n')[:2]): draw.text((x + 2, y + 2 + 12 * line), text, fill='black')
    sheet.save(path, quality=85)

def main():
    card = shipped_card()
    print(card['line'])
    files = readable_images(ELSEWHERE, log=lambda s: None)
    kinds = reviewed_kinds(files)
    p = Predictor.load(ROOT/'export.pkl')
    answers = [a for i in range(0, len(files), 16) for a in p.predict_images([read_image(f) for f in files[i:i+16]])]
    actual = np.array([f.parent.name for f in files])
    right = np.array([a['label'] for a in answers]) == actual
    named = np.array([kinds[f][0] == NAMED[f.parent.name] for f in files])
    print(f'{ELSEWHERE} ({len(files)} photos, never trained on); the review by eye: {REVIEW.name}')
    for c in p.vocab:
        counts = {k: sum(1 for f in files if f.parent.name == c and kinds[f][0] == k) for k in ('bear', 'plush', 'other')}
        print(f'  {c + "/":9} {sum(actual == c)} photos: ' + ', '.join(f'{n} {k}' for k, n in counts.items()))
    print(f'accuracy on every photo (the folders\' labels): {right.mean():.2%} ({(~right).sum()} wrong of {len(files)})')
    print(f'  on the {named.sum()} that are what their folder names (a real bear in black/ or grizzly/, a stuffed toy in teddy/): '
          f'{right[named].mean():.2%} ({(~right[named]).sum()} wrong)')
    print(f'  on the other {(~named).sum()} (drawings, figurines, logos, costumes; toys in a bear folder, bears in teddy/): '
          f'{right[~named].mean():.2%} ({(~right[~named]).sum()} wrong)')
    sure = np.array([a['sure'] for a in answers])
    print(f'"not sure": keeps {sure[named].mean():.1%} of the photos named by their folder, right on {right[named & sure].mean():.2%} of those '
          f'kept; flags {(~sure[~named]).mean():.0%} of the others; {(~sure[~right]).sum()} of the {(~right).sum()} wrong answers are "not sure"')
    sizes = np.bincount(near_copy_groups(files))
    print(f'near-copies (`near_copy_groups`): {len(sizes)} groups for {len(files)} photos, {(sizes > 1).sum()} of more than one')
    names = [f.relative_to(ELSEWHERE).as_posix() for f in files]
    clip = np.array([n in ONE_CLIP for n in names])
    print(f'{(clip & named & ~right).sum()} of the {(named & ~right).sum()} wrong answers on the photos named by their folder are frames of one clip (ONE_CLIP)')
    print('the wrong answers (file: folder -> answer, probability; the review\'s kind):')
    wrong = [i for i in np.argsort(names) if not right[i]]
    for i in wrong:
        kind, note = kinds[files[i]]
        print(f'  {names[i]}: {actual[i]} -> {answers[i]["label"]} {answers[i]["probability"]:.0%}'
              f'{"" if answers[i]["sure"] else " (not sure)"}; {kind}{" (" + note + ")" if note else ""}{"; one clip" if clip[i] else ""}')
    out = ROOT/'benchmarks'/'out'/'elsewhere_wrong.jpg'
    contact_sheet([(files[i], f'{names[i]} -> {answers[i]["label"]}\n{kinds[files[i]][0]}') for i in wrong], out)
    print(f'(the wrong ones: {out.relative_to(ROOT)})')

if __name__ == '__main__':
    with output_file('elsewhere_review.txt'): main()
