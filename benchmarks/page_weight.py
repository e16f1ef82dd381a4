"""What one visitor's browser loads to show the app: the same servers as benchmarks/crowd.py (`SERVERS`), each started
alone, one page opened in headless Chromium until the app is ready: requests, bytes of their bodies (decoded), the
websocket frames received, and seconds to ready (the median of 3 fresh browser contexts). The crowd's wall time on
this machine is mostly the browsers' work on these bytes, on the same cores as the server.

    .venv/bin/python benchmarks/page_weight.py        -> benchmarks/out/page_weight.txt"""
import asyncio, statistics, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from crowd import READY, SERVERS, VIEWPORT, Server, launch
from shipped import output_file

async def weigh(server, rounds:int=3) -> list:
    "For each of `rounds` fresh contexts: (requests, body bytes, websocket frames in, seconds to the app ready)"
    from playwright.async_api import async_playwright
    out = []
    async with async_playwright() as pw:
        browser = await launch(pw)
        for _ in range(rounds):
            ctx = await browser.new_context(viewport=VIEWPORT); page = await ctx.new_page()
            bodies, frames = [], []
            async def body(response):
                try: bodies.append(len(await response.body()))
                except Exception: pass  # a redirect or an aborted request has none
            page.on('response', lambda r: asyncio.ensure_future(body(r)))
            page.on('websocket', lambda ws: ws.on('framereceived', lambda f: frames.append(f)))
            start = time.time()
            await page.goto(server.url)
            await page.wait_for_function(READY[server.kind], polling=50, timeout=60000)
            ready = time.time() - start
            await asyncio.sleep(1)  # responses still being read
            out.append((len(bodies), sum(bodies), len(frames), ready))
            await ctx.close()
        await browser.close()
    return out

def main():
    print('One page of each server, until its app is ready (median of 3 fresh browser contexts)')
    print(f"{'server':12} {'requests':>8} {'MB loaded':>10} {'ws frames':>10} {'s to ready':>10}")
    for name in SERVERS:
        server = Server(name, 'weight')
        try: rounds = asyncio.run(weigh(server))
        finally: server.stop()
        med = [statistics.median(r[i] for r in rounds) for i in range(4)]
        print(f'{name:12} {med[0]:>8.0f} {med[1] / 1e6:>10.2f} {med[2]:>10.0f} {med[3]:>10.2f}', flush=True)

if __name__ == '__main__':
    with output_file('page_weight.txt'): main()
