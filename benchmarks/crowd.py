"""The same model (the ONNX twin, export.onnx) served several ways, measured side by side: a crowd of pages, memory,
idle pages, and the JSON API. One run prints every table (ratios against Gradio) into benchmarks/out/crowd.txt.

    sh benchmarks/gradio_env.sh                         # once: Gradio's own venv, benchmarks/.venv-gradio
    .venv/bin/python benchmarks/crowd.py [--servers gradio,voila-onnx,solara] [--only crowd8,crowd32,idle64,api]

Servers (`SERVERS`: a name and a command; add one there), each started alone from the repository's root on a free
port of 127.0.0.1, waited for until it answers HTTP and its processes are idle, then measured; a fresh server for
each measurement, stopped (its whole process tree) before the next. One Chromium (Debian's, headless), one browser
context per page. It is started under nice 19, but run as root Chromium re-prioritises its own processes (browser -8,
renderers 0 or 5): the pages compete with the server for the 2 cores, so the crowd's seconds include the browser's own
work (the 'last page usable' row: when the slowest page had the app loaded, before its upload).
- crowdN: N pages opened at once; each uploads one photo as a person does (the app's "Upload photos" button and its
  file chooser; Gradio's image input, then Submit). Each page: answered (its answer names a class), told busy
  (HTTP 503 / the busy page), error (the page's own error line), or blank (nothing within `--timeout` s); and when,
  in seconds since the crowd started. Peak memory: the summed RSS of the server's process tree, sampled every 0.2 s.
  Server CPU seconds: the user + system time its process tree (those of its processes alive at the end) spent
  meanwhile: the server's own work per crowd, apart from the browsers' on the same cores.
- idleN (idle64): N pages opened (in waves of 8) and left idle `--idle-seconds` s, peak memory meanwhile; then
  page N+1 uploads a photo: answered or not, and when (seconds since it was opened).
- api: 200 photos (cycling through tests/sample/*/*.jpg) sent by 4 client threads: photos per second; one photo's
  latency (median of 20 sequential calls). webclassifier: POST /api/predict with the photo's bytes; Gradio: its
  HTTP API (upload, call, result). The floor: the twin in this process (read_image + predict_images, median of 20).
Nothing here is a target: it reports. It does check that what it counts is real (answers name a class; the API's
labels are the classes of this model, and agree with the twin run here).

Results are kept per server and measurement in crowd.json beside the text output, so that `--only`/`--servers`
reruns replace just their part and crowd.txt always shows every table (--fresh: forget earlier results).
"""
import argparse, asyncio, json, os, re, socket, statistics, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
import psutil, requests

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT/'tests'/'sample'
PHOTO = SAMPLE/'grizzly'/'00000014.jpg'
API_PHOTOS = sorted(SAMPLE.glob('*/*.jpg'))
CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--no-first-run']
VIEWPORT = dict(width=480, height=400)  # small: 64 pages on 2 cores
LOGS = Path(tempfile.gettempdir())/'crowd-logs'

# name -> how to start it ('{port}': its port), and which page and API it has ('gradio' or 'webclassifier')
SERVERS = {
    'gradio': dict(kind='gradio', cmd=['benchmarks/.venv-gradio/bin/python', 'benchmarks/gradio_peer.py', '{port}']),
    'voila-onnx': dict(kind='webclassifier', cmd=['.venv/bin/webclassifier', 'app', '--server', 'voila', '--model', 'export.pkl',
                                                  '--runtime', 'onnx', '--max-per-address', '0', '--port', '{port}']),
    'solara': dict(kind='webclassifier', cmd=['.venv/bin/webclassifier', 'app', '--model', 'export.pkl', '--server', 'solara',
                                              '--max-per-address', '0', '--port', '{port}']),
}
BASELINE = 'gradio'  # the ratios' denominator

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def tree(pid) -> list:
    "The process `pid` and all its children, recursively"
    try: p = psutil.Process(pid); return [p, *p.children(recursive=True)]
    except psutil.Error: return []

def tree_rss(pid) -> int:
    total = 0
    for p in tree(pid):
        try: total += p.memory_info().rss
        except psutil.Error: pass
    return total

