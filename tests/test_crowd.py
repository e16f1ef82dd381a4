"`webclassifier app` (Solara): every page and the JSON API on one model, and what a crafted client cannot do there"
import io, json, socket, struct, threading, time, uuid
import psutil, pytest, requests
from PIL import Image
from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosed
from servers import ARTIFACTS, ROOT, SAMPLE, WebclassifierApp, upload, wait_until

PHOTO = SAMPLE/'grizzly'/'00000014.jpg'

def crowd_server(tmp_path, *args, name='crowd'):
    "`webclassifier app` with its default server (Solara) on the shipped model, from an empty folder"
    return WebclassifierApp(ROOT/'export.pkl', tmp_path, '--flags', tmp_path/'flags', *args, log=ARTIFACTS/f'{name}.log',
                            server='solara')

def usable(page, url):
    page.goto(url, timeout=60_000); page.wait_for_selector('.wc-upload', timeout=60_000)

def processes(server) -> list:
    "The server's process and every process it started"
    root = psutil.Process(server.proc.pid)
    return [root, *root.children(recursive=True)]

@pytest.fixture(scope='module')
def crowd(tmp_path_factory):
    "Three places, any number per address"
    server = crowd_server(tmp_path_factory.mktemp('crowd'), '--max-visitors', 3, '--max-per-address', 0)
    yield server
    server.stop()

def test_pages_share_one_model_and_a_fourth_is_busy(browser, crowd):
    "Three pages answered by one process (no kernel started, no model loaded twice); a fourth is told busy until one closes"
    contexts = [browser.new_context() for _ in range(4)]
    pages = [c.new_page() for c in contexts]
    for page in pages[:3]: usable(page, crowd.url)
    for page in pages[:3]: assert 'grizzly' in upload(page, PHOTO, PHOTO.name).locator('.wc-label').inner_text()
    assert [p.name() for p in processes(crowd)[1:]] == [], 'the Solara server started other processes'
    rss = sum(p.memory_info().rss for p in processes(crowd)) / 2**20
    print(f'server with 3 pages: {rss:.0f} MiB')
    assert rss < 700, rss
    response = pages[3].goto(crowd.url, timeout=60_000)
    assert response.status == 503 and 'The app is busy: all 3 places are taken' in pages[3].inner_text('body')
    contexts[0].close()  # the page's close gives its place back (Solara's close beacon, then the server's sweep)
    def gets_a_place(): return pages[3].goto(crowd.url, timeout=60_000).status == 200
    assert wait_until(gets_a_place, 40, every=2)
    pages[3].wait_for_selector('.wc-upload', timeout=60_000)
    # a reload when all places are taken: its old kernel goes once Solara hears the page close, which may take a moment
    assert wait_until(lambda: pages[1].reload(timeout=60_000).status == 200, 30, every=2)
    pages[1].wait_for_selector('.wc-upload', timeout=60_000)
    assert 'grizzly' in upload(pages[3], PHOTO, PHOTO.name).locator('.wc-label').inner_text()
    for c in contexts[1:]: c.close()

def post(server, data=None, **kwargs):
    return requests.post(server.url + 'api/predict', data=data, timeout=60, **kwargs)

def test_api_answers_a_photo_as_body_or_form(crowd):
    card = json.loads((ROOT/'model_card.json').read_text())
    said = post(crowd, PHOTO.read_bytes(), headers={'Content-Type': 'image/jpeg'})
    assert said.status_code == 200 and said.headers['content-type'] == 'application/json', said.text
    answer = said.json()
    assert list(answer) == ['label', 'sure', 'predictions', 'model'] and answer['label'] == 'grizzly', answer
    assert answer['model'] == card['twin']['sha256'] and [p['label'] for p in answer['predictions']][0] == 'grizzly'
    assert sorted(p['label'] for p in answer['predictions']) == sorted(card['classes'])
    assert post(crowd, files={'file': (PHOTO.name, PHOTO.read_bytes(), 'image/jpeg')}).json() == answer
    big = Image.open(PHOTO).resize((5000, 4000))  # a camera's 20 Mpx photo with a second picture in it (MPO) is read as
    as_jpeg, as_mpo = io.BytesIO(), io.BytesIO()  # the same JPEG is: shrunk as it is decoded, not refused as too large
    big.save(as_jpeg, 'JPEG'); big.save(as_mpo, 'MPO', save_all=True, append_images=[Image.new('RGB', (160, 120))])
    said = post(crowd, as_mpo.getvalue(), headers={'Content-Type': 'image/jpeg'})
    assert said.status_code == 200 and said.json() == post(crowd, as_jpeg.getvalue()).json(), said.text[:200]

