"""Past one machine (issue 32): `webclassifier serve-model` (a real Ray Serve, two replicas), two `webclassifier app
--model-url` workers and Debian's HAProxy (tools/haproxy.cfg) in front of them, all on 127.0.0.1"""
import json, os, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import psutil, pytest, requests
from servers import ARTIFACTS, ROOT, SAMPLE, Server, free_port, upload, wait_until

PHOTO = SAMPLE/'grizzly'/'00000014.jpg'
PHOTOS = sorted(SAMPLE.glob('*/*.jpg'))
WEBCLASSIFIER = Path(sys.executable).parent/'webclassifier'
UNAVAILABLE = 'The model is unavailable right now: try again in a moment'

class ModelService:
    "`webclassifier serve-model` on a free port of 127.0.0.1, usable once its model answers; `stop` ends it and every process it started"
    def __init__(self, models:Path, replicas:int=2, port:int=None, log:str='serve-model'):
        self.port = port or free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.log = open(ARTIFACTS/f'{log}.log', 'w')
        self.proc = subprocess.Popen([WEBCLASSIFIER, 'serve-model', '--model', models/'export.pkl', '--replicas', str(replicas),
                                      '--port', str(self.port), '--watch', '1'], stdout=self.log, stderr=subprocess.STDOUT)
        self.started = []  # the processes it started (Ray's), for `stop`
        try: assert wait_until(self.ready, 180, every=1), f'serve-model did not answer in 180 s: see {self.log.name}'
        except BaseException: self.stop(); raise

    def ready(self) -> bool:
        if self.proc.poll() is not None: raise RuntimeError(f'serve-model exited with {self.proc.returncode}: see {self.log.name}')
        self.started = psutil.Process(self.proc.pid).children(recursive=True)
        try: return requests.get(self.url + '/api/model', timeout=5).status_code == 200
        except requests.RequestException: return False

    def log_text(self) -> str: return Path(self.log.name).read_text()

    def info(self) -> dict: return requests.get(self.url + '/api/model', timeout=10).json()

    def replicas(self) -> list:
        "The processes of the model's replicas"
        def is_replica(p):
            try: return 'ServeReplica:webclassifier:model' in ' '.join(p.cmdline())
            except psutil.Error: return False
        return [p for p in psutil.Process(self.proc.pid).children(recursive=True) if is_replica(p)]

    def stop(self):
        "SIGTERM, as a service manager stops it (it stops its Ray); then whatever it started and left is killed"
        try: self.started = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error: pass  # it has exited: what it had started when last looked at
        self.proc.terminate()
        try: self.proc.wait(30)
        except subprocess.TimeoutExpired: self.proc.kill()
        left = [p for p in self.started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        for p in left: p.kill()
        self.log.close()
        assert not left, f'serve-model left {[p.name() for p in left]} running'

class Proxy:
    "HAProxy with tools/haproxy.cfg on a free port, in front of `workers`"
    def __init__(self, workers:list):
        assert shutil.which('haproxy'), 'these tests need Debian haproxy: tools/test.sh installs it'
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}/'
        env = dict(os.environ, WC_BIND=f'127.0.0.1:{self.port}', WC_CONNECTIONS_PER_ADDRESS='1000',
                   **{f'WC_WORKER{i+1}': f'127.0.0.1:{w.port}' for i, w in enumerate(workers)})
        self.proc = subprocess.Popen(['haproxy', '-db', '-f', ROOT/'tools'/'haproxy.cfg'], env=env,
                                     stdout=open(ARTIFACTS/'haproxy.log', 'w'), stderr=subprocess.STDOUT)
        if not wait_until(self.answers, 60):
            self.stop()
            raise TimeoutError(f'HAProxy did not answer: see {ARTIFACTS/"haproxy.log"}')

    def answers(self) -> bool:
        try: return requests.get(self.url, timeout=60).status_code == 200
        except requests.RequestException: return False

    def stop(self):
        self.proc.terminate(); self.proc.wait(10)

