"""Past one machine (issue 32), measured in one run on this machine: the model as a Ray Serve service, `webclassifier
app --model-url` workers behind HAProxy (tools/haproxy.cfg). Prints every table into benchmarks/out/scale.txt.

    .venv/bin/python benchmarks/scale.py          # about 10 minutes on 2 shared cores

One local Ray (2 CPUs), started here as `webclassifier serve-model` starts it (`start_service`, then `deploy`: the same
functions), its HTTP on a free port of 127.0.0.1; the model: the shipped twin (export.onnx), one ONNX Runtime thread
per replica. The clients are threads of this process. Every figure below is from this run.
1. replicas: the service's JSON API (POST /api/predict straight to Ray Serve's proxy), 200 photos (tests/sample's,
   cycled) from 4 client threads: photos per second, with 1 replica and with 2 (redeployed in turn, 3 rounds each,
   interleaved: the median); the CPU seconds each part used per photo meanwhile (the replicas, Ray Serve's proxy, the
   rest of Ray, the clients), which say what 2 cores can and cannot give 2 replicas. For scale: the twin in this
   process (read_image + predict_images, one thread), and `webclassifier app` (one machine, its model in its process).
2. batching: one replica, 200 photos from 4 and from 8 clients: no batching (`ModelReplica` with batches of 1, as
   shipped), the replica's `ModelService` batching what waits (up to 8), and Ray Serve's `@serve.batch` (up to 8,
   10 ms wait).
3. crowd: 8 pages at once (headless Chromium, as benchmarks/crowd.py: each uploads one photo as a person does)
   through HAProxy to two workers, on the service with 2 replicas: every page answered? when? Then 8 new pages again
   with one replica killed (SIGKILL) as soon as the first page has its answer; the calls the workers sent again.
   Then the JSON API through HAProxy: 200 photos from 8 clients, a replica killed once 50 are answered.
4. memory: the RSS of each part, idle (before the crowds) and at its peak during them (sampled every 0.2 s).
"""
import argparse, asyncio, os, re, shutil, signal, statistics, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
import psutil, requests
from starlette.responses import JSONResponse
from ray import serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'benchmarks'))
import crowd as pages  # how benchmarks/crowd.py opens a page and uploads a photo in Chromium
from webclassifier.images import MAX_BYTES, SERVED_DECODED, SERVED_SIDE, read_image
from webclassifier.scale import APP_NAME, QUIET, REPLICA_BATCH, REPLICA_CPUS, ModelReplica, deploy, start_service, stop_service
from webclassifier.service import api_answer

PHOTOS = sorted((ROOT/'tests'/'sample').glob('*/*.jpg'))
WEBCLASSIFIER = ROOT/'.venv'/'bin'/'webclassifier'
MiB = 2**20

class BatchedReplica(ModelReplica):
    "`ModelReplica` whose photos are batched by Ray Serve (`@serve.batch`) instead of its `ModelService`"
    async def __call__(self, request):
        if (request.method, request.url.path) != ('POST', '/api/predict'): return await super().__call__(request)
        image = await asyncio.to_thread(read_image, await request.body(), 'photo', MAX_BYTES, SERVED_DECODED, SERVED_SIDE)
        return JSONResponse(api_answer(await self.batched(image), self.service.model_sha256))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def batched(self, images:list) -> list:
        return await asyncio.to_thread(self.service.predictor.predict_images, images)

def run_replicas(cls, replicas:int, max_batch:int):
    "Replace the service's application by `replicas` replicas of `cls` (rolling update), as `model_app` makes them"
    from webclassifier.scale import served_file
    _, sha256, line = served_file(ROOT/'export.pkl')
    d = serve.deployment(cls, name='model', num_replicas=replicas, max_ongoing_requests=8, max_surge_percent=100,
                         ray_actor_options=dict(num_cpus=REPLICA_CPUS))
    serve.run(d.bind(str(ROOT/'export.pkl'), 'onnx', 1, sha256, line, max_batch), name=APP_NAME, route_prefix='/',
              logging_config=QUIET)

