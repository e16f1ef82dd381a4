"""Gathering speed: webclassifier's `gather_images` against fastai's `download_images` on the same 200 URLs,
served from 127.0.0.1 with 100 ms added to every answer. Prints images per second for each and their ratio.

    .venv/bin/python benchmarks/gather.py [--n 200] [--latency 0.1]
"""
import argparse, contextlib, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent.parent/'tests'))
from shipped import output_file
from servers import ImageSite, SAMPLE, body
from fastai.vision.utils import download_images, verify_images, get_image_files
from webclassifier.download import gather_images

def photos(n:int) -> list:
    "Up to `n` real photos: the shared bear set when it is beside the repo, else the test sample"
    shared = Path(__file__).parent.parent.parent/'shared'/'data'/'bears'
    files = sorted(p for p in (shared if shared.exists() else SAMPLE).glob('*/*') if p.suffix.lower() in ('.jpg', '.png', '.webp', '.gif'))
    return [files[i % len(files)] for i in range(n)]

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--n', type=int, default=200); ap.add_argument('--latency', type=float, default=0.1)
    args = ap.parse_args()
    with output_file('gather.txt'):
        files = photos(args.n)
        routes = {f'/{i}/{p.name}': body(p.read_bytes()) for i, p in enumerate(files)}
        with ImageSite(routes, latency=args.latency) as site, tempfile.TemporaryDirectory() as tmp:
            urls = [site.base + r for r in routes]
            start = time.perf_counter()
            rows = gather_images(Path(tmp)/'wc', [dict(label='bear', query='', url=u) for u in urls], progress=False, n_workers=8, allow_local=True)
            wc = time.perf_counter() - start
            start = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):  # fastai's progress bars: not part of the figures
                download_images(Path(tmp)/'fastai', urls=urls, n_workers=8, timeout=4)
                fa_download = time.perf_counter() - start
                failed = verify_images(get_image_files(Path(tmp)/'fastai'))  # the book's next step: verification
            fa = time.perf_counter() - start
            saved = sum(r['status'] == 'ok' for r in rows)
            print(f'{len(urls)} URLs, {args.latency*1000:.0f} ms latency each, 8 workers for both')
            print(f'webclassifier gather_images (download + full decode + dedupe + manifest): {wc:.2f} s, {len(urls)/wc:.1f} URLs/s, {saved} images saved')
            print(f'fastai download_images + verify_images: {fa:.2f} s ({fa_download:.2f} s downloading), {len(urls)/fa:.1f} URLs/s, '
                  f'{len(get_image_files(Path(tmp)/"fastai"))} files, {len(failed)} failed verification')
            print(f'ratio (webclassifier URLs/s / fastai URLs/s): {fa/wc:.2f}')
