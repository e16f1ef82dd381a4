"""Run `nbs/retrain.ipynb` for real, offline, and save its outputs into it: the 416 bear photos of ../shared/data/bears
served on 127.0.0.1 as the `urls` list, EfficientNet-Lite0 (offline weights), everything written to a scratch folder,
with an empty feature cache of its own (SCRATCH/now/cache: every photo's features are computed in the run).
`more` is a flags folder made with the app's `flag_photo`: the real sample photos (22 distinct pictures) of scikit-image and
scikit-learn flagged "None of these". Its parameters cell keeps the defaults a person with internet uses; the run's own values are printed here and in
benchmarks/out/retrain_notebook.txt, with every cell's time, the time from the end of training to the cleaner's widget
shown (papermill's end times of the two cells), the kernel's peak resident memory (overall and in each cell; anonymous and
file-backed apart), what importing torch alone holds here, and what else ran on the machine. In the same run, the
notebook and library before issue 30 (BEFORE, checked out in a git worktree, its webclassifier first on the kernel's
PYTHONPATH) run the same way after today's, and the ratios are printed.
Usage: .venv/bin/python benchmarks/retrain_notebook.py [SCRATCH]"""
import csv, datetime, functools, http.server, os, subprocess, sys, tempfile, threading, time
from pathlib import Path
import nbformat, papermill

ROOT = Path(__file__).absolute().parent.parent
BEARS = ROOT.parent/'shared'/'data'/'bears'
sys.path.insert(1, str(ROOT/'tests'))
from servers import poll_shell_in_short_waits