# ---- the processes, by part ----
def role(p) -> str:
    "Which part of the set-up the process `p` is"
    try: cmd = ' '.join(p.cmdline())
    except psutil.Error: return 'gone'
    for key, name in [('gcs_server', 'Ray head: GCS'), ('raylet/raylet', 'Ray: raylet'),  # their arguments name the others
                      ('ServeReplica', 'replica'), ('default_worker.py', 'Ray: worker starting'), ('ProxyActor', 'Ray Serve proxy'),
                      ('ServeController', 'Ray Serve controller'), ('DashboardAgent', 'Ray: dashboard agent'),
                      ('dashboard.py', 'Ray head: dashboard'), ('RuntimeEnvAgent', 'Ray: runtime env agent'),
                      ('log_monitor', 'Ray: log monitor'), ('monitor.py', 'Ray head: autoscaler monitor'),
                      ('ray::IDLE', 'Ray: idle worker'), ('haproxy', 'HAProxy'), ('--model-url', 'worker'),
                      ('chromium', 'Chromium'), ('playwright', 'Playwright (drives Chromium)'), ('webclassifier app', 'webclassifier app (one machine)')]:
        if key in cmd: return name
    return 'other'

def parts(roots:list) -> dict:
    "role -> its processes, among `roots` and their children"
    out = {}
    for r in roots:
        try: procs = [r, *r.children(recursive=True)]
        except psutil.Error: continue
        for p in procs: out.setdefault('this process (clients, driver)' if p.pid == os.getpid() else role(p), []).append(p)
    return out

def cpu(procs) -> float:
    total = 0.
    for p in procs:
        try: t = p.cpu_times(); total += t.user + t.system
        except psutil.Error: pass
    return total

def rss(procs) -> int:
    total = 0
    for p in procs:
        try: total += p.memory_info().rss
        except psutil.Error: pass
    return total

class Peaks:
    "Peak RSS of each part (and of each process) under `roots`, sampled every `every` s while in `with`"
    def __init__(self, roots, every=0.2): self.roots, self.every, self.peak, self.each = roots, every, {}, {}
    def sample(self):
        for name, procs in parts(self.roots()).items():
            self.peak[name] = max(self.peak.get(name, 0), rss(procs))
            for p in procs:
                try: self.each[(name, p.pid)] = max(self.each.get((name, p.pid), 0), p.memory_info().rss)
                except psutil.Error: pass
    def run(self):
        while self.running: self.sample(); time.sleep(self.every)
    def __enter__(self):
        self.running = True; self.thread = threading.Thread(target=self.run, daemon=True); self.thread.start(); return self
    def __exit__(self, *a): self.running = False; self.thread.join(); self.sample()

# ---- the JSON API ----
_local = threading.local()
def post(url:str, photo:Path) -> dict:
    if not hasattr(_local, 's'): _local.s = requests.Session()
    r = _local.s.post(url + '/api/predict', data=photo.read_bytes(), headers={'Content-Type': 'image/jpeg'}, timeout=120)
    r.raise_for_status()
    return r.json()

def throughput(url:str, clients:int, photos:int, truth:dict, roots) -> dict:
    "Photos per second of `photos` photos from `clients` threads; the CPU seconds per photo of each part meanwhile"
    batch = [PHOTOS[i % len(PHOTOS)] for i in range(photos)]
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda p: post(url, p), batch[:2 * clients]))  # warm: every connection open, every replica awake
        before = {k: cpu(v) for k, v in parts(roots()).items()}
        start = time.perf_counter()
        said = list(pool.map(lambda p: post(url, p), batch))
        seconds = time.perf_counter() - start
        after = {k: cpu(v) for k, v in parts(roots()).items()}
    wrong = sum(s['label'] != truth[p] for s, p in zip(said, batch))
    assert wrong <= photos // 50, f'{wrong} of {photos} answers disagree with the twin here'  # JPEG at 95 may tip a close one
    return dict(per_second=photos / seconds, cpu={k: (after[k] - before.get(k, 0)) / photos for k in after})

