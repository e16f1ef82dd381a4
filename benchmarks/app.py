"""The app's speed on the shipped model, and Voila's start-up and memory. Every ratio is measured in this one run.

    .venv/bin/python benchmarks/app.py [--runs 30] [--no-voila]

1. One image, bytes in, probabilities out: the app's path (`predict_named`) against `learn.predict` and against a bare
   `model(x)` on a ready tensor, and against decode + transforms + `model(x)` (what any app must do at least).
2. 16 images: the app's batched path against 16 `learn.predict` calls.
3. The "not sure" check's cost: features + logits + nearest-neighbour score against `model(x)` alone.
4. Voila: seconds from starting the server to a usable page in Chromium (preheated kernel, and not), a reload,
   and the kernel's peak resident memory.
"""
import argparse, statistics, sys, time
from pathlib import Path
import torch
ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT/'tests'))
from servers import SAMPLE, WebclassifierApp
from webclassifier.download import read_image
from webclassifier.predict import Predictor, predict_named
from webclassifier.unsure import features_and_logits

def timed(fs:dict, runs:int) -> dict:
    "Median seconds per call of each function in `fs`, calling them in turn (interleaved, so drift hits all alike)"
    for f in fs.values(): f()
    out = {k: [] for k in fs}
    for _ in range(runs):
        for k, f in fs.items():
            start = time.perf_counter(); f(); out[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in out.items()}

def quiet_predict(learn, item):
    "`learn.predict(item)` without fastai's progress bar, which would fill this script's output"
    with learn.no_bar(): return learn.predict(item)

def photos(n=16):
    shared = ROOT.parent/'shared'/'data'/'bears'
    files = sorted(p for p in (shared if shared.exists() else SAMPLE).glob('*/*') if p.suffix.lower() in ('.jpg', '.webp', '.png'))
    return files[::max(1, len(files)//n)][:n]

def inference(runs):
    torch.set_num_threads(2)
    p = Predictor.load(ROOT/'export.pkl')
    files = photos(); data = [f.read_bytes() for f in files]
    one = data[0]
    x = p.batch([read_image(one)])
    def no_grad(f): return lambda: torch.inference_mode()(f)()
    t = timed(dict(forward=no_grad(lambda: p.model(x)),
                   decode_forward=no_grad(lambda: p.model(p.batch([read_image(one)]))),
                   with_detector=no_grad(lambda: p.detector.is_sure(features_and_logits(p.model, x)[0])),
                   app=lambda: predict_named(p, [('a.jpg', one)]),
                   learn_predict=lambda: quiet_predict(p.learn, one)), runs)
    forward, decode_forward, with_detector, app, learn_predict = t.values()
    b = timed(dict(app=lambda: predict_named(p, list(zip(map(str, files), data))),
                   learn=lambda: [quiet_predict(p.learn, d) for d in data]), max(3, runs//10))
    batch_app, batch_learn = b.values()
    print()
    print(f'one {files[0].suffix} photo ({len(one)/1e3:.0f} kB), median of {runs} runs, 2 threads:')
    print(f'  bare model(x) on a ready tensor:        {forward*1000:7.1f} ms')
    print(f'  decode + transforms + model(x):         {decode_forward*1000:7.1f} ms')
    print(f'  app path (bytes -> result, with check): {app*1000:7.1f} ms   = {app/decode_forward:.2f}x decode+forward, {app/forward:.2f}x bare forward')
    print(f'  learn.predict(bytes):                   {learn_predict*1000:7.1f} ms   = {learn_predict/app:.2f}x the app path')
    print(f'  "not sure" check: features + score vs model(x): {with_detector*1000:.1f} ms vs {forward*1000:.1f} ms '
          f'({(with_detector-forward)*1000:+.2f} ms per batch)')
    print(f'{len(files)} photos: app path (one batch) {batch_app*1000:.0f} ms = {len(files)/batch_app:.1f} images/s; '
          f'{len(files)} x learn.predict {batch_learn*1000:.0f} ms = {len(files)/batch_learn:.1f} images/s; ratio {batch_learn/batch_app:.2f}x')

def voila_startup():
    from playwright.sync_api import sync_playwright
    import psutil
    flags = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path='/usr/bin/chromium', args=flags)
        for name, extra in [('preheated kernel (webclassifier app)', []), ('no preheat', ['--no-preheat'])]:
            start = time.perf_counter()
            server = WebclassifierApp(ROOT/'export.pkl', ROOT, *extra)
            try:
                page = browser.new_page()
                if extra == []: time.sleep(0)  # the pool starts heating when the server starts, as it would for a user
                page.goto(server.url, timeout=300_000); page.wait_for_selector('.wc-upload', timeout=300_000)
                first = time.perf_counter() - start
                t = time.perf_counter(); page.reload(); page.wait_for_selector('.wc-upload', timeout=300_000)
                reload = time.perf_counter() - t
                kernels = [c for c in psutil.Process(server.proc.pid).children(recursive=True) if 'ipykernel' in ' '.join(c.cmdline())]
                hwm = [int(next(l for l in open(f'/proc/{k.pid}/status') if l.startswith('VmHWM')).split()[1])/1024 for k in kernels]
                print(f'Voila, {name}: usable page {first:.1f} s after start; after a reload {reload:.1f} s; '
                      f'{len(kernels)} kernel(s), peak RSS {", ".join(f"{h:.0f} MB" for h in hwm)}')
                page.close()
            finally: server.stop()
        browser.close()

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--runs', type=int, default=30); ap.add_argument('--no-voila', action='store_true')
    args = ap.parse_args()
    inference(args.runs)
    if not args.no_voila: voila_startup()