def tree_cpu(pid) -> float:
    total = 0.
    for p in tree(pid):
        try: t = p.cpu_times(); total += t.user + t.system
        except psutil.Error: pass
    return total

class StartFailed(Exception): pass

def command(name) -> list:
    "`SERVERS[name]`'s command"
    return list(SERVERS[name]['cmd'])

class Server:
    "One of `SERVERS`, started on a free port of 127.0.0.1 from the repository's root; usable once it answers HTTP and is idle"
    def __init__(self, name, tag=''):
        self.name, self.kind, self.port = name, SERVERS[name]['kind'], free_port()
        self.url = f'http://127.0.0.1:{self.port}/'
        LOGS.mkdir(exist_ok=True)
        self.log_path = LOGS/f'{name}-{tag}.log'
        self.log = open(self.log_path, 'w')
        self.cmd = command(name)
        cmd = [c.format(port=self.port) for c in self.cmd]
        env = {**os.environ, 'GRADIO_ANALYTICS_ENABLED': 'False', 'HF_HUB_OFFLINE': '1', 'PYTHONUNBUFFERED': '1'}
        try: self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        except OSError as e: self.log.close(); raise StartFailed(f'{cmd[0]}: {e.strerror}') from None
        try: self.wait_http(); self.started = time.time(); self.settle()
        except BaseException: self.stop(); raise

    def failure(self, why) -> str:
        lines = [l for l in self.log_path.read_text(errors='replace').splitlines() if l.strip()]
        return f'{why}' + (f': {lines[-1].strip()[:160]}' if lines else '')

    def wait_http(self, timeout=180):
        "Until any HTTP answer on a path that starts nothing (no kernel, no session)"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.flush(); raise StartFailed(self.failure(f'exited with code {self.proc.returncode}'))
            try: requests.get(self.url + 'crowd-probe-404', timeout=5); return
            except requests.RequestException: time.sleep(0.3)
        raise StartFailed(self.failure(f'no HTTP answer in {timeout} s'))

    def settle(self, least=5., most=90.):
        "Until the server's processes (say, a preheated kernel starting) use under 5% of a core over 1 s"
        start = time.time()
        while True:
            before = tree_cpu(self.proc.pid); time.sleep(1)
            if time.time() - start >= most or (time.time() - start >= least and tree_cpu(self.proc.pid) - before < 0.05): break
        self.settled = time.time() - start

    def stop(self):
        procs = tree(self.proc.pid)
        for p in procs:
            try: p.terminate()
            except psutil.Error: pass
        _, alive = psutil.wait_procs(procs, timeout=20)
        for p in alive:
            try: p.kill()
            except psutil.Error: pass
        self.log.close()

class MemorySampler:
    "Peak summed RSS of a process tree, sampled every `every` s in a thread (`with`: from enter to exit)"
    def __init__(self, pid, every=0.2): self.pid, self.every, self.peak, self.running = pid, every, 0, False
    def run(self):
        while self.running: self.peak = max(self.peak, tree_rss(self.pid)); time.sleep(self.every)
    def __enter__(self):
        self.running = True; self.thread = threading.Thread(target=self.run, daemon=True); self.thread.start(); return self
    def __exit__(self, *a):
        self.running = False; self.thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))

# ---- the pages: how a person uses each kind of page ----
READY = {  # page loaded: 'app' (usable), 'busy' (refused), or null (not yet)
    'webclassifier': """() => document.querySelector('.wc-upload') ? 'app'
        : (document.body && /\\bbusy\\b/i.test(document.body.innerText) ? 'busy' : null)""",
    'gradio': """() => document.querySelector('input[type=file]') ? 'app'
        : (document.body && /\\bbusy\\b/i.test(document.body.innerText) ? 'busy' : null)""",
}
ANSWER = {  # after the upload: 'answer:<its text>', 'error:<its text>', or null (not yet)
    'webclassifier': """name => {
        const r = [...document.querySelectorAll('.wc-result')].find(e => e.innerText.includes(name));
        if (r) return 'answer:' + r.innerText;
        const e = document.querySelector('.wc-error');
        return e ? 'error:' + e.innerText : null }""",
    'gradio': """name => {
        const r = document.querySelector('[data-testid=label-output-value]');
        if (r && r.innerText.trim()) return 'answer:' + r.closest('[data-testid=label]').innerText;
        const e = [...document.querySelectorAll('.toast-body, [data-testid=toast-body]')].find(e => /error/i.test(e.innerText));
        return e ? 'error:' + e.innerText : null }""",
}

