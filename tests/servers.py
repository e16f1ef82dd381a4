"Real servers on 127.0.0.1 for the tests: an HTTP server with good and bad answers, and Voila"
import http.server, os, socket, subprocess, sys, threading, time
from pathlib import Path

ROOT = Path(__file__).parent.parent
SAMPLE = Path(__file__).parent/'sample'
ARTIFACTS = Path(__file__).parent/'artifacts'
UPLOAD_TIMEOUT = 120_000

def free_port() -> int:
    "A TCP port nobody listens on now"
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

class ImageSite(http.server.ThreadingHTTPServer):
    "Serves `routes` (path -> handler(request)) on 127.0.0.1, with `latency` seconds added to each answer"
    daemon_threads = True
    def __init__(self, routes:dict, latency:float=0.):
        self.routes, self.latency = routes, latency
        super().__init__(('127.0.0.1', 0), SiteHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
    @property
    def base(self): return f'http://127.0.0.1:{self.server_port}'
    def __enter__(self): return self
    def __exit__(self, *a): self.shutdown(); self.server_close()

class SiteHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        time.sleep(self.server.latency)
        handler = self.server.routes.get(self.path.split('?')[0])
        if handler is None: return self.send_error(404)
        try: handler(self)
        except (BrokenPipeError, ConnectionResetError): pass

def body(data:bytes, content_type:str='image/jpeg', status:int=200, length:int=None):
    "A handler answering `data`"
    def handler(req):
        req.send_response(status)
        req.send_header('Content-Type', content_type)
        req.send_header('Content-Length', str(len(data) if length is None else length))
        req.end_headers(); req.wfile.write(data)
    return handler

def redirect(to:str):
    def handler(req):
        req.send_response(302); req.send_header('Location', to); req.send_header('Content-Length', '0'); req.end_headers()
    return handler

def slow(data:bytes, delay:float):
    "A handler that sends its headers, then stalls for `delay` seconds before the body"
    def handler(req):
        req.send_response(200); req.send_header('Content-Type', 'image/jpeg'); req.send_header('Content-Length', str(len(data)))
        req.end_headers(); req.wfile.flush(); time.sleep(delay); req.wfile.write(data)
    return handler

def chunked(chunk:bytes, n:int):
    "A handler streaming `n` copies of `chunk` with no Content-Length"
    def handler(req):
        req.send_response(200); req.send_header('Content-Type', 'image/jpeg'); req.end_headers()
        for _ in range(n): req.wfile.write(chunk)
    return handler

class Server:
    "A web server started as a subprocess on a free port of 127.0.0.1, usable once it listens; `stop` ends it"
    def __init__(self, cmd, path='', cwd=ROOT, env=None, log=None):
        self.port = free_port()
        self.log = open(log or os.devnull, 'w')
        self.proc = subprocess.Popen([c.format(port=self.port) for c in map(str, cmd)], cwd=cwd, stdout=self.log,
                                     stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.url = f'http://127.0.0.1:{self.port}/{path}'
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None: raise RuntimeError(f'{cmd[0]} exited with {self.proc.returncode}')
            try: socket.create_connection(('127.0.0.1', self.port), timeout=1).close(); return
            except OSError: time.sleep(0.3)
        raise TimeoutError(f'{cmd[0]} did not start in 120 s')

    def stop(self):
        self.proc.terminate()
        try: self.proc.wait(20)
        except subprocess.TimeoutExpired: self.proc.kill()
        self.log.close()

def WebclassifierApp(model, cwd, *args, log=None, server='voila') -> Server:
    "`webclassifier app --server SERVER` as a user runs it after installing the package, started from `cwd`"
    return Server([Path(sys.executable).parent/'webclassifier', 'app', '--model', model, '--port', '{port}', '--server', server, *args],
                  cwd=cwd, log=log)

def JupyterServerVoila(config_dir, notebook='classifier_app.ipynb', log=None) -> Server:
    "Voila as Binder serves it: jupyter_server with Voila's extension at voila/render/..., configured from `config_dir`"
    return Server([sys.executable, '-m', 'jupyter_server', '--port={port}', '--no-browser', '--ServerApp.token=', '--ServerApp.password=',
                   '--ServerApp.ip=127.0.0.1', '--allow-root'], f'voila/render/{notebook}', env=dict(JUPYTER_CONFIG_DIR=str(config_dir)), log=log)

def kernels(server) -> list:
    "The kernel processes the server `server` started"
    import psutil
    def is_kernel(p):
        try: return p.status() != psutil.STATUS_ZOMBIE and 'ipykernel' in ' '.join(p.cmdline())
        except psutil.Error: return False  # ended (or ending) while we looked: not a kernel any more
    return [c for c in psutil.Process(server.proc.pid).children(recursive=True) if is_kernel(c)]

def wait_until(condition, timeout:float, every:float=0.5):
    "Wait until `condition()` is true; False if it isn't after `timeout` seconds"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition(): return True
        time.sleep(every)
    return condition()

def upload(page, path:Path, wait_for:str):
    "Upload `path` with the app's button and wait for the result or error line naming it"
    before = page.locator('.wc-file, .wc-error').count()
    with page.expect_file_chooser() as fc: page.click('.wc-upload')
    fc.value.set_files(str(path))
    page.wait_for_function(f"document.querySelectorAll('.wc-file, .wc-error').length > {before}", timeout=UPLOAD_TIMEOUT)
    return page.locator('.wc-result, .wc-error', has_text=wait_for).first

# nbclient waits for a cell's reply in one `poll` of the shell socket, as long as the cell's timeout. When the asyncio
# poll misses the socket's wake-up (jupyter/nbclient#312: seen here under load, at the cleaner's widget cell), the reply
# sits unread until that poll times out and looks again (pyzmq's `_AsyncPoller.poll` checks once more when it times
# out): 600 s of an idle kernel. Waiting in short polls makes that second look come within `SHELL_POLL` seconds.
SHELL_POLL = 2.
missed_wakeups = []  # the time of each message found only when a short poll timed out (a missed wake-up, or one at its end)

def poll_shell_in_short_waits(set_attribute=setattr):
    "Make jupyter_client's async channels wait for a message in polls of at most `SHELL_POLL` seconds (up to the caller's timeout)"
    # `set_attribute`: pytest's `monkeypatch.setattr` to undo it after a test; the builtin for the rest of the process
    from queue import Empty
    from jupyter_client.channels import AsyncZMQSocketChannel
    get_msg = AsyncZMQSocketChannel.get_msg
    if getattr(get_msg, 'in_short_waits', False): return  # already
    async def get_msg_in_short_waits(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = SHELL_POLL if deadline is None else max(0, min(SHELL_POLL, deadline - time.monotonic()))
            start = time.monotonic()
            try: msg = await get_msg(self, timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline: raise
                continue
            if time.monotonic() - start >= wait > 0: missed_wakeups.append(time.time())  # found by the poll's last look
            return msg
    get_msg_in_short_waits.in_short_waits = True
    set_attribute(AsyncZMQSocketChannel, 'get_msg', get_msg_in_short_waits)
