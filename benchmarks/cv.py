"""Cross-validate a training recipe by near-copy groups on the shipped model's data, and compare the runs saved so far.

    .venv/bin/python benchmarks/cv.py run NAME [--recipe R] [--arch A] [--epochs N] [--size S] [--k 5]   (default: the card's recipe; seconds per fold for the probe)
    .venv/bin/python benchmarks/cv.py compare                                                            (every saved run, at once)
    .venv/bin/python benchmarks/cv.py latency                                                            (each backbone's size and CPU time, at the card's size)

`run` trains k models with `webclassifier.cv.cross_validate` (each validated on one fold of near-copy groups) on the data
set the card names (`shipped.card_data`: rebuilt from ../shared if missing, its fingerprint checked), records
test-time-augmented probabilities too, and has every fold's model score the out-of-class set of benchmarks/ood_set.py.
Every out-of-fold row is saved to benchmarks/out/cv/NAME.json, so `compare` re-reads them: accuracy with and without
TTA, the cross-fitted "not sure" check (each fold judged by thresholds calibrated on the other folds) for one
threshold or one per class, k = 1 to 5 nearest training photos, and the card's own calibration. A run of the card's
recipe must reproduce the card's `cross_validation` figures: `run` and `compare` assert it.
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
ROOT = Path(__file__).parent.parent
OUT = ROOT/'benchmarks'/'out'/'cv'
sys.path.insert(0, str(Path(__file__).parent))
from shipped import shipped_card, card_data, output_file

def write_ood(folder:Path) -> Path:
    "The out-of-class set of ood_set.py as PNG files named `kind-name.png` in `folder`"
    import subprocess
    subprocess.run([sys.executable, str(ROOT/'benchmarks'/'ood_set.py'), str(folder)], check=True)
    return folder

def card_settings(card:dict) -> dict:
    "The training settings of the shipped model's card, as it records what was done, in `train_classifier`'s keywords"
    from webclassifier.train import Recipe
    return Recipe.from_card(card).training

def shipped_report(cv:dict, card:dict) -> dict:
    "`cv_report` with the card's calibration (keep, k, per class, class means, halfway to the outside photos)"
    from webclassifier.cv import cv_report
    return cv_report(cv, card['keep'], card['neighbours'], card['per_class'], card['class_means'], card['between'])

def check_card(cv:dict, card:dict):
    "A run of the card's recipe on its data must give the card's cross-validated figures"
    mine, theirs = shipped_report(cv, card), card['cross_validation']
    same = ('accuracy', 'n', 'wrong', 'n_groups', 'recall', 'thresholds')
    assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}, f'not the card\'s cross-validation: {mine} against {theirs}'
    assert mine['unsure'] == theirs['unsure'], f"not the card's \"not sure\" figures: {mine['unsure']} against {theirs['unsure']}"
    print(f"{cv['name']}: the card's cross-validated figures reproduced (accuracy {mine['accuracy']:.2%}, {mine['wrong']} wrong of {mine['n']}; "
          f"\"not sure\" kept {mine['unsure']['kept']:.1%}, flagged {mine['unsure']['flagged']:.1%} of {mine['unsure']['n_outside']})")

def run(name:str, k:int, **changes):
    "Cross-validate the card's recipe with `changes` on the card's data and save every out-of-fold row to OUT/NAME.json"
    from webclassifier.cv import cross_validate, cv_report
    card = shipped_card()
    data, recipe = card_data(card), card_settings(card) | {key: v for key, v in changes.items() if v is not None}
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        cv = cross_validate(data, n_folds=k, outside=write_ood(Path(tmp)), tta=True, **recipe)
        cv['outside'] = [dict(o, file=Path(o['file']).name) for o in cv['outside']]
    cv.update(name=name, data=card['data'], data_sha256=card['data_sha256'], shipped=card['tag'], seconds=round(time.time() - start, 1))
    (OUT/f'{name}.json').write_text(json.dumps(cv))
    # as before the functions took the recipe's defaults: a bar per class keeping 97 % by the nearest training photo
    print(json.dumps(cv_report(cv, keep=0.97, k=1, per_class=True, means=False, between=False), indent=1))
    if recipe == card_settings(card) and k == card['cv']: check_card(cv, card)

def compare():
    "A line per saved run and calibration: accuracy (and with TTA), kept, flagged"
    from webclassifier.cv import cv_accuracy, cross_fitted_unsure
    card = shipped_card()
    print(f"shipped model {card['tag']}; data {card['data']} (data_sha256 {card['data_sha256'][:12]})")
    for fn in sorted(OUT.glob('*.json')):
        cv = json.loads(fn.read_text())
        acc = cv_accuracy(cv)
        tta = cv_accuracy(cv, tta=True) if 'tta_probs' in cv['photos'][0] else None
        print(f"\n{cv['name']}: {cv['recipe']} on {cv['data']}, {cv['k']} folds, {len(cv['photos'])} photos, "
              f"{len({p['group'] for p in cv['photos']})} near-copy groups; training {sum(r['seconds'] for r in cv['folds']):.1f} s")
        print(f"  accuracy {acc['accuracy']:.2%} ({acc['wrong']} wrong) {acc['recall']}")
        if tta: print(f"  with TTA {tta['accuracy']:.2%} ({tta['wrong']} wrong) {tta['recall']}")
        for per_class in (False, True):
            for keep, kn in [(0.97, n) for n in range(1, 6)] + [(0.98, 1)]:
                u = cross_fitted_unsure(cv, keep, kn, per_class, means=False, between=False)
                print(f"  not sure, keep {keep}, k={kn}, {'per class ' if per_class else 'one threshold'}: kept {u['kept']:.2%} {u['kept_by_class']}, "
                      f"flagged {u['flagged']:.2%} of {u['n_outside']}, right when sure {u['accuracy_when_sure']:.2%}")
        u = shipped_report(cv, card)['unsure']
        print(f"  not sure as the card calibrates it (keep {card['keep']}, class means, {'halfway to the outside photos' if card['between'] else 'no outside photos'}): "
              f"kept {u['kept']:.2%} {u['kept_by_class']}, flagged {u['flagged']:.2%} of {u['n_outside']}, right when sure {u['accuracy_when_sure']:.2%}")
        if cv['recipe'] == card_settings(card) and cv['k'] == card['cv'] and cv.get('data_sha256') == card['data_sha256']: check_card(cv, card)

def latency(archs=('efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2'), n:int=30):
    "Per arch, with the card's head (a probe's) at the card's size: parameters, and the CPU time of one photo's forward pass (median of `n`), alone and as 5 test-time-augmented copies"
    import statistics, torch
    from webclassifier.data import image_dataloaders
    from webclassifier.train import make_learner, probe_head, N_FEATURES
    card = shipped_card()
    size = card['size']
    print(f"shipped model {card['tag']}: {card['recipe']} head, {size} px")
    torch.set_num_threads(2)
    dls = image_dataloaders(ROOT/'tests'/'sample', size=size, stats=([0.5]*3, [0.5]*3), bs=8, log=lambda s: None)
    for arch in archs:
        head = None if card['recipe'] == 'finetune' else probe_head(N_FEATURES[arch], len(dls.vocab))
        model = make_learner(dls, arch, head=head).model.eval().to(memory_format=torch.channels_last)
        times = {}
        for batch in (1, 5):
            x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                for _ in range(5): model(x)
                runs = []
                for _ in range(n): t0 = time.perf_counter(); model(x); runs.append(time.perf_counter() - t0)
            times[batch] = statistics.median(runs)*1000
        params = sum(p.numel() for p in model.parameters())
        print(f'{arch}: {params/1e6:.2f} M parameters ({params*4/2**20:.1f} MiB as float32); one photo {times[1]:.1f} ms, '
              f'with TTA (5 copies) {times[5]:.1f} ms ({times[5]/times[1]:.2f}x)')

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    r = sub.add_parser('run')
    r.add_argument('name'); r.add_argument('--recipe'); r.add_argument('--arch'); r.add_argument('--epochs', type=int)
    r.add_argument('--size', type=int); r.add_argument('--k', type=int, default=5)
    sub.add_parser('compare'); sub.add_parser('latency')
    args = parser.parse_args()
    if args.command == 'run': run(args.name, args.k, recipe=args.recipe, arch=args.arch, epochs=args.epochs, size=args.size)
    elif args.command == 'latency':
        with output_file('cv_latency.txt'): latency()
    else:
        with output_file('cv.txt'): compare()