def bomb_png(side=9000) -> bytes:
    "A PNG of one colour, a few hundred kB, that decodes to `side`² pixels"
    out = io.BytesIO(); Image.new('L', (side, side)).save(out, 'PNG'); return out.getvalue()

def eps(photo) -> bytes:
    "`photo` saved as Encapsulated PostScript"
    out = io.BytesIO(); Image.open(photo).save(out, 'EPS'); return out.getvalue()

def test_api_refuses_bad_input_with_one_json_line(crowd):
    big = b'\xff' * 21_000_000
    def streamed():  # no Content-Length: refused as the body passes the limit
        for i in range(0, len(big), 2**20): yield big[i:i + 2**20]
    cases = [(dict(), 400, 'no photo'), (dict(data=b'not a photo at all'), 415, 'not an image'),
             (dict(data=big), 413, 'over the'), (dict(data=streamed()), 413, 'over the'),
             (dict(data=bomb_png()), 413, 'too large to decode'), (dict(data=PHOTO.read_bytes()[:5000]), 415, 'not an image'),
             (dict(files={'photo': ('x.jpg', PHOTO.read_bytes())}), 400, '"file"'),
             (dict(data=eps(PHOTO)), 415, 'unrecognised format'),  # PIL would read it with Ghostscript: not a format read here
             (dict(data=PHOTO.read_bytes()[:2] + b'\xff\xfe\x00\x02' * 200_000 + PHOTO.read_bytes()[2:]), 413,
              'too many segments of a kind')]  # 800 kB of empty JPEG comments, which PIL would parse one by one
    for kwargs, status, says in cases:
        refused = post(crowd, **kwargs)
        assert refused.status_code == status, (status, refused.status_code, refused.text[:200])
        error = refused.json()['error']
        assert says in error and '\n' not in error and len(error) < 200, error
    for method in ('GET', 'PUT', 'DELETE'):  # only POST answers; the others are told so, in one JSON line
        refused = requests.request(method, crowd.url + 'api/predict', timeout=10)
        assert (refused.status_code, refused.headers['allow'], refused.json()) == (
            405, 'POST', {'error': f'{method} is not how to ask /api/predict: POST a photo'}), refused.text[:200]
    assert post(crowd, PHOTO.read_bytes()).json()['label'] == 'grizzly'  # and it still answers

def test_api_places_per_address(tmp_path):
    "An address with two calls open (bodies that never finish) is told 429 for a third; pages and others still answered"
    server = crowd_server(tmp_path, '--max-per-address', 2, name='crowd-api-places')
    stalled = []
    try:
        for _ in range(2):
            s = socket.create_connection(('127.0.0.1', server.port))
            s.sendall(b'POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\nabc')
            stalled.append(s)
        time.sleep(1)
        refused = post(server, PHOTO.read_bytes())
        assert refused.status_code == 429 and 'your address already has 2' in refused.json()['error'], refused.text
        for s in stalled: s.close()
        assert wait_until(lambda: post(server, PHOTO.read_bytes()).status_code == 200, 20)
    finally:
        for s in stalled: s.close()
        server.stop()

