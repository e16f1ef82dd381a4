"""`webclassifier evaluate` on the shipped model and the validation split of ../shared/data/bears it was trained with
(the same 83 photos as its card's accuracy): the two must agree. Output: benchmarks/out/evaluate.txt and
benchmarks/out/evaluate_shipped/ (confusion matrix, per-class metrics, every answer).
Usage: .venv/bin/python benchmarks/evaluate_shipped.py"""
import json, os, subprocess, sys, tempfile
from pathlib import Path
from webclassifier.data import image_dataloaders

ROOT = Path(__file__).absolute().parent.parent
BEARS = ROOT.parent/'shared'/'data'/'bears'

def validation_folder(card:dict, dest:Path) -> Path:
    "The validation photos of the split `card` was trained with, linked into `dest/<label>/`"
    dls = image_dataloaders(BEARS, size=card['size'], bs=card['bs'], seed=card['seed'], report=lambda s: None)
    for fn in dls.valid_ds.items:
        (dest/fn.parent.name).mkdir(parents=True, exist_ok=True)
        os.symlink(fn.resolve(), dest/fn.parent.name/fn.name)
    return dest

def main():
    card = json.loads((ROOT/'model_card.json').read_text())
    valid = validation_folder(card, Path(tempfile.mkdtemp())/'valid')
    cli = Path(sys.executable).parent/'webclassifier'
    res = subprocess.run([cli, 'evaluate', valid, '--model', ROOT/'export.pkl', '--report', ROOT/'benchmarks'/'out'/'evaluate_shipped'],
                         capture_output=True, text=True, check=True)
    lines = [f'shipped model {card["sha256"][:12]} on the validation split of {BEARS.name} (seed {card["seed"]}, {sum(1 for _ in valid.rglob("*.*"))} photos)',
             f'its card says: accuracy {card["metrics"]["accuracy"]:.1%} of {card["metrics"]["n_valid"]}', '', '$ webclassifier evaluate VALID --model export.pkl',
             res.stdout.strip()]
    (ROOT/'benchmarks'/'out'/'evaluate.txt').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__': main()
