"""Closing the loop, in a real `webclassifier app` and Chromium: the page names its model, `Wrong?` keeps photos in the
flags folder (once per picture, "None of these" apart, up to a cap), a model exported over the served one reaches the
next visitor while an open page says a newer one exists, and `gather --from` brings flagged photos into a data set"""
import csv, hashlib, json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from servers import ARTIFACTS, ROOT, SAMPLE, WebclassifierApp, kernels, wait_until

CLI = str(Path(sys.executable).parent/'webclassifier')
EXAMPLES = ROOT/'webclassifier'/'examples'
CAP = (EXAMPLES/'grizzly.jpg').stat().st_size + (EXAMPLES/'cat.jpg').stat().st_size + 2000  # room for two of the example photos

def run(*args): return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)

def manifest(folder) -> list:
    with open(Path(folder)/'manifest.csv', newline='') as f: return list(csv.DictReader(f))

def photos(folder) -> list: return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob('*.jpg'))

@pytest.fixture(scope='module')
def served(tmp_path_factory):
    "A copy of the shipped model served by `webclassifier app`, its flags folder capped at the size of two example photos"
    root = tmp_path_factory.mktemp('served')
    (root/'model').mkdir()
    for fn in ['export.pkl', 'model_card.json']: shutil.copy(ROOT/fn, root/'model'/fn)
    server = WebclassifierApp(root/'model'/'export.pkl', root, '--flags', root/'flags', '--flags-mb', CAP/1e6, '--max-visitors', 4,
                              log=ARTIFACTS/'flags-app.log')
    yield root, server
    server.stop()

def open_page(browser, server):
    page = browser.new_page(viewport={'width': 1000, 'height': 1200})
    page.goto(server.url, timeout=180_000); page.wait_for_selector('.wc-upload', timeout=180_000)
    return page

def pick(page, name):
    "Click the example photo `name` and wait for its answer; the answer's box"
    before = page.locator('.wc-answer').count()
    page.click(f'.wc-example[data-name="{name}"]')
    page.wait_for_function(f"document.querySelectorAll('.wc-answer').length > {before}", timeout=60_000)
    return page.locator('.wc-answer').first

def flag(answer, label) -> str:
    "Say the answer is wrong and it is `label`; what the page says then"
    answer.get_by_role('button', name='Wrong?').click()
    answer.get_by_role('button', name=label if label == 'None of these' else f'It is {label}', exact=True).click()
    answer.locator('.wc-flagged').wait_for(timeout=30_000)
    return answer.locator('.wc-flagged').inner_text()

def test_page_names_its_model_and_keeps_flagged_photos(browser, served):
    root, server = served
    card = json.loads((ROOT/'model_card.json').read_text())
    page = open_page(browser, server)
    line = page.locator('.wc-model').inner_text()
    cv = card['cross_validation']  # the shipped model was cross-validated: the line gives that estimate, not its own split's
    assert line == (f"Model: black, grizzly, teddy; trained {card['created'][:10]} on {card['unsure']['n_train']} photos; "
                    f"{cv['accuracy']:.1%} right on {cv['n']} photos in 5-fold cross-validation"), line
    assert not (root/'flags').exists()  # nothing is written until someone clicks

    answer = pick(page, 'grizzly.jpg')
    assert 'grizzly' in answer.locator('.wc-label').inner_text()
    assert flag(answer, 'teddy') == 'Thank you: kept as teddy for the next training.'
    [kept] = photos(root/'flags')
    assert kept.startswith('teddy/') and (root/'flags'/kept).read_bytes() == (EXAMPLES/'grizzly.jpg').read_bytes()
    [row] = manifest(root/'flags')
    assert (row['label'], row['url'], row['file'], row['predicted'], row['model_sha256']) == ('teddy', 'flagged:grizzly.jpg', kept, 'grizzly', card['sha256'])
    assert row['sha256'] == hashlib.sha256((EXAMPLES/'grizzly.jpg').read_bytes()).hexdigest() and row['status'] == 'ok'

    assert 'kept as black' in flag(pick(page, 'grizzly.jpg'), 'black')  # the same photo again, another label: still one file
    assert [p.split('/')[0] for p in photos(root/'flags')] == ['black'] and [r['label'] for r in manifest(root/'flags')] == ['black']

    assert 'kept as None of these' in flag(pick(page, 'cat.jpg'), 'None of these')
    assert [p.split('/')[0] for p in photos(root/'flags')] == ['_none_of_these', 'black']
    page.screenshot(path=str(ARTIFACTS/'app-flagged.png'), full_page=True)

    full = flag(pick(page, 'teddy.jpg'), 'grizzly')  # past the cap: refused, and the page says so
    assert full == f'teddy.jpg: not kept, the flags folder is full ({CAP/1e6:.3g} MB)', full
    assert len(photos(root/'flags')) == 2 and len(manifest(root/'flags')) == 2
    page.screenshot(path=str(ARTIFACTS/'app-flags-full.png'), full_page=True)
    page.close()

