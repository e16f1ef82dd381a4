"""The app's speed on the shipped model, on both runtimes, and Voila's start-up and memory. Every ratio is measured in this one run.

    .venv/bin/python benchmarks/app.py [--runs 30] [--no-voila]

1. One image, bytes in, probabilities out: the app's path (`predict_named`) against `learn.predict` and against a bare
   `model(x)` on a ready tensor, and against decode + transforms + `model(x)` (what any app must do at least).
2. 16 images: the app's batched path against 16 `learn.predict` calls.
3. The "not sure" check's cost: features + logits + nearest-neighbour score against `model(x)` alone.
4. The runtimes: the ONNX twin (`--runtime onnx`) against the fastai path, for one photo and for 16, and how far apart
   their answers are (labels, "sure", largest probability difference).
5. An app kernel's own cost, per runtime, in a fresh process doing what the app notebook does (imports, load the model,
   build the page, answer one example): seconds from the process's start to that answer, resident memory then (and
   whether torch was imported).
6. Voila, per runtime: seconds from starting the server to a usable page in Chromium (preheated kernel, and not), a
   reload, one upload answered, and the kernels' resident memory then and at their peak.
"""
import argparse, json, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import torch
ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT/'tests'))
from shipped import output_file, shipped_card
from servers import SAMPLE, WebclassifierApp, upload
from webclassifier.images import read_image
from webclassifier.predict import Predictor, predict_named
from webclassifier.twin import TwinPredictor
from webclassifier.unsure import features_and_logits

def timed(fs:dict, runs:int) -> dict:
    "Median seconds per call of each function in `fs`, calling them in turn (interleaved, so drift hits all alike)"
    for f in fs.values(): f()
    out = {k: [] for k in fs}
    for _ in range(runs):
        for k, f in fs.items():
            start = time.perf_counter(); f(); out[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in out.items()}

def timed_apart(fs:dict, runs:int) -> dict:
    """Median seconds per call of each function in `fs`, each timed in a block of its own after a pause: torch's and ONNX
    Runtime's thread pools keep spinning a moment after a call, which slows the other runtime's next call if interleaved
    (a serving kernel runs only one of them)"""
    out = {}
    for k, f in fs.items():
        time.sleep(1); f(); times = []
        for _ in range(runs): start = time.perf_counter(); f(); times.append(time.perf_counter() - start)
        out[k] = statistics.median(times)
    return out

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

