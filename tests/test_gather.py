"Gathering from a real HTTP server on 127.0.0.1 that gives good photos and every kind of bad answer"
import csv, hashlib, io, subprocess, sys
from pathlib import Path
from PIL import Image
from servers import ImageSite, ROOT, SAMPLE, body, redirect, slow, chunked
from webclassifier.files import read_manifest
from webclassifier.download import gather_images

PHOTOS = sorted(p for p in SAMPLE.glob('*/*') if p.suffix != '.csv')

def bad_site():
    "Routes: every sample photo, plus one of each kind of failure"
    photo = PHOTOS[0].read_bytes()
    routes = {f'/photos/{p.parent.name}/{p.name}': body(p.read_bytes()) for p in PHOTOS}
    png = io.BytesIO(); Image.open(PHOTOS[1]).save(png, 'PNG')
    routes.update({
        '/500.jpg': body(b'oops', 'text/plain', 500),
        '/slow.jpg': slow(photo, 6),
        '/page.jpg': body(b'<html><body>Not the photo</body></html>', 'text/html'),
        '/truncated.jpg': body(photo[:len(photo)//2]),
        '/huge.jpg': chunked(b'\xff' * 65536, 40),              # 2.6 MB, no Content-Length, over a 1 MB cap
        '/huge-declared.jpg': body(photo, length=5_000_000),    # says it is 5 MB
        '/loop1.jpg': redirect('/loop2.jpg'), '/loop2.jpg': redirect('/loop1.jpg'),
        '/empty.jpg': body(b''),
        '/wrong-type.bin': body((ROOT/'webclassifier'/'examples'/'black.jpg').read_bytes(), 'application/octet-stream'),  # a new photo, wrong Content-Type
        '/same-pixels.png': body(png.getvalue(), 'image/png'),       # PHOTOS[1] re-encoded: same pixels, other bytes
        '/redirected.jpg': redirect(f'/photos/{PHOTOS[2].parent.name}/{PHOTOS[2].name}'),  # same bytes as PHOTOS[2]
    })
    return routes

def url_items(base):
    items = [dict(label=p.parent.name, query=f'{p.parent.name} bear', url=f'{base}/photos/{p.parent.name}/{p.name}') for p in PHOTOS]
    bad = ['/404.jpg', '/500.jpg', '/slow.jpg', '/page.jpg', '/truncated.jpg', '/huge.jpg', '/huge-declared.jpg',
           '/loop1.jpg', '/empty.jpg', '/wrong-type.bin', '/same-pixels.png', '/redirected.jpg']
    items += [dict(label='black', query='black bear', url=base + u) for u in bad]
    items.append(dict(items[0]))  # the same URL twice
    return items

def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in Path(folder).rglob('*') if p.is_file()}

def test_gather_good_and_bad_answers(tmp_path):
    with ImageSite(bad_site()) as site:
        items = url_items(site.base)
        rows = gather_images(tmp_path, items, max_bytes=1_000_000, timeout=(2, 2), n_workers=4, progress=False, allow_local=True)
        by_url = {r['url'].removeprefix(site.base): r for r in rows}
        # every URL is in the manifest once (the repeated URL is tried once)
        assert len(rows) == len(items) - 1 == len(read_manifest(tmp_path))
        # every good photo is saved exactly once, fully decodable, with a correct sha256
        ok = [r for r in rows if r['status'] == 'ok']
        assert len(ok) == len(PHOTOS) + 1  # + the good photo with the wrong Content-Type
        for r in ok:
            data = (tmp_path/r['file']).read_bytes()
            assert hashlib.sha256(data).hexdigest() == r['sha256'] and len(data) == r['bytes']
            Image.open(io.BytesIO(data)).load()
        assert by_url['/wrong-type.bin']['status'] == 'ok'
        saved = [p for p in tmp_path.rglob('*') if p.is_file() and p.name != 'manifest.csv']
        assert len(saved) == len(ok) and not [p for p in saved if p.name.startswith('.tmp')]
        # the same picture at another URL, or in other bytes, is a duplicate, not a second file
        for u in ['/same-pixels.png', '/redirected.jpg']: assert by_url[u]['status'] == 'duplicate', by_url[u]
        # every bad URL has an error and its reason
        reasons = {u: by_url[u]['reason'] for u in by_url if by_url[u]['status'] == 'error'}
        assert reasons == {'/404.jpg': 'HTTP 404', '/500.jpg': 'HTTP 500', '/slow.jpg': 'timed out',
                           '/page.jpg': 'not an image (unrecognised format)', '/truncated.jpg': reasons['/truncated.jpg'],
                           '/huge.jpg': 'over the 1,000,000 byte cap', '/huge-declared.jpg': 'over the 1,000,000 byte cap',
                           '/loop1.jpg': 'too many redirects', '/empty.jpg': 'empty response'}, reasons
        assert reasons['/truncated.jpg'].startswith('not an image ('), reasons
        # a rerun with the same inputs downloads nothing and changes nothing
        before = snapshot(tmp_path)
        assert gather_images(tmp_path, items, max_bytes=1_000_000, timeout=(2, 2), progress=False, allow_local=True) == []
        assert snapshot(tmp_path) == before

def test_gather_cli_from_url_list(tmp_path):
    "`webclassifier gather --urls` builds a verified data set with a complete manifest; exit 1 names a label with no image"
    with ImageSite(bad_site()) as site:
        urls = tmp_path/'urls.csv'
        with open(urls, 'w', newline='') as f:
            w = csv.writer(f); w.writerow(['label', 'url'])
            for i in url_items(site.base): w.writerow([i['label'], i['url']])
            w.writerow(['panda', site.base + '/404.jpg'])
        cmd = [str(Path(sys.executable).parent/'webclassifier'), 'gather', '--urls', str(urls), '--dest', str(tmp_path/'ds'), '--max-side', '64',
               '--allow-local']  # the test's photos are on 127.0.0.1
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert res.returncode != 0 and 'no images for panda' in res.stderr, res.stderr
        assert 'black: ' in res.stderr and ' ok, ' in res.stderr
        rows = read_manifest(tmp_path/'ds')
        assert {r['label'] for r in rows} == {'black', 'grizzly', 'teddy', 'panda'}
        assert all(max(Image.open(tmp_path/'ds'/r['file']).size) <= 64 for r in rows if r['status'] == 'ok')
        # only the labels asked for: exit 0
        res = subprocess.run(cmd[:2] + ['black', 'teddy'] + cmd[2:], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
