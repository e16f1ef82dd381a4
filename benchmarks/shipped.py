"""The shipped model's card, and the data set it names: rebuilt from ../shared when missing, checked against the card's
`data_sha256`, and its validation split made as the card says. The benchmarks that score the shipped model start here.

    .venv/bin/python benchmarks/shipped.py     # makes the shipped model (export.pkl, export.onnx, model_card.json, ...)

Run as a script, it makes the shipped model as the README says, with the project's command line: the cleaned copy of
../shared/data/bears (cleaning/bears.csv) in data/bears-cleaned, the 200 out-of-class images of benchmarks/ood_set.py in
data/ood (each made only if missing), then `webclassifier train data/bears-cleaned --outside data/ood --report
reports/bears` with every other setting the `Recipe` default: export.pkl, its ONNX twin export.onnx (06b_twin),
model_card.json, export.cv.json and a row of runs.csv, at the repository's root."""
import contextlib, hashlib, io, json, os, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
BEARS = ROOT.parent/'shared'/'data'/'bears'
DECISIONS = ROOT/'cleaning'/'bears.csv'

@contextlib.contextmanager
def output_file(name:str):
    "Print as usual; when the block ends without an error, write all it printed to benchmarks/out/`name` (a failed assertion writes nothing)"
    class Tee(io.StringIO):
        def write(self, text): sys.__stdout__.write(text); sys.__stdout__.flush(); return super().write(text)
    tee = Tee()
    with contextlib.redirect_stdout(tee): yield
    (ROOT/'benchmarks'/'out'/name).write_text(tee.getvalue())

def shipped_card() -> dict:
    "The shipped model's card (which must vouch for export.pkl), with `tag`: the first 12 hex digits of the pickle's SHA-256, which every output names"
    card = json.loads((ROOT/'model_card.json').read_text())
    if hashlib.sha256((ROOT/'export.pkl').read_bytes()).hexdigest() != card['sha256']: raise SystemExit('export.pkl: not the model model_card.json describes')
    return dict(card, tag=card['sha256'][:12], line=f"shipped model {card['sha256'][:12]} ({card['recipe']}, {card['arch']} at {card['size']} px, trained on {card['data']})")

def card_data(card:dict) -> Path:
    "The folder `card['data']`, or if it is missing the cleaned set rebuilt from ../shared in a temporary folder; its fingerprint must be the card's"
    from webclassifier.clean import cleaned_copy
    from webclassifier.pipeline import dataset_fingerprint
    data = ROOT/card['data']
    if not data.is_dir():
        if not BEARS.is_dir(): raise SystemExit(f'{BEARS}: not found: the shipped model\'s data is rebuilt from ../shared beside the repo')
        data = Path(tempfile.mkdtemp())/Path(card['data']).name
        cleaned_copy(BEARS, DECISIONS, data)
    if dataset_fingerprint(data) != card['data_sha256']:
        raise SystemExit(f"{data}: not the data the shipped model was trained on (its fingerprint is not the card's data_sha256 {card['data_sha256'][:12]})")
    return data

def valid_items(card:dict, data:Path) -> list:
    "The validation photos of `data` the card records (`split.valid`, by SHA-256); for a card made before it had one, the split made again by its seed, size and batch size"
    from webclassifier.card import valid_photos
    from webclassifier.data import image_dataloaders, readable_images
    found = valid_photos(card, readable_images(data, log=lambda s: None))
    if found is not None: return found
    return list(image_dataloaders(data, size=card['size'], bs=card['bs'], seed=card['seed'], log=lambda s: None).valid_ds.items)

def link_folder(items:list, dest:Path) -> Path:
    "`items` (photos in class folders) linked into `dest/<label>/`"
    for fn in items:
        (dest/fn.parent.name).mkdir(parents=True, exist_ok=True)
        os.symlink(Path(fn).resolve(), dest/fn.parent.name/fn.name)
    return dest

def make():
    "The shipped model, made by the command line as the README says; its card's summary"
    cli = Path(sys.executable).parent/'webclassifier'
    if not (ROOT/'data'/'bears-cleaned').is_dir():
        subprocess.run([cli, 'clean-copy', BEARS, DECISIONS, 'data/bears-cleaned'], cwd=ROOT, check=True)
    if not (ROOT/'data'/'ood').is_dir():
        subprocess.run([sys.executable, ROOT/'benchmarks'/'ood_set.py', 'data/ood'], cwd=ROOT, check=True)
    subprocess.run([cli, 'train', 'data/bears-cleaned', '--outside', 'data/ood', '--report', 'reports/bears'], cwd=ROOT, check=True)
    from webclassifier.pipeline import card_summary
    print(card_summary(ROOT/'export.pkl'))

if __name__ == '__main__': make()
