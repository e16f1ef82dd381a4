"""A public `webclassifier app --runtime onnx` attacked as issue 23 attacked it: a plain websocket client on loopback speaking the
Jupyter kernel protocol (`kernel_page.Page`), no browser. Crafted frames (v1 and legacy), labels and re-flagging, the flags cap,
the kernel's memory (pending pieces, a pixel bomb, widgets the page makes, cleared answers: its RSS printed before and after,
and kept in tests/artifacts/attacks.txt), places per address and idle sockets; after each attack another visitor still gets
the app and an answer."""
import io, itertools, os, shutil, sys, time
from pathlib import Path
import psutil, pytest, websocket
from PIL import Image
from kernel_page import Busy, Page, connect, get
from servers import ARTIFACTS, ROOT, SAMPLE, Server, WebclassifierApp, kernels, wait_until

EXAMPLES = ROOT/'webclassifier'/'examples'
VOCAB = ['black', 'grizzly', 'teddy']
CAP = sum(p.stat().st_size for p in EXAMPLES.glob('*.jpg')) + 40_000  # the four examples, their manifest, and not much more
MB = 2**20
ADDRESSES = (f'127.0.1.{n}' for n in itertools.count(1))  # a loopback address per visitor: places are counted per address

def report(line:str):
    print(line)
    with open(ARTIFACTS/'attacks.txt', 'a') as f: f.write(line + '\n')

def model_copy(root:Path) -> Path:
    (root/'model').mkdir()
    for fn in ['export.pkl', 'export.onnx', 'model_card.json']: shutil.copy(ROOT/fn, root/'model'/fn)
    return root/'model'/'export.pkl'

@pytest.fixture(scope='module')
def served(tmp_path_factory):
    "The ONNX app with 6 places, 2 per address, its flags folder capped at about the four example photos"
    root = tmp_path_factory.mktemp('public')
    (ARTIFACTS/'attacks.txt').write_text('')
    server = WebclassifierApp(model_copy(root), root, '--runtime', 'onnx', '--flags', root/'flags', '--flags-mb', CAP/1e6,
                              '--max-visitors', 6, '--max-per-address', 2, log=ARTIFACTS/'attacks-app.log')
    yield root, server
    server.stop()

def kernel_process(server, page) -> psutil.Process:
    [proc] = [k for k in kernels(server) if f'kernel-{page.kernel_id}.json' in ' '.join(k.cmdline())]
    return proc

def rss_mb(proc) -> float: return proc.memory_info().rss / MB

def peak_mb(proc) -> float:
    "The process's peak resident memory so far (VmHWM)"
    line = next(l for l in Path(f'/proc/{proc.pid}/status').read_text().splitlines() if l.startswith('VmHWM'))
    return int(line.split()[1]) / 1024

def another_visitor_is_served(server):
    "A new visitor, from an address of their own, gets the app and an answer"
    page = Page(server.port, next(ADDRESSES))
    try: assert 'wc-label' in page.pick('grizzly.jpg')
    finally: page.close()

def close_code(page, timeout:float=60):
    "The code the server closed the page's connection with; None if it stayed open for `timeout` seconds"
    page.pump(lambda: page.close_code is not None, timeout)
    return page.close_code

# ---------------------------------------------------------------- frames
def test_v1_frames_that_lie_about_their_offsets_close_their_connection(served):
    root, server = served
    server_proc = psutil.Process(server.proc.pid)
    before = rss_mb(server_proc)
    for frame in [(2**60).to_bytes(8, 'little'),                                       # 2**60 offsets: the frame that stopped the server
                  (6).to_bytes(8, 'little') + (56).to_bytes(8, 'little') + (10).to_bytes(8, 'little') * 5 + b'x' * 20]:  # offsets going back
        page = Page(server.port, next(ADDRESSES))
        page.ws.send_binary(frame)
        assert close_code(page) == 1008  # policy violation: this connection only
        page.close()
    after = rss_mb(server_proc)
    report(f'v1 frame of 2**60 offsets: server RSS {before:.0f} -> {after:.0f} MB, connection closed (1008)')
    assert after - before < 100
    another_visitor_is_served(server)

