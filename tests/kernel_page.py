"A visitor's page spoken by hand: the app's HTML over HTTP, then the Jupyter kernel protocol (v1) on a plain websocket, from a chosen loopback address"
import http.client, json, re, socket, time, uuid
from urllib.parse import urlsplit
from datetime import datetime, timezone
import websocket
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

V1 = 'v1.kernel.websocket.jupyter.org'

class Busy(Exception):
    "The server answered the page with a 503 (all places, or all of this address's, taken)"

def get(port:int, path:str='/', source:str='127.0.0.1', timeout:float=120, method:str='GET', redirects:int=3) -> tuple:
    "`method` `path` on the server on `port`, from the loopback address `source`, following redirects on the server: (status, body)"
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path); res = conn.getresponse(); body = res.read().decode('utf-8', 'replace')
        location = urlsplit(res.getheader('Location') or '')
        if res.status in (301, 302, 303, 307) and redirects and location.port in (None, port):
            return get(port, location.path + (f'?{location.query}' if location.query else ''), source, timeout, 'GET', redirects - 1)
        return res.status, body
    finally: conn.close()

def connect(port:int, kernel_id:str, source:str='127.0.0.1', subprotocols=(V1,), timeout:float=30):
    "A websocket to the kernel's channels, from `source`"
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout, source_address=(source, 0))
    return websocket.create_connection(f'ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}',
                                       socket=sock, subprotocols=list(subprotocols) or None, timeout=timeout,
                                       origin=f'http://127.0.0.1:{port}')

class Page:
    "One visitor: opens the app (a 503 raises `Busy`), connects to its kernel and learns every widget's state"
    def __init__(self, port:int, source:str='127.0.0.1', path:str='/'):
        self.port, self.source, self.session = port, source, uuid.uuid4().hex
        status, html = get(port, path, source)
        if status == 503: raise Busy(html)
        assert status == 200, (status, html[:500])
        self.kernel_id = re.search(r'"kernelId": "([^"]+)"', html).group(1)
        self.ws, self.close_code = connect(port, self.kernel_id, source), None
        self.states, self.closed_comms, self.log = {}, set(), []
        control = uuid.uuid4().hex
        self.send('comm_open', dict(comm_id=control, target_name='jupyter.widget.control', data={}), metadata=dict(version='1.0.0'))
        self.send('comm_msg', dict(comm_id=control, data=dict(method='request_states')))
        assert self.pump(lambda: any(s.get('_esm') and 'wc-example' in s['_esm'] for s in self.states.values()), 60), 'no widget states'

    def send(self, msg_type:str, content:dict, buffers=(), metadata:dict=None, channel:str='shell'):
        header = dict(msg_id=uuid.uuid4().hex, session=self.session, username='visitor', msg_type=msg_type, version='5.3',
                      date=datetime.now(timezone.utc).isoformat())
        parts = [json.dumps(p).encode() for p in (header, {}, metadata or {}, content)] + [bytes(b) for b in buffers]
        self.ws.send_binary(serialize_msg_to_ws_v1(parts, channel))
        return header['msg_id']

    def finished(self, msg_id:str, timeout:float=60) -> bool:
        "Whether the kernel said it was done with the message `msg_id` (its idle status) within `timeout` seconds"
        done = lambda: any(m['header']['msg_type'] == 'status' and m['parent_header'].get('msg_id') == msg_id
                           and m['content'].get('execution_state') == 'idle' for m in self.log)
        return self.pump(done, timeout)

    def receive(self, timeout:float=1.0):
        "The next message from the kernel (a dict), or None if none came within `timeout` seconds, or the server closed the connection (`close_code`)"
        if self.close_code is not None: time.sleep(timeout); return None
        self.ws.settimeout(timeout)
        try: opcode, frame = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException: return None
        except (websocket.WebSocketConnectionClosedException, OSError): self.close_code = 'closed without a code'; return None
        if opcode == websocket.ABNF.OPCODE_CLOSE: self.close_code = int.from_bytes(frame[:2], 'big') if len(frame) >= 2 else 'no code'; return None
        if opcode != websocket.ABNF.OPCODE_BINARY: return None
        channel, parts = deserialize_msg_from_ws_v1(frame)
        msg = dict(channel=channel, header=json.loads(parts[0]), parent_header=json.loads(parts[1]), content=json.loads(parts[3]), buffers=parts[4:])
        self.note(msg); return msg

    def note(self, msg:dict):
        kind, content = msg['header']['msg_type'], msg['content']
        self.log.append(msg)
        if kind == 'comm_open' and content.get('target_name') == 'jupyter.widget': self.states[content['comm_id']] = dict(content['data']['state'])
        elif kind == 'comm_close': self.closed_comms.add(content['comm_id'])
        elif kind == 'comm_msg':
            data = content.get('data', {})
            if data.get('method') == 'update': self.states.setdefault(content['comm_id'], {}).update(data.get('state', {}))
            if data.get('method') == 'update_states':
                for model_id, model in data['states'].items(): self.states[model_id] = dict(model['state'])

    def pump(self, until, timeout:float=60) -> bool:
        "Read the kernel's messages until `until()` holds (True), or `timeout` seconds pass (False)"
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline: return False
            self.receive(min(1.0, max(0.05, deadline - time.monotonic())))
        return True

    def find(self, **want) -> list:
        "Ids of the open widgets whose state has the values `want` (a value that is a str is looked for inside the state's)"
        def fits(state):
            return all((v in str(state.get(k, ''))) if isinstance(v, str) else state.get(k) == v for k, v in want.items())
        return [m for m, s in self.states.items() if m not in self.closed_comms and fits(s)]

    def widget(self, **want) -> str:
        "The newest open widget with `want`"
        found = self.find(**want); assert found, want
        return found[-1]

    def custom(self, model_id:str, content:dict, buffers=()):
        return self.send('comm_msg', dict(comm_id=model_id, data=dict(method='custom', content=content)), buffers)

    def update(self, model_id:str, state:dict):
        self.send('comm_msg', dict(comm_id=model_id, data=dict(method='update', state=state, buffer_paths=[])))

    def click(self, model_id:str): self.custom(model_id, {'event': 'click'})

    def answer_ids(self) -> list:
        "The ids of the answers (or errors) the page shows"
        return [m for m, s in self.states.items() if m not in self.closed_comms and ('wc-result' in str(s.get('value')) or 'wc-error' in str(s.get('value')))]

    def answers(self) -> list:
        "The text of every answer (or error) the page shows"
        return [self.states[m]['value'] for m in self.answer_ids()]

    def new_answer(self, send, name:str, timeout:float) -> str:
        "Call `send()`; the HTML of the answer that appears"
        before = set(self.answer_ids())
        send()
        assert self.pump(lambda: set(self.answer_ids()) - before, timeout), f'no answer for {name}'
        return self.states[[m for m in self.answer_ids() if m not in before][-1]]['value']

    def pick(self, name:str, timeout:float=60) -> str:
        "Click the example photo `name`; the answer's HTML"
        return self.new_answer(lambda: self.custom(self.widget(_esm='wc-example'), {'pick': name}), name, timeout)

    def upload(self, name:str, data:bytes, timeout:float=60) -> str:
        "Send `data` as the upload box sends a photo it shrank; the answer's HTML"
        upload = self.widget(_esm='wc-upload')
        return self.new_answer(lambda: self.custom(upload, dict(kind='photo', name=name, size=len(data)), [data]), name, timeout)

    def close(self):
        try: self.ws.close()
        except Exception: pass
