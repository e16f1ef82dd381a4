"""`cached_features`'s batch size: time per photo (and its mirror image) and the memory it adds, EfficientNet-Lite0 at 256 px.

    .venv/bin/python benchmarks/feature_batch.py [N [ROUNDS]]

Each batch size runs in a fresh process, with an empty feature cache of its own, on the same N (default 96) photos of
../shared/data/bears; the memory is the process's peak resident memory (sampled every 20 ms) above what it held before
computing (the learner made, torch and fastai imported). The batch sizes take turns for ROUNDS rounds (default 3), and
each is given its fastest time (the machine is shared: the others' load only ever slows a run down) and its largest
memory. Output: benchmarks/out/feature_batch.txt"""
import os, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
BEARS = ROOT.parent/'shared'/'data'/'bears'
SIZES = (1, 2, 4, 8, 16)

def one(bs:int, n:int):
    "Compute the features of `n` photos at batch size `bs`; print ms per photo and the peak MB added"
    import psutil
    from webclassifier.data import image_dataloaders
    from webclassifier.train import make_learner, probe_head, N_FEATURES
    from webclassifier.features import cached_features
    dls = image_dataloaders(BEARS, size=256, stats=([0.5]*3, [0.5]*3), bs=8, log=lambda s: None)
    body = make_learner(dls, 'efficientnet_lite0', head=probe_head(N_FEATURES['efficientnet_lite0'], len(dls.vocab))).model[0]
    items = sorted(dls.train_ds.items)[:n]
    process, peak, done = psutil.Process(), [0], threading.Event()
    def sample():
        while not done.wait(0.02): peak[0] = max(peak[0], process.memory_info().rss)
    base = process.memory_info().rss
    threading.Thread(target=sample, daemon=True).start()
    start = time.perf_counter()
    cached_features(body, dls, items, 'bench-256px', cache=Path(tempfile.mkdtemp()), bs=bs)
    seconds = time.perf_counter() - start
    done.set()
    print(seconds/n*1000, (max(peak[0], process.memory_info().rss) - base)/2**20, base/2**20)

def main(n:int=96, rounds:int=3):
    load = os.getloadavg()
    lines = [f'cached_features on {n} photos of {BEARS.resolve()}, EfficientNet-Lite0 at 256 px, an empty cache each, {rounds} rounds; '
             f'load average before: {load[0]:.2f} (2 cores)']
    runs = {bs: [] for bs in SIZES}
    for r in range(rounds):
        for bs in SIZES:
            res = subprocess.run([sys.executable, __file__, 'one', str(bs), str(n)], capture_output=True, text=True, check=True)
            runs[bs].append(list(map(float, res.stdout.split()[-3:])))
            print(f'round {r + 1}, bs {bs}: {runs[bs][-1]}', flush=True)
    for bs, rs in runs.items():
        lines.append(f'bs {bs:2d}: {min(r[0] for r in rs):5.1f} ms a photo and its mirror (fastest of {rounds}; slowest {max(r[0] for r in rs):.1f}); '
                     f'peak +{max(r[1] for r in rs):4.0f} MB (held {rs[0][2]:.0f} MB before)')
    lines.append(f'load average after: {os.getloadavg()[0]:.2f}')
    (ROOT/'benchmarks'/'out'/'feature_batch.txt').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))

if __name__ == '__main__':
    if sys.argv[1:2] == ['one']: one(int(sys.argv[2]), int(sys.argv[3]))
    else: main(*map(int, sys.argv[1:3]))