def test_clients_without_the_v1_protocol_are_refused(served):
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(server.port, page.kernel_id, page.source, subprotocols=())  # a legacy client: its frames would go through Voila's v1 reader
    assert refused.value.status_code == 400
    assert 'wc-label' in page.pick('teddy.jpg')  # the page that does speak v1 keeps working
    page.close()
    report('legacy (no v1 subprotocol) websocket: refused with HTTP 400 before any frame')
    another_visitor_is_served(server)

# ---------------------------------------------------------------- labels, re-flagging, the cap
def flagged(root) -> list: return sorted(p.relative_to(root/'flags').as_posix() for p in (root/'flags').rglob('*') if p.is_file() and p.name[0] != '.')

def open_choice(page, example:str) -> list:
    "Pick `example`, click its `Wrong?`; the ids of the choice's buttons (one per class, then None of these)"
    page.pick(example)
    assert page.pump(lambda: page.find(_model_name='ButtonModel', description='Wrong?'), 30)
    wrong = page.widget(_model_name='ButtonModel', description='Wrong?')
    seen = set(page.states)
    page.click(wrong)
    assert page.pump(lambda: len([m for m in page.find(_model_name='ButtonModel') if m not in seen]) == len(VOCAB) + 1, 30)
    return wrong, [m for m in page.find(_model_name='ButtonModel') if m not in seen]

def said(page) -> str:
    assert page.pump(lambda: page.find(value='wc-flagged'), 30)
    return page.states[page.find(value='wc-flagged')[-1]]['value']

def test_labels_from_the_page_decide_nothing_and_a_flag_is_taken_once(served):
    root, server = served
    examples_before = sorted(p.name for p in EXAMPLES.iterdir())
    page = Page(server.port, next(ADDRESSES))
    crafted = {'grizzly.jpg': os.path.relpath(EXAMPLES, root/'flags'), 'teddy.jpg': str(EXAMPLES), 'cat.jpg': 'NewClass',
               'black.jpg': '=HYPERLINK("http://example.com/x","click")'}
    for example, description in crafted.items():
        wrong, choice = open_choice(page, example)
        page.update(choice[0], {'description': description})  # the page rewrites the first button's description, then clicks it
        page.click(choice[0])
        assert 'kept as black' in said(page)
        page.click(choice[1])  # and clicks another choice for the same answer
        page.click(wrong)      # and the Wrong? that opened the choice
        assert page.pump(lambda: set(choice) | {wrong} <= page.closed_comms, 30)  # the kernel closed them all
    assert 'wc-label' in page.pick('grizzly.jpg')  # a later message: the clicks before it were all handled
    rows = (root/'flags'/'manifest.csv').read_text().splitlines()[1:]
    assert [r.split(',')[0] for r in rows] == ['black'] * 4, rows  # one flag per answer, each the kernel's label for the button
    assert all(f.split('/')[0] in ('black', 'manifest.csv') for f in flagged(root)), flagged(root)
    assert sorted(p.name for p in EXAMPLES.iterdir()) == examples_before  # nothing written beside the app's examples
    assert not (root/'flags'/'NewClass').exists() and not any('HYPERLINK' in r for r in rows)
    page.close()
    report('labels from the page (relative, absolute, unknown, formula) and re-flagging: 4 answers, 4 flags, all "black" in flags/black/')
    another_visitor_is_served(server)

def test_the_flags_cap_counts_everything_and_names_are_cut(served):
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    before = len(page.answers())
    page.custom(page.widget(_esm='wc-upload'), dict(kind='photo', name='n' * 3_000_000), [(SAMPLE/'teddy'/'00000016.jpg').read_bytes()])
    photos = sorted(SAMPLE.glob('*/*.jpg'))
    page.upload('x' * 4000 + '.jpg', photos[0].read_bytes())  # a later message answered: the 3 MB name was not
    assert len(page.answers()) == before + 1
    _, choice = open_choice(page, 'cat.jpg')
    page.click(choice[-1])  # None of these
    messages = [said(page)]
    for photo in photos[1:12]:
        page.upload(photo.name, photo.read_bytes())
        wrong = page.widget(_model_name='ButtonModel', description='Wrong?')
        seen = set(page.states); page.click(wrong)
        assert page.pump(lambda: len([m for m in page.find(_model_name='ButtonModel') if m not in seen]) == len(VOCAB) + 1, 30)
        page.click([m for m in page.find(_model_name='ButtonModel') if m not in seen][1])
        assert page.pump(lambda: len(page.find(value='wc-flagged')) > len(messages), 30)
        messages.append(page.states[page.find(value='wc-flagged')[-1]]['value'])
    held = sum(p.stat().st_size for p in (root/'flags').rglob('*') if p.is_file())
    report(f'flags cap {CAP/1e6:.3f} MB: the folder holds {held/1e6:.3f} MB after {len(messages)} flags, '
           f'{sum("is full" in m for m in messages)} refused as full; a 3 MB file name ignored, a 4,000-character one cut to 100')
    assert any('is full' in m for m in messages) and held <= CAP
    assert max(len(r) for r in (root/'flags'/'manifest.csv').read_text().splitlines()) < 1000
    page.close()
    another_visitor_is_served(server)

