"""The attacks of tests/test_attacks.py against the code before issue 23 (default: 27f2150), for docs/public.md's "before" column.

The revision is unpacked with `git archive` into a temporary folder and put first on PYTHONPATH for `webclassifier app --runtime onnx`
and its kernels. The two frame attacks stop the old server: each runs for 6 s, then the server and its kernels are killed.
Usage: .venv/bin/python benchmarks/attacks_before.py [REVISION]"""
import io, itertools, json, os, socket, subprocess, sys, tempfile, time, uuid
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent.parent/'tests'))
from shipped import output_file
import psutil
from PIL import Image
import servers
from kernel_page import Page, connect, get
from test_attacks import MB, kernel_process, model_copy, peak_mb, rss_mb

ADDRESSES = (f'127.0.2.{n}' for n in itertools.count(1))

def old_server(old:Path, name:str) -> servers.Server:
    root = Path(tempfile.mkdtemp())
    return servers.Server([Path(sys.executable).parent/'webclassifier', 'app', '--model', model_copy(root), '--port', '{port}', '--runtime', 'onnx',
                           '--flags', root/'flags', '--max-visitors', 6], cwd=root, env=dict(PYTHONPATH=str(old)), log=os.devnull)

def kill(server):
    proc = psutil.Process(server.proc.pid)
    children = proc.children(recursive=True)
    for p in [proc, *children]:
        try: p.kill()
        except psutil.Error: pass

def frame_attack(old:Path, name:str, act):
    server = old_server(old, name); proc = psutil.Process(server.proc.pid)
    try:
        act(server)
        before, start = rss_mb(proc), time.time()
        try: status = get(server.port, '/', next(ADDRESSES), timeout=6)[0]
        except (socket.timeout, TimeoutError): status = 'timed out'
        print(f'{name}: another visitor GET / -> {status} after {time.time() - start:.1f} s; server RSS {before:.0f} -> {rss_mb(proc):.0f} MB, '
              f'CPU {proc.cpu_percent(1.0):.0f} %', flush=True)
    finally: kill(server)

def v1_bomb(server):
    page = Page(server.port, next(ADDRESSES)); page.ws.send_binary((2**60).to_bytes(8, 'little')); time.sleep(0.5)

def legacy_click(server):
    page = Page(server.port, next(ADDRESSES))  # v1 to learn the picker's id; then a legacy connection clicks an example
    ws = connect(server.port, page.kernel_id, page.source, subprotocols=())
    ws.send(json.dumps(dict(header=dict(msg_id=uuid.uuid4().hex, session=uuid.uuid4().hex, username='x', msg_type='comm_msg', version='5.3', date=''),
                            parent_header={}, metadata={}, channel='shell', buffers=[],
                            content=dict(comm_id=page.widget(_esm='wc-example'), data=dict(method='custom', content={'pick': 'grizzly.jpg'})))))
    time.sleep(3)

def memory_attacks(old:Path):
    server = old_server(old, 'memory')
    try:
        page = Page(server.port, next(ADDRESSES)); kernel = kernel_process(server, page)
        before, upload, piece = rss_mb(kernel), page.widget(_esm='wc-upload'), os.urandom(MB)
        for n in range(30):
            for seq in range(9): page.custom(upload, dict(kind='chunk', name=f'{n}.heic', id=f'u{n}', seq=seq, count=10), [piece])
        page.pick('teddy.jpg'); print(f'30 unfinished uploads of 9 MB: kernel RSS {before:.0f} -> {rss_mb(kernel):.0f} MB', flush=True); page.close()

        page = Page(server.port, next(ADDRESSES)); kernel = kernel_process(server, page)
        bomb = io.BytesIO(); Image.new('1', (10_000, 8_800)).save(bomb, 'PNG')
        before, peak = rss_mb(kernel), peak_mb(kernel); answer = page.upload('bomb.png', bomb.getvalue(), timeout=300)
        print(f'pixel bomb: kernel RSS {before:.0f} -> {rss_mb(kernel):.0f} MB, peak {peak:.0f} -> {peak_mb(kernel):.0f} MB; '
              f'answered: {"error" if "wc-error" in answer else "a label"}', flush=True); page.close()

        page = Page(server.port, next(ADDRESSES)); kernel = kernel_process(server, page)
        state = dict(_model_name='ButtonModel', _model_module='@jupyter-widgets/controls', _model_module_version='2.0.0', _view_name='ButtonView',
                     _view_module='@jupyter-widgets/controls', _view_module_version='2.0.0', description='x' * MB)
        before = rss_mb(kernel)
        for n in range(200):
            page.send('comm_open', dict(comm_id=f'b{n}', target_name='jupyter.widget', data=dict(state=state, buffer_paths=[])), metadata=dict(version='2.1.0'))
        page.pick('black.jpg')
        print(f'200 Buttons opened by the page: kernel RSS {before:.0f} -> {rss_mb(kernel):.0f} MB, {len(page.closed_comms)} closed by the kernel', flush=True)
        page.close()

        page = Page(server.port, next(ADDRESSES)); kernel = kernel_process(server, page)
        noise = io.BytesIO(); Image.frombytes('RGB', (1024, 1024), os.urandom(3 * MB)).save(noise, 'JPEG', quality=95)
        before = rss_mb(kernel)
        for n in range(30): page.upload(f'noise-{n}.jpg', noise.getvalue())
        full, answers = rss_mb(kernel), page.find(value='wc-result')
        page.click(page.widget(_model_name='ButtonModel', description='Clear results')); page.pick('grizzly.jpg')
        print(f'30 answers, then Clear results: kernel RSS {before:.0f} -> {full:.0f} -> {rss_mb(kernel):.0f} MB; '
              f'{len(set(answers) & page.closed_comms)} of {len(answers)} answers closed', flush=True)
        page.close()
    finally: server.stop()

if __name__ == '__main__':
    rev = sys.argv[1] if len(sys.argv) > 1 else '27f2150'
    with output_file('attacks_before.txt'):
        old = Path(tempfile.mkdtemp())
        subprocess.run(f'git archive {rev} | tar -x -C {old}', shell=True, check=True, cwd=Path(__file__).parent.parent)
        print(f'webclassifier at {rev}, webclassifier app --runtime onnx')
        frame_attack(old, 'v1 frame of 2**60 offsets', v1_bomb)
        frame_attack(old, 'legacy client clicking an example', legacy_click)
        memory_attacks(old)
