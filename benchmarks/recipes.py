"""The training recipes compared in one run: time (empty and warm feature cache), peak memory, cross-validated accuracy and
"not sure" (cross-fitted), and accuracy and "not sure" on ../shared/data/bears-elsewhere, photos from another scrape.

    python benchmarks/recipes.py DATA OUTSIDE ELSEWHERE OUT     # e.g. data/bears-cleaned data/ood ../shared/data/bears-elsewhere /tmp/recipes
    python benchmarks/recipes.py sweep DATA [C,C,...]           # the probe's cross-validated accuracy for each C (how PROBE_C was chosen)

Each step is the command line a user runs, under /usr/bin/time -v (wall time, peak resident memory).
finetune and probe-finetune are trained once (--cv 0, said explicitly since `cv` defaults to 5: 5 folds of them take 20-30 min each here); the shipped recipe is
cross-validated. The probe runs first with an empty feature cache of its own, then again with it warm."""
import json, re, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from shipped import output_file

CLI = str(Path(sys.executable).parent/'webclassifier')

def timed(args:list, env:dict=None) -> dict:
    "Run the CLI with `args` under /usr/bin/time -v: wall seconds, peak resident MB, and its stderr"
    import os
    start = time.time()
    res = subprocess.run(['/usr/bin/time', '-v', CLI, *map(str, args)], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if res.returncode: raise SystemExit(f'{args}: failed\n{res.stderr[-3000:]}')
    peak = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', res.stderr).group(1)) / 1024
    return dict(seconds=round(time.time() - start, 1), peak_mb=round(peak), stderr=res.stderr, stdout=res.stdout)

def elsewhere(model:Path, folder:Path) -> dict:
    "Accuracy and the share kept (\"sure\") on the labelled photos of `folder`"
    res = json.loads(timed(['evaluate', folder, '--model', model, '--json'])['stdout'])
    return dict(accuracy=res['accuracy'], n=res['n'], kept=round(1 - res['not_sure']/res['n'], 4), accuracy_when_sure=res['accuracy_when_sure'])

def main(data, outside, other, out):
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    cache = dict(WEBCLASSIFIER_CACHE=tempfile.mkdtemp())  # an empty feature cache
    shipped = ['--arch', 'efficientnet_lite0', '--size', 256, '--class-means', '--keep', 0.99]
    runs = {
        'probe (cold cache)': (['train', data, '--recipe', 'probe', *shipped, '--cv', 0, '--out', out/'probe'/'export.pkl'], cache),
        'probe (warm cache)': (['train', data, '--recipe', 'probe', *shipped, '--cv', 0, '--out', out/'probe-warm'/'export.pkl'], cache),
        'probe --cv 5 --between (shipped)': (['train', data, '--recipe', 'probe', *shipped, '--cv', 5, '--outside', outside, '--between',
                                              '--out', out/'probe-cv'/'export.pkl'], cache),
        'probe-finetune, 2 epochs': (['train', data, '--recipe', 'probe-finetune', '--epochs', 2, *shipped, '--cv', 0, '--out', out/'lpft'/'export.pkl'], cache),
        'finetune, 4 epochs (the book)': (['train', data, '--recipe', 'finetune', '--epochs', 4, '--arch', 'efficientnet_lite0', '--size', 224,
                                           '--class-means', '--keep', 0.99, '--cv', 0, '--out', out/'finetune'/'export.pkl'], cache),
    }
    rows = []
    for name, (args, env) in runs.items():
        print(f'{name}: {" ".join(map(str, args))}', flush=True)
        r = timed(args, env)
        model = Path(args[args.index('--out') + 1])
        card = json.loads(model.with_name('model_card.json').read_text())
        row = dict(recipe=name, seconds=r['seconds'], peak_mb=r['peak_mb'], valid_accuracy=card['metrics']['accuracy'], n_valid=card['metrics']['n_valid'],
                   threshold=card['unsure']['threshold'], elsewhere=elsewhere(model, other))
        if 'cross_validation' in card:
            cv = card['cross_validation']
            row['cv'] = dict(accuracy=cv['accuracy'], wrong=cv['wrong'], n=cv['n'], kept=cv['unsure']['kept'], flagged=cv['unsure']['flagged'],
                             n_outside=cv['unsure']['n_outside'])
        if 'outside' in card['unsure']: row['outside_flagged'] = f"{card['unsure']['outside']['flagged']} of {card['unsure']['outside']['n']}"
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out/'recipes.json').write_text(json.dumps(rows, indent=1))
    print('\nrecipe | train wall s | peak MB | own split | CV accuracy | CV "not sure" kept/flagged | elsewhere accuracy | elsewhere kept')
    for r in rows:
        cv = r.get('cv')
        print(f"{r['recipe']} | {r['seconds']} | {r['peak_mb']} | {r['valid_accuracy']:.1%} of {r['n_valid']} | "
              + (f"{cv['accuracy']:.1%} ({cv['wrong']} wrong of {cv['n']}) | {cv['kept']:.1%} / {cv['flagged']:.1%} of {cv['n_outside']}" if cv else '- | -')
              + f" | {r['elsewhere']['accuracy']:.1%} of {r['elsewhere']['n']} | {r['elsewhere']['kept']:.1%}")
    base = next(r for r in rows if r['recipe'].startswith('finetune'))
    for r in rows:
        print(f"{r['recipe']}: {base['seconds']/r['seconds']:.1f}x faster than finetune, {r['peak_mb']/base['peak_mb']:.2f}x its peak memory")

def sweep(data, Cs='0.3,1,3,10,100'):
    "The probe's cross-validated accuracy for each inverse penalty C (5 folds of near-copy groups, Lite0 at 256 px): how PROBE_C was chosen"
    from webclassifier.cv import cross_validate, cv_accuracy
    for C in map(float, Cs.split(',')):
        start = time.time()
        acc = cv_accuracy(cross_validate(data, 5, log=lambda s: None, recipe='probe', arch='efficientnet_lite0', size=256, C=C))
        print(f'C={C:g}: cross-validated accuracy {acc["accuracy"]:.2%} ({acc["wrong"]} wrong of {acc["n"]}) {acc["recall"]}; {time.time() - start:.0f} s', flush=True)

if __name__ == '__main__':
    if sys.argv[1] == 'sweep':
        with output_file('probe_c.txt'): sweep(*sys.argv[2:])
    else:
        with output_file('recipes.txt'): main(*sys.argv[1:5])