# ---------------------------------------------------------------- memory
def test_memory_unfinished_uploads(served):
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    kernel = kernel_process(server, page)
    before, upload = rss_mb(kernel), page.widget(_esm='wc-upload')
    piece = os.urandom(MB)
    for n in range(30):  # 30 photos sent in pieces, 9 of their 10 pieces each: 270 MB that never completes
        sent = [page.custom(upload, dict(kind='chunk', name=f'{n}.heic', id=f'u{n}', seq=seq, count=10), [piece]) for seq in range(9)]
        assert page.finished(sent[-1])  # sent as the kernel takes them (faster, the connection is closed: test_memory_flood)
    page.custom(upload, dict(kind='chunk', name='huge.heic', id='big', seq=0, count=40), [piece])  # 40 pieces declared: over 20 MB
    assert page.pump(lambda: any('huge.heic' in a and 'over the 20 MB limit' in a for a in page.answers()), 120)
    assert 'wc-label' in page.pick('teddy.jpg')
    after = rss_mb(kernel)
    report(f'30 unfinished uploads of 9 MB (270 MB sent): kernel RSS {before:.0f} -> {after:.0f} MB; 40 pieces declared: refused at the first')
    assert after - before < 80
    page.close()
    another_visitor_is_served(server)

def encoded(mode:str, size:tuple, fmt:str='PNG', **kwargs) -> bytes:
    "An image of one colour in `mode` and `size`, encoded as `fmt`: a few kB however many pixels"
    buf = io.BytesIO(); Image.new(mode, size).save(buf, fmt, **kwargs); return buf.getvalue()

def turned_exif() -> Image.Exif:
    exif = Image.Exif(); exif[0x0112] = 6; return exif

LARGE = {  # the crafted photos (each under the 50 Mpx the pixel count allowed), and the largest the page may send
    'bomb.png': encoded('1', (10_000, 8_800)), 'one-colour.png': encoded('RGB', (7000, 7000)), 'rgba.png': encoded('RGBA', (7000, 7000)),
    'cmyk.tif': encoded('CMYK', (7000, 7000), 'TIFF', compression='tiff_deflate'),
    'float.tif': encoded('F', (7000, 7000), 'TIFF', compression='tiff_deflate'),
    'rotated.png': encoded('RGB', (7000, 7000), exif=turned_exif()), 'largest.png': encoded('RGB', (4000, 4000))}

def test_memory_large_decodes(served):
    "Photos that decode large are refused from their header by what they would take (pixels x bytes per pixel); the largest allowed is answered"
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    kernel = kernel_process(server, page)
    before = rss_mb(kernel)
    answers = {name: page.upload(name, data) for name, data in LARGE.items()}
    peak = peak_mb(kernel)
    for name in set(LARGE) - {'largest.png'}:
        if name.endswith('.tif'): assert 'not an image (unrecognised format)' in answers[name], answers[name]  # not for a server
        else: assert 'too large to decode' in answers[name] and 'over the 64 MB limit' in answers[name], answers[name]
    assert 'wc-label' in answers['largest.png']
    report(f'crafted photos of 49-88 Mpx (1-bit, RGB, RGBA, CMYK, float, rotated; {min(map(len, LARGE.values()))/1e3:.0f}-'
           f'{max(map(len, LARGE.values()))/1e3:.0f} kB) refused from their header, 4000x4000 answered: kernel RSS {before:.0f} MB, peak {peak:.0f} MB')
    assert peak < 300
    page.close()
    another_visitor_is_served(server)