async def open_page(browser, kind, url, deadline):
    "A new context's page on `url`: (page, 'app' | 'busy' | 'blank' | 'error', detail)"
    ctx = await browser.new_context(viewport=VIEWPORT)
    page = await ctx.new_page()
    try:
        response = await page.goto(url, timeout=max(1, deadline - time.time())*1000)
        if response is not None and response.status == 503: return page, 'busy', 'HTTP 503'
        got = await page.wait_for_function(READY[kind], polling=250, timeout=max(1, deadline - time.time())*1000)
        return page, await got.json_value(), ''
    except Exception as e: return page, 'blank' if 'Timeout' in type(e).__name__ else 'error', f'{type(e).__name__}: {str(e)[:120]}'

async def upload(page, kind, photo:Path, deadline):
    "Upload `photo` as a person would and wait for the answer: ('answered' | 'error' | 'blank', its text)"
    try:
        if kind == 'webclassifier':
            async with page.expect_file_chooser(timeout=max(1, deadline - time.time())*1000) as fc: await page.click('.wc-upload')
            await (await fc.value).set_files(str(photo))
        else:  # Gradio: its image input's file input, its preview, then Submit
            await page.locator('input[type=file]').first.set_input_files(str(photo))
            await page.wait_for_function("() => document.querySelector('[data-testid=image] img[src]:not([src^=data])')",
                                         polling=250, timeout=max(1, deadline - time.time())*1000)
            await page.get_by_role('button', name='Submit').click(timeout=max(1, deadline - time.time())*1000)
        got = await page.wait_for_function(ANSWER[kind], arg=photo.name, polling=250, timeout=max(1, deadline - time.time())*1000)
        what, _, text = (await got.json_value()).partition(':')
        return ('answered' if what == 'answer' else 'error'), text
    except Exception as e: return ('blank' if 'Timeout' in type(e).__name__ else 'error'), f'{type(e).__name__}: {str(e)[:120]}'

def check_answer(text, vocab):
    "What this counts as an answer is one: it names a class of the model"
    assert any(re.search(rf'\b{re.escape(c)}\b', text) for c in vocab), f'an "answer" naming no class: {text[:200]!r}'

async def launch(pw):
    nice = Path(tempfile.mkdtemp())/'chromium'  # Chromium and its processes at the lowest CPU priority
    nice.write_text(f'#!/bin/sh\nexec nice -n 19 {CHROMIUM} "$@"\n'); nice.chmod(0o755)
    return await pw.chromium.launch(executable_path=str(nice), args=FLAGS)

async def crowd(server, n, timeout, vocab) -> dict:
    "N pages at once, each uploading PHOTO: each page's outcome and when"
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await launch(pw)
        async def visit(i):
            page, got, detail = await open_page(browser, server.kind, server.url, deadline)
            ready = time.time() - start
            if got == 'app': got, detail = await upload(page, server.kind, PHOTO, deadline)
            if got == 'answered': check_answer(detail, vocab)
            return dict(outcome=got, ready=round(ready, 2), t=round(time.time() - start, 2), detail=detail[:200])
        idle, cpu = tree_rss(server.proc.pid), tree_cpu(server.proc.pid)
        with MemorySampler(server.proc.pid) as mem:
            start = time.time(); deadline = start + timeout
            pages = await asyncio.gather(*[visit(i) for i in range(n)])
        cpu = tree_cpu(server.proc.pid) - cpu  # the server's own work, whatever the browsers on the same cores did
        await browser.close()
    return dict(n=n, pages=pages, peak=mem.peak, idle=idle, timeout=timeout, server_cpu=round(cpu, 2))