def test_gather_from_a_flags_folder(served, tmp_path):
    "The flagged photos (and a person's own: a new class, a duplicate, a broken file) come into a data set; the originals stay"
    root, _ = served
    mine = tmp_path/'mine'
    shutil.copytree(root/'flags', mine)
    black = next((mine/'black').iterdir())
    shutil.copy(black, mine/'black'/'same-photo.jpg')
    (mine/'panda').mkdir(); shutil.copy(SAMPLE/'teddy'/'00000016.jpg', mine/'panda'/'p.jpg'); (mine/'panda'/'broken.jpg').write_bytes(b'no')
    before = {p: p.read_bytes() for p in mine.rglob('*') if p.is_file()}
    res = run('gather', '--from', mine, '--dest', tmp_path/'data')
    assert res.returncode == 0, res.stderr
    rows = {(r['label'], Path(r['url']).name): (r['status'], r['query']) for r in manifest(tmp_path/'data')}
    assert sorted(rows[('black', name)] for name in (black.name, 'same-photo.jpg')) == [('duplicate', f'from {mine}'), ('ok', f'from {mine}')]
    assert (rows[('panda', 'p.jpg')], rows[('panda', 'broken.jpg')], len(rows)) == (('ok', f'from {mine}'), ('error', f'from {mine}'), 4), rows
    assert [p.split('/')[0] for p in photos(tmp_path/'data')] == ['black', 'panda']  # "None of these" is not a class
    assert {p: p.read_bytes() for p in mine.rglob('*') if p.is_file()} == before
    assert 'panda: 1 ok, 0 duplicate, 1 error' in res.stderr

def test_a_retrained_model_reaches_the_next_visitor(browser, served, tmp_path):
    root, server = served
    two = tmp_path/'two'
    for label in ['grizzly', 'teddy']: shutil.copytree(SAMPLE/label, two/label)
    res = run('train', two, '--arch', 'efficientnet_lite0', '--epochs', 1, '--size', 64, '--recipe', 'finetune', '--no-pretrained', '--bs', 8, '--cv', 0, '--out', tmp_path/'new'/'export.pkl')
    assert res.returncode == 0, res.stderr
    before = open_page(browser, server)
    assert wait_until(lambda: len(kernels(server)) == 2, 120)  # this page's kernel and a preheated one, holding the old model
    for fn in ['export.pkl', 'model_card.json']:  # exported over the served model, as a retrain does (atomically)
        shutil.copy(tmp_path/'new'/fn, root/'model'/f'.{fn}.tmp'); os.replace(root/'model'/f'.{fn}.tmp', root/'model'/fn)
    after = open_page(browser, server)
    assert 'This model knows: grizzly, teddy.' in after.inner_text('body')
    assert after.locator('.wc-model').inner_text().startswith('Model: grizzly, teddy; trained ')
    answer = pick(before, 'cat.jpg')  # the page opened before keeps its model, and says a newer one exists
    assert answer.locator('.wc-bar').count() == 3
    assert 'A newer model has been exported since this page opened' in before.locator('.wc-newer').inner_text()
    before.screenshot(path=str(ARTIFACTS/'app-newer-model.png'), full_page=True)
    after.screenshot(path=str(ARTIFACTS/'app-new-model.png'), full_page=True)
    before.close(); after.close()