def test_memory_flood(served):
    "The largest photos sent without waiting, then 7.9 MB messages as fast as they go: the page is closed (1008) before its kernel holds much"
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    kernel, upload = kernel_process(server, page), page.widget(_esm='wc-upload')
    for n in range(20): page.custom(upload, dict(kind='photo', name=f'{n}.png', size=len(LARGE['largest.png'])), [LARGE['largest.png']])
    junk, sent = os.urandom(7_900_000), 0
    try:
        for n in range(120):
            page.custom(upload, dict(kind='photo', name=f'junk-{n}.jpg', size=len(junk)), [junk]); sent += 1
    except (websocket.WebSocketException, OSError): pass  # closed by the server
    assert close_code(page) in (1008, 'closed without a code')  # the close frame may be lost in the flood: the log says why
    assert 'of messages waiting for the kernel (over 24 MB)' in (ARTIFACTS/'attacks-app.log').read_text()
    peak = peak_mb(kernel)
    start = time.monotonic()
    assert wait_until(lambda: not kernel.is_running(), 30)  # the page left messages waiting: its kernel is stopped (5 s of grace)
    report(f'20 photos of 4000x4000 sent at once, then 7.9 MB messages: closed (1008) after {sent} of 120; kernel peak {peak:.0f} MB; '
           f'the kernel of the closed page, messages still waiting, stopped {time.monotonic() - start:.0f} s later')
    assert peak < 300
    page.close()
    another_visitor_is_served(server)

def test_memory_widgets_the_page_makes(served):
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    kernel = kernel_process(server, page)
    before, asked = rss_mb(kernel), [f'made-by-page-{n}' for n in range(200)]
    state = dict(_model_name='ButtonModel', _model_module='@jupyter-widgets/controls', _model_module_version='2.0.0', _view_name='ButtonView',
                 _view_module='@jupyter-widgets/controls', _view_module_version='2.0.0', description='x' * MB)
    for n, comm_id in enumerate(asked):  # 200 Buttons, each with a 1 MB description, 10 at a time (faster, the page is closed: test_memory_flood)
        sent = page.send('comm_open', dict(comm_id=comm_id, target_name='jupyter.widget', data=dict(state=state, buffer_paths=[])), metadata=dict(version='2.1.0'))
        if n % 10 == 9: assert page.finished(sent)
    assert page.pump(lambda: set(asked) <= page.closed_comms, 120)  # each closed by the kernel at once
    assert 'wc-label' in page.pick('black.jpg')
    after = rss_mb(kernel)
    report(f'200 Buttons (1 MB each) opened by the page: kernel RSS {before:.0f} -> {after:.0f} MB, every one closed by the kernel')
    assert after - before < 80
    page.close()
    another_visitor_is_served(server)

def test_memory_cleared_answers(served):
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    kernel = kernel_process(server, page)
    noise = io.BytesIO(); Image.frombytes('RGB', (1024, 1024), os.urandom(3 * MB)).save(noise, 'JPEG', quality=95)  # 1.5 MB of noise
    before = rss_mb(kernel)
    for n in range(30): page.upload(f'noise-{n}.jpg', noise.getvalue())
    kept = 20_000_000 // len(noise.getvalue())  # the newest that the answers' 20 MB of photos hold; the older ones are closed
    assert page.pump(lambda: len(page.find(value='wc-result')) == kept, 20), len(page.find(value='wc-result'))
    full, answers = rss_mb(kernel), page.find(value='wc-result')
    page.click(page.widget(_model_name='ButtonModel', description='Clear results'))
    assert page.pump(lambda: set(answers) <= page.closed_comms, 60)  # the cleared answers are closed in the kernel
    assert 'wc-label' in page.pick('grizzly.jpg')
    after = rss_mb(kernel)
    report(f'30 answers of {len(noise.getvalue())/1e6:.1f} MB photos ({len(answers)} kept), then "Clear results": kernel RSS {before:.0f} -> {full:.0f} -> {after:.0f} MB')
    assert full - after > 10
    page.close()
    another_visitor_is_served(server)

# ---------------------------------------------------------------- places
def test_two_places_per_address(served):
    root, server = served
    address = next(ADDRESSES)
    pages = [Page(server.port, address) for _ in range(2)]
    status, body = get(server.port, '/', address)
    assert status == 503 and 'Your address already has 2 pages of the app open' in body, (status, body[:300])
    pages[0].close()  # closing one gives its place back to the next page from that address
    third = Page(server.port, address)
    assert 'wc-label' in third.pick('cat.jpg')
    for page in pages[1:] + [third]: page.close()
    report('a third page from one address: the 503 page "Your address already has 2 pages of the app open"; after closing one, served')
    another_visitor_is_served(server)

