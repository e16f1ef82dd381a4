"""Cross-validate a training recipe by near-copy groups, and compare the recipes run so far.

    .venv/bin/python benchmarks/cv.py run NAME DATA [--arch A] [--epochs N] [--size S] [--k 5]   (one recipe: minutes per fold)
    .venv/bin/python benchmarks/cv.py compare                                                     (every saved run, at once)
    .venv/bin/python benchmarks/cv.py latency                                                     (each backbone's size and CPU time)

`run` trains k models with `webclassifier.cv.cross_validate` (each validated on one fold of near-copy groups), records
test-time-augmented probabilities too, and has every fold's model score the out-of-class set of benchmarks/ood_set.py.
Every out-of-fold row is saved to benchmarks/out/cv/NAME.json, so `compare` re-reads them: accuracy with and without
TTA, and the cross-fitted "not sure" check (each fold judged by thresholds calibrated on the other folds) for one
threshold or one per class, k = 1 to 5 nearest training photos.
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
ROOT = Path(__file__).parent.parent
OUT = ROOT/'benchmarks'/'out'/'cv'
sys.path.insert(0, str(Path(__file__).parent))

def write_ood(folder:Path) -> Path:
    "The out-of-class set of ood_set.py as PNG files named `kind-name.png` in `folder`"
    import subprocess
    subprocess.run([sys.executable, str(ROOT/'benchmarks'/'ood_set.py'), str(folder)], check=True)
    return folder

def run(name:str, data:Path, k:int, **recipe):
    "Cross-validate `recipe` on `data` and save every out-of-fold row to OUT/NAME.json"
    from webclassifier.cv import cross_validate, cv_report
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        cv = cross_validate(data, k=k, outside=write_ood(Path(tmp)), tta=True, **recipe)
        cv['outside'] = [dict(o, file=Path(o['file']).name) for o in cv['outside']]
    cv.update(name=name, data=str(data), seconds=round(time.time() - start, 1))
    (OUT/f'{name}.json').write_text(json.dumps(cv))
    print(json.dumps(cv_report(cv), indent=1))

def compare():
    "A line per saved run and calibration: accuracy (and with TTA), kept, flagged"
    from webclassifier.cv import cv_accuracy, cross_fitted_unsure
    for fn in sorted(OUT.glob('*.json')):
        cv = json.loads(fn.read_text())
        acc = cv_accuracy(cv)
        tta = cv_accuracy(cv, tta=True) if 'tta_probs' in cv['photos'][0] else None
        print(f"\n{cv['name']}: {cv['recipe']} on {cv['data']}, {cv['k']} folds, {len(cv['photos'])} photos, "
              f"{len({p['group'] for p in cv['photos']})} near-copy groups; training {sum(r['seconds'] for r in cv['folds'])/60:.1f} min")
        print(f"  accuracy {acc['accuracy']:.2%} ({acc['wrong']} wrong) {acc['recall']}")
        if tta: print(f"  with TTA {tta['accuracy']:.2%} ({tta['wrong']} wrong) {tta['recall']}")
        for per_class in (False, True):
            for keep, kn in [(0.97, n) for n in range(1, 6)] + [(0.98, 1)]:
                u = cross_fitted_unsure(cv, keep, kn, per_class)
                print(f"  not sure, keep {keep}, k={kn}, {'per class ' if per_class else 'one threshold'}: kept {u['kept']:.2%} {u['kept_by_class']}, "
                      f"flagged {u['flagged']:.2%} of {u['n_outside']}, right when sure {u['accuracy_when_sure']:.2%}")

def latency(archs=('efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2'), size:int=224, n:int=30):
    "Per arch: parameters, and the CPU time of one photo's forward pass (median of `n`), alone and as 5 test-time-augmented copies"
    import statistics, torch
    from webclassifier.data import image_dataloaders
    from webclassifier.train import make_learner
    torch.set_num_threads(2)
    dls = image_dataloaders(ROOT/'tests'/'sample', size=size, stats=([0.5]*3, [0.5]*3), bs=8, report=lambda s: None)
    for arch in archs:
        model = make_learner(dls, arch).model.eval().to(memory_format=torch.channels_last)
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
    r.add_argument('name'); r.add_argument('data', type=Path)
    r.add_argument('--arch', default='efficientnet_lite0'); r.add_argument('--epochs', type=int, default=4)
    r.add_argument('--size', type=int, default=224); r.add_argument('--k', type=int, default=5)
    sub.add_parser('compare'); sub.add_parser('latency')
    args = parser.parse_args()
    if args.command == 'run': run(args.name, args.data, args.k, arch=args.arch, epochs=args.epochs, size=args.size)
    elif args.command == 'latency': latency()
    else: compare()