async def idle_pages(server, n, idle_seconds, timeout, vocab, wave=8) -> dict:
    "N pages opened (in waves) and left idle, then one more page uploads PHOTO"
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await launch(pw)
        idle, cpu = tree_rss(server.proc.pid), tree_cpu(server.proc.pid)
        with MemorySampler(server.proc.pid) as mem:
            start, opened = time.time(), []
            for i in range(0, n, wave):
                deadline = time.time() + timeout
                opened += await asyncio.gather(*[open_page(browser, server.kind, server.url, deadline) for _ in range(min(wave, n - i))])
            open_s, open_cpu = time.time() - start, tree_cpu(server.proc.pid) - cpu
            idle_start = time.time()
            await asyncio.sleep(idle_seconds)
            idle_peak = mem.peak
            # are they still there? (a page whose place was taken back shows it)
            still = 0
            for page, got, _ in opened:
                try: still += got == 'app' and await page.evaluate(READY[server.kind]) == 'app'
                except Exception: pass
            last_start = time.time(); deadline = last_start + timeout
            page, got, detail = await open_page(browser, server.kind, server.url, deadline)
            ready = time.time() - last_start
            if got == 'app': got, detail = await upload(page, server.kind, PHOTO, deadline)
            if got == 'answered': check_answer(detail, vocab)
            last = dict(outcome=got, ready=round(ready, 2), t=round(time.time() - last_start, 2), detail=detail[:200])
        await browser.close()
    counts = {k: sum(g == k for _, g, _ in opened) for k in ('app', 'busy', 'error', 'blank')}
    return dict(n=n, counts=counts, open_s=round(open_s, 1), open_cpu=round(open_cpu, 2), idle_seconds=idle_seconds, still=still, idle_peak=idle_peak,
                peak=mem.peak, idle=idle, last=last, details=[d for _, g, d in opened if d][:5])

# ---- the JSON API: one small client function per kind ----
class NoAPI(Exception): pass
_local = threading.local()
def session() -> requests.Session:
    if not hasattr(_local, 's'): _local.s = requests.Session()
    return _local.s

def webclassifier_api(base, data:bytes, name:str) -> str:
    "POST /api/predict with the photo's bytes: its label (checking the answer's shape)"
    r = session().post(base + 'api/predict', data=data, headers={'Content-Type': 'image/jpeg'}, timeout=120)
    if r.status_code in (404, 405): raise NoAPI(f'HTTP {r.status_code} on POST /api/predict')
    if r.status_code == 403 and 'json' not in r.headers.get('Content-Type', ''):  # jupyter_server (Voila) refuses
        raise NoAPI('HTTP 403 page on POST /api/predict: jupyter_server\'s _xsrf check, no such endpoint')  # any unknown POST so
    r.raise_for_status()
    j = r.json()
    missing = {'label', 'sure', 'predictions', 'model'} - set(j)
    assert not missing, f'/api/predict answered without {missing}: {str(j)[:200]}'
    assert all({'label', 'score'} <= set(p) for p in j['predictions']), f'/api/predict predictions: {j["predictions"]}'
    return j['label']

def gradio_api(base, data:bytes, name:str) -> str:
    "Gradio's HTTP API: upload the photo, call the endpoint, read its result (server-sent events): the label"
    s = session()
    if not hasattr(_local, 'endpoint'):
        r = s.get(base + 'gradio_api/info', timeout=30)
        if r.status_code == 404: raise NoAPI('HTTP 404 on /gradio_api/info')
        _local.endpoint = next(iter(r.json()['named_endpoints'])).strip('/')
    up = s.post(base + 'gradio_api/upload', files={'files': (name, data, 'image/jpeg')}, timeout=120); up.raise_for_status()
    call = s.post(base + f'gradio_api/call/{_local.endpoint}', timeout=120,
                  json={'data': [{'path': up.json()[0], 'orig_name': name, 'meta': {'_type': 'gradio.FileData'}}]})
    call.raise_for_status()
    r = s.get(base + f'gradio_api/call/{_local.endpoint}/{call.json()["event_id"]}', timeout=120); r.raise_for_status()
    event = None
    for line in r.text.splitlines():
        if line.startswith('event:'): event = line[6:].strip()
        elif line.startswith('data:') and event == 'complete': return json.loads(line[5:])[0]['label']
        elif line.startswith('data:') and event == 'error': raise RuntimeError(f'Gradio error: {line[5:].strip()[:200]}')
    raise RuntimeError(f'Gradio gave no result: {r.text[:200]}')