def chatter(page):
    "What a page can send that is no one using it: protocol requests, code Voila drops, an action the app ignores, a state request"
    page.send('kernel_info_request', {}); page.send('comm_info_request', {})
    page.send('execute_request', dict(code='1', silent=False, store_history=False, user_expressions={}, allow_stdin=False))
    page.custom(page.widget(_esm='wc-upload'), dict(kind='nothing'))
    page.send('comm_msg', dict(comm_id=page.widget(_esm='wc-example'), data=dict(method='request_state')))

def test_idle_sockets_give_their_places_back(tmp_path):
    "Three places, taken by two pages that only chatter and one in use: the idle two are told to reload and their places go to the next visitors"
    server = WebclassifierApp(model_copy(tmp_path), tmp_path, '--runtime', 'onnx', '--max-visitors', 3, '--page-idle', 6,
                              log=ARTIFACTS/'attacks-idle-app.log')
    try:
        idle = [Page(server.port, next(ADDRESSES)) for _ in range(2)]
        in_use = Page(server.port, next(ADDRESSES))
        with pytest.raises(Busy, match='all 3 places are taken'): Page(server.port, next(ADDRESSES))
        notices = lambda page: [s['value'] for s in page.states.values() if 'gave its place' in str(s.get('value'))]
        for n in range(8):  # the page in use keeps clicking, past the idle time
            assert 'wc-label' in in_use.pick(['grizzly.jpg', 'teddy.jpg'][n % 2])
            for page in idle:
                if page.close_code is None: chatter(page)
                page.receive(0.1)
            if all(notices(page) for page in idle): break
            in_use.receive(2)
        for page in idle:
            assert page.pump(lambda: notices(page), 60), 'the idle page was not told'
            assert 'Reload the page' in notices(page)[0]
            assert close_code(page) == 1000
        assert 'wc-label' in in_use.pick('black.jpg')  # still served
        assert wait_until(lambda: len(kernels(server)) <= 2, 60)  # the in-use page's and the preheated one
        another_visitor_is_served(server)
        report('3 places, 2 pages only chattering (kernel_info, comm_info, execute, ignored actions, state requests every 2 s) + 1 page in use, '
               '--page-idle 6: both chattering pages told "Reload the page" and closed; '
               'the page in use kept answering; the next visitors got the app')
        in_use.close()
    finally: server.stop()

# ---------------------------------------------------------------- what was refuted, kept true
def test_what_stays_refused(served, tmp_path):
    "No code runs from the page (Voila passes only comm and info messages), and the server's other doors stay shut"
    root, server = served
    page = Page(server.port, next(ADDRESSES))
    marker = tmp_path/'ran'
    page.send('execute_request', dict(code=f'open({str(marker)!r}, "w").write("x")', silent=False, store_history=False,
                                      user_expressions={}, allow_stdin=False))
    assert 'wc-label' in page.pick('teddy.jpg')  # a later message, answered
    assert not marker.exists()
    page.close()
    for path in ['/api/contents', '/api/contents/export.pkl', '/files/export.pkl', '/tree', '/lab', '/voila/files/app.ipynb', '/voila/files/serve.py']:
        status, _ = get(server.port, path, next(ADDRESSES))  # Voila sends unknown paths to /voila/files/..., which refuses them
        assert status in (403, 404), (path, status)
    assert get(server.port, '/api/kernels', next(ADDRESSES), method='POST')[0] == 403
    another_visitor_is_served(server)

