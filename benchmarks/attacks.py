"""What one page can make its server hold, attacked as issue 33 attacked it, on both servers and both runtimes: prints the figures
docs/public.md quotes and writes them to benchmarks/out/attacks.txt (after checking the targets).

`webclassifier app --server voila` (a kernel per page; --runtime onnx, then fastai): one page's kernel, at rest after an answer,
then its peak through the crafted photos of tests/test_attacks.py (49-88 Mpx, each a few hundred kB) and a flood (20 of the largest
photos a page may send, at once, then 120 messages of 7.9 MB as fast as they go); how long its kernel works on after the page is
closed; a page that only chatters (--page-idle 6); a kernel id used from another address.
`webclassifier app` (Solara, one process): the same crafted photos through the JSON API, and the flood on one page's socket.
Usage: .venv/bin/python benchmarks/attacks.py"""
import json, os, struct, sys, time, uuid
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent.parent/'tests'))
import psutil, requests, websocket
import servers
from kernel_page import Page, connect, get
from test_attacks import ADDRESSES, LARGE, chatter, close_code, kernel_process, model_copy, peak_mb, rss_mb
from webclassifier.serve import KERNEL_BYTES, TWIN_KERNEL_BYTES

OUT, TMP = Path(__file__).parent/'out', Path(os.environ.get('TMPDIR', '/tmp'))
LINES, MB = [], 2**20
JUNK = os.urandom(7_900_000)

def say(line:str):
    print(line, flush=True); LINES.append(line)

def flood(page) -> int:
    "The 20 largest photos a page may send, at once, then 7.9 MB messages as fast as they go: how many of those went before the close"
    upload, sent = page.widget(_esm='wc-upload'), 0
    for n in range(20): page.custom(upload, dict(kind='photo', name=f'{n}.png', size=len(LARGE['largest.png'])), [LARGE['largest.png']])
    try:
        for n in range(120): page.custom(upload, dict(kind='photo', name=f'junk-{n}.jpg', size=len(JUNK)), [JUNK]); sent += 1
    except (websocket.WebSocketException, OSError): pass
    return sent

def busy_for(proc, most:float=300.) -> str:
    "How long `proc` (a closed page's kernel) works on: until it uses under 5 % of a core, or is stopped, looked at each second"
    start = time.monotonic()
    try:
        while time.monotonic() - start < most:
            if proc.cpu_percent(1.0) < 5: return f'idle {time.monotonic() - start:.0f} s after the close'
    except psutil.NoSuchProcess: return f'stopped {time.monotonic() - start:.0f} s after the close'
    return f'still working {most:.0f} s after the close'

def voila_kernel(runtime:str) -> float:
    "The attacks on one page of `--server voila --runtime runtime`; the highest kernel peak seen (MB)"
    root = TMP/f'attacks-{runtime}-{uuid.uuid4().hex[:6]}'; root.mkdir()
    log = root/'server.log'
    server = servers.WebclassifierApp(model_copy(root), root, '--runtime', runtime, '--max-visitors', 4, log=log)
    try:
        page = Page(server.port, next(ADDRESSES)); kernel = kernel_process(server, page)
        page.pick('grizzly.jpg'); rest = rss_mb(kernel)
        answers = {name: page.upload(name, data, timeout=120) for name, data in LARGE.items()}
        refused = [n for n, a in answers.items() if 'too large to decode' in a]
        after_photos = peak_mb(kernel)
        say(f'voila, {runtime}: one kernel at rest after an answer {rest:.0f} MiB; the 7 crafted photos: {len(refused)} refused from their header '
            f'({", ".join(sorted(refused))}), 4000x4000 answered; kernel peak {after_photos:.0f} MiB')
        page.close()
        page = Page(server.port, next(ADDRESSES)); kernel = kernel_process(server, page)
        page.pick('grizzly.jpg'); start_peak = peak_mb(kernel)
        sent = flood(page); code = close_code(page); page.close()
        peak, reason = peak_mb(kernel), [l for l in log.read_text().splitlines() if 'waiting for the kernel' in l]
        rss, busy = rss_mb(kernel), busy_for(kernel)
        say(f'voila, {runtime}: flood (20 photos of 4000x4000 at once, then 7.9 MB messages): connection closed ({code}) after {sent} '
            f'of 120, "{reason[-1].split(": ")[-1] if reason else "no reason logged"}"; kernel peak {start_peak:.0f} -> {peak:.0f} MiB, '
            f'RSS {rss:.0f} MiB; the closed page\'s kernel {busy}')
        return max(after_photos, peak)
    finally: server.stop()

