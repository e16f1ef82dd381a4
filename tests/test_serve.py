"Serving many visitors: `webclassifier app` from outside the repository, kernels given back, the visitor limit, Binder's config"
import json, shutil, subprocess, sys, time
from pathlib import Path
import pytest
from servers import ARTIFACTS, ROOT, SAMPLE, WebclassifierApp, JupyterServerVoila, kernels, upload, wait_until

CLI = str(Path(sys.executable).parent/'webclassifier')

def usable(page, url, timeout=120_000):
    "Open `url` in `page` and wait for the app's upload button"
    page.goto(url, timeout=timeout); page.wait_for_selector('.wc-upload', timeout=timeout)

@pytest.fixture(scope='module')
def app_server(tmp_path_factory):
    "`webclassifier app` started in an empty folder, with two places and kernels culled after 6 s idle"
    cwd = tmp_path_factory.mktemp('elsewhere')
    server = WebclassifierApp(ROOT/'export.pkl', cwd, '--max-visitors', 2, '--cull-idle', 6, log=ARTIFACTS/'webclassifier-app.log')
    yield server
    server.stop()

def test_bad_model_is_one_line_before_serving(tmp_path):
    (tmp_path/'export.pkl').write_bytes(b'PK\x03\x04 half a model')
    for model in [tmp_path/'missing.pkl', tmp_path/'export.pkl']:
        for server, named in [('voila', model), ('solara', model.with_suffix('.onnx'))]:  # solara serves the twin by default
            res = subprocess.run([CLI, 'app', '--model', str(model), '--port', '1', '--server', server], capture_output=True, text=True,
                                 timeout=60, cwd=tmp_path)
            assert res.returncode != 0 and res.stderr.strip().splitlines() == [res.stderr.strip()], res.stderr
            assert res.stderr.startswith(f'app: {named}: ') and 'Traceback' not in res.stderr, res.stderr

def test_reloads_give_kernels_back(browser, app_server):
    "An open page keeps its kernel; after reloads and a close, the server is back to the preheated kernel within 60 s"
    page = browser.new_page()
    usable(page, app_server.url)
    assert wait_until(lambda: len(kernels(app_server)) == 2, 60)  # this page's kernel and the preheated one
    for _ in range(3): page.reload(); page.wait_for_selector('.wc-upload', timeout=120_000)
    peak = len(kernels(app_server))
    time.sleep(10)  # idle past the culling time, the open page keeps its kernel and answers
    assert 'grizzly' in upload(page, SAMPLE/'grizzly'/'00000014.jpg', '00000014.jpg').locator('.wc-label').inner_text()
    assert wait_until(lambda: len(kernels(app_server)) == 2, 60), f'{len(kernels(app_server))} kernels after reloads (peak {peak})'
    page.close()
    assert wait_until(lambda: len(kernels(app_server)) == 1, 60), f'{len(kernels(app_server))} kernels after closing'

def test_visitor_limit_says_busy_then_frees_a_place(browser, app_server):
    "Two places taken: the third visitor gets the busy page and no kernel; once a page closes, its place is theirs"
    pages = [browser.new_page() for _ in range(3)]
    for page in pages[:2]: usable(page, app_server.url)
    response = pages[2].goto(app_server.url, timeout=60_000)
    text = pages[2].inner_text('body')
    assert response.status == 503 and 'The app is busy' in text and 'try again in a minute' in text, (response.status, text)
    assert len(kernels(app_server)) <= 3, 'a kernel was started for the visitor refused'  # the two pages' and the preheated one
    pages[2].screenshot(path=str(ARTIFACTS/'app-busy.png'))
    pages[0].close()
    # the closed page's kernel is given back to the next visitor
    usable(pages[2], app_server.url)
    assert 'grizzly' in upload(pages[2], SAMPLE/'grizzly'/'00000014.jpg', '00000014.jpg').locator('.wc-label').inner_text()
    for page in pages[1:]: page.close()

def test_heic_upload_is_classified(browser, app_server, tmp_path):
    from PIL import Image
    from pillow_heif import register_heif_opener
    register_heif_opener()
    photo = tmp_path/'IMG_0001.HEIC'
    Image.open(SAMPLE/'teddy'/'00000016.jpg').save(photo, 'HEIF', quality=90)
    page = browser.new_page()
    usable(page, app_server.url)
    result = upload(page, photo, 'IMG_0001.HEIC')
    assert 'teddy' in result.locator('.wc-label').inner_text(), result.inner_text()
    page.close()

def test_binder_config_gives_kernels_back(browser, tmp_path):
    "jupyter_server with postBuild's config (culling shortened for the test): a closed page's kernel goes away"
    config = json.loads((ROOT/'tools'/'jupyter_server_config.json').read_text())
    config['VisitorLimitedKernelManager'].update(cull_idle_timeout=6, cull_interval=2)
    (tmp_path/'jupyter').mkdir(); (tmp_path/'jupyter'/'jupyter_server_config.json').write_text(json.dumps(config))
    server = JupyterServerVoila(tmp_path/'jupyter', log=ARTIFACTS/'jupyter_server-cull.log')
    try:
        page = browser.new_page()
        usable(page, server.url)
        assert len(kernels(server)) == 1
        page.close()
        assert wait_until(lambda: len(kernels(server)) == 0, 60)
    finally: server.stop()
