"""Many visitors at once, and reloads: what `webclassifier app` (and the Binder path) does with them. One run prints every figure.

    .venv/bin/python benchmarks/visitors.py [--visitors 8] [--runtime fastai onnx] [--no-binder]

For each runtime (`webclassifier app --runtime`: fastai on export.pkl, onnx on its twin export.onnx):
1. Reloads: one page reloaded 5 times, then closed; seconds until the server is back to its idle kernels.
2. A crowd: N pages opened at once in headless Chromium. Each gets the app (and then uploads a photo) or the busy page;
   for each, seconds to a usable page (or the busy page) and to the answer. The server's process tree (server + kernels)
   resident memory is sampled every 0.25 s: its peak. CPU seconds used meanwhile by the server's tree and by the
   browser. The browser stands in for the visitors' own machines, so it runs at the lowest CPU priority (nice 19): it
   gets what the server leaves (its pages' loading animations alone would otherwise take most of these 2 cores). Then all pages close: seconds until back to the idle kernels.
3. The same crowd on the Binder path (fastai): jupyter_server with tools/jupyter_server_config.json (no preheated kernel).
"""
import argparse, asyncio, json, sys, tempfile, threading, time
from pathlib import Path
import psutil
ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT/'tests'))
from shipped import output_file, shipped_card
from servers import SAMPLE, WebclassifierApp, JupyterServerVoila, kernels
from conftest import CHROMIUM, FLAGS

PHOTO = SAMPLE/'grizzly'/'00000014.jpg'

def cpu_seconds(procs) -> float:
    "CPU seconds used by `procs` and their ended children"
    total = 0.
    for p in procs:
        try: t = p.cpu_times(); total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error: pass
    return total

def tree(pid) -> list: return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]

def browser_processes(server) -> list:
    "This script's child processes that are not the server's: Playwright's driver and Chromium"
    theirs = {p.pid for p in tree(server.proc.pid)}
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in theirs]

class MemorySampler:
    "Peak resident memory of a process and its children, sampled in a thread"
    def __init__(self, pid):
        self.proc, self.peak, self.running = psutil.Process(pid), 0, True
        threading.Thread(target=self.run, daemon=True).start()
    def total(self):
        procs = [self.proc, *self.proc.children(recursive=True)]
        total = 0
        for p in procs:
            try: total += p.memory_info().rss
            except psutil.Error: pass
        return total
    def run(self):
        while self.running: self.peak = max(self.peak, self.total()); time.sleep(0.25)

def wait_for_kernels(server, n, timeout=300):
    "Seconds until `server` has at most `n` kernels"
    start = time.time()
    while len(kernels(server)) > n and time.time() - start < timeout: time.sleep(0.5)
    return time.time() - start

async def visit(browser, url, start):
    "One visitor: (seconds to the app or busy page, what they got, seconds to the answer of one upload)"
    page = await browser.new_page()
    try:
        await page.goto(url, timeout=180_000)
        await page.wait_for_function("document.querySelector('.wc-upload') || document.body.innerText.includes('The app is busy')",
                                     polling=250, timeout=180_000)  # not every frame: 8 pages doing that would eat the CPU the server needs
        ready = time.time() - start
        if await page.query_selector('.wc-upload') is None: return page, ready, 'busy', None
        async with page.expect_file_chooser() as fc: await page.click('.wc-upload')
        await (await fc.value).set_files(str(PHOTO))
        await page.wait_for_selector('.wc-result', timeout=180_000)
        return page, ready, 'app', time.time() - start
    except Exception as e: return page, time.time() - start, f'failed ({type(e).__name__})', None

def low_priority_chromium() -> str:
    "A script that runs Chromium at the lowest CPU priority (its processes inherit it)"
    script = Path(tempfile.mkdtemp())/'chromium'
    script.write_text(f'#!/bin/sh\nexec nice -n 19 {CHROMIUM} "$@"\n'); script.chmod(0o755)
    return str(script)