def runtimes(runs):
    "The ONNX twin against the fastai path: one photo, 16 photos, and how far apart their answers are"
    torch.set_num_threads(2)
    fastai_p, twin = Predictor.load(ROOT/'export.pkl'), TwinPredictor.load(ROOT/'export.pkl')
    files = photos(); named = [(str(f), f.read_bytes()) for f in files]
    one = timed_apart(dict(fastai=lambda: predict_named(fastai_p, named[:1]), onnx=lambda: predict_named(twin, named[:1])), runs)
    image = read_image(named[0][1]); x_torch, x_onnx = fastai_p.batch([image]), twin.batch([image])
    def forward():
        with torch.inference_mode(): features_and_logits(fastai_p.model, x_torch)
    bare = timed_apart(dict(fastai=forward, onnx=lambda: twin.session.run(None, {'image': x_onnx})), runs)
    prep = timed_apart(dict(fastai=lambda: fastai_p.batch([read_image(named[0][1])]), onnx=lambda: twin.batch([read_image(named[0][1])])), runs)
    b = timed_apart(dict(fastai=lambda: predict_named(fastai_p, named), onnx=lambda: predict_named(twin, named)), max(5, runs//3))
    print()
    print(f'runtimes, app path (bytes -> result, with the "not sure" check), median of {runs} runs (16 photos: {max(5, runs//3)}), each runtime timed apart:')
    print(f'  one photo: fastai {one["fastai"]*1000:6.1f} ms, onnx {one["onnx"]*1000:6.1f} ms: onnx {one["fastai"]/one["onnx"]:.2f}x faster')
    print(f'    of which the network on a ready input (features, logits, "not sure" score): fastai {bare["fastai"]*1000:.1f} ms, '
          f'onnx {bare["onnx"]*1000:.1f} ms ({bare["fastai"]/bare["onnx"]:.2f}x); decode + preprocessing: fastai {prep["fastai"]*1000:.1f} ms, '
          f'onnx {prep["onnx"]*1000:.1f} ms')
    print(f'  16 photos: fastai {b["fastai"]*1000:6.0f} ms, onnx {b["onnx"]*1000:6.0f} ms: onnx {b["fastai"]/b["onnx"]:.2f}x faster')
    every = sorted(p for p in (ROOT.parent/'shared'/'data'/'bears').glob('*/*') if p.suffix.lower() in ('.jpg', '.jpeg', '.png', '.webp')) or files
    ours, theirs = predict_named(twin, [(str(f), f) for f in every]), predict_named(fastai_p, [(str(f), f) for f in every])
    ok = [(o, t) for o, t in zip(ours, theirs) if 'error' not in t]
    diff = max(abs(p - dict(t['top'])[l]) for o, t in ok for l, p in o['top'])
    print(f'  parity on {len(ok)} photos ({"../shared/data/bears" if every is not files else "the sample"}): labels differ on '
          f'{sum(o["label"] != t["label"] for o, t in ok)}, "sure" on {sum(o["sure"] != t["sure"] for o, t in ok)}; largest probability difference {diff:.1e}')

KERNEL = """import sys, time, tempfile
from pathlib import Path
import ipykernel, ipywidgets
from webclassifier.app import ClassifierApp
from webclassifier.twin import load_predictor, twin_path
model, runtime = Path(sys.argv[1]), sys.argv[2]
app = ClassifierApp(load_predictor(model, runtime), model=twin_path(model) if runtime == 'onnx' else model, flags=Path(tempfile.mkdtemp()))
app.pick('grizzly.jpg'); assert 'grizzly' in app.results.children[0].children[1].children[0].value
seconds = time.time() - float(sys.argv[3])  # since the parent started this process
rss = int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024
print(seconds, rss, any(m.split('.')[0] == 'torch' for m in sys.modules))
"""

def kernel_cost(repeats=3):
    "Seconds from a fresh process's start to its first answer, and its memory then, per runtime (median of `repeats`)"
    print()
    print(f'an app kernel\'s own cost (a fresh process: imports, model, page, one answer), median of {repeats}:')
    for runtime in ['fastai', 'onnx']:
        out = [subprocess.run([sys.executable, '-c', KERNEL, ROOT/'export.pkl', runtime, str(time.time())], capture_output=True, text=True,
                              check=True).stdout.split() for _ in range(repeats)]
        seconds, rss = statistics.median(float(o[0]) for o in out), statistics.median(float(o[1]) for o in out)
        print(f'  {runtime:6}: first answer {seconds:4.2f} s after the process started; {rss:4.0f} MB resident; torch imported: {out[0][2]}')

def voila_startup():
    from playwright.sync_api import sync_playwright
    import psutil
    flags = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path='/usr/bin/chromium', args=flags)
        for name, extra in [(f'{runtime}, {heat}', [*heated, '--runtime', runtime]) for runtime in ['fastai', 'onnx']
                            for heat, heated in [('preheated kernel', []), ('no preheat', ['--no-preheat'])]]:
            start = time.perf_counter()
            server = WebclassifierApp(ROOT/'export.pkl', ROOT, *extra)
            try:
                page = browser.new_page()
                page.goto(server.url, timeout=300_000); page.wait_for_selector('.wc-upload', timeout=300_000)
                first = time.perf_counter() - start
                t = time.perf_counter(); page.reload(); page.wait_for_selector('.wc-upload', timeout=300_000)
                reload = time.perf_counter() - t
                t = time.perf_counter(); answer = upload(page, SAMPLE/'grizzly'/'00000014.jpg', '00000014.jpg')
                assert 'grizzly' in answer.locator('.wc-label').inner_text()
                answered = time.perf_counter() - t
                kernels = [c for c in psutil.Process(server.proc.pid).children(recursive=True) if 'ipykernel' in ' '.join(c.cmdline())]
                def status(key): return ', '.join(f"{int(next(l for l in open(f'/proc/{k.pid}/status') if l.startswith(key)).split()[1])/1024:.0f}" for k in kernels)
                rss, peak = status('VmRSS'), status('VmHWM')
                print(f'Voila, {name}: usable page {first:.1f} s after start; after a reload {reload:.1f} s; an upload answered in {answered:.1f} s; '
                      f'{len(kernels)} kernel(s) resident {rss} MB (peak {peak} MB)')
                page.close()
            finally: server.stop()
        browser.close()

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--runs', type=int, default=30); ap.add_argument('--no-voila', action='store_true')
    args = ap.parse_args()
    with output_file('app.txt'):
        print(shipped_card()['line'])
        inference(args.runs)
        runtimes(args.runs)
        kernel_cost()
        if not args.no_voila: voila_startup()