def voila_idle_and_ids():
    "A page that only chatters, with --page-idle 6; a kernel id from another address"
    root = TMP/f'attacks-idle-{uuid.uuid4().hex[:6]}'; root.mkdir()
    server = servers.WebclassifierApp(model_copy(root), root, '--runtime', 'onnx', '--max-visitors', 3, '--page-idle', 6,
                                      log=root/'server.log')
    try:
        page, start = Page(server.port, next(ADDRESSES)), time.monotonic()
        told = lambda: any('gave its place' in str(s.get('value')) for s in page.states.values())
        while not told() and time.monotonic() - start < 120:
            if page.close_code is None: chatter(page)
            page.pump(lambda: told(), 2)
        lost = time.monotonic() - start
        close_code(page, 30)
        say(f'voila: a page sending kernel_info, comm_info and execute requests, ignored actions and state requests every 2 s, '
            f'--page-idle 6: told to reload {lost:.0f} s after it opened, closed ({page.close_code})')
        assert told() and lost < 30
        owner, stranger = Page(server.port, next(ADDRESSES)), next(ADDRESSES)
        try: connect(server.port, owner.kernel_id, stranger); socket_status = 101
        except websocket.WebSocketBadStatusException as e: socket_status = e.status_code
        statuses = [socket_status] + [get(server.port, path, stranger, method=m)[0] for m, path in
                    [('GET', f'/api/kernels/{owner.kernel_id}'), ('DELETE', f'/api/kernels/{owner.kernel_id}'),
                     ('POST', f'/voila/api/shutdown/{owner.kernel_id}')]]
        say(f'voila: a page\'s kernel id used from another address (websocket, GET and DELETE /api/kernels/<id>, POST /voila/api/shutdown/<id>): '
            f'{statuses}; the page still answered: {"wc-label" in owner.pick("teddy.jpg")}')
        assert statuses == [403] * 4
        owner.close()
    finally: server.stop()

def solara_process():
    "The crafted photos through the JSON API, and the flood on one page's socket, against `webclassifier app` (Solara)"
    root = TMP/f'attacks-solara-{uuid.uuid4().hex[:6]}'; root.mkdir()
    server = servers.WebclassifierApp(model_copy(root), root, log=root/'server.log', server='solara')
    try:
        proc = psutil.Process(server.proc.pid)
        requests.post(server.url + 'api/predict', data=LARGE['largest.png'], timeout=120)
        rest = rss_mb(proc)
        statuses = {n: requests.post(server.url + 'api/predict', data=d, timeout=120).status_code for n, d in LARGE.items()}
        say(f'solara: the 7 crafted photos through POST /api/predict: {sorted(statuses.values())}; server at rest {rest:.0f} MiB, '
            f'peak {peak_mb(proc):.0f} MiB')
        from websockets.sync.client import connect as ws_connect
        cookie = requests.get(server.url, timeout=60).cookies.get('solara-session-id')
        url = f'ws://127.0.0.1:{server.port}/jupyter/api/kernels/{uuid.uuid4()}/channels?session_id={uuid.uuid4()}'
        before, sent = peak_mb(proc), 0
        header = dict(msg_id='', msg_type='comm_msg', username='', session='', date='', version='5.3')
        with ws_connect(url, additional_headers={'Cookie': f'solara-session-id={cookie}'}, open_timeout=20, max_size=2**24) as ws:
            try:
                for n in range(120):
                    header['msg_id'] = uuid.uuid4().hex
                    msg = json.dumps(dict(header=header, parent_header={}, metadata={}, channel='shell', buffers=[],
                                          content=dict(comm_id='x', data=dict(method='custom', content={})))).encode()
                    ws.send(struct.pack('!iII', 2, 12, 12 + len(msg)) + msg + JUNK); sent += 1  # Solara's binary frame
            except Exception as e: sent = f'{sent} (closed: {getattr(getattr(e, "rcvd", None), "code", "")} {getattr(getattr(e, "rcvd", None), "reason", e)})'
        time.sleep(3)
        say(f'solara: 120 messages of 7.9 MB on one page\'s socket as fast as they go: {sent} sent; server peak {before:.0f} -> '
            f'{peak_mb(proc):.0f} MiB, RSS {rss_mb(proc):.0f} MiB')
        return peak_mb(proc) - rest
    finally: server.stop()

if __name__ == '__main__':
    say(f'# benchmarks/attacks.py, {time.strftime("%Y-%m-%d %H:%M")} UTC, {os.cpu_count()} cores')
    twin_peak = voila_kernel('onnx')
    fastai_peak = voila_kernel('fastai')
    say(f'one page\'s kernel at most: {twin_peak:.0f} MiB on the twin (the visitor limit counts TWIN_KERNEL_BYTES = '
        f'{TWIN_KERNEL_BYTES/1e6:.0f} MB), {fastai_peak:.0f} MiB with fastai (KERNEL_BYTES = {KERNEL_BYTES/1e6:.0f} MB)')
    voila_idle_and_ids()
    solara_growth = solara_process()
    assert twin_peak * MB < TWIN_KERNEL_BYTES and twin_peak * MB < 300e6, twin_peak  # the target: under 300 MB
    assert fastai_peak * MB < KERNEL_BYTES, fastai_peak
    OUT.mkdir(exist_ok=True)
    (OUT/'attacks.txt').write_text('\n'.join(LINES) + '\n')