async def crowd(server, n, idle_kernels):
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=low_priority_chromium(), args=FLAGS)
        sampler, start = MemorySampler(server.proc.pid), time.time()
        server_cpu, browser_cpu = cpu_seconds(tree(server.proc.pid)), cpu_seconds(browser_processes(server))
        results = await asyncio.gather(*[visit(browser, server.url, start) for _ in range(n)])
        sampler.running = False
        server_cpu = cpu_seconds(tree(server.proc.pid)) - server_cpu
        browser_cpu = cpu_seconds(browser_processes(server)) - browser_cpu
        for i, (_, ready, got, answered) in enumerate(results):
            print(f'  visitor {i+1}: {got:6} page after {ready:5.1f} s' + (f', answer after {answered:5.1f} s' if answered else ''))
        answered = sum(got in ('app', 'busy') for _, _, got, _ in results)
        last = max(r[1] if r[2] == 'busy' else (r[3] or r[1]) for r in results)
        print(f'  {answered}/{n} answered (app or busy page), the last after {last:.1f} s; '
              f'server + kernels peak {sampler.peak/2**30:.2f} GiB')
        print(f'  CPU meanwhile: server + kernels {server_cpu:.0f} s, the browser (Chromium, Playwright) {browser_cpu:.0f} s, '
              f'on {psutil.cpu_count()} cores')
        for page, *_ in results: await page.close()
        print(f'  pages closed: back to {idle_kernels} idle kernel(s) after {wait_for_kernels(server, idle_kernels):.0f} s')
        await browser.close()

def reloads(server, idle_kernels, n=5):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(server.url, timeout=180_000); page.wait_for_selector('.wc-upload', timeout=180_000)
        for _ in range(n): page.reload(timeout=180_000); page.wait_for_selector('.wc-upload', timeout=180_000)
        print(f'  after {n} reloads: {len(kernels(server))} kernels')
        page.close(); browser.close()
    print(f'  page closed: back to {idle_kernels} idle kernel(s) after {wait_for_kernels(server, idle_kernels):.0f} s')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--visitors', type=int, default=8)
    ap.add_argument('--runtime', nargs='+', default=['fastai', 'onnx'], choices=['fastai', 'onnx']); ap.add_argument('--no-binder', action='store_true')
    args = ap.parse_args()
    with output_file('visitors.txt'):
        print(shipped_card()['line'])
        print(f'machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total/2**30:.1f} GiB')
        from webclassifier.serve import KERNEL_BYTES, TWIN_KERNEL_BYTES, default_max_visitors
        for runtime in args.runtime:
            server = WebclassifierApp(ROOT/'export.pkl', ROOT, '--runtime', runtime, '--max-per-address', 0)  # the crowd comes from one address
            try:
                wait_for_kernels(server, 0, timeout=0); time.sleep(15)  # let the preheated kernel start, as it would before visitors come
                limit = default_max_visitors(kernel_bytes=TWIN_KERNEL_BYTES if runtime == 'onnx' else KERNEL_BYTES)
                print(f'webclassifier app --runtime {runtime} (default settings: at most {limit} visitors, culling after 30 s idle, one preheated kernel)')
                reloads(server, 1)
                print(f'{args.visitors} visitors at once:')
                asyncio.run(crowd(server, args.visitors, 1))
            finally: server.stop()
        if args.no_binder: sys.exit()
        config = tempfile.mkdtemp()
        binder = json.loads((ROOT/'tools'/'jupyter_server_config.json').read_text())
        binder['VisitorLimitedKernelManager']['max_per_address'] = 0  # the crowd comes from one address
        Path(config, 'jupyter_server_config.json').write_text(json.dumps(binder))
        server = JupyterServerVoila(config)
        try:
            print(f'Binder path (jupyter_server + tools/jupyter_server_config.json, fastai: at most {default_max_visitors(preheated=0)} visitors here, no preheated kernel)')
            reloads(server, 0)
            print(f'{args.visitors} visitors at once:')
            asyncio.run(crowd(server, args.visitors, 0))
        finally: server.stop()