def kernel_socket(server, kernel_id=None):
    "A websocket to a (new) virtual kernel of `server`, as a crafted client opens one: the page's cookie, then the socket"
    cookie = requests.get(server.url, timeout=60).cookies.get('solara-session-id')
    url = f'ws://127.0.0.1:{server.port}/jupyter/api/kernels/{kernel_id or uuid.uuid4()}/channels?session_id={uuid.uuid4()}'
    return connect(url, additional_headers={'Cookie': f'solara-session-id={cookie}'}, open_timeout=20, max_size=2**24)

def closed_with(ws, frame, timeout=20) -> tuple:
    "Send `frame` on `ws`; the close code and reason it gets within `timeout` s"
    deadline = time.time() + timeout
    try:
        ws.send(frame)
        while time.time() < deadline: ws.recv(timeout=deadline - time.time())
    except ConnectionClosed as e: return e.rcvd.code, e.rcvd.reason
    except TimeoutError: return None, 'still open'

def test_crafted_frames_close_the_connection(crowd):
    "Frames no widget page sends close the socket with 1008 before Solara parses them; the server goes on"
    hello = json.dumps(dict(header=dict(msg_type='kernel_info_request', msg_id='1', username='', session='', date='',
                                        version='5.3'), parent_header={}, metadata={}, content={}, channel='shell'))
    with kernel_socket(crowd) as ws:
        ws.send(hello)
        assert any('kernel_info_reply' in ws.recv(timeout=20) for _ in range(3))  # after the kernel says it is busy
    frames = [b'\x00\x00\x00\x07\x00', struct.pack('!i', 2**30) + b'\x00' * 8, '{"header": ', '[' * 200_000,
              json.dumps(dict(header=dict(msg_type='execute_request'), channel='shell', content=dict(code='import os'))),
              json.dumps(dict(header=dict(msg_type='comm_msg'), content={})),
              struct.pack('!iII', 2, 12, 8) + hello.encode()]
    for frame in frames:
        with kernel_socket(crowd) as ws: assert closed_with(ws, frame)[0] == 1008, frame[:40]
    assert 'Traceback' not in (ARTIFACTS/'crowd.log').read_text()
    assert post(crowd, PHOTO.read_bytes()).json()['label'] == 'grizzly'

def test_no_place_no_kernel_and_forwarded_address_not_believed(browser, tmp_path):
    "One place per address: a second page from it is busy, whatever X-Forwarded-For says, and a crafted socket gets no kernel"
    server = crowd_server(tmp_path, '--max-per-address', 1, name='crowd-places')
    try:
        page = browser.new_page()
        usable(page, server.url)
        busy = requests.get(server.url, headers={'X-Forwarded-For': '203.0.113.9'}, timeout=30)
        assert busy.status_code == 503 and 'already has 1 pages' in busy.text, busy.text[:300]
        with kernel_socket(server) as ws: assert closed_with(ws, '{}')[0] == 1013
        assert 'grizzly' in upload(page, PHOTO, PHOTO.name).locator('.wc-label').inner_text()  # the first page still works
        page.close()
    finally: server.stop()

def test_idle_page_is_told_and_gives_its_place_back(browser, tmp_path):
    "A page nobody uses for --page-idle seconds says so and gives its place to the next visitor"
    server = crowd_server(tmp_path, '--max-visitors', 1, '--page-idle', 4, name='crowd-idle')
    try:
        page = browser.new_page()
        usable(page, server.url)
        page.wait_for_selector('.wc-gave-back', timeout=30_000)
        assert 'Reload the page' in page.inner_text('.wc-gave-back')
        other = browser.new_page()
        assert wait_until(lambda: other.goto(server.url, timeout=30_000).status == 200, 30, every=2)
        other.wait_for_selector('.wc-upload', timeout=30_000)
        assert 'grizzly' in upload(other, PHOTO, PHOTO.name).locator('.wc-label').inner_text()
        assert 'gave its place' in page.inner_text('body')  # and the idle page did not take it back by reconnecting
        other.close(); page.close()
    finally: server.stop()