def floor(photos:int=60) -> tuple:
    "The twin in this process, one thread: ms per photo (read_image + predict_images), and each photo's label"
    from webclassifier.twin import TwinPredictor
    twin = TwinPredictor.load(ROOT/'export.pkl', threads=1)
    truth = {p: twin.predict_images([read_image(p.read_bytes(), 'p', MAX_BYTES, SERVED_DECODED, SERVED_SIDE)])[0]['label'] for p in PHOTOS}
    start = time.perf_counter()
    for i in range(photos): twin.predict_images([read_image(PHOTOS[i % len(PHOTOS)].read_bytes(), 'p', MAX_BYTES, SERVED_DECODED, SERVED_SIDE)])
    return (time.perf_counter() - start) / photos * 1000, truth

# ---- subprocesses ----
def free_port() -> int:
    return pages.free_port()

def wait_for(url:str, timeout:float=120, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None: raise RuntimeError(f'{proc.args[0]} exited with {proc.returncode}')
        try:
            if requests.get(url, timeout=5).status_code < 500: return
        except requests.RequestException: pass
        time.sleep(0.5)
    raise TimeoutError(f'{url}: no answer in {timeout} s')

def start(cmd:list, log:Path, env=None) -> subprocess.Popen:
    return subprocess.Popen([str(c) for c in cmd], cwd=ROOT, stdout=open(log, 'w'), stderr=subprocess.STDOUT,
                            env={**os.environ, 'PYTHONUNBUFFERED': '1', **(env or {})})

def stop(proc:subprocess.Popen):
    procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)] if proc.poll() is None else []
    for p in procs:
        try: p.terminate()
        except psutil.Error: pass
    _, alive = psutil.wait_procs(procs, timeout=20)
    for p in alive: p.kill()

def one_machine(clients:int, photos:int, truth:dict, logs:Path) -> float:
    "`webclassifier app` (the model in its process), the same API calls: photos per second"
    port = free_port()
    proc = start([WEBCLASSIFIER, 'app', '--model', 'export.pkl', '--port', port, '--max-per-address', 0], logs/'one-machine.log')
    try:
        wait_for(f'http://127.0.0.1:{port}/api/predict', proc=proc)
        return throughput(f'http://127.0.0.1:{port}', clients, photos, truth, lambda: [psutil.Process(proc.pid)])['per_second']
    finally: stop(proc)

# ---- the crowd of pages ----
async def crowd_pages(url:str, n:int, timeout:float, vocab:list, on_first=None) -> dict:
    "`n` pages at once through `url`, each uploading one photo: outcomes and seconds; `on_first()` when the first is answered"
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await pages.launch(pw)
        start, deadline, first = time.time(), time.time() + timeout, asyncio.Event()
        async def visit(i):
            page, got, detail = await pages.open_page(browser, 'webclassifier', url, deadline)
            worker = next((c['value'] for c in await page.context.cookies() if c['name'] == 'WCWORKER'), None)
            if got == 'app': got, detail = await pages.upload(page, 'webclassifier', pages.PHOTO, deadline)
            if got == 'answered':
                pages.check_answer(detail, vocab)
                if not first.is_set():
                    first.set()
                    if on_first: await asyncio.to_thread(on_first)
            return dict(outcome=got, t=round(time.time() - start, 1), detail=detail[:160], worker=worker)
        visits = await asyncio.gather(*[visit(i) for i in range(n)])
        await browser.close()
    return dict(n=n, visits=visits)

def kill_a_replica(killed:list):
    victim = parts([psutil.Process()])['replica'][0]
    victim.kill(); killed.append((victim.pid, time.time()))

def wait_replicas(n:int, timeout:float) -> str:
    "Wait until `n` replicas run: how long it took"
    start = time.time()
    while time.time() - start < timeout:
        if len(parts([psutil.Process()]).get('replica', [])) >= n: return f'{time.time() - start:.0f} s later'
        time.sleep(0.5)
    return f'not within {timeout:.0f} s'

def crowd_api(url:str, photos:int, clients:int, truth:dict, during) -> dict:
    "`photos` photos from `clients` threads through `url`; `during()` once a quarter are answered: how many answered right"
    answered = []
    def one(p):
        try: said = post(url, p)
        except requests.RequestException as e: return (str(e)[:100], False)
        answered.append(p)
        return None, said['label'] == truth[p]
    batch = [PHOTOS[i % len(PHOTOS)] for i in range(photos)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one, p) for p in batch]
        while len(answered) < photos // 4 and not all(f.done() for f in futures): time.sleep(0.01)
        during()
        got = [f.result() for f in futures]
    return dict(answered=sum(e is None for e, _ in got), agree=sum(r for _, r in got), seconds=time.perf_counter() - start,
                errors=sorted({e for e, _ in got if e})[:3])