def test_a_kernel_answers_only_its_own_address(served):
    "A kernel id from another address opens nothing: not its websocket, its state, its deletion or Voila's shutdown"
    root, server = served
    page, stranger = Page(server.port, next(ADDRESSES)), next(ADDRESSES)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused: connect(server.port, page.kernel_id, stranger)
    statuses = [refused.value.status_code]
    for method, path in [('GET', f'/api/kernels/{page.kernel_id}'), ('DELETE', f'/api/kernels/{page.kernel_id}'),
                         ('POST', f'/voila/api/shutdown/{page.kernel_id}')]:
        statuses.append(get(server.port, path, stranger, method=method)[0])
    assert statuses == [403] * 4, statuses
    assert 'wc-label' in page.pick('grizzly.jpg')  # the page's own kernel still answers it
    assert get(server.port, f'/api/kernels/{page.kernel_id}', page.source)[0] == 200
    report(f'a page kernel id used from another address: websocket, GET and DELETE /api/kernels/<id>, POST /voila/api/shutdown/<id> -> {statuses}')
    page.close()
    another_visitor_is_served(server)

def test_odd_requests_get_plain_answers(served):
    "/logout, a template path with %2f.., a frame whose header is broken JSON: answered plainly, no traceback in the log"
    root, server = served
    statuses = {path: get(server.port, path, next(ADDRESSES))[0] for path in ['/logout', '/voila/templates/%2f..%2f..%2fetc%2fpasswd']}
    assert all(status < 500 for status in statuses.values()), statuses
    page = Page(server.port, next(ADDRESSES))
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
    page.ws.send_binary(serialize_msg_to_ws_v1([b'{"msg_id": ', b'{}', b'{}', b'{}'], 'shell'))
    assert close_code(page) == 1008
    page.close()
    log = (ARTIFACTS/'attacks-app.log').read_text()
    assert 'its header is not JSON' in log and 'Traceback' not in log
    report(f'odd requests: {statuses}; a frame with a broken JSON header closed (1008), logged in one line')
    another_visitor_is_served(server)

def test_the_binder_path_checks_frames_too(tmp_path):
    "jupyter_server with postBuild's config (tools/jupyter_server_config.json), as Binder serves voila/render/...: the same guards"
    (tmp_path/'jupyter').mkdir(); shutil.copy(ROOT/'tools'/'jupyter_server_config.json', tmp_path/'jupyter'/'jupyter_server_config.json')
    server = Server([sys.executable, '-m', 'jupyter_server', '--port={port}', '--no-browser', '--ServerApp.token=', '--ServerApp.password=',
                     '--ServerApp.ip=127.0.0.1', '--allow-root'], env=dict(JUPYTER_CONFIG_DIR=str(tmp_path/'jupyter'), WEBCLASSIFIER_RUNTIME='onnx',
                     WEBCLASSIFIER_FLAGS=str(tmp_path/'flags')), log=ARTIFACTS/'attacks-binder.log')
    app = '/voila/render/classifier_app.ipynb'
    try:
        page = Page(server.port, next(ADDRESSES), app)
        with pytest.raises(websocket.WebSocketBadStatusException) as refused: connect(server.port, page.kernel_id, page.source, subprotocols=())
        assert refused.value.status_code == 400
        page.ws.send_binary((2**60).to_bytes(8, 'little'))
        assert close_code(page) == 1008
        page.close()
        other = Page(server.port, next(ADDRESSES), app)
        assert 'wc-label' in other.pick('grizzly.jpg')
        other.close()
        report('Binder path (jupyter_server + tools/jupyter_server_config.json): legacy client refused (400), 2**60-offset frame closed (1008), next visitor served')
    finally: server.stop()

def test_an_idle_browser_page_is_told_to_reload(browser, tmp_path):
    "In Chromium, as a visitor sees it: a page left alone past --page-idle says to reload, and its kernel is gone"
    server = WebclassifierApp(model_copy(tmp_path), tmp_path, '--runtime', 'onnx', '--page-idle', 8, log=ARTIFACTS/'attacks-idle-browser.log')
    try:
        page = browser.new_page()
        page.goto(server.url, timeout=120_000); page.wait_for_selector('.wc-upload', timeout=120_000)
        assert wait_until(lambda: len(kernels(server)) == 2, 60)  # this page's and the preheated one
        page.wait_for_selector('.wc-gave-back', timeout=120_000)
        assert 'Reload the page to use the app again' in page.locator('.wc-gave-back').inner_text()
        assert wait_until(lambda: len(kernels(server)) == 1, 60)  # its place given back
        page.screenshot(path=str(ARTIFACTS/'app-gave-back.png'))
        page.reload(); page.wait_for_selector('.wc-upload', timeout=120_000)  # and a reload gets the app again
        assert page.locator('.wc-gave-back').count() == 0
        page.close()
    finally: server.stop()