def worker(service:ModelService, flags:Path, name:str) -> Server:
    "`webclassifier app --model-url` on the service, from an empty folder, as behind a proxy (no per-address limit)"
    folder = flags.parent/name
    folder.mkdir()
    return Server([WEBCLASSIFIER, 'app', '--model-url', service.url, '--port', '{port}', '--flags', flags, '--max-per-address', 0],
                  cwd=folder, log=ARTIFACTS/f'{name}.log')

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The model service (two replicas, on a copy of the shipped model), two workers sharing one flags folder, HAProxy"
    ARTIFACTS.mkdir(exist_ok=True)
    tmp = tmp_path_factory.mktemp('scale')
    models = tmp/'models'
    models.mkdir()
    for name in ['export.pkl', 'export.onnx', 'model_card.json']: shutil.copy(ROOT/name, models/name)
    # a retrained model for the rollout, trained while the rest starts (the sample's 27 photos: half a minute)
    training = subprocess.Popen([WEBCLASSIFIER, 'train', SAMPLE, '--cv', '0', '--out', tmp/'retrained'/'export.pkl'],
                                stdout=open(ARTIFACTS/'scale-train.log', 'w'), stderr=subprocess.STDOUT)
    started = []
    try:
        service = ModelService(models); started.append(service)
        workers = {}
        for name in ('w1', 'w2'): workers[name] = worker(service, tmp/'flags', name); started.append(workers[name])
        proxy = Proxy(list(workers.values()))
    except BaseException:
        for part in reversed(started): part.stop()
        training.kill(); raise
    state = dict(service=service, workers=workers, proxy=proxy, models=models, training=training, retrained=tmp/'retrained')
    yield state  # a test may replace the service (stopped, then started again)
    proxy.stop()
    for w in workers.values(): w.stop()
    training.kill()
    if state['service'].proc.poll() is None: state['service'].stop()

def ask(url:str, photo:Path=PHOTO) -> tuple:
    "POST `photo` to the JSON API at `url` (a fresh connection): (status, JSON, the worker HAProxy sent it to)"
    r = requests.post(url + 'api/predict', data=photo.read_bytes(), headers={'Content-Type': 'image/jpeg'}, timeout=120)
    return r.status_code, r.json(), r.cookies.get('WCWORKER')