API = {'gradio': gradio_api, 'webclassifier': webclassifier_api}

def api(server, photos:int, threads:int, calls:int, truth:dict, vocab) -> dict:
    "Photos per second through the API with `threads` clients at once, and one photo's latency (median of `calls`)"
    client, base = API[server.kind], server.url
    data = {p: p.read_bytes() for p in API_PHOTOS}
    def one(p):
        label = client(base, data[p], p.name)
        assert label in vocab, f'{server.name} API label {label!r} is no class of the model {vocab}'
        return label == truth[p]
    try: one(PHOTO)  # warm, and is there an API at all?
    except NoAPI as e: return dict(status='no API', detail=str(e))
    except Exception as e: return dict(status='failed', detail=f'{type(e).__name__}: {str(e)[:160]}')
    times = []
    for _ in range(calls):
        t = time.perf_counter(); one(PHOTO); times.append(time.perf_counter() - t)
    batch = [API_PHOTOS[i % len(API_PHOTOS)] for i in range(photos)]
    with MemorySampler(server.proc.pid) as mem, ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        agree = list(pool.map(one, batch))
        seconds = time.perf_counter() - start
    return dict(status='ok', photos=photos, threads=threads, seconds=seconds, per_second=photos/seconds,
                latency=statistics.median(times), calls=calls, agree=sum(agree), peak=mem.peak)

def floor(calls:int) -> dict:
    "The twin in this process: read_image(bytes) + predict_images, median of `calls`; and each API photo's label"
    from webclassifier.twin import TwinPredictor
    from webclassifier.images import read_image
    predictor = TwinPredictor(ROOT/'export.onnx')
    truth = {p: predictor.predict_images([read_image(p.read_bytes())])[0]['label'] for p in API_PHOTOS}
    data, times = PHOTO.read_bytes(), []
    for _ in range(calls):
        t = time.perf_counter(); predictor.predict_images([read_image(data)]); times.append(time.perf_counter() - t)
    return dict(latency=statistics.median(times), calls=calls, vocab=list(predictor.vocab), truth={str(p.relative_to(ROOT)): l for p, l in truth.items()})

# ---- the tables ----
def num(v, fmt):
    return fmt.format(v) if isinstance(v, (int, float)) else (v or '-')

def table(title, rows, servers, notes=()) -> str:
    "rows: (label, {server: value}, format, ratio?); columns: the servers, then each one's ratio to BASELINE"
    others = [s for s in servers if s != BASELINE and BASELINE in servers]
    heads = [*servers, *[f'{s}/{BASELINE}' for s in others]]
    width = max(12, *(len(h) + 2 for h in heads))
    lw = max(len(r[0]) for r in rows) + 2
    out = [title, ' ' * lw + ''.join(h.rjust(width) for h in heads)]
    for label, values, fmt, ratio in rows:
        cells = [num(values.get(s), fmt) for s in servers]
        for s in others:
            a, b = values.get(s), values.get(BASELINE)
            cells.append(f'{a/b:.2f}x' if ratio and isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else '')
        out.append(label.ljust(lw) + ''.join(str(c).rjust(width) for c in cells))
    return '\n'.join([*out, *notes, ''])

GiB = 2**30