def serve(folder:Path) -> http.server.ThreadingHTTPServer:
    "`folder`'s files over HTTP on 127.0.0.1, in a thread"
    handler = functools.partial(type('Quiet', (http.server.SimpleHTTPRequestHandler,), {'log_message': lambda *a: None}), directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

def stand_in_flags(flags:Path) -> Path:
    "A flags folder as the app makes it: the real sample photos of scikit-image and scikit-learn, flagged \"None of these\""
    import io
    from ood_set import sample_photos
    from webclassifier.app import NONE_OF_THESE, flag_photo
    for name, img in sample_photos().items():
        buf = io.BytesIO(); img.save(buf, 'JPEG', quality=90)
        flag_photo(flags, f'{name}.jpg', buf.getvalue(), NONE_OF_THESE, {})
    return flags

def resident(pid:int) -> tuple:
    "Process `pid`'s resident memory in bytes: all of it, its anonymous part, its file-backed part (the libraries it mapped)"
    fields = dict(line.split(':', 1) for line in Path(f'/proc/{pid}/status').read_text().splitlines() if line.startswith('Rss'))
    anon, file, shmem = (int(fields[k].split()[0]) * 1024 for k in ('RssAnon', 'RssFile', 'RssShmem'))
    return anon + file + shmem, anon, file

def kernel_memory():
    "Start sampling the resident memory of this process's largest child (papermill's kernel) every 0.1 s; a function that stops and returns the samples (UTC time, `resident`)"
    import psutil
    samples, done = [], threading.Event()
    def sample():
        while not done.wait(0.1):
            now = []
            for child in psutil.Process().children(recursive=True):
                try: now.append(resident(child.pid))
                except (OSError, KeyError): pass  # ended meanwhile
            if now: samples.append((datetime.datetime.now(datetime.timezone.utc), max(now)))
    thread = threading.Thread(target=sample, daemon=True); thread.start()
    def stop(): done.set(); thread.join(); return samples
    return stop

def torch_baseline() -> str:
    "What importing this machine's torch and torchvision alone holds, in a fresh process: the floor under the kernel's peak"
    code = 'import os, torch, torchvision; print(torch.__version__)'
    child = subprocess.Popen([sys.executable, '-c', code + '; input()'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    version = child.stdout.readline().strip()  # imported: measure it from outside, as the kernel is measured
    mem = resident(child.pid); child.communicate('\n')
    out = [version, *(b >> 20 for b in mem)]
    return f'torch {out[0]} and torchvision imported alone, in a fresh process: {out[1]} MB resident ({out[2]} MB anonymous, {out[3]} MB file-backed)'

def cell_peak_mb(cell, samples:list) -> float:
    "The kernel's highest resident memory (MB) sampled while `cell` ran"
    start = utc(cell.metadata['papermill']['start_time'])
    return max((mem[0] for t, mem in samples if start <= t <= ended(cell)), default=0) / 2**20

def others() -> list:
    "The other processes using the CPU now (percent over one second), busiest first: what else ran"
    import psutil
    mine = {os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(['pid', 'cmdline']) if p.info['pid'] not in mine]
    for p in procs:
        try: p.cpu_percent(None)
        except psutil.Error: pass
    time.sleep(1)
    busy = []
    for p in procs:
        try: busy.append((p.cpu_percent(None), ' '.join(' '.join(p.info['cmdline'] or []).split())[:90]))
        except psutil.Error: pass
    return [f'{pct:5.0f}% {cmd}' for pct, cmd in sorted(busy, reverse=True) if pct >= 5][:5]

def utc(stamp:str) -> datetime.datetime:
    "papermill's time `stamp` as an aware UTC datetime"
    t = datetime.datetime.fromisoformat(stamp.rstrip('Z'))
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)

def ended(cell) -> datetime.datetime: return utc(cell.metadata['papermill']['end_time'])

BEFORE = 'c7a0f60'  # the notebook and library before issue 30, run beside today's for the ratios

def run_notebook(root:Path, scratch:Path, urls:Path, flags:Path) -> dict:
    "Run `root`'s nbs/retrain.ipynb on `urls` into `scratch`, its kernel importing `root`'s webclassifier, with an empty feature cache"
    params = dict(urls=str(urls), allow_local=True, arch='efficientnet_lite0', data=str(scratch/'data'), model=str(scratch/'models'/'export.pkl'),
                  report=str(scratch/'report'), more=str(flags))
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ['WEBCLASSIFIER_CACHE'] = str(scratch/'cache')  # the kernel's: an empty feature cache
    os.environ['PYTHONPATH'] = str(root)  # the kernel's webclassifier: `root`'s, before the installed one
    poll_shell_in_short_waits()  # a reply whose wake-up the poll missed (jupyter/nbclient#312) is read within 2 s, not never
    start, memory = time.time(), kernel_memory()
    papermill.execute_notebook(root/'nbs'/'retrain.ipynb', scratch/'run.ipynb', parameters=params, cwd=root/'nbs', kernel_name='python3', progress_bar=False)
    seconds, samples = time.time() - start, memory()
    del os.environ['PYTHONPATH']
    nb = nbformat.read(scratch/'run.ipynb', as_version=4)
    nb.cells = [c for c in nb.cells if 'injected-parameters' not in c.metadata.get('tags', [])]  # the defaults stay in the saved notebook
    code = [c for c in nb.cells if c.cell_type == 'code']
    trained = next(c for c in code if c.source.startswith('learn = train_and_export('))
    shown = next(c for c in code if c.source.startswith('cleaner = Cleaner(learn)'))
    return dict(params=params, nb=nb, seconds=seconds, memory=[b / 2**20 for b in max(mem for _, mem in samples)],
                to_cleaner=(ended(shown) - ended(trained)).total_seconds(),
                steps=[(c.source.splitlines()[0][:60], c.metadata['papermill']['duration'], cell_peak_mb(c, samples)) for c in code])

def summary(r:dict) -> list:
    "The lines of a `run_notebook` result: the whole run, then every cell"
    peak, anon, file = r['memory']
    return [f'notebook run top to bottom in {r["seconds"]:.0f} s; the kernel peaked at {peak:.0f} MB resident ({anon:.0f} MB anonymous, '
            f'{file:.0f} MB file-backed: the libraries it mapped); the cleaner shown {r["to_cleaner"]:.1f} s after training ended',
            'every code cell, in order (its time; the kernel\'s peak while it ran):'] + [f'  {s:7.1f} s {mb:6.0f} MB  {name}' for name, s, mb in r['steps']]

def save_outputs(nb):
    "Save the run's outputs into nbs/retrain.ipynb, cleaned as nbdev-clean cleans it"
    for c in nb.cells: c.metadata = {'tags': c.metadata['tags']} if c.metadata.get('tags') else {}
    nb.metadata = {'kernelspec': nb.metadata['kernelspec']}
    nbformat.write(nb, ROOT/'nbs'/'retrain.ipynb')
    subprocess.run([Path(sys.executable).parent/'nbdev-clean', '--fname', ROOT/'nbs'/'retrain.ipynb'], check=True)

def main(scratch:Path):
    scratch.mkdir(parents=True, exist_ok=True)
    server = serve(BEARS)
    photos = sorted(p for p in BEARS.glob('*/*') if p.is_file())
    with open(scratch/'urls.csv', 'w', newline='') as f:
        csv.writer(f).writerows([('label', 'url')] + [(p.parent.name, f'http://127.0.0.1:{server.server_port}/{p.parent.name}/{p.name}') for p in photos])
    flags = stand_in_flags(scratch/'flagged')
    before, load_before = others(), os.getloadavg()
    now = run_notebook(ROOT, scratch/'now', scratch/'urls.csv', flags)  # first: any warming of the disk's cache favours the old one
    subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '--detach', '-f', scratch/'before', BEFORE], check=True, capture_output=True)
    try: old = run_notebook(scratch/'before', scratch/'old', scratch/'urls.csv', flags)
    finally: subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', scratch/'before'], check=True)
    load_after = os.getloadavg()
    save_outputs(now['nb'])
    ratio = lambda a, b: f'{a:.1f} -> {b:.1f}: {a / b:.2f}x'
    lines = [f'{len(photos)} photos served from {BEARS.resolve()} on 127.0.0.1; each run with an empty feature cache of its own',
             f'the machine (2 cores): load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; other processes busy before: '
             + ('; '.join(before) or 'none'), torch_baseline(),
             f'before issue 30 (commit {BEFORE}, its notebook and webclassifier) against now, in this one run:',
             f'  time top to bottom, s: {ratio(old["seconds"], now["seconds"])} faster',
             f'  the kernel\'s peak resident, MB: {ratio(old["memory"][0], now["memory"][0])} as much before as now',
             f'  from the end of training to the cleaner shown, s: {ratio(old["to_cleaner"], now["to_cleaner"])} faster',
             '', f'now: parameters {now["params"]}'] + summary(now) + ['', f'before ({BEFORE}): parameters {old["params"]}'] + summary(old)
    out = ROOT/'benchmarks'/'out'/'retrain_notebook.txt'
    out.write_text('\n'.join(lines) + '\n'); print(out.read_text())

if __name__ == '__main__': main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
