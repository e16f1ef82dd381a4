"The app's widget in JupyterLab, for a person running the notebook: it renders, an upload is answered, `Wrong?` opens its choices"
import shutil, sys
import nbformat
from servers import ARTIFACTS, ROOT, SAMPLE, Server, upload

def test_app_widget_in_jupyterlab(browser, tmp_path):
    for fn in ['export.pkl', 'model_card.json']: shutil.copy(ROOT/fn, tmp_path/fn)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from webclassifier.app import classifier_app\nclassifier_app('export.pkl')")],
                                            metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}}), tmp_path/'app.ipynb')
    lab = Server([sys.executable, '-m', 'jupyterlab', '--port={port}', '--no-browser', '--ServerApp.token=', '--ServerApp.password=',
                  '--ServerApp.ip=127.0.0.1', '--allow-root'], 'lab/tree/app.ipynb', cwd=tmp_path, log=ARTIFACTS/'jupyterlab.log')
    try:
        page = browser.new_page(viewport={'width': 1300, 'height': 1100})
        page.goto(lab.url, timeout=120_000)
        page.wait_for_selector('.jp-Notebook .jp-Cell .jp-InputArea-editor', timeout=120_000)
        page.get_by_text('Python 3 (ipykernel) | Idle').wait_for(timeout=120_000)  # the kernel is ready
        page.click('.jp-Cell .jp-InputArea-editor'); page.keyboard.press('Shift+Enter')  # run the cell, as a person does
        try: page.wait_for_selector('.wc-upload', timeout=180_000)
        finally: page.screenshot(path=str(ARTIFACTS/'jupyterlab-app.png'))
        assert 'grizzly' in upload(page, SAMPLE/'grizzly'/'00000014.jpg', '00000014.jpg').locator('.wc-label').inner_text()
        answer = page.locator('.wc-answer').first
        answer.get_by_role('button', name='Wrong?').click()
        answer.get_by_role('button', name='None of these').wait_for(timeout=30_000)
        assert [b.inner_text() for b in answer.locator('button').all()] == ['It is black', 'It is grizzly', 'It is teddy', 'None of these']
        page.screenshot(path=str(ARTIFACTS/'jupyterlab-app.png'))
        page.close()
    finally: lab.stop()
    assert not (tmp_path/'flagged').exists()  # nothing kept without a choice