def crowd_table(part, results, servers) -> str:
    n = int(part[5:])
    rows, v = [], {s: results[s].get(part) for s in servers}
    def each(f):
        out = {}
        for s, r in v.items():
            if r is None: out[s] = 'not run'
            elif 'failed' in r: out[s] = 'failed to start'
            else:
                try: out[s] = f(r)
                except (ValueError, statistics.StatisticsError): out[s] = '-'
        return out
    def outcome(r, k): return sum(p['outcome'] == k for p in r['pages'])
    def when(r, pick):
        ts = [p['t'] for p in r['pages'] if p['outcome'] == 'answered']
        return pick(ts) if ts else '-'
    rows += [(f'all {n} answered by (s)', each(lambda r: max(p['t'] for p in r['pages']) if outcome(r, 'answered') == n
                                                 else f'no ({outcome(r, "answered")}/{n})'), '{:.1f}', True),
             ('first answer (s)', each(lambda r: when(r, min)), '{:.1f}', True),
             ('median answer (s)', each(lambda r: when(r, statistics.median)), '{:.1f}', True),
             ('last answer (s)', each(lambda r: when(r, max)), '{:.1f}', True),
             ('last page usable (s)', each(lambda r: max(p['ready'] for p in r['pages'] if p['outcome'] in ('answered', 'error'))
                                         if any(p['outcome'] in ('answered', 'error') for p in r['pages']) else '-'), '{:.1f}', True),
             ('answered / busy / error / blank', each(lambda r: '/'.join(str(outcome(r, k)) for k in ('answered', 'busy', 'error', 'blank'))),
              '{}', False),
             ('server CPU seconds (its process tree)', each(lambda r: r.get('server_cpu', '-')), '{:.1f}', True),
             ('peak memory, server tree (GiB)', each(lambda r: r['peak']/GiB), '{:.2f}', True),
             ('  idle before the crowd (GiB)', each(lambda r: r['idle']/GiB), '{:.2f}', True)]
    notes = []
    for s, r in v.items():
        if r and 'failed' in r: notes.append(f'  {s}: failed to start ({r["failed"]})')
        elif r:
            timeout = r.get('timeout')
            if any(p['outcome'] != 'answered' for p in r['pages']):
                firsts = {}
                for p in r['pages']:
                    if p['outcome'] != 'answered': firsts.setdefault(p['outcome'], p['detail'])
                notes.append(f'  {s}: ' + '; '.join(f'{k}: {d or "-"}' for k, d in firsts.items()) + f' (blank: nothing in {timeout} s)')
    return table(f'Crowd of {n} pages at once (one Chromium, a context each, one photo each: {PHOTO.relative_to(ROOT)})',
                 rows, servers, notes)

def idle_table(part, results, servers) -> str:
    n = int(part[4:])
    v = {s: results[s].get(part) for s in servers}
    def each(f): return {s: ('not run' if r is None else 'failed to start' if 'failed' in r else f(r)) for s, r in v.items()}
    idle_s = next((r['idle_seconds'] for r in v.values() if r and 'idle_seconds' in r), '?')
    rows = [(f'{n} pages: app / busy / error / blank', each(lambda r: '/'.join(str(r['counts'][k]) for k in ('app', 'busy', 'error', 'blank'))), '{}', False),
            (f'seconds to open the {n}', each(lambda r: r['open_s']), '{:.1f}', True),
            (f'server CPU seconds to open the {n}', each(lambda r: r.get('open_cpu', '-')), '{:.1f}', True),
            (f'still showing the app after {idle_s} s', each(lambda r: r['still']), '{}', False),
            ('peak memory while idle (GiB)', each(lambda r: r['idle_peak']/GiB), '{:.2f}', True),
            ('peak memory incl. page N+1 (GiB)', each(lambda r: r['peak']/GiB), '{:.2f}', True),
            ('  idle before the pages (GiB)', each(lambda r: r['idle']/GiB), '{:.2f}', True),
            (f'page {n+1}: its upload', each(lambda r: r['last']['outcome']), '{}', False),
            (f'page {n+1}: answered after (s)', each(lambda r: r['last']['t'] if r['last']['outcome'] == 'answered' else '-'), '{:.1f}', True)]
    notes = [f'  {s}: failed to start ({r["failed"]})' if 'failed' in r else
             f'  {s}: page {n+1}: {r["last"]["detail"][:150]}' for s, r in v.items() if r and ('failed' in r or r['last']['outcome'] != 'answered')]
    notes += [f'  {s}: e.g. {r["details"][0][:150]}' for s, r in v.items() if r and r.get('details')]
    return table(f'{n} idle pages (opened in waves of 8, left idle {idle_s} s), then page {n+1} uploads one photo', rows, servers, notes)