def crowd(url:str, calls:int, clients:int=4, during=None) -> list:
    "`calls` photos of the sample from `clients` at once through `url`; `during()` runs once a quarter of them are answered"
    answered = []
    def one(i):
        got = ask(url, PHOTOS[i % len(PHOTOS)])
        answered.append(got)
        return got
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one, i) for i in range(calls)]
        if during:
            assert wait_until(lambda: len(answered) >= calls // 4, 120, every=0.05)
            during()
        return [f.result() for f in futures]

def check_answers(results:list, model:str=None):
    "Every call answered 200 with the photo's class among the model's, by `model` if given"
    assert [s for s, _, _ in results] == [200] * len(results), [(s, j) for s, j, _ in results if s != 200][:3]
    assert all(j['label'] in ('black', 'grizzly', 'teddy') for _, j, _ in results)
    if model: assert {j['model'] for _, j, _ in results} == {model}

def test_service_answers_the_api_as_the_app_does(site):
    "Straight to the service: the app's JSON answer with the served twin's SHA-256; bad input a status and one line"
    service = site['service']
    said = requests.post(service.url + '/api/predict', data=PHOTO.read_bytes(), timeout=60)
    assert said.status_code == 200 and list(said.json()) == ['label', 'sure', 'predictions', 'model'], said.text
    twin_sha = json.loads((ROOT/'model_card.json').read_text())['twin']['sha256']
    assert said.json()['label'] == 'grizzly' and said.json()['model'] == twin_sha
    for body, status in [(b'', 400), (b'not a photo', 415), (b'x' * 21_000_000, 413)]:
        r = requests.post(service.url + '/api/predict', data=body, timeout=60)
        assert r.status_code == status and list(r.json()) == ['error'] and '\n' not in r.json()['error'], r.text
    assert requests.get(service.url + '/other', timeout=10).status_code == 404

def test_crowd_through_the_proxy_is_answered_by_both_workers(site):
    "Twenty-four photos from four clients through HAProxy: every one answered by the model service, over both workers"
    results = crowd(site['proxy'].url, 24)
    check_answers(results, site['service'].info()['model'])
    assert {w for _, _, w in results} == {'w1', 'w2'}, [w for _, _, w in results]

def test_a_replica_killed_mid_crowd_loses_no_answer(site):
    "A replica killed while photos wait: every photo still answered (the calls it held sent again), and Ray Serve replaces it"
    service = site['service']
    before = [p.pid for p in service.replicas()]
    assert len(before) == 2, before
    retried = lambda: sum((ARTIFACTS/f'{w}.log').read_text().count('sent again') for w in ('w1', 'w2'))
    retries = retried()
    results = crowd(site['proxy'].url, 60, clients=12, during=lambda: psutil.Process(before[0]).kill())  # 8 calls at the service at once
    check_answers(results)
    assert retried() > retries, 'the kill cut no call: nothing was sent again'
    assert wait_until(lambda: len(service.replicas()) == 2, 60), 'Ray Serve did not replace the replica'
    assert before[0] not in [p.pid for p in service.replicas()]

def test_a_retrained_model_rolls_out_without_an_error(site):
    "The model's files replaced by a retrained model's while photos come: no error, and then every answer from the new model"
    service, models = site['service'], site['models']
    assert site['training'].wait(300) == 0, (ARTIFACTS/'scale-train.log').read_text()[-2000:]
    old = service.info()['model']
    def export():  # as `train` leaves them: each file replaced whole (the card last: till then the new twin is not vouched for)
        for name in ['export.pkl', 'export.onnx', 'model_card.json']:
            shutil.copy(site['retrained']/name, models/f'.{name}.new'); os.replace(models/f'.{name}.new', models/name)
    new = json.loads((site['retrained']/'model_card.json').read_text())['twin']['sha256']
    results = []
    def rolled_out():  # photos keep coming while it rolls out
        results.extend(crowd(site['proxy'].url, 8))
        return f'rolled out model {new[:12]}' in service.log_text()
    export()
    assert wait_until(rolled_out, 120, every=0), 'the retrained model did not roll out in 120 s'
    check_answers(results)
    assert service.info()['model'] == new != old
    check_answers(crowd(site['proxy'].url, 8), new)

def test_pages_through_the_proxy_survive_the_service_and_a_worker_going(site, browser):
    """A page through HAProxy: answered, its model line naming the model; the service gone: the page says so in one line;
    back: answered again; its worker stopped: a reload gets the app from the other worker"""
    proxy, workers = site['proxy'], site['workers']
    context = browser.new_context()
    page = context.new_page()
    page.goto(proxy.url, timeout=60_000); page.wait_for_selector('.wc-upload', timeout=60_000)
    assert 'grizzly' in upload(page, PHOTO, PHOTO.name).locator('.wc-label').inner_text()
    model = site['service'].info()['model']
    assert f'answered by the model service, model {model[:12]}' in page.inner_text('.wc-model')
    first = {c['name']: c['value'] for c in context.cookies()}['WCWORKER']

    site['service'].stop()
    before = page.locator('.wc-error').count()
    with page.expect_file_chooser() as chooser: page.click('.wc-upload')
    chooser.value.set_files(str(PHOTO))
    page.wait_for_function(f"document.querySelectorAll('.wc-error').length > {before}", timeout=60_000)
    assert UNAVAILABLE in page.locator('.wc-error').first.inner_text()
    page.screenshot(path=ARTIFACTS/'scale-unavailable.png')
    site['service'] = ModelService(site['models'], replicas=1, port=site['service'].port, log='serve-model-again')
    assert 'grizzly' in upload(page, PHOTO, PHOTO.name).locator('.wc-label').inner_text()

    workers[first].stop()
    other = 'w2' if first == 'w1' else 'w1'
    page.reload(timeout=60_000); page.wait_for_selector('.wc-upload', timeout=60_000)
    assert {c['name']: c['value'] for c in context.cookies()}['WCWORKER'] == other
    assert 'grizzly' in upload(page, PHOTO, PHOTO.name).locator('.wc-label').inner_text()
    context.close()
