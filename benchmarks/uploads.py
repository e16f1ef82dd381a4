"""Many phone-sized photos at once, and one huge file: the app's upload control now against the one before it, in one run.

    .venv/bin/python benchmarks/uploads.py [--photos 25]

Photos: real bear photos (../shared/data/bears, else tests/sample) enlarged to 4032 px with a little noise and saved as
JPEG: about 4.5 MB each, like a phone's. For each control (the current `webclassifier app`; the one before, ipywidgets'
FileUpload, served from commit 67da850 with its voila.json), in headless Chromium: all photos selected together; seconds
to the last answer (at most 120 s), bytes sent over the websocket, then whether the page still answers a small photo.
Then the current control with one 130 MB file. Parity: each photo's answer in the browser against `predict_named` on the
original file.
"""
import argparse, io, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image
ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT/'tests'))
from shipped import output_file, shipped_card
from servers import SAMPLE, Server, WebclassifierApp
from conftest import CHROMIUM, FLAGS
from webclassifier.predict import Predictor, predict_named

def phone_photos(n:int, folder:Path) -> list:
    "`n` real photos enlarged to 4032 px on the long side, with sensor-like noise, as ~4.5 MB JPEGs"
    shared = ROOT.parent/'shared'/'data'/'bears'
    src = sorted(p for p in (shared if shared.exists() else SAMPLE).glob('*/*') if p.suffix.lower() in ('.jpg', '.jpeg', '.png', '.webp'))
    rng, out = np.random.default_rng(0), []
    for i, p in enumerate(src[::max(1, len(src)//n)][:n]):
        img = Image.open(p).convert('RGB')
        scale = 4032 / max(img.size)
        img = img.resize((round(img.width*scale), round(img.height*scale)), Image.Resampling.BICUBIC)
        noisy = np.asarray(img, dtype=np.int16) + rng.normal(0, 6, (img.height, img.width, 3)).astype(np.int16)
        out.append(folder/f'{p.parent.name}-{i:02d}.jpg')
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(out[-1], quality=95)
    return out

def open_page(browser, url, ready):
    page = browser.new_page(viewport={'width': 1100, 'height': 900})
    page.ws_sent = []
    page.on('websocket', lambda ws: ws.on('framesent', lambda payload: page.ws_sent.append(len(payload))))
    page.goto(url, timeout=180_000); page.wait_for_selector(ready, timeout=180_000)
    return page

def select(page, button, files, count_selector, expect, timeout=120):
    "Choose `files` with `button`; seconds until `expect` more `count_selector` elements (None if not within `timeout`), bytes sent"
    before, sent = page.locator(count_selector).count(), sum(page.ws_sent)
    with page.expect_file_chooser() as fc: page.click(button)
    start = time.time(); fc.value.set_files([str(f) for f in files])
    try: page.wait_for_function(f"document.querySelectorAll('{count_selector}').length >= {before + expect}", timeout=timeout*1000)
    except Exception: return None, sum(page.ws_sent) - sent
    return time.time() - start, sum(page.ws_sent) - sent

def run(browser, name, url, button, photos, small, results='.wc-result, .wc-error'):
    page = open_page(browser, url, button)
    seconds, sent = select(page, button, photos, results, len(photos))
    answered = page.locator('.wc-result').count()
    print(f'{name}: {len(photos)} photos ({sum(p.stat().st_size for p in photos)/1e6:.0f} MB) selected together: '
          + (f'last answer after {seconds:.1f} s' if seconds else f'{answered} answered within 120 s') + f'; {sent/1e6:.1f} MB sent')
    after, _ = select(page, button, [small], results, 1, timeout=60)
    print(f'  then one small photo: ' + (f'answered after {after:.1f} s' if after else 'no answer within 60 s (the page stopped answering)'))
    return page

def parity(page, photos):
    "Largest difference between the browser's answers and `predict_named` on the original files"
    originals = predict_named(Predictor.load(ROOT/'export.pkl'), [(p.name, p) for p in photos])
    same, diffs = 0, []
    for res in originals:
        bars = dict(b.split() for b in page.locator('.wc-result', has_text=res['file']).first.locator('.wc-bar').all_inner_texts())
        same += max(bars, key=lambda l: float(bars[l].rstrip('%'))) == res['label']
        diffs += [abs(float(bars[l].rstrip('%'))/100 - p) for l, p in res['top']]
    print(f'parity with the original files: same label for {same}/{len(originals)}; largest probability difference {max(diffs):.3f} '
          f'(the page shows 0.1 % steps)')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--photos', type=int, default=25); args = ap.parse_args()
    with output_file('uploads.txt'):
        print(shipped_card()['line'] + '; "before" runs commit 67da850 with the model committed there')
        from playwright.sync_api import sync_playwright
        tmp = Path(tempfile.mkdtemp())
        photos, small = phone_photos(args.photos, tmp), SAMPLE/'teddy'/'00000016.jpg'
        huge = tmp/'huge.jpg'; huge.write_bytes(small.read_bytes() + bytes(130_000_000))
        old = tmp/'before'; old.mkdir()
        subprocess.run(f'git -C {ROOT} archive 67da850 | tar -x -C {old}', shell=True, check=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            server = Server([sys.executable, '-m', 'voila', 'classifier_app.ipynb', '--port={port}', '--no-browser'], cwd=old,
                            env=dict(PYTHONPATH=str(old)))  # the kernel imports the webclassifier of that commit
            try: run(browser, 'before (ipywidgets FileUpload, voila.json: 100 MB messages)', server.url, '.widget-upload', photos, small)
            finally: server.stop()
            server = WebclassifierApp(ROOT/'export.pkl', ROOT)
            try:
                page = run(browser, 'now (PhotoUpload: shrunk to 1024 px in the browser, one message each)', server.url, '.wc-upload', photos, small)
                parity(page, photos)
                seconds, sent = select(page, '.wc-upload', [huge], '.wc-error', 1, timeout=30)
                print(f'one 130 MB file: refused after {seconds:.1f} s, {sent} bytes sent: {page.locator(".wc-error").first.inner_text()}')
            finally: server.stop()
            browser.close()
        shutil.rmtree(tmp)