def api_table(results, servers, floor_result) -> str:
    v = {s: results[s].get('api') for s in servers}
    def each(f):
        out = {}
        for s, r in v.items():
            if r is None: out[s] = 'not run'
            elif 'failed' in r: out[s] = 'failed to start'
            elif r['status'] != 'ok': out[s] = r['status']
            else: out[s] = f(r)
        return out
    r0 = next((r for r in v.values() if r and r.get('status') == 'ok'), {})
    rows = [(f'photos per second ({r0.get("photos", "?")} photos, {r0.get("threads", "?")} threads)', each(lambda r: r['per_second']), '{:.1f}', True),
            (f'one photo, median of {r0.get("calls", "?")} (ms)', each(lambda r: r['latency']*1000), '{:.1f}', True),
            ('agree with the twin run here', each(lambda r: f'{r["agree"]}/{r["photos"]}'), '{}', False),
            ('peak memory meanwhile (GiB)', each(lambda r: r['peak']/GiB), '{:.2f}', True)]
    notes = [f'  {s}: {r["status"]} ({r["detail"]})' for s, r in v.items() if r and r.get('status') not in (None, 'ok')]
    notes += [f'  {s}: failed to start ({r["failed"]})' for s, r in v.items() if r and 'failed' in r]
    if floor_result:
        notes.append(f'  floor, the twin in this process (read_image + predict_images, median of {floor_result["calls"]}): '
                     f'{floor_result["latency"]*1000:.1f} ms a photo')
    return table(f'JSON API ({len(API_PHOTOS)} photos of tests/sample/*/*.jpg cycled; gradio: its HTTP API, webclassifier: POST /api/predict)',
                 rows, servers, notes)

def part_key(part):
    return (0 if part.startswith('crowd') else 1 if part.startswith('idle') else 2, int(re.sub(r'\D', '', part) or 0))

def report(store) -> str:
    results = store['results']
    servers = sorted(results, key=lambda s: (s != BASELINE, list(SERVERS).index(s) if s in SERVERS else 99))
    parts = sorted({p for r in results.values() for p in r}, key=part_key)
    head = [f'Serving the same model (export.onnx, the ONNX twin) several ways. {store.get("machine", "")}',
            'Commands (run from the repository root, on a free port of 127.0.0.1):']
    for s in servers:
        cmds = {r.get('cmd') for r in results[s].values() if r.get('cmd')} or {' '.join(command(s)) if s in SERVERS else '?'}
        said = sorted({re.sub(r'127\.0\.0\.1:\d+', '127.0.0.1:PORT', r['served']) for r in results[s].values() if r.get('served')})
        head.append(f'  {s}: {" | ".join(sorted(cmds))}' + ''.join(f'\n      it said: {x}' for x in said))
    head += store.get('notes', [])
    head += [f'Code: {store.get("code", "?")}; {store.get("versions", "")}',
             'Ratios: the server\'s figure / gradio\'s (seconds and GiB: under 1 is better than Gradio; photos per second: over 1).',
             'When each was measured: ' +
             '; '.join(f'{s} {p} {results[s][p].get("when", "?")}' for s in servers for p in parts if p in results[s]), '']
    out = ['\n'.join(head)]
    for p in parts:
        if p.startswith('crowd'): out.append(crowd_table(p, results, servers))
        elif p.startswith('idle'): out.append(idle_table(p, results, servers))
        elif p == 'api': out.append(api_table(results, servers, store.get('floor')))
    return '\n'.join(out)

def code_state() -> str:
    "The commit, and whether the served code has uncommitted changes (others edit it meanwhile)"
    git = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    changed = git('status', '--porcelain', '--', 'webclassifier').splitlines()
    return f'commit {git("rev-parse", "--short", "HEAD")}' + (f' + uncommitted changes in {len(changed)} file(s) of webclassifier/' if changed else '')