def retries(logs:Path) -> int:
    return sum((logs/f'w{i}.log').read_text(errors='replace').count('sent again') for i in (1, 2))

# ---- the report ----
def describe_crowd(name:str, r:dict) -> str:
    outcomes = [v['outcome'] for v in r['visits']]
    answered = [v['t'] for v in r['visits'] if v['outcome'] == 'answered']
    line = f'{name}: {outcomes.count("answered")} of {r["n"]} answered'
    if answered: line += f', the first after {min(answered):.1f} s, all by {max(answered):.1f} s'
    workers = sorted(str(v['worker']) for v in r['visits'])
    line += ' (pages per worker: ' + ', '.join(f'{w} {workers.count(w)}' for w in sorted(set(workers))) + ')'
    line += '\n    CPU seconds a page (open, one photo), by part: ' + ', '.join(
        f'{k} {v / r["n"]:.2f}' for k, v in sorted(r['cpu'].items(), key=lambda kv: -kv[1]) if v / r['n'] >= 0.005)
    others = [f'{v["outcome"]}: {v["detail"]}' for v in r['visits'] if v['outcome'] != 'answered']
    return line + ''.join(f'\n    {o}' for o in others)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--photos', type=int, default=200); ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--timeout', type=float, default=180, help='seconds a page may take to answer')
    ap.add_argument('--out', type=Path, default=ROOT/'benchmarks'/'out'/'scale.txt')
    args = ap.parse_args()
    logs = Path('/tmp/scale-logs'); shutil.rmtree(logs, ignore_errors=True); logs.mkdir()
    out = [f'benchmarks/scale.py, {datetime.now():%Y-%m-%d %H:%M}: {pages.code_state()}; ray {__import__("ray").__version__}, '
           f'onnxruntime {__import__("onnxruntime").__version__}, {subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split(chr(10))[0]}',
           f'Machine: {psutil.cpu_count()} cores (shared with other work: load average {os.getloadavg()[0]:.1f} at the start), '
           f'{psutil.virtual_memory().total / 2**30:.0f} GiB.', '']
    def say(*lines):
        out.extend(lines); print(*lines, sep='\n', flush=True)

    ms, truth = floor()
    vocab = sorted(set(truth.values()))
    print('one machine: webclassifier app ...', flush=True)
    single = one_machine(4, args.photos, truth, logs)

    port = free_port()
    url = f'http://127.0.0.1:{port}'
    me = lambda: [psutil.Process()]
    t = time.time()
    start_service('127.0.0.1', port, cpus=2)
    workers, proxy = [], None
    try:
        deploy(ROOT/'export.pkl', replicas=1)
        say(f'Ray (local, 2 CPUs) and Ray Serve started, the model on 1 replica, in {time.time() - t:.0f} s.', '')
        idle = {k: rss(v) for k, v in parts(me()).items()}
        idle_each = {(role(p), p.pid): p.memory_info().rss for p in [psutil.Process(), *psutil.Process().children(recursive=True)]}

        # 1. replicas
        rounds = {1: [], 2: []}
        cpu_per = {}
        for r in range(args.rounds):
            for n in (1, 2):
                run_replicas(ModelReplica, n, REPLICA_BATCH)  # as shipped
                got = throughput(url, 4, args.photos, truth, me)
                rounds[n].append(got['per_second']); cpu_per.setdefault(n, []).append(got['cpu'])
                print(f'  round {r + 1}: {n} replica(s): {got["per_second"]:.1f} photos/s', flush=True)
        one, two = statistics.median(rounds[1]), statistics.median(rounds[2])
        say(f'1. The JSON API, straight to the service: {args.photos} photos from 4 clients (median of '
            f'{args.rounds} rounds, interleaved)',
            f'  the twin in this process, one thread, no HTTP:  {1000 / ms:6.1f} photos/s ({ms:.1f} ms a photo)',
            f'  webclassifier app, one machine (model in-process): {single:6.1f} photos/s',
            f'  serve-model, 1 replica:                          {one:6.1f} photos/s  (rounds: {", ".join(f"{x:.1f}" for x in rounds[1])})',
            f'  serve-model, 2 replicas:                         {two:6.1f} photos/s  (rounds: {", ".join(f"{x:.1f}" for x in rounds[2])})',
            f'  2 replicas / 1: {two / one:.2f}x (target 1.5x)',
            '  CPU milliseconds per photo, by part (median over the rounds):')
        names = sorted({k for n in cpu_per for c in cpu_per[n] for k in c}, key=lambda k: -statistics.median(c.get(k, 0) for c in cpu_per[2]))
        for k in names:
            say(f'    {k:38} ' + '  '.join(f'{n} replica(s): {1000 * statistics.median(c.get(k, 0) for c in cpu_per[n]):6.1f}' for n in (1, 2)))
        total = {n: 1000 * statistics.median(sum(c.values()) for c in cpu_per[n]) for n in (1, 2)}
        replica_ms = 1000 * statistics.median(c.get('replica', 0) for c in cpu_per[1])
        say(f'    {"all":38} ' + '  '.join(f'{n} replica(s): {total[n]:6.1f}' for n in (1, 2)),
            f'  cores kept busy: 1 replica {one * total[1] / 1000:.2f}, 2 replicas {two * total[2] / 1000:.2f} (of 2); the replica alone '
            f'{one * replica_ms / 1000:.2f} (its photo decoded in one thread while the model runs in another)',
            f'  so on 2 cores no number of replicas passes {2000 / total[1]:.0f} photos/s, {2000 / total[1] / one:.2f}x one replica'
            + (': 1.5x needs a second machine\'s cores' if 2000 / total[1] / one < 1.5 else
               ' (more than 1.5x only if the one replica was held down, e.g. by other work on these cores)'),
            f'  per replica, for a cluster: {replica_ms:.1f} CPU ms a photo in the replica ({1000 / replica_ms:.0f} photos/s per core it has) '
            f'and {1000 * statistics.median(c.get("Ray Serve proxy", 0) for c in cpu_per[1]):.1f} in the Ray Serve proxy of the node it enters by', '')

        # 2. batching
        settings = [('no batching (batches of 1)', ModelReplica, 1), ("the replica's ModelService, up to 8 waiting", ModelReplica, 8),
                    ('Ray Serve @serve.batch, up to 8, 10 ms wait', BatchedReplica, 1)]
        batched = {(s, c): [] for s, _, _ in settings for c in (4, 8)}
        for r in range(args.rounds):
            for name, cls, max_batch in settings:
                run_replicas(cls, 1, max_batch)
                for c in (4, 8): batched[(name, c)].append(throughput(url, c, args.photos, truth, me)['per_second'])
                print(f'  round {r + 1}: {name}: {batched[(name, 4)][-1]:.1f} / {batched[(name, 8)][-1]:.1f}', flush=True)
        say(f'2. Batching, 1 replica: photos/s, {args.photos} photos (median of rounds); shipped: batches of {REPLICA_BATCH}', f'  {"":50} 4 clients  8 clients')
        for name, _, _ in settings:
            say(f'  {name:50} {statistics.median(batched[(name, 4)]):9.1f}  {statistics.median(batched[(name, 8)]):9.1f}')
        base = {c: statistics.median(batched[(settings[0][0], c)]) for c in (4, 8)}
        say('  against no batching: ' + '; '.join(f'{name.split(",")[0]}: ' + ', '.join(f'{statistics.median(batched[(name, c)]) / base[c]:.2f}x ({c})' for c in (4, 8))
                                                  for name, _, _ in settings[1:]), '')

        # 3. the crowd, through HAProxy and two workers, on 2 replicas
        deploy(ROOT/'export.pkl', replicas=2)
        flags = logs/'flags'
        for i in (1, 2):
            wport = free_port()
            workers.append((wport, start([WEBCLASSIFIER, 'app', '--model-url', url, '--port', wport, '--flags', flags, '--max-per-address', 0],
                                         logs/f'w{i}.log')))
        for wport, proc in workers: wait_for(f'http://127.0.0.1:{wport}/api/predict', proc=proc)
        pport = free_port()
        proxy = start(['haproxy', '-db', '-f', ROOT/'tools'/'haproxy.cfg'], logs/'haproxy.log',
                      env=dict(WC_BIND=f'127.0.0.1:{pport}', WC_CONNECTIONS_PER_ADDRESS='1000',
                               **{f'WC_WORKER{i + 1}': f'127.0.0.1:{w}' for i, (w, _) in enumerate(workers)}))
        wait_for(f'http://127.0.0.1:{pport}/', proc=proxy)
        time.sleep(5)  # idle
        idle.update({k: rss(v) for k, v in parts(me()).items()})
        def crowd_cpu(**kwargs) -> dict:  # a crowd of 8 pages, with the CPU seconds each lasting part used meanwhile
            before = {p.pid: cpu([p]) for v in parts(me()).values() for p in v}
            r = asyncio.run(crowd_pages(f'http://127.0.0.1:{pport}/', 8, args.timeout, vocab, **kwargs))
            used = {}
            for k, v in parts(me()).items():
                if k in ('gone', 'other', 'Chromium', 'Playwright (drives Chromium)'): continue  # the browser is gone by now
                used[k] = sum(cpu([p]) - before.get(p.pid, 0) for p in v)
            return dict(r, cpu=used)
        with Peaks(me) as peaks:
            calm = crowd_cpu()
            killed, before = [], retries(logs)
            hit = crowd_cpu(on_first=lambda: kill_a_replica(killed))
            sent_again = retries(logs) - before
            replaced = wait_replicas(2, 60)
            killed_api, before_api = [], retries(logs)
            api_crowd = crowd_api(f'http://127.0.0.1:{pport}', 200, 8, truth, lambda: kill_a_replica(killed_api))
            sent_again_api = retries(logs) - before_api
            replaced_api = wait_replicas(2, 60)
        say('3. A crowd: 8 pages at once through HAProxy, 2 workers (webclassifier app --model-url), the service on 2 replicas',
            '  ' + describe_crowd('all replicas up', calm),
            '  ' + describe_crowd(f'a replica killed (SIGKILL, pid {killed[0][0] if killed else "?"}) once the first page had its answer', hit),
            f'    the workers sent {sent_again} call(s) again after the kill; 2 replicas again {replaced}',
            f'  the JSON API through HAProxy, 200 photos from 8 clients, a replica killed once 50 were answered: '
            f'{api_crowd["answered"]} of 200 answered (HTTP 200; {api_crowd["agree"]} with the twin\'s label here), {api_crowd["seconds"]:.1f} s; '
            f'the workers sent {sent_again_api} call(s) again; 2 replicas again {replaced_api}',
            *[f'    {e}' for e in api_crowd['errors']], '')

        # 4. memory
        say('4. Memory (RSS, MiB): idle (after start, before the crowds) and peak during the crowds, by part')
        for k in sorted(set(idle) | set(peaks.peak), key=lambda k: -peaks.peak.get(k, idle.get(k, 0))):
            if k == 'gone' or not (idle.get(k) or peaks.peak.get(k)): continue
            count = len({pid for (name, pid) in peaks.each if name == k})
            say(f'  {k:38} {idle.get(k, 0) / MiB:7.0f} idle  {peaks.peak.get(k, 0) / MiB:7.0f} peak' + (f'  ({count} processes)' if count > 1 else ''))
        ray_parts = [k for k in peaks.peak if k.startswith(('Ray', 'replica'))]
        say(f'  Ray and Ray Serve together (head, raylet, agents, controller, proxy, replicas): {sum(idle.get(k, 0) for k in ray_parts) / MiB:.0f} MiB idle',
            f'  one replica: {statistics.median(v for (n, _), v in idle_each.items() if n == "replica") / MiB:.0f} MiB idle; '
            f'one worker: {statistics.median(v for (n, _), v in peaks.each.items() if n == "worker") / MiB:.0f} MiB at its peak with its pages')
    finally:
        if proxy: stop(proxy)
        for _, proc in workers: stop(proc)
        stop_service(joined=False)
    say('', f'Load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min).')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text('\n'.join(out) + '\n')
    print(f'wrote {args.out}')

if __name__ == '__main__':
    main()
