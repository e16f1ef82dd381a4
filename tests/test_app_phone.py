"""The app as people use it, at a phone's size (390 x 844, touch, 2x pixels) and a desktop's: `webclassifier app
--runtime onnx` (a real Voila server) in headless Chromium. Layout checked by measurement, photos arriving by the
button, the camera input, a drop and a paste, axe-core on the page with answers, and the keyboard alone."""
import base64, json
from pathlib import Path
import pytest
from servers import ARTIFACTS, ROOT, SAMPLE, WebclassifierApp, upload

AXE = ROOT/'node_modules'/'axe-core'/'axe.min.js'  # `npm ci` (tools/install.sh) puts it there
PHONE = dict(viewport={'width': 390, 'height': 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
DESKTOP = dict(viewport={'width': 1280, 'height': 900})
PHOTOS = [SAMPLE/'black'/'00000016.jpg', SAMPLE/'grizzly'/'00000116.jpg', SAMPLE/'teddy'/'00000016.jpg']  # two portrait, one landscape

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    server = WebclassifierApp(ROOT/'export.pkl', ROOT, '--runtime', 'onnx', '--flags', tmp_path_factory.mktemp('flagged'),
                              log=ARTIFACTS/'webclassifier-app-phone.log')
    yield server
    server.stop()

def open_page(browser, server, device:dict):
    "A new page on the app, once its upload button is there"
    context = browser.new_context(**device)
    page = context.new_page()
    page.goto(server.url, timeout=180_000)
    page.wait_for_selector('.wc-upload', timeout=180_000)
    return page

@pytest.fixture(scope='module', params=['phone', 'desktop'])
def page(request, browser, server):
    "The app at a phone's size and a desktop's, with the three photos answered"
    page = open_page(browser, server, PHONE if request.param == 'phone' else DESKTOP)
    page.device = request.param
    for photo in PHOTOS: upload(page, photo, photo.name)
    yield page
    page.context.close()

def answers(page) -> int: return page.locator('.wc-result').count()

def wait_for_answers(page, n:int, timeout:float=60_000):
    page.wait_for_function(f"document.querySelectorAll('.wc-result').length >= {n}", timeout=timeout)

def axe_serious(page) -> list:
    "axe-core's serious and critical violations on the page: (rule, impact, how many elements, the first one)"
    assert AXE.exists(), f'{AXE} is missing: run `npm ci` (tools/install.sh does)'
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [(v['id'], v['impact'], len(v['nodes']), v['nodes'][0]['target']) for v in found if v['impact'] in ('serious', 'critical')]

TALL_BARS = """() => [...document.querySelectorAll('.wc-bar')].filter(row => {
  const style = getComputedStyle(row), size = parseFloat(style.fontSize);
  const line = style.lineHeight === 'normal' ? 1.25 * size : parseFloat(style.lineHeight);
  return row.getBoundingClientRect().height > 1.5 * line;
}).map(row => [row.innerText, row.getBoundingClientRect().height])"""

TOO_WIDE = """() => [...document.body.querySelectorAll('*')].filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && (r.left < -1 || r.right > innerWidth + 1);
}).map(e => [e.tagName + '.' + e.className, Math.round(e.getBoundingClientRect().left), Math.round(e.getBoundingClientRect().right)])"""

STRETCHED = """() => [...document.querySelectorAll('img')].filter(img => img.naturalWidth > 0).map(img => {
  const r = img.getBoundingClientRect();
  return [img.alt, img.naturalWidth / img.naturalHeight, r.width / r.height];
}).filter(([alt, natural, drawn]) => Math.abs(drawn / natural - 1) > 0.02)"""

def screenshot(page, name:str):
    "The whole app as `tests/artifacts/NAME.png`: Voila's page scrolls inside, so the viewport is made as tall as the app first"
    size = page.viewport_size
    height = page.evaluate("Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
    page.set_viewport_size({'width': size['width'], 'height': max(size['height'], height)})
    page.screenshot(path=str(ARTIFACTS/f'{name}.png'), full_page=True)
    page.set_viewport_size(size)

def test_layout_fits_and_photos_keep_their_shape(page):
    "Measured: every class on one line, nothing wider than the screen, every photo at its own aspect ratio, each answer one block"
    screenshot(page, f'after-{page.device}')
    assert page.locator('.wc-bar').count() == 3 * len(PHOTOS)
    assert page.evaluate(TALL_BARS) == []
    assert page.evaluate(TOO_WIDE) == [] and page.evaluate('document.documentElement.scrollWidth <= innerWidth')
    assert page.locator('img:visible').count() == 4 + len(PHOTOS)  # the examples and the answers (their maps hidden till asked)
    assert page.evaluate(STRETCHED) == []
    blocks = page.evaluate("""() => [...document.querySelectorAll('.wc-answer')].map(answer => {
      const photo = answer.querySelector('img.wc-photo').getBoundingClientRect(), text = answer.querySelector('.wc-result').getBoundingClientRect();
      return [photo.right <= text.left, Math.abs(photo.top - text.top), answer.getBoundingClientRect().height];
    })""")
    assert all(beside and gap < 12 for beside, gap, _ in blocks), blocks  # the photo beside its answer, both at the top
    assert all(height < 260 for *_, height in blocks), blocks  # compact: three answers and more fit on a phone's screen
    buttons = [page.locator(s).bounding_box() for s in ('.wc-upload', '.wc-camera')]
    if page.device == 'phone': assert abs(buttons[0]['y'] - buttons[1]['y']) < 2, buttons  # side by side
    else: assert buttons[1] is None  # no camera on a desktop: its button is hidden

def test_camera_control(page):
    "A phone's \"Take a photo\" is a file input asking for the back camera; what it gives goes the same way as an upload"
    camera = page.locator('input[capture]')
    assert (camera.get_attribute('accept'), camera.get_attribute('capture')) == ('image/*', 'environment')
    if page.device != 'phone':  # no camera on a desktop: nothing a person can press to take a photo
        assert not page.get_by_role('button', name='Take a photo').is_visible()
        return
    before = answers(page)
    with page.expect_file_chooser() as chooser: page.get_by_role('button', name='Take a photo').click()
    assert not chooser.value.is_multiple()
    chooser.value.set_files(str(SAMPLE/'teddy'/'00000075.jpg'))
    wait_for_answers(page, before + 1)
    assert 'teddy' in page.locator('.wc-result', has_text='00000075.jpg').first.locator('.wc-label').inner_text()

IN_PAGE_FILE = "({ name, type, data }) => new File([Uint8Array.from(atob(data), c => c.charCodeAt(0))], name, { type })"

def test_drop_and_paste(page):
    "A photo dropped on the page and one pasted, made with real DataTransfer and ClipboardEvent objects: each answered and announced"
    photo = lambda path, name: dict(name=name, type=f"image/{path.suffix[1:].replace('jpg', 'jpeg')}", data=base64.b64encode(path.read_bytes()).decode())
    before = answers(page)
    dragged = page.evaluate(f"""async (photo) => {{
      const dt = new DataTransfer(); dt.items.add(({IN_PAGE_FILE})(photo));
      const zone = document.querySelector('.wc-drop'), heading = document.querySelector('.wc-app h2');
      const over = new DragEvent('dragover', {{ dataTransfer: dt, bubbles: true, cancelable: true }});
      heading.dispatchEvent(over);  // over the page, not only the box
      const shown = zone.classList.contains('wc-dragging');
      heading.dispatchEvent(new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }}));
      return [over.defaultPrevented, shown, zone.classList.contains('wc-dragging')];
    }}""", photo(SAMPLE/'grizzly'/'00000014.jpg', 'dropped-bear.jpg'))
    assert dragged == [True, True, False], dragged  # the browser won't open the file; the box lights up, then not
    wait_for_answers(page, before + 1)
    assert 'grizzly' in page.locator('.wc-result', has_text='dropped-bear.jpg').first.locator('.wc-label').inner_text()
    page.evaluate(f"""(photo) => {{  // the same limits: a photo padded past 20 MB is refused before it is sent
      const padded = new File([({IN_PAGE_FILE})(photo), new Uint8Array(21_000_000)], 'huge-drop.jpg', {{ type: 'image/jpeg' }});
      const dt = new DataTransfer(); dt.items.add(padded);
      document.body.dispatchEvent(new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }}));
    }}""", photo(SAMPLE/'grizzly'/'00000014.jpg', 'unused.jpg'))
    page.locator('.wc-error', has_text='huge-drop.jpg').wait_for(timeout=30_000)
    assert 'is over the 20 MB limit' in page.locator('.wc-error', has_text='huge-drop.jpg').inner_text()
    pasted = page.evaluate(f"""async (photo) => {{
      const paste = target => {{
        const dt = new DataTransfer(); dt.items.add(({IN_PAGE_FILE})(photo));
        const event = new ClipboardEvent('paste', {{ clipboardData: dt, bubbles: true, cancelable: true }});
        target.dispatchEvent(event);
        return event.defaultPrevented;
      }};
      const field = document.body.appendChild(document.createElement('textarea'));  // where one types, a paste is left alone
      const inField = paste(field); field.remove();
      return [inField, paste(document.body)];
    }}""", photo(SAMPLE/'teddy'/'00000047.png', 'image.png'))
    assert pasted == [False, True], pasted  # the app took the paste on the page, not the one in the text field
    wait_for_answers(page, before + 2)
    answer = page.locator('.wc-answer', has_text='image.png').first
    assert 'teddy' in answer.locator('.wc-label').inner_text()
    alt = answer.locator('img.wc-photo').get_attribute('alt')
    assert alt.startswith('image.png: ') and answer.locator('.wc-label').inner_text() in alt, alt  # its file name and the answer
    live = page.locator('[role="status"][aria-live="polite"]')
    assert live.count() == 1
    page.wait_for_function("document.querySelector('[aria-live=polite]').textContent.startsWith('image.png: ')", timeout=10_000)

def test_no_serious_accessibility_violations(page):
    "axe-core on the page with answers shown (and a `Wrong?` opened): no serious or critical violations"
    page.locator('.wc-answer').first.get_by_role('button', name='Wrong?').click()
    page.locator('.wc-answer').first.get_by_role('button', name='None of these').wait_for(timeout=30_000)
    assert axe_serious(page) == []
    assert page.evaluate("[...document.querySelectorAll('img')].every(img => img.alt.trim())")

FOCUSED = """() => { const e = document.activeElement, style = getComputedStyle(e);
  return { name: e.getAttribute('aria-label') || e.innerText.trim(), cls: e.className,
           ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 }; }"""

def tab_to(page, name:str, limit:int=80) -> dict:
    "Press Tab until the focus is on the control named `name`; it must show where the focus is on the way"
    for _ in range(limit):
        page.keyboard.press('Tab')
        focused = page.evaluate(FOCUSED)
        if focused['name'] == name:
            assert focused['ring'], focused
            return focused
    raise AssertionError(f'Tab never reached {name!r}')

def test_keyboard_alone(page):
    "Tab, Enter and Space alone: the upload, an example, `Wrong?` and a class; the names say which is which"
    assert page.get_by_role('button', name='Example: black', exact=True).count() == 1
    assert page.get_by_role('button', name='black', exact=True).count() == 0  # no button is just "black"
    before = answers(page)
    page.on('filechooser', lambda chooser: None)  # file dialogs caught from now on: a key press is quicker than `expect_file_chooser` alone
    tab_to(page, 'Upload photos')
    with page.expect_file_chooser() as chooser: page.keyboard.press('Enter')
    chooser.value.set_files(str(SAMPLE/'black'/'00000029.jpg'))
    wait_for_answers(page, before + 1)
    tab_to(page, 'Example: grizzly')
    page.keyboard.press('Enter')
    wait_for_answers(page, before + 2)
    assert 'grizzly.jpg' in page.locator('.wc-file').first.inner_text()
    tab_to(page, 'Wrong?')  # the newest answer's, at the top
    page.keyboard.press('Space')
    newest = page.locator('.wc-answer').first
    newest.get_by_role('button', name='It is black', exact=True).wait_for(timeout=30_000)
    tab_to(page, 'It is black')
    page.keyboard.press('Enter')
    newest.locator('.wc-flagged').wait_for(timeout=30_000)
    assert 'kept as black' in newest.locator('.wc-flagged').inner_text()
    screenshot(page, f'after-{page.device}-keyboard')

def test_where_it_looked(page):
    "An answer's \"Where it looked\", opened with the keyboard: the heat map over the part of the photo the model saw, described for screen readers"
    newest = page.locator('.wc-answer').first
    shown = newest.locator('.wc-map')
    assert newest.locator('summary').inner_text() == 'Where it looked' and not shown.is_visible()
    newest.locator('summary').focus()
    assert page.evaluate(FOCUSED)['name'] == 'Where it looked'
    page.keyboard.press('Enter')
    shown.wait_for(state='visible', timeout=10_000)
    photo, looked = newest.locator('.wc-photo').bounding_box(), shown.bounding_box()
    inside = lambda a, b: b['x'] - 1 <= a['x'] and a['x'] + a['width'] <= b['x'] + b['width'] + 1 and \
                          b['y'] - 1 <= a['y'] and a['y'] + a['height'] <= b['y'] + b['height'] + 1
    assert inside(looked, photo) and looked['width'] * looked['height'] > 0.5 * photo['width'] * photo['height'], (looked, photo)
    assert 'Where the model looked' in shown.get_attribute('alt')
    assert axe_serious(page) == []
    screenshot(page, f'where-it-looked-{page.device}')
    page.keyboard.press('Enter')  # and closed again
    shown.wait_for(state='hidden', timeout=10_000)