def versions() -> str:
    import importlib.metadata as md
    out = subprocess.run([str(ROOT/'benchmarks'/'.venv-gradio'/'bin'/'python'), '-c',
                          'import importlib.metadata as m; print(m.version("gradio"), m.version("onnxruntime"))'], capture_output=True, text=True).stdout.split()
    gradio = f'gradio {out[0]} (onnxruntime {out[1]} in benchmarks/.venv-gradio)' if len(out) == 2 else 'gradio: not installed (sh benchmarks/gradio_env.sh)'
    return f'{gradio}; onnxruntime {md.version("onnxruntime")} in .venv'

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--servers', default=','.join(SERVERS), help=f'comma-separated, of {", ".join(SERVERS)} (default: all, in one run)')
    ap.add_argument('--only', default='crowd8,crowd32,idle64,api', help='comma-separated: crowdN, idleN, api')
    ap.add_argument('--timeout', type=float, default=180, help='seconds a page may take to answer before it counts as blank')
    ap.add_argument('--idle-seconds', type=float, default=60)
    ap.add_argument('--api-photos', type=int, default=200); ap.add_argument('--api-threads', type=int, default=4)
    ap.add_argument('--api-calls', type=int, default=20, help='sequential calls for the latency (and the floor)')
    ap.add_argument('--out', type=Path, default=ROOT/'benchmarks'/'out'/'crowd.txt')
    ap.add_argument('--fresh', action='store_true', help='forget the results kept from earlier runs')
    ap.add_argument('--report', action='store_true', help='measure nothing: rewrite the text from the kept results')
    args = ap.parse_args()
    if args.report:
        text = report(json.loads(args.out.with_suffix('.json').read_text())); args.out.write_text(text); print(text); return
    servers, parts = args.servers.split(','), args.only.split(',')
    for s in servers:
        if s not in SERVERS: ap.error(f'{s}: no such server (add it to SERVERS): {", ".join(SERVERS)}')
    for p in parts:
        if not re.fullmatch(r'crowd\d+|idle\d+|api', p): ap.error(f'{p}: not crowdN, idleN or api')
    store_path = args.out.with_suffix('.json')
    store = {} if args.fresh or not store_path.exists() else json.loads(store_path.read_text())
    store.setdefault('results', {})
    store['machine'] = f'Machine: {psutil.cpu_count()} cores (shared), {psutil.virtual_memory().total/GiB:.0f} GiB.'
    store['code'] = code_state()
    store['versions'] = versions()
    def save():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        store_path.write_text(json.dumps(store, indent=1, default=str))
        args.out.write_text(report(store))

    print('the floor (the twin in this process) and each API photo\'s label ...', flush=True)
    fl = floor(args.api_calls)
    vocab, truth = fl['vocab'], {p: fl['truth'][str(p.relative_to(ROOT))] for p in API_PHOTOS}
    if 'api' in parts: store['floor'] = dict(latency=fl['latency'], calls=fl['calls'])
    for s in servers:
        store['results'].setdefault(s, {})
        for p in parts:
            print(f'{s}: {p} ...', flush=True)
            when = datetime.now().strftime('%Y-%m-%d %H:%M')
            try: server = Server(s, p)
            except StartFailed as e:
                print(f'  {s} failed to start: {e}', flush=True)
                store['results'][s][p] = dict(failed=str(e), when=when); save(); continue
            try:
                print(f'  up on {server.url} (idle after {server.settled:.0f} s more), log {server.log_path}', flush=True)
                if p.startswith('crowd'): r = asyncio.run(crowd(server, int(p[5:]), args.timeout, vocab))
                elif p.startswith('idle'): r = asyncio.run(idle_pages(server, int(p[4:]), args.idle_seconds, args.timeout, vocab))
                else: r = api(server, args.api_photos, args.api_threads, args.api_calls, truth, vocab)
            finally: server.stop()
            r['when'], r['cmd'] = when, ' '.join(server.cmd)
            r['served'] = next((l.strip() for l in server.log_path.read_text(errors='replace').splitlines()
                                if re.search(r'serving|Running on|Voila .* running at', l)), '')[:200]
            store['results'][s][p] = r
            save()
            print(report(dict(store, results={s: {p: r}})).split('\n\n', 1)[1], flush=True)
    save()
    print(args.out.read_text())

if __name__ == '__main__':
    main()
